//! Witnessing, both ways (C2SP tlog-witness and tlog-cosignature; `docs/log-format.md`).
//!
//! **As a witness** of other registries' logs, a registry follows the logs listed in
//! [`FOLLOWED_FILE`] (`log <verifier key> [<origin>]` lines), keeps the checkpoint it last
//! cosigned for each in its store, and cosigns a new one with its own key ([`WITNESS_KEY_FILE`],
//! never the log's) only after checking that it extends that one.
//!
//! **As a log**, a registry whose directory holds [`WITNESSES_FILE`] (a reader policy, with each
//! witness's URL) asks those witnesses to cosign each checkpoint it signs; the server does the
//! asking. The newest checkpoint whose cosignatures meet the policy is kept in
//! [`COSIGNED_FILE`], and it is the one the registry serves and proves against.

use std::path::Path;

use probity_tlog::policy::{Accepted, Policy};
use probity_tlog::witness::{AddCheckpoint, Refusal, WitnessedLog, judge};
use probity_tlog::{Checkpoint, Cosigner, NoteVerifier, note_text};

use crate::{Registry, RegistryError};

/// This registry's witness key, inside its directory (mode 0600); made on first use.
pub const WITNESS_KEY_FILE: &str = "witness.key";
/// The logs this registry witnesses: `log <verifier key> [<origin>]` per line.
pub const FOLLOWED_FILE: &str = "witnessing";
/// The witnesses of this registry's own log and the quorum readers need: a policy file.
pub const WITNESSES_FILE: &str = "witnesses";
/// The newest checkpoint of this registry's log whose cosignatures meet its policy.
pub const COSIGNED_FILE: &str = "checkpoint.cosigned";

/// A witness's cosignature on a checkpoint, as a reader's policy names the witness.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WitnessCosignature {
    /// The witness's name in the policy.
    pub witness: String,
    /// The time the witness states it cosigned, in seconds since the Unix epoch.
    pub time: u64,
}

/// Parses the list of logs a witness follows: `log <verifier key> [<origin>]` per line (the
/// origin is the key's name when left out), `#` comments and blank lines. Several keys for one
/// origin are all trusted.
pub fn parse_followed(text: &str) -> Result<Vec<WitnessedLog>, String> {
    let mut logs: Vec<WitnessedLog> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let content = raw.split('#').next().unwrap_or_default().trim();
        let words: Vec<&str> = content.split_whitespace().collect();
        let (key, origin) = match words.as_slice() {
            [] => continue,
            ["log", key] => (*key, None),
            ["log", key, origin] => (*key, Some(*origin)),
            _ => {
                return Err(format!(
                    "line {}: `{content}` is not `log <verifier key> [<origin>]`",
                    i + 1
                ));
            }
        };
        let key = NoteVerifier::parse(key)
            .map_err(|_| format!("line {}: `{key}` is not a log verifier key", i + 1))?;
        let origin = origin.unwrap_or(key.name()).to_owned();
        match logs.iter_mut().find(|l| l.origin == origin) {
            Some(log) => log.keys.push(key),
            None => logs.push(WitnessedLog { origin, keys: vec![key] }),
        }
    }
    Ok(logs)
}

fn read_optional(path: &Path) -> Result<Option<String>, RegistryError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(RegistryError::Io { path: path.display().to_string(), source }),
    }
}

impl Registry {
    /// This registry's witness key, made (and kept in [`WITNESS_KEY_FILE`]) on first use. Its
    /// name is the log's origin followed by `/witness`.
    pub fn witness_key(&self) -> Result<Cosigner, RegistryError> {
        let path = self.dir.join(WITNESS_KEY_FILE);
        let parse = |text: &str| {
            Cosigner::parse(text).map_err(|_| {
                RegistryError::Refused(format!("`{}` does not hold a witness key", path.display()))
            })
        };
        if let Some(text) = read_optional(&path)? {
            return parse(&text);
        }
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| {
            RegistryError::Internal(format!("no randomness for a witness key: {e}"))
        })?;
        let name = format!("{}/witness", self.signer()?.name());
        let key = Cosigner::from_seed(&name, seed)
            .map_err(|e| RegistryError::Refused(format!("witness key name `{name}`: {e}")))?;
        match crate::write_secret(&path, &key.to_private_string()) {
            Ok(()) => {
                tracing::info!(name, "made a witness key");
                Ok(key)
            }
            // Another process made it first: use that one.
            Err(RegistryError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists =>
            {
                parse(&std::fs::read_to_string(&path).map_err(|source| RegistryError::Io {
                    path: path.display().to_string(),
                    source,
                })?)
            }
            Err(e) => Err(e),
        }
    }

    /// The logs this registry witnesses, from [`FOLLOWED_FILE`] (none if it is absent).
    pub fn followed_logs(&self) -> Result<Vec<WitnessedLog>, RegistryError> {
        let path = self.dir.join(FOLLOWED_FILE);
        match read_optional(&path)? {
            None => Ok(Vec::new()),
            Some(text) => parse_followed(&text)
                .map_err(|why| RegistryError::Refused(format!("`{}`: {why}", path.display()))),
        }
    }

    /// The witness policy of this registry's own log, from [`WITNESSES_FILE`], if it has one:
    /// read once per registry (and the handles made from it), so a new policy takes effect
    /// when the registry is opened again.
    pub fn witness_policy(&self) -> Result<Option<&Policy>, RegistryError> {
        if let Some(policy) = self.witness_policy.get() {
            return Ok(policy.as_ref());
        }
        let path = self.dir.join(WITNESSES_FILE);
        let policy = read_optional(&path)?
            .map(|text| {
                Policy::parse(&text)
                    .map_err(|e| RegistryError::Refused(format!("`{}`: {e}", path.display())))
            })
            .transpose()?;
        Ok(self.witness_policy.get_or_init(|| policy).as_ref())
    }

    /// As a witness: judges an `add-checkpoint` request `body` against the logs in `logs` and
    /// the checkpoint last cosigned for its origin, stores the new one by compare-and-set, and
    /// returns the cosignature line; or the refusal, with the status the specification gives.
    pub fn add_checkpoint(
        &mut self,
        logs: &[WitnessedLog],
        body: &str,
    ) -> Result<Result<String, Refusal>, RegistryError> {
        let request = match AddCheckpoint::parse(body) {
            Ok(r) => r,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let mut read: Result<Option<(u64, probity_tlog::Hash)>, probity_store::StoreError> =
            Ok(None);
        let judged = judge(&request, logs, |origin| {
            read = self.store.witnessed(origin);
            read.as_ref().ok().copied().flatten()
        });
        let stored = read?;
        let checkpoint = match judged {
            Ok(c) => c,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let key = self.witness_key()?;
        let note = note_text(&request.note);
        if !self.store.advance_witnessed(
            &checkpoint.origin,
            stored,
            checkpoint.size,
            &checkpoint.root,
            &request.note,
        )? {
            // Another request moved the state between the judgement and the store.
            let now = self.store.witnessed(&checkpoint.origin)?.map_or(0, |(size, _)| size);
            return Ok(Err(Refusal::Conflict {
                origin: checkpoint.origin,
                stored: now,
                why: format!("says old size {}, which another request has just moved", request.old),
            }));
        }
        let time = u64::try_from(self.clock.now().as_second()).unwrap_or(0);
        tracing::info!(origin = %checkpoint.origin, size = checkpoint.size, "cosigned a checkpoint");
        Ok(Ok(key.cosign(note, time)))
    }

    /// The newest checkpoint of this log that met its witness policy, with who cosigned it, if
    /// one has.
    pub fn cosigned_checkpoint(&self) -> Result<Option<(String, Accepted)>, RegistryError> {
        let Some(policy) = self.witness_policy()? else { return Ok(None) };
        let path = self.dir.join(COSIGNED_FILE);
        let Some(note) = read_optional(&path)? else { return Ok(None) };
        let accepted = policy
            .check(&note)
            .map_err(|e| RegistryError::Refused(format!("`{}`: {e}", path.display())))?;
        Ok(Some((note, accepted)))
    }

    /// Keeps `note`, this log's checkpoint with the cosignatures collected for it, as the
    /// newest cosigned checkpoint if it meets the policy and is newer than the one kept (never
    /// going back to a smaller size). Returns whether it did.
    pub fn keep_cosigned(&self, note: &str) -> Result<bool, RegistryError> {
        let Some(policy) = self.witness_policy()? else { return Ok(false) };
        let Ok(accepted) = policy.check(note) else { return Ok(false) };
        let (_, published) = self.published_checkpoint()?;
        let (size, root) = self.log_root(Some(accepted.checkpoint.size.min(published.size)))?;
        if size != accepted.checkpoint.size || root != accepted.checkpoint.root {
            return Err(RegistryError::Refused(format!(
                "a cosigned checkpoint of size {} is not of this log",
                accepted.checkpoint.size
            )));
        }
        let path = self.dir.join(COSIGNED_FILE);
        let _lock = crate::log::lock_beside(&path)?;
        if let Some(old) = read_optional(&path)? {
            let kept = Checkpoint::parse(note_text(&old)).map(|c| c.size).unwrap_or(0);
            if kept > accepted.checkpoint.size
                || (kept == accepted.checkpoint.size && old.len() >= note.len())
            {
                return Ok(false);
            }
        }
        crate::log::replace_file(&path, note.as_bytes())?;
        Ok(true)
    }

    /// The checkpoint this registry serves and proves against: the newest cosigned one when
    /// its log has witnesses, else the newest signed one.
    pub fn served_checkpoint(&self) -> Result<(String, Checkpoint), RegistryError> {
        if self.witness_policy()?.is_none() {
            return self.published_checkpoint();
        }
        match self.cosigned_checkpoint()? {
            Some((note, accepted)) => Ok((note, accepted.checkpoint)),
            None => Err(RegistryError::Unavailable(
                "no checkpoint of this log has met its witness policy yet".into(),
            )),
        }
    }

    /// The checkpoint proofs and receipts are made against: the served one, or, while no
    /// checkpoint has met the witness policy yet, the newest signed one (whose cosigners, none,
    /// the proof then states).
    pub fn proving_checkpoint(&self) -> Result<(String, Checkpoint), RegistryError> {
        match self.served_checkpoint() {
            Err(RegistryError::Unavailable(_)) => self.published_checkpoint(),
            other => other,
        }
    }

    /// The witnesses of this log's policy that cosigned `note`.
    pub fn cosigners_of(&self, note: &str) -> Result<Vec<WitnessCosignature>, RegistryError> {
        let Some(policy) = self.witness_policy()? else { return Ok(Vec::new()) };
        let found = policy.cosigners(note).unwrap_or_default();
        Ok(found
            .into_iter()
            .filter_map(|(i, time)| {
                policy
                    .witnesses()
                    .get(i)
                    .map(|w| WitnessCosignature { witness: w.name.clone(), time })
            })
            .collect())
    }
}
