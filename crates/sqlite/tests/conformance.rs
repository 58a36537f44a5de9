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
    let reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(reopened.counts().unwrap(), before);
    assert!(SqliteStore::create(&path).unwrap_err().to_string().contains("already exists"));
    let missing = SqliteStore::open(&dir.path().join("nope")).unwrap_err().to_string();
    assert!(missing.contains("probity init"), "{missing}");
}
