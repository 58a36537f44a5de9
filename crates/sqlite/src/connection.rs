//! Opening a registry's database: the settings every connection takes, and the embedded
//! migrations applied in order on open.

use std::collections::HashMap;
use std::path::Path;

use probity_store::{Store, StoreError};
use probity_tlog::Frontier;
use rusqlite::{Connection, OptionalExtension};

use super::*;

/// Embedded migrations, in order. Index + 1 is the schema version they bring.
pub(crate) const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_journal_and_projections.sql"),
    include_str!("../migrations/0002_due_process.sql"),
    include_str!("../migrations/0003_assessment_explanations.sql"),
    include_str!("../migrations/0004_redaction.sql"),
    include_str!("../migrations/0005_assessment_log_size.sql"),
    include_str!("../migrations/0006_records_by_subject_covering.sql"),
    include_str!("../migrations/0007_subject_established.sql"),
    include_str!("../migrations/0008_log_tiles.sql"),
    include_str!("../migrations/0009_subject_last_event.sql"),
    include_str!("../migrations/0010_inspections.sql"),
    include_str!("../migrations/0011_witnessed.sql"),
    include_str!("../migrations/0012_feed_cursors.sql"),
    include_str!("../migrations/0013_watchlists.sql"),
    include_str!("../migrations/0014_assessment_answers.sql"),
    include_str!("../migrations/0015_answers_as_lines.sql"),
    include_str!("../migrations/0016_record_kind_ids.sql"),
    include_str!("../migrations/0017_subject_last_events.sql"),
];

/// The settings every connection to a registry's database opens with (see `connect` for why).
/// Public so that benchmarks can give a peer the same ones.
pub const SETTINGS: &str = "PRAGMA page_size = 8192;
     PRAGMA journal_mode = WAL;
     PRAGMA synchronous = NORMAL;
     PRAGMA foreign_keys = OFF;
     PRAGMA busy_timeout = 5000;
     PRAGMA temp_store = MEMORY;
     PRAGMA cache_size = -131072;
     PRAGMA wal_autocheckpoint = 65536;
     PRAGMA mmap_size = 1099511627776;";

impl SqliteStore {
    /// Creates a new registry in directory `dir` (created if missing). Fails if one exists.
    pub fn create(dir: &Path) -> Result<Self, StoreError> {
        let file = dir.join(DB_FILE);
        if file.exists() {
            return Err(StoreError::Exists(dir.display().to_string()));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Backend(format!("cannot create `{}`: {e}", dir.display())))?;
        Self::connect(dir)
    }

    /// Opens the registry in directory `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        if !dir.join(DB_FILE).exists() {
            return Err(StoreError::Missing(dir.display().to_string()));
        }
        Self::connect(dir)
    }

    fn connect(dir: &Path) -> Result<Self, StoreError> {
        let file = dir.join(DB_FILE);
        let conn = Connection::open(&file).map_err(backend)?;
        // 8 KiB pages: shallower trees and fewer page look-ups; measured about 15% faster bulk
        // imports than 4 KiB (the size only applies when the file is created).
        // WAL: readers never block the writer. synchronous=NORMAL in WAL mode keeps every
        // committed transaction across a process crash; an OS crash may lose the last few, never
        // half of one. The cache is sized for bulk imports into large registries. mmap: pages
        // past the cache are read from a mapping of the file instead of copied out of the OS
        // cache by a system call each (random checks over 1,000,000 subjects: 31k to 37k req/s).
        // The whole file is mapped: the workspace builds SQLite with a cap of 1 TiB
        // (.cargo/config.toml) instead of its built-in 2 GB.
        conn.execute_batch(SETTINGS).map_err(backend)?;
        // Built with STAT4, SQLite re-prepares a statement whenever a newly bound value might
        // change its plan; it did so on every run of the store's keyed look-ups. Their plans
        // never depend on the value, so each plan is made once and kept.
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(backend)?;
        let mut store = Self {
            conn,
            location: dir.to_path_buf(),
            authority_ids: HashMap::new(),
            subject_ids: HashMap::new(),
            kinds: std::cell::RefCell::default(),
            frontier: Frontier::default(),
            tiles: std::cell::RefCell::default(),
        };
        store.migrate()?;
        store.load_authority_ids()?;
        store.load_kinds()?;
        store.load_frontier()?;
        Ok(store)
    }

    pub(crate) fn migrate(&mut self) -> Result<(), StoreError> {
        let version: i64 =
            self.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(backend)?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                location: self.location.display().to_string(),
                found: version,
                known,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction().map_err(backend)?;
            tx.execute_batch(sql).map_err(backend)?;
            tx.pragma_update(None, "user_version", i as i64 + 1).map_err(backend)?;
            tx.commit().map_err(backend)?;
            tracing::info!(version = i + 1, "applied migration");
        }
        Ok(())
    }

    pub(crate) fn load_frontier(&mut self) -> Result<(), StoreError> {
        let size = self.log_size()?;
        self.frontier = Frontier::load(&probity_store::LogNodes(self), size)?;
        Ok(())
    }

    pub(crate) fn load_authority_ids(&mut self) -> Result<(), StoreError> {
        let mut stmt =
            self.conn.prepare("SELECT code, id, event FROM authorities").map_err(backend)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, (r.get::<_, i64>(1)?, r.get::<_, i64>(2)? as u64)))
            })
            .map_err(backend)?;
        self.authority_ids = rows.collect::<Result<_, _>>().map_err(backend)?;
        Ok(())
    }

    pub(crate) fn load_kinds(&self) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare("SELECT id, kind FROM record_kinds").map_err(backend)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(backend)?;
        let mut kinds = Kinds::default();
        for row in rows {
            let (id, kind) = row.map_err(backend)?;
            kinds.put(id, kind);
        }
        *self.kinds.borrow_mut() = kinds;
        Ok(())
    }

    /// The name of record kind `id`: from the cache, or (for a handle opened before another
    /// handle added the kind) from the table.
    pub(crate) fn kind_name(&self, id: i64) -> Result<String, StoreError> {
        if let Some(kind) = self.kinds.borrow().names.get(&id) {
            return Ok(kind.clone());
        }
        let kind: String = self
            .conn
            .prepare_cached("SELECT kind FROM record_kinds WHERE id = ?1")
            .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
            .map_err(backend)?
            .ok_or_else(|| StoreError::Backend(format!("record kind {id} is not in the store")))?;
        self.kinds.borrow_mut().put(id, kind.clone());
        Ok(kind)
    }

    /// The row id of an authority: from the cache, or (for a handle opened before another
    /// handle registered it) from the table.
    pub(crate) fn authority_row(&self, code: &str) -> Result<Option<i64>, StoreError> {
        if let Some(&(row, _)) = self.authority_ids.get(code) {
            return Ok(Some(row));
        }
        self.conn
            .prepare_cached("SELECT id FROM authorities WHERE code = ?1")
            .and_then(|mut s| s.query_row([code], |r| r.get(0)).optional())
            .map_err(backend)
    }

    /// The registry directory.
    pub fn location(&self) -> &Path {
        &self.location
    }
}
