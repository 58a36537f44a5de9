//! Collecting cosignatures: after the registry signs a checkpoint, ask every witness of its
//! policy at once (C2SP tlog-witness `add-checkpoint`), keep what they cosign, and keep the
//! newest checkpoint whose cosignatures meet the policy (`Registry::keep_cosigned`).
//!
//! A witness that is down or refuses never blocks filing: the registry goes on signing, the
//! witness's state (`WitnessStatus`) shows in `/v1/ready` and on the statistics page, and the
//! outage is logged once when it starts and once when it ends. A 409 answer carries the size
//! the witness last cosigned; the request is sent again from there, with a consistency proof
//! from that size.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use probity_tlog::policy::Policy;
use probity_tlog::witness::AddCheckpoint;
use probity_tlog::{Checkpoint, Hash};
use serde::Serialize;

use crate::state::AppState;

/// How long one request to a witness may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts per checkpoint and witness before the round gives up on it (409s included).
const ATTEMPTS: u32 = 3;
/// The longest wait between rounds for a witness that keeps failing.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// One witness of the registry's policy, as the registry last heard from it.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct WitnessStatus {
    /// Its name in the policy.
    pub name: String,
    /// Where it is asked.
    pub url: Option<String>,
    /// The size of the newest checkpoint it cosigned for this registry.
    pub cosigned_size: Option<u64>,
    /// Whether its latest answer was a cosignature.
    pub ok: bool,
    /// What went wrong last, if its latest answer was not a cosignature.
    pub last_error: Option<String>,
    /// Failed rounds in a row.
    pub failures: u64,
}

/// The state of every witness, shared with the endpoints that show it.
pub type Statuses = Arc<Mutex<Vec<WitnessStatus>>>;

/// What the registry knows of one witness between rounds.
struct Peer {
    /// The size the witness last cosigned, as far as the registry knows.
    known: Option<u64>,
    /// Its cosignature line of the checkpoint being collected, for that checkpoint.
    line: Option<(u64, Hash, String)>,
    /// When to ask again after failures.
    next_try: Instant,
    backoff: Duration,
}

/// Asks the policy's witnesses to cosign each new checkpoint, every `every`, until aborted.
pub async fn collect(state: AppState, policy: Policy, statuses: Statuses, every: Duration) {
    let client = match reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "no HTTP client for witnesses; cosignatures are not collected");
            return;
        }
    };
    let policy = Arc::new(policy);
    let mut peers: Vec<Peer> = policy
        .witnesses()
        .iter()
        .map(|_| Peer { known: None, line: None, next_try: Instant::now(), backoff: every })
        .collect();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Ok((note, cp)) = state.read_primary(|reg| Ok(reg.published_checkpoint()?)).await else {
            continue;
        };
        let now = Instant::now();
        let mut asks = tokio::task::JoinSet::new();
        for (i, (peer, witness)) in peers.iter().zip(policy.witnesses()).enumerate() {
            let done = peer.line.as_ref().is_some_and(|(s, r, _)| *s == cp.size && *r == cp.root);
            let Some(url) = witness.url.clone() else { continue };
            if done || now < peer.next_try {
                continue;
            }
            let (state, client, note, cp, known) =
                (state.clone(), client.clone(), note.clone(), cp.clone(), peer.known);
            let policy = Arc::clone(&policy);
            asks.spawn(async move {
                (i, ask(&state, &client, &policy, i, &url, &note, &cp, known).await)
            });
        }
        // No witness was asked: nothing new to keep.
        if asks.is_empty() {
            continue;
        }
        while let Some(joined) = asks.join_next().await {
            let Ok((i, answer)) = joined else { continue };
            let (Some(peer), Some(witness)) = (peers.get_mut(i), policy.witnesses().get(i)) else {
                continue;
            };
            let mut statuses = statuses.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(status) = statuses.get_mut(i) else { continue };
            match answer {
                Ok((size, line)) => {
                    peer.known = Some(size);
                    peer.line = Some((cp.size, cp.root, line));
                    peer.backoff = every;
                    peer.next_try = now;
                    if status.failures > 0 {
                        tracing::info!(witness = %witness.name, failed = status.failures,
                            "the witness cosigns again");
                    }
                    *status = WitnessStatus {
                        cosigned_size: Some(cp.size),
                        ok: true,
                        last_error: None,
                        failures: 0,
                        ..status.clone()
                    };
                    state.metrics().witness(&witness.name, "cosigned");
                }
                Err(failure) => {
                    if let Some(size) = failure.known {
                        peer.known = Some(size);
                    }
                    if status.failures == 0 {
                        tracing::warn!(witness = %witness.name, error = %failure.why,
                            "a witness did not cosign; the registry goes on and asks again");
                    }
                    status.ok = false;
                    status.failures += 1;
                    status.last_error = Some(failure.why);
                    peer.backoff = (peer.backoff * 2).min(MAX_BACKOFF);
                    peer.next_try = now + peer.backoff;
                    state.metrics().witness(&witness.name, failure.outcome);
                }
            }
        }
        // The checkpoint with every cosignature collected for it.
        let mut cosigned = note.clone();
        for peer in &peers {
            if let Some((size, root, line)) = &peer.line
                && *size == cp.size
                && *root == cp.root
            {
                cosigned.push_str(line);
            }
        }
        let kept_now = state.read_primary(move |reg| Ok(reg.keep_cosigned(&cosigned)?)).await;
        match kept_now {
            Ok(true) => tracing::debug!(size = cp.size, "kept a cosigned checkpoint"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e.message, "keeping a cosigned checkpoint failed"),
        }
    }
}

/// Why a witness did not cosign.
struct Failure {
    why: String,
    /// The size the witness says it last cosigned, if it said.
    known: Option<u64>,
    /// For the metrics: `unreachable`, `refused` or `conflict`.
    outcome: &'static str,
}

/// Asks one witness to cosign `cp` (signed `note`), from the size it is `known` to hold (0 when
/// unknown); on 409, again from the size it states. Returns the size it cosigned and its
/// verified cosignature line.
#[allow(clippy::too_many_arguments)]
async fn ask(
    state: &AppState,
    client: &reqwest::Client,
    policy: &Policy,
    index: usize,
    url: &str,
    note: &str,
    cp: &Checkpoint,
    known: Option<u64>,
) -> Result<(u64, String), Failure> {
    let endpoint = format!("{}/add-checkpoint", url.trim_end_matches('/'));
    let mut old = known.unwrap_or(0).min(cp.size);
    let mut stated = None;
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
        }
        let size = cp.size;
        let proof = if old == 0 || old == size {
            Vec::new()
        } else {
            match state.read_primary(move |reg| Ok(reg.consistency_proof(old, Some(size))?)).await {
                Ok(p) => p.path,
                Err(e) => {
                    return Err(Failure {
                        why: format!("no consistency proof from size {old}: {}", e.message),
                        known: stated,
                        outcome: "refused",
                    });
                }
            }
        };
        let body = AddCheckpoint { old, proof, note: note.to_owned() }.encode();
        let response = match client.post(&endpoint).body(body).send().await {
            Ok(r) => r,
            Err(e) => {
                last = format!("`{endpoint}` is unreachable: {e}");
                continue;
            }
        };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        match status {
            200 => {
                // The one line that verifies as this witness's cosignature; nothing else.
                let witness = policy.witnesses().get(index).map(|w| &w.key);
                let verified = |line: &String| {
                    witness.is_some_and(|k| {
                        k.cosigned(&format!("{note}{line}")).ok().flatten().is_some()
                    })
                };
                return match text.lines().map(|l| format!("{l}\n")).find(verified) {
                    Some(line) => Ok((cp.size, line)),
                    None => Err(Failure {
                        why: format!(
                            "`{endpoint}` answered without a valid cosignature by its key"
                        ),
                        known: stated,
                        outcome: "refused",
                    }),
                };
            }
            409 => {
                let Some(size) = text.trim().parse::<u64>().ok() else {
                    last = format!("`{endpoint}` answered 409 without a size: `{}`", text.trim());
                    continue;
                };
                stated = Some(size);
                if size == old {
                    // It holds that very size, so the root differs: another view of this log.
                    return Err(Failure {
                        why: format!(
                            "`{endpoint}` answered 409: the witness cosigned another checkpoint \
                             of size {size}; it has seen another history of this log"
                        ),
                        known: stated,
                        outcome: "conflict",
                    });
                }
                if size > cp.size {
                    return Err(Failure {
                        why: format!(
                            "the witness last cosigned size {size}, beyond this log's {}: it has \
                             seen another history of this log",
                            cp.size
                        ),
                        known: stated,
                        outcome: "conflict",
                    });
                }
                last = format!("the witness last cosigned size {size}, not {old}");
                old = size;
            }
            500..=599 => last = format!("`{endpoint}` answered {status}: {}", text.trim()),
            _ => {
                return Err(Failure {
                    why: format!("`{endpoint}` refused with {status}: {}", text.trim()),
                    known: stated,
                    outcome: if status == 422 { "conflict" } else { "refused" },
                });
            }
        }
    }
    Err(Failure { why: last, known: stated, outcome: "unreachable" })
}

/// The statuses of the policy's witnesses, none heard from yet.
pub fn statuses_of(policy: &Policy) -> Statuses {
    Arc::new(Mutex::new(
        policy
            .witnesses()
            .iter()
            .map(|w| WitnessStatus {
                name: w.name.clone(),
                url: w.url.clone(),
                ..Default::default()
            })
            .collect(),
    ))
}
