//! What the server counts, for `GET /metrics` (Prometheus text format, behind the operator
//! key): request durations by route and status, check answers by measure and decision, kept
//! answers served, filings by outcome and server errors by kind, counted as they happen; the
//! log size, the checkpoint's age, the rating lag and the due-process deadlines, read from the
//! registry when the page is asked for.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A request's route (its pattern, not its path) and status.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Route {
    /// The route pattern, e.g. `/v1/subjects/{id}`; `unmatched` for none.
    pub route: String,
    /// The status code.
    pub status: u16,
}

/// A check answer.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Answer {
    /// The measure.
    pub measure: String,
    /// `allow`, `flag` or `deny`.
    pub decision: String,
}

/// An outcome or a kind.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Named {
    /// Its name.
    pub name: String,
}

/// A witness and what it answered.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WitnessAnswer {
    /// The witness's name in the policy.
    pub witness: String,
    /// `cosigned`, `unreachable`, `refused` or `conflict`.
    pub outcome: String,
}

/// Deadlines in one state.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeadlineState {
    /// `pending` or `overdue`.
    pub state: String,
}

fn duration_histogram() -> Histogram {
    // 0.1 ms to about 3 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<Route, Histogram, fn() -> Histogram>,
    answers: Family<Answer, Counter>,
    kept: Counter,
    filings: Family<Named, Counter>,
    errors: Family<Named, Counter>,
    witnesses: Family<WitnessAnswer, Counter>,
    webhooks: Family<Named, Histogram, fn() -> Histogram>,
    log_size: Gauge,
    checkpoint_age: Gauge,
    rating_lag: Gauge,
    deadlines: Family<DeadlineState, Gauge>,
}

/// What the registry says when the page is asked for.
pub struct Readings {
    /// Entries in the log.
    pub log_size: u64,
    /// Seconds since the checkpoint was published.
    pub checkpoint_age: Option<u64>,
    /// Subjects whose stored answers miss an event about them.
    pub rating_lag: usize,
    /// Deadlines still running.
    pub pending: u64,
    /// Deadlines passed and not met.
    pub overdue: u64,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("probity");
        let requests = Family::<Route, Histogram, fn() -> Histogram>::new_with_constructor(
            duration_histogram as fn() -> Histogram,
        );
        let m = Self {
            requests,
            answers: Family::default(),
            kept: Counter::default(),
            filings: Family::default(),
            errors: Family::default(),
            witnesses: Family::default(),
            webhooks: Family::<Named, Histogram, fn() -> Histogram>::new_with_constructor(
                duration_histogram as fn() -> Histogram,
            ),
            log_size: Gauge::default(),
            checkpoint_age: Gauge::default(),
            rating_lag: Gauge::default(),
            deadlines: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request, by route pattern and status",
            m.requests.clone(),
        );
        registry.register(
            "check_answers",
            "Check answers given, by measure and decision",
            m.answers.clone(),
        );
        registry.register(
            "kept_answers_served",
            "Check answers served from memory",
            m.kept.clone(),
        );
        registry.register(
            "filings",
            "Records filed through the API, by outcome",
            m.filings.clone(),
        );
        registry.register(
            "server_errors",
            "Answers 500 (internal: the store or the server failed) and 503 (unavailable: the store is unreachable), by kind",
            m.errors.clone(),
        );
        registry.register(
            "witness_answers",
            "Answers of the log's witnesses to add-checkpoint requests, by witness and outcome",
            m.witnesses.clone(),
        );
        registry.register(
            "webhook_attempt_duration_seconds",
            "Attempts to deliver watchlist changes to webhooks, by outcome (delivered or failed)",
            m.webhooks.clone(),
        );
        registry.register("log_size", "Entries in the log", m.log_size.clone());
        registry.register(
            "checkpoint_age_seconds",
            "Seconds since the signed checkpoint was published",
            m.checkpoint_age.clone(),
        );
        registry.register(
            "rating_lag_subjects",
            "Subjects whose stored answers miss an event about them (counted up to 100,000)",
            m.rating_lag.clone(),
        );
        registry.register("deadlines", "Due-process deadlines, by state", m.deadlines.clone());
        // Every outcome and kind there is, from zero, so that a rate is defined before the first.
        for outcome in ["filed", "duplicate", "rejected"] {
            m.filings.get_or_create(&Named { name: outcome.to_owned() }).inc_by(0);
        }
        for kind in ["internal", "unavailable"] {
            m.errors.get_or_create(&Named { name: kind.to_owned() }).inc_by(0);
        }
        Self { registry, ..m }
    }
}

impl Metrics {
    /// A request answered.
    pub fn request(&self, route: &str, status: u16, seconds: f64) {
        self.requests.get_or_create(&Route { route: route.to_owned(), status }).observe(seconds);
    }

    /// A check answer given.
    pub fn answer(&self, measure: &str, decision: &str) {
        let labels = Answer { measure: measure.to_owned(), decision: decision.to_owned() };
        self.answers.get_or_create(&labels).inc();
    }

    /// A check answer served from memory.
    pub fn kept_answer(&self) {
        self.kept.inc();
    }

    /// A record filed, a duplicate, or a rejection.
    pub fn filing(&self, outcome: &str) {
        self.filings.get_or_create(&Named { name: outcome.to_owned() }).inc();
    }

    /// A server error of `kind` (`internal` or `unavailable`).
    pub fn error(&self, kind: &str) {
        self.errors.get_or_create(&Named { name: kind.to_owned() }).inc();
    }

    /// A witness answered an `add-checkpoint` request (or did not).
    pub fn witness(&self, witness: &str, outcome: &str) {
        let labels = WitnessAnswer { witness: witness.to_owned(), outcome: outcome.to_owned() };
        self.witnesses.get_or_create(&labels).inc();
    }

    /// An attempt to deliver to a webhook, and how long it took.
    pub fn webhook(&self, delivered: bool, seconds: f64) {
        let name = if delivered { "delivered" } else { "failed" };
        self.webhooks.get_or_create(&Named { name: name.to_owned() }).observe(seconds);
    }

    /// The page, with `readings` taken now.
    pub fn render(&self, readings: &Readings) -> Result<String, std::fmt::Error> {
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.log_size.set(gauge(readings.log_size));
        self.checkpoint_age.set(readings.checkpoint_age.map_or(-1, gauge));
        self.rating_lag.set(gauge(readings.rating_lag as u64));
        let state = |s: &str| DeadlineState { state: s.to_owned() };
        self.deadlines.get_or_create(&state("pending")).set(gauge(readings.pending));
        self.deadlines.get_or_create(&state("overdue")).set(gauge(readings.overdue));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}
