//! The two time axes: what was true on a date, and what the registry answered on a date.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{at, import};

use probity_core::{Date, RecordKey, Slug};
use probity_registry::{Format, Registry, Table};
use probity_rules::Decision;

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

fn procurement(
    reg: &Registry,
    id: &probity_core::SubjectId,
    as_of: &str,
    known_at: Option<&str>,
) -> Option<Decision> {
    let (profile, a) = match known_at {
        None => {
            let p = reg.profile(id).unwrap()?;
            let a = reg.assess(&p, d(as_of));
            (p, a)
        }
        Some(k) => {
            let size = reg.log_size_at_end_of(d(k)).unwrap();
            let p = reg.profile_at(id, size).unwrap()?;
            let a = reg.assess_known_at(&p, d(as_of), size);
            (p, a)
        }
    };
    let _ = profile;
    Some(a.measures.iter().find(|m| m.measure == "procurement.bid").unwrap().decision)
}

#[test]
fn what_was_true_and_what_the_registry_answered_can_differ() {
    let dir = tempfile::tempdir().unwrap();
    let reg = common::registry_with(
        dir.path(),
        "2026-01-10T12:00:00Z",
        "id,name,established\n91110000600037341L,北京测试有限公司,2010-01-01\n",
    );
    let id = probity_core::SubjectId::parse("91110000600037341L").unwrap();

    // Filed on 15 January, effective since 1 December.
    let mut reg = reg.with_clock(at("2026-01-15T10:00:00Z"));
    import(
        &mut reg,
        Table::Records,
        Format::Jsonl,
        r#"{"authority":"bj-amr","decision_no":"S-1","subject":"91110000600037341L","kind":"penalty.serious","decided":"2025-11-20","effective":"2025-12-01","basis":"Art. 49"}"#,
    );
    // Withdrawn on 1 March.
    let mut reg = reg.with_clock(at("2026-03-01T09:00:00Z"));
    let key =
        RecordKey { authority: Slug::parse("a", "bj-amr").unwrap(), decision_no: "S-1".into() };
    reg.withdraw_record(&key.authority.clone(), key, "annulled on administrative review").unwrap();

    // What was true on 1 February, knowing everything now: the record was withdrawn, so allow.
    assert_eq!(procurement(&reg, &id, "2026-02-01", None), Some(Decision::Allow));
    // What the registry answered on 1 February: it held the record in force, so deny.
    assert_eq!(procurement(&reg, &id, "2026-02-01", Some("2026-02-01")), Some(Decision::Deny));
    // On 14 January it had not yet learned of the decision, though it was already in effect.
    assert_eq!(procurement(&reg, &id, "2026-01-14", Some("2026-01-14")), Some(Decision::Allow));
    assert_eq!(procurement(&reg, &id, "2026-01-14", None), Some(Decision::Allow));
    assert_eq!(procurement(&reg, &id, "2026-01-14", Some("2026-02-01")), Some(Decision::Deny));
    // Before 10 January it did not hold the subject at all.
    assert_eq!(procurement(&reg, &id, "2026-01-09", Some("2026-01-09")), None);
    // Log sizes by date: init (rulebook), then authority and subject, then the filing, then the withdrawal.
    assert_eq!(reg.log_size_at_end_of(d("2026-01-10")).unwrap(), 3);
    assert_eq!(reg.log_size_at_end_of(d("2026-01-15")).unwrap(), 4);
    assert_eq!(reg.log_size_at_end_of(d("2026-03-01")).unwrap(), 5);
}
