//! A property-based fuzz run of the API with schemathesis (PyPI) against `/v1/openapi.json`:
//! no 5xx, no undocumented status, no answer that breaks the documented schema, content type
//! or headers. It runs once without a key and once with each role's key, with a fixed seed and
//! a bounded number of examples, on a registry of generated companies and decisions.
//!
//! schemathesis must be installed (`scripts/test` installs it); the test fails, never skips,
//! when it is not.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use probity_registry::{Actor, Format, ImportOptions, Registry, Table};
use probity_stores::Stores as _;

const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,response_headers_conformance";

#[test]
fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let version = std::process::Command::new("schemathesis").arg("--version").output();
    let Some(version) = version.ok().filter(|o| o.status.success()) else {
        panic!(
            "schemathesis is not installed: `python3 -m pip install schemathesis` (scripts/test does this)"
        );
    };
    eprintln!("{}", String::from_utf8_lossy(&version.stdout).trim());

    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    let book = probity_rules::Rulebook::parse(probity_rules::DEFAULT_RULEBOOK).unwrap();
    let cfg = probity_synth::Config {
        enterprises: 300,
        records: 900,
        seed: 11,
        dirty: 0.0,
        as_of: probity_core::date_of(jiff::Timestamp::now()),
    };
    let create = |name: &str| std::fs::File::create(input.join(name)).unwrap();
    let outputs = probity_synth::Outputs {
        authorities: create("authorities.csv"),
        subjects: create("subjects.csv"),
        records: create("records.jsonl"),
    };
    probity_synth::generate(&cfg, &book, outputs).unwrap();
    let mut reg = Registry::init(&dir.path().join("reg"), None).unwrap();
    for (table, name, format) in [
        (Table::Authorities, "authorities.csv", Format::Csv),
        (Table::Subjects, "subjects.csv", Format::Csv),
        (Table::Records, "records.jsonl", Format::Jsonl),
    ] {
        let file = std::fs::File::open(input.join(name)).unwrap();
        let mut rejects = Vec::new();
        reg.import(table, format, file, ImportOptions::default(), &(), &mut rejects).unwrap();
        assert!(rejects.is_empty(), "{rejects:?}");
    }
    let authority = reg.store().authorities().unwrap()[0].id.clone();
    let company = reg.store().subject_ids(None, 1).unwrap()[0];
    let subscriber = probity_core::Slug::parse("subscriber", "bank-1").unwrap();
    let keys = [
        ("public", None),
        ("operator", Some(reg.issue_key(&Actor::Operator, None).unwrap())),
        ("authority", Some(reg.issue_key(&Actor::Authority(authority), None).unwrap())),
        ("company", Some(reg.issue_key(&Actor::Company(company), None).unwrap())),
        ("subscriber", Some(reg.issue_key(&Actor::Subscriber(subscriber), None).unwrap())),
    ];
    let config = probity_server::Config {
        public: probity_server::Allowance { rate: 1_000_000, burst: 1_000_000 },
        ..Default::default()
    };
    let server = probity_server::spawn(reg, "127.0.0.1:0".parse().unwrap(), config).unwrap();
    let url = format!("http://{}", server.addr);
    // The roles' runs are independent processes with their own seeds, so they run side by side.
    let runs: Vec<_> = keys
        .into_iter()
        .map(|(role, key)| {
            let mut cmd = std::process::Command::new("schemathesis");
            cmd.args(["run", &format!("{url}/v1/openapi.json"), "--url", &url])
                .args(["--checks", CHECKS, "--phases", "coverage,fuzzing"])
                // One worker: with two, schemathesis's coverage phase shares a cache between
                // threads and now and then fails inside itself (a KeyError in its own code).
                .args(["--max-examples", "25", "--seed", "7", "--workers", "1"])
                // Generated keys would all be forged ones, and forged keys are slowed down on
                // purpose.
                .args(["--generation-with-security-parameters", "false"])
                .env("NO_COLOR", "1")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            if let Some(k) = key {
                cmd.args(["--header", &format!("Authorization: Bearer {k}")]);
            }
            (role, cmd.spawn().unwrap())
        })
        .collect();
    let mut failed = Vec::new();
    for (role, child) in runs {
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let summary: Vec<&str> =
            text.lines().filter(|l| l.contains("generated") || l.contains('❌')).collect();
        eprintln!("{role}: {}", summary.join(" | "));
        if !out.status.success() {
            failed.push(format!("as {role}:\n{text}\n{}", String::from_utf8_lossy(&out.stderr)));
        }
    }
    server.stop().unwrap();
    assert!(failed.is_empty(), "schemathesis found problems:\n{}", failed.join("\n"));
}
