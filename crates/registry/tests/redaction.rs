//! Redaction: records that affect nothing any more leave publication, their leaves stay, and
//! the audit still recomputes every assessment from what is left.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::import;

use probity_core::{RecordKey, Slug, SubjectId};
use probity_registry::{Format, Registry, RegistryError, Table};

const A: &str = "91110000600037341L";

const RECORDS: &str = "authority,decision_no,subject,kind,decided,effective,basis\n\
    bj-amr,OLD-1,91110000600037341L,penalty.minor,2024-12-20,2025-01-01,Art. 28\n\
    bj-amr,NEW-1,91110000600037341L,penalty.moderate,2025-11-20,2025-12-01,Art. 30\n";

fn key(no: &str) -> RecordKey {
    RecordKey { authority: Slug::parse("a", "bj-amr").unwrap(), decision_no: no.into() }
}

fn registry(dir: &std::path::Path) -> Registry {
    let b = probity_store::conformance::uscc(42);
    let subjects = format!("id,name\n{A},北京测试有限公司\n{b},北京另一有限公司\n");
    let mut reg = common::registry_with(dir, "2026-01-05T08:00:00Z", &subjects);
    import(&mut reg, Table::Records, Format::Csv, RECORDS);
    import(
        &mut reg,
        Table::Records,
        Format::Csv,
        &format!(
            "authority,decision_no,subject,kind,decided,effective,basis\n\
             bj-amr,B-1,{b},penalty.minor,2025-12-10,2025-12-20,Art. 28\n"
        ),
    );
    reg.withdraw_record(&key("B-1").authority, key("B-1"), "annulled on review").unwrap();
    reg
}

#[test]
fn expired_and_withdrawn_records_are_redacted_and_the_log_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let mut reg = registry(dir.path());
    let a = SubjectId::parse(A).unwrap();
    let today = reg.today();
    let before = reg.assess(&reg.profile(&a).unwrap().unwrap(), today);
    let size = reg.log_size().unwrap();
    let (_, root) = reg.log_root(None).unwrap();

    // A record still shown stays.
    let err = reg.redact_record(&key("NEW-1"), "tidy", false).unwrap_err();
    assert!(matches!(&err, RegistryError::Refused(m) if m.contains("still published")), "{err}");

    // A dry run lists, and changes nothing.
    let dry = reg.redact_expired("publication period over", true, &()).unwrap();
    assert_eq!(dry.redacted, vec![key("OLD-1"), key("B-1")]);
    assert_eq!(reg.log_size().unwrap(), size);

    let done = reg.redact_expired("publication period over", false, &()).unwrap();
    assert_eq!(done, dry);
    assert_eq!(reg.log_size().unwrap(), size + 2, "one redaction event per record");

    // The leaves are the same: the old root is still the root at the old size.
    assert_eq!(reg.log_root(Some(size)).unwrap(), (size, root));
    let withheld: Vec<u64> = reg
        .store()
        .journal(0, 100)
        .unwrap()
        .into_iter()
        .filter(|e| e.withheld.is_some())
        .map(|e| e.index)
        .collect();
    assert_eq!(withheld.len(), 3, "OLD-1's filing, B-1's filing and its withdrawal");

    // The records are gone from every answer, and the assessment did not change.
    let profile = reg.profile(&a).unwrap().unwrap();
    let left: Vec<String> = profile.records.iter().map(|r| r.record.decision_no.clone()).collect();
    assert_eq!(left, ["NEW-1"]);
    assert_eq!(reg.assess(&profile, today), before);
    assert!(reg.store().record(&key("B-1")).unwrap().is_none());

    // Re-importing the old file adds nothing; a redacted record cannot come back.
    let mut rejects = Vec::new();
    let r = reg
        .import(
            Table::Records,
            Format::Csv,
            std::io::Cursor::new(RECORDS.as_bytes().to_vec()),
            probity_registry::ImportOptions::default(),
            &(),
            &mut rejects,
        )
        .unwrap();
    assert_eq!((r.accepted, r.duplicate, r.rejected), (0, 2, 0));

    // The audit replays the log with the bodies withheld and agrees with everything published.
    let audit = reg.audit(&[size], &()).unwrap();
    assert!(audit.problems.is_empty(), "{:?}", audit.problems);
    assert_eq!(audit.roots_at, vec![(size, root)]);
    assert_eq!((audit.records, audit.assessments), (1, 2));

    // Nothing is left to redact.
    assert!(reg.redact_expired("again", false, &()).unwrap().redacted.is_empty());
}
