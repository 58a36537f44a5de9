//! Verification of inclusion and consistency proofs, as RFC 9162 §2.1.3.2 and §2.1.4.2 give
//! them. A verifier needs only hashes, sizes and the proof: no access to the tree.

use crate::{Hash, node_hash};

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The index or sizes are impossible.
    #[error("{0}")]
    Range(String),
    /// The proof has the wrong number of hashes for these sizes.
    #[error("the proof has {found} hashes; a proof for these sizes has {expected}")]
    Length {
        /// Hashes given.
        found: usize,
        /// Hashes expected.
        expected: usize,
    },
    /// The hashes do not lead to the expected root.
    #[error("the proof does not lead to the given root")]
    Mismatch,
}

/// Verifies that the leaf with hash `leaf` is at `index` in the tree of `size` leaves whose root
/// is `root`.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    if index >= size {
        return Err(VerifyError::Range(format!("leaf {index} is not in a tree of size {size}")));
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(VerifyError::Length {
                found: proof.len(),
                expected: inclusion_len(index, size),
            });
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(VerifyError::Length {
            found: proof.len(),
            expected: inclusion_len(index, size),
        });
    }
    if &r == root { Ok(()) } else { Err(VerifyError::Mismatch) }
}

/// The length of the inclusion proof of `index` in a tree of `size` leaves.
fn inclusion_len(index: u64, size: u64) -> usize {
    let (mut f, mut s, mut n) = (index, size.saturating_sub(1), 0);
    while s != 0 {
        if f & 1 == 1 || f == s {
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        }
        n += 1;
        f >>= 1;
        s >>= 1;
    }
    n
}

/// Verifies that the tree of `to` leaves with root `new_root` extends the tree of `from` leaves
/// with root `old_root`.
pub fn verify_consistency(
    from: u64,
    to: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), VerifyError> {
    if from > to {
        return Err(VerifyError::Range(format!("size {from} is larger than size {to}")));
    }
    if from == to || from == 0 {
        if !proof.is_empty() {
            return Err(VerifyError::Length { found: proof.len(), expected: 0 });
        }
        return if from == 0 || old_root == new_root { Ok(()) } else { Err(VerifyError::Mismatch) };
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if from.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return Err(VerifyError::Length { found: 0, expected: 1 });
    };
    let (mut f, mut s) = (from - 1, to - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return Err(VerifyError::Mismatch);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s == 0 && &fr == old_root && &sr == new_root { Ok(()) } else { Err(VerifyError::Mismatch) }
}
