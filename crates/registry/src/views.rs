//! What the API and the portal both show: a subject's timeline, the open cases an authority must
//! work through, deadline compliance per authority and the registry's statistics. One place
//! computes each, so the JSON and the pages cannot disagree.

use std::collections::{BTreeMap, HashSet};

use probity_core::{Date, RecordKey, Slug, Timestamp};
use probity_store::{RecordStatus, Statistics};
use serde::Serialize;

use crate::{CaseView, Profile, Registry, RegistryError};

/// When a timeline entry happened: an instant for journalled steps, a day for computed ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// A journalled step, when the registry recorded it.
    At(Timestamp),
    /// A computed entry (a deadline, an expiry, a repair), on a day.
    On(Date),
}

impl When {
    /// The day it fell on (UTC for instants).
    pub fn date(self) -> Date {
        match self {
            Self::At(t) => probity_core::date_of(t),
            Self::On(d) => d,
        }
    }
}

/// Written as its text: an RFC 3339 instant or a `YYYY-MM-DD` day.
impl serde::Serialize for When {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::fmt::Display for When {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::At(t) => t.fmt(f),
            Self::On(d) => d.fmt(f),
        }
    }
}

/// One entry of a subject's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineEntry {
    /// The record it is about.
    #[serde(flatten)]
    pub record: RecordKey,
    /// The record's kind.
    pub kind: String,
    /// Log index (absent for computed entries).
    pub index: Option<u64>,
    /// When: an instant for journalled steps, a day for computed ones.
    #[serde(rename = "at")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub when: When,
    /// `filed`, `corrected`, `withdrawn`, a due-process step, `deadline`, `repaired` or
    /// `expired`.
    pub what: String,
    /// Grounds, reason, reply or the deadline's name.
    pub text: Option<String>,
    /// Outcome of an answer or decision; for deadlines `met`, `late`, `overdue` or `pending`.
    pub outcome: Option<String>,
}

/// A deadline passed and not met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OverdueItem {
    /// The record's decision number.
    pub decision_no: String,
    /// What is overdue.
    pub what: &'static str,
    /// When it was due.
    pub due: Date,
}

/// Deadline compliance of one authority.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthorityDeadlines {
    /// Authority id.
    pub authority: String,
    /// Deadlines met on time.
    pub met: u64,
    /// Deadlines met late.
    pub late: u64,
    /// Deadlines passed and not met.
    pub overdue: u64,
    /// Deadlines still running.
    pub pending: u64,
    /// The overdue items.
    pub overdue_items: Vec<OverdueItem>,
}

impl Registry {
    /// Every record and due-process step about a subject, with deadlines as of `today`, in time
    /// order. Records no longer shown appear only as `expired`, `repaired` or `withdrawn`,
    /// without their content.
    pub fn timeline(&self, p: &Profile, today: Date) -> Result<Vec<TimelineEntry>, RegistryError> {
        let mut entries = Vec::new();
        for r in &p.records {
            let base = |what: &str, when, index, text, outcome| TimelineEntry {
                record: r.record.key(),
                kind: r.record.kind.to_string(),
                index,
                when,
                what: what.to_owned(),
                text,
                outcome,
            };
            if !self.shown(r) {
                let (what, on) = match (r.status, r.repaired) {
                    (RecordStatus::Withdrawn, _) => ("withdrawn", None),
                    (_, Some(d)) => ("repaired", Some(d)),
                    _ => (
                        "expired",
                        self.rulebook()
                            .kind(r.record.kind.as_str())
                            .map(|k| k.published_for.after(r.record.effective)),
                    ),
                };
                let when = on.map_or(When::At(r.recorded_at), When::On);
                entries.push(base(what, when, None, None, None));
                continue;
            }
            if r.last_index == r.filed_index {
                // Nothing but the filing is journalled about it: no step, no case, no deadline.
                let text = Some(r.record.summary.clone());
                let when = When::At(r.recorded_at);
                entries.push(base("filed", when, Some(r.filed_index), text, None));
                continue;
            }
            let Some(view) = self.case(&r.record.key())? else { continue };
            for h in &view.history {
                let (text, outcome) = (h.text.clone(), h.outcome.clone());
                entries.push(base(&h.what, When::At(h.at), Some(h.index), text, outcome));
            }
            for d in &view.deadlines {
                let outcome = Some(d.status(today).to_owned());
                entries.push(base("deadline", When::On(d.due), None, Some(d.what.into()), outcome));
            }
        }
        entries.sort_by_key(|e| e.when.to_string());
        Ok(entries)
    }

    /// The cases still open (objections awaiting an answer or decision, repair applications
    /// awaiting a decision), oldest first; only those about `authority`'s records if given.
    pub fn open_cases(
        &self,
        authority: Option<&Slug>,
        limit: usize,
    ) -> Result<Vec<CaseView>, RegistryError> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut after = None;
        while out.len() < limit {
            let page = self.store().cases(true, after, 1000)?;
            let Some(last) = page.last() else { break };
            after = Some(last.opened);
            for c in page {
                if authority.is_some_and(|a| *a != c.record.authority)
                    || !seen.insert(c.record.clone())
                {
                    continue;
                }
                if let Some(v) = self.case(&c.record)? {
                    out.push(v);
                }
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    /// Due-process deadlines per authority as of `today`: met, late, overdue and pending, with
    /// the overdue items, in authority order.
    pub fn deadline_compliance(
        &self,
        today: Date,
    ) -> Result<Vec<AuthorityDeadlines>, RegistryError> {
        let mut per: BTreeMap<String, AuthorityDeadlines> = BTreeMap::new();
        let mut seen = HashSet::new();
        let mut after = None;
        loop {
            let page = self.store().cases(false, after, 1000)?;
            let Some(last) = page.last() else { break };
            after = Some(last.opened);
            for c in page {
                if !seen.insert(c.record.clone()) {
                    continue;
                }
                let Some(v) = self.case(&c.record)? else { continue };
                let id = c.record.authority.to_string();
                let a = per
                    .entry(id.clone())
                    .or_insert_with(|| AuthorityDeadlines { authority: id, ..Default::default() });
                for d in &v.deadlines {
                    match d.status(today) {
                        "met" => a.met += 1,
                        "late" => a.late += 1,
                        "overdue" => {
                            a.overdue += 1;
                            a.overdue_items.push(OverdueItem {
                                decision_no: c.record.decision_no.clone(),
                                what: d.what,
                                due: d.due,
                            });
                        }
                        _ => a.pending += 1,
                    }
                }
            }
        }
        // Each subject a draw selected: its result is due the rulebook's working days after
        // the draw, and is met by the filing of its outcome.
        for view in self.plans()? {
            let Some(due) = view.publish_by else { continue };
            let id = view.plan.authority.to_string();
            let a = per
                .entry(id.clone())
                .or_insert_with(|| AuthorityDeadlines { authority: id, ..Default::default() });
            let mut overdue = 0;
            for t in view.draw.iter().flat_map(|d| &d.selected) {
                let done = self.outcome_of(&view.plan.key(), &t.subject)?.map(|o| o.filed);
                let d = probity_rules::Deadline { what: "publish_inspection_result", due, done };
                match d.status(today) {
                    "met" => a.met += 1,
                    "late" => a.late += 1,
                    "overdue" => overdue += 1,
                    _ => a.pending += 1,
                }
            }
            if overdue > 0 {
                a.overdue += overdue;
                a.overdue_items.push(OverdueItem {
                    decision_no: view.plan.plan_no.clone(),
                    what: "publish_inspection_result",
                    due,
                });
            }
        }
        Ok(per.into_values().collect())
    }

    /// Aggregates for the statistics page.
    pub fn statistics(&self) -> Result<Statistics, RegistryError> {
        Ok(self.store().statistics()?)
    }
}

/// The longest search query, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// How far into the results a search may page.
pub const MAX_SEARCH_OFFSET: usize = 100_000;

/// One subject found by a search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchHit {
    /// Its code.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its grade today, as the log gives it; `None` for a rulebook without grades.
    pub grade: Option<String>,
}

/// A page of search results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResults {
    /// The hits: the exact code or name first, then names starting with the query, then the
    /// rest.
    pub hits: Vec<SearchHit>,
    /// Whether more follow this page.
    pub more: bool,
}

impl Registry {
    /// Subjects whose code is `query` or whose name starts with or contains it, `limit` of
    /// them from `offset` on, each with its grade today. The grade is read from the stored
    /// assessment while it holds, else computed, so a search never shows a grade the log does
    /// not give.
    pub fn search(
        &self,
        query: &str,
        offset: usize,
        limit: usize,
    ) -> Result<SearchResults, RegistryError> {
        let query = query.trim();
        let chars = query.chars().count();
        if chars > MAX_QUERY_CHARS {
            return Err(RegistryError::Invalid(format!(
                "q: {chars} characters; a search takes at most {MAX_QUERY_CHARS}"
            )));
        }
        if offset > MAX_SEARCH_OFFSET {
            return Err(RegistryError::Invalid(format!(
                "a search pages at most {MAX_SEARCH_OFFSET} results deep, not {offset}"
            )));
        }
        if query.is_empty() {
            return Ok(SearchResults { hits: Vec::new(), more: false });
        }
        let ids = self.store.search_subjects(query, offset, limit.saturating_add(1))?;
        let more = ids.len() > limit;
        let today = self.today();
        let mut hits = Vec::with_capacity(limit.min(ids.len()));
        for id in ids.into_iter().take(limit) {
            let Some(subject) = self.store.subject(&id)? else { continue };
            let grade = match self.assessment_holding_on(&subject, today)? {
                Some(a) => a.grade,
                None => match self.profile(&id)? {
                    Some(p) => self.assess(&p, today).grade,
                    None => None,
                },
            };
            hits.push(SearchHit { id: id.to_string(), name: subject.subject.name, grade });
        }
        Ok(SearchResults { hits, more })
    }
}

/// One entry of the change feed: a journal entry as published.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEntry {
    /// Its log index.
    pub index: u64,
    /// When the registry recorded it.
    pub recorded_at: Option<Timestamp>,
    /// The event, or `None` if its body is withheld (a redacted record's entry).
    pub event: Option<probity_core::Event>,
    /// The subject it is about, if it is about one.
    pub subject: Option<probity_core::SubjectId>,
    /// The event is published without its free text ([`probity_core::WITHHELD_TEXT`] in its
    /// place); its leaf commits to the body it had.
    pub text_withheld: bool,
}

impl Registry {
    /// Up to `limit` entries of the journal from index `from` on, each with the subject it is
    /// about (for a withdrawal or a due-process step, the record's subject as it stands now).
    pub fn changes(&self, from: u64, limit: usize) -> Result<Vec<ChangeEntry>, RegistryError> {
        use probity_core::EventBody;
        let mut out = Vec::new();
        for e in self.store.journal(from, limit)? {
            if e.published().is_none() {
                let recorded_at = self.store.recorded_at(e.index)?;
                let (event, subject, text_withheld) = (None, None, false);
                out.push(ChangeEntry {
                    index: e.index,
                    recorded_at,
                    event,
                    subject,
                    text_withheld,
                });
                continue;
            }
            let event = probity_core::Event::decode(&e.bytes).map_err(|err| {
                RegistryError::Store(probity_store::StoreError::Corrupt {
                    index: e.index,
                    reason: err.to_string(),
                })
            })?;
            let subject = match &event.body {
                EventBody::SubjectRegistered { subject } => Some(subject.id),
                EventBody::RecordFiled { record } | EventBody::RecordCorrected { record, .. } => {
                    Some(record.subject)
                }
                EventBody::RecordWithdrawn { key, .. }
                | EventBody::RecordTextWithheld { key, .. }
                | EventBody::ProcessStep { record: key, .. } => {
                    self.store.record(key)?.map(|r| r.record.subject)
                }
                _ => None,
            };
            let recorded_at = Some(event.recorded_at);
            let text_withheld = e.text_withheld();
            out.push(ChangeEntry {
                index: e.index,
                recorded_at,
                event: Some(event),
                subject,
                text_withheld,
            });
        }
        Ok(out)
    }
}
