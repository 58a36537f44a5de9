//! Witness cosignatures of checkpoints (C2SP tlog-cosignature, `cosignature/v1`).
//!
//! A witness that has checked a checkpoint against the last one it saw cosigns it: an Ed25519
//! signature, at a time it states, over
//!
//! ```text
//! cosignature/v1\n
//! time <seconds since the Unix epoch, decimal>\n
//! <the checkpoint's text: origin, size, root, extension lines>
//! ```
//!
//! The cosignature is one more signature line of the checkpoint's signed note:
//! `— <witness key name> <base64(key id ‖ time as 8 bytes big-endian ‖ signature)>`, 76 bytes
//! of blob. The key ID is the first four bytes of `SHA-256(name ‖ "\n" ‖ 0x04 ‖ public key)`;
//! 0x04 is the signature type of `cosignature/v1`, so a log key and a witness key never share
//! an ID. Verifier keys are written `<name>+<hex key id>+<base64(0x04 ‖ public key)>`, and the
//! secret key, which never leaves the witness's directory,
//! `PRIVATE+KEY+<name>+<hex key id>+<base64(0x04 ‖ seed)>`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};

use crate::note::{
    NoteError, check_name, hex4, key_id_of, key_string, read_key_string, split_note,
};

/// The signature type byte of `cosignature/v1`.
pub const COSIGNATURE_V1: u8 = 0x04;

/// The bytes a witness signs: the `cosignature/v1` header, the time, then the checkpoint text.
pub fn cosigned_message(checkpoint_text: &str, time: u64) -> String {
    format!("cosignature/v1\ntime {time}\n{checkpoint_text}")
}

/// A witness's key: it cosigns checkpoints.
pub struct Cosigner {
    name: String,
    id: [u8; 4],
    key: SigningKey,
}

impl std::fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("Cosigner").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Cosigner {
    /// A witness key named `name` from a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        if !check_name(name) {
            return Err(NoteError::Key(name.to_owned()));
        }
        let key = SigningKey::from_bytes(&seed);
        let id = key_id_of(name, COSIGNATURE_V1, key.verifying_key().as_bytes());
        Ok(Self { name: name.to_owned(), id, key })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex id>+<base64(0x04 ‖ seed)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let bad = || NoteError::Key("PRIVATE+KEY+… (a witness key)".to_owned());
        let rest = text.trim().strip_prefix("PRIVATE+KEY+").ok_or_else(bad)?;
        let (name, id, seed) = read_key_string(rest, COSIGNATURE_V1).ok_or_else(bad)?;
        let cosigner = Self::from_seed(name, seed)?;
        if hex4(&cosigner.id) != id {
            return Err(bad());
        }
        Ok(cosigner)
    }

    /// The secret key string.
    pub fn to_private_string(&self) -> String {
        let seed = self.key.as_bytes();
        format!("PRIVATE+KEY+{}", key_string(&self.name, &self.id, COSIGNATURE_V1, seed))
    }

    /// The verifier key string (public), as readers' policies name it.
    pub fn verifier_key(&self) -> String {
        let public = self.key.verifying_key();
        key_string(&self.name, &self.id, COSIGNATURE_V1, public.as_bytes())
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cosignature line (ending in a line feed) over `checkpoint_text` at `time`.
    pub fn cosign(&self, checkpoint_text: &str, time: u64) -> String {
        let sig = self.key.sign(cosigned_message(checkpoint_text, time).as_bytes());
        let mut blob = self.id.to_vec();
        blob.extend_from_slice(&time.to_be_bytes());
        blob.extend_from_slice(&sig.to_bytes());
        format!("\u{2014} {} {}\n", self.name, B64.encode(blob))
    }
}

/// A witness's public key, to check its cosignatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignatureVerifier {
    /// The key name, when the key was given as a verifier key string; a key given raw (as a
    /// sigsum policy gives it) takes the name each signature line states, which its key ID
    /// must match.
    name: Option<String>,
    key: VerifyingKey,
}

impl CosignatureVerifier {
    /// Parses `<name>+<hex id>+<base64(0x04 ‖ public key)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let bad = || NoteError::Key(text.trim().to_owned());
        let (name, id, public) = read_key_string(text.trim(), COSIGNATURE_V1).ok_or_else(bad)?;
        if !check_name(name) || hex4(&key_id_of(name, COSIGNATURE_V1, &public)) != id {
            return Err(bad());
        }
        let key = VerifyingKey::from_bytes(&public).map_err(|_| bad())?;
        Ok(Self { name: Some(name.to_owned()), key })
    }

    /// A witness known by its raw Ed25519 key alone.
    pub fn from_key(public: &[u8; 32]) -> Result<Self, NoteError> {
        let key = VerifyingKey::from_bytes(public)
            .map_err(|_| NoteError::Key(format!("{} is not an Ed25519 key", crate::hex(public))))?;
        Ok(Self { name: None, key })
    }

    /// The key's name, if it was given one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The time of this witness's valid cosignature on `note` (a signed checkpoint), if it
    /// carries one. Lines of other keys are ignored; a note that is not a signed note is an
    /// error.
    pub fn cosigned(&self, note: &str) -> Result<Option<u64>, NoteError> {
        let (text, lines) = split_note(note)?;
        let public = self.key.as_bytes();
        for (name, blob) in lines {
            if self.name.as_deref().is_some_and(|n| n != name) {
                continue;
            }
            if blob.len() != 76
                || blob.get(..4) != Some(&key_id_of(name, COSIGNATURE_V1, public)[..])
            {
                continue;
            }
            let (Some(time), Some(sig)) = (blob.get(4..12), blob.get(12..)) else { continue };
            let Ok(time) = <[u8; 8]>::try_from(time).map(u64::from_be_bytes) else { continue };
            let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else { continue };
            if self.key.verify_strict(cosigned_message(text, time).as_bytes(), &sig).is_ok() {
                return Ok(Some(time));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Checkpoint, NoteSigner};

    #[test]
    fn a_cosignature_verifies_and_a_changed_checkpoint_does_not() {
        let log = NoteSigner::from_seed("example.org/log", [1; 32]).unwrap();
        let witness = Cosigner::from_seed("example.org/witness", [2; 32]).unwrap();
        let again = Cosigner::parse(&witness.to_private_string()).unwrap();
        assert_eq!(again.verifier_key(), witness.verifier_key());
        let cp = Checkpoint { origin: "example.org/log".into(), size: 5, root: [3; 32] };
        let note = log.sign(&cp.text());
        let cosigned = format!("{note}{}", witness.cosign(&cp.text(), 1_700_000_000));
        let verifier = CosignatureVerifier::parse(&witness.verifier_key()).unwrap();
        assert_eq!(verifier.cosigned(&cosigned).unwrap(), Some(1_700_000_000));
        assert_eq!(verifier.cosigned(&note).unwrap(), None);
        let raw = CosignatureVerifier::from_key(&witness.public_key()).unwrap();
        assert_eq!(raw.cosigned(&cosigned).unwrap(), Some(1_700_000_000));
        // Another size, the same cosignature line: refused.
        assert_eq!(verifier.cosigned(&cosigned.replace("\n5\n", "\n6\n")).unwrap(), None);
        // The log's own key is not a witness key, and the witness's is not a log key.
        assert!(CosignatureVerifier::parse(&log.verifier_key()).is_err());
        assert!(crate::NoteVerifier::parse(&witness.verifier_key()).is_err());
        assert!(format!("{witness:?}").find("PRIVATE").is_none());
    }

    /// The key ID and the cosignature line byte for byte, as computed independently from the
    /// specification (Python's hashlib and the `cryptography` package's Ed25519, which is
    /// deterministic): key ID = SHA-256("example.org/witness" ‖ "\n" ‖ 0x04 ‖ key)[..4]; the
    /// blob is key ID ‖ time (8 bytes, big-endian) ‖ signature over
    /// "cosignature/v1\ntime 1700000000\n" ‖ checkpoint.
    #[test]
    fn the_key_id_and_the_line_are_the_specifications() {
        let witness = Cosigner::from_seed("example.org/witness", [2; 32]).unwrap();
        assert_eq!(
            witness.verifier_key(),
            "example.org/witness+56a51910+BIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU"
        );
        let cp = Checkpoint { origin: "example.org/log".into(), size: 5, root: [3; 32] };
        assert_eq!(
            witness.cosign(&cp.text(), 1_700_000_000),
            "\u{2014} example.org/witness VqUZEAAAAABlU/EAgOUx3xJeGqHVay4S0WMBbWhsSw4oCTGA/Z4Qp+\
             JwJKQTCxaGCmWMCPFUmyRjig6S0AayKcjuCQBbb09ooa5BBw==\n"
        );
        assert_eq!(
            cosigned_message(&cp.text(), 7),
            "cosignature/v1\ntime 7\nexample.org/log\n5\nAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=\n"
        );
    }
}
