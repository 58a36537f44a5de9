//! `probity bench nats`: records filed by a department over NATS JetStream through probity's
//! full path (the durable consumer, the registry's checks, the journal and log, re-rating, the
//! outcome published and the message acknowledged), against a `nats-server` the bench starts.

use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use probity_registry::Registry;
use probity_stores::Stores as _;
use serde_json::json;

/// How to measure.
#[derive(Debug, clap::Args)]
pub struct NatsArgs {
    /// Records to file.
    #[arg(long, default_value_t = 100_000)]
    records: u64,
    /// Subjects they are about.
    #[arg(long, default_value_t = 20_000)]
    enterprises: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the benchmark.
pub fn run(args: &NatsArgs) -> anyhow::Result<u8> {
    use anyhow::Context as _;
    let temp = tempfile::Builder::new().prefix("probity-bench-nats").tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let config = format!(
        "listen: 127.0.0.1:{port}\njetstream {{ store_dir: \"{}\" }}\n",
        temp.path().join("js").display()
    );
    std::fs::write(temp.path().join("nats.conf"), config)?;
    let mut server = std::process::Command::new("nats-server")
        .arg("-c")
        .arg(temp.path().join("nats.conf"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("cannot start nats-server (Debian package nats-server)")?;
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(10), "nats-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let result = measure(args, temp.path(), port);
    let _ = server.kill();
    let _ = server.wait();
    let (publish, filed) = result?;
    let rate = |d: Duration| args.records as f64 / d.as_secs_f64();
    if args.json {
        outln!(
            "{}",
            json!({"records": args.records, "publish_seconds": publish.as_secs_f64(),
                "publish_per_second": rate(publish), "filed_seconds": filed.as_secs_f64(),
                "filed_per_second": rate(filed)})
        );
    } else {
        outln!(
            "published {} records to NATS in {:.1} s ({:.0}/s)",
            args.records,
            publish.as_secs_f64(),
            rate(publish)
        );
        outln!(
            "filed through probity's full path, every outcome out: {:.1} s ({:.0} records/s)",
            filed.as_secs_f64(),
            rate(filed)
        );
    }
    Ok(crate::exit::OK)
}

/// Publishes the records, then waits for every outcome; the time of each phase.
fn measure(
    args: &NatsArgs,
    dir: &std::path::Path,
    port: u16,
) -> anyhow::Result<(Duration, Duration)> {
    let cfg = probity_synth::Config {
        enterprises: args.enterprises,
        records: args.records,
        seed: 11,
        dirty: 0.0,
        as_of: crate::commands::today(),
    };
    let input = dir.join("input");
    let rulebook = probity_rules::Rulebook::parse(probity_rules::DEFAULT_RULEBOOK)?;
    crate::commands::write_generated(&input, &cfg, &rulebook)?;
    let mut reg = Registry::init(&dir.join("reg"), None)?;
    for (table, name) in [
        (probity_registry::Table::Authorities, "authorities.csv"),
        (probity_registry::Table::Subjects, "subjects.csv"),
    ] {
        crate::commands::import_default(&mut reg, table, &input.join(name))?;
    }
    let config = probity_server::Config {
        nats: Some(probity_server::feeds::NatsConfig {
            url: format!("nats://127.0.0.1:{port}"),
            ..Default::default()
        }),
        sweep_every: None,
        ..Default::default()
    };
    let server = probity_server::spawn(reg, "127.0.0.1:0".parse()?, config)?;
    let lines: Vec<String> =
        std::fs::read_to_string(input.join("records.jsonl"))?.lines().map(str::to_owned).collect();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let out = rt.block_on(async {
        let client = async_nats::connect(format!("127.0.0.1:{port}")).await?;
        let js = async_nats::jetstream::new(client);
        let started = Instant::now();
        while js.get_stream("PROBITY_OUTCOMES").await.is_err() {
            anyhow::ensure!(started.elapsed() < Duration::from_secs(10), "probity made no streams");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let started = Instant::now();
        let mut acks = Vec::new();
        for line in &lines {
            let v: serde_json::Value = serde_json::from_str(line)?;
            let field = |k: &str| v.get(k).and_then(serde_json::Value::as_str).unwrap_or_default();
            let mut headers = async_nats::HeaderMap::new();
            let id = format!("{}/{}", field("authority"), field("decision_no"));
            headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
            let subject = format!("probity.filings.{}", field("authority"));
            acks.push(js.publish_with_headers(subject, headers, line.clone().into()).await?);
            if acks.len() >= 1000 {
                for a in acks.drain(..) {
                    a.await?;
                }
            }
        }
        for a in acks {
            a.await?;
        }
        let publish = started.elapsed();
        let stream = js.get_stream("PROBITY_OUTCOMES").await?;
        let consumer = stream
            .create_consumer(async_nats::jetstream::consumer::pull::Config {
                ack_policy: async_nats::jetstream::consumer::AckPolicy::None,
                ..Default::default()
            })
            .await?;
        let mut messages = consumer.messages().await?;
        let mut seen = 0u64;
        while seen < lines.len() as u64 {
            match tokio::time::timeout(Duration::from_secs(60), messages.next()).await {
                Ok(Some(Ok(_))) => seen += 1,
                _ => anyhow::bail!("only {seen} of {} outcomes came", lines.len()),
            }
        }
        anyhow::Ok((publish, started.elapsed()))
    });
    server.stop()?;
    out
}
