//! `probity bench witness`: the time to have one checkpoint cosigned by three witnesses on
//! loopback, through probity's whole witness path (HTTP, the judgement, the compare-and-set in
//! each witness's SQLite store, the cosignature), with the bench as the log.

use std::time::Instant;

use probity_registry::Registry;
use probity_stores::Stores as _;
use probity_tlog::witness::AddCheckpoint;
use probity_tlog::{Checkpoint, CosignatureVerifier, MemoryTree, NoteSigner};
use serde_json::json;

/// How to measure.
#[derive(Debug, clap::Args)]
pub struct WitnessArgs {
    /// Checkpoints to have cosigned, one after another.
    #[arg(long, default_value_t = 300)]
    rounds: u64,
    /// Log entries added before each checkpoint.
    #[arg(long, default_value_t = 16)]
    leaves: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the benchmark.
pub fn run(args: &WitnessArgs) -> anyhow::Result<u8> {
    let temp = tempfile::Builder::new().prefix("probity-bench-witness").tempdir()?;
    let log = NoteSigner::from_seed("bench.localhost/log", [42; 32])?;
    let mut witnesses = Vec::new();
    for i in 0..3 {
        let data = temp.path().join(format!("w{i}"));
        let reg = Registry::init_with_origin(&data, None, &format!("w{i}.localhost/log"))?;
        std::fs::write(
            data.join(probity_registry::FOLLOWED_FILE),
            format!("log {}\n", log.verifier_key()),
        )?;
        let key = CosignatureVerifier::parse(&reg.witness_key()?.verifier_key())?;
        let config = probity_server::Config {
            public: probity_server::Allowance { rate: 1_000_000, burst: 1_000_000 },
            sweep_every: None,
            ..Default::default()
        };
        let server = probity_server::spawn(reg, "127.0.0.1:0".parse()?, config)?;
        let url = format!("http://{}/witness/add-checkpoint", server.addr);
        witnesses.push((server, url, key));
    }
    let client = reqwest::blocking::Client::new();
    let mut tree = MemoryTree::default();
    let (mut rounds, mut singles) = (Vec::new(), Vec::new());
    let mut old = 0;
    for round in 0..args.rounds {
        for i in 0..args.leaves {
            tree.append(format!("entry {round}.{i}").as_bytes());
        }
        let size = tree.size();
        let cp = Checkpoint { origin: log.name().to_owned(), size, root: tree.root() };
        let note = log.sign(&cp.text());
        let proof = if old == 0 { Vec::new() } else { tree.consistency_proof(old, size)? };
        let body = AddCheckpoint { old, proof, note: note.clone() }.encode();
        let started = Instant::now();
        let answers: Vec<anyhow::Result<f64>> = std::thread::scope(|s| {
            let asks: Vec<_> = witnesses
                .iter()
                .map(|(_, url, key)| {
                    let (client, body, note) = (&client, &body, &note);
                    s.spawn(move || {
                        let t = Instant::now();
                        let r = client.post(url).body(body.clone()).send()?;
                        let status = r.status();
                        let line = r.text()?;
                        anyhow::ensure!(status.is_success(), "{url} answered {status}: {line}");
                        anyhow::ensure!(
                            key.cosigned(&format!("{note}{line}"))?.is_some(),
                            "{url} answered without a valid cosignature"
                        );
                        Ok(t.elapsed().as_secs_f64())
                    })
                })
                .collect();
            asks.into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a request panicked"))))
                .collect()
        });
        rounds.push(started.elapsed().as_secs_f64());
        for a in answers {
            singles.push(a?);
        }
        old = size;
    }
    for (server, _, _) in witnesses {
        server.stop()?;
    }
    let stats = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let ms = |p: f64| crate::bench::percentile(&v, p) * 1e3;
        (ms(0.5), ms(0.99), v.iter().sum::<f64>() / v.len().max(1) as f64 * 1e3)
    };
    let (r50, r99, rmean) = stats(rounds);
    let (s50, s99, _) = stats(singles);
    if args.json {
        outln!(
            "{}",
            json!({"rounds": args.rounds, "witnesses": 3, "leaves_per_round": args.leaves,
                "round_ms": {"p50": r50, "p99": r99, "mean": rmean},
                "single_request_ms": {"p50": s50, "p99": s99}})
        );
    } else {
        outln!(
            "cosigned {} checkpoints by 3 witnesses on loopback ({} entries apart)",
            args.rounds,
            args.leaves
        );
        outln!("  one checkpoint, all three: p50 {r50:.2} ms, p99 {r99:.2} ms, mean {rmean:.2} ms");
        outln!("  one witness's answer:      p50 {s50:.2} ms, p99 {s99:.2} ms");
    }
    Ok(crate::exit::OK)
}
