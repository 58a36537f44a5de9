//! The registry the fuzz targets write to: in memory, on the default rulebook, with two
//! authorities and a company, so that well-formed rows can be accepted.

use std::sync::{Arc, Mutex, OnceLock};

use probity_memory::MemoryStore;
use probity_registry::{Connector, Format, ImportOptions, Registry, SystemClock, Table};

/// The one world of a fuzzing process.
pub fn shared() -> &'static Mutex<World> {
    static WORLD: OnceLock<Mutex<World>> = OnceLock::new();
    WORLD.get_or_init(|| Mutex::new(World::new()))
}

/// The registry, and the directory that holds its log key and checkpoint.
pub struct World {
    pub registry: Registry,
    _dir: tempfile::TempDir,
}

impl World {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        Self { registry: registry(&dir), _dir: dir }
    }
}

fn registry(dir: &tempfile::TempDir) -> Registry {
    let memory = MemoryStore::new();
    let open = memory.opener();
    let connect: Connector = Arc::new(move || Ok(Box::new(open()) as _));
    let mut reg = Registry::init_on(
        &dir.path().join("reg"),
        Box::new(memory.handle()),
        connect,
        None,
        "fuzz.example/log",
        SystemClock,
    )
    .expect("a registry in memory");
    for (table, rows) in [
        (
            Table::Authorities,
            "id,name,category,jurisdiction\nbj-amr,北京市市场监督管理局,market_regulation,110000\nbj-tax,国家税务总局北京市税务局,tax,110000\n",
        ),
        (
            Table::Subjects,
            "id,name,established\n91110000600037341L,北京测试科技有限公司,2010-01-01\n",
        ),
    ] {
        let mut rejects = Vec::new();
        reg.import(
            table,
            Format::Csv,
            rows.as_bytes(),
            ImportOptions::default(),
            &(),
            &mut rejects,
        )
        .expect("the fixtures import");
        assert!(rejects.is_empty(), "{rejects:?}");
    }
    reg
}
