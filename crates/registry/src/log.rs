//! The transparency log as the registry offers it: roots, proofs, and an audit of the journal
//! against the log.

use probity_store::LogNodes;
use probity_tlog::{Checkpoint, Hash, NoteSigner, TreeError};
use serde::Serialize;

use crate::{Registry, RegistryError};

/// Proofs are written with their hashes in standard base64, as a C2SP checkpoint writes its
/// root hash.
fn base64_hash<S: serde::Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
    use base64::Engine as _;
    s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(h))
}

fn base64_hashes<S: serde::Serializer>(hs: &[Hash], s: S) -> Result<S::Ok, S::Error> {
    use base64::Engine as _;
    use serde::ser::SerializeSeq as _;
    let mut seq = s.serialize_seq(Some(hs.len()))?;
    for h in hs {
        seq.serialize_element(&base64::engine::general_purpose::STANDARD.encode(h))?;
    }
    seq.end()
}

/// A proof that an entry is in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InclusionProof {
    /// Leaf index (= journal index).
    pub index: u64,
    /// Tree size the proof is for.
    pub size: u64,
    /// The leaf hash.
    #[serde(serialize_with = "base64_hash")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub leaf_hash: Hash,
    /// Audit path, nearest sibling first.
    #[serde(serialize_with = "base64_hashes")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub path: Vec<Hash>,
    /// The root of the tree of `size` leaves.
    #[serde(serialize_with = "base64_hash")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub root: Hash,
}

/// A proof that one tree size extends another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsistencyProof {
    /// Older size.
    pub from: u64,
    /// Newer size.
    pub to: u64,
    /// The proof.
    #[serde(serialize_with = "base64_hashes")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub path: Vec<Hash>,
    /// Root at `from`.
    #[serde(serialize_with = "base64_hash")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub old_root: Hash,
    /// Root at `to`.
    #[serde(serialize_with = "base64_hash")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub new_root: Hash,
}

/// What a tile publication wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TilesReport {
    /// Log size the previous publication covered.
    pub from: u64,
    /// Log size this one covers.
    pub to: u64,
    /// Hash tiles written.
    pub hash_tiles: u64,
    /// Entry bundles written.
    pub entry_bundles: u64,
}

fn tree_error(e: TreeError<probity_store::StoreError>) -> RegistryError {
    match e {
        TreeError::OutOfRange(m) => RegistryError::Refused(m),
        TreeError::Nodes(e) => RegistryError::Store(e),
    }
}

/// Signs a checkpoint of `store`'s log as it stands and writes it to `path` atomically (write,
/// then rename). Returns the signed note.
pub(crate) fn write_checkpoint(
    store: &dyn probity_store::Store,
    signer: &NoteSigner,
    path: &std::path::Path,
) -> Result<String, RegistryError> {
    // One publisher at a time (a server, an import in another process), each reading the log's
    // size under the lock: a published checkpoint never goes back to a smaller size.
    let _lock = lock_beside(path)?;
    let size = store.log_size()?;
    let root = probity_tlog::root(&LogNodes(store), size)?;
    if let Some(last) = last_published(path)? {
        extends(store, &last, size, &root).map_err(|why| {
            tracing::error!(%why, "refused to sign a checkpoint");
            RegistryError::Refused(format!(
                "refusing to sign a checkpoint of {size} entries: {why}; the checkpoint of {} \
                 entries published in `{}` stays the registry's latest",
                last.size,
                path.display()
            ))
        })?;
    }
    let note = signer.sign(&Checkpoint { origin: signer.name().to_owned(), size, root }.text());
    replace_file(path, note.as_bytes())?;
    Ok(note)
}

/// The lock file beside `path`, locked: one writer of `path` at a time, across processes, for
/// as long as the returned handle lives.
pub(crate) fn lock_beside(path: &std::path::Path) -> Result<std::fs::File, RegistryError> {
    let lock_path = path.with_extension("lock");
    let io = |source| RegistryError::Io { path: lock_path.display().to_string(), source };
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io)?;
    lock.lock().map_err(io)?;
    Ok(lock)
}

/// Replaces the file at `path` with `bytes` in one step for readers: written beside it, then
/// renamed over it.
pub(crate) fn replace_file(path: &std::path::Path, bytes: &[u8]) -> Result<(), RegistryError> {
    let tmp = path.with_extension("tmp");
    let io = |p: &std::path::Path| {
        let p = p.display().to_string();
        move |source| RegistryError::Io { path: p, source }
    };
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// The checkpoint published at `path`, if one is.
fn last_published(path: &std::path::Path) -> Result<Option<Checkpoint>, RegistryError> {
    let note = match std::fs::read_to_string(path) {
        Ok(note) => note,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(RegistryError::Io { path: path.display().to_string(), source }),
    };
    Checkpoint::parse(probity_tlog::note_text(&note))
        .map(Some)
        .map_err(|e| RegistryError::Refused(format!("`{}`: {e}", path.display())))
}

/// Whether the log of `size` entries with root `root` extends the checkpoint `last` (a
/// consistency proof from its size, read from the store and checked against both roots), as a
/// transparency log must before it signs; else why not, in words.
fn extends(
    store: &dyn probity_store::Store,
    last: &Checkpoint,
    size: u64,
    root: &Hash,
) -> Result<(), String> {
    if last.size > size {
        return Err(format!(
            "the log holds fewer entries than the {} already published",
            last.size
        ));
    }
    let proof = probity_tlog::consistency_proof(&LogNodes(store), last.size, size)
        .map_err(|e| format!("no consistency proof from size {}: {e}", last.size))?;
    probity_tlog::verify_consistency(last.size, size, &proof, &last.root, root).map_err(|e| {
        format!(
            "the log is not consistent with the checkpoint published at size {} (root {}): {e}; \
             its history was changed outside probity",
            last.size,
            probity_tlog::hex(&last.root)
        )
    })
}

impl Registry {
    /// The log's signing key, from the registry directory.
    pub(crate) fn signer(&self) -> Result<NoteSigner, RegistryError> {
        let path = self.dir.join(crate::KEY_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|source| RegistryError::Io { path: path.display().to_string(), source })?;
        NoteSigner::parse(&text).map_err(|_| {
            RegistryError::Refused(format!("`{}` does not hold a signing key", path.display()))
        })
    }

    /// The verifier key string of the log, for auditors.
    pub fn verifier_key(&self) -> Result<String, RegistryError> {
        Ok(self.signer()?.verifier_key())
    }

    /// Signs a checkpoint of the log as it stands, publishes it in the registry directory, and
    /// returns the signed note.
    pub fn publish_checkpoint(&self) -> Result<String, RegistryError> {
        write_checkpoint(self.store(), &self.signer()?, &self.dir.join(crate::CHECKPOINT_FILE))
    }

    /// Publishes a checkpoint if the published one holds fewer than `size` entries, the log's
    /// size as the caller read it (others, another node or process, may have appended). Returns
    /// whether it did.
    pub fn publish_checkpoint_if_short_of(&self, size: u64) -> Result<bool, RegistryError> {
        let behind = match self.published_checkpoint() {
            Ok((_, cp)) => cp.size < size,
            Err(_) => true,
        };
        if behind {
            self.publish_checkpoint()?;
        }
        Ok(behind)
    }

    /// The leaf hash of log entry `index`.
    pub fn leaf_hash(&self, index: u64) -> Result<Hash, RegistryError> {
        Ok(self.store.log_node(0, index)?)
    }

    /// The next log index the feed `name` (one that publishes the log elsewhere) is to publish.
    pub fn feed_cursor(&self, name: &str) -> Result<Option<u64>, RegistryError> {
        Ok(self.store.feed_cursor(name)?)
    }

    /// Keeps `next` as the next log index the feed `name` is to publish.
    pub fn set_feed_cursor(&mut self, name: &str, next: u64) -> Result<(), RegistryError> {
        Ok(self.store.set_feed_cursor(name, next)?)
    }

    /// How long ago the published checkpoint was written, if one was.
    pub fn checkpoint_age(&self) -> Option<std::time::Duration> {
        let path = self.dir.join(crate::CHECKPOINT_FILE);
        std::fs::metadata(path).and_then(|m| m.modified()).ok()?.elapsed().ok()
    }

    /// The published checkpoint (signed note) and what it states.
    pub fn published_checkpoint(&self) -> Result<(String, Checkpoint), RegistryError> {
        let path = self.dir.join(crate::CHECKPOINT_FILE);
        let note = std::fs::read_to_string(&path)
            .map_err(|source| RegistryError::Io { path: path.display().to_string(), source })?;
        let cp = Checkpoint::parse(probity_tlog::note_text(&note))
            .map_err(|e| RegistryError::Refused(format!("`{}`: {e}", path.display())))?;
        Ok((note, cp))
    }

    /// Publishes the log as C2SP tlog-tiles under `out`: hash tiles and entry bundles for what
    /// was added since the checkpoint already there, then the signed checkpoint. Full tiles
    /// written before are never rewritten.
    pub fn publish_tiles(&self, out: &std::path::Path) -> Result<TilesReport, RegistryError> {
        use probity_tlog::tiles::{TILE_HEIGHT, tile_path, tiles_to_write};
        let io = |path: &std::path::Path| {
            let path = path.display().to_string();
            move |source| RegistryError::Io { path: path.clone(), source }
        };
        let note = self.publish_checkpoint()?;
        let (_, cp) = self.published_checkpoint()?;
        let previous = match std::fs::read_to_string(out.join("checkpoint")) {
            Ok(old) => {
                let old = Checkpoint::parse(probity_tlog::note_text(&old))
                    .map_err(|e| RegistryError::Refused(format!("`{}`: {e}", out.display())))?;
                let (_, root) = self.log_root(Some(old.size))?;
                if old.size > cp.size || root != old.root {
                    return Err(RegistryError::Refused(format!(
                        "`{}` holds tiles of another history (size {}); publish to an empty directory",
                        out.display(),
                        old.size
                    )));
                }
                old.size
            }
            Err(_) => 0,
        };
        let write = |rel: String, bytes: &[u8]| -> Result<(), RegistryError> {
            let path = out.join(rel);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
            }
            replace_file(&path, bytes)
        };
        let mut report =
            TilesReport { from: previous, to: cp.size, hash_tiles: 0, entry_bundles: 0 };
        for level in 0u8.. {
            let shift = u32::from(level) * u32::from(TILE_HEIGHT);
            if cp.size.checked_shr(shift).unwrap_or(0) == 0 {
                break;
            }
            for (n, width) in tiles_to_write(level, previous, cp.size) {
                write(
                    tile_path(Some(level), n, width),
                    &self.tile(Some(level), n, width, cp.size)?,
                )?;
                report.hash_tiles += 1;
            }
        }
        for (n, width) in tiles_to_write(0, previous, cp.size) {
            write(tile_path(None, n, width), &self.tile(None, n, width, cp.size)?)?;
            report.entry_bundles += 1;
        }
        write("checkpoint".into(), note.as_bytes())?;
        Ok(report)
    }

    /// The bytes of one C2SP tile of the log at `size` leaves: the hash tile at tile level
    /// `level` (the hashes of tree level `8 × level` nodes `[256 × index, 256 × index + width)`),
    /// or with `level = None` the entry bundle of those leaves (each leaf's data prefixed by its
    /// length). Refuses a tile the tree of `size` leaves does not hold whole.
    pub fn tile(
        &self,
        level: Option<u8>,
        index: u64,
        width: u64,
        size: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        use probity_tlog::tiles::{TILE_HEIGHT, TILE_WIDTH};
        let tree_level = level.unwrap_or(0).checked_mul(TILE_HEIGHT);
        let nodes = tree_level.map_or(0, |l| size.checked_shr(u32::from(l)).unwrap_or(0));
        let start = index.checked_mul(TILE_WIDTH);
        let end = start.and_then(|s| s.checked_add(width));
        let (Some(tree_level), Some(start), Some(end)) = (tree_level, start, end) else {
            return Err(RegistryError::NotFound(format!("no tile {index} at level {level:?}")));
        };
        if width == 0 || width > TILE_WIDTH || end > nodes {
            return Err(RegistryError::NotFound(format!(
                "the log of {size} entries has no tile {index} of width {width} at level {}",
                level.map_or_else(|| "entries".to_owned(), |l| l.to_string())
            )));
        }
        let mut bytes = Vec::with_capacity(width as usize * 35);
        match level {
            Some(_) => {
                for i in start..end {
                    bytes.extend_from_slice(&self.store.log_node(tree_level, i)?);
                }
            }
            None => {
                for entry in self.store.journal(start, width as usize)? {
                    let data = entry.leaf_data();
                    bytes.extend_from_slice(&(data.len() as u16).to_be_bytes());
                    bytes.extend_from_slice(&data);
                }
            }
        }
        Ok(bytes)
    }

    /// The number of entries in the log.
    pub fn log_size(&self) -> Result<u64, RegistryError> {
        Ok(self.store.log_size()?)
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
}
