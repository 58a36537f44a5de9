//! `probity log` and `probity audit`: the transparency log from the command line.

use probity_stores::Stores as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use clap::Subcommand;
use probity_registry::Registry;
use probity_tlog::{Checkpoint, Hash, NoteVerifier, hex};
use serde_json::json;

use crate::exit;
use crate::progress::Bar;

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Print the verifier key of the log's checkpoints.
    Key,
    /// Sign a checkpoint of the log as it stands, publish it, and print it.
    Checkpoint,
    /// Publish the log as C2SP tlog-tiles (checkpoint, hash tiles, entry bundles) under --out,
    /// writing only what changed since the last publication there.
    Tiles {
        /// Output directory (the tile prefix).
        #[arg(long)]
        out: std::path::PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The log's size and root (at an earlier size with --size).
    Root {
        /// Tree size (default: the current size).
        #[arg(long)]
        size: Option<u64>,
        /// Print JSON (hashes in base64).
        #[arg(long)]
        json: bool,
    },
    /// The inclusion proof of entry --index in the tree of --size entries.
    Prove {
        /// Entry (leaf) index, from 0.
        #[arg(long)]
        index: u64,
        /// Tree size (default: the current size).
        #[arg(long)]
        size: Option<u64>,
        /// Print JSON (hashes in base64).
        #[arg(long)]
        json: bool,
    },
    /// The consistency proof from the tree of --from entries to the tree of --to entries.
    Consistency {
        /// Older size.
        #[arg(long)]
        from: u64,
        /// Newer size (default: the current size).
        #[arg(long)]
        to: Option<u64>,
        /// Print JSON (hashes in base64).
        #[arg(long)]
        json: bool,
    },
}

fn b64(h: &Hash) -> String {
    B64.encode(h)
}

pub fn run(data: &Path, cmd: LogCommand) -> anyhow::Result<u8> {
    let reg = Registry::open(data)?;
    match cmd {
        LogCommand::Key => outln!("{}", reg.verifier_key()?),
        LogCommand::Checkpoint => outln!("{}", reg.publish_checkpoint()?.trim_end()),
        LogCommand::Tiles { out, json } => {
            crate::print_json_or(json, &reg.publish_tiles(&out)?, |r| {
                outln!(
                    "published entries {}..{} to {}: {} hash tiles, {} entry bundles",
                    r.from,
                    r.to,
                    out.display(),
                    r.hash_tiles,
                    r.entry_bundles
                );
                Ok(())
            })?;
        }
        LogCommand::Root { size, json } => {
            let (size, root) = reg.log_root(size)?;
            if json {
                outln!("{}", json!({"size": size, "root": b64(&root)}));
            } else {
                outln!("size {size}\nroot {}", hex(&root));
            }
        }
        LogCommand::Prove { index, size, json } => {
            crate::print_json_or(json, &reg.inclusion_proof(index, size)?, |p| {
                outln!("entry {} in the log of {} entries", p.index, p.size);
                outln!("leaf hash {}", hex(&p.leaf_hash));
                for (i, h) in p.path.iter().enumerate() {
                    outln!("path[{i}]  {}", hex(h));
                }
                outln!("root      {}", hex(&p.root));
                Ok(())
            })?;
        }
        LogCommand::Consistency { from, to, json } => {
            crate::print_json_or(json, &reg.consistency_proof(from, to)?, |p| {
                outln!("from {} ({})", p.from, hex(&p.old_root));
                outln!("to   {} ({})", p.to, hex(&p.new_root));
                for (i, h) in p.path.iter().enumerate() {
                    outln!("path[{i}]  {}", hex(h));
                }
                Ok(())
            })?;
        }
    }
    Ok(exit::OK)
}

/// The report when there is nothing to audit against: no usable checkpoint from a server.
fn report_unaudited(problems: &[String], as_json: bool) -> anyhow::Result<u8> {
    if as_json {
        outln!("{}", json!({"problems": problems, "ok": false}));
    } else {
        outln!("{} problems:", problems.len());
        for p in problems {
            outln!("  {p}");
        }
    }
    Ok(exit::FAILURE)
}

pub fn audit(
    from: &str,
    sample: Option<usize>,
    key: Option<&str>,
    policy: Option<&Path>,
    state: Option<&Path>,
    as_json: bool,
) -> anyhow::Result<u8> {
    let url = from.starts_with("http://") || from.starts_with("https://");
    let dir = Path::new(from);
    let reg = if url { None } else { Some(Registry::open(dir)?) };
    let mut problems = Vec::new();
    let mut unchecked = Vec::new();
    let policy = policy
        .map(|p| {
            let text = std::fs::read_to_string(p)
                .map_err(|e| anyhow::anyhow!("`{}`: {e}", p.display()))?;
            probity_tlog::policy::Policy::parse(&text)
                .map_err(|e| anyhow::anyhow!("`{}`: {e}", p.display()))
        })
        .transpose()?;

    // The published checkpoint (the cosigned one, under a policy), checked against the
    // verifier key when one is given, and against the policy.
    let note_path = dir.join(if policy.is_some() {
        probity_registry::COSIGNED_FILE
    } else {
        probity_registry::CHECKPOINT_FILE
    });
    let note = if url {
        crate::audit_url::checkpoint_note(from).map_err(|e| format!("{e:#}"))
    } else {
        std::fs::read_to_string(&note_path).map_err(|e| format!("`{}`: {e}", note_path.display()))
    };
    let mut cosigners = Vec::new();
    let published = match note {
        Ok(note) => {
            match policy.as_ref().map(|p| p.check(&note)) {
                Some(Ok(accepted)) => cosigners = accepted.cosigners,
                Some(Err(e)) => problems.push(format!("published checkpoint: {e}")),
                None => unchecked.push("witness cosignatures (pass --policy)".to_owned()),
            }
            let text = match key {
                Some(k) => {
                    let verifier = NoteVerifier::parse(k)?;
                    match verifier.open(&note) {
                        Ok(text) => Some(text.to_owned()),
                        Err(e) => {
                            problems.push(format!("published checkpoint: {e}"));
                            None
                        }
                    }
                }
                None => {
                    unchecked.push("checkpoint signature (pass --key)".to_owned());
                    Some(probity_tlog::note_text(&note).to_owned())
                }
            };
            match text.as_deref().map(Checkpoint::parse) {
                Some(Ok(cp)) => Some(cp),
                Some(Err(e)) => {
                    problems.push(format!("published checkpoint: {e}"));
                    None
                }
                None => None,
            }
        }
        Err(e) => {
            problems.push(format!("no published checkpoint: {e}"));
            None
        }
    };
    // The checkpoint this auditor verified last time.
    let seen = match state.map(std::fs::read_to_string) {
        Some(Ok(text)) => Some(Checkpoint::parse(&text)?),
        _ => None,
    };
    if state.is_none() {
        unchecked.push("consistency with an earlier checkpoint (pass --state)".to_owned());
    }
    let sizes: Vec<u64> = published.iter().chain(seen.iter()).map(|c| c.size).collect();

    let bar = Bar::bytes(None, "audit");
    let result = match (&reg, &published) {
        (Some(reg), _) => reg.audit(&sizes, &bar).map_err(anyhow::Error::from),
        (None, Some(cp)) => crate::audit_url::audit(from, cp, &sizes, sample, &bar),
        (None, None) => {
            bar.finish();
            return report_unaudited(&problems, as_json);
        }
    };
    bar.finish();
    let a = result?;
    problems.extend(a.problems.iter().cloned());
    let root_at = |size: u64| a.roots_at.iter().find(|(s, _)| *s == size).map(|(_, r)| *r);
    let mismatch = |cp: &Checkpoint| root_at(cp.size).filter(|r| *r != cp.root);
    if let Some(cp) = &published
        && let Some(r) = mismatch(cp)
    {
        problems.push(format!(
            "the published checkpoint at size {} has root {}, but the journal gives {}",
            cp.size,
            hex(&cp.root),
            hex(&r)
        ));
    }
    if let Some(old) = &seen
        && let Some(r) = mismatch(old)
    {
        problems.push(format!(
            "history was rewritten: the checkpoint this auditor saw at size {} had root {}, but \
             the journal now gives {}",
            old.size,
            hex(&old.root),
            hex(&r)
        ));
    }
    if problems.is_empty()
        && let (Some(path), Some(cp)) = (state, &published)
    {
        std::fs::write(path, cp.text()).map_err(|e| {
            anyhow::anyhow!("cannot write the auditor state `{}`: {e}", path.display())
        })?;
    }
    if as_json {
        outln!(
            "{}",
            json!({
                "size": a.size, "recomputed_root": b64(&a.recomputed_root),
                "stated_root": b64(&a.stated_root), "checkpoint_size": published.as_ref().map(|c| c.size),
                "subjects": a.subjects, "records": a.records, "assessments": a.assessments,
                "problems": problems, "not_checked": unchecked, "ok": problems.is_empty(),
                "cosigned_by": cosigners.iter().map(|(w, t)| json!({"witness": w, "time": t})).collect::<Vec<_>>(),
            })
        );
    } else {
        if !cosigners.is_empty() {
            let names: Vec<&str> = cosigners.iter().map(|(w, _)| w.as_str()).collect();
            outln!(
                "ok: the checkpoint is cosigned by {} (a quorum of the policy)",
                names.join(", ")
            );
        }
        if problems.is_empty() {
            outln!(
                "ok: {} entries; the journal and the log agree on root {}",
                a.size,
                hex(&a.stated_root)
            );
            if url {
                outln!(
                    "ok: every tile and feed event matches the leaves; replaying them gives the \
                     assessments and answers served for {} of {} subjects compared",
                    a.assessments,
                    a.subjects
                );
            } else {
                outln!(
                    "ok: replaying them gives the {} subjects, {} records and {} stored \
                     assessments the registry publishes",
                    a.subjects,
                    a.records,
                    a.assessments
                );
            }
        } else {
            outln!("{} problems in {} entries:", problems.len(), a.size);
            for p in &problems {
                outln!("  {p}");
            }
        }
        for u in &unchecked {
            outln!("not checked: {u}");
        }
    }
    Ok(if problems.is_empty() { exit::OK } else { exit::FAILURE })
}
