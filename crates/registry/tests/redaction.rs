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

/// A record that still counts but whose text names a person (a bare name passes the detector)
/// has its text withheld: every answer stays as it was, no published body holds the name any
/// more, the leaves and roots stay, the audit replays it clean, and the record can still be
/// redacted in full once it affects nothing.
#[test]
fn the_text_of_a_record_that_still_counts_can_be_withheld() {
    let dir = tempfile::tempdir().unwrap();
    let mut reg = registry(dir.path());
    let a = SubjectId::parse(A).unwrap();
    let named = "authority,decision_no,subject,kind,decided,effective,basis,summary\n\
        bj-amr,NAMED-1,91110000600037341L,penalty.moderate,2025-12-01,2025-12-05,Art. 30,\
        罚款 经办人张三\n";
    import(&mut reg, Table::Records, Format::Csv, named);
    let reply = probity_core::Step::ReplyPublished { text: "张三已离职".into() };
    reg.take_step(&probity_registry::Actor::Company(a), &key("NAMED-1"), reply).unwrap();
    let today = reg.today();
    let before = reg.assess(&reg.profile(&a).unwrap().unwrap(), today);
    let counted = before.effects.iter().filter(|e| e.kind == "penalty.moderate").count();
    assert_eq!(counted, 2, "NEW-1 and NAMED-1 count");
    let size = reg.log_size().unwrap();
    let (_, root) = reg.log_root(None).unwrap();
    let published = |reg: &Registry| {
        reg.changes(0, 1000)
            .unwrap()
            .iter()
            .filter_map(|c| c.event.clone())
            .map(|e| String::from_utf8(e.encode()).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(published(&reg).contains("张三"));

    // An empty reason, or one that holds an identifier, is refused; so is an unknown record.
    assert!(reg.withhold_text(&key("NAMED-1"), "").is_err());
    assert!(matches!(
        reg.withhold_text(&key("NO-SUCH"), "names a person"),
        Err(RegistryError::NotFound(_))
    ));
    let at = reg.withhold_text(&key("NAMED-1"), "the summary and the reply name a person").unwrap();
    assert_eq!(at, size);

    // Nothing published holds the name; the text reads as withheld; the answers are the same.
    assert!(!published(&reg).contains("张三"), "{}", published(&reg));
    let profile = reg.profile(&a).unwrap().unwrap();
    let record = profile.records.iter().find(|r| r.record.decision_no == "NAMED-1").unwrap();
    assert_eq!(record.record.summary, probity_core::WITHHELD_TEXT);
    assert_eq!(reg.assess(&profile, today), before);
    let entries = reg.changes(0, 1000).unwrap();
    let marked: Vec<u64> = entries.iter().filter(|c| c.text_withheld).map(|c| c.index).collect();
    assert_eq!(marked.len(), 2, "the filing and the reply: {marked:?}");
    assert_eq!(entries.last().unwrap().event.as_ref().unwrap().type_name(), "record_text_withheld");

    // The leaves did not change, and the audit replays the log as published.
    assert_eq!(reg.log_root(Some(size)).unwrap(), (size, root));
    let audit = reg.audit(&[size], &()).unwrap();
    assert!(audit.problems.is_empty(), "{:?}", audit.problems);
    assert_eq!(audit.roots_at, vec![(size, root)]);

    // Once withdrawn it affects nothing, and can be redacted in full: the digest kept is still
    // the one of the body the leaf commits to.
    reg.withdraw_record(&key("NAMED-1").authority, key("NAMED-1"), "annulled").unwrap();
    reg.redact_record(&key("NAMED-1"), "withdrawn and affects nothing", false).unwrap();
    assert_eq!(reg.log_root(Some(size)).unwrap(), (size, root));
    let audit = reg.audit(&[size], &()).unwrap();
    assert!(audit.problems.is_empty(), "{:?}", audit.problems);
    assert!(reg.changes(marked[0], 1).unwrap()[0].event.is_none(), "the filing is withheld");
}
