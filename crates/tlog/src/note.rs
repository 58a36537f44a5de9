//! Checkpoints (C2SP tlog-checkpoint) signed as C2SP signed notes with Ed25519.
//!
//! A checkpoint's text is `<origin>\n<tree size>\n<base64 root>\n`. A signed note is that text,
//! a blank line, and one line per signature: `— <key name> <base64(key id ‖ signature)>`, where
//! the key id is the first four bytes of `SHA-256(key name ‖ "\n" ‖ 0x01 ‖ public key)` and the
//! signature is Ed25519 over the text. Verifier keys are written
//! `<name>+<hex key id>+<base64(0x01 ‖ public key)>`; signer keys
//! `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 ‖ seed)>`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::Hash;

/// The Ed25519 algorithm byte of signed-note keys.
const ED25519: u8 = 0x01;

/// Why a key, a note or a checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// A key string is malformed.
    #[error("key `{0}` is not a signed-note Ed25519 key")]
    Key(String),
    /// A note is malformed.
    #[error("the note is malformed: {0}")]
    Malformed(String),
    /// No signature by the expected key verifies.
    #[error("no valid signature by `{0}` on the checkpoint")]
    Unsigned(String),
    /// The checkpoint text is malformed.
    #[error("the checkpoint is malformed: {0}")]
    Checkpoint(String),
}

/// A signed-note key ID: the first four bytes of `SHA-256(name ‖ "\n" ‖ algorithm ‖ key)`.
pub(crate) fn key_id_of(name: &str, algorithm: u8, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([algorithm]);
    h.update(public);
    let d: [u8; 32] = h.finalize().into();
    let [a, b, c, e, ..] = d;
    [a, b, c, e]
}

fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    key_id_of(name, ED25519, public)
}

pub(crate) fn check_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('+')
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A key that signs checkpoints.
pub struct NoteSigner {
    name: String,
    id: [u8; 4],
    key: SigningKey,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("NoteSigner").field("name", &self.name).finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A signer named `name` from a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        if !check_name(name) {
            return Err(NoteError::Key(name.to_owned()));
        }
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, key.verifying_key().as_bytes());
        Ok(Self { name: name.to_owned(), id, key })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖ seed)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let bad = || NoteError::Key("PRIVATE+KEY+…".to_owned());
        let rest = text.trim().strip_prefix("PRIVATE+KEY+").ok_or_else(bad)?;
        let (name, id, seed) = read_key_string(rest, ED25519).ok_or_else(bad)?;
        let signer = Self::from_seed(name, seed)?;
        if hex4(&signer.id) != id {
            return Err(bad());
        }
        Ok(signer)
    }

    /// The signer key string (secret).
    pub fn to_private_string(&self) -> String {
        format!("PRIVATE+KEY+{}", key_string(&self.name, &self.id, ED25519, self.key.as_bytes()))
    }

    /// The verifier key string (public).
    pub fn verifier_key(&self) -> String {
        key_string(&self.name, &self.id, ED25519, self.key.verifying_key().as_bytes())
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Signs `text` (which must end in a newline) as a signed note.
    pub fn sign(&self, text: &str) -> String {
        let sig = self.key.sign(text.as_bytes());
        let mut blob = self.id.to_vec();
        blob.extend_from_slice(&sig.to_bytes());
        format!("{text}\n\u{2014} {} {}\n", self.name, B64.encode(blob))
    }
}

/// A key as signed notes write one: `<name>+<hex key id>+<base64(algorithm ‖ 32 bytes)>` (the
/// bytes are a public key, or the seed of a secret one).
pub(crate) fn key_string(name: &str, id: &[u8; 4], algorithm: u8, bytes: &[u8; 32]) -> String {
    let mut raw = vec![algorithm];
    raw.extend_from_slice(bytes);
    format!("{name}+{}+{}", hex4(id), B64.encode(raw))
}

/// Reads a key written by [`key_string`] with `algorithm`: its name, its key id as written
/// (for the caller to check) and its 32 bytes; `None` if it is malformed or of another
/// algorithm.
pub(crate) fn read_key_string(text: &str, algorithm: u8) -> Option<(&str, &str, [u8; 32])> {
    // The name and key id never contain `+`; the base64 key may.
    let mut parts = text.splitn(3, '+');
    let (name, id, key) = (parts.next()?, parts.next()?, parts.next()?);
    let raw = B64.decode(key).ok()?;
    match raw.split_first() {
        Some((a, bytes)) if *a == algorithm => Some((name, id, bytes.try_into().ok()?)),
        _ => None,
    }
}

pub(crate) fn hex4(id: &[u8; 4]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// A key that verifies checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Parses `<name>+<hex id>+<base64(0x01 ‖ public key)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let bad = || NoteError::Key(text.trim().to_owned());
        let (name, id, public) = read_key_string(text.trim(), ED25519).ok_or_else(bad)?;
        if !check_name(name) || hex4(&key_id(name, &public)) != id {
            return Err(bad());
        }
        let key = VerifyingKey::from_bytes(&public).map_err(|_| bad())?;
        Ok(Self { name: name.to_owned(), id: key_id(name, &public), key })
    }

    /// The verifier of `name` with the raw Ed25519 key `public` (a log known by its key alone,
    /// as a sigsum policy names it, whose key name is its origin).
    pub fn from_key(name: &str, public: &[u8; 32]) -> Result<Self, NoteError> {
        let key = VerifyingKey::from_bytes(public).map_err(|_| NoteError::Key(name.to_owned()))?;
        if !check_name(name) {
            return Err(NoteError::Key(name.to_owned()));
        }
        Ok(Self { name: name.to_owned(), id: key_id(name, public), key })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks that `note` carries a valid signature by this key and returns its text.
    pub fn open<'n>(&self, note: &'n str) -> Result<&'n str, NoteError> {
        let (text, lines) = split_note(note)?;
        for (name, blob) in lines {
            if name != self.name {
                continue;
            }
            if blob.len() != 68 || blob.get(..4) != Some(&self.id[..]) {
                continue;
            }
            let Ok(sig) = ed25519_dalek::Signature::from_slice(blob.get(4..).unwrap_or_default())
            else {
                continue;
            };
            if self.key.verify_strict(text.as_bytes(), &sig).is_ok() {
                return Ok(text);
            }
        }
        Err(NoteError::Unsigned(self.name.clone()))
    }
}

/// A note's signature lines: `(key name, decoded blob)`.
pub(crate) type SignatureLines<'n> = Vec<(&'n str, Vec<u8>)>;

/// A signed note's text (ending in its last line feed) and its signature lines as
/// `(key name, decoded blob)`; a line whose blob is not base64 is skipped, as a line of an
/// unknown key would be. Refuses a note without a blank line or with a line that is not a
/// signature.
pub(crate) fn split_note(note: &str) -> Result<(&str, SignatureLines<'_>), NoteError> {
    let split = note
        .rfind("\n\n")
        .ok_or_else(|| NoteError::Malformed("no blank line before the signatures".into()))?;
    let (text, sigs) = note.split_at(split + 1);
    let mut lines = Vec::new();
    for line in sigs.trim_start_matches('\n').lines() {
        let Some(rest) = line.strip_prefix("\u{2014} ") else {
            return Err(NoteError::Malformed(format!(
                "signature line `{line}` does not start with `— `"
            )));
        };
        let Some((name, blob)) = rest.split_once(' ') else { continue };
        if let Ok(blob) = B64.decode(blob) {
            lines.push((name, blob));
        }
    }
    Ok((text, lines))
}

/// The text of a signed note, without its signatures and without checking them (to read a
/// checkpoint one trusts already, or to report what an unverified one claims).
pub fn note_text(note: &str) -> &str {
    note.find("\n\n").and_then(|i| note.get(..=i)).unwrap_or(note)
}

/// A log checkpoint: origin, tree size and root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
}

impl Checkpoint {
    /// The checkpoint's text.
    pub fn text(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, B64.encode(self.root))
    }

    /// Parses checkpoint text (its first three lines, each ended by a line feed as C2SP
    /// tlog-checkpoint writes them; extension lines are ignored). An origin must be non-empty
    /// and free of control characters, so that a checkpoint has one written form.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let mut lines = text.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(NoteError::Checkpoint("fewer than three lines".into()));
        };
        if origin.is_empty() || origin.chars().any(char::is_control) {
            return Err(NoteError::Checkpoint(format!(
                "origin {origin:?} is empty or holds a control character"
            )));
        }
        let size = size
            .parse()
            .map_err(|_| NoteError::Checkpoint(format!("size `{size}` is not a number")))?;
        let root = B64.decode(root).ok().and_then(|r| r.try_into().ok()).ok_or_else(|| {
            NoteError::Checkpoint(format!("root `{root}` is not a base64 SHA-256 hash"))
        })?;
        Ok(Self { origin: origin.to_owned(), size, root })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_open_and_refuse() {
        let signer = NoteSigner::from_seed("probity.example/log", [7; 32]).unwrap();
        let again = NoteSigner::parse(&signer.to_private_string()).unwrap();
        assert_eq!(again.verifier_key(), signer.verifier_key());
        let verifier = NoteVerifier::parse(&signer.verifier_key()).unwrap();
        let cp = Checkpoint { origin: "probity.example/log".into(), size: 42, root: [9; 32] };
        let note = signer.sign(&cp.text());
        assert!(note.contains("\n\n\u{2014} probity.example/log "));
        let text = verifier.open(&note).unwrap();
        assert_eq!(Checkpoint::parse(text).unwrap(), cp);

        // Found by the fuzz target `notes`: a carriage return kept in the origin read back as
        // another checkpoint.
        assert!(Checkpoint::parse(&cp.text().replacen('\n', "\r\r\n", 1)).is_err());
        assert!(Checkpoint::parse(&cp.text().replace('\n', "\r\n")).is_err());
        assert_eq!(Checkpoint::parse(&cp.text()).unwrap(), cp);

        let forged = note.replace("\n42\n", "\n43\n");
        assert_eq!(verifier.open(&forged), Err(NoteError::Unsigned("probity.example/log".into())));
        let other = NoteSigner::from_seed("probity.example/log", [8; 32]).unwrap();
        assert!(verifier.open(&other.sign(&cp.text())).is_err());
        assert!(NoteVerifier::parse("name+00000000+AQ==").is_err());
        assert!(format!("{signer:?}").find("PRIVATE").is_none());
        // Keys whose base64 holds `+` or `/` parse too.
        for seed in 0..64u8 {
            let s = NoteSigner::from_seed("n", [seed; 32]).unwrap();
            assert_eq!(
                NoteSigner::parse(&s.to_private_string()).unwrap().verifier_key(),
                s.verifier_key()
            );
            assert!(NoteVerifier::parse(&s.verifier_key()).is_ok());
        }
    }
}
