//! Helpers shared by the registry's integration tests.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use probity_stores::Stores as _;
use std::io::Cursor;

use probity_core::Timestamp;
use probity_registry::{FixedClock, Format, ImportOptions, Registry, Table};

/// A clock stopped at the instant `s` (RFC 3339).
pub fn at(s: &str) -> FixedClock {
    FixedClock(s.parse::<Timestamp>().unwrap())
}

/// Imports `text` and expects no rejected row.
pub fn import(reg: &mut Registry, table: Table, format: Format, text: &str) {
    let mut rejects = Vec::new();
    let r = reg
        .import(
            table,
            format,
            Cursor::new(text.as_bytes().to_vec()),
            ImportOptions::default(),
            &(),
            &mut rejects,
        )
        .unwrap();
    assert_eq!(r.rejected, 0, "{rejects:?}");
}

/// The authority most tests file as: Beijing's market regulator.
pub const AMR_CSV: &str =
    "id,name,category,jurisdiction\nbj-amr,北京市市场监督管理局,market_regulation,110000\n";

/// A new registry in `dir/reg` on a clock stopped at `now`, with the authority `bj-amr` and the
/// subjects of `subjects_csv` (the import's subject CSV).
pub fn registry_with(dir: &std::path::Path, now: &str, subjects_csv: &str) -> Registry {
    let mut reg = Registry::init_with_clock(&dir.join("reg"), None, "test/log", at(now)).unwrap();
    import(&mut reg, Table::Authorities, Format::Csv, AMR_CSV);
    import(&mut reg, Table::Subjects, Format::Csv, subjects_csv);
    reg
}
