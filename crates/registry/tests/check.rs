//! An answer read from a stored assessment is the answer computed from the records: for every
//! subject of a generated registry, every measure, and dates before and after changes.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use probity_core::Date;
use probity_registry::{Format, ImportOptions, Registry, Table};
use probity_stores::Stores as _;

#[test]
fn stored_and_computed_answers_agree() {
    let dir = tempfile::tempdir().unwrap();
    let today: Date = "2026-11-01".parse().unwrap();
    let mut reg = Registry::init_with_clock(
        &dir.path().join("r"),
        None,
        "t/log",
        common::at("2026-11-01T09:00:00Z"),
    )
    .unwrap();
    let book = reg.rulebook().clone();
    let cfg = probity_synth::Config {
        enterprises: 300,
        records: 1500,
        seed: 9,
        dirty: 0.0,
        as_of: today,
    };
    let (mut a, mut s, mut r) = (Vec::new(), Vec::new(), Vec::new());
    probity_synth::generate(
        &cfg,
        &book,
        probity_synth::Outputs { authorities: &mut a, subjects: &mut s, records: &mut r },
    )
    .unwrap();
    for (table, format, bytes) in [
        (Table::Authorities, Format::Csv, a),
        (Table::Subjects, Format::Csv, s),
        (Table::Records, Format::Jsonl, r),
    ] {
        let mut rejects = Vec::new();
        reg.import(
            table,
            format,
            std::io::Cursor::new(bytes),
            ImportOptions::default(),
            &(),
            &mut rejects,
        )
        .unwrap();
        assert!(rejects.is_empty());
    }
    let ids = reg.store().subject_ids(None, 1000).unwrap();
    assert_eq!(ids.len(), 300);
    let measures: Vec<String> = book.measures().map(|m| m.id.clone()).collect();
    let mut read = 0;
    for days in [0, 40, 400] {
        let on = today.checked_add(jiff::Span::new().days(days)).unwrap();
        for id in &ids {
            let subject = reg.store().subject(id).unwrap().unwrap();
            if reg.assessment_holding_on(&subject, on).unwrap().is_some() {
                read += 1;
            }
            for m in &measures {
                let fast = reg.check(id.as_str(), m, on, None).unwrap().unwrap();
                let slow = reg.check_computed(id, m, on, None).unwrap().unwrap();
                assert_eq!(fast, slow, "{id} {m} on {on}");
            }
        }
    }
    // Most answers about today came from the store; later dates fall back where a change came.
    assert!(read > 300, "only {read} answers were read from stored assessments");
}
