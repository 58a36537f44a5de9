//! Departments file over NATS JetStream and every event goes out on it, against a real
//! `nats-server` this test starts with its own configuration (users with per-authority
//! permissions), and `probity serve --nats` processes that are killed on purpose.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;

/// Records filed through NATS in the kill test (`PROBITY_FEED_RECORDS` to change).
fn records() -> u64 {
    std::env::var("PROBITY_FEED_RECORDS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000)
}

/// The binary under test: this build's, or `PROBITY_BIN` (a release build, for the run at
/// 100,000 records).
fn probity(data: &Path) -> Command {
    let bin = std::env::var("PROBITY_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_probity").into());
    let mut c = Command::new(bin);
    c.arg("--data").arg(data).env("NO_COLOR", "1").env_remove("RUST_LOG");
    c
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success() || out.status.code() == Some(3),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `nats-server` with JetStream, the user `probity` (everything) and one user per authority
/// in `authorities`, who may publish filings on its own subject only.
fn nats_server(dir: &Path, authorities: &[&str]) -> (Proc, u16) {
    let port = free_port();
    let users: String = authorities
        .iter()
        .map(|a| {
            format!(
                "      {{ user: \"{a}\", password: \"{a}-secret\", permissions: {{ \
                 publish: {{ allow: [\"probity.filings.{a}\"] }}, \
                 subscribe: {{ allow: [\"_INBOX.>\"] }} }} }}\n"
            )
        })
        .collect();
    let config = format!(
        "listen: 127.0.0.1:{port}\njetstream {{ store_dir: \"{}\" }}\n\
         accounts {{\n  REGISTRY {{\n    jetstream: enabled\n    users: [\n      \
         {{ user: \"probity\", password: \"probity-secret\" }}\n{users}    ]\n  }}\n}}\n",
        dir.join("js").display()
    );
    let path = dir.join("nats.conf");
    std::fs::write(&path, config).unwrap();
    let child = Command::new("nats-server")
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server is installed");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "nats-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (Proc(child), port)
}

/// `probity serve --nats` on `data`, with `env` set; its address.
fn serve(data: &Path, nats: &str, env: &[(&str, &str)]) -> (Proc, String) {
    let mut cmd = probity(data);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--sweep-minutes", "0", "--nats", nats])
        .args(["--public-rate", "100000", "--public-burst", "100000", "--nats-max-deliver", "3"])
        .args(["--nats-ack-wait", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = err.next().expect("the server says where it listens").unwrap();
        if let Some(u) = line.strip_prefix("listening on ") {
            break u.to_owned();
        }
    };
    std::thread::spawn(move || for _ in err {});
    (Proc(child), url)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap()
}

async fn connect(port: u16, user: &str, password: &str) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password(user.into(), password.into())
        .connect(format!("127.0.0.1:{port}"))
        .await
        .unwrap()
}

/// A registry with the generated authorities and subjects, and `n` generated records to file.
fn registry(dir: &Path, n: u64) -> (PathBuf, Vec<String>) {
    let generated = dir.join("gen");
    ok(probity(dir)
        .args(["generate", "--enterprises", "2000", "--records", &n.to_string(), "--seed", "5"])
        .arg("--out")
        .arg(&generated));
    let data = dir.join("reg");
    ok(probity(&data).args(["init"]));
    for table in ["authorities", "subjects"] {
        ok(probity(&data).args(["import", table]).arg(generated.join(format!("{table}.csv"))));
    }
    let lines = std::fs::read_to_string(generated.join("records.jsonl")).unwrap();
    (data, lines.lines().map(str::to_owned).collect())
}

fn field(line: &str, key: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    v[key].as_str().unwrap().to_owned()
}

/// Publishes each record on its authority's subject, with `Nats-Msg-Id` = authority and
/// decision number, as a department would.
async fn publish_all(js: &async_nats::jetstream::Context, lines: &[String]) {
    let mut acks = Vec::new();
    for line in lines {
        let authority = field(line, "authority");
        let mut headers = async_nats::HeaderMap::new();
        let id = format!("{authority}/{}", field(line, "decision_no"));
        headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
        let ack = js
            .publish_with_headers(
                format!("probity.filings.{authority}"),
                headers,
                line.clone().into(),
            )
            .await
            .unwrap();
        acks.push(ack);
        if acks.len() >= 1000 {
            for a in acks.drain(..) {
                a.await.unwrap();
            }
        }
    }
    for a in acks {
        a.await.unwrap();
    }
}

fn stats(url: &str) -> serde_json::Value {
    let r = reqwest::blocking::get(format!("{url}/v1/changes?after=0&limit=1")).unwrap();
    r.json().unwrap()
}

/// The records in the registry, from `probity stats`.
fn records_in(data: &Path) -> u64 {
    let out = ok(probity(data).args(["stats", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["records"].as_u64().unwrap_or_else(|| panic!("no record count in {v}"))
}

/// Every message of a stream, from its first, through an ephemeral ordered consumer.
async fn read_stream(
    js: &async_nats::jetstream::Context,
    stream: &str,
    expect: usize,
) -> Vec<async_nats::jetstream::Message> {
    let stream = js.get_stream(stream).await.unwrap();
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            ack_policy: async_nats::jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut out = Vec::new();
    while out.len() < expect {
        match tokio::time::timeout(Duration::from_secs(20), messages.next()).await {
            Ok(Some(Ok(m))) => out.push(m),
            _ => break,
        }
    }
    out
}

#[test]
fn filings_over_nats_survive_kill_9_and_every_event_goes_out_once_in_log_order() {
    let dir = tempfile::tempdir().unwrap();
    let n = records();
    let (data, lines) = registry(dir.path(), n);
    let (_nats, port) = nats_server(dir.path(), &[]);
    let url = format!("nats://probity:probity-secret@127.0.0.1:{port}");
    let rt = runtime();
    let _entered = rt.enter();
    let client = rt.block_on(connect(port, "probity", "probity-secret"));
    let js = async_nats::jetstream::new(client);

    // The first node makes the streams; then a department publishes every record.
    let (node, http) = serve(&data, &url, &[]);
    let start = Instant::now();
    while rt.block_on(js.get_stream("PROBITY_FILINGS")).is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "probity made no filings stream");
        std::thread::sleep(Duration::from_millis(50));
    }
    let published = Instant::now();
    rt.block_on(publish_all(&js, &lines));
    // Killed with -9 part of the way through.
    let start = Instant::now();
    loop {
        let size = stats(&http)["log_size"].as_u64().unwrap();
        if size > 2000 + 12 + n / 4 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "filing through NATS stalled at {size}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(node);
    let (_node, http) = serve(&data, &url, &[]);
    let start = Instant::now();
    while records_in(&data) < n {
        assert!(start.elapsed() < Duration::from_secs(300), "{} of {n} filed", records_in(&data));
        std::thread::sleep(Duration::from_millis(200));
    }
    let elapsed = published.elapsed();
    eprintln!(
        "filed {n} records through NATS in {:.1} s ({:.0} records/s, a kill -9 and a restart included)",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
    // Every message has its outcome (some twice: delivered again after the kill, they come
    // back as duplicates); once redeliveries are over, exactly the records sent are there.
    let outcomes = rt.block_on(read_stream(&js, "PROBITY_OUTCOMES", lines.len()));
    assert_eq!(outcomes.len(), lines.len());
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(records_in(&data), n, "none lost, none doubled");
    let mut by_outcome: BTreeMap<String, u64> = BTreeMap::new();
    for m in &outcomes {
        let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
        *by_outcome.entry(v["outcome"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    assert_eq!(by_outcome.get("rejected"), None, "{by_outcome:?}");
    assert!(by_outcome.get("accepted").copied().unwrap_or(0) <= n, "{by_outcome:?}");

    // Every event out, once, in log order, each matching the change feed and its leaf.
    let size = stats(&http)["log_size"].as_u64().unwrap();
    let start = Instant::now();
    let mut events = Vec::new();
    while (events.len() as u64) < size {
        events = rt.block_on(read_stream(&js, "PROBITY_EVENTS", size as usize));
        assert!(start.elapsed() < Duration::from_secs(120), "{} of {size} events", events.len());
    }
    assert_eq!(events.len() as u64, size, "no event published twice");
    let ready: serde_json::Value =
        reqwest::blocking::get(format!("{http}/v1/ready")).unwrap().json().unwrap();
    assert_eq!(ready["nats"]["filings_connected"], true, "{ready}");
    assert_eq!(ready["nats"]["events_next"], size, "{ready}");
    for (i, m) in events.iter().enumerate() {
        let headers =
            m.headers.as_ref().unwrap_or_else(|| panic!("message {i} has no headers: {m:?}"));
        let id = headers
            .get(async_nats::header::NATS_MESSAGE_ID)
            .unwrap_or_else(|| panic!("message {i}: {headers:?}"));
        assert_eq!(id.as_str(), i.to_string());
        let body: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(body["index"], i as u64);
        assert_eq!(
            m.subject.as_str(),
            format!("probity.events.{}", body["type"].as_str().unwrap())
        );
    }
    for i in [0, size / 3, size / 2, size - 1] {
        let after = if i == 0 { String::new() } else { format!("&after={}", i - 1) };
        let change: serde_json::Value =
            reqwest::blocking::get(format!("{http}/v1/changes?limit=1{after}"))
                .unwrap()
                .json()
                .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&events[i as usize].payload).unwrap();
        assert_eq!(body, change["changes"][0], "event {i} as the change feed gives it");
        let proof: serde_json::Value =
            reqwest::blocking::get(format!("{http}/v1/log/proof?index={i}"))
                .unwrap()
                .json()
                .unwrap();
        let leaf = {
            use base64::Engine as _;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(proof["leaf_hash"].as_str().unwrap())
                .unwrap();
            raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        let header = events[i as usize].headers.as_ref().unwrap();
        assert_eq!(header.get("Probity-Leaf-Hash").unwrap().as_str(), leaf, "leaf of {i}");
    }
}

#[test]
fn a_filing_that_fails_at_every_delivery_goes_to_the_dead_letters_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (data, lines) = registry(dir.path(), 5);
    let (_nats, port) = nats_server(dir.path(), &[]);
    let url = format!("nats://probity:probity-secret@127.0.0.1:{port}");
    let rt = runtime();
    let _entered = rt.enter();
    let js = async_nats::jetstream::new(rt.block_on(connect(port, "probity", "probity-secret")));
    // The store fails under every filing of this node (--nats-max-deliver 3).
    let (_node, _) = serve(&data, &url, &[("PROBITY_FAIL_FILING", "1")]);
    let start = Instant::now();
    while rt.block_on(js.get_stream("PROBITY_FILINGS")).is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "probity made no filings stream");
        std::thread::sleep(Duration::from_millis(50));
    }
    rt.block_on(publish_all(&js, &lines[..1]));
    let dead = rt.block_on(read_stream(&js, "PROBITY_OUTCOMES", 1));
    assert_eq!(dead.len(), 1, "one dead letter");
    let authority = field(&lines[0], "authority");
    assert_eq!(dead[0].subject.as_str(), format!("probity.dead.{authority}"));
    let letter: serde_json::Value = serde_json::from_slice(&dead[0].payload).unwrap();
    assert_eq!(letter["deliveries"], 3, "{letter}");
    // The reason a department reads names no internals; the server log has them.
    assert_eq!(letter["reason"], "the server failed; see its log", "{letter}");
    assert_eq!(letter["payload"], lines[0].as_str());
    assert_eq!(records_in(&data), 0, "nothing was filed");
}

#[test]
fn a_filing_redelivered_after_a_crash_before_its_ack_comes_back_as_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let (data, lines) = registry(dir.path(), 50);
    let (_nats, port) = nats_server(dir.path(), &[]);
    let url = format!("nats://probity:probity-secret@127.0.0.1:{port}");
    let rt = runtime();
    let _entered = rt.enter();
    let js = async_nats::jetstream::new(rt.block_on(connect(port, "probity", "probity-secret")));
    // This node dies between committing a batch and acknowledging it.
    let (mut node, _) = serve(&data, &url, &[("PROBITY_FAIL_BEFORE_ACK", "1")]);
    let start = Instant::now();
    while rt.block_on(js.get_stream("PROBITY_FILINGS")).is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "probity made no filings stream");
        std::thread::sleep(Duration::from_millis(50));
    }
    rt.block_on(publish_all(&js, &lines[..10]));
    let start = Instant::now();
    while node.0.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < Duration::from_secs(30), "the failpoint never fired");
        std::thread::sleep(Duration::from_millis(20));
    }
    let committed = records_in(&data);
    assert!(committed > 0, "the batch was committed before the crash");
    // A healthy node: the same messages come again, and come back as duplicates.
    let (_node, _) = serve(&data, &url, &[]);
    let outcomes = rt.block_on(read_stream(&js, "PROBITY_OUTCOMES", 10));
    assert_eq!(outcomes.len(), 10);
    let duplicates = outcomes
        .iter()
        .filter(|m| {
            serde_json::from_slice::<serde_json::Value>(&m.payload).unwrap()["outcome"]
                == "duplicate"
        })
        .count() as u64;
    assert_eq!(duplicates, committed, "what was committed before the crash is a duplicate now");
    assert_eq!(records_in(&data), 10, "no record doubled");
}

#[test]
fn an_authority_files_only_in_its_own_name_by_nats_permissions_and_by_probity() {
    let dir = tempfile::tempdir().unwrap();
    let (data, lines) = registry(dir.path(), 200);
    let first = field(&lines[0], "authority");
    let other_line = lines.iter().find(|l| field(l, "authority") != first).unwrap().clone();
    let (_nats, port) = nats_server(dir.path(), &[&first]);
    let url = format!("nats://probity:probity-secret@127.0.0.1:{port}");
    let rt = runtime();
    let _entered = rt.enter();
    let (_node, _) = serve(&data, &url, &[]);
    let admin = async_nats::jetstream::new(rt.block_on(connect(port, "probity", "probity-secret")));
    let start = Instant::now();
    while rt.block_on(admin.get_stream("PROBITY_FILINGS")).is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "probity made no filings stream");
        std::thread::sleep(Duration::from_millis(50));
    }
    let authority =
        async_nats::jetstream::new(rt.block_on(connect(port, &first, &format!("{first}-secret"))));
    // NATS refuses a publication on another authority's subject.
    let other = field(&other_line, "authority");
    let refused = rt.block_on(async {
        match authority.publish(format!("probity.filings.{other}"), other_line.clone().into()).await
        {
            Ok(ack) => ack.await.is_err(),
            Err(_) => true,
        }
    });
    assert!(refused, "NATS let {first} publish on {other}'s subject");
    // On its own subject, a record in another authority's name is refused by probity.
    rt.block_on(async {
        let ack = authority
            .publish(format!("probity.filings.{first}"), other_line.clone().into())
            .await
            .unwrap();
        ack.await.unwrap();
    });
    let outcome = rt.block_on(read_stream(&admin, "PROBITY_OUTCOMES", 1));
    let v: serde_json::Value = serde_json::from_slice(&outcome[0].payload).unwrap();
    assert_eq!(outcome[0].subject.as_str(), format!("probity.outcomes.{first}"));
    assert_eq!(v["outcome"], "rejected", "{v}");
    let reason = v["records"][0]["reason"].as_str().unwrap();
    assert!(reason.contains(&other) && reason.contains(&first), "{reason}");
    assert_eq!(records_in(&data), 0);
}
