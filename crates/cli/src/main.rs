//! The `probity` command: create a registry, generate and import data, look things up, run the
//! demo and the benchmarks. This is glue: every use case lives in `probity-registry`.

/// Like `println!`, but returns an error instead of panicking when stdout is closed.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)?
    }};
}

/// Prints `value` as one line of JSON when `json` is set, and as `text` writes it otherwise.
fn print_json_or<T: serde::Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce(&T) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    if json {
        outln!("{}", serde_json::to_string(value)?);
        Ok(())
    } else {
        text(value)
    }
}

mod audit_url;
#[cfg(feature = "bench")]
mod bench;
#[cfg(feature = "bench")]
mod bench_http;
#[cfg(feature = "bench")]
mod bench_nats;
#[cfg(feature = "bench")]
mod bench_rate;
#[cfg(feature = "bench")]
mod bench_webhook;
#[cfg(feature = "bench")]
mod bench_witness;
mod check;
mod commands;
mod inspection;
mod log;
mod progress;
mod serve;
mod watchlist;
mod witness;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit statuses, documented in `--help` and the README.
pub mod exit {
    /// Success; for an import, every row was accepted or already present.
    pub const OK: u8 = 0;
    /// The command failed; nothing was half-written.
    pub const FAILURE: u8 = 1;
    /// The command line was wrong.
    pub const USAGE: u8 = 2;
    /// An import finished, but some rows were rejected (see the rejects file).
    pub const REJECTED_ROWS: u8 = 3;
    /// The registry does not hold what was asked for.
    pub const NOT_FOUND: u8 = 4;
    /// `check` answered flag.
    pub const FLAG: u8 = 5;
    /// `check` answered deny.
    pub const DENY: u8 = 6;
}

const AFTER_HELP: &str = "\
Exit status:
  0  success; for an import, every row was accepted or already present; for check, allow
  1  failure; nothing was half-written
  2  the command line was wrong
  3  an import finished but some rows were rejected (see the rejects file)
  4  the registry does not hold the subject asked for
  5  check: flag (may take part, with attention)
  6  check: deny

Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=probity=debug) or pass -v for more.";

/// probity: an open registry of the credit records of legal entities.
///
/// Authorities file formal decisions about companies; probity keeps them, rates each company by
/// a published rulebook and answers whether it may take part in a measure, and why.
#[derive(Debug, Parser)]
#[command(name = "probity", version, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// The registry directory.
    #[arg(long, global = true, env = "PROBITY_DATA", default_value = "./probity-data")]
    data: PathBuf,

    /// Where the journal and projections live: `sqlite` (the file in --data, the default) or a
    /// PostgreSQL connection string (`postgres://user@host/db`). Chosen at `init` and kept in
    /// --data; other commands check that a value given here matches.
    #[arg(long, global = true, env = "PROBITY_STORE")]
    store: Option<String>,

    /// The PostgreSQL schema of the registry.
    #[arg(long, global = true, env = "PROBITY_STORE_SCHEMA", default_value = "probity")]
    store_schema: String,

    /// More log output on stderr (-v: info, -vv: debug, -vvv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create an empty registry in --data.
    Init {
        /// Rulebook to adopt (TOML); the shipped `rulebooks/default.toml` if omitted.
        #[arg(long)]
        rulebook: Option<PathBuf>,
        /// The log's origin, which also names its signing key (e.g. `registry.example.org/log`).
        #[arg(long, default_value = probity_registry::DEFAULT_ORIGIN)]
        origin: String,
    },
    /// Write synthetic authorities.csv, subjects.csv and records.jsonl for demos and tests.
    ///
    /// The same seed and --as-of date give byte-identical files.
    Generate(GenerateArgs),
    /// Import a file of authorities, subjects or records.
    ///
    /// Rows are checked and stored in atomic batches; importing the same file again adds
    /// nothing. Rejected rows go to the rejects file with their line numbers and reasons, and
    /// the rest import. Exit status 3 means some rows were rejected.
    Import(ImportArgs),
    /// Show a subject and its records.
    Show {
        /// The subject's USCC or LEI.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Attach the log entries behind the answer, each with an inclusion proof against the
        /// published signed checkpoint (verify with `probity log key`).
        #[arg(long)]
        proof: bool,
    },
    /// May this company take part in this measure, and why?
    ///
    /// Answers allow, flag or deny under the adopted rulebook, with the records, lists and legal
    /// basis behind the answer and the date it will change. Exit status 0 allow, 5 flag, 6 deny.
    /// With --batch, reads ids one per line from FILE and writes one JSON answer per line.
    Check {
        /// `ID MEASURE`: the subject's USCC or LEI and the measure, e.g. `procurement.bid`;
        /// with --batch, only `MEASURE`.
        #[arg(required = true, num_args = 1..=2, value_names = ["ID", "MEASURE"])]
        args: Vec<String>,
        /// Answer as of this date (default: today).
        #[arg(long)]
        as_of: Option<jiff::civil::Date>,
        /// Answer as the registry did at the end of this date: only what it had recorded by
        /// then (records filed later left out, later corrections and withdrawals undone).
        #[arg(long)]
        known_at: Option<jiff::civil::Date>,
        /// A file of ids, one per line (`-` for standard input).
        #[arg(long)]
        batch: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Attach the log entries behind the answer with inclusion proofs.
        #[arg(long)]
        proof: bool,
    },
    /// Re-rate subjects and store their assessments.
    ///
    /// By default a sweep: subjects never rated, or whose next change (an effect starting or
    /// ending) has come by --as-of. Imports re-rate the subjects they touch themselves; run this
    /// daily for the calendar, or with --all after adopting a rulebook.
    Rate {
        /// Rate every subject, not only those due.
        #[arg(long)]
        all: bool,
        /// Rate as of this date (default: today).
        #[arg(long)]
        as_of: Option<jiff::civil::Date>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Withdraw the content of records that affect nothing any more from publication.
    ///
    /// A record may be redacted once it is no longer shown (its publication period is over, or
    /// it was withdrawn or repaired), no objection or repair application about it is open, and
    /// the subject's assessment today is the same without it. A logged `record_redacted` event
    /// then withholds the bodies of its journal entries; their leaves stay, so every proof and
    /// checkpoint stays valid. With no record named, every record that may be redacted is.
    Redact {
        /// The issuing authority of the one record to redact.
        #[arg(requires = "decision_no")]
        authority: Option<String>,
        /// Its decision number.
        decision_no: Option<String>,
        /// Why (logged with the redaction).
        #[arg(long, default_value = "its publication period is over and it affects no assessment")]
        reason: String,
        /// List what would be redacted, and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Withhold the free text of a record found to hold personal data: its summary, legal basis,
    /// and every reason, ground, reply and statement about it are published as "[withheld:
    /// personal data]" from now on. What rating reads stays, so this works while the record
    /// still counts; a logged `record_text_withheld` event says who, why and which entries, and
    /// their leaves stay, so every proof and checkpoint stays valid.
    WithholdText {
        /// The record's issuing authority.
        authority: String,
        /// Its decision number.
        decision_no: String,
        /// Why (logged; do not repeat the personal data).
        #[arg(long)]
        reason: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Count what the registry holds.
    Stats {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The rulebook: what is in force, what a new one would change, and adopting it.
    #[command(subcommand)]
    Rulebook(RulebookCommand),
    /// Manage the exception list of genuine codes that fail their checksum.
    #[command(subcommand)]
    Exception(ExceptionCommand),
    /// Read the transparency log: roots and proofs (`docs/log-format.md`).
    #[command(subcommand)]
    Log(log::LogCommand),
    /// Risk-weighted "double random" inspections: plans committed before a public beacon round,
    /// draws anyone can recompute (`docs/inspection.md`).
    #[command(subcommand)]
    Inspection(inspection::InspectionCommand),
    /// Witnesses: this registry cosigning other registries' checkpoints, and the witnesses
    /// that cosign its own (`docs/log-format.md`, "Witnesses").
    #[command(subcommand)]
    Witness(witness::WitnessCommand),
    /// Check a registry against its log and its published checkpoint, as a mirror would.
    ///
    /// Every entry must be a canonical encoding of a valid event and match its leaf; the log's
    /// root must be the root of those leaves; the published checkpoint must carry a valid
    /// signature by --key and match the journal; and the checkpoint this auditor saw last (kept
    /// in --state) must still match, so history cannot be rewritten and re-signed unnoticed.
    /// Then every event is replayed, and what the registry publishes must follow from them:
    /// from a directory, its subjects, records and every stored assessment; from a URL, each
    /// subject's assessment and check answers (every tile, entry bundle and feed event is
    /// checked against the leaves too). Exits 1 on any disagreement, naming the entry, record or
    /// subject.
    Audit {
        /// The registry to audit: its data directory, or the URL of its server
        /// (`http://host:port`).
        #[arg(long)]
        from: String,
        /// From a URL: compare the answers of at most this many subjects, spread evenly
        /// (default: every subject).
        #[arg(long)]
        sample: Option<usize>,
        /// The log's verifier key (`probity log key`); without it the signature is not checked.
        #[arg(long)]
        key: Option<String>,
        /// A witness policy (sigsum/torchwood form: `witness NAME KEY`, `group NAME K …`,
        /// `quorum NAME`): the checkpoint must carry a quorum of valid cosignatures. From a
        /// directory, its cosigned checkpoint is audited.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// This auditor's state: the last checkpoint it verified (created if missing).
        #[arg(long)]
        state: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serve the HTTP API (`/v1`, OpenAPI at `/v1/openapi.json`) until Ctrl-C or SIGTERM.
    ///
    /// Reads are public and rate-limited per client address; filing and decisions need an
    /// authority key, objections, replies and repair a company credential, administration an
    /// operator key (`probity operator key`). Shutdown finishes the requests in flight.
    Serve(serve::ServeArgs),
    /// Register authorities and manage their API keys.
    #[command(subcommand)]
    Authority(serve::AuthorityCommand),
    /// Manage company credentials: each is bound to one subject.
    #[command(subcommand)]
    Company(serve::CompanyCommand),
    /// Manage operator keys.
    #[command(subcommand)]
    Operator(serve::OperatorCommand),
    /// Manage subscriber keys: a subscriber (a bank, a procurement desk) keeps watchlists.
    #[command(subcommand)]
    Subscriber(watchlist::SubscriberCommand),
    /// A subscriber's watchlists on a running server: what changed in the answers about your
    /// companies (`--key` or PROBITY_KEY, `--server` or PROBITY_SERVER).
    #[command(subcommand)]
    Watchlist(watchlist::WatchlistCommand),
    /// Make a fresh demo registry from generated data and serve it on 127.0.0.1:8080.
    Demo(DemoArgs),
    /// Measure probity against a baseline in one run (built with `--features bench`).
    #[cfg(feature = "bench")]
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

#[derive(Debug, Subcommand)]
enum RulebookCommand {
    /// The rulebook in force and every version adopted.
    Show {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Assess every subject under the rulebook in force and under FILE, and report the impact:
    /// grades up and down, list joins and leaves, measure flips, and a sample with reasons.
    Diff {
        /// The new rulebook (TOML).
        file: PathBuf,
        /// Compare on this date (default: the new rulebook's effective date, or today if later).
        #[arg(long)]
        as_of: Option<jiff::civil::Date>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Adopt FILE: the adoption is journalled, and assessments follow it from its effective date.
    Adopt {
        /// The new rulebook (TOML).
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ExceptionCommand {
    /// Admit a well-formed code that fails its checksum (e.g. an early pilot-era USCC).
    Add {
        /// The code.
        code: String,
        /// Why it is genuine (recorded in the journal).
        #[arg(long)]
        reason: String,
    },
    /// List the codes on the exception list.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// How much synthetic data to make, and from which seed.
#[derive(Debug, Clone, Copy, clap::Args)]
struct Volume {
    /// Number of legal entities.
    #[arg(long, default_value_t = 10_000)]
    enterprises: u64,
    /// Number of records.
    #[arg(long, default_value_t = 30_000)]
    records: u64,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Debug, clap::Args)]
struct GenerateArgs {
    #[command(flatten)]
    volume: Volume,
    /// Share of extra bad rows to mix in, from 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    dirty: f64,
    /// Records are dated in the six years before this date (default: today).
    #[arg(long)]
    as_of: Option<jiff::civil::Date>,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TableArg {
    Authorities,
    Subjects,
    Records,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Csv,
    Jsonl,
}

#[derive(Debug, clap::Args)]
struct ImportArgs {
    /// What the file holds.
    table: TableArg,
    /// The file (`-` for standard input).
    file: PathBuf,
    /// File format; taken from the extension (.csv, .jsonl, .ndjson) if omitted.
    #[arg(long)]
    format: Option<FormatArg>,
    /// Where rejected rows go, one JSON object per line (default: FILE.rejects.jsonl).
    #[arg(long)]
    rejects: Option<PathBuf>,
    /// Rows per atomic batch: larger batches write fewer bytes and hold more rows in memory.
    #[arg(long, default_value_t = probity_registry::DEFAULT_BATCH_SIZE)]
    batch_size: usize,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct DemoArgs {
    #[command(flatten)]
    volume: Volume,
    /// Where to serve the demo.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// Build the demo registry and print its keys, but do not serve it.
    #[arg(long)]
    no_serve: bool,
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "probity=info,warn",
        2 => "probity=debug,info",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// Small allocations freed on other threads are the server's and the import's common case;
/// mimalloc handles them in a fraction of glibc malloc's instructions (docs/scale.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            // The reader of our output went away (e.g. `| head`); that is not a failure.
            ExitCode::from(exit::OK)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::FAILURE)
        }
    }
}
