//! A reader's snapshot: every read between `begin_snapshot` and `end_snapshot` sees the store as
//! it was at the first, whatever the writer appends meanwhile; after it, the reader sees it all.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use probity_registry::Registry;
use probity_stores::Stores as _;

#[test]
fn a_reader_in_a_snapshot_does_not_see_later_appends() {
    let dir = tempfile::tempdir().unwrap();
    let mut reg = Registry::init(&dir.path().join("r"), None).unwrap();
    let authority = |id: &str| {
        probity_core::Authority::new(id, "北京市市场监督管理局", "market_regulation", "110000")
            .unwrap()
    };
    reg.register_authority(authority("bj-amr")).unwrap();
    let reader = reg.reader().unwrap();

    reader.store().begin_snapshot().unwrap();
    let before = reader.log_size().unwrap();
    let authorities = reader.store().authorities().unwrap().len();
    reg.register_authority(authority("bj-amr-2")).unwrap();
    assert_eq!(reg.log_size().unwrap(), before + 1, "the writer appended");
    assert_eq!(reader.log_size().unwrap(), before, "the snapshot holds");
    assert_eq!(reader.store().authorities().unwrap().len(), authorities);
    reader.store().end_snapshot().unwrap();

    assert_eq!(reader.log_size().unwrap(), before + 1, "after the snapshot the reader sees it");
    assert_eq!(reader.store().authorities().unwrap().len(), authorities + 1);
    // Ending twice, or without a snapshot, is harmless; a new snapshot starts cleanly.
    reader.store().end_snapshot().unwrap();
    reader.store().begin_snapshot().unwrap();
    reader.store().begin_snapshot().unwrap();
    assert_eq!(reader.log_size().unwrap(), before + 1);
    reader.store().end_snapshot().unwrap();
}
