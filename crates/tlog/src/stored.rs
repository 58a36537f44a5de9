//! Log nodes kept a tile at a time, as stores hold them.
//!
//! A stored tile at tile level `L` and index `N` holds every complete node of tree levels `8L` to
//! `8L + 7` below C2SP tile `L/N`: first the tile's own hashes (tree level `8L`, nodes
//! `[256N, 256N + W)`), then the `W >> 1` nodes of the level above them, and so on up to the
//! `W >> 7` nodes of level `8L + 7`. The node at level `8L + 8` that a full tile adds up to is
//! the first tile level's business above. So an inclusion proof in a log of `n` leaves reads
//! about `log₂(n) / 8` stored tiles instead of `log₂(n)` nodes, and a C2SP tile is the first
//! `32 · W` bytes of one row.
//!
//! Complete nodes never change, and a partial tile only grows, so [`TileCache`] can keep what it
//! has read without ever invalidating it. Stores read through it only outside their append
//! transactions, so it never holds a node a rolled-back append wrote.

use std::collections::{BTreeMap, HashMap};

use crate::Hash;
use crate::tiles::{TILE_HEIGHT, TILE_WIDTH};

/// Why a stored tile could not be read or extended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// The width is outside 1..=256.
    #[error("stored tile {level}/{index} has width {width}; a tile holds 1 to 256 hashes")]
    Width {
        /// Tile level.
        level: u8,
        /// Tile index.
        index: u64,
        /// Width found.
        width: u64,
    },
    /// The bytes do not match the width.
    #[error("stored tile {level}/{index} of width {width} must hold {expected} bytes, not {found}")]
    Length {
        /// Tile level.
        level: u8,
        /// Tile index.
        index: u64,
        /// Width stated.
        width: u64,
        /// Bytes a tile of that width holds.
        expected: usize,
        /// Bytes found.
        found: usize,
    },
    /// A node was added out of order, or to a tile it does not belong to.
    #[error("node {index} at level {node_level} does not come next in stored tile {level}/{tile}")]
    OutOfOrder {
        /// Tile level.
        level: u8,
        /// Tile index.
        tile: u64,
        /// Level of the node.
        node_level: u8,
        /// Index of the node.
        index: u64,
    },
}

/// The stored tile that holds the node at `level`, `index`: its tile level and tile index.
pub fn tile_of(level: u8, index: u64) -> (u8, u64) {
    (level / TILE_HEIGHT, index >> (TILE_HEIGHT - level % TILE_HEIGHT))
}

/// The bytes a stored tile of `width` hashes at its bottom holds.
pub fn stored_len(width: u64) -> usize {
    (0..TILE_HEIGHT).map(|j| (width >> j) as usize * 32).sum()
}

/// The complete nodes below one tile (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeTile {
    level: u8,
    index: u64,
    /// `rows[j]` holds the nodes of tree level `8 · level + j` under this tile, in order.
    rows: [Vec<Hash>; TILE_HEIGHT as usize],
}

impl NodeTile {
    /// An empty tile at tile level `level` and index `index`.
    pub fn new(level: u8, index: u64) -> Self {
        Self { level, index, rows: Default::default() }
    }

    /// A tile as stored: `width` hashes at the bottom, and `bytes` as [`NodeTile::to_bytes`]
    /// wrote them.
    pub fn from_bytes(level: u8, index: u64, width: u64, bytes: &[u8]) -> Result<Self, TileError> {
        if !(1..=TILE_WIDTH).contains(&width) {
            return Err(TileError::Width { level, index, width });
        }
        let expected = stored_len(width);
        if bytes.len() != expected {
            return Err(TileError::Length { level, index, width, expected, found: bytes.len() });
        }
        let mut tile = Self::new(level, index);
        let mut hashes = bytes.chunks_exact(32).filter_map(|c| <Hash>::try_from(c).ok());
        for (j, row) in tile.rows.iter_mut().enumerate() {
            row.extend(hashes.by_ref().take((width >> j) as usize));
        }
        Ok(tile)
    }

    /// Tile level and index.
    pub fn key(&self) -> (u8, u64) {
        (self.level, self.index)
    }

    /// The number of hashes at the bottom: the width of the C2SP tile.
    pub fn width(&self) -> u64 {
        self.rows[0].len() as u64
    }

    /// The C2SP tile's hashes: tree level `8L` under this tile.
    pub fn hashes(&self) -> &[Hash] {
        &self.rows[0]
    }

    /// The stored bytes: each row's hashes, bottom row first.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.rows.iter().flatten().flatten().copied().collect()
    }

    /// Where the node at `level`, `index` sits in this tile: its row and place in the row.
    fn place(&self, level: u8, index: u64) -> Option<(usize, usize)> {
        if tile_of(level, index) != (self.level, self.index) {
            return None;
        }
        let j = level % TILE_HEIGHT;
        let first = self.index << (TILE_HEIGHT - j);
        Some((usize::from(j), usize::try_from(index - first).ok()?))
    }

    /// The node at `level`, `index` (tree coordinates), if this tile holds it.
    pub fn node(&self, level: u8, index: u64) -> Option<Hash> {
        let (j, at) = self.place(level, index)?;
        self.rows.get(j)?.get(at).copied()
    }

    /// Adds a node just completed. Nodes come in the order appends complete them: each is the
    /// next in its row, and a row above the bottom never holds more than its nodes below allow.
    pub fn push(&mut self, level: u8, index: u64, hash: Hash) -> Result<(), TileError> {
        let width = self.width();
        let out_of_order =
            TileError::OutOfOrder { level: self.level, tile: self.index, node_level: level, index };
        let Some((j, at)) = self.place(level, index) else { return Err(out_of_order) };
        let Some(row) = self.rows.get_mut(j) else { return Err(out_of_order) };
        let room = if j == 0 { TILE_WIDTH } else { width >> j };
        if at != row.len() || at as u64 >= room {
            return Err(out_of_order);
        }
        row.push(hash);
        Ok(())
    }
}

/// A node by tree coordinates: level, index, hash.
pub type PlacedNode = (u8, u64, Hash);

/// Nodes completed by appends, grouped by the stored tile each belongs to.
#[derive(Debug, Clone, Default)]
pub struct TileUpdates {
    tiles: BTreeMap<(u8, u64), Vec<PlacedNode>>,
}

impl TileUpdates {
    /// Adds the nodes one append completed, as [`crate::Frontier::append`] returns them.
    pub fn add(&mut self, nodes: impl IntoIterator<Item = PlacedNode>) {
        for (level, index, hash) in nodes {
            self.tiles.entry(tile_of(level, index)).or_default().push((level, index, hash));
        }
    }

    /// The tiles to store, in key order: each tile the nodes touched, as `stored` gives it plus
    /// the new nodes. `stored` is asked only for tiles that held nodes before.
    pub fn into_tiles<E: From<TileError>>(
        self,
        mut stored: impl FnMut(u8, u64) -> Result<Option<NodeTile>, E>,
    ) -> Result<Vec<NodeTile>, E> {
        let mut out = Vec::with_capacity(self.tiles.len());
        for ((level, index), nodes) in self.tiles {
            // A tile begins with the first node of its bottom row; a tile whose first new node
            // is that one held nothing before.
            let first = (level * TILE_HEIGHT, index * TILE_WIDTH);
            let fresh = nodes.first().is_some_and(|&(l, i, _)| (l, i) == first);
            let mut tile = match fresh {
                true => None,
                false => stored(level, index)?,
            }
            .unwrap_or_else(|| NodeTile::new(level, index));
            for (l, i, h) in nodes {
                tile.push(l, i, h)?;
            }
            out.push(tile);
        }
        Ok(out)
    }
}

/// Stored tiles kept in memory once read.
///
/// Tiles above the bottom tile level are kept up to a bound; at 10 million leaves they number
/// 154 (2.5 MB). Of the bottom level only the last tile read is kept: enough for a proof, a C2SP
/// tile, or an audit walking the leaves in order.
#[derive(Debug, Clone)]
pub struct TileCache {
    upper: HashMap<(u8, u64), NodeTile>,
    bottom: Option<NodeTile>,
    capacity: usize,
}

impl Default for TileCache {
    fn default() -> Self {
        Self::with_capacity(4096)
    }
}

impl TileCache {
    /// A cache of at most `capacity` upper tiles (about 16 KB each).
    pub fn with_capacity(capacity: usize) -> Self {
        Self { upper: HashMap::new(), bottom: None, capacity }
    }

    /// The node at `level`, `index`, if a kept tile holds it.
    pub fn node(&self, level: u8, index: u64) -> Option<Hash> {
        let key = tile_of(level, index);
        let tile = match key.0 {
            0 => self.bottom.as_ref().filter(|t| t.key() == key),
            _ => self.upper.get(&key),
        };
        tile?.node(level, index)
    }

    /// Keeps `tile`, in place of any older copy of it.
    pub fn keep(&mut self, tile: NodeTile) {
        if tile.level == 0 {
            self.bottom = Some(tile);
            return;
        }
        if self.upper.len() >= self.capacity && !self.upper.contains_key(&tile.key()) {
            self.upper.clear();
        }
        self.upper.insert(tile.key(), tile);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::{Frontier, MemoryTree, Nodes, leaf_hash};

    /// The stored tiles of a log of `size` leaves, built by appends in batches of `batch`.
    fn tiles(size: u64, batch: u64) -> (MemoryTree, HashMap<(u8, u64), NodeTile>) {
        let (mut tree, mut frontier) = (MemoryTree::default(), Frontier::default());
        let mut stored: HashMap<(u8, u64), NodeTile> = HashMap::new();
        let mut updates = TileUpdates::default();
        for i in 0..size {
            let leaf = leaf_hash(&i.to_be_bytes());
            tree.append_leaf_hash(leaf);
            updates.add(frontier.append(leaf));
            if (i + 1) % batch == 0 || i + 1 == size {
                let written = std::mem::take(&mut updates)
                    .into_tiles(|l, n| {
                        // What a store reads back is what it wrote.
                        let t = stored.get(&(l, n)).unwrap();
                        Ok::<_, TileError>(Some(
                            NodeTile::from_bytes(l, n, t.width(), &t.to_bytes()).unwrap(),
                        ))
                    })
                    .unwrap();
                for t in written {
                    stored.insert(t.key(), t);
                }
            }
        }
        (tree, stored)
    }

    #[test]
    fn every_complete_node_is_in_its_tile_whatever_the_batches() {
        for (size, batch) in [(1, 1), (255, 7), (256, 256), (257, 100), (70_000, 999), (4096, 1)] {
            let (tree, stored) = tiles(size, batch);
            for level in 0..17u8 {
                for index in 0..(size >> level) {
                    let want = tree.node(level, index).unwrap();
                    let tile = &stored[&tile_of(level, index)];
                    assert_eq!(
                        tile.node(level, index),
                        Some(want),
                        "{size}/{batch}: {level} {index}"
                    );
                }
            }
            // Each tile holds exactly the complete nodes of its levels, and its bottom row is the
            // C2SP tile.
            for (&(l, n), tile) in &stored {
                let below = size >> (u32::from(l) * 8);
                assert_eq!(tile.width(), (below - n * 256).min(256));
                assert_eq!(tile.to_bytes().len(), stored_len(tile.width()));
                let c2sp: Vec<Hash> =
                    (0..tile.width()).map(|i| tree.node(l * 8, n * 256 + i).unwrap()).collect();
                assert_eq!(tile.hashes(), &c2sp[..]);
            }
        }
    }

    #[test]
    fn bad_stored_tiles_and_nodes_out_of_order_are_refused() {
        assert!(matches!(NodeTile::from_bytes(0, 0, 0, &[]), Err(TileError::Width { .. })));
        assert!(matches!(NodeTile::from_bytes(0, 0, 257, &[]), Err(TileError::Width { .. })));
        let err = NodeTile::from_bytes(1, 3, 2, &[0; 64]).unwrap_err();
        assert_eq!(err.to_string(), "stored tile 1/3 of width 2 must hold 96 bytes, not 64");
        let mut tile = NodeTile::new(0, 1);
        assert!(tile.push(0, 255, [0; 32]).is_err(), "belongs to tile 0");
        assert!(tile.push(0, 257, [0; 32]).is_err(), "skips node 256");
        assert!(tile.push(1, 128, [0; 32]).is_err(), "a parent before its children");
        tile.push(0, 256, [1; 32]).unwrap();
        tile.push(0, 257, [2; 32]).unwrap();
        tile.push(1, 128, [3; 32]).unwrap();
        assert_eq!(tile.node(1, 128), Some([3; 32]));
        assert_eq!(tile.node(1, 129), None);
        assert_eq!(tile.node(8, 1), None, "the node a full tile adds up to is a level higher");
    }

    #[test]
    fn the_cache_answers_for_what_it_kept_and_asks_again_beyond_it() {
        let (tree, stored) = tiles(70_000, 1000);
        let mut cache = TileCache::with_capacity(1);
        assert_eq!(cache.node(0, 5), None);
        cache.keep(stored[&(0, 0)].clone());
        assert_eq!(cache.node(0, 5), tree.node(0, 5).ok());
        assert_eq!(cache.node(7, 1), tree.node(7, 1).ok());
        assert_eq!(cache.node(0, 300), None, "another bottom tile");
        cache.keep(stored[&(0, 1)].clone());
        assert_eq!(cache.node(0, 5), None, "one bottom tile is kept");
        cache.keep(stored[&(1, 0)].clone());
        assert_eq!(cache.node(9, 3), tree.node(9, 3).ok());
        cache.keep(stored[&(1, 1)].clone());
        assert_eq!(cache.node(9, 3), None, "over capacity, the upper tiles start again");
        assert_eq!(cache.node(16, 0), None, "a complete node of a tile never read");
        let mut partial = NodeTile::new(2, 0);
        partial.push(16, 0, tree.node(16, 0).unwrap()).unwrap();
        cache.keep(partial);
        assert_eq!(cache.node(16, 0), tree.node(16, 0).ok());
    }
}
