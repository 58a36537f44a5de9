//! An in-memory store of probity, built on the store's planner.
//!
//! It keeps the journal, the log's nodes and every projection in plain maps, answers the
//! planner's look-ups from them and executes its row operations, exactly as the SQLite and
//! PostgreSQL stores do, and passes the same conformance suite. Nothing is written anywhere:
//! it is for the deterministic simulator and for tests that want a registry without files.
//!
//! The state is copied on write: an append works on a copy and puts it in place only when the
//! whole batch succeeded, so a failed append leaves nothing half-done, and a snapshot is the
//! state as it was when the snapshot began. Handles made with [`MemoryStore::handle`] share one
//! state, as several connections share one database.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use probity_core::{
    Authority, CaseKind, Date, Encoded, Event, RecordKey, Subject, SubjectId, Timestamp,
};
use probity_store::codec::record_event;
use probity_store::plan::{Executor, KeyState, Lookups, Op, PlanState, Planner, Row};
use probity_store::{
    AssessmentRow, CaseRow, Counts, Credential, JournalEntry, ListEntry, ListQuery, Outcome,
    PlanRow, RecordStanding, RecordStatus, Role, Store, StoreError, StoredRecord, StoredSubject,
    SubjectColumns, SubjectStanding, TargetRow,
};
use probity_tlog::{Frontier, Hash, leaf_hash};

/// One journal entry: when it was recorded, its body (empty once withheld) and the digest of a
/// withheld body.
#[derive(Debug, Clone)]
struct Entry {
    recorded_at: Timestamp,
    body: Vec<u8>,
    withheld: Option<[u8; 32]>,
}

#[derive(Debug, Clone)]
struct SubjectRow {
    id: SubjectId,
    name: String,
    established: Option<Date>,
    event: u64,
    last_event: u64,
}

#[derive(Debug, Clone)]
struct RecordRow {
    key: RecordKey,
    subject: Row,
    kind: String,
    effective: Date,
    status: RecordStatus,
    filed: u64,
    current: u64,
    last: u64,
    disputed: bool,
    repaired: Option<Date>,
}

#[derive(Debug, Clone)]
struct CaseState {
    record: Row,
    kind: CaseKind,
    closed: Option<u64>,
}

/// Everything a registry holds.
#[derive(Debug, Clone, Default)]
struct State {
    journal: Vec<Entry>,
    frontier: Frontier,
    /// Every complete node of the log tree, by level and index.
    nodes: HashMap<(u8, u64), Hash>,
    subjects: Vec<SubjectRow>,
    subject_rows: BTreeMap<SubjectId, Row>,
    /// Authority code → row (an index into `authority_events`) and registering event.
    authorities: BTreeMap<String, (Row, u64)>,
    authority_events: Vec<u64>,
    records: BTreeMap<Row, RecordRow>,
    record_rows: HashMap<(String, String), Row>,
    next_record: Row,
    history: BTreeMap<Row, Vec<u64>>,
    /// Cases by the journal index of the step that opened them.
    cases: BTreeMap<u64, CaseState>,
    redacted: BTreeSet<(String, String)>,
    /// Adopted rulebooks: (id, version) → the adoption's journal index.
    rulebooks: BTreeMap<(String, String), u64>,
    adoptions: Vec<u64>,
    exceptions: BTreeMap<String, u64>,
    /// Inspection plans, by row: key, plan entry, draw entry.
    plans: Vec<PlanRow>,
    /// Subjects selected by draws: (plan row, subject row) → (class, team).
    targets: BTreeMap<(Row, Row), (String, u32)>,
    assessments: BTreeMap<SubjectId, AssessmentRow>,
    credentials: BTreeMap<String, Credential>,
    /// As a witness: origin → (size, root, note) last cosigned.
    witnessed: BTreeMap<String, (u64, [u8; 32], String)>,
    /// Feeds: name → the next log index to publish.
    feed_cursors: BTreeMap<String, u64>,
    /// Watchlists by id.
    watchlists: BTreeMap<String, probity_store::Watchlist>,
    /// (watchlist, subject) → the position from which it is watched.
    watch_members: BTreeMap<(String, SubjectId), u64>,
    /// Answer changes; the one at position p is at index p - 1.
    answer_changes: Vec<probity_store::AnswerChange>,
    /// The subjects the append being executed concerns, with the latest such event.
    touched: HashMap<Row, u64>,
}

/// A failure to inject into writes, for simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The store is unreachable (a lost connection).
    Unavailable,
    /// The store fails (a full disk, a broken constraint).
    Failed,
}

/// A write that is to fail: after `writes` more writes succeed, the next fails with `fault`.
#[derive(Debug, Clone, Copy)]
struct Planned {
    writes: u64,
    fault: Fault,
}

/// The in-memory store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    shared: Arc<Mutex<Arc<State>>>,
    snapshot: RefCell<Option<Arc<State>>>,
    /// A write that is to fail, shared by every handle.
    fault: Arc<Mutex<Option<Planned>>>,
}

impl MemoryStore {
    /// A new, empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Another handle on the same state, as a second connection to one database.
    pub fn handle(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            snapshot: RefCell::new(None),
            fault: Arc::clone(&self.fault),
        }
    }

    /// What opens more handles on this store's state, from any thread: a registry's
    /// connector.
    pub fn opener(&self) -> impl Fn() -> Self + Send + Sync + 'static {
        let (shared, fault) = (Arc::clone(&self.shared), Arc::clone(&self.fault));
        move || Self {
            shared: Arc::clone(&shared),
            snapshot: RefCell::new(None),
            fault: Arc::clone(&fault),
        }
    }

    /// Makes a write (an append, or a store of assessments or credentials) on any handle fail
    /// with `fault` after `writes` more writes have succeeded; it fails whole, changing nothing.
    /// For simulating stores that fail or go away.
    pub fn fail_write(&self, writes: u64, fault: Fault) {
        *self.fault.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(Planned { writes, fault });
    }

    /// Clears a planned failure that has not happened yet.
    pub fn heal(&self) {
        *self.fault.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Counts a write, failing it if it is the one planned to fail.
    /// Makes one change to the state as one write.
    fn change<R>(&mut self, f: impl FnOnce(&mut State) -> R) -> Result<R, StoreError> {
        self.write()?;
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        let mut state = State::clone(&shared);
        let out = f(&mut state);
        *shared = Arc::new(state);
        Ok(out)
    }

    fn write(&self) -> Result<(), StoreError> {
        let mut planned = self.fault.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(p) = planned.as_mut() else { return Ok(()) };
        if p.writes > 0 {
            p.writes -= 1;
            return Ok(());
        }
        let fault = p.fault;
        *planned = None;
        Err(match fault {
            Fault::Unavailable => StoreError::Unavailable("an injected fault".into()),
            Fault::Failed => StoreError::Backend("an injected fault".into()),
        })
    }

    /// Up to `limit` subjects after `after`, in code order, for which `keep` holds.
    fn subjects_where(
        &self,
        after: Option<&SubjectId>,
        limit: usize,
        keep: impl Fn(&State, &SubjectRow) -> bool,
    ) -> Vec<SubjectId> {
        let state = self.state();
        let rows = state.subject_rows.iter().filter_map(|(id, &row)| {
            let s = state.subjects.get(row as usize)?;
            keep(&state, s).then_some((id, *id))
        });
        page(rows, after, limit)
    }

    /// The state a read sees: the snapshot's, or the latest.
    fn state(&self) -> Arc<State> {
        if let Some(s) = self.snapshot.borrow().as_ref() {
            return Arc::clone(s);
        }
        Arc::clone(&self.shared.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

fn corrupt(index: u64, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt { index, reason: reason.into() }
}

fn missing_row(what: &str, row: Row) -> StoreError {
    StoreError::Backend(format!("the memory store has no {what} at row {row}"))
}

impl State {
    fn event(&self, index: u64) -> Result<Event, StoreError> {
        let entry = self
            .journal
            .get(index as usize)
            .ok_or_else(|| corrupt(index, "no such journal entry"))?;
        Event::decode(&entry.body).map_err(|e| corrupt(index, e.to_string()))
    }

    fn subject_row(&self, row: Row) -> Result<&SubjectRow, StoreError> {
        self.subjects.get(row as usize).ok_or_else(|| missing_row("subject", row))
    }

    fn record_mut(&mut self, row: Row) -> Result<&mut RecordRow, StoreError> {
        self.records.get_mut(&row).ok_or_else(|| missing_row("record", row))
    }

    fn record_row(&self, key: &RecordKey) -> Option<(Row, &RecordRow)> {
        let k = (key.authority.to_string(), key.decision_no.clone());
        let row = *self.record_rows.get(&k)?;
        self.records.get(&row).map(|r| (row, r))
    }

    fn stored_record(&self, r: &RecordRow) -> Result<StoredRecord, StoreError> {
        let (record, _) = record_event(r.current, self.event(r.current)?)?;
        let recorded_at = self
            .journal
            .get(r.filed as usize)
            .map(|e| e.recorded_at)
            .ok_or_else(|| corrupt(r.filed, "no such journal entry"))?;
        Ok(StoredRecord {
            record,
            status: r.status,
            filed_index: r.filed,
            last_index: r.last,
            recorded_at,
            disputed: r.disputed,
            repaired: r.repaired,
        })
    }

    fn records_of(&self, subject: Row) -> impl Iterator<Item = &RecordRow> {
        let mut rows: Vec<&RecordRow> =
            self.records.values().filter(|r| r.subject == subject).collect();
        rows.sort_by_key(|r| r.filed);
        rows.into_iter()
    }

    fn standing(&self, id: &SubjectId) -> Option<SubjectStanding> {
        let row = *self.subject_rows.get(id)?;
        let s = self.subjects.get(row as usize)?;
        Some(SubjectStanding {
            established: s.established,
            records: self
                .records_of(row)
                .map(|r| RecordStanding {
                    filed_index: r.filed,
                    kind: r.kind.clone(),
                    effective: r.effective,
                    status: r.status,
                    repaired: r.repaired,
                })
                .collect(),
        })
    }
}

impl<'e> Executor<'e> for State {
    fn execute(&mut self, op: &Op<'e>) -> Result<(), StoreError> {
        match *op {
            Op::Journal { index, event } => {
                assert_eq!(index, self.journal.len() as u64, "the journal stays dense");
                self.journal.push(Entry {
                    recorded_at: event.event().recorded_at,
                    body: event.bytes().to_vec(),
                    withheld: None,
                });
                for (level, i, hash) in self.frontier.append(leaf_hash(event.leaf_data())) {
                    self.nodes.insert((level, i), hash);
                }
            }
            Op::AddSubject { subject, event } => self.add_subject(subject, event),
            Op::AddAuthority { authority, event } => self.add_authority(authority, event),
            Op::AddRecord { record, subject, event, .. } => {
                let row = self.next_record;
                self.next_record += 1;
                self.record_rows
                    .insert((record.authority.to_string(), record.decision_no.clone()), row);
                self.records.insert(
                    row,
                    RecordRow {
                        key: record.key(),
                        subject,
                        kind: record.kind.to_string(),
                        effective: record.effective,
                        status: RecordStatus::Filed,
                        filed: event,
                        current: event,
                        last: event,
                        disputed: false,
                        repaired: None,
                    },
                );
                self.history.insert(row, vec![event]);
            }
            Op::Correct { row, record, subject, event } => {
                let r = self.record_mut(row)?;
                r.subject = subject;
                r.kind = record.kind.to_string();
                r.effective = record.effective;
                r.status = RecordStatus::Corrected;
                r.current = event;
                r.last = event;
            }
            Op::Withdraw { row, event, .. } => {
                let r = self.record_mut(row)?;
                r.status = RecordStatus::Withdrawn;
                r.last = event;
            }
            Op::History { row, event } => self.history.entry(row).or_default().push(event),
            Op::Step { row, opens, closes, disputed, repaired, event } => {
                if let Some(kind) = opens {
                    self.cases.insert(event, CaseState { record: row, kind, closed: None });
                }
                if let Some(kind) = closes {
                    for case in self.cases.values_mut() {
                        if case.record == row && case.kind == kind && case.closed.is_none() {
                            case.closed = Some(event);
                        }
                    }
                }
                let r = self.record_mut(row)?;
                if let Some(d) = disputed {
                    r.disputed = d;
                }
                if let Some(on) = repaired {
                    r.repaired = Some(on);
                }
                r.last = event;
            }
            Op::Withhold { index } => {
                let entry = self
                    .journal
                    .get_mut(index as usize)
                    .ok_or_else(|| corrupt(index, "no such journal entry"))?;
                // An entry whose text was withheld before keeps the digest of its original body.
                if entry.withheld.is_none() {
                    entry.withheld = Some(probity_store::codec::body_digest(&entry.body));
                }
                entry.body.clear();
            }
            Op::WithholdText { index } => {
                let entry = self
                    .journal
                    .get_mut(index as usize)
                    .ok_or_else(|| corrupt(index, "no such journal entry"))?;
                if !entry.body.is_empty() {
                    if entry.withheld.is_none() {
                        entry.withheld = Some(probity_store::codec::body_digest(&entry.body));
                    }
                    entry.body = probity_store::codec::without_free_text(index, &entry.body)?;
                }
            }
            Op::Redact { row, key, .. } => {
                self.records.remove(&row);
                self.history.remove(&row);
                self.cases.retain(|_, c| c.record != row);
                let k = (key.authority.to_string(), key.decision_no.clone());
                self.record_rows.remove(&k);
                self.redacted.insert(k);
            }
            Op::AddRulebook { rulebook, version, event, .. } => {
                self.rulebooks.insert((rulebook.to_owned(), version.to_owned()), event);
                self.adoptions.push(event);
            }
            Op::AddException { code, event } => {
                self.exceptions.insert(code.to_owned(), event);
            }
            Op::AddPlan { plan, event, .. } => {
                self.plans.push(PlanRow { key: plan.key(), planned: event, drawn: None });
            }
            Op::Drawn { plan, event } => {
                let row =
                    self.plans.get_mut(plan as usize).ok_or_else(|| missing_row("plan", plan))?;
                row.drawn = Some(event);
            }
            Op::AddTarget { plan, subject, class, team } => {
                self.targets.insert((plan, subject), (class.to_owned(), team));
            }
            Op::Touch { subject, event } => {
                let at = self.touched.entry(subject).or_insert(event);
                *at = (*at).max(event);
            }
        }
        Ok(())
    }
}

impl State {
    fn add_subject(&mut self, subject: &Subject, event: u64) {
        let row = self.subjects.len() as Row;
        self.subjects.push(SubjectRow {
            id: subject.id,
            name: subject.name.clone(),
            established: subject.established,
            event,
            last_event: event,
        });
        self.subject_rows.insert(subject.id, row);
    }

    fn add_authority(&mut self, authority: &Authority, event: u64) {
        let row = self.authority_events.len() as Row;
        self.authority_events.push(event);
        self.authorities.insert(authority.id.to_string(), (row, event));
    }

    /// Sets the latest event of every subject the append concerned.
    fn put_touched(&mut self) {
        for (row, event) in std::mem::take(&mut self.touched) {
            if let Some(s) = self.subjects.get_mut(row as usize) {
                s.last_event = s.last_event.max(event);
            }
        }
    }
}

impl<'e> Lookups<'e> for State {
    fn subject(&mut self, id: &'e SubjectId) -> Result<Option<(Row, u64)>, StoreError> {
        let Some(&row) = self.subject_rows.get(id) else { return Ok(None) };
        Ok(Some((row, self.subject_row(row)?.event)))
    }

    fn authority(&mut self, code: &'e str) -> Result<Option<(Row, u64)>, StoreError> {
        Ok(self.authorities.get(code).copied())
    }

    fn record(&mut self, authority: &'e str, decision_no: &'e str) -> Result<KeyState, StoreError> {
        let k = (authority.to_owned(), decision_no.to_owned());
        if let Some(row) = self.record_rows.get(&k) {
            let r = self.records.get(row).ok_or_else(|| missing_row("record", *row))?;
            return Ok(KeyState::Taken {
                row: *row,
                filed: r.filed,
                status: r.status,
                subject: r.subject,
            });
        }
        Ok(if self.redacted.contains(&k) { KeyState::Redacted } else { KeyState::Free })
    }

    fn entry(&mut self, index: u64) -> Result<Event, StoreError> {
        self.event(index)
    }

    fn rulebook(&mut self, id: &'e str, version: &'e str) -> Result<Option<u64>, StoreError> {
        Ok(self.rulebooks.get(&(id.to_owned(), version.to_owned())).copied())
    }

    fn history(&mut self, record: Row) -> Result<Vec<u64>, StoreError> {
        Ok(self.history.get(&record).cloned().unwrap_or_default())
    }

    fn exception(&mut self, code: &'e str) -> Result<bool, StoreError> {
        Ok(self.exceptions.contains_key(code))
    }

    fn plan(
        &mut self,
        authority: &'e str,
        plan_no: &'e str,
    ) -> Result<Option<PlanState>, StoreError> {
        Ok(self
            .plans
            .iter()
            .enumerate()
            .find(|(_, p)| p.key.authority.as_str() == authority && p.key.plan_no == plan_no)
            .map(|(row, p)| PlanState { row: row as Row, planned: p.planned, drawn: p.drawn }))
    }

    fn target(&mut self, plan: Row, subject: Row) -> Result<bool, StoreError> {
        Ok(self.targets.contains_key(&(plan, subject)))
    }
}

/// The table and column names the memory store's model has, for the audit of what is stored.
const SCHEMA: &[(&str, &[&str])] = &[
    ("journal", &["idx", "recorded_at", "body", "withheld"]),
    ("log_nodes", &["level", "idx", "hash"]),
    ("subjects", &["id", "code", "name", "established", "event", "last_event"]),
    ("authorities", &["id", "code", "event"]),
    (
        "records",
        &[
            "id",
            "authority",
            "decision_no",
            "subject",
            "kind",
            "effective",
            "status",
            "filed_event",
            "current_event",
            "last_event",
            "disputed",
            "repaired",
        ],
    ),
    ("record_history", &["record", "event"]),
    ("cases", &["record", "kind", "opened", "closed"]),
    ("redacted_records", &["authority", "decision_no"]),
    ("rulebooks", &["rulebook", "version", "event"]),
    ("code_exceptions", &["code", "event"]),
    ("inspection_plans", &["id", "authority", "plan_no", "planned", "drawn"]),
    ("inspection_targets", &["plan", "subject", "class", "team"]),
    ("witnessed", &["origin", "size", "root", "note"]),
    ("feed_cursors", &["name", "next"]),
    (
        "watchlists",
        &[
            "id",
            "owner",
            "label",
            "measures",
            "created",
            "seen",
            "url",
            "secret",
            "delivered",
            "pending",
            "attempts",
            "next_attempt",
            "first_failure",
            "failing_since",
            "last_error",
            "last_success",
        ],
    ),
    ("watch_members", &["watchlist", "code", "since"]),
    ("answer_changes", &["position", "code", "log_size", "as_of", "cause", "before", "after"]),
    (
        "assessments",
        &[
            "subject",
            "as_of",
            "grade",
            "score",
            "decisions",
            "next_change",
            "rulebook",
            "version",
            "explanation",
            "log_size",
        ],
    ),
    ("list_entries", &["list", "code", "since", "until"]),
    (
        "credentials",
        &["key_id", "role", "principal", "secret_hash", "created", "expires", "revoked"],
    ),
];

/// The page of `items` (in order) after `after`, at most `limit` long.
fn page<K: Ord + Copy, T>(
    items: impl Iterator<Item = (K, T)>,
    after: Option<K>,
    limit: usize,
) -> Vec<T> {
    items.filter(|(k, _)| after.is_none_or(|a| *k > a)).take(limit).map(|(_, t)| t).collect()
}

impl Store for MemoryStore {
    fn append(&mut self, events: &[Encoded]) -> Result<Vec<Outcome>, StoreError> {
        self.write()?;
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        let mut state = State::clone(&shared);
        let outcomes = Planner::new(state.journal.len() as u64).apply(events, &mut state)?;
        state.put_touched();
        *shared = Arc::new(state);
        Ok(outcomes)
    }

    fn subject(&self, id: &SubjectId) -> Result<Option<StoredSubject>, StoreError> {
        let state = self.state();
        let Some(&row) = state.subject_rows.get(id) else { return Ok(None) };
        let s = state.subject_row(row)?;
        let event = state.event(s.event)?;
        match event.body {
            probity_core::EventBody::SubjectRegistered { subject } => Ok(Some(StoredSubject {
                subject,
                index: s.event,
                recorded_at: event.recorded_at,
                last_event: s.last_event,
            })),
            _ => Err(corrupt(s.event, "expected a subject event")),
        }
    }

    fn subject_columns(&self, id: &SubjectId) -> Result<Option<SubjectColumns>, StoreError> {
        let state = self.state();
        let Some(&row) = state.subject_rows.get(id) else { return Ok(None) };
        let s = state.subject_row(row)?;
        Ok(Some(SubjectColumns {
            name: s.name.clone(),
            established: s.established,
            event: s.event,
            last_event: s.last_event,
        }))
    }

    fn authorities(&self) -> Result<Vec<Authority>, StoreError> {
        let state = self.state();
        state
            .authorities
            .values()
            .map(|&(_, at)| match state.event(at)?.body {
                probity_core::EventBody::AuthorityRegistered { authority } => Ok(authority),
                _ => Err(corrupt(at, "expected an authority event")),
            })
            .collect()
    }

    fn record(&self, key: &RecordKey) -> Result<Option<StoredRecord>, StoreError> {
        let state = self.state();
        state.record_row(key).map(|(_, r)| state.stored_record(r)).transpose()
    }

    fn records_of(&self, id: &SubjectId) -> Result<Vec<StoredRecord>, StoreError> {
        let state = self.state();
        let Some(&row) = state.subject_rows.get(id) else { return Ok(Vec::new()) };
        state.records_of(row).map(|r| state.stored_record(r)).collect()
    }

    fn standing_of(&self, id: &SubjectId) -> Result<Option<SubjectStanding>, StoreError> {
        Ok(self.state().standing(id))
    }

    fn cases(
        &self,
        open_only: bool,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<CaseRow>, StoreError> {
        let state = self.state();
        let rows = state
            .cases
            .iter()
            .filter(|(_, c)| !open_only || c.closed.is_none())
            .map(|(&opened, c)| (opened, (opened, c)));
        page(rows, after, limit)
            .into_iter()
            .map(|(opened, c)| {
                let r =
                    state.records.get(&c.record).ok_or_else(|| missing_row("record", c.record))?;
                Ok(CaseRow { record: r.key.clone(), kind: c.kind, opened, closed: c.closed })
            })
            .collect()
    }

    fn record_history(&self, key: &RecordKey) -> Result<Vec<JournalEntry>, StoreError> {
        let state = self.state();
        let Some((row, _)) = state.record_row(key) else { return Ok(Vec::new()) };
        let events = state.history.get(&row).cloned().unwrap_or_default();
        events
            .into_iter()
            .map(|i| {
                let e = state.journal.get(i as usize).ok_or_else(|| corrupt(i, "no such entry"))?;
                Ok(JournalEntry { index: i, bytes: e.body.clone(), withheld: None })
            })
            .collect()
    }

    fn recorded_at(&self, index: u64) -> Result<Option<Timestamp>, StoreError> {
        Ok(self.state().journal.get(index as usize).map(|e| e.recorded_at))
    }

    fn code_exceptions(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.state().exceptions.keys().cloned().collect())
    }

    fn plans(&self) -> Result<Vec<PlanRow>, StoreError> {
        Ok(self.state().plans.clone())
    }

    fn inspections_of(&self, id: &SubjectId) -> Result<Vec<TargetRow>, StoreError> {
        let state = self.state();
        let Some(&subject) = state.subject_rows.get(id) else { return Ok(Vec::new()) };
        Ok(state
            .plans
            .iter()
            .enumerate()
            .filter_map(|(row, p)| {
                let (class, team) = state.targets.get(&(row as Row, subject))?;
                Some(TargetRow { plan: p.clone(), class: class.clone(), team: *team })
            })
            .collect())
    }

    fn plan_targets(&self, planned: u64) -> Result<Vec<(SubjectId, String, u32)>, StoreError> {
        let state = self.state();
        let Some(plan) = state.plans.iter().position(|p| p.planned == planned) else {
            return Ok(Vec::new());
        };
        let mut out = state
            .targets
            .iter()
            .filter(|((p, _), _)| *p == plan as Row)
            .map(|((_, subject), (class, team))| {
                Ok((state.subject_row(*subject)?.id, class.clone(), *team))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        out.sort();
        Ok(out)
    }

    fn adopted_rulebooks(&self) -> Result<Vec<(u64, String)>, StoreError> {
        let state = self.state();
        state
            .adoptions
            .iter()
            .map(|&at| match state.event(at)?.body {
                probity_core::EventBody::RulebookAdopted { text, .. } => Ok((at, text)),
                _ => Err(corrupt(at, "expected a rulebook adoption")),
            })
            .collect()
    }

    fn subject_ids(
        &self,
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<Vec<SubjectId>, StoreError> {
        Ok(self.subjects_where(after, limit, |_, _| true))
    }

    fn counts(&self) -> Result<Counts, StoreError> {
        let state = self.state();
        Ok(Counts {
            subjects: state.subjects.len() as u64,
            authorities: state.authorities.len() as u64,
            records: state.records.len() as u64,
            events: state.journal.len() as u64,
            code_exceptions: state.exceptions.len() as u64,
        })
    }

    fn log_size(&self) -> Result<u64, StoreError> {
        Ok(self.state().journal.len() as u64)
    }

    fn journal(&self, from: u64, limit: usize) -> Result<Vec<JournalEntry>, StoreError> {
        let state = self.state();
        Ok(state
            .journal
            .iter()
            .enumerate()
            .skip(from as usize)
            .take(limit)
            .map(|(i, e)| JournalEntry {
                index: i as u64,
                bytes: e.body.clone(),
                withheld: e.withheld,
            })
            .collect())
    }

    fn log_node(&self, level: u8, index: u64) -> Result<[u8; 32], StoreError> {
        self.state().nodes.get(&(level, index)).copied().ok_or_else(|| {
            StoreError::Backend(format!("the log has no node at level {level}, index {index}"))
        })
    }

    fn put_assessments(
        &mut self,
        rows: &[AssessmentRow],
        changes: &[probity_store::AnswerChange],
    ) -> Result<(), StoreError> {
        self.write()?;
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        let mut state = State::clone(&shared);
        // Each change as seen from the answer stored now, before the rows replace it.
        let changes: Vec<probity_store::AnswerChange> = changes
            .iter()
            .filter_map(|c| {
                c.from_stored(state.assessments.get(&c.subject).map(probity_store::Answer::of))
            })
            .collect();
        let mut stored = HashSet::new();
        for r in rows {
            if !state.subject_rows.contains_key(&r.subject) {
                continue;
            }
            if let Some(stored) = state.assessments.get(&r.subject)
                && (r.log_size < stored.log_size || stored == r)
            {
                continue;
            }
            // One entry per list, the last given, in list order: as a table keyed by list and
            // subject keeps them.
            let mut lists: BTreeMap<String, ListEntry> = BTreeMap::new();
            for e in &r.lists {
                lists.insert(e.list.clone(), e.clone());
            }
            let row = AssessmentRow { lists: lists.into_values().collect(), ..r.clone() };
            state.assessments.insert(r.subject, row);
            stored.insert(r.subject);
        }
        for c in changes.iter().filter(|c| stored.contains(&c.subject)) {
            let position = state.answer_changes.len() as u64 + 1;
            state.answer_changes.push(probity_store::AnswerChange { position, ..c.clone() });
        }
        *shared = Arc::new(state);
        Ok(())
    }

    fn watched_among(&self, ids: &[SubjectId]) -> Result<Vec<SubjectId>, StoreError> {
        let state = self.state();
        let watched: HashSet<&SubjectId> = state.watch_members.keys().map(|(_, s)| s).collect();
        Ok(ids.iter().filter(|id| watched.contains(id)).copied().collect())
    }

    fn put_watchlist(&mut self, w: &probity_store::Watchlist) -> Result<(), StoreError> {
        self.change(|state| {
            state.watchlists.insert(w.id.clone(), w.clone());
        })
    }

    fn drop_watchlist(&mut self, id: &str) -> Result<bool, StoreError> {
        self.change(|state| {
            state.watch_members.retain(|(list, _), _| list != id);
            state.watchlists.remove(id).is_some()
        })
    }

    fn watchlist(&self, id: &str) -> Result<Option<probity_store::Watchlist>, StoreError> {
        Ok(self.state().watchlists.get(id).cloned())
    }

    fn watchlists(&self, owner: Option<&str>) -> Result<Vec<probity_store::Watchlist>, StoreError> {
        Ok(self
            .state()
            .watchlists
            .values()
            .filter(|w| owner.is_none_or(|o| w.owner == o))
            .cloned()
            .collect())
    }

    fn set_delivery(
        &mut self,
        id: &str,
        url: &str,
        d: &probity_store::Delivery,
    ) -> Result<bool, StoreError> {
        self.change(|state| match state.watchlists.get_mut(id).and_then(|w| w.webhook.as_mut()) {
            Some(h) if h.url == url => {
                h.delivery = d.clone();
                true
            }
            _ => false,
        })
    }

    fn watch(&mut self, id: &str, ids: &[SubjectId]) -> Result<u64, StoreError> {
        self.change(|state| {
            let since = state.answer_changes.len() as u64;
            let mut added = 0;
            for s in ids {
                if let std::collections::btree_map::Entry::Vacant(e) =
                    state.watch_members.entry((id.to_owned(), *s))
                {
                    e.insert(since);
                    added += 1;
                }
            }
            added
        })
    }

    fn unwatch(&mut self, id: &str, ids: &[SubjectId]) -> Result<u64, StoreError> {
        self.change(|state| {
            ids.iter()
                .filter(|s| state.watch_members.remove(&(id.to_owned(), **s)).is_some())
                .count() as u64
        })
    }

    fn watch_count(&self, id: &str) -> Result<u64, StoreError> {
        Ok(self.state().watch_members.keys().filter(|(list, _)| list == id).count() as u64)
    }

    fn watched(
        &self,
        id: &str,
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<Vec<SubjectId>, StoreError> {
        Ok(self
            .state()
            .watch_members
            .keys()
            .filter(|(list, s)| list == id && after.is_none_or(|a| s.as_str() > a.as_str()))
            .map(|(_, s)| *s)
            .take(limit)
            .collect())
    }

    fn watched_changes(
        &self,
        id: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<probity_store::AnswerChange>, StoreError> {
        let state = self.state();
        Ok(state
            .answer_changes
            .iter()
            .skip(after as usize)
            .filter(|c| {
                state
                    .watch_members
                    .get(&(id.to_owned(), c.subject))
                    .is_some_and(|since| c.position > *since)
            })
            .take(limit)
            .cloned()
            .collect())
    }

    fn last_change(&self) -> Result<u64, StoreError> {
        Ok(self.state().answer_changes.len() as u64)
    }

    fn settle(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    fn assessment(&self, id: &SubjectId) -> Result<Option<AssessmentRow>, StoreError> {
        let state = self.state();
        Ok(state.assessments.get(id).cloned())
    }

    fn reads_in_place(&self) -> bool {
        true
    }

    fn answer_row(&self, id: &SubjectId) -> Result<Option<probity_store::AnswerRow>, StoreError> {
        let state = self.state();
        let (Some(&row), Some(a)) = (state.subject_rows.get(id), state.assessments.get(id)) else {
            return Ok(None);
        };
        let s = state.subject_row(row)?;
        Ok(Some(probity_store::AnswerRow {
            name: s.name.clone(),
            last_event: s.last_event,
            as_of: a.as_of,
            next_change: a.next_change,
            rulebook: a.rulebook.clone(),
            version: a.version.clone(),
            rated_at_size: a.log_size,
            score: a.score,
            grade: a.grade.clone(),
            answers: a.answers.clone().into_bytes(),
            log_size: state.journal.len() as u64,
        }))
    }

    fn list_entries(&self, q: ListQuery<'_>) -> Result<Vec<(SubjectId, ListEntry)>, StoreError> {
        let ListQuery { list, on, after, limit } = q;
        let state = self.state();
        let entries = state.assessments.iter().filter_map(|(id, a)| {
            let e = a.lists.iter().find(|e| e.list == list)?;
            e.until.is_none_or(|u| u > on).then(|| (id, (*id, e.clone())))
        });
        Ok(page(entries, after, limit))
    }

    fn statistics(&self) -> Result<probity_store::Statistics, StoreError> {
        let state = self.state();
        let mut grades: BTreeMap<Option<String>, u64> = BTreeMap::new();
        for a in state.assessments.values() {
            *grades.entry(a.grade.clone()).or_default() += 1;
        }
        let mut by_month: BTreeMap<(String, u32), u64> = BTreeMap::new();
        for r in state.records.values().filter(|r| r.status != RecordStatus::Withdrawn) {
            let month = probity_store::codec::date_key(r.effective) / 100;
            *by_month.entry((r.key.authority.to_string(), month as u32)).or_default() += 1;
        }
        let month = |d: Option<Date>| d.map(|d| (probity_store::codec::date_key(d) / 100) as u32);
        // By list, month joined and month left; an open entry (no end) sorts last, as NULLS
        // LAST does.
        type Joined = (String, Option<u32>, (bool, Option<u32>));
        let mut lists: BTreeMap<Joined, u64> = BTreeMap::new();
        for a in state.assessments.values() {
            for e in &a.lists {
                let left = (e.until.is_none(), month(e.until));
                *lists.entry((e.list.clone(), month(e.since), left)).or_default() += 1;
            }
        }
        Ok(probity_store::Statistics {
            grades: grades.into_iter().collect(),
            records_by_month: by_month.into_iter().map(|((a, m), n)| (a, m, n)).collect(),
            list_entries: lists.into_iter().map(|((l, j, (_, left)), n)| (l, j, left, n)).collect(),
        })
    }

    fn search_subjects(
        &self,
        q: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<SubjectId>, StoreError> {
        let upper = q.to_uppercase();
        let state = self.state();
        let mut hits: Vec<(u8, usize, &str, &str)> = state
            .subjects
            .iter()
            .filter_map(|s| {
                let rank = if s.id.as_str() == upper || s.name == q {
                    0
                } else if s.name.starts_with(q) {
                    1
                } else if s.name.find(q).is_some_and(|at| at > 0) {
                    2
                } else {
                    return None;
                };
                Some((rank, s.name.chars().count(), s.name.as_str(), s.id.as_str()))
            })
            .collect();
        hits.sort_unstable();
        hits.into_iter()
            .skip(offset)
            .take(limit)
            .map(|(_, _, _, code)| probity_store::codec::stored_subject_id(code))
            .collect()
    }

    fn due_for_rating(
        &self,
        on: Date,
        (rulebook, version): (&str, &str),
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<Vec<SubjectId>, StoreError> {
        Ok(self.subjects_where(after, limit, |state, s| match state.assessments.get(&s.id) {
            None => true,
            Some(a) => {
                a.next_change.is_some_and(|n| n <= on)
                    || a.log_size <= s.last_event
                    || a.rulebook != rulebook
                    || a.version != version
            }
        }))
    }

    fn stale_subjects(
        &self,
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<Vec<SubjectId>, StoreError> {
        Ok(self.subjects_where(after, limit, |state, s| {
            s.last_event > s.event
                && state.assessments.get(&s.id).is_none_or(|a| a.log_size <= s.last_event)
        }))
    }

    fn put_credential(&mut self, c: &Credential) -> Result<(), StoreError> {
        self.change(|state| {
            if state.credentials.contains_key(&c.key_id) {
                return Err(StoreError::Backend(format!("key id `{}` is taken", c.key_id)));
            }
            state.credentials.insert(c.key_id.clone(), c.clone());
            Ok(())
        })?
    }

    fn credential(&self, key_id: &str) -> Result<Option<Credential>, StoreError> {
        Ok(self.state().credentials.get(key_id).cloned())
    }

    fn revoke_credentials(
        &mut self,
        role: Role,
        principal: &str,
        at: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        let mut state = State::clone(&shared);
        let mut n = 0;
        for c in state.credentials.values_mut() {
            if c.role == role && c.principal == principal && c.revoked.is_none() {
                c.revoked = Some(at);
                n += 1;
            }
        }
        *shared = Arc::new(state);
        Ok(n)
    }

    fn witnessed(&self, origin: &str) -> Result<Option<(u64, [u8; 32])>, StoreError> {
        Ok(self.state().witnessed.get(origin).map(|(size, root, _)| (*size, *root)))
    }

    fn advance_witnessed(
        &mut self,
        origin: &str,
        expected: Option<(u64, [u8; 32])>,
        size: u64,
        root: &[u8; 32],
        note: &str,
    ) -> Result<bool, StoreError> {
        self.change(|state| {
            let now = state.witnessed.get(origin).map(|(size, root, _)| (*size, *root));
            if now != expected {
                return false;
            }
            state.witnessed.insert(origin.to_owned(), (size, *root, note.to_owned()));
            true
        })
    }

    fn feed_cursor(&self, name: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.state().feed_cursors.get(name).copied())
    }

    fn set_feed_cursor(&mut self, name: &str, next: u64) -> Result<(), StoreError> {
        self.change(|state| {
            state.feed_cursors.insert(name.to_owned(), next);
        })
    }

    fn schema(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(SCHEMA
            .iter()
            .flat_map(|(t, cols)| cols.iter().map(|c| ((*t).to_owned(), (*c).to_owned())))
            .collect())
    }

    fn begin_snapshot(&self) -> Result<(), StoreError> {
        let now = Arc::clone(&self.shared.lock().unwrap_or_else(PoisonError::into_inner));
        *self.snapshot.borrow_mut() = Some(now);
        Ok(())
    }

    fn end_snapshot(&self) -> Result<(), StoreError> {
        *self.snapshot.borrow_mut() = None;
        Ok(())
    }
}
