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

use postgres::{Client, GenericClient};
use probity_core::{Date, Event};
use probity_store::StoreError;
use probity_store::codec::{date_key, from_date_key};
use probity_tlog::Frontier;
use probity_tlog::stored::{NodeTile, TileCache};

mod append;
mod assessments;
mod connection;
mod reads;
mod watch;

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

fn event_at(
    c: &mut impl GenericClient,
    statements: &Statements,
    index: i64,
) -> Result<Event, StoreError> {
    let st = statements.get(c, "SELECT body FROM journal WHERE idx = $1")?;
    let row = c.query_opt(&st, &[&index]).map_err(backend)?.ok_or_else(|| missing_entry(index))?;
    decode(index, row.get::<_, &[u8]>(0))
}

/// A projection names journal entry `index`, which does not exist: the store is damaged.
fn missing_entry(index: i64) -> StoreError {
    StoreError::Corrupt {
        index: index as u64,
        reason: "a projection names a journal entry that does not exist".into(),
    }
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
    /// Whether the record keys of the last batch appended were all new, so that the next
    /// batch's filings are sent without probing their keys first (see `append_now`).
    keys_new: bool,
    /// Subjects appended by this store, or looked up by its appends, since it opened: code, row
    /// id and registering event. Those never change once committed, so a filing about one of
    /// them is not looked up again (see `append_now`).
    subject_rows: SubjectRows,
}

/// Registered subjects' rows as an append learns them, kept only once its transaction has
/// committed; at most [`SubjectRows::MOST`], emptied when full.
#[derive(Debug, Default)]
pub(crate) struct SubjectRows(std::collections::HashMap<String, (i64, i64)>);

impl SubjectRows {
    /// About 40 MB of codes and rows.
    const MOST: usize = 1 << 19;

    pub(crate) fn get(&self, code: &str) -> Option<(i64, i64)> {
        self.0.get(code).copied()
    }

    /// Keeps the registered subjects among `seen`, what a committed append found or wrote
    /// (`None`: not registered).
    pub(crate) fn learn(&mut self, seen: &std::collections::HashMap<&str, Option<(i64, i64)>>) {
        let new: Vec<(String, (i64, i64))> = seen
            .iter()
            .filter_map(|(code, row)| Some((*code, (*row)?)))
            .filter(|(code, _)| !self.0.contains_key(*code))
            .map(|(code, row)| (code.to_owned(), row))
            .collect();
        if self.0.len() + new.len() > Self::MOST {
            self.0.clear();
        }
        self.0.extend(new.into_iter().take(Self::MOST));
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("schema", &self.schema).finish_non_exhaustive()
    }
}
