//! The store conformance suite on the in-memory store.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use probity_memory::MemoryStore;

fn fresh() -> ((), MemoryStore) {
    ((), MemoryStore::new())
}

probity_store::conformance_tests!(fresh);
