//! The use cases of probity: create and open a registry, import authorities, subjects and
//! records, admit codes to the exception list, and look things up.
//!
//! This crate is the only writer of the journal. It validates everything against the core types
//! and the adopted rulebook, turns what passes into events, and hands them to a
//! [`Store`](probity_store::Store) in batches. It knows no storage engine beyond choosing one at
//! open, and no terminal or HTTP: progress and rejects leave through small traits.

mod answers;
mod audit;
mod check;
mod credentials;
mod filing;
mod history;
mod import;
mod input;
mod inspection;
pub use input::RecordIn;
pub use inspection::{DrawCheck, Outcome as InspectionOutcome, PlanStatus, PlanView, Selection};
mod log;
mod process;
mod rating;
mod redaction;
mod rulebooks;
mod views;
mod watchlist;
pub use watchlist::{
    Backoff, MAX_WATCHED, RejectedCode, WatchReport, WatchedChange, WatchedChanges, WatchlistView,
    WebhookMessage, WebhookView, check_webhook_url,
};
mod witness;
pub use witness::{
    COSIGNED_FILE, FOLLOWED_FILE, WITNESS_KEY_FILE, WITNESSES_FILE, WitnessCosignature,
    parse_followed,
};

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use probity_core::{Date, Event, EventBody, SubjectId, Timestamp};
use probity_rules::{DEFAULT_RULEBOOK, Rulebook, RulebookError};
use probity_store::{Counts, Outcome, Store, StoreError, StoredRecord, StoredSubject};

pub use audit::{Audit, JournalPass};
pub use check::{CheckAnswer, EntryProof, ProfileProofs, RulebookRef};
pub use credentials::{AuthError, KEY_PREFIX, actor_of, principal_of, secret_matches, split_key};
pub use filing::{FilingResult, MAX_FILING_BATCH};
pub use import::{
    DEFAULT_BATCH_SIZE, Format, ImportOptions, ImportReport, Progress, Rejected, Rejects, Table,
};
pub use log::{ConsistencyProof, InclusionProof, TilesReport};
pub use process::{Actor, CaseView, HistoryEntry, ObjectionDecision};
pub use rating::RateReport;
pub use redaction::RedactionReport;
pub use rulebooks::{DiffSample, RulebookDiff};
pub use views::{
    AuthorityDeadlines, ChangeEntry, MAX_QUERY_CHARS, MAX_SEARCH_OFFSET, OverdueItem, SearchHit,
    SearchResults, TimelineEntry, When,
};

/// The log's signing key inside a registry directory (mode 0600).
pub const KEY_FILE: &str = "log.key";
/// The latest signed checkpoint inside a registry directory, as published.
pub const CHECKPOINT_FILE: &str = "checkpoint";
/// The log origin (and key name) of a registry created without one.
pub const DEFAULT_ORIGIN: &str = "localhost/probity";

/// What went wrong in a use case.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The rulebook is invalid.
    #[error("`{path}`: {source}")]
    Rulebook {
        /// Where it was read from.
        path: String,
        /// What is wrong.
        source: RulebookError,
    },
    /// A file could not be read or written.
    #[error("`{path}`: {source}")]
    Io {
        /// Which file.
        path: String,
        /// The failure.
        source: std::io::Error,
    },
    /// Input that cannot be imported at all (not a row problem).
    #[error("{0}")]
    Input(String),
    /// A subject id or code was refused.
    #[error(transparent)]
    Id(#[from] probity_core::IdError),
    /// A request the registry refuses.
    #[error("{0}")]
    Refused(String),
    /// The registry itself failed (a broken invariant, a component that stopped): not the
    /// request's fault.
    #[error("internal failure: {0}")]
    Internal(String),
    /// A value in a request is invalid.
    #[error("{0}")]
    Invalid(String),
    /// The thing asked about does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The actor may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The request does not fit the current state (a window closed, a case already open).
    #[error("{0}")]
    Conflict(String),
    /// What was asked for does not exist yet and will (a checkpoint not yet cosigned).
    #[error("{0}")]
    Unavailable(String),
}

/// Where the registry's time comes from. Tests fix it; the binary uses the system clock.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;

    /// Today's date in UTC.
    fn today(&self) -> Date {
        jiff::tz::TimeZone::UTC.to_datetime(self.now()).date()
    }
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock stopped at one instant.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// A subject and its records.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The subject.
    pub subject: StoredSubject,
    /// Its records in filing order, every status.
    pub records: Vec<StoredRecord>,
}

/// How a registry opens another handle on its store (for readers, each its own connection).
pub type Connector =
    std::sync::Arc<dyn Fn() -> Result<Box<dyn Store>, RegistryError> + Send + Sync>;

/// An open registry.
pub struct Registry {
    store: Box<dyn Store>,
    /// The rulebook the registry started under.
    rulebooks: probity_rules::Rulebooks,
    clock: std::sync::Arc<dyn Clock>,
    dir: PathBuf,
    connect: Connector,
    /// The witness policy of the log, read from the directory once and shared by every handle
    /// made from this one (`None` inside: the registry has no witnesses).
    witness_policy: std::sync::Arc<std::sync::OnceLock<Option<probity_tlog::policy::Policy>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("dir", &self.dir).finish_non_exhaustive()
    }
}

/// Writes a new file readable by its owner only; the content is never logged.
pub fn write_secret(path: &Path, text: &str) -> Result<(), RegistryError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let io = |source| RegistryError::Io { path: path.display().to_string(), source };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    f.write_all(format!("{text}\n").as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)
}

fn parse_rulebook(text: &str, origin: &str) -> Result<Rulebook, RegistryError> {
    Rulebook::parse(text)
        .map_err(|source| RegistryError::Rulebook { path: origin.to_owned(), source })
}

/// A rulebook the store says was adopted at journal entry `index`.
fn parse_adopted((index, text): (u64, String)) -> Result<(u64, Rulebook), RegistryError> {
    parse_rulebook(&text, &format!("the rulebook adopted at journal entry {index}"))
        .map(|b| (index, b))
}

/// The event that adopts `book` (whose text is `text`).
fn adoption(book: &Rulebook, text: &str, at: probity_core::Timestamp) -> probity_core::Encoded {
    Event::new(
        at,
        EventBody::RulebookAdopted {
            rulebook: book.header.id.to_string(),
            version: book.header.version.clone(),
            effective: book.header.effective,
            text: text.to_owned(),
        },
    )
    .into()
}

impl Registry {
    /// Creates a registry whose signing key and checkpoint live in `dir` and whose journal and
    /// projections live in `store`, a new and empty store that `connect` opens more handles on.
    pub fn init_on(
        dir: &Path,
        mut store: Box<dyn Store>,
        connect: Connector,
        rulebook: Option<&str>,
        origin: &str,
        clock: impl Clock + 'static,
    ) -> Result<Self, RegistryError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| {
            RegistryError::Internal(format!("no randomness for a signing key: {e}"))
        })?;
        let signer = probity_tlog::NoteSigner::from_seed(origin, seed).map_err(|_| {
            RegistryError::Refused(format!("origin `{origin}` may not contain spaces or `+`"))
        })?;
        let text = rulebook.unwrap_or(DEFAULT_RULEBOOK);
        let parsed = parse_rulebook(text, "rulebook")?;
        std::fs::create_dir_all(dir)
            .map_err(|source| RegistryError::Io { path: dir.display().to_string(), source })?;
        write_secret(&dir.join(KEY_FILE), &signer.to_private_string())?;
        // The first entry of every log is the rulebook it started under.
        store.append(&[adoption(&parsed, text, clock.now())])?;
        tracing::info!(dir = %dir.display(), rulebook = %parsed.header.id, "created registry");
        let reg = Self {
            store,
            rulebooks: probity_rules::Rulebooks::new(parsed),
            clock: std::sync::Arc::new(clock),
            dir: dir.to_path_buf(),
            connect,
            witness_policy: Default::default(),
        };
        reg.publish_checkpoint()?;
        Ok(reg)
    }

    /// Opens the registry whose signing key and checkpoint live in `dir` and whose store
    /// `connect` opens.
    pub fn open_on(dir: &Path, connect: Connector) -> Result<Self, RegistryError> {
        let store = connect()?;
        let mut rulebooks = store
            .adopted_rulebooks()?
            .into_iter()
            .map(parse_adopted)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter();
        let Some((_, first_rulebook)) = rulebooks.next() else {
            return Err(RegistryError::Refused(format!(
                "the registry at `{}` has adopted no rulebook",
                dir.display()
            )));
        };
        let mut books = probity_rules::Rulebooks::new(first_rulebook);
        for (index, book) in rulebooks {
            books.adopt(index, book);
        }
        Ok(Self {
            store,
            rulebooks: books,
            clock: std::sync::Arc::new(SystemClock),
            dir: dir.to_path_buf(),
            connect,
            witness_policy: Default::default(),
        })
    }

    /// Another handle on the same registry with its own storage connection, for reading in
    /// parallel. It shares the clock and the rulebooks known now; a rulebook adopted later is
    /// seen by handles made after it.
    pub fn reader(&self) -> Result<Self, RegistryError> {
        Ok(Self {
            store: (self.connect)()?,
            rulebooks: self.rulebooks.clone(),
            clock: std::sync::Arc::clone(&self.clock),
            dir: self.dir.clone(),
            connect: std::sync::Arc::clone(&self.connect),
            witness_policy: std::sync::Arc::clone(&self.witness_policy),
        })
    }

    /// Another handle like [`Registry::reader`] on the store `connect` opens instead: a
    /// streaming replica of the registry's store. What it answers is as fresh as the replica;
    /// its log size says how fresh that is.
    pub fn reader_on(&self, connect: Connector) -> Result<Self, RegistryError> {
        Ok(Self {
            store: connect()?,
            rulebooks: self.rulebooks.clone(),
            clock: std::sync::Arc::clone(&self.clock),
            dir: self.dir.clone(),
            connect,
            witness_policy: std::sync::Arc::clone(&self.witness_policy),
        })
    }

    /// Takes in the rulebooks adopted since this handle learnt its own: by another handle,
    /// process or node on the same store. Returns how many it took in. A rulebook is adopted
    /// by a journal event, so once this has run, the handle knows every rulebook within the log
    /// size read before it.
    pub fn catch_up_rulebooks(&mut self) -> Result<usize, RegistryError> {
        let known = self.rulebooks.iter().count();
        let mut taken = 0;
        for adopted in self.store.adopted_rulebooks()?.into_iter().skip(known) {
            let (index, book) = parse_adopted(adopted)?;
            self.rulebooks.adopt(index, book);
            taken += 1;
        }
        Ok(taken)
    }

    /// The clock the registry takes its time from, shared with its readers.
    pub fn clock(&self) -> std::sync::Arc<dyn Clock> {
        std::sync::Arc::clone(&self.clock)
    }

    /// Replaces the clock (for tests and reproducible runs).
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = std::sync::Arc::new(clock);
        self
    }

    /// The registry directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The rulebook in force today.
    pub fn rulebook(&self) -> &Rulebook {
        self.rulebook_at(self.clock.today())
    }

    /// The rulebook in force on `date`: of those effective by then, the one adopted last; before
    /// any is effective, the one effective first (the first adopted of those).
    pub fn rulebook_at(&self, date: Date) -> &Rulebook {
        self.rulebook_known_at(date, u64::MAX)
    }

    /// The rulebook in force on `date` among those adopted within the first `size` log entries.
    pub fn rulebook_known_at(&self, date: Date, size: u64) -> &Rulebook {
        self.rulebooks.known_at(date, size)
    }

    /// Every rulebook adopted, in adoption order.
    pub fn rulebooks(&self) -> impl Iterator<Item = &Rulebook> {
        self.rulebooks.iter()
    }

    /// Adopts a new rulebook (its text): validates it, journals the adoption, and from its
    /// effective date assessments follow it. Returns false if this version was adopted already.
    pub fn adopt_rulebook(&mut self, text: &str) -> Result<bool, RegistryError> {
        let book = parse_rulebook(text, "the new rulebook")?;
        match self.store.append(&[adoption(&book, text, self.clock.now())])?.as_slice() {
            [Outcome::Appended { index }] => {
                self.rulebooks.adopt(*index, book);
                self.publish_checkpoint()?;
                Ok(true)
            }
            [Outcome::Duplicate] => Ok(false),
            [Outcome::Refused(r)] => Err(RegistryError::Refused(r.to_string())),
            other => Err(RegistryError::Internal(format!("unexpected store answer {other:?}"))),
        }
    }

    /// Whether the store's one-row reads run in the calling thread alone
    /// ([`Store::reads_in_place`]).
    pub fn reads_in_place(&self) -> bool {
        self.store.reads_in_place()
    }

    /// The store, for reads.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// What the registry holds.
    pub fn counts(&self) -> Result<Counts, RegistryError> {
        Ok(self.store.counts()?)
    }

    /// The codes on the exception list, as a set.
    fn exceptions(&self) -> Result<HashSet<String>, RegistryError> {
        Ok(self.store.code_exceptions()?.into_iter().collect())
    }

    /// Parses a subject id, admitting codes on the exception list.
    /// The exception list is read only for a code that fails its checksum.
    pub fn parse_id(&self, input: &str) -> Result<SubjectId, RegistryError> {
        let failure = std::cell::RefCell::new(None);
        let parsed = SubjectId::parse_excepted(input, |c| match self.store.code_exceptions() {
            Ok(list) => list.iter().any(|x| x == c),
            Err(e) => {
                *failure.borrow_mut() = Some(e);
                false
            }
        });
        if let Some(e) = failure.into_inner() {
            return Err(e.into());
        }
        Ok(parsed?)
    }

    /// Admits a well-formed code that fails its checksum to the exception list, as a journal
    /// event. Returns false if it was already on the list.
    pub fn admit_code_exception(
        &mut self,
        code: &str,
        reason: &str,
    ) -> Result<bool, RegistryError> {
        let code = SubjectId::exception_candidate(code)?;
        let reason = probity_core::check_prose("reason", reason, probity_core::limits::BASIS)
            .map_err(|e| RegistryError::Refused(e.to_string()))?;
        let event =
            Event::new(self.clock.now(), EventBody::CodeExceptionAdmitted { code, reason }).into();
        match self.store.append(&[event])?.as_slice() {
            [Outcome::Appended { .. }] => {
                self.publish_checkpoint()?;
                Ok(true)
            }
            [Outcome::Duplicate] => Ok(false),
            [Outcome::Refused(r)] => Err(RegistryError::Refused(r.to_string())),
            other => Err(RegistryError::Internal(format!("unexpected store answer {other:?}"))),
        }
    }

    /// The assessment of a subject on `as_of` under the adopted rulebook, from every record the
    /// registry holds about it.
    pub fn assess(&self, profile: &Profile, as_of: Date) -> probity_rules::Assessment {
        self.assess_under(self.rulebook_at(as_of), profile, as_of)
    }

    /// A record's standing as the engine sees it: the one mapping from what the store keeps to
    /// the engine's input.
    pub(crate) fn record_input(r: probity_store::RecordStanding) -> probity_rules::RecordInput {
        probity_rules::RecordInput {
            id: r.filed_index,
            kind: r.kind,
            effective: r.effective,
            state: match (r.status, r.repaired) {
                (probity_store::RecordStatus::Withdrawn, _) => {
                    probity_rules::RecordState::Withdrawn
                }
                (_, Some(on)) => probity_rules::RecordState::Repaired(on),
                (_, None) => probity_rules::RecordState::InForce,
            },
        }
    }

    /// A profile's records as the engine sees them.
    fn record_inputs(profile: &Profile) -> Vec<probity_rules::RecordInput> {
        profile
            .records
            .iter()
            .map(|r| Self::record_input(probity_store::RecordStanding::from(r)))
            .collect()
    }

    /// The assessment of a subject under a given rulebook (for comparing rulebooks).
    pub fn assess_under(
        &self,
        book: &Rulebook,
        profile: &Profile,
        as_of: Date,
    ) -> probity_rules::Assessment {
        let records = Self::record_inputs(profile);
        let subject =
            probity_rules::SubjectInput { established: profile.subject.subject.established };
        probity_rules::assess(book, &subject, &records, as_of)
    }

    /// Today, by the registry's clock.
    pub fn today(&self) -> Date {
        self.clock.today()
    }

    /// Journals one event, refusing it if the store does, and publishes a checkpoint. Returns
    /// its log index, or `None` if it repeated stored content.
    fn append_one(&mut self, body: EventBody) -> Result<Option<u64>, RegistryError> {
        let now = self.clock.now();
        self.append_one_at(now, body)
    }

    /// [`Registry::append_one`] with the event recorded at `now`.
    fn append_one_at(
        &mut self,
        now: Timestamp,
        body: EventBody,
    ) -> Result<Option<u64>, RegistryError> {
        // A change to a record changes its subject's rating: re-rate it, as imports do. A
        // correction may move the record to another subject; both are re-rated.
        let mut subjects = match &body {
            EventBody::RecordFiled { record } => vec![record.subject],
            EventBody::RecordCorrected { record, .. } => {
                let before = self.store.record(&record.key())?.map(|r| r.record.subject);
                before.into_iter().chain([record.subject]).collect()
            }
            EventBody::RecordWithdrawn { key, .. } | EventBody::RecordTextWithheld { key, .. } => {
                self.store.record(key)?.map(|r| r.record.subject).into_iter().collect()
            }
            _ => Vec::new(),
        };
        subjects.dedup();
        match self.store.append(&[Event::new(now, body).into()])?.as_slice() {
            [Outcome::Appended { index }] => {
                self.publish_checkpoint()?;
                if !subjects.is_empty() {
                    let today = self.today();
                    self.rate(&subjects, today)?;
                }
                Ok(Some(*index))
            }
            [Outcome::Duplicate] => Ok(None),
            [Outcome::Refused(r)] => Err(RegistryError::Refused(r.to_string())),
            other => Err(RegistryError::Internal(format!("unexpected store answer {other:?}"))),
        }
    }

    /// Registers an authority. Returns false if it was registered already with the same details.
    pub fn register_authority(
        &mut self,
        authority: probity_core::Authority,
    ) -> Result<bool, RegistryError> {
        Ok(self.append_one(EventBody::AuthorityRegistered { authority })?.is_some())
    }

    /// Every authority, by id.
    pub fn authorities(&self) -> Result<Vec<probity_core::Authority>, RegistryError> {
        Ok(self.store.authorities()?)
    }

    /// The subject with this id, as registered.
    pub fn subject(&self, id: &SubjectId) -> Result<Option<StoredSubject>, RegistryError> {
        Ok(self.store.subject(id)?)
    }

    /// The entries of a list that `q` asks for.
    pub fn list_entries(
        &self,
        q: probity_store::ListQuery<'_>,
    ) -> Result<Vec<(SubjectId, probity_store::ListEntry)>, RegistryError> {
        Ok(self.store.list_entries(q)?)
    }

    /// Runs `read` in one store snapshot, so all it reads agrees and the store's read lock is
    /// taken once.
    pub fn in_snapshot<T, E: From<RegistryError>>(
        &self,
        read: impl FnOnce(&Self) -> Result<T, E>,
    ) -> Result<T, E> {
        self.store.begin_snapshot().map_err(RegistryError::from)?;
        let out = read(self);
        if let Err(e) = self.store.end_snapshot() {
            tracing::warn!(error = %e, "ending a read snapshot failed");
        }
        out
    }

    /// The text of rulebook version `version` as adopted, if it was.
    pub fn rulebook_text(&self, version: &str) -> Result<Option<String>, RegistryError> {
        Ok(self
            .store
            .adopted_rulebooks()?
            .into_iter()
            .map(|(_, text)| text)
            .find(|text| Rulebook::parse(text).is_ok_and(|b| b.header.version == version)))
    }

    /// Whether a record is shown today: not withdrawn, not repaired, and within the period its
    /// kind is published for.
    pub fn shown(&self, r: &StoredRecord) -> bool {
        let today = self.today();
        r.status != probity_store::RecordStatus::Withdrawn
            && r.repaired.is_none_or(|d| d > today)
            && self
                .rulebook()
                .kind(r.record.kind.as_str())
                .is_some_and(|k| k.published_for.after(r.record.effective) > today)
    }

    /// A subject and its records, or `None` if the registry does not hold it.
    pub fn profile(&self, id: &SubjectId) -> Result<Option<Profile>, RegistryError> {
        let Some(subject) = self.store.subject(id)? else {
            return Ok(None);
        };
        let records = self.store.records_of(id)?;
        Ok(Some(Profile { subject, records }))
    }
}
