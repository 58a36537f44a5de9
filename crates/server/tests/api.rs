//! The API against a real server on 127.0.0.1:0: the whole due-process story, every endpoint
//! against every role, bad input of every kind, limits, and the committed OpenAPI document.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use probity_stores::Stores as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use probity_core::{Date, Timestamp};
use probity_registry::{Actor, Clock, Registry};
use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};

/// A clock the test moves.
#[derive(Clone)]
struct TestClock(Arc<Mutex<Timestamp>>);

impl TestClock {
    fn set(&self, s: &str) {
        *self.0.lock().unwrap() = s.parse().unwrap();
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

mod common;

use common::A;

struct World {
    _dir: tempfile::TempDir,
    server: probity_server::Running,
    url: String,
    clock: TestClock,
    http: Client,
    operator: String,
    amr: String,
    tax: String,
    company: String,
    other_company: String,
    revoked: String,
    expired: String,
}

/// A registry on a clock the test moves, stopped at `now`, with the authorities `bj-amr` and
/// `bj-tax` and two companies (`A` and the one of `uscc(42)`).
fn registry_at(now: &str) -> (tempfile::TempDir, Registry, TestClock) {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock(Arc::new(Mutex::new(now.parse().unwrap())));
    let mut reg =
        Registry::init_with_clock(&dir.path().join("r"), None, "test/log", clock.clone()).unwrap();
    let other = probity_store::conformance::uscc(42);
    common::authorities_and_companies(
        &mut reg,
        "北京测试科技有限公司",
        other.as_str(),
        "北京另一有限公司",
    );
    (dir, reg, clock)
}

fn world_with(config: probity_server::Config) -> World {
    let (dir, mut reg, clock) = registry_at("2026-03-02T08:00:00Z");
    let other = probity_store::conformance::uscc(42);
    let amr_actor = Actor::Authority(probity_core::Slug::parse("a", "bj-amr").unwrap());
    let operator = reg.issue_key(&Actor::Operator, None).unwrap();
    let amr = reg.issue_key(&amr_actor, None).unwrap();
    let tax = reg
        .issue_key(&Actor::Authority(probity_core::Slug::parse("a", "bj-tax").unwrap()), None)
        .unwrap();
    let company = reg.issue_key(&Actor::Company(probity_core::SubjectId::parse(A).unwrap()), None);
    let company = company.unwrap();
    let other_company = reg.issue_key(&Actor::Company(other), None).unwrap();
    // A key revoked by rotation, and one that has expired.
    let revoked = reg.issue_key(&amr_actor, None).unwrap();
    let amr = {
        let _ = amr;
        reg.rotate_key(&amr_actor, None).unwrap()
    };
    // (Issued the day before, to expire at midnight: a key may not be issued expired.)
    clock.set("2026-02-28T08:00:00Z");
    let expired = reg.issue_key(&amr_actor, Some("2026-03-01T00:00:00Z".parse().unwrap())).unwrap();
    clock.set("2026-03-02T08:00:00Z");
    let server = probity_server::spawn(reg, "127.0.0.1:0".parse().unwrap(), config).unwrap();
    let url = format!("http://{}", server.addr);
    World {
        _dir: dir,
        server,
        url,
        clock,
        http: Client::new(),
        operator,
        amr,
        tax,
        company,
        other_company,
        revoked,
        expired,
    }
}

/// The defaults, with public reads limited far above what a test sends.
fn unlimited() -> probity_server::Config {
    probity_server::Config {
        public: probity_server::Allowance { rate: 10_000, burst: 10_000 },
        ..Default::default()
    }
}

/// Allowances of `public` requests per address and `per_key` per key, refilled at one a second.
fn allowances(public: u32, per_key: u32) -> probity_server::Config {
    probity_server::Config {
        public: probity_server::Allowance { rate: 1, burst: public },
        per_key: probity_server::Allowance { rate: 1, burst: per_key },
        ..Default::default()
    }
}

fn world() -> World {
    world_with(unlimited())
}

impl World {
    fn get(&self, path: &str) -> Response {
        self.http.get(format!("{}{path}", self.url)).send().unwrap()
    }

    fn send(&self, method: &str, path: &str, key: Option<&str>, body: Option<&Value>) -> Response {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self.http.request(method, format!("{}{path}", self.url));
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        if let Some(b) = body {
            r = r.json(b);
            // A body the server may refuse unread ends the connection; never pool it.
            r = r.header("connection", "close");
        }
        r.send().unwrap()
    }

    fn post(&self, path: &str, key: &str, body: Value) -> (u16, Value) {
        let r = self.send("POST", path, Some(key), Some(&body));
        let status = r.status().as_u16();
        (status, r.json().unwrap_or(Value::Null))
    }

    fn json(&self, path: &str) -> Value {
        let r = self.get(path);
        assert_eq!(r.status(), 200, "{path}");
        r.json().unwrap()
    }
}

fn record(decision_no: &str, kind: &str, effective: &str) -> Value {
    json!({
        "authority": "bj-amr", "decision_no": decision_no, "subject": A, "kind": kind,
        "decided": effective, "effective": effective, "basis": "Regulations on Enterprise Information Publicity, Art. 17",
        "summary": "no annual report by 30 June"
    })
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[test]
fn the_due_process_story_runs_end_to_end_and_shows_in_the_timeline_and_the_feed() {
    let w = world();
    let before = w.json("/v1/changes?limit=1000")["log_size"].as_u64().unwrap();

    // The authority files a record.
    let r = w.send(
        "POST",
        "/v1/records",
        Some(&w.amr),
        Some(&record("AB-1", "registration.abnormal", "2026-03-01")),
    );
    assert_eq!(r.status(), 201);
    let filed: Value = r.json().unwrap();
    assert_eq!(filed["status"], "filed");
    // Filing again is idempotent.
    let again = w.send(
        "POST",
        "/v1/records",
        Some(&w.amr),
        Some(&record("AB-1", "registration.abnormal", "2026-03-01")),
    );
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().unwrap()["status"], "duplicate");
    let check = w.json(&format!("/v1/check?subject={A}&measure=procurement.bid"));
    assert_eq!(check["decision"], "flag");

    // The company objects; the record shows as disputed.
    let base = "/v1/records/bj-amr/AB-1";
    let (s, v) = w.post(
        &format!("{base}/objection"),
        &w.company,
        json!({"grounds": "the report was filed on 28 June"}),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["case"]["disputed"], true);
    let profile = w.json(&format!("/v1/subjects/{A}"));
    assert_eq!(profile["records"][0]["disputed"], true);
    // Replaying the objection is refused, not stored twice.
    let (s, v) = w.post(&format!("{base}/objection"), &w.company, json!({"grounds": "again"}));
    assert_eq!((s, code(&v)), (409, "conflict"), "{v}");

    // The authority admits it within the deadline, then decides: withdrawn.
    w.clock.set("2026-03-04T09:00:00Z");
    let (s, v) = w.post(
        &format!("{base}/objection/answer"),
        &w.amr,
        json!({"admitted": true, "reason": "filed in time"}),
    );
    assert_eq!(s, 200, "{v}");
    let (s, v) = w.post(
        &format!("{base}/objection/decision"),
        &w.amr,
        json!({"outcome": "upheld", "reason": "the portal shows no report until 2 July"}),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["case"]["disputed"], false);

    // The company replies, then applies for repair (registration.abnormal repairs after 1 day).
    let (s, v) = w.post(
        &format!("{base}/reply"),
        &w.company,
        json!({"text": "our report was delayed by the portal outage"}),
    );
    assert_eq!(s, 200, "{v}");
    let profile = w.json(&format!("/v1/subjects/{A}"));
    assert_eq!(profile["records"][0]["reply"], "our report was delayed by the portal outage");
    let (s, v) = w.post(
        &format!("{base}/repair"),
        &w.company,
        json!({"statement": "report filed, commitment published"}),
    );
    assert_eq!(s, 200, "{v}");
    let stats = w.json("/v1/stats/deadlines");
    assert_eq!(stats["authorities"][0]["authority"], "bj-amr");
    assert_eq!(stats["authorities"][0]["pending"], 1, "{stats}");
    assert_eq!(stats["authorities"][0]["met"], 2, "{stats}");

    // Late: the repair decision was due in 5 working days.
    w.clock.set("2026-03-16T09:00:00Z");
    let stats = w.json("/v1/stats/deadlines");
    assert_eq!(stats["authorities"][0]["overdue"], 1, "{stats}");
    assert_eq!(stats["authorities"][0]["overdue_items"][0]["what"], "decide_repair");
    let (s, v) = w.post(
        &format!("{base}/repair/decision"),
        &w.amr,
        json!({"granted": true, "reason": "conditions met"}),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["case"]["repaired"], "2026-03-16");
    let check = w.json(&format!("/v1/check?subject={A}&measure=procurement.bid"));
    assert_eq!(check["decision"], "allow", "{check}");
    let stats = w.json("/v1/stats/deadlines");
    assert_eq!(stats["authorities"][0]["late"], 1, "{stats}");

    // The repaired record is no longer shown; its steps are in the timeline until then.
    let profile = w.json(&format!("/v1/subjects/{A}"));
    assert_eq!(profile["records"].as_array().unwrap().len(), 0);
    let timeline = w.json(&format!("/v1/subjects/{A}/timeline"));
    let whats: Vec<&str> = timeline["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["what"].as_str().unwrap())
        .collect();
    assert_eq!(whats, ["repaired"]);
    // What the registry said on 4 March, when the record was in force and disputed no more:
    let then =
        w.json(&format!("/v1/check?subject={A}&measure=procurement.bid&known_at=2026-03-04"));
    assert_eq!(then["decision"], "flag");

    // Every step is in the change feed, in order.
    let feed = w.json(&format!("/v1/changes?after={}&limit=100", before - 1));
    let steps: Vec<String> = feed["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let e = &c["event"];
            e["step"]["step"]
                .as_str()
                .map_or_else(|| e["type"].as_str().unwrap().to_owned(), str::to_owned)
        })
        .collect();
    assert_eq!(
        steps,
        [
            "record_filed",
            "objection_filed",
            "objection_answered",
            "objection_decided",
            "reply_published",
            "repair_applied",
            "repair_decided"
        ]
    );
    assert!(feed["changes"].as_array().unwrap().iter().all(|c| c["subject"] == A));
    // Paging by cursor misses nothing.
    let mut after = before - 1;
    let mut seen = 0;
    loop {
        let page = w.json(&format!("/v1/changes?after={after}&limit=2"));
        let n = page["changes"].as_array().unwrap().len();
        if n == 0 {
            break;
        }
        seen += n;
        after = page["next_after"].as_u64().unwrap();
    }
    assert_eq!(seen, 7);
    w.server.stop().unwrap();
}

/// Who may call what. `None` means public (any caller, even with a bad key, gets an answer).
#[test]
fn every_endpoint_against_every_role() {
    let w = world();
    // A record of bj-amr about A to act on.
    let r = w.send(
        "POST",
        "/v1/records",
        Some(&w.amr),
        Some(&record("M-1", "penalty.moderate", "2026-03-01")),
    );
    assert_eq!(r.status(), 201);
    let rec = "/v1/records/bj-amr/M-1";
    let other = probity_store::conformance::uscc(42);
    #[derive(Clone, Copy, PartialEq, Debug)]
    enum Role {
        Operator,
        Amr,
        Tax,
        Company,
        OtherCompany,
    }
    use Role::*;
    /// Method, path, body, and the roles allowed (`None`: public).
    type Endpoint<'a> = (&'a str, String, Option<Value>, Option<&'a [Role]>);
    let endpoints: Vec<Endpoint<'_>> = vec![
        ("GET", "/v1/health".into(), None, None),
        ("GET", format!("/v1/subjects/{A}"), None, None),
        ("GET", format!("/v1/subjects/{A}/assessment"), None, None),
        ("GET", format!("/v1/subjects/{A}/timeline"), None, None),
        ("GET", format!("/v1/check?subject={A}&measure=procurement.bid"), None, None),
        (
            "POST",
            "/v1/check".into(),
            Some(json!({"measure": "procurement.bid", "subjects": [A]})),
            None,
        ),
        ("GET", "/v1/search?q=北京".into(), None, None),
        ("GET", "/v1/lists/serious_violation".into(), None, None),
        ("GET", "/v1/rulebook".into(), None, None),
        ("GET", "/v1/changes".into(), None, None),
        ("GET", rec.into(), None, None),
        ("GET", "/v1/stats/deadlines".into(), None, None),
        ("GET", "/v1/log/checkpoint".into(), None, None),
        ("GET", "/v1/log/tile/entries/000.p/1".into(), None, None),
        (
            "POST",
            "/v1/records".into(),
            Some(record("M-2", "penalty.minor", "2026-03-01")),
            // Any authority may file; a row in another authority's name is rejected row by row.
            Some(&[Amr, Tax]),
        ),
        (
            "POST",
            "/v1/records/batch".into(),
            Some(json!({"records": [record("M-3", "penalty.minor", "2026-03-01")]})),
            Some(&[Amr, Tax]),
        ),
        (
            "POST",
            format!("{rec}/correct"),
            Some(json!({"record": record("M-1", "penalty.moderate", "2026-03-01"), "reason": "r"})),
            Some(&[Amr]),
        ),
        ("POST", format!("{rec}/objection"), Some(json!({"grounds": "g"})), Some(&[Company])),
        ("POST", format!("{rec}/reply"), Some(json!({"text": "t"})), Some(&[Company])),
        ("POST", format!("{rec}/repair"), Some(json!({"statement": "s"})), Some(&[Company])),
        (
            "POST",
            format!("{rec}/objection/answer"),
            Some(json!({"admitted": true, "reason": "r"})),
            Some(&[Amr]),
        ),
        (
            "POST",
            format!("{rec}/objection/decision"),
            Some(json!({"outcome": "upheld", "reason": "r"})),
            Some(&[Amr]),
        ),
        (
            "POST",
            format!("{rec}/repair/decision"),
            Some(json!({"granted": false, "reason": "r"})),
            Some(&[Amr]),
        ),
        (
            "POST",
            "/v1/authorities".into(),
            Some(
                json!({"id": "bj-env", "name": "n", "category": "environment", "jurisdiction": "110000"}),
            ),
            Some(&[Operator]),
        ),
        ("POST", "/v1/authorities/bj-tax/keys".into(), Some(json!({})), Some(&[Operator])),
        ("POST", format!("/v1/subjects/{other}/credentials"), Some(json!({})), Some(&[Operator])),
        (
            "POST",
            "/v1/exceptions".into(),
            Some(json!({"code": "91350100M0001TGQXM", "reason": "pilot-era code"})),
            Some(&[Operator]),
        ),
        (
            "POST",
            "/v1/rulebook".into(),
            Some(json!({"text": probity_rules::DEFAULT_RULEBOOK})),
            Some(&[Operator]),
        ),
        ("POST", format!("{rec}/withdraw"), Some(json!({"reason": "r"})), Some(&[Amr])),
    ];
    let keys: Vec<(Option<Role>, &str, Option<&str>)> = vec![
        (None, "no key", None),
        (None, "malformed key", Some("prb_nope")),
        (
            None,
            "forged key",
            Some("prb_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ),
        (None, "revoked key", Some(&w.revoked)),
        (None, "expired key", Some(&w.expired)),
        (Some(Operator), "operator", Some(&w.operator)),
        (Some(Tax), "wrong authority", Some(&w.tax)),
        (Some(OtherCompany), "wrong company", Some(&w.other_company)),
        (Some(Company), "company", Some(&w.company)),
        (Some(Amr), "authority", Some(&w.amr)),
    ];
    let mut failures = Vec::new();
    for (method, path, body, allowed) in &endpoints {
        for (role, label, key) in &keys {
            let r = w.send(method, path, *key, body.as_ref());
            let status = r.status().as_u16();
            let ok = match (allowed, role) {
                (None, _) => (200..300).contains(&status),
                (Some(_), None) => status == 401,
                (Some(roles), Some(role)) if roles.contains(role) => status != 401 && status != 403,
                (Some(_), Some(_)) => status == 403,
            };
            if !ok {
                failures.push(format!(
                    "{method} {path} as {label}: {status} {}",
                    r.text().unwrap_or_default()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A key's state is told only to whoever holds its secret: a wrong secret under the id of a
/// revoked or expired key is just not valid. And no key is issued already expired.
#[test]
fn a_wrong_secret_learns_nothing_of_the_key_and_no_key_is_born_expired() {
    let w = world();
    let forge = |key: &str| {
        let (id, _) = probity_registry::split_key(key).unwrap();
        format!("prb_{id}_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    };
    for key in [&w.revoked, &w.expired] {
        let r =
            w.send("POST", "/v1/records/batch", Some(&forge(key)), Some(&json!({"records": []})));
        assert_eq!(r.status(), 401);
        let message = r.json::<Value>().unwrap()["error"]["message"].as_str().unwrap().to_owned();
        assert_eq!(message, "the key is not valid");
        let r = w.send("POST", "/v1/records/batch", Some(key), Some(&json!({"records": []})));
        let message = r.json::<Value>().unwrap()["error"]["message"].as_str().unwrap().to_owned();
        assert!(message.contains("revoked") || message.contains("expired"), "{message}");
    }
    let r = w.send(
        "POST",
        "/v1/authorities/bj-amr/keys",
        Some(&w.operator),
        Some(&json!({"expires": "2026-03-01T00:00:00Z"})),
    );
    assert_eq!(r.status(), 422, "{}", r.text().unwrap());
}

/// The checkpoint changes with every write: caches must ask again, and its tag spares the body
/// while it has not changed.
#[test]
fn the_checkpoint_is_revalidated_by_its_tag() {
    let w = world();
    let r = w.get("/v1/log/checkpoint");
    assert_eq!(r.headers()["cache-control"], "no-cache");
    let tag = r.headers()["etag"].to_str().unwrap().to_owned();
    let again = w.http.get(format!("{}/v1/log/checkpoint", w.url)).header("if-none-match", &tag);
    assert_eq!(again.send().unwrap().status(), 304);
    let record = json!({"authority": "bj-amr", "decision_no": "CP-1", "subject": A,
        "kind": "penalty.minor", "decided": "2026-02-20", "effective": "2026-03-01",
        "basis": "Art. 28"});
    let r = w.send("POST", "/v1/records", Some(&w.amr), Some(&record));
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    let after = w.http.get(format!("{}/v1/log/checkpoint", w.url)).header("if-none-match", &tag);
    assert_eq!(after.send().unwrap().status(), 200, "a new checkpoint, a new tag");
}

/// A body is read strictly: one media type, one object, no key twice. Readers that took the
/// last of two keys, or fields by position, would not see what a signer or a log reader sees.
#[test]
fn json_bodies_are_objects_of_one_media_type_with_no_key_twice() {
    let w = world();
    let post = |content_type: &str, body: &str| {
        let r = w
            .http
            .post(format!("{}/v1/exceptions", w.url))
            .bearer_auth(&w.operator)
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().unwrap()["error"]["message"].as_str().unwrap_or("").to_owned())
    };
    let twice = r#"{"code":"91110000600037341X","reason":"pilot","reason":"other"}"#;
    let (status, message) = post("application/json", twice);
    assert_eq!(status, 400);
    assert!(message.contains("the key `reason` appears twice"), "{message}");
    let (status, message) = post("application/json", r#"["91110000600037341X","pilot"]"#);
    assert_eq!(status, 422);
    assert!(message.contains("must be a json object"), "{message}");
    for media in ["application/vnd.probity+json", "application/json; charset=latin1", "text/plain"]
    {
        let (status, _) = post(media, r#"{"code":"91110000600037341X","reason":"pilot"}"#);
        assert_eq!(status, 415, "{media}");
    }
    let (status, _) = post(
        "application/json; charset=UTF-8",
        r#"{"code":"91110000600037341X","reason":"pilot"}"#,
    );
    assert_eq!(status, 200);
}

/// A batch check answers each subject as a check of it alone does: from the stored answers
/// where they hold, the longer way on days they do not, and each refusal in its place.
#[test]
fn a_batch_check_answers_each_subject_as_the_check_alone_does() {
    let w = world();
    let filed =
        w.post("/v1/records", &w.amr, record("AB-9", "registration.abnormal", "2026-03-01"));
    assert_eq!(filed.0, 201, "{filed:?}");
    let other = probity_store::conformance::uscc(42).as_str().to_owned();
    let unknown = probity_store::conformance::uscc(43).as_str().to_owned();
    let mut bad_check = A.to_owned();
    bad_check.replace_range(17.., if A.ends_with('L') { "M" } else { "L" });
    let subjects = [A, other.as_str(), unknown.as_str(), bad_check.as_str(), "not a code", A];
    for as_of in [None, Some("2026-03-02"), Some("2025-06-01"), Some("2027-01-01")] {
        let mut body = json!({"measure": "procurement.bid", "subjects": subjects});
        let mut query = String::new();
        if let Some(d) = as_of {
            body["as_of"] = json!(d);
            query = format!("&as_of={d}");
        }
        let (status, batch) = w.post("/v1/check", &w.tax, body);
        assert_eq!(status, 200, "{batch}");
        let results = batch["results"].as_array().unwrap();
        assert_eq!(results.len(), subjects.len());
        for (s, got) in subjects.iter().zip(results) {
            let path = format!(
                "/v1/check?subject={}&measure=procurement.bid{query}",
                s.replace(' ', "%20")
            );
            let alone = w.get(&path);
            let ok = alone.status() == 200;
            let alone: Value = alone.json().unwrap();
            if ok {
                assert_eq!(got, &alone, "{s} on {as_of:?}");
            } else {
                assert_eq!(got["subject"], json!(s), "{s} on {as_of:?}");
                assert_eq!(got["error"]["code"], alone["error"]["code"], "{s} on {as_of:?}");
                assert_eq!(got["error"]["message"], alone["error"]["message"], "{s} {as_of:?}");
            }
        }
        // The filed record shows in A's answer, with its reason, whatever the way.
        if as_of.is_none() {
            assert_eq!(results[0]["decision"], "flag", "{batch}");
            assert!(!results[0]["reasons"].as_array().unwrap().is_empty(), "{batch}");
        }
    }
}

/// A batch check costs what its subjects would, asked in requests of twenty: an anonymous
/// caller cannot spend a day's allowance in one request, and a batch larger than an allowance
/// can ever hold is told to split.
#[test]
fn a_batch_check_is_charged_by_its_subjects() {
    let w = world_with(allowances(60, 600));
    let batch = |n: usize, key: Option<&str>| {
        let subjects: Vec<String> = (0..n).map(|_| A.to_owned()).collect();
        let body = json!({"subjects": subjects, "measure": "procurement.bid"});
        let r = w.send("POST", "/v1/check", key, Some(&body));
        let status = r.status().as_u16();
        (status, r.json::<Value>().unwrap())
    };
    // 1,000 subjects cost 50 of the address's 60.
    let (status, answers) = batch(1000, None);
    assert_eq!(status, 200);
    assert_eq!(answers["results"].as_array().unwrap().len(), 1000);
    let (status, body) = batch(1000, None);
    assert_eq!(status, 429, "the address has 10 left");
    assert!(body["error"]["message"].as_str().unwrap().contains("retry after"));
    // 2,000 cost 100: more than the address may ever hold at once.
    let (status, body) = batch(2000, None);
    assert_eq!(status, 429);
    assert!(body["error"]["message"].as_str().unwrap().contains("split it"), "{body}");
    // A key has its own, larger allowance.
    assert_eq!(batch(2000, Some(&w.tax)).0, 200);
}

#[test]
fn bad_input_gets_a_clear_4xx_and_nothing_is_stored() {
    let w = world_with(probity_server::Config { body_limit: 64 * 1024, ..unlimited() });
    let size = || w.json("/v1/changes")["log_size"].as_u64().unwrap();
    let start = size();
    let raw = |body: Vec<u8>, content_type: &str| {
        let r = w
            .http
            .post(format!("{}/v1/records", w.url))
            .bearer_auth(&w.amr)
            .header("content-type", content_type)
            // A body the server refuses unread ends the connection; never pool it.
            .header("connection", "close")
            .body(body)
            .send()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().unwrap_or(Value::Null))
    };
    let (s, v) = raw(b"{\"authority\": ".to_vec(), "application/json");
    assert_eq!((s, code(&v)), (400, "malformed_json"), "{v}");
    let (s, v) = raw(b"{}".to_vec(), "text/plain");
    assert_eq!((s, code(&v)), (415, "unsupported_media_type"), "{v}");
    let (s, v) = raw(b"{\"summary\": \"\xff\xfe\"}".to_vec(), "application/json");
    assert_eq!((s, code(&v)), (400, "malformed_json"), "invalid utf-8: {v}");
    let (s, v) = raw(vec![b' '; 100 * 1024], "application/json");
    assert_eq!((s, code(&v)), (413, "body_too_large"), "{v}");

    // Row-level problems: each named.
    let mut long = record("L-1", "penalty.minor", "2026-03-01");
    long["summary"] = json!("字".repeat(5000));
    let (s, v) = w.post("/v1/records", &w.amr, long);
    assert_eq!(s, 422);
    assert!(v["error"]["message"].as_str().unwrap().contains("summary"), "{v}");
    let mut lookalike = record("L-2", "penalty.minor", "2026-03-01");
    lookalike["subject"] = json!("911100006ОО037341L"); // Cyrillic О in place of 0
    let (s, v) = w.post("/v1/records", &w.amr, lookalike);
    assert_eq!(s, 422);
    assert!(v["error"]["message"].as_str().unwrap().contains("subject"), "{v}");
    let (s, v) = w.post("/v1/records", &w.amr, record("L-3", "opinion.disloyal", "2026-03-01"));
    assert_eq!(s, 422);
    assert!(v["error"]["message"].as_str().unwrap().contains("opinion.disloyal"), "{v}");
    let (s, v) = w.post("/v1/records", &w.amr, record("L-4", "penalty.minor", "2999-01-01"));
    assert_eq!(s, 422);
    assert!(v["error"]["message"].as_str().unwrap().contains("future"), "{v}");
    let mut person = record("L-5", "penalty.minor", "2026-03-01");
    person["legal_representative"] = json!("张三");
    let (s, v) = w.post("/v1/records", &w.amr, person);
    assert_eq!(s, 422);
    assert!(v["error"]["message"].as_str().unwrap().contains("legal_representative"), "{v}");
    let mut foreign = record("L-6", "penalty.minor", "2026-03-01");
    foreign["authority"] = json!("bj-tax");
    let (s, v) = w.post("/v1/records", &w.amr, foreign);
    assert_eq!(s, 422);
    assert!(v["error"]["message"].as_str().unwrap().contains("may not file in the name of"), "{v}");
    // A batch: every row its own result; the good one is filed.
    let (s, v) = w.post(
        "/v1/records/batch",
        &w.amr,
        json!({"records": [record("B-1", "penalty.minor", "2026-03-01"), {"nonsense": 1}, record("B-2", "court.dishonest_debtor", "2026-03-01")]}),
    );
    assert_eq!(s, 200);
    let statuses: Vec<&str> =
        v["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["filed", "rejected", "rejected"], "{v}");
    assert!(v["results"][2]["reason"].as_str().unwrap().contains("market_regulation"), "{v}");
    assert_eq!(size(), start + 1, "only the one good row was stored");

    // Queries and paths.
    let r = w.get(&format!("/v1/check?subject={A}&measure=procurement.bid&as_of=1066-10-14"));
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("as_of"));
    let r = w.get("/v1/check?subject=92110000600037341L&measure=procurement.bid");
    assert_eq!(r.status(), 422);
    assert!(r.text().unwrap().contains("individually owned"));
    let r = w.get(&format!("/v1/check?subject={A}&measure=loyalty.test"));
    assert_eq!(r.status(), 404);
    let r = w.get("/v1/changes?limit=100000");
    assert_eq!(r.status(), 400);
    let r = w.get("/v1/nowhere");
    assert_eq!((r.status().as_u16(), code(&r.json().unwrap())), (404, "not_found"));
    let r = w.get("/v1/search?q=x&cursor=bogus");
    assert_eq!(r.status(), 400);
    let batch: Vec<String> = (0..10_001).map(|_| A.to_owned()).collect();
    let r = w.send(
        "POST",
        "/v1/check",
        None,
        Some(&json!({"measure": "procurement.bid", "subjects": batch})),
    );
    // 10,001 codes fit in 64 KiB? No: the body limit or the batch limit names the problem.
    let status = r.status().as_u16();
    let v: Value = r.json().unwrap();
    assert_eq!(status, 413);
    assert!(["body_too_large", "batch_too_large"].contains(&code(&v)), "{v}");
    // Every error carries a request id. (A fresh connection: the server closes one whose
    // oversized body it did not read, and a pooled client may race that close.)
    let r = reqwest::blocking::get(format!("{}/v1/nowhere", w.url)).unwrap();
    assert!(r.headers().contains_key("x-request-id"));
}

#[test]
fn public_reads_are_rate_limited_per_address_with_retry_after() {
    let w = world_with(probity_server::Config {
        public: probity_server::Allowance { rate: 1, burst: 3 },
        ..Default::default()
    });
    let statuses: Vec<u16> = (0..6).map(|_| w.get("/v1/health").status().as_u16()).collect();
    assert_eq!(&statuses[..3], [200, 200, 200]);
    let r = w.get("/v1/health");
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    assert_eq!(code(&r.json().unwrap()), "rate_limited");
    // Authenticated callers are not held to the public limit.
    let r = w.send("GET", "/v1/health", Some(&w.amr), None);
    assert_eq!(r.status(), 200);
}

/// A header that does not authenticate buys nothing: such requests are public and limited per
/// address. A key that authenticates is limited on its own, apart from its address.
#[test]
fn only_a_key_that_authenticates_escapes_the_public_limit() {
    let w = world_with(allowances(5, 20));
    let with = |auth: &str| {
        let r = w.http.get(format!("{}/v1/health", w.url)).header("authorization", auth).send();
        r.unwrap().status().as_u16()
    };
    let junk: Vec<u16> = (0..10).map(|_| with("x")).collect();
    assert_eq!(junk.iter().filter(|s| **s == 429).count(), 5, "{junk:?}");
    let forged = "Bearer prb_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert_eq!(with(forged), 429, "a key that does not authenticate is public");
    // The address is spent; a real key has its own allowance, and then is limited too.
    let real: Vec<u16> = (0..25).map(|_| with(&format!("Bearer {}", w.tax))).collect();
    assert_eq!(real.iter().filter(|s| **s == 200).count(), 20, "{real:?}");
    assert_eq!(real.last(), Some(&429));
}

#[test]
fn repeated_failed_logins_are_slowed_down() {
    let w = world();
    let forged = "prb_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let time = |n: usize| {
        let start = std::time::Instant::now();
        for _ in 0..n {
            assert_eq!(w.send("POST", "/v1/records", Some(forged), Some(&json!({}))).status(), 401);
        }
        start.elapsed()
    };
    let first = time(3);
    let later = time(3);
    assert!(later >= std::time::Duration::from_millis(700), "first {first:?}, later {later:?}");
    // A good key resets the count.
    assert_eq!(
        w.send("POST", "/v1/records/batch", Some(&w.amr), Some(&json!({"records": []}))).status(),
        200
    );
}

#[test]
fn search_lists_and_rulebook() {
    let w = world();
    let hits = w.json(&format!("/v1/search?q={}", "北京测试科技有限公司"));
    assert_eq!(hits["results"][0]["id"], A);
    let hits = w.json("/v1/search?q=北京&limit=1");
    assert_eq!(hits["results"].as_array().unwrap().len(), 1);
    let next = hits["next_cursor"].as_str().unwrap();
    let page2 = w.json(&format!("/v1/search?q=北京&limit=1&cursor={next}"));
    assert_ne!(page2["results"][0]["id"], hits["results"][0]["id"]);
    // A serious penalty puts A on the serious-violation list.
    let r = w.send(
        "POST",
        "/v1/records",
        Some(&w.amr),
        Some(&record("S-1", "penalty.serious", "2026-03-01")),
    );
    assert_eq!(r.status(), 201);
    let list = w.json("/v1/lists/serious_violation");
    assert_eq!(list["entries"][0]["subject"], A);
    assert_eq!(list["entries"][0]["until"], "2029-03-01");
    let csv = w.get("/v1/lists/serious_violation?format=csv").text().unwrap();
    assert_eq!(csv, format!("subject,since,until\n{A},2026-03-01,2029-03-01\n"));
    let jsonl = w.get("/v1/lists/serious_violation?format=jsonl").text().unwrap();
    assert_eq!(jsonl.lines().count(), 1);
    assert_eq!(w.get("/v1/lists/loyalty").status(), 404);
    let book = w.json("/v1/rulebook");
    assert_eq!(book["current"]["id"], "cn-default");
    let text = w.get("/v1/rulebook/text").text().unwrap();
    assert!(text.contains("[due_process]"));
    let proof = w.json("/v1/log/proof?index=0");
    assert_eq!(proof["index"], 0);
    // Hashes in base64, as `probity log prove --json` and checkpoints write them.
    assert_eq!(proof["leaf_hash"].as_str().map(str::len), Some(44), "{proof}");
    assert_eq!(proof["root"].as_str().map(str::len), Some(44), "{proof}");
    assert!(w.get("/v1/log/checkpoint").text().unwrap().starts_with("test/log\n"));
    let today: Date = "2026-03-02".parse().unwrap();
    assert_eq!(w.json("/v1/stats/deadlines")["today"], today.to_string());
}

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    let fresh = probity_server::openapi_json();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == fresh,
        "docs/openapi.json is stale; run `UPDATE_SNAPSHOTS=1 cargo test -p probity-server` and commit it"
    );
    let doc: Value = serde_json::from_str(&fresh).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let w = world();
    assert_eq!(w.json("/v1/openapi.json"), doc);
}

/// Whether a schema says no more than "an object": no properties, no reference, no variants.
fn says_only_object(schema: &Value) -> bool {
    let object =
        schema["type"] == "object" || schema["type"] == serde_json::json!(["object", "null"]);
    object
        && ["properties", "additionalProperties", "$ref", "allOf", "oneOf", "anyOf"]
            .iter()
            .all(|k| schema.get(k).is_none())
}

/// Every schema in `v`, at any depth, with where it is.
fn schemas_in<'a>(v: &'a Value, at: String, out: &mut Vec<(String, &'a Value)>) {
    match v {
        Value::Object(o) => {
            if o.contains_key("type") || o.contains_key("$ref") {
                out.push((at.clone(), v));
            }
            for (k, child) in o {
                schemas_in(child, format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                schemas_in(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Every body the API takes or gives has a schema of its fields: none is a bare object.
#[test]
fn every_body_in_the_openapi_document_has_a_schema_of_its_fields() {
    let doc: Value = serde_json::from_str(&probity_server::openapi_json()).unwrap();
    let mut all = Vec::new();
    schemas_in(&doc["paths"], "paths".into(), &mut all);
    schemas_in(&doc["components"]["schemas"], "components".into(), &mut all);
    let bare: Vec<&String> =
        all.iter().filter(|(_, s)| says_only_object(s)).map(|(at, _)| at).collect();
    assert!(bare.is_empty(), "untyped bodies or fields: {bare:#?}");
    assert!(all.len() > 200, "the walk saw the schemas: {}", all.len());
}

#[test]
fn answers_carry_log_proofs_and_a_replayed_reply_changes_nothing() {
    let w = world();
    let r = w.send(
        "POST",
        "/v1/records",
        Some(&w.amr),
        Some(&record("P-1", "penalty.moderate", "2026-03-01")),
    );
    assert_eq!(r.status(), 201);
    let p = w.json(&format!("/v1/subjects/{A}?proof=true"));
    let proof = &p["proof"];
    assert!(proof["checkpoint"].as_str().unwrap().starts_with("test/log\n"));
    let indices: Vec<u64> =
        proof["entries"].as_array().unwrap().iter().map(|e| e["index"].as_u64().unwrap()).collect();
    assert!(indices.contains(&p["records"][0]["filed_index"].as_u64().unwrap()), "{proof}");
    let rec = w.json("/v1/records/bj-amr/P-1?proof=true");
    assert_eq!(rec["proof"]["entries"].as_array().unwrap().len(), 1);
    assert!(w.json("/v1/records/bj-amr/P-1").get("proof").is_none());

    let reply = json!({"text": "we appealed this decision"});
    let (s, first) = w.post("/v1/records/bj-amr/P-1/reply", &w.company, reply.clone());
    assert_eq!(s, 200, "{first}");
    let size = w.json("/v1/changes")["log_size"].clone();
    let (s, again) = w.post("/v1/records/bj-amr/P-1/reply", &w.company, reply);
    assert_eq!(s, 200, "{again}");
    assert_eq!(again["index"], first["index"]);
    assert_eq!(w.json("/v1/changes")["log_size"], size, "the replay journalled nothing");
}

#[test]
fn the_sweep_re_rates_subjects_as_the_calendar_moves() {
    let w = world_with(probity_server::Config {
        sweep_every: Some(std::time::Duration::from_millis(100)),
        ..unlimited()
    });
    let r = w.send(
        "POST",
        "/v1/records",
        Some(&w.amr),
        Some(&record("W-1", "penalty.serious", "2026-03-01")),
    );
    assert_eq!(r.status(), 201);
    let grade = || w.json("/v1/search?q=北京测试科技有限公司")["results"][0]["grade"].clone();
    let before = grade();
    assert_ne!(before, "A", "a serious penalty lowers the grade");
    // Years later the penalty has stopped counting; no request touches the subject, the sweep
    // re-rates it.
    w.clock.set("2031-06-01T00:00:00Z");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while grade() != "A" {
        assert!(std::time::Instant::now() < deadline, "the sweep did not re-rate: {}", grade());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn shutdown_finishes_a_write_in_flight() {
    let w = world();
    let rows: Vec<Value> =
        (0..5000).map(|i| record(&format!("G-{i}"), "penalty.minor", "2026-03-01")).collect();
    let url = format!("{}/v1/records/batch", w.url);
    let key = w.amr.clone();
    let before = w.json("/v1/changes")["log_size"].as_u64().unwrap();
    let filing = std::thread::spawn(move || {
        Client::builder()
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .unwrap()
            .post(url)
            .bearer_auth(key)
            .json(&json!({ "records": rows }))
            .send()
    });
    // Let the request arrive, then stop the server while it is being written.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let World { server, _dir: dir, .. } = w;
    server.stop().unwrap();
    let answer = filing.join().unwrap().expect("the filing was answered");
    assert_eq!(answer.status(), 200);
    let v: Value = answer.json().unwrap();
    assert!(v["results"].as_array().unwrap().iter().all(|r| r["status"] == "filed"));
    // Everything it acknowledged is in the registry.
    let reg = Registry::open(&dir.path().join("r")).unwrap();
    assert_eq!(reg.log_size().unwrap(), before + 5000);
}

#[test]
fn a_redacted_record_is_withheld_from_the_feed_and_gone_from_answers() {
    let w = world();
    let r = w.send(
        "POST",
        "/v1/records",
        Some(&w.amr),
        Some(&record("OLD-1", "penalty.minor", "2025-10-01")),
    );
    assert_eq!(r.status(), 201);
    let filed = w.json("/v1/changes")["log_size"].as_u64().unwrap() - 1;
    let gone = || {
        let r = w.get("/v1/records/bj-amr/OLD-1");
        assert_eq!(r.status(), 404);
        r.json::<Value>().unwrap()["error"]["message"].as_str().unwrap().to_owned()
    };
    assert!(gone().contains("no longer shown"), "expired, but still held");

    // The operator redacts what no longer counts (its three months are over).
    let mut reg = Registry::open(&w._dir.path().join("r")).unwrap().with_clock(w.clock.clone());
    let done = reg.redact_expired("publication period over", false, &()).unwrap();
    assert_eq!(done.redacted.len(), 1);

    let feed = w.json(&format!("/v1/changes?after={}", filed - 1));
    let changes = feed["changes"].as_array().unwrap();
    assert_eq!(changes[0]["index"], filed);
    assert_eq!((&changes[0]["type"], &changes[0]["event"]), (&json!("withheld"), &Value::Null));
    assert!(changes[0]["recorded_at"].as_str().unwrap().starts_with("2026-03-02"));
    let last = changes.last().unwrap();
    assert_eq!(last["type"], "record_redacted");
    assert_eq!(last["event"]["entries"], json!([filed]));
    assert!(gone().contains("has no record"), "no longer held at all");
    let profile = w.json(&format!("/v1/subjects/{A}"));
    assert_eq!(profile["records"], json!([]));
}

#[test]
fn a_kept_answer_is_served_only_while_the_log_is_at_the_size_it_states() {
    let w = world_with(probity_server::Config {
        follow_every: Some(std::time::Duration::from_millis(50)),
        ..unlimited()
    });
    let path = format!("/v1/check?subject={A}&measure=procurement.bid");
    let first = w.get(&path).text().unwrap();
    assert_eq!(w.get(&path).text().unwrap(), first, "the same question, the same answer");
    let answer: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(answer["decision"], "allow");
    let size = answer["log_size"].as_u64().unwrap();

    // A change through this node: the next answer is about the log with it.
    let r = w.send(
        "POST",
        "/v1/records",
        Some(&w.amr),
        Some(&record("K-1", "penalty.serious", "2026-03-01")),
    );
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    let after = w.json(&path);
    assert_eq!(after["decision"], "deny", "{after}");
    assert!(after["log_size"].as_u64().unwrap() > size);

    // A change by another handle on the same store (another process or node): the node
    // follows it, answers reflect it, and a rulebook adopted there is the one applied here.
    let mut elsewhere =
        Registry::open(&w._dir.path().join("r")).unwrap().with_clock(w.clock.clone());
    let text = probity_rules::DEFAULT_RULEBOOK
        .replacen("version = \"2026.12\"", "version = \"2026.9\"", 1)
        .replacen("effective = \"2026-01-01\"", "effective = \"2026-03-01\"", 1);
    assert!(elsewhere.adopt_rulebook(&text).unwrap());
    let size = elsewhere.log_size().unwrap();
    drop(elsewhere);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = w.json(&path);
        if now["log_size"].as_u64() == Some(size) {
            assert_eq!(now["rulebook"]["version"], "2026.9", "{now}");
            assert_eq!(now["decision"], "deny", "{now}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the node did not follow the log: {now}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let rulebook = w.json("/v1/rulebook");
    assert_eq!(rulebook["current"]["version"], "2026.9", "{rulebook}");
}

/// A server with these connection limits (seconds), a one-second request timeout, and public
/// reads unlimited.
fn with_connection_limits(header_read: u64, idle: u64, max: usize) -> World {
    world_with(probity_server::Config {
        timeout: Duration::from_secs(1),
        connections: probity_server::ConnectionLimits {
            header_read: Duration::from_secs(header_read),
            idle: Duration::from_secs(idle),
            max,
        },
        ..unlimited()
    })
}

/// Reads what the server sends on `s` until it closes the connection or `within` passes:
/// the bytes, and whether it closed.
fn read_until_closed(s: &mut std::net::TcpStream, within: Duration) -> (String, bool) {
    use std::io::Read as _;
    let end = std::time::Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while std::time::Instant::now() < end {
        s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), true),
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), false)
}

/// A client that sends its headers a byte at a time, never pausing long enough to be idle, is
/// cut off once the header-read limit passes, and is never answered.
#[test]
fn headers_sent_too_slowly_are_cut_off() {
    use std::io::Write as _;
    let w = with_connection_limits(1, 30, 64);
    let mut s = std::net::TcpStream::connect(w.server.addr).unwrap();
    let request = b"GET /v1/health HTTP/1.1\r\nhost: probity\r\nx-padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let started = std::time::Instant::now();
    let mut cut_off = false;
    for b in request {
        if s.write_all(&[*b]).is_err() {
            cut_off = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(60));
    }
    let (answer, closed) = read_until_closed(&mut s, Duration::from_secs(5));
    assert!(cut_off || closed, "the connection stayed open after {:?}", started.elapsed());
    assert!(!answer.contains("200 OK"), "a slow client was answered: {answer}");
    // The same request sent at once is answered.
    let mut s = std::net::TcpStream::connect(w.server.addr).unwrap();
    s.write_all(request).unwrap();
    let (answer, _) = read_until_closed(&mut s, Duration::from_millis(800));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// A connection on which nothing moves is closed after the idle limit, kept-alive or new,
/// long before the header-read limit would close it.
#[test]
fn idle_connections_are_closed() {
    use std::io::Write as _;
    let w = with_connection_limits(30, 2, 64);
    // A new connection that sends nothing.
    let mut silent = std::net::TcpStream::connect(w.server.addr).unwrap();
    let (_, closed) = read_until_closed(&mut silent, Duration::from_secs(10));
    assert!(closed, "a silent connection stayed open 10 s with a 2 s idle limit");
    // A kept-alive connection after its answer.
    let mut kept = std::net::TcpStream::connect(w.server.addr).unwrap();
    kept.write_all(b"GET /v1/health HTTP/1.1\r\nhost: probity\r\n\r\n").unwrap();
    let (answer, closed) = read_until_closed(&mut kept, Duration::from_secs(10));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(closed, "a kept-alive connection stayed open 10 s with a 2 s idle limit");
}

/// No more than the cap of connections is taken in at once: one more waits, unanswered, until
/// another closes, and is answered then.
#[test]
fn connections_beyond_the_cap_wait_their_turn() {
    use std::io::Write as _;
    let w = with_connection_limits(30, 30, 2);
    let request = b"GET /v1/health HTTP/1.1\r\nhost: probity\r\n\r\n";
    let mut held: Vec<std::net::TcpStream> = (0..2)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(w.server.addr).unwrap();
            s.write_all(request).unwrap();
            let (answer, _) = read_until_closed(&mut s, Duration::from_millis(500));
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
            s
        })
        .collect();
    let mut third = std::net::TcpStream::connect(w.server.addr).unwrap();
    third.write_all(request).unwrap();
    let (answer, _) = read_until_closed(&mut third, Duration::from_secs(1));
    assert_eq!(answer, "", "a connection beyond the cap was served");
    drop(held.pop());
    let (answer, _) = read_until_closed(&mut third, Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 200"), "the waiting connection was not served: {answer}");
}

/// The idle limit must exceed the request timeout, or a request being answered could be cut
/// off as idle; such a server refuses to start.
#[test]
fn an_idle_limit_within_the_request_timeout_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::init(&dir.path().join("r"), None).unwrap();
    let config = probity_server::Config {
        timeout: Duration::from_secs(30),
        connections: probity_server::ConnectionLimits {
            idle: Duration::from_secs(30),
            ..Default::default()
        },
        ..Default::default()
    };
    let server = probity_server::spawn(reg, "127.0.0.1:0".parse().unwrap(), config).unwrap();
    let err = server.stop().unwrap_err();
    assert!(err.to_string().contains("idle timeout"), "{err}");
}

/// The metrics page is the operator's, and what a request does moves the counters it should:
/// its route's duration histogram, the check answers by decision, kept answers, filings by
/// outcome; the log size is read when the page is asked for.
#[test]
fn metrics_move_with_the_requests_they_count() {
    let w = world();
    assert_eq!(w.get("/metrics").status(), 401);
    assert_eq!(w.send("GET", "/metrics", Some(&w.amr), None).status(), 403);
    let page = |w: &World| {
        let r = w.send("GET", "/metrics", Some(&w.operator), None);
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        r.text().unwrap()
    };
    let value = |page: &str, series: &str| -> f64 {
        page.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
            .unwrap_or(0.0)
    };
    let before = page(&w);
    let check = format!("/v1/check?subject={A}&measure=procurement.bid");
    let answer = w.json(&check);
    let decision = answer["decision"].as_str().unwrap().to_owned();
    w.json(&check); // the same question again: a kept answer
    let record = json!({"authority": "bj-amr", "decision_no": "M-1", "subject": A,
        "kind": "penalty.minor", "decided": "2026-03-01", "effective": "2026-03-02",
        "basis": "Art. 28"});
    assert_eq!(w.post("/v1/records", &w.amr, record.clone()).0, 201);
    assert_eq!(w.post("/v1/records", &w.amr, record).0, 200);
    let after = page(&w);

    let answers = format!(
        "probity_check_answers_total{{measure=\"procurement.bid\",decision=\"{decision}\"}}"
    );
    assert_eq!(value(&after, &answers) - value(&before, &answers), 2.0, "{after}");
    let kept = "probity_kept_answers_served_total";
    assert_eq!(value(&after, kept) - value(&before, kept), 1.0);
    for (outcome, n) in [("filed", 1.0), ("duplicate", 1.0)] {
        let series = format!("probity_filings_total{{name=\"{outcome}\"}}");
        assert_eq!(value(&after, &series), n, "{series}");
    }
    let route = "probity_http_request_duration_seconds_count{route=\"/v1/check\",status=\"200\"}";
    assert_eq!(value(&after, route) - value(&before, route), 2.0, "{after}");
    assert!(value(&after, "probity_log_size") > value(&before, "probity_log_size"));
    assert!(after.contains("probity_deadlines{state=\"pending\"}"), "{after}");
    assert!(after.contains("probity_rating_lag_subjects"), "{after}");

    // The dashboard in docs/ charts only series the page has.
    let dashboard = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/grafana-dashboard.json"
    ))
    .unwrap();
    let mut charted = 0;
    for (at, _) in dashboard.match_indices("probity_") {
        let name: String = dashboard[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name == "probity_" {
            continue;
        }
        charted += 1;
        // A family with no sample yet is on the page by its name and type alone.
        let family = ["_total", "_bucket", "_count", "_sum"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(&name);
        assert!(
            after.contains(&format!("# TYPE {family} ")),
            "the dashboard charts `{name}`, which the page lacks"
        );
    }
    assert!(charted >= 10, "{charted}");
}

/// An inspection plan body on drand quicknet round `round`.
fn inspection_plan(plan_no: &str, authority: &str, ratio_a: u32, round: u64) -> Value {
    json!({
        "authority": authority, "plan_no": plan_no, "title": "Annual reports",
        "basis": "Interim Regulations on Enterprise Information Publicity, Art. 14",
        "scope": {"regions": ["11"], "kinds": ["enterprise"]}, "items": ["annual_report"],
        "ratios": {"A": ratio_a, "B": 200, "C": 1000, "D": 3000}, "teams": 2,
        "team_commitment": "ab".repeat(32),
        "beacon": {"chain": "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971", "round": round}
    })
}

#[test]
fn an_authority_plans_and_draws_an_inspection_that_anyone_can_read_with_proofs() {
    // A registry of 2023, so that a plan can precede drand quicknet round 123.
    let (_dir, mut reg, clock) = registry_at("2023-08-23T08:00:00Z");
    let amr = reg
        .issue_key(&Actor::Authority(probity_core::Slug::parse("a", "bj-amr").unwrap()), None)
        .unwrap();
    let tax = reg
        .issue_key(&Actor::Authority(probity_core::Slug::parse("a", "bj-tax").unwrap()), None)
        .unwrap();
    let server = probity_server::spawn(reg, "127.0.0.1:0".parse().unwrap(), unlimited()).unwrap();
    let url = format!("http://{}", server.addr);
    let http = Client::new();
    let post = |path: &str, key: &str, body: &Value| {
        let r = http.post(format!("{url}{path}")).bearer_auth(key).json(body).send().unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().unwrap_or(Value::Null))
    };

    let (s, v) = post("/v1/inspections", &amr, &inspection_plan("P-7", "bj-amr", 100, 123));
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["plan"]["status"], "awaiting_beacon");
    let (s, _) = post("/v1/inspections", &amr, &inspection_plan("P-7", "bj-amr", 100, 123));
    assert_eq!(s, 200, "the same plan again");
    let (s, v) = post("/v1/inspections", &tax, &inspection_plan("P-8", "bj-amr", 100, 123));
    assert_eq!((s, code(&v)), (403, "forbidden"), "{v}");
    let (s, v) = post("/v1/inspections", &amr, &inspection_plan("P-9", "bj-amr", 0, 123));
    assert_eq!(s, 422, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("no one is exempt"), "{v}");
    let mut extra = inspection_plan("P-9", "bj-amr", 100, 123);
    extra["inspector"] = json!("a name");
    let (s, v) = post("/v1/inspections", &amr, &extra);
    assert_eq!(s, 422, "an unknown field is refused: {v}");

    clock.set("2023-08-24T09:00:00Z");
    let draw = "/v1/inspections/bj-amr/P-7/draw";
    let sig = "b75c69d0b72a5d906e854e808ba7e2accb1542ac355ae486d591aa9d43765482e26cd02df835d3546d23c4b13e0dfc92";
    let (s, v) = post(draw, &amr, &json!({"round": 123, "signature": sig.replace("b75c", "b75d")}));
    assert_eq!(s, 422, "a bad signature: {v}");
    let (s, v) = post(draw, &amr, &json!({"round": 123, "signature": sig, "randomness": "00"}));
    assert_eq!(s, 422, "a randomness that is not the signature's: {v}");
    let (s, v) = post(draw, &tax, &json!({"round": 123, "signature": sig}));
    assert_eq!(s, 403, "{v}");
    let (s, v) = post(draw, &amr, &json!({"round": 123, "signature": sig}));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["plan"]["status"], "drawn");
    assert!(v["index"].is_u64());
    let selected = v["plan"]["draw"]["selected"].as_array().unwrap().len();
    assert!(selected >= 1, "no one is exempt: {v}");

    // An outcome is filed like any record, naming the plan; a firm not drawn cannot have one.
    let drawn_firm = v["plan"]["draw"]["selected"][0]["subject"].as_str().unwrap().to_owned();
    let outcome = |no: &str, subject: &str| {
        json!({"authority": "bj-amr", "decision_no": no, "subject": subject,
               "kind": "inspection.issues_found", "decided": "2023-08-24", "effective": "2023-08-24",
               "basis": "Art. 14", "inspection_plan": "P-7"})
    };
    let (s, v) = post("/v1/records", &amr, &outcome("R-1", &drawn_firm));
    assert_eq!(s, 201, "{v}");
    let other = probity_store::conformance::uscc(42);
    let undrawn = [common::A, other.as_str()].into_iter().find(|c| *c != drawn_firm).unwrap();
    let (s, v) = post("/v1/records", &amr, &outcome("R-2", undrawn));
    assert_eq!(s, 422, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("did not select"), "{v}");
    let profile: Value =
        http.get(format!("{url}/v1/subjects/{drawn_firm}")).send().unwrap().json().unwrap();
    assert_eq!(profile["inspections"][0]["outcome"]["decision_no"], "R-1", "{profile}");

    let list: Value = http.get(format!("{url}/v1/inspections")).send().unwrap().json().unwrap();
    assert_eq!(list["plans"].as_array().unwrap().len(), 1);
    let one: Value = http
        .get(format!("{url}/v1/inspections/bj-amr/P-7?proof=true"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(one["proof"]["entries"].as_array().unwrap().len(), 2, "{one}");
    assert_eq!(one["outcomes"].as_array().unwrap().len(), 1, "{one}");
    assert!(one["publish_by"].is_string());
    let r = http.get(format!("{url}/v1/inspections/bj-amr/none")).send().unwrap();
    assert_eq!(r.status(), 404);
    server.stop().unwrap();
}

#[test]
fn a_check_reads_the_same_answer_on_the_request_s_worker_and_on_the_blocking_pool() {
    let answers = [false, true].map(|blocking_reads| {
        let w =
            world_with(probity_server::Config { blocking_reads, answer_cache: 0, ..unlimited() });
        let filed = record("AB-9", "registration.abnormal", "2026-03-01");
        assert_eq!(w.send("POST", "/v1/records", Some(&w.amr), Some(&filed)).status(), 201);
        ["procurement.bid", "subsidy.grant", "licence.fast_track"]
            .map(|m| w.json(&format!("/v1/check?subject={A}&measure={m}")))
    });
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0][0]["decision"], "flag", "{}", answers[0][0]);
}

#[test]
fn checks_asked_at_once_from_the_blocking_pool_are_each_answered_as_if_asked_alone() {
    // On a store that does not read in place (here: SQLite with every read on the blocking
    // pool), checks asked at once are read together; each must get its own answer.
    let w =
        world_with(probity_server::Config { blocking_reads: true, answer_cache: 0, ..unlimited() });
    let filed = record("AB-9", "registration.abnormal", "2026-03-01");
    assert_eq!(w.send("POST", "/v1/records", Some(&w.amr), Some(&filed)).status(), 201);
    let other = probity_store::conformance::uscc(42);
    let mut paths = Vec::new();
    for s in [A, other.as_str()] {
        for m in ["procurement.bid", "subsidy.grant", "licence.fast_track", "no.such_measure"] {
            paths.push(format!("/v1/check?subject={s}&measure={m}"));
        }
    }
    // Unknown, failing its checksum, and an individually owned business.
    for s in
        [probity_store::conformance::uscc(77).as_str(), "91110000100000000X", "92110000MA01XXXX0X"]
    {
        paths.push(format!("/v1/check?subject={s}&measure=procurement.bid"));
    }
    let ask = |p: &str| {
        let r = w.get(p);
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    let alone: Vec<_> = paths.iter().map(|p| ask(p)).collect();
    assert_eq!(alone[0].1["decision"], "flag", "{:?}", alone[0]);
    assert_eq!(alone[3].0, 404, "{:?}", alone[3]);
    assert!(alone.iter().all(|(status, _)| *status < 500), "{alone:?}");
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let (paths, alone, ask) = (&paths, &alone, &ask);
                scope.spawn(move || {
                    for round in 0..10 {
                        let i = (t * 7 + round * 3) % paths.len();
                        assert_eq!(ask(&paths[i]), alone[i], "{}", paths[i]);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    });
}
