//! Appending to the journal: one transaction per batch under the log's advisory lock, the
//! batch's keys looked up together, the planner's look-ups answered from what was learnt and its
//! row operations executed, new rows staged and sent with binary COPY.

use std::collections::HashMap;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::{Row, Transaction};
use probity_core::{Encoded, Event, EventBody, Record, RecordKey, SubjectId};
use probity_store::plan::{Executor, KeyState, Lookups, Op, PlanState, Planner, Row as PlanRow};
use probity_store::{Outcome, RecordStatus, StoreError};
use probity_tlog::stored::TileUpdates;
use probity_tlog::{Frontier, leaf_hash};

use crate::connection::log_lock;

use super::*;

impl PgStore {
    /// One append, under the log's lock. Another process may have appended since this one
    /// last did: then reload the log's right edge and look again.
    ///
    /// While the batches before held only new record keys, the keys of a batch's filings are
    /// not probed: the records' unique key refuses a duplicate when the batch's records are
    /// sent, and the batch runs again, probing, as do the batches after it until one has no
    /// stored key.
    pub(crate) fn append_now(&mut self, events: &[Encoded]) -> Result<Vec<Outcome>, StoreError> {
        for _ in 0..4 {
            let lock = log_lock(&self.schema);
            let client = self.client.get_mut();
            let statements = &self.statements;
            let known = &self.subject_rows;
            let mut tx = client.transaction().map_err(backend)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock]).map_err(backend)?;
            // The batch lookups join arrays of thousands of keys. A plan cached while the
            // tables were small (a new registry's first batches) would scan whole tables for
            // every batch once they are large, so this transaction plans each one afresh.
            tx.batch_execute("SET LOCAL plan_cache_mode = force_custom_plan").map_err(backend)?;
            let next: i64 = tx
                .query_one("SELECT coalesce(max(idx) + 1, 0) FROM journal", &[])
                .map_err(backend)?
                .get(0);
            if next as u64 != self.frontier.size() {
                drop(tx);
                self.load_frontier()?;
                continue;
            }
            let mut frontier = self.frontier.clone();
            let (outcomes, key_taken, seen) = {
                let mut app = Appender {
                    known,
                    keys_new: self.keys_new,
                    key_taken: false,
                    tx: &mut tx,
                    statements,
                    frontier: &mut frontier,
                    next,
                    staged: Staged::default(),
                    written: HashMap::new(),
                    fetched: HashMap::new(),
                    subjects: HashMap::new(),
                    authorities: HashMap::new(),
                    records: HashMap::new(),
                    subject_ids: RowIds::new("subjects_id_seq"),
                    record_ids: RowIds::new("records_id_seq"),
                    touched: HashMap::new(),
                };
                let t = std::time::Instant::now();
                let mut planner = Planner::new(next as u64);
                let outcomes = app.look_up(events).and_then(|()| {
                    let looked_up = t.elapsed();
                    let outcomes = planner.apply(events, &mut app)?;
                    let applied = t.elapsed();
                    app.flush()?;
                    tracing::debug!(
                        events = events.len(),
                        look_up_ms = looked_up.as_secs_f64() * 1e3,
                        apply_ms = (applied - looked_up).as_secs_f64() * 1e3,
                        flush_ms = (t.elapsed() - applied).as_secs_f64() * 1e3,
                        "append staged"
                    );
                    Ok::<Vec<Outcome>, StoreError>(outcomes)
                });
                self.keys_new = app.keys_new;
                (outcomes, app.key_taken, std::mem::take(&mut app.subjects))
            };
            if key_taken {
                drop(tx);
                tracing::debug!(
                    "a record key thought new is stored: the batch runs again, probing"
                );
                continue;
            }
            return match outcomes {
                Ok(outcomes) => {
                    let t = std::time::Instant::now();
                    tx.commit().map_err(backend)?;
                    tracing::debug!(
                        commit_ms = t.elapsed().as_secs_f64() * 1e3,
                        "append committed"
                    );
                    self.frontier = frontier;
                    self.subject_rows.learn(&seen);
                    Ok(outcomes)
                }
                Err(e) => {
                    drop(tx);
                    Err(e)
                }
            };
        }
        Err(StoreError::Backend("the log kept moving under this writer; try again".into()))
    }
}

/// A record's natural key, borrowed from the event that names it.
type Key<'e> = (&'e str, &'e str);

fn key_of(key: &RecordKey) -> Key<'_> {
    (key.authority.as_str(), key.decision_no.as_str())
}

fn record_key(record: &Record) -> Key<'_> {
    (record.authority.as_str(), record.decision_no.as_str())
}

/// Rows one append has decided to write but not yet sent. They go to PostgreSQL with binary
/// COPY, before any statement that could read them and before the transaction commits.
#[derive(Default)]
struct Staged<'e> {
    /// Journal entries: index and event.
    journal: Vec<(i64, &'e Encoded)>,
    /// Log nodes, by the tile each belongs to.
    tiles: TileUpdates,
    /// New subjects: row id, the subject, its event.
    subjects: Vec<(i64, &'e probity_core::Subject, i64)>,
    /// New records: row id, authority row, subject row, the record, its event.
    records: Vec<(i64, i64, i64, &'e Record, i64)>,
}

/// Writes `rows` with binary COPY: `sql` is the `COPY … FROM STDIN BINARY` statement, `types`
/// the types of its columns in order, and `write` puts one row.
fn copy_in<T>(
    tx: &mut Transaction<'_>,
    sql: &str,
    types: &[postgres::types::Type],
    rows: &[T],
    mut write: impl FnMut(&mut BinaryCopyInWriter<'_>, &T) -> Result<(), postgres::Error>,
) -> Result<(), postgres::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut w = BinaryCopyInWriter::new(tx.copy_in(sql)?, types);
    for row in rows {
        write(&mut w, row)?;
    }
    w.finish()?;
    Ok(())
}

/// One append transaction.
///
/// Subjects, authorities and record keys the batch names are looked up together before the
/// first event is applied, and what the append learns or writes is kept here, so filing a batch
/// takes a few round trips instead of several per event. The rows of new subjects and records,
/// journal entries and log nodes are staged and sent with COPY. Events that change rows already
/// stored (corrections, withdrawals, steps, redactions) first send what is staged, then run as
/// statements.
struct Appender<'a, 't, 'e> {
    /// Subjects' rows known from appends committed before: not looked up again.
    known: &'a crate::SubjectRows,
    /// Whether the filings' keys are taken to be new without probing ([`PgStore::keys_new`]);
    /// after the look-ups, whether the next batch may do so.
    keys_new: bool,
    /// Whether sending the records found a key taken that was not probed.
    key_taken: bool,
    tx: &'a mut Transaction<'t>,
    statements: &'a Statements,
    frontier: &'a mut Frontier,
    next: i64,
    staged: Staged<'e>,
    /// Journal entries this append wrote, by index.
    written: HashMap<i64, &'e Event>,
    /// Bodies of stored journal entries fetched with the lookups, by index.
    fetched: HashMap<i64, Vec<u8>>,
    /// Subject codes: row id and registering event, or `None` if unregistered.
    subjects: HashMap<&'e str, Option<(i64, i64)>>,
    /// Authority codes: row id and registering event, or `None` if unregistered.
    authorities: HashMap<&'e str, Option<(i64, i64)>>,
    records: HashMap<Key<'e>, KeyState>,
    /// Row ids taken from the sequences for new subjects and records, used in order.
    subject_ids: RowIds,
    record_ids: RowIds,
    /// The subjects (by row) the events concern, with the latest such event, not yet written
    /// to their `last_event`.
    touched: HashMap<i64, i64>,
}

/// Row ids taken from a table's sequence ahead of use.
struct RowIds {
    sequence: &'static str,
    ready: std::vec::IntoIter<i64>,
}

impl RowIds {
    fn new(sequence: &'static str) -> Self {
        Self { sequence, ready: Vec::new().into_iter() }
    }

    /// Takes `n` ids at once, for the rows a batch will write.
    fn take(
        &mut self,
        tx: &mut Transaction<'_>,
        statements: &Statements,
        n: usize,
    ) -> Result<(), StoreError> {
        if n > 0 {
            let st = statements.get(
                tx,
                "SELECT nextval($1::text::regclass) FROM generate_series(1, $2::bigint)",
            )?;
            let rows = tx.query(&st, &[&self.sequence, &(n as i64)]).map_err(backend)?;
            let mut ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
            ids.sort_unstable();
            self.ready = ids.into_iter();
        }
        Ok(())
    }

    /// The next id, taken from the sequence if none is ready.
    fn next(
        &mut self,
        tx: &mut Transaction<'_>,
        statements: &Statements,
    ) -> Result<i64, StoreError> {
        if let Some(id) = self.ready.next() {
            return Ok(id);
        }
        self.take(tx, statements, 1)?;
        self.ready.next().ok_or_else(|| {
            StoreError::Backend(format!("sequence `{}` gave no value", self.sequence))
        })
    }
}

impl<'e> Appender<'_, '_, 'e> {
    /// Looks up, in one query per table, every subject, authority and record key that the
    /// events name, and takes row ids for the subjects and records that are new.
    ///
    /// Each key is probed through its index by a `LATERAL (… OFFSET 0)` subquery, which the
    /// planner cannot turn into a hash join: for ten thousand keys it would otherwise scan the
    /// whole table, each batch a little longer as the registry grows.
    fn look_up(&mut self, events: &'e [Encoded]) -> Result<(), StoreError> {
        let (mut registering, mut named, mut authorities) = (Vec::new(), Vec::new(), Vec::new());
        let (mut key_authorities, mut key_numbers) = (Vec::new(), Vec::new());
        let mut keys = std::collections::HashSet::new();
        for e in events {
            match &e.event().body {
                EventBody::SubjectRegistered { subject } => registering.push(subject.id.as_str()),
                EventBody::RecordFiled { record } => {
                    named.push(record.subject.as_str());
                    authorities.push(record.authority.as_str());
                    if keys.insert(record_key(record)) {
                        key_authorities.push(record.authority.as_str());
                        key_numbers.push(record.decision_no.as_str());
                    }
                }
                _ => {}
            }
        }
        for list in [&mut registering, &mut named, &mut authorities] {
            list.sort_unstable();
            list.dedup();
        }
        for &code in registering.iter().chain(&named) {
            self.subjects.insert(code, None);
        }
        for &code in &authorities {
            self.authorities.insert(code, None);
        }
        for &key in &keys {
            self.records.insert(key, KeyState::Free);
        }
        if !registering.is_empty() {
            for r in self.probe(
                "SELECT s.code, s.id, s.event, j.body FROM unnest($1::text[]) AS k (code)
                 CROSS JOIN LATERAL
                     (SELECT code, id, event FROM subjects WHERE code = k.code OFFSET 0) s
                 CROSS JOIN LATERAL (SELECT body FROM journal WHERE idx = s.event OFFSET 0) j",
                &[&registering],
            )? {
                let code = self.interned(&registering, r.get(0));
                self.subjects.insert(code, Some((r.get(1), r.get(2))));
                self.fetched.insert(r.get(2), r.get(3));
            }
        }
        // A subject registered in a committed append keeps its row and event: one this store
        // has seen is not looked up again.
        named.retain(|&code| match self.known.get(code) {
            Some(row) => {
                self.subjects.insert(code, Some(row));
                false
            }
            None => true,
        });
        if !named.is_empty() {
            for r in self.probe(
                "SELECT s.code, s.id, s.event FROM unnest($1::text[]) AS k (code)
                 CROSS JOIN LATERAL
                     (SELECT code, id, event FROM subjects WHERE code = k.code OFFSET 0) s",
                &[&named],
            )? {
                let code = self.interned(&named, r.get(0));
                self.subjects.insert(code, Some((r.get(1), r.get(2))));
            }
        }
        if !authorities.is_empty() {
            for r in self.probe(
                "SELECT code, id, event FROM authorities WHERE code = ANY($1)",
                &[&authorities],
            )? {
                let code = self.interned(&authorities, r.get(0));
                self.authorities.insert(code, Some((r.get(1), r.get(2))));
            }
        }
        // Keys taken to be new are not probed. That holds only where nothing but a filing
        // reads a key's state: a filing reads it after every other check, so a stored key
        // that passes them is sent and refused by the records' unique index, while an event
        // that changes a record would read `Free` and be refused as unknown, a different
        // outcome. So a batch with any other event than registrations and filings probes.
        // A redacted key is not in `records`, where its unique index would refuse it, so
        // while any record is redacted every key is probed too.
        let only_filings = events.iter().all(|e| {
            matches!(
                e.event().body,
                EventBody::SubjectRegistered { .. }
                    | EventBody::AuthorityRegistered { .. }
                    | EventBody::RecordFiled { .. }
            )
        });
        self.keys_new &= only_filings;
        if self.keys_new && !keys.is_empty() {
            let st =
                self.statements.get(self.tx, "SELECT EXISTS (SELECT 1 FROM redacted_records)")?;
            self.keys_new = !self.tx.query_one(&st, &[]).map_err(backend)?.get::<_, bool>(0);
        }
        let probed = !self.keys_new;
        // A key whose authority is not registered names no stored record: it stays free.
        let (mut key_rows, mut key_numbers_known, mut key_at) =
            (Vec::new(), Vec::new(), Vec::new());
        if probed {
            for (i, (a, d)) in key_authorities.iter().zip(&key_numbers).enumerate() {
                if let Some(Some((row, _))) = self.authorities.get(a) {
                    key_rows.push(*row);
                    key_numbers_known.push(*d);
                    key_at.push(i);
                }
            }
        }
        if !key_rows.is_empty() {
            let found = self.probe(
                "SELECT k.n, r.id, r.filed_event, r.status, j.body, r.subject
                 FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS k (authority, decision_no, n)
                 LEFT JOIN LATERAL
                     (SELECT id, filed_event, status, subject FROM records
                      WHERE authority = k.authority AND decision_no = k.decision_no OFFSET 0) r
                     ON true
                 LEFT JOIN LATERAL
                     (SELECT body FROM journal WHERE idx = r.filed_event OFFSET 0) j ON true
                 LEFT JOIN LATERAL
                     (SELECT true AS redacted FROM redacted_records
                      WHERE authority = k.authority AND decision_no = k.decision_no OFFSET 0) d
                     ON true
                 WHERE r.id IS NOT NULL OR d.redacted",
                &[&key_rows, &key_numbers_known],
            )?;
            for r in found {
                let n = (r.get::<_, i64>(0) as usize).wrapping_sub(1);
                let Some(&i) = key_at.get(n) else { continue };
                let (Some(&a), Some(&d)) = (key_authorities.get(i), key_numbers.get(i)) else {
                    continue;
                };
                let state = match (r.get::<_, Option<i64>>(1), r.get::<_, Option<i64>>(2)) {
                    (Some(id), Some(filed)) => {
                        if let Some(body) = r.get::<_, Option<Vec<u8>>>(4) {
                            self.fetched.insert(filed, body);
                        }
                        taken(id, filed, &r.get::<_, String>(3), r.get(5))?
                    }
                    _ => KeyState::Redacted,
                };
                self.records.insert((a, d), state);
            }
        }
        if probed {
            // The next batch probes again unless this one's keys were all new.
            self.keys_new = self.records.values().all(|s| matches!(s, KeyState::Free));
        }
        let new_subjects =
            registering.iter().filter(|c| matches!(self.subjects.get(*c), Some(None))).count();
        let new_records = self.records.values().filter(|s| matches!(s, KeyState::Free)).count();
        self.subject_ids.take(self.tx, self.statements, new_subjects)?;
        self.record_ids.take(self.tx, self.statements, new_records)?;
        Ok(())
    }

    /// Runs one query of the batch look-up in the append's transaction.
    fn probe(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let st = self.statements.get(self.tx, sql)?;
        self.tx.query(&st, params).map_err(backend)
    }

    /// The code in `codes` (borrowed from the events) equal to `found`.
    fn interned(&self, codes: &[&'e str], found: &str) -> &'e str {
        codes.binary_search(&found).ok().and_then(|i| codes.get(i)).copied().unwrap_or_default()
    }

    /// Sends every staged row.
    fn flush(&mut self) -> Result<(), StoreError> {
        use postgres::types::Type;
        let staged = std::mem::take(&mut self.staged);
        copy_in(
            self.tx,
            "COPY journal (idx, recorded_at, type, body) FROM STDIN (FORMAT binary)",
            &[Type::INT8, Type::INT8, Type::TEXT, Type::BYTEA],
            &staged.journal,
            |w, (idx, e)| {
                let event = e.event();
                w.write(&[idx, &event.recorded_at.as_microsecond(), &event.type_name(), &e.bytes()])
            },
        )
        .map_err(backend)?;
        self.put_tiles(staged.tiles)?;
        copy_in(
            self.tx,
            "COPY subjects (id, code, name, event, established, last_event)
             FROM STDIN (FORMAT binary)",
            &[Type::INT8, Type::TEXT, Type::TEXT, Type::INT8, Type::INT4, Type::INT8],
            &staged.subjects,
            |w, (id, s, event)| {
                w.write(&[id, &s.id.as_str(), &s.name, event, &s.established.map(date_i32), event])
            },
        )
        .map_err(backend)?;
        copy_in(
            self.tx,
            "COPY records (id, authority, decision_no, subject, kind, effective, status,
                           filed_event, current_event, last_event)
             FROM STDIN (FORMAT binary)",
            &[
                Type::INT8,
                Type::INT8,
                Type::TEXT,
                Type::INT8,
                Type::TEXT,
                Type::INT4,
                Type::TEXT,
                Type::INT8,
                Type::INT8,
                Type::INT8,
            ],
            &staged.records,
            |w, (id, authority, subject, r, event)| {
                let status = RecordStatus::Filed.as_str();
                w.write(&[
                    id,
                    authority,
                    &r.decision_no,
                    subject,
                    &r.kind.as_str(),
                    &date_i32(r.effective),
                    &status,
                    event,
                    event,
                    event,
                ])
            },
        )
        .map_err(|e| {
            // A key taken to be new, and not probed, is stored: the batch runs again.
            let taken = e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION);
            if taken && self.keys_new {
                (self.key_taken, self.keys_new) = (true, false);
            }
            backend(e)
        })?;
        copy_in(
            self.tx,
            "COPY record_history (record, event) FROM STDIN (FORMAT binary)",
            &[Type::INT8, Type::INT8],
            &staged.records,
            |w, (id, _, _, _, event)| w.write(&[id, event]),
        )
        .map_err(backend)?;
        if !self.touched.is_empty() {
            let (rows, events): (Vec<i64>, Vec<i64>) =
                std::mem::take(&mut self.touched).into_iter().unzip();
            // Each subject is found through its index and updated by its position: joined
            // plainly, the planner hashed the whole table for every batch (`EXPLAIN ANALYZE`,
            // 100,000 subjects: 94 ms against 79 ms this way), and would hash more as it grew.
            self.exec(
                "UPDATE subjects s SET last_event = t.event
                 FROM unnest($1::bigint[], $2::bigint[]) AS t (id, event)
                 CROSS JOIN LATERAL (SELECT ctid FROM subjects WHERE id = t.id OFFSET 0) r
                 WHERE s.ctid = r.ctid AND s.last_event < t.event",
                &[&rows, &events],
            )?;
        }
        Ok(())
    }

    /// Notes that the event at `idx` concerns the subject at row `subject`; its `last_event`
    /// is set when the append next sends what it staged.
    fn touch(&mut self, subject: i64, idx: i64) {
        let at = self.touched.entry(subject).or_insert(idx);
        *at = (*at).max(idx);
    }

    /// Writes the log tiles that `tiles` changes, in one statement.
    fn put_tiles(&mut self, tiles: TileUpdates) -> Result<(), StoreError> {
        let statements = self.statements;
        let tiles = tiles.into_tiles(|l, n| read_tile(self.tx, statements, l, n))?;
        if tiles.is_empty() {
            return Ok(());
        }
        let (mut levels, mut indices, mut widths, mut bytes) = (vec![], vec![], vec![], vec![]);
        for tile in &tiles {
            let (level, index) = tile.key();
            levels.push(i16::from(level));
            indices.push(index as i64);
            widths.push(tile.width() as i16);
            bytes.push(tile.to_bytes());
        }
        self.exec(
            "INSERT INTO log_tiles (level, idx, width, hashes)
             SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::smallint[], $4::bytea[])
             ON CONFLICT (level, idx) DO UPDATE SET width = excluded.width, hashes = excluded.hashes",
            &[&levels, &indices, &widths, &bytes],
        )
        .map(drop)
    }

    fn journal(&mut self, encoded: &'e Encoded) -> i64 {
        let idx = self.next;
        self.staged.journal.push((idx, encoded));
        self.written.insert(idx, encoded.event());
        self.staged.tiles.add(self.frontier.append(leaf_hash(encoded.leaf_data())));
        self.next += 1;
        idx
    }

    /// The journal entry at `index`, which this append wrote or which is stored.
    fn entry(&mut self, index: i64) -> Result<Event, StoreError> {
        if let Some(&e) = self.written.get(&index) {
            return Ok(e.clone());
        }
        if let Some(bytes) = self.fetched.get(&index) {
            return decode(index, bytes);
        }
        event_at(self.tx, self.statements, index)
    }

    fn one_row(&mut self, sql: &str, key: &str) -> Result<Option<(i64, i64)>, StoreError> {
        let st = self.statements.get(self.tx, sql)?;
        Ok(self.tx.query_opt(&st, &[&key]).map_err(backend)?.map(|r| (r.get(0), r.get(1))))
    }

    /// Row id and registering event of an authority.
    fn authority(&mut self, code: &'e str) -> Result<Option<(i64, i64)>, StoreError> {
        if let Some(&found) = self.authorities.get(code) {
            return Ok(found);
        }
        let found = self.one_row("SELECT id, event FROM authorities WHERE code = $1", code)?;
        self.authorities.insert(code, found);
        Ok(found)
    }

    /// Row id and registering event of a subject.
    fn subject(&mut self, id: &'e SubjectId) -> Result<Option<(i64, i64)>, StoreError> {
        if let Some(&found) = self.subjects.get(id.as_str()) {
            return Ok(found);
        }
        let found = self.one_row("SELECT id, event FROM subjects WHERE code = $1", id.as_str())?;
        self.subjects.insert(id.as_str(), found);
        Ok(found)
    }

    fn record_state(&mut self, key: Key<'e>) -> Result<KeyState, StoreError> {
        if let Some(state) = self.records.get(&key) {
            return Ok(state.clone());
        }
        let st = self.statements.get(
            self.tx,
            "SELECT r.id, r.filed_event, r.status, r.subject FROM records r
             JOIN authorities a ON a.id = r.authority
             WHERE a.code = $1 AND r.decision_no = $2",
        )?;
        let state = match self.tx.query_opt(&st, &[&key.0, &key.1]).map_err(backend)? {
            Some(r) => taken(r.get(0), r.get(1), &r.get::<_, String>(2), r.get(3))?,
            None => {
                let st = self.statements.get(
                    self.tx,
                    "SELECT 1 FROM redacted_records d JOIN authorities a ON a.id = d.authority
                     WHERE a.code = $1 AND d.decision_no = $2",
                )?;
                if self.tx.query_opt(&st, &[&key.0, &key.1]).map_err(backend)?.is_some() {
                    KeyState::Redacted
                } else {
                    KeyState::Free
                }
            }
        };
        self.records.insert(key, state.clone());
        Ok(state)
    }

    /// Keeps what this append knows of a record current after a statement changed its status
    /// and (by a correction) its subject.
    fn set_status(&mut self, key: Key<'e>, to: RecordStatus, about: Option<i64>) {
        if let Some(KeyState::Taken { status, subject, .. }) = self.records.get_mut(&key) {
            *status = to;
            if let Some(about) = about {
                *subject = about;
            }
        }
    }

    fn exec(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        let st = self.statements.get(self.tx, sql)?;
        self.tx.execute(&st, params).map_err(backend)
    }
}

/// New subjects, records and journal entries are staged for COPY; an operation on stored rows
/// first sends what is staged.
impl<'e> Executor<'e> for Appender<'_, '_, 'e> {
    fn execute(&mut self, op: &Op<'e>) -> Result<(), StoreError> {
        match *op {
            Op::Journal { index, event } => {
                let idx = self.journal(event);
                assert_eq!(idx as u64, index, "the planner and the append agree on the index");
            }
            Op::AddSubject { subject, event } => {
                let id = self.subject_ids.next(self.tx, self.statements)?;
                self.staged.subjects.push((id, subject, event as i64));
                self.subjects.insert(subject.id.as_str(), Some((id, event as i64)));
            }
            Op::AddAuthority { authority, event } => {
                let st = self.statements.get(
                    self.tx,
                    "INSERT INTO authorities (code, category, event) VALUES ($1, $2, $3) RETURNING id",
                )?;
                let id: i64 = self
                    .tx
                    .query_one(
                        &st,
                        &[&authority.id.as_str(), &authority.category.as_str(), &(event as i64)],
                    )
                    .map_err(backend)?
                    .get(0);
                self.authorities.insert(authority.id.as_str(), Some((id, event as i64)));
            }
            Op::AddRecord { record, authority, subject, event } => {
                let id = self.record_ids.next(self.tx, self.statements)?;
                self.staged.records.push((id, authority, subject, record, event as i64));
                let state =
                    KeyState::Taken { row: id, filed: event, status: RecordStatus::Filed, subject };
                self.records.insert(record_key(record), state);
            }
            Op::Correct { row, record, subject, event } => {
                self.flush()?;
                self.exec(
                    "UPDATE records SET subject = $2, kind = $3, effective = $4, status = 'corrected',
                            current_event = $5, last_event = $5 WHERE id = $1",
                    &[&row, &subject, &record.kind.as_str(), &date_i32(record.effective), &(event as i64)],
                )?;
                self.set_status(record_key(record), RecordStatus::Corrected, Some(subject));
            }
            Op::Withdraw { row, key, event } => {
                self.flush()?;
                self.exec(
                    "UPDATE records SET status = 'withdrawn', last_event = $2 WHERE id = $1",
                    &[&row, &(event as i64)],
                )?;
                self.set_status(key_of(key), RecordStatus::Withdrawn, None);
            }
            Op::History { row, event } => {
                self.flush()?;
                self.exec(
                    "INSERT INTO record_history (record, event) VALUES ($1, $2)",
                    &[&row, &(event as i64)],
                )?;
            }
            Op::Step { row, opens, closes, disputed, repaired, event } => {
                self.flush()?;
                let event = event as i64;
                if let Some(kind) = opens {
                    self.exec(
                        "INSERT INTO cases (record, kind, opened) VALUES ($1, $2, $3)",
                        &[&row, &kind.as_str(), &event],
                    )?;
                }
                if let Some(kind) = closes {
                    self.exec(
                        "UPDATE cases SET closed = $3 WHERE record = $1 AND kind = $2 AND closed IS NULL",
                        &[&row, &kind.as_str(), &event],
                    )?;
                }
                if let Some(d) = disputed {
                    self.exec("UPDATE records SET disputed = $2 WHERE id = $1", &[&row, &d])?;
                }
                if let Some(on) = repaired {
                    self.exec(
                        "UPDATE records SET repaired = $2 WHERE id = $1",
                        &[&row, &date_i32(on)],
                    )?;
                }
                self.exec("UPDATE records SET last_event = $2 WHERE id = $1", &[&row, &event])?;
            }
            Op::Withhold { index } => {
                self.flush()?;
                let i = index as i64;
                let st = self.statements.get(self.tx, "SELECT body FROM journal WHERE idx = $1")?;
                let body: Vec<u8> = self.tx.query_one(&st, &[&i]).map_err(backend)?.get(0);
                // An entry whose text was withheld before keeps the digest of its original body.
                let digest = probity_store::codec::body_digest(&body);
                self.exec(
                    "INSERT INTO withheld (idx, digest) VALUES ($1, $2) ON CONFLICT (idx) DO NOTHING",
                    &[&i, &&digest[..]],
                )?;
                self.exec("UPDATE journal SET body = '' WHERE idx = $1", &[&i])?;
                self.fetched.remove(&i);
            }
            Op::WithholdText { index } => {
                self.flush()?;
                let i = index as i64;
                let st = self.statements.get(self.tx, "SELECT body FROM journal WHERE idx = $1")?;
                let body: Vec<u8> = self.tx.query_one(&st, &[&i]).map_err(backend)?.get(0);
                if !body.is_empty() {
                    let digest = probity_store::codec::body_digest(&body);
                    self.exec(
                        "INSERT INTO withheld (idx, digest) VALUES ($1, $2) ON CONFLICT (idx) DO NOTHING",
                        &[&i, &&digest[..]],
                    )?;
                    let published = probity_store::codec::without_free_text(index, &body)?;
                    self.exec("UPDATE journal SET body = $2 WHERE idx = $1", &[&i, &published])?;
                    self.fetched.remove(&i);
                }
            }
            Op::Redact { row, key, event } => {
                self.flush()?;
                self.exec(
                    "INSERT INTO redacted_records (authority, decision_no, event)
                     SELECT authority, decision_no, $2 FROM records WHERE id = $1",
                    &[&row, &(event as i64)],
                )?;
                self.exec("DELETE FROM record_history WHERE record = $1", &[&row])?;
                self.exec("DELETE FROM cases WHERE record = $1", &[&row])?;
                self.exec("DELETE FROM records WHERE id = $1", &[&row])?;
                self.records.insert(key_of(key), KeyState::Redacted);
            }
            Op::AddRulebook { rulebook, version, effective, event } => {
                self.exec(
                    "INSERT INTO rulebooks (event, rulebook, version, effective) VALUES ($1, $2, $3, $4)",
                    &[&(event as i64), &rulebook, &version, &date_i32(effective)],
                )?;
            }
            Op::AddException { code, event } => {
                self.exec(
                    "INSERT INTO code_exceptions (code, event) VALUES ($1, $2)",
                    &[&code, &(event as i64)],
                )?;
            }
            Op::AddPlan { plan, authority, event } => {
                self.exec(
                    "INSERT INTO inspection_plans (authority, plan_no, planned) VALUES ($1, $2, $3)",
                    &[&authority, &plan.plan_no, &(event as i64)],
                )?;
            }
            Op::Drawn { plan, event } => {
                // The targets name subject rows, which an earlier event of the batch may have
                // staged.
                self.flush()?;
                self.exec(
                    "UPDATE inspection_plans SET drawn = $2 WHERE id = $1",
                    &[&plan, &(event as i64)],
                )?;
            }
            Op::AddTarget { plan, subject, class, team } => {
                self.exec(
                    "INSERT INTO inspection_targets (plan, subject, class, team)
                     VALUES ($1, $2, $3, $4)",
                    &[&plan, &subject, &class, &(team as i32)],
                )?;
            }
            Op::Touch { subject, event } => self.touch(subject, event as i64),
        }
        Ok(())
    }
}

impl<'e> Lookups<'e> for Appender<'_, '_, 'e> {
    fn subject(&mut self, id: &'e SubjectId) -> Result<Option<(PlanRow, u64)>, StoreError> {
        Ok(Appender::subject(self, id)?.map(|(row, event)| (row, event as u64)))
    }

    fn authority(&mut self, code: &'e str) -> Result<Option<(PlanRow, u64)>, StoreError> {
        Ok(Appender::authority(self, code)?.map(|(row, event)| (row, event as u64)))
    }

    fn record(&mut self, authority: &'e str, decision_no: &'e str) -> Result<KeyState, StoreError> {
        self.record_state((authority, decision_no))
    }

    fn entry(&mut self, index: u64) -> Result<Event, StoreError> {
        Appender::entry(self, index as i64)
    }

    fn rulebook(&mut self, id: &'e str, version: &'e str) -> Result<Option<u64>, StoreError> {
        let st = self
            .statements
            .get(self.tx, "SELECT event FROM rulebooks WHERE rulebook = $1 AND version = $2")?;
        Ok(self
            .tx
            .query_opt(&st, &[&id, &version])
            .map_err(backend)?
            .map(|r| r.get::<_, i64>(0) as u64))
    }

    fn history(&mut self, record: PlanRow) -> Result<Vec<u64>, StoreError> {
        self.flush()?;
        let st = self
            .statements
            .get(self.tx, "SELECT event FROM record_history WHERE record = $1 ORDER BY event")?;
        Ok(self
            .tx
            .query(&st, &[&record])
            .map_err(backend)?
            .iter()
            .map(|r| r.get::<_, i64>(0) as u64)
            .collect())
    }

    fn exception(&mut self, code: &'e str) -> Result<bool, StoreError> {
        let st = self.statements.get(self.tx, "SELECT 1 FROM code_exceptions WHERE code = $1")?;
        Ok(self.tx.query_opt(&st, &[&code]).map_err(backend)?.is_some())
    }

    fn plan(
        &mut self,
        authority: &'e str,
        plan_no: &'e str,
    ) -> Result<Option<PlanState>, StoreError> {
        let Some((authority, _)) = Appender::authority(self, authority)? else { return Ok(None) };
        let st = self.statements.get(
            self.tx,
            "SELECT id, planned, drawn FROM inspection_plans WHERE authority = $1 AND plan_no = $2",
        )?;
        Ok(self.tx.query_opt(&st, &[&authority, &plan_no]).map_err(backend)?.map(|r| PlanState {
            row: r.get(0),
            planned: r.get::<_, i64>(1) as u64,
            drawn: r.get::<_, Option<i64>>(2).map(|d| d as u64),
        }))
    }

    fn target(&mut self, plan: PlanRow, subject: PlanRow) -> Result<bool, StoreError> {
        // The subject's row may be staged with the batch; the targets were written by an
        // earlier event, which flushed.
        let st = self
            .statements
            .get(self.tx, "SELECT 1 FROM inspection_targets WHERE plan = $1 AND subject = $2")?;
        Ok(self.tx.query_opt(&st, &[&plan, &subject]).map_err(backend)?.is_some())
    }
}

/// A record key taken by a stored record, from its columns.
fn taken(row: i64, filed: i64, status: &str, subject: i64) -> Result<KeyState, StoreError> {
    let status = RecordStatus::parse(status).ok_or_else(|| StoreError::Corrupt {
        index: filed as u64,
        reason: format!("unknown record status `{status}`"),
    })?;
    Ok(KeyState::Taken { row, filed: filed as u64, status, subject })
}
