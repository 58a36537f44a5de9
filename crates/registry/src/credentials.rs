//! API credentials: operator keys, authority keys, company credentials and subscriber keys.
//!
//! A key is `prb_<key id>_<secret>`: the key id (16 hex digits) finds the credential, the secret
//! (32 random bytes, base64url) proves it. The registry prints a key once and keeps only an
//! Argon2id hash of the secret; verifying compares in constant time. A credential is bound to
//! one role and, for authorities and companies, to one authority or subject. Rotating issues a
//! new key and revokes the old ones; revoking ends them all.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use probity_core::{Slug, SubjectId, Timestamp};
use probity_store::{Credential, Role};

use crate::{Actor, Registry, RegistryError};

/// The prefix of every key.
pub const KEY_PREFIX: &str = "prb_";

/// Why a key was not accepted. The messages do not say whether a key id exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The key is not of the form `prb_<key id>_<secret>`.
    #[error("the key is malformed: expected `prb_<key id>_<secret>`")]
    Malformed,
    /// No such key, or the secret is wrong.
    #[error("the key is not valid")]
    Invalid,
    /// The key was revoked.
    #[error("the key was revoked")]
    Revoked,
    /// The key has expired.
    #[error("the key expired at {0}")]
    Expired(Timestamp),
}

/// A key split into its id and secret.
pub fn split_key(key: &str) -> Result<(&str, &str), AuthError> {
    let rest = key.trim().strip_prefix(KEY_PREFIX).ok_or(AuthError::Malformed)?;
    let (id, secret) = rest.split_once('_').ok_or(AuthError::Malformed)?;
    let hex = |s: &str| s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex(id) || secret.len() != 43 {
        return Err(AuthError::Malformed);
    }
    Ok((id, secret))
}

fn random<const N: usize>() -> Result<[u8; N], RegistryError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out)
        .map_err(|e| RegistryError::Internal(format!("no randomness for a key: {e}")))?;
    Ok(out)
}

/// The Argon2id hash (PHC string) of a secret.
fn hash_secret(secret: &str) -> Result<String, RegistryError> {
    let salt = SaltString::encode_b64(&random::<16>()?)
        .map_err(|e| RegistryError::Internal(format!("salt: {e}")))?;
    argon2::Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| RegistryError::Internal(format!("hashing a key failed: {e}")))
}

/// Whether `secret` matches the stored hash (the comparison is constant-time).
pub fn secret_matches(secret: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .is_ok_and(|h| argon2::Argon2::default().verify_password(secret.as_bytes(), &h).is_ok())
}

/// Who a credential lets its holder act as.
pub fn actor_of(c: &Credential) -> Result<Actor, RegistryError> {
    let bad = || RegistryError::Internal(format!("credential `{}` has a bad principal", c.key_id));
    Ok(match c.role {
        Role::Operator => Actor::Operator,
        Role::Authority => {
            Actor::Authority(Slug::parse("authority", &c.principal).map_err(|_| bad())?)
        }
        Role::Company => Actor::Company(SubjectId::parse(&c.principal).map_err(|_| bad())?),
        Role::Subscriber => {
            Actor::Subscriber(Slug::parse("subscriber", &c.principal).map_err(|_| bad())?)
        }
    })
}

/// The role and principal a credential of `actor` is stored under.
pub fn principal_of(actor: &Actor) -> (Role, String) {
    match actor {
        Actor::Operator => (Role::Operator, String::new()),
        Actor::Authority(a) => (Role::Authority, a.to_string()),
        Actor::Company(c) => (Role::Company, c.to_string()),
        Actor::Subscriber(s) => (Role::Subscriber, s.to_string()),
    }
}

/// A stored credential as a key presents it, with its standing now: usable, or why not.
pub type Presented = (Credential, Result<(), AuthError>);

impl Registry {
    /// Issues a key for `actor`, valid until `expires` if given, and returns it. The key is not
    /// stored and cannot be shown again. Authorities and companies must be in the registry.
    pub fn issue_key(
        &mut self,
        actor: &Actor,
        expires: Option<Timestamp>,
    ) -> Result<String, RegistryError> {
        match actor {
            // A subscriber is whoever the operator names: it holds nothing in the registry.
            Actor::Operator | Actor::Subscriber(_) => {}
            Actor::Authority(a) => {
                if !self.store.authorities()?.iter().any(|x| x.id == *a) {
                    return Err(RegistryError::NotFound(format!("unknown authority `{a}`")));
                }
            }
            Actor::Company(id) => {
                if self.store.subject(id)?.is_none() {
                    return Err(RegistryError::NotFound(format!("unknown subject `{id}`")));
                }
            }
        }
        if let Some(e) = expires.filter(|e| *e <= self.clock.now()) {
            return Err(RegistryError::Invalid(format!(
                "expires: `{e}` has passed; a key must expire in the future"
            )));
        }
        let key_id: String = random::<8>()?.iter().map(|b| format!("{b:02x}")).collect();
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random::<32>()?);
        let (role, principal) = principal_of(actor);
        self.store.put_credential(&Credential {
            key_id: key_id.clone(),
            role,
            principal,
            secret_hash: hash_secret(&secret)?,
            created: self.clock.now(),
            expires,
            revoked: None,
        })?;
        tracing::info!(key_id, role = role.as_str(), "issued key");
        Ok(format!("{KEY_PREFIX}{key_id}_{secret}"))
    }

    /// Revokes every key of `actor`; returns how many.
    pub fn revoke_keys(&mut self, actor: &Actor) -> Result<u64, RegistryError> {
        let (role, principal) = principal_of(actor);
        let n = self.store.revoke_credentials(role, &principal, self.clock.now())?;
        tracing::info!(role = role.as_str(), principal, revoked = n, "revoked keys");
        Ok(n)
    }

    /// Revokes every key of `actor` and issues a new one.
    pub fn rotate_key(
        &mut self,
        actor: &Actor,
        expires: Option<Timestamp>,
    ) -> Result<String, RegistryError> {
        self.revoke_keys(actor)?;
        self.issue_key(actor, expires)
    }

    /// The stored credential a key names, whatever its state, with its standing now (revoked,
    /// expired, or usable). The caller checks the secret first (see [`secret_matches`]) and
    /// only then tells the standing, so a wrong secret learns nothing about the key.
    pub fn credential_for(&self, key: &str) -> Result<Result<Presented, AuthError>, RegistryError> {
        let Ok((id, _)) = split_key(key) else { return Ok(Err(AuthError::Malformed)) };
        let Some(c) = self.store.credential(id)? else { return Ok(Err(AuthError::Invalid)) };
        let standing = if c.revoked.is_some() {
            Err(AuthError::Revoked)
        } else if let Some(e) = c.expires.filter(|e| *e <= self.clock.now()) {
            Err(AuthError::Expired(e))
        } else {
            Ok(())
        };
        Ok(Ok((c, standing)))
    }

    /// Whether the key or credential with id `key_id` still works: issued, not revoked, not
    /// expired.
    pub fn credential_live(&self, key_id: &str) -> Result<bool, RegistryError> {
        Ok(self
            .store
            .credential(key_id)?
            .is_some_and(|c| c.revoked.is_none() && c.expires.is_none_or(|e| e > self.clock.now())))
    }

    /// Who `key` lets its holder act as, or why it does not.
    pub fn authenticate(&self, key: &str) -> Result<Result<Actor, AuthError>, RegistryError> {
        let (c, standing) = match self.credential_for(key)? {
            Ok(found) => found,
            Err(e) => return Ok(Err(e)),
        };
        let Ok((_, secret)) = split_key(key) else { return Ok(Err(AuthError::Malformed)) };
        if !secret_matches(secret, &c.secret_hash) {
            return Ok(Err(AuthError::Invalid));
        }
        if let Err(e) = standing {
            return Ok(Err(e));
        }
        actor_of(&c).map(Ok)
    }
}
