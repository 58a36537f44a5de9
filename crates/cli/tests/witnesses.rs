//! Three registries on this machine, each a `probity serve` process with its own directory,
//! witness each other's logs. When one of them shows a second history (a checkpoint of the
//! same size with another root, or a rewritten log re-signed with its own key), the others
//! refuse to cosign it, a reader with a 2-of-3 policy rejects what it serves, and once it is
//! back on its true history cosigning goes on.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use probity_tlog::policy::{Policy, PolicyError};
use probity_tlog::witness::AddCheckpoint;
use probity_tlog::{Checkpoint, NoteSigner, note_text};

fn probity(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_probity"));
    c.arg("--data").arg(data).env("NO_COLOR", "1").env_remove("RUST_LOG");
    c
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A port free now, for a server started next with a known address.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Node {
    child: Child,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `probity serve` on `data` at `port` and waits until it listens.
fn serve(data: &Path, port: u16) -> Node {
    let mut child = probity(data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--sweep-minutes", "0"])
        .args(["--public-rate", "100000", "--public-burst", "100000", "--follow-ms", "100"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    loop {
        let line = err.next().expect("the node says where it listens").unwrap();
        if line.starts_with("listening on ") {
            break;
        }
    }
    std::thread::spawn(move || for _ in err {});
    Node { child }
}

fn get(url: &str) -> (u16, String) {
    let r = reqwest::blocking::get(url).unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

/// Waits until `what` holds, for at most 20 s.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(20), "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Registry {
    name: &'static str,
    data: PathBuf,
    port: u16,
    log_key: String,
    witness_key: String,
}

impl Registry {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Imports the synthetic authorities and subjects in `generated` into `data`.
fn import(data: &Path, generated: &Path) {
    for table in ["authorities", "subjects"] {
        ok(probity(data).args(["import", table]).arg(generated.join(format!("{table}.csv"))));
    }
}

/// The cosigned checkpoint `reg` serves, once it covers the whole log and `policy` accepts it.
fn cosigned_whole(reg: &Registry, policy: &Policy) -> Option<(String, Checkpoint)> {
    let (status, note) = get(&format!("{}/v1/log/checkpoint", reg.url()));
    let (_, latest) = get(&format!("{}/v1/log/checkpoint/latest", reg.url()));
    let latest = Checkpoint::parse(note_text(&latest)).ok()?;
    if status != 200 {
        return None;
    }
    let accepted = policy.check(&note).ok()?;
    (accepted.checkpoint == latest && accepted.cosigners.len() == 3)
        .then_some((note, accepted.checkpoint))
}

#[test]
fn witnesses_refuse_a_second_history_and_readers_with_a_quorum_reject_it() {
    let tmp = tempfile::tempdir().unwrap();
    let gen_dir = |seed: &str| {
        let out = tmp.path().join(format!("gen-{seed}"));
        ok(probity(tmp.path())
            .args([
                "generate",
                "--enterprises",
                "30",
                "--records",
                "0",
                "--dirty",
                "0",
                "--seed",
                seed,
            ])
            .arg("--out")
            .arg(&out));
        out
    };
    let (true_data, other_data) = (gen_dir("1"), gen_dir("2"));

    // Three registries; each witnesses all three logs, and each log's policy asks all three
    // witnesses and needs two of them.
    let regs: Vec<Registry> = ["a", "b", "c"]
        .into_iter()
        .map(|name| {
            let data = tmp.path().join(name);
            ok(probity(&data).args(["init", "--origin", &format!("{name}.test/log")]));
            let log_key = ok(probity(&data).args(["log", "key"])).trim().to_owned();
            let witness_key = ok(probity(&data).args(["witness", "key"])).trim().to_owned();
            Registry { name, data, port: free_port(), log_key, witness_key }
        })
        .collect();
    let mut policy_text = String::new();
    for w in &regs {
        policy_text.push_str(&format!(
            "witness {} {} {}/witness\n",
            w.name,
            w.witness_key,
            w.url()
        ));
    }
    policy_text.push_str("group two-of-three 2 a b c\nquorum two-of-three\n");
    let policy_file = tmp.path().join("policy");
    for r in &regs {
        for log in &regs {
            ok(probity(&r.data).args(["witness", "follow", &log.log_key]));
        }
        // The reader's policy names the log's key too.
        std::fs::write(&policy_file, format!("log {}\n{policy_text}", r.log_key)).unwrap();
        ok(probity(&r.data).args(["witness", "policy"]).arg(&policy_file));
    }
    let reader =
        |r: &Registry| Policy::parse(&format!("log {}\n{policy_text}", r.log_key)).unwrap();
    let reader_file = |r: &Registry| {
        let path = tmp.path().join(format!("reader-{}", r.name));
        std::fs::write(&path, format!("log {}\n{policy_text}", r.log_key)).unwrap();
        path
    };
    let audit = |r: &Registry| {
        run(probity(tmp.path()).args(["audit", "--from", &r.url(), "--policy"]).arg(reader_file(r)))
    };

    let mut nodes: Vec<Option<Node>> = regs.iter().map(|r| Some(serve(&r.data, r.port))).collect();
    let a = &regs[0];
    import(&a.data, &true_data);
    // Every log gets cosigned by all three, and a reader with the policy accepts it.
    let mut true_view = None;
    eventually("a's whole log is cosigned by three witnesses", || {
        true_view = cosigned_whole(a, &reader(a));
        true_view.is_some()
    });
    for r in &regs[1..] {
        eventually(&format!("{}'s log is cosigned", r.name), || {
            cosigned_whole(r, &reader(r)).is_some()
        });
    }
    let out = audit(a);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("cosigned by a, b, c"));
    let (_, true_cp) = true_view.unwrap();
    // The receipt of a check with proofs names the witnesses who cosigned.
    let subjects = std::fs::read_to_string(true_data.join("subjects.csv")).unwrap();
    let subject = subjects.lines().nth(1).unwrap().split(',').next().unwrap().to_owned();
    let out = run(probity(&a.data).args(["check", &subject, "procurement.bid", "--proof"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("cosigned by a, b, c"), "{text}");

    // 1. The log's key signs a second checkpoint of the same size with another root: the
    // other witnesses refuse it.
    let key = NoteSigner::parse(&std::fs::read_to_string(a.data.join("log.key")).unwrap()).unwrap();
    let forged = Checkpoint { root: [0x5a; 32], ..true_cp.clone() };
    let fork = AddCheckpoint { old: true_cp.size, proof: vec![], note: key.sign(&forged.text()) };
    for w in &regs[1..] {
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/witness/add-checkpoint", w.url()))
            .body(fork.encode())
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 409, "{}", w.name);
        assert_eq!(r.text().unwrap(), format!("{}\n", true_cp.size));
    }

    // 2. The operator rewrites the log: another history under the same key, served at the
    // same address. Only its own witness (run by the same operator, whose state for this log
    // is gone with the rewrite) can be made to cosign it; the others refuse.
    nodes[0] = None;
    let kept = tmp.path().join("a-true");
    std::fs::rename(&a.data, &kept).unwrap();
    ok(probity(&a.data).args(["init", "--origin", "a.test/log"]));
    for f in ["log.key", "witness.key", "witnessing", "witnesses"] {
        std::fs::copy(kept.join(f), a.data.join(f)).unwrap();
    }
    import(&a.data, &other_data);
    nodes[0] = Some(serve(&a.data, a.port));
    eventually("b and c refuse the rewritten log", || {
        let (_, ready) = get(&format!("{}/v1/ready", a.url()));
        let ready: serde_json::Value = serde_json::from_str(&ready).unwrap();
        let w = ready["witnesses"].as_array().unwrap();
        w.len() == 3
            && w[0]["ok"] == true
            && w[1..].iter().all(|s| {
                s["ok"] == false
                    && s["last_error"].as_str().is_some_and(|e| {
                        e.contains("422") || e.contains("409") || e.contains("another history")
                    })
            })
    });
    // The log can show at most its own witness's cosignature: the reader rejects it.
    let (status, _) = get(&format!("{}/v1/log/checkpoint", a.url()));
    assert_eq!(status, 503, "no checkpoint of the rewritten log met the policy");
    let (_, latest) = get(&format!("{}/v1/log/checkpoint/latest", a.url()));
    let size = Checkpoint::parse(note_text(&latest)).unwrap().size;
    let own = reqwest::blocking::Client::new()
        .post(format!("{}/witness/add-checkpoint", a.url()))
        .body(AddCheckpoint { old: size, proof: vec![], note: latest.clone() }.encode())
        .send()
        .unwrap()
        .text()
        .unwrap();
    let best = if own.starts_with('\u{2014}') { format!("{latest}{own}") } else { latest };
    match reader(a).check(&best) {
        Err(PolicyError::NoQuorumMet { cosigners, .. }) => {
            assert!(cosigners.len() <= 1 && !cosigners.iter().any(|c| c == "b" || c == "c"))
        }
        other => panic!("the reader accepted a rewritten log: {other:?}"),
    }
    let out = audit(a);
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));

    // 3. The log returns to its true history: cosigning goes on from where it was.
    nodes[0] = None;
    std::fs::remove_dir_all(&a.data).unwrap();
    std::fs::rename(&kept, &a.data).unwrap();
    nodes[0] = Some(serve(&a.data, a.port));
    // (A code the other history gave another name is rejected: exit status 3.)
    let grown =
        run(probity(&a.data).args(["import", "subjects"]).arg(other_data.join("subjects.csv")));
    assert!(matches!(grown.status.code(), Some(0 | 3)), "{grown:?}");
    eventually("the grown true log is cosigned by three witnesses again", || {
        cosigned_whole(a, &reader(a)).is_some_and(|(_, cp)| cp.size > true_cp.size)
    });
    let out = audit(a);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    drop(nodes);
}
