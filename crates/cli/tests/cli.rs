//! The `probity` binary end to end: every test runs the real command on a real registry.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn probity(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_probity"));
    c.arg("--data").arg(data).env_remove("RUST_LOG").env_remove("PROBITY_DATA");
    c
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("run probity")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

fn generate(
    dir: &Path,
    out: &str,
    enterprises: u64,
    records: u64,
    dirty: f64,
) -> serde_json::Value {
    let o = run(probity(dir)
        .args(["generate", "--as-of", "2026-11-01", "--seed", "5", "--json"])
        .args([
            "--enterprises",
            &enterprises.to_string(),
            "--records",
            &records.to_string(),
            "--dirty",
            &dirty.to_string(),
            "--out",
        ])
        .arg(dir.join(out)));
    assert!(o.status.success(), "{o:?}");
    json(&o)
}

fn init_with(dir: &Path, data: &Path, input: &str) {
    assert!(run(probity(data).arg("init")).status.success());
    for (table, file) in [("authorities", "authorities.csv"), ("subjects", "subjects.csv")] {
        let o = run(probity(data).args(["import", table]).arg(dir.join(input).join(file)));
        assert_eq!(o.status.code(), Some(0), "{o:?}");
    }
}

fn stats(data: &Path) -> serde_json::Value {
    let o = run(probity(data).args(["stats", "--json"]));
    assert!(o.status.success(), "{o:?}");
    json(&o)
}

#[test]
fn generate_is_deterministic_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), "a", 300, 900, 0.1);
    generate(dir.path(), "b", 300, 900, 0.1);
    for f in ["authorities.csv", "subjects.csv", "records.jsonl"] {
        let a = std::fs::read(dir.path().join("a").join(f)).unwrap();
        let b = std::fs::read(dir.path().join("b").join(f)).unwrap();
        assert!(!a.is_empty() && a == b, "{f} differs between runs");
    }
}

#[test]
fn dirty_import_reports_every_reject_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let summary = generate(dir.path(), "in", 400, 1500, 0.1);
    let data = dir.path().join("reg");
    assert!(run(probity(&data).arg("init")).status.success());
    let o = run(probity(&data)
        .args(["import", "authorities"])
        .arg(dir.path().join("in/authorities.csv")));
    assert_eq!(o.status.code(), Some(0));

    let rejects = dir.path().join("subject-rejects.jsonl");
    let o = run(probity(&data)
        .args(["import", "subjects", "--json", "--rejects"])
        .arg(&rejects)
        .arg(dir.path().join("in/subjects.csv")));
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    let report = json(&o);
    assert_eq!(report["accepted"], summary["subjects"]);
    assert_eq!(report["rejected"], summary["subjects_dirty"]);
    let lines = std::fs::read_to_string(&rejects).unwrap();
    assert_eq!(lines.lines().count() as u64, summary["subjects_dirty"].as_u64().unwrap());
    for l in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v["line"].as_u64().unwrap() >= 2 && !v["reason"].as_str().unwrap().is_empty());
    }

    let records = dir.path().join("in/records.jsonl");
    let o = run(probity(&data).args(["import", "records", "--json"]).arg(&records));
    assert_eq!(o.status.code(), Some(3));
    let report = json(&o);
    assert_eq!(report["accepted"], summary["records"]);
    assert_eq!(report["rejected"], summary["records_dirty"]);
    // The default rejects file sits next to the input.
    let default = dir.path().join("in/records.jsonl.rejects.jsonl");
    assert_eq!(report["rejects_file"], default.display().to_string());
    assert!(default.exists());

    // Importing again adds nothing, and says so.
    let o = run(probity(&data).args(["import", "records", "--json"]).arg(&records));
    let again = json(&o);
    assert_eq!(again["accepted"], 0);
    assert_eq!(again["duplicate"], summary["records"]);
    let s = stats(&data);
    assert_eq!(s["records"], summary["records"]);
    assert_eq!(s["subjects"], summary["subjects"]);
    assert_eq!(s["authorities"], 12);
}

#[test]
fn show_prints_a_profile_and_refuses_unknown_and_invalid_ids() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), "in", 50, 300, 0.0);
    let data = dir.path().join("reg");
    init_with(dir.path(), &data, "in");
    assert!(
        run(probity(&data).args(["import", "records"]).arg(dir.path().join("in/records.jsonl")))
            .status
            .success()
    );
    let subjects = std::fs::read_to_string(dir.path().join("in/subjects.csv")).unwrap();
    let id = subjects.lines().nth(1).unwrap().split(',').next().unwrap().to_owned();

    let o = run(probity(&data).args(["show", "--json", &id.to_lowercase()]));
    assert!(o.status.success(), "{o:?}");
    let v = json(&o);
    assert_eq!(v["subject"]["id"], id.as_str());
    let records = v["records"].as_array().unwrap();
    assert!(!records.is_empty());
    assert!(
        records
            .iter()
            .all(|r| r["status"] == "filed" && !r["record"]["basis"].as_str().unwrap().is_empty())
    );

    let o = run(probity(&data).args(["show", &id]));
    assert!(stdout(&o).contains(&id) && stdout(&o).contains("basis:"));

    let o = run(probity(&data).args(["show", "91110000600037341L"]));
    assert_eq!(o.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&o.stderr).contains("holds no subject `91110000600037341L`"));

    let o = run(probity(&data).args(["show", "92110000600037341L"]));
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("individually owned business"));
}

#[test]
fn commands_on_a_missing_registry_say_how_to_create_one() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(probity(&dir.path().join("none")).arg("stats"));
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("probity init"), "{o:?}");
}

#[test]
fn help_documents_exit_statuses() {
    let o = run(Command::new(env!("CARGO_BIN_EXE_probity")).arg("--help"));
    let text = stdout(&o);
    for needle in ["Exit status", "some rows were rejected", "import", "generate", "demo", "--data"]
    {
        assert!(text.contains(needle), "--help lacks `{needle}`");
    }
}

/// Journal content with the registry's own timestamps left out, sorted: two registries built
/// from the same input must agree on it exactly.
fn content(data: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(data.join("registry.sqlite")).unwrap();
    let mut stmt = conn.prepare("SELECT body FROM journal").unwrap();
    let mut out: Vec<String> = stmt
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|b| {
            let mut v: serde_json::Value = serde_json::from_slice(&b.unwrap()).unwrap();
            v.as_object_mut().unwrap().remove("recorded_at");
            v.to_string()
        })
        .collect();
    out.sort();
    out
}

#[test]
fn kill_9_mid_import_leaves_whole_batches_and_a_rerun_completes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let records = 60_000u64;
    generate(dir.path(), "in", 3000, records, 0.0);
    let file = dir.path().join("in/records.jsonl");

    // The reference: one uninterrupted import.
    let clean = dir.path().join("clean");
    init_with(dir.path(), &clean, "in");
    assert!(run(probity(&clean).args(["import", "records"]).arg(&file)).status.success());

    let data = dir.path().join("killed");
    init_with(dir.path(), &data, "in");
    // Larger than the chunks the reader hands over (10,000 rows): a batch is committed whole
    // even when it reaches the writer in pieces.
    let batch = 25_000u64;
    let mut killed_at = None;
    // Kill as soon as some, but not all, batches are committed. Retry with a fresh registry in
    // the unlikely case the import finished before the kill landed.
    for _attempt in 0..3 {
        let mut child = probity(&data)
            .args(["import", "records", "--batch-size", &batch.to_string()])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        loop {
            let n = stats(&data)["records"].as_u64().unwrap();
            if n > 0 || started.elapsed() > Duration::from_secs(60) {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let n = stats(&data)["records"].as_u64().unwrap();
        if n < records {
            killed_at = Some(n);
            break;
        }
        std::fs::remove_dir_all(&data).unwrap();
        init_with(dir.path(), &data, "in");
    }
    let n = killed_at.expect("the import finished before it could be killed three times");
    assert!(n > 0);
    // Only whole batches: every committed batch of valid rows adds exactly `batch` records, and
    // every record has its event (events = authorities + subjects + records).
    assert_eq!(n % batch, 0, "{n} records is not a whole number of batches");
    let s = stats(&data);
    assert_eq!(s["events"].as_u64().unwrap(), 1 + 12 + 3000 + n);
    // The journal and the log committed together: the audit finds every entry with its leaf.
    let o = run(probity(&data).args(["audit", "--json", "--from"]).arg(&data));
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(json(&o)["size"].as_u64().unwrap(), 1 + 12 + 3000 + n);

    let o = run(probity(&data).args(["import", "records", "--json"]).arg(&file));
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let report = json(&o);
    assert_eq!(report["duplicate"].as_u64().unwrap(), n);
    assert_eq!(report["accepted"].as_u64().unwrap(), records - n);
    assert_eq!(stats(&data)["records"].as_u64().unwrap(), records);
    assert_eq!(content(&data), content(&clean), "the resumed registry differs from a clean import");
}

#[test]
fn demo_builds_a_registry_and_replaces_only_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let o = run(probity(&data).args([
        "demo",
        "--enterprises",
        "200",
        "--records",
        "400",
        "--no-serve",
    ]));
    assert!(o.status.success(), "{o:?}");
    assert!(stdout(&o).contains("demo registry ready"));
    assert!(stdout(&o).contains("operator:") && stdout(&o).contains("prb_"));
    // The generated records, and the outcomes of the demo's inspection, which it says it filed.
    let outcomes = |o: &Output| -> u64 {
        let out = stdout(o);
        let line = out.lines().find(|l| l.starts_with("inspection")).expect("an inspection line");
        let before = line.split(" outcomes filed").next().unwrap();
        before.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(outcomes(&o) >= 1, "{o:?}");
    assert_eq!(stats(&data)["records"], 400 + outcomes(&o));
    // It started on the rulebook of 2023 and adopted the current one over it.
    assert!(stdout(&o).contains("rulebook     2026.12 adopted over 2023.5"), "{}", stdout(&o));
    let books = json(&run(probity(&data).args(["rulebook", "show", "--json"])));
    assert_eq!(books["in_force"]["version"], "2026.12");
    let versions: Vec<&str> = books["adopted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["2023.5", "2026.12"]);
    // Running it again replaces the demo.
    let o = run(probity(&data).args([
        "demo",
        "--enterprises",
        "100",
        "--records",
        "100",
        "--no-serve",
    ]));
    assert!(o.status.success(), "{o:?}");
    assert_eq!(stats(&data)["records"], 100 + outcomes(&o));
    // It never replaces a registry it did not make.
    let real: PathBuf = dir.path().join("real");
    assert!(run(probity(&real).arg("init")).status.success());
    let o = run(probity(&real).args(["demo", "--no-serve"]));
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a demo"));
}

#[test]
fn demo_serves_the_api_with_the_keys_it_prints_and_stops_gracefully() {
    use std::io::{BufRead as _, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let mut child = probity(&data)
        .args(["demo", "--enterprises", "50", "--records", "100", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut company = None;
    let mut subscriber = None;
    let mut watchlist = None;
    let mut witnesses = Vec::new();
    for line in out.by_ref() {
        let line = line.unwrap();
        if line.trim_start().starts_with("company ") {
            company = line.split_whitespace().nth(1).map(|c| c.trim_end_matches(':').to_owned());
        }
        if line.trim_start().starts_with("subscriber bank-demo:") {
            subscriber = line.split_whitespace().nth(2).map(str::to_owned);
        }
        if let Some(rest) = line.strip_prefix("watchlist ") {
            watchlist = rest.split(':').next().map(str::to_owned);
        }
        if let ["w1" | "w2", url, _key] = line.split_whitespace().collect::<Vec<_>>()[..] {
            witnesses.push(url.to_owned());
        }
        if line.starts_with("serving the API") {
            break;
        }
    }
    assert_eq!(witnesses.len(), 2, "the demo starts two witnesses");
    let company = company.expect("the demo prints a company credential");
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = err.next().expect("the server says where it listens").unwrap();
        if let Some(u) = line.strip_prefix("listening on ") {
            break u.to_owned();
        }
    };
    let get = |path: &str| reqwest::blocking::get(format!("{url}{path}")).unwrap();
    assert_eq!(get("/v1/health").status(), 200);
    let profile: serde_json::Value = get(&format!("/v1/subjects/{company}")).json().unwrap();
    assert_eq!(profile["id"], company.as_str());
    // The demo's watchlist shows the answer changes the demo's history made, and the CLI
    // manages it over the API with the printed subscriber key.
    let (key, list) = (subscriber.expect("a subscriber key"), watchlist.expect("a watchlist"));
    let cli = |args: &[&str]| {
        let mut c = probity(&data);
        c.arg("watchlist").args(args).args(["--server", &url, "--key", &key]);
        run(&mut c)
    };
    let o = cli(&["changes", &list, "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let changes = json(&o);
    assert!(!changes["changes"].as_array().unwrap().is_empty(), "{changes}");
    // Expiries since 2023 (the demo's clock moved on), then the history filed today.
    let causes: Vec<&str> = changes["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cause"]["kind"].as_str().unwrap())
        .collect();
    assert!(causes.contains(&"event") && causes.contains(&"date"), "{causes:?}");
    let o = cli(&["add", &list, &company, "92110000MA00000000"]);
    assert_eq!(o.status.code(), Some(3), "a refused code exits 3");
    assert!(stdout(&o).contains("individually owned business"), "{}", stdout(&o));
    let o = cli(&["remove", &list, &company, "--json"]);
    assert_eq!(json(&o)["removed"], 1);
    let o = cli(&["changes", "wl_nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no watchlist `wl_nope`"));
    // The checkpoint served is cosigned by both witnesses within seconds.
    let start = std::time::Instant::now();
    loop {
        let r = get("/v1/log/checkpoint");
        let note = if r.status() == 200 { r.text().unwrap() } else { String::new() };
        if note.lines().filter(|l| l.starts_with("\u{2014} witness-")).count() == 2 {
            break;
        }
        assert!(start.elapsed().as_secs() < 20, "no cosigned checkpoint: {note}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // SIGTERM: the server finishes and exits 0, and its witnesses stop with it.
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(child.wait().unwrap().success());
    for w in &witnesses {
        let health = w.replace("/witness", "/v1/health");
        assert!(reqwest::blocking::get(&health).is_err(), "witness {w} still runs");
    }
}

fn b64(s: &serde_json::Value) -> [u8; 32] {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

fn small_registry(dir: &Path) -> PathBuf {
    registry_with(dir, 40, 120)
}

fn registry_with(dir: &Path, enterprises: u64, records: u64) -> PathBuf {
    generate(dir, "in", enterprises, records, 0.0);
    let data = dir.join("reg");
    init_with(dir, &data, "in");
    assert!(
        run(probity(&data).args(["import", "records"]).arg(dir.join("in/records.jsonl")))
            .status
            .success()
    );
    data
}

#[test]
fn log_proofs_verify_and_leaves_follow_the_documented_format() {
    use sha2::{Digest, Sha256};
    let dir = tempfile::tempdir().unwrap();
    let data = small_registry(dir.path());
    let size = stats(&data)["events"].as_u64().unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(data.join("log.key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the signing key must be readable by its owner only");
    let root = json(&run(probity(&data).args(["log", "root", "--json"])));
    assert_eq!(root["size"].as_u64().unwrap(), size);
    let root_hash = b64(&root["root"]);

    // docs/log-format.md: leaf hash = SHA-256(0x00 ‖ 0x01 ‖ SHA-256(canonical event)).
    let conn = rusqlite::Connection::open(data.join("registry.sqlite")).unwrap();
    for index in [0u64, 13, size - 1] {
        let body: Vec<u8> = conn
            .query_row("SELECT body FROM journal WHERE idx = ?1", [index as i64], |r| r.get(0))
            .unwrap();
        let mut leaf_data = vec![1u8];
        leaf_data.extend_from_slice(&Sha256::digest(&body));
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(&leaf_data);
        let leaf: [u8; 32] = h.finalize().into();

        let p = json(&run(probity(&data).args([
            "log",
            "prove",
            "--json",
            "--index",
            &index.to_string(),
        ])));
        assert_eq!(b64(&p["leaf_hash"]), leaf, "leaf {index}");
        let path: Vec<[u8; 32]> = p["path"].as_array().unwrap().iter().map(b64).collect();
        probity_tlog::verify_inclusion(&leaf, index, size, &path, &root_hash).unwrap();
    }
    let c = json(&run(probity(&data).args(["log", "consistency", "--json", "--from", "20"])));
    let path: Vec<[u8; 32]> = c["path"].as_array().unwrap().iter().map(b64).collect();
    probity_tlog::verify_consistency(20, size, &path, &b64(&c["old_root"]), &root_hash).unwrap();
    let o = run(probity(&data).args(["log", "prove", "--index", &size.to_string()]));
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn the_audit_catches_tampering_behind_the_registrys_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_registry(dir.path());
    let audit = |data: &Path| run(probity(data).args(["audit", "--json", "--from"]).arg(data));
    assert_eq!(audit(&data).status.code(), Some(0));

    // Edit a record's legal basis in the journal.
    let edited = dir.path().join("edited");
    copy_registry(&data, &edited);
    let conn = rusqlite::Connection::open(edited.join("registry.sqlite")).unwrap();
    let (idx, body): (i64, Vec<u8>) = conn
        .query_row(
            "SELECT idx, body FROM journal WHERE type = 'record_filed' ORDER BY idx LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let text = String::from_utf8(body).unwrap();
    let forged = text.replacen("\"basis\":\"", "\"basis\":\"Art. 0; ", 1);
    assert_ne!(forged, text);
    conn.execute(
        "UPDATE journal SET body = ?1 WHERE idx = ?2",
        rusqlite::params![forged.as_bytes(), idx],
    )
    .unwrap();
    drop(conn);
    let o = audit(&edited);
    assert_eq!(o.status.code(), Some(1));
    let problems = json(&o)["problems"].to_string();
    assert!(
        problems.contains(&format!("entry {idx}: its leaf in the log does not match")),
        "{problems}"
    );

    // Delete a journal row.
    let deleted = dir.path().join("deleted");
    copy_registry(&data, &deleted);
    let conn = rusqlite::Connection::open(deleted.join("registry.sqlite")).unwrap();
    conn.execute("DELETE FROM journal WHERE idx = 30", []).unwrap();
    drop(conn);
    let o = audit(&deleted);
    assert_eq!(o.status.code(), Some(1));
    assert!(json(&o)["problems"].to_string().contains("entry 30 is missing"), "{}", stdout(&o));

    // Rewrite a published grade in the assessments table: the journal is untouched, but the
    // replayed events give another grade.
    let regraded = dir.path().join("regraded");
    copy_registry(&data, &regraded);
    let conn = rusqlite::Connection::open(regraded.join("registry.sqlite")).unwrap();
    let (code, grade): (String, String) = conn
        .query_row(
            "SELECT s.code, a.grade FROM assessments a JOIN subjects s ON s.id = a.subject
             WHERE a.grade <> 'A' ORDER BY s.code LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    conn.execute(
        "UPDATE assessments SET grade = 'A' WHERE subject = (SELECT id FROM subjects WHERE code = ?1)",
        [&code],
    )
    .unwrap();
    drop(conn);
    let o = audit(&regraded);
    assert_eq!(o.status.code(), Some(1));
    let problems = json(&o)["problems"].to_string();
    assert!(
        problems.contains(&format!("subject {code}: the published assessment on"))
            && problems.contains(&format!("grade A (the log gives {grade})")),
        "{problems}"
    );

    // Withhold a body without a redaction event, keeping its digest so the leaf still matches.
    let hidden = dir.path().join("hidden");
    copy_registry(&data, &hidden);
    let conn = rusqlite::Connection::open(hidden.join("registry.sqlite")).unwrap();
    let (idx, body): (i64, Vec<u8>) = conn
        .query_row(
            "SELECT idx, body FROM journal WHERE type = 'record_filed' ORDER BY idx LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let digest = <sha2::Sha256 as sha2::Digest>::digest(&body).to_vec();
    conn.execute(
        "INSERT INTO withheld (idx, digest) VALUES (?1, ?2)",
        rusqlite::params![idx, digest],
    )
    .unwrap();
    conn.execute("UPDATE journal SET body = x'' WHERE idx = ?1", [idx]).unwrap();
    drop(conn);
    let o = audit(&hidden);
    assert_eq!(o.status.code(), Some(1));
    let problems = json(&o)["problems"].to_string();
    assert!(
        problems.contains(&format!("entry {idx}: its body is withheld, but no record_redacted")),
        "{problems}"
    );

    // Mark a record withdrawn in the records table, where the profile and ratings read it.
    let unfiled = dir.path().join("unfiled");
    copy_registry(&data, &unfiled);
    let conn = rusqlite::Connection::open(unfiled.join("registry.sqlite")).unwrap();
    let no: String = conn
        .query_row("SELECT decision_no FROM records ORDER BY id LIMIT 1", [], |r| r.get(0))
        .unwrap();
    conn.execute("UPDATE records SET status = 'withdrawn' WHERE decision_no = ?1", [&no]).unwrap();
    drop(conn);
    let o = audit(&unfiled);
    assert_eq!(o.status.code(), Some(1));
    let problems = json(&o)["problems"].to_string();
    assert!(
        problems.contains(&no) && problems.contains("status withdrawn (the log gives filed)"),
        "{problems}"
    );
}

#[test]
fn redaction_withholds_expired_records_and_the_audit_still_passes() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_registry(dir.path());
    let key = stdout(&run(probity(&data).args(["log", "key"]))).trim().to_owned();
    let before = stats(&data);

    let dry = json(&run(probity(&data).args(["redact", "--dry-run", "--json"])));
    let listed = dry["redacted"].as_array().unwrap().len();
    assert!(listed > 0, "six years of generated records include expired ones: {dry}");
    assert_eq!(stats(&data)["events"], before["events"], "a dry run changes nothing");

    let done = json(&run(probity(&data).args(["redact", "--json"])));
    assert_eq!(done["redacted"], dry["redacted"]);
    let after = stats(&data);
    assert_eq!(
        after["records"].as_u64().unwrap(),
        before["records"].as_u64().unwrap() - listed as u64
    );
    assert_eq!(
        after["events"].as_u64().unwrap(),
        before["events"].as_u64().unwrap() + listed as u64
    );

    // A redacted record is gone from every answer, but its filing's proof still verifies.
    let first = &done["redacted"][0];
    let o = run(probity(&data).args([
        "redact",
        first["authority"].as_str().unwrap(),
        first["decision_no"].as_str().unwrap(),
    ]));
    assert_eq!(o.status.code(), Some(1), "it is no longer there to redact");

    let o = run(probity(&data).args(["audit", "--json", "--key", &key, "--from"]).arg(&data));
    let a = json(&o);
    assert_eq!(o.status.code(), Some(0), "{a}");
    assert!(a["assessments"].as_u64().unwrap() > 0, "{a}");
    let o = run(probity(&data).args(["log", "prove", "--json", "--index", "5"]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Serves `data` on a free port until the returned child is killed; returns it and its URL.
fn serve(data: &Path) -> (std::process::Child, String) {
    serve_with(data, &[])
}

/// [`serve`] with more arguments to `probity serve`.
fn serve_with(data: &Path, extra: &[&str]) -> (std::process::Child, String) {
    use std::io::{BufRead as _, BufReader};
    let mut child = probity(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = err.next().expect("the server says where it listens").unwrap();
        if let Some(u) = line.strip_prefix("listening on ") {
            break u.to_owned();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || err.for_each(drop));
    (child, url)
}

/// Runs the independent verifier (`tools/verify-log.py`, which knows nothing of probity) on
/// the log served at `url`.
fn verify_independently(url: &str, key: &str) -> Output {
    let verifier = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/verify-log.py");
    run(Command::new("python3").arg(&verifier).args([
        "--url",
        &format!("{url}/v1/log"),
        "--key",
        key,
    ]))
}

/// The independent verifier, run against a server at its public rate limit, waits as the
/// server's `Retry-After` says and finishes.
#[test]
fn the_independent_verifier_waits_out_the_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_registry(dir.path());
    let key = stdout(&run(probity(&data).args(["log", "key"]))).trim().to_owned();
    let (mut server, url) = serve_with(&data, &["--public-rate", "2", "--public-burst", "1"]);
    let o = verify_independently(&url, &key);
    server.kill().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_served_registry_is_audited_through_its_url_and_its_tiles_verify_independently() {
    let dir = tempfile::tempdir().unwrap();
    let data = registry_with(dir.path(), 100, 600);
    assert!(run(probity(&data).args(["redact"])).status.success());
    let key = stdout(&run(probity(&data).args(["log", "key"]))).trim().to_owned();
    let size = stats(&data)["events"].as_u64().unwrap();
    assert!(size > 512, "full tiles and a level-1 tile are served: {size}");
    let (mut server, url) = serve(&data);
    let audit = |extra: &[&str]| {
        run(probity(&data).args(["audit", "--json", "--key", &key, "--from", &url]).args(extra))
    };

    let o = audit(&[]);
    let a = json(&o);
    assert_eq!(o.status.code(), Some(0), "{a}");
    assert_eq!(a["size"].as_u64(), Some(size));
    assert_eq!((a["subjects"].as_u64(), a["assessments"].as_u64()), (Some(100), Some(100)), "{a}");
    let a = json(&audit(&["--sample", "10"]));
    assert_eq!(a["subjects"].as_u64(), Some(10), "{a}");

    // A tile client that knows nothing of probity reads the served log.
    let o = verify_independently(&url, &key);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), String::from_utf8_lossy(&o.stderr));

    // Behind the server's back, a record that counts is marked withdrawn: the answers it serves
    // no longer follow from the log, and the audit names the subject.
    let conn = rusqlite::Connection::open(data.join("registry.sqlite")).unwrap();
    let code: String = conn
        .query_row(
            "SELECT s.code FROM records r JOIN subjects s ON s.id = r.subject
             ORDER BY r.effective DESC, r.id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    conn.execute(
        "UPDATE records SET status = 'withdrawn'
         WHERE subject = (SELECT id FROM subjects WHERE code = ?1)",
        [&code],
    )
    .unwrap();
    drop(conn);
    let o = audit(&[]);
    assert_eq!(o.status.code(), Some(1));
    let problems = json(&o)["problems"].to_string();
    assert!(problems.contains(&format!("subject {code}: the published assessment")), "{problems}");
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
#[cfg_attr(not(feature = "bench"), ignore = "`probity bench` is built with --features bench")]
fn the_engine_and_the_same_rules_in_sql_give_every_subject_the_same_grade() {
    // More subjects than one rating batch holds, so that rating runs as a pipeline; on both
    // stores, when PostgreSQL is there.
    let pg = postgres_schema();
    let dir = tempfile::tempdir().unwrap();
    let mut c = probity(&dir.path().join("unused"));
    if let Some((url, schema, _)) = &pg {
        c.args(["--store", url, "--store-schema", schema]);
    }
    let o = run(c
        .args([
            "bench",
            "rate",
            "--enterprises",
            "2500",
            "--records",
            "10000",
            "--incremental",
            "200",
            "--json",
            "--dir",
        ])
        .arg(dir.path()));
    let r = json(&o);
    assert_eq!(o.status.code(), Some(0), "{r}{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(r["subjects"], 2500);
    let agree = serde_json::json!({"grade": 0, "score": 0, "lists": 0, "missing": 0});
    assert_eq!(r["disagreements"], agree, "{r}");
    if pg.is_some() {
        assert_eq!(r["postgres"]["disagreements"], agree, "{r}");
        assert_eq!(r["postgres"]["rated"], 2500, "{r}");
    }
    assert_eq!(r["incremental_records"], 200);
    assert!(r["incremental_subjects_rated"].as_u64().unwrap() > 0, "{r}");
    // The data has every grade the SQL must reproduce, the new-entity grade included.
    let answers = std::fs::read_to_string(dir.path().join("duckdb-answers.csv")).unwrap();
    for g in [",A,", ",B,", ",C,", ",D,"] {
        assert!(answers.contains(g), "no subject graded {g}");
    }
}

/// Every class of edit behind the registry's back that the audit once missed: nodes inside the
/// stored tree, the projection columns rating and search read, the exception list, list
/// entries, cases and the latest event of a subject. Each is named by the audit.
#[test]
fn the_audit_compares_every_stored_node_and_column_it_vouches_for() {
    let dir = tempfile::tempdir().unwrap();
    // More than 256 entries, so the stored tree has a node at level 8.
    let data = registry_with(dir.path(), 60, 260);
    let audit = |data: &Path| run(probity(data).args(["audit", "--json", "--from"]).arg(data));
    assert_eq!(audit(&data).status.code(), Some(0), "{}", stdout(&audit(&data)));
    let mut n = 0;
    let mut tampered = |edit: &dyn Fn(&rusqlite::Connection)| -> String {
        n += 1;
        let copy = dir.path().join(format!("tampered-{n}"));
        copy_registry(&data, &copy);
        let conn = rusqlite::Connection::open(copy.join("registry.sqlite")).unwrap();
        edit(&conn);
        drop(conn);
        let o = audit(&copy);
        assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
        json(&o)["problems"].to_string()
    };
    // Flips one byte of the node stored at `at` bytes into tile `level`/0.
    let flip = |level: i64, at: usize| {
        move |c: &rusqlite::Connection| {
            let mut bytes: Vec<u8> = c
                .query_row(
                    "SELECT hashes FROM log_tiles WHERE level = ?1 AND idx = 0",
                    [level],
                    |r| r.get(0),
                )
                .unwrap();
            bytes[at] ^= 1;
            c.execute(
                "UPDATE log_tiles SET hashes = ?1 WHERE level = ?2 AND idx = 0",
                rusqlite::params![bytes, level],
            )
            .unwrap();
        }
    };
    // Level 1, node 0 follows the 256 leaf hashes of the full tile 0/0.
    let p = tampered(&flip(0, 256 * 32));
    assert!(p.contains("the log's node at level 1, index 0 (entries 0 to 1)"), "{p}");
    let p = tampered(&flip(1, 0));
    assert!(p.contains("the log's node at level 8, index 0 (entries 0 to 255)"), "{p}");

    let (code, no): (String, String) = {
        let conn = rusqlite::Connection::open(data.join("registry.sqlite")).unwrap();
        conn.query_row(
            "SELECT s.code, r.decision_no FROM records r JOIN subjects s ON s.id = r.subject
             JOIN record_kinds k ON k.id = r.kind_id
             WHERE k.kind <> 'penalty.serious' ORDER BY r.id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let p = tampered(&|c| {
        c.execute("INSERT OR IGNORE INTO record_kinds (kind) VALUES ('penalty.serious')", [])
            .unwrap();
        c.execute(
            "UPDATE records SET kind_id = (SELECT id FROM record_kinds WHERE kind = 'penalty.serious')
             WHERE decision_no = ?1",
            [&no],
        )
        .unwrap();
    });
    assert!(p.contains(&format!("subject {code}: rating reads its records as")), "{p}");
    let p = tampered(&|c| {
        c.execute("UPDATE records SET effective = 20000101 WHERE decision_no = ?1", [&no]).unwrap();
    });
    assert!(p.contains(&format!("subject {code}: rating reads its records as")), "{p}");
    assert!(p.contains("from 2000-01-01"), "{p}");
    let p = tampered(&|c| {
        c.execute("UPDATE subjects SET name = '假名有限公司' WHERE code = ?1", [&code]).unwrap();
    });
    assert!(p.contains(&format!("subject {code}: published with name `假名有限公司`")), "{p}");
    let p = tampered(&|c| {
        c.execute(
            "UPDATE subject_last_events SET last_event =
                 (SELECT event FROM subjects WHERE id = subject)
             WHERE subject = (SELECT id FROM subjects WHERE code = ?1)",
            [&code],
        )
        .unwrap();
    });
    assert!(p.contains(&format!("subject {code}: published with latest event")), "{p}");
    let p = tampered(&|c| {
        c.execute("INSERT INTO code_exceptions (code, event) VALUES ('91110000600037341X', 3)", [])
            .unwrap();
    });
    assert!(p.contains("code 91110000600037341X: on the exception list, but no event"), "{p}");
    let clean: String = {
        let conn = rusqlite::Connection::open(data.join("registry.sqlite")).unwrap();
        conn.query_row(
            "SELECT code FROM subjects WHERE code NOT IN (SELECT code FROM list_entries)
             ORDER BY code LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    let p = tampered(&|c| {
        c.execute(
            "INSERT INTO list_entries (list, code, since, until)
             VALUES ('serious_violation', ?1, 20260101, NULL)",
            [&clean],
        )
        .unwrap();
    });
    assert!(p.contains(&format!("subject {clean}: listed on `serious_violation`")), "{p}");
    let p = tampered(&|c| {
        c.execute("INSERT INTO cases (record, kind, opened) VALUES (1, 'objection', 5)", [])
            .unwrap();
    });
    assert!(p.contains("objection case opened at entry 5 is published, but no step"), "{p}");
}

fn copy_registry(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in ["registry.sqlite", "log.key", "checkpoint"] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
}

#[test]
fn a_rewritten_and_re_signed_history_is_caught_by_an_auditor_that_kept_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_registry(dir.path());
    let key = stdout(&run(probity(&data).args(["log", "key"]))).trim().to_owned();
    let state = dir.path().join("auditor.state");
    let audit = |extra: &[&str]| {
        let mut c = probity(&data);
        c.args(["audit", "--json", "--key", &key]).args(extra).arg("--from").arg(&data);
        run(&mut c)
    };
    let o = audit(&["--state", state.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(state.exists());

    // A forged checkpoint fails its signature.
    let cp_path = data.join("checkpoint");
    let genuine = std::fs::read_to_string(&cp_path).unwrap();
    let size = stats(&data)["events"].as_u64().unwrap();
    std::fs::write(
        &cp_path,
        genuine.replacen(&format!("\n{size}\n"), &format!("\n{}\n", size + 1), 1),
    )
    .unwrap();
    let o = audit(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(json(&o)["problems"].to_string().contains("no valid signature"), "{}", stdout(&o));
    std::fs::write(&cp_path, &genuine).unwrap();

    // Rewrite an old entry, rebuild the whole log to match it, and re-sign with the real key.
    let conn = rusqlite::Connection::open(data.join("registry.sqlite")).unwrap();
    let (idx, body): (i64, Vec<u8>) = conn
        .query_row(
            "SELECT idx, body FROM journal WHERE type = 'record_filed' ORDER BY idx LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let forged =
        String::from_utf8(body).unwrap().replacen("\"summary\":\"", "\"summary\":\"(amended) ", 1);
    conn.execute(
        "UPDATE journal SET body = ?1 WHERE idx = ?2",
        rusqlite::params![forged.as_bytes(), idx],
    )
    .unwrap();
    conn.execute("DELETE FROM log_tiles", []).unwrap();
    let mut frontier = probity_tlog::Frontier::default();
    let mut tiles = probity_tlog::stored::TileUpdates::default();
    let mut stmt = conn.prepare("SELECT body FROM journal ORDER BY idx").unwrap();
    let bodies: Vec<Vec<u8>> =
        stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    for b in bodies {
        tiles.add(frontier.append(probity_tlog::leaf_hash(&probity_core::leaf_data(&b))));
    }
    let tiles = tiles.into_tiles(|_, _| Ok::<_, probity_tlog::stored::TileError>(None)).unwrap();
    for tile in tiles {
        let (level, index) = tile.key();
        conn.execute(
            "INSERT INTO log_tiles VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![level, index as i64, tile.width() as i64, tile.to_bytes()],
        )
        .unwrap();
    }
    drop(stmt);
    drop(conn);
    // The registry's own signer checks the log against what it published before, and refuses.
    let o = run(probity(&data).args(["log", "checkpoint"]));
    assert!(!o.status.success());
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(said.contains("not consistent with the checkpoint published at size"), "{said}");
    assert_eq!(std::fs::read_to_string(&cp_path).unwrap(), genuine, "the last good one stays");
    // Someone holding the key signs the rewritten tree outside probity.
    let signer =
        probity_tlog::NoteSigner::parse(&std::fs::read_to_string(data.join("log.key")).unwrap())
            .unwrap();
    let forged = probity_tlog::Checkpoint {
        origin: signer.name().to_owned(),
        size: frontier.size(),
        root: frontier.root(),
    };
    std::fs::write(&cp_path, signer.sign(&forged.text())).unwrap();

    // A fresh auditor cannot tell: the forgery is self-consistent and validly signed…
    let o = audit(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // …but the auditor that kept the checkpoint it saw catches the rewrite.
    let o = audit(&["--state", state.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(json(&o)["problems"].to_string().contains("history was rewritten"), "{}", stdout(&o));
}

#[test]
fn show_can_carry_proofs_against_the_signed_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_registry(dir.path());
    let subjects = std::fs::read_to_string(dir.path().join("in/subjects.csv")).unwrap();
    let id = subjects.lines().nth(1).unwrap().split(',').next().unwrap().to_owned();
    let v = json(&run(probity(&data).args(["show", "--json", "--proof", &id])));
    let proof = &v["proof"];
    let key = stdout(&run(probity(&data).args(["log", "key"]))).trim().to_owned();
    let verifier = probity_tlog::NoteVerifier::parse(&key).unwrap();
    let text =
        verifier.open(proof["checkpoint"].as_str().unwrap()).expect("a validly signed checkpoint");
    let cp = probity_tlog::Checkpoint::parse(text).unwrap();
    assert_eq!(cp.size, proof["size"].as_u64().unwrap());
    let entries = proof["entries"].as_array().unwrap();
    // The registration and every record's filing are among the proven entries.
    let mut wanted = vec![v["registered_index"].as_u64().unwrap()];
    wanted.extend(
        v["records"].as_array().unwrap().iter().map(|r| r["filed_index"].as_u64().unwrap()),
    );
    for w in wanted {
        assert!(entries.iter().any(|e| e["index"] == w), "entry {w} has no proof");
    }
    for e in entries {
        let path: Vec<[u8; 32]> = e["path"].as_array().unwrap().iter().map(b64).collect();
        probity_tlog::verify_inclusion(
            &b64(&e["leaf_hash"]),
            e["index"].as_u64().unwrap(),
            cp.size,
            &path,
            &cp.root,
        )
        .unwrap();
    }
}

#[test]
fn published_tiles_let_a_mirror_rebuild_the_tree_and_grow_incrementally() {
    let dir = tempfile::tempdir().unwrap();
    let data = registry_with(dir.path(), 100, 500);
    let out = dir.path().join("tiles");
    let first = json(&run(probity(&data).args(["log", "tiles", "--json", "--out"]).arg(&out)));
    let size = first["to"].as_u64().unwrap();
    assert!(size > 256, "the test wants more than one tile, has {size}");

    // A mirror reads level-0 hash tiles and entry bundles only.
    let read_level0 = |out: &Path, size: u64| -> (Vec<[u8; 32]>, Vec<Vec<u8>>) {
        let (mut hashes, mut entries) = (Vec::new(), Vec::new());
        for n in 0..size.div_ceil(256) {
            let width = (size - n * 256).min(256);
            let tile =
                std::fs::read(out.join(probity_tlog::tiles::tile_path(Some(0), n, width))).unwrap();
            assert_eq!(tile.len() as u64, width * 32);
            hashes.extend(tile.chunks(32).map(|c| <[u8; 32]>::try_from(c).unwrap()));
            let bundle =
                std::fs::read(out.join(probity_tlog::tiles::tile_path(None, n, width))).unwrap();
            let mut rest = &bundle[..];
            while !rest.is_empty() {
                let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
                entries.push(rest[2..2 + len].to_vec());
                rest = &rest[2 + len..];
            }
        }
        (hashes, entries)
    };
    let (hashes, entries) = read_level0(&out, size);
    assert_eq!(entries.len() as u64, size);
    let mut tree = probity_tlog::MemoryTree::default();
    for (h, e) in hashes.iter().zip(&entries) {
        assert_eq!(probity_tlog::leaf_hash(e), *h, "an entry does not hash to its leaf");
        tree.append_leaf_hash(*h);
    }
    let key = stdout(&run(probity(&data).args(["log", "key"]))).trim().to_owned();
    let note = std::fs::read_to_string(out.join("checkpoint")).unwrap();
    let cp = probity_tlog::Checkpoint::parse(
        probity_tlog::NoteVerifier::parse(&key).unwrap().open(&note).unwrap(),
    )
    .unwrap();
    assert_eq!((cp.size, cp.root), (size, tree.root()));
    // The level-1 tile's first hash is the fold of the first full level-0 tile.
    let l1 =
        std::fs::read(out.join(probity_tlog::tiles::tile_path(Some(1), 0, size / 256))).unwrap();
    assert_eq!(l1[..32], probity_tlog::tiles::fold(&hashes[..256]).unwrap());

    // Growing the log rewrites only the partial tiles, never a full one.
    let full = out.join("tile/0/000");
    let before = std::fs::metadata(&full).unwrap().modified().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert!(
        run(probity(&data).args([
            "exception",
            "add",
            "91350100M0001TGQXM",
            "--reason",
            "pilot-era code"
        ]))
        .status
        .success()
    );
    let second = json(&run(probity(&data).args(["log", "tiles", "--json", "--out"]).arg(&out)));
    assert_eq!((second["from"].as_u64(), second["to"].as_u64()), (Some(size), Some(size + 1)));
    assert_eq!(second["entry_bundles"], 1);
    assert_eq!(
        std::fs::metadata(&full).unwrap().modified().unwrap(),
        before,
        "a full tile was rewritten"
    );
    let (hashes, _) = read_level0(&out, size + 1);
    assert_eq!(hashes.len() as u64, size + 1);
}

#[test]
fn an_independent_verifier_written_from_the_format_document_accepts_the_published_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = registry_with(dir.path(), 100, 600);
    let out = dir.path().join("tiles");
    assert!(run(probity(&data).args(["log", "tiles", "--out"]).arg(&out)).status.success());
    let key = stdout(&run(probity(&data).args(["log", "key"]))).trim().to_owned();
    let verifier = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/verify-log.py");
    let verify = || {
        run(Command::new("python3").arg(&verifier).arg("--tiles").arg(&out).args(["--key", &key]))
    };
    let o = verify();
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).starts_with("ok: localhost/probity"));

    // One flipped bit in a hash tile is caught.
    let tile = out.join("tile/0/001");
    let mut bytes = std::fs::read(&tile).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&tile, bytes).unwrap();
    let o = verify();
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("does not hash to its leaf"), "{}", stdout(&o));
}

const ONE_AUTHORITY: &str =
    "id,name,category,jurisdiction\nbj-amr,北京市市场监督管理局,market_regulation,110000\n";

/// A registry made from hand-written files: `probity init` with `init_args`, then the
/// authorities and subjects imported. Returns the registry and the records file, not yet
/// imported.
fn hand_made(
    dir: &Path,
    init_args: &[&str],
    authorities: &str,
    subjects: &str,
    records: &str,
) -> (PathBuf, PathBuf) {
    let data = dir.join("reg");
    assert!(run(probity(&data).arg("init").args(init_args)).status.success());
    let w = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let (a, s, r) = (w("a.csv", authorities), w("s.csv", subjects), w("r.jsonl", records));
    for (t, f) in [("authorities", &a), ("subjects", &s)] {
        assert_eq!(run(probity(&data).args(["import", t]).arg(f)).status.code(), Some(0));
    }
    (data, r)
}

#[test]
fn check_answers_allow_flag_and_deny_with_reasons_and_dates() {
    let dir = tempfile::tempdir().unwrap();
    let clean = probity_synth::uscc(1, "91", "110105");
    let abnormal = probity_synth::uscc(2, "91", "110105");
    let serious = probity_synth::uscc(3, "91", "110105");
    let (data, r) = hand_made(
        dir.path(),
        &[],
        ONE_AUTHORITY,
        &format!(
            "id,name,established\n{clean},甲有限公司,2010-01-01\n{abnormal},乙有限公司,2010-01-01\n{serious},丙有限公司,2010-01-01\n"
        ),
        &format!(
            "{{\"authority\":\"bj-amr\",\"decision_no\":\"N-1\",\"subject\":\"{abnormal}\",\"kind\":\"registration.abnormal\",\"decided\":\"2026-05-01\",\"effective\":\"2026-05-01\",\"basis\":\"Art. 17\"}}\n\
             {{\"authority\":\"bj-amr\",\"decision_no\":\"N-2\",\"subject\":\"{serious}\",\"kind\":\"penalty.serious\",\"decided\":\"2025-06-01\",\"effective\":\"2025-06-01\",\"basis\":\"Art. 49\"}}\n"
        ),
    );
    assert_eq!(run(probity(&data).args(["import", "records"]).arg(&r)).status.code(), Some(0));
    let check = |id: &str, as_of: &str| {
        let o =
            run(probity(&data).args(["check", "--json", "--as-of", as_of, id, "procurement.bid"]));
        (o.status.code(), json(&o))
    };
    let (code, v) = check(&clean, "2026-11-01");
    assert_eq!((code, v["decision"].as_str()), (Some(0), Some("allow")));
    let (code, v) = check(&abnormal, "2026-11-01");
    assert_eq!((code, v["decision"].as_str()), (Some(5), Some("flag")));
    assert!(v["reasons"][0]["cause"].as_str().unwrap().contains("abnormal_operations"));
    let (code, v) = check(&serious, "2026-11-01");
    assert_eq!((code, v["decision"].as_str()), (Some(6), Some("deny")));
    assert!(v["reasons"][0]["basis"].as_str().unwrap().contains("Cai Ku [2016] No. 125"));
    assert_eq!(v["changes_on"], "2028-06-01");
    assert_eq!(v["changes_to"], "allow");
    // Before the decision took effect, and after the list entry ended, the answer was allow.
    assert_eq!(check(&serious, "2025-05-31").1["decision"], "allow");
    assert_eq!(check(&serious, "2028-06-01").1["decision"], "allow");

    let ids = dir.path().join("ids.txt");
    std::fs::write(&ids, format!("{clean}\n{serious}\n\n92110000600037341L\n")).unwrap();
    let o = run(probity(&data).args(["check", "--batch"]).arg(&ids).args([
        "--as-of",
        "2026-11-01",
        "procurement.bid",
    ]));
    assert_eq!(o.status.code(), Some(0));
    let lines: Vec<serde_json::Value> =
        stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        (lines[0]["decision"].as_str(), lines[1]["decision"].as_str()),
        (Some("allow"), Some("deny"))
    );
    assert!(lines[2]["error"].as_str().unwrap().contains("individually owned business"));

    // The registry's own time axis: nothing was recorded before today.
    let (_, v) = check(&serious, "2026-11-01");
    assert_eq!(v["log_size"], stats(&data)["events"]);
    let o = run(probity(&data).args([
        "check",
        "--known-at",
        "2020-01-01",
        &serious,
        "procurement.bid",
    ]));
    assert_eq!(o.status.code(), Some(4), "the registry held no subject then");

    let o = run(probity(&data).args(["check", &clean, "procurement.nonsense"]));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("measure `procurement.nonsense` is not in rulebook")
    );
}

#[test]
fn check_works_under_the_us_exclusions_rulebook_for_a_company_with_an_lei() {
    let dir = tempfile::tempdir().unwrap();
    let book = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rulebooks/us-exclusions.toml");
    let lei = probity_synth::lei(5, "5493");
    let (data, r) = hand_made(
        dir.path(),
        &["--rulebook", book.to_str().unwrap()],
        "id,name,category,jurisdiction\ngsa-sdo,GSA Suspension and Debarment Official,suspending_debarring_official,US\n",
        &format!("id,name,established\n{lei},Meridian Logistics Inc.,2001-03-01\n"),
        &format!(
            "{{\"authority\":\"gsa-sdo\",\"decision_no\":\"GSA-2026-0042\",\"subject\":\"{lei}\",\"kind\":\"exclusion.debarment\",\"decided\":\"2026-03-01\",\"effective\":\"2026-03-10\",\"basis\":\"FAR 9.406-2\"}}\n\
             {{\"authority\":\"gsa-sdo\",\"decision_no\":\"GSA-2026-0043\",\"subject\":\"{lei}\",\"kind\":\"penalty.serious\",\"decided\":\"2026-03-01\",\"effective\":\"2026-03-10\",\"basis\":\"x\"}}\n"
        ),
    );
    // A kind from another rulebook is refused under this one.
    let o = run(probity(&data).args(["import", "records", "--json"]).arg(&r));
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(json(&o)["accepted"], 1);
    let rejects = std::fs::read_to_string(dir.path().join("r.jsonl.rejects.jsonl")).unwrap();
    assert!(
        rejects.contains("kind `penalty.serious` is not in rulebook `us-exclusions`"),
        "{rejects}"
    );

    let o = run(probity(&data).args([
        "check",
        "--json",
        "--as-of",
        "2026-11-01",
        &lei,
        "federal.contract_award",
    ]));
    assert_eq!(o.status.code(), Some(6));
    let v = json(&o);
    assert_eq!(v["decision"], "deny");
    assert_eq!(v["changes_on"], "2029-03-10");
    assert!(v["score"].is_null());
    let o = run(probity(&data).args([
        "check",
        "--json",
        "--as-of",
        "2026-03-09",
        &lei,
        "federal.contract_award",
    ]));
    assert_eq!((o.status.code(), json(&o)["decision"].as_str()), (Some(0), Some("allow")));
}

#[test]
fn a_new_rulebook_is_diffed_then_adopted_and_followed_from_its_effective_date() {
    let dir = tempfile::tempdir().unwrap();
    let one = probity_synth::uscc(1, "91", "110105");
    let two = probity_synth::uscc(2, "91", "110105");
    let (data, r) = hand_made(
        dir.path(),
        &[],
        ONE_AUTHORITY,
        &format!("id,name,established\n{one},甲有限公司,2010-01-01\n{two},乙有限公司,2010-01-01\n"),
        &format!(
            "{{\"authority\":\"bj-amr\",\"decision_no\":\"M-1\",\"subject\":\"{one}\",\"kind\":\"penalty.minor\",\"decided\":\"2026-11-01\",\"effective\":\"2026-12-01\",\"basis\":\"Art. 1\"}}\n\
             {{\"authority\":\"bj-amr\",\"decision_no\":\"M-2\",\"subject\":\"{one}\",\"kind\":\"penalty.minor\",\"decided\":\"2026-11-01\",\"effective\":\"2026-12-01\",\"basis\":\"Art. 1\"}}\n"
        ),
    );
    assert_eq!(run(probity(&data).args(["import", "records"]).arg(&r)).status.code(), Some(0));
    let default = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rulebooks/default.toml"),
    )
    .unwrap();
    let stricter = default
        .replacen("version = \"2026.12\"", "version = \"2026.3\"", 1)
        .replacen("effective = \"2026-01-01\"", "effective = \"2027-01-01\"", 1)
        .replacen(
            "counts_for = \"3 months\"\npoints = -5",
            "counts_for = \"3 months\"\npoints = -25",
            1,
        );
    assert_ne!(stricter, default);
    let new = dir.path().join("stricter.toml");
    std::fs::write(&new, &stricter).unwrap();

    let d = json(&run(probity(&data)
        .args(["rulebook", "diff", "--json", "--as-of", "2027-01-15"])
        .arg(&new)));
    assert_eq!(
        (d["subjects"].as_u64(), d["grade_worse"].as_u64(), d["grade_better"].as_u64()),
        (Some(2), Some(1), Some(0))
    );
    assert_eq!(d["samples"][0]["subject"], one.as_str());
    assert_eq!(
        (d["samples"][0]["grade_from"].as_str(), d["samples"][0]["grade_to"].as_str()),
        (Some("A"), Some("C"))
    );
    assert_eq!(d["flips"]["procurement.bid"]["allow → flag"], 1);
    // Diffing wrote nothing.
    assert_eq!(
        json(&run(probity(&data).args(["rulebook", "show", "--json"])))["adopted"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    assert!(run(probity(&data).args(["rulebook", "adopt"]).arg(&new)).status.success());
    let grade = |as_of: &str| {
        json(&run(probity(&data).args([
            "check",
            "--json",
            "--as-of",
            as_of,
            &one,
            "procurement.bid",
        ])))["grade"]
            .clone()
    };
    assert_eq!(grade("2026-12-15"), "A", "before its effective date the old rules apply");
    assert_eq!(grade("2027-01-15"), "C", "from its effective date the new rules apply");
    let o = run(probity(&data).args(["rulebook", "adopt"]).arg(&new));
    assert!(stdout(&o).contains("adopted already"));
    // The adoption is in the log, and the audit still agrees.
    let o = run(probity(&data).args(["audit", "--json", "--from"]).arg(&data));
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn ratings_are_materialised_by_imports_and_kept_current_by_the_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("reg");
    generate(dir.path(), "in", 200, 600, 0.0);
    init_with(dir.path(), &data, "in");
    let o = run(probity(&data)
        .args(["import", "records", "--json"])
        .arg(dir.path().join("in/records.jsonl")));
    let report = json(&o);
    let rated = report["rated"].as_u64().unwrap();
    // Only the subjects with records were touched, and each exactly once.
    let records = std::fs::read_to_string(dir.path().join("in/records.jsonl")).unwrap();
    let touched: std::collections::BTreeSet<String> = records
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["subject"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(rated, touched.len() as u64);
    assert!(rated < 200);

    let today = jiff::tz::TimeZone::UTC.to_datetime(jiff::Timestamp::now()).date().to_string();
    // The sweep rates the subjects never rated (the clean ones), then nothing until dates move.
    let sweep = |as_of: &str| {
        json(&run(probity(&data).args(["rate", "--json", "--as-of", as_of])))["rated"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(sweep(&today), 200 - rated);
    assert_eq!(sweep(&today), 0);
    // Years later every effect has started or ended: the rated subjects with records are due.
    assert!(sweep("2035-01-01") >= 1);
    let all =
        json(&run(probity(&data).args(["rate", "--all", "--json"])))["rated"].as_u64().unwrap();
    assert_eq!(all, 200);
}

/// Schemas a test made on PostgreSQL, dropped when it ends.
struct DropSchema(String, String);

impl Drop for DropSchema {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([&self.0, "-qc", &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.1)])
            .output();
    }
}

/// The test PostgreSQL server's connection string (127.0.0.1:5432 or `PROBITY_TEST_POSTGRES`)
/// and a new schema name on it, dropped when the guard is; `None` when `scripts/test` found no
/// server and set `PROBITY_SKIP_POSTGRES`, which it never does in CI.
fn postgres_schema() -> Option<(String, String, DropSchema)> {
    if std::env::var_os("PROBITY_SKIP_POSTGRES").is_some() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "PROBITY_SKIP_POSTGRES is set under CI=true: CI runs the PostgreSQL tests"
        );
        eprintln!("skipped: PROBITY_SKIP_POSTGRES is set (no PostgreSQL server)");
        return None;
    }
    let url = std::env::var("PROBITY_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 dbname=test user=postgres".into());
    let mut bytes = [0u8; 6];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom").unwrap(), &mut bytes)
        .unwrap();
    let schema =
        format!("probity_cli_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let guard = DropSchema(url.clone(), schema.clone());
    Some((url, schema, guard))
}

/// The same commands on a registry whose store is PostgreSQL: init, import, check, the log and
/// the audit. Needs the server at 127.0.0.1:5432 (or `PROBITY_TEST_POSTGRES`); `scripts/test`
/// sets `PROBITY_SKIP_POSTGRES` and says so when there is none, and never in CI.
#[test]
fn a_registry_on_postgresql_answers_like_one_on_sqlite() {
    let Some((url, schema, _cleanup)) = postgres_schema() else { return };
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), "in", 200, 600, 0.0);
    let pg = dir.path().join("pg");
    let lite = dir.path().join("lite");
    let with_store = |data: &Path| {
        let mut c = probity(data);
        c.args(["--store", &url, "--store-schema", &schema]);
        c
    };
    assert!(run(with_store(&pg).arg("init")).status.success());
    assert!(run(probity(&lite).arg("init")).status.success());
    for data in [&pg, &lite] {
        for (table, file) in [
            ("authorities", "authorities.csv"),
            ("subjects", "subjects.csv"),
            ("records", "records.jsonl"),
        ] {
            let o =
                run(probity(data).args(["import", table]).arg(dir.path().join("in").join(file)));
            assert_eq!(o.status.code(), Some(0), "{o:?}");
        }
    }
    // The store is remembered: later commands need no --store, and a different one is refused.
    assert_eq!(stats(&pg)["records"], 600);
    let o = run(probity(&pg).args(["--store", "sqlite", "stats"]));
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("keeps its store elsewhere"));
    // Same answers on both backends.
    let first = std::fs::read_to_string(dir.path().join("in/subjects.csv")).unwrap();
    let id = first.lines().nth(1).unwrap().split(',').next().unwrap().to_owned();
    let answer = |data: &Path| {
        let o = run(probity(data).args(["check", &id, "procurement.bid", "--json"]));
        let mut v = json(&o);
        v.as_object_mut().unwrap().remove("log_size");
        v
    };
    assert_eq!(answer(&pg), answer(&lite));
    let o = run(probity(&pg).args(["audit", "--from"]).arg(&pg));
    assert!(o.status.success(), "{o:?}");
    let o = run(probity(&pg).args(["log", "prove", "--index", "5", "--json"]));
    assert!(o.status.success(), "{o:?}");
}

/// A registry made in 2023 through the library (the binary keeps the system's time), with an
/// inspection plan on drand quicknet round 123 filed before that round was published.
fn planned_registry(dir: &Path) -> PathBuf {
    use probity_stores::Stores as _;
    let data = dir.join("planned");
    let clock = probity_registry::FixedClock("2023-08-23T08:00:00Z".parse().unwrap());
    let mut reg =
        probity_registry::Registry::init_with_clock(&data, None, "test/log", clock).unwrap();
    let subjects: String = (1..=300)
        .map(|n| format!("{},北京测试{n}有限公司\n", probity_store::conformance::uscc(n)))
        .collect();
    for (table, text) in [
        (
            probity_registry::Table::Authorities,
            "id,name,category,jurisdiction\nbj-amr,北京市市场监督管理局,market_regulation,110000\n"
                .to_owned(),
        ),
        (probity_registry::Table::Subjects, format!("id,name\n{subjects}")),
    ] {
        let mut rejects = Vec::new();
        let options = probity_registry::ImportOptions::default();
        let text = std::io::Cursor::new(text.into_bytes());
        let report = reg
            .import(table, probity_registry::Format::Csv, text, options, &(), &mut rejects)
            .unwrap();
        assert_eq!(report.rejected, 0, "{rejects:?}");
    }
    let plan: probity_core::InspectionPlan =
        serde_json::from_value(inspection_plan_json("京市监抽〔2023〕7号", 123)).unwrap();
    reg.file_plan(plan).unwrap().unwrap();
    data
}

fn inspection_plan_json(plan_no: &str, round: u64) -> serde_json::Value {
    serde_json::json!({
        "authority": "bj-amr",
        "plan_no": plan_no,
        "title": "Annual reports, third quarter",
        "basis": "Interim Regulations on Enterprise Information Publicity, Art. 14",
        "scope": {"regions": ["11"], "kinds": []},
        "items": ["annual_report"],
        "ratios": {"A": 100, "B": 200, "C": 1000, "D": 3000},
        "teams": 3,
        "team_commitment": "03".repeat(32),
        "beacon": {"chain": "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971", "round": round}
    })
}

#[test]
fn an_inspection_is_planned_drawn_and_verified_and_a_tampered_draw_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = planned_registry(dir.path());
    let beacon = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/drand-quicknet-123.json");

    // Today, round 123 is long out: a new plan on it is refused and says why.
    let late = dir.path().join("late.json");
    std::fs::write(&late, inspection_plan_json("late", 123).to_string()).unwrap();
    let o = run(probity(&data).args(["inspection", "plan"]).arg(&late));
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("names a future round"), "{o:?}");
    // A round far ahead is accepted, and waits for its beacon.
    let ahead = dir.path().join("ahead.json");
    std::fs::write(&ahead, inspection_plan_json("ahead", 900_000_000).to_string()).unwrap();
    let o = run(probity(&data).args(["inspection", "plan", "--json"]).arg(&ahead));
    assert!(o.status.success(), "{o:?}");
    assert_eq!(json(&o)["plan"]["status"], "awaiting_beacon");

    let o = run(probity(&data)
        .args(["inspection", "draw", "bj-amr", "京市监抽〔2023〕7号", "--json", "--beacon"])
        .arg(&beacon));
    assert!(o.status.success(), "{o:?}");
    let drawn = json(&o);
    let index = drawn["index"].as_u64().expect("appended");
    assert_eq!(drawn["draw"]["population"]["B"], 300);
    assert_eq!(drawn["draw"]["selected"].as_array().unwrap().len(), 6, "⌈2% × 300⌉");

    let verify = |data: &Path| {
        run(probity(data).args(["inspection", "verify", "bj-amr", "京市监抽〔2023〕7号", "--json"]))
    };
    let o = verify(&data);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(json(&o)["verified"], true);
    let o = run(probity(&data).args(["inspection", "show", "--json"]));
    let plans = json(&o);
    assert_eq!(plans.as_array().unwrap().len(), 2);
    assert_eq!(plans[0]["status"], "drawn");
    assert!(run(probity(&data).args(["audit", "--from"]).arg(&data)).status.success());

    // An outcome is an ordinary filing that names the plan; the plan then shows it.
    let subject = drawn["draw"]["selected"][0]["subject"].as_str().unwrap().to_owned();
    let outcome = dir.path().join("outcome.csv");
    std::fs::write(
        &outcome,
        format!(
            "authority,decision_no,subject,kind,decided,effective,basis,inspection_plan\n\
             bj-amr,R-1,{subject},inspection.no_issue,2026-01-05,2026-01-05,Art. 14,京市监抽〔2023〕7号\n"
        ),
    )
    .unwrap();
    let o = run(probity(&data).args(["import", "records"]).arg(&outcome));
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let o =
        run(probity(&data).args(["inspection", "show", "bj-amr", "京市监抽〔2023〕7号", "--json"]));
    assert_eq!(json(&o)["outcomes"][0]["subject"], subject.as_str(), "{o:?}");

    // Another selection written into the journal: the entry no longer matches its leaf, and
    // the recomputed draw differs; both are named.
    let db = data.join("registry.sqlite");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let body: Vec<u8> = conn
        .query_row("SELECT body FROM journal WHERE idx = ?1", [index as i64], |r| r.get(0))
        .unwrap();
    let mut event: serde_json::Value = serde_json::from_slice(&body).unwrap();
    event["body"]["draw"]["selected"][0]["team"] =
        serde_json::json!(event["body"]["draw"]["selected"][0]["team"].as_u64().unwrap() % 3 + 1);
    let forged = serde_json::to_vec(&event).unwrap();
    conn.execute(
        "UPDATE journal SET body = ?2 WHERE idx = ?1",
        rusqlite::params![index as i64, forged],
    )
    .unwrap();
    drop(conn);
    let o = verify(&data);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let problems = json(&o)["problems"].to_string();
    assert!(problems.contains(&format!("entry {index}")), "{problems}");
    assert!(problems.contains("is not the one its plan"), "{problems}");
    let o = run(probity(&data).args(["audit", "--from"]).arg(&data));
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let report = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(report.contains(&format!("entry {index}")), "{report}");

    // An outcome moved to a firm the draw did not select, in the journal: its entry is named.
    let outcome_at = index + 1;
    let conn = rusqlite::Connection::open(&db).unwrap();
    let body: Vec<u8> = conn
        .query_row("SELECT body FROM journal WHERE idx = ?1", [outcome_at as i64], |r| r.get(0))
        .unwrap();
    let mut event: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event["body"]["record"]["inspection_plan"], "京市监抽〔2023〕7号");
    event["body"]["record"]["decision_no"] = serde_json::json!("R-forged");
    conn.execute(
        "UPDATE journal SET body = ?2 WHERE idx = ?1",
        rusqlite::params![outcome_at as i64, serde_json::to_vec(&event).unwrap()],
    )
    .unwrap();
    drop(conn);
    let o = run(probity(&data).args(["audit", "--from"]).arg(&data));
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let report = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(report.contains(&format!("entry {outcome_at}")), "{report}");
}

#[test]
#[cfg_attr(not(feature = "bench"), ignore = "`probity bench` is built with --features bench")]
fn bench_witness_has_checkpoints_cosigned_by_three_witnesses() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(probity(&dir.path().join("unused"))
        .args(["bench", "witness", "--rounds", "5", "--leaves", "3", "--json"]));
    let r = json(&o);
    assert_eq!(o.status.code(), Some(0), "{r}{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(r["witnesses"], 3);
    assert!(r["round_ms"]["p50"].as_f64().unwrap() > 0.0, "{r}");
}

#[test]
#[cfg_attr(not(feature = "bench"), ignore = "`probity bench` is built with --features bench")]
fn bench_webhook_times_every_change_from_commit_to_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let o =
        run(probity(&dir.path().join("unused"))
            .args(["bench", "webhook", "--rounds", "5", "--json"]));
    let r = json(&o);
    assert_eq!(o.status.code(), Some(0), "{r}{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(r["rounds"], 5);
    let from_request = &r["commit_to_delivery_ms"]["from_request"];
    assert!(from_request["p50"].as_f64().unwrap() > 0.0, "{r}");
}

#[test]
#[cfg_attr(not(feature = "bench"), ignore = "`probity bench` is built with --features bench")]
fn bench_nats_files_every_record_published_and_says_how_fast() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(probity(&dir.path().join("unused")).args([
        "bench",
        "nats",
        "--records",
        "500",
        "--enterprises",
        "200",
        "--json",
    ]));
    let r = json(&o);
    assert_eq!(o.status.code(), Some(0), "{r}{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(r["records"], 500);
    assert!(r["filed_per_second"].as_f64().unwrap() > 0.0, "{r}");
}
