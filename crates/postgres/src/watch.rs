//! Watchlists and the answer changes of watched subjects (see `probity_store::watch`).

use postgres::Row;
use probity_core::SubjectId;
use probity_store::watch::columns::{self, micros, time};
use probity_store::{AnswerChange, Delivery, StoreError, Watchlist, Webhook};

use super::*;

const SELECT_WATCHLISTS: &str = "SELECT id, owner, label, measures, created, seen, url, secret, \
     delivered, pending, attempts, next_attempt, first_failure, failing_since, last_error, \
     last_success FROM watchlists \
     WHERE ($1::text IS NULL OR id = $1) AND ($2::text IS NULL OR owner = $2) ORDER BY id";

/// The advisory-lock key under which answer changes take their positions, so that positions
/// follow commit order across processes (next to the log's and the migration's locks).
pub(crate) fn changes_lock(schema: &str) -> i64 {
    crate::connection::log_lock(schema).wrapping_add(2)
}

fn watchlist_of(r: &Row) -> Result<Watchlist, StoreError> {
    let id: String = r.get(0);
    let measures: String = r.get(3);
    let webhook = match (r.get::<_, Option<String>>(6), r.get::<_, Option<String>>(7)) {
        (Some(url), Some(secret)) => Some(Webhook {
            url,
            secret,
            delivery: Delivery {
                delivered: r.get::<_, i64>(8) as u64,
                pending: r.get::<_, Option<i64>>(9).map(|p| p as u64),
                attempts: r.get::<_, i32>(10) as u32,
                next_attempt: time(r.get(11))?,
                first_failure: time(r.get(12))?,
                failing_since: time(r.get(13))?,
                last_error: r.get(14),
                last_success: time(r.get(15))?,
            },
        }),
        _ => None,
    };
    Ok(Watchlist {
        measures: serde_json::from_str(&measures)
            .map_err(|e| StoreError::Backend(format!("watchlist `{id}` measures: {e}")))?,
        created: time(Some(r.get(4)))?.unwrap_or_default(),
        owner: r.get(1),
        label: r.get(2),
        seen: r.get::<_, i64>(5) as u64,
        webhook,
        id,
    })
}

fn change_of(r: &Row) -> Result<AnswerChange, StoreError> {
    let position = r.get::<_, i64>(0) as u64;
    Ok(AnswerChange {
        position,
        subject: probity_store::codec::stored_subject_id(r.get(1))?,
        log_size: r.get::<_, i64>(2) as u64,
        as_of: from_date_key(i64::from(r.get::<_, i32>(3)))?,
        cause: columns::read_cause(position, r.get(4))?,
        before: r
            .get::<_, Option<&str>>(5)
            .map(|b| columns::read_answer(position, b))
            .transpose()?,
        after: columns::read_answer(position, r.get(6))?,
    })
}

/// `changes` as seen from the answers stored now in `tx`, whose rows it locks (see
/// `AnswerChange::from_stored`).
pub(crate) fn from_stored(
    tx: &mut postgres::Transaction<'_>,
    statements: &crate::Statements,
    changes: &[AnswerChange],
) -> Result<Vec<AnswerChange>, StoreError> {
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let mut codes: Vec<&str> = changes.iter().map(|c| c.subject.as_str()).collect();
    codes.sort_unstable();
    codes.dedup();
    // In code order, as the assessments are written, so writers lock rows in one order.
    let st = statements.get(
        tx,
        "SELECT s.code, a.grade, a.decisions,
                ARRAY(SELECT e.list FROM list_entries e WHERE e.code = s.code ORDER BY e.list)
         FROM subjects s JOIN assessments a ON a.subject = s.id
         WHERE s.code = ANY($1::text[]) ORDER BY s.code FOR UPDATE OF a",
    )?;
    let rows = tx.query(&st, &[&codes]).map_err(backend)?;
    let stored: std::collections::HashMap<String, probity_store::Answer> = rows
        .iter()
        .map(|r| {
            let decisions: String = r.get(2);
            (
                r.get::<_, String>(0),
                probity_store::Answer {
                    grade: r.get(1),
                    lists: r.get(3),
                    decisions: serde_json::from_str(&decisions).unwrap_or_default(),
                },
            )
        })
        .collect();
    Ok(changes
        .iter()
        .filter_map(|c| c.from_stored(stored.get(c.subject.as_str()).cloned()))
        .collect())
}

/// Keeps `changes` at the next positions in `tx`, under the changes lock.
pub(crate) fn keep_changes(
    tx: &mut postgres::Transaction<'_>,
    schema: &str,
    changes: &[&AnswerChange],
) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&changes_lock(schema)]).map_err(backend)?;
    let codes: Vec<&str> = changes.iter().map(|c| c.subject.as_str()).collect();
    let sizes: Vec<i64> = changes.iter().map(|c| c.log_size as i64).collect();
    let as_of: Vec<i32> = changes.iter().map(|c| date_key(c.as_of) as i32).collect();
    let causes: Vec<String> = changes.iter().map(|c| columns::cause(&c.cause)).collect();
    let before: Vec<Option<String>> =
        changes.iter().map(|c| c.before.as_ref().map(columns::answer)).collect();
    let after: Vec<String> = changes.iter().map(|c| columns::answer(&c.after)).collect();
    tx.execute(
        "INSERT INTO answer_changes (position, code, log_size, as_of, cause, before, after)
         SELECT (SELECT coalesce(max(position), 0) FROM answer_changes) + u.n,
                u.code, u.log_size, u.as_of, u.cause, u.before, u.after
         FROM unnest($1::text[], $2::bigint[], $3::int[], $4::text[], $5::text[], $6::text[])
              WITH ORDINALITY AS u (code, log_size, as_of, cause, before, after, n)",
        &[&codes, &sizes, &as_of, &causes, &before, &after],
    )
    .map_err(backend)?;
    Ok(())
}

impl PgStore {
    pub(crate) fn watched_among_(&self, ids: &[SubjectId]) -> Result<Vec<SubjectId>, StoreError> {
        let codes: Vec<&str> = ids.iter().map(SubjectId::as_str).collect();
        let rows = self.query(
            "SELECT DISTINCT code FROM watch_members WHERE code = ANY($1::text[])",
            &[&codes],
        )?;
        rows.iter().map(|r| probity_store::codec::stored_subject_id(r.get(0))).collect()
    }

    pub(crate) fn put_watchlist_(&mut self, w: &Watchlist) -> Result<(), StoreError> {
        let d = w.webhook.as_ref().map(|h| &h.delivery);
        let measures =
            serde_json::to_string(&w.measures).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.on_session(|c| {
            c.execute(
                "INSERT INTO watchlists (id, owner, label, measures, created, seen, url, secret,
                     delivered, pending, attempts, next_attempt, first_failure, failing_since,
                     last_error, last_success)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
                 ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, label = excluded.label,
                     measures = excluded.measures, created = excluded.created,
                     seen = excluded.seen, url = excluded.url, secret = excluded.secret,
                     delivered = excluded.delivered, pending = excluded.pending,
                     attempts = excluded.attempts, next_attempt = excluded.next_attempt,
                     first_failure = excluded.first_failure,
                     failing_since = excluded.failing_since, last_error = excluded.last_error,
                     last_success = excluded.last_success",
                &[
                    &w.id,
                    &w.owner,
                    &w.label,
                    &measures,
                    &w.created.as_microsecond(),
                    &(w.seen as i64),
                    &w.webhook.as_ref().map(|h| h.url.as_str()),
                    &w.webhook.as_ref().map(|h| h.secret.as_str()),
                    &d.map_or(0, |d| d.delivered as i64),
                    &d.and_then(|d| d.pending).map(|p| p as i64),
                    &d.map_or(0, |d| d.attempts as i32),
                    &micros(d.and_then(|d| d.next_attempt)),
                    &micros(d.and_then(|d| d.first_failure)),
                    &micros(d.and_then(|d| d.failing_since)),
                    &d.and_then(|d| d.last_error.as_deref()),
                    &micros(d.and_then(|d| d.last_success)),
                ],
            )
            .map_err(backend)
        })?;
        Ok(())
    }

    pub(crate) fn drop_watchlist_(&mut self, id: &str) -> Result<bool, StoreError> {
        self.on_session(|c| {
            let mut tx = c.transaction().map_err(backend)?;
            tx.execute("DELETE FROM watch_members WHERE watchlist = $1", &[&id])
                .map_err(backend)?;
            let n = tx.execute("DELETE FROM watchlists WHERE id = $1", &[&id]).map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(n > 0)
        })
    }

    pub(crate) fn watchlists_(
        &self,
        id: Option<&str>,
        owner: Option<&str>,
    ) -> Result<Vec<Watchlist>, StoreError> {
        self.query(SELECT_WATCHLISTS, &[&id, &owner])?.iter().map(watchlist_of).collect()
    }

    pub(crate) fn set_delivery_(
        &mut self,
        id: &str,
        url: &str,
        d: &Delivery,
    ) -> Result<bool, StoreError> {
        let n = self.on_session(|c| {
            c.execute(
                "UPDATE watchlists SET delivered = $3, pending = $4, attempts = $5,
                     next_attempt = $6, first_failure = $7, failing_since = $8, last_error = $9,
                     last_success = $10
                 WHERE id = $1 AND url = $2",
                &[
                    &id,
                    &url,
                    &(d.delivered as i64),
                    &d.pending.map(|p| p as i64),
                    &(d.attempts as i32),
                    &micros(d.next_attempt),
                    &micros(d.first_failure),
                    &micros(d.failing_since),
                    &d.last_error,
                    &micros(d.last_success),
                ],
            )
            .map_err(backend)
        })?;
        Ok(n > 0)
    }

    pub(crate) fn watch_(&mut self, id: &str, ids: &[SubjectId]) -> Result<u64, StoreError> {
        let codes: Vec<&str> = ids.iter().map(SubjectId::as_str).collect();
        self.on_session(|c| {
            c.execute(
                "INSERT INTO watch_members (watchlist, code, since)
                 SELECT $1, code, (SELECT coalesce(max(position), 0) FROM answer_changes)
                 FROM unnest($2::text[]) AS u (code)
                 ON CONFLICT DO NOTHING",
                &[&id, &codes],
            )
            .map_err(backend)
        })
    }

    pub(crate) fn unwatch_(&mut self, id: &str, ids: &[SubjectId]) -> Result<u64, StoreError> {
        let codes: Vec<&str> = ids.iter().map(SubjectId::as_str).collect();
        self.on_session(|c| {
            c.execute(
                "DELETE FROM watch_members WHERE watchlist = $1 AND code = ANY($2::text[])",
                &[&id, &codes],
            )
            .map_err(backend)
        })
    }

    pub(crate) fn watch_count_(&self, id: &str) -> Result<u64, StoreError> {
        let rows = self.query("SELECT count(*) FROM watch_members WHERE watchlist = $1", &[&id])?;
        Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0) as u64))
    }

    pub(crate) fn watched_(
        &self,
        id: &str,
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<Vec<SubjectId>, StoreError> {
        let after = after.map_or("", |a| a.as_str());
        let rows = self.query(
            "SELECT code FROM watch_members WHERE watchlist = $1 AND code > $2
             ORDER BY code LIMIT $3",
            &[&id, &after, &(limit as i64)],
        )?;
        rows.iter().map(|r| probity_store::codec::stored_subject_id(r.get(0))).collect()
    }

    pub(crate) fn watched_changes_(
        &self,
        id: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<AnswerChange>, StoreError> {
        let rows = self.query(
            "SELECT c.position, c.code, c.log_size, c.as_of, c.cause, c.before, c.after
             FROM answer_changes c
             JOIN watch_members m ON m.watchlist = $1 AND m.code = c.code
             WHERE c.position > $2 AND c.position > m.since
             ORDER BY c.position LIMIT $3",
            &[&id, &(after as i64), &(limit as i64)],
        )?;
        rows.iter().map(change_of).collect()
    }

    pub(crate) fn last_change_(&self) -> Result<u64, StoreError> {
        let rows = self.query("SELECT coalesce(max(position), 0) FROM answer_changes", &[])?;
        Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0) as u64))
    }
}
