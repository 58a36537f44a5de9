//! Helpers shared by the registry's integration tests.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

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
