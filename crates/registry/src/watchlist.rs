//! Watchlists: what changed in the answers about a subscriber's subjects.
//!
//! A subscriber (a bank, a procurement desk) keeps watchlists of up to [`MAX_WATCHED`] codes
//! and the measures it cares about. The registry records a change of a watched subject's
//! *answer* (grade, lists, decisions) whenever it stores an assessment that differs from the
//! one before, whatever made it: an event about the subject, a date on which an effect started
//! or ended, or another rulebook coming into force. Rating is the one place answers change, so
//! it is the one place changes are found (see `rating.rs`). Raw events are not reported, and an
//! event that moves no answer reports nothing.
//!
//! A watchlist may name a webhook; its deliveries (`deliveries`) are signed as the Standard
//! Webhooks specification describes and kept durable in the store.

use base64::Engine as _;
use probity_core::{Slug, SubjectId, Timestamp};
use probity_store::{
    Answer, AnswerChange, AssessmentRow, Cause, Delivery, Store, Watchlist, Webhook,
};
use serde::Serialize;

use crate::{Actor, Registry, RegistryError};

/// The most subjects one watchlist holds.
pub const MAX_WATCHED: u64 = 100_000;
/// The most watchlists one subscriber keeps.
pub const MAX_WATCHLISTS: usize = 100;
/// The most changes one page of a watchlist's changes holds.
pub const MAX_CHANGES_PAGE: usize = 1000;
/// The longest label, in characters.
const MAX_LABEL: usize = 200;

/// One change of a watched subject's answer, as a subscriber reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WatchedChange {
    /// Its position in the registry's sequence of answer changes: ask for changes after it.
    pub position: u64,
    /// The subject's code.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub subject: SubjectId,
    /// The log size the new answer reflects.
    pub log_size: u64,
    /// The date of the new answer.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub as_of: probity_core::Date,
    /// Why it changed: an event (with its log index and kind), a date, or a rulebook.
    pub cause: Cause,
    /// What moved: `grade`, `lists`, and `decision:<measure>` for each measure that did.
    pub changed: Vec<String>,
    /// The answer before (`null` if the subject had none).
    pub before: Option<Answer>,
    /// The answer now.
    pub after: Answer,
}

impl WatchedChange {
    fn of(c: AnswerChange) -> Self {
        let empty = Answer::default();
        let before = c.before.as_ref().unwrap_or(&empty);
        let mut changed = Vec::new();
        if before.grade != c.after.grade {
            changed.push("grade".to_owned());
        }
        if before.lists != c.after.lists {
            changed.push("lists".to_owned());
        }
        let measures: std::collections::BTreeSet<&String> =
            before.decisions.keys().chain(c.after.decisions.keys()).collect();
        for m in measures {
            if before.decisions.get(m) != c.after.decisions.get(m) {
                changed.push(format!("decision:{m}"));
            }
        }
        Self {
            position: c.position,
            subject: c.subject,
            log_size: c.log_size,
            as_of: c.as_of,
            cause: c.cause,
            changed,
            before: c.before,
            after: c.after,
        }
    }
}

/// A page of a watchlist's changes.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WatchedChanges {
    /// The changes, in position order.
    pub changes: Vec<WatchedChange>,
    /// The position to ask after next: the last one this page looked at.
    pub next: u64,
    /// Whether more changes may follow at once (the page was full).
    pub more: bool,
}

/// A webhook as its owner sees it: never the secret after it was first shown.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookView {
    /// The receiver.
    pub url: String,
    /// `ok`, `retrying` or `failing` (retries used up: resume it once the receiver is fixed).
    pub health: String,
    /// Every change up to this position was delivered.
    pub delivered: u64,
    /// Failed attempts of the message being delivered.
    pub attempts: u32,
    /// When the next attempt is due.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub next_attempt: Option<Timestamp>,
    /// Since when deliveries have stopped.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub failing_since: Option<Timestamp>,
    /// What the last failed attempt met.
    pub last_error: Option<String>,
    /// When a message was last delivered.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub last_success: Option<Timestamp>,
}

/// A watchlist as its owner sees it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WatchlistView {
    /// Its id.
    pub id: String,
    /// The owner's label.
    pub label: String,
    /// The measures whose decisions it reports (all if empty).
    pub measures: Vec<String>,
    /// How many subjects it holds.
    pub subjects: u64,
    /// When it was made.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub created: Timestamp,
    /// The last position its owner saw on the portal.
    pub seen: u64,
    /// Its webhook.
    pub webhook: Option<WebhookView>,
}

/// What adding codes to a watchlist did.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WatchReport {
    /// Codes added.
    pub added: u64,
    /// Codes it held already.
    pub already: u64,
    /// Codes refused, each with its place in the request (1-based) and the reason.
    pub rejected: Vec<RejectedCode>,
}

/// A code a watchlist refused.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RejectedCode {
    /// Its place in the request, from 1.
    pub line: usize,
    /// The code as given.
    pub code: String,
    /// Why.
    pub reason: String,
}

/// A message for a webhook: its id, the changes it carries and the body to sign.
#[derive(Debug, Clone)]
pub struct WebhookMessage {
    /// `webhook-id`: the same for every attempt of this message, so receivers drop repeats.
    pub id: String,
    /// The last position it carries.
    pub until: u64,
    /// How many changes it carries.
    pub count: usize,
    /// The JSON body.
    pub body: String,
}

/// The health word of a delivery state.
fn health(d: &Delivery) -> &'static str {
    if d.failing_since.is_some() {
        "failing"
    } else if d.attempts > 0 {
        "retrying"
    } else {
        "ok"
    }
}

/// A new signing secret: `whsec_` and 32 random bytes in base64, as Standard Webhooks writes
/// them.
fn new_secret() -> Result<String, RegistryError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| RegistryError::Internal(format!("no randomness for a secret: {e}")))?;
    Ok(format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(bytes)))
}

fn new_id() -> Result<String, RegistryError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)
        .map_err(|e| RegistryError::Internal(format!("no randomness for an id: {e}")))?;
    Ok(format!("wl_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

/// Checks a webhook URL: absolute `http`, with a host, no credentials in it. This build has no
/// TLS stack, so an `https` receiver is refused here rather than failing at every delivery;
/// put a TLS-originating proxy in front of it.
pub fn check_webhook_url(url: &str) -> Result<(), RegistryError> {
    let bad = |why: &str| RegistryError::Invalid(format!("webhook url `{url}`: {why}"));
    if url.starts_with("https://") {
        return Err(bad("this build delivers over plain http only (it has no TLS stack); \
             give the http address of a proxy that forwards over TLS"));
    }
    let rest = url.strip_prefix("http://").ok_or_else(|| bad("must start with http://"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() {
        return Err(bad("names no host"));
    }
    if host.contains('@') {
        return Err(bad("must not carry credentials"));
    }
    if url.len() > 2000 || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("is too long or holds spaces or control characters"));
    }
    Ok(())
}

/// The subscriber an actor is, or why it may not keep watchlists.
fn subscriber(actor: &Actor) -> Result<&Slug, RegistryError> {
    match actor {
        Actor::Subscriber(s) => Ok(s),
        _ => Err(RegistryError::Forbidden("only a subscriber key keeps watchlists".into())),
    }
}

/// The answer change from a stored assessment to the one replacing it, with its cause, if the
/// answer moved and the new row is not from an older view of the log.
pub(crate) fn change_of(
    store: &dyn Store,
    old: Option<&AssessmentRow>,
    new: &AssessmentRow,
) -> Result<Option<AnswerChange>, RegistryError> {
    if old.is_some_and(|o| o.log_size > new.log_size) {
        return Ok(None);
    }
    if old.map(Answer::of) == Some(Answer::of(new)) {
        return Ok(None);
    }
    let last = store.subject_columns(&new.subject)?.map(|c| c.last_event);
    let cause = match (old, last) {
        (o, Some(index)) if o.is_none_or(|o| index >= o.log_size) => {
            let event = store
                .journal(index, 1)?
                .first()
                .and_then(|e| e.published().and_then(|b| probity_core::Event::decode(b).ok()))
                .map_or_else(
                    || "withheld".to_owned(),
                    // A due-process step is named as such: `repair_decided`, not the event type.
                    |e| match &e.body {
                        probity_core::EventBody::ProcessStep { step, .. } => step.name().to_owned(),
                        _ => e.type_name().to_owned(),
                    },
                );
            Cause::Event { index, event }
        }
        (Some(o), _) if (&o.rulebook, &o.version) != (&new.rulebook, &new.version) => {
            Cause::Rulebook { version: new.version.clone() }
        }
        _ => Cause::Date,
    };
    Ok(AnswerChange::between(old, new, cause))
}

/// The answer changes that storing `rows` makes for watched subjects.
pub(crate) fn changes_for(
    store: &dyn Store,
    rows: &[AssessmentRow],
) -> Result<Vec<AnswerChange>, RegistryError> {
    let ids: Vec<SubjectId> = rows.iter().map(|r| r.subject).collect();
    let watched: std::collections::HashSet<SubjectId> =
        store.watched_among(&ids)?.into_iter().collect();
    let mut out = Vec::new();
    for r in rows.iter().filter(|r| watched.contains(&r.subject)) {
        let old = store.assessment(&r.subject)?;
        out.extend(change_of(store, old.as_ref(), r)?);
    }
    Ok(out)
}

impl Registry {
    fn view(&self, w: Watchlist) -> Result<WatchlistView, RegistryError> {
        Ok(WatchlistView {
            subjects: self.store.watch_count(&w.id)?,
            webhook: w.webhook.map(|h| WebhookView {
                url: h.url,
                health: health(&h.delivery).to_owned(),
                delivered: h.delivery.delivered,
                attempts: h.delivery.attempts,
                next_attempt: h.delivery.next_attempt,
                failing_since: h.delivery.failing_since,
                last_error: h.delivery.last_error,
                last_success: h.delivery.last_success,
            }),
            id: w.id,
            label: w.label,
            measures: w.measures,
            created: w.created,
            seen: w.seen,
        })
    }

    /// The watchlist `id` if `actor` owns it. Another's is "not found", so ids are not probed.
    fn owned(&self, actor: &Actor, id: &str) -> Result<Watchlist, RegistryError> {
        let owner = subscriber(actor)?;
        self.store
            .watchlist(id)?
            .filter(|w| w.owner == owner.as_str())
            .ok_or_else(|| RegistryError::NotFound(format!("no watchlist `{id}`")))
    }

    /// A webhook for `url` with a new secret, delivering changes from the newest on.
    fn new_webhook(&self, url: &str) -> Result<Webhook, RegistryError> {
        check_webhook_url(url)?;
        Ok(Webhook {
            url: url.to_owned(),
            secret: new_secret()?,
            delivery: Delivery { delivered: self.store.last_change()?, ..Delivery::default() },
        })
    }

    /// Makes a watchlist for the subscriber `actor`. Returns it and, if it has a webhook, the
    /// signing secret, shown this once.
    pub fn create_watchlist(
        &mut self,
        actor: &Actor,
        label: &str,
        measures: Vec<String>,
        url: Option<&str>,
    ) -> Result<(WatchlistView, Option<String>), RegistryError> {
        let owner = subscriber(actor)?.to_string();
        let label = label.trim();
        if label.is_empty()
            || label.chars().count() > MAX_LABEL
            || label.chars().any(char::is_control)
        {
            return Err(RegistryError::Invalid(format!(
                "label `{label}`: give 1 to {MAX_LABEL} characters without control characters"
            )));
        }
        let book = self.rulebook();
        for m in &measures {
            if book.measure(m).is_none() {
                return Err(RegistryError::Invalid(format!(
                    "measure `{m}` is not in the rulebook in force"
                )));
            }
        }
        if self.store.watchlists(Some(&owner))?.len() >= MAX_WATCHLISTS {
            return Err(RegistryError::Conflict(format!(
                "subscriber `{owner}` keeps {MAX_WATCHLISTS} watchlists, the most one may"
            )));
        }
        let webhook = url.map(|u| self.new_webhook(u)).transpose()?;
        let secret = webhook.as_ref().map(|h| h.secret.clone());
        let w = Watchlist {
            id: new_id()?,
            owner,
            label: label.to_owned(),
            measures,
            created: self.clock.now(),
            seen: self.store.last_change()?,
            webhook,
        };
        self.store.put_watchlist(&w)?;
        tracing::info!(watchlist = %w.id, owner = %w.owner, "watchlist created");
        Ok((self.view(w)?, secret))
    }

    /// The watchlists of the subscriber `actor`.
    pub fn watchlists_of(&self, actor: &Actor) -> Result<Vec<WatchlistView>, RegistryError> {
        let owner = subscriber(actor)?;
        self.store.watchlists(Some(owner.as_str()))?.into_iter().map(|w| self.view(w)).collect()
    }

    /// One watchlist of the subscriber `actor`.
    pub fn watchlist(&self, actor: &Actor, id: &str) -> Result<WatchlistView, RegistryError> {
        let w = self.owned(actor, id)?;
        self.view(w)
    }

    /// Deletes a watchlist of the subscriber `actor`.
    pub fn drop_watchlist(&mut self, actor: &Actor, id: &str) -> Result<(), RegistryError> {
        self.owned(actor, id)?;
        self.store.drop_watchlist(id)?;
        tracing::info!(watchlist = id, "watchlist deleted");
        Ok(())
    }

    /// Adds codes to a watchlist. Each code is checked as any subject code is (a code the
    /// registry does not hold yet may be watched: its first answer is then a change); refused
    /// ones are reported with their place, and the rest are added, up to [`MAX_WATCHED`].
    pub fn watch(
        &mut self,
        actor: &Actor,
        id: &str,
        codes: &[String],
    ) -> Result<WatchReport, RegistryError> {
        self.owned(actor, id)?;
        let mut report = WatchReport::default();
        let mut ids = Vec::with_capacity(codes.len());
        for (i, code) in codes.iter().enumerate() {
            match self.parse_id(code) {
                Ok(s) => ids.push(s),
                Err(e) => report.rejected.push(RejectedCode {
                    line: i + 1,
                    code: code.clone(),
                    reason: e.to_string(),
                }),
            }
        }
        ids.sort_unstable();
        ids.dedup();
        let held = self.store.watch_count(id)?;
        if held + ids.len() as u64 > MAX_WATCHED {
            // Some may be held already; count the new ones exactly before refusing.
            let mut new = 0u64;
            let mut after = None;
            let mut on: std::collections::HashSet<SubjectId> = std::collections::HashSet::new();
            loop {
                let page = self.store.watched(id, after.as_ref(), 10_000)?;
                let Some(last) = page.last().copied() else { break };
                on.extend(page);
                after = Some(last);
            }
            new += ids.iter().filter(|s| !on.contains(s)).count() as u64;
            if held + new > MAX_WATCHED {
                return Err(RegistryError::Invalid(format!(
                    "watchlist `{id}` holds {held} subjects; {new} more would pass the most, \
                     {MAX_WATCHED}"
                )));
            }
        }
        for chunk in ids.chunks(10_000) {
            report.added += self.store.watch(id, chunk)?;
        }
        report.already = ids.len() as u64 - report.added;
        tracing::info!(
            watchlist = id,
            added = report.added,
            rejected = report.rejected.len(),
            "watched"
        );
        Ok(report)
    }

    /// Takes codes off a watchlist; returns how many it held.
    pub fn unwatch(
        &mut self,
        actor: &Actor,
        id: &str,
        codes: &[String],
    ) -> Result<u64, RegistryError> {
        self.owned(actor, id)?;
        let ids = codes.iter().map(|c| self.parse_id(c)).collect::<Result<Vec<_>, _>>()?;
        let mut removed = 0;
        for chunk in ids.chunks(10_000) {
            removed += self.store.unwatch(id, chunk)?;
        }
        Ok(removed)
    }

    /// Up to `limit` subjects of a watchlist after `after`, in code order.
    pub fn watched_subjects(
        &self,
        actor: &Actor,
        id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SubjectId>, RegistryError> {
        self.owned(actor, id)?;
        let after = after.map(|a| self.parse_id(a)).transpose()?;
        Ok(self.store.watched(id, after.as_ref(), limit.min(10_000))?)
    }

    /// The changes of a watchlist's answers after position `after`, at most `limit`, as far as
    /// its measures matter.
    pub fn watchlist_changes(
        &self,
        actor: &Actor,
        id: &str,
        after: u64,
        limit: usize,
    ) -> Result<WatchedChanges, RegistryError> {
        let w = self.owned(actor, id)?;
        self.changes_of(&w, after, limit.clamp(1, MAX_CHANGES_PAGE))
    }

    fn changes_of(
        &self,
        w: &Watchlist,
        after: u64,
        limit: usize,
    ) -> Result<WatchedChanges, RegistryError> {
        let mut page = WatchedChanges { changes: Vec::new(), next: after, more: false };
        loop {
            let read = self.store.watched_changes(&w.id, page.next, limit)?;
            let full = read.len() == limit;
            for c in read {
                page.next = c.position;
                if let Some(c) = c.narrowed(&w.measures) {
                    page.changes.push(WatchedChange::of(c));
                    if page.changes.len() == limit {
                        page.more = true;
                        return Ok(page);
                    }
                }
            }
            if !full {
                return Ok(page);
            }
        }
    }

    /// Notes that the owner has seen the changes of a watchlist up to `position`.
    pub fn mark_seen(
        &mut self,
        actor: &Actor,
        id: &str,
        position: u64,
    ) -> Result<(), RegistryError> {
        let mut w = self.owned(actor, id)?;
        if position > w.seen {
            w.seen = position;
            self.store.put_watchlist(&w)?;
        }
        Ok(())
    }

    /// Sets a watchlist's webhook to `url` with a new secret, shown this once, delivering
    /// changes from now on; `None` removes it.
    pub fn set_webhook(
        &mut self,
        actor: &Actor,
        id: &str,
        url: Option<&str>,
    ) -> Result<Option<String>, RegistryError> {
        let mut w = self.owned(actor, id)?;
        w.webhook = url.map(|u| self.new_webhook(u)).transpose()?;
        self.store.put_watchlist(&w)?;
        Ok(w.webhook.map(|h| h.secret))
    }

    /// Resumes a failing webhook: its pending message is tried again at once, and retries
    /// count afresh. Nothing is lost while it was failing.
    pub fn resume_webhook(&mut self, actor: &Actor, id: &str) -> Result<(), RegistryError> {
        let w = self.owned(actor, id)?;
        let Some(h) = w.webhook else {
            return Err(RegistryError::NotFound(format!("watchlist `{id}` has no webhook")));
        };
        let d = Delivery {
            attempts: 0,
            next_attempt: None,
            first_failure: None,
            failing_since: None,
            ..h.delivery
        };
        self.store.set_delivery(id, &h.url, &d)?;
        Ok(())
    }

    /// A watchlist as stored, with its webhook's secret and delivery state: for deliveries.
    pub fn watchlist_state(&self, id: &str) -> Result<Option<Watchlist>, RegistryError> {
        Ok(self.store.watchlist(id)?)
    }

    /// Every watchlist with a webhook that is not failing, has a message pending or changes
    /// after what it was delivered, and whose next attempt, if any, is due by `now`.
    pub fn webhooks_due(&self, now: Timestamp) -> Result<Vec<Watchlist>, RegistryError> {
        let last = self.store.last_change()?;
        Ok(self
            .store
            .watchlists(None)?
            .into_iter()
            .filter(|w| {
                w.webhook.as_ref().is_some_and(|h| {
                    let d = &h.delivery;
                    d.failing_since.is_none()
                        && (d.pending.is_some() || d.delivered < last)
                        && d.next_attempt.is_none_or(|t| t <= now)
                })
            })
            .collect())
    }

    /// The message a webhook is to receive next, if it has changes to deliver: the pending one
    /// again, or the next up to `max` changes, which it fixes as pending so that every attempt
    /// sends the same message.
    pub fn webhook_message(
        &mut self,
        w: &Watchlist,
        max: usize,
    ) -> Result<Option<WebhookMessage>, RegistryError> {
        let Some(h) = &w.webhook else { return Ok(None) };
        let d = &h.delivery;
        let (changes, until) = match d.pending {
            Some(until) => {
                let mut page = self.changes_of(w, d.delivered, MAX_CHANGES_PAGE)?;
                page.changes.retain(|c| c.position <= until);
                (page.changes, until)
            }
            None => {
                // Read first: every change up to it is visible to the read that follows, as
                // positions follow commit order.
                let last = self.store.last_change()?;
                let page = self.changes_of(w, d.delivered, max)?;
                if page.next == d.delivered {
                    if last > d.delivered {
                        // Changes of other watchlists' subjects only: nothing to send up to
                        // `last`, so later looks start there.
                        let skipped = Delivery { delivered: last, ..d.clone() };
                        self.store.set_delivery(&w.id, &h.url, &skipped)?;
                    }
                    return Ok(None);
                }
                if page.changes.is_empty() {
                    // Only changes its measures do not care about: nothing to send.
                    let skipped = Delivery { delivered: page.next, ..d.clone() };
                    self.store.set_delivery(&w.id, &h.url, &skipped)?;
                    return Ok(None);
                }
                let pending = Delivery { pending: Some(page.next), ..d.clone() };
                if !self.store.set_delivery(&w.id, &h.url, &pending)? {
                    return Ok(None);
                }
                (page.changes, page.next)
            }
        };
        let id = format!("msg_{}_{}_{}", w.id, d.delivered, until);
        #[derive(Serialize)]
        struct Data<'a> {
            watchlist: &'a str,
            after: u64,
            next: u64,
            changes: &'a [WatchedChange],
        }
        #[derive(Serialize)]
        struct Body<'a> {
            r#type: &'static str,
            timestamp: String,
            data: Data<'a>,
        }
        let body = serde_json::to_string(&Body {
            r#type: "watchlist.changes",
            timestamp: self.clock.now().to_string(),
            data: Data { watchlist: &w.id, after: d.delivered, next: until, changes: &changes },
        })
        .map_err(|e| RegistryError::Internal(format!("a webhook message: {e}")))?;
        Ok(Some(WebhookMessage { id, until, count: changes.len(), body }))
    }

    /// Keeps what an attempt to deliver `msg` to the webhook of `w` met: `Ok` delivered it,
    /// `Err` is why not. A failed message is retried with exponential backoff and jitter
    /// (from `base`, doubling, at most `cap` apart) until `retry_for` has passed since its
    /// first failure; then the webhook is marked failing, where its owner sees it.
    pub fn delivery_done(
        &mut self,
        id: &str,
        msg: &WebhookMessage,
        outcome: Result<(), String>,
        backoff: Backoff,
    ) -> Result<(), RegistryError> {
        // As stored now: the attempt was of the message fixed as pending there.
        let Some(w) = self.store.watchlist(id)? else { return Ok(()) };
        let Some(h) = &w.webhook else { return Ok(()) };
        if h.delivery.pending != Some(msg.until) {
            // The owner set another webhook or resumed meanwhile: this outcome is of the past.
            return Ok(());
        }
        let now = self.clock.now();
        let d = match outcome {
            Ok(()) => Delivery {
                delivered: msg.until,
                pending: None,
                attempts: 0,
                next_attempt: None,
                first_failure: None,
                failing_since: None,
                last_error: h.delivery.last_error.clone(),
                last_success: Some(now),
            },
            Err(e) => {
                let first = h.delivery.first_failure.unwrap_or(now);
                let attempts = h.delivery.attempts.saturating_add(1);
                let given_up = now.duration_since(first).unsigned_abs() >= backoff.retry_for;
                let wait = backoff.wait(attempts);
                tracing::warn!(watchlist = %w.id, attempts, error = %e, given_up, "webhook delivery failed");
                Delivery {
                    attempts,
                    first_failure: Some(first),
                    next_attempt: Some(
                        now.checked_add(jiff::SignedDuration::try_from(wait).unwrap_or_default())
                            .unwrap_or(now),
                    ),
                    failing_since: given_up.then_some(now),
                    last_error: Some(e),
                    ..h.delivery.clone()
                }
            }
        };
        self.store.set_delivery(&w.id, &h.url, &d)?;
        Ok(())
    }
}

/// How failed deliveries are retried.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The wait after the first failure.
    pub base: std::time::Duration,
    /// The longest wait.
    pub cap: std::time::Duration,
    /// How long after its first failure a message is retried before the webhook is marked
    /// failing.
    pub retry_for: std::time::Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: std::time::Duration::from_secs(5),
            cap: std::time::Duration::from_secs(3600),
            retry_for: std::time::Duration::from_secs(24 * 3600),
        }
    }
}

impl Backoff {
    /// The wait after `attempts` failures: `base · 2^(attempts-1)`, at most `cap`, less a
    /// random part of up to a half ("equal jitter"), so that receivers coming back are not
    /// met by every sender at once.
    pub fn wait(&self, attempts: u32) -> std::time::Duration {
        let full =
            self.base.saturating_mul(1u32 << attempts.saturating_sub(1).min(20)).min(self.cap);
        let mut b = [0u8; 4];
        let r = getrandom::fill(&mut b).map_or(0, |()| u32::from_le_bytes(b));
        let half = full / 2;
        half + half.mul_f64(f64::from(r) / f64::from(u32::MAX))
    }
}
