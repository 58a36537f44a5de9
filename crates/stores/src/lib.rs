//! Where a registry lives, chosen by the binary: the SQLite file in its directory (the
//! default), or a schema in a PostgreSQL database named in the directory's `store.json`. The
//! registry itself knows only the `Store` trait; this crate creates and opens registries on the
//! two stores probity ships, through the [`Stores`] trait implemented for [`Registry`].
//!
//! ```no_run
//! use probity_stores::Stores as _;
//! let reg = probity_registry::Registry::open(std::path::Path::new("./reg"))?;
//! # Ok::<(), probity_registry::RegistryError>(())
//! ```

use std::path::Path;

use probity_registry::{
    Clock, Connector, DEFAULT_ORIGIN, Registry, RegistryError, SystemClock, write_secret,
};
use probity_sqlite::SqliteStore;
use probity_store::{Store, StoreError};

/// Inside a registry directory whose store is PostgreSQL: where that store is (mode 0600, as the
/// connection string may hold a password). Without it, the store is the directory's SQLite file.
pub const STORE_FILE: &str = "store.json";

/// Where a registry's journal and projections live.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "backend", rename_all = "snake_case")]
pub enum StoreLocation {
    /// The SQLite file in the registry directory (the default).
    Sqlite,
    /// A schema in a PostgreSQL database.
    Postgres {
        /// Connection string (`postgres://…` or `host=… dbname=…`).
        url: String,
        /// Schema.
        schema: String,
    },
}

impl StoreLocation {
    /// The location a `--store` value names: `sqlite`, or a PostgreSQL connection string.
    pub fn parse(value: &str, schema: &str) -> Self {
        match value.trim() {
            "" | "sqlite" => Self::Sqlite,
            url => Self::Postgres { url: url.to_owned(), schema: schema.to_owned() },
        }
    }

    /// The location of the registry in `dir`.
    pub fn of(dir: &Path) -> Result<Self, RegistryError> {
        let path = dir.join(STORE_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                RegistryError::Input(format!("`{}` is not a store location: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::Sqlite),
            Err(source) => Err(RegistryError::Io { path: path.display().to_string(), source }),
        }
    }

    /// Opens handles on the store at this location, for the registry in `dir`.
    pub fn connector(&self, dir: &Path) -> Connector {
        let (location, dir) = (self.clone(), dir.to_path_buf());
        std::sync::Arc::new(move || location.open(&dir))
    }

    fn open(&self, dir: &Path) -> Result<Box<dyn Store>, RegistryError> {
        Ok(match self {
            Self::Sqlite => Box::new(SqliteStore::open(dir)?),
            Self::Postgres { url, schema } => {
                Box::new(probity_postgres::PgStore::connect(url, schema)?)
            }
        })
    }

    fn create(&self, dir: &Path) -> Result<Box<dyn Store>, RegistryError> {
        match self {
            Self::Sqlite => Ok(Box::new(SqliteStore::create(dir)?)),
            Self::Postgres { schema, .. } => {
                if dir.join(STORE_FILE).exists() {
                    return Err(StoreError::Exists(dir.display().to_string()).into());
                }
                std::fs::create_dir_all(dir).map_err(|source| RegistryError::Io {
                    path: dir.display().to_string(),
                    source,
                })?;
                let store = self.open(dir)?;
                if store.log_size()? > 0 {
                    return Err(StoreError::Exists(format!("PostgreSQL schema `{schema}`")).into());
                }
                let text =
                    serde_json::to_string(self).map_err(|e| RegistryError::Input(e.to_string()))?;
                write_secret(&dir.join(STORE_FILE), &text)?;
                Ok(store)
            }
        }
    }
}

/// Creating and opening registries on the stores probity ships. Every method is provided; the
/// trait exists so that these read as `Registry::open(dir)` where a binary chose its stores.
pub trait Stores: Sized + From<Registry> + std::borrow::Borrow<Registry> {
    /// Creates a registry in `dir` on SQLite with the given rulebook text (the shipped default
    /// if `None`) and the default log origin.
    fn init(dir: &Path, rulebook: Option<&str>) -> Result<Self, RegistryError> {
        Self::init_with_origin(dir, rulebook, DEFAULT_ORIGIN)
    }

    /// Creates a registry on SQLite whose log is named `origin`, with a new signing key.
    fn init_with_origin(
        dir: &Path,
        rulebook: Option<&str>,
        origin: &str,
    ) -> Result<Self, RegistryError> {
        Self::init_with_clock(dir, rulebook, origin, SystemClock)
    }

    /// Creates a registry on SQLite that takes its time from `clock` (for tests and
    /// reproducible runs).
    fn init_with_clock(
        dir: &Path,
        rulebook: Option<&str>,
        origin: &str,
        clock: impl Clock + 'static,
    ) -> Result<Self, RegistryError> {
        Self::init_at(dir, &StoreLocation::Sqlite, rulebook, origin, clock)
    }

    /// Creates a registry in `dir` whose journal and projections live at `store`.
    fn init_at(
        dir: &Path,
        store: &StoreLocation,
        rulebook: Option<&str>,
        origin: &str,
        clock: impl Clock + 'static,
    ) -> Result<Self, RegistryError> {
        let created = store.create(dir)?;
        let connect = store.connector(dir);
        Registry::init_on(dir, created, connect, rulebook, origin, clock).map(Self::from)
    }

    /// Whether `dir` holds a registry.
    fn exists(dir: &Path) -> bool {
        dir.join(probity_sqlite::DB_FILE).exists() || dir.join(STORE_FILE).exists()
    }

    /// Opens the registry in `dir`, on the store its directory names.
    fn open(dir: &Path) -> Result<Self, RegistryError> {
        if !Self::exists(dir) {
            return Err(StoreError::Missing(dir.display().to_string()).into());
        }
        Registry::open_on(dir, StoreLocation::of(dir)?.connector(dir)).map(Self::from)
    }

    /// Another handle that reads from `location`: a streaming replica of the registry's
    /// PostgreSQL store.
    fn reader_at(&self, location: &StoreLocation) -> Result<Self, RegistryError> {
        let reg: &Registry = self.borrow();
        reg.reader_on(location.connector(reg.dir())).map(Self::from)
    }
}

impl Stores for Registry {}
