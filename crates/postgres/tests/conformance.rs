//! The store conformance suite against the PostgreSQL on this machine, each test in a fresh
//! schema that is dropped afterwards.
//!
//! The server is `PROBITY_TEST_POSTGRES` (default `host=127.0.0.1 port=5432 dbname=test`). When
//! it cannot be reached the tests fail, never skip; `scripts/test` checks first and, outside CI
//! only, skips this suite with a plain message by setting `PROBITY_SKIP_POSTGRES=1`.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use probity_postgres::PgStore;

/// The server the tests use.
pub fn url() -> String {
    std::env::var("PROBITY_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 dbname=test user=postgres".into())
}

/// Drops its schema when the test ends.
pub struct Schema(Option<String>);

impl Drop for Schema {
    fn drop(&mut self) {
        if let Some(name) = self.0.take()
            && let Ok(mut c) = postgres::Client::connect(&url(), postgres::NoTls)
        {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"));
        }
    }
}

fn fresh() -> (Schema, PgStore) {
    if std::env::var_os("PROBITY_SKIP_POSTGRES").is_some() {
        // scripts/test said so, plainly, before running the tests.
        panic!("PROBITY_SKIP_POSTGRES is set: this suite must not run");
    }
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    let name =
        format!("probity_test_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let store = PgStore::connect(&url(), &name)
        .unwrap_or_else(|e| panic!("PostgreSQL is needed for this suite: {e}"));
    (Schema(Some(name)), store)
}

probity_store::conformance_tests!(fresh);

/// A reader's snapshot on PostgreSQL: reads between `begin_snapshot` and `end_snapshot` see the
/// store as at the first of them, whatever another connection appends meanwhile.
#[test]
fn a_snapshot_holds_while_another_connection_appends() {
    use probity_store::Store as _;
    let (schema, mut writer) = fresh();
    let name = schema.0.clone().unwrap();
    let reader = PgStore::connect(&url(), &name).unwrap();
    let authority = |id: &str| {
        let a = probity_store::conformance::authority(id);
        probity_core::Event::new(
            jiff::Timestamp::UNIX_EPOCH,
            probity_core::EventBody::AuthorityRegistered { authority: a },
        )
        .into()
    };
    writer.append(&[authority("bj-amr")]).unwrap();
    reader.begin_snapshot().unwrap();
    let before = reader.log_size().unwrap();
    writer.append(&[authority("bj-amr-2")]).unwrap();
    assert_eq!(writer.log_size().unwrap(), before + 1);
    assert_eq!(reader.log_size().unwrap(), before, "the snapshot holds");
    reader.end_snapshot().unwrap();
    assert_eq!(reader.log_size().unwrap(), before + 1);
}

/// A registry made under the released migration 0001 opens under the later ones (assessment
/// explanations, redaction, the log size of assessments, the covering index for rating, and
/// the rest up to lz4 for explanations) without touching what is stored.
#[test]
fn a_registry_from_before_assessment_explanations_migrates() {
    let (schema, first) = fresh();
    let name = schema.0.clone().unwrap();
    drop(first);
    let mut c = postgres::Client::connect(&url(), postgres::NoTls).unwrap();
    c.batch_execute(&format!(
        "DROP SCHEMA {name} CASCADE; CREATE SCHEMA {name}; SET search_path TO {name};\n{}\n\
         CREATE TABLE schema_version (version INTEGER NOT NULL);\n\
         INSERT INTO schema_version (version) VALUES (1);",
        include_str!("../migrations/0001_registry.sql")
    ))
    .unwrap();
    let mut store = PgStore::connect(&url(), &name).unwrap();
    probity_store::conformance::assessments_are_kept_and_swept(&mut store);
    let version: i32 =
        c.query_one(&format!("SELECT version FROM {name}.schema_version"), &[]).unwrap().get(0);
    assert_eq!(version, 16, "every later migration is applied");
}

/// A long explanation is compressed with lz4 (migration 0008) on a server built with it, as
/// this one is, and so are long answers (migration 0016); both read back as stored.
#[test]
fn long_explanations_and_answers_are_compressed_with_lz4() {
    use probity_store::{AssessmentRow, Store as _, conformance::uscc};
    let (schema, mut store) = fresh();
    let name = schema.0.clone().unwrap();
    probity_store::conformance::register_numbered_subjects(&mut store, 1, 2, 1);
    let steps: Vec<String> =
        (0..200).map(|i| format!(r#"{{"rule":"penalty.minor","points":{i}}}"#)).collect();
    let row = AssessmentRow {
        subject: uscc(1),
        as_of: "2026-11-01".parse().unwrap(),
        grade: Some("B".into()),
        score: Some(80),
        decisions: r#"{"procurement.bid":"allow"}"#.into(),
        next_change: None,
        rulebook: "cn-default".into(),
        version: "1".into(),
        lists: Vec::new(),
        explanation: format!(r#"{{"steps":[{}]}}"#, steps.join(",")),
        answers: (0..100)
            .map(|i| format!(r#"{{"measure":"m{i}","decision":"allow","reasons":[]}}"#))
            .collect::<Vec<_>>()
            .join("\n"),
        log_size: 1,
    };
    assert!(row.explanation.len() > 4_000, "long enough to be compressed");
    assert!(row.answers.len() > 4_000, "long enough to be compressed");
    store.put_assessments(std::slice::from_ref(&row), &[]).unwrap();
    assert_eq!(store.assessment(&uscc(1)).unwrap(), Some(row));
    let mut c = postgres::Client::connect(&url(), postgres::NoTls).unwrap();
    let row = c
        .query_one(
            &format!(
                "SELECT pg_column_compression(explanation), pg_column_compression(answers)
                 FROM {name}.assessments"
            ),
            &[],
        )
        .unwrap();
    let methods: (Option<String>, Option<String>) = (row.get(0), row.get(1));
    assert_eq!(methods, (Some("lz4".into()), Some("lz4".into())));
}

/// A registry made before subjects kept their date of establishment gets it from the journal
/// when it opens under migration 0006.
#[test]
fn a_registry_from_before_subjects_kept_their_establishment_migrates() {
    let (schema, mut store) = fresh();
    let name = schema.0.clone().unwrap();
    let ids =
        probity_store::conformance::register_subjects_with_and_without_establishment(&mut store);
    drop(store);
    let mut c = postgres::Client::connect(&url(), postgres::NoTls).unwrap();
    keep_log_as_nodes(&mut c, &name);
    c.batch_execute(&format!(
        "ALTER TABLE {name}.subjects DROP COLUMN last_event;
         ALTER TABLE {name}.subjects DROP COLUMN established;
         UPDATE {name}.schema_version SET version = 5;"
    ))
    .unwrap();
    let store = PgStore::connect(&url(), &name).unwrap();
    probity_store::conformance::establishment_is_read_back(&store, &ids);
}

/// Puts the log of the registry in `schema` back as registries before migration 0007 kept it:
/// a row per complete node in `log_nodes`, computed afresh from the journal.
fn keep_log_as_nodes(c: &mut postgres::Client, schema: &str) {
    c.batch_execute(&format!(
        "SET search_path TO {schema};
         DROP TABLE log_tiles;
         CREATE TABLE log_nodes (level SMALLINT NOT NULL, idx BIGINT NOT NULL,
                                 hash BYTEA NOT NULL, PRIMARY KEY (level, idx));"
    ))
    .unwrap();
    let mut frontier = probity_tlog::Frontier::default();
    for row in c.query("SELECT body FROM journal ORDER BY idx", &[]).unwrap() {
        let leaf = probity_tlog::leaf_hash(&probity_core::leaf_data(row.get::<_, &[u8]>(0)));
        for (level, index, hash) in frontier.append(leaf) {
            c.execute(
                "INSERT INTO log_nodes VALUES ($1, $2, $3)",
                &[&i16::from(level), &(index as i64), &&hash[..]],
            )
            .unwrap();
        }
    }
}

/// Settling vacuums and analyses the tables rating reads: afterwards the planner knows how many
/// records there are, and the visibility map lets the covering index of records by subject
/// answer without reading the table. Which pages a vacuum can mark all-visible depends on the
/// transactions open elsewhere in the database at that moment (other tests run beside this
/// one), so the test checks that the vacuum and the analysis ran, not what they could mark.
#[test]
fn settling_vacuums_and_analyses_what_rating_reads() {
    let (schema, mut store) = fresh();
    let name = schema.0.clone().unwrap();
    probity_store::conformance::settling_changes_nothing_a_reader_sees(&mut store);
    let mut c = postgres::Client::connect(&url(), postgres::NoTls).unwrap();
    for table in ["subjects", "records", "assessments", "list_entries"] {
        let row = c
            .query_one(
                "SELECT vacuum_count, analyze_count FROM pg_stat_user_tables
                 WHERE schemaname = $1 AND relname = $2",
                &[&name, &table],
            )
            .unwrap();
        let (vacuums, analyses): (i64, i64) = (row.get(0), row.get(1));
        assert_eq!((vacuums, analyses), (1, 1), "{table}: vacuumed and analysed once");
    }
    let tuples: i64 = c
        .query_one(
            "SELECT c.reltuples::bigint FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relname = 'records'",
            &[&name],
        )
        .unwrap()
        .get(0);
    // The record appended after settling is not counted yet; the 300 before it are.
    assert_eq!(tuples, 300, "records counted by the last settle");
}

/// A registry whose log nodes were kept a row per node opens under migration 0007 with the same
/// log a tile at a time: every node, root and proof is as before, and the log grows on from it.
#[test]
fn a_registry_from_before_log_tiles_migrates() {
    use probity_store::conformance::{log_is_the_tree_of_its_journal, register_numbered_subjects};
    let (schema, mut store) = fresh();
    let name = schema.0.clone().unwrap();
    register_numbered_subjects(&mut store, 0, 600, 100);
    drop(store);
    let mut c = postgres::Client::connect(&url(), postgres::NoTls).unwrap();
    keep_log_as_nodes(&mut c, &name);
    let nodes: i64 = c.query_one("SELECT count(*) FROM log_nodes", &[]).unwrap().get(0);
    assert_eq!(nodes, 2 * 600 - i64::from(600u32.count_ones()), "a row per complete node");
    c.batch_execute(
        "ALTER TABLE subjects DROP COLUMN last_event; UPDATE schema_version SET version = 6",
    )
    .unwrap();
    let mut store = PgStore::connect(&url(), &name).unwrap();
    log_is_the_tree_of_its_journal(&store);
    register_numbered_subjects(&mut store, 600, 700, 100);
    log_is_the_tree_of_its_journal(&store);
}

/// The server ends the store's session (a restart, an operator, a failover): the unit of work
/// that meets the loss fails with it, and the next one connects again and sees everything.
#[test]
fn a_lost_connection_is_made_again_for_the_next_read_or_append() {
    use probity_store::Store as _;
    let (schema, mut store) = fresh();
    let name = schema.0.clone().unwrap();
    probity_store::conformance::records_of_a_subject_in_filing_order(&mut store);
    let before = store.counts().unwrap();
    let mut admin = postgres::Client::connect(&url(), postgres::NoTls).unwrap();
    let ended: i64 = admin
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = $1) ended",
            &[&format!("probity {name}")],
        )
        .unwrap()
        .get(0);
    assert_eq!(ended, 1, "the store's session is named after its schema");
    let read = |store: &PgStore| {
        store.begin_snapshot()?;
        let counts = store.counts();
        store.end_snapshot()?;
        counts
    };
    // The client may or may not have seen the loss yet: at most one read fails with it.
    let counts = read(&store)
        .or_else(|e| match e {
            probity_store::StoreError::Unavailable(_) => read(&store),
            other => panic!("a lost connection is reported as such, not as {other:?}"),
        })
        .unwrap();
    assert_eq!(counts, before);
    // Appends work too, and the log goes on from where it was.
    let more: probity_core::Encoded = probity_core::Event::new(
        jiff::Timestamp::UNIX_EPOCH,
        probity_core::EventBody::SubjectRegistered {
            subject: probity_store::conformance::subject(91),
        },
    )
    .into();
    assert_eq!(
        store.append(&[more]).unwrap(),
        [probity_store::Outcome::Appended { index: before.events }]
    );
}

/// A TCP path to the test server that can be cut and mended, as a network or a server outage
/// would: while cut, nothing listens on its port and every connection through it is closed.
struct Path {
    port: u16,
    upstream: std::net::SocketAddr,
    /// A connection string for the test server through this path.
    url: String,
    open: Option<(std::sync::Arc<std::sync::atomic::AtomicBool>, std::thread::JoinHandle<()>)>,
}

impl Path {
    fn new() -> Self {
        let config: postgres::Config = url().parse().unwrap();
        let host = match config.get_hosts().first() {
            Some(postgres::config::Host::Tcp(h)) => h.clone(),
            other => panic!("the test server must be reached over TCP, not {other:?}"),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let upstream = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
            .unwrap()
            .next()
            .unwrap();
        let mut path = Self { port: 0, upstream, url: String::new(), open: None };
        path.mend();
        path.url = format!(
            "host=127.0.0.1 port={} dbname={} user={}",
            path.port,
            config.get_dbname().unwrap_or("test"),
            config.get_user().unwrap_or("postgres")
        );
        path
    }

    /// Listens again, on the same port once it has one.
    fn mend(&mut self) {
        use std::io::ErrorKind;
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind(("127.0.0.1", self.port)).unwrap();
        self.port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let upstream = self.upstream;
        let flag = cut.clone();
        let thread = std::thread::spawn(move || {
            let mut streams = Vec::new();
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((down, _)) => {
                        down.set_nonblocking(false).unwrap();
                        let up = std::net::TcpStream::connect(upstream).unwrap();
                        for (mut from, mut to) in [
                            (down.try_clone().unwrap(), up.try_clone().unwrap()),
                            (up.try_clone().unwrap(), down.try_clone().unwrap()),
                        ] {
                            std::thread::spawn(move || {
                                let _ = std::io::copy(&mut from, &mut to);
                                let _ = to.shutdown(std::net::Shutdown::Both);
                            });
                        }
                        streams.extend([down, up]);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    }
                    Err(e) => panic!("the test path cannot accept: {e}"),
                }
            }
            for s in streams {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        });
        self.open = Some((cut, thread));
    }

    /// Closes the port and every connection through it.
    fn cut(&mut self) {
        if let Some((cut, thread)) = self.open.take() {
            cut.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = thread.join();
        }
    }
}

impl Drop for Path {
    fn drop(&mut self) {
        self.cut();
    }
}

/// While the server cannot be reached, every call says so as `Unavailable` (the API's 503),
/// including the attempts to connect again; once it can, the next call connects and finds
/// everything as it was.
#[test]
fn an_unreachable_server_is_reported_as_unavailable_until_it_is_back() {
    use probity_store::{Store as _, StoreError};
    let (schema, mut store) = fresh();
    probity_store::conformance::records_of_a_subject_in_filing_order(&mut store);
    let before = store.counts().unwrap();
    drop(store);
    let mut path = Path::new();
    let store = PgStore::connect(&path.url, schema.0.as_deref().unwrap()).unwrap();
    assert_eq!(store.counts().unwrap(), before);
    path.cut();
    // The loss itself, then two attempts to connect again while nothing listens.
    for attempt in 0..3 {
        match store.counts() {
            Err(StoreError::Unavailable(m)) => {
                if attempt > 0 {
                    assert!(m.contains("cannot connect"), "a failed reconnection says so: {m}");
                }
            }
            other => panic!("call {attempt} while cut is reported as unavailable, not {other:?}"),
        }
    }
    path.mend();
    assert_eq!(store.counts().unwrap(), before);
}

/// Answers stored as one JSON array, as before migration 0015, become JSON Lines when the
/// registry opens under it, each answer's text unchanged.
#[test]
fn answers_stored_as_an_array_become_lines() {
    let (schema, mut store) = fresh();
    let name = schema.0.clone().unwrap();
    probity_store::conformance::put_answers_as_an_array(&mut store);
    drop(store);
    let mut c = postgres::Client::connect(&url(), postgres::NoTls).unwrap();
    c.batch_execute(&format!("UPDATE {name}.schema_version SET version = 14")).unwrap();
    let store = PgStore::connect(&url(), &name).unwrap();
    probity_store::conformance::answers_are_lines(&store);
}
