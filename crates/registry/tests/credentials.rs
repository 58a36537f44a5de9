//! Keys: issued once, stored only as a slow hash, bound to one role and principal, and ended by
//! revocation, rotation and expiry.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use probity_core::{Slug, Timestamp};
use probity_registry::{Actor, AuthError, FixedClock, Registry, RegistryError};
use probity_stores::Stores as _;

fn at(s: &str) -> FixedClock {
    FixedClock(s.parse::<Timestamp>().unwrap())
}

#[test]
fn keys_authenticate_their_holder_until_revoked_rotated_or_expired() {
    let dir = tempfile::tempdir().unwrap();
    let mut reg =
        Registry::init_with_clock(&dir.path().join("r"), None, "t/log", at("2026-01-05T08:00:00Z"))
            .unwrap();
    let op = reg.issue_key(&Actor::Operator, None).unwrap();
    assert!(op.starts_with("prb_") && op.len() == 4 + 16 + 1 + 43, "{op}");
    assert_eq!(reg.authenticate(&op).unwrap(), Ok(Actor::Operator));
    // Only the hash is stored.
    let id = &op[4..20];
    let stored = reg.store().credential(id).unwrap().unwrap();
    assert!(stored.secret_hash.starts_with("$argon2id$"));
    assert!(!stored.secret_hash.contains(&op[21..]));

    // A wrong secret, a malformed key and an unknown id are all refused.
    let mut forged = op.clone();
    forged.replace_range(30..31, if &op[30..31] == "A" { "B" } else { "A" });
    assert_eq!(reg.authenticate(&forged).unwrap(), Err(AuthError::Invalid));
    assert_eq!(reg.authenticate("prb_nope").unwrap(), Err(AuthError::Malformed));
    let unknown = format!("prb_0000000000000000_{}", &op[21..]);
    assert_eq!(reg.authenticate(&unknown).unwrap(), Err(AuthError::Invalid));

    // Authority keys need a registered authority.
    let amr = Actor::Authority(Slug::parse("a", "bj-amr").unwrap());
    assert!(matches!(reg.issue_key(&amr, None), Err(RegistryError::NotFound(_))));

    // Expiry, revocation and rotation.
    let short = reg.issue_key(&Actor::Operator, Some("2026-01-06T00:00:00Z".parse().unwrap()));
    let short = short.unwrap();
    assert_eq!(reg.authenticate(&short).unwrap(), Ok(Actor::Operator));
    let reg2 = reg.with_clock(at("2026-01-06T00:00:00Z"));
    assert!(matches!(reg2.authenticate(&short).unwrap(), Err(AuthError::Expired(_))));
    let mut reg = reg2;
    let new = reg.rotate_key(&Actor::Operator, None).unwrap();
    assert_eq!(reg.authenticate(&op).unwrap(), Err(AuthError::Revoked));
    assert_eq!(reg.authenticate(&new).unwrap(), Ok(Actor::Operator));
    assert_eq!(reg.revoke_keys(&Actor::Operator).unwrap(), 1);
    assert_eq!(reg.authenticate(&new).unwrap(), Err(AuthError::Revoked));
}
