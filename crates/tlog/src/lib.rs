//! The Merkle tree of probity's transparency log, as RFC 6962 and RFC 9162 define it.
//!
//! Leaves are hashed as `SHA-256(0x00 ‖ data)` and interior nodes as
//! `SHA-256(0x01 ‖ left ‖ right)`; the empty tree's root is `SHA-256("")`. The tree over `n`
//! leaves splits at the largest power of two below `n`, so a log only ever stores the hashes of
//! **complete** subtrees: the node at `(level, index)` covers leaves
//! `[index · 2^level, (index + 1) · 2^level)`. Roots of any earlier size, inclusion proofs and
//! consistency proofs are all computed from those nodes, read through the small [`Nodes`] trait,
//! so the same code serves a tree in memory ([`MemoryTree`]), in SQLite or in PostgreSQL.
//!
//! Checkpoints are signed as C2SP signed notes ([`NoteSigner`], [`NoteVerifier`]), cosigned by
//! witnesses (`cosignature/v1`, [`Cosigner`]), judged by a witness ([`witness`]) and accepted by
//! readers under a quorum policy ([`policy`]).
//!
//! This crate does no I/O and keeps no clock.
//!
//! ```
//! use probity_tlog::{MemoryTree, leaf_hash, verify_inclusion};
//!
//! let mut tree = MemoryTree::default();
//! for entry in [&b"a"[..], b"b", b"c"] {
//!     tree.append(entry);
//! }
//! let root = tree.root();
//! let proof = tree.inclusion_proof(1, 3).unwrap();
//! assert!(verify_inclusion(&leaf_hash(b"b"), 1, 3, &proof, &root).is_ok());
//! ```

pub mod cosignature;
mod frontier;
mod memory;
mod note;
pub mod policy;
mod proof;
pub mod stored;
pub mod tiles;
pub mod witness;

pub use cosignature::{CosignatureVerifier, Cosigner};
pub use frontier::Frontier;
pub use memory::MemoryTree;
pub use note::{Checkpoint, NoteError, NoteSigner, NoteVerifier, note_text};
pub use proof::{VerifyError, verify_consistency, verify_inclusion};

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The root of the empty tree: SHA-256 of nothing.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// The hash of a leaf: `SHA-256(0x00 ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an interior node: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Read access to the hashes of complete subtrees of a log.
pub trait Nodes {
    /// Why a node could not be read (a storage error, or a node that is not there).
    type Error;

    /// The hash of the complete subtree at `level` and `index`: leaves
    /// `[index << level, (index + 1) << level)`. Level 0 holds the leaf hashes.
    fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error>;
}

/// Why a proof or a root could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError<E> {
    /// The index or size asked for is not in the tree.
    #[error("{0}")]
    OutOfRange(String),
    /// The node store failed.
    #[error("node store failed: {0:?}")]
    Nodes(E),
}

/// The largest power of two strictly less than `n` (for `n ≥ 2`).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The hash of the tree over leaves `[start, end)`, from complete-subtree nodes.
fn subtree<N: Nodes + ?Sized>(nodes: &N, start: u64, end: u64) -> Result<Hash, N::Error> {
    let n = end - start;
    if n == 0 {
        return Ok(EMPTY_ROOT);
    }
    if n.is_power_of_two() && start & (n - 1) == 0 {
        let level = n.trailing_zeros() as u8;
        return nodes.node(level, start >> level);
    }
    let k = split(n);
    Ok(node_hash(&subtree(nodes, start, start + k)?, &subtree(nodes, start + k, end)?))
}

/// The root of the tree of the first `size` leaves.
pub fn root<N: Nodes + ?Sized>(nodes: &N, size: u64) -> Result<Hash, N::Error> {
    subtree(nodes, 0, size)
}

/// The audit path of leaf `index` in the tree of the first `size` leaves (RFC 9162 §2.1.3.1),
/// nearest sibling first.
pub fn inclusion_proof<N: Nodes + ?Sized>(
    nodes: &N,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, TreeError<N::Error>> {
    if index >= size {
        return Err(TreeError::OutOfRange(format!("leaf {index} is not in a tree of size {size}")));
    }
    let mut path = Vec::new();
    let (mut m, mut start, mut n) = (index, 0, size);
    // Walk down from the root, remembering the sibling subtree at each split.
    let mut siblings = Vec::new();
    while n > 1 {
        let k = split(n);
        if m < k {
            siblings.push((start + k, start + n));
            n = k;
        } else {
            siblings.push((start, start + k));
            m -= k;
            start += k;
            n -= k;
        }
    }
    for (a, b) in siblings.into_iter().rev() {
        path.push(subtree(nodes, a, b).map_err(TreeError::Nodes)?);
    }
    Ok(path)
}

/// The consistency proof between the trees of the first `from` and first `to` leaves
/// (RFC 9162 §2.1.4.1). Empty when `from` is 0 or equals `to`.
pub fn consistency_proof<N: Nodes + ?Sized>(
    nodes: &N,
    from: u64,
    to: u64,
) -> Result<Vec<Hash>, TreeError<N::Error>> {
    if from > to {
        return Err(TreeError::OutOfRange(format!("size {from} is larger than size {to}")));
    }
    if from == 0 || from == to {
        return Ok(Vec::new());
    }
    // SUBPROOF(m, D[start, start + n], whole) iteratively: collect the right-hand hashes from the
    // top down, then emit them bottom up.
    let (mut m, mut start, mut n, mut whole) = (from, 0, to, true);
    let mut upper = Vec::new();
    while m != n {
        let k = split(n);
        if m <= k {
            upper.push((start + k, start + n));
            n = k;
        } else {
            upper.push((start, start + k));
            m -= k;
            start += k;
            n -= k;
            whole = false;
        }
    }
    let mut proof = Vec::with_capacity(upper.len() + 1);
    if !whole {
        proof.push(subtree(nodes, start, start + n).map_err(TreeError::Nodes)?);
    }
    for (a, b) in upper.into_iter().rev() {
        proof.push(subtree(nodes, a, b).map_err(TreeError::Nodes)?);
    }
    Ok(proof)
}

/// The nodes that appending leaf `index` (with hash `leaf`) completes, bottom up: the leaf
/// itself at level 0, then every parent whose right child it finishes. `nodes` must hold the
/// complete subtrees of the first `index` leaves.
pub fn completed_by_append<N: Nodes + ?Sized>(
    nodes: &N,
    index: u64,
    leaf: Hash,
) -> Result<Vec<(u8, u64, Hash)>, N::Error> {
    let mut out = vec![(0u8, index, leaf)];
    let (mut level, mut i, mut hash) = (0u8, index, leaf);
    while i % 2 == 1 {
        let left = nodes.node(level, i - 1)?;
        hash = node_hash(&left, &hash);
        level += 1;
        i >>= 1;
        out.push((level, i, hash));
    }
    Ok(out)
}

/// Hex of a hash, for messages and tests.
pub fn hex(hash: &Hash) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}
