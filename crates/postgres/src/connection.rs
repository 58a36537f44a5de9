//! Connecting to PostgreSQL: the session on the registry's schema, reconnection after a lost
//! connection, replicas, and the embedded migrations applied under an advisory lock.

use std::cell::{Cell, RefCell};

use postgres::{Client, NoTls};
use probity_store::{LogNodes, Store, StoreError};
use probity_tlog::Frontier;

use super::*;

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_registry.sql"),
    include_str!("../migrations/0002_assessment_explanations.sql"),
    include_str!("../migrations/0003_redaction.sql"),
    include_str!("../migrations/0004_assessment_log_size.sql"),
    include_str!("../migrations/0005_records_by_subject_covering.sql"),
    include_str!("../migrations/0006_subject_established.sql"),
    include_str!("../migrations/0007_log_tiles.sql"),
    include_str!("../migrations/0008_explanations_lz4.sql"),
    include_str!("../migrations/0009_subject_last_event.sql"),
    include_str!("../migrations/0010_inspections.sql"),
    include_str!("../migrations/0011_witnessed.sql"),
    include_str!("../migrations/0012_feed_cursors.sql"),
    include_str!("../migrations/0013_watchlists.sql"),
    include_str!("../migrations/0014_assessment_answers.sql"),
    include_str!("../migrations/0015_answers_as_lines.sql"),
    include_str!("../migrations/0016_answers_lz4.sql"),
];

/// The base of the advisory lock that sequences appends to a registry's log; each schema locks
/// its own key derived from this and its name, so registries in one database do not wait on
/// each other.
pub(crate) const LOG_LOCK: i64 = 0x7072_6f62_6974_7931;

/// The advisory-lock key of the registry in `schema` (FNV-1a of the name, mixed into
/// [`LOG_LOCK`]); its migration lock is the next key.
pub(crate) fn log_lock(schema: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in schema.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    // Even, so that the migration lock (this + 1) never meets another schema's log lock.
    (LOG_LOCK ^ h as i64) & !1
}

/// A session on the registry's schema: connected as `probity <schema>` (as
/// `pg_stat_activity` shows it, unless `url` names the application), the schema on the search
/// path (created if missing, except on a replica), and no JIT. Also whether the server is a
/// streaming replica.
pub(crate) fn session(url: &str, schema: &str) -> Result<(Client, bool), StoreError> {
    let cannot = |e: &dyn std::fmt::Display| {
        StoreError::Backend(format!("cannot connect to PostgreSQL at `{}`: {e}", redact(url)))
    };
    let mut config: postgres::Config = url.parse().map_err(|e| cannot(&e))?;
    if config.get_application_name().is_none() {
        config.application_name(&format!("probity {schema}"));
    }
    // A server that cannot be reached (down, restarting, cut off) is unavailable, as a lost
    // connection is: the API answers 503 and the next call tries again. A refusal (a wrong
    // password, an unknown database) is not.
    let mut client = config.connect(NoTls).map_err(|e| {
        let message = format!("cannot connect to PostgreSQL at `{}`: {e}", redact(url));
        match backend(e) {
            StoreError::Unavailable(_) => StoreError::Unavailable(message),
            _ => StoreError::Backend(message),
        }
    })?;
    // A streaming replica is read-only: it holds the schema its primary made, at the
    // primary's migration, and nothing may be created or migrated there.
    let standby: bool =
        client.query_one("SELECT pg_is_in_recovery()", &[]).map_err(backend)?.get(0);
    if standby {
        client.batch_execute(&format!("SET search_path TO {schema}")).map_err(backend)?;
    } else {
        client
            .batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema}"
            ))
            .map_err(backend)?;
    }
    // Every query here is driven by an index or a batch of keys. The planner's cost of a
    // batch lookup over ten thousand keys passes PostgreSQL's JIT thresholds, and compiling
    // it took longer than running it (about 300 ms of 370 for one batch at 1,000,000 records).
    client.batch_execute("SET jit = off").map_err(backend)?;
    Ok((client, standby))
}

/// The number of migrations this build knows, if a schema at migration `version` is not newer.
fn known_migrations(schema: &str, version: i32) -> Result<i32, StoreError> {
    let known = MIGRATIONS.len() as i32;
    if version > known {
        return Err(StoreError::TooNew {
            location: format!("schema {schema}"),
            found: i64::from(version),
            known: i64::from(known),
        });
    }
    Ok(known)
}

/// Whether `s` is a plain lowercase identifier, safe to put into SQL text.
fn plain_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && s.len() <= 63
}

/// A connection string with any password left out, for messages.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = url.get(scheme + 3..at).unwrap_or_default();
            let user = creds.split(':').next().unwrap_or_default();
            format!(
                "{}{user}:***{}",
                url.get(..scheme + 3).unwrap_or_default(),
                url.get(at..).unwrap_or_default()
            )
        }
        _ => url
            .split_whitespace()
            .filter(|p| !p.starts_with("password="))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

impl PgStore {
    /// Connects to `url` (a `postgres://` URL or key=value string) and opens the registry in
    /// `schema`, creating the schema and its tables if they are missing.
    pub fn connect(url: &str, schema: &str) -> Result<Self, StoreError> {
        if !plain_identifier(schema) {
            return Err(StoreError::Backend(format!(
                "schema name `{schema}` must be lowercase letters, digits and `_`, starting with a letter"
            )));
        }
        let (client, standby) = session(url, schema)?;
        let mut store = Self {
            client: RefCell::new(client),
            statements: Statements::default(),
            schema: schema.to_owned(),
            frontier: Frontier::default(),
            url: url.to_owned(),
            in_snapshot: Cell::new(false),
            lost: Cell::new(false),
            keys_new: true,
            subject_rows: crate::SubjectRows::default(),
            tiles: RefCell::default(),
        };
        if standby {
            store.check_replica()?;
        } else {
            store.migrate()?;
        }
        store.load_frontier()?;
        Ok(store)
    }

    /// Connects again if the connection was lost (the server restarted, or ended this
    /// session), unless a snapshot is open. The unit of work that met the loss failed with it;
    /// the next one runs on a new connection, with statements prepared afresh.
    pub(crate) fn reconnect_if_lost(&self) -> Result<(), StoreError> {
        if self.in_snapshot.get() || !(self.lost.get() || self.client.borrow().is_closed()) {
            return Ok(());
        }
        let (client, _) = session(&self.url, &self.schema)?;
        *self.client.borrow_mut() = client;
        self.statements.0.borrow_mut().clear();
        self.lost.set(false);
        tracing::warn!(schema = %self.schema, "the connection to PostgreSQL was lost; connected again");
        Ok(())
    }

    /// Runs `call` on the session: connected again first if an earlier call found it lost,
    /// and noted as lost if this call finds it so.
    pub(crate) fn on_session<T>(
        &self,
        call: impl FnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.reconnect_if_lost()?;
        let r = call(&mut self.client.borrow_mut());
        self.noting(r)
    }

    /// Notes whether `r` failed because the connection was lost.
    pub(crate) fn noting<T>(&self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if matches!(r, Err(StoreError::Unavailable(_))) {
            self.lost.set(true);
        }
        r
    }

    /// On a replica: the schema is there, at the migration this build knows.
    fn check_replica(&mut self) -> Result<(), StoreError> {
        let client = self.client.get_mut();
        let exists: bool = client
            .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
            .map_err(backend)?
            .get(0);
        let version: i32 = if exists {
            client
                .query_opt("SELECT version FROM schema_version", &[])
                .map_err(backend)?
                .map_or(0, |r| r.get(0))
        } else {
            0
        };
        let known = known_migrations(&self.schema, version)?;
        if version < known {
            return Err(StoreError::Backend(format!(
                "schema `{}` on this replica is at migration {version} of {known}; a replica \
                 is read-only, so open the registry on its primary first, which migrates it",
                self.schema
            )));
        }
        Ok(())
    }

    /// The schema the registry lives in.
    pub fn schema_name(&self) -> &str {
        &self.schema
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let client = self.client.get_mut();
        let mut tx = client.transaction().map_err(backend)?;
        let lock = log_lock(&self.schema) + 1;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock]).map_err(backend)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            .map_err(backend)?;
        let version: i32 = tx
            .query_opt("SELECT version FROM schema_version", &[])
            .map_err(backend)?
            .map_or(0, |r| r.get(0));
        let known = known_migrations(&self.schema, version)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.batch_execute(sql).map_err(backend)?;
            tracing::info!(version = i + 1, schema = %self.schema, "applied migration");
        }
        tx.execute("DELETE FROM schema_version", &[]).map_err(backend)?;
        tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&known])
            .map_err(backend)?;
        tx.commit().map_err(backend)
    }

    pub(crate) fn load_frontier(&mut self) -> Result<(), StoreError> {
        let size = self.log_size()?;
        self.frontier = Frontier::load(&LogNodes(self), size)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_identifiers_name_a_schema() {
        assert!(plain_identifier("probity_test_01"));
        for bad in ["", "1abc", "Probity", "a;drop", "a b", "a-b", &"x".repeat(64)] {
            assert!(!plain_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("host=h user=u password=secret"), "host=h user=u");
    }
}
