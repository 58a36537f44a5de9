//! Liveness and readiness.

use super::*;

/// Liveness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/v1/health", tag = "service", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness and freshness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// Whether the registry answers.
    pub ready: bool,
    /// The log size answers reflect.
    pub log_size: u64,
    /// The rulebook in force.
    pub rulebook: String,
}

/// The registry answers; says how fresh answers are.
#[utoipa::path(get, path = "/v1/ready", tag = "service",
    responses((status = 200, body = Ready), (status = 503, body = ErrorBody)))]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Ready>, ApiError> {
    let r = state
        .read(|reg| {
            let b = reg.rulebook();
            Ok(Ready {
                ready: true,
                log_size: reg.log_size()?,
                rulebook: format!("{} {}", b.header.id, b.header.version),
            })
        })
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", e.message))?;
    Ok(Json(r))
}
