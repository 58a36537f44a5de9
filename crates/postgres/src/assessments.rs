//! Storing assessments: one statement per batch, writing nothing for a row that did not change,
//! and touching a subject's list entries only where they changed.

use std::collections::HashMap;

use probity_store::{AssessmentRow, ListEntry, StoreError};

use super::*;

impl PgStore {
    /// Stores assessments in one statement (see [`Store::put_assessments`]).
    pub(crate) fn store_assessments(
        &mut self,
        rows: &[AssessmentRow],
        changes: &[probity_store::AnswerChange],
    ) -> Result<(), StoreError> {
        // One row per subject, the one storing them in turn would leave: from the newest view of
        // the log, the later on a tie. One statement then stores them all.
        let mut latest: HashMap<&str, &AssessmentRow> = HashMap::new();
        for r in rows {
            latest
                .entry(r.subject.as_str())
                .and_modify(|kept| {
                    if r.log_size >= kept.log_size {
                        *kept = r;
                    }
                })
                .or_insert(r);
        }
        // In code order, so that writers storing overlapping batches take row locks in one
        // order and never wait on each other in a cycle.
        let mut rows: Vec<&AssessmentRow> = latest.into_values().collect();
        rows.sort_unstable_by_key(|r| r.subject.as_str());
        let codes: Vec<&str> = rows.iter().map(|r| r.subject.as_str()).collect();
        let as_of: Vec<i32> = rows.iter().map(|r| date_i32(r.as_of)).collect();
        let grades: Vec<Option<&str>> = rows.iter().map(|r| r.grade.as_deref()).collect();
        let scores: Vec<Option<i32>> = rows.iter().map(|r| r.score).collect();
        let decisions: Vec<&str> = rows.iter().map(|r| r.decisions.as_str()).collect();
        let next: Vec<Option<i32>> = rows.iter().map(|r| r.next_change.map(date_i32)).collect();
        let rulebooks: Vec<&str> = rows.iter().map(|r| r.rulebook.as_str()).collect();
        let versions: Vec<&str> = rows.iter().map(|r| r.version.as_str()).collect();
        let explanations: Vec<&str> = rows.iter().map(|r| r.explanation.as_str()).collect();
        let answers: Vec<&str> = rows.iter().map(|r| r.answers.as_str()).collect();
        let sizes: Vec<i64> = rows.iter().map(|r| r.log_size as i64).collect();
        let mut tx = self.client.get_mut().transaction().map_err(backend)?;
        tx.batch_execute("SET LOCAL plan_cache_mode = force_custom_plan").map_err(backend)?;
        // Each change as seen from the answer stored now, its row locked until this
        // transaction replaces it: another writer may have stored one since the caller read it.
        let changes = crate::watch::from_stored(&mut tx, &self.statements, changes)?;
        let st = self.statements.get(
            &mut tx,
            "WITH u AS (
                 SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::int[], $5::text[],
                                      $6::int[], $7::text[], $8::text[], $9::text[], $10::bigint[],
                                      $11::text[])
                     AS u (code, as_of, grade, score, decisions, next_change, rulebook, version,
                           explanation, log_size, answers)
             ), stored AS (
                 INSERT INTO assessments (subject, as_of, grade, score, decisions, next_change,
                                          rulebook, version, explanation, log_size, answers)
                 SELECT s.id, u.as_of, u.grade, u.score, u.decisions, u.next_change, u.rulebook,
                        u.version, u.explanation, u.log_size, u.answers
                 FROM u CROSS JOIN LATERAL (SELECT id FROM subjects WHERE code = u.code OFFSET 0) s
                 ON CONFLICT (subject) DO UPDATE SET as_of = excluded.as_of, grade = excluded.grade,
                     score = excluded.score, decisions = excluded.decisions,
                     next_change = excluded.next_change, rulebook = excluded.rulebook,
                     version = excluded.version, explanation = excluded.explanation,
                     log_size = excluded.log_size, answers = excluded.answers
                 WHERE excluded.log_size >= assessments.log_size
                   AND (excluded.as_of, excluded.grade, excluded.score, excluded.decisions,
                        excluded.next_change, excluded.rulebook, excluded.version,
                        excluded.explanation, excluded.log_size, excluded.answers)
                       IS DISTINCT FROM (assessments.as_of, assessments.grade, assessments.score,
                        assessments.decisions, assessments.next_change, assessments.rulebook,
                        assessments.version, assessments.explanation, assessments.log_size,
                        assessments.answers)
                 RETURNING subject
             )
             SELECT s.code FROM stored
             CROSS JOIN LATERAL (SELECT code FROM subjects WHERE id = stored.subject OFFSET 0) s",
        )?;
        let stored = tx
            .query(
                &st,
                &[
                    &codes,
                    &as_of,
                    &grades,
                    &scores,
                    &decisions,
                    &next,
                    &rulebooks,
                    &versions,
                    &explanations,
                    &sizes,
                    &answers,
                ],
            )
            .map_err(backend)?;
        // A row not stored leaves the entries of the one kept (from a newer view of the log, or
        // this very one): they follow from its explanation. A stored row replaces them.
        let stored: std::collections::HashSet<String> =
            stored.iter().map(|r| r.get::<_, String>(0)).collect();
        let mut entries: std::collections::BTreeMap<(&str, &str), &ListEntry> =
            std::collections::BTreeMap::new();
        for r in rows.iter().filter(|r| stored.contains(r.subject.as_str())) {
            for e in &r.lists {
                entries.insert((e.list.as_str(), r.subject.as_str()), e);
            }
        }
        let stored: Vec<&str> = stored.iter().map(String::as_str).collect();
        let (mut lists, mut codes, mut since, mut until) = (vec![], vec![], vec![], vec![]);
        for ((list, code), e) in entries {
            lists.push(list);
            codes.push(code);
            since.push(e.since.map(date_i32));
            until.push(e.until.map(date_i32));
        }
        // Most re-ratings leave a subject's entries as they were, so only the entries it no
        // longer has are deleted, and only new or changed ones written: rewriting all of them
        // cost a dead row and two index entries each per re-rate. Each code is probed through
        // the index by a `LATERAL (… OFFSET 0)` subquery, and its rows deleted by their
        // position. Matched with `= ANY`, or joined plainly, the planner read the whole table
        // for a batch of 1,000 codes once it held about 100,000 entries (`EXPLAIN ANALYZE`
        // after an import of 1,000,000 records: a hash join over a sequential scan, 38 ms a
        // batch, against 11.5 ms this way), and each batch would read more as it grew.
        let st = self.statements.get(
            &mut tx,
            "DELETE FROM list_entries e USING unnest($1::text[]) AS s (code)
             CROSS JOIN LATERAL (SELECT ctid FROM list_entries WHERE code = s.code OFFSET 0) k
             WHERE e.ctid = k.ctid AND NOT EXISTS (
                 SELECT 1 FROM unnest($2::text[], $3::text[]) AS n (list, code)
                 WHERE n.list = e.list AND n.code = e.code)",
        )?;
        tx.execute(&st, &[&stored, &lists, &codes]).map_err(backend)?;
        let st = self.statements.get(
            &mut tx,
            "INSERT INTO list_entries AS e (list, code, since, until)
             SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[])
             ON CONFLICT (list, code) DO UPDATE SET since = excluded.since, until = excluded.until
             WHERE (e.since, e.until) IS DISTINCT FROM (excluded.since, excluded.until)",
        )?;
        tx.execute(&st, &[&lists, &codes, &since, &until]).map_err(backend)?;
        let kept: Vec<&probity_store::AnswerChange> =
            changes.iter().filter(|c| stored.contains(&c.subject.as_str())).collect();
        crate::watch::keep_changes(&mut tx, &self.schema, &kept)?;
        tx.commit().map_err(backend)
    }
}
