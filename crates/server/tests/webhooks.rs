//! Watchlist webhooks against a real server and a real receiver on 127.0.0.1: deliveries are
//! signed as Standard Webhooks describes (checked by the `standardwebhooks` crate, which we did
//! not write), survive a receiver that fails intermittently and a restart of probity with no
//! change lost and none twice in effect, and a receiver that stays down gets the webhook marked
//! failing, where its owner sees it, until it is resumed.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use probity_registry::{Actor, Backoff, Registry};
use probity_stores::Stores as _;
use reqwest::blocking::Client;
use serde_json::{Value, json};

/// What the receiver saw.
#[derive(Default)]
struct Seen {
    /// Requests, counted from 1.
    requests: u64,
    /// Every request fails while this is set.
    down: bool,
    /// Message bodies accepted, by `webhook-id` (a repeat of an id is dropped, as the
    /// specification asks of receivers).
    accepted: BTreeMap<String, Value>,
    /// Requests whose signature did not verify.
    forged: u64,
}

/// A receiver that fails every third request with 503, and answers every fifth with 500 after
/// taking it in (as a receiver that crashes before answering), so probity sends it again.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Seen>>,
    _runtime: tokio::runtime::Runtime,
}

impl Receiver {
    fn start(secret: Arc<Mutex<String>>) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let at = Arc::clone(&seen);
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let (seen, secret) = (Arc::clone(&at), Arc::clone(&secret));
                async move {
                    let mut s = seen.lock().unwrap();
                    s.requests += 1;
                    let n = s.requests;
                    if s.down || n % 3 == 0 {
                        return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                    }
                    let key = secret.lock().unwrap().clone();
                    let wh = standardwebhooks::Webhook::new(&key).unwrap();
                    if wh.verify(&body, &headers).is_err() {
                        s.forged += 1;
                        return axum::http::StatusCode::BAD_REQUEST;
                    }
                    let id = headers["webhook-id"].to_str().unwrap().to_owned();
                    let value: Value = serde_json::from_slice(&body).unwrap();
                    s.accepted.entry(id).or_insert(value);
                    if n % 5 == 0 {
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        axum::http::StatusCode::NO_CONTENT
                    }
                }
            }),
        );
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        runtime.spawn(async move { axum::serve(listener, app).await });
        Self { url, seen, _runtime: runtime }
    }

    /// Every change position delivered, with how many distinct messages carried each.
    fn positions(&self) -> BTreeMap<u64, usize> {
        let s = self.seen.lock().unwrap();
        let mut out = BTreeMap::new();
        for body in s.accepted.values() {
            assert_eq!(body["type"], "watchlist.changes");
            for c in body["data"]["changes"].as_array().unwrap() {
                *out.entry(c["position"].as_u64().unwrap()).or_insert(0) += 1;
            }
        }
        out
    }
}

fn subject(n: u32) -> String {
    probity_store::conformance::uscc(n).to_string()
}

fn serve(dir: &std::path::Path, retry_for: Duration) -> probity_server::Running {
    let config = probity_server::Config {
        webhooks: Some(Backoff {
            base: Duration::from_millis(20),
            cap: Duration::from_millis(200),
            retry_for,
        }),
        ..Default::default()
    };
    let reg = Registry::open(dir).unwrap();
    probity_server::spawn(reg, "127.0.0.1:0".parse().unwrap(), config).unwrap()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct World {
    _dir: tempfile::TempDir,
    data: std::path::PathBuf,
    authority: String,
    subscriber: String,
    http: Client,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("reg");
        let mut reg = Registry::init(&data, None).unwrap();
        common::authorities_and_companies(
            &mut reg,
            "北京甲有限公司",
            &subject(1),
            "北京乙有限公司",
        );
        let mut rows = String::from("id,name,established\n");
        for n in 2..40 {
            rows.push_str(&format!("{},测试企业{n}有限公司,2010-01-01\n", subject(n)));
        }
        let mut rejects = Vec::new();
        reg.import(
            probity_registry::Table::Subjects,
            probity_registry::Format::Csv,
            std::io::Cursor::new(rows.into_bytes()),
            probity_registry::ImportOptions::default(),
            &(),
            &mut rejects,
        )
        .unwrap();
        let amr = Actor::Authority(probity_core::Slug::parse("a", "bj-amr").unwrap());
        let authority = reg.issue_key(&amr, None).unwrap();
        let bank = Actor::Subscriber(probity_core::Slug::parse("s", "bank-1").unwrap());
        let subscriber = reg.issue_key(&bank, None).unwrap();
        Self { _dir: dir, data, authority, subscriber, http: Client::new() }
    }

    fn call(&self, key: &str, method: reqwest::Method, url: String, body: Option<Value>) -> Value {
        let mut r = self.http.request(method, url).bearer_auth(key);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().unwrap();
        let status = r.status();
        let text = r.text().unwrap();
        assert!(status.is_success(), "{status}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Files a serious penalty against subject `n` (decision `no`), which moves its answer.
    fn file(&self, server: &probity_server::Running, no: u32, n: u32) {
        let row = json!({"authority": "bj-amr", "decision_no": format!("W-{no}"), "subject": subject(n),
            "kind": "penalty.serious", "decided": "2026-01-02", "effective": "2026-01-05", "basis": "Art. 1"});
        self.call(
            &self.authority,
            reqwest::Method::POST,
            format!("http://{}/v1/records", server.addr),
            Some(row),
        );
    }

    fn watchlist(&self, server: &probity_server::Running, id: &str) -> Value {
        self.call(
            &self.subscriber,
            reqwest::Method::GET,
            format!("http://{}/v1/watchlists/{id}", server.addr),
            None,
        )
    }

    /// Every change position the pull API reports.
    fn pulled(&self, server: &probity_server::Running, id: &str) -> BTreeSet<u64> {
        let mut after = 0;
        let mut out = BTreeSet::new();
        loop {
            let url = format!(
                "http://{}/v1/watchlists/{id}/changes?after={after}&limit=1000",
                server.addr
            );
            let page = self.call(&self.subscriber, reqwest::Method::GET, url, None);
            for c in page["changes"].as_array().unwrap() {
                out.insert(c["position"].as_u64().unwrap());
            }
            after = page["next"].as_u64().unwrap();
            if !page["more"].as_bool().unwrap() {
                return out;
            }
        }
    }
}

#[test]
fn deliveries_survive_a_failing_receiver_and_a_restart_without_loss_or_duplicates() {
    let world = World::new();
    let secret = Arc::new(Mutex::new(String::new()));
    let receiver = Receiver::start(Arc::clone(&secret));
    let server = serve(&world.data, Duration::from_secs(60));
    let created = world.call(
        &world.subscriber,
        reqwest::Method::POST,
        format!("http://{}/v1/watchlists", server.addr),
        Some(json!({"label": "borrowers", "webhook_url": receiver.url})),
    );
    *secret.lock().unwrap() = created["webhook_secret"].as_str().unwrap().to_owned();
    let id = created["watchlist"]["id"].as_str().unwrap().to_owned();
    let codes: Vec<String> = (1..40).map(subject).collect();
    let added = world.call(
        &world.subscriber,
        reqwest::Method::POST,
        format!("http://{}/v1/watchlists/{id}/subjects", server.addr),
        Some(json!({ "subjects": codes })),
    );
    assert_eq!(added["added"], 39);

    // A second watchlist, of a company no filing is about, to the same receiver.
    let idle = world.call(
        &world.subscriber,
        reqwest::Method::POST,
        format!("http://{}/v1/watchlists", server.addr),
        Some(json!({"label": "quiet", "webhook_url": receiver.url})),
    );
    let idle_id = idle["watchlist"]["id"].as_str().unwrap().to_owned();
    world.call(
        &world.subscriber,
        reqwest::Method::POST,
        format!("http://{}/v1/watchlists/{idle_id}/subjects", server.addr),
        Some(json!({ "subjects": [subject(100)] })),
    );

    for no in 0..15 {
        world.file(&server, no, 1 + no % 39);
    }
    // A restart in the middle: whatever was pending is sent again under the same id.
    server.stop().unwrap();
    let server = serve(&world.data, Duration::from_secs(60));
    for no in 15..40 {
        world.file(&server, no, 1 + no % 39);
    }
    let pulled = world.pulled(&server, &id);
    assert!(pulled.len() >= 30, "filings moved answers: {}", pulled.len());
    wait_for("every change to be delivered", || {
        receiver.positions().keys().copied().collect::<BTreeSet<_>>() == pulled
    });
    let positions = receiver.positions();
    assert!(positions.values().all(|n| *n == 1), "a change came in two messages: {positions:?}");
    let seen = receiver.seen.lock().unwrap();
    assert_eq!(seen.forged, 0, "every delivery verified");
    assert!(seen.requests > seen.accepted.len() as u64, "the receiver failed some attempts");
    drop(seen);
    wait_for("the delivery state to settle", || {
        let w = world.watchlist(&server, &id);
        w["webhook"]["delivered"].as_u64() == pulled.last().copied()
            && w["webhook"]["health"] == "ok"
    });
    // The quiet watchlist was sent nothing, and its deliveries moved past the others' changes,
    // so they are not looked at again.
    let seen = receiver.seen.lock().unwrap();
    assert!(seen.accepted.values().all(|m| m["data"]["watchlist"] == id.as_str()));
    drop(seen);
    wait_for("the quiet webhook to move past the changes", || {
        world.watchlist(&server, &idle_id)["webhook"]["delivered"].as_u64()
            == pulled.last().copied()
    });
}

#[test]
fn a_receiver_that_stays_down_marks_the_webhook_failing_until_resumed() {
    let world = World::new();
    let secret = Arc::new(Mutex::new(String::new()));
    let receiver = Receiver::start(Arc::clone(&secret));
    let server = serve(&world.data, Duration::from_millis(500));
    let created = world.call(
        &world.subscriber,
        reqwest::Method::POST,
        format!("http://{}/v1/watchlists", server.addr),
        Some(json!({"label": "suppliers", "measures": ["procurement.bid"], "webhook_url": receiver.url})),
    );
    *secret.lock().unwrap() = created["webhook_secret"].as_str().unwrap().to_owned();
    let id = created["watchlist"]["id"].as_str().unwrap().to_owned();
    world.call(
        &world.subscriber,
        reqwest::Method::POST,
        format!("http://{}/v1/watchlists/{id}/subjects", server.addr),
        Some(json!({ "subjects": [subject(1), subject(2)] })),
    );
    receiver.seen.lock().unwrap().down = true;
    world.file(&server, 1, 1);
    wait_for("the webhook to be marked failing", || {
        world.watchlist(&server, &id)["webhook"]["health"] == "failing"
    });
    let w = world.watchlist(&server, &id);
    assert_eq!(w["webhook"]["last_error"], "the receiver answered 503 Service Unavailable");
    assert!(w["webhook"]["failing_since"].is_string());
    // The portal shows the owner the same.
    world.file(&server, 2, 2);
    let requests = receiver.seen.lock().unwrap().requests;
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(receiver.seen.lock().unwrap().requests, requests, "a failing webhook is left alone");

    receiver.seen.lock().unwrap().down = false;
    let url = format!("http://{}/v1/watchlists/{id}/webhook/resume", server.addr);
    world.call(&world.subscriber, reqwest::Method::POST, url, None);
    let pulled = world.pulled(&server, &id);
    assert_eq!(pulled.len(), 2, "both subjects' bids moved to deny");
    wait_for("the changes to be delivered after resuming", || {
        receiver.positions().keys().copied().collect::<BTreeSet<_>>() == pulled
    });
}
