//! Bulk import: streams a file of authorities, subjects or records into the registry.
//!
//! One thread reads and validates rows while the calling thread writes the previous chunk, so
//! parsing and storage overlap. Each batch is one store transaction: a process killed at any
//! moment leaves whole batches only, and because filing is idempotent by natural key, running
//! the same import again completes the registry exactly. On a store that holds appends
//! ([`probity_store::Store::hold_appends`]), a batch reaches the writer in chunks of at most
//! [`CHUNK_ROWS`] rows, each appended as it comes and all committed together; elsewhere a batch
//! is one chunk. Memory is bounded by the chunk size and the channel depth, whatever the file
//! size. Every rejected row goes to [`Rejects`] with its
//! line number and the reason; the rest import.

use std::io::Read;
use std::sync::mpsc;

use probity_core::Encoded;
use probity_store::Outcome;
use serde::Serialize;

use crate::input::{self, Context, Parsed, RawRow};
use crate::{Registry, RegistryError};

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    /// Authorities.
    Authorities,
    /// Subjects.
    Subjects,
    /// Records.
    Records,
}

impl Table {
    /// Plural name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authorities => "authorities",
            Self::Subjects => "subjects",
            Self::Records => "records",
        }
    }

    /// Its columns, in order: each name and whether a row must give it. CSV headers and JSONL
    /// keys use these names.
    pub fn columns(self) -> &'static [(&'static str, bool)] {
        match self {
            Self::Authorities => {
                &[("id", true), ("name", true), ("category", true), ("jurisdiction", true)]
            }
            Self::Subjects => &[
                ("id", true),
                ("name", true),
                ("kind", false),
                ("region", false),
                ("status", false),
                ("established", false),
                ("former_names", false),
            ],
            Self::Records => &[
                ("authority", true),
                ("decision_no", true),
                ("subject", true),
                ("kind", true),
                ("decided", true),
                ("effective", true),
                ("basis", true),
                ("summary", false),
                ("amount", false),
                ("currency", false),
                ("document_sha256", false),
                ("inspection_plan", false),
            ],
        }
    }

    pub(crate) fn singular(self) -> &'static str {
        match self {
            Self::Authorities => "authority",
            Self::Subjects => "subject",
            Self::Records => "record",
        }
    }
}

/// File format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// CSV with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl Format {
    /// The format a file name implies: `.csv`, or `.jsonl`/`.ndjson`.
    pub fn from_path(path: &std::path::Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Self::Csv),
            "jsonl" | "ndjson" => Some(Self::Jsonl),
            _ => None,
        }
    }
}

/// How to import.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions {
    /// Rows per atomic batch: one transaction, on a store that holds appends
    /// ([`probity_store::Store::hold_appends`]).
    pub batch_size: usize,
}

/// Rows per batch unless told otherwise. A commit writes every page its rows touched, and the
/// indexes by record key and by subject are keyed at random, so their pages are written once
/// per commit that touches them: the fewer the commits, the fewer the bytes (docs/scale.md,
/// "Larger commits, rows held as before").
pub const DEFAULT_BATCH_SIZE: usize = 100_000;

/// At most this many rows go from the reader to the writer at once, whatever the batch size,
/// on a store that holds appends: the rows in memory do not grow with the batch.
const CHUNK_ROWS: usize = 10_000;

impl Default for ImportOptions {
    fn default() -> Self {
        Self { batch_size: DEFAULT_BATCH_SIZE }
    }
}

/// Receives progress as batches are stored.
pub trait Progress: Sync {
    /// `bytes` more of the input and `rows` more rows are done.
    fn advance(&self, bytes: u64, rows: u64);
}

impl Progress for () {
    fn advance(&self, _: u64, _: u64) {}
}

/// A rejected row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    /// Line number in the input (1-based; for CSV, the header is line 1).
    pub line: u64,
    /// Why.
    pub reason: String,
    /// The row as it came.
    pub row: String,
}

/// Receives rejected rows.
pub trait Rejects {
    /// Takes one rejected row.
    fn reject(&mut self, rejected: Rejected) -> std::io::Result<()>;
}

impl Rejects for Vec<Rejected> {
    fn reject(&mut self, rejected: Rejected) -> std::io::Result<()> {
        self.push(rejected);
        Ok(())
    }
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ImportReport {
    /// Rows read.
    pub rows: u64,
    /// Rows journalled.
    pub accepted: u64,
    /// Rows already in the registry with the same content.
    pub duplicate: u64,
    /// Rows rejected.
    pub rejected: u64,
    /// Batches committed.
    pub batches: u64,
    /// Subjects re-rated because the import added records about them.
    pub rated: u64,
}

/// A batch on its way from the reader to the writer: the events to store, and every row with
/// its line, its text and, if it was refused before reaching the store, why.
struct Batch {
    events: Vec<Encoded>,
    rows: Vec<(u64, RawRow, Option<String>)>,
    bytes: u64,
}

impl Batch {
    fn split(parsed: Vec<Parsed>, bytes: u64) -> Self {
        let mut events = Vec::with_capacity(parsed.len());
        let mut rows = Vec::with_capacity(parsed.len());
        for p in parsed {
            let refused = match p.result {
                Ok(event) => {
                    events.push(event);
                    None
                }
                Err(reason) => Some(reason),
            };
            rows.push((p.line, p.raw, refused));
        }
        Self { events, rows, bytes }
    }
}

/// An import that journals at least this many events changes the tables enough that the
/// store's statistics should follow, before the subjects it touched are re-rated and again
/// after.
const SETTLE_AFTER: u64 = 10_000;

/// How many batches may wait between the reader and the writer.
const CHANNEL_DEPTH: usize = 2;

impl Registry {
    /// Imports `input` as `table` in `format`.
    pub fn import(
        &mut self,
        table: Table,
        format: Format,
        input: impl Read + Send,
        options: ImportOptions,
        progress: &dyn Progress,
        rejects: &mut dyn Rejects,
    ) -> Result<ImportReport, RegistryError> {
        let authorities =
            self.store.authorities()?.into_iter().map(|a| (a.id.to_string(), a.category)).collect();
        let exceptions = self.exceptions()?;
        let signer = self.signer()?;
        let checkpoint_path = self.dir.join(crate::CHECKPOINT_FILE);
        let book = self.rulebook().clone();
        let Self { store, clock, .. } = self;
        let ctx = Context {
            rulebook: &book,
            authorities,
            exceptions,
            today: clock.today(),
            clock: clock.as_ref(),
        };
        let batch_size = options.batch_size.clamp(1, 1_000_000);
        // On a store that holds appends, rows go to the writer in chunks and are committed a
        // batch at a time; elsewhere each batch is one append.
        let holds = store.hold_appends()?;
        let cuts = input::Cuts::new(if holds { CHUNK_ROWS } else { batch_size }, batch_size);
        let mut report = ImportReport::default();
        let started = std::time::Instant::now();

        let imported = std::thread::scope(|scope| -> Result<ImportReport, RegistryError> {
            let (tx, rx) = mpsc::sync_channel::<Batch>(CHANNEL_DEPTH);
            let reader = std::thread::Builder::new()
                .name("import-reader".into())
                .spawn_scoped(scope, || {
                    input::read_rows(table, format, input, &ctx, cuts, move |parsed, bytes| {
                        tx.send(Batch::split(parsed, bytes)).is_ok()
                    })
                })
                .map_err(|source| RegistryError::Io { path: "reader thread".into(), source })?;
            // Rows appended since the last commit, which the held transaction holds.
            let mut held = 0;
            let commit = |store: &mut Box<dyn probity_store::Store>, report: &mut ImportReport| {
                store.commit_held()?;
                report.batches += 1;
                crate::log::write_checkpoint(store.as_ref(), &signer, &checkpoint_path).map(|_| ())
            };
            let mut write = |store: &mut Box<dyn probity_store::Store>,
                             report: &mut ImportReport,
                             held: &mut usize|
             -> Result<(), RegistryError> {
                for batch in rx.iter() {
                    if *held == 0 {
                        store.hold_appends()?;
                    }
                    let outcomes = store.append(&batch.events)?;
                    let mut outcomes = outcomes.into_iter();
                    let rows = batch.rows.len() as u64;
                    *held += batch.rows.len();
                    for (line, raw, refused) in batch.rows {
                        report.rows += 1;
                        let reason = match refused {
                            Some(reason) => reason,
                            None => match outcomes.next() {
                                Some(Outcome::Appended { .. }) => {
                                    report.accepted += 1;
                                    continue;
                                }
                                Some(Outcome::Duplicate) => {
                                    report.duplicate += 1;
                                    continue;
                                }
                                Some(Outcome::Refused(r)) => r.to_string(),
                                None => {
                                    return Err(RegistryError::Internal(
                                        "the store answered fewer outcomes than events".into(),
                                    ));
                                }
                            },
                        };
                        report.rejected += 1;
                        rejects.reject(Rejected { line, reason, row: raw.render() }).map_err(
                            |source| RegistryError::Io { path: "rejects".into(), source },
                        )?;
                    }
                    if *held >= batch_size {
                        *held = 0;
                        commit(store, report)?;
                    }
                    progress.advance(batch.bytes, rows);
                }
                Ok(())
            };
            let written = write(store, &mut report, &mut held);
            // What is still held is committed even if writing then failed (the rejects could
            // not be written, say): its appends stand. An append that failed has already taken
            // back its whole batch.
            let committed = if held > 0 { commit(store, &mut report) } else { Ok(()) };
            // If writing failed, the receiver is gone and the reader stops at its next send.
            drop(rx);
            let read = reader
                .join()
                .map_err(|_| RegistryError::Input("the reader thread panicked".into()))?;
            written?;
            committed?;
            read?;
            Ok(report)
        });
        // Nothing stays held, whatever failed above: a hold with nothing appended since its
        // last commit commits nothing.
        let closed = store.commit_held();
        let mut report = imported?;
        closed?;
        tracing::info!(
            rows = report.rows,
            seconds = started.elapsed().as_secs_f64(),
            "rows read, checked and journalled"
        );
        let started = std::time::Instant::now();
        let bulk = report.accepted >= SETTLE_AFTER;
        if bulk {
            self.settle("before rating")?;
        }
        // The subjects whose records were journalled are those the store finds stale: rating
        // them needs no set that grows with the input, and also rates whatever an earlier
        // import that stopped between appending and rating left behind.
        report.rated = self.rate_stale(&())?.rated;
        // Rating them wrote about as many assessments as there are subjects: settle again, so
        // the reads after the import (a re-rate first) are planned for the assessment and list
        // tables as they now are, not as they were before the rating filled them.
        if bulk {
            self.settle("after rating")?;
        }
        tracing::info!(
            subjects = report.rated,
            seconds = started.elapsed().as_secs_f64(),
            "subjects the import touched re-rated"
        );
        Ok(report)
    }

    /// Settles the store after a bulk change ([`probity_store::Store::settle`]), and says how
    /// long that took, `when` in the import.
    fn settle(&mut self, when: &'static str) -> Result<(), RegistryError> {
        let started = std::time::Instant::now();
        self.store.settle()?;
        tracing::info!(when, seconds = started.elapsed().as_secs_f64(), "store settled");
        Ok(())
    }
}
