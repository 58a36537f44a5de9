//! Subscribers' watchlists: what changed in the answers about their companies, pulled from
//! `/v1/watchlists/{id}/changes` or pushed to a webhook (`crate::webhooks`).

#[allow(clippy::wildcard_imports)]
use super::*;
use probity_registry::{WatchReport, WatchedChanges, WatchlistView};

/// The largest body of a request that adds or removes subjects: 100,000 codes of 20
/// characters, quoted and separated, with room to spare.
pub const WATCHLIST_BODY_LIMIT: usize = 4 << 20;

fn subscriber_actor(name: &str) -> Result<Actor, ApiError> {
    Ok(Actor::Subscriber(
        Slug::parse("subscriber", name).map_err(|e| ApiError::bad_request(e.to_string()))?,
    ))
}

fn must_be_subscriber(caller: &Caller) -> Result<Actor, ApiError> {
    match &caller.0 {
        a @ Actor::Subscriber(_) => Ok(a.clone()),
        _ => Err(ApiError::forbidden("only a subscriber key keeps watchlists")),
    }
}

/// Issues (or rotates) a key for a subscriber: a party that keeps watchlists (operator only).
#[utoipa::path(post, path = "/v1/subscribers/{name}/keys", tag = "operator", params(("name" = String, Path)),
    request_body = KeyIn, security(("key" = [])),
    responses((status = 200, body = KeyOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn subscriber_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(k): Json<KeyIn>,
) -> ApiResult<KeyOut> {
    must_be_operator(&caller)?;
    issue(&state, &caller, subscriber_actor(&name)?, k).await
}

/// Revokes every key of a subscriber (operator only).
#[utoipa::path(delete, path = "/v1/subscribers/{name}/keys", tag = "operator", params(("name" = String, Path)),
    security(("key" = [])),
    responses((status = 200, body = Revoked), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn revoke_subscriber_keys(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Revoked> {
    must_be_operator(&caller)?;
    let actor = subscriber_actor(&name)?;
    let revoked = state.write(move |reg| Ok(reg.revoke_keys(&actor)?)).await?;
    Ok(Json(Revoked { revoked }))
}

/// A watchlist just made, with its webhook's signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct WatchlistCreated {
    /// The watchlist.
    pub watchlist: WatchlistView,
    /// `whsec_…`: verify deliveries with it (Standard Webhooks); not shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

/// Makes a watchlist (subscriber only).
#[utoipa::path(post, path = "/v1/watchlists", tag = "subscriber", request_body = WatchlistIn,
    security(("key" = [])),
    responses((status = 201, body = WatchlistCreated), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_watchlist(
    State(state): State<AppState>,
    caller: Caller,
    Json(w): Json<WatchlistIn>,
) -> Result<(StatusCode, Json<WatchlistCreated>), ApiError> {
    let actor = must_be_subscriber(&caller)?;
    let (watchlist, webhook_secret) = state
        .write(move |reg| {
            Ok(reg.create_watchlist(&actor, &w.label, w.measures, w.webhook_url.as_deref())?)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(WatchlistCreated { watchlist, webhook_secret })))
}

/// The caller's watchlists (subscriber only).
#[utoipa::path(get, path = "/v1/watchlists", tag = "subscriber", security(("key" = [])),
    responses((status = 200, body = Vec<WatchlistView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn watchlists(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Vec<WatchlistView>> {
    let actor = must_be_subscriber(&caller)?;
    state.read_primary(move |reg| Ok(Json(reg.watchlists_of(&actor)?))).await
}

/// One of the caller's watchlists, with its webhook's delivery health (subscriber only).
#[utoipa::path(get, path = "/v1/watchlists/{id}", tag = "subscriber", params(("id" = String, Path)),
    security(("key" = [])),
    responses((status = 200, body = WatchlistView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn watchlist(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<WatchlistView> {
    let actor = must_be_subscriber(&caller)?;
    state.read_primary(move |reg| Ok(Json(reg.watchlist(&actor, &id)?))).await
}

/// Deletes one of the caller's watchlists (subscriber only).
#[utoipa::path(delete, path = "/v1/watchlists/{id}", tag = "subscriber", params(("id" = String, Path)),
    security(("key" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn drop_watchlist(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let actor = must_be_subscriber(&caller)?;
    state.write(move |reg| Ok(reg.drop_watchlist(&actor, &id)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds subjects to a watchlist: each code is checked, refused ones are reported with their
/// place, and the rest are added (subscriber only).
#[utoipa::path(post, path = "/v1/watchlists/{id}/subjects", tag = "subscriber", params(("id" = String, Path)),
    request_body = SubjectsIn, security(("key" = [])),
    responses((status = 200, body = WatchReport), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn watch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(s): Json<SubjectsIn>,
) -> ApiResult<WatchReport> {
    let actor = must_be_subscriber(&caller)?;
    state.write(move |reg| Ok(Json(reg.watch(&actor, &id, &s.subjects)?))).await
}

/// Subjects taken off a watchlist.
#[derive(Debug, Serialize, ToSchema)]
pub struct Removed {
    /// How many it held.
    pub removed: u64,
}

/// Takes subjects off a watchlist (subscriber only).
#[utoipa::path(post, path = "/v1/watchlists/{id}/subjects/remove", tag = "subscriber", params(("id" = String, Path)),
    request_body = SubjectsIn, security(("key" = [])),
    responses((status = 200, body = Removed), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn unwatch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(s): Json<SubjectsIn>,
) -> ApiResult<Removed> {
    let actor = must_be_subscriber(&caller)?;
    let removed = state.write(move |reg| Ok(reg.unwatch(&actor, &id, &s.subjects)?)).await?;
    Ok(Json(Removed { removed }))
}

/// A page of a watchlist's subjects.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SubjectsQuery {
    /// The last code of the page before.
    pub after: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    pub limit: Option<usize>,
}

/// A page of subjects.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectsPage {
    /// Codes, in order.
    pub subjects: Vec<String>,
    /// The code to ask after next, if the page was full.
    pub next: Option<String>,
}

/// The subjects on a watchlist, in code order (subscriber only).
#[utoipa::path(get, path = "/v1/watchlists/{id}/subjects", tag = "subscriber", params(("id" = String, Path), SubjectsQuery),
    security(("key" = [])),
    responses((status = 200, body = SubjectsPage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn watched(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<SubjectsQuery>,
) -> ApiResult<SubjectsPage> {
    let actor = must_be_subscriber(&caller)?;
    let limit = page_size(q.limit)?;
    state
        .read_primary(move |reg| {
            let ids = reg.watched_subjects(&actor, &id, q.after.as_deref(), limit)?;
            let subjects: Vec<String> = ids.iter().map(ToString::to_string).collect();
            let next = (subjects.len() == limit).then(|| subjects.last().cloned()).flatten();
            Ok(Json(SubjectsPage { subjects, next }))
        })
        .await
}

/// Where to read a watchlist's changes from.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ChangesQuery {
    /// The position after which to read: 0 for every change since the watchlist was made, or
    /// the `next` of the page before.
    pub after: Option<u64>,
    /// Page size, 1 to 1000 (default 50).
    pub limit: Option<usize>,
}

/// What changed in the answers about a watchlist's subjects after a position: grade, lists and
/// the decision for each measure it cares about, each change with its log size, date and cause
/// (an event with its log index, a date on which an effect started or ended, or a rulebook
/// coming into force). A change that moves no answer is not reported (subscriber only).
#[utoipa::path(get, path = "/v1/watchlists/{id}/changes", tag = "subscriber", params(("id" = String, Path), ChangesQuery),
    security(("key" = [])),
    responses((status = 200, body = WatchedChanges), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn watchlist_changes(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<ChangesQuery>,
) -> ApiResult<WatchedChanges> {
    let actor = must_be_subscriber(&caller)?;
    let limit = page_size(q.limit)?;
    state
        .read_primary(move |reg| {
            Ok(Json(reg.watchlist_changes(&actor, &id, q.after.unwrap_or(0), limit)?))
        })
        .await
}

/// A webhook's new signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookSecret {
    /// `whsec_…`.
    pub webhook_secret: String,
}

/// Sets a watchlist's webhook, with a new signing secret; it receives the changes from now on
/// (subscriber only).
#[utoipa::path(put, path = "/v1/watchlists/{id}/webhook", tag = "subscriber", params(("id" = String, Path)),
    request_body = WebhookIn, security(("key" = [])),
    responses((status = 200, body = WebhookSecret), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(w): Json<WebhookIn>,
) -> ApiResult<WebhookSecret> {
    let actor = must_be_subscriber(&caller)?;
    let secret = state.write(move |reg| Ok(reg.set_webhook(&actor, &id, Some(&w.url))?)).await?;
    let webhook_secret = secret.ok_or_else(|| ApiError::internal("a webhook without a secret"))?;
    Ok(Json(WebhookSecret { webhook_secret }))
}

/// Removes a watchlist's webhook (subscriber only).
#[utoipa::path(delete, path = "/v1/watchlists/{id}/webhook", tag = "subscriber", params(("id" = String, Path)),
    security(("key" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let actor = must_be_subscriber(&caller)?;
    state.write(move |reg| Ok(reg.set_webhook(&actor, &id, None)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Resumes a failing webhook once its receiver works again: the message it stopped at is sent
/// again at once, and nothing was lost meanwhile (subscriber only).
#[utoipa::path(post, path = "/v1/watchlists/{id}/webhook/resume", tag = "subscriber", params(("id" = String, Path)),
    security(("key" = [])),
    responses((status = 200, body = WatchlistView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn resume_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<WatchlistView> {
    let actor = must_be_subscriber(&caller)?;
    let view = state
        .write(move |reg| {
            reg.resume_webhook(&actor, &id)?;
            Ok(reg.watchlist(&actor, &id)?)
        })
        .await?;
    state.wake_webhooks();
    Ok(Json(view))
}
