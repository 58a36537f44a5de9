//! Who is calling: keys in `Authorization: Bearer prb_…`, failed attempts slowed down, and the
//! per-address rate limit on public reads.
//!
//! Verifying a key's Argon2id hash is deliberately slow, so a key verified once is remembered as
//! the SHA-256 of its secret and later compared with that in constant time; the stored
//! credential is still read on every request, so a revocation or expiry takes effect at once.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use probity_registry::{Actor, AuthError, actor_of, secret_matches, split_key};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;

/// Failures from one address before answers to it are slowed down.
const FREE_FAILURES: u32 = 3;
/// The longest delay added to a failed attempt.
const MAX_DELAY: Duration = Duration::from_secs(4);

/// The authenticated caller of an endpoint that needs a key.
#[derive(Debug, Clone)]
pub struct Caller(pub Actor);

pub(crate) fn client_ip(parts: &Parts) -> Option<IpAddr> {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

fn bearer(parts: &Parts) -> Option<Result<String, ApiError>> {
    let value = parts.headers.get(header::AUTHORIZATION)?;
    Some(
        value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(|k| k.trim().to_owned())
            .ok_or_else(|| {
                ApiError::unauthenticated(
                    "the authorization header must be `Bearer prb_<key id>_<secret>`",
                )
            }),
    )
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = match bearer(parts) {
            None => {
                return Err(ApiError::unauthenticated(
                    "this endpoint needs a key: send `authorization: Bearer prb_<key id>_<secret>`",
                ));
            }
            Some(k) => k?,
        };
        // The rate limiter checked this very key already: its answer stands.
        if let Some(KeyChecked(checked)) = parts.extensions.get::<KeyChecked>() {
            return checked.clone().map(Caller).map_err(ApiError::unauthenticated);
        }
        verify_key(state, client_ip(parts), &key).await.map(Caller)
    }
}

/// What the rate limiter found of a request's key, kept with the request so that the key is
/// checked (and a failure counted) once.
#[derive(Debug, Clone)]
struct KeyChecked(Result<Actor, String>);

/// Checks a key presented from `ip`: on success forgets the address's failures, on failure
/// counts one and, past a few, answers more slowly each time.
pub(crate) async fn verify_key(
    state: &AppState,
    ip: Option<IpAddr>,
    key: &str,
) -> Result<Actor, ApiError> {
    match authenticate(state, key).await? {
        Ok(actor) => {
            if let Some(ip) = ip {
                state.forget_failures(ip);
            }
            Ok(actor)
        }
        Err(e) => {
            // A malformed key guesses at nothing; a well-formed one that fails may be a guess.
            if let Some(ip) = ip.filter(|_| !matches!(e, AuthError::Malformed)) {
                let n = state.count_failure(ip);
                if n > FREE_FAILURES {
                    let delay = Duration::from_millis(100u64 << (n - FREE_FAILURES).min(6));
                    tokio::time::sleep(delay.min(MAX_DELAY)).await;
                }
            }
            tracing::warn!(?ip, reason = %e, "authentication failed");
            Err(ApiError::unauthenticated(e.to_string()))
        }
    }
}

async fn authenticate(state: &AppState, key: &str) -> Result<Result<Actor, AuthError>, ApiError> {
    let (key_id, secret) = match split_key(key) {
        Ok((id, secret)) => (id.to_owned(), secret.to_owned()),
        Err(e) => return Ok(Err(e)),
    };
    let owned = key.to_owned();
    // From the primary: a replica might still hold a key revoked a moment ago.
    let credential = state.read_primary(move |reg| Ok(reg.credential_for(&owned)?)).await?;
    let (credential, standing) = match credential {
        Ok(found) => found,
        Err(e) => return Ok(Err(e)),
    };
    let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
    let known = state.known_digest(&key_id, &credential.secret_hash);
    let matches = match known {
        Some(d) => bool::from(d.ct_eq(&digest)),
        None => {
            let hash = credential.secret_hash.clone();
            let ok = tokio::task::spawn_blocking(move || secret_matches(&secret, &hash))
                .await
                .map_err(ApiError::internal)?;
            if ok {
                state.remember_digest(&key_id, &credential.secret_hash, digest);
            }
            ok
        }
    };
    if !matches {
        return Ok(Err(AuthError::Invalid));
    }
    // Only a holder of the secret learns that the key was revoked or has expired.
    if let Err(e) = standing {
        return Ok(Err(e));
    }
    Ok(Ok(actor_of(&credential)?))
}

/// Every request is limited (in the router's one middleware). One whose key authenticates is
/// charged to its key; any other (no key, or one that does not authenticate) is public,
/// charged to the client's address. A key is checked as on any endpoint that needs one, with
/// the same slow-down after failures, so a header cannot buy a way around the public limit.
pub async fn limit_public(state: &AppState, request: Request, next: Next) -> Response {
    use axum::response::IntoResponse as _;
    let limited = |wait: Duration, who: String| {
        let secs = wait.as_secs().max(1);
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests from {who}; retry after {secs} s"),
        );
        e.retry_after = Some(secs);
        e.into_response()
    };
    let ip = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let key = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|k| k.trim().to_owned());
    let mut request = request;
    if let Some(key) = key {
        let checked = verify_key(state, ip, &key).await;
        let authenticated = checked.is_ok();
        request.extensions_mut().insert(KeyChecked(checked.map_err(|e| e.message)));
        if authenticated {
            let id = split_key(&key).map(|(id, _)| id.to_owned()).unwrap_or_default();
            request.extensions_mut().insert(Charged::Key(id.clone()));
            return match state.check_key_rate(&id) {
                Ok(()) => next.run(request).await,
                Err(wait) => limited(wait, format!("key `{id}`")),
            };
        }
    }
    if let Some(ip) = ip {
        if let Err(wait) = state.check_rate(ip) {
            return limited(wait, ip.to_string());
        }
        request.extensions_mut().insert(Charged::Address(ip));
    }
    next.run(request).await
}

/// Whose allowance a request was charged to, for a handler whose request costs more than one
/// (a batch check, by its subjects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Charged {
    /// A key that authenticated, by id.
    Key(String),
    /// A public caller, by address.
    Address(IpAddr),
}

impl Charged {
    /// Charges `more` requests on top of the one already charged; when the allowance cannot
    /// cover them, the 429 that says when to try again.
    pub(crate) fn charge(&self, state: &AppState, more: u32) -> Result<(), ApiError> {
        let Some(more) = std::num::NonZeroU32::new(more) else { return Ok(()) };
        let (result, who) = match self {
            Self::Key(id) => (state.charge_key(id, more), format!("key `{id}`")),
            Self::Address(ip) => (state.charge_address(*ip, more), ip.to_string()),
        };
        result.map_err(|wait| {
            let secs = wait.map_or(60, |w| w.as_secs().max(1));
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                match wait {
                    Some(_) => {
                        format!("this batch costs more than {who} has left; retry after {secs} s")
                    }
                    None => {
                        format!("this batch costs more than {who} may ever spend at once; split it")
                    }
                },
            );
            e.retry_after = Some(secs);
            e
        })
    }
}
