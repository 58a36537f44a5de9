//! Due process as use cases: who may take which step about a record, when, and what the case
//! looks like afterwards.
//!
//! A company may object to, reply to and apply for repair of its own records only; the issuing
//! authority answers and decides, and nobody else does. The rulebook in force sets the objection
//! window, when repair opens, the length of replies and the working-day clocks. Every step is one
//! journal event (two when an objection ends in a correction or a withdrawal, journalled
//! together), so a case can always be replayed from the record's history.

use probity_core::{
    Case, Date, Event, EventBody, ObjectionOutcome, Record, RecordKey, Slug, Step, SubjectId,
    Timestamp, date_of,
};
use probity_rules::{Closed, Deadline};
use probity_store::{Outcome, RecordStatus, StoredRecord};
use serde::Serialize;

use crate::{Registry, RegistryError};

/// Who is acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The registry's operator.
    Operator,
    /// An authority, by id.
    Authority(Slug),
    /// A company, by its subject id.
    Company(SubjectId),
    /// A subscriber to watchlists, by the name the operator issued its key under.
    Subscriber(Slug),
}

/// One entry of a record's history, for timelines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HistoryEntry {
    /// Log index.
    pub index: u64,
    /// When the registry recorded it.
    pub at: Timestamp,
    /// What happened: `filed`, `corrected`, `withdrawn`, or a due-process step name.
    pub what: String,
    /// The stated grounds, reason or text, if any.
    pub text: Option<String>,
    /// For answers and decisions: admitted, granted, or the objection's outcome.
    pub outcome: Option<String>,
}

/// A record's due-process case: its state, its history and its deadlines.
#[derive(Debug, Clone)]
pub struct CaseView {
    /// The record as it stands.
    pub record: StoredRecord,
    /// The case state.
    pub case: Case,
    /// When the latest objection and repair application were closed.
    pub closed: Closed,
    /// Every event about the record, in order.
    pub history: Vec<HistoryEntry>,
    /// The deadlines of the case under the rulebook in force today.
    pub deadlines: Vec<Deadline>,
    /// The last day the company may object, counted from publication.
    pub objection_until: Date,
    /// The first day the company may apply for repair, if the kind can be repaired.
    pub repair_opens: Option<Date>,
}

/// A decision on an objection, with the corrected record when the outcome is a correction.
#[derive(Debug, Clone)]
pub struct ObjectionDecision {
    /// The outcome.
    pub outcome: ObjectionOutcome,
    /// Why.
    pub reason: String,
    /// The record as corrected (required for, and only for, [`ObjectionOutcome::Corrected`]).
    pub corrected: Option<Record>,
}

fn corrupt(index: u64, e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Store(probity_store::StoreError::Corrupt { index, reason: e.to_string() })
}

fn history_entry(index: u64, event: &Event) -> HistoryEntry {
    let (what, text, outcome): (&str, Option<&str>, Option<String>) = match &event.body {
        EventBody::RecordFiled { record } => ("filed", Some(record.summary.as_str()), None),
        EventBody::RecordCorrected { reason, .. } => ("corrected", Some(reason.as_str()), None),
        EventBody::RecordWithdrawn { reason, .. } => ("withdrawn", Some(reason.as_str()), None),
        EventBody::ProcessStep { step, .. } => match step {
            Step::ObjectionFiled { grounds } => (step.name(), Some(grounds.as_str()), None),
            Step::ObjectionAnswered { admitted, reason } => (
                step.name(),
                Some(reason.as_str()),
                Some(if *admitted { "admitted" } else { "refused" }.to_owned()),
            ),
            Step::ObjectionDecided { outcome, reason } => {
                (step.name(), Some(reason.as_str()), Some(outcome.as_str().to_owned()))
            }
            Step::ReplyPublished { text } => (step.name(), Some(text.as_str()), None),
            Step::RepairApplied { statement } => (step.name(), Some(statement.as_str()), None),
            Step::RepairDecided { granted, reason } => (
                step.name(),
                Some(reason.as_str()),
                Some(if *granted { "granted" } else { "refused" }.to_owned()),
            ),
        },
        _ => ("other", None, None),
    };
    HistoryEntry {
        index,
        at: event.recorded_at,
        what: what.to_owned(),
        text: text.map(str::to_owned),
        outcome,
    }
}

fn check(field: &'static str, value: &str, max: usize) -> Result<String, RegistryError> {
    probity_core::check_prose(field, value, max).map_err(|e| RegistryError::Invalid(e.to_string()))
}

impl Registry {
    /// The due-process case of a record, or `None` if the registry does not hold it.
    pub fn case(&self, key: &RecordKey) -> Result<Option<CaseView>, RegistryError> {
        let Some(record) = self.store.record(key)? else { return Ok(None) };
        let mut case = Case::default();
        let mut closed = Closed::default();
        let mut history = Vec::new();
        for entry in self.store.record_history(key)? {
            let event = Event::decode(&entry.bytes).map_err(|e| corrupt(entry.index, e))?;
            if let EventBody::ProcessStep { step, .. } = &event.body {
                case = case.apply(step, event.recorded_at).map_err(|e| corrupt(entry.index, e))?;
                if let Some(kind) = step.closes() {
                    *closed.of_mut(kind) = Some(date_of(event.recorded_at));
                }
                if let Some(kind) = step.opens() {
                    *closed.of_mut(kind) = None;
                }
            }
            history.push(history_entry(entry.index, &event));
        }
        let book = self.rulebook();
        let deadlines =
            probity_rules::deadlines(&case, book.due_process(), book.calendar(), closed);
        let objection_until =
            book.due_process().objection_window.after(date_of(record.recorded_at));
        let repair_opens = book
            .kind(record.record.kind.as_str())
            .and_then(|k| k.repair_after)
            .map(|p| p.after(record.record.effective));
        Ok(Some(CaseView {
            record,
            case,
            closed,
            history,
            deadlines,
            objection_until,
            repair_opens,
        }))
    }

    fn case_or_404(&self, key: &RecordKey) -> Result<CaseView, RegistryError> {
        self.case(key)?.ok_or_else(|| {
            RegistryError::NotFound(format!(
                "authority `{}` has no record with decision number `{}`",
                key.authority, key.decision_no
            ))
        })
    }

    /// Takes a due-process step about a record as `actor`, after checking that the actor may,
    /// that the rulebook's windows allow it now, and that it may follow the case's state.
    /// Returns the log index of the step.
    pub fn take_step(
        &mut self,
        actor: &Actor,
        key: &RecordKey,
        step: Step,
    ) -> Result<u64, RegistryError> {
        self.take_steps(actor, key, step, None)
    }

    /// Decides an admitted objection as the issuing authority; a correction or withdrawal is
    /// journalled together with the decision.
    pub fn decide_objection(
        &mut self,
        actor: &Actor,
        key: &RecordKey,
        decision: ObjectionDecision,
    ) -> Result<u64, RegistryError> {
        let reason = check("reason", &decision.reason, probity_core::limits::BASIS)?;
        let extra = match (decision.outcome, decision.corrected) {
            (ObjectionOutcome::Corrected, Some(record)) => {
                if record.key() != *key {
                    return Err(RegistryError::Invalid(
                        "a correction keeps the record's authority and decision number".into(),
                    ));
                }
                if self.rulebook().kind(record.kind.as_str()).is_none() {
                    return Err(RegistryError::Invalid(format!(
                        "kind `{}` is not in the rulebook in force",
                        record.kind
                    )));
                }
                Some(EventBody::RecordCorrected { record, reason: reason.clone() })
            }
            (ObjectionOutcome::Corrected, None) => {
                return Err(RegistryError::Invalid(
                    "an objection decided as `corrected` needs the corrected record".into(),
                ));
            }
            (_, Some(_)) => {
                return Err(RegistryError::Invalid(
                    "a corrected record goes only with the outcome `corrected`".into(),
                ));
            }
            (ObjectionOutcome::Withdrawn, None) => {
                Some(EventBody::RecordWithdrawn { key: key.clone(), reason: reason.clone() })
            }
            (ObjectionOutcome::Upheld, None) => None,
        };
        let step = Step::ObjectionDecided { outcome: decision.outcome, reason };
        self.take_steps(actor, key, step, extra)
    }

    fn take_steps(
        &mut self,
        actor: &Actor,
        key: &RecordKey,
        step: Step,
        extra: Option<EventBody>,
    ) -> Result<u64, RegistryError> {
        let view = self.case_or_404(key)?;
        let record = &view.record.record;
        match (actor, step.by_company()) {
            (Actor::Company(id), true) if *id == record.subject => {}
            (Actor::Authority(a), false) if *a == record.authority => {}
            (_, true) => {
                return Err(RegistryError::Forbidden(format!(
                    "only the company `{}` may take the step `{}` about this record",
                    record.subject,
                    step.name()
                )));
            }
            (_, false) => {
                return Err(RegistryError::Forbidden(format!(
                    "only the issuing authority `{}` may take the step `{}` about this record",
                    record.authority,
                    step.name()
                )));
            }
        }
        if view.record.status == RecordStatus::Withdrawn {
            return Err(RegistryError::Conflict("the record is withdrawn".into()));
        }
        let today = self.today();
        let book = self.rulebook();
        let step = match step {
            Step::ObjectionFiled { grounds } => {
                if today > view.objection_until {
                    return Err(RegistryError::Conflict(format!(
                        "the objection window closed on {} ({} after publication)",
                        view.objection_until,
                        book.due_process().objection_window
                    )));
                }
                Step::ObjectionFiled {
                    grounds: check("grounds", &grounds, probity_core::limits::SUMMARY)?,
                }
            }
            Step::ReplyPublished { text } => Step::ReplyPublished {
                text: check("reply", &text, book.due_process().reply_max_chars)?,
            },
            Step::RepairApplied { statement } => {
                match view.repair_opens {
                    None => {
                        return Err(RegistryError::Conflict(format!(
                            "records of kind `{}` cannot be repaired; they expire",
                            record.kind
                        )));
                    }
                    Some(opens) if today < opens => {
                        return Err(RegistryError::Conflict(format!(
                            "repair of this record opens on {opens}"
                        )));
                    }
                    Some(_) => {}
                }
                Step::RepairApplied {
                    statement: check("statement", &statement, probity_core::limits::SUMMARY)?,
                }
            }
            Step::ObjectionAnswered { admitted, reason } => Step::ObjectionAnswered {
                admitted,
                reason: check("reason", &reason, probity_core::limits::BASIS)?,
            },
            Step::RepairDecided { granted, reason } => Step::RepairDecided {
                granted,
                reason: check("reason", &reason, probity_core::limits::BASIS)?,
            },
            decided @ Step::ObjectionDecided { .. } => decided,
        };
        // A reply that repeats the one published is a replay: it changes nothing.
        if let (Step::ReplyPublished { text }, Some((current, _))) = (&step, &view.case.reply)
            && text == current
            && let Some(h) = view.history.iter().rev().find(|h| h.what == step.name())
        {
            return Ok(h.index);
        }
        let now = self.clock.now();
        view.case.apply(&step, now).map_err(|e| RegistryError::Conflict(e.to_string()))?;
        // A correction may move the record to another subject: both are re-rated.
        let mut subjects = vec![record.subject];
        if let Some(EventBody::RecordCorrected { record: corrected, .. }) = &extra
            && corrected.subject != record.subject
        {
            subjects.push(corrected.subject);
        }
        let mut events =
            vec![Event::new(now, EventBody::ProcessStep { record: key.clone(), step })];
        events.extend(extra.map(|body| Event::new(now, body)));
        let encoded: Vec<probity_core::Encoded> = events.into_iter().map(Into::into).collect();
        let outcomes = self.store.append(&encoded)?;
        let index = match outcomes.first() {
            Some(Outcome::Appended { index }) => *index,
            Some(Outcome::Refused(r)) => return Err(RegistryError::Refused(r.to_string())),
            other => {
                return Err(RegistryError::Internal(format!("unexpected store answer {other:?}")));
            }
        };
        self.publish_checkpoint()?;
        self.rate(&subjects, today)?;
        Ok(index)
    }
}
