//! The registry as a witness (C2SP tlog-witness) against a real server on 127.0.0.1:0: every
//! status the specification gives, the size check and store as one step under concurrent
//! requests, bounded and rate-limited requests, and cosignatures verified by an implementation
//! we did not write (the `sigsum` crate, 0.3).

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use probity_stores::Stores as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use probity_registry::Registry;
use probity_tlog::witness::AddCheckpoint;
use probity_tlog::{Checkpoint, CosignatureVerifier, MemoryTree, NoteSigner};
use reqwest::blocking::Client;
use sha2::{Digest, Sha256};

/// A log the witness follows, played by the test: a tree and its signing key.
struct Log {
    signer: NoteSigner,
    tree: MemoryTree,
}

impl Log {
    fn new(origin: &str, seed: u8, leaves: u64) -> Self {
        let mut tree = MemoryTree::default();
        for i in 0..leaves {
            tree.append(format!("{origin} entry {i}").as_bytes());
        }
        Self { signer: NoteSigner::from_seed(origin, [seed; 32]).unwrap(), tree }
    }

    fn checkpoint(&self, size: u64) -> Checkpoint {
        Checkpoint {
            origin: self.signer.name().to_owned(),
            size,
            root: self.tree.root_at(size).unwrap(),
        }
    }

    fn request(&self, old: u64, size: u64) -> AddCheckpoint {
        let proof = if old == 0 || old == size {
            Vec::new()
        } else {
            self.tree.consistency_proof(old, size).unwrap()
        };
        AddCheckpoint { old, proof, note: self.signer.sign(&self.checkpoint(size).text()) }
    }
}

struct Witness {
    _dir: tempfile::TempDir,
    _server: probity_server::Running,
    url: String,
    key: CosignatureVerifier,
    /// The witness key's raw Ed25519 public key.
    public: [u8; 32],
    http: Client,
}

impl Witness {
    /// A registry witnessing `followed` (lines of its `witnessing` file), served with a public
    /// allowance of `burst` requests.
    fn start(followed: &str, burst: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("w");
        let reg = Registry::init_with_origin(&data, None, "witness.example/log").unwrap();
        std::fs::write(data.join(probity_registry::FOLLOWED_FILE), followed).unwrap();
        let cosigner = reg.witness_key().unwrap();
        let key = CosignatureVerifier::parse(&cosigner.verifier_key()).unwrap();
        let public = cosigner.public_key();
        let reg = Registry::open(&data).unwrap();
        let config = probity_server::Config {
            public: probity_server::Allowance { rate: 1, burst },
            ..Default::default()
        };
        let server = probity_server::spawn(reg, "127.0.0.1:0".parse().unwrap(), config).unwrap();
        let url = format!("http://{}/witness/add-checkpoint", server.addr);
        Self { _dir: dir, _server: server, url, key, public, http: Client::new() }
    }

    fn post(&self, body: impl Into<reqwest::blocking::Body>) -> (u16, String, String) {
        let r = self.http.post(&self.url).body(body).send().unwrap();
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, ct, r.text().unwrap())
    }

    fn add(&self, request: &AddCheckpoint) -> (u16, String, String) {
        self.post(request.encode())
    }
}

#[test]
fn the_witness_answers_every_status_of_the_specification() {
    let log = Log::new("log.example/one", 1, 40);
    let witness = Witness::start(&format!("log {}\n", log.signer.verifier_key()), 1000);

    // 200: the first checkpoint, from size 0; the cosignature is by the witness's key.
    let (status, _, body) = witness.add(&log.request(0, 10));
    assert_eq!(status, 200, "{body}");
    let note = log.request(0, 10).note;
    let time = witness.key.cosigned(&format!("{note}{body}")).unwrap();
    assert!(time.is_some(), "{body}");

    // 409: an old size other than the one cosigned; the body is that size.
    let (status, ct, body) = witness.add(&log.request(0, 12));
    assert_eq!((status, ct.as_str(), body.as_str()), (409, "text/x.tlog.size", "10\n"));
    let (status, _, body) = witness.add(&log.request(8, 12));
    assert_eq!((status, body.as_str()), (409, "10\n"));

    // 409: the same size with another root (a second view of the log at size 10).
    let forged = Checkpoint { root: [7; 32], ..log.checkpoint(10) };
    let fork = AddCheckpoint { old: 10, proof: vec![], note: log.signer.sign(&forged.text()) };
    let (status, ct, body) = witness.add(&fork);
    assert_eq!((status, ct.as_str(), body.as_str()), (409, "text/x.tlog.size", "10\n"));

    // 422: a proof that does not lead from the cosigned root to the new one.
    let mut bad = log.request(10, 20);
    bad.proof[0][0] ^= 1;
    let (status, _, body) = witness.add(&bad);
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("consistency proof from size 10 to 20"), "{body}");

    // 400: an old size beyond the checkpoint's, and bodies that are not requests.
    let mut beyond = log.request(10, 20);
    beyond.old = 21;
    assert_eq!(witness.add(&beyond).0, 400);
    for body in ["", "old ten\n\n", "old 10\n!!\n\nx", "old 10\n"] {
        let (status, _, text) = witness.post(body);
        assert_eq!(status, 400, "{body:?}: {text}");
        assert!(text.contains("malformed"), "{text}");
    }

    // 403: signed by a key the witness does not trust for this origin.
    let stranger = NoteSigner::from_seed("log.example/one", [9; 32]).unwrap();
    let untrusted =
        AddCheckpoint { note: stranger.sign(&log.checkpoint(20).text()), ..log.request(10, 20) };
    assert_eq!(witness.add(&untrusted).0, 403);

    // 404: a log it does not follow.
    let other = Log::new("log.example/two", 2, 5);
    let (status, _, body) = witness.add(&other.request(0, 5));
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("log.example/two"), "{body}");

    // None of that moved the state: the right request still goes through, and the next.
    assert_eq!(witness.add(&log.request(10, 20)).0, 200);
    assert_eq!(witness.add(&log.request(20, 20)).0, 200);
    assert_eq!(witness.add(&log.request(20, 40)).0, 200);

    // 413: a body beyond the bound is refused before it is read whole.
    let huge = format!("old 40\n{}", "A".repeat(probity_server::WITNESS_BODY_LIMIT + 1));
    assert_eq!(witness.post(huge).0, 413);
}

#[test]
fn of_concurrent_requests_from_one_state_exactly_one_is_cosigned() {
    let log = Log::new("log.example/one", 1, 64);
    let witness = Witness::start(&format!("log {}\n", log.signer.verifier_key()), 1000);
    assert_eq!(witness.add(&log.request(0, 8)).0, 200);
    // Twelve requests, all from size 8, each to another size: one wins, the rest learn its
    // size, and no two views were cosigned.
    let statuses: Vec<(u16, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..12u64)
            .map(|i| {
                let (witness, log) = (&witness, &log);
                s.spawn(move || {
                    let (status, _, body) = witness.add(&log.request(8, 20 + i));
                    (status, body)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won: Vec<_> = statuses.iter().filter(|(s, _)| *s == 200).collect();
    assert_eq!(won.len(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|(s, _)| *s == 200 || *s == 409), "{statuses:?}");
    let sizes: std::collections::BTreeSet<&str> =
        statuses.iter().filter(|(s, _)| *s == 409).map(|(_, b)| b.as_str()).collect();
    assert_eq!(sizes.len(), 1, "every loser is told the one size stored: {sizes:?}");
}

#[test]
fn requests_beyond_the_allowance_are_refused_with_429() {
    let log = Log::new("log.example/one", 1, 8);
    let witness = Witness::start(&format!("log {}\n", log.signer.verifier_key()), 3);
    let statuses: Vec<u16> = (0..6).map(|_| witness.add(&log.request(0, 8)).0).collect();
    assert!(statuses.contains(&429), "{statuses:?}");
}

/// The cosignature as sigsum's verifier reads it: the witness's key hash, the time and the
/// signature, in hex.
fn sigsum_cosignature(line: &str, witness_public: &[u8; 32]) -> String {
    let blob = B64.decode(line.trim().rsplit(' ').next().unwrap()).unwrap();
    let time = u64::from_be_bytes(blob[4..12].try_into().unwrap());
    format!(
        "cosignature={} {time} {}",
        hex::encode(Sha256::digest(witness_public)),
        hex::encode(&blob[12..])
    )
}

#[test]
fn sigsum_verifies_the_cosignatures_of_a_probity_witness() {
    // A sigsum log: its checkpoints' origin is `sigsum.org/v1/tree/<hex SHA-256 of its key>`.
    let log_key = ed25519_dalek::SigningKey::from_bytes(&[21; 32]);
    let log_public = log_key.verifying_key().to_bytes();
    let origin = format!("sigsum.org/v1/tree/{}", hex::encode(Sha256::digest(log_public)));
    let log_signer = NoteSigner::from_seed(&origin, [21; 32]).unwrap();

    // One signed message logged in it, beside another leaf.
    let submitter = ed25519_dalek::SigningKey::from_bytes(&[22; 32]);
    let message: [u8; 32] = Sha256::digest(b"a decision of an authority").into();
    let checksum: [u8; 32] = Sha256::digest(message).into();
    let mut signed = b"sigsum.org/v1/tree-leaf\0".to_vec();
    signed.extend_from_slice(&checksum);
    let leaf_signature = ed25519_dalek::Signer::sign(&submitter, &signed).to_bytes();
    let submitter_hash: [u8; 32] = Sha256::digest(submitter.verifying_key().to_bytes()).into();
    let leaf = [&checksum[..], &leaf_signature[..], &submitter_hash[..]].concat();
    let mut tree = MemoryTree::default();
    tree.append(&leaf);
    tree.append(b"another leaf");
    let cp = Checkpoint { origin: origin.clone(), size: 2, root: tree.root() };
    let note = log_signer.sign(&cp.text());

    // probity, witnessing that log, cosigns its checkpoint.
    let witness = Witness::start(&format!("log {}\n", log_signer.verifier_key()), 1000);
    let (status, _, line) =
        witness.add(&AddCheckpoint { old: 0, proof: vec![], note: note.clone() });
    assert_eq!(status, 200, "{line}");
    assert!(witness.key.cosigned(&format!("{note}{line}")).unwrap().is_some());
    let witness_public = witness.public;

    // The sigsum proof: the leaf, the tree head with the log's signature and probity's
    // cosignature, and the inclusion proof of the leaf.
    let log_signature = B64.decode(note.trim_end().rsplit(' ').next().unwrap()).unwrap();
    let proof = tree.inclusion_proof(0, 2).unwrap();
    let ascii = format!(
        "version=2\nlog={}\nleaf={} {}\n\nsize=2\nroot_hash={}\nsignature={}\n{}\n\nleaf_index=0\n{}",
        hex::encode(Sha256::digest(log_public)),
        hex::encode(submitter_hash),
        hex::encode(leaf_signature),
        hex::encode(cp.root),
        hex::encode(&log_signature[4..]),
        sigsum_cosignature(&line, &witness_public),
        proof.iter().map(|h| format!("node_hash={}\n", hex::encode(h))).collect::<String>(),
    );
    let signature = sigsum::SigsumSignature::from_ascii(&ascii).unwrap();
    let submitters: Vec<sigsum::PublicKey> = vec![submitter.verifying_key().to_bytes().into()];
    let policy = |quorum: &str| {
        sigsum::policy::Policy::parse(&format!(
            "log {}\nwitness probity {}\n{quorum}\n",
            hex::encode(log_public),
            hex::encode(witness_public)
        ))
        .unwrap()
    };
    sigsum::verify(&message.into(), &signature, &submitters, &policy("quorum probity"))
        .expect("sigsum accepts probity's cosignature");

    // A cosignature altered by one bit is refused by sigsum too.
    let mut blob = B64.decode(line.trim().rsplit(' ').next().unwrap()).unwrap();
    blob[20] ^= 1;
    let altered = format!("\u{2014} x {}\n", B64.encode(&blob));
    let broken = ascii.replace(
        &sigsum_cosignature(&line, &witness_public),
        &sigsum_cosignature(&altered, &witness_public),
    );
    let signature = sigsum::SigsumSignature::from_ascii(&broken).unwrap();
    assert!(
        sigsum::verify(&message.into(), &signature, &submitters, &policy("quorum probity"))
            .is_err()
    );
}

#[test]
fn a_witness_that_is_down_never_blocks_filing_and_shows_in_ready() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("log");
    let mut reg = Registry::init_with_origin(&data, None, "log.example/down").unwrap();
    let operator = reg.issue_key(&probity_registry::Actor::Operator, None).unwrap();
    // A witness nobody answers for: a port that was free a moment ago.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let nobody = probity_tlog::Cosigner::from_seed("nobody.example/witness", [3; 32]).unwrap();
    std::fs::write(
        data.join(probity_registry::WITNESSES_FILE),
        format!("witness w {} http://127.0.0.1:{port}/witness\nquorum w\n", nobody.verifier_key()),
    )
    .unwrap();
    let server = probity_server::spawn(
        reg,
        "127.0.0.1:0".parse().unwrap(),
        probity_server::Config {
            follow_every: Some(std::time::Duration::from_millis(50)),
            ..Default::default()
        },
    )
    .unwrap();
    let url = format!("http://{}", server.addr);
    let http = Client::new();
    // Filing goes on: an authority is registered, and the log grows.
    let r = http
        .post(format!("{url}/v1/authorities"))
        .bearer_auth(&operator)
        .json(&serde_json::json!({"id": "bj-amr", "name": "北京市市场监督管理局",
            "category": "market_regulation", "jurisdiction": "110000"}))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().unwrap());
    let latest = http.get(format!("{url}/v1/log/checkpoint/latest")).send().unwrap();
    assert_eq!(latest.status().as_u16(), 200);
    assert!(Checkpoint::parse(probity_tlog::note_text(&latest.text().unwrap())).unwrap().size >= 2);
    // No checkpoint met the policy, and the witness's failure shows.
    assert_eq!(http.get(format!("{url}/v1/log/checkpoint")).send().unwrap().status().as_u16(), 503);
    let start = std::time::Instant::now();
    loop {
        let ready: serde_json::Value =
            http.get(format!("{url}/v1/ready")).send().unwrap().json().unwrap();
        let w = &ready["witnesses"][0];
        if w["failures"].as_u64().unwrap_or(0) > 0 {
            assert_eq!(w["ok"], false);
            assert!(w["last_error"].as_str().unwrap().contains("unreachable"), "{w}");
            break;
        }
        assert!(start.elapsed().as_secs() < 30, "the failing witness never showed: {ready}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The statistics page lists the witness and that it is not cosigning.
    let page = http.get(format!("{url}/stats")).send().unwrap().text().unwrap();
    assert!(page.contains("Witnesses of this log"), "{page}");
    assert!(page.contains(&format!("http://127.0.0.1:{port}/witness")), "{page}");
    assert!(page.contains("not cosigning"), "{page}");
    server.stop().unwrap();
}
