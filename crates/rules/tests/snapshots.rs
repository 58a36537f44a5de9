//! Rule tests as data: each `cases/*.toml` gives a rulebook, a subject's records and a date;
//! the assessment must equal `cases/*.json`. Run with `UPDATE_SNAPSHOTS=1` to rewrite the
//! snapshots after an intended change, then review the diff. A missing snapshot fails.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::Path;

use probity_rules::{RecordInput, RecordState, Rulebook, SubjectInput, assess};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    rulebook: String,
    as_of: String,
    established: Option<String>,
    records: Vec<CaseRecord>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseRecord {
    id: u64,
    kind: String,
    effective: String,
    #[serde(default)]
    withdrawn: bool,
}

#[test]
fn every_case_matches_its_snapshot() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "expected the case files in {}", dir.display());
    let mut failures = Vec::new();
    for path in cases {
        let case: Case = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("../../rulebooks/{}.toml", case.rulebook)),
        )
        .unwrap();
        let book = Rulebook::parse(&text).unwrap();
        let records: Vec<RecordInput> = case
            .records
            .iter()
            .map(|r| RecordInput {
                id: r.id,
                kind: r.kind.clone(),
                effective: r.effective.parse().unwrap(),
                state: if r.withdrawn { RecordState::Withdrawn } else { RecordState::InForce },
            })
            .collect();
        let subject = SubjectInput { established: case.established.map(|e| e.parse().unwrap()) };
        let got = serde_json::to_string_pretty(&assess(
            &book,
            &subject,
            &records,
            case.as_of.parse().unwrap(),
        ))
        .unwrap()
            + "\n";
        let snap = path.with_extension("json");
        if update {
            std::fs::write(&snap, &got).unwrap();
            continue;
        }
        match std::fs::read_to_string(&snap) {
            Ok(want) if want == got => {}
            Ok(_) => failures.push(format!("{} differs from its snapshot", path.display())),
            Err(_) => failures.push(format!(
                "{} has no snapshot; run with UPDATE_SNAPSHOTS=1 and review",
                path.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
