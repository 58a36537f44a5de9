//! The right edge of a growing tree: the complete subtrees whose sizes are the binary digits of
//! the tree's size. Appending needs nothing else, so a writer keeps the frontier in memory and
//! never reads storage to append.

use crate::{EMPTY_ROOT, Hash, Nodes, node_hash};

/// The peaks of a tree of `size` leaves, largest (leftmost) first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// `(level, index, hash)` of each peak.
    peaks: Vec<(u8, u64, Hash)>,
}

impl Frontier {
    /// The frontier of the tree of the first `size` leaves held by `nodes` (at most 64 reads).
    pub fn load<N: Nodes + ?Sized>(nodes: &N, size: u64) -> Result<Self, N::Error> {
        let mut peaks = Vec::new();
        let mut start = 0u64;
        for level in (0..64u8).rev() {
            if size & (1 << level) != 0 {
                peaks.push((level, start >> level, nodes.node(level, start >> level)?));
                start += 1 << level;
            }
        }
        Ok(Self { size, peaks })
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf by its leaf hash and returns the nodes it completes, bottom up: the leaf at
    /// level 0, then each parent it finishes. These are what a store must write.
    pub fn append(&mut self, leaf: Hash) -> Vec<(u8, u64, Hash)> {
        let mut done = vec![(0u8, self.size, leaf)];
        let (mut level, mut index, mut hash) = (0u8, self.size, leaf);
        while let Some(&(l, _, left)) = self.peaks.last() {
            if l != level {
                break;
            }
            self.peaks.pop();
            hash = node_hash(&left, &hash);
            level += 1;
            index >>= 1;
            done.push((level, index, hash));
        }
        self.peaks.push((level, index, hash));
        self.size += 1;
        done
    }

    /// The root of the tree.
    pub fn root(&self) -> Hash {
        let mut iter = self.peaks.iter().rev();
        let Some(&(_, _, mut acc)) = iter.next() else { return EMPTY_ROOT };
        for &(_, _, left) in iter {
            acc = node_hash(&left, &acc);
        }
        acc
    }
}
