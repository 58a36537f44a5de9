//! An answer read from a stored assessment is the answer computed from the records: for every
//! subject of a generated registry, every measure, and dates before and after changes.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use probity_core::Date;
use probity_registry::{CheckAnswer, Format, ImportOptions, Registry, Table};
use probity_stores::Stores as _;
use serde_json::value::RawValue;

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
    // The one-look-up answer is the one the longer ways give, wherever it holds.
    let (mut stored, mut holding) = (0, 0);
    for id in &ids {
        let subject = reg.store().subject(id).unwrap().unwrap();
        if reg.assessment_holding_on(&subject, today).unwrap().is_some() {
            holding += measures.len();
        }
        for m in &measures {
            if let Some(quick) = reg.check_stored(id, m, today).unwrap() {
                stored += 1;
                // Reasons sent on as stored are the same text as the reasons decoded.
                let raw: CheckAnswer<Box<RawValue>> =
                    reg.check_stored(id, m, today).unwrap().unwrap();
                assert_eq!(
                    serde_json::to_string(&raw).unwrap(),
                    serde_json::to_string(&quick).unwrap(),
                    "{id} {m}"
                );
                assert_eq!(
                    Some(quick),
                    reg.check_computed(id, m, today, None).unwrap(),
                    "{id} {m}"
                );
            }
        }
    }
    assert_eq!(stored, holding, "read in one look-up wherever the stored assessment holds");
    assert!(stored > 0);
    // Asked at once, each answer is the one asked alone, an unknown measure failing only its own.
    let asked: Vec<(probity_core::SubjectId, &str, Date)> = ids
        .iter()
        .zip(measures.iter().cycle())
        .map(|(id, m)| (*id, m.as_str(), today))
        .chain([(ids[0], "no-such-measure", today)])
        .collect();
    let many = reg.check_stored_many::<Vec<probity_rules::Reason>>(&asked).unwrap();
    let raw = reg.check_stored_many::<Box<RawValue>>(&asked).unwrap();
    for (raw, decoded) in raw.iter().zip(&many) {
        match (raw, decoded) {
            (Ok(r), Ok(d)) => {
                assert_eq!(serde_json::to_string(r).unwrap(), serde_json::to_string(d).unwrap());
            }
            (r, d) => assert_eq!(r.is_ok(), d.is_ok(), "the same answers fail"),
        }
    }
    assert_eq!(many.len(), asked.len());
    let unknown = many.last().unwrap().as_ref().map(|_| ()).unwrap_err().to_string();
    assert!(unknown.contains("no-such-measure"), "{unknown}");
    assert!(many.iter().rev().skip(1).all(Result::is_ok), "only the unknown measure fails");
    for ((id, m, on), got) in asked.iter().zip(many) {
        match reg.check_stored(id, m, *on) {
            Ok(alone) => assert_eq!(got.unwrap(), alone, "{id} {m}"),
            Err(e) => assert_eq!(got.unwrap_err().to_string(), e.to_string(), "{id} {m}"),
        }
    }

    // Rows rated before the answers were kept apart hold them in their explanation: they are
    // answered the longer way, the audit finds nothing wrong, and the next rating moves them.
    let db = dir.path().join("r").join(probity_sqlite::DB_FILE);
    drop(reg);
    {
        // Read through the store, which unpacks what it stored packed; written back as text,
        // as such a row was.
        let store = probity_sqlite::SqliteStore::open(&dir.path().join("r")).unwrap();
        let rows: Vec<_> = ids
            .iter()
            .filter_map(|id| {
                probity_store::Store::assessment(&store, id).unwrap().map(|row| (*id, row))
            })
            .collect();
        assert!(!rows.is_empty());
        drop(store);
        let conn = rusqlite::Connection::open(&db).unwrap();
        for (id, row) in rows {
            let mut whole: serde_json::Value = serde_json::from_str(&row.explanation).unwrap();
            // Stored as JSON Lines, one measure a line.
            whole["measures"] = row
                .answers
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect::<Vec<serde_json::Value>>()
                .into();
            conn.execute(
                "UPDATE assessments SET explanation = ?1, answers = ''
                 WHERE subject = (SELECT id FROM subjects WHERE code = ?2)",
                rusqlite::params![whole.to_string(), id.as_str()],
            )
            .unwrap();
        }
    }
    let mut reg = Registry::open(&dir.path().join("r"))
        .unwrap()
        .with_clock(common::at("2026-11-01T09:00:00Z"));
    for id in &ids {
        for m in &measures {
            let kept = reg.check_stored::<Box<RawValue>>(id, m, today).unwrap();
            assert!(kept.is_none(), "nothing kept apart yet");
            let old = reg.check(id.as_str(), m, today, None).unwrap();
            assert_eq!(old, reg.check_computed(id, m, today, None).unwrap(), "{id} {m}");
        }
    }
    let audit = reg.audit(&[], &()).unwrap();
    assert!(audit.problems.is_empty(), "{:?}", &audit.problems[..audit.problems.len().min(3)]);
    reg.rate_pass(today, true, &()).unwrap();
    let id = &ids[0];
    assert!(
        reg.check_stored::<Box<RawValue>>(id, &measures[0], today).unwrap().is_some(),
        "moved by the rating"
    );
}
