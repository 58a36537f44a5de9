//! Appending to the journal: one transaction per batch, in which the store answers the
//! planner's look-ups and executes its row operations, and writes the log tiles the batch
//! changed.

use std::collections::HashMap;

use probity_core::{Encoded, Event, SubjectId};
use probity_store::plan::{Executor, KeyState, Lookups, Op, PlanState, Planner, Row};
use probity_store::{Outcome, RecordStatus, StoreError};
use probity_tlog::stored::TileUpdates;
use probity_tlog::{Frontier, leaf_hash};
use rusqlite::{Connection, OptionalExtension, params};

use probity_store::codec::date_key;

use super::*;

const PUT_TILE: &str = "INSERT INTO log_tiles (level, idx, width, hashes) VALUES (?1, ?2, ?3, ?4)
                        ON CONFLICT (level, idx) DO UPDATE SET width = excluded.width,
                                                               hashes = excluded.hashes";
const INSERT_JOURNAL: &str =
    "INSERT INTO journal (idx, recorded_at, type, body) VALUES (?1, ?2, ?3, ?4)";
const INSERT_RECORD: &str =
    "INSERT INTO records (key_hash, authority, decision_no, subject, kind_id, effective,
                                                   status, filed_event, current_event, last_event)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'filed', ?7, ?7, ?7)";
const INSERT_HISTORY: &str = "INSERT INTO record_history (record, event) VALUES (?1, ?2)";
const FIND_RECORD: &str = "SELECT id, filed_event, status, subject FROM records
                           WHERE key_hash = ?1 AND authority = ?2 AND decision_no = ?3";

/// One append transaction: the statements on the hot path, the caches it keeps current, and
/// what it has written so far. It answers the planner's look-ups ([`Lookups`]) and executes its
/// row operations ([`Op`]); the rules of each event kind are the planner's.
struct Appender<'t> {
    tx: &'t Connection,
    insert_journal: rusqlite::Statement<'t>,
    insert_record: rusqlite::Statement<'t>,
    find_record: rusqlite::Statement<'t>,
    insert_history: rusqlite::Statement<'t>,
    frontier: &'t mut Frontier,
    /// The log nodes this append completed, written a tile at a time before it commits.
    tiles: TileUpdates,
    authority_ids: &'t mut HashMap<String, (i64, u64)>,
    subject_ids: &'t mut HashMap<SubjectId, (i64, u64)>,
    kinds: &'t std::cell::RefCell<Kinds>,
    /// Whether any record was ever redacted: while none was, filings skip the look-up.
    any_redacted: bool,
    /// The subjects (by row) the append's events concern, with the latest such event: their
    /// `last_event` is set before the append commits.
    touched: HashMap<i64, i64>,
}

impl<'e> Lookups<'e> for Appender<'_> {
    fn subject(&mut self, id: &'e SubjectId) -> Result<Option<(Row, u64)>, StoreError> {
        if let Some(&found) = self.subject_ids.get(id) {
            return Ok(Some(found));
        }
        let found: Option<(i64, i64)> = self
            .tx
            .prepare_cached("SELECT id, event FROM subjects WHERE code = ?1")
            .and_then(|mut s| s.query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?))).optional())
            .map_err(backend)?;
        Ok(found.map(|(row, event)| {
            self.remember_subject(*id, row, event as u64);
            (row, event as u64)
        }))
    }

    fn authority(&mut self, code: &'e str) -> Result<Option<(Row, u64)>, StoreError> {
        if let Some(&found) = self.authority_ids.get(code) {
            return Ok(Some(found));
        }
        let found = self
            .tx
            .prepare_cached("SELECT id, event FROM authorities WHERE code = ?1")
            .and_then(|mut s| {
                s.query_row([code], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))).optional()
            })
            .map_err(backend)?;
        if let Some(found) = found {
            self.authority_ids.insert(code.to_owned(), found);
        }
        Ok(found)
    }

    fn record(&mut self, code: &'e str, decision_no: &'e str) -> Result<KeyState, StoreError> {
        let Some((authority, _)) = self.authority(code)? else {
            return Ok(KeyState::Free);
        };
        let hash = key_hash(code, decision_no);
        let found: Option<(i64, i64, String, i64)> = self
            .find_record
            .query_row(params![hash, authority, decision_no], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()
            .map_err(backend)?;
        if let Some((row, filed, status, subject)) = found {
            let status = RecordStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
                index: filed as u64,
                reason: format!("unknown record status `{status}`"),
            })?;
            return Ok(KeyState::Taken { row, filed: filed as u64, status, subject });
        }
        if !self.any_redacted {
            return Ok(KeyState::Free);
        }
        let redacted = self
            .tx
            .prepare_cached(
                "SELECT 1 FROM redacted_records
                 WHERE key_hash = ?1 AND authority = ?2 AND decision_no = ?3",
            )
            .and_then(|mut s| s.exists(params![hash, authority, decision_no]))
            .map_err(backend)?;
        Ok(if redacted { KeyState::Redacted } else { KeyState::Free })
    }

    fn entry(&mut self, index: u64) -> Result<Event, StoreError> {
        event_at(self.tx, index as i64)
    }

    fn rulebook(&mut self, id: &'e str, version: &'e str) -> Result<Option<u64>, StoreError> {
        self.tx
            .prepare_cached("SELECT event FROM rulebooks WHERE rulebook = ?1 AND version = ?2")
            .and_then(|mut s| s.query_row(params![id, version], |r| r.get::<_, i64>(0)).optional())
            .map(|e| e.map(|e| e as u64))
            .map_err(backend)
    }

    fn history(&mut self, record: Row) -> Result<Vec<u64>, StoreError> {
        self.tx
            .prepare_cached("SELECT event FROM record_history WHERE record = ?1 ORDER BY event")
            .and_then(|mut s| {
                s.query_map([record], |r| r.get::<_, i64>(0))?
                    .map(|i| i.map(|i| i as u64))
                    .collect::<Result<_, _>>()
            })
            .map_err(backend)
    }

    fn exception(&mut self, code: &'e str) -> Result<bool, StoreError> {
        self.tx
            .prepare_cached("SELECT 1 FROM code_exceptions WHERE code = ?1")
            .and_then(|mut s| s.exists([code]))
            .map_err(backend)
    }

    fn plan(
        &mut self,
        authority: &'e str,
        plan_no: &'e str,
    ) -> Result<Option<PlanState>, StoreError> {
        let Some((authority, _)) = self.authority(authority)? else { return Ok(None) };
        self.tx
            .prepare_cached(
                "SELECT id, planned, drawn FROM inspection_plans
                 WHERE authority = ?1 AND plan_no = ?2",
            )
            .and_then(|mut s| {
                s.query_row(params![authority, plan_no], |r| {
                    Ok(PlanState {
                        row: r.get(0)?,
                        planned: r.get::<_, i64>(1)? as u64,
                        drawn: r.get::<_, Option<i64>>(2)?.map(|d| d as u64),
                    })
                })
                .optional()
            })
            .map_err(backend)
    }

    fn target(&mut self, plan: Row, subject: Row) -> Result<bool, StoreError> {
        self.tx
            .prepare_cached("SELECT 1 FROM inspection_targets WHERE plan = ?1 AND subject = ?2")
            .and_then(|mut s| s.exists(params![plan, subject]))
            .map_err(backend)
    }
}

impl Appender<'_> {
    /// The stored body of journal entry `index`.
    fn journal_body(&self, index: u64) -> Result<Vec<u8>, StoreError> {
        self.tx
            .prepare_cached("SELECT body FROM journal WHERE idx = ?1")
            .and_then(|mut s| s.query_row([index as i64], |r| r.get(0)))
            .map_err(backend)
    }

    /// Runs a cached statement.
    fn exec(&self, sql: &str, params: impl rusqlite::Params) -> Result<usize, StoreError> {
        self.tx.prepare_cached(sql).and_then(|mut s| s.execute(params)).map_err(backend)
    }

    /// The number of record kind `kind`, given it here if it has none yet.
    fn kind_id(&mut self, kind: &str) -> Result<i64, StoreError> {
        if let Some(&id) = self.kinds.borrow().ids.get(kind) {
            return Ok(id);
        }
        let id: i64 = self
            .tx
            .prepare_cached(
                "INSERT INTO record_kinds (kind) VALUES (?1)
                 ON CONFLICT (kind) DO UPDATE SET kind = excluded.kind RETURNING id",
            )
            .and_then(|mut s| s.query_row([kind], |r| r.get(0)))
            .map_err(backend)?;
        self.kinds.borrow_mut().put(id, kind.to_owned());
        Ok(id)
    }

    fn remember_subject(&mut self, id: SubjectId, row: i64, event: u64) {
        if self.subject_ids.len() >= SUBJECT_CACHE {
            self.subject_ids.clear();
        }
        self.subject_ids.insert(id, (row, event));
    }
}

impl<'e> Executor<'e> for Appender<'_> {
    fn execute(&mut self, op: &Op<'e>) -> Result<(), StoreError> {
        match *op {
            Op::Journal { index, event } => {
                self.insert_journal
                    .execute(params![
                        index as i64,
                        event.event().recorded_at.as_microsecond(),
                        event.event().type_name(),
                        event.bytes()
                    ])
                    .map_err(backend)?;
                self.tiles.add(self.frontier.append(leaf_hash(event.leaf_data())));
            }
            Op::AddSubject { subject, event } => {
                self.exec(
                    "INSERT INTO subjects (code, name, event, established)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![
                        subject.id.as_str(),
                        subject.name,
                        event as i64,
                        subject.established.map(date_key)
                    ],
                )?;
                let row = self.tx.last_insert_rowid();
                self.exec(
                    "INSERT INTO subject_last_events (subject, last_event) VALUES (?1, ?2)",
                    params![row, event as i64],
                )?;
                self.remember_subject(subject.id, row, event);
            }
            Op::AddAuthority { authority, event } => {
                self.exec(
                    "INSERT INTO authorities (code, category, event) VALUES (?1, ?2, ?3)",
                    params![authority.id.as_str(), authority.category.as_str(), event as i64],
                )?;
                self.authority_ids
                    .insert(authority.id.to_string(), (self.tx.last_insert_rowid(), event));
            }
            Op::AddRecord { record, authority, subject, event } => {
                let kind = self.kind_id(record.kind.as_str())?;
                self.insert_record
                    .execute(params![
                        key_hash(record.authority.as_str(), &record.decision_no),
                        authority,
                        record.decision_no,
                        subject,
                        kind,
                        date_key(record.effective),
                        event as i64
                    ])
                    .map_err(backend)?;
                let row = self.tx.last_insert_rowid();
                self.insert_history.execute(params![row, event as i64]).map_err(backend)?;
            }
            Op::Correct { row, record, subject, event } => {
                let kind = self.kind_id(record.kind.as_str())?;
                self.exec(
                    "UPDATE records SET subject = ?2, kind_id = ?3, effective = ?4, status = 'corrected',
                            current_event = ?5, last_event = ?5 WHERE id = ?1",
                    params![
                        row,
                        subject,
                        kind,
                        date_key(record.effective),
                        event as i64
                    ],
                )?;
            }
            Op::Withdraw { row, event, .. } => {
                self.exec(
                    "UPDATE records SET status = 'withdrawn', last_event = ?2 WHERE id = ?1",
                    params![row, event as i64],
                )?;
            }
            Op::History { row, event } => {
                self.insert_history.execute(params![row, event as i64]).map_err(backend)?;
            }
            Op::Step { row, opens, closes, disputed, repaired, event } => {
                let event = event as i64;
                if let Some(kind) = opens {
                    self.exec(
                        "INSERT INTO cases (record, kind, opened) VALUES (?1, ?2, ?3)",
                        params![row, kind.as_str(), event],
                    )?;
                }
                if let Some(kind) = closes {
                    self.exec(
                        "UPDATE cases SET closed = ?3 WHERE record = ?1 AND kind = ?2 AND closed IS NULL",
                        params![row, kind.as_str(), event],
                    )?;
                }
                if let Some(d) = disputed {
                    self.exec("UPDATE records SET disputed = ?2 WHERE id = ?1", params![row, d])?;
                }
                if let Some(on) = repaired {
                    self.exec(
                        "UPDATE records SET repaired = ?2 WHERE id = ?1",
                        params![row, date_key(on)],
                    )?;
                }
                self.exec("UPDATE records SET last_event = ?2 WHERE id = ?1", params![row, event])?;
            }
            Op::Withhold { index } => {
                let body = self.journal_body(index)?;
                // An entry whose text was withheld before keeps the digest of its original body.
                self.exec(
                    "INSERT OR IGNORE INTO withheld (idx, digest) VALUES (?1, ?2)",
                    params![index as i64, probity_store::codec::body_digest(&body)],
                )?;
                self.exec("UPDATE journal SET body = x'' WHERE idx = ?1", [index as i64])?;
            }
            Op::WithholdText { index } => {
                let body = self.journal_body(index)?;
                if !body.is_empty() {
                    self.exec(
                        "INSERT OR IGNORE INTO withheld (idx, digest) VALUES (?1, ?2)",
                        params![index as i64, probity_store::codec::body_digest(&body)],
                    )?;
                    let published = probity_store::codec::without_free_text(index, &body)?;
                    self.exec(
                        "UPDATE journal SET body = ?2 WHERE idx = ?1",
                        params![index as i64, published],
                    )?;
                }
            }
            Op::Redact { row, event, .. } => {
                self.exec(
                    "INSERT INTO redacted_records (key_hash, authority, decision_no, event)
                     SELECT key_hash, authority, decision_no, ?2 FROM records WHERE id = ?1",
                    params![row, event as i64],
                )?;
                self.exec("DELETE FROM record_history WHERE record = ?1", [row])?;
                self.exec("DELETE FROM cases WHERE record = ?1", [row])?;
                self.exec("DELETE FROM records WHERE id = ?1", [row])?;
                self.any_redacted = true;
            }
            Op::AddRulebook { rulebook, version, effective, event } => {
                self.exec(
                    "INSERT INTO rulebooks (event, rulebook, version, effective) VALUES (?1, ?2, ?3, ?4)",
                    params![event as i64, rulebook, version, date_key(effective)],
                )?;
            }
            Op::AddException { code, event } => {
                self.exec(
                    "INSERT INTO code_exceptions (code, event) VALUES (?1, ?2)",
                    params![code, event as i64],
                )?;
            }
            Op::AddPlan { plan, authority, event } => {
                self.exec(
                    "INSERT INTO inspection_plans (authority, plan_no, planned) VALUES (?1, ?2, ?3)",
                    params![authority, plan.plan_no, event as i64],
                )?;
            }
            Op::Drawn { plan, event } => {
                self.exec(
                    "UPDATE inspection_plans SET drawn = ?2 WHERE id = ?1",
                    params![plan, event as i64],
                )?;
            }
            Op::AddTarget { plan, subject, class, team } => {
                self.exec(
                    "INSERT INTO inspection_targets (plan, subject, class, team)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![plan, subject, class, team],
                )?;
            }
            Op::Touch { subject, event } => {
                let at = self.touched.entry(subject).or_insert(event as i64);
                *at = (*at).max(event as i64);
            }
        }
        Ok(())
    }
}

impl Appender<'_> {
    /// Sets the latest event of every subject the append's events concerned, in a table of
    /// two integers a row (migration 0017).
    fn put_touched(&mut self) -> Result<(), StoreError> {
        let mut set = self
            .tx
            .prepare_cached(
                "UPDATE subject_last_events SET last_event = ?2
                 WHERE subject = ?1 AND last_event < ?2",
            )
            .map_err(backend)?;
        for (subject, idx) in std::mem::take(&mut self.touched) {
            set.execute(params![subject, idx]).map_err(backend)?;
        }
        Ok(())
    }

    /// Writes the log tiles the append's nodes changed.
    fn put_tiles(&mut self) -> Result<(), StoreError> {
        let tiles = std::mem::take(&mut self.tiles).into_tiles(|l, n| read_tile(self.tx, l, n))?;
        let mut put = self.tx.prepare_cached(PUT_TILE).map_err(backend)?;
        for tile in tiles {
            let (level, index) = tile.key();
            put.execute(params![level, index as i64, tile.width() as i64, tile.to_bytes()])
                .map_err(backend)?;
        }
        Ok(())
    }
}

impl SqliteStore {
    /// Journals and projects `events` in one transaction (see [`Store::append`]): the one held
    /// since [`Store::hold_appends`], or one of its own. If it fails, the transaction rolls
    /// back, with every append it held. (A savepoint per append would keep those, but SQLite
    /// then copies every page an append first changes into a statement journal: an import of
    /// 10,000,000 records took 657 s with one, 538 s without.)
    pub(crate) fn append_events(&mut self, events: &[Encoded]) -> Result<Vec<Outcome>, StoreError> {
        // An append on its own is held and committed at once.
        let alone = !self.held();
        self.hold()?;
        let written = write_events(
            &self.conn,
            &mut self.frontier,
            &mut self.authority_ids,
            &mut self.subject_ids,
            &self.kinds,
            events,
        );
        match written {
            Ok(outcomes) if alone => self.commit().map(|()| outcomes),
            Ok(outcomes) => Ok(outcomes),
            Err(e) => {
                self.roll_back();
                // The caches may name rows the transaction had added.
                self.forget_unwritten()?;
                Err(e)
            }
        }
    }

    /// Reloads what this handle keeps of the tables, after a rollback.
    fn forget_unwritten(&mut self) -> Result<(), StoreError> {
        self.subject_ids.clear();
        self.load_authority_ids()?;
        self.load_kinds()?;
        self.load_frontier()
    }

    /// Takes the write lock for the appends that follow, until [`SqliteStore::commit`]. The
    /// lock is taken at BEGIN, so the journal's size read then stays the size the appends
    /// extend. Another process (an import, `probity exception add`, a second server) may have
    /// appended since this handle last did: then its right edge of the log and its cache of
    /// authorities are out of date, and are reloaded.
    pub(crate) fn hold(&mut self) -> Result<(), StoreError> {
        if self.held() {
            return Ok(());
        }
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(backend)?;
        let synced = self
            .conn
            .query_row("SELECT coalesce(max(idx) + 1, 0) FROM journal", [], |r| r.get::<_, i64>(0))
            .map_err(backend)
            .and_then(|next| {
                if next as u64 == self.frontier.size() {
                    return Ok(());
                }
                tracing::debug!(from = self.frontier.size(), to = next, "the log grew elsewhere");
                self.load_frontier()?;
                self.load_authority_ids()
            });
        if synced.is_err() {
            self.roll_back();
        }
        synced
    }

    /// Commits the held appends; if that fails, rolls them all back.
    pub(crate) fn commit(&mut self) -> Result<(), StoreError> {
        if !self.held() {
            return Ok(());
        }
        match self.conn.execute_batch("COMMIT") {
            Ok(()) => Ok(()),
            Err(e) => {
                self.roll_back();
                self.forget_unwritten()?;
                Err(backend(e))
            }
        }
    }

    /// Whether appends are held: a transaction is open on the connection. Read from SQLite,
    /// not kept beside it, so a transaction SQLite rolled back by itself (a full disk, say)
    /// is not taken for one still held.
    fn held(&self) -> bool {
        !self.conn.is_autocommit()
    }

    /// Rolls back the held appends, if any.
    fn roll_back(&mut self) {
        if self.held() {
            // Fails only if SQLite has rolled the transaction back itself in between.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// Plans and writes `events` on `conn`, inside the caller's transaction, keeping the handle's
/// caches current.
fn write_events(
    conn: &Connection,
    frontier: &mut Frontier,
    authority_ids: &mut HashMap<String, (i64, u64)>,
    subject_ids: &mut HashMap<SubjectId, (i64, u64)>,
    kinds: &std::cell::RefCell<Kinds>,
    events: &[Encoded],
) -> Result<Vec<Outcome>, StoreError> {
    let mut planner = Planner::new(frontier.size());
    let mut app = Appender {
        tx: conn,
        insert_journal: conn.prepare(INSERT_JOURNAL).map_err(backend)?,
        insert_record: conn.prepare(INSERT_RECORD).map_err(backend)?,
        find_record: conn.prepare(FIND_RECORD).map_err(backend)?,
        insert_history: conn.prepare(INSERT_HISTORY).map_err(backend)?,
        frontier,
        tiles: TileUpdates::default(),
        authority_ids,
        subject_ids,
        kinds,
        any_redacted: conn
            .query_row("SELECT EXISTS (SELECT 1 FROM redacted_records)", [], |r| r.get(0))
            .map_err(backend)?,
        touched: HashMap::new(),
    };
    planner
        .apply(events, &mut app)
        .and_then(|outcomes| app.put_touched().map(|()| outcomes))
        .and_then(|outcomes| app.put_tiles().map(|()| outcomes))
}
