//! The PostgreSQL store: the same journal, log and projections as the SQLite store, for
//! registries too large for one file, and shared by several probity processes.
//!
//! A registry lives in one PostgreSQL schema. Every append runs in one transaction that first
//! takes a transaction-scoped advisory lock, so appends from several processes are sequenced one
//! at a time: each reads the log size under the lock, and a process whose view of the log's
//! right edge is stale reloads it before writing. Journal rows, log nodes and projections commit
//! together or not at all.
//!
//! Every statement is a constant with bound parameters. The one name put into SQL text is the
//! schema's, and only after it is checked to be a plain lowercase identifier.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::{Client, GenericClient, NoTls, Row, Transaction};
use probity_core::{
    Authority, CaseKind, Date, Encoded, Event, EventBody, Record, RecordKey, Slug, SubjectId,
    Timestamp,
};
use probity_store::codec::{date_key, from_date_key, record_event, stored_subject_id};
use probity_store::plan::{Executor, KeyState, Lookups, Op, Planner, Row as PlanRow};
use probity_store::{
    AssessmentRow, CaseRow, Counts, Credential, JournalEntry, ListEntry, ListQuery, LogNodes,
    Outcome, RecordStanding, RecordStatus, Role, Store, StoreError, StoredRecord, StoredSubject,
    SubjectColumns, SubjectStanding,
};
use probity_tlog::stored::{NodeTile, TileCache, TileUpdates};
use probity_tlog::{Frontier, leaf_hash};

mod append;
mod assessments;

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_registry.sql"),
    include_str!("../migrations/0002_assessment_explanations.sql"),
    include_str!("../migrations/0003_redaction.sql"),
    include_str!("../migrations/0004_assessment_log_size.sql"),
    include_str!("../migrations/0005_records_by_subject_covering.sql"),
    include_str!("../migrations/0006_subject_established.sql"),
    include_str!("../migrations/0007_log_tiles.sql"),
    include_str!("../migrations/0008_explanations_lz4.sql"),
    include_str!("../migrations/0009_subject_last_event.sql"),
];

/// The base of the advisory lock that sequences appends to a registry's log; each schema locks
/// its own key derived from this and its name, so registries in one database do not wait on
/// each other.
const LOG_LOCK: i64 = 0x7072_6f62_6974_7931;

/// The advisory-lock key of the registry in `schema` (FNV-1a of the name, mixed into
/// [`LOG_LOCK`]); its migration lock is the next key.
fn log_lock(schema: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in schema.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    // Even, so that the migration lock (this + 1) never meets another schema's log lock.
    (LOG_LOCK ^ h as i64) & !1
}

/// The store's error for `e`: [`StoreError::Unavailable`] when the connection failed under
/// it, which the store notes and mends at its next call (see `PgStore::reconnect_if_lost`).
fn backend(e: postgres::Error) -> StoreError {
    let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
    // SQLSTATE classes 08 (connection exception) and 57P (the server shutting down or ending
    // the session, as pg_terminate_backend does).
    let ended = e.code().is_some_and(|c| c.code().starts_with("08") || c.code().starts_with("57P"));
    let message = match e.as_db_error() {
        Some(db) => format!("{e}: {} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    };
    if e.is_closed() || io || ended {
        StoreError::Unavailable(message)
    } else {
        StoreError::Backend(message)
    }
}

fn decode(index: i64, bytes: &[u8]) -> Result<Event, StoreError> {
    Event::decode(bytes)
        .map_err(|e| StoreError::Corrupt { index: index as u64, reason: e.to_string() })
}

/// Statements prepared on one connection, by their SQL text. The client would otherwise parse
/// and plan every query again, one round trip more each time; prepared statements outlive the
/// transactions they were prepared in.
#[derive(Default)]
struct Statements(RefCell<std::collections::HashMap<String, postgres::Statement>>);

impl Statements {
    fn get(
        &self,
        c: &mut impl GenericClient,
        sql: &str,
    ) -> Result<postgres::Statement, StoreError> {
        if let Some(s) = self.0.borrow().get(sql) {
            return Ok(s.clone());
        }
        let s = c.prepare(sql).map_err(backend)?;
        self.0.borrow_mut().insert(sql.to_owned(), s.clone());
        Ok(s)
    }
}

/// A session on the registry's schema: connected as `probity <schema>` (as
/// `pg_stat_activity` shows it, unless `url` names the application), the schema on the search
/// path (created if missing, except on a replica), and no JIT. Also whether the server is a
/// streaming replica.
fn session(url: &str, schema: &str) -> Result<(Client, bool), StoreError> {
    let cannot = |e: &dyn std::fmt::Display| {
        StoreError::Backend(format!("cannot connect to PostgreSQL at `{}`: {e}", redact(url)))
    };
    let mut config: postgres::Config = url.parse().map_err(|e| cannot(&e))?;
    if config.get_application_name().is_none() {
        config.application_name(&format!("probity {schema}"));
    }
    // A server that cannot be reached (down, restarting, cut off) is unavailable, as a lost
    // connection is: the API answers 503 and the next call tries again. A refusal (a wrong
    // password, an unknown database) is not.
    let mut client = config.connect(NoTls).map_err(|e| {
        let message = format!("cannot connect to PostgreSQL at `{}`: {e}", redact(url));
        match backend(e) {
            StoreError::Unavailable(_) => StoreError::Unavailable(message),
            _ => StoreError::Backend(message),
        }
    })?;
    // A streaming replica is read-only: it holds the schema its primary made, at the
    // primary's migration, and nothing may be created or migrated there.
    let standby: bool =
        client.query_one("SELECT pg_is_in_recovery()", &[]).map_err(backend)?.get(0);
    if standby {
        client.batch_execute(&format!("SET search_path TO {schema}")).map_err(backend)?;
    } else {
        client
            .batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema}"
            ))
            .map_err(backend)?;
    }
    // Every query here is driven by an index or a batch of keys. The planner's cost of a
    // batch lookup over ten thousand keys passes PostgreSQL's JIT thresholds, and compiling
    // it took longer than running it (about 300 ms of 370 for one batch at 1,000,000 records).
    client.batch_execute("SET jit = off").map_err(backend)?;
    Ok((client, standby))
}

fn event_at(
    c: &mut impl GenericClient,
    statements: &Statements,
    index: i64,
) -> Result<Event, StoreError> {
    let st = statements.get(c, "SELECT body FROM journal WHERE idx = $1")?;
    let row = c.query_opt(&st, &[&index]).map_err(backend)?.ok_or_else(|| StoreError::Corrupt {
        index: index as u64,
        reason: "a projection names a journal entry that does not exist".into(),
    })?;
    decode(index, row.get::<_, &[u8]>(0))
}

/// The stored log tile at tile level `level`, index `index`, if the log has reached it.
fn read_tile(
    c: &mut impl GenericClient,
    statements: &Statements,
    level: u8,
    index: u64,
) -> Result<Option<NodeTile>, StoreError> {
    let st =
        statements.get(c, "SELECT width, hashes FROM log_tiles WHERE level = $1 AND idx = $2")?;
    let Some(row) = c.query_opt(&st, &[&i16::from(level), &(index as i64)]).map_err(backend)?
    else {
        return Ok(None);
    };
    let width: i16 = row.get(0);
    Ok(Some(NodeTile::from_bytes(level, index, width as u64, row.get::<_, &[u8]>(1))?))
}

fn date_i32(d: Date) -> i32 {
    date_key(d) as i32
}

fn opt_date(v: Option<i32>) -> Result<Option<Date>, StoreError> {
    v.map(|k| from_date_key(i64::from(k))).transpose()
}

/// The number of migrations this build knows, if a schema at migration `version` is not newer.
fn known_migrations(schema: &str, version: i32) -> Result<i32, StoreError> {
    let known = MIGRATIONS.len() as i32;
    if version > known {
        return Err(StoreError::TooNew {
            location: format!("schema {schema}"),
            found: i64::from(version),
            known: i64::from(known),
        });
    }
    Ok(known)
}

/// A registry in a PostgreSQL schema.
pub struct PgStore {
    client: RefCell<Client>,
    statements: Statements,
    schema: String,
    frontier: Frontier,
    /// Where the store connects, again if the connection is lost.
    url: String,
    /// Whether a snapshot is open. A connection lost inside one is made again only after it,
    /// so that no read of a snapshot is answered outside it.
    in_snapshot: Cell<bool>,
    /// Whether a call found the connection lost.
    lost: Cell<bool>,
    /// Stored log tiles kept once read: complete nodes never change.
    tiles: RefCell<TileCache>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("schema", &self.schema).finish_non_exhaustive()
    }
}

/// Whether `s` is a plain lowercase identifier, safe to put into SQL text.
fn plain_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && s.len() <= 63
}

impl PgStore {
    /// Connects to `url` (a `postgres://` URL or key=value string) and opens the registry in
    /// `schema`, creating the schema and its tables if they are missing.
    pub fn connect(url: &str, schema: &str) -> Result<Self, StoreError> {
        if !plain_identifier(schema) {
            return Err(StoreError::Backend(format!(
                "schema name `{schema}` must be lowercase letters, digits and `_`, starting with a letter"
            )));
        }
        let (client, standby) = session(url, schema)?;
        let mut store = Self {
            client: RefCell::new(client),
            statements: Statements::default(),
            schema: schema.to_owned(),
            frontier: Frontier::default(),
            url: url.to_owned(),
            in_snapshot: Cell::new(false),
            lost: Cell::new(false),
            tiles: RefCell::default(),
        };
        if standby {
            store.check_replica()?;
        } else {
            store.migrate()?;
        }
        store.load_frontier()?;
        Ok(store)
    }

    /// Connects again if the connection was lost (the server restarted, or ended this
    /// session), unless a snapshot is open. The unit of work that met the loss failed with it;
    /// the next one runs on a new connection, with statements prepared afresh.
    fn reconnect_if_lost(&self) -> Result<(), StoreError> {
        if self.in_snapshot.get() || !(self.lost.get() || self.client.borrow().is_closed()) {
            return Ok(());
        }
        let (client, _) = session(&self.url, &self.schema)?;
        *self.client.borrow_mut() = client;
        self.statements.0.borrow_mut().clear();
        self.lost.set(false);
        tracing::warn!(schema = %self.schema, "the connection to PostgreSQL was lost; connected again");
        Ok(())
    }

    /// Runs `call` on the session: connected again first if an earlier call found it lost,
    /// and noted as lost if this call finds it so.
    fn on_session<T>(
        &self,
        call: impl FnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.reconnect_if_lost()?;
        let r = call(&mut self.client.borrow_mut());
        self.noting(r)
    }

    /// Notes whether `r` failed because the connection was lost.
    fn noting<T>(&self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if matches!(r, Err(StoreError::Unavailable(_))) {
            self.lost.set(true);
        }
        r
    }

    /// On a replica: the schema is there, at the migration this build knows.
    fn check_replica(&mut self) -> Result<(), StoreError> {
        let client = self.client.get_mut();
        let exists: bool = client
            .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
            .map_err(backend)?
            .get(0);
        let version: i32 = if exists {
            client
                .query_opt("SELECT version FROM schema_version", &[])
                .map_err(backend)?
                .map_or(0, |r| r.get(0))
        } else {
            0
        };
        let known = known_migrations(&self.schema, version)?;
        if version < known {
            return Err(StoreError::Backend(format!(
                "schema `{}` on this replica is at migration {version} of {known}; a replica \
                 is read-only, so open the registry on its primary first, which migrates it",
                self.schema
            )));
        }
        Ok(())
    }

    /// The schema the registry lives in.
    pub fn schema_name(&self) -> &str {
        &self.schema
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let client = self.client.get_mut();
        let mut tx = client.transaction().map_err(backend)?;
        let lock = log_lock(&self.schema) + 1;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock]).map_err(backend)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            .map_err(backend)?;
        let version: i32 = tx
            .query_opt("SELECT version FROM schema_version", &[])
            .map_err(backend)?
            .map_or(0, |r| r.get(0));
        let known = known_migrations(&self.schema, version)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.batch_execute(sql).map_err(backend)?;
            tracing::info!(version = i + 1, schema = %self.schema, "applied migration");
        }
        tx.execute("DELETE FROM schema_version", &[]).map_err(backend)?;
        tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&known])
            .map_err(backend)?;
        tx.commit().map_err(backend)
    }

    fn load_frontier(&mut self) -> Result<(), StoreError> {
        let size = self.log_size()?;
        self.frontier = Frontier::load(&LogNodes(self), size)?;
        Ok(())
    }

    fn query(
        &self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        self.on_session(|c| {
            let st = self.statements.get(c, sql)?;
            c.query(&st, params).map_err(backend)
        })
    }

    /// The first row `sql` gives, if any (for look-ups by a unique key).
    fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    fn event(&self, index: i64) -> Result<Event, StoreError> {
        self.noting(event_at(&mut *self.client.borrow_mut(), &self.statements, index))
    }

    fn events_listed_by(&self, sql: &str) -> Result<Vec<(u64, EventBody)>, StoreError> {
        let rows = self.query(sql, &[])?;
        rows.iter()
            .map(|r| {
                let at: i64 = r.get(0);
                Ok((at as u64, self.event(at)?.body))
            })
            .collect()
    }

    fn stored_record(&self, row: &Row) -> Result<StoredRecord, StoreError> {
        let (filed, current, last): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
        let status: String = row.get(3);
        let (record, _) = record_event(current as u64, self.event(current)?)?;
        let recorded_at = if filed == current {
            self.event(filed)?.recorded_at
        } else {
            record_event(filed as u64, self.event(filed)?)?.1
        };
        let status = RecordStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
            index: last as u64,
            reason: format!("unknown record status `{status}`"),
        })?;
        Ok(StoredRecord {
            record,
            status,
            filed_index: filed as u64,
            last_index: last as u64,
            recorded_at,
            disputed: row.get(4),
            repaired: opt_date(row.get(5))?,
        })
    }

    fn subject_codes(rows: &[Row]) -> Result<Vec<SubjectId>, StoreError> {
        rows.iter().map(|r| stored_subject_id(r.get::<_, &str>(0))).collect()
    }
}

/// A connection string with any password left out, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = url.get(scheme + 3..at).unwrap_or_default();
            let user = creds.split(':').next().unwrap_or_default();
            format!(
                "{}{user}:***{}",
                url.get(..scheme + 3).unwrap_or_default(),
                url.get(at..).unwrap_or_default()
            )
        }
        _ => url
            .split_whitespace()
            .filter(|p| !p.starts_with("password="))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

impl Store for PgStore {
    fn append(&mut self, events: &[Encoded]) -> Result<Vec<Outcome>, StoreError> {
        self.reconnect_if_lost()?;
        let appended = self.append_now(events);
        self.noting(appended)
    }

    fn subject(&self, id: &SubjectId) -> Result<Option<StoredSubject>, StoreError> {
        let Some(row) = self
            .query_opt("SELECT event, last_event FROM subjects WHERE code = $1", &[&id.as_str()])?
        else {
            return Ok(None);
        };
        let at: i64 = row.get(0);
        let last: i64 = row.get(1);
        let event = self.event(at)?;
        match event.body {
            EventBody::SubjectRegistered { subject } => Ok(Some(StoredSubject {
                last_event: last as u64,
                subject,
                index: at as u64,
                recorded_at: event.recorded_at,
            })),
            _ => Err(StoreError::Corrupt {
                index: at as u64,
                reason: "expected a subject event".into(),
            }),
        }
    }

    fn subject_columns(&self, id: &SubjectId) -> Result<Option<SubjectColumns>, StoreError> {
        let Some(row) = self.query_opt(
            "SELECT name, established, event, last_event FROM subjects WHERE code = $1",
            &[&id.as_str()],
        )?
        else {
            return Ok(None);
        };
        Ok(Some(SubjectColumns {
            name: row.get(0),
            established: opt_date(row.get(1))?,
            event: row.get::<_, i64>(2) as u64,
            last_event: row.get::<_, i64>(3) as u64,
        }))
    }

    fn authorities(&self) -> Result<Vec<Authority>, StoreError> {
        self.events_listed_by("SELECT event FROM authorities ORDER BY code")?
            .into_iter()
            .map(|(at, body)| match body {
                EventBody::AuthorityRegistered { authority } => Ok(authority),
                _ => Err(StoreError::Corrupt {
                    index: at,
                    reason: "expected an authority event".into(),
                }),
            })
            .collect()
    }

    fn record(&self, key: &RecordKey) -> Result<Option<StoredRecord>, StoreError> {
        let row = self.query_opt(
            "SELECT r.filed_event, r.current_event, r.last_event, r.status, r.disputed, r.repaired
             FROM records r JOIN authorities a ON a.id = r.authority
             WHERE a.code = $1 AND r.decision_no = $2",
            &[&key.authority.as_str(), &key.decision_no],
        )?;
        row.map(|r| self.stored_record(&r)).transpose()
    }

    fn records_of(&self, id: &SubjectId) -> Result<Vec<StoredRecord>, StoreError> {
        let rows = self.query(
            "SELECT r.filed_event, r.current_event, r.last_event, r.status, r.disputed, r.repaired
             FROM records r WHERE r.subject = (SELECT id FROM subjects WHERE code = $1)
             ORDER BY r.filed_event",
            &[&id.as_str()],
        )?;
        rows.iter().map(|r| self.stored_record(r)).collect()
    }

    fn standing_of(&self, id: &SubjectId) -> Result<Option<SubjectStanding>, StoreError> {
        let Some(subject) = self
            .query_opt("SELECT id, established FROM subjects WHERE code = $1", &[&id.as_str()])?
        else {
            return Ok(None);
        };
        let rows = self.query(
            "SELECT filed_event, kind, effective, status, repaired
             FROM records WHERE subject = $1 ORDER BY filed_event",
            &[&subject.get::<_, i64>(0)],
        )?;
        let records = rows
            .iter()
            .map(|r| {
                RecordStanding::from_columns(
                    r.get::<_, i64>(0),
                    r.get(1),
                    i64::from(r.get::<_, i32>(2)),
                    r.get::<_, &str>(3),
                    r.get::<_, Option<i32>>(4).map(i64::from),
                )
            })
            .collect::<Result<_, _>>()?;
        Ok(Some(SubjectStanding { established: opt_date(subject.get(1))?, records }))
    }

    fn standings_of(&self, ids: &[SubjectId]) -> Result<Vec<Option<SubjectStanding>>, StoreError> {
        let codes: Vec<&str> = ids.iter().map(SubjectId::as_str).collect();
        let rows = self.query(
            "SELECT k.n, s.established, r.filed_event, r.kind, r.effective, r.status, r.repaired
             FROM unnest($1::text[]) WITH ORDINALITY AS k (code, n)
             CROSS JOIN LATERAL
                 (SELECT id, established FROM subjects WHERE code = k.code OFFSET 0) s
             LEFT JOIN LATERAL
                 (SELECT filed_event, kind, effective, status, repaired FROM records
                  WHERE subject = s.id OFFSET 0) r ON true
             ORDER BY k.n, r.filed_event",
            &[&codes],
        )?;
        let mut out: Vec<Option<SubjectStanding>> = vec![None; ids.len()];
        for r in &rows {
            let n = r.get::<_, i64>(0) as usize;
            let Some(slot) = n.checked_sub(1).and_then(|i| out.get_mut(i)) else {
                continue;
            };
            let standing = match slot {
                Some(s) => s,
                None => slot.insert(SubjectStanding {
                    established: opt_date(r.get(1))?,
                    records: Vec::new(),
                }),
            };
            if let Some(filed) = r.get::<_, Option<i64>>(2) {
                standing.records.push(RecordStanding::from_columns(
                    filed,
                    r.get(3),
                    i64::from(r.get::<_, i32>(4)),
                    r.get::<_, &str>(5),
                    r.get::<_, Option<i32>>(6).map(i64::from),
                )?);
            }
        }
        Ok(out)
    }

    fn cases(
        &self,
        open_only: bool,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<CaseRow>, StoreError> {
        let after = after.map_or(-1, |a| a as i64);
        let rows = self.query(
            "SELECT a.code, r.decision_no, c.kind, c.opened, c.closed
             FROM cases c JOIN records r ON r.id = c.record JOIN authorities a ON a.id = r.authority
             WHERE c.opened > $1 AND (NOT $2 OR c.closed IS NULL)
             ORDER BY c.opened LIMIT $3",
            &[&after, &open_only, &(limit as i64)],
        )?;
        rows.iter()
            .map(|r| {
                let opened: i64 = r.get(3);
                let corrupt = |reason: String| StoreError::Corrupt { index: opened as u64, reason };
                let kind: &str = r.get(2);
                Ok(CaseRow {
                    record: RecordKey {
                        authority: Slug::parse("authority", r.get::<_, &str>(0))
                            .map_err(|e| corrupt(e.to_string()))?,
                        decision_no: r.get(1),
                    },
                    kind: CaseKind::parse(kind)
                        .ok_or_else(|| corrupt(format!("unknown case kind `{kind}`")))?,
                    opened: opened as u64,
                    closed: r.get::<_, Option<i64>>(4).map(|c| c as u64),
                })
            })
            .collect()
    }

    fn record_history(&self, key: &RecordKey) -> Result<Vec<JournalEntry>, StoreError> {
        let rows = self.query(
            "SELECT j.idx, j.body FROM records r
             JOIN authorities a ON a.id = r.authority
             JOIN record_history h ON h.record = r.id
             JOIN journal j ON j.idx = h.event
             WHERE a.code = $1 AND r.decision_no = $2 ORDER BY j.idx",
            &[&key.authority.as_str(), &key.decision_no],
        )?;
        Ok(rows
            .iter()
            .map(|r| JournalEntry {
                index: r.get::<_, i64>(0) as u64,
                bytes: r.get(1),
                withheld: None,
            })
            .collect())
    }

    fn recorded_at(&self, index: u64) -> Result<Option<Timestamp>, StoreError> {
        let row =
            self.query_opt("SELECT recorded_at FROM journal WHERE idx = $1", &[&(index as i64)])?;
        row.map(|r| {
            Timestamp::from_microsecond(r.get(0))
                .map_err(|e| StoreError::Corrupt { index, reason: e.to_string() })
        })
        .transpose()
    }

    fn code_exceptions(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .query("SELECT code FROM code_exceptions ORDER BY code", &[])?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn adopted_rulebooks(&self) -> Result<Vec<(u64, String)>, StoreError> {
        self.events_listed_by("SELECT event FROM rulebooks ORDER BY event")?
            .into_iter()
            .map(|(at, body)| match body {
                EventBody::RulebookAdopted { text, .. } => Ok((at, text)),
                _ => Err(StoreError::Corrupt {
                    index: at,
                    reason: "expected a rulebook adoption".into(),
                }),
            })
            .collect()
    }

    fn subject_ids(
        &self,
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<Vec<SubjectId>, StoreError> {
        let rows = self.query(
            "SELECT code FROM subjects WHERE code > $1 ORDER BY code LIMIT $2",
            &[&after.map_or("", |a| a.as_str()), &(limit as i64)],
        )?;
        Self::subject_codes(&rows)
    }

    fn counts(&self) -> Result<Counts, StoreError> {
        let r = self
            .query_opt(
                "SELECT (SELECT count(*) FROM subjects), (SELECT count(*) FROM authorities),
                        (SELECT count(*) FROM records), (SELECT coalesce(max(idx) + 1, 0) FROM journal),
                        (SELECT count(*) FROM code_exceptions)",
                &[],
            )?
            .ok_or_else(|| StoreError::Backend("no counts".into()))?;
        let n = |i: usize| r.get::<_, i64>(i) as u64;
        Ok(Counts {
            subjects: n(0),
            authorities: n(1),
            records: n(2),
            events: n(3),
            code_exceptions: n(4),
        })
    }

    fn log_size(&self) -> Result<u64, StoreError> {
        let r = self
            .query_opt("SELECT coalesce(max(idx) + 1, 0) FROM journal", &[])?
            .ok_or_else(|| StoreError::Backend("no log size".into()))?;
        Ok(r.get::<_, i64>(0) as u64)
    }

    fn journal(&self, from: u64, limit: usize) -> Result<Vec<JournalEntry>, StoreError> {
        let rows = self.query(
            "SELECT j.idx, j.body, w.digest FROM journal j LEFT JOIN withheld w ON w.idx = j.idx
             WHERE j.idx >= $1 ORDER BY j.idx LIMIT $2",
            &[&(from as i64), &(limit as i64)],
        )?;
        Ok(rows
            .iter()
            .map(|r| JournalEntry {
                index: r.get::<_, i64>(0) as u64,
                bytes: r.get(1),
                withheld: r
                    .get::<_, Option<Vec<u8>>>(2)
                    .and_then(|d| <[u8; 32]>::try_from(d.as_slice()).ok()),
            })
            .collect())
    }

    fn log_node(&self, level: u8, index: u64) -> Result<[u8; 32], StoreError> {
        probity_store::node_from_tiles(&self.tiles, level, index, |l, n| {
            self.on_session(|c| read_tile(c, &self.statements, l, n))
        })
    }

    fn put_assessments(&mut self, rows: &[AssessmentRow]) -> Result<(), StoreError> {
        self.reconnect_if_lost()?;
        let stored = self.store_assessments(rows);
        self.noting(stored)
    }

    fn assessment(&self, id: &SubjectId) -> Result<Option<AssessmentRow>, StoreError> {
        let Some(r) = self.query_opt(
            "SELECT as_of, grade, score, decisions, next_change, rulebook, version, explanation,
                    log_size
             FROM assessments WHERE subject = (SELECT id FROM subjects WHERE code = $1)",
            &[&id.as_str()],
        )?
        else {
            return Ok(None);
        };
        let lists = self
            .query(
                "SELECT list, since, until FROM list_entries WHERE code = $1 ORDER BY list",
                &[&id.as_str()],
            )?
            .iter()
            .map(|e| {
                Ok(ListEntry {
                    list: e.get(0),
                    since: opt_date(e.get(1))?,
                    until: opt_date(e.get(2))?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some(AssessmentRow {
            subject: *id,
            as_of: from_date_key(i64::from(r.get::<_, i32>(0)))?,
            grade: r.get(1),
            score: r.get(2),
            decisions: r.get(3),
            next_change: opt_date(r.get(4))?,
            rulebook: r.get(5),
            version: r.get(6),
            explanation: r.get(7),
            log_size: r.get::<_, i64>(8) as u64,
            lists,
        }))
    }

    fn list_entries(&self, q: ListQuery<'_>) -> Result<Vec<(SubjectId, ListEntry)>, StoreError> {
        let ListQuery { list, on, after, limit } = q;
        let rows = self.query(
            "SELECT code, since, until FROM list_entries
             WHERE list = $1 AND code > $2 AND (until IS NULL OR until > $3)
             ORDER BY code LIMIT $4",
            &[&list, &after.map_or("", |a| a.as_str()), &date_i32(on), &(limit as i64)],
        )?;
        rows.iter()
            .map(|r| {
                Ok((
                    stored_subject_id(r.get::<_, &str>(0))?,
                    ListEntry {
                        list: list.to_owned(),
                        since: opt_date(r.get(1))?,
                        until: opt_date(r.get(2))?,
                    },
                ))
            })
            .collect()
    }

    fn statistics(&self) -> Result<probity_store::Statistics, StoreError> {
        use probity_store::statistics_sql as q;
        let text = |sql: &str| -> Result<Vec<probity_store::StatisticsRow>, StoreError> {
            let rows = self.query(sql, &[])?;
            Ok(rows
                .iter()
                .map(|r| {
                    let ints = (1..r.len())
                        .map(|i| {
                            r.try_get::<_, Option<i64>>(i)
                                .or_else(|_| {
                                    r.try_get::<_, Option<i32>>(i).map(|v| v.map(i64::from))
                                })
                                .ok()
                                .flatten()
                        })
                        .collect();
                    (r.get::<_, Option<String>>(0), ints)
                })
                .collect())
        };
        Ok(probity_store::Statistics::from_rows(
            text(q::GRADES)?,
            text(q::RECORDS_BY_MONTH)?,
            text(q::LIST_ENTRIES)?,
        ))
    }

    fn begin_snapshot(&self) -> Result<(), StoreError> {
        // A snapshot serves batch reads (rating, batch checks), planned afresh as appends are.
        self.on_session(|c| {
            c.batch_execute(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
                 SET LOCAL plan_cache_mode = force_custom_plan",
            )
            .map_err(backend)
        })?;
        self.in_snapshot.set(true);
        Ok(())
    }

    fn settle(&mut self) -> Result<(), StoreError> {
        // The tables rating and checks read. Vacuuming sets the visibility map, without which
        // the covering index of records by subject cannot answer a subject's records alone
        // (each record's heap page is read too: about one random page per record after a bulk
        // load); analysing gives the planner the tables' new sizes. Neither blocks readers or
        // writers. The journal is left alone: it is read by key, from the heap.
        self.on_session(|c| {
            c.batch_execute("VACUUM (ANALYZE) subjects, records, assessments, list_entries")
                .map_err(backend)
        })
    }

    fn end_snapshot(&self) -> Result<(), StoreError> {
        self.in_snapshot.set(false);
        // A snapshot on a lost connection ended with it.
        if self.lost.get() || self.client.borrow().is_closed() {
            return Ok(());
        }
        let ended = self.client.borrow_mut().batch_execute("COMMIT").map_err(backend);
        self.noting(ended)
    }

    fn search_subjects(
        &self,
        q: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<SubjectId>, StoreError> {
        // Ranks as in the SQLite store; starts_with and strpos treat no character as a wildcard.
        let rows = self.query(
            "SELECT code FROM (
                 SELECT code, 0 AS rank, name FROM subjects WHERE code = upper($1) OR name = $1
                 UNION ALL
                 SELECT code, 1, name FROM subjects WHERE starts_with(name, $1) AND name <> $1
                 UNION ALL
                 SELECT code, 2, name FROM subjects WHERE strpos(name, $1) > 1
             ) hits
             GROUP BY code ORDER BY min(rank), min(length(name)), min(name), code LIMIT $2 OFFSET $3",
            &[&q, &(limit as i64), &(offset as i64)],
        )?;
        Self::subject_codes(&rows)
    }

    fn due_for_rating(
        &self,
        on: Date,
        (rulebook, version): (&str, &str),
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<Vec<SubjectId>, StoreError> {
        let rows = self.query(
            "SELECT s.code FROM subjects s LEFT JOIN assessments a ON a.subject = s.id
             WHERE s.code > $1
               AND (a.subject IS NULL OR a.next_change <= $2 OR a.log_size <= s.last_event
                    OR a.rulebook <> $4 OR a.version <> $5)
             ORDER BY s.code LIMIT $3",
            &[
                &after.map_or("", |a| a.as_str()),
                &date_i32(on),
                &(limit as i64),
                &rulebook,
                &version,
            ],
        )?;
        Self::subject_codes(&rows)
    }

    fn stale_subjects(
        &self,
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<Vec<SubjectId>, StoreError> {
        let rows = self.query(
            "SELECT s.code FROM subjects s LEFT JOIN assessments a ON a.subject = s.id
             WHERE s.code > $1 AND s.last_event > s.event
               AND (a.subject IS NULL OR a.log_size <= s.last_event)
             ORDER BY s.code LIMIT $2",
            &[&after.map_or("", |a| a.as_str()), &(limit as i64)],
        )?;
        Self::subject_codes(&rows)
    }

    fn put_credential(&mut self, c: &Credential) -> Result<(), StoreError> {
        self.on_session(|client| {
            client.execute(
                "INSERT INTO credentials (key_id, role, principal, secret_hash, created, expires, revoked)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &c.key_id,
                    &c.role.as_str(),
                    &c.principal,
                    &c.secret_hash,
                    &c.created.as_microsecond(),
                    &c.expires.map(|t| t.as_microsecond()),
                    &c.revoked.map(|t| t.as_microsecond()),
                ],
            )
            .map_err(backend)
        })?;
        Ok(())
    }

    fn credential(&self, key_id: &str) -> Result<Option<Credential>, StoreError> {
        let Some(r) = self.query_opt(
            "SELECT role, principal, secret_hash, created, expires, revoked FROM credentials WHERE key_id = $1",
            &[&key_id],
        )?
        else {
            return Ok(None);
        };
        let bad = |what: &str| StoreError::Backend(format!("credential `{key_id}`: bad {what}"));
        let time = |us: i64| Timestamp::from_microsecond(us).map_err(|_| bad("time"));
        Ok(Some(Credential {
            key_id: key_id.to_owned(),
            role: Role::parse(r.get(0)).ok_or_else(|| bad("role"))?,
            principal: r.get(1),
            secret_hash: r.get(2),
            created: time(r.get(3))?,
            expires: r.get::<_, Option<i64>>(4).map(time).transpose()?,
            revoked: r.get::<_, Option<i64>>(5).map(time).transpose()?,
        }))
    }

    fn revoke_credentials(
        &mut self,
        role: Role,
        principal: &str,
        at: Timestamp,
    ) -> Result<u64, StoreError> {
        self.on_session(|c| {
            c.execute(
                "UPDATE credentials SET revoked = $3 WHERE role = $1 AND principal = $2 AND revoked IS NULL",
                &[&role.as_str(), &principal, &at.as_microsecond()],
            )
            .map_err(backend)
        })
    }

    fn schema(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self
            .query(
                "SELECT table_name::text, column_name::text FROM information_schema.columns
                 WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_identifiers_name_a_schema() {
        assert!(plain_identifier("probity_test_01"));
        for bad in ["", "1abc", "Probity", "a;drop", "a b", "a-b", &"x".repeat(64)] {
            assert!(!plain_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("host=h user=u password=secret"), "host=h user=u");
    }
}
