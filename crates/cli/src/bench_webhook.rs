//! `probity bench webhook`: watchlist change latency, from the commit of a filing to the
//! delivery of the change it makes to a webhook, through probity's whole path (the API, the
//! append, rating with the answer change in the same transaction, the deliverer woken by the
//! write, the signed POST) to a receiver on loopback.
//!
//! A filing commits before its `POST /v1/records` answers, so the commit lies between sending
//! the request and its answer: the latency is given from both ends (from the answer: at most
//! the true figure; from the request: at least it).

use std::io::{BufRead as _, Read as _, Write as _};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use probity_registry::{Actor, Registry};
use probity_stores::Stores as _;
use serde_json::json;

/// How to measure.
#[derive(Debug, clap::Args)]
pub struct WebhookArgs {
    /// Filings, one after another, each changing one watched company's answer.
    #[arg(long, default_value_t = 300)]
    rounds: u32,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Serves one keep-alive connection of the receiver: every request is answered 204, and the
/// subjects of the changes it carries are sent to `arrived` with the time it came.
fn receive(
    stream: std::net::TcpStream,
    arrived: &mpsc::Sender<(String, Instant)>,
) -> anyhow::Result<()> {
    let mut reader = std::io::BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse()?;
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body)?;
        let at = Instant::now();
        let message: serde_json::Value = serde_json::from_slice(&body)?;
        let changes = message.pointer("/data/changes").and_then(serde_json::Value::as_array);
        for c in changes.into_iter().flatten() {
            if let Some(s) = c.get("subject").and_then(serde_json::Value::as_str) {
                let _ = arrived.send((s.to_owned(), at));
            }
        }
        writer.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")?;
    }
}

/// Runs the benchmark.
pub fn run(args: &WebhookArgs) -> anyhow::Result<u8> {
    let temp = tempfile::Builder::new().prefix("probity-bench-webhook").tempdir()?;
    let data = temp.path().join("reg");
    let mut reg = Registry::init(&data, None)?;
    let amr = probity_core::Authority::new(
        "bj-amr",
        "北京市市场监督管理局",
        "market_regulation",
        "110000",
    )?;
    reg.register_authority(amr.clone())?;
    let subjects: Vec<String> =
        (0..args.rounds).map(|n| probity_store::conformance::uscc(n).to_string()).collect();
    let mut csv = String::from("id,name,established\n");
    for (n, s) in subjects.iter().enumerate() {
        csv.push_str(&format!("{s},基准企业{n}有限公司,2010-01-01\n"));
    }
    let mut rejects = Vec::new();
    reg.import(
        probity_registry::Table::Subjects,
        probity_registry::Format::Csv,
        std::io::Cursor::new(csv.into_bytes()),
        probity_registry::ImportOptions::default(),
        &(),
        &mut rejects,
    )?;
    anyhow::ensure!(rejects.is_empty(), "the bench's subjects were refused: {rejects:?}");
    // Every company has its first answer before it is watched: the only changes are the
    // filings'.
    let today = reg.today();
    reg.rate_pass(today, true, &())?;
    let authority = reg.issue_key(&Actor::Authority(amr.id), None)?;
    let bank = Actor::Subscriber(probity_core::Slug::parse("subscriber", "bench-bank")?);

    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let hook = format!("http://{}/hook", listener.local_addr()?);
    let (arrived, deliveries) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let arrived = arrived.clone();
            std::thread::spawn(move || receive(stream, &arrived));
        }
    });
    let (list, _) = reg.create_watchlist(&bank, "bench", vec![], Some(&hook))?;
    reg.watch(&bank, &list.id, &subjects)?;
    let config = probity_server::Config {
        per_key: probity_server::Allowance { rate: 1_000_000, burst: 1_000_000 },
        sweep_every: None,
        ..Default::default()
    };
    let server = probity_server::spawn(reg, "127.0.0.1:0".parse()?, config)?;
    let client = reqwest::blocking::Client::new();
    let url = format!("http://{}/v1/records", server.addr);
    let (mut from_answer, mut from_request) = (Vec::new(), Vec::new());
    for (n, s) in subjects.iter().enumerate() {
        let row = json!({"authority": "bj-amr", "decision_no": format!("B-{n}"), "subject": s,
            "kind": "penalty.serious", "decided": "2026-01-02", "effective": "2026-01-05", "basis": "Art. 1"});
        while deliveries.try_recv().is_ok() {}
        let sent = Instant::now();
        let r = client.post(&url).bearer_auth(&authority).json(&row).send()?;
        let answered = Instant::now();
        anyhow::ensure!(r.status().is_success(), "filing {n} answered {}", r.status());
        let at = loop {
            let (subject, at) = deliveries
                .recv_timeout(Duration::from_secs(30))
                .map_err(|_| anyhow::anyhow!("no webhook delivery for filing {n} within 30 s"))?;
            if subject == *s {
                break at;
            }
        };
        from_answer.push(at.saturating_duration_since(answered).as_secs_f64());
        from_request.push(at.duration_since(sent).as_secs_f64());
    }
    server.stop()?;
    let stats = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (crate::bench::percentile(&v, 0.5) * 1e3, crate::bench::percentile(&v, 0.99) * 1e3)
    };
    let ((a50, a99), (r50, r99)) = (stats(from_answer), stats(from_request));
    if args.json {
        outln!(
            "{}",
            json!({"rounds": args.rounds,
                "commit_to_delivery_ms": {"from_answer": {"p50": a50, "p99": a99},
                                          "from_request": {"p50": r50, "p99": r99}}})
        );
    } else {
        outln!(
            "{} filings, each changing one watched company's answer, delivered to a webhook on loopback",
            args.rounds
        );
        outln!("  commit to delivery, from the filing's answer:  p50 {a50:.2} ms, p99 {a99:.2} ms");
        outln!("  commit to delivery, from the filing's request: p50 {r50:.2} ms, p99 {r99:.2} ms");
    }
    Ok(crate::exit::OK)
}
