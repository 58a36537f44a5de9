//! `probity subscriber` (the operator issues subscriber keys) and `probity watchlist` (a
//! subscriber's watchlists, over the HTTP API of a running server).

// Reading a `serde_json::Value` by index gives `Null` for what is missing; it never panics.
// Nothing here indexes to write.
#![allow(clippy::indexing_slicing)]

use std::io::BufRead as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Subcommand;
use probity_core::Slug;
use probity_registry::{Actor, Registry};
use probity_stores::Stores as _;
use serde_json::{Value, json};

use crate::exit;
use crate::serve::KeyArgs;

/// `probity subscriber`.
#[derive(Debug, Subcommand)]
pub enum SubscriberCommand {
    /// Issue a key for the subscriber NAME (a bank, a procurement desk) and print it (shown
    /// once). A subscriber keeps watchlists and nothing else.
    Key {
        /// The subscriber's name (lowercase letters, digits, `.`, `_`, `-`).
        name: String,
        /// Revoke its other keys.
        #[arg(long)]
        rotate: bool,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Revoke every key of the subscriber NAME.
    Revoke {
        /// The subscriber's name.
        name: String,
    },
}

/// Runs `probity subscriber`.
pub fn subscriber(data: &Path, cmd: SubscriberCommand) -> anyhow::Result<u8> {
    let mut reg = Registry::open(data)?;
    let actor =
        |name: &str| Ok::<_, anyhow::Error>(Actor::Subscriber(Slug::parse("subscriber", name)?));
    match cmd {
        SubscriberCommand::Key { name, rotate, key } => {
            crate::serve::issue(&mut reg, &actor(&name)?, rotate, &key)
        }
        SubscriberCommand::Revoke { name } => crate::serve::revoke(&mut reg, &actor(&name)?),
    }
}

/// Where the server is and who is asking.
#[derive(Debug, clap::Args)]
pub struct Remote {
    /// The probity server.
    #[arg(long, env = "PROBITY_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// A subscriber key (`probity subscriber key NAME`).
    #[arg(long, env = "PROBITY_KEY", hide_env_values = true)]
    key: String,
    /// Print JSON.
    #[arg(long, global = true)]
    json: bool,
}

/// `probity watchlist`: a subscriber's watchlists on a running server.
#[derive(Debug, Subcommand)]
pub enum WatchlistCommand {
    /// Make a watchlist and print its id (and its webhook's signing secret, shown once).
    Create {
        /// A label for it.
        label: String,
        /// A measure whose decisions it reports (repeat; every measure if none).
        #[arg(long = "measure")]
        measures: Vec<String>,
        /// Push its changes to this URL (signed as Standard Webhooks describes).
        #[arg(long)]
        webhook: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// List your watchlists, with their sizes and webhook health.
    List {
        #[command(flatten)]
        remote: Remote,
    },
    /// Add subject codes (USCC or LEI) to a watchlist; refused codes are listed with their
    /// place and reason, and the rest added. Exit status 3 if some were refused.
    Add(Members),
    /// Take subject codes off a watchlist.
    Remove(Members),
    /// What changed in the answers about a watchlist's companies after a position: grade,
    /// lists and decisions, each with its cause. Prints the position to ask after next.
    Changes {
        /// The watchlist id.
        id: String,
        /// The position to read after (the `next` printed last time; 0 for all).
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// The most changes to print.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        #[command(flatten)]
        remote: Remote,
    },
    /// Set, remove or resume a watchlist's webhook.
    Webhook {
        /// The watchlist id.
        id: String,
        /// The receiver's URL (a new signing secret is printed, shown once).
        #[arg(long, conflicts_with_all = ["remove", "resume"])]
        url: Option<String>,
        /// Remove the webhook.
        #[arg(long, conflicts_with = "resume")]
        remove: bool,
        /// Resume a failing webhook once its receiver works again.
        #[arg(long)]
        resume: bool,
        #[command(flatten)]
        remote: Remote,
    },
}

/// The subject codes a watchlist gains or loses, and the server to tell.
#[derive(Debug, clap::Args)]
pub struct Members {
    /// The watchlist id.
    id: String,
    /// Codes.
    codes: Vec<String>,
    /// A file of codes, one per line (`-` for standard input).
    #[arg(long)]
    file: Option<PathBuf>,
    #[command(flatten)]
    remote: Remote,
}

/// Codes sent in one request: 10,000 keeps each far below the body limit.
const CODES_PER_REQUEST: usize = 10_000;

impl Members {
    /// Posts the codes to `path` (under the watchlist) a request at a time, handing each
    /// answer to `each` with the place of its first code among them all.
    fn post(&self, path: &str, mut each: impl FnMut(usize, &Value)) -> anyhow::Result<()> {
        let codes = codes_of(self.codes.clone(), self.file.as_deref())?;
        let path = format!("/watchlists/{}/{path}", self.id);
        for (n, chunk) in codes.chunks(CODES_PER_REQUEST).enumerate() {
            let body = Some(json!({ "subjects": chunk }));
            let out = self.remote.call(reqwest::Method::POST, &path, body)?;
            each(n * CODES_PER_REQUEST, &out);
        }
        Ok(())
    }
}

impl Remote {
    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}/v1{path}", self.server.trim_end_matches('/'));
        let client = reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()?;
        let mut request = client.request(method.clone(), &url).bearer_auth(self.key.trim());
        if let Some(b) = body {
            request = request.json(&b);
        }
        let response = request.send().with_context(|| format!("{method} {url}"))?;
        let status = response.status();
        let text = response.text()?;
        if !status.is_success() {
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or(text);
            bail!("{method} {url}: {status}: {message}");
        }
        Ok(if text.is_empty() { Value::Null } else { serde_json::from_str(&text)? })
    }
}

/// Codes from the command line and from `file`.
fn codes_of(mut codes: Vec<String>, file: Option<&Path>) -> anyhow::Result<Vec<String>> {
    if let Some(path) = file {
        let reader: Box<dyn std::io::BufRead> = if path == Path::new("-") {
            Box::new(std::io::stdin().lock())
        } else {
            let f = std::fs::File::open(path).with_context(|| format!("`{}`", path.display()))?;
            Box::new(std::io::BufReader::new(f))
        };
        for line in reader.lines() {
            let line = line?;
            if !line.trim().is_empty() {
                codes.push(line.trim().to_owned());
            }
        }
    }
    if codes.is_empty() {
        bail!("give codes, or --file with one code per line");
    }
    Ok(codes)
}

fn answer_part(answer: &Value, what: &str) -> String {
    if answer.is_null() {
        return "-".into();
    }
    match what {
        "grade" => answer["grade"].as_str().unwrap_or("-").to_owned(),
        "lists" => {
            let lists: Vec<&str> = answer["lists"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if lists.is_empty() { "no list".into() } else { lists.join(",") }
        }
        m => m
            .strip_prefix("decision:")
            .and_then(|m| answer["decisions"][m].as_str())
            .unwrap_or("-")
            .to_owned(),
    }
}

fn cause_text(cause: &Value) -> String {
    match cause["kind"].as_str() {
        Some("event") => {
            format!("{} at log index {}", cause["event"].as_str().unwrap_or("?"), cause["index"])
        }
        Some("rulebook") => {
            format!("rulebook {} in force", cause["version"].as_str().unwrap_or("?"))
        }
        _ => "a date came".into(),
    }
}

/// Runs `probity watchlist`.
pub fn run(cmd: WatchlistCommand) -> anyhow::Result<u8> {
    use reqwest::Method;
    match cmd {
        WatchlistCommand::Create { label, measures, webhook, remote } => {
            let body = json!({"label": label, "measures": measures, "webhook_url": webhook});
            let out = remote.call(Method::POST, "/watchlists", Some(body))?;
            crate::print_json_or(remote.json, &out, |o| {
                outln!("{}", o["watchlist"]["id"].as_str().unwrap_or_default());
                if let Some(s) = o["webhook_secret"].as_str() {
                    outln!("webhook secret: {s}");
                    eprintln!("the secret is shown once; verify deliveries with it");
                }
                Ok(())
            })?;
        }
        WatchlistCommand::List { remote } => {
            let out = remote.call(Method::GET, "/watchlists", None)?;
            crate::print_json_or(remote.json, &out, |o| {
                for w in o.as_array().into_iter().flatten() {
                    let health = w["webhook"]["health"].as_str().unwrap_or("no webhook");
                    outln!(
                        "{}\t{}\t{} subjects\t{health}",
                        w["id"].as_str().unwrap_or_default(),
                        w["label"].as_str().unwrap_or_default(),
                        w["subjects"]
                    );
                }
                Ok(())
            })?;
        }
        WatchlistCommand::Add(members) => {
            let mut added = 0;
            let mut already = 0;
            let mut rejected = Vec::new();
            members.post("subjects", |first, out| {
                added += out["added"].as_u64().unwrap_or(0);
                already += out["already"].as_u64().unwrap_or(0);
                for r in out["rejected"].as_array().into_iter().flatten() {
                    let line = r["line"].as_u64().unwrap_or(0) + first as u64;
                    rejected.push(json!({"line": line, "code": r["code"], "reason": r["reason"]}));
                }
            })?;
            let out = json!({"added": added, "already": already, "rejected": rejected});
            crate::print_json_or(members.remote.json, &out, |_| {
                outln!("added {added}, already watched {already}, refused {}", rejected.len());
                for r in &rejected {
                    outln!(
                        "  {}: `{}`: {}",
                        r["line"],
                        r["code"].as_str().unwrap_or_default(),
                        r["reason"].as_str().unwrap_or_default()
                    );
                }
                Ok(())
            })?;
            if !rejected.is_empty() {
                return Ok(exit::REJECTED_ROWS);
            }
        }
        WatchlistCommand::Remove(members) => {
            let mut removed = 0;
            members.post("subjects/remove", |_, out| {
                removed += out["removed"].as_u64().unwrap_or(0);
            })?;
            crate::print_json_or(members.remote.json, &json!({ "removed": removed }), |_| {
                outln!("removed {removed}");
                Ok(())
            })?;
        }
        WatchlistCommand::Changes { id, after, limit, remote } => {
            let mut after = after;
            let mut changes = Vec::new();
            let mut more = true;
            while more && changes.len() < limit {
                let page_size = (limit - changes.len()).min(1000);
                let path = format!("/watchlists/{id}/changes?after={after}&limit={page_size}");
                let page = remote.call(Method::GET, &path, None)?;
                changes.extend(page["changes"].as_array().cloned().unwrap_or_default());
                after = page["next"].as_u64().unwrap_or(after);
                more = page["more"].as_bool().unwrap_or(false);
            }
            let out = json!({"changes": changes, "next": after, "more": more});
            crate::print_json_or(remote.json, &out, |_| {
                for c in &changes {
                    for what in
                        c["changed"].as_array().into_iter().flatten().filter_map(Value::as_str)
                    {
                        outln!(
                            "{}\t{}\t{}\t{what}: {} -> {}\t{}",
                            c["position"],
                            c["as_of"].as_str().unwrap_or_default(),
                            c["subject"].as_str().unwrap_or_default(),
                            answer_part(&c["before"], what),
                            answer_part(&c["after"], what),
                            cause_text(&c["cause"]),
                        );
                    }
                }
                outln!("next: {after}{}", if more { " (more waiting)" } else { "" });
                Ok(())
            })?;
        }
        WatchlistCommand::Webhook { id, url, remove, resume, remote } => {
            let path = format!("/watchlists/{id}/webhook");
            let out = match (url, remove, resume) {
                (Some(url), _, _) => {
                    remote.call(Method::PUT, &path, Some(json!({ "url": url })))?
                }
                (None, true, _) => remote.call(Method::DELETE, &path, None)?,
                (None, false, true) => {
                    remote.call(Method::POST, &format!("{path}/resume"), None)?
                }
                (None, false, false) => bail!("give --url URL, --remove or --resume"),
            };
            crate::print_json_or(remote.json, &out, |o| {
                if let Some(s) = o["webhook_secret"].as_str() {
                    outln!("webhook secret: {s}");
                    eprintln!("the secret is shown once; verify deliveries with it");
                } else if let Some(h) = o["webhook"]["health"].as_str() {
                    outln!("webhook: {h}");
                } else {
                    outln!("webhook removed");
                }
                Ok(())
            })?;
        }
    }
    Ok(exit::OK)
}
