//! The transparency log as the registry offers it: roots, proofs, and an audit of the journal
//! against the log.

use probity_core::{Event, leaf_data};
use probity_store::LogNodes;
use probity_tlog::{Frontier, Hash, TreeError, leaf_hash};
use serde::Serialize;

use crate::{Registry, RegistryError};

/// A proof that an entry is in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InclusionProof {
    /// Leaf index (= journal index).
    pub index: u64,
    /// Tree size the proof is for.
    pub size: u64,
    /// The leaf hash.
    pub leaf_hash: Hash,
    /// Audit path, nearest sibling first.
    pub path: Vec<Hash>,
    /// The root of the tree of `size` leaves.
    pub root: Hash,
}

/// A proof that one tree size extends another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsistencyProof {
    /// Older size.
    pub from: u64,
    /// Newer size.
    pub to: u64,
    /// The proof.
    pub path: Vec<Hash>,
    /// Root at `from`.
    pub old_root: Hash,
    /// Root at `to`.
    pub new_root: Hash,
}

/// What an audit of the journal against the log found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogAudit {
    /// Entries checked.
    pub size: u64,
    /// The root recomputed from the journal.
    pub recomputed_root: Hash,
    /// The root the registry's log states.
    pub stated_root: Hash,
    /// Every disagreement, each naming its entry.
    pub problems: Vec<String>,
}

fn tree_error(e: TreeError<probity_store::StoreError>) -> RegistryError {
    match e {
        TreeError::OutOfRange(m) => RegistryError::Refused(m),
        TreeError::Nodes(e) => RegistryError::Store(e),
    }
}

impl Registry {
    /// The number of entries in the log.
    pub fn log_size(&self) -> Result<u64, RegistryError> {
        Ok(self.store.counts()?.events)
    }

    fn size_or_current(&self, size: Option<u64>) -> Result<u64, RegistryError> {
        let current = self.log_size()?;
        match size {
            Some(s) if s > current => Err(RegistryError::Refused(format!(
                "size {s} is beyond the log's {current} entries"
            ))),
            Some(s) => Ok(s),
            None => Ok(current),
        }
    }

    /// The root of the log at `size` (the current size if `None`).
    pub fn log_root(&self, size: Option<u64>) -> Result<(u64, Hash), RegistryError> {
        let size = self.size_or_current(size)?;
        Ok((size, probity_tlog::root(&LogNodes(self.store()), size)?))
    }

    /// The inclusion proof of entry `index` in the log at `size`.
    pub fn inclusion_proof(
        &self,
        index: u64,
        size: Option<u64>,
    ) -> Result<InclusionProof, RegistryError> {
        let size = self.size_or_current(size)?;
        let nodes = LogNodes(self.store());
        let path = probity_tlog::inclusion_proof(&nodes, index, size).map_err(tree_error)?;
        Ok(InclusionProof {
            index,
            size,
            leaf_hash: self.store.log_node(0, index)?,
            path,
            root: probity_tlog::root(&nodes, size)?,
        })
    }

    /// The consistency proof from size `from` to size `to` (the current size if `None`).
    pub fn consistency_proof(
        &self,
        from: u64,
        to: Option<u64>,
    ) -> Result<ConsistencyProof, RegistryError> {
        let to = self.size_or_current(to)?;
        let nodes = LogNodes(self.store());
        let path = probity_tlog::consistency_proof(&nodes, from, to).map_err(tree_error)?;
        Ok(ConsistencyProof {
            from,
            to,
            path,
            old_root: probity_tlog::root(&nodes, from)?,
            new_root: probity_tlog::root(&nodes, to)?,
        })
    }

    /// Reads every journal entry, checks it is a canonical encoding of a valid event, recomputes
    /// its leaf and the tree, and compares them with the log the registry keeps.
    pub fn audit_log(&self, progress: &dyn crate::Progress) -> Result<LogAudit, RegistryError> {
        let size = self.log_size()?;
        let mut problems = Vec::new();
        let mut frontier = Frontier::default();
        let mut next = 0u64;
        while next < size {
            let page = self.store.journal(next, 10_000)?;
            if page.is_empty() {
                problems.push(format!(
                    "the journal ends at entry {next}, but the log has {size} leaves"
                ));
                break;
            }
            for entry in &page {
                if entry.index != next {
                    problems.push(format!(
                        "journal entry {next} is missing (the next one is {})",
                        entry.index
                    ));
                    next = entry.index;
                }
                match Event::decode(&entry.bytes) {
                    Ok(event) if event.encode() != entry.bytes => {
                        problems.push(format!("entry {next}: not in canonical encoding"));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        problems.push(format!("entry {next}: does not decode as an event: {e}"))
                    }
                }
                let leaf = leaf_hash(&leaf_data(&entry.bytes));
                match self.store.log_node(0, next) {
                    Ok(stated) if stated != leaf => {
                        problems.push(format!(
                            "entry {next}: its leaf in the log does not match the journal"
                        ));
                    }
                    Ok(_) => {}
                    Err(e) => problems.push(format!("entry {next}: no leaf in the log ({e})")),
                }
                frontier.append(leaf);
                next += 1;
            }
            progress.advance(0, page.len() as u64);
        }
        let recomputed_root = frontier.root();
        let stated_root = probity_tlog::root(&LogNodes(self.store()), size)?;
        if recomputed_root != stated_root {
            problems.push(format!(
                "the log's root at size {size} is {}, but the journal gives {}",
                probity_tlog::hex(&stated_root),
                probity_tlog::hex(&recomputed_root)
            ));
        }
        Ok(LogAudit { size, recomputed_root, stated_root, problems })
    }
}
