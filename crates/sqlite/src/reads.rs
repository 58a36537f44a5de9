//! The store's answers: every read of the [`Store`] trait, over the projections and the
//! journal (stored assessments and the subjects due for rating among them); appends and
//! storing assessments are delegated to their modules.

use probity_core::{Authority, CaseKind, Encoded, EventBody, RecordKey, SubjectId, Timestamp};
use probity_store::{
    AnswerRow, AssessmentRow, CaseRow, Counts, Credential, JournalEntry, ListEntry, ListQuery,
    Outcome, PlanRow, RecordStanding, RecordStatus, Role, Store, StoreError, StoredRecord,
    StoredSubject, SubjectColumns, SubjectStanding, TargetRow,
};
use rusqlite::{OptionalExtension, params};

use probity_store::codec::{
    authority_event, date_key, from_date_key, record_event, rulebook_event, stored_subject_id,
};

use super::*;

impl SqliteStore {
    /// The subject codes `sql` (a query of one text column) gives.
    pub(crate) fn codes(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<SubjectId>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(backend)?;
        let rows = stmt.query_map(params, |r| r.get::<_, String>(0)).map_err(backend)?;
        rows.map(|r| stored_subject_id(&r.map_err(backend)?)).collect()
    }

    /// The journal entries whose indices `sql` (a query of one integer column) lists, decoded,
    /// in the query's order.
    fn events_listed_by(&self, sql: &str) -> Result<Vec<(u64, EventBody)>, StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(backend)?;
        let indices = stmt
            .query_map([], |r| r.get::<_, i64>(0))
            .map_err(backend)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(backend)?;
        indices.into_iter().map(|at| Ok((at as u64, event_at(&self.conn, at)?.body))).collect()
    }

    fn stored_record(&self, row: RecordRow) -> Result<StoredRecord, StoreError> {
        let RecordRow { filed, current, last, status, disputed, repaired } = row;
        let (record, _) = record_event(current as u64, event_at(&self.conn, current)?)?;
        let recorded_at = if filed == current {
            event_at(&self.conn, filed)?.recorded_at
        } else {
            record_event(filed as u64, event_at(&self.conn, filed)?)?.1
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
            disputed,
            repaired: repaired.map(from_date_key).transpose()?,
        })
    }
}

/// The columns of `records` a [`StoredRecord`] is read from, in query order.
struct RecordRow {
    filed: i64,
    current: i64,
    last: i64,
    status: String,
    disputed: bool,
    repaired: Option<i64>,
}

impl RecordRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            filed: r.get(0)?,
            current: r.get(1)?,
            last: r.get(2)?,
            status: r.get(3)?,
            disputed: r.get(4)?,
            repaired: r.get(5)?,
        })
    }
}
impl Store for SqliteStore {
    fn append(&mut self, events: &[Encoded]) -> Result<Vec<Outcome>, StoreError> {
        self.append_events(events)
    }

    fn hold_appends(&mut self) -> Result<bool, StoreError> {
        self.hold().map(|()| true)
    }

    fn commit_held(&mut self) -> Result<(), StoreError> {
        self.commit()
    }

    fn subject(&self, id: &SubjectId) -> Result<Option<StoredSubject>, StoreError> {
        let at: Option<(i64, i64)> = self
            .conn
            .prepare_cached(
                "SELECT s.event, l.last_event FROM subjects s
                 JOIN subject_last_events l ON l.subject = s.id WHERE s.code = ?1",
            )
            .and_then(|mut s| s.query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?))).optional())
            .map_err(backend)?;
        let Some((at, last)) = at else { return Ok(None) };
        let event = event_at(&self.conn, at)?;
        match event.body {
            EventBody::SubjectRegistered { subject } => Ok(Some(StoredSubject {
                subject,
                index: at as u64,
                recorded_at: event.recorded_at,
                last_event: last as u64,
            })),
            _ => Err(StoreError::Corrupt {
                index: at as u64,
                reason: "expected a subject event".into(),
            }),
        }
    }

    fn subject_columns(&self, id: &SubjectId) -> Result<Option<SubjectColumns>, StoreError> {
        let row: Option<(String, Option<i64>, i64, i64)> = self
            .conn
            .prepare_cached(
                "SELECT s.name, s.established, s.event, l.last_event FROM subjects s
                 JOIN subject_last_events l ON l.subject = s.id WHERE s.code = ?1",
            )
            .and_then(|mut s| {
                s.query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                    .optional()
            })
            .map_err(backend)?;
        row.map(|(name, established, event, last)| {
            Ok(SubjectColumns {
                name,
                established: established.map(from_date_key).transpose()?,
                event: event as u64,
                last_event: last as u64,
            })
        })
        .transpose()
    }

    fn authorities(&self) -> Result<Vec<Authority>, StoreError> {
        self.events_listed_by("SELECT event FROM authorities ORDER BY code")?
            .into_iter()
            .map(|(at, body)| authority_event(at, body))
            .collect()
    }

    fn record(&self, key: &RecordKey) -> Result<Option<StoredRecord>, StoreError> {
        let Some(authority) = self.authority_row(key.authority.as_str())? else {
            return Ok(None);
        };
        let row = self
            .conn
            .prepare_cached(
                "SELECT filed_event, current_event, last_event, status, disputed, repaired FROM records
                 WHERE key_hash = ?1 AND authority = ?2 AND decision_no = ?3",
            )
            .and_then(|mut s| {
                s.query_row(
                    params![
                        key_hash(key.authority.as_str(), &key.decision_no),
                        authority,
                        key.decision_no
                    ],
                    RecordRow::read,
                )
                .optional()
            })
            .map_err(backend)?;
        row.map(|r| self.stored_record(r)).transpose()
    }

    fn records_of(&self, id: &SubjectId) -> Result<Vec<StoredRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT filed_event, current_event, last_event, status, disputed, repaired
                 FROM records WHERE subject = (SELECT id FROM subjects WHERE code = ?1)
                 ORDER BY filed_event",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([id.as_str()], RecordRow::read)
            .map_err(backend)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(backend)?;
        rows.into_iter().map(|r| self.stored_record(r)).collect()
    }

    fn standing_of(&self, id: &SubjectId) -> Result<Option<SubjectStanding>, StoreError> {
        let subject: Option<(i64, Option<i64>)> = self
            .conn
            .prepare_cached("SELECT id, established FROM subjects WHERE code = ?1")
            .and_then(|mut s| s.query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?))).optional())
            .map_err(backend)?;
        let Some((row, established)) = subject else { return Ok(None) };
        // `+?1`: compared bare with the indexed integer column, the parameter made this build
        // of SQLite (with STAT4) prepare the statement again at every new binding, a sixth of
        // a full re-rate; the unary plus keeps the same plan (a covering-index search).
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT filed_event, kind_id, effective, status, repaired
                 FROM records WHERE subject = +?1 ORDER BY filed_event",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([row], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?, r.get(4)?))
            })
            .map_err(backend)?;
        let records = rows
            .map(|row| {
                let (filed, kind, effective, status, repaired) = row.map_err(backend)?;
                RecordStanding::from_columns(
                    filed,
                    self.kind_name(kind)?,
                    effective,
                    &status,
                    repaired,
                )
            })
            .collect::<Result<_, _>>()?;
        Ok(Some(SubjectStanding {
            established: established.map(from_date_key).transpose()?,
            records,
        }))
    }

    fn code_exceptions(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt =
            self.conn.prepare("SELECT code FROM code_exceptions ORDER BY code").map_err(backend)?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn put_credential(&mut self, c: &Credential) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO credentials (key_id, role, principal, secret_hash, created, expires, revoked)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    c.key_id,
                    c.role.as_str(),
                    c.principal,
                    c.secret_hash,
                    c.created.as_microsecond(),
                    c.expires.map(|t| t.as_microsecond()),
                    c.revoked.map(|t| t.as_microsecond())
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn feed_cursor(&self, name: &str) -> Result<Option<u64>, StoreError> {
        let next = self
            .conn
            .prepare_cached("SELECT next FROM feed_cursors WHERE name = ?1")
            .and_then(|mut s| s.query_row([name], |r| r.get::<_, i64>(0)).optional())
            .map_err(backend)?;
        Ok(next.map(|n| n as u64))
    }

    fn set_feed_cursor(&mut self, name: &str, next: u64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO feed_cursors (name, next) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET next = excluded.next",
                params![name, next as i64],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn witnessed(&self, origin: &str) -> Result<Option<(u64, [u8; 32])>, StoreError> {
        let row = self
            .conn
            .prepare_cached("SELECT size, root FROM witnessed WHERE origin = ?1")
            .and_then(|mut s| {
                s.query_row([origin], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
                    .optional()
            })
            .map_err(backend)?;
        row.map(|(size, root)| witnessed_row(origin, size, root)).transpose()
    }

    fn advance_witnessed(
        &mut self,
        origin: &str,
        expected: Option<(u64, [u8; 32])>,
        size: u64,
        root: &[u8; 32],
        note: &str,
    ) -> Result<bool, StoreError> {
        // One statement, so the comparison and the write are one atomic step.
        let changed = match expected {
            None => self.conn.execute(
                "INSERT INTO witnessed (origin, size, root, note) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (origin) DO NOTHING",
                params![origin, size as i64, &root[..], note],
            ),
            Some((old, old_root)) => self.conn.execute(
                "UPDATE witnessed SET size = ?2, root = ?3, note = ?4
                 WHERE origin = ?1 AND size = ?5 AND root = ?6",
                params![origin, size as i64, &root[..], note, old as i64, &old_root[..]],
            ),
        }
        .map_err(backend)?;
        Ok(changed == 1)
    }

    fn credential(&self, key_id: &str) -> Result<Option<Credential>, StoreError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT role, principal, secret_hash, created, expires, revoked
                 FROM credentials WHERE key_id = ?1",
            )
            .and_then(|mut s| {
                s.query_row([key_id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, Option<i64>>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                    ))
                })
                .optional()
            })
            .map_err(backend)?;
        let Some((role, principal, secret_hash, created, expires, revoked)) = row else {
            return Ok(None);
        };
        let bad = |what: &str| StoreError::Backend(format!("credential `{key_id}`: bad {what}"));
        let time = |us: i64| Timestamp::from_microsecond(us).map_err(|_| bad("time"));
        Ok(Some(Credential {
            key_id: key_id.to_owned(),
            role: Role::parse(&role).ok_or_else(|| bad("role"))?,
            principal,
            secret_hash,
            created: time(created)?,
            expires: expires.map(time).transpose()?,
            revoked: revoked.map(time).transpose()?,
        }))
    }

    fn revoke_credentials(
        &mut self,
        role: Role,
        principal: &str,
        at: Timestamp,
    ) -> Result<u64, StoreError> {
        let n = self
            .conn
            .execute(
                "UPDATE credentials SET revoked = ?3
                 WHERE role = ?1 AND principal = ?2 AND revoked IS NULL",
                params![role.as_str(), principal, at.as_microsecond()],
            )
            .map_err(backend)?;
        Ok(n as u64)
    }

    fn cases(
        &self,
        open_only: bool,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<CaseRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT a.code, r.decision_no, c.kind, c.opened, c.closed
                 FROM cases c JOIN records r ON r.id = c.record JOIN authorities a ON a.id = r.authority
                 WHERE c.opened > ?1 AND (?2 = 0 OR c.closed IS NULL)
                 ORDER BY c.opened LIMIT ?3",
            )
            .map_err(backend)?;
        let after = after.map_or(-1, |a| a as i64);
        let rows = stmt
            .query_map(params![after, open_only, limit as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                ))
            })
            .map_err(backend)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(backend)?;
        rows.into_iter()
            .map(|(authority, decision_no, kind, opened, closed)| {
                let corrupt = |reason: String| StoreError::Corrupt { index: opened as u64, reason };
                Ok(CaseRow {
                    record: RecordKey {
                        authority: probity_core::Slug::parse("authority", &authority)
                            .map_err(|e| corrupt(e.to_string()))?,
                        decision_no,
                    },
                    kind: CaseKind::parse(&kind)
                        .ok_or_else(|| corrupt(format!("unknown case kind `{kind}`")))?,
                    opened: opened as u64,
                    closed: closed.map(|c| c as u64),
                })
            })
            .collect()
    }

    fn record_history(&self, key: &RecordKey) -> Result<Vec<JournalEntry>, StoreError> {
        let Some(authority) = self.authority_row(key.authority.as_str())? else {
            return Ok(Vec::new());
        };
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT j.idx, j.body FROM records r
                 JOIN record_history h ON h.record = r.id
                 JOIN journal j ON j.idx = h.event
                 WHERE r.key_hash = ?1 AND r.authority = ?2 AND r.decision_no = ?3
                 ORDER BY j.idx",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(
                params![
                    key_hash(key.authority.as_str(), &key.decision_no),
                    authority,
                    key.decision_no
                ],
                |r| {
                    Ok(JournalEntry {
                        index: r.get::<_, i64>(0)? as u64,
                        bytes: r.get(1)?,
                        withheld: None,
                    })
                },
            )
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn recorded_at(&self, index: u64) -> Result<Option<Timestamp>, StoreError> {
        let micros: Option<i64> = self
            .conn
            .prepare_cached("SELECT recorded_at FROM journal WHERE idx = ?1")
            .and_then(|mut s| s.query_row([index as i64], |r| r.get(0)).optional())
            .map_err(backend)?;
        micros
            .map(|m| {
                Timestamp::from_microsecond(m)
                    .map_err(|e| StoreError::Corrupt { index, reason: format!("recorded_at: {e}") })
            })
            .transpose()
    }

    fn put_assessments(
        &mut self,
        rows: &[AssessmentRow],
        changes: &[probity_store::AnswerChange],
    ) -> Result<(), StoreError> {
        self.store_assessments(rows, changes)
    }

    fn watched_among(&self, ids: &[SubjectId]) -> Result<Vec<SubjectId>, StoreError> {
        self.watched_among_(ids)
    }

    fn put_watchlist(&mut self, w: &probity_store::Watchlist) -> Result<(), StoreError> {
        self.put_watchlist_(w)
    }

    fn drop_watchlist(&mut self, id: &str) -> Result<bool, StoreError> {
        self.drop_watchlist_(id)
    }

    fn watchlist(&self, id: &str) -> Result<Option<probity_store::Watchlist>, StoreError> {
        Ok(self.watchlists_(Some(id), None)?.pop())
    }

    fn watchlists(&self, owner: Option<&str>) -> Result<Vec<probity_store::Watchlist>, StoreError> {
        self.watchlists_(None, owner)
    }

    fn set_delivery(
        &mut self,
        id: &str,
        url: &str,
        d: &probity_store::Delivery,
    ) -> Result<bool, StoreError> {
        self.set_delivery_(id, url, d)
    }

    fn watch(&mut self, id: &str, ids: &[SubjectId]) -> Result<u64, StoreError> {
        self.watch_(id, ids)
    }

    fn unwatch(&mut self, id: &str, ids: &[SubjectId]) -> Result<u64, StoreError> {
        self.unwatch_(id, ids)
    }

    fn watch_count(&self, id: &str) -> Result<u64, StoreError> {
        self.watch_count_(id)
    }

    fn watched(
        &self,
        id: &str,
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<Vec<SubjectId>, StoreError> {
        self.watched_(id, after, limit)
    }

    fn watched_changes(
        &self,
        id: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<probity_store::AnswerChange>, StoreError> {
        self.watched_changes_(id, after, limit)
    }

    fn last_change(&self) -> Result<u64, StoreError> {
        self.last_change_()
    }

    fn assessment(&self, id: &SubjectId) -> Result<Option<AssessmentRow>, StoreError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT as_of, grade, score, decisions, next_change, rulebook, version, explanation,
                        log_size, answers
                 FROM assessments WHERE subject = (SELECT id FROM subjects WHERE code = ?1)",
            )
            .and_then(|mut s| {
                s.query_row([id.as_str()], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get::<_, Option<i64>>(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get::<_, crate::packed::Unpacked>(7)?.0,
                        r.get::<_, i64>(8)?,
                        r.get::<_, crate::packed::Unpacked>(9)?.0,
                    ))
                })
                .optional()
            })
            .map_err(backend)?;
        let Some((
            as_of,
            grade,
            score,
            decisions,
            next,
            rulebook,
            version,
            explanation,
            size,
            answers,
        )) = row
        else {
            return Ok(None);
        };
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT list, since, until FROM list_entries WHERE code = ?1 ORDER BY list",
            )
            .map_err(backend)?;
        let lists = stmt
            .query_map([id.as_str()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                ))
            })
            .map_err(backend)?
            .map(|row| {
                let (list, since, until) = row.map_err(backend)?;
                Ok(ListEntry {
                    list,
                    since: since.map(from_date_key).transpose()?,
                    until: until.map(from_date_key).transpose()?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some(AssessmentRow {
            explanation,
            answers,
            log_size: size as u64,
            lists,
            subject: *id,
            as_of: from_date_key(as_of)?,
            grade,
            score,
            decisions,
            next_change: next.map(from_date_key).transpose()?,
            rulebook,
            version,
        }))
    }

    fn reads_in_place(&self) -> bool {
        true
    }

    fn answer_row(&self, id: &SubjectId) -> Result<Option<AnswerRow>, StoreError> {
        // One statement: the subject by its code, its assessment by the subject's row, and the
        // log's size from the last journal key.
        let row = self
            .conn
            .prepare_cached(
                "SELECT s.name, l.last_event, a.as_of, a.next_change, a.rulebook, a.version,
                        a.log_size, a.score, a.grade, a.answers,
                        (SELECT coalesce(max(idx) + 1, 0) FROM journal)
                 FROM subjects s JOIN subject_last_events l ON l.subject = s.id
                 JOIN assessments a ON a.subject = s.id WHERE s.code = ?1",
            )
            .and_then(|mut s| {
                s.query_row([id.as_str()], |r| {
                    // A stored date that is not one is the store's damage, not the driver's.
                    let as_of = from_date_key(r.get(2)?);
                    let next_change = r.get::<_, Option<i64>>(3)?.map(from_date_key).transpose();
                    Ok(match (as_of, next_change) {
                        (Ok(as_of), Ok(next_change)) => Ok(AnswerRow {
                            name: r.get(0)?,
                            last_event: r.get::<_, i64>(1)? as u64,
                            as_of,
                            next_change,
                            rulebook: r.get(4)?,
                            version: r.get(5)?,
                            rated_at_size: r.get::<_, i64>(6)? as u64,
                            score: r.get(7)?,
                            grade: r.get(8)?,
                            answers: r.get::<_, crate::packed::UnpackedBytes>(9)?.0,
                            log_size: r.get::<_, i64>(10)? as u64,
                        }),
                        (Err(e), _) | (_, Err(e)) => Err(e),
                    })
                })
                .optional()
            })
            .map_err(backend)?;
        row.transpose()
    }

    fn list_entries(&self, q: ListQuery<'_>) -> Result<Vec<(SubjectId, ListEntry)>, StoreError> {
        let ListQuery { list, on, after, limit } = q;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT code, since, until FROM list_entries
                 WHERE list = ?1 AND code > ?2 AND (until IS NULL OR until > ?3)
                 ORDER BY code LIMIT ?4",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(
                params![list, after.map_or("", |a| a.as_str()), date_key(on), limit as i64],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<i64>>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                    ))
                },
            )
            .map_err(backend)?;
        rows.map(|row| {
            let (code, since, until) = row.map_err(backend)?;
            Ok((
                stored_subject_id(&code)?,
                ListEntry {
                    list: list.to_owned(),
                    since: since.map(from_date_key).transpose()?,
                    until: until.map(from_date_key).transpose()?,
                },
            ))
        })
        .collect()
    }

    fn statistics(&self) -> Result<probity_store::Statistics, StoreError> {
        use probity_store::statistics_sql as q;
        let text = |sql: &str| -> Result<Vec<probity_store::StatisticsRow>, StoreError> {
            let mut stmt = self.conn.prepare_cached(sql).map_err(backend)?;
            let n = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    let ints = (1..n)
                        .map(|i| r.get::<_, Option<i64>>(i))
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok((r.get::<_, Option<String>>(0)?, ints))
                })
                .map_err(backend)?;
            rows.map(|r| r.map_err(backend)).collect()
        };
        Ok(probity_store::Statistics::from_rows(
            text(q::GRADES)?,
            text(q::RECORDS_BY_MONTH)?,
            text(q::LIST_ENTRIES)?,
        ))
    }

    fn begin_snapshot(&self) -> Result<(), StoreError> {
        // A deferred transaction: the WAL read lock is taken at the first read and held, with
        // its snapshot, until the end.
        if !self.conn.is_autocommit() {
            // A snapshot left open by a failed end: close it before a new one.
            self.conn.execute_batch("ROLLBACK").map_err(backend)?;
        }
        self.conn.execute_batch("BEGIN DEFERRED").map_err(backend)
    }

    fn settle(&mut self) -> Result<(), StoreError> {
        // Nothing to bring up to date: the store's plans are made once and kept (see
        // `connect`), and SQLite keeps no visibility information that reads depend on.
        Ok(())
    }

    fn end_snapshot(&self) -> Result<(), StoreError> {
        if self.conn.is_autocommit() {
            return Ok(());
        }
        self.conn.execute_batch("COMMIT").map_err(backend)
    }

    fn search_subjects(
        &self,
        q: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<SubjectId>, StoreError> {
        // Ranks: 0 the code or the whole name, 1 a name prefix, 2 a name containing the query.
        // Prefix matching is a range on the name index; the containment scan uses instr, so no
        // character of the query is a wildcard.
        self.codes(
            "SELECT code FROM (
                     SELECT code, 0 AS rank, name FROM subjects WHERE code = upper(?1) OR name = ?1
                     UNION ALL
                     SELECT code, 1, name FROM subjects WHERE name > ?1 AND name < ?1 || char(1114111)
                     UNION ALL
                     SELECT code, 2, name FROM subjects WHERE instr(name, ?1) > 1
                 )
                 GROUP BY code ORDER BY min(rank), length(name), name, code LIMIT ?2 OFFSET ?3",
            params![q, limit as i64, offset as i64],
        )
    }

    fn due_for_rating(
        &self,
        on: probity_core::Date,
        (rulebook, version): (&str, &str),
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<Vec<SubjectId>, StoreError> {
        self.codes(
            "SELECT s.code FROM subjects s JOIN subject_last_events l ON l.subject = s.id
             LEFT JOIN assessments a ON a.subject = s.id
             WHERE s.code > ?1
               AND (a.subject IS NULL OR a.next_change <= ?3 OR a.log_size <= l.last_event
                    OR a.rulebook <> ?4 OR a.version <> ?5)
             ORDER BY s.code LIMIT ?2",
            params![
                after.map_or("", |a| a.as_str()),
                limit as i64,
                date_key(on),
                rulebook,
                version
            ],
        )
    }

    fn stale_subjects(
        &self,
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<Vec<SubjectId>, StoreError> {
        self.codes(
            "SELECT s.code FROM subjects s JOIN subject_last_events l ON l.subject = s.id
             LEFT JOIN assessments a ON a.subject = s.id
             WHERE s.code > ?1 AND l.last_event > s.event
               AND (a.subject IS NULL OR a.log_size <= l.last_event)
             ORDER BY s.code LIMIT ?2",
            params![after.map_or("", |a| a.as_str()), limit as i64],
        )
    }

    fn plans(&self) -> Result<Vec<PlanRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT a.code, p.plan_no, p.planned, p.drawn FROM inspection_plans p
                 JOIN authorities a ON a.id = p.authority ORDER BY p.planned",
            )
            .map_err(backend)?;
        let rows = stmt.query_map([], plan_row).map_err(backend)?;
        rows.map(|r| r.map_err(backend)?).collect()
    }

    fn inspections_of(&self, id: &SubjectId) -> Result<Vec<TargetRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT a.code, p.plan_no, p.planned, p.drawn, t.class, t.team
                 FROM subjects s JOIN inspection_targets t ON t.subject = s.id
                 JOIN inspection_plans p ON p.id = t.plan JOIN authorities a ON a.id = p.authority
                 WHERE s.code = ?1 ORDER BY p.planned",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([id.as_str()], |r| {
                Ok((plan_row(r)?, r.get::<_, String>(4)?, r.get::<_, u32>(5)?))
            })
            .map_err(backend)?;
        rows.map(|row| {
            let (plan, class, team) = row.map_err(backend)?;
            Ok(TargetRow { plan: plan?, class, team })
        })
        .collect()
    }

    fn plan_targets(&self, planned: u64) -> Result<Vec<(SubjectId, String, u32)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT s.code, t.class, t.team FROM inspection_plans p
                 JOIN inspection_targets t ON t.plan = p.id JOIN subjects s ON s.id = t.subject
                 WHERE p.planned = ?1 ORDER BY s.code",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([planned as i64], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, u32>(2)?))
            })
            .map_err(backend)?;
        rows.map(|row| {
            let (code, class, team) = row.map_err(backend)?;
            Ok((stored_subject_id(&code)?, class, team))
        })
        .collect()
    }

    fn adopted_rulebooks(&self) -> Result<Vec<(u64, String)>, StoreError> {
        self.events_listed_by("SELECT event FROM rulebooks ORDER BY event")?
            .into_iter()
            .map(|(at, body)| rulebook_event(at, body))
            .collect()
    }

    fn subject_ids(
        &self,
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<Vec<SubjectId>, StoreError> {
        self.codes(
            "SELECT code FROM subjects WHERE code > ?1 ORDER BY code LIMIT ?2",
            params![after.map_or("", |a| a.as_str()), limit as i64],
        )
    }

    fn log_size(&self) -> Result<u64, StoreError> {
        self.conn
            .prepare_cached("SELECT coalesce(max(idx) + 1, 0) FROM journal")
            .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
            .map(|n| n as u64)
            .map_err(backend)
    }

    fn counts(&self) -> Result<Counts, StoreError> {
        self.conn
            .query_row(
                "SELECT (SELECT count(*) FROM subjects), (SELECT count(*) FROM authorities),
                        (SELECT count(*) FROM records), (SELECT coalesce(max(idx) + 1, 0) FROM journal),
                        (SELECT count(*) FROM code_exceptions)",
                [],
                |r| {
                    Ok(Counts {
                        subjects: r.get::<_, i64>(0)? as u64,
                        authorities: r.get::<_, i64>(1)? as u64,
                        records: r.get::<_, i64>(2)? as u64,
                        events: r.get::<_, i64>(3)? as u64,
                        code_exceptions: r.get::<_, i64>(4)? as u64,
                    })
                },
            )
            .map_err(backend)
    }

    fn journal(&self, from: u64, limit: usize) -> Result<Vec<JournalEntry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT j.idx, j.body, w.digest FROM journal j LEFT JOIN withheld w ON w.idx = j.idx
                 WHERE j.idx >= ?1 ORDER BY j.idx LIMIT ?2",
            )
            .map_err(backend)?;
        let rows =
            stmt.query_map(params![from as i64, limit as i64], journal_entry).map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn log_node(&self, level: u8, index: u64) -> Result<[u8; 32], StoreError> {
        probity_store::node_from_tiles(&self.tiles, level, index, |l, n| {
            read_tile(&self.conn, l, n)
        })
    }

    fn schema(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
                 WHERE m.type = 'table' ORDER BY m.name, p.cid",
            )
            .map_err(backend)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }
}

/// A plan row from the columns authority code, plan number, planned, drawn (the first four).
fn plan_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<PlanRow, StoreError>> {
    let authority: String = r.get(0)?;
    let planned = r.get::<_, i64>(2)? as u64;
    Ok(match probity_core::Slug::parse("authority", &authority) {
        Ok(authority) => Ok(PlanRow {
            key: probity_core::PlanKey { authority, plan_no: r.get(1)? },
            planned,
            drawn: r.get::<_, Option<i64>>(3)?.map(|d| d as u64),
        }),
        Err(e) => Err(StoreError::Corrupt { index: planned, reason: e.to_string() }),
    })
}

/// A `witnessed` row's size and root, checked.
fn witnessed_row(origin: &str, size: i64, root: Vec<u8>) -> Result<(u64, [u8; 32]), StoreError> {
    match (u64::try_from(size), <[u8; 32]>::try_from(root)) {
        (Ok(size), Ok(root)) => Ok((size, root)),
        _ => Err(StoreError::Backend(format!("the witnessed checkpoint of `{origin}` is corrupt"))),
    }
}
