//! Replaying a journal: the state the engine needs, folded from the log's events alone.
//!
//! A registry keeps projections of its journal in tables and rates subjects from them. An
//! auditor holding only the events rebuilds, with [`Replay`], the subjects, records and
//! rulebooks those tables should hold, and recomputes any assessment. Nothing here reads a
//! registry's tables, so a projection changed behind the registry's back cannot hide.
//!
//! [`Rulebooks`] is the one rule for which adopted rulebook is in force on a date; the
//! registry and the replay both use it.

use std::collections::{BTreeMap, HashMap};

use probity_core::{
    Date, Event, EventBody, InspectionDraw, InspectionPlan, PlanKey, RecordKey, Step, SubjectId,
    SubjectKind, SubjectStatus, date_of,
};

use crate::inspection::{Candidate, Population};
use crate::{Assessment, RecordInput, RecordState, Rulebook, SubjectInput, assess};

/// The rulebooks a registry adopted, in adoption order, each with the log index of its adoption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rulebooks {
    first: Rulebook,
    later: Vec<(u64, Rulebook)>,
}

impl Rulebooks {
    /// The rulebook the registry started under (log entry 0).
    pub fn new(first: Rulebook) -> Self {
        Self { first, later: Vec::new() }
    }

    /// Records the adoption of `book` at log index `index`.
    pub fn adopt(&mut self, index: u64, book: Rulebook) {
        self.later.push((index, book));
    }

    /// The rulebook in force on `date`: of those effective by then, the one adopted last;
    /// before any is effective, the first adopted.
    pub fn in_force(&self, date: Date) -> &Rulebook {
        self.known_at(date, u64::MAX)
    }

    /// The rulebook in force on `date` among those adopted within the first `size` log entries.
    pub fn known_at(&self, date: Date, size: u64) -> &Rulebook {
        let known = || {
            std::iter::once(&self.first)
                .chain(self.later.iter().filter(|(i, _)| *i < size).map(|(_, b)| b))
        };
        known()
            .rfind(|b| b.header.effective <= date)
            .or_else(|| known().min_by_key(|b| b.header.effective))
            .unwrap_or(&self.first)
    }

    /// Every rulebook adopted, in adoption order.
    pub fn iter(&self) -> impl Iterator<Item = &Rulebook> {
        std::iter::once(&self.first).chain(self.later.iter().map(|(_, b)| b))
    }

    /// The adopted rulebook with this id and version.
    pub fn version(&self, id: &str, version: &str) -> Option<&Rulebook> {
        self.iter().find(|b| b.header.id.as_str() == id && b.header.version == version)
    }
}

/// An event the replay cannot fold: the log is not one a registry could have written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry {index}: {problem}")]
pub struct ReplayError {
    /// The log index of the event.
    pub index: u64,
    /// What is wrong with it.
    pub problem: String,
}

/// A record as the journal leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayedRecord {
    /// Log index of its filing.
    pub filed: u64,
    /// Its subject (as last corrected).
    pub subject: SubjectId,
    /// Its kind (as last corrected).
    pub kind: String,
    /// When it took effect (as last corrected).
    pub effective: Date,
    /// Whether its authority corrected it.
    pub corrected: bool,
    /// Whether its authority withdrew it (final: a withdrawn record is never corrected).
    pub withdrawn: bool,
    /// The day a repair was granted, if one was.
    pub repaired: Option<Date>,
    /// Whether an objection to it is open.
    pub disputed: bool,
}

impl ReplayedRecord {
    fn input(&self) -> RecordInput {
        RecordInput {
            id: self.filed,
            kind: self.kind.clone(),
            effective: self.effective,
            state: match (self.withdrawn, self.repaired) {
                (true, _) => RecordState::Withdrawn,
                (false, Some(on)) => RecordState::Repaired(on),
                (false, None) => RecordState::InForce,
            },
        }
    }
}

/// What the journal says of a subject besides what the engine reads: what the registry's tables
/// keep of it, for an audit to compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayedSubject {
    /// The name it was registered under.
    pub name: String,
    /// The journal index of its registration.
    pub registered: u64,
    /// The journal index of the latest event about it: its registration, or a filing,
    /// correction (of either subject, when it moves the record), withdrawal, due-process step
    /// or redaction of one of its records.
    pub last_event: u64,
    /// Its kind of entity, as registered.
    pub kind: SubjectKind,
    /// Its region of registration, as registered.
    pub region: Option<String>,
    /// Its status, as registered.
    pub status: SubjectStatus,
}

/// An inspection plan as the journal leaves it, with its draw once there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayedPlan {
    /// The journal index of the plan.
    pub index: u64,
    /// The RFC 6962 leaf hash of the plan's entry: the draw's seed starts from it.
    pub leaf_hash: [u8; 32],
    /// The plan.
    pub plan: InspectionPlan,
    /// The population, by class, as the log stood just before the plan; emptied once drawn.
    pub population: Population,
    /// The journal index of the draw and the draw, once drawn (and found to be exactly the
    /// draw the plan, the population and the beacon round give).
    pub draw: Option<(u64, InspectionDraw)>,
    /// The subjects the draw selected.
    pub selected: std::collections::BTreeSet<SubjectId>,
}

/// An objection or repair application as the journal leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayedCase {
    /// The record it is about.
    pub record: RecordKey,
    /// Objection or repair.
    pub kind: probity_core::CaseKind,
    /// The journal index of the step that opened it.
    pub opened: u64,
    /// The journal index of the step that closed it, if one has.
    pub closed: Option<u64>,
}

/// The state of a registry folded from its journal, event by event, in log order.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    rulebooks: Option<Rulebooks>,
    size: u64,
    subjects: BTreeMap<SubjectId, SubjectInput>,
    /// What the registry's tables keep of each subject besides what the engine reads.
    details: HashMap<SubjectId, ReplayedSubject>,
    /// The codes admitted to the exception list.
    exceptions: std::collections::BTreeSet<String>,
    /// Objections and repair applications, in the order they were opened.
    cases: Vec<ReplayedCase>,
    records: HashMap<RecordKey, ReplayedRecord>,
    by_subject: HashMap<SubjectId, Vec<RecordKey>>,
    plans: BTreeMap<PlanKey, ReplayedPlan>,
}

impl Replay {
    /// An empty replay, before entry 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds the event at log index `index`. Events must come in log order, without gaps.
    pub fn apply(&mut self, index: u64, event: &Event) -> Result<(), ReplayError> {
        let fail = |problem: String| Err(ReplayError { index, problem });
        if index != self.size {
            return fail(format!("expected entry {} next", self.size));
        }
        self.size += 1;
        match &event.body {
            EventBody::RulebookAdopted { text, .. } => {
                let book = match Rulebook::parse(text) {
                    Ok(b) => b,
                    Err(e) => return fail(format!("the adopted rulebook does not parse: {e}")),
                };
                match &mut self.rulebooks {
                    Some(books) => books.adopt(index, book),
                    None => self.rulebooks = Some(Rulebooks::new(book)),
                }
            }
            EventBody::SubjectRegistered { subject } => {
                let input = SubjectInput { established: subject.established };
                if self.subjects.insert(subject.id, input).is_some() {
                    return fail(format!("subject {} is registered twice", subject.id));
                }
                let details = ReplayedSubject {
                    name: subject.name.clone(),
                    registered: index,
                    last_event: index,
                    kind: subject.kind,
                    region: subject.region.map(|r| r.as_str().to_owned()),
                    status: subject.status,
                };
                self.details.insert(subject.id, details);
            }
            EventBody::RecordFiled { record } => {
                let key = record.key();
                if let Some(problem) = self.outcome_problem(record) {
                    return fail(problem);
                }
                if self.records.contains_key(&key) {
                    return fail(format!("record {key} is filed twice"));
                }
                if !self.subjects.contains_key(&record.subject) {
                    return fail(format!(
                        "record {key} names unregistered subject {}",
                        record.subject
                    ));
                }
                self.by_subject.entry(record.subject).or_default().push(key.clone());
                self.touch(record.subject, index);
                self.records.insert(
                    key,
                    ReplayedRecord {
                        filed: index,
                        subject: record.subject,
                        kind: record.kind.to_string(),
                        effective: record.effective,
                        corrected: false,
                        withdrawn: false,
                        repaired: None,
                        disputed: false,
                    },
                );
            }
            EventBody::RecordCorrected { record, .. } => {
                let key = record.key();
                if let Some(problem) = self.outcome_problem(record) {
                    return fail(problem);
                }
                if !self.subjects.contains_key(&record.subject) {
                    return fail(format!(
                        "record {key} names unregistered subject {}",
                        record.subject
                    ));
                }
                let Some(r) = self.records.get_mut(&key) else {
                    return fail(format!("record {key} is corrected but was never filed"));
                };
                if r.withdrawn {
                    return fail(format!("record {key} is corrected after its withdrawal"));
                }
                r.corrected = true;
                let before = r.subject;
                let moved_from = (r.subject != record.subject).then_some(r.subject);
                r.subject = record.subject;
                r.kind = record.kind.to_string();
                r.effective = record.effective;
                if let Some(old) = moved_from {
                    if let Some(keys) = self.by_subject.get_mut(&old) {
                        keys.retain(|k| *k != key);
                    }
                    self.by_subject.entry(record.subject).or_default().push(key);
                }
                self.touch(before, index);
                self.touch(record.subject, index);
            }
            EventBody::RecordWithdrawn { key, .. } => match self.records.get_mut(key) {
                Some(r) => {
                    r.withdrawn = true;
                    let subject = r.subject;
                    self.touch(subject, index);
                }
                None => return fail(format!("record {key} is withdrawn but was never filed")),
            },
            EventBody::ProcessStep { record, step } => {
                let Some(r) = self.records.get_mut(record) else {
                    return fail(format!("a step about record {record}, which was never filed"));
                };
                if let Step::RepairDecided { granted: true, .. } = step {
                    r.repaired = Some(date_of(event.recorded_at));
                }
                match (step.opens(), step.closes()) {
                    (Some(probity_core::CaseKind::Objection), _) => r.disputed = true,
                    (_, Some(probity_core::CaseKind::Objection)) => r.disputed = false,
                    _ => {}
                }
                let subject = r.subject;
                self.touch(subject, index);
                if let Some(kind) = step.opens() {
                    self.cases.push(ReplayedCase {
                        record: record.clone(),
                        kind,
                        opened: index,
                        closed: None,
                    });
                }
                if let Some(kind) = step.closes()
                    && let Some(case) = self
                        .cases
                        .iter_mut()
                        .rfind(|c| c.record == *record && c.kind == kind && c.closed.is_none())
                {
                    case.closed = Some(index);
                }
            }
            EventBody::RecordRedacted { key, .. } => {
                // A replay that saw the record's bodies (a mirror that kept them) forgets it
                // now; one that did not never held it.
                if let Some(r) = self.records.remove(key) {
                    if let Some(keys) = self.by_subject.get_mut(&r.subject) {
                        keys.retain(|k| k != key);
                    }
                    self.touch(r.subject, index);
                }
                self.cases.retain(|c| c.record != *key);
            }
            EventBody::RecordTextWithheld { key, .. } => {
                // Only the published text changed; the record counts as before.
                if let Some(subject) = self.records.get(key).map(|r| r.subject) {
                    self.touch(subject, index);
                }
            }
            EventBody::CodeExceptionAdmitted { code, .. } => {
                self.exceptions.insert(code.clone());
            }
            EventBody::InspectionPlanned { plan } => {
                let key = plan.key();
                if self.plans.contains_key(&key) {
                    return fail(format!("inspection plan {key} is filed twice"));
                }
                let population = match self.population(plan, event.recorded_at) {
                    Ok(p) => p,
                    Err(problem) => return fail(problem),
                };
                let leaf_hash = crate::inspection::leaf_hash(&event.encode());
                self.plans.insert(
                    key,
                    ReplayedPlan {
                        index,
                        leaf_hash,
                        plan: plan.clone(),
                        population,
                        draw: None,
                        selected: std::collections::BTreeSet::new(),
                    },
                );
            }
            EventBody::InspectionDrawn { draw } => {
                let Some(p) = self.plans.get_mut(&draw.plan) else {
                    return fail(format!("a draw of inspection plan {}, never filed", draw.plan));
                };
                if let Some((at, _)) = &p.draw {
                    return fail(format!(
                        "inspection plan {} is drawn twice (first at {at})",
                        draw.plan
                    ));
                }
                let again = crate::inspection::draw(
                    &p.plan,
                    &p.leaf_hash,
                    &p.population,
                    draw.round,
                    &draw.signature,
                );
                match again {
                    Err(e) => return fail(format!("the draw of plan {}: {e}", draw.plan)),
                    Ok(again) if again != *draw => {
                        return fail(format!(
                            "the draw of plan {} is not the one its plan, population and beacon \
                             round give: {}",
                            draw.plan,
                            crate::inspection::difference(&again, draw)
                        ));
                    }
                    Ok(_) => {}
                }
                p.population = Population::new();
                p.selected = draw.selected.iter().map(|t| t.subject).collect();
                p.draw = Some((index, draw.clone()));
            }
            EventBody::AuthorityRegistered { .. } => {}
        }
        Ok(())
    }

    /// The population of `plan`, recorded at `recorded_at`, as the replay stands: every active
    /// subject in scope, by the risk class of its grade on that day under the rulebook then in
    /// force, which the plan must keep to (and its beacon round must come after it).
    fn population(
        &self,
        plan: &InspectionPlan,
        recorded_at: probity_core::Timestamp,
    ) -> Result<Population, String> {
        let date = date_of(recorded_at);
        let Some(books) = &self.rulebooks else {
            return Err("an inspection plan before any rulebook".into());
        };
        let book = books.known_at(date, self.size);
        let Some(section) = book.inspection() else {
            return Err(format!(
                "inspection plan {}: rulebook {} {} has no [inspection] section",
                plan.key(),
                book.header.id,
                book.header.version
            ));
        };
        section.check_plan(plan, recorded_at).map_err(|e| e.to_string())?;
        let candidates: Vec<Candidate> = self
            .details
            .iter()
            .filter(|(_, d)| {
                d.status == SubjectStatus::Active && plan.scope.holds(d.kind, d.region.as_deref())
            })
            .map(|(id, d)| Candidate {
                subject: *id,
                kind: d.kind,
                region: d.region.clone(),
                grade: self.assess(id, book, date).and_then(|a| a.grade),
            })
            .collect();
        Ok(crate::inspection::population(section, plan, &candidates))
    }

    /// What is wrong with a record that names an inspection plan, if anything: the plan must be
    /// its authority's and drawn, and its draw must have selected the record's subject.
    fn outcome_problem(&self, record: &probity_core::Record) -> Option<String> {
        let plan_no = record.inspection_plan.as_ref()?;
        let key = PlanKey { authority: record.authority.clone(), plan_no: plan_no.clone() };
        let key_text = key.to_string();
        match self.plans.get(&key) {
            None => Some(format!(
                "record {} names inspection plan {key_text}, never filed",
                record.key()
            )),
            Some(p) if p.draw.is_none() => {
                Some(format!("record {} is an outcome of plan {key_text}, not drawn", record.key()))
            }
            Some(p) if !p.selected.contains(&record.subject) => Some(format!(
                "record {} is an outcome of plan {key_text}, whose draw did not select {}",
                record.key(),
                record.subject
            )),
            Some(_) => None,
        }
    }

    /// Every inspection plan, by key, with its draw once drawn.
    pub fn plans(&self) -> impl Iterator<Item = &ReplayedPlan> {
        self.plans.values()
    }

    /// One inspection plan.
    pub fn plan(&self, key: &PlanKey) -> Option<&ReplayedPlan> {
        self.plans.get(key)
    }

    /// Notes that the entry at `index` concerns `subject`.
    fn touch(&mut self, subject: SubjectId, index: u64) {
        if let Some(d) = self.details.get_mut(&subject) {
            d.last_event = d.last_event.max(index);
        }
    }

    /// Passes over the entry at `index`, whose body was withheld from publication (a redacted
    /// record's entry): its leaf is still in the log, its content is not.
    pub fn withheld(&mut self, index: u64) -> Result<(), ReplayError> {
        if index != self.size {
            return Err(ReplayError {
                index,
                problem: format!("expected entry {} next", self.size),
            });
        }
        self.size += 1;
        Ok(())
    }

    /// Entries folded so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The rulebooks adopted so far; `None` before entry 0.
    pub fn rulebooks(&self) -> Option<&Rulebooks> {
        self.rulebooks.as_ref()
    }

    /// Every subject registered, in code order.
    pub fn subjects(&self) -> impl Iterator<Item = &SubjectId> {
        self.subjects.keys()
    }

    /// Whether this subject was registered.
    pub fn holds(&self, id: &SubjectId) -> bool {
        self.subjects.contains_key(id)
    }

    /// What the journal says of a registered subject besides what the engine reads. Its
    /// `last_event` counts the entries whose bodies the replay saw: a redacted record's entries
    /// are withheld, so a store that saw them may hold a later one.
    pub fn subject(&self, id: &SubjectId) -> Option<&ReplayedSubject> {
        self.details.get(id)
    }

    /// The date of establishment of a registered subject, as registered.
    pub fn established(&self, id: &SubjectId) -> Option<Option<Date>> {
        self.subjects.get(id).map(|s| s.established)
    }

    /// The records of a subject as the journal leaves them, in filing order.
    pub fn records_of(&self, id: &SubjectId) -> Vec<&ReplayedRecord> {
        let mut out: Vec<_> = self
            .by_subject
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|k| self.records.get(k))
            .collect();
        out.sort_by_key(|r| r.filed);
        out
    }

    /// The codes on the exception list, in order.
    pub fn exceptions(&self) -> impl Iterator<Item = &str> {
        self.exceptions.iter().map(String::as_str)
    }

    /// Every objection and repair application of a record not redacted, in opening order.
    pub fn cases(&self) -> &[ReplayedCase] {
        &self.cases
    }

    /// A record as the journal leaves it.
    pub fn record(&self, key: &RecordKey) -> Option<&ReplayedRecord> {
        self.records.get(key)
    }

    /// Every record, in no particular order.
    pub fn records(&self) -> impl Iterator<Item = (&RecordKey, &ReplayedRecord)> {
        self.records.iter()
    }

    /// The assessment of a registered subject on `as_of` under `book`, from every record the
    /// journal holds about it.
    pub fn assess(&self, id: &SubjectId, book: &Rulebook, as_of: Date) -> Option<Assessment> {
        let subject = self.subjects.get(id)?;
        let records: Vec<RecordInput> = self
            .by_subject
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|k| self.records.get(k))
            .map(ReplayedRecord::input)
            .collect();
        Some(assess(book, subject, &records, as_of))
    }
}
