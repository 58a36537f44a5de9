//! Storing assessments: one transaction per batch, writing nothing for a row from an older view
//! of the log, and replacing a subject's list entries only when its row was stored.

use probity_store::{AnswerChange, AssessmentRow, StoreError};
use rusqlite::params;

use probity_store::codec::date_key;

use super::*;

impl SqliteStore {
    pub(crate) fn store_assessments(
        &mut self,
        rows: &[AssessmentRow],
        changes: &[AnswerChange],
    ) -> Result<(), StoreError> {
        // Immediate: the write lock first, so the answers read below stay the stored ones
        // until this transaction replaces them.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(backend)?;
        // Each change as seen from the answer stored now, in this transaction, before the rows
        // replace it: another writer may have stored one since the caller read it.
        let changes = crate::watch::from_stored(&tx, changes)?;
        let mut stored_codes = std::collections::HashSet::new();
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT INTO assessments
                         (subject, as_of, grade, score, decisions, next_change, rulebook, version,
                          explanation, answers, log_size)
                     SELECT id, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?11, ?10 FROM subjects WHERE code = ?1
                     ON CONFLICT (subject) DO UPDATE SET as_of = excluded.as_of,
                         grade = excluded.grade, score = excluded.score,
                         decisions = excluded.decisions, next_change = excluded.next_change,
                         rulebook = excluded.rulebook, version = excluded.version,
                         explanation = excluded.explanation, answers = excluded.answers,
                         log_size = excluded.log_size
                     WHERE excluded.log_size >= assessments.log_size
                       AND (excluded.as_of, excluded.grade, excluded.score, excluded.decisions,
                            excluded.next_change, excluded.rulebook, excluded.version,
                            excluded.explanation, excluded.answers, excluded.log_size)
                           IS NOT (assessments.as_of, assessments.grade, assessments.score,
                            assessments.decisions, assessments.next_change, assessments.rulebook,
                            assessments.version, assessments.explanation, assessments.answers,
                            assessments.log_size)",
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
                        crate::packed::Pack(&r.explanation),
                        r.log_size as i64,
                        crate::packed::Pack(&r.answers)
                    ])
                    .map_err(backend)?;
                if stored == 0 {
                    // A rating from a newer view of the log is stored already, or this very one
                    // is: its list entries, which follow from its explanation, are too.
                    continue;
                }
                stored_codes.insert(r.subject);
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
        let kept: Vec<&AnswerChange> =
            changes.iter().filter(|c| stored_codes.contains(&c.subject)).collect();
        crate::watch::keep_changes(&tx, &kept).map_err(backend)?;
        tx.commit().map_err(backend)
    }
}
