//! Errors as the API answers them: an HTTP status and a JSON body
//! `{"error": {"code": "...", "message": "..."}}` whose code is stable and machine-readable and
//! whose message names the offending input.

use axum::extract::rejection::PathRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use probity_registry::RegistryError;
use serde::Serialize;
use utoipa::ToSchema;

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// What went wrong, naming the input.
    pub message: String,
    /// Seconds to wait before retrying (429 only).
    pub retry_after: Option<u64>,
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// One error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code: `bad_request`, `malformed_json`, `invalid`, `unsupported_media_type`,
    /// `body_too_large`, `batch_too_large`, `unauthenticated`, `forbidden`, `not_found`,
    /// `conflict`, `refused`, `rejected`, `rate_limited`, `timeout`, `internal`, `unavailable`.
    pub code: String,
    /// What went wrong.
    pub message: String,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after: None }
    }

    /// 400 with code `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 422 with code `invalid`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }

    /// 404 with code `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 403 with code `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 401 with code `unauthenticated`.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// 500 with code `internal`; the cause is logged, not shown.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the server failed; see its log")
    }

    /// The code and message, as an answer's body shows them.
    pub fn detail(self) -> ErrorDetail {
        ErrorDetail { code: self.code.to_owned(), message: self.message }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = self.retry_after;
        let (status, body) = (self.status, ErrorBody { error: self.detail() });
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(s) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        response
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::NotFound(m) => Self::not_found(m),
            RegistryError::Forbidden(m) => Self::forbidden(m),
            RegistryError::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
            RegistryError::Unavailable(m) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m)
            }
            RegistryError::Invalid(m) | RegistryError::Input(m) => Self::invalid(m),
            RegistryError::Id(e) => Self::invalid(e.to_string()),
            RegistryError::Refused(m) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "refused", m),
            RegistryError::Rulebook { .. } => Self::invalid(e.to_string()),
            RegistryError::Store(probity_store::StoreError::Unavailable(m)) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("the store is unreachable, try again: {m}"),
            ),
            RegistryError::Store(_) | RegistryError::Io { .. } | RegistryError::Internal(_) => {
                Self::internal(e)
            }
        }
    }
}

impl From<probity_api::BodyError> for ApiError {
    fn from(e: probity_api::BodyError) -> Self {
        match e {
            probity_api::BodyError::Malformed(m) => {
                Self::new(StatusCode::BAD_REQUEST, "malformed_json", m)
            }
            probity_api::BodyError::Invalid(m) => Self::invalid(m),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self::bad_request(format!("path: {}", r.body_text().to_lowercase()))
    }
}

/// A JSON body, read strictly, whose rejections are [`ApiError`]s: the media type is exactly
/// `application/json` (with at most `charset=utf-8`), the body is one object, and no object in
/// it names a key twice (JSON allows it, and readers disagree on which one wins).
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for Json<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let media = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.to_ascii_lowercase().replace(' ', ""));
        if !matches!(media.as_deref(), Some("application/json" | "application/json;charset=utf-8"))
        {
            return Err(Self::unsupported(media.as_deref()));
        }
        let bytes = axum::body::Bytes::from_request(request, state).await.map_err(|e| {
            let status = e.status();
            let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "body_too_large"
            } else {
                "bad_request"
            };
            ApiError::new(status, code, e.body_text().to_lowercase())
        })?;
        probity_api::parse_body(&bytes).map(Json).map_err(ApiError::from)
    }
}

impl<T> Json<T> {
    fn unsupported(found: Option<&str>) -> ApiError {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "send the body as json with `content-type: application/json`, not `{}`",
                found.unwrap_or("none")
            ),
        )
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A query string whose rejections are [`ApiError`]s, naming the field at fault. Read by
/// `serde_urlencoded` directly, and only a string that fails is read again to find the field:
/// `axum::extract::Query` tracks the field of every string it reads, about 0.9k of the 3.9k
/// instructions a check's query string took (callgrind).
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S>
    for Query<T>
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query).map(Query).map_err(|e| {
            let tracked =
                serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
            match serde_path_to_error::deserialize::<_, T>(tracked) {
                Err(at) => ApiError::bad_request(format!("query string: {at}")),
                Ok(_) => ApiError::bad_request(format!("query string: {e}")),
            }
        })
    }
}

/// Path parameters whose rejections are [`ApiError`]s.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);
