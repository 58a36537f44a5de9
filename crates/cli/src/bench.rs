//! `probity bench`: measurements of probity against a baseline, side by side in one run.

use probity_stores::Stores as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use clap::Subcommand;
use probity_registry::{Registry, Table};
use probity_rules::Rulebook;
use probity_synth::Config;
use serde::Deserialize;
use serde_json::json;

use crate::commands::{import_default, import_file, write_generated};
use crate::exit;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Measure the transparency log: raw SHA-256 of the leaves (the limit), in-memory appends,
    /// durable appends through the store with group commit, and inclusion-proof latency.
    Log {
        /// Leaves for the in-memory tree and its proofs.
        #[arg(long, default_value_t = 10_000_000)]
        leaves: u64,
        /// Events appended durably through the store.
        #[arg(long, default_value_t = 200_000)]
        durable: u64,
        /// Events per transaction (group commit) in the durable run.
        #[arg(long, default_value_t = 10_000)]
        group: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Import generated records through probity's full path (validation, journal, log,
    /// projections and re-rating the subjects touched), then through a naive rusqlite
    /// baseline (one prepared INSERT per row in one transaction, no validation, no journal),
    /// and compare records/s and probity's peak memory. With `--store postgres://…`, also
    /// through the full path into a new registry in that PostgreSQL schema (which must be empty),
    /// compared with SQLite in the same run.
    Import {
        /// Records to import.
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
        /// Subjects they are about.
        #[arg(long, default_value_t = 100_000)]
        enterprises: u64,
        /// Working directory (a temporary one if omitted; kept only if given).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Rows per atomic batch in probity's import.
        #[arg(long, default_value_t = probity_registry::DEFAULT_BATCH_SIZE)]
        batch_size: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Load the check endpoint with wrk on loopback, then nginx serving a static answer of the
    /// same size (the practical HTTP ceiling here), and compare throughput and p50/p99 latency;
    /// then time a batch check of 10,000 subjects. Needs `wrk` and `nginx` (Debian packages).
    Http(crate::bench_http::HttpArgs),
    /// A full re-rate of every subject through probity against DuckDB computing the same scores,
    /// grades and lists in SQL generated from the rulebook, over the same generated data; every
    /// subject's answers compared. Then the last records are imported alone, to time re-rating
    /// only the subjects they touch. With `--store postgres://…`, all of it also on a new
    /// registry in that PostgreSQL schema (which must be empty), in the same run. Needs Python's
    /// `duckdb` (installed with pip if missing).
    Rate(crate::bench_rate::RateArgs),
    /// The time to have one checkpoint cosigned by three witnesses on loopback: three
    /// registries serve `add-checkpoint`, the bench plays the log and asks all three at once
    /// for each new checkpoint, as the collector does.
    Witness(crate::bench_witness::WitnessArgs),
    /// Records filed by a department over NATS JetStream through probity's full path, from the
    /// first publication to the last outcome; needs `nats-server` (Debian package).
    Nats(crate::bench_nats::NatsArgs),
    /// Watchlist change latency: filings through the API, each changing one watched company's
    /// answer, timed from commit to the signed delivery of the change to a webhook on
    /// loopback.
    Webhook(crate::bench_webhook::WebhookArgs),
    /// Time an inspection draw over a population of generated subjects, and its verification
    /// from the log: a registry is made on a clock before drand quicknet round 123 with the
    /// subjects and records, a plan at the rulebook's minimum ratios is filed, then drawn with
    /// the shipped round (replaying the log up to the plan, grading every subject in scope,
    /// selecting) and verified (replaying it again with every leaf checked).
    Draw {
        /// Subjects in the population.
        #[arg(long, default_value_t = 1_000_000)]
        enterprises: u64,
        /// Records about them (they set the grades, so the classes).
        #[arg(long, default_value_t = 300_000)]
        records: u64,
        /// Working directory (a temporary one if omitted; kept only if given).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The working directory of a benchmark: `dir` if given (kept), else a new temporary one that
/// lives as long as the guard returned with it.
pub fn work_dir(
    dir: Option<PathBuf>,
    prefix: &str,
) -> anyhow::Result<(PathBuf, Option<tempfile::TempDir>)> {
    Ok(match dir {
        Some(d) => (d, None),
        None => {
            let temp = tempfile::Builder::new().prefix(prefix).tempdir()?;
            (temp.path().to_path_buf(), Some(temp))
        }
    })
}

/// Peak resident set size of this process in bytes, from /proc.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resets the peak RSS counter so the next reading covers only what follows (Linux ≥ 4.0).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub fn run(cmd: BenchCommand, store: Option<probity_stores::StoreLocation>) -> anyhow::Result<u8> {
    match cmd {
        BenchCommand::Log { leaves, durable, group, json } => {
            bench_log(leaves, durable, group, json)
        }
        BenchCommand::Import { records, enterprises, dir, batch_size, json } => {
            let postgres = store.filter(|s| *s != probity_stores::StoreLocation::Sqlite);
            bench_import(records, enterprises, dir, batch_size, postgres, json)
        }
        BenchCommand::Http(args) => crate::bench_http::run(
            &args,
            store.filter(|s| *s != probity_stores::StoreLocation::Sqlite),
        ),
        BenchCommand::Witness(args) => crate::bench_witness::run(&args),
        BenchCommand::Nats(args) => crate::bench_nats::run(&args),
        BenchCommand::Webhook(args) => crate::bench_webhook::run(&args),
        BenchCommand::Draw { enterprises, records, dir, json } => {
            bench_draw(enterprises, records, dir, json)
        }
        BenchCommand::Rate(args) => crate::bench_rate::run(
            &args,
            store.filter(|s| *s != probity_stores::StoreLocation::Sqlite),
        ),
    }
}

#[derive(Deserialize)]
struct BaselineRow {
    authority: String,
    decision_no: String,
    subject: String,
    kind: String,
    decided: String,
    effective: String,
    basis: String,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    amount: Option<String>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    document_sha256: Option<String>,
}

impl BaselineRow {
    /// The columns of the baselines' table, in its order.
    fn columns(&self) -> [Option<&str>; 11] {
        [
            Some(self.authority.as_str()),
            Some(self.decision_no.as_str()),
            Some(self.subject.as_str()),
            Some(self.kind.as_str()),
            Some(self.decided.as_str()),
            Some(self.effective.as_str()),
            Some(self.basis.as_str()),
            self.summary.as_deref(),
            self.amount.as_deref(),
            self.currency.as_deref(),
            self.document_sha256.as_deref(),
        ]
    }
}

/// The one table of both baselines: the record's fields, keyed by (authority, decision_no),
/// with an index on subject.
const BASELINE_TABLE: &str = "CREATE TABLE records (
    authority TEXT NOT NULL, decision_no TEXT NOT NULL, subject TEXT NOT NULL,
    kind TEXT NOT NULL, decided TEXT NOT NULL, effective TEXT NOT NULL, basis TEXT NOT NULL,
    summary TEXT, amount TEXT, currency TEXT, document_sha256 TEXT,
    PRIMARY KEY (authority, decision_no));
 CREATE INDEX records_subject ON records (subject);";

/// The naive baseline: plain rusqlite with default settings, one prepared INSERT per row inside
/// one transaction, into one table keyed by (authority, decision_no) with an index on subject.
fn baseline(records: &Path, db: &Path) -> anyhow::Result<u64> {
    let mut conn = rusqlite::Connection::open(db)?;
    conn.execute_batch(BASELINE_TABLE)?;
    let tx = conn.transaction()?;
    let mut n = 0;
    {
        let mut stmt = tx
            .prepare("INSERT INTO records VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")?;
        for line in BufReader::with_capacity(1 << 20, std::fs::File::open(records)?).lines() {
            let r: BaselineRow = serde_json::from_str(&line?)?;
            stmt.execute(rusqlite::params_from_iter(r.columns()))?;
            n += 1;
        }
    }
    tx.commit()?;
    Ok(n)
}

/// A part of what an import into SQLite must keep durably, whatever else it does.
#[derive(Clone, Copy)]
enum Floor {
    /// The journal entries of the records: the bytes the registry keeps because everything
    /// else is derived from them, in a table made from the registry's own definition.
    Journal,
    /// For each record, the two look-ups the import itself needs: from its key (to know a
    /// duplicate) and from its subject (to re-rate it), as a row of key hash, subject row and
    /// journal index with an index on each of the first two.
    Lookups,
}

impl Floor {
    /// Writes one row of the four columns [`Floor::read`] gives into the floor's table.
    fn insert(self) -> &'static str {
        match self {
            Self::Journal => "INSERT INTO journal VALUES (?1, ?2, ?3, ?4)",
            Self::Lookups => "INSERT INTO lookups VALUES (?1, ?2, ?3, ?4)",
        }
    }

    /// The floor's table, made as the registry at `source` has it for the journal.
    fn create(self, source: &rusqlite::Connection) -> anyhow::Result<String> {
        Ok(match self {
            Self::Journal => source
                .query_row(
                    "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'journal'",
                    [],
                    |r| r.get(0),
                )
                .context("the registry has no journal table")?,
            Self::Lookups => "CREATE TABLE lookups (id INTEGER PRIMARY KEY, key_hash INTEGER NOT NULL,
                                                    subject INTEGER NOT NULL, event INTEGER NOT NULL);
                              CREATE INDEX lookups_by_key ON lookups (key_hash);
                              CREATE INDEX lookups_by_subject ON lookups (subject);"
                .to_owned(),
        })
    }

    /// Reads four columns of the rows after `?1` (a row id), at most `?2`, from the registry.
    fn read(self) -> &'static str {
        match self {
            Self::Journal => {
                "SELECT idx, recorded_at, type, body FROM journal
                 WHERE type = 'record_filed' AND idx > ?1 ORDER BY idx LIMIT ?2"
            }
            Self::Lookups => {
                "SELECT id, key_hash, subject, filed_event FROM records
                 WHERE id > ?1 ORDER BY id LIMIT ?2"
            }
        }
    }
}

/// One part of the floor under probity's import into SQLite: the rows of `part`, copied from
/// the registry at `registry_db` into a new database at `db` with the registry's settings,
/// `batch` rows per transaction as the import commits. Each batch is read before its clock
/// starts; only the inserts and commits are timed. No validation, log, projection or rating.
fn floor(
    part: Floor,
    registry_db: &Path,
    db: &Path,
    batch: usize,
) -> anyhow::Result<(u64, std::time::Duration)> {
    use rusqlite::types::Value;
    let remove = || {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
    };
    remove();
    let source = rusqlite::Connection::open_with_flags(
        registry_db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let mut conn = rusqlite::Connection::open(db)?;
    conn.execute_batch(probity_sqlite::SETTINGS)?;
    conn.execute_batch(&part.create(&source)?)?;
    let mut read = source.prepare(part.read())?;
    let (mut n, mut after, mut spent) = (0u64, -1i64, std::time::Duration::ZERO);
    loop {
        let rows = read
            .query_map(rusqlite::params![after, batch as i64], |r| {
                (0..4).map(|i| r.get::<_, Value>(i)).collect::<Result<Vec<_>, _>>()
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let Some(Value::Integer(last)) = rows.last().and_then(|r| r.first()) else { break };
        after = *last;
        let t = Instant::now();
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(part.insert())?;
            for row in &rows {
                insert.execute(rusqlite::params_from_iter(row))?;
            }
        }
        tx.commit()?;
        spent += t.elapsed();
        n += rows.len() as u64;
    }
    drop(conn);
    remove();
    Ok((n, spent))
}

/// Refuses a schema name that could not be put into SQL text as it is.
fn plain_schema(name: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        "schema name `{name}` must be lowercase letters, digits and `_`"
    );
    Ok(())
}

/// The PostgreSQL peer of the naive baseline: the same rows, parsed the same way, sent with one
/// binary COPY in one transaction into one table keyed by (authority, decision_no) with an index
/// on subject, in a schema of its own that is dropped first. No validation, no journal: what
/// PostgreSQL itself takes to store these records on this machine.
fn postgres_baseline(url: &str, schema: &str, records: &Path) -> anyhow::Result<u64> {
    use postgres::types::Type;
    plain_schema(schema)?;
    let mut client = postgres::Client::connect(url, postgres::NoTls)
        .context("cannot connect to PostgreSQL for the COPY baseline")?;
    let name = schema;
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))?;
    client.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema}"
    ))?;
    client.batch_execute(BASELINE_TABLE)?;
    let mut tx = client.transaction()?;
    let sink = tx.copy_in(
        "COPY records (authority, decision_no, subject, kind, decided, effective, basis, summary,
                       amount, currency, document_sha256) FROM STDIN (FORMAT binary)",
    )?;
    let mut w = postgres::binary_copy::BinaryCopyInWriter::new(sink, &[Type::TEXT; 11]);
    let mut n = 0;
    for line in BufReader::with_capacity(1 << 20, std::fs::File::open(records)?).lines() {
        let r: BaselineRow = serde_json::from_str(&line?)?;
        let columns = r.columns();
        let values: Vec<&(dyn postgres::types::ToSql + Sync)> =
            columns.iter().map(|c| c as &(dyn postgres::types::ToSql + Sync)).collect();
        w.write(&values)?;
        n += 1;
    }
    w.finish()?;
    tx.commit()?;
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))?;
    Ok(n)
}

impl Floor {
    /// The floor's table on PostgreSQL, in the floor's schema; the registry is in `registry`.
    fn postgres_create(self, registry: &str) -> String {
        match self {
            Self::Journal => format!("CREATE TABLE journal (LIKE {registry}.journal INCLUDING ALL)"),
            Self::Lookups => "CREATE TABLE lookups (authority BIGINT NOT NULL,
                                                    decision_no TEXT COLLATE \"C\" NOT NULL,
                                                    subject BIGINT NOT NULL, event BIGINT NOT NULL);
                              CREATE UNIQUE INDEX lookups_by_key ON lookups (authority, decision_no);
                              CREATE INDEX lookups_by_subject ON lookups (subject);"
                .to_owned(),
        }
    }

    /// Reads the rows after `$1` (the first column), at most `$2`, from the registry (the
    /// schema on the search path).
    fn postgres_read(self) -> &'static str {
        match self {
            Self::Journal => {
                "SELECT idx, recorded_at, type, body FROM journal
                 WHERE type = 'record_filed' AND idx > $1 ORDER BY idx LIMIT $2"
            }
            Self::Lookups => {
                "SELECT id, authority, decision_no, subject, filed_event FROM records
                 WHERE id > $1 ORDER BY id LIMIT $2"
            }
        }
    }

    /// Sends the rows `read` gave, without its first column for the look-ups, with binary COPY.
    fn postgres_copy(
        self,
        tx: &mut postgres::Transaction<'_>,
        rows: &[postgres::Row],
    ) -> anyhow::Result<()> {
        use postgres::binary_copy::BinaryCopyInWriter;
        use postgres::types::Type;
        match self {
            Self::Journal => {
                let sink = tx.copy_in(
                    "COPY journal (idx, recorded_at, type, body) FROM STDIN (FORMAT binary)",
                )?;
                let mut w = BinaryCopyInWriter::new(
                    sink,
                    &[Type::INT8, Type::INT8, Type::TEXT, Type::BYTEA],
                );
                for r in rows {
                    let (idx, at, kind, body): (i64, i64, &str, &[u8]) =
                        (r.get(0), r.get(1), r.get(2), r.get(3));
                    w.write(&[&idx, &at, &kind, &body])?;
                }
                w.finish()?;
            }
            Self::Lookups => {
                let sink = tx.copy_in(
                    "COPY lookups (authority, decision_no, subject, event) FROM STDIN (FORMAT binary)",
                )?;
                let mut w = BinaryCopyInWriter::new(
                    sink,
                    &[Type::INT8, Type::TEXT, Type::INT8, Type::INT8],
                );
                for r in rows {
                    let (authority, decision_no, subject, event): (i64, &str, i64, i64) =
                        (r.get(1), r.get(2), r.get(3), r.get(4));
                    w.write(&[&authority, &decision_no, &subject, &event])?;
                }
                w.finish()?;
            }
        }
        Ok(())
    }
}

/// The floor under probity's import into PostgreSQL, as [`floor`] is under SQLite's: the rows
/// of `part`, read from the registry in schema `registry` and sent with one binary COPY per
/// `batch` rows, each batch its own transaction, into a new schema `schema` that is dropped
/// afterwards. Only the COPY and commit of each batch are timed.
fn postgres_floor(
    part: Floor,
    url: &str,
    registry: &str,
    schema: &str,
    batch: usize,
) -> anyhow::Result<(u64, std::time::Duration)> {
    plain_schema(registry)?;
    plain_schema(schema)?;
    let connect = || {
        postgres::Client::connect(url, postgres::NoTls)
            .context("cannot connect to PostgreSQL for the floor")
    };
    let (mut source, mut client) = (connect()?, connect()?);
    source.batch_execute(&format!("SET search_path TO {registry}"))?;
    let name = schema;
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))?;
    client.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema}"
    ))?;
    client.batch_execute(&part.postgres_create(registry))?;
    let read = source.prepare(part.postgres_read())?;
    let (mut n, mut after, mut spent) = (0u64, -1i64, std::time::Duration::ZERO);
    loop {
        let rows = source.query(&read, &[&after, &(batch as i64)])?;
        let Some(last) = rows.last() else { break };
        after = last.get(0);
        let t = Instant::now();
        let mut tx = client.transaction()?;
        part.postgres_copy(&mut tx, &rows)?;
        tx.commit()?;
        spent += t.elapsed();
        n += rows.len() as u64;
    }
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))?;
    Ok((n, spent))
}

/// A new registry in `reg_dir` (replacing one there) whose store is at `store`, holding the
/// generated authorities of `input`.
pub(crate) fn registry_with_authorities(
    reg_dir: &Path,
    store: &probity_stores::StoreLocation,
    input: &Path,
) -> anyhow::Result<Registry> {
    if reg_dir.exists() {
        std::fs::remove_dir_all(reg_dir)?;
    }
    let mut reg = Registry::init_at(
        reg_dir,
        store,
        None,
        probity_registry::DEFAULT_ORIGIN,
        probity_registry::SystemClock,
    )?;
    import_default(&mut reg, Table::Authorities, &input.join("authorities.csv"))?;
    Ok(reg)
}

/// What `bench import` measured on PostgreSQL, in seconds: probity's import of the records,
/// the plain COPY of them, and the two parts of the floor.
struct OnPostgres {
    secs: f64,
    peak: Option<u64>,
    copy_secs: f64,
    journal_secs: f64,
    lookups_secs: f64,
}

/// What one import through probity's full path measured.
struct Imported {
    /// Seconds the subjects took.
    subjects_secs: f64,
    /// Seconds the records took.
    records_secs: f64,
    /// Peak memory while the records were imported.
    peak: Option<u64>,
}

/// Imports the generated input into a new registry in `reg_dir` whose store is at `store`:
/// authorities, then the timed subjects, then the timed records, all of which must be accepted.
fn import_all(
    reg_dir: &Path,
    store: &probity_stores::StoreLocation,
    input: &Path,
    records: u64,
    batch_size: usize,
) -> anyhow::Result<Imported> {
    let mut reg = registry_with_authorities(reg_dir, store, input)?;
    let t = Instant::now();
    import_default(&mut reg, Table::Subjects, &input.join("subjects.csv"))?;
    let subjects_secs = t.elapsed().as_secs_f64();
    reset_peak_rss();
    let t = Instant::now();
    let (report, _) = import_file(
        &mut reg,
        Table::Records,
        &input.join("records.jsonl"),
        None,
        None,
        batch_size,
    )?;
    let records_secs = t.elapsed().as_secs_f64();
    let peak = peak_rss();
    anyhow::ensure!(
        report.accepted == records,
        "probity accepted {} of {records} records into `{}`",
        report.accepted,
        reg_dir.display()
    );
    Ok(Imported { subjects_secs, records_secs, peak })
}

fn bench_import(
    records: u64,
    enterprises: u64,
    dir: Option<PathBuf>,
    batch_size: usize,
    postgres: Option<probity_stores::StoreLocation>,
    as_json: bool,
) -> anyhow::Result<u8> {
    let (dir, _temp) = work_dir(dir, "probity-bench-")?;
    let input = dir.join("input");
    let today = jiff::tz::TimeZone::UTC.to_datetime(jiff::Timestamp::now()).date();
    let cfg = Config { enterprises, records, seed: 42, dirty: 0.0, as_of: today };
    eprintln!("generating {enterprises} subjects and {records} records in {}…", input.display());
    let t = Instant::now();
    write_generated(&input, &cfg, &Rulebook::parse(probity_rules::DEFAULT_RULEBOOK)?)?;
    let generated = t.elapsed().as_secs_f64();
    let file_bytes = std::fs::metadata(input.join("records.jsonl"))?.len();

    eprintln!("probity: importing records through the full path…");
    let lite = import_all(
        &dir.join("probity"),
        &probity_stores::StoreLocation::Sqlite,
        &input,
        records,
        batch_size,
    )?;
    let (subjects_secs, probity_secs, probity_peak) =
        (lite.subjects_secs, lite.records_secs, lite.peak);

    eprintln!("baseline: importing the same file with naive rusqlite…");
    let base_db = dir.join("baseline.sqlite");
    let _ = std::fs::remove_file(&base_db);
    let t = Instant::now();
    let n = baseline(&input.join("records.jsonl"), &base_db).context("baseline import failed")?;
    let baseline_secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(n == records, "baseline stored {n} of {records} records");

    eprintln!("floor: the records' journal entries alone, then their look-ups alone…");
    let registry_db = dir.join("probity").join(probity_sqlite::DB_FILE);
    let mut floors = [0.0f64; 2];
    for (secs, part) in floors.iter_mut().zip([Floor::Journal, Floor::Lookups]) {
        let (n, spent) = floor(part, &registry_db, &dir.join("floor.sqlite"), batch_size)
            .context("floor measurement failed")?;
        anyhow::ensure!(n == records, "the floor stored {n} of {records} rows");
        *secs = spent.as_secs_f64();
    }
    let [journal_secs, lookups_secs] = floors;

    let on_postgres = match &postgres {
        None => None,
        Some(store) => {
            eprintln!("probity on PostgreSQL: importing the same file through the full path…");
            let pg = import_all(&dir.join("probity-postgres"), store, &input, records, batch_size)?;
            let probity_stores::StoreLocation::Postgres { url, schema } = store else {
                anyhow::bail!("not a PostgreSQL store")
            };
            eprintln!("baseline on PostgreSQL: the same file with one plain COPY…");
            let t = Instant::now();
            let n = postgres_baseline(
                url,
                &format!("{schema}_copy_baseline"),
                &input.join("records.jsonl"),
            )
            .context("PostgreSQL COPY baseline failed")?;
            let copy_secs = t.elapsed().as_secs_f64();
            anyhow::ensure!(n == records, "the COPY baseline stored {n} of {records} records");
            eprintln!(
                "floor on PostgreSQL: the records' journal entries alone, then their look-ups alone…"
            );
            let mut floors = [0.0f64; 2];
            for (secs, part) in floors.iter_mut().zip([Floor::Journal, Floor::Lookups]) {
                let (n, spent) =
                    postgres_floor(part, url, schema, &format!("{schema}_floor"), batch_size)
                        .context("PostgreSQL floor measurement failed")?;
                anyhow::ensure!(n == records, "the PostgreSQL floor stored {n} of {records} rows");
                *secs = spent.as_secs_f64();
            }
            Some(OnPostgres {
                secs: pg.records_secs,
                peak: pg.peak,
                copy_secs,
                journal_secs: floors[0],
                lookups_secs: floors[1],
            })
        }
    };

    let probity_rate = records as f64 / probity_secs;
    let baseline_rate = records as f64 / baseline_secs;
    let ratio = probity_rate / baseline_rate;
    let floor_secs = journal_secs + lookups_secs;
    let floor_rate = records as f64 / floor_secs;
    let peak_mb = probity_peak.map(|b| b as f64 / 1e6);
    if as_json {
        outln!(
            "{}",
            json!({
                "records": records, "subjects": enterprises, "file_bytes": file_bytes,
                "generate_seconds": generated, "subjects_seconds": subjects_secs,
                "probity": {"seconds": probity_secs, "records_per_second": probity_rate, "peak_rss_bytes": probity_peak},
                "baseline": {"seconds": baseline_secs, "records_per_second": baseline_rate},
                "ratio": ratio,
                "floor": {"journal_seconds": journal_secs, "lookups_seconds": lookups_secs,
                          "records_per_second": floor_rate,
                          "ratio_to_baseline": floor_rate / baseline_rate,
                          "probity_to_floor": probity_rate / floor_rate},
                "postgres": on_postgres.as_ref().map(|pg| {
                    let floor_secs = pg.journal_secs + pg.lookups_secs;
                    json!({
                        "seconds": pg.secs, "records_per_second": records as f64 / pg.secs,
                        "peak_rss_bytes": pg.peak, "ratio_to_sqlite": probity_secs / pg.secs,
                        "copy_baseline": {"seconds": pg.copy_secs,
                                          "records_per_second": records as f64 / pg.copy_secs},
                        "ratio_to_copy_baseline": pg.copy_secs / pg.secs,
                        "floor": {"journal_seconds": pg.journal_secs,
                                  "lookups_seconds": pg.lookups_secs,
                                  "records_per_second": records as f64 / floor_secs,
                                  "ratio_to_copy_baseline": pg.copy_secs / floor_secs,
                                  "probity_to_floor": floor_secs / pg.secs},
                    })
                }),
                "targets": {"probity_to_floor_at_least": 0.6,
                            "postgres_to_copy_baseline_at_least": 0.5,
                            "peak_rss_below_bytes": 500_000_000u64},
            })
        );
    } else {
        outln!(
            "bench import: {records} records ({:.0} MB JSONL) about {enterprises} subjects",
            file_bytes as f64 / 1e6
        );
        outln!(
            "  probity   full path (journal, log, ratings)            {probity_rate:>10.0} records/s  {probity_secs:>7.2} s"
        );
        outln!(
            "  baseline  naive rusqlite, one INSERT per row             {baseline_rate:>10.0} records/s  {baseline_secs:>7.2} s"
        );
        outln!("  ratio     probity / baseline                             {ratio:>10.2}×");
        outln!(
            "  floor     journal entries {journal_secs:.2} s + look-ups {lookups_secs:.2} s  {floor_rate:>10.0} records/s  {floor_secs:>7.2} s  ({:.2}× baseline; probity {:.2}× of it, target ≥ 0.6×)",
            floor_rate / baseline_rate,
            probity_rate / floor_rate
        );
        if let Some(pg) = &on_postgres {
            let rate = records as f64 / pg.secs;
            let copy = records as f64 / pg.copy_secs;
            let floor = records as f64 / (pg.journal_secs + pg.lookups_secs);
            outln!(
                "  postgres  full path on PostgreSQL                       {rate:>10.0} records/s  ({:.2}× SQLite)",
                rate / probity_rate
            );
            outln!(
                "  postgres  baseline: one plain COPY into one keyed table  {copy:>10.0} records/s  (probity {:.2}× of it, target ≥ 0.5×)",
                rate / copy
            );
            outln!(
                "  postgres  floor: journal entries {:.2} s + look-ups {:.2} s  {floor:>10.0} records/s  ({:.2}× COPY; probity {:.2}× of it)",
                pg.journal_secs,
                pg.lookups_secs,
                floor / copy,
                rate / floor
            );
        }
        match peak_mb {
            Some(mb) => outln!(
                "  probity peak RSS during the import                     {mb:>10.0} MB  (target < 500 MB)"
            ),
            None => outln!("  probity peak RSS: not available on this system"),
        }
    }
    Ok(exit::OK)
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

/// p50 and p99 of `samples` proof computations, in microseconds.
fn proof_latency(
    mut prove: impl FnMut(u64) -> anyhow::Result<usize>,
    size: u64,
    samples: u64,
) -> anyhow::Result<(f64, f64)> {
    let mut rng = probity_synth::SplitMix64::new(7);
    let mut micros = Vec::with_capacity(samples as usize);
    for _ in 0..samples {
        let index = rng.below(size);
        let t = Instant::now();
        let n = prove(index)?;
        micros.push(t.elapsed().as_secs_f64() * 1e6);
        anyhow::ensure!(n > 0 || size == 1, "empty proof");
    }
    micros.sort_by(f64::total_cmp);
    Ok((percentile(&micros, 0.5), percentile(&micros, 0.99)))
}

// The three phases of `bench log` are functions of their own, never inlined, so that
// `scripts/instructions` can count each one's instructions under callgrind by name.

/// The leaf hash of every leaf, and nothing else: the limit.
#[inline(never)]
fn raw_leaf_hashes(data: &[[u8; 33]]) -> u8 {
    data.iter().fold(0u8, |sink, d| sink ^ probity_tlog::leaf_hash(d)[0])
}

/// The three-block ceiling of an RFC 6962 append: the leaf hash (one SHA-256 block for 33 bytes
/// of leaf data) and, on average, one interior node per leaf (65 bytes: two blocks). Nothing
/// that keeps the tree can hash less.
#[inline(never)]
fn three_block_ceiling(data: &[[u8; 33]]) -> [u8; 32] {
    data.iter().fold([0u8; 32], |acc, d| probity_tlog::node_hash(&acc, &probity_tlog::leaf_hash(d)))
}

/// Every leaf appended to an in-memory tree.
#[inline(never)]
fn in_memory_appends(data: &[[u8; 33]]) -> probity_tlog::MemoryTree {
    let mut tree = probity_tlog::MemoryTree::default();
    for d in data {
        tree.append(d);
    }
    tree
}

fn bench_log(leaves: u64, durable: u64, group: usize, as_json: bool) -> anyhow::Result<u8> {
    // Leaf data as the log has it: a version byte and a SHA-256.
    let data: Vec<[u8; 33]> =
        (0..leaves).map(|i| probity_core::leaf_data(&i.to_be_bytes())).collect();

    eprintln!("raw SHA-256 of {leaves} leaves…");
    let t = Instant::now();
    std::hint::black_box(raw_leaf_hashes(&data));
    let raw_secs = t.elapsed().as_secs_f64();

    eprintln!("the three-block ceiling…");
    let t = Instant::now();
    std::hint::black_box(three_block_ceiling(&data));
    let ceiling_secs = t.elapsed().as_secs_f64();

    eprintln!("in-memory appends…");
    let t = Instant::now();
    let tree = in_memory_appends(&data);
    let mem_secs = t.elapsed().as_secs_f64();
    drop(data);

    eprintln!("inclusion proofs on the in-memory tree…");
    let (mem_p50, mem_p99) =
        proof_latency(|i| Ok(tree.inclusion_proof(i, leaves)?.len()), leaves, 100_000)?;
    drop(tree);

    eprintln!("durable appends through the store ({durable} events, {group} per transaction)…");
    let temp = tempfile::Builder::new().prefix("probity-bench-").tempdir()?;
    let mut reg = Registry::init(&temp.path().join("reg"), None)?;
    let mut rows = String::from("id,name\n");
    for i in 0..durable {
        rows.push_str(&format!("{},Bench {i} Ltd\n", probity_synth::uscc(i, "91", "110105")));
    }
    let t = Instant::now();
    let mut rejects = Vec::new();
    let report = reg.import(
        Table::Subjects,
        probity_registry::Format::Csv,
        std::io::Cursor::new(rows.into_bytes()),
        probity_registry::ImportOptions { batch_size: group },
        &(),
        &mut rejects,
    )?;
    let durable_secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(
        report.accepted == durable,
        "the store accepted {} of {durable}",
        report.accepted
    );
    let size = reg.log_size()?;
    let nodes = probity_store::LogNodes(reg.store());
    // One pass warms the store's cache of upper nodes, as a serving process has; the second is
    // measured.
    let (cold_p50, cold_p99) =
        proof_latency(|i| Ok(probity_tlog::inclusion_proof(&nodes, i, size)?.len()), size, 20_000)?;
    let (store_p50, store_p99) =
        proof_latency(|i| Ok(probity_tlog::inclusion_proof(&nodes, i, size)?.len()), size, 20_000)?;

    let raw = leaves as f64 / raw_secs;
    let ceiling = leaves as f64 / ceiling_secs;
    let mem = leaves as f64 / mem_secs;
    let dur = durable as f64 / durable_secs;
    if as_json {
        outln!(
            "{}",
            json!({
                "leaves": leaves, "raw_sha256_per_second": raw, "memory_appends_per_second": mem,
                "memory_to_raw": mem / raw, "three_block_ceiling_per_second": ceiling,
                "memory_to_ceiling": mem / ceiling, "durable_events": durable, "group": group,
                "durable_appends_per_second": dur,
                "memory_proof_us": {"p50": mem_p50, "p99": mem_p99, "size": leaves},
                "store_proof_us": {"p50": store_p50, "p99": store_p99, "size": size, "cold_p50": cold_p50, "cold_p99": cold_p99},
                "targets": {"memory_to_ceiling_at_least": 0.8, "durable_at_least": 100_000, "proof_p99_us_below": 50},
            })
        );
    } else {
        outln!("bench log");
        outln!("  raw SHA-256 of the leaves                    {raw:>12.0} leaves/s");
        outln!(
            "  three-block ceiling (leaf + one node each)   {ceiling:>12.0} leaves/s  ({:.0}% of raw)",
            100.0 * ceiling / raw
        );
        outln!(
            "  in-memory appends                            {mem:>12.0} leaves/s  ({:.2}× the ceiling; target ≥ 0.8×)",
            mem / ceiling
        );
        outln!(
            "  durable appends, {group} per commit (events)  {dur:>12.0} leaves/s  (target ≥ 100,000)"
        );
        outln!(
            "  inclusion proof, memory, {leaves} leaves     p50 {mem_p50:.1} µs  p99 {mem_p99:.1} µs"
        );
        outln!(
            "  inclusion proof, SQLite store, {size} leaves  p50 {store_p50:.1} µs  p99 {store_p99:.1} µs warm; p50 {cold_p50:.1} µs  p99 {cold_p99:.1} µs cold  (target p99 < 50 µs at 10M)"
        );
    }
    Ok(exit::OK)
}

fn bench_draw(
    enterprises: u64,
    records: u64,
    dir: Option<PathBuf>,
    as_json: bool,
) -> anyhow::Result<u8> {
    let (dir, _temp) = work_dir(dir, "probity-bench-")?;
    let input = dir.join("input");
    // Everything the plan's population depends on is dated before the plan.
    let as_of = probity_core::Date::constant(2023, 8, 22);
    let cfg = Config { enterprises, records, seed: 7, dirty: 0.0, as_of };
    eprintln!("generating {enterprises} subjects and {records} records…");
    write_generated(&input, &cfg, &Rulebook::parse(probity_rules::DEFAULT_RULEBOOK)?)?;
    let before = crate::inspection::stopped_at(crate::inspection::BEFORE_SHIPPED_ROUND)?;
    let mut reg = Registry::init_with_clock(&dir.join("registry"), None, "bench/draw", before)?;
    eprintln!("importing…");
    for (table, name) in [
        (Table::Authorities, "authorities.csv"),
        (Table::Subjects, "subjects.csv"),
        (Table::Records, "records.jsonl"),
    ] {
        import_default(&mut reg, table, &input.join(name))?;
    }
    let key = crate::inspection::file_sample_plan(&mut reg, "BENCH-1")?;
    let after = crate::inspection::stopped_at(crate::inspection::AFTER_SHIPPED_ROUND)?;
    let mut reg = reg.with_clock(after);
    eprintln!("drawing…");
    let t = Instant::now();
    let draw = crate::inspection::draw_with_shipped_round(&mut reg, &key, &())?;
    let draw_secs = t.elapsed().as_secs_f64();
    eprintln!("verifying…");
    let t = Instant::now();
    let check = reg.verify_draw(&key, &())?;
    let verify_secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(check.verified, "the draw did not verify: {:?}", check.problems);
    let population: u64 = draw.population.values().sum();
    let out = json!({
        "subjects": enterprises,
        "records": records,
        "population": draw.population,
        "selected": draw.selected.len(),
        "log_entries": check.entries,
        "draw_secs": draw_secs,
        "verify_secs": verify_secs,
        "peak_rss_bytes": peak_rss(),
    });
    crate::print_json_or(as_json, &out, |_| {
        outln!(
            "drew {} of a population of {population} ({:?} by class) in {draw_secs:.2} s",
            draw.selected.len(),
            draw.population
        );
        outln!("verified from the log ({} entries) in {verify_secs:.2} s", check.entries);
        Ok(())
    })?;
    Ok(exit::OK)
}
