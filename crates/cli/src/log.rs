//! `probity log` and `probity audit`: the transparency log from the command line.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use clap::Subcommand;
use probity_registry::Registry;
use probity_tlog::{Hash, hex};
use serde_json::json;

use crate::exit;
use crate::progress::Bar;

#[derive(Debug, Subcommand)]
pub enum LogCommand {
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

fn b64_all(hs: &[Hash]) -> Vec<String> {
    hs.iter().map(b64).collect()
}

pub fn run(data: &Path, cmd: LogCommand) -> anyhow::Result<u8> {
    let reg = Registry::open(data)?;
    match cmd {
        LogCommand::Root { size, json } => {
            let (size, root) = reg.log_root(size)?;
            if json {
                outln!("{}", json!({"size": size, "root": b64(&root)}));
            } else {
                outln!("size {size}\nroot {}", hex(&root));
            }
        }
        LogCommand::Prove { index, size, json } => {
            let p = reg.inclusion_proof(index, size)?;
            if json {
                outln!(
                    "{}",
                    json!({
                        "index": p.index, "size": p.size, "leaf_hash": b64(&p.leaf_hash),
                        "path": b64_all(&p.path), "root": b64(&p.root),
                    })
                );
            } else {
                outln!("entry {} in the log of {} entries", p.index, p.size);
                outln!("leaf hash {}", hex(&p.leaf_hash));
                for (i, h) in p.path.iter().enumerate() {
                    outln!("path[{i}]  {}", hex(h));
                }
                outln!("root      {}", hex(&p.root));
            }
        }
        LogCommand::Consistency { from, to, json } => {
            let p = reg.consistency_proof(from, to)?;
            if json {
                outln!(
                    "{}",
                    json!({
                        "from": p.from, "to": p.to, "path": b64_all(&p.path),
                        "old_root": b64(&p.old_root), "new_root": b64(&p.new_root),
                    })
                );
            } else {
                outln!("from {} ({})", p.from, hex(&p.old_root));
                outln!("to   {} ({})", p.to, hex(&p.new_root));
                for (i, h) in p.path.iter().enumerate() {
                    outln!("path[{i}]  {}", hex(h));
                }
            }
        }
    }
    Ok(exit::OK)
}

pub fn audit(dir: &Path, as_json: bool) -> anyhow::Result<u8> {
    let reg = Registry::open(dir)?;
    let bar = Bar::bytes(None, "audit");
    let result = reg.audit_log(&bar);
    bar.finish();
    let a = result?;
    if as_json {
        outln!(
            "{}",
            json!({
                "size": a.size, "recomputed_root": b64(&a.recomputed_root),
                "stated_root": b64(&a.stated_root), "problems": a.problems, "ok": a.problems.is_empty(),
            })
        );
    } else if a.problems.is_empty() {
        outln!(
            "ok: {} entries; the journal and the log agree on root {}",
            a.size,
            hex(&a.stated_root)
        );
    } else {
        outln!("{} problems in {} entries:", a.problems.len(), a.size);
        for p in &a.problems {
            outln!("  {p}");
        }
    }
    Ok(if a.problems.is_empty() { exit::OK } else { exit::FAILURE })
}
