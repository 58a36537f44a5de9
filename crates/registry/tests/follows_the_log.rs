//! Answers follow from the log whatever happened between appending and rating: a writer that
//! stopped in between, and several writers on one registry.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::at;
use probity_stores::Stores as _;

use probity_core::{Event, EventBody, SubjectId};
use probity_registry::{Format, Registry, Table};
use probity_store::Store as _;

const A: &str = "91110000600037341L";

fn registry(dir: &std::path::Path) -> Registry {
    let subjects = format!("id,name,established\n{A},北京测试有限公司,2010-01-01\n");
    let mut reg = common::registry_with(dir, "2026-03-02T08:00:00Z", &subjects);
    let today = reg.today();
    reg.rate_pass(today, true, &()).unwrap();
    reg
}

const SERIOUS: &str = r#"{"authority":"bj-amr","decision_no":"S-1","subject":"91110000600037341L","kind":"penalty.serious","decided":"2026-02-20","effective":"2026-03-01","basis":"Art. 49"}"#;

/// What a writer leaves when it is killed after its append committed and before it rated: the
/// event is in the journal and the projections, and no assessment reflects it.
fn append_and_stop(reg: &Registry, row: &str) {
    let record = reg.parse_record(row).unwrap();
    let event = Event::new(reg.clock().now(), EventBody::RecordFiled { record }).into();
    let mut store = probity_sqlite::SqliteStore::open(reg.dir()).unwrap();
    let out = store.append(&[event]).unwrap();
    assert!(matches!(out[..], [probity_store::Outcome::Appended { .. }]), "{out:?}");
}

/// The first ten entries of a list.
fn listed_on(list: &str, on: probity_core::Date) -> probity_store::ListQuery<'_> {
    probity_store::ListQuery { list, on, after: None, limit: 10 }
}

fn bid(reg: &Registry) -> String {
    reg.check(A, "procurement.bid", reg.today(), None).unwrap().unwrap().decision.to_owned()
}

#[test]
fn a_writer_killed_between_appending_and_rating_leaves_no_wrong_answer() {
    let dir = tempfile::tempdir().unwrap();
    let mut reg = registry(dir.path());
    assert_eq!(bid(&reg), "allow");
    let id = SubjectId::parse(A).unwrap();
    assert_eq!(reg.store().assessment(&id).unwrap().unwrap().grade.as_deref(), Some("A"));

    append_and_stop(&reg, SERIOUS);
    // The stored assessment still says A, but it does not reflect the subject's latest event:
    // the answer is computed from the log instead, here and in a process opened afterwards.
    assert_eq!(reg.store().assessment(&id).unwrap().unwrap().grade.as_deref(), Some("A"));
    assert_eq!(bid(&reg), "deny");
    let reopened = Registry::open(reg.dir()).unwrap().with_clock(at("2026-03-02T09:00:00Z"));
    assert_eq!(bid(&reopened), "deny");

    // The sweep (which every start runs) finds exactly that subject and rates it.
    let today = reg.today();
    assert_eq!(reg.rate_pass(today, false, &()).unwrap().rated, 1);
    let row = reg.store().assessment(&id).unwrap().unwrap();
    assert_eq!(row.grade.as_deref(), Some("B"), "a serious penalty costs the A");
    let listed = reg.store().list_entries(listed_on("serious_violation", today)).unwrap();
    assert_eq!(listed.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(), [A]);
    assert_eq!(reg.rate_pass(today, false, &()).unwrap().rated, 0, "nothing is stale now");
    let audit = reg.audit(&[], &()).unwrap();
    assert!(audit.problems.is_empty(), "{:?}", audit.problems);
}

#[test]
fn an_import_run_again_after_a_kill_rates_what_the_killed_one_left() {
    let dir = tempfile::tempdir().unwrap();
    let mut reg = registry(dir.path());
    append_and_stop(&reg, SERIOUS);
    // The same file again: every row is a duplicate, and the import still rates the subject
    // the killed run appended about.
    let mut rejects = Vec::new();
    let report = reg
        .import(
            Table::Records,
            Format::Jsonl,
            std::io::Cursor::new(format!("{SERIOUS}\n").into_bytes()),
            probity_registry::ImportOptions::default(),
            &(),
            &mut rejects,
        )
        .unwrap();
    assert_eq!((report.duplicate, report.rated), (1, 1));
    let id = SubjectId::parse(A).unwrap();
    assert_eq!(reg.store().assessment(&id).unwrap().unwrap().grade.as_deref(), Some("B"));
}

#[test]
fn writers_on_one_registry_each_go_on_after_the_others_append() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = registry(dir.path());
    let mut second = Registry::open(first.dir()).unwrap().with_clock(at("2026-03-02T08:30:00Z"));
    // The second writer appends: an exception, an authority, a rulebook.
    assert!(second.admit_code_exception("91110000600037341X", "issued before the check").unwrap());
    let tax = probity_core::Authority::new("bj-tax", "北京税务", "tax", "110000").unwrap();
    assert!(second.register_authority(tax).unwrap());
    // The first writer, whose view of the log is now behind, files under the new authority.
    let by_tax =
        SERIOUS.replace("bj-amr", "bj-tax").replace("penalty.serious", "tax.major_violation");
    let filed =
        first.file_records(&probity_core::Slug::parse("a", "bj-tax").unwrap(), &[by_tax]).unwrap();
    assert_eq!(filed[0].status, "filed", "{filed:?}");
    assert_eq!(bid(&first), "deny");
    // And the second goes on after the first.
    filed_by(&mut second, "S-2");
    let size = first.log_size().unwrap();
    assert_eq!(first.published_checkpoint().unwrap().1.size, size);
    let audit = first.audit(&[], &()).unwrap();
    assert!(audit.problems.is_empty(), "{:?}", audit.problems);
}

fn filed_by(reg: &mut Registry, decision_no: &str) {
    let row = SERIOUS.replace("S-1", decision_no);
    let filed =
        reg.file_records(&probity_core::Slug::parse("a", "bj-amr").unwrap(), &[row]).unwrap();
    assert_eq!(filed[0].status, "filed", "{filed:?}");
}

#[test]
fn the_signer_refuses_a_history_that_does_not_extend_the_published_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut reg = registry(dir.path());
    filed_by(&mut reg, "S-1");
    let published = std::fs::read_to_string(reg.dir().join(probity_registry::CHECKPOINT_FILE));
    let published = published.unwrap();
    let size = reg.log_size().unwrap();

    // Another history of the same registry: its database is replaced by one in which other
    // decisions were filed, and it grew past the published size.
    let mut other = registry(&dir.path().join("other"));
    filed_by(&mut other, "S-9");
    filed_by(&mut other, "S-10");
    assert!(other.log_size().unwrap() > size);
    drop(other);
    replace_database(reg.dir(), &dir.path().join("other/reg"));
    let reg = Registry::open(reg.dir()).unwrap();
    let e = reg.publish_checkpoint().unwrap_err().to_string();
    assert!(e.contains("not consistent with the checkpoint published at size"), "{e}");
    let kept = std::fs::read_to_string(reg.dir().join(probity_registry::CHECKPOINT_FILE));
    assert_eq!(kept.unwrap(), published, "the last good checkpoint stays");

    // A log cut back below the published size is refused too.
    let cut = registry(&dir.path().join("cut"));
    drop(cut);
    replace_database(reg.dir(), &dir.path().join("cut/reg"));
    let reg = Registry::open(reg.dir()).unwrap();
    let e = reg.publish_checkpoint().unwrap_err().to_string();
    assert!(e.contains("fewer entries than"), "{e}");
}

/// Puts the database of the registry in `from` in place of the one in `dir`, as someone with
/// access to the files could.
fn replace_database(dir: &std::path::Path, from: &std::path::Path) {
    let db = probity_sqlite::DB_FILE;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("{db}{suffix}")));
        let source = from.join(format!("{db}{suffix}"));
        if source.exists() {
            std::fs::copy(source, dir.join(format!("{db}{suffix}"))).unwrap();
        }
    }
}
