//! Watchlists and the answer changes of watched subjects (see `probity_store::watch`).

use probity_core::SubjectId;
use probity_store::codec::{date_key, from_date_key};
use probity_store::watch::columns::{self, micros, time};
use probity_store::{AnswerChange, Delivery, StoreError, Watchlist, Webhook};
use rusqlite::{OptionalExtension as _, Row, Transaction, params};

use super::*;

fn watchlist_of(r: &Row<'_>) -> rusqlite::Result<Result<Watchlist, StoreError>> {
    let measures: String = r.get(3)?;
    let url: Option<String> = r.get(6)?;
    let secret: Option<String> = r.get(7)?;
    let (delivered, pending): (i64, Option<i64>) = (r.get(8)?, r.get(9)?);
    let attempts: i64 = r.get(10)?;
    let times: [Option<i64>; 4] = [r.get(11)?, r.get(12)?, r.get(13)?, r.get(15)?];
    let (id, owner, label, created, seen): (String, String, String, i64, i64) =
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(4)?, r.get(5)?);
    let last_error: Option<String> = r.get(14)?;
    Ok((|| {
        let [next_attempt, first_failure, failing_since, last_success] = times;
        let webhook = match (url, secret) {
            (Some(url), Some(secret)) => Some(Webhook {
                url,
                secret,
                delivery: Delivery {
                    delivered: delivered as u64,
                    pending: pending.map(|p| p as u64),
                    attempts: attempts as u32,
                    next_attempt: time(next_attempt)?,
                    first_failure: time(first_failure)?,
                    failing_since: time(failing_since)?,
                    last_error,
                    last_success: time(last_success)?,
                },
            }),
            _ => None,
        };
        Ok(Watchlist {
            measures: serde_json::from_str(&measures)
                .map_err(|e| StoreError::Backend(format!("watchlist `{id}` measures: {e}")))?,
            created: time(Some(created))?.unwrap_or_default(),
            id,
            owner,
            label,
            seen: seen as u64,
            webhook,
        })
    })())
}

fn change_of(r: &Row<'_>) -> rusqlite::Result<Result<AnswerChange, StoreError>> {
    let (position, code, size, as_of): (i64, String, i64, i64) =
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
    let (cause, before, after): (String, Option<String>, String) =
        (r.get(4)?, r.get(5)?, r.get(6)?);
    Ok((|| {
        let position = position as u64;
        Ok(AnswerChange {
            position,
            subject: probity_store::codec::stored_subject_id(&code)?,
            log_size: size as u64,
            as_of: from_date_key(as_of)?,
            cause: columns::read_cause(position, &cause)?,
            before: before.map(|b| columns::read_answer(position, &b)).transpose()?,
            after: columns::read_answer(position, &after)?,
        })
    })())
}

/// `changes` as seen from the answers stored now in `tx` (see `AnswerChange::from_stored`).
pub(crate) fn from_stored(
    tx: &Transaction<'_>,
    changes: &[AnswerChange],
) -> Result<Vec<AnswerChange>, StoreError> {
    let mut row = tx
        .prepare_cached(
            "SELECT a.grade, a.decisions FROM assessments a
             WHERE a.subject = (SELECT id FROM subjects WHERE code = ?1)",
        )
        .map_err(backend)?;
    let mut lists = tx
        .prepare_cached("SELECT list FROM list_entries WHERE code = ?1 ORDER BY list")
        .map_err(backend)?;
    let mut out = Vec::with_capacity(changes.len());
    for c in changes {
        let code = c.subject.as_str();
        let stored = row
            .query_row([code], |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, String>(1)?)))
            .optional()
            .map_err(backend)?;
        let stored = match stored {
            None => None,
            Some((grade, decisions)) => {
                let mut names = lists
                    .query_map([code], |r| r.get::<_, String>(0))
                    .map_err(backend)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(backend)?;
                names.dedup();
                Some(probity_store::Answer {
                    grade,
                    lists: names,
                    decisions: serde_json::from_str(&decisions).unwrap_or_default(),
                })
            }
        };
        out.extend(c.from_stored(stored));
    }
    Ok(out)
}

/// Keeps `changes` at the next positions, in a transaction that holds the write lock.
pub(crate) fn keep_changes(
    tx: &Transaction<'_>,
    changes: &[&AnswerChange],
) -> rusqlite::Result<()> {
    let mut put = tx.prepare_cached(
        "INSERT INTO answer_changes (position, code, log_size, as_of, cause, before, after)
         VALUES ((SELECT coalesce(max(position), 0) + 1 FROM answer_changes), ?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for c in changes {
        put.execute(params![
            c.subject.as_str(),
            c.log_size as i64,
            date_key(c.as_of),
            columns::cause(&c.cause),
            c.before.as_ref().map(columns::answer),
            columns::answer(&c.after),
        ])?;
    }
    Ok(())
}

impl SqliteStore {
    pub(crate) fn watched_among_(&self, ids: &[SubjectId]) -> Result<Vec<SubjectId>, StoreError> {
        // Most registries watch nothing: one look then spares a look-up per subject rated.
        let any = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM watch_members)")
            .and_then(|mut s| s.query_row([], |r| r.get::<_, bool>(0)))
            .map_err(backend)?;
        if !any {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM watch_members WHERE code = ?1 LIMIT 1")
            .map_err(backend)?;
        let mut out = Vec::new();
        for id in ids {
            if stmt.exists([id.as_str()]).map_err(backend)? {
                out.push(*id);
            }
        }
        Ok(out)
    }

    pub(crate) fn put_watchlist_(&mut self, w: &Watchlist) -> Result<(), StoreError> {
        let d = w.webhook.as_ref().map(|h| &h.delivery);
        self.conn
            .execute(
                "INSERT OR REPLACE INTO watchlists (id, owner, label, measures, created, seen, url,
                     secret, delivered, pending, attempts, next_attempt, first_failure,
                     failing_since, last_error, last_success)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                params![
                    w.id,
                    w.owner,
                    w.label,
                    serde_json::to_string(&w.measures)
                        .map_err(|e| StoreError::Backend(e.to_string()))?,
                    w.created.as_microsecond(),
                    w.seen as i64,
                    w.webhook.as_ref().map(|h| h.url.as_str()),
                    w.webhook.as_ref().map(|h| h.secret.as_str()),
                    d.map_or(0, |d| d.delivered as i64),
                    d.and_then(|d| d.pending).map(|p| p as i64),
                    d.map_or(0, |d| i64::from(d.attempts)),
                    micros(d.and_then(|d| d.next_attempt)),
                    micros(d.and_then(|d| d.first_failure)),
                    micros(d.and_then(|d| d.failing_since)),
                    d.and_then(|d| d.last_error.as_deref()),
                    micros(d.and_then(|d| d.last_success)),
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    pub(crate) fn drop_watchlist_(&mut self, id: &str) -> Result<bool, StoreError> {
        let tx = self.conn.transaction().map_err(backend)?;
        tx.execute("DELETE FROM watch_members WHERE watchlist = ?1", [id]).map_err(backend)?;
        let n = tx.execute("DELETE FROM watchlists WHERE id = ?1", [id]).map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(n > 0)
    }

    pub(crate) fn watchlists_(
        &self,
        id: Option<&str>,
        owner: Option<&str>,
    ) -> Result<Vec<Watchlist>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, owner, label, measures, created, seen, url, secret, delivered, pending,
                        attempts, next_attempt, first_failure, failing_since, last_error,
                        last_success
                 FROM watchlists
                 WHERE (?1 IS NULL OR id = ?1) AND (?2 IS NULL OR owner = ?2) ORDER BY id",
            )
            .map_err(backend)?;
        let rows = stmt.query_map(params![id, owner], watchlist_of).map_err(backend)?;
        rows.map(|r| r.map_err(backend)?).collect()
    }

    pub(crate) fn set_delivery_(
        &mut self,
        id: &str,
        url: &str,
        d: &Delivery,
    ) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute(
                "UPDATE watchlists SET delivered = ?3, pending = ?4, attempts = ?5,
                     next_attempt = ?6, first_failure = ?7, failing_since = ?8, last_error = ?9,
                     last_success = ?10
                 WHERE id = ?1 AND url = ?2",
                params![
                    id,
                    url,
                    d.delivered as i64,
                    d.pending.map(|p| p as i64),
                    i64::from(d.attempts),
                    micros(d.next_attempt),
                    micros(d.first_failure),
                    micros(d.failing_since),
                    d.last_error,
                    micros(d.last_success),
                ],
            )
            .map_err(backend)?;
        Ok(n > 0)
    }

    pub(crate) fn watch_(&mut self, id: &str, ids: &[SubjectId]) -> Result<u64, StoreError> {
        let tx = self.conn.transaction().map_err(backend)?;
        let mut added = 0;
        {
            let since: i64 = tx
                .query_row("SELECT coalesce(max(position), 0) FROM answer_changes", [], |r| {
                    r.get(0)
                })
                .map_err(backend)?;
            let mut put = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO watch_members (watchlist, code, since) VALUES (?1, ?2, ?3)",
                )
                .map_err(backend)?;
            for s in ids {
                added += put.execute(params![id, s.as_str(), since]).map_err(backend)? as u64;
            }
        }
        tx.commit().map_err(backend)?;
        Ok(added)
    }

    pub(crate) fn unwatch_(&mut self, id: &str, ids: &[SubjectId]) -> Result<u64, StoreError> {
        let tx = self.conn.transaction().map_err(backend)?;
        let mut removed = 0;
        {
            let mut del = tx
                .prepare_cached("DELETE FROM watch_members WHERE watchlist = ?1 AND code = ?2")
                .map_err(backend)?;
            for s in ids {
                removed += del.execute(params![id, s.as_str()]).map_err(backend)? as u64;
            }
        }
        tx.commit().map_err(backend)?;
        Ok(removed)
    }

    pub(crate) fn watch_count_(&self, id: &str) -> Result<u64, StoreError> {
        self.conn
            .prepare_cached("SELECT count(*) FROM watch_members WHERE watchlist = ?1")
            .and_then(|mut s| s.query_row([id], |r| r.get::<_, i64>(0)))
            .map(|n| n as u64)
            .map_err(backend)
    }

    pub(crate) fn watched_(
        &self,
        id: &str,
        after: Option<&SubjectId>,
        limit: usize,
    ) -> Result<Vec<SubjectId>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT code FROM watch_members WHERE watchlist = ?1 AND code > ?2
                 ORDER BY code LIMIT ?3",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![id, after.map_or("", |a| a.as_str()), limit as i64], |r| {
                r.get::<_, String>(0)
            })
            .map_err(backend)?;
        rows.map(|r| probity_store::codec::stored_subject_id(&r.map_err(backend)?)).collect()
    }

    pub(crate) fn watched_changes_(
        &self,
        id: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<AnswerChange>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT c.position, c.code, c.log_size, c.as_of, c.cause, c.before, c.after
                 FROM answer_changes c
                 JOIN watch_members m ON m.watchlist = ?1 AND m.code = c.code
                 WHERE c.position > ?2 AND c.position > m.since
                 ORDER BY c.position LIMIT ?3",
            )
            .map_err(backend)?;
        let rows =
            stmt.query_map(params![id, after as i64, limit as i64], change_of).map_err(backend)?;
        rows.map(|r| r.map_err(backend)?).collect()
    }

    pub(crate) fn last_change_(&self) -> Result<u64, StoreError> {
        self.conn
            .prepare_cached("SELECT coalesce(max(position), 0) FROM answer_changes")
            .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
            .map(|n| n as u64)
            .map_err(backend)
    }
}
