//! `probity witness`: this registry as a witness of other logs, and the witnesses of its own.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use probity_registry::Registry;
use probity_stores::Stores as _;

use crate::exit;

#[derive(Debug, Subcommand)]
pub enum WitnessCommand {
    /// Print this registry's witness verifier key (`cosignature/v1`), making the key if there
    /// is none. Other registries name it in their witness policies.
    Key,
    /// Witness another registry's log: cosign its checkpoints at `/witness/add-checkpoint`
    /// once each is shown to extend the last one cosigned. Takes effect at the next `serve`.
    Follow {
        /// The log's verifier key (`probity log key` on that registry).
        key: String,
        /// The log's origin, when it is not the key's name.
        #[arg(long)]
        origin: Option<String>,
    },
    /// Ask witnesses to cosign this registry's checkpoints, and serve only checkpoints whose
    /// cosignatures meet the policy in FILE (sigsum/torchwood form: `witness NAME KEY URL`,
    /// `group NAME K MEMBER…`, `quorum NAME`). Takes effect at the next `serve`.
    Policy {
        /// The policy file; it is checked, then copied into the registry directory.
        file: PathBuf,
    },
}

/// Runs a `probity witness` command.
pub fn run(data: &Path, cmd: WitnessCommand) -> anyhow::Result<u8> {
    let reg = Registry::open(data)?;
    match cmd {
        WitnessCommand::Key => outln!("{}", reg.witness_key()?.verifier_key()),
        WitnessCommand::Follow { key, origin } => {
            let line = match origin {
                Some(o) => format!("log {key} {o}\n"),
                None => format!("log {key}\n"),
            };
            let logs = probity_registry::parse_followed(&line)
                .map_err(|why| anyhow::anyhow!("{}", why.trim_start_matches("line 1: ")))?;
            let path = data.join(probity_registry::FOLLOWED_FILE);
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| anyhow::anyhow!("`{}`: {e}", path.display()))?;
            f.write_all(line.as_bytes())
                .map_err(|e| anyhow::anyhow!("`{}`: {e}", path.display()))?;
            for log in logs {
                outln!(
                    "witnessing `{}`; restart `probity serve` for it to take effect",
                    log.origin
                );
            }
        }
        WitnessCommand::Policy { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("`{}`: {e}", file.display()))?;
            let policy = probity_tlog::policy::Policy::parse(&text)
                .map_err(|e| anyhow::anyhow!("`{}`: {e}", file.display()))?;
            if let Some(w) = policy.witnesses().iter().find(|w| w.url.is_none()) {
                anyhow::bail!(
                    "`{}`: witness `{}` has no URL; the registry must know where to ask it",
                    file.display(),
                    w.name
                );
            }
            let path = data.join(probity_registry::WITNESSES_FILE);
            std::fs::write(&path, text)
                .map_err(|e| anyhow::anyhow!("`{}`: {e}", path.display()))?;
            outln!(
                "{} witnesses, quorum `{}`; restart `probity serve` for it to take effect",
                policy.witnesses().len(),
                policy.quorum()
            );
        }
    }
    Ok(exit::OK)
}
