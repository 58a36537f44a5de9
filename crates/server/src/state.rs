//! The server's shared state: the registry's one writer behind a lock, a pool of readers (each
//! its own storage connection, so reads run in parallel with each other and with the write),
//! remembered key digests, failure counts and the public rate limiter.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use governor::clock::Clock as _;
use probity_registry::Registry;

use crate::Config;
use crate::error::ApiError;

type Limiter = governor::DefaultKeyedRateLimiter<IpAddr>;

/// Shared state, cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    registry: Mutex<Registry>,
    readers: Vec<Mutex<Registry>>,
    next_reader: std::sync::atomic::AtomicUsize,
    /// key id → (stored hash, SHA-256 of the secret) of keys verified before.
    digests: Mutex<HashMap<String, (String, [u8; 32])>>,
    failures: Mutex<HashMap<IpAddr, u32>>,
    limiter: Limiter,
    config: Config,
}

impl AppState {
    /// State around an open registry, with a reader per available core.
    pub fn new(
        registry: Registry,
        config: Config,
    ) -> Result<Self, probity_registry::RegistryError> {
        let n = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 16);
        let readers =
            (0..n).map(|_| registry.reader().map(Mutex::new)).collect::<Result<Vec<_>, _>>()?;
        let per_second = NonZeroU32::new(config.public_rate.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.public_burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let limiter = governor::RateLimiter::keyed(
            governor::Quota::per_second(per_second).allow_burst(burst),
        );
        Ok(Self(Arc::new(Inner {
            registry: Mutex::new(registry),
            readers,
            next_reader: std::sync::atomic::AtomicUsize::new(0),
            digests: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            limiter,
            config,
        })))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// Runs `f` on a reader of the registry on a blocking thread: a free one if there is one.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Registry) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        use std::sync::atomic::Ordering;
        let inner = Arc::clone(&self.0);
        // On the blocking pool: measured faster here than `block_in_place` on the worker.
        tokio::task::spawn_blocking(move || {
            let n = inner.readers.len();
            let start = inner.next_reader.fetch_add(1, Ordering::Relaxed);
            let free = (0..n).find_map(|i| inner.readers.get((start + i) % n)?.try_lock().ok());
            let reg = match free {
                Some(reg) => reg,
                None => match inner.readers.get(start % n) {
                    Some(r) => r.lock().unwrap_or_else(PoisonError::into_inner),
                    None => return Err(ApiError::internal("no readers")),
                },
            };
            f(&reg)
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Runs `f` on the registry, which it may change, on a blocking thread. The change runs to
    /// its end even if the client goes away.
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Registry) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let inner = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || {
            let mut reg = inner.registry.lock().unwrap_or_else(PoisonError::into_inner);
            let rulebooks = reg.rulebooks().count();
            let out = f(&mut reg);
            // Readers know the rulebooks adopted when they were made: renew them after one more.
            if reg.rulebooks().count() != rulebooks {
                for r in &inner.readers {
                    let fresh = reg.reader().map_err(ApiError::from)?;
                    *r.lock().unwrap_or_else(PoisonError::into_inner) = fresh;
                }
            }
            out
        })
        .await
        .map_err(ApiError::internal)?
    }

    pub(crate) fn known_digest(&self, key_id: &str, hash: &str) -> Option<[u8; 32]> {
        let map = self.0.digests.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(key_id).filter(|(h, _)| h == hash).map(|(_, d)| *d)
    }

    pub(crate) fn remember_digest(&self, key_id: &str, hash: &str, digest: [u8; 32]) {
        let mut map = self.0.digests.lock().unwrap_or_else(PoisonError::into_inner);
        map.insert(key_id.to_owned(), (hash.to_owned(), digest));
    }

    pub(crate) fn count_failure(&self, ip: IpAddr) -> u32 {
        let mut map = self.0.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let n = map.entry(ip).or_insert(0);
        *n = n.saturating_add(1);
        *n
    }

    pub(crate) fn forget_failures(&self, ip: IpAddr) {
        self.0.failures.lock().unwrap_or_else(PoisonError::into_inner).remove(&ip);
    }

    /// Takes one public request from `ip`'s allowance, or says how long to wait.
    pub(crate) fn check_rate(&self, ip: IpAddr) -> Result<(), Duration> {
        self.0.limiter.check_key(&ip).map_err(|not_until| {
            not_until.wait_time_from(governor::clock::DefaultClock::default().now())
        })
    }
}
