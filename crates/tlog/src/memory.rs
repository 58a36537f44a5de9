//! A Merkle tree held in memory: every complete-subtree hash, level by level.

use crate::{Hash, Nodes, TreeError, leaf_hash};

/// A log tree in memory. Appends cost two hashes amortised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryTree {
    /// `levels[l][i]` is the complete subtree at level `l`, index `i`.
    levels: Vec<Vec<Hash>>,
}

/// A node that the tree does not have (an index beyond its size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missing {
    /// Level asked for.
    pub level: u8,
    /// Index asked for.
    pub index: u64,
}

impl Nodes for MemoryTree {
    type Error = Missing;

    fn node(&self, level: u8, index: u64) -> Result<Hash, Missing> {
        self.levels
            .get(usize::from(level))
            .and_then(|l| l.get(usize::try_from(index).ok()?))
            .copied()
            .ok_or(Missing { level, index })
    }
}

impl MemoryTree {
    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Appends a leaf with the given entry data; returns its index.
    pub fn append(&mut self, data: &[u8]) -> u64 {
        self.append_leaf_hash(leaf_hash(data))
    }

    /// Appends a leaf by its leaf hash; returns its index.
    pub fn append_leaf_hash(&mut self, leaf: Hash) -> u64 {
        let index = self.size();
        let (mut level, mut i, mut hash) = (0usize, index, leaf);
        loop {
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            // A right child completes its parent: hash it with the left sibling stored before.
            let left = if i % 2 == 1 {
                self.levels.get(level).and_then(|l| l.last()).copied()
            } else {
                None
            };
            if let Some(l) = self.levels.get_mut(level) {
                l.push(hash);
            }
            match left {
                Some(left) => {
                    hash = crate::node_hash(&left, &hash);
                    level += 1;
                    i >>= 1;
                }
                None => break,
            }
        }
        index
    }

    /// The root of the whole tree.
    pub fn root(&self) -> Hash {
        self.root_at(self.size()).unwrap_or(crate::EMPTY_ROOT)
    }

    /// The root of the tree of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, TreeError<Missing>> {
        if size > self.size() {
            return Err(TreeError::OutOfRange(format!(
                "size {size} exceeds the tree's {}",
                self.size()
            )));
        }
        crate::root(self, size).map_err(TreeError::Nodes)
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, TreeError<Missing>> {
        if size > self.size() {
            return Err(TreeError::OutOfRange(format!(
                "size {size} exceeds the tree's {}",
                self.size()
            )));
        }
        crate::inclusion_proof(self, index, size)
    }

    /// The consistency proof between sizes `from` and `to`.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>, TreeError<Missing>> {
        if to > self.size() {
            return Err(TreeError::OutOfRange(format!(
                "size {to} exceeds the tree's {}",
                self.size()
            )));
        }
        crate::consistency_proof(self, from, to)
    }
}
