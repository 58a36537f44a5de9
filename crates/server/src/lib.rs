//! The probity HTTP API: `probity serve`.
//!
//! axum on tokio. Every endpoint lives under `/v1` and answers JSON (lists also CSV and JSON
//! Lines). Reads are public and limited per client address; filing and decisions need an
//! authority key, objections, replies and repair applications a company credential, and
//! administration an operator key. The OpenAPI 3.1 document is generated from the handlers and
//! served at `/v1/openapi.json`.
//!
//! The registry sits behind one lock and every call into it runs on a blocking thread, so a write
//! is never interrupted half-way: a client that goes away does not cancel it, and shutdown waits
//! for it.

mod api;
mod auth;
mod connections;
mod error;
pub mod feeds;
mod metrics;
mod portal;
mod state;
pub mod webhooks;
pub mod witnessing;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Request, StatusCode, header};
use axum::routing::{get, post};
use probity_registry::Registry;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

pub use api::{DEFAULT_PAGE, MAX_CHECK_BATCH, MAX_PAGE, WITNESS_BODY_LIMIT};
pub use connections::ConnectionLimits;
pub use error::ApiError;
pub use state::AppState;

/// How many requests a caller may make: `rate` a second, and up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    /// Requests a second, refilled continuously.
    pub rate: u32,
    /// Requests at once, above the rate.
    pub burst: u32,
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The largest request body, in bytes.
    pub body_limit: usize,
    /// The longest a request may take.
    pub timeout: Duration,
    /// What each public caller (no key, or a key that does not authenticate) may ask, by address.
    pub public: Allowance,
    /// What each key that authenticates may ask.
    pub per_key: Allowance,
    /// How often to re-rate the subjects whose next change (an effect starting or ending) has
    /// come; `None` never.
    pub sweep_every: Option<Duration>,
    /// Where public reads are served from, if not the registry's own store: a streaming replica.
    /// Keys, and what a party reads back after its own action, always come from the primary.
    pub read_store: Option<probity_stores::StoreLocation>,
    /// Check answers kept in memory, at most; 0 keeps none. A kept answer is served only
    /// while the log is at the size it reflects, which the answer states.
    pub answer_cache: usize,
    /// Run every read on the blocking pool, even a one-row read from a store that reads in
    /// place, which otherwise runs on the request's own worker: for a registry whose file does
    /// not fit in the OS cache, where such a read may wait on the disk.
    pub blocking_reads: bool,
    /// How often the node looks for what other nodes and processes appended to the log: the
    /// log size its answers reflect, and rulebooks adopted elsewhere. `None` never.
    pub follow_every: Option<Duration>,
    /// Where the public reaches this server (`https://…` behind a TLS-terminating proxy). When
    /// it is HTTPS, the portal's cookies are marked `Secure`.
    pub public_url: Option<String>,
    /// Limits on connections: how many, how slow a client's headers, how long idle. The idle
    /// limit must exceed `timeout`, so that a request being answered is never cut off as idle.
    pub connections: ConnectionLimits,
    /// NATS JetStream: file what departments send there, and publish every event there.
    pub nats: Option<feeds::NatsConfig>,
    /// Deliver watchlist changes to webhooks, retrying failures so; `None` delivers nothing
    /// (another node of the cluster does).
    pub webhooks: Option<probity_registry::Backoff>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            body_limit: 16 << 20,
            timeout: Duration::from_secs(30),
            public: Allowance { rate: 50, burst: 200 },
            per_key: Allowance { rate: 500, burst: 2000 },
            public_url: None,
            sweep_every: Some(Duration::from_secs(3600)),
            read_store: None,
            answer_cache: 65_536,
            blocking_reads: false,
            follow_every: Some(Duration::from_millis(250)),
            connections: ConnectionLimits::default(),
            nats: None,
            webhooks: Some(probity_registry::Backoff::default()),
        }
    }
}

/// Whether the test failpoint `name` (an environment variable set to `1`) is on: tests use it to
/// stop the process at a precise step, as a crash would.
pub(crate) fn failpoint(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "1")
}

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "probity",
        description = "An open registry of the credit records of legal entities: formal decisions of authorities, \
                       ratings by a published rulebook, due process, and a verifiable log.",
        license(name = "Apache-2.0")
    ),
    paths(
        api::health, api::ready, api::subject, api::assessment, api::timeline, api::check,
        api::check_batch, api::search, api::list, api::rulebook, api::rulebook_text, api::changes,
        api::record, api::file_one, api::file_batch, api::withdraw, api::correct, api::object,
        api::reply, api::apply_repair, api::answer_objection, api::decide_objection,
        api::decide_repair, api::deadline_stats, api::checkpoint, api::latest_checkpoint, api::tile, api::proof, api::add_authority,
        api::authority_key, api::revoke_authority_keys, api::company_credential,
        api::revoke_company_credentials, api::add_exception, api::adopt_rulebook,
        api::inspections, api::inspection, api::file_plan, api::draw_plan,
        api::add_checkpoint, api::subscriber_key, api::revoke_subscriber_keys,
        api::create_watchlist, api::watchlists, api::watchlist, api::drop_watchlist, api::watch,
        api::unwatch, api::watched, api::watchlist_changes, api::set_webhook,
        api::remove_webhook, api::resume_webhook
    ),
    modifiers(&SecurityAddon),
    tags(
        (name = "public", description = "Reads that need no credential; rate-limited per address"),
        (name = "authority", description = "Filing and decisions; an authority key"),
        (name = "company", description = "Objections, replies and repair; a company credential"),
        (name = "operator", description = "Administration; an operator key"),
        (name = "subscriber", description = "Watchlists and their changes; a subscriber key"),
        (name = "log", description = "The transparency log"),
        (name = "witness", description = "This registry as a witness of other logs (C2SP tlog-witness)"),
        (name = "service", description = "Health and readiness")
    )
)]
pub struct ApiDoc;

struct SecurityAddon;

/// Error answers any operation may give, added to every operation of the document so that each
/// status the server can send is documented in one place.
const COMMON_ERRORS: &[(&str, &str)] = &[
    ("400", "The request is malformed: a bad query, path, date or cursor"),
    ("404", "Nothing at this path, or the thing asked about does not exist"),
    ("413", "The body or the batch is larger than allowed"),
    ("415", "The body is not JSON"),
    ("422", "A value is invalid, or the registry refuses it"),
    ("429", "Too many requests from this address; see Retry-After"),
    ("503", "The request took too long, or the registry is unavailable"),
];

/// Error answers of operations that need a key.
const SECURED_ERRORS: &[(&str, &str)] = &[
    ("401", "No key, or a malformed, unknown, revoked or expired one"),
    ("403", "The key's holder may not do this"),
    ("409", "The request does not fit the record's state (a window closed, a case open)"),
];

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("prb_<key id>_<secret>")
                    .build(),
            ),
        );
        let error = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build(),
            )
        };
        for item in openapi.paths.paths.values_mut() {
            let ops = [&mut item.get, &mut item.post, &mut item.put, &mut item.delete];
            for op in ops.into_iter().flatten() {
                let secured = op.security.is_some();
                let extra = COMMON_ERRORS.iter().chain(if secured { SECURED_ERRORS } else { &[] });
                for (status, description) in extra {
                    op.responses
                        .responses
                        .entry((*status).to_owned())
                        .or_insert_with(|| error(description));
                }
            }
        }
    }
}

/// The OpenAPI document as pretty JSON, as served and as committed in `docs/openapi.json`.
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

async fn openapi() -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], openapi_json())
}

/// Nothing at this path: a JSON error under `/v1`, a page in the reader's language elsewhere.
async fn not_found(page: portal::Page, uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    if uri.path() == "/v1" || uri.path().starts_with("/v1/") {
        return ApiError::not_found(format!("no endpoint at `{}`", uri.path())).into_response();
    }
    let e = ApiError::not_found(format!("there is no page at `{}`", uri.path()));
    portal::error_page(page.ctx(), &e)
}

async fn timed_out(err: tower::BoxError) -> ApiError {
    if err.is::<tower::timeout::error::Elapsed>() {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "timeout", "the request took too long")
    } else {
        ApiError::internal(err)
    }
}

/// Middleware, the one every request passes: limits it (see [`auth::limit_public`]), marks
/// the response with the headers that keep browsers safe ([`secure`]), and times it by its
/// route pattern and status, counting server errors. One layer rather than three: each layer
/// of its own cloned the routes and boxed a future for every request.
async fn edge(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = request.extensions().get::<axum::extract::MatchedPath>().cloned();
    let started = std::time::Instant::now();
    let mut response = auth::limit_public(&state, request, next).await;
    secure(&mut response);
    let status = response.status();
    let route = route.as_ref().map_or("unmatched", axum::extract::MatchedPath::as_str);
    state.metrics().request(route, status.as_u16(), started.elapsed().as_secs_f64());
    match status {
        StatusCode::INTERNAL_SERVER_ERROR => state.metrics().error("internal"),
        StatusCode::SERVICE_UNAVAILABLE => state.metrics().error("unavailable"),
        _ => {}
    }
    response
}

/// What every page may load and do: everything from this server, nothing from elsewhere, no
/// inline script, and no framing by other sites.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The headers that keep browsers from misreading or framing what the server sends, and from
/// leaking its addresses to other sites; pages get the content security policy.
fn secure(response: &mut axum::response::Response) {
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if html {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
}

/// The router over `state`.
pub fn router(state: AppState) -> Router {
    let config = state.config().clone();
    let request_id = HeaderName::from_static("x-request-id");
    let v1 = Router::new()
        .route("/v1/health", get(api::health))
        .route("/v1/ready", get(api::ready))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/subjects/{id}", get(api::subject))
        .route("/v1/subjects/{id}/assessment", get(api::assessment))
        .route("/v1/subjects/{id}/timeline", get(api::timeline))
        .route(
            "/v1/subjects/{id}/credentials",
            post(api::company_credential).delete(api::revoke_company_credentials),
        )
        .route("/v1/check", get(api::check).post(api::check_batch))
        .route("/v1/search", get(api::search))
        .route("/v1/lists/{id}", get(api::list))
        .route("/v1/rulebook", get(api::rulebook).post(api::adopt_rulebook))
        .route("/v1/rulebook/text", get(api::rulebook_text))
        .route("/v1/changes", get(api::changes))
        .route("/v1/records", post(api::file_one))
        .route("/v1/records/batch", post(api::file_batch))
        .route("/v1/records/{authority}/{decision_no}", get(api::record))
        .route("/v1/records/{authority}/{decision_no}/withdraw", post(api::withdraw))
        .route("/v1/records/{authority}/{decision_no}/correct", post(api::correct))
        .route("/v1/records/{authority}/{decision_no}/objection", post(api::object))
        .route(
            "/v1/records/{authority}/{decision_no}/objection/answer",
            post(api::answer_objection),
        )
        .route(
            "/v1/records/{authority}/{decision_no}/objection/decision",
            post(api::decide_objection),
        )
        .route("/v1/records/{authority}/{decision_no}/reply", post(api::reply))
        .route("/v1/records/{authority}/{decision_no}/repair", post(api::apply_repair))
        .route("/v1/records/{authority}/{decision_no}/repair/decision", post(api::decide_repair))
        .route("/v1/inspections", get(api::inspections).post(api::file_plan))
        .route("/v1/inspections/{authority}/{plan_no}", get(api::inspection))
        .route("/v1/inspections/{authority}/{plan_no}/draw", post(api::draw_plan))
        .route("/v1/stats/deadlines", get(api::deadline_stats))
        .route("/v1/log/checkpoint", get(api::checkpoint))
        .route("/v1/log/checkpoint/latest", get(api::latest_checkpoint))
        .route("/v1/log/tile/{*path}", get(api::tile))
        .route("/v1/log/proof", get(api::proof))
        .route("/v1/authorities", post(api::add_authority))
        .route(
            "/v1/authorities/{id}/keys",
            post(api::authority_key).delete(api::revoke_authority_keys),
        )
        .route("/v1/exceptions", post(api::add_exception))
        .route(
            "/v1/subscribers/{name}/keys",
            post(api::subscriber_key).delete(api::revoke_subscriber_keys),
        )
        .route("/v1/watchlists", get(api::watchlists).post(api::create_watchlist))
        .route("/v1/watchlists/{id}", get(api::watchlist).delete(api::drop_watchlist))
        .route(
            "/v1/watchlists/{id}/subjects",
            get(api::watched)
                .post(api::watch)
                .layer(DefaultBodyLimit::max(api::WATCHLIST_BODY_LIMIT)),
        )
        .route(
            "/v1/watchlists/{id}/subjects/remove",
            post(api::unwatch).layer(DefaultBodyLimit::max(api::WATCHLIST_BODY_LIMIT)),
        )
        .route("/v1/watchlists/{id}/changes", get(api::watchlist_changes))
        .route(
            "/v1/watchlists/{id}/webhook",
            axum::routing::put(api::set_webhook).delete(api::remove_webhook),
        )
        .route("/v1/watchlists/{id}/webhook/resume", post(api::resume_webhook));
    // The API's routes carry their `/v1` rather than being nested under it: a nested router
    // rewrote every request's URI to strip the prefix (3.3k of the 37k instructions a
    // `/v1/health` took, callgrind).
    Router::new()
        .merge(v1)
        .route("/metrics", get(api::metrics))
        .route(
            "/witness/add-checkpoint",
            post(api::add_checkpoint).layer(DefaultBodyLimit::max(api::WITNESS_BODY_LIMIT)),
        )
        .merge(portal::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), edge))
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                    let id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), id)
                }))
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(HandleErrorLayer::new(timed_out))
                .timeout(config.timeout),
        )
        .with_state(state)
}

/// Serves `registry` on `listener` until `shutdown` resolves, then finishes the requests in
/// flight (writes included) and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    registry: Registry,
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (sweep, follow, limits) = (config.sweep_every, config.follow_every, config.connections);
    let webhooks = config.webhooks;
    let nats = config.nats.clone();
    if limits.idle <= config.timeout {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "the idle timeout ({:?}) must be longer than the request timeout ({:?})",
                limits.idle, config.timeout
            ),
        ));
    }
    // Store connections are opened and closed on blocking threads: a synchronous client (the
    // PostgreSQL store's) may not block a thread that drives async tasks.
    let state = tokio::task::spawn_blocking(move || AppState::new(registry, config))
        .await
        .map_err(std::io::Error::other)?
        .map_err(std::io::Error::other)?;
    let sweeper = sweep.map(|every| tokio::spawn(sweep_ratings(state.clone(), every)));
    let follower = follow.map(|every| tokio::spawn(follow_log(state.clone(), every)));
    let pruner = Some(tokio::spawn(prune_every_minute(state.clone())));
    let collector = state.witnesses().map(|(policy, statuses)| {
        tokio::spawn(witnessing::collect(
            state.clone(),
            policy.clone(),
            std::sync::Arc::clone(statuses),
            follow.unwrap_or(Duration::from_millis(250)),
        ))
    });
    let feeds: Vec<tokio::task::JoinHandle<()>> = nats
        .map(|nats| {
            let (s1, n1, s2, n2) = (state.clone(), nats.clone(), state.clone(), nats);
            vec![
                tokio::spawn(feeds::keep_running(state.clone(), "filings", move || {
                    feeds::ingest(s1.clone(), n1.clone())
                })),
                tokio::spawn(feeds::keep_running(state.clone(), "events", move || {
                    feeds::publish_events(s2.clone(), n2.clone())
                })),
            ]
        })
        .unwrap_or_default();
    let deliverer = webhooks.map(|backoff| tokio::spawn(webhooks::deliver(state.clone(), backoff)));
    let app = router(state.clone());
    tracing::info!(addr = %listener.local_addr()?, "serving");
    let served = limits.serve(listener, app, shutdown).await;
    let tasks = sweeper.into_iter().chain(follower).chain(pruner).chain(collector).chain(feeds);
    for task in tasks.chain(deliverer) {
        task.abort();
        let _ = task.await;
    }
    // The last handle on the registry goes on a blocking thread too.
    let _ = tokio::task::spawn_blocking(move || drop(state)).await;
    served
}

/// Keeps the node's view of the log current while others append to it (other nodes on the
/// same PostgreSQL store, an import from another process): every `every`, takes in the
/// rulebooks adopted elsewhere and moves its answers on to the log's new size.
async fn follow_log(state: AppState, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut streak = Streak::default();
    let mut followed = state::Followed::default();
    loop {
        tick.tick().await;
        match state.follow_others(followed).await {
            Ok(now) => {
                followed = now;
                if let Some(failed) = streak.succeeded() {
                    tracing::info!(failed, "caught up with the log again");
                }
            }
            Err(e) => {
                if streak.failed(std::time::Instant::now()) {
                    tracing::warn!(error = %e.message, failed = streak.failures,
                        "catching up with the log failed; trying again every {every:?}");
                } else {
                    tracing::debug!(error = %e.message, "catching up with the log failed");
                }
            }
        }
    }
}

/// A run of failures of a task repeated every fraction of a second, told at a readable rate:
/// the first failure, then one reminder a minute while they go on, then the recovery.
#[derive(Debug, Default)]
struct Streak {
    failures: u64,
    told: Option<std::time::Instant>,
}

impl Streak {
    /// How long a run of failures goes untold after it was last told.
    const REMIND: Duration = Duration::from_secs(60);

    /// Counts a failure at `now`; true if it is to be told.
    fn failed(&mut self, now: std::time::Instant) -> bool {
        self.failures += 1;
        let tell = self.told.is_none_or(|t| now.duration_since(t) >= Self::REMIND);
        if tell {
            self.told = Some(now);
        }
        tell
    }

    /// Ends the run; how many failed, if any did.
    fn succeeded(&mut self) -> Option<u64> {
        let failed = std::mem::take(self).failures;
        (failed > 0).then_some(failed)
    }
}

/// Keeps stored ratings current as the calendar moves: every `every`, re-rates the subjects
/// whose next change has come (the start of the server has made the first run).
async fn sweep_ratings(state: AppState, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // The first tick is now, and the start has just swept.
    tick.tick().await;
    loop {
        tick.tick().await;
        let done = state
            .write(|reg| {
                let today = reg.today();
                Ok(reg.rate_pass(today, false, &())?)
            })
            .await;
        match done {
            Ok(r) => tracing::info!(rated = r.rated, "swept ratings"),
            Err(e) => tracing::warn!(error = %e.message, "rating sweep failed"),
        }
    }
}

/// Keeps what the server holds per caller bounded in time: every minute, forgets old failed
/// key attempts, the rate-limit state of quiet addresses and expired sessions.
async fn prune_every_minute(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        state.prune();
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// A server running on its own thread, for tests and the demo.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    /// Stops it gracefully and waits.
    pub fn stop(mut self) -> std::io::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> std::io::Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(std::io::Error::other("the server thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// Starts serving `registry` on `addr` (port 0 picks one) on a new thread.
pub fn spawn(registry: Registry, addr: SocketAddr, config: Config) -> std::io::Result<Running> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind(addr))?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new().name("probity-server".into()).spawn(move || {
        runtime.block_on(serve(listener, registry, config, async {
            let _ = stopped.await;
        }))
    })?;
    Ok(Running { addr, stop: Some(stop), thread: Some(thread) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streak_of_failures_is_told_once_a_minute_and_its_end_once() {
        let start = std::time::Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut streak = Streak::default();
        assert_eq!(streak.succeeded(), None, "no failures, nothing to tell");
        // Every 250 ms for two and a half minutes: told at 0 s, 60 s and 120 s.
        let told: Vec<u64> =
            (0..600).map(|i| i * 250).filter(|&ms| streak.failed(at(ms))).collect();
        assert_eq!(told, [0, 60_000, 120_000]);
        assert_eq!(streak.succeeded(), Some(600));
        assert_eq!(streak.succeeded(), None, "the end of a run is told once");
        assert!(streak.failed(at(150_000)), "a new run is told at once");
    }
}
