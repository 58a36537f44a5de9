//! A server's answers follow from the log whatever other writers did: it starts by rating what
//! a killed writer left unrated, goes on writing while other processes append to its registry,
//! and rates what such a process left behind once it has gone quiet.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use probity_core::{Event, EventBody, Timestamp};
use probity_registry::{Actor, FixedClock, Registry};
use probity_store::Store as _;
use probity_stores::Stores as _;
use serde_json::Value;

const A: &str = "91110000600037341L";

fn clock() -> FixedClock {
    FixedClock("2026-03-02T08:00:00Z".parse::<Timestamp>().unwrap())
}

/// A rated registry with one authority and one clean company, and a key of that authority.
fn registry(dir: &std::path::Path) -> (Registry, String) {
    populate(Registry::init_with_clock(&dir.join("r"), None, "test/log", clock()).unwrap())
}

/// Adds to a new registry one authority and one clean company, rates it, and issues a key of
/// that authority.
fn populate(mut reg: Registry) -> (Registry, String) {
    let amr = probity_core::Authority::new("bj-amr", "北京市场监管", "market_regulation", "110000");
    reg.register_authority(amr.unwrap()).unwrap();
    let mut rejects = Vec::new();
    reg.import(
        probity_registry::Table::Subjects,
        probity_registry::Format::Csv,
        std::io::Cursor::new(format!("id,name,established\n{A},北京测试有限公司,2010-01-01\n")),
        probity_registry::ImportOptions::default(),
        &(),
        &mut rejects,
    )
    .unwrap();
    let today = reg.today();
    reg.rate_pass(today, true, &()).unwrap();
    let key = reg
        .issue_key(&Actor::Authority(probity_core::Slug::parse("a", "bj-amr").unwrap()), None)
        .unwrap();
    (reg, key)
}

fn serious(decision_no: &str) -> String {
    format!(
        r#"{{"authority":"bj-amr","decision_no":"{decision_no}","subject":"{A}","kind":"penalty.serious","decided":"2026-02-20","effective":"2026-03-01","basis":"Art. 49"}}"#
    )
}

/// What a writer in another process leaves when it is killed after its append committed and
/// before it rated.
fn append_and_stop(dir: &std::path::Path, reg: &Registry, row: &str) {
    let record = reg.parse_record(row).unwrap();
    let event = Event::new(clock().now(), EventBody::RecordFiled { record }).into();
    let mut store = probity_sqlite::SqliteStore::open(dir).unwrap();
    let out = store.append(&[event]).unwrap();
    assert!(matches!(out[..], [probity_store::Outcome::Appended { .. }]), "{out:?}");
}

use probity_registry::Clock as _;

fn get(url: &str) -> Value {
    let r = reqwest::blocking::get(url).unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().unwrap()
}

fn listed(url: &str) -> Vec<String> {
    get(&format!("{url}/v1/lists/serious_violation"))["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["subject"].as_str().unwrap().to_owned())
        .collect()
}

fn decision(url: &str) -> String {
    get(&format!("{url}/v1/check?subject={A}&measure=procurement.bid"))["decision"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_server_started_after_a_kill_serves_nothing_the_log_does_not_say() {
    let dir = tempfile::tempdir().unwrap();
    let (reg, _) = registry(dir.path());
    append_and_stop(reg.dir(), &reg, &serious("S-1"));
    let server =
        probity_server::spawn(reg, "127.0.0.1:0".parse().unwrap(), Default::default()).unwrap();
    let url = format!("http://{}", server.addr);
    assert_eq!(decision(&url), "deny");
    assert_eq!(listed(&url), [A], "the start rated what the killed writer left");
}

#[test]
fn a_server_goes_on_while_other_processes_append_and_rates_what_they_leave() {
    let dir = tempfile::tempdir().unwrap();
    let (reg, key) = registry(dir.path());
    let path = reg.dir().to_path_buf();
    let mut other = Registry::open(&path).unwrap().with_clock(clock());
    let config = probity_server::Config {
        follow_every: Some(std::time::Duration::from_millis(50)),
        ..Default::default()
    };
    let server = probity_server::spawn(reg, "127.0.0.1:0".parse().unwrap(), config).unwrap();
    let url = format!("http://{}", server.addr);
    assert_eq!(decision(&url), "allow");

    // Another process adds an exception; the server's next filing goes through.
    assert!(other.admit_code_exception("91110000600037341X", "issued before the check").unwrap());
    let http = reqwest::blocking::Client::new();
    let file = |row: String| {
        let body: Value = serde_json::from_str(&row).unwrap();
        http.post(format!("{url}/v1/records")).bearer_auth(&key).json(&body).send().unwrap()
    };
    let r = file(serious("S-1"));
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    assert_eq!(decision(&url), "deny");
    assert_eq!(listed(&url), [A]);

    // Another process is killed between appending and rating: the answer is computed at once,
    // and once the log has stood still the server rates what the process left.
    let withdrawn = Event::new(
        clock().now(),
        EventBody::RecordWithdrawn {
            key: probity_core::RecordKey {
                authority: probity_core::Slug::parse("a", "bj-amr").unwrap(),
                decision_no: "S-1".into(),
            },
            reason: "annulled on review".into(),
        },
    );
    let mut store = probity_sqlite::SqliteStore::open(&path).unwrap();
    store.append(&[withdrawn.into()]).unwrap();
    // (An answer kept from before states the log size it reflects, and is served until the
    // node follows the log to the new size.)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while decision(&url) != "allow" || !listed(&url).is_empty() {
        assert!(std::time::Instant::now() < deadline, "the withdrawal is not followed");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let r = file(serious("S-2"));
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
}

/// A store that fails is the server's failure (500, its cause logged), and one that goes away is
/// unavailable (503): never a refusal of the request (422). Nothing is half-written either way.
#[test]
fn a_failing_store_is_a_server_error_and_leaves_nothing_half_written() {
    let dir = tempfile::tempdir().unwrap();
    let memory = probity_memory::MemoryStore::new();
    let open = memory.opener();
    let connect: probity_registry::Connector = std::sync::Arc::new(move || Ok(Box::new(open())));
    let path = dir.path().join("r");
    let (reg, key) = populate(
        Registry::init_on(&path, Box::new(memory.handle()), connect, None, "test/log", clock())
            .unwrap(),
    );
    let config = probity_server::Config { follow_every: None, ..Default::default() };
    let server = probity_server::spawn(reg, "127.0.0.1:0".parse().unwrap(), config).unwrap();
    let url = format!("http://{}", server.addr);
    let http = reqwest::blocking::Client::new();
    let file = |no: &str| {
        let body: Value = serde_json::from_str(&serious(no)).unwrap();
        http.post(format!("{url}/v1/records")).bearer_auth(&key).json(&body).send().unwrap()
    };
    let size = |m: &probity_memory::MemoryStore| m.log_size().unwrap();
    let before = size(&memory);
    // (Once this is answered, the server has started: its start-up sweep has run.)
    assert_eq!(decision(&url), "allow");

    // The append itself fails: nothing is journalled.
    memory.fail_write(0, probity_memory::Fault::Failed);
    let r = file("S-1");
    assert_eq!(r.status(), 500);
    assert_eq!(r.json::<Value>().unwrap()["error"]["code"], "internal");
    assert_eq!(size(&memory), before, "a failed append journals nothing");
    memory.fail_write(0, probity_memory::Fault::Unavailable);
    let r = file("S-1");
    assert_eq!(r.status(), 503);
    assert_eq!(r.json::<Value>().unwrap()["error"]["code"], "unavailable");
    assert_eq!(size(&memory), before);

    // The append commits and rating fails: the filing is in the log, and the answer follows
    // from it all the same.
    memory.fail_write(1, probity_memory::Fault::Failed);
    let r = file("S-1");
    assert_eq!(r.status(), 500);
    assert_eq!(size(&memory), before + 1);
    assert_eq!(decision(&url), "deny");
    // Filing again is a duplicate, as the log says.
    let r = file("S-1");
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
}
