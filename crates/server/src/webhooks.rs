//! Webhook deliveries of watchlist changes, signed as the Standard Webhooks specification
//! describes: headers `webhook-id`, `webhook-timestamp` and `webhook-signature`
//! (`v1,` and the base64 HMAC-SHA256, under the secret's bytes, of `id.timestamp.body`).
//!
//! The registry keeps each webhook's delivery state in the store (`Registry::webhook_message`,
//! `Registry::delivery_done`): the message being delivered is fixed at its first attempt, so
//! every attempt, before or after a restart, carries the same `webhook-id`, and a receiver that
//! drops ids it has seen gets each change once in effect. A delivery that fails is retried with
//! exponential backoff and jitter for a bounded time, and then the webhook is marked failing,
//! where its owner sees it. Deliveries start at once when a write may have made changes, and
//! at least every second otherwise (for changes other processes made).

use std::time::Duration;

use base64::Engine as _;
use hmac::Mac as _;
use probity_registry::{Backoff, WebhookMessage};
use probity_store::Watchlist;

use crate::state::AppState;

/// The most changes one message carries.
pub const MAX_MESSAGE_CHANGES: usize = 100;
/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How many webhooks are delivered to at once.
const AT_ONCE: usize = 8;

/// The `webhook-signature` value of a message: `v1,` and the base64 HMAC-SHA256 of
/// `id.timestamp.body` under the secret (`whsec_` and base64).
pub fn signature(secret: &str, id: &str, timestamp: i64, body: &str) -> Result<String, String> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .map_err(|e| format!("the webhook secret is not base64: {e}"))?;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key)
        .map_err(|e| format!("the webhook secret: {e}"))?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    Ok(format!("v1,{sig}"))
}

/// Sends one attempt of `msg` to the webhook of `w`.
async fn attempt(
    client: &reqwest::Client,
    w: &Watchlist,
    msg: &WebhookMessage,
) -> Result<(), String> {
    let Some(h) = &w.webhook else { return Ok(()) };
    let timestamp = jiff::Timestamp::now().as_second();
    let signature = signature(&h.secret, &msg.id, timestamp, &msg.body)?;
    let response = client
        .post(&h.url)
        .header("content-type", "application/json")
        .header("webhook-id", &msg.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(msg.body.clone())
        .timeout(ATTEMPT_TIMEOUT)
        .send()
        .await
        .map_err(|e| {
            let mut m = e.to_string();
            let mut s = std::error::Error::source(&e);
            while let Some(inner) = s {
                m = format!("{m}: {inner}");
                s = inner.source();
            }
            m
        })?;
    let status = response.status();
    if status.is_success() { Ok(()) } else { Err(format!("the receiver answered {status}")) }
}

/// Delivers every message due to the webhook of watchlist `w`, one after another, until it has
/// none or one fails. Returns how many were delivered.
async fn drain(state: &AppState, client: &reqwest::Client, w: Watchlist, backoff: Backoff) -> u64 {
    let mut delivered = 0;
    let mut w = w;
    loop {
        let id = w.id.clone();
        let fresh = state
            .write(move |reg| {
                let Some(w) = reg.watchlist_state(&id)? else { return Ok(None) };
                Ok(reg.webhook_message(&w, MAX_MESSAGE_CHANGES)?.map(|m| (w, m)))
            })
            .await;
        let (now, msg) = match fresh {
            Ok(Some(found)) => found,
            Ok(None) => return delivered,
            Err(e) => {
                tracing::warn!(watchlist = %w.id, error = %e.message, "preparing a webhook message failed");
                return delivered;
            }
        };
        w = now;
        let started = std::time::Instant::now();
        let outcome = attempt(client, &w, &msg).await;
        let ok = outcome.is_ok();
        state.metrics().webhook(ok, started.elapsed().as_secs_f64());
        if ok {
            tracing::debug!(watchlist = %w.id, message = %msg.id, changes = msg.count, "webhook delivered");
        }
        let (id, m) = (w.id.clone(), msg.clone());
        let kept = state.write(move |reg| Ok(reg.delivery_done(&id, &m, outcome, backoff)?)).await;
        if let Err(e) = kept {
            tracing::warn!(watchlist = %w.id, error = %e.message, "keeping a delivery's outcome failed");
            return delivered;
        }
        if !ok {
            return delivered;
        }
        delivered += msg.count as u64;
    }
}

/// Delivers watchlist changes to their webhooks until the server stops.
pub(crate) async fn deliver(state: AppState, backoff: Backoff) {
    let client = match reqwest::Client::builder().connect_timeout(ATTEMPT_TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "no HTTP client for webhooks; deliveries stop");
            return;
        }
    };
    let wake = state.webhook_wake();
    loop {
        let now = jiff::Timestamp::now();
        match state.read_primary(move |reg| Ok(reg.webhooks_due(now)?)).await {
            Ok(due) => {
                let mut running = tokio::task::JoinSet::new();
                for w in due {
                    while running.len() >= AT_ONCE {
                        running.join_next().await;
                    }
                    let (state, client) = (state.clone(), client.clone());
                    running.spawn(async move { drain(&state, &client, w, backoff).await });
                }
                while running.join_next().await.is_some() {}
            }
            Err(e) => tracing::warn!(error = %e.message, "reading the webhooks due failed"),
        }
        // Woken by a write that may have made changes, or once a second for other writers.
        let _ = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
    }
}
