//! CSV and JSON Lines rows of the three import tables, imported into an in-memory registry:
//! every row is accepted, a duplicate or rejected with its line, and the counts add up.
#![no_main]

use libfuzzer_sys::fuzz_target;
use probity_registry::{Format, ImportOptions, Table};

mod world;

fuzz_target!(|data: &[u8]| {
    let Some((&which, input)) = data.split_first() else { return };
    let table = [Table::Authorities, Table::Subjects, Table::Records][usize::from(which % 3)];
    let format = if which & 4 == 0 { Format::Csv } else { Format::Jsonl };
    let mut world = world::shared().lock().expect("not poisoned");
    let reg = &mut world.registry;
    let mut rejects = Vec::new();
    let options = ImportOptions { batch_size: 64 };
    if let Ok(report) = reg.import(table, format, input, options, &(), &mut rejects) {
        assert_eq!(
            report.accepted + report.duplicate + report.rejected,
            report.rows,
            "rows that are neither accepted, duplicates nor rejected"
        );
        assert_eq!(report.rejected, rejects.len() as u64, "a rejected row is not in the rejects");
    }
});
