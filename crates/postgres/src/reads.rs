//! The store's answers: every read of the [`Store`] trait, over the projections and the
//! journal (stored assessments and the subjects due for rating among them); appends and
//! storing assessments are delegated to their modules.

use postgres::Row;
use probity_core::{
    Authority, CaseKind, Date, Encoded, EventBody, RecordKey, Slug, SubjectId, Timestamp,
};
use probity_store::codec::{authority_event, record_event, rulebook_event, stored_subject_id};
use probity_store::{
    AnswerRow, AssessmentRow, CaseRow, Counts, Credential, JournalEntry, ListEntry, ListQuery,
    Outcome, PlanRow, RecordStanding, RecordStatus, Role, Store, StoreError, StoredRecord,
    StoredSubject, SubjectColumns, SubjectStanding, TargetRow,
};

use super::*;

/// A statement that reads stored records (`records r`) as [`PgStore::stored_record`] takes
/// them: their events' places and state, then the bodies of the current event and, when that
/// is not the filing, of the filing, all in one statement (a round trip per event made a
/// profile of many records slow). The rest of the statement follows the joins. A literal, as
/// all SQL here is.
macro_rules! records_with_events {
    ($($rest:literal),+) => {
        concat!(
            "SELECT r.filed_event, r.current_event, r.last_event, r.status, r.disputed, ",
            "r.repaired, jc.body, jf.body FROM records r ",
            "LEFT JOIN journal jc ON jc.idx = r.current_event ",
            "LEFT JOIN journal jf ON jf.idx = r.filed_event AND r.filed_event <> r.current_event ",
            $($rest),+
        )
    };
}

impl PgStore {
    pub(crate) fn query(
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
    pub(crate) fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The events `sql` lists, each as its journal index and body (`NULL` if the entry does
    /// not exist), read in that one statement and each taken as `what` it must be.
    fn events_listed_by<T>(
        &self,
        sql: &str,
        what: impl Fn(u64, EventBody) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = self.query(sql, &[])?;
        rows.iter()
            .map(|r| {
                let at: i64 = r.get(0);
                let body = r.get::<_, Option<&[u8]>>(1).ok_or_else(|| missing_entry(at))?;
                what(at as u64, decode(at, body)?.body)
            })
            .collect()
    }

    /// A record from a row of a statement made by [`records_with_events`].
    pub(crate) fn stored_record(&self, row: &Row) -> Result<StoredRecord, StoreError> {
        let (filed, current, last): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
        let status: String = row.get(3);
        let body = row.get::<_, Option<&[u8]>>(6).ok_or_else(|| missing_entry(current))?;
        let (record, at) = record_event(current as u64, decode(current, body)?)?;
        // The filing's time: the current event's when it is the filing, else the filing's own.
        let recorded_at = match row.get::<_, Option<&[u8]>>(7) {
            Some(body) => record_event(filed as u64, decode(filed, body)?)?.1,
            None if filed == current => at,
            None => return Err(missing_entry(filed)),
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

    pub(crate) fn subject_codes(rows: &[Row]) -> Result<Vec<SubjectId>, StoreError> {
        rows.iter().map(|r| stored_subject_id(r.get::<_, &str>(0))).collect()
    }
}

impl Store for PgStore {
    fn append(&mut self, events: &[Encoded]) -> Result<Vec<Outcome>, StoreError> {
        self.reconnect_if_lost()?;
        let appended = self.append_now(events);
        self.noting(appended)
    }

    fn subject(&self, id: &SubjectId) -> Result<Option<StoredSubject>, StoreError> {
        // The registration's body in the same statement: one round trip, not two.
        let Some(row) = self.query_opt(
            "SELECT s.event, s.last_event, j.body FROM subjects s
             LEFT JOIN journal j ON j.idx = s.event WHERE s.code = $1",
            &[&id.as_str()],
        )?
        else {
            return Ok(None);
        };
        let at: i64 = row.get(0);
        let last: i64 = row.get(1);
        let body = row.get::<_, Option<&[u8]>>(2).ok_or_else(|| missing_entry(at))?;
        let event = decode(at, body)?;
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
        self.events_listed_by(
            "SELECT a.event, j.body FROM authorities a LEFT JOIN journal j ON j.idx = a.event
             ORDER BY a.code",
            authority_event,
        )
    }

    fn record(&self, key: &RecordKey) -> Result<Option<StoredRecord>, StoreError> {
        let row = self.query_opt(
            records_with_events!(
                "JOIN authorities a ON a.id = r.authority ",
                "WHERE a.code = $1 AND r.decision_no = $2"
            ),
            &[&key.authority.as_str(), &key.decision_no],
        )?;
        row.map(|r| self.stored_record(&r)).transpose()
    }

    fn records_of(&self, id: &SubjectId) -> Result<Vec<StoredRecord>, StoreError> {
        let rows = self.query(
            records_with_events!(
                "WHERE r.subject = (SELECT id FROM subjects WHERE code = $1) ",
                "ORDER BY r.filed_event"
            ),
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
                  WHERE subject = s.id OFFSET 0) r ON true",
            &[&codes],
        )?;
        // Rows are placed by `k.n` and each subject's dozen records ordered here, work the
        // server did for the whole batch at once (a profile while rating after an import put
        // 9% of all samples in sorting).
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
        for standing in out.iter_mut().flatten() {
            standing.records.sort_unstable_by_key(|r| r.filed_index);
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

    fn plans(&self) -> Result<Vec<PlanRow>, StoreError> {
        let rows = self.query(
            "SELECT a.code, p.plan_no, p.planned, p.drawn FROM inspection_plans p
             JOIN authorities a ON a.id = p.authority ORDER BY p.planned",
            &[],
        )?;
        rows.iter().map(plan_row).collect()
    }

    fn inspections_of(&self, id: &SubjectId) -> Result<Vec<TargetRow>, StoreError> {
        let rows = self.query(
            "SELECT a.code, p.plan_no, p.planned, p.drawn, t.class, t.team
             FROM subjects s JOIN inspection_targets t ON t.subject = s.id
             JOIN inspection_plans p ON p.id = t.plan JOIN authorities a ON a.id = p.authority
             WHERE s.code = $1 ORDER BY p.planned",
            &[&id.as_str()],
        )?;
        rows.iter()
            .map(|r| {
                Ok(TargetRow {
                    plan: plan_row(r)?,
                    class: r.get(4),
                    team: r.get::<_, i32>(5) as u32,
                })
            })
            .collect()
    }

    fn plan_targets(&self, planned: u64) -> Result<Vec<(SubjectId, String, u32)>, StoreError> {
        let rows = self.query(
            "SELECT s.code, t.class, t.team FROM inspection_plans p
             JOIN inspection_targets t ON t.plan = p.id JOIN subjects s ON s.id = t.subject
             WHERE p.planned = $1 ORDER BY s.code",
            &[&(planned as i64)],
        )?;
        rows.iter()
            .map(|r| Ok((stored_subject_id(r.get(0))?, r.get(1), r.get::<_, i32>(2) as u32)))
            .collect()
    }

    fn adopted_rulebooks(&self) -> Result<Vec<(u64, String)>, StoreError> {
        self.events_listed_by(
            "SELECT b.event, j.body FROM rulebooks b LEFT JOIN journal j ON j.idx = b.event
             ORDER BY b.event",
            rulebook_event,
        )
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

    fn put_assessments(
        &mut self,
        rows: &[AssessmentRow],
        changes: &[probity_store::AnswerChange],
    ) -> Result<(), StoreError> {
        self.reconnect_if_lost()?;
        let stored = self.store_assessments(rows, changes);
        self.noting(stored)
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
        let Some(r) = self.query_opt(
            "SELECT as_of, grade, score, decisions, next_change, rulebook, version, explanation,
                    log_size, answers
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
            answers: r.get(9),
            lists,
        }))
    }

    fn answer_row(&self, id: &SubjectId) -> Result<Option<AnswerRow>, StoreError> {
        Ok(self.answer_rows(std::slice::from_ref(id))?.pop().flatten())
    }

    fn answer_rows(&self, ids: &[SubjectId]) -> Result<Vec<Option<AnswerRow>>, StoreError> {
        // One statement for all: each code's subject and assessment by their keys, the log's
        // size from the last journal key, all from one snapshot.
        let codes: Vec<&str> = ids.iter().map(SubjectId::as_str).collect();
        let rows = self.query(
            "SELECT q.n, s.name, s.last_event, a.as_of, a.next_change, a.rulebook, a.version,
                    a.log_size, a.score, a.grade, a.answers,
                    (SELECT coalesce(max(idx) + 1, 0) FROM journal)
             FROM unnest($1::text[]) WITH ORDINALITY AS q(code, n)
             JOIN subjects s ON s.code = q.code JOIN assessments a ON a.subject = s.id",
            &[&codes],
        )?;
        let mut out = vec![None; ids.len()];
        for r in rows {
            let n = r.get::<_, i64>(0);
            let asked = out.len();
            let at = usize::try_from(n - 1).ok().and_then(|i| out.get_mut(i)).ok_or_else(|| {
                StoreError::Backend(format!("answer row {n} of {asked} codes asked"))
            })?;
            *at = Some(AnswerRow {
                name: r.get(1),
                last_event: r.get::<_, i64>(2) as u64,
                as_of: from_date_key(i64::from(r.get::<_, i32>(3)))?,
                next_change: opt_date(r.get(4))?,
                rulebook: r.get(5),
                version: r.get(6),
                rated_at_size: r.get::<_, i64>(7) as u64,
                score: r.get(8),
                grade: r.get(9),
                answers: r.get::<_, String>(10).into_bytes(),
                log_size: r.get::<_, i64>(11) as u64,
            });
        }
        Ok(out)
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

    fn feed_cursor(&self, name: &str) -> Result<Option<u64>, StoreError> {
        let rows = self.query("SELECT next FROM feed_cursors WHERE name = $1", &[&name])?;
        Ok(rows.first().map(|r| r.get::<_, i64>(0) as u64))
    }

    fn set_feed_cursor(&mut self, name: &str, next: u64) -> Result<(), StoreError> {
        self.on_session(|client| {
            client
                .execute(
                    "INSERT INTO feed_cursors (name, next) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET next = excluded.next",
                    &[&name, &(next as i64)],
                )
                .map_err(backend)
        })?;
        Ok(())
    }

    fn witnessed(&self, origin: &str) -> Result<Option<(u64, [u8; 32])>, StoreError> {
        let rows = self.query("SELECT size, root FROM witnessed WHERE origin = $1", &[&origin])?;
        rows.first()
            .map(|r| {
                match (
                    u64::try_from(r.get::<_, i64>(0)),
                    <[u8; 32]>::try_from(r.get::<_, Vec<u8>>(1)),
                ) {
                    (Ok(size), Ok(root)) => Ok((size, root)),
                    _ => Err(StoreError::Backend(format!(
                        "the witnessed checkpoint of `{origin}` is corrupt"
                    ))),
                }
            })
            .transpose()
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
        let (size, root) = (size as i64, &root[..]);
        let changed = self.on_session(|client| {
            match expected {
                None => client.execute(
                    "INSERT INTO witnessed (origin, size, root, note) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (origin) DO NOTHING",
                    &[&origin, &size, &root, &note],
                ),
                Some((old, old_root)) => client.execute(
                    "UPDATE witnessed SET size = $2, root = $3, note = $4
                     WHERE origin = $1 AND size = $5 AND root = $6",
                    &[&origin, &size, &root, &note, &(old as i64), &&old_root[..]],
                ),
            }
            .map_err(backend)
        })?;
        Ok(changed == 1)
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

/// A plan row from the columns authority code, plan number, planned, drawn (the first four).
fn plan_row(r: &Row) -> Result<PlanRow, StoreError> {
    let planned = r.get::<_, i64>(2) as u64;
    let authority = probity_core::Slug::parse("authority", r.get(0))
        .map_err(|e| StoreError::Corrupt { index: planned, reason: e.to_string() })?;
    Ok(PlanRow {
        key: probity_core::PlanKey { authority, plan_no: r.get(1) },
        planned,
        drawn: r.get::<_, Option<i64>>(3).map(|d| d as u64),
    })
}
