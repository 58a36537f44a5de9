//! The embedded default store of probity: one registry is one directory holding one SQLite
//! database in WAL mode.
//!
//! Migrations are embedded and applied in order on open; a migration, once released, is never
//! edited, only followed by new ones. The schema version is SQLite's `user_version`. No rusqlite
//! type crosses this crate's public interface.

use std::collections::HashMap;
use std::path::PathBuf;

use probity_core::{Event, SubjectId};
use probity_store::{JournalEntry, StoreError};
use probity_tlog::Frontier;
use probity_tlog::stored::{NodeTile, TileCache};
use rusqlite::{Connection, OptionalExtension, params};

mod append;
mod assessments;
mod connection;
mod packed;
mod reads;
mod watch;

pub use connection::SETTINGS;

/// The database file inside a registry directory.
pub const DB_FILE: &str = "registry.sqlite";

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// The SQLite store.
pub struct SqliteStore {
    conn: Connection,
    location: PathBuf,
    /// Authority code → row id and registering event. Authorities are few; this saves a
    /// lookup per filed record.
    authority_ids: HashMap<String, (i64, u64)>,
    /// Subject code → row id and registering event, for subjects seen since open; bounded by
    /// [`SUBJECT_CACHE`].
    subject_ids: HashMap<SubjectId, (i64, u64)>,
    /// Record kinds by number and by name (migration 0016): a handful, read at open.
    kinds: std::cell::RefCell<Kinds>,
    /// The right edge of the log tree, so appends never read it back.
    frontier: Frontier,
    /// Stored log tiles kept once read: complete nodes never change.
    tiles: std::cell::RefCell<TileCache>,
}

/// Record kinds both ways.
#[derive(Default)]
struct Kinds {
    ids: HashMap<String, i64>,
    names: HashMap<i64, String>,
}

impl Kinds {
    fn put(&mut self, id: i64, kind: String) {
        self.ids.insert(kind.clone(), id);
        self.names.insert(id, kind);
    }
}

/// The most subject row ids kept in memory (about 40 bytes each).
const SUBJECT_CACHE: usize = 1 << 20;

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("location", &self.location).finish_non_exhaustive()
    }
}

fn decode(index: i64, bytes: &[u8]) -> Result<Event, StoreError> {
    Event::decode(bytes)
        .map_err(|e| StoreError::Corrupt { index: index as u64, reason: e.to_string() })
}

fn event_at(conn: &Connection, index: i64) -> Result<Event, StoreError> {
    let bytes: Vec<u8> = conn
        .prepare_cached("SELECT body FROM journal WHERE idx = ?1")
        .and_then(|mut s| s.query_row([index], |r| r.get(0)))
        .map_err(backend)?;
    decode(index, &bytes)
}

/// The stored log tile at tile level `level`, index `index`, if the log has reached it.
fn read_tile(conn: &Connection, level: u8, index: u64) -> Result<Option<NodeTile>, StoreError> {
    let row: Option<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT width, hashes FROM log_tiles WHERE level = ?1 AND idx = ?2")
        .and_then(|mut s| {
            s.query_row(params![level, index as i64], |r| Ok((r.get(0)?, r.get(1)?))).optional()
        })
        .map_err(backend)?;
    let Some((width, bytes)) = row else { return Ok(None) };
    Ok(Some(NodeTile::from_bytes(level, index, width as u64, &bytes)?))
}

/// A journal entry from a row of (index, body, digest of a withheld body).
fn journal_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<JournalEntry> {
    let digest: Option<Vec<u8>> = r.get(2)?;
    Ok(JournalEntry {
        index: r.get::<_, i64>(0)? as u64,
        bytes: r.get(1)?,
        withheld: digest.and_then(|d| <[u8; 32]>::try_from(d.as_slice()).ok()),
    })
}

/// The stable 64-bit FNV-1a hash of a record's natural key, as stored in `records.key_hash`.
fn key_hash(authority: &str, decision_no: &str) -> i64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let bytes = authority.bytes().chain([0]).chain(decision_no.bytes());
    i64::from_ne_bytes(
        bytes.fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME)).to_ne_bytes(),
    )
}

#[cfg(test)]
mod tests {
    // Tests state expectations by panicking.
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_keyed_look_up_is_prepared_once_whatever_key_is_bound() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::create(&dir.path().join("registry")).unwrap();
        let sql = "SELECT list, since, until FROM list_entries WHERE code = ?1 ORDER BY list";
        for code in ["91110000000000000A", "91110000000000000B", "91110000000000000C"] {
            let mut stmt = store.conn.prepare_cached(sql).unwrap();
            let rows = stmt.query_map([code], |_| Ok(())).unwrap().count();
            assert_eq!(rows, 0);
        }
        let stmt = store.conn.prepare_cached(sql).unwrap();
        assert_eq!(stmt.get_status(rusqlite::StatementStatus::Run), 3);
        assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0);
    }
}
