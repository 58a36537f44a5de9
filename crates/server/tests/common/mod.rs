//! What the server's test worlds share.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, dead_code)]

use probity_registry::Registry;

/// The company most tests are about.
pub const A: &str = "91110000600037341L";

/// Registers the authorities `bj-amr` (market regulation) and `bj-tax` (tax), and the companies
/// `A` and `other` under the names given, in a new registry.
pub fn authorities_and_companies(reg: &mut Registry, name_a: &str, other: &str, name_other: &str) {
    let authority = |id: &str, cat: &str| {
        probity_core::Authority::new(id, &format!("{id} 名称"), cat, "110000").unwrap()
    };
    reg.register_authority(authority("bj-amr", "market_regulation")).unwrap();
    reg.register_authority(authority("bj-tax", "tax")).unwrap();
    let subjects =
        format!("id,name,established\n{A},{name_a},2010-01-01\n{other},{name_other},2012-01-01\n");
    let mut rejects = Vec::new();
    reg.import(
        probity_registry::Table::Subjects,
        probity_registry::Format::Csv,
        std::io::Cursor::new(subjects.into_bytes()),
        probity_registry::ImportOptions::default(),
        &(),
        &mut rejects,
    )
    .unwrap();
    assert!(rejects.is_empty(), "{rejects:?}");
}
