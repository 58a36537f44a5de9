//! Three `probity serve` nodes on one PostgreSQL registry, with concurrent filers, and one node
//! killed with SIGKILL while it appends: every acknowledged record is in the log exactly once,
//! the log has no gap and no repeated index, and the audit passes.
//!
//! Each append is one transaction that first takes the registry's advisory lock, so exactly one
//! node sequences the log at a time and the others wait their turn; a node that dies loses its
//! connection, PostgreSQL rolls its transaction back and releases the lock, and the next node
//! takes over at the same right edge.
//!
//! A further test runs a PostgreSQL primary and streaming replica of its own (from the
//! `postgresql` package's `initdb`, `pg_ctl` and `pg_basebackup`) and reads from the replica.
//! Others compare `bench import` on both stores and check that a bulk import settles the store.
//!
//! Needs the PostgreSQL on this machine (`PROBITY_TEST_POSTGRES`, default
//! `host=127.0.0.1 port=5432 dbname=test user=postgres`), like the store's conformance suite.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn url() -> String {
    std::env::var("PROBITY_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 dbname=test user=postgres".into())
}

fn probity(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_probity"));
    c.arg("--data").arg(data).env_remove("RUST_LOG").env_remove("PROBITY_DATA");
    c
}

fn run(cmd: &mut Command) -> Output {
    let o = cmd.stdin(Stdio::null()).output().expect("run probity");
    assert!(o.status.success(), "{o:?}");
    o
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Whether `scripts/test` found no PostgreSQL server and said so (never in CI); the test says
/// it is skipped.
fn postgres_skipped() -> bool {
    let skipped = std::env::var_os("PROBITY_SKIP_POSTGRES").is_some();
    if skipped {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "PROBITY_SKIP_POSTGRES is set under CI=true: CI runs the PostgreSQL tests"
        );
        eprintln!("skipped: PROBITY_SKIP_POSTGRES is set (no PostgreSQL server)");
    }
    skipped
}

/// A schema name of its own for one test, dropped with everything in it when this is dropped.
struct DropSchema(String);

impl DropSchema {
    /// A new random name starting with `prefix`.
    fn fresh(prefix: &str) -> Self {
        let mut bytes = [0u8; 6];
        std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom").unwrap(), &mut bytes)
            .unwrap();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Self(format!("{prefix}_{hex}"))
    }
}

impl Drop for DropSchema {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([&url(), "-qc", &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0)])
            .output();
    }
}

/// A running node and where it listens.
struct Node {
    child: Child,
    url: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &Path) -> Node {
    start_with(data, &[])
}

/// Starts `probity serve` on `data` with `extra` options, and waits until it listens.
fn start_with(data: &Path, extra: &[&str]) -> Node {
    let mut child = probity(data)
        .args(["serve", "--listen", "127.0.0.1:0", "--public-rate", "100000"])
        .args(["--public-burst", "100000", "--sweep-minutes", "0"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = err.next().expect("the node says where it listens").unwrap();
        if let Some(u) = line.strip_prefix("listening on ") {
            break u.to_owned();
        }
    };
    std::thread::spawn(move || for _ in err {});
    Node { child, url }
}

/// A minor penalty of authority `bj-amr` on `subject`, decided and effective today.
fn filing_today(decision_no: &str, subject: &str) -> serde_json::Value {
    let today = probity_core::date_of(jiff::Timestamp::now()).to_string();
    serde_json::json!({
        "authority": "bj-amr", "decision_no": decision_no, "subject": subject,
        "kind": "penalty.minor", "decided": today, "effective": today,
        "basis": "Administrative Penalty Law, Art. 28", "summary": "late annual report",
    })
}

fn psql(query: &str) -> String {
    let o = Command::new("psql").args([&url(), "-Atc", query]).output().unwrap();
    assert!(o.status.success(), "{o:?}");
    String::from_utf8(o.stdout).unwrap().trim().to_owned()
}

/// A registry on a fresh PostgreSQL schema in `node0` of a temporary directory, with 20 subjects
/// and one authority: the schema's guard and name, the directory, `node0`, the authority's key
/// and the subject codes.
fn registry_on_postgres() -> (DropSchema, String, tempfile::TempDir, PathBuf, String, Vec<String>) {
    registry_on(&url())
}

/// [`registry_on_postgres`] on the server at `url`.
fn registry_on(url: &str) -> (DropSchema, String, tempfile::TempDir, PathBuf, String, Vec<String>) {
    let cleanup = DropSchema::fresh("probity_cluster");
    let schema = cleanup.0.clone();
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("node0");
    run(probity(&first).args(["--store", url, "--store-schema", &schema, "init"]));
    let subjects: Vec<String> =
        (1..=20).map(|n| probity_store::conformance::uscc(n).to_string()).collect();
    let csv = dir.path().join("subjects.csv");
    let rows: Vec<String> = subjects.iter().map(|s| format!("{s},北京测试{s}有限公司")).collect();
    std::fs::write(&csv, format!("id,name\n{}\n", rows.join("\n"))).unwrap();
    run(probity(&first).args(["import", "subjects"]).arg(&csv));
    let o = run(probity(&first)
        .args(["authority", "add", "bj-amr", "--name", "北京市市场监督管理局"])
        .args(["--category", "market_regulation", "--jurisdiction", "110000"]));
    let key = String::from_utf8(o.stdout).unwrap().lines().next().unwrap().trim().to_owned();
    (cleanup, schema, dir, first, key, subjects)
}

#[test]
fn three_nodes_survive_the_death_of_the_one_appending() {
    if postgres_skipped() {
        return;
    }
    let (_cleanup, schema, dir, first, key, subjects) = registry_on_postgres();
    // A node is a copy of the registry directory: where the store is, and the signing key.
    let dirs: Vec<PathBuf> = (0..3).map(|i| dir.path().join(format!("node{i}"))).collect();
    for d in &dirs[1..] {
        copy_dir(&first, d);
    }
    // Each node names its connections, so the test can see which one holds the log's lock.
    for (i, d) in dirs.iter().enumerate() {
        let path = d.join("store.json");
        let mut store: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let url = store["url"].as_str().unwrap().to_owned();
        let named = if url.starts_with("postgres") {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}application_name=probity-node{i}")
        } else {
            format!("{url} application_name=probity-node{i}")
        };
        store["url"] = named.into();
        std::fs::write(&path, store.to_string()).unwrap();
    }
    let nodes: Vec<Arc<Mutex<Option<Node>>>> =
        dirs.iter().map(|d| Arc::new(Mutex::new(Some(start(d))))).collect();
    let urls: Vec<String> =
        nodes.iter().map(|n| n.lock().unwrap().as_ref().unwrap().url.clone()).collect();

    // Four filers, each sending its own records to the nodes in turn. A record is acknowledged
    // when a node answers 201 (filed) or 200 (already on file); on a failed connection the filer
    // sends the same record to the next node.
    let acked: Arc<Mutex<BTreeMap<String, u16>>> = Arc::default();
    let sent_to_victim = Arc::new(AtomicBool::new(false));
    let per_filer = 150;
    let filers: Vec<_> = (0..4)
        .map(|f| {
            let (urls, key, subjects) = (urls.clone(), key.clone(), subjects.clone());
            let (acked, sent_to_victim) = (Arc::clone(&acked), Arc::clone(&sent_to_victim));
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(20))
                    .build()
                    .unwrap();
                for i in 0..per_filer {
                    let no = format!("C-{f}-{i:03}");
                    let body = serde_json::json!({
                        "authority": "bj-amr", "decision_no": no,
                        "subject": subjects[(f * per_filer + i) % subjects.len()],
                        "kind": "penalty.minor", "decided": "2026-01-05", "effective": "2026-01-06",
                        "basis": "Administrative Penalty Law, Art. 28", "summary": "late annual report",
                    });
                    for attempt in 0.. {
                        assert!(attempt < 30, "{no}: no node acknowledged it");
                        let node = (f + i + attempt) % urls.len();
                        if node == 0 {
                            sent_to_victim.store(true, Ordering::Relaxed);
                        }
                        let r = http
                            .post(format!("{}/v1/records", urls[node]))
                            .bearer_auth(&key)
                            .json(&body)
                            .send();
                        match r {
                            Ok(r) if r.status() == 201 || r.status() == 200 => {
                                acked.lock().unwrap().insert(no.clone(), r.status().as_u16());
                                break;
                            }
                            Ok(r) if r.status().is_server_error() => {}
                            Ok(r) => panic!("{no}: {} {}", r.status(), r.text().unwrap()),
                            Err(_) => std::thread::sleep(Duration::from_millis(20)),
                        }
                    }
                }
            })
        })
        .collect();

    // Mid-stream, node 0 is killed (SIGKILL) the moment it is seen holding the log's lock,
    // that is, while it is the one appending.
    let holding = "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                   WHERE l.locktype = 'advisory' AND l.granted \
                   AND a.application_name = 'probity-node0'";
    while acked.lock().unwrap().len() < 40 {
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut polls = 0;
    while psql(holding) == "0" {
        polls += 1;
        assert!(polls < 5_000, "node 0 was never seen holding the log's lock");
    }
    let mut victim = nodes[0].lock().unwrap().take().unwrap();
    victim.child.kill().unwrap();
    let _ = victim.child.wait();
    assert!(sent_to_victim.load(Ordering::Relaxed));
    let killed_at = acked.lock().unwrap().len();
    eprintln!("node 0 killed while holding the log's lock, after {killed_at} acknowledgements");
    for f in filers {
        f.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert_eq!(acked.len(), 4 * per_filer, "every record was acknowledged by some node");
    assert!(killed_at < acked.len(), "the node died mid-stream ({killed_at} acknowledged)");

    // Every acknowledged record is in the log exactly once, and nothing else was filed.
    let table = |t: &str| format!("{schema}.{t}");
    let filed: BTreeSet<String> = psql(&format!(
        "SELECT r.decision_no FROM {} r JOIN {} j ON j.idx = r.filed_event ORDER BY 1",
        table("records"),
        table("journal")
    ))
    .lines()
    .map(str::to_owned)
    .collect();
    let want: BTreeSet<String> = acked.keys().cloned().collect();
    assert_eq!(filed, want);
    let filings =
        psql(&format!("SELECT count(*) FROM {} WHERE type = 'record_filed'", table("journal")));
    assert_eq!(filings, acked.len().to_string(), "one filing event per record");
    // The log is dense: indices 0..n, each once.
    let dense = psql(&format!(
        "SELECT count(*) = max(idx) + 1 AND count(DISTINCT idx) = count(*) FROM {}",
        table("journal")
    ));
    assert_eq!(dense, "t");

    // The survivors answer alike, and the audit of the whole log passes from either.
    for d in &dirs[1..] {
        let o = run(probity(d).args(["audit", "--from"]).arg(d));
        assert!(o.status.success(), "{o:?}");
    }
    let total: u64 = psql(&format!("SELECT count(*) FROM {}", table("journal"))).parse().unwrap();
    for u in &urls[1..] {
        let r: serde_json::Value =
            reqwest::blocking::get(format!("{u}/v1/ready")).unwrap().json().unwrap();
        assert_eq!(r["log_size"], total, "{u} answers from the whole log");
    }
}

#[test]
fn a_node_serves_public_reads_from_its_read_store_and_keys_from_the_primary() {
    if postgres_skipped() {
        return;
    }
    let (_cleanup, schema, dir, data, key, subjects) = registry_on_postgres();
    // This machine has no streaming replica; the read store here is the primary under another
    // connection name, which is enough to see which reads go where.
    let replica = format!("{} application_name=probity-replica", url());
    let node = start_with(&data, &["--read-store", &replica]);
    let base = node.url.clone();

    let connections = |name: &str| {
        psql(&format!("SELECT count(*) FROM pg_stat_activity WHERE application_name = '{name}'"))
    };
    assert_ne!(connections("probity-replica"), "0", "the node holds connections to its read store");

    // A filing, then the filer's own read-back, then a public read: all answer, each with the
    // log size it reflects.
    let http = reqwest::blocking::Client::new();
    let body = filing_today("R-1", &subjects[0]);
    let r = http.post(format!("{base}/v1/records")).bearer_auth(&key).json(&body).send().unwrap();
    assert_eq!(r.status(), 201);
    let profile: serde_json::Value =
        http.get(format!("{base}/v1/subjects/{}", subjects[0])).send().unwrap().json().unwrap();
    let size: u64 = psql(&format!("SELECT count(*) FROM {schema}.journal")).parse().unwrap();
    assert_eq!(profile["log_size"], size, "the answer says which log size it reflects");
    assert_eq!(profile["records"][0]["decision_no"], "R-1");
    // A revoked key stops working at once: keys are read from the primary.
    run(probity(&data).args(["authority", "key", "revoke", "bj-amr"]));
    let r = http.post(format!("{base}/v1/records")).bearer_auth(&key).json(&body).send().unwrap();
    assert_eq!(r.status(), 401);
    drop(node);

    // A registry on SQLite has no replicas: the option is refused, by name.
    let lite = dir.path().join("lite");
    run(probity(&lite).arg("init"));
    let o = probity(&lite).args(["serve", "--read-store", &replica]).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--read-store"), "{o:?}");
}

#[test]
fn a_node_connects_again_when_postgresql_ends_its_sessions() {
    if postgres_skipped() {
        return;
    }
    let (_cleanup, schema, _dir, data, key, subjects) = registry_on_postgres();
    let node = start(&data);
    let http = reqwest::blocking::Client::new();
    let file = |n: u32| {
        let body = filing_today(&format!("L-{n}"), &subjects[1]);
        http.post(format!("{}/v1/records", node.url)).bearer_auth(&key).json(&body).send().unwrap()
    };
    assert_eq!(file(1).status(), 201);
    // The server ends every session of the node (as a restart or an operator would).
    let ended = psql(&format!(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'probity {schema}') ended"
    ));
    assert_ne!(ended, "0", "the node's sessions carry the schema's name");
    // Each connection fails at most once, with 503 and a code that says why; then the node
    // answers again, reads and writes.
    let mut unavailable = 0;
    let profile = (0..20)
        .find_map(|_| {
            let r = http.get(format!("{}/v1/subjects/{}", node.url, subjects[1])).send().unwrap();
            match r.status().as_u16() {
                200 => Some(r.json::<serde_json::Value>().unwrap()),
                503 => {
                    let body: serde_json::Value = r.json().unwrap();
                    assert_eq!(body["error"]["code"], "unavailable", "{body}");
                    unavailable += 1;
                    None
                }
                other => panic!("a read after the loss answered {other}: {}", r.text().unwrap()),
            }
        })
        .expect("the node reads again");
    assert_eq!(profile["records"][0]["decision_no"], "L-1");
    let filed = (0..5).map(|n| file(2 + n).status().as_u16()).find(|s| *s != 503);
    assert_eq!(filed, Some(201), "the node files again");
    assert!(unavailable <= 16, "every reader failed at most once, not {unavailable} times");
    let size: u64 = psql(&format!("SELECT count(*) FROM {schema}.journal")).parse().unwrap();
    let ready: serde_json::Value =
        http.get(format!("{}/v1/ready", node.url)).send().unwrap().json().unwrap();
    assert_eq!(ready["log_size"], size, "{ready}");
}

#[test]
fn a_node_signs_a_checkpoint_of_what_another_node_appended() {
    if postgres_skipped() {
        return;
    }
    let (_cleanup, schema, dir, first, key, subjects) = registry_on_postgres();
    let second = dir.path().join("node1");
    copy_dir(&first, &second);
    let (a, b) = (start(&first), start(&second));
    let http = reqwest::blocking::Client::new();
    let body = filing_today("C-1", &subjects[2]);
    let r =
        http.post(format!("{}/v1/records", a.url)).bearer_auth(&key).json(&body).send().unwrap();
    assert_eq!(r.status(), 201);
    let size: u64 = psql(&format!("SELECT count(*) FROM {schema}.journal")).parse().unwrap();
    // The other node's published checkpoint reaches the log's size without a write of its own.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let note = http.get(format!("{}/v1/log/checkpoint", b.url)).send().unwrap().text().unwrap();
        let stated: u64 = note.lines().nth(1).unwrap().parse().unwrap();
        if stated == size {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "node b still publishes size {stated}, not {size}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A PostgreSQL primary and its streaming replica, made for one test in a temporary directory
/// and listening on free loopback ports (the machine's own server takes no replication
/// connections). Both are stopped when this is dropped.
struct Replicated {
    dir: tempfile::TempDir,
    bin: PathBuf,
    primary: u16,
    replica: u16,
}

impl Replicated {
    fn start() -> Self {
        let o = Command::new("pg_config")
            .arg("--bindir")
            .output()
            .expect("pg_config, from the PostgreSQL server packages, to run a primary and replica");
        assert!(o.status.success(), "{o:?}");
        let bin = PathBuf::from(String::from_utf8(o.stdout).unwrap().trim());
        let dir = tempfile::tempdir().unwrap();
        // The server runs as `postgres` when the tests run as root: it refuses root.
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .unwrap();
        let free =
            || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (primary, replica) = (free(), free());
        let me = Self { dir, bin, primary, replica };
        let (p, r) = (me.path("primary"), me.path("replica"));
        me.run(
            me.tool("initdb")
                .args(["-U", "postgres", "--auth=trust", "-E", "UTF8"])
                .arg("-D")
                .arg(&p),
        );
        me.pg_ctl_start(&p, primary);
        me.run(
            me.tool("pg_basebackup")
                .args(["-h", "127.0.0.1", "-U", "postgres", "-R", "-X", "stream"])
                .args(["-p", &primary.to_string()])
                .arg("-D")
                .arg(&r),
        );
        me.pg_ctl_start(&r, replica);
        me
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn tool(&self, name: &str) -> Command {
        let root =
            Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(self.bin.join(name));
            c
        } else {
            Command::new(self.bin.join(name))
        }
    }

    fn run(&self, cmd: &mut Command) {
        let o = cmd.stdin(Stdio::null()).output().unwrap();
        assert!(o.status.success(), "{o:?}");
    }

    fn pg_ctl_start(&self, data: &Path, port: u16) {
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.dir.path().display()
        );
        let log = data.with_extension("log");
        self.run(
            self.tool("pg_ctl")
                .arg("-D")
                .arg(data)
                .arg("-l")
                .arg(&log)
                .args(["-o", &options, "-w", "start"]),
        );
    }

    fn url(&self, port: u16) -> String {
        format!("host=127.0.0.1 port={port} dbname=postgres user=postgres")
    }

    fn query(&self, port: u16, sql: &str) -> String {
        let o = Command::new("psql").args([&self.url(port), "-Atc", sql]).output().unwrap();
        assert!(o.status.success(), "{o:?}");
        String::from_utf8(o.stdout).unwrap().trim().to_owned()
    }
}

impl Drop for Replicated {
    fn drop(&mut self) {
        for d in ["replica", "primary"] {
            let _ = self
                .tool("pg_ctl")
                .arg("-D")
                .arg(self.path(d))
                .args(["-m", "immediate", "stop"])
                .output();
        }
    }
}

#[test]
fn a_node_reads_from_a_real_streaming_replica_and_says_how_fresh_each_answer_is() {
    if postgres_skipped() {
        return;
    }
    let pg = Replicated::start();
    assert_eq!(pg.query(pg.replica, "SELECT pg_is_in_recovery()"), "t", "a standby");
    let (_cleanup, schema, _dir, data, key, subjects) = registry_on(&pg.url(pg.primary));
    let replica = format!("{} application_name=probity-replica", pg.url(pg.replica));
    let node = start_with(&data, &["--read-store", &replica]);
    let base = node.url.clone();
    assert_ne!(
        pg.query(
            pg.replica,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'probity-replica'"
        ),
        "0",
        "the node reads from the replica"
    );

    let http = reqwest::blocking::Client::new();
    let body = filing_today("R-1", &subjects[1]);
    let r = http.post(format!("{base}/v1/records")).bearer_auth(&key).json(&body).send().unwrap();
    assert_eq!(r.status(), 201);
    let size: u64 =
        pg.query(pg.primary, &format!("SELECT count(*) FROM {schema}.journal")).parse().unwrap();
    // A public read answers from the replica, with the log size it reflects: never more than
    // the primary's, and the primary's once the replica has replayed the filing.
    let mut seen = Vec::new();
    for _ in 0..100 {
        let profile: serde_json::Value =
            http.get(format!("{base}/v1/subjects/{}", subjects[1])).send().unwrap().json().unwrap();
        let at = profile["log_size"].as_u64().unwrap();
        assert!(at <= size, "{profile}");
        seen.push(at);
        if at == size {
            assert_eq!(profile["records"][0]["decision_no"], "R-1", "{profile}");
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(seen.last(), Some(&size), "the replica caught up: {seen:?}");
    let on_replica: u64 =
        pg.query(pg.replica, &format!("SELECT count(*) FROM {schema}.journal")).parse().unwrap();
    assert_eq!(on_replica, size, "the replica holds the whole log");
}

#[test]
#[cfg_attr(not(feature = "bench"), ignore = "`probity bench` is built with --features bench")]
fn bench_import_compares_sqlite_and_postgresql_in_one_run() {
    if postgres_skipped() {
        return;
    }
    let cleanup = DropSchema::fresh("probity_bench");
    let schema = cleanup.0.clone();
    let dir = tempfile::tempdir().unwrap();
    let o = run(probity(&dir.path().join("unused"))
        .args(["--store", &url(), "--store-schema", &schema, "bench", "import"])
        .args(["--records", "300", "--enterprises", "50", "--json", "--dir"])
        .arg(dir.path().join("work")));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["probity"]["records_per_second"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["postgres"]["records_per_second"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["postgres"]["ratio_to_sqlite"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["postgres"]["copy_baseline"]["records_per_second"].as_f64().unwrap() > 0.0, "{v}");
    // The floor copies every record's journal entry and look-ups, and says how long each took.
    for part in ["journal_seconds", "lookups_seconds", "ratio_to_baseline"] {
        assert!(v["floor"][part].as_f64().unwrap() > 0.0, "{part}: {v}");
    }
    // So does PostgreSQL's, copied from the registry there, and the schema it used is gone.
    for part in ["journal_seconds", "lookups_seconds", "ratio_to_copy_baseline", "probity_to_floor"]
    {
        assert!(v["postgres"]["floor"][part].as_f64().unwrap() > 0.0, "{part}: {v}");
    }
    let floor_schema = psql(&format!(
        "SELECT count(*) FROM information_schema.schemata WHERE schema_name = '{schema}_floor'"
    ));
    assert_eq!(floor_schema, "0", "the floor's schema is dropped");
    let filed = psql(&format!("SELECT count(*) FROM {schema}.records"));
    assert_eq!(filed, "300", "every record is in the PostgreSQL registry");
}

/// An import of 10,000 rows or more settles the PostgreSQL store before it re-rates and again
/// after (a manual `VACUUM (ANALYZE)`, seen in `pg_stat_user_tables.last_vacuum` and
/// `vacuum_count`, which autovacuum never sets); a smaller one leaves that to the server.
#[test]
fn a_bulk_import_settles_the_postgresql_store_and_a_small_one_does_not() {
    if postgres_skipped() {
        return;
    }
    let cleanup = DropSchema::fresh("probity_settle");
    let schema = cleanup.0.clone();
    let dir = tempfile::tempdir().unwrap();
    let (data, input) = (dir.path().join("data"), dir.path().join("in"));
    run(probity(&data)
        .args(["generate", "--seed", "3", "--enterprises", "1000", "--records", "10000"])
        .arg("--out")
        .arg(&input));
    run(probity(&data).args(["--store", &url(), "--store-schema", &schema, "init"]));
    let vacuumed = |table: &str| {
        psql(&format!(
            "SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables
             WHERE schemaname = '{schema}' AND relname = '{table}'"
        ))
    };
    for (table, file) in [("authorities", "authorities.csv"), ("subjects", "subjects.csv")] {
        run(probity(&data).args(["import", table]).arg(input.join(file)));
    }
    assert_eq!(vacuumed("subjects"), "f", "1,000 subjects do not settle the store");
    let o =
        run(probity(&data).args(["import", "records", "--json"]).arg(input.join("records.jsonl")));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["accepted"], 10_000, "{report}");
    for table in ["subjects", "records", "assessments", "list_entries"] {
        assert_eq!(vacuumed(table), "t", "{table} is vacuumed after 10,000 records");
    }
    // Once before the rating and once after it, so the assessments it wrote are planned for.
    let vacuums = psql(&format!(
        "SELECT vacuum_count FROM pg_stat_user_tables
         WHERE schemaname = '{schema}' AND relname = 'assessments'"
    ));
    assert_eq!(vacuums, "2", "the assessments are vacuumed before and after the rating");
    let counted = psql(&format!(
        "SELECT c.reltuples::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = '{schema}' AND c.relname = 'records'"
    ));
    assert_eq!(counted, "10000", "the planner knows how many records there are");
}
