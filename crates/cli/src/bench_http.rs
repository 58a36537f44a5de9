//! `probity bench http`: the check endpoint against nginx serving a static answer of the same
//! size, both under the same load generator (wrk) on loopback in one run; the portal's profile
//! page (server-rendered HTML) under a lighter load, for its time to first byte; and the batch
//! check in subjects per second.

use probity_stores::Stores as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use probity_registry::{Registry, Table};
use probity_rules::Rulebook;
use serde_json::json;

use crate::commands::{import_default, write_generated};
use crate::exit;

/// What to measure.
#[derive(Debug, clap::Args)]
pub struct HttpArgs {
    /// Subjects in the registry.
    #[arg(long, default_value_t = 1_000_000)]
    subjects: u64,
    /// Records about them.
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
    /// Registry directory: built there if missing, reused if it exists (a temporary one if
    /// omitted).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Seconds of load per target.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds of unmeasured load on each target before it is measured.
    #[arg(long, default_value_t = 2)]
    warm_up: u64,
    /// Open connections.
    #[arg(long, default_value_t = 64)]
    connections: u32,
    /// Load-generator threads.
    #[arg(long, default_value_t = 2)]
    threads: u32,
    /// Open connections for the portal's profile pages: a busy public portal rather than a
    /// saturating load, so that latency shows time to first byte, not queueing.
    #[arg(long, default_value_t = 8)]
    page_connections: u32,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// One wrk run.
#[derive(Debug, Clone, Copy, serde::Serialize)]
struct Load {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

fn tool(name: &str) -> anyhow::Result<()> {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        bail!("`{name}` is not installed; on Debian: apt-get install wrk nginx-light");
    }
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Milliseconds from a wrk latency such as `812.00us`, `1.23ms` or `2.01s`.
fn millis(s: &str) -> Option<f64> {
    let (n, unit) = s.trim().split_at(s.trim().find(|c: char| c.is_ascii_alphabetic())?);
    let n: f64 = n.parse().ok()?;
    Some(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => return None,
    })
}

/// One measured wrk run of `args.duration` seconds, after an unmeasured one of
/// `args.warm_up` seconds with the same load: each target is measured warm.
fn wrk(
    args: &HttpArgs,
    connections: u32,
    url: &str,
    script: Option<&Path>,
) -> anyhow::Result<Load> {
    if args.warm_up > 0 {
        wrk_for(args, args.warm_up, connections, url, script)?;
    }
    wrk_for(args, args.duration, connections, url, script)
}

fn wrk_for(
    args: &HttpArgs,
    seconds: u64,
    connections: u32,
    url: &str,
    script: Option<&Path>,
) -> anyhow::Result<Load> {
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t",
        &args.threads.min(connections).to_string(),
        "-c",
        &connections.to_string(),
        "-d",
        &format!("{seconds}s"),
        "--latency",
    ]);
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    let out = cmd.arg(url).output().context("cannot run wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("wrk failed on {url}: {text}{}", String::from_utf8_lossy(&out.stderr));
    }
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
    };
    let rps: f64 = field("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("wrk printed no rate:\n{text}"))?;
    let p50 = field("50%").and_then(|v| millis(&v)).context("wrk printed no p50")?;
    let p99 = field("99%").and_then(|v| millis(&v)).context("wrk printed no p99")?;
    let errors = text
        .lines()
        .find(|l| l.trim().starts_with("Non-2xx or 3xx responses:"))
        .and_then(|l| l.split(':').nth(1)?.trim().parse().ok())
        .unwrap_or(0);
    Ok(Load { requests_per_second: rps, p50_ms: p50, p99_ms: p99, errors })
}

fn build(dir: &Path, args: &HttpArgs, store: &probity_stores::StoreLocation) -> anyhow::Result<()> {
    if Registry::exists(dir) {
        eprintln!("reusing the registry at {}", dir.display());
        return Ok(());
    }
    let input = dir.with_extension("input");
    let book = Rulebook::parse(probity_rules::DEFAULT_RULEBOOK)?;
    let cfg = probity_synth::Config {
        enterprises: args.subjects,
        records: args.records,
        seed: 3,
        dirty: 0.0,
        as_of: probity_core::date_of(jiff::Timestamp::now()),
    };
    eprintln!("generating {} subjects and {} records…", args.subjects, args.records);
    write_generated(&input, &cfg, &book)?;
    let mut reg = Registry::init_at(
        dir,
        store,
        None,
        probity_registry::DEFAULT_ORIGIN,
        probity_registry::SystemClock,
    )?;
    for (table, name) in [
        (Table::Authorities, "authorities.csv"),
        (Table::Subjects, "subjects.csv"),
        (Table::Records, "records.jsonl"),
    ] {
        import_default(&mut reg, table, &input.join(name))?;
    }
    std::fs::remove_dir_all(&input).ok();
    Ok(())
}

/// One request to the server: the status and the body.
fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> anyhow::Result<(u16, String)> {
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(300)).build()?;
    let url = format!("http://{addr}{path}");
    let request = match method {
        "POST" => client.post(url).header("content-type", "application/json").body(body.to_owned()),
        _ => client.get(url),
    };
    let response = request.send()?;
    Ok((response.status().as_u16(), response.text()?))
}

pub fn run(args: &HttpArgs, store: Option<probity_stores::StoreLocation>) -> anyhow::Result<u8> {
    tool("wrk")?;
    tool("nginx")?;
    let tmp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| tmp.path().join("registry"));
    build(&dir, args, &store.unwrap_or(probity_stores::StoreLocation::Sqlite))?;
    let mut reg = Registry::open(&dir)?;
    // A running server's sweep rates subjects never rated (imports rate only those with new
    // records); do that first, so the load meets the registry as a server that has been up.
    let today = reg.today();
    let swept = reg.rate_pass(today, false, &())?;
    eprintln!("rated {} subjects due before the load", swept.rated);
    let mut all = Vec::new();
    loop {
        let page = reg.store().subject_ids(all.last(), 10_000)?;
        if page.is_empty() {
            break;
        }
        all.extend(page);
    }
    let ids: Vec<String> = all.iter().take(2000).map(|i| i.to_string()).collect();
    let Some(first) = ids.first().cloned() else { bail!("the registry holds no subjects") };
    let subjects = reg.counts()?.subjects;
    let config = probity_server::Config {
        public: probity_server::Allowance { rate: u32::MAX, burst: u32::MAX },
        sweep_every: None,
        ..Default::default()
    };
    let server = probity_server::spawn(reg, "127.0.0.1:0".parse()?, config.clone())?;
    let addr = server.addr;

    // The static peer serves one answer of the same size.
    let check_path = format!("/v1/check?subject={first}&measure=procurement.bid");
    let (status, answer) = http(addr, "GET", &check_path, "")?;
    if status != 200 {
        bail!("the check endpoint answered {status}: {answer}");
    }
    let www = tmp.path().join("www");
    std::fs::create_dir_all(&www)?;
    std::fs::write(www.join("answer.json"), &answer)?;
    let nginx_port = free_port()?;
    let conf = tmp.path().join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes auto;\npid {pid};\nerror_log {err} warn;\ndaemon off;\n\
             events {{ worker_connections 4096; }}\n\
             http {{ access_log off; default_type application/json; keepalive_requests 1000000;\n\
               client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};\n\
               uwsgi_temp_path {tmp}; scgi_temp_path {tmp};\n\
               server {{ listen 127.0.0.1:{nginx_port}; root {www}; }} }}\n",
            pid = tmp.path().join("nginx.pid").display(),
            err = tmp.path().join("nginx.err").display(),
            tmp = tmp.path().display(),
            www = www.display(),
        ),
    )?;
    let mut nginx = Command::new("nginx")
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start nginx")?;
    std::thread::sleep(Duration::from_millis(300));

    // Requests about 2,000 subjects in turn: after the first round, answers kept in memory.
    let script = tmp.path().join("check.lua");
    let list: Vec<String> = ids.iter().map(|i| format!("\"{i}\"")).collect();
    std::fs::write(
        &script,
        format!(
            "local ids = {{{}}}\nlocal n = 0\nrequest = function()\n  n = n + 1\n  \
             return wrk.format(\"GET\", \"/v1/check?subject=\" .. ids[(n % #ids) + 1] .. \
             \"&measure=procurement.bid\")\nend\n",
            list.join(",")
        ),
    )?;
    eprintln!("loading probity's check endpoint for {} s…", args.duration);
    let probity = wrk(args, args.connections, &format!("http://{addr}/"), Some(&script))?;
    // The same server's floor: a request that reads nothing, through the same stack.
    let health_script = tmp.path().join("health.lua");
    std::fs::write(
        &health_script,
        "request = function()\n  return wrk.format(\"GET\", \"/v1/health\")\nend\n",
    )?;
    eprintln!("loading probity's health endpoint for {} s…", args.duration);
    let health = wrk(args, args.connections, &format!("http://{addr}/"), Some(&health_script))?;
    // From here on, a server that keeps no answers: each check about a subject drawn at random
    // is a first answer, read from the store.
    server.stop()?;
    let reg = Registry::open(&dir)?;
    let server = probity_server::spawn(
        reg,
        "127.0.0.1:0".parse()?,
        probity_server::Config { answer_cache: 0, ..config },
    )?;
    let addr = server.addr;

    // The same, each request about a subject drawn at random from all of them: most answers
    // are computed, few were asked for before.
    let every = tmp.path().join("subjects.txt");
    let mut lines = String::with_capacity(all.len() * 21);
    for id in &all {
        lines.push_str(id.as_str());
        lines.push('\n');
    }
    std::fs::write(&every, lines)?;
    let spread_script = tmp.path().join("spread.lua");
    std::fs::write(
        &spread_script,
        format!(
            "local threads = 0\nfunction setup(thread)\n  threads = threads + 1\n  \
             thread:set(\"seed\", threads)\nend\nfunction init(args)\n  \
             math.randomseed(seed * 7919)\n  ids = {{}}\n  \
             for line in io.lines(\"{}\") do ids[#ids + 1] = line end\nend\n\
             request = function()\n  return wrk.format(\"GET\", \"/v1/check?subject=\" .. \
             ids[math.random(#ids)] .. \"&measure=procurement.bid\")\nend\n",
            every.display()
        ),
    )?;
    eprintln!("loading probity's check endpoint, subjects at random, for {} s…", args.duration);
    let spread = wrk(args, args.connections, &format!("http://{addr}/"), Some(&spread_script))?;
    eprintln!("loading nginx for {} s…", args.duration);
    let peer =
        wrk(args, args.connections, &format!("http://127.0.0.1:{nginx_port}/answer.json"), None);
    // QUIT: the master stops its workers before it exits.
    let _ = Command::new("kill").args(["-QUIT", &nginx.id().to_string()]).status();
    let _ = nginx.wait();
    let peer = peer?;

    // The portal's profile pages over the same subjects. wrk's latency runs to the last byte
    // of the page, so it bounds the time to the first.
    let pages = tmp.path().join("pages.lua");
    std::fs::write(
        &pages,
        format!(
            "local ids = {{{}}}\nlocal n = 0\nrequest = function()\n  n = n + 1\n  \
             return wrk.format(\"GET\", \"/subjects/\" .. ids[(n % #ids) + 1])\nend\n",
            list.join(",")
        ),
    )?;
    let (status, page) = http(addr, "GET", &format!("/subjects/{first}"), "")?;
    if status != 200 {
        bail!("the profile page answered {status}");
    }
    eprintln!("loading the portal's profile pages for {} s…", args.duration);
    let profile = wrk(args, args.page_connections, &format!("http://{addr}/"), Some(&pages))?;

    // Batch check: 10,000 subjects in one request.
    let batch: Vec<&String> = ids.iter().cycle().take(probity_server::MAX_CHECK_BATCH).collect();
    let body = json!({"measure": "procurement.bid", "subjects": batch}).to_string();
    let started = Instant::now();
    let (status, _) = http(addr, "POST", "/v1/check", &body)?;
    let secs = started.elapsed().as_secs_f64();
    if status != 200 {
        bail!("the batch check answered {status}");
    }
    let batch_rate = batch.len() as f64 / secs;
    server.stop()?;

    let ratio = probity.requests_per_second / peer.requests_per_second;
    let spread_ratio = spread.requests_per_second / peer.requests_per_second;
    let floor_ratio = health.requests_per_second / peer.requests_per_second;
    if args.json {
        outln!(
            "{}",
            json!({
                "subjects": subjects, "connections": args.connections, "duration_s": args.duration,
                "answer_bytes": answer.len(), "probity_check": probity, "nginx_static": peer,
                "throughput_ratio": ratio, "probity_check_spread": spread,
                "spread_throughput_ratio": spread_ratio, "probity_health": health,
                "health_throughput_ratio": floor_ratio,
                "batch_check_subjects_per_s": batch_rate,
                "portal_profile": profile, "portal_profile_connections": args.page_connections,
                "portal_profile_bytes": page.len(),
            })
        );
    } else {
        outln!(
            "check endpoint, {subjects} subjects, {} connections, {} s each after {} s warm-up, \
             {} byte answers",
            args.connections,
            args.duration,
            args.warm_up,
            answer.len()
        );
        for (name, l) in [
            ("probity /v1/check", probity),
            ("  at random, none kept", spread),
            ("probity /v1/health", health),
            ("nginx static file", peer),
        ] {
            outln!(
                "  {name:<24} {:>9.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   non-2xx {}",
                l.requests_per_second,
                l.p50_ms,
                l.p99_ms,
                l.errors
            );
        }
        outln!(
            "  ratio                {ratio:.2} over 2,000 subjects in turn, {spread_ratio:.2} over \
             all at random with none kept (target ≥ 0.50, p99 < 10 ms); {floor_ratio:.2} for a \
             request that reads nothing (the server's floor)"
        );
        outln!(
            "portal profile page, {} connections, {} byte page (first subject)",
            args.page_connections,
            page.len()
        );
        outln!(
            "  {:<20} {:>9.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   non-2xx {}",
            "probity /subjects/ID",
            profile.requests_per_second,
            profile.p50_ms,
            profile.p99_ms,
            profile.errors
        );
        outln!("  p99 target < 20 ms (latency to the last byte bounds time to first byte)");
        outln!("batch check: {batch_rate:.0} subjects/s (10,000 per request)");
    }
    Ok(exit::OK)
}
