//! The storage boundary of probity.
//!
//! A backend keeps two things: the append-only **journal** of canonical event encodings, and
//! **projections** derived from it (subjects, authorities, records, the code exception list) for
//! lookups. [`Store::append`] writes a batch of events to both in one transaction: either every
//! accepted event of the batch is journalled and projected, or nothing is.
//!
//! The store enforces what a database is good at: uniqueness of natural keys and referential
//! integrity. An event that repeats stored content exactly is a [`Outcome::Duplicate`] and is not
//! journalled again, which makes imports idempotent. An event that names an unknown subject,
//! authority or record, or reuses a key with different content, is [`Outcome::Refused`] with a
//! [`Refusal`] that says why. Neither aborts the batch. Domain validation (codes, kinds, dates,
//! legal basis) happens before events reach the store.
//!
//! No backend type appears in this crate: backends live in their own crates and are chosen from
//! the registry location at start-up. [`conformance`] holds the tests every backend must pass.

pub mod conformance;
pub mod plan;
pub mod watch;

pub use watch::{Answer, AnswerChange, Cause, Delivery, Watchlist, Webhook};

/// How backends store dates and codes, shared so that every backend reads what any wrote.
pub mod codec {
    use probity_core::{Date, SubjectId};

    use crate::StoreError;

    /// A date as the integer YYYYMMDD: sortable, compact, and cheap to write.
    pub fn date_key(d: Date) -> i64 {
        i64::from(d.year()) * 10_000 + i64::from(d.month()) * 100 + i64::from(d.day())
    }

    /// The date of an integer YYYYMMDD.
    pub fn from_date_key(k: i64) -> Result<Date, StoreError> {
        Date::new((k / 10_000) as i16, (k / 100 % 100) as i8, (k % 100) as i8)
            .map_err(|e| StoreError::Corrupt { index: 0, reason: format!("stored date {k}: {e}") })
    }

    /// The record an event at journal entry `index` files or corrects to, and when it was
    /// recorded; any other event there means the store is damaged.
    pub fn record_event(
        index: u64,
        event: probity_core::Event,
    ) -> Result<(probity_core::Record, probity_core::Timestamp), StoreError> {
        use probity_core::EventBody;
        match event.body {
            EventBody::RecordFiled { record } | EventBody::RecordCorrected { record, .. } => {
                Ok((record, event.recorded_at))
            }
            _ => Err(StoreError::Corrupt { index, reason: "expected a record event".into() }),
        }
    }

    /// The authority an event at journal entry `index` registers; any other event there
    /// means the store is damaged.
    pub fn authority_event(
        index: u64,
        body: probity_core::EventBody,
    ) -> Result<probity_core::Authority, StoreError> {
        match body {
            probity_core::EventBody::AuthorityRegistered { authority } => Ok(authority),
            _ => Err(StoreError::Corrupt { index, reason: "expected an authority event".into() }),
        }
    }

    /// The rulebook text an event at journal entry `index` adopts, with that index; any other
    /// event there means the store is damaged.
    pub fn rulebook_event(
        index: u64,
        body: probity_core::EventBody,
    ) -> Result<(u64, String), StoreError> {
        match body {
            probity_core::EventBody::RulebookAdopted { text, .. } => Ok((index, text)),
            _ => Err(StoreError::Corrupt { index, reason: "expected a rulebook adoption".into() }),
        }
    }

    /// The SHA-256 of a body's canonical encoding, which its leaf commits to: what the store
    /// keeps of a body it withholds.
    pub fn body_digest(body: &[u8]) -> [u8; 32] {
        let mut digest = [0u8; 32];
        digest.copy_from_slice(probity_core::leaf_data(body).get(1..).unwrap_or_default());
        digest
    }

    /// The body of journal entry `index` as published once its free text is withheld
    /// ([`probity_core::Event::without_free_text`]), in canonical encoding.
    pub fn without_free_text(index: u64, body: &[u8]) -> Result<Vec<u8>, StoreError> {
        let event = probity_core::Event::decode(body)
            .map_err(|e| StoreError::Corrupt { index, reason: e.to_string() })?;
        Ok(event.without_free_text().encode())
    }

    /// A subject code read back from storage (it was checked when it was written).
    pub fn stored_subject_id(code: &str) -> Result<SubjectId, StoreError> {
        SubjectId::parse_excepted(code, |_| true).map_err(|e| StoreError::Corrupt {
            index: 0,
            reason: format!("stored subject code: {e}"),
        })
    }
}

use std::cell::RefCell;
use std::fmt;

use probity_tlog::stored::{NodeTile, TileCache, tile_of};

use probity_core::{
    Authority, Date, Encoded, Record, RecordKey, Slug, Subject, SubjectId, Timestamp,
};

/// The log of a store, readable by the tree functions of `probity-tlog`.
pub struct LogNodes<'a>(pub &'a dyn Store);

/// A log node of a store that keeps its nodes a tile at a time (`probity_tlog::stored`): from
/// `cache`, or from the tile `read` gives, which is then kept. A node the store lacks is an error
/// that names it.
pub fn node_from_tiles(
    cache: &RefCell<TileCache>,
    level: u8,
    index: u64,
    read: impl FnOnce(u8, u64) -> Result<Option<NodeTile>, StoreError>,
) -> Result<[u8; 32], StoreError> {
    if let Some(hash) = cache.borrow().node(level, index) {
        return Ok(hash);
    }
    let (tile_level, tile_index) = tile_of(level, index);
    let tile = read(tile_level, tile_index)?;
    let hash = tile.as_ref().and_then(|t| t.node(level, index)).ok_or_else(|| {
        StoreError::Backend(format!("the log has no node at level {level}, index {index}"))
    })?;
    if let Some(tile) = tile {
        cache.borrow_mut().keep(tile);
    }
    Ok(hash)
}

impl probity_tlog::Nodes for LogNodes<'_> {
    type Error = StoreError;

    fn node(&self, level: u8, index: u64) -> Result<[u8; 32], StoreError> {
        self.0.log_node(level, index)
    }
}

/// A failure of the storage itself (not of the data given to it).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No registry exists at the location.
    #[error("no registry at `{0}`; create one with `probity init`")]
    Missing(String),
    /// A registry already exists where a new one was to be created.
    #[error("a registry already exists at `{0}`")]
    Exists(String),
    /// The registry was written by a newer probity.
    #[error(
        "the registry at `{location}` has schema version {found}; this probity knows up to {known}"
    )]
    TooNew {
        /// Where.
        location: String,
        /// Version found.
        found: i64,
        /// Newest version known.
        known: i64,
    },
    /// Stored bytes do not decode: the store was altered outside probity or is damaged.
    #[error("journal entry {index} does not decode: {reason}")]
    Corrupt {
        /// Journal index.
        index: u64,
        /// Decoder message.
        reason: String,
    },
    /// The backend failed.
    #[error("storage failed: {0}")]
    Backend(String),
    /// The log's stored tiles do not fit together: the store was altered outside probity or is
    /// damaged.
    #[error("the log's stored nodes are damaged: {0}")]
    LogTile(#[from] probity_tlog::stored::TileError),
    /// The connection to the backend was lost (a database server restarted or ended the
    /// session). Nothing was written half-way; the store connects again for the next call.
    #[error("the store is unreachable: {0}")]
    Unavailable(String),
}

/// What happened to one event handed to [`Store::append`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Journalled at this index and projected.
    Appended {
        /// Journal index (0-based).
        index: u64,
    },
    /// The same content is already stored under the same key; nothing was written.
    Duplicate,
    /// Not written, for this reason.
    Refused(Refusal),
}

impl Outcome {
    /// The outcome of filing `record` again under a key whose first filing was `stored`: a
    /// duplicate if the content is the same, else a conflict (a change needs a correction).
    pub fn refiling(stored: &Record, record: &Record) -> Self {
        if stored == record {
            Self::Duplicate
        } else {
            Self::Refused(Refusal::Conflict(format!(
                "authority `{}` already filed decision number `{}` with different content; \
                 file a correction instead",
                record.authority, record.decision_no
            )))
        }
    }
}

/// Why the store refused an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The record names a subject the registry does not hold.
    UnknownSubject(SubjectId),
    /// The record names an authority the registry does not hold.
    UnknownAuthority(Slug),
    /// A correction or withdrawal names a record the registry does not hold.
    UnknownRecord(RecordKey),
    /// A correction names a record its authority has withdrawn.
    Withdrawn(RecordKey),
    /// A draw names an inspection plan the registry does not hold.
    UnknownPlan(probity_core::PlanKey),
    /// The key is taken by different content.
    Conflict(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownSubject(id) => write!(f, "unknown subject `{id}`; register it first"),
            Self::UnknownAuthority(a) => write!(f, "unknown authority `{a}`; register it first"),
            Self::UnknownRecord(k) => {
                write!(
                    f,
                    "authority `{}` has no record with decision number `{}`",
                    k.authority, k.decision_no
                )
            }
            Self::Withdrawn(k) => write!(
                f,
                "authority `{}` withdrew its record `{}`; a withdrawn record cannot be corrected",
                k.authority, k.decision_no
            ),
            Self::UnknownPlan(k) => write!(
                f,
                "authority `{}` has no inspection plan numbered `{}`",
                k.authority, k.plan_no
            ),
            Self::Conflict(what) => f.write_str(what),
        }
    }
}

/// Where a record stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordStatus {
    /// As filed.
    Filed,
    /// Corrected by its issuing authority.
    Corrected,
    /// Withdrawn by its issuing authority.
    Withdrawn,
}

impl RecordStatus {
    /// The status as written in storage and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Filed => "filed",
            Self::Corrected => "corrected",
            Self::Withdrawn => "withdrawn",
        }
    }

    /// Parses a stored status.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Filed, Self::Corrected, Self::Withdrawn].into_iter().find(|x| x.as_str() == s)
    }
}

/// A subject as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSubject {
    /// The subject.
    pub subject: Subject,
    /// Journal index of the event that registered it.
    pub index: u64,
    /// When the registry recorded it.
    pub recorded_at: Timestamp,
    /// Journal index of the latest event about it: its registration, or a filing, correction,
    /// withdrawal, due-process step or redaction of one of its records (a correction that moves
    /// a record concerns both subjects). Written in the transaction of that event, so a stored
    /// assessment whose `log_size` is not beyond it does not reflect the subject's latest event.
    pub last_event: u64,
}

/// A subject's row as the tables keep it, column by column: what search, rating and the
/// staleness of assessments read without the journal, for an audit to compare with the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectColumns {
    /// The name search finds it by.
    pub name: String,
    /// The date of establishment rating reads.
    pub established: Option<Date>,
    /// The journal index of its registration.
    pub event: u64,
    /// See [`StoredSubject::last_event`].
    pub last_event: u64,
}

/// A record as stored: its current content and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// Current content (as corrected, if it was).
    pub record: Record,
    /// Status.
    pub status: RecordStatus,
    /// Journal index of the filing.
    pub filed_index: u64,
    /// Journal index of the latest event about it.
    pub last_index: u64,
    /// When the registry learned of the filing.
    pub recorded_at: Timestamp,
    /// Whether an objection to it is open.
    pub disputed: bool,
    /// The day a granted repair ended its effects.
    pub repaired: Option<Date>,
}

/// Where a subject stands, as far as rating is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectStanding {
    /// Date established, if known.
    pub established: Option<Date>,
    /// Its records, in filing order.
    pub records: Vec<RecordStanding>,
}

/// Where a record stands, as far as rating is concerned: the part of a [`StoredRecord`] the
/// assessment engine reads, kept in the projections so that rating decodes no journal entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordStanding {
    /// Journal index of the filing.
    pub filed_index: u64,
    /// Its kind (as corrected, if it was).
    pub kind: String,
    /// When it took legal effect (as corrected, if it was).
    pub effective: Date,
    /// Status.
    pub status: RecordStatus,
    /// The day a granted repair ended its effects.
    pub repaired: Option<Date>,
}

impl RecordStanding {
    /// From the projection columns every backend keeps: filing index, kind, effective date and
    /// repair day as YYYYMMDD integers, and the status word.
    pub fn from_columns(
        filed: i64,
        kind: String,
        effective: i64,
        status: &str,
        repaired: Option<i64>,
    ) -> Result<Self, StoreError> {
        let status = RecordStatus::parse(status).ok_or_else(|| StoreError::Corrupt {
            index: filed as u64,
            reason: format!("unknown record status `{status}`"),
        })?;
        Ok(Self {
            filed_index: filed as u64,
            kind,
            effective: codec::from_date_key(effective)?,
            status,
            repaired: repaired.map(codec::from_date_key).transpose()?,
        })
    }
}

impl From<&StoredRecord> for RecordStanding {
    fn from(r: &StoredRecord) -> Self {
        Self {
            filed_index: r.filed_index,
            kind: r.record.kind.to_string(),
            effective: r.record.effective,
            status: r.status,
            repaired: r.repaired,
        }
    }
}

/// An objection or a repair application, as listed for deadline tracking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRow {
    /// The record it is about.
    pub record: RecordKey,
    /// Objection or repair.
    pub kind: probity_core::CaseKind,
    /// Journal index of the step that opened it.
    pub opened: u64,
    /// Journal index of the step that closed it, if one has.
    pub closed: Option<u64>,
}

/// Counts of what the registry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Subjects.
    pub subjects: u64,
    /// Authorities.
    pub authorities: u64,
    /// Records, in any status.
    pub records: u64,
    /// Journal events.
    pub events: u64,
    /// Codes on the exception list.
    pub code_exceptions: u64,
}

/// A materialised assessment of one subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssessmentRow {
    /// The subject.
    pub subject: SubjectId,
    /// The date assessed.
    pub as_of: Date,
    /// Grade, if the rulebook grades.
    pub grade: Option<String>,
    /// Score, if the rulebook scores.
    pub score: Option<i32>,
    /// Decision per measure, as JSON text `{measure: decision}`.
    pub decisions: String,
    /// The next date on which some effect starts or ends.
    pub next_change: Option<Date>,
    /// Rulebook id.
    pub rulebook: String,
    /// Rulebook version.
    pub version: String,
    /// The lists the subject is on.
    pub lists: Vec<ListEntry>,
    /// The assessment with its explanation, as JSON, less its answers per measure (which are
    /// in `answers`): it holds unchanged until `next_change`, so answers on dates before then
    /// can be read instead of recomputed.
    pub explanation: String,
    /// Each measure's answer (decision, reasons, when it changes), as JSON Lines, one measure
    /// a line, so that a check decodes only the line it asks about: what the check question
    /// reads. Opaque to the store. Empty in a row rated before answers were kept apart, whose
    /// `explanation` then holds them.
    pub answers: String,
    /// The log size it reflects: computed from every event before it. A row is only ever
    /// replaced by one that reflects at least as much of the log.
    pub log_size: u64,
}

/// What the check question reads about a subject, in one look-up: its name, its latest event,
/// its stored assessment's validity and answers, and the log's size then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerRow {
    /// The subject's name.
    pub name: String,
    /// The log index of its latest event.
    pub last_event: u64,
    /// The date assessed.
    pub as_of: Date,
    /// The next date on which some effect starts or ends.
    pub next_change: Option<Date>,
    /// Rulebook id.
    pub rulebook: String,
    /// Rulebook version.
    pub version: String,
    /// The log size the assessment reflects.
    pub rated_at_size: u64,
    /// Score, if the rulebook scores.
    pub score: Option<i32>,
    /// Grade, if the rulebook grades.
    pub grade: Option<String>,
    /// As [`AssessmentRow::answers`], as the bytes stored: a check decodes (and so checks as
    /// UTF-8) only the line of the measure it asks about.
    pub answers: Vec<u8>,
    /// The log's size when read.
    pub log_size: u64,
}

/// A subject's entry on a list, as rated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListEntry {
    /// The list's id.
    pub list: String,
    /// Since when.
    pub since: Option<Date>,
    /// Until when (exclusive).
    pub until: Option<Date>,
}

/// Which entries of a list to read: up to `limit` entries of `list` whose subject code follows
/// `after`, in code order, leaving out entries that ended by `on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListQuery<'a> {
    /// The list's id.
    pub list: &'a str,
    /// Entries that ended by this day are left out.
    pub on: Date,
    /// The last subject code of the page before.
    pub after: Option<&'a SubjectId>,
    /// The most entries to read.
    pub limit: usize,
}

/// Aggregates over the registry for the statistics page. Months are integers `YYYYMM`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Statistics {
    /// Rated subjects per grade (`None`: rated by a rulebook without grades), in grade order.
    pub grades: Vec<(Option<String>, u64)>,
    /// Records not withdrawn per authority and month of effect, ordered by both.
    pub records_by_month: Vec<(String, u32, u64)>,
    /// Current list entries per list, month joined and month left (exclusive end; `None` when
    /// open), ordered by all three.
    pub list_entries: Vec<(String, Option<u32>, Option<u32>, u64)>,
}

/// One row of a statistics query: the text column, then the integer columns.
pub type StatisticsRow = (Option<String>, Vec<Option<i64>>);

impl Statistics {
    /// Builds the aggregates from the rows of the [`statistics_sql`] queries, in order.
    pub fn from_rows(
        grades: Vec<StatisticsRow>,
        records: Vec<StatisticsRow>,
        lists: Vec<StatisticsRow>,
    ) -> Self {
        let int = |v: &[Option<i64>], i: usize| v.get(i).copied().flatten();
        let count = |v: &[Option<i64>], i: usize| int(v, i).unwrap_or(0).max(0) as u64;
        let month = |v: &[Option<i64>], i: usize| int(v, i).and_then(|m| u32::try_from(m).ok());
        Self {
            grades: grades.into_iter().map(|(g, v)| (g, count(&v, 0))).collect(),
            records_by_month: records
                .into_iter()
                .map(|(a, v)| (a.unwrap_or_default(), month(&v, 0).unwrap_or(0), count(&v, 1)))
                .collect(),
            list_entries: lists
                .into_iter()
                .map(|(l, v)| (l.unwrap_or_default(), month(&v, 0), month(&v, 1), count(&v, 2)))
                .collect(),
        }
    }
}

/// The queries behind [`Store::statistics`], in the SQL that SQLite and PostgreSQL share, so
/// both stores count the same way. Dates are stored as `YYYYMMDD` integers.
pub mod statistics_sql {
    /// Rated subjects per grade.
    pub const GRADES: &str = "SELECT grade, count(*) FROM assessments
         GROUP BY grade ORDER BY grade NULLS FIRST";
    /// Records not withdrawn per authority and month of effect.
    pub const RECORDS_BY_MONTH: &str = "SELECT a.code, r.effective / 100 AS month, count(*)
         FROM records r JOIN authorities a ON a.id = r.authority
         WHERE r.status <> 'withdrawn'
         GROUP BY a.code, month ORDER BY a.code, month";
    /// List entries per list and months of entry and exit.
    pub const LIST_ENTRIES: &str = "SELECT list, since / 100 AS joined, until / 100 AS left_on,
         count(*) FROM list_entries
         GROUP BY list, joined, left_on ORDER BY list, joined NULLS FIRST, left_on NULLS LAST";
}

/// One journal entry as stored: the canonical bytes of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// 0-based index.
    pub index: u64,
    /// Canonical event encoding as published: empty if a redaction withheld the body, the
    /// event without its free text if that was withheld.
    pub bytes: Vec<u8>,
    /// If a redaction or a text withholding changed what is published: the SHA-256 of the
    /// canonical encoding the body had, to which the entry's leaf commits.
    pub withheld: Option<[u8; 32]>,
}

impl JournalEntry {
    /// The published body, to replay; `None` if a redaction withheld it whole.
    pub fn published(&self) -> Option<&[u8]> {
        (self.withheld.is_none() || !self.bytes.is_empty()).then_some(self.bytes.as_slice())
    }

    /// Whether the body is published without its free text.
    pub fn text_withheld(&self) -> bool {
        self.withheld.is_some() && !self.bytes.is_empty()
    }

    /// The data of the entry's log leaf, whether its body is published or withheld.
    pub fn leaf_data(&self) -> [u8; 33] {
        match self.withheld {
            Some(digest) => {
                let mut out = [probity_core::LEAF_FORMAT_VERSION; 33];
                for (o, d) in out.iter_mut().skip(1).zip(digest) {
                    *o = d;
                }
                out
            }
            None => probity_core::leaf_data(&self.bytes),
        }
    }
}

/// An inspection plan as stored: its key, and the journal indices of the plan and its draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRow {
    /// The plan's key.
    pub key: probity_core::PlanKey,
    /// The journal index of the plan.
    pub planned: u64,
    /// The journal index of its draw, once drawn.
    pub drawn: Option<u64>,
}

/// A subject's selection in a draw, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRow {
    /// The plan.
    pub plan: PlanRow,
    /// The subject's risk class at the plan.
    pub class: String,
    /// Its team.
    pub team: u32,
}

/// What a credential lets its holder act as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Administers the registry.
    Operator,
    /// Files and decides as one authority.
    Authority,
    /// Objects, replies and applies for repair as one company.
    Company,
    /// Keeps watchlists and receives their changes, as one named party.
    Subscriber,
}

impl Role {
    /// The role as written in storage and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Authority => "authority",
            Self::Company => "company",
            Self::Subscriber => "subscriber",
        }
    }

    /// Parses a stored role.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Operator, Self::Authority, Self::Company, Self::Subscriber]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// An API credential as stored: never the secret, only its slow hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The public part of the key, by which it is found.
    pub key_id: String,
    /// What it lets its holder act as.
    pub role: Role,
    /// The authority id, subject code or subscriber name it is bound to; empty for operators.
    pub principal: String,
    /// The secret's hash as a PHC string.
    pub secret_hash: String,
    /// When it was issued.
    pub created: Timestamp,
    /// When it stops working, if it does.
    pub expires: Option<Timestamp>,
    /// When it was revoked, if it was.
    pub revoked: Option<Timestamp>,
}

/// A registry store: the journal and its projections.
pub trait Store: Send {
    /// Journals and projects `events` in one transaction, returning one outcome per event in
    /// order. Duplicates and refusals are not written and do not abort the batch; a
    /// [`StoreError`] aborts it and leaves the store as it was.
    fn append(&mut self, events: &[Encoded]) -> Result<Vec<Outcome>, StoreError>;

    /// Makes the appends that follow, until [`Store::commit_held`], one transaction, if this
    /// store can: none is durable, or seen by other connections, before the commit, and one
    /// that fails rolls back every append held since the last commit, which ends the hold. A
    /// bulk import holds its chunks of rows so that it commits less often than it hands rows
    /// over: a commit writes every page its appends touched. False if the store commits each
    /// append by itself, as it then goes on doing; the default.
    fn hold_appends(&mut self) -> Result<bool, StoreError> {
        Ok(false)
    }

    /// Commits the appends held since [`Store::hold_appends`]; nothing if none are. If the
    /// commit fails, none of them is kept.
    fn commit_held(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The subject with this id.
    fn subject(&self, id: &SubjectId) -> Result<Option<StoredSubject>, StoreError>;

    /// The row of the subject with this id, column by column.
    fn subject_columns(&self, id: &SubjectId) -> Result<Option<SubjectColumns>, StoreError>;

    /// Every authority, ordered by id.
    fn authorities(&self) -> Result<Vec<Authority>, StoreError>;

    /// The record with this key.
    fn record(&self, key: &RecordKey) -> Result<Option<StoredRecord>, StoreError>;

    /// The records about a subject, in filing order.
    fn records_of(&self, id: &SubjectId) -> Result<Vec<StoredRecord>, StoreError>;

    /// What rating needs of a subject, read from the projections without decoding any journal
    /// entry: its date of establishment, as [`Store::subject`] gives it, and its records in
    /// filing order, the same as [`Store::records_of`]. `None` if the store does not hold it.
    fn standing_of(&self, id: &SubjectId) -> Result<Option<SubjectStanding>, StoreError>;

    /// [`Store::standing_of`] for each of `ids`, in their order. A store across a network reads
    /// them together; the default reads them one by one.
    fn standings_of(&self, ids: &[SubjectId]) -> Result<Vec<Option<SubjectStanding>>, StoreError> {
        ids.iter().map(|id| self.standing_of(id)).collect()
    }

    /// Up to `limit` cases opened after journal index `after` (exclusive), in opening order;
    /// only open ones if `open_only`.
    fn cases(
        &self,
        open_only: bool,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<CaseRow>, StoreError>;

    /// Every journal entry about a record (its filing, corrections, withdrawal and due-process
    /// steps), in order.
    fn record_history(&self, key: &RecordKey) -> Result<Vec<JournalEntry>, StoreError>;

    /// When the journal entry at `index` was recorded.
    fn recorded_at(&self, index: u64) -> Result<Option<Timestamp>, StoreError>;

    /// The codes on the exception list.
    fn code_exceptions(&self) -> Result<Vec<String>, StoreError>;

    /// The texts of every rulebook adopted, in adoption order, with their journal indices.
    fn adopted_rulebooks(&self) -> Result<Vec<(u64, String)>, StoreError>;

    /// Every inspection plan, in journal order.
    fn plans(&self) -> Result<Vec<PlanRow>, StoreError>;

    /// The draws that selected a subject, in journal order of their plans.
    fn inspections_of(&self, id: &SubjectId) -> Result<Vec<TargetRow>, StoreError>;

    /// The subjects the draw of the plan journalled at `planned` selected, as stored, each with
    /// its class and team, in code order.
    fn plan_targets(&self, planned: u64) -> Result<Vec<(SubjectId, String, u32)>, StoreError>;

    /// Up to `limit` subject ids after `after` (exclusive), in id order: for passes over every
    /// subject.
    fn subject_ids(
        &self,
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<Vec<SubjectId>, StoreError>;

    /// What the registry holds (counting may take time proportional to it).
    fn counts(&self) -> Result<Counts, StoreError>;

    /// The number of journal entries (and log leaves), found without counting.
    fn log_size(&self) -> Result<u64, StoreError>;

    /// Up to `limit` journal entries from index `from` on.
    fn journal(&self, from: u64, limit: usize) -> Result<Vec<JournalEntry>, StoreError>;

    /// The hash of the complete subtree of the log at `level` and `index`
    /// (`docs/log-format.md`); level 0 holds leaf hashes.
    fn log_node(&self, level: u8, index: u64) -> Result<[u8; 32], StoreError>;

    /// Stores assessments in one transaction, replacing earlier ones of the same subjects. A row
    /// from an older view of the log (a smaller `log_size`) never replaces a stored one, and a
    /// row equal to the stored one in every column writes nothing: its list entries, which
    /// follow from its explanation, are stored already.
    ///
    /// In the same transaction, each of `changes` whose subject's row was stored here is kept
    /// at the next position of the sequence of answer changes, in the order given; the others
    /// (their row was older than the one stored, or equal to it) are not. Positions are given
    /// in commit order, so a reader that has seen a position has seen every one before it.
    fn put_assessments(
        &mut self,
        rows: &[AssessmentRow],
        changes: &[AnswerChange],
    ) -> Result<(), StoreError>;

    /// Those of `ids` that some watchlist holds, in no particular order.
    fn watched_among(&self, ids: &[SubjectId]) -> Result<Vec<SubjectId>, StoreError>;

    /// Stores a watchlist, replacing the one with its id: its label, measures, seen position and
    /// webhook with its delivery state. Its subjects stay.
    fn put_watchlist(&mut self, w: &Watchlist) -> Result<(), StoreError>;

    /// Deletes a watchlist and its subjects; returns whether it existed.
    fn drop_watchlist(&mut self, id: &str) -> Result<bool, StoreError>;

    /// The watchlist with this id.
    fn watchlist(&self, id: &str) -> Result<Option<Watchlist>, StoreError>;

    /// Every watchlist of `owner`, or of everyone, in id order.
    fn watchlists(&self, owner: Option<&str>) -> Result<Vec<Watchlist>, StoreError>;

    /// Keeps the delivery state of the webhook of watchlist `id` if its URL is still `url` (an
    /// owner who set another URL meanwhile started its deliveries afresh); returns whether it
    /// did.
    fn set_delivery(&mut self, id: &str, url: &str, d: &Delivery) -> Result<bool, StoreError>;

    /// Adds subjects to watchlist `id`, each watched from the newest position on, and returns
    /// how many were not on it yet.
    fn watch(&mut self, id: &str, ids: &[SubjectId]) -> Result<u64, StoreError>;

    /// Takes subjects off watchlist `id`; returns how many were on it.
    fn unwatch(&mut self, id: &str, ids: &[SubjectId]) -> Result<u64, StoreError>;

    /// How many subjects watchlist `id` holds.
    fn watch_count(&self, id: &str) -> Result<u64, StoreError>;

    /// Up to `limit` subjects on watchlist `id` after `after` (exclusive), in code order.
    fn watched(
        &self,
        id: &str,
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<Vec<SubjectId>, StoreError>;

    /// Up to `limit` answer changes after position `after`, in position order, of subjects on
    /// watchlist `id` from when each was put on it.
    fn watched_changes(
        &self,
        id: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<AnswerChange>, StoreError>;

    /// The newest position of the sequence of answer changes (0 before the first).
    fn last_change(&self) -> Result<u64, StoreError>;

    /// Brings what the engine keeps about the tables (planner statistics, which pages hold
    /// only rows every reader can see) up to date after a bulk change, so the reads that follow
    /// it, re-rating first, are planned for the tables as they now are. Changes nothing a
    /// reader can see.
    fn settle(&mut self) -> Result<(), StoreError>;

    /// The stored assessment of a subject.
    fn assessment(&self, id: &SubjectId) -> Result<Option<AssessmentRow>, StoreError>;

    /// What the check question needs of a rated subject, in one look-up; `None` if the subject
    /// is unknown or not rated.
    fn answer_row(&self, id: &SubjectId) -> Result<Option<AnswerRow>, StoreError>;

    /// [`Store::answer_row`] of each of `ids`, in their order: on a networked store in one
    /// statement, so that answers asked for at once cost one round trip between them. Each
    /// row is consistent on its own, as one `answer_row` is; this default reads them in turn.
    fn answer_rows(&self, ids: &[SubjectId]) -> Result<Vec<Option<AnswerRow>>, StoreError> {
        ids.iter().map(|id| self.answer_row(id)).collect()
    }

    /// Whether a one-row read runs in the calling thread and nowhere else (an embedded database
    /// with its pages in memory): a server may then run it on an async worker instead of
    /// handing it to a blocking thread. A store behind a network client says no.
    fn reads_in_place(&self) -> bool {
        false
    }

    /// The entries of a list that `q` asks for.
    fn list_entries(&self, q: ListQuery<'_>) -> Result<Vec<(SubjectId, ListEntry)>, StoreError>;

    /// Aggregates for the statistics page.
    fn statistics(&self) -> Result<Statistics, StoreError>;

    /// Subjects whose code is `query` (in upper case) or whose name starts with or contains it:
    /// exact matches first, then prefix matches, then the rest; `offset` and `limit` page.
    /// `query` is trimmed and not empty (the registry's search sees to it).
    fn search_subjects(
        &self,
        query: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<SubjectId>, StoreError>;

    /// Up to `limit` subjects after `after`, in id order, whose stored assessment does not hold
    /// on `on`: it is missing, its next change falls on or before `on`, it was made under
    /// another rulebook than `rulebook` (`(id, version)`, the one in force on `on`), or it does
    /// not reflect the subject's latest event (its `log_size` is not beyond
    /// [`StoredSubject::last_event`]: the writer stopped between appending and rating).
    fn due_for_rating(
        &self,
        on: Date,
        rulebook: (&str, &str),
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<Vec<SubjectId>, StoreError>;

    /// Up to `limit` subjects after `after`, in id order, that some event after their
    /// registration concerns which their stored assessment, if they have one, does not reflect
    /// (its `log_size` is not beyond [`StoredSubject::last_event`]): those a writer appended
    /// about and has not rated yet, or stopped before rating.
    fn stale_subjects(
        &self,
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<Vec<SubjectId>, StoreError>;

    /// Stores a new credential.
    fn put_credential(&mut self, credential: &Credential) -> Result<(), StoreError>;

    /// The credential with this key id.
    fn credential(&self, key_id: &str) -> Result<Option<Credential>, StoreError>;

    /// Revokes at `at` every unrevoked credential of `role` bound to `principal`; returns how
    /// many.
    fn revoke_credentials(
        &mut self,
        role: Role,
        principal: &str,
        at: Timestamp,
    ) -> Result<u64, StoreError>;

    /// As a witness of other logs: the size and root of the checkpoint of `origin` this
    /// registry last cosigned, if any.
    fn witnessed(&self, origin: &str) -> Result<Option<(u64, [u8; 32])>, StoreError>;

    /// As a witness: stores the checkpoint `note` of `origin` (its `size` and `root`) as the
    /// latest cosigned, if what is stored is still `expected` (`None`: nothing yet), in one
    /// atomic step; returns whether it did. Two requests judged against the same state cannot
    /// both succeed, so a witness never cosigns two views of one log.
    fn advance_witnessed(
        &mut self,
        origin: &str,
        expected: Option<(u64, [u8; 32])>,
        size: u64,
        root: &[u8; 32],
        note: &str,
    ) -> Result<bool, StoreError>;

    /// The next log index a feed named `name` is to publish (what it published is before it),
    /// if it has published anything.
    fn feed_cursor(&self, name: &str) -> Result<Option<u64>, StoreError>;

    /// Keeps `next` as the next log index the feed `name` is to publish.
    fn set_feed_cursor(&mut self, name: &str, next: u64) -> Result<(), StoreError>;

    /// Every table and column name the backend keeps, for audits of what is stored.
    fn schema(&self) -> Result<Vec<(String, String)>, StoreError>;

    /// Starts a read-only snapshot: until [`Store::end_snapshot`], every read sees the store as
    /// it was at the first read after this, whatever is appended meanwhile. One snapshot per
    /// answer keeps its parts consistent and takes the backend's read lock once, not per query.
    fn begin_snapshot(&self) -> Result<(), StoreError>;

    /// Ends the snapshot begun by [`Store::begin_snapshot`].
    fn end_snapshot(&self) -> Result<(), StoreError>;
}

/// Name fragments that would mean data about a natural person; see
/// [`probity_core::PERSONAL_DATA_FRAGMENTS`]. No store may have a column whose name contains one.
pub use probity_core::PERSONAL_DATA_FRAGMENTS as FORBIDDEN_COLUMN_FRAGMENTS;
