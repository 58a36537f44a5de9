//! Deterministic simulation of a registry, in the manner of FoundationDB's simulator: a seeded
//! generator drives long random sequences of everything a registry does (filings one by one and
//! in batches, corrections, withdrawals, every due-process step, rulebook adoptions, redactions,
//! withheld texts,
//! the calendar moving, rating sweeps) and injects faults (a writer killed between appending and
//! rating, a second writer on the same registry, stores that fail or go away). After every step
//! it checks the invariants: the log is dense, the audit is clean, every acknowledged filing is
//! there, and every answer the registry serves is the one computed from the log alone. The same
//! seed run on the in-memory store and on SQLite must reach the same log root and answers.
//!
//! A failing seed prints how to replay it: `PROBITY_SIM_SEED=<seed> cargo test -p
//! probity-registry --test simulation` (and `PROBITY_SIM_STEPS=<n>` for a longer run).

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use probity_stores::Stores as _;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use probity_core::{
    Event, EventBody, ObjectionOutcome, RecordKey, Slug, Step, SubjectId, Timestamp,
};
use probity_memory::{Fault, MemoryStore};
use probity_registry::{Actor, Clock, Connector, Format, ImportOptions, Registry, Table};

/// SplitMix64: small, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len() as u64) as usize)
    }
}

/// The simulation's clock, moved by the simulation only.
#[derive(Clone)]
struct SimClock(Arc<Mutex<Timestamp>>);

impl Clock for SimClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

impl SimClock {
    fn advance(&self, seconds: i64) {
        let mut t = self.0.lock().unwrap();
        *t = t.checked_add(jiff::SignedDuration::from_secs(seconds)).unwrap();
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Backend {
    Memory,
    Sqlite,
}

const KINDS: &[&str] = &[
    "penalty.minor",
    "penalty.moderate",
    "penalty.serious",
    "registration.abnormal",
    "award.quality",
];
const MEASURES: &[&str] = &["procurement.bid", "subsidy.grant"];

/// What a step does, and how often: weights out of their sum, each with what it runs (which
/// says what it did).
type Run = fn(&mut World) -> &'static str;
const STEPS: &[(u64, Run)] = &[
    (25, |w| {
        w.file(1);
        "file one"
    }),
    (8, |w| {
        let n = 2 + w.rng.below(10) as usize;
        w.file(n);
        "file a batch"
    }),
    (6, |w| {
        w.correct();
        "correct"
    }),
    (4, |w| {
        w.withdraw();
        "withdraw"
    }),
    (12, |w| {
        w.due_process();
        "due process"
    }),
    (1, |w| {
        w.adopt_rulebook();
        "adopt a rulebook"
    }),
    (3, |w| {
        w.redact();
        "redact"
    }),
    (2, |w| {
        w.withhold_text();
        "withhold a record's text"
    }),
    (10, |w| {
        w.clock.advance(86_400 * (1 + w.rng.below(120) as i64));
        "advance the calendar"
    }),
    (5, |w| {
        let today = w.reg.today();
        w.reg.rate_pass(today, false, &()).unwrap();
        "sweep"
    }),
    (3, |w| {
        w.register_subject();
        "register a subject"
    }),
    (7, |w| {
        w.crash_between_append_and_rating();
        if w.rng.chance(50) {
            w.restart();
        }
        "fault: killed between append and rating"
    }),
    (4, |w| {
        w.second_writer();
        "fault: a second writer"
    }),
    (4, World::store_fault),
    (1, |w| {
        w.restart();
        "restart"
    }),
];

/// One simulated registry and what the simulation knows it was told.
struct World {
    seed: u64,
    step: u64,
    rng: Rng,
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    connect: Connector,
    memory: Option<MemoryStore>,
    clock: SimClock,
    reg: Registry,
    subjects: Vec<SubjectId>,
    /// Every key filed, acknowledged or not.
    keys: Vec<RecordKey>,
    /// Filings the registry acknowledged: they must stay, unless redacted.
    acked: BTreeSet<RecordKey>,
    redacted: BTreeSet<RecordKey>,
    next_no: u64,
    adopted: u64,
    /// How often each operation and fault ran.
    counts: BTreeMap<&'static str, u64>,
    store_faults: bool,
    audit_every: u64,
}

fn uscc(n: u32) -> SubjectId {
    probity_store::conformance::uscc(n)
}

fn amr() -> Slug {
    Slug::parse("a", "bj-amr").unwrap()
}

impl World {
    fn new(seed: u64, backend: Backend, store_faults: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reg");
        let clock = SimClock(Arc::new(Mutex::new("2026-01-05T08:00:00Z".parse().unwrap())));
        let (memory, reg, connect) = match backend {
            Backend::Memory => {
                let mem = MemoryStore::new();
                let open = mem.opener();
                let connect: Connector = Arc::new(move || Ok(Box::new(open()) as _));
                let reg = Registry::init_on(
                    &path,
                    Box::new(mem.handle()),
                    Arc::clone(&connect),
                    None,
                    "sim/log",
                    clock.clone(),
                )
                .unwrap();
                (Some(mem), reg, connect)
            }
            Backend::Sqlite => {
                let reg = Registry::init_with_clock(&path, None, "sim/log", clock.clone()).unwrap();
                let connect = probity_stores::StoreLocation::Sqlite.connector(&path);
                (None, reg, connect)
            }
        };
        let mut w = Self {
            seed,
            step: 0,
            rng: Rng(seed),
            _dir: dir,
            dir: path,
            connect,
            memory,
            clock,
            reg,
            subjects: Vec::new(),
            keys: Vec::new(),
            acked: BTreeSet::new(),
            redacted: BTreeSet::new(),
            next_no: 0,
            adopted: 0,
            counts: BTreeMap::new(),
            store_faults,
            audit_every: if backend == Backend::Memory { 1 } else { 10 },
        };
        for (id, category) in [("bj-amr", "market_regulation"), ("bj-tax", "tax")] {
            let a = probity_core::Authority::new(id, &format!("{id} 名称"), category, "110000");
            w.reg.register_authority(a.unwrap()).unwrap();
        }
        for _ in 0..8 {
            w.register_subject();
        }
        w
    }

    fn count(&mut self, what: &'static str) {
        *self.counts.entry(what).or_default() += 1;
    }

    fn fail(&self, what: impl std::fmt::Display) -> ! {
        panic!(
            "seed {} step {}: {what}\nreplay: PROBITY_SIM_SEED={} cargo test -p probity-registry --test simulation",
            self.seed, self.step, self.seed
        )
    }

    fn register_subject(&mut self) {
        let n = self.subjects.len() as u32 + 1;
        let id = uscc(n);
        let csv = format!("id,name,established\n{id},北京模拟{n}有限公司,2015-03-0{}\n", n % 9 + 1);
        let mut rejects = Vec::new();
        let r = self.reg.import(
            Table::Subjects,
            Format::Csv,
            std::io::Cursor::new(csv.into_bytes()),
            ImportOptions::default(),
            &(),
            &mut rejects,
        );
        if r.is_ok() {
            self.subjects.push(id);
        }
    }

    /// A record row in the import's JSON form: a new key, or now and then one filed before.
    fn record_row(&mut self) -> (RecordKey, String) {
        let key = match self.rng.chance(10).then(|| self.rng.pick(&self.keys).cloned()).flatten() {
            Some(key) => key,
            None => {
                self.next_no += 1;
                RecordKey { authority: amr(), decision_no: format!("SIM-{}", self.next_no) }
            }
        };
        let subject = *self.rng.pick(&self.subjects).unwrap();
        let kind = self.rng.pick(KINDS).unwrap();
        let today = self.reg.today();
        let back = self.rng.below(500) as i64;
        let effective = today.checked_sub(jiff::Span::new().days(back)).unwrap();
        let decided = effective.checked_sub(jiff::Span::new().days(3)).unwrap();
        let row = format!(
            r#"{{"authority":"{}","decision_no":"{}","subject":"{subject}","kind":"{kind}","decided":"{decided}","effective":"{effective}","basis":"Art. {}"}}"#,
            key.authority,
            key.decision_no,
            self.rng.below(3)
        );
        (key, row)
    }

    fn file(&mut self, rows: usize) {
        let mut keys = Vec::new();
        let mut texts = Vec::new();
        for _ in 0..rows {
            let (k, t) = self.record_row();
            keys.push(k);
            texts.push(t);
        }
        let Ok(results) = self.reg.file_records(&amr(), &texts) else { return };
        for r in results {
            if r.status == "filed" {
                let key = keys[r.row].clone();
                self.keys.push(key.clone());
                self.acked.insert(key);
            }
        }
    }

    /// A filed record that is neither redacted nor withdrawn, if there is one.
    fn live_record(&mut self) -> Option<probity_store::StoredRecord> {
        let acked: Vec<RecordKey> = self.acked.difference(&self.redacted).cloned().collect();
        for _ in 0..4 {
            let key = self.rng.pick(&acked)?;
            if let Some(r) = self.reg.store().record(key).unwrap()
                && r.status != probity_store::RecordStatus::Withdrawn
            {
                return Some(r);
            }
        }
        None
    }

    fn correct(&mut self) {
        let Some(stored) = self.live_record() else { return };
        let mut record = stored.record;
        record.kind = Slug::parse("kind", self.rng.pick(KINDS).unwrap()).unwrap();
        if self.rng.chance(30) {
            record.subject = *self.rng.pick(&self.subjects).unwrap();
        }
        let _ = self.reg.correct_record(&amr(), record, "corrected on review");
    }

    fn withdraw(&mut self) {
        let Some(stored) = self.live_record() else { return };
        let _ = self.reg.withdraw_record(&amr(), stored.record.key(), "annulled");
    }

    fn due_process(&mut self) {
        let Some(stored) = self.live_record() else { return };
        let key = stored.record.key();
        let company = Actor::Company(stored.record.subject);
        let authority = Actor::Authority(amr());
        let (actor, step) = match self.rng.below(6) {
            0 => (company, Step::ObjectionFiled { grounds: "the facts are wrong".into() }),
            1 => (
                authority,
                Step::ObjectionAnswered {
                    admitted: self.rng.chance(70),
                    reason: "examined".into(),
                },
            ),
            2 => (company, Step::ReplyPublished { text: "we paid on the day".into() }),
            3 => (company, Step::RepairApplied { statement: "conduct corrected".into() }),
            4 => (
                authority,
                Step::RepairDecided { granted: self.rng.chance(60), reason: "checked".into() },
            ),
            _ => {
                let decision = probity_registry::ObjectionDecision {
                    outcome: if self.rng.chance(50) {
                        ObjectionOutcome::Upheld
                    } else {
                        ObjectionOutcome::Withdrawn
                    },
                    reason: "decided".into(),
                    corrected: None,
                };
                let _ = self.reg.decide_objection(&authority, &key, decision);
                return;
            }
        };
        let _ = self.reg.take_step(&actor, &key, step);
    }

    fn adopt_rulebook(&mut self) {
        self.adopted += 1;
        let today = self.reg.today();
        let effective = today.checked_add(jiff::Span::new().days(self.rng.below(90) as i64));
        let text = probity_rules::DEFAULT_RULEBOOK
            .replacen("version = \"2026.12\"", &format!("version = \"sim-{}\"", self.adopted), 1)
            .replacen(
                "effective = \"2026-01-01\"",
                &format!("effective = \"{}\"", effective.unwrap()),
                1,
            )
            .replacen("points = -15", &format!("points = -{}", 10 + self.rng.below(10)), 1);
        self.reg.adopt_rulebook(&text).unwrap();
    }

    /// An operator withholds the text of a record that may still count.
    fn withhold_text(&mut self) {
        if let Some(r) = self.live_record() {
            self.reg.withhold_text(&r.record.key(), "its summary names a person").unwrap();
        }
    }

    fn redact(&mut self) {
        if let Ok(report) = self.reg.redact_expired("no longer shown", false, &()) {
            self.redacted.extend(report.redacted);
        }
    }

    /// A writer killed after its append committed and before it rated: the event is in the
    /// journal and nothing was rated. Then, at once or at a later step, the registry restarts.
    fn crash_between_append_and_rating(&mut self) {
        let (key, row) = self.record_row();
        let Ok(record) = self.reg.parse_record(&row) else { return };
        let event = Event::new(self.clock.now(), EventBody::RecordFiled { record }).into();
        let mut store = (self.connect)().unwrap();
        if let Ok([probity_store::Outcome::Appended { .. }]) = store.append(&[event]).as_deref() {
            self.keys.push(key);
        }
    }

    /// What a server does when it starts: take in the rulebooks, bring every stored rating up
    /// to the log, and publish a checkpoint of what is there.
    fn restart(&mut self) {
        let reg = Registry::open_on(&self.dir, Arc::clone(&self.connect)).unwrap();
        self.reg = reg.with_clock(self.clock.clone());
        let today = self.reg.today();
        self.reg.rate_pass(today, false, &()).unwrap();
        let size = self.reg.log_size().unwrap();
        self.reg.publish_checkpoint_if_short_of(size).unwrap();
    }

    /// Another process on the same registry files or adds an exception, then goes away.
    fn second_writer(&mut self) {
        let mut other = Registry::open_on(&self.dir, Arc::clone(&self.connect))
            .unwrap()
            .with_clock(self.clock.clone());
        std::mem::swap(&mut self.reg, &mut other);
        if self.rng.chance(70) {
            let rows = 1 + self.rng.below(3) as usize;
            self.file(rows);
        } else {
            let code = format!("9111000060003{:04}X", self.rng.below(10_000));
            let _ = self.reg.admit_code_exception(&code, "issued before the check");
        }
        std::mem::swap(&mut self.reg, &mut other);
    }

    /// The store fails or goes away at the next write or the one after, during a filing (in a
    /// run without store faults, a plain filing).
    fn store_fault(&mut self) -> &'static str {
        let Some(mem) = self.memory.as_ref().filter(|_| self.store_faults) else {
            self.file(1);
            return "file one";
        };
        let fault = if self.rng.chance(50) { Fault::Unavailable } else { Fault::Failed };
        mem.fail_write(self.rng.below(2), fault);
        let rows = 1 + self.rng.below(4) as usize;
        self.file(rows);
        if let Some(mem) = &self.memory {
            mem.heal();
        }
        "fault: the store fails"
    }

    /// One random step: an operation or a fault, drawn by weight from [`STEPS`].
    fn step(&mut self) {
        self.step += 1;
        self.clock.advance(60 + self.rng.below(3600) as i64);
        let total: u64 = STEPS.iter().map(|(w, _)| w).sum();
        let mut roll = self.rng.below(total);
        let run = STEPS
            .iter()
            .find(|(w, _)| {
                let hit = roll < *w;
                roll = roll.saturating_sub(*w);
                hit
            })
            .map_or(STEPS[0].1, |(_, run)| *run);
        let what = run(self);
        self.count(what);
        self.check();
    }

    /// The invariants.
    fn check(&mut self) {
        let store = self.reg.store();
        let size = store.log_size().unwrap();
        // The log is dense.
        let entries = store.journal(0, usize::MAX).unwrap();
        if entries.len() as u64 != size
            || entries.iter().enumerate().any(|(i, e)| e.index != i as u64)
        {
            self.fail(format!(
                "the journal is not dense: {} entries for size {size}",
                entries.len()
            ));
        }
        // Every acknowledged filing is there, unless it was redacted.
        for key in self.acked.difference(&self.redacted) {
            if store.record(key).unwrap().is_none() {
                self.fail(format!("acknowledged record {key} is missing"));
            }
        }
        // The audit is clean.
        if self.step.is_multiple_of(self.audit_every) {
            let audit = self.reg.audit(&[], &()).unwrap();
            if !audit.problems.is_empty() {
                self.fail(format!("the audit found {:?}", audit.problems));
            }
        }
        // Every answer served is the one computed from the log alone.
        let mut replay = probity_rules::Replay::new();
        for e in &entries {
            match e.published() {
                None => replay.withheld(e.index).unwrap(),
                Some(body) => replay.apply(e.index, &Event::decode(body).unwrap()).unwrap(),
            }
        }
        let books = replay.rulebooks().unwrap();
        let today = self.reg.today();
        for id in &self.subjects {
            let want = replay.assess(id, books.in_force(today), today).unwrap();
            for m in MEASURES {
                let got = self.reg.check(id.as_str(), m, today, None).unwrap().unwrap();
                let decision =
                    want.measures.iter().find(|x| x.measure == *m).map(|x| x.decision.as_str());
                if Some(got.decision) != decision || got.grade != want.grade {
                    self.fail(format!(
                        "{id} {m}: served {} grade {:?}, the log gives {decision:?} grade {:?}",
                        got.decision, got.grade, want.grade
                    ));
                }
            }
        }
    }

    /// What the registry answers about every subject, and its log root.
    fn answers(&self) -> (probity_tlog::Hash, Vec<String>) {
        let (_, root) = self.reg.log_root(None).unwrap();
        let today = self.reg.today();
        let answers = self
            .subjects
            .iter()
            .flat_map(|id| {
                MEASURES.iter().map(move |m| {
                    let a = self.reg.check(id.as_str(), m, today, None).unwrap().unwrap();
                    format!("{id} {m} {} {:?} {:?}", a.decision, a.grade, a.score)
                })
            })
            .collect();
        (root, answers)
    }
}

/// Runs `f` for a seed, and on failure says how to replay it.
fn run_seed<T>(seed: u64, f: impl FnOnce() -> T + std::panic::UnwindSafe) -> T {
    match std::panic::catch_unwind(f) {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "simulation seed {seed} failed; replay: PROBITY_SIM_SEED={seed} cargo test -p probity-registry --test simulation"
            );
            std::panic::resume_unwind(e)
        }
    }
}

fn seeds(default: std::ops::Range<u64>) -> Vec<u64> {
    match std::env::var("PROBITY_SIM_SEED") {
        Ok(s) => vec![s.parse().expect("PROBITY_SIM_SEED is a number")],
        Err(_) => default.collect(),
    }
}

fn steps(default: u64) -> u64 {
    std::env::var("PROBITY_SIM_STEPS").map_or(default, |s| s.parse().expect("a number of steps"))
}

#[test]
fn random_histories_with_faults_keep_every_invariant() {
    let mut totals: BTreeMap<&'static str, u64> = BTreeMap::new();
    let steps = steps(150);
    for seed in seeds(1..13) {
        let counts = run_seed(seed, || {
            let mut w = World::new(seed, Backend::Memory, true);
            for _ in 0..steps {
                w.step();
            }
            w.counts
        });
        for (k, v) in counts {
            *totals.entry(k).or_default() += v;
        }
    }
    eprintln!("simulated steps by kind: {totals:?}");
}

#[test]
fn the_memory_and_sqlite_stores_reach_the_same_log_and_answers() {
    let steps = steps(120);
    for seed in seeds(100..103) {
        run_seed(seed, || {
            let mut memory = World::new(seed, Backend::Memory, false);
            let mut sqlite = World::new(seed, Backend::Sqlite, false);
            for _ in 0..steps {
                memory.step();
                sqlite.step();
            }
            let (m, s) = (memory.answers(), sqlite.answers());
            assert_eq!(m.0, s.0, "seed {seed}: the log roots differ");
            assert_eq!(m.1, s.1, "seed {seed}: the answers differ");
        });
    }
}
