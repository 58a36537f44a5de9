//! The projection rules of every event kind, once: what an event does to the tables.
//!
//! [`Planner::plan`] takes one event and answers, from what it looks up through [`Lookups`],
//! whether the event is appended, a duplicate of stored content or refused (and why), and the
//! typed row operations ([`Op`]) that project it. A backend only looks up and executes: it
//! holds no rule of its own about which event may follow which, or what a conflict is.
//!
//! A backend executes each plan before it plans the next event of the batch, so the look-ups
//! of a later event see what earlier ones did.

use probity_core::{
    Authority, CaseKind, Date, Encoded, Event, EventBody, Record, RecordKey, Step, Subject,
    SubjectId,
};

use crate::{Outcome, RecordStatus, Refusal, StoreError};

/// A backend's handle on a row (SQLite's rowid, PostgreSQL's `id`, the memory store's index).
pub type Row = i64;

/// How the store sees a record's natural key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// No record has it.
    Free,
    /// A redacted record had it; it stays taken.
    Redacted,
    /// A record has it.
    Taken {
        /// Its row.
        row: Row,
        /// The journal index of its filing.
        filed: u64,
        /// Where it stands.
        status: RecordStatus,
        /// The row of the subject it is about now.
        subject: Row,
    },
}

/// What the planner asks of the stored state (including what earlier events of the same
/// append wrote). Keys are borrowed from the events of the append (`'e`), so a backend may
/// keep what it learns under them without copying.
pub trait Lookups<'e> {
    /// The row and registering event of a subject.
    fn subject(&mut self, id: &'e SubjectId) -> Result<Option<(Row, u64)>, StoreError>;
    /// The row and registering event of an authority.
    fn authority(&mut self, code: &'e str) -> Result<Option<(Row, u64)>, StoreError>;
    /// How the record key (authority code, decision number) stands.
    fn record(&mut self, authority: &'e str, decision_no: &'e str) -> Result<KeyState, StoreError>;
    /// The event journalled at `index`.
    fn entry(&mut self, index: u64) -> Result<Event, StoreError>;
    /// The journal index at which a rulebook version was adopted.
    fn rulebook(&mut self, id: &'e str, version: &'e str) -> Result<Option<u64>, StoreError>;
    /// The journal entries about the record at `record`, in order.
    fn history(&mut self, record: Row) -> Result<Vec<u64>, StoreError>;
    /// Whether a code is on the exception list.
    fn exception(&mut self, code: &'e str) -> Result<bool, StoreError>;
    /// How an inspection plan stands, by its authority and plan number.
    fn plan(
        &mut self,
        authority: &'e str,
        plan_no: &'e str,
    ) -> Result<Option<PlanState>, StoreError>;
    /// Whether the draw of the plan at `plan` selected the subject at `subject`.
    fn target(&mut self, plan: Row, subject: Row) -> Result<bool, StoreError>;
}

/// Why a record that names an inspection plan may not be filed, if it may not: the plan must be
/// its authority's, drawn, and its draw must have selected the record's subject.
fn outcome_refusal<'e>(
    look: &mut dyn Lookups<'e>,
    record: &'e Record,
    subject: Row,
) -> Result<Option<Refusal>, StoreError> {
    let Some(plan_no) = &record.inspection_plan else { return Ok(None) };
    let key =
        probity_core::PlanKey { authority: record.authority.clone(), plan_no: plan_no.clone() };
    let Some(plan) = look.plan(record.authority.as_str(), plan_no)? else {
        return Ok(Some(Refusal::UnknownPlan(key)));
    };
    if plan.drawn.is_none() {
        return Ok(Some(Refusal::Conflict(format!(
            "inspection plan `{key}` is not drawn yet: an outcome follows the draw"
        ))));
    }
    if !look.target(plan.row, subject)? {
        return Ok(Some(Refusal::Conflict(format!(
            "the draw of inspection plan `{key}` did not select subject `{}`",
            record.subject
        ))));
    }
    Ok(None)
}

/// How the store sees an inspection plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanState {
    /// Its row.
    pub row: Row,
    /// The journal index of the plan.
    pub planned: u64,
    /// The journal index of its draw, once drawn.
    pub drawn: Option<u64>,
}

/// A backend's side of an append: it answers the planner's look-ups and executes its row
/// operations.
pub trait Executor<'e>: Lookups<'e> {
    /// Executes one row operation.
    fn execute(&mut self, op: &Op<'e>) -> Result<(), StoreError>;
}

/// How the key of a record stands, by its authority and decision number.
fn key_state<'e>(look: &mut dyn Lookups<'e>, key: &'e RecordKey) -> Result<KeyState, StoreError> {
    look.record(key.authority.as_str(), &key.decision_no)
}

/// One row operation. Journal indices are the events'; rows are the backend's handles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op<'e> {
    /// Journal `event` at `index`, and its leaf in the log.
    Journal {
        /// Journal index.
        index: u64,
        /// The event.
        event: &'e Encoded,
    },
    /// A new subject row, registered at `event` (its latest event too).
    AddSubject {
        /// The subject.
        subject: &'e Subject,
        /// Its registration.
        event: u64,
    },
    /// A new authority row.
    AddAuthority {
        /// The authority.
        authority: &'e Authority,
        /// Its registration.
        event: u64,
    },
    /// A new record row, status filed, with `event` as its filing, current and last event and
    /// the first entry of its history.
    AddRecord {
        /// The record.
        record: &'e Record,
        /// Its authority's row.
        authority: Row,
        /// Its subject's row.
        subject: Row,
        /// Its filing.
        event: u64,
    },
    /// A record corrected: its subject, kind and effective date as `record` says, status
    /// corrected, `event` its current and last event.
    Correct {
        /// The record's row.
        row: Row,
        /// The record as corrected.
        record: &'e Record,
        /// The row of its subject now.
        subject: Row,
        /// The correction.
        event: u64,
    },
    /// A record withdrawn at `event`, its last event.
    Withdraw {
        /// The record's row.
        row: Row,
        /// Its key.
        key: &'e RecordKey,
        /// The withdrawal.
        event: u64,
    },
    /// `event` joins a record's history.
    History {
        /// The record's row.
        row: Row,
        /// The entry.
        event: u64,
    },
    /// A due-process step at `event` about a record: its last event; it opens and closes cases,
    /// sets whether an objection is open, and the day a granted repair took effect.
    Step {
        /// The record's row.
        row: Row,
        /// The case it opens.
        opens: Option<CaseKind>,
        /// The open case of this kind it closes.
        closes: Option<CaseKind>,
        /// Whether the record is disputed after it, if the step changes that.
        disputed: Option<bool>,
        /// The day a granted repair took effect.
        repaired: Option<Date>,
        /// The step.
        event: u64,
    },
    /// The body of the journal entry at `index` is withheld: the SHA-256 of its canonical
    /// encoding is kept, so its leaf still commits to it.
    Withhold {
        /// Journal index.
        index: u64,
    },
    /// The free text of the journal entry at `index` is withheld: the SHA-256 of its canonical
    /// encoding is kept (once: an entry withheld before keeps its first digest), and the body
    /// becomes its encoding [`probity_core::Event::without_free_text`]. Nothing rating reads
    /// changes.
    WithholdText {
        /// Journal index.
        index: u64,
    },
    /// A record is redacted at `event`: its key stays taken, its row, history and cases go.
    Redact {
        /// The record's row.
        row: Row,
        /// Its key.
        key: &'e RecordKey,
        /// The redaction.
        event: u64,
    },
    /// A rulebook version adopted at `event`.
    AddRulebook {
        /// Rulebook id.
        rulebook: &'e str,
        /// Version.
        version: &'e str,
        /// From when it applies.
        effective: Date,
        /// The adoption.
        event: u64,
    },
    /// A code admitted to the exception list at `event`.
    AddException {
        /// The code.
        code: &'e str,
        /// The admission.
        event: u64,
    },
    /// An inspection plan filed at `event`.
    AddPlan {
        /// The plan.
        plan: &'e probity_core::InspectionPlan,
        /// Its authority's row.
        authority: Row,
        /// The plan's entry.
        event: u64,
    },
    /// The plan at `plan` drawn at `event`.
    Drawn {
        /// The plan's row.
        plan: Row,
        /// The draw's entry.
        event: u64,
    },
    /// A subject selected by the draw of the plan at `plan`.
    AddTarget {
        /// The plan's row.
        plan: Row,
        /// The subject's row.
        subject: Row,
        /// Its risk class.
        class: &'e str,
        /// Its team.
        team: u32,
    },
    /// The event at `event` concerns the subject at `subject`: its latest event is at least it.
    Touch {
        /// The subject's row.
        subject: Row,
        /// The event.
        event: u64,
    },
}

/// What one event does: its outcome, and the operations that project it (none unless it is
/// appended).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan<'e> {
    /// Appended, duplicate or refused.
    pub outcome: Outcome,
    /// The row operations, in order.
    pub ops: Vec<Op<'e>>,
}

impl Plan<'_> {
    fn not_written(outcome: Outcome) -> Self {
        Self { outcome, ops: Vec::new() }
    }

    fn refused(refusal: Refusal) -> Self {
        Self::not_written(Outcome::Refused(refusal))
    }
}

/// Plans the events of one append in order, numbering the journal from where it stands.
#[derive(Debug, Clone)]
pub struct Planner {
    next: u64,
}

impl Planner {
    /// A planner for an append to a journal of `size` entries.
    pub fn new(size: u64) -> Self {
        Self { next: size }
    }

    /// The journal index the next appended event gets.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// Plans each of `events` in order and has `backend` execute each plan before the next
    /// event is planned. Returns one outcome per event.
    pub fn apply<'e>(
        &mut self,
        events: &'e [Encoded],
        backend: &mut dyn Executor<'e>,
    ) -> Result<Vec<Outcome>, StoreError> {
        let mut outcomes = Vec::with_capacity(events.len());
        for e in events {
            let plan = self.plan(e, backend)?;
            for op in &plan.ops {
                backend.execute(op)?;
            }
            outcomes.push(plan.outcome);
        }
        Ok(outcomes)
    }

    /// What `encoded` does, given what `look` finds. An event that is appended takes the next
    /// journal index.
    pub fn plan<'e>(
        &mut self,
        encoded: &'e Encoded,
        look: &mut dyn Lookups<'e>,
    ) -> Result<Plan<'e>, StoreError> {
        let at = self.next;
        let event = encoded.event();
        let plan = match &event.body {
            EventBody::SubjectRegistered { subject } => match look.subject(&subject.id)? {
                Some((_, registered)) => repeat_of(look, registered, &event.body, || {
                    format!("subject `{}` is already registered with different details", subject.id)
                })?,
                None => appended(at, encoded, [Op::AddSubject { subject, event: at }]),
            },
            EventBody::AuthorityRegistered { authority } => {
                match look.authority(authority.id.as_str())? {
                    Some((_, registered)) => repeat_of(look, registered, &event.body, || {
                        format!(
                            "authority `{}` is already registered with different details",
                            authority.id
                        )
                    })?,
                    None => appended(at, encoded, [Op::AddAuthority { authority, event: at }]),
                }
            }
            EventBody::RecordFiled { record } => {
                let Some((authority, _)) = look.authority(record.authority.as_str())? else {
                    return Ok(Plan::refused(Refusal::UnknownAuthority(record.authority.clone())));
                };
                let Some((subject, _)) = look.subject(&record.subject)? else {
                    return Ok(Plan::refused(Refusal::UnknownSubject(record.subject)));
                };
                if let Some(refusal) = outcome_refusal(look, record, subject)? {
                    return Ok(Plan::refused(refusal));
                }
                match look.record(record.authority.as_str(), &record.decision_no)? {
                    KeyState::Redacted => Plan::not_written(Outcome::Duplicate),
                    KeyState::Taken { filed, .. } => {
                        let (stored, _) = crate::codec::record_event(filed, look.entry(filed)?)?;
                        Plan::not_written(Outcome::refiling(&stored, record))
                    }
                    KeyState::Free => appended(
                        at,
                        encoded,
                        [
                            Op::AddRecord { record, authority, subject, event: at },
                            Op::Touch { subject, event: at },
                        ],
                    ),
                }
            }
            EventBody::RecordCorrected { record, .. } => {
                let key = record.key();
                let KeyState::Taken { row, status, subject: before, .. } =
                    look.record(record.authority.as_str(), &record.decision_no)?
                else {
                    return Ok(Plan::refused(Refusal::UnknownRecord(key)));
                };
                if status == RecordStatus::Withdrawn {
                    return Ok(Plan::refused(Refusal::Withdrawn(key)));
                }
                let Some((subject, _)) = look.subject(&record.subject)? else {
                    return Ok(Plan::refused(Refusal::UnknownSubject(record.subject)));
                };
                if let Some(refusal) = outcome_refusal(look, record, subject)? {
                    return Ok(Plan::refused(refusal));
                }
                appended(
                    at,
                    encoded,
                    [
                        Op::Correct { row, record, subject, event: at },
                        Op::History { row, event: at },
                        Op::Touch { subject: before, event: at },
                        Op::Touch { subject, event: at },
                    ],
                )
            }
            EventBody::RecordWithdrawn { key, .. } => {
                let KeyState::Taken { row, status, subject, .. } = key_state(look, key)? else {
                    return Ok(Plan::refused(Refusal::UnknownRecord(key.clone())));
                };
                if status == RecordStatus::Withdrawn {
                    return Ok(Plan::not_written(Outcome::Duplicate));
                }
                appended(
                    at,
                    encoded,
                    [
                        Op::Withdraw { row, key, event: at },
                        Op::History { row, event: at },
                        Op::Touch { subject, event: at },
                    ],
                )
            }
            EventBody::RecordRedacted { key, entries, .. } => {
                let (row, subject) = match key_state(look, key)? {
                    KeyState::Taken { row, subject, .. } => (row, subject),
                    KeyState::Redacted => return Ok(Plan::not_written(Outcome::Duplicate)),
                    KeyState::Free => {
                        return Ok(Plan::refused(Refusal::UnknownRecord(key.clone())));
                    }
                };
                let history = look.history(row)?;
                if &history != entries {
                    return Ok(Plan::refused(Refusal::Conflict(format!(
                        "a redaction of record `{key}` must list exactly its journal entries \
                         {history:?}"
                    ))));
                }
                let withheld = entries.iter().map(|&index| Op::Withhold { index });
                appended(
                    at,
                    encoded,
                    withheld.chain([
                        Op::Redact { row, key, event: at },
                        Op::Touch { subject, event: at },
                    ]),
                )
            }
            EventBody::RecordTextWithheld { key, entries, .. } => {
                let subject = match key_state(look, key)? {
                    KeyState::Taken { row, subject, .. } => {
                        let history = look.history(row)?;
                        if &history != entries {
                            return Ok(Plan::refused(Refusal::Conflict(format!(
                                "withholding the text of record `{key}` must list exactly its \
                                 journal entries {history:?}"
                            ))));
                        }
                        subject
                    }
                    KeyState::Redacted => {
                        return Ok(Plan::refused(Refusal::Conflict(format!(
                            "record `{key}` was redacted: none of its text is published"
                        ))));
                    }
                    KeyState::Free => {
                        return Ok(Plan::refused(Refusal::UnknownRecord(key.clone())));
                    }
                };
                let withheld = entries.iter().map(|&index| Op::WithholdText { index });
                appended(at, encoded, withheld.chain([Op::Touch { subject, event: at }]))
            }
            EventBody::ProcessStep { record, step } => {
                let KeyState::Taken { row, subject, .. } = key_state(look, record)? else {
                    return Ok(Plan::refused(Refusal::UnknownRecord(record.clone())));
                };
                let disputed = match (step.opens(), step.closes()) {
                    (Some(CaseKind::Objection), _) => Some(true),
                    (_, Some(CaseKind::Objection)) => Some(false),
                    _ => None,
                };
                let repaired = match step {
                    Step::RepairDecided { granted: true, .. } => {
                        Some(probity_core::date_of(event.recorded_at))
                    }
                    _ => None,
                };
                appended(
                    at,
                    encoded,
                    [
                        Op::History { row, event: at },
                        Op::Step {
                            row,
                            opens: step.opens(),
                            closes: step.closes(),
                            disputed,
                            repaired,
                            event: at,
                        },
                        Op::Touch { subject, event: at },
                    ],
                )
            }
            EventBody::RulebookAdopted { rulebook, version, effective, .. } => {
                match look.rulebook(rulebook, version)? {
                    Some(adopted) => repeat_of(look, adopted, &event.body, || {
                        format!(
                            "rulebook `{rulebook}` version `{version}` was adopted before with \
                             other content; give the new rules a new version"
                        )
                    })?,
                    None => appended(
                        at,
                        encoded,
                        [Op::AddRulebook { rulebook, version, effective: *effective, event: at }],
                    ),
                }
            }
            EventBody::InspectionPlanned { plan } => {
                let Some((authority, _)) = look.authority(plan.authority.as_str())? else {
                    return Ok(Plan::refused(Refusal::UnknownAuthority(plan.authority.clone())));
                };
                match look.plan(plan.authority.as_str(), &plan.plan_no)? {
                    Some(stored) => repeat_of(look, stored.planned, &event.body, || {
                        format!(
                            "authority `{}` already filed inspection plan `{}` with different \
                             content; a plan is committed once",
                            plan.authority, plan.plan_no
                        )
                    })?,
                    None => appended(at, encoded, [Op::AddPlan { plan, authority, event: at }]),
                }
            }
            EventBody::InspectionDrawn { draw } => {
                let key = &draw.plan;
                let Some(stored) = look.plan(key.authority.as_str(), &key.plan_no)? else {
                    return Ok(Plan::refused(Refusal::UnknownPlan(key.clone())));
                };
                if let Some(drawn) = stored.drawn {
                    return repeat_of(look, drawn, &event.body, || {
                        format!("inspection plan `{key}` was drawn already, differently")
                    });
                }
                let mut ops = vec![Op::Drawn { plan: stored.row, event: at }];
                for t in &draw.selected {
                    let Some((subject, _)) = look.subject(&t.subject)? else {
                        return Ok(Plan::refused(Refusal::UnknownSubject(t.subject)));
                    };
                    ops.push(Op::AddTarget {
                        plan: stored.row,
                        subject,
                        class: &t.class,
                        team: t.team,
                    });
                }
                appended(at, encoded, ops)
            }
            EventBody::CodeExceptionAdmitted { code, .. } => {
                if look.exception(code)? {
                    Plan::not_written(Outcome::Duplicate)
                } else {
                    appended(at, encoded, [Op::AddException { code, event: at }])
                }
            }
        };
        if let Outcome::Appended { index } = plan.outcome {
            assert_eq!(index, at, "an appended event takes the next journal index");
            self.next += 1;
        }
        Ok(plan)
    }
}

/// The plan of an event appended at `at`: journalled first, then projected by `ops`.
fn appended<'e>(at: u64, event: &'e Encoded, ops: impl IntoIterator<Item = Op<'e>>) -> Plan<'e> {
    let ops = std::iter::once(Op::Journal { index: at, event }).chain(ops).collect();
    Plan { outcome: Outcome::Appended { index: at }, ops }
}

/// An event whose natural key is taken by journal entry `at`: a duplicate when that entry says
/// the same, otherwise a conflict described by `conflict`.
fn repeat_of<'e>(
    look: &mut dyn Lookups<'e>,
    at: u64,
    body: &EventBody,
    conflict: impl FnOnce() -> String,
) -> Result<Plan<'e>, StoreError> {
    Ok(Plan::not_written(if &look.entry(at)?.body == body {
        Outcome::Duplicate
    } else {
        Outcome::Refused(Refusal::Conflict(conflict()))
    }))
}
