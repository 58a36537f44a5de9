//! The operator's endpoints: authorities, keys and credentials.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Registered, or already registered with the same details.
#[derive(Debug, Serialize, ToSchema)]
pub struct Registered {
    /// Whether this call registered it.
    pub created: bool,
}

/// Registers an authority (operator only).
#[utoipa::path(post, path = "/v1/authorities", tag = "operator", request_body = AuthorityIn,
    security(("key" = [])),
    responses((status = 200, body = Registered), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_authority(
    State(state): State<AppState>,
    caller: Caller,
    Json(a): Json<AuthorityIn>,
) -> ApiResult<Registered> {
    must_be_operator(&caller)?;
    let authority = probity_core::Authority::new(&a.id, &a.name, &a.category, &a.jurisdiction)
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    let created = state.write(move |reg| Ok(reg.register_authority(authority)?)).await?;
    Ok(Json(Registered { created }))
}

/// A new key, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyOut {
    /// The key; it is not stored and cannot be shown again.
    pub key: String,
}

/// Keys revoked.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    /// How many.
    pub revoked: u64,
}

pub(super) async fn issue(
    state: &AppState,
    caller: &Caller,
    actor: Actor,
    k: KeyIn,
) -> ApiResult<KeyOut> {
    must_be_operator(caller)?;
    let expires = k
        .expires
        .map(|e| {
            e.parse::<probity_core::Timestamp>().map_err(|_| {
                ApiError::bad_request(format!("expires: `{e}` is not an RFC 3339 instant"))
            })
        })
        .transpose()?;
    let key = state
        .write(move |reg| {
            Ok(if k.rotate {
                reg.rotate_key(&actor, expires)?
            } else {
                reg.issue_key(&actor, expires)?
            })
        })
        .await?;
    Ok(Json(KeyOut { key }))
}

fn authority_actor(id: &str) -> Result<Actor, ApiError> {
    Ok(Actor::Authority(
        Slug::parse("authority", id).map_err(|e| ApiError::bad_request(e.to_string()))?,
    ))
}

/// Issues (or rotates) a key for an authority (operator only).
#[utoipa::path(post, path = "/v1/authorities/{id}/keys", tag = "operator", params(("id" = String, Path)),
    request_body = KeyIn, security(("key" = [])),
    responses((status = 200, body = KeyOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn authority_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(k): Json<KeyIn>,
) -> ApiResult<KeyOut> {
    must_be_operator(&caller)?;
    issue(&state, &caller, authority_actor(&id)?, k).await
}

/// Revokes every key of an authority (operator only).
#[utoipa::path(delete, path = "/v1/authorities/{id}/keys", tag = "operator", params(("id" = String, Path)),
    security(("key" = [])),
    responses((status = 200, body = Revoked), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn revoke_authority_keys(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Revoked> {
    must_be_operator(&caller)?;
    let actor = authority_actor(&id)?;
    let revoked = state.write(move |reg| Ok(reg.revoke_keys(&actor)?)).await?;
    Ok(Json(Revoked { revoked }))
}

/// Issues (or rotates) a company credential bound to one subject (operator only).
#[utoipa::path(post, path = "/v1/subjects/{id}/credentials", tag = "operator", params(("id" = String, Path)),
    request_body = KeyIn, security(("key" = [])),
    responses((status = 200, body = KeyOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn company_credential(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(k): Json<KeyIn>,
) -> ApiResult<KeyOut> {
    must_be_operator(&caller)?;
    let sid = state.read(move |reg| subject_id(reg, &id)).await?;
    issue(&state, &caller, Actor::Company(sid), k).await
}

/// Revokes every credential of a company (operator only).
#[utoipa::path(delete, path = "/v1/subjects/{id}/credentials", tag = "operator", params(("id" = String, Path)),
    security(("key" = [])),
    responses((status = 200, body = Revoked), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn revoke_company_credentials(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Revoked> {
    must_be_operator(&caller)?;
    let revoked = state
        .write(move |reg| {
            let sid = subject_id(reg, &id)?;
            Ok(reg.revoke_keys(&Actor::Company(sid))?)
        })
        .await?;
    Ok(Json(Revoked { revoked }))
}

/// Admits a code that fails its checksum to the exception list (operator only).
#[utoipa::path(post, path = "/v1/exceptions", tag = "operator", request_body = ExceptionIn,
    security(("key" = [])),
    responses((status = 200, body = Registered), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_exception(
    State(state): State<AppState>,
    caller: Caller,
    Json(e): Json<ExceptionIn>,
) -> ApiResult<Registered> {
    must_be_operator(&caller)?;
    let created = state.write(move |reg| Ok(reg.admit_code_exception(&e.code, &e.reason)?)).await?;
    Ok(Json(Registered { created }))
}

/// Adopts a new rulebook version (operator only).
#[utoipa::path(post, path = "/v1/rulebook", tag = "operator", request_body = RulebookIn,
    security(("key" = [])),
    responses((status = 200, body = Registered), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn adopt_rulebook(
    State(state): State<AppState>,
    caller: Caller,
    Json(b): Json<RulebookIn>,
) -> ApiResult<Registered> {
    must_be_operator(&caller)?;
    let created = state.write(move |reg| Ok(reg.adopt_rulebook(&b.text)?)).await?;
    Ok(Json(Registered { created }))
}

/// The server's metrics in the Prometheus text format (operator only): what it counted since it
/// started, and the log size, checkpoint age, rating lag and deadlines read now.
pub async fn metrics(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    must_be_operator(&caller)?;
    let readings = state
        .read(|reg| {
            let deadlines = reg.deadline_compliance(reg.today())?;
            Ok(crate::metrics::Readings {
                log_size: reg.log_size()?,
                checkpoint_age: reg.checkpoint_age().map(|d| d.as_secs()),
                rating_lag: reg.stale_count(100_000)?,
                pending: deadlines.iter().map(|a| a.pending).sum(),
                overdue: deadlines.iter().map(|a| a.overdue).sum(),
            })
        })
        .await?;
    let body = state.metrics().render(&readings).map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response())
}
