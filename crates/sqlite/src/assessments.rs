//! Storing and reading assessments with their list entries, and finding the subjects due for
//! rating.

use probity_core::SubjectId;
use probity_store::{AssessmentRow, ListEntry, StoreError};
use rusqlite::{OptionalExtension, params};

use probity_store::codec::{date_key, from_date_key};

use super::*;

impl SqliteStore {
    pub(crate) fn store_assessments(&mut self, rows: &[AssessmentRow]) -> Result<(), StoreError> {
        let tx = self.conn.transaction().map_err(backend)?;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT INTO assessments
                         (subject, as_of, grade, score, decisions, next_change, rulebook, version,
                          explanation, log_size)
                     SELECT id, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 FROM subjects WHERE code = ?1
                     ON CONFLICT (subject) DO UPDATE SET as_of = excluded.as_of,
                         grade = excluded.grade, score = excluded.score,
                         decisions = excluded.decisions, next_change = excluded.next_change,
                         rulebook = excluded.rulebook, version = excluded.version,
                         explanation = excluded.explanation, log_size = excluded.log_size
                     WHERE excluded.log_size >= assessments.log_size
                       AND (excluded.as_of, excluded.grade, excluded.score, excluded.decisions,
                            excluded.next_change, excluded.rulebook, excluded.version,
                            excluded.explanation, excluded.log_size)
                           IS NOT (assessments.as_of, assessments.grade, assessments.score,
                            assessments.decisions, assessments.next_change, assessments.rulebook,
                            assessments.version, assessments.explanation, assessments.log_size)",
                )
                .map_err(backend)?;
            let mut clear =
                tx.prepare_cached("DELETE FROM list_entries WHERE code = ?1").map_err(backend)?;
            let mut enter = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO list_entries (list, code, since, until) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(backend)?;
            for r in rows {
                let stored = put
                    .execute(params![
                        r.subject.as_str(),
                        date_key(r.as_of),
                        r.grade,
                        r.score,
                        r.decisions,
                        r.next_change.map(date_key),
                        r.rulebook,
                        r.version,
                        r.explanation,
                        r.log_size as i64
                    ])
                    .map_err(backend)?;
                if stored == 0 {
                    // A rating from a newer view of the log is stored already, or this very one
                    // is: its list entries, which follow from its explanation, are too.
                    continue;
                }
                clear.execute([r.subject.as_str()]).map_err(backend)?;
                for e in &r.lists {
                    enter
                        .execute(params![
                            e.list,
                            r.subject.as_str(),
                            e.since.map(date_key),
                            e.until.map(date_key)
                        ])
                        .map_err(backend)?;
                }
            }
        }
        tx.commit().map_err(backend)
    }

    pub(crate) fn read_assessment(
        &self,
        id: &SubjectId,
    ) -> Result<Option<AssessmentRow>, StoreError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT as_of, grade, score, decisions, next_change, rulebook, version, explanation,
                        log_size
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
                        r.get(7)?,
                        r.get::<_, i64>(8)?,
                    ))
                })
                .optional()
            })
            .map_err(backend)?;
        let Some((as_of, grade, score, decisions, next, rulebook, version, explanation, size)) =
            row
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

    pub(crate) fn due(
        &self,
        on: probity_core::Date,
        (rulebook, version): (&str, &str),
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<Vec<SubjectId>, StoreError> {
        self.codes(
            "SELECT s.code FROM subjects s LEFT JOIN assessments a ON a.subject = s.id
             WHERE s.code > ?1
               AND (a.subject IS NULL OR a.next_change <= ?3 OR a.log_size <= s.last_event
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

    pub(crate) fn stale(
        &self,
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<Vec<SubjectId>, StoreError> {
        self.codes(
            "SELECT s.code FROM subjects s LEFT JOIN assessments a ON a.subject = s.id
             WHERE s.code > ?1 AND s.last_event > s.event
               AND (a.subject IS NULL OR a.log_size <= s.last_event)
             ORDER BY s.code LIMIT ?2",
            params![after.map_or("", |a| a.as_str()), limit as i64],
        )
    }
}
