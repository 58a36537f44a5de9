//! NATS JetStream feeds (`docs/feeds.md`): departments file over the bus, and every committed
//! event goes out on it in log order.
//!
//! **Filings in.** Stream `PROBITY_FILINGS` holds `probity.filings.<authority>`; a durable pull
//! consumer (`probity-ingest`, explicit acks) takes each message, the same JSON as
//! `POST /v1/records` (one record) or `/v1/records/batch` (`{"records": […]}`), and files it
//! as the authority its subject names, through the same registry call as the API, so a filing
//! that names another authority is rejected. Only once its events are committed is the outcome
//! published to `probity.outcomes.<authority>` (accepted, duplicate or rejected per record, with
//! the reason and the log index) and the message acknowledged. A message redelivered after a
//! crash between the commit and the ack comes back as `duplicate`: the registry keeps a record
//! once by its decision number. A message whose filing fails (the store, not the content) is
//! asked again with a delay; at its `max_deliver`-th delivery it goes to `probity.dead.<authority>`
//! with the reason, and is terminated.
//!
//! **Events out.** Stream `PROBITY_EVENTS` holds `probity.events.<event type>`. Each committed
//! event is published there in log order, as the change feed writes it, with `Nats-Msg-Id` its
//! log index and the headers `Probity-Leaf-Hash` (hex) and `Probity-Log-Size`. The next index
//! to publish is kept in the store once JetStream acknowledged it; after a restart the
//! publisher resumes from there, or from after the stream's last message if that is further
//! (its `Nats-Msg-Id` says which index it is), so nothing is skipped and nothing goes out twice.

use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::pull, stream};
use futures_util::StreamExt as _;
use probity_core::Slug;
use serde::Serialize;
use serde_json::Value;

use crate::state::AppState;
use probity_registry::RegistryError;

/// The stream of department filings.
pub const FILINGS_STREAM: &str = "PROBITY_FILINGS";
/// The stream of outcomes and dead letters.
pub const OUTCOMES_STREAM: &str = "PROBITY_OUTCOMES";
/// The stream of events in log order.
pub const EVENTS_STREAM: &str = "PROBITY_EVENTS";
/// The durable consumer that files what departments send.
pub const INGEST_CONSUMER: &str = "probity-ingest";
/// The store's cursor of the events published.
pub const EVENTS_CURSOR: &str = "nats.events";
/// Messages taken from the bus per registry write.
const FETCH: usize = 500;
/// Events published per page read from the journal.
const PAGE: usize = 500;

/// How probity talks to NATS.
#[derive(Debug, Clone)]
pub struct NatsConfig {
    /// The server, e.g. `nats://probity:secret@127.0.0.1:4222`.
    pub url: String,
    /// Deliveries of a filing whose processing fails before it goes to the dead-letter subject.
    pub max_deliver: i64,
    /// How long JetStream waits for an acknowledgement before it delivers again.
    pub ack_wait: Duration,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".into(),
            max_deliver: 5,
            ack_wait: Duration::from_secs(30),
        }
    }
}

/// The NATS feeds as the server last saw them, for `/v1/ready`.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct FeedStatus {
    /// Whether the filings consumer is connected and taking messages.
    pub filings_connected: bool,
    /// Filing messages handled (outcome published, message acknowledged) since the start.
    pub messages_handled: u64,
    /// Whether the events publisher is connected.
    pub events_connected: bool,
    /// The next log index the events publisher is to publish.
    pub events_next: Option<u64>,
    /// What went wrong last, if a feed stopped.
    pub last_error: Option<String>,
}

/// Why the feeds stopped.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// NATS refused or went away.
    #[error("nats: {0}")]
    Nats(String),
}

fn nats<E: std::fmt::Display>(e: E) -> FeedError {
    FeedError::Nats(e.to_string())
}

/// What became of one record of a filing message.
#[derive(Debug, Clone, Serialize)]
pub struct RecordOutcome {
    /// Its position in the message.
    pub row: usize,
    /// `accepted`, `duplicate` or `rejected`.
    pub outcome: &'static str,
    /// Why it was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The log index of its filing, when it was filed now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_index: Option<u64>,
}

/// The outcome of one filing message, published to `probity.outcomes.<authority>`.
#[derive(Debug, Clone, Serialize)]
pub struct FilingOutcome {
    /// The message's `Nats-Msg-Id`, if it had one.
    pub msg_id: Option<String>,
    /// The authority its subject names.
    pub authority: String,
    /// `accepted` if every record was filed now, `duplicate` if every one was filed before,
    /// `rejected` if every one was rejected (or the message could not be read), else `mixed`.
    pub outcome: &'static str,
    /// Per record, in order.
    pub records: Vec<RecordOutcome>,
    /// Why the message as a whole was rejected (not JSON, not a filing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The rows of a filing message: one record, or `{"records": […]}`.
fn rows_of(payload: &[u8]) -> Result<Vec<String>, String> {
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| format!("the message is not JSON: {e}"))?;
    match value {
        Value::Object(mut o) if o.len() == 1 && o.contains_key("records") => {
            match o.remove("records") {
                Some(Value::Array(rows)) if rows.len() > probity_registry::MAX_FILING_BATCH => {
                    Err(format!(
                        "a filing holds at most {} records; this one has {}",
                        probity_registry::MAX_FILING_BATCH,
                        rows.len()
                    ))
                }
                Some(Value::Array(rows)) => Ok(rows.iter().map(Value::to_string).collect()),
                _ => Err("`records` is not an array of records".into()),
            }
        }
        Value::Object(_) => Ok(vec![value.to_string()]),
        _ => Err("the message is neither a record nor {\"records\": [...]}".into()),
    }
}

fn summary(records: &[RecordOutcome]) -> &'static str {
    let all = |o: &str| !records.is_empty() && records.iter().all(|r| r.outcome == o);
    if all("accepted") {
        "accepted"
    } else if all("duplicate") {
        "duplicate"
    } else if records.is_empty() || all("rejected") {
        "rejected"
    } else {
        "mixed"
    }
}

/// A NATS URL without its `user:password@`, and the user and password it held.
fn split_credentials(url: &str) -> (String, Option<(String, String)>) {
    let (scheme, rest) = url.split_once("://").map_or(("nats", url), |(s, r)| (s, r));
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            (format!("{scheme}://{host}"), Some((user.to_owned(), password.to_owned())))
        }
        None => (url.to_owned(), None),
    }
}

/// Connects and makes sure the streams and the ingest consumer exist.
async fn connect(config: &NatsConfig) -> Result<jetstream::Context, FeedError> {
    let (address, credentials) = split_credentials(&config.url);
    let options = match credentials {
        Some((user, password)) => {
            async_nats::ConnectOptions::with_user_and_password(user, password)
        }
        None => async_nats::ConnectOptions::new(),
    };
    let client = options
        .connection_timeout(Duration::from_secs(5))
        .connect(address.as_str())
        .await
        .map_err(nats)?;
    let js = jetstream::new(client);
    for (name, subjects, window) in [
        (FILINGS_STREAM, vec!["probity.filings.>".to_owned()], Duration::from_secs(120)),
        (
            OUTCOMES_STREAM,
            vec!["probity.outcomes.>".to_owned(), "probity.dead.>".to_owned()],
            Duration::from_secs(120),
        ),
        (EVENTS_STREAM, vec!["probity.events.>".to_owned()], Duration::from_secs(600)),
    ] {
        js.get_or_create_stream(stream::Config {
            name: name.to_owned(),
            subjects,
            duplicate_window: window,
            ..Default::default()
        })
        .await
        .map_err(nats)?;
    }
    Ok(js)
}

/// Files what departments send, until the connection fails for good.
pub async fn ingest(state: AppState, config: NatsConfig) -> Result<(), FeedError> {
    let js = connect(&config).await?;
    let stream = js.get_stream(FILINGS_STREAM).await.map_err(nats)?;
    let consumer: jetstream::consumer::Consumer<pull::Config> = stream
        .get_or_create_consumer(
            INGEST_CONSUMER,
            pull::Config {
                durable_name: Some(INGEST_CONSUMER.to_owned()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: config.ack_wait,
                max_deliver: config.max_deliver,
                filter_subject: "probity.filings.>".to_owned(),
                ..Default::default()
            },
        )
        .await
        .map_err(nats)?;
    // The address only: the URL may hold a password.
    tracing::info!(address = %split_credentials(&config.url).0, "filing from NATS");
    state.feed_status(|f| f.filings_connected = true);
    loop {
        // Up to FETCH messages: at once when that many wait, else what came within 200 ms.
        let mut batch = consumer
            .fetch()
            .max_messages(FETCH)
            .expires(Duration::from_millis(200))
            .messages()
            .await
            .map_err(nats)?;
        let mut messages = Vec::new();
        while let Some(m) = batch.next().await {
            match m {
                Ok(m) => messages.push(m),
                Err(e) => tracing::debug!(error = %e, "a fetch from NATS ended early"),
            }
        }
        if !messages.is_empty() {
            let n = messages.len() as u64;
            handle(&state, &js, &config, messages).await?;
            state.feed_status(|f| f.messages_handled += n);
        }
    }
}

/// What one message asks filed: as which authority (none if its subject names none), and its
/// rows.
type Work = (Option<Slug>, Vec<String>);

/// One message as taken from the bus, with what filing it needs.
struct Taken {
    message: jetstream::Message,
    authority: Option<Slug>,
    /// Why the message is not a filing, if it is not.
    unreadable: Option<String>,
}

/// Files a batch of messages in one registry write, publishes each outcome, then acks each.
async fn handle(
    state: &AppState,
    js: &jetstream::Context,
    config: &NatsConfig,
    messages: Vec<jetstream::Message>,
) -> Result<(), FeedError> {
    // Every message's rows, filed as the authority its subject names, in one write and as few
    // transactions as the batch limit allows.
    let (taken, work): (Vec<Taken>, Vec<Work>) = messages
        .into_iter()
        .map(|message| {
            let name = message.subject.as_str().strip_prefix("probity.filings.").unwrap_or("");
            let authority = Slug::parse("authority", name).ok();
            let (rows, unreadable) = match rows_of(&message.payload) {
                Ok(rows) => (rows, None),
                Err(why) => (Vec::new(), Some(why)),
            };
            (Taken { message, authority: authority.clone(), unreadable }, (authority, rows))
        })
        .unzip();
    let filed = if crate::failpoint("PROBITY_FAIL_FILING") {
        // For tests: the store fails under every filing, as a full disk would.
        Err(crate::error::ApiError::internal("failpoint PROBITY_FAIL_FILING: the store failed"))
    } else {
        state.write(move |reg| Ok(file_all(reg, &work)?)).await
    };
    let filed = match filed {
        Ok(f) => f,
        Err(e) => {
            // Nothing was decided about these messages: deliver them again later, or, at their
            // last delivery, to the dead-letter subject.
            tracing::warn!(error = %e.message, messages = taken.len(), "filing from NATS failed");
            for t in &taken {
                fail(js, config, &t.message, &e.message).await?;
            }
            return Ok(());
        }
    };
    if crate::failpoint("PROBITY_FAIL_BEFORE_ACK") {
        // For tests: the process dies between the commit and the acknowledgement.
        std::process::abort();
    }
    let mut published = Vec::with_capacity(taken.len());
    for (t, results) in taken.iter().zip(filed) {
        let authority = t.authority.as_ref().map_or_else(
            || t.message.subject.as_str().trim_start_matches("probity.filings.").to_owned(),
            Slug::to_string,
        );
        let msg_id = t
            .message
            .headers
            .as_ref()
            .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
            .map(|v| v.as_str().to_owned());
        let (records, reason) = match (&t.authority, &t.unreadable, results) {
            (None, _, _) => {
                (Vec::new(), Some(format!("`{authority}` in the subject is not an authority id")))
            }
            (_, Some(why), _) => (Vec::new(), Some(why.clone())),
            (_, None, None) => (Vec::new(), Some("the filing holds no record".into())),
            (_, None, Some(results)) => (
                results
                    .into_iter()
                    .map(|r| {
                        state.metrics().filing(r.status);
                        RecordOutcome {
                            row: r.row,
                            outcome: match r.status {
                                "filed" => "accepted",
                                "duplicate" => "duplicate",
                                _ => "rejected",
                            },
                            reason: r.reason,
                            log_index: r.index,
                        }
                    })
                    .collect(),
                None,
            ),
        };
        let outcome =
            FilingOutcome { msg_id, outcome: summary(&records), authority, records, reason };
        let subject = format!("probity.outcomes.{}", outcome.authority);
        let body = serde_json::to_vec(&outcome).unwrap_or_default();
        published.push(js.publish(subject, body.into()).await.map_err(nats)?);
    }
    // Every outcome stored by JetStream, then every message acknowledged.
    for ack in published {
        ack.await.map_err(nats)?;
    }
    for t in &taken {
        t.message.ack().await.map_err(nats)?;
    }
    Ok(())
}

/// Files each message's rows as the authority its subject names, messages of every authority
/// together, in as few transactions as the batch limit allows; the results of each message,
/// numbered within it (`None` for a message with no authority or no rows).
fn file_all(
    reg: &mut probity_registry::Registry,
    work: &[Work],
) -> Result<Vec<Option<Vec<probity_registry::FilingResult>>>, RegistryError> {
    let mut out: Vec<Option<Vec<probity_registry::FilingResult>>> =
        work.iter().map(|_| None).collect();
    let mut chunk: Vec<usize> = Vec::new();
    let mut rows: Vec<(&Slug, &str)> = Vec::new();
    let mut flush = |chunk: &mut Vec<usize>,
                     rows: &mut Vec<(&Slug, &str)>,
                     out: &mut Vec<Option<Vec<_>>>|
     -> Result<(), RegistryError> {
        let mut results = reg.file_records_of_many(rows)?.into_iter();
        rows.clear();
        for i in chunk.drain(..) {
            let n = work.get(i).map_or(0, |w| w.1.len());
            let mut mine: Vec<probity_registry::FilingResult> = results.by_ref().take(n).collect();
            for (k, r) in mine.iter_mut().enumerate() {
                r.row = k;
            }
            if let Some(slot) = out.get_mut(i) {
                *slot = Some(mine);
            }
        }
        Ok(())
    };
    for (i, (by, message_rows)) in work.iter().enumerate() {
        let Some(by) = by else { continue };
        if message_rows.is_empty() {
            continue;
        }
        if rows.len() + message_rows.len() > probity_registry::MAX_FILING_BATCH && !chunk.is_empty()
        {
            flush(&mut chunk, &mut rows, &mut out)?;
        }
        chunk.push(i);
        rows.extend(message_rows.iter().map(|r| (by, r.as_str())));
    }
    if !chunk.is_empty() {
        flush(&mut chunk, &mut rows, &mut out)?;
    }
    Ok(out)
}

/// A message whose filing failed: again later, or to the dead letters at its last delivery.
async fn fail(
    js: &jetstream::Context,
    config: &NatsConfig,
    message: &jetstream::Message,
    why: &str,
) -> Result<(), FeedError> {
    let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
    if delivered < config.max_deliver {
        return message.ack_with(AckKind::Nak(Some(Duration::from_secs(1)))).await.map_err(nats);
    }
    let authority = message.subject.as_str().trim_start_matches("probity.filings.");
    let dead = serde_json::json!({
        "subject": message.subject.as_str(),
        "deliveries": delivered,
        "reason": why,
        "payload": String::from_utf8_lossy(&message.payload),
    });
    tracing::error!(subject = %message.subject, delivered, reason = why,
        "a filing failed at every delivery; sent to the dead letters");
    js.publish(format!("probity.dead.{authority}"), dead.to_string().into())
        .await
        .map_err(nats)?
        .await
        .map_err(nats)?;
    message.ack_with(AckKind::Term).await.map_err(nats)
}

/// Publishes every committed event, in log order, until the connection fails for good.
pub async fn publish_events(state: AppState, config: NatsConfig) -> Result<(), FeedError> {
    let js = connect(&config).await?;
    let mut stream = js.get_stream(EVENTS_STREAM).await.map_err(nats)?;
    // Resume from the store's cursor, or after the stream's last message if that is further.
    let stored = state.read_primary(|reg| Ok(reg.feed_cursor(EVENTS_CURSOR)?)).await;
    let mut next = stored.map_err(|e| FeedError::Nats(e.message))?.unwrap_or(0);
    let last = stream.info().await.map_err(nats)?.state.last_sequence;
    if last > 0 {
        let message = stream.get_raw_message(last).await.map_err(nats)?;
        let index = message
            .headers
            .get(async_nats::header::NATS_MESSAGE_ID)
            .and_then(|v| v.as_str().parse::<u64>().ok());
        if let Some(i) = index {
            next = next.max(i + 1);
        }
    }
    tracing::info!(next, "publishing events to NATS");
    state.feed_status(|f| {
        f.events_connected = true;
        f.events_next = Some(next);
    });
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let from = next;
        let page = state
            .read_primary(move |reg| {
                let size = reg.log_size()?;
                let changes = reg.changes(from, PAGE)?;
                let mut out = Vec::with_capacity(changes.len());
                for c in changes {
                    let leaf = reg.leaf_hash(c.index)?;
                    out.push((crate::api::change_of(c), leaf));
                }
                Ok((size, out))
            })
            .await;
        let (size, page) = match page {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e.message, "reading the journal to publish failed");
                tick.tick().await;
                continue;
            }
        };
        if page.is_empty() {
            tick.tick().await;
            continue;
        }
        let mut acks = Vec::with_capacity(page.len());
        for (change, leaf) in &page {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(async_nats::header::NATS_MESSAGE_ID, change.index.to_string().as_str());
            headers.insert("Probity-Leaf-Hash", probity_tlog::hex(leaf).as_str());
            headers.insert("Probity-Log-Size", size.to_string().as_str());
            let subject = format!("probity.events.{}", change.event_type);
            let body = serde_json::to_vec(change).unwrap_or_default();
            acks.push(js.publish_with_headers(subject, headers, body.into()).await.map_err(nats)?);
        }
        for ack in acks {
            ack.await.map_err(nats)?;
        }
        next = page.last().map_or(next, |(c, _)| c.index + 1);
        state.feed_status(|f| f.events_next = Some(next));
        let to = next;
        if let Err(e) = state.write(move |reg| Ok(reg.set_feed_cursor(EVENTS_CURSOR, to)?)).await {
            tracing::warn!(error = %e.message, "keeping the events cursor failed; it is kept next time");
        }
    }
}

/// Runs `task` again two seconds after it stops (NATS gone, a refusal), for as long as the
/// server runs; says so once per failure, and in `/v1/ready`.
pub async fn keep_running<F, Fut>(state: AppState, name: &'static str, task: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), FeedError>>,
{
    loop {
        let why = match task().await {
            Ok(()) => "the feed ended".to_owned(),
            Err(e) => e.to_string(),
        };
        tracing::warn!(feed = name, error = %why, "the NATS feed stopped; starting it again in 2 s");
        state.feed_status(|f| {
            if name == "filings" {
                f.filings_connected = false;
            } else {
                f.events_connected = false;
            }
            f.last_error = Some(format!("{name}: {why}"));
        });
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
