//! The server's shared state: the registry's one writer behind a lock, a pool of readers (each
//! its own storage connection, so reads run in parallel with each other and with the write),
//! remembered key digests, failure counts and the public rate limiter.

use probity_stores::Stores as _;
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::clock::Clock as _;
use probity_registry::{Actor, Registry, RegistryError};

use crate::Config;
use crate::error::ApiError;

type Limiter = governor::DefaultKeyedRateLimiter<IpAddr>;

/// Shared state, cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    registry: Mutex<Registry>,
    /// Readers of public answers: on the replica when there is one.
    readers: Vec<Mutex<Registry>>,
    /// Whether the readers' store reads in place, so that a one-row read may run on the
    /// request's own thread ([`AppState::read_here`]).
    reads_in_place: bool,
    /// Readers on the primary, when public reads go to a replica.
    primary: Option<Vec<Mutex<Registry>>>,
    /// One permit per reader, and one per primary reader: reads wait their turn here, first
    /// come first served, rather than as blocked threads on a reader's lock.
    read_turns: tokio::sync::Semaphore,
    /// Turns to run a batch check: fewer than the readers.
    batch_turns: tokio::sync::Semaphore,
    primary_turns: tokio::sync::Semaphore,
    next_reader: std::sync::atomic::AtomicUsize,
    /// Check questions waiting to be read from a store that does not read in place, gathered
    /// so that those asked at once cost one statement ([`AppState::gathered_answer`]).
    asked: Mutex<Vec<Asked>>,
    /// One permit per blocking thread that may be reading gathered questions at a time.
    gatherers: Arc<tokio::sync::Semaphore>,
    /// key id → (stored hash, SHA-256 of the secret) of keys verified before.
    digests: Mutex<HashMap<String, (String, [u8; 32])>>,
    /// Failed key attempts by address: how many, and when the last was.
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    limiter: Limiter,
    /// Requests per key, for callers whose key authenticates.
    key_limiter: governor::DefaultKeyedRateLimiter<String>,
    config: Config,
    /// Portal sessions by token.
    sessions: Mutex<HashMap<String, Session>>,
    /// The statistics page's figures, with the log size and time they were computed at.
    stats: Mutex<Option<(u64, Instant, Arc<StatsFigures>)>>,
    /// Check answers as served, each with the log size it reflects.
    answers: quick_cache::sync::Cache<AnswerKey, (u64, bytes::Bytes, &'static str)>,
    /// What the server counts, for `/metrics`.
    metrics: crate::metrics::Metrics,
    /// The log size the node has followed to: its readers know every rulebook adopted within
    /// it. Only answers at this size are kept and served from memory.
    followed: AtomicU64,
    /// The log size after this node's latest write: when the log stands at another size,
    /// someone else appended last.
    own: AtomicU64,
    /// The registry's clock.
    clock: Arc<dyn probity_registry::Clock>,
    /// As a witness: the logs this registry cosigns for.
    witnessing: Arc<Vec<probity_tlog::witness::WitnessedLog>>,
    /// As a log: its witness policy and what each witness last answered, if it has witnesses.
    witnesses: Option<(probity_tlog::policy::Policy, crate::witnessing::Statuses)>,
    /// The NATS feeds' state, when the server runs them.
    feeds: Option<Arc<Mutex<crate::feeds::FeedStatus>>>,
    /// Wakes the webhook deliveries after a write, which may have made answer changes.
    webhooks: Arc<tokio::sync::Notify>,
}

/// A check answer to send on: its reasons are the JSON they were stored as, not decoded.
pub type SentAnswer = probity_registry::CheckAnswer<Box<serde_json::value::RawValue>>;

/// A check question waiting to be read with others: the answer is sent to `reply`.
struct Asked {
    id: probity_core::SubjectId,
    measure: String,
    as_of: probity_core::Date,
    reply: tokio::sync::oneshot::Sender<Result<Option<SentAnswer>, ApiError>>,
}

/// The most gathered questions read in one statement.
const MOST_GATHERED: usize = 64;

/// One check question, as asked: an answer to it is a function of the log at a given size.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct AnswerKey {
    /// The subject code as given.
    pub subject: String,
    /// The measure.
    pub measure: String,
    /// The date the answer is about.
    pub as_of: probity_core::Date,
    /// Whose knowledge, if not all of it.
    pub known_at: Option<probity_core::Date>,
}

/// How long failed key attempts from an address are remembered after the last one.
pub(crate) const FAILURE_MEMORY: Duration = Duration::from_secs(3600);
/// The most addresses whose failed key attempts are remembered at once.
pub(crate) const MAX_FAILING_ADDRESSES: usize = 65_536;

/// Counts a failed key attempt from `ip` at `now` in `map`, which never holds more than
/// [`MAX_FAILING_ADDRESSES`]: when full, the addresses quiet for a minute are forgotten, and if
/// that frees nothing (a flood from that many addresses at once), all are, since a count that
/// only slows attempts down is worth less than bounded memory. Returns the address's count.
fn count_failure_in(map: &mut HashMap<IpAddr, (u32, Instant)>, ip: IpAddr, now: Instant) -> u32 {
    if map.len() >= MAX_FAILING_ADDRESSES && !map.contains_key(&ip) {
        map.retain(|_, (_, last)| now.duration_since(*last) < Duration::from_secs(60));
        if map.len() >= MAX_FAILING_ADDRESSES {
            tracing::warn!(
                addresses = map.len(),
                "failed key attempts from too many addresses; forgetting them"
            );
            map.clear();
        }
    }
    let (n, last) = map.entry(ip).or_insert((0, now));
    *n = n.saturating_add(1);
    *last = now;
    *n
}

/// How long a portal session lasts without being renewed.
const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// The most portal sessions one credential holds at once; its oldest is dropped first. Capped
/// per credential, so that no one holder of a key can sign anyone else out.
pub(crate) const MAX_SESSIONS_PER_CREDENTIAL: usize = 8;
/// How long computed statistics are shown before they are computed again.
const STATS_FRESH_FOR: Duration = Duration::from_secs(60);

/// A signed-in portal party.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// Who.
    pub actor: Actor,
    /// The id of the key or credential signed in with: its state is checked on every request,
    /// so revoking or rotating it ends the session at once.
    pub key_id: String,
    /// The token their forms must carry.
    pub csrf: String,
    /// When the session ends.
    pub expires: Instant,
    /// Their last batch upload.
    pub upload: Option<Arc<Upload>>,
    /// What the last action did, shown once.
    pub flash: Option<probity_portal::Flash>,
}

/// What a batch upload from the console did.
#[derive(Debug, Clone, Default)]
pub(crate) struct Upload {
    /// Rows filed.
    pub filed: u64,
    /// Rows already on file.
    pub duplicates: u64,
    /// Rows rejected.
    pub rejected: u64,
    /// The rejects report: CSV `line,reason`.
    pub report: String,
}

/// The figures behind the statistics page.
#[derive(Debug, Clone)]
pub(crate) struct StatsFigures {
    /// Aggregates from the store.
    pub statistics: probity_store::Statistics,
    /// Deadline compliance per authority.
    pub deadlines: Vec<probity_registry::AuthorityDeadlines>,
}

pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // Without an OS random source no session can be made safely; an empty token is refused
    // by every look-up.
    if getrandom::fill(&mut bytes).is_err() {
        return String::new();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A limiter's answer to a charge of several requests: `Err(Some(wait))` when the allowance
/// covers them after `wait`, `Err(None)` when it never can at once.
fn charged(
    answer: Result<
        Result<(), governor::NotUntil<governor::clock::QuantaInstant>>,
        governor::InsufficientCapacity,
    >,
) -> Result<(), Option<Duration>> {
    match answer {
        Ok(Ok(())) => Ok(()),
        Ok(Err(not_until)) => {
            Err(Some(not_until.wait_time_from(governor::clock::DefaultClock::default().now())))
        }
        Err(_) => Err(None),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    /// A reader of `readers`: a free one if there is one, else, if `wait`, the next in turn
    /// once it is free.
    fn reader<'a>(
        &self,
        readers: &'a [Mutex<Registry>],
        wait: bool,
    ) -> Option<std::sync::MutexGuard<'a, Registry>> {
        let n = readers.len();
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let free = (0..n).find_map(|i| readers.get((start + i) % n)?.try_lock().ok());
        match free {
            Some(reg) => Some(reg),
            None if wait => readers.get(start % n).map(lock),
            None => None,
        }
    }

    /// Answers the questions waiting in `asked`, a statement at a time, until none wait;
    /// holding `turn`, one of the gatherers' permits, given back when done.
    fn answer_asked(&self, mut turn: tokio::sync::OwnedSemaphorePermit) {
        loop {
            let batch: Vec<Asked> = {
                let mut asked = lock(&self.asked);
                let n = asked.len().min(MOST_GATHERED);
                asked.drain(..n).collect()
            };
            if batch.is_empty() {
                drop(turn);
                // A question that came after the look above, while this turn was still held,
                // may have found no gatherer free: it is taken up here.
                if lock(&self.asked).is_empty() {
                    return;
                }
                match Arc::clone(&self.gatherers).try_acquire_owned() {
                    Ok(again) => turn = again,
                    Err(_) => return,
                }
                continue;
            }
            let questions: Vec<_> =
                batch.iter().map(|a| (a.id, a.measure.as_str(), a.as_of)).collect();
            let answers = match self.reader(&self.readers, true) {
                Some(reg) => reg.check_stored_many(&questions).map_err(ApiError::from),
                None => Err(ApiError::internal("no readers")),
            };
            match answers {
                Ok(answers) => {
                    for (a, answer) in batch.into_iter().zip(answers) {
                        // The asker may have gone away.
                        let _ = a.reply.send(answer.map_err(ApiError::from));
                    }
                }
                Err(e) => {
                    for a in batch {
                        let _ = a.reply.send(Err(e.clone()));
                    }
                }
            }
        }
    }

    /// Brings the node up to the log as it is now, with `reg` the writer (locked by the
    /// caller), which knew `rulebooks` rulebooks before: reads the size answers will reflect,
    /// takes in the rulebooks adopted within it, renews the readers if there are new ones
    /// (a reader knows the rulebooks of when it was made), and only then moves on to that size.
    /// Then publishes a checkpoint if the published one is behind the log.
    fn follow(&self, reg: &mut Registry, rulebooks: usize) -> Result<u64, RegistryError> {
        let primary = reg.log_size()?;
        // On a replica, answers reflect the replica's log size, at most the primary's.
        let size = match (&self.config.read_store, self.readers.first()) {
            (Some(_), Some(r)) => lock(r).log_size()?,
            _ => primary,
        };
        reg.catch_up_rulebooks()?;
        if reg.rulebooks().count() != rulebooks {
            for r in &self.readers {
                let fresh = match &self.config.read_store {
                    Some(at) => reg.reader_at(at),
                    None => reg.reader(),
                };
                *lock(r) = fresh?;
            }
            for r in self.primary.iter().flatten() {
                *lock(r) = reg.reader()?;
            }
        }
        self.followed.fetch_max(size, Ordering::AcqRel);
        // What others appended gets a checkpoint here too, signed by this node's key.
        reg.publish_checkpoint_if_short_of(primary)?;
        Ok(primary)
    }
}

/// What the log follower has seen: the log's size at its last look, and the size at which it
/// last rated what others left stale.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Followed {
    seen: Option<u64>,
    swept: Option<u64>,
}

impl AppState {
    /// State around an open registry, with a reader per available core.
    pub fn new(
        mut registry: Registry,
        config: Config,
    ) -> Result<Self, probity_registry::RegistryError> {
        // Before anything is served, every stored assessment and list entry is brought up to
        // the log: a writer that stopped between appending and rating (a crash, a kill) left
        // subjects whose derivatives do not reflect their latest event.
        registry.catch_up_rulebooks()?;
        let today = registry.today();
        let swept = registry.rate_pass(today, false, &())?;
        tracing::info!(rated = swept.rated, "brought stored ratings up to the log");
        let rulebooks = registry.rulebooks().count();
        let witnessing = Arc::new(registry.followed_logs()?);
        if !witnessing.is_empty() {
            // Made now, so the first request is not the one that makes it.
            let key = registry.witness_key()?;
            tracing::info!(key = key.verifier_key(), logs = witnessing.len(), "witnessing");
        }
        let witnesses = registry.witness_policy()?.map(|policy| {
            let statuses = crate::witnessing::statuses_of(policy);
            (policy.clone(), statuses)
        });
        let feeds = config.nats.as_ref().map(|_| Arc::new(Mutex::new(Default::default())));
        // A reader per core; a networked store's readers mostly wait on the network, so four
        // per core there.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 16);
        let per_core = |in_place: bool| if in_place { cores } else { 4 * cores };
        let n = per_core(registry.reads_in_place());
        let primary_readers =
            || (0..n).map(|_| registry.reader().map(Mutex::new)).collect::<Result<Vec<_>, _>>();
        let (readers, primary) = match &config.read_store {
            None => (primary_readers()?, None),
            Some(at) => {
                let replica = (0..per_core(false))
                    .map(|_| registry.reader_at(at).map(Mutex::new))
                    .collect::<Result<Vec<_>, _>>()?;
                (replica, Some(primary_readers()?))
            }
        };
        let quota = |a: crate::Allowance| {
            let per_second = NonZeroU32::new(a.rate.max(1)).unwrap_or(NonZeroU32::MIN);
            let burst = NonZeroU32::new(a.burst.max(1)).unwrap_or(NonZeroU32::MIN);
            governor::Quota::per_second(per_second).allow_burst(burst)
        };
        let limiter = governor::RateLimiter::keyed(quota(config.public));
        let key_limiter = governor::RateLimiter::keyed(quota(config.per_key));
        let inner = Inner {
            answers: quick_cache::sync::Cache::new(config.answer_cache.max(1)),
            metrics: crate::metrics::Metrics::default(),
            followed: AtomicU64::new(0),
            own: AtomicU64::new(0),
            clock: registry.clock(),
            registry: Mutex::new(registry),
            reads_in_place: !config.blocking_reads
                && readers.iter().all(|r| lock(r).reads_in_place()),
            read_turns: tokio::sync::Semaphore::new(readers.len()),
            batch_turns: tokio::sync::Semaphore::new((readers.len() / 2).max(1)),
            primary_turns: tokio::sync::Semaphore::new(primary.as_ref().map_or(0, Vec::len)),
            readers,
            primary,
            next_reader: std::sync::atomic::AtomicUsize::new(0),
            asked: Mutex::new(Vec::new()),
            // Few, so that questions asked while one statement runs wait to go together in
            // the next rather than each take a reader of its own.
            gatherers: Arc::new(tokio::sync::Semaphore::new(cores)),
            digests: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            limiter,
            key_limiter,
            config,
            sessions: Mutex::new(HashMap::new()),
            stats: Mutex::new(None),
            witnessing,
            witnesses,
            feeds,
            webhooks: Arc::new(tokio::sync::Notify::new()),
        };
        // The readers were made with the rulebooks known at open: follow the log as it is now.
        inner.follow(&mut lock(&inner.registry), rulebooks)?;
        Ok(Self(Arc::new(inner)))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// The logs this registry witnesses.
    pub(crate) fn witnessing(&self) -> Arc<Vec<probity_tlog::witness::WitnessedLog>> {
        Arc::clone(&self.0.witnessing)
    }

    /// The log's witness policy and its witnesses' states, if it has witnesses.
    pub(crate) fn witnesses(
        &self,
    ) -> Option<&(probity_tlog::policy::Policy, crate::witnessing::Statuses)> {
        self.0.witnesses.as_ref()
    }

    /// Changes the NATS feeds' state, when the server runs them.
    pub(crate) fn feed_status(&self, change: impl FnOnce(&mut crate::feeds::FeedStatus)) {
        if let Some(f) = &self.0.feeds {
            change(&mut lock(f));
        }
    }

    /// The NATS feeds' state, when the server runs them.
    pub(crate) fn feeds(&self) -> Option<crate::feeds::FeedStatus> {
        self.0.feeds.as_ref().map(|f| lock(f).clone())
    }

    /// What each witness of the log last answered (none without witnesses).
    pub(crate) fn witness_statuses(&self) -> Vec<crate::witnessing::WitnessStatus> {
        self.0.witnesses.as_ref().map_or_else(Vec::new, |(_, s)| lock(s).clone())
    }

    /// Runs `f` on a reader of the registry on a blocking thread: a free one if there is one.
    /// With a read store (a replica), this reads from the replica.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Registry) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.read_on(false, f).await
    }

    /// Runs `f` on a reader of the primary store: for keys, and for what a party reads back
    /// after its own action, which a lagging replica might not hold yet.
    pub async fn read_primary<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Registry) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.read_on(true, f).await
    }

    async fn read_on<T: Send + 'static>(
        &self,
        primary: bool,
        f: impl FnOnce(&Registry) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let inner = Arc::clone(&self.0);
        let on_primary = primary && inner.primary.is_some();
        let turns = if on_primary { &self.0.primary_turns } else { &self.0.read_turns };
        let _turn = turns.acquire().await.map_err(ApiError::internal)?;
        // On the blocking pool: measured faster here than `block_in_place` on the worker.
        tokio::task::spawn_blocking(move || {
            let readers = match &inner.primary {
                Some(p) if on_primary => p,
                _ => &inner.readers,
            };
            let reg =
                inner.reader(readers, true).ok_or_else(|| ApiError::internal("no readers"))?;
            // One snapshot per answer: its parts agree, and the store's read lock is taken once.
            reg.in_snapshot(f)
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Runs `f` on a free reader here, on the request's own thread, if the store reads in place
    /// (see [`probity_store::Store::reads_in_place`]) and a reader is free: for a read of one
    /// row, handing it to the blocking pool costs more than the read. `None` if not; the caller
    /// then takes the usual way. `f` sees no snapshot: it must be one statement.
    pub fn read_here<T>(
        &self,
        f: impl FnOnce(&Registry) -> Result<T, ApiError>,
    ) -> Option<Result<T, ApiError>> {
        if !self.0.reads_in_place {
            return None;
        }
        let reg = self.0.reader(&self.0.readers, false)?;
        Some(f(&reg))
    }

    /// The stored answer to a check question, as [`Registry::check_stored`] gives it, on a
    /// store that does not read in place: the question joins those waiting, and a blocking
    /// thread reads up to [`MOST_GATHERED`] of them in one statement
    /// ([`Registry::check_stored_many`]), so that questions asked while a statement runs share
    /// the next one's round trip instead of each taking its own.
    pub async fn gathered_answer(
        &self,
        id: probity_core::SubjectId,
        measure: String,
        as_of: probity_core::Date,
    ) -> Result<Option<SentAnswer>, ApiError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        lock(&self.0.asked).push(Asked { id, measure, as_of, reply });
        // With every gatherer busy, one of them takes this question up when its read is done.
        if let Ok(turn) = Arc::clone(&self.0.gatherers).try_acquire_owned() {
            let inner = Arc::clone(&self.0);
            tokio::task::spawn_blocking(move || inner.answer_asked(turn));
        }
        answer.await.map_err(ApiError::internal)?
    }

    /// Runs `f` on the registry, which it may change, on a blocking thread. The change runs to
    /// its end even if the client goes away.
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Registry) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let inner = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || {
            let mut reg = lock(&inner.registry);
            let rulebooks = reg.rulebooks().count();
            // A change is rated under every rulebook adopted so far, here or elsewhere.
            reg.catch_up_rulebooks()?;
            let out = f(&mut reg);
            inner.webhooks.notify_one();
            // What `f` did stands whether or not this works; the next write tries again.
            match inner.follow(&mut reg, rulebooks) {
                Ok(size) => inner.own.store(size, Ordering::Release),
                Err(e) => tracing::warn!(error = %e, "following the log failed"),
            }
            out
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Follows the log once, for what other nodes and processes append (`before` is what the
    /// last look saw). When the log has stood still since the last look at a size that another
    /// writer reached, that writer is done or gone: the subjects it appended about and did not
    /// rate (it stopped in between) are rated now, once per such size.
    pub(crate) async fn follow_others(&self, before: Followed) -> Result<Followed, ApiError> {
        let inner = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || {
            let mut reg = lock(&inner.registry);
            let rulebooks = reg.rulebooks().count();
            let size = inner.follow(&mut reg, rulebooks)?;
            let others = size != inner.own.load(Ordering::Acquire);
            let Some(seen) = before.seen else {
                // The first look: the start brought everything up to the log.
                return Ok(Followed { seen: Some(size), swept: Some(size) });
            };
            let mut swept = before.swept;
            if seen == size && others && swept != Some(size) {
                let rated = reg.rate_stale(&())?.rated;
                if rated > 0 {
                    tracing::warn!(rated, size, "rated subjects another writer left unrated");
                }
                swept = Some(size);
            }
            Ok(Followed { seen: Some(size), swept })
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// What wakes the webhook deliveries.
    pub(crate) fn webhook_wake(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.0.webhooks)
    }

    /// Wakes the webhook deliveries.
    pub(crate) fn wake_webhooks(&self) {
        self.0.webhooks.notify_one();
    }

    /// The date today by the registry's clock.
    pub(crate) fn today(&self) -> probity_core::Date {
        self.0.clock.today()
    }

    /// The answer to `key` kept from before, if the log is still at the size it reflects.
    pub(crate) fn kept_answer(&self, key: &AnswerKey) -> Option<bytes::Bytes> {
        let (size, body, decision) = self.0.answers.get(key)?;
        let kept = (size == self.0.followed.load(Ordering::Acquire)).then_some(body);
        if kept.is_some() {
            self.0.metrics.kept_answer();
            self.0.metrics.answer(&key.measure, decision);
        }
        kept
    }

    /// What the server counts.
    pub(crate) fn metrics(&self) -> &crate::metrics::Metrics {
        &self.0.metrics
    }

    /// Keeps `body`, the answer to `key` at log size `size`, if that is the size the node has
    /// followed to. Called while the reader that computed it is held, so that a reader with
    /// rulebooks older than `size` cannot keep an answer: the node moves on to a new size only
    /// after it has renewed every reader.
    pub(crate) fn keep_answer(
        &self,
        key: AnswerKey,
        size: u64,
        body: bytes::Bytes,
        decision: &'static str,
    ) {
        if self.0.config.answer_cache > 0 && size == self.0.followed.load(Ordering::Acquire) {
            self.0.answers.insert(key, (size, body, decision));
        }
    }

    pub(crate) fn known_digest(&self, key_id: &str, hash: &str) -> Option<[u8; 32]> {
        let map = lock(&self.0.digests);
        map.get(key_id).filter(|(h, _)| h == hash).map(|(_, d)| *d)
    }

    pub(crate) fn remember_digest(&self, key_id: &str, hash: &str, digest: [u8; 32]) {
        let mut map = lock(&self.0.digests);
        map.insert(key_id.to_owned(), (hash.to_owned(), digest));
    }

    pub(crate) fn count_failure(&self, ip: IpAddr) -> u32 {
        count_failure_in(&mut lock(&self.0.failures), ip, Instant::now())
    }

    /// Forgets what no longer matters of what is kept per address or per session: failures
    /// older than [`FAILURE_MEMORY`], rate-limit state of addresses quiet for a while, and
    /// expired sessions. Run every minute, so these maps hold only recent callers.
    pub(crate) fn prune(&self) {
        let now = Instant::now();
        lock(&self.0.failures).retain(|_, (_, last)| now.duration_since(*last) < FAILURE_MEMORY);
        self.0.limiter.retain_recent();
        self.0.limiter.shrink_to_fit();
        self.0.key_limiter.retain_recent();
        self.0.key_limiter.shrink_to_fit();
        lock(&self.0.sessions).retain(|_, s| s.expires > now);
    }

    pub(crate) fn forget_failures(&self, ip: IpAddr) {
        lock(&self.0.failures).remove(&ip);
    }

    /// Starts a portal session for `actor`, signed in with the key or credential `key_id`: its
    /// token and the token its forms must carry. A credential holds at most
    /// [`MAX_SESSIONS_PER_CREDENTIAL`] sessions; its oldest goes first.
    pub(crate) fn start_session(&self, actor: Actor, key_id: &str) -> Option<(String, String)> {
        let (token, csrf) = (random_token(), random_token());
        if token.is_empty() || csrf.is_empty() {
            return None;
        }
        let mut map = lock(&self.0.sessions);
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        let mut own: Vec<(Instant, String)> = map
            .iter()
            .filter(|(_, s)| s.key_id == key_id)
            .map(|(t, s)| (s.expires, t.clone()))
            .collect();
        own.sort_unstable();
        for (_, oldest) in
            own.iter().take((own.len() + 1).saturating_sub(MAX_SESSIONS_PER_CREDENTIAL))
        {
            map.remove(oldest);
        }
        let session = Session {
            actor,
            key_id: key_id.to_owned(),
            csrf: csrf.clone(),
            expires: now + SESSION_LIFETIME,
            upload: None,
            flash: None,
        };
        map.insert(token.clone(), session);
        Some((token, csrf))
    }

    /// The live session with this token.
    pub(crate) fn session(&self, token: &str) -> Option<Session> {
        let map = lock(&self.0.sessions);
        map.get(token).filter(|s| !token.is_empty() && s.expires > Instant::now()).cloned()
    }

    /// Ends a session.
    pub(crate) fn end_session(&self, token: &str) {
        lock(&self.0.sessions).remove(token);
    }

    /// Keeps a batch upload's report with the session.
    pub(crate) fn keep_upload(&self, token: &str, upload: Upload) {
        let mut map = lock(&self.0.sessions);
        if let Some(s) = map.get_mut(token) {
            s.upload = Some(Arc::new(upload));
        }
    }

    /// Keeps what an action did, to show on the next page.
    pub(crate) fn set_flash(&self, token: &str, flash: probity_portal::Flash) {
        let mut map = lock(&self.0.sessions);
        if let Some(s) = map.get_mut(token) {
            s.flash = Some(flash);
        }
    }

    /// Takes what the last action did, if not shown yet.
    pub(crate) fn take_flash(&self, token: &str) -> Option<probity_portal::Flash> {
        let mut map = lock(&self.0.sessions);
        map.get_mut(token).and_then(|s| s.flash.take())
    }

    /// The statistics page's figures: kept for a minute while the log does not grow.
    pub(crate) async fn stats_figures(&self) -> Result<Arc<StatsFigures>, ApiError> {
        let size = self.read(|reg| Ok(reg.log_size()?)).await?;
        {
            let cached = lock(&self.0.stats);
            if let Some((at_size, at, figures)) = cached.as_ref()
                && *at_size == size
                && at.elapsed() < STATS_FRESH_FOR
            {
                return Ok(Arc::clone(figures));
            }
        }
        let figures = self
            .read(|reg| {
                Ok(StatsFigures {
                    statistics: reg.statistics()?,
                    deadlines: reg.deadline_compliance(reg.today())?,
                })
            })
            .await?;
        let figures = Arc::new(figures);
        *lock(&self.0.stats) = Some((size, Instant::now(), Arc::clone(&figures)));
        Ok(figures)
    }

    /// Takes one public request from `ip`'s allowance, or says how long to wait.
    pub(crate) fn check_rate(&self, ip: IpAddr) -> Result<(), Duration> {
        self.0.limiter.check_key(&ip).map_err(|not_until| {
            not_until.wait_time_from(governor::clock::DefaultClock::default().now())
        })
    }

    /// Charges `n` more requests to the key `key_id`: `Err(Some(wait))` when its allowance will
    /// cover them after `wait`, `Err(None)` when it never can at once.
    pub(crate) fn charge_key(&self, key_id: &str, n: NonZeroU32) -> Result<(), Option<Duration>> {
        charged(self.0.key_limiter.check_key_n(&key_id.to_owned(), n))
    }

    /// Charges `n` more public requests to the address `ip` (see [`AppState::charge_key`]).
    pub(crate) fn charge_address(&self, ip: IpAddr, n: NonZeroU32) -> Result<(), Option<Duration>> {
        charged(self.0.limiter.check_key_n(&ip, n))
    }

    /// Waits for a turn to run a batch check: at most [`AppState::batch_slots`] run at once,
    /// so some readers are always left for single reads.
    pub(crate) async fn batch_turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
        self.0.batch_turns.acquire().await.map_err(ApiError::internal)
    }

    /// Charges one request to the key with id `key_id`, which authenticated.
    pub(crate) fn check_key_rate(&self, key_id: &str) -> Result<(), Duration> {
        self.0.key_limiter.check_key(&key_id.to_owned()).map_err(|not_until| {
            not_until.wait_time_from(governor::clock::DefaultClock::default().now())
        })
    }
}

#[cfg(test)]
mod tests {
    // Tests state expectations by panicking.
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn failed_attempts_are_kept_for_a_bounded_number_of_addresses() {
        let mut map = HashMap::new();
        let start = Instant::now();
        let addr = |i: u32| IpAddr::from(i.to_be_bytes());
        for i in 0..MAX_FAILING_ADDRESSES as u32 {
            count_failure_in(&mut map, addr(i), start);
        }
        assert_eq!(map.len(), MAX_FAILING_ADDRESSES);
        // One more address, all the others recent: the map is emptied rather than grown.
        assert_eq!(count_failure_in(&mut map, addr(u32::MAX), start), 1);
        assert_eq!(map.len(), 1);
        // A repeat offender counts up; when the map is full of quiet addresses they go first.
        assert_eq!(count_failure_in(&mut map, addr(u32::MAX), start), 2);
        for i in 0..MAX_FAILING_ADDRESSES as u32 - 1 {
            count_failure_in(&mut map, addr(i), start);
        }
        let later = start + Duration::from_secs(120);
        assert_eq!(count_failure_in(&mut map, addr(u32::MAX - 1), later), 1);
        assert_eq!(map.len(), 1, "every address quiet for a minute was forgotten");
    }
}
