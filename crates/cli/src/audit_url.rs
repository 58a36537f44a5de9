//! `probity audit --from URL`: the audit of a running registry through what it publishes, as a
//! mirror that holds nothing else would do it.
//!
//! From the server it reads the C2SP tiles under `/v1/log` (the signed checkpoint, every entry
//! bundle and every hash tile), the events from the change feed, and, for each subject (or a
//! sample), its assessment and its check answers. Every event body is hashed against its leaf,
//! every tile is recomputed from the leaves, the tree's root must be the checkpoint's, and the
//! replayed events must give the assessments and answers the server publishes.

// reason: only `serde_json::Value` is indexed here, by key, and a missing key reads as null;
// it never panics.
#![allow(clippy::indexing_slicing)]

use anyhow::Context as _;
use probity_core::{Event, EventBody};
use probity_registry::{Audit, JournalPass, Progress};
use probity_rules::Replay;
use probity_store::JournalEntry;
use probity_tlog::tiles::{TILE_WIDTH, fold, tile_path, tiles_to_write};
use probity_tlog::{Checkpoint, Hash, leaf_hash};
use serde_json::Value;

/// Events asked for per page of the change feed (the server's page limit).
const FEED_PAGE: usize = 1000;

/// Subjects per batch check (the server's batch limit).
const CHECK_BATCH: usize = 10_000;

/// How often a rate-limited request is retried before the audit gives up.
const RATE_LIMIT_RETRIES: usize = 60;

struct Server {
    base: String,
    http: reqwest::blocking::Client,
}

impl Server {
    /// Sends a request, waiting as the server asks when it limits the rate (429 with
    /// `Retry-After`), and refuses any other answer but success.
    fn send(
        &self,
        url: &str,
        request: impl Fn() -> reqwest::blocking::RequestBuilder,
    ) -> anyhow::Result<reqwest::blocking::Response> {
        for _ in 0..RATE_LIMIT_RETRIES {
            let r = request().send().with_context(|| format!("cannot fetch `{url}`"))?;
            if r.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
                let wait = r
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                    .unwrap_or(1)
                    .clamp(1, 30);
                tracing::info!(url, wait, "rate-limited; waiting as the server asks");
                std::thread::sleep(std::time::Duration::from_secs(wait));
                continue;
            }
            if !r.status().is_success() {
                anyhow::bail!("`{url}` answered {}", r.status());
            }
            return Ok(r);
        }
        anyhow::bail!("`{url}` kept refusing with 429 too many requests")
    }

    fn get(&self, path: &str) -> anyhow::Result<reqwest::blocking::Response> {
        let url = format!("{}{path}", self.base);
        self.send(&url, || self.http.get(&url))
    }

    fn post_json(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let r = self.send(&url, || self.http.post(&url).json(body))?;
        r.json().with_context(|| format!("`{url}` did not answer JSON"))
    }

    fn bytes(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        Ok(self.get(path)?.bytes()?.to_vec())
    }

    fn json(&self, path: &str) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        self.get(path)?.json().with_context(|| format!("`{url}` did not answer JSON"))
    }
}

/// The published checkpoint note of the registry at `base`.
pub fn checkpoint_note(base: &str) -> anyhow::Result<String> {
    let server = Server { base: base.trim_end_matches('/').to_owned(), http: client()? };
    Ok(String::from_utf8(server.bytes("/v1/log/checkpoint")?)?)
}

fn client() -> anyhow::Result<reqwest::blocking::Client> {
    Ok(reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(60)).build()?)
}

/// The leaf data in an entry bundle, or why it is not one.
fn bundle_entries(bytes: &[u8]) -> Result<Vec<[u8; 33]>, String> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while let [hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        let (data, after) = tail.split_at_checked(len).ok_or("an entry runs past the bundle")?;
        out.push(<[u8; 33]>::try_from(data).map_err(|_| "an entry is not 33 bytes of leaf data")?);
        rest = after;
    }
    if rest.is_empty() { Ok(out) } else { Err("the bundle ends inside a length".into()) }
}

/// Audits the registry served at `base` up to the checkpoint `cp`, recomputing the roots at
/// the sizes in `at`. `sample` limits how many subjects' answers are compared (spread evenly).
pub fn audit(
    base: &str,
    cp: &Checkpoint,
    at: &[u64],
    sample: Option<usize>,
    progress: &dyn Progress,
) -> anyhow::Result<Audit> {
    let server = Server { base: base.trim_end_matches('/').to_owned(), http: client()? };
    let size = cp.size;
    let mut pass = JournalPass::new(size, at);

    // The leaves, from the entry bundles.
    let mut leaves: Vec<[u8; 33]> = Vec::with_capacity(size as usize);
    for (n, width) in tiles_to_write(0, 0, size) {
        let path = tile_path(None, n, width);
        match bundle_entries(&server.bytes(&format!("/v1/log/{path}"))?) {
            Ok(entries) if entries.len() as u64 == width => leaves.extend(entries),
            Ok(entries) => {
                pass.problem(format!("{path}: {} entries, expected {width}", entries.len()));
                break;
            }
            Err(e) => {
                pass.problem(format!("{path}: {e}"));
                break;
            }
        }
    }

    // Every hash tile, recomputed from the leaves.
    let mut nodes: Vec<Hash> = leaves.iter().map(|d| leaf_hash(d)).collect();
    for level in 0u8.. {
        if nodes.is_empty() {
            break;
        }
        for (n, width) in tiles_to_write(level, 0, size) {
            let path = tile_path(Some(level), n, width);
            let from = (n * TILE_WIDTH) as usize;
            let want: Vec<u8> = nodes
                .iter()
                .skip(from)
                .take(width as usize)
                .flat_map(|h| h.iter().copied())
                .collect();
            if server.bytes(&format!("/v1/log/{path}"))? != want {
                pass.problem(format!("{path}: does not match the tree of the entry bundles"));
            }
        }
        nodes = nodes.chunks_exact(TILE_WIDTH as usize).filter_map(fold).collect();
    }

    // The events, from the change feed, each hashed against its leaf.
    let mut after: Option<u64> = None;
    'feed: while pass.next() < size && (pass.next() as usize) < leaves.len() {
        let query = after.map_or(String::new(), |a| format!("&after={a}"));
        let page = server.json(&format!("/v1/changes?limit={FEED_PAGE}{query}"))?;
        let changes = page["changes"].as_array().cloned().unwrap_or_default();
        if changes.is_empty() {
            break;
        }
        for c in &changes {
            let Some(index) = c["index"].as_u64() else {
                pass.problem(format!("the change feed gave an entry without an index: {c}"));
                break 'feed;
            };
            if index >= size {
                break 'feed;
            }
            let Some(leaf) = leaves.get(index as usize) else { break 'feed };
            // A withheld body, or one published without its free text, is checked against the
            // digest its leaf commits to; the latter is still replayed.
            let mut digest = [0u8; 32];
            digest.copy_from_slice(leaf.get(1..).unwrap_or_default());
            let entry = if c["type"] == "withheld" {
                JournalEntry { index, bytes: Vec::new(), withheld: Some(digest) }
            } else if c["text_withheld"] == true {
                JournalEntry { index, bytes: canonical(c), withheld: Some(digest) }
            } else {
                JournalEntry { index, bytes: canonical(c), withheld: None }
            };
            pass.entry(&entry, Ok(leaf_hash(leaf)));
            after = Some(index);
        }
        progress.advance(0, changes.len() as u64);
    }
    let (mut audit, replay) = pass.finish(cp.root);
    if let Some(replay) = replay {
        compare_answers(&server, &replay, size, sample, &mut audit, progress)?;
    }
    Ok(audit)
}

/// The canonical encoding of an event as the change feed gives it, or the feed's own bytes if
/// it does not decode as one (the pass then reports it).
fn canonical(change: &Value) -> Vec<u8> {
    let event = || -> Option<Event> {
        let recorded_at = change["recorded_at"].as_str()?.parse().ok()?;
        let body: EventBody = serde_json::from_value(change["event"].clone()).ok()?;
        Some(Event::new(recorded_at, body))
    };
    event().map_or_else(|| change.to_string().into_bytes(), |e| e.encode())
}

/// Compares each (sampled) subject's published assessment and check answers with the replay's.
fn compare_answers(
    server: &Server,
    replay: &Replay,
    size: u64,
    sample: Option<usize>,
    audit: &mut Audit,
    progress: &dyn Progress,
) -> anyhow::Result<()> {
    let Some(books) = replay.rulebooks() else { return Ok(()) };
    let subjects: Vec<_> = replay.subjects().collect();
    let step = sample.map_or(1, |n| subjects.len().div_ceil(n.max(1)).max(1));
    // The answers each measure should get, checked in batches after the assessments.
    let mut expected: std::collections::BTreeMap<String, Vec<(String, &'static str)>> =
        std::collections::BTreeMap::new();
    for id in subjects.into_iter().step_by(step) {
        audit.subjects += 1;
        let mut published = server.json(&format!("/v1/subjects/{id}/assessment"))?;
        if published["log_size"].as_u64() != Some(size) {
            // The registry moved on since the checkpoint: this answer is not the one audited.
            continue;
        }
        let Some(as_of) = published["as_of"].as_str().and_then(|d| d.parse().ok()) else {
            audit.problems.push(format!("subject {id}: the published assessment has no date"));
            continue;
        };
        let Some(want) = replay.assess(id, books.in_force(as_of), as_of) else { continue };
        audit.assessments += 1;
        if let Some(o) = published.as_object_mut() {
            o.remove("subject");
            o.remove("log_size");
        }
        let want_json = serde_json::to_value(&want)?;
        if published != want_json {
            let differ: Vec<&str> = want_json
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, v)| published.get(k.as_str()) != Some(v))
                .map(|(k, _)| k.as_str())
                .collect();
            audit.problems.push(format!(
                "subject {id}: the published assessment on {as_of} differs from the log's in {}",
                differ.join(", ")
            ));
            continue;
        }
        for m in &want.measures {
            expected
                .entry(m.measure.clone())
                .or_default()
                .push((id.to_string(), m.decision.as_str()));
        }
        progress.advance(0, 1);
    }
    for (measure, answers) in &expected {
        for chunk in answers.chunks(CHECK_BATCH) {
            let subjects: Vec<&str> = chunk.iter().map(|(id, _)| id.as_str()).collect();
            let body = serde_json::json!({"measure": measure, "subjects": subjects});
            let got = server.post_json("/v1/check", &body)?;
            let results = got["results"].as_array().cloned().unwrap_or_default();
            for ((id, want), answer) in chunk.iter().zip(&results) {
                if answer["log_size"].as_u64() == Some(size)
                    && answer["decision"].as_str() != Some(*want)
                {
                    audit.problems.push(format!(
                        "subject {id}: the published answer for {measure} is {}, the log gives {want}",
                        answer["decision"]
                    ));
                }
            }
            if results.len() != chunk.len() {
                audit.problems.push(format!(
                    "the batch check for {measure} answered {} of {} subjects",
                    results.len(),
                    chunk.len()
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_bundles_parse_and_broken_ones_are_named() {
        let mut b = Vec::new();
        for i in 0..3u8 {
            b.extend_from_slice(&33u16.to_be_bytes());
            b.extend_from_slice(&[i; 33]);
        }
        assert_eq!(bundle_entries(&b).map(|e| e.len()), Ok(3));
        assert!(bundle_entries(&b[..b.len() - 1]).unwrap_err().contains("runs past"));
        assert!(bundle_entries(&[0, 2, 1, 1]).unwrap_err().contains("not 33 bytes"));
        assert!(bundle_entries(&[0]).unwrap_err().contains("inside a length"));
    }
}
