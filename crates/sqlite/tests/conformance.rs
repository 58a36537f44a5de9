//! The store conformance suite on SQLite, each test in a fresh registry directory.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use probity_sqlite::SqliteStore;

fn fresh() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::create(&dir.path().join("registry")).expect("create store");
    (dir, store)
}

probity_store::conformance_tests!(fresh);

#[test]
fn reopening_keeps_everything_and_creating_twice_fails() {
    use probity_store::Store;
    let (dir, mut store) = fresh();
    probity_store::conformance::records_of_a_subject_in_filing_order(&mut store);
    let before = store.counts().unwrap();
    drop(store);
    let path = dir.path().join("registry");
    let mut reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(reopened.counts().unwrap(), before);
    // The log continues where it stopped: the root over all entries matches a fresh tree.
    let more: probity_core::Encoded = probity_core::Event::new(
        probity_core::Timestamp::UNIX_EPOCH,
        probity_core::EventBody::SubjectRegistered {
            subject: probity_store::conformance::subject(77),
        },
    )
    .into();
    reopened.append(&[more]).unwrap();
    let size = reopened.counts().unwrap().events;
    let mut tree = probity_tlog::MemoryTree::default();
    for e in reopened.journal(0, 100).unwrap() {
        tree.append(&probity_core::leaf_data(&e.bytes));
    }
    assert_eq!(probity_tlog::root(&probity_store::LogNodes(&reopened), size).unwrap(), tree.root());
    drop(reopened);
    assert!(SqliteStore::create(&path).unwrap_err().to_string().contains("already exists"));
    let missing = SqliteStore::open(&dir.path().join("nope")).unwrap_err().to_string();
    assert!(missing.contains("probity init"), "{missing}");
}
