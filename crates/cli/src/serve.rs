//! `probity serve` and the keys it checks: `authority`, `company` and `operator` commands.

use probity_stores::Stores as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use clap::Subcommand;
use probity_core::{Slug, Timestamp};
use probity_registry::{Actor, Registry};

use crate::exit;

/// How to serve.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one and prints it).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Public (keyless) requests per second allowed per client address.
    #[arg(long, default_value_t = 50)]
    public_rate: u32,
    /// Public requests a client address may burst above the rate.
    #[arg(long, default_value_t = 200)]
    public_burst: u32,
    /// Where the public reaches this server, e.g. `https://credit.example.gov.cn` behind a
    /// TLS-terminating proxy; when it is HTTPS, the portal's cookies are marked Secure.
    #[arg(long)]
    public_url: Option<String>,
    /// Requests per second allowed per key that authenticates (a header that does not counts
    /// as public).
    #[arg(long, default_value_t = 500)]
    key_rate: u32,
    /// Requests a key may burst above its rate.
    #[arg(long, default_value_t = 2000)]
    key_burst: u32,
    /// The largest request body, in bytes.
    #[arg(long, default_value_t = 16 << 20)]
    body_limit: usize,
    /// The longest a request may take, in seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Minutes between sweeps that re-rate subjects whose next change has come (0: never).
    #[arg(long, default_value_t = 60)]
    sweep_minutes: u64,
    /// Serve public reads from this PostgreSQL store instead (a streaming replica of the
    /// registry's, same schema); keys and a party's own reads stay on the primary. Every answer
    /// carries the log size it reflects, which says how fresh it is.
    #[arg(long)]
    read_store: Option<String>,
    /// Check answers kept in memory (0: none). A kept answer is served only while the log is
    /// at the size it states.
    #[arg(long, default_value_t = 65_536)]
    answer_cache: usize,
    /// Run every read on the blocking pool. By default a check's one-row read from SQLite runs
    /// on the request's own worker, which is faster while the registry's file is in the OS
    /// cache; use this when it does not fit there, so that a read waiting on the disk holds up
    /// no other request.
    #[arg(long)]
    blocking_reads: bool,
    /// Milliseconds between looks at what other nodes and processes appended to the log: the
    /// size answers reflect, and rulebooks adopted elsewhere (0: never).
    #[arg(long, default_value_t = 250)]
    follow_ms: u64,
    /// Seconds a client has to send a request's headers (on a kept-alive connection, counted
    /// from the previous response); slower connections are closed.
    #[arg(long, default_value_t = 10)]
    header_timeout: u64,
    /// Seconds a connection may stay with nothing read or written before it is closed; longer
    /// than --timeout.
    #[arg(long, default_value_t = 60)]
    idle_timeout: u64,
    /// Connections open at once, at most; more wait in the listen backlog.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// NATS server with JetStream (e.g. `nats://probity:secret@127.0.0.1:4222`): file what
    /// departments publish on `probity.filings.<authority>`, and publish every event to
    /// `probity.events.<type>` in log order (`docs/feeds.md`).
    #[arg(long)]
    nats: Option<String>,
    /// Deliveries of a filing that fails (the store, not its content) before it goes to
    /// `probity.dead.<authority>`.
    #[arg(long, default_value_t = 5)]
    nats_max_deliver: i64,
    /// Seconds NATS waits for a filing's acknowledgement before it delivers it again (a node
    /// that died mid-filing leaves its messages unacknowledged).
    #[arg(long, default_value_t = 30)]
    nats_ack_wait: u64,
    /// Do not deliver watchlist changes to webhooks here (in a cluster, one node delivers).
    #[arg(long)]
    no_webhooks: bool,
    /// Milliseconds to wait after a webhook delivery first fails; each retry waits about twice
    /// as long (with jitter), at most an hour.
    #[arg(long, default_value_t = 5000)]
    webhook_backoff_ms: u64,
    /// Seconds to retry a failed webhook delivery before the webhook is marked failing (its
    /// owner resumes it; nothing is lost meanwhile).
    #[arg(long, default_value_t = 86_400)]
    webhook_retry_for: u64,
    /// Stop when standard input ends, as when the process that started this one (the demo,
    /// with its witnesses) is gone.
    #[arg(long, hide = true)]
    stop_with_stdin: bool,
}

impl ServeArgs {
    /// The defaults, on `listen`.
    pub fn local(listen: SocketAddr) -> Self {
        let d = probity_server::Config::default();
        Self {
            listen,
            public_rate: d.public.rate,
            public_burst: d.public.burst,
            public_url: None,
            key_rate: d.per_key.rate,
            key_burst: d.per_key.burst,
            body_limit: d.body_limit,
            timeout: d.timeout.as_secs(),
            sweep_minutes: 60,
            read_store: None,
            answer_cache: d.answer_cache,
            blocking_reads: d.blocking_reads,
            follow_ms: d.follow_every.map_or(0, |d| d.as_millis() as u64),
            header_timeout: d.connections.header_read.as_secs(),
            idle_timeout: d.connections.idle.as_secs(),
            max_connections: d.connections.max,
            stop_with_stdin: false,
            nats: None,
            nats_max_deliver: 5,
            nats_ack_wait: 30,
            no_webhooks: false,
            webhook_backoff_ms: 5000,
            webhook_retry_for: 86_400,
        }
    }
}

/// Serves the registry in `data` until a signal.
pub fn serve(data: &Path, args: &ServeArgs) -> anyhow::Result<u8> {
    let reg = Registry::open(data)?;
    let read_store = match (&args.read_store, probity_stores::StoreLocation::of(data)?) {
        (None, _) => None,
        (Some(url), probity_stores::StoreLocation::Postgres { schema, .. }) => {
            Some(probity_stores::StoreLocation::Postgres { url: url.clone(), schema })
        }
        (Some(_), probity_stores::StoreLocation::Sqlite) => {
            anyhow::bail!(
                "--read-store: this registry keeps its store in SQLite, which has no replicas"
            )
        }
    };
    let config = probity_server::Config {
        body_limit: args.body_limit,
        timeout: Duration::from_secs(args.timeout.max(1)),
        public: probity_server::Allowance { rate: args.public_rate, burst: args.public_burst },
        public_url: args.public_url.clone(),
        per_key: probity_server::Allowance { rate: args.key_rate, burst: args.key_burst },
        sweep_every: (args.sweep_minutes > 0).then(|| Duration::from_secs(args.sweep_minutes * 60)),
        read_store,
        answer_cache: args.answer_cache,
        blocking_reads: args.blocking_reads,
        follow_every: (args.follow_ms > 0).then(|| Duration::from_millis(args.follow_ms)),
        connections: probity_server::ConnectionLimits {
            header_read: Duration::from_secs(args.header_timeout.max(1)),
            idle: Duration::from_secs(args.idle_timeout.max(1)),
            max: args.max_connections.max(1),
        },
        nats: args.nats.as_ref().map(|url| probity_server::feeds::NatsConfig {
            url: url.clone(),
            max_deliver: args.nats_max_deliver.max(1),
            ack_wait: Duration::from_secs(args.nats_ack_wait.max(1)),
        }),
        webhooks: (!args.no_webhooks).then(|| probity_registry::Backoff {
            base: Duration::from_millis(args.webhook_backoff_ms.max(1)),
            cap: Duration::from_secs(3600),
            retry_for: Duration::from_secs(args.webhook_retry_for),
        }),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        eprintln!("listening on http://{}", listener.local_addr()?);
        let stdin_ends = async {
            let (ended, end) = tokio::sync::oneshot::channel::<()>();
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
                let _ = ended.send(());
            });
            let _ = end.await;
        };
        let watch_stdin = args.stop_with_stdin;
        let shutdown = async move {
            tokio::select! {
                () = probity_server::shutdown_signal() => {}
                () = stdin_ends, if watch_stdin => {
                    tracing::info!("standard input ended: shutting down");
                }
            }
        };
        probity_server::serve(listener, reg, config, shutdown).await?;
        anyhow::Ok(())
    })?;
    Ok(exit::OK)
}

/// Options for a new key.
#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    /// When the key stops working (RFC 3339, e.g. 2027-12-31T00:00:00Z).
    #[arg(long)]
    expires: Option<Timestamp>,
}

/// `probity authority`.
#[derive(Debug, Subcommand)]
pub enum AuthorityCommand {
    /// Register an authority and print its first API key (shown once).
    Add {
        /// Id (lowercase letters, digits, `.`, `_`, `-`).
        id: String,
        /// Name.
        #[arg(long)]
        name: String,
        /// Category, as the rulebook's `filed_by` names them (e.g. market_regulation).
        #[arg(long)]
        category: String,
        /// Jurisdiction (e.g. an administrative division code).
        #[arg(long)]
        jurisdiction: String,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Manage an authority's keys.
    #[command(subcommand)]
    Key(KeyCommand),
}

/// Rotating and revoking keys.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Revoke every key of ID and print a new one (shown once).
    Rotate {
        /// The authority's id.
        id: String,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Revoke every key of ID.
    Revoke {
        /// The authority's id.
        id: String,
    },
}

/// `probity company`.
#[derive(Debug, Subcommand)]
pub enum CompanyCommand {
    /// Issue a credential bound to the subject ID and print it (shown once).
    Credential {
        /// The subject's USCC or LEI.
        id: String,
        /// Revoke its other credentials.
        #[arg(long)]
        rotate: bool,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Revoke every credential of the subject ID.
    Revoke {
        /// The subject's USCC or LEI.
        id: String,
    },
}

/// `probity operator`.
#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Issue an operator key and print it (shown once).
    Key {
        /// Revoke the other operator keys.
        #[arg(long)]
        rotate: bool,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Revoke every operator key.
    Revoke,
}

fn slug(id: &str) -> anyhow::Result<Slug> {
    Ok(Slug::parse("authority id", id)?)
}

fn print_key(key: &str) -> anyhow::Result<u8> {
    outln!("{key}");
    eprintln!("this key is shown once; only its hash is kept");
    Ok(exit::OK)
}

pub(crate) fn issue(
    reg: &mut Registry,
    actor: &Actor,
    rotate: bool,
    k: &KeyArgs,
) -> anyhow::Result<u8> {
    let key =
        if rotate { reg.rotate_key(actor, k.expires)? } else { reg.issue_key(actor, k.expires)? };
    print_key(&key)
}

pub(crate) fn revoke(reg: &mut Registry, actor: &Actor) -> anyhow::Result<u8> {
    let n = reg.revoke_keys(actor)?;
    outln!("revoked {n} key{}", if n == 1 { "" } else { "s" });
    Ok(exit::OK)
}

/// Runs `probity authority`.
pub fn authority(data: &Path, cmd: AuthorityCommand) -> anyhow::Result<u8> {
    let mut reg = Registry::open(data)?;
    match cmd {
        AuthorityCommand::Add { id, name, category, jurisdiction, key } => {
            let a = probity_core::Authority::new(&id, &name, &category, &jurisdiction)?;
            let actor = Actor::Authority(a.id.clone());
            if !reg.register_authority(a)? {
                eprintln!("authority `{id}` was registered already");
            }
            issue(&mut reg, &actor, false, &key)
        }
        AuthorityCommand::Key(KeyCommand::Rotate { id, key }) => {
            issue(&mut reg, &Actor::Authority(slug(&id)?), true, &key)
        }
        AuthorityCommand::Key(KeyCommand::Revoke { id }) => {
            revoke(&mut reg, &Actor::Authority(slug(&id)?))
        }
    }
}

/// Runs `probity company`.
pub fn company(data: &Path, cmd: CompanyCommand) -> anyhow::Result<u8> {
    let mut reg = Registry::open(data)?;
    match cmd {
        CompanyCommand::Credential { id, rotate, key } => {
            let id = reg.parse_id(&id)?;
            issue(&mut reg, &Actor::Company(id), rotate, &key)
        }
        CompanyCommand::Revoke { id } => {
            let id = reg.parse_id(&id)?;
            revoke(&mut reg, &Actor::Company(id))
        }
    }
}

/// Runs `probity operator`.
pub fn operator(data: &Path, cmd: OperatorCommand) -> anyhow::Result<u8> {
    let mut reg = Registry::open(data)?;
    match cmd {
        OperatorCommand::Key { rotate, key } => issue(&mut reg, &Actor::Operator, rotate, &key),
        OperatorCommand::Revoke => revoke(&mut reg, &Actor::Operator),
    }
}
