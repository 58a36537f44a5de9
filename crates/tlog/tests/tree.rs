//! The log tree against published vectors, against an independent implementation (the
//! `ct-merkle` crate), and against itself under random sizes and flipped bits.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use probity_tlog::{
    EMPTY_ROOT, Hash, MemoryTree, hex, leaf_hash, node_hash, verify_consistency, verify_inclusion,
};
use proptest::prelude::*;

/// The eight leaf inputs of the Certificate Transparency reference tests
/// (google/certificate-transparency, cpp/merkletree/merkle_tree_test.cc).
fn ct_inputs() -> Vec<Vec<u8>> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|h| {
        (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect()
    })
    .collect()
}

/// Roots of the first 1…8 of those inputs, from the same reference tests.
const CT_ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn tree_of(n: u64) -> MemoryTree {
    let mut t = MemoryTree::default();
    for i in 0..n {
        t.append(&i.to_be_bytes());
    }
    t
}

#[test]
fn published_vectors() {
    assert_eq!(
        hex(&EMPTY_ROOT),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(MemoryTree::default().root(), EMPTY_ROOT);
    let mut t = MemoryTree::default();
    for (i, input) in ct_inputs().iter().enumerate() {
        t.append(input);
        assert_eq!(hex(&t.root()), CT_ROOTS[i], "root of size {}", i + 1);
    }
    // Earlier roots stay computable from the grown tree.
    for (i, want) in CT_ROOTS.iter().enumerate() {
        assert_eq!(hex(&t.root_at(i as u64 + 1).unwrap()), *want);
    }
}

#[test]
fn hashing_is_domain_separated() {
    let a = leaf_hash(b"x");
    assert_ne!(a, node_hash(&a, &a));
    assert_ne!(leaf_hash(b""), EMPTY_ROOT);
}

/// The independent implementation's view of the same data.
fn ct_tree(n: u64) -> ct_merkle::mem_backed_tree::MemoryBackedTree<sha2_next::Sha256, Vec<u8>> {
    let mut t = ct_merkle::mem_backed_tree::MemoryBackedTree::new();
    for i in 0..n {
        t.push(i.to_be_bytes().to_vec());
    }
    t
}

fn ct_root(hash: &Hash, size: u64) -> ct_merkle::RootHash<sha2_next::Sha256> {
    let digest = sha2_next::digest::Output::<sha2_next::Sha256>::try_from(&hash[..]).unwrap();
    ct_merkle::RootHash::new(digest, size)
}

fn ct_digests(proof: &[Hash]) -> Vec<sha2_next::digest::Output<sha2_next::Sha256>> {
    proof
        .iter()
        .map(|h| sha2_next::digest::Output::<sha2_next::Sha256>::try_from(&h[..]).unwrap())
        .collect()
}

#[test]
fn an_independent_implementation_agrees_and_accepts_our_proofs() {
    let ours = tree_of(70);
    for size in 1..=70u64 {
        let theirs = ct_tree(size);
        let root = ours.root_at(size).unwrap();
        assert_eq!(&root[..], &theirs.root().as_bytes()[..], "root of size {size}");
        let their_root = ct_root(&root, size);
        for index in 0..size {
            let proof = ours.inclusion_proof(index, size).unwrap();
            let ct_proof = ct_merkle::InclusionProof::<sha2_next::Sha256>::from_digests(
                ct_digests(&proof).iter(),
            );
            their_root
                .verify_inclusion(&index.to_be_bytes().to_vec(), index, &ct_proof)
                .unwrap_or_else(|e| {
                    panic!("ct-merkle refused our inclusion proof {index}/{size}: {e:?}")
                });
        }
        for from in 1..=size {
            let proof = ours.consistency_proof(from, size).unwrap();
            let ct_proof = ct_merkle::ConsistencyProof::<sha2_next::Sha256>::from_digests(
                ct_digests(&proof).iter(),
            );
            let old = ct_root(&ours.root_at(from).unwrap(), from);
            their_root.verify_consistency(&old, &ct_proof).unwrap_or_else(|e| {
                panic!("ct-merkle refused our consistency proof {from}→{size}: {e:?}")
            });
        }
    }
}

#[test]
fn proofs_that_cannot_exist_are_refused() {
    let t = tree_of(5);
    assert!(t.inclusion_proof(5, 5).is_err());
    assert!(t.inclusion_proof(0, 6).is_err());
    assert!(t.consistency_proof(4, 3).is_err());
    let root = t.root();
    assert!(verify_inclusion(&leaf_hash(b"x"), 5, 5, &[], &root).is_err());
    assert!(verify_consistency(4, 3, &[], &root, &root).is_err());
    // A proof that is too long or too short is refused, not misread.
    let mut proof = t.inclusion_proof(2, 5).unwrap();
    proof.push(root);
    assert!(verify_inclusion(&leaf_hash(&2u64.to_be_bytes()), 2, 5, &proof, &root).is_err());
    proof.truncate(1);
    assert!(verify_inclusion(&leaf_hash(&2u64.to_be_bytes()), 2, 5, &proof, &root).is_err());
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut out = *h;
    out[bit / 8 % 32] ^= 1 << (bit % 8);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_inclusion_proof_verifies_and_any_flipped_bit_fails(
        size in 1u64..3000, pick in any::<u64>(), bit in 0usize..256, which in any::<usize>(),
    ) {
        let t = tree_of(size);
        let index = pick % size;
        let leaf = leaf_hash(&index.to_be_bytes());
        let root = t.root();
        let proof = t.inclusion_proof(index, size).unwrap();
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &root).is_ok());
        prop_assert!(verify_inclusion(&flip(&leaf, bit), index, size, &proof, &root).is_err());
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &flip(&root, bit)).is_err());
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let i = which % bad.len();
            bad[i] = flip(&bad[i], bit);
            prop_assert!(verify_inclusion(&leaf, index, size, &bad, &root).is_err());
        }
        // The same proof does not prove another index.
        if size > 1 {
            let other = (index + 1) % size;
            prop_assert!(verify_inclusion(&leaf, other, size, &proof, &root).is_err());
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_any_flipped_bit_fails(
        to in 1u64..3000, pick in any::<u64>(), bit in 0usize..256, which in any::<usize>(),
    ) {
        let t = tree_of(to);
        let from = 1 + pick % to;
        let (old, new) = (t.root_at(from).unwrap(), t.root());
        let proof = t.consistency_proof(from, to).unwrap();
        prop_assert!(verify_consistency(from, to, &proof, &old, &new).is_ok());
        if from != to {
            prop_assert!(verify_consistency(from, to, &proof, &flip(&old, bit), &new).is_err());
            prop_assert!(verify_consistency(from, to, &proof, &old, &flip(&new, bit)).is_err());
        }
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let i = which % bad.len();
            bad[i] = flip(&bad[i], bit);
            prop_assert!(verify_consistency(from, to, &bad, &old, &new).is_err());
        }
    }

    #[test]
    fn roots_of_earlier_sizes_equal_trees_built_to_that_size(size in 0u64..600, grow in 0u64..600) {
        let big = tree_of(size + grow);
        prop_assert_eq!(big.root_at(size).unwrap(), tree_of(size).root());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// A frontier loaded from a tree at any size appends exactly the nodes the tree would, and
    /// agrees on every root after.
    #[test]
    fn a_frontier_appends_like_the_whole_tree(size in 0u64..2000, more in 1u64..300) {
        let mut tree = tree_of(size);
        let mut frontier = probity_tlog::Frontier::load(&tree, size).unwrap();
        prop_assert_eq!(frontier.root(), tree.root());
        for i in size..size + more {
            let leaf = leaf_hash(&i.to_be_bytes());
            let done = frontier.append(leaf);
            let expected = probity_tlog::completed_by_append(&tree, i, leaf).unwrap();
            prop_assert_eq!(done, expected);
            tree.append_leaf_hash(leaf);
            prop_assert_eq!(frontier.root(), tree.root());
        }
    }
}
