//! The witness's side of C2SP tlog-witness: an `add-checkpoint` request, and the judgement of
//! one against the checkpoint the witness last cosigned for that log.
//!
//! The request body is a line `old <size>`, then one line per hash of the consistency proof
//! from that size (base64; none when the old size is 0 or equals the new one, at most 63), a
//! blank line, and the signed checkpoint. The judgement follows the specification's order:
//! a malformed body is 400; an origin the witness does not follow is 404; no signature by a
//! key it trusts for that origin is 403; an old size beyond the checkpoint's is 400; an old
//! size other than the one it last cosigned, or the same size with another root, is 409 with
//! that size; a proof that does not lead from the stored root to the new one is 422. Storing
//! the result must then be one atomic compare-and-set against the state judged, which is the
//! store's part.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::Hash;
use crate::note::{Checkpoint, NoteVerifier, note_text};

/// The most proof lines a request may carry (a consistency proof of a 2⁶³-leaf tree).
pub const MAX_PROOF_LINES: usize = 63;

/// An `add-checkpoint` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the client believes the witness last cosigned.
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note.
    pub note: String,
}

/// Why a witness refused a request; [`Refusal::status`] is the HTTP status the specification
/// gives it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The body is not an `add-checkpoint` request.
    #[error("the request is malformed: {0}")]
    Malformed(String),
    /// The witness does not follow this origin.
    #[error("this witness does not follow the log `{0}`")]
    UnknownOrigin(String),
    /// No signature by a key the witness trusts for the origin.
    #[error("the checkpoint of `{0}` carries no signature by a key this witness trusts for it")]
    Untrusted(String),
    /// The old size is beyond the checkpoint's size.
    #[error("old size {old} is beyond the checkpoint's size {size}")]
    OldBeyondNew {
        /// The old size sent.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The old size is not the size last cosigned, or the same size came with another root.
    #[error("this witness last cosigned `{origin}` at size {stored}; the request {why}")]
    Conflict {
        /// The origin.
        origin: String,
        /// The size the witness last cosigned (0 if none).
        stored: u64,
        /// What differs.
        why: String,
    },
    /// The consistency proof does not hold.
    #[error("the consistency proof from size {old} to {size} of `{origin}` does not hold: {why}")]
    Inconsistent {
        /// The origin.
        origin: String,
        /// The old size.
        old: u64,
        /// The new size.
        size: u64,
        /// Why.
        why: String,
    },
}

impl Refusal {
    /// The HTTP status of this refusal in C2SP tlog-witness.
    pub fn status(&self) -> u16 {
        match self {
            Self::Malformed(_) | Self::OldBeyondNew { .. } => 400,
            Self::Untrusted(_) => 403,
            Self::UnknownOrigin(_) => 404,
            Self::Conflict { .. } => 409,
            Self::Inconsistent { .. } => 422,
        }
    }
}

impl AddCheckpoint {
    /// Parses a request body.
    pub fn parse(body: &str) -> Result<Self, Refusal> {
        let bad = |why: String| Refusal::Malformed(why);
        let (first, rest) = body
            .split_once('\n')
            .ok_or_else(|| bad("the body has no `old <size>` line".to_owned()))?;
        let old = first
            .strip_prefix("old ")
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| bad(format!("the first line `{first}` is not `old <size>`")))?;
        // No proof line is empty, so the first blank line ends the proof (the note has one of
        // its own, before its signatures).
        let (proof_lines, note) = rest
            .strip_prefix('\n')
            .map(|n| ("", n))
            .or_else(|| rest.split_once("\n\n"))
            .ok_or_else(|| bad("no blank line before the checkpoint".to_owned()))?;
        let mut proof = Vec::new();
        for line in proof_lines.split('\n').filter(|l| !l.is_empty()) {
            if proof.len() == MAX_PROOF_LINES {
                return Err(bad(format!("more than {MAX_PROOF_LINES} proof lines")));
            }
            let hash =
                B64.decode(line).ok().and_then(|h| Hash::try_from(h).ok()).ok_or_else(|| {
                    bad(format!("proof line `{line}` is not a base64 SHA-256 hash"))
                })?;
            proof.push(hash);
        }
        if note.is_empty() {
            return Err(bad("the checkpoint is missing".to_owned()));
        }
        Ok(Self { old, proof, note: note.to_owned() })
    }

    /// The request body.
    pub fn encode(&self) -> String {
        let mut body = format!("old {}\n", self.old);
        for hash in &self.proof {
            body.push_str(&B64.encode(hash));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&self.note);
        body
    }
}

/// A log the witness follows: its origin and the keys it trusts to sign its checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessedLog {
    /// The origin line of the log's checkpoints.
    pub origin: String,
    /// Its keys.
    pub keys: Vec<NoteVerifier>,
}

/// Judges `request` against the logs the witness follows and the state it holds for the
/// request's origin (`stored`: the size and root it last cosigned). Returns the checkpoint to
/// store and cosign; the caller stores it with a compare-and-set against `stored`.
pub fn judge(
    request: &AddCheckpoint,
    logs: &[WitnessedLog],
    stored: impl FnOnce(&str) -> Option<(u64, Hash)>,
) -> Result<Checkpoint, Refusal> {
    let checkpoint = Checkpoint::parse(note_text(&request.note))
        .map_err(|e| Refusal::Malformed(e.to_string()))?;
    let origin = checkpoint.origin.clone();
    let log = logs
        .iter()
        .find(|l| l.origin == origin)
        .ok_or_else(|| Refusal::UnknownOrigin(origin.clone()))?;
    let mut malformed = None;
    let trusted = log.keys.iter().any(|k| match k.open(&request.note) {
        Ok(_) => true,
        Err(crate::NoteError::Malformed(why)) => {
            malformed = Some(why);
            false
        }
        Err(_) => false,
    });
    if let Some(why) = malformed {
        return Err(Refusal::Malformed(why));
    }
    if !trusted {
        return Err(Refusal::Untrusted(origin));
    }
    let size = checkpoint.size;
    if request.old > size {
        return Err(Refusal::OldBeyondNew { old: request.old, size });
    }
    if (request.old == 0 || request.old == size) && !request.proof.is_empty() {
        return Err(Refusal::Malformed(format!(
            "a request from size {} to {size} carries no proof, and this one has {} lines",
            request.old,
            request.proof.len()
        )));
    }
    let (stored_size, stored_root) = stored(&origin).unwrap_or((0, crate::EMPTY_ROOT));
    if request.old != stored_size {
        return Err(Refusal::Conflict {
            origin,
            stored: stored_size,
            why: format!("says old size {}", request.old),
        });
    }
    if stored_size == size && stored_size > 0 && stored_root != checkpoint.root {
        return Err(Refusal::Conflict {
            origin,
            stored: stored_size,
            why: format!(
                "brings another root ({}) for that same size",
                crate::hex(&checkpoint.root)
            ),
        });
    }
    crate::verify_consistency(request.old, size, &request.proof, &stored_root, &checkpoint.root)
        .map_err(|e| Refusal::Inconsistent {
            origin,
            old: request.old,
            size,
            why: e.to_string(),
        })?;
    Ok(checkpoint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemoryTree, NoteSigner};

    #[test]
    fn each_refusal_has_the_status_the_specification_gives() {
        let signer = NoteSigner::from_seed("example.org/log", [5; 32]).unwrap();
        let logs = [WitnessedLog {
            origin: "example.org/log".into(),
            keys: vec![NoteVerifier::parse(&signer.verifier_key()).unwrap()],
        }];
        let mut tree = MemoryTree::default();
        for i in 0..10u8 {
            tree.append(&[i]);
        }
        let at = |n: u64| Checkpoint {
            origin: "example.org/log".into(),
            size: n,
            root: tree.root_at(n).unwrap(),
        };
        let note = |n: u64| signer.sign(&at(n).text());
        let req = |old: u64, new: u64| AddCheckpoint {
            old,
            proof: if old == 0 || old == new {
                vec![]
            } else {
                tree.consistency_proof(old, new).unwrap()
            },
            note: note(new),
        };
        let parsed = AddCheckpoint::parse(&req(4, 10).encode()).unwrap();
        assert_eq!(parsed, req(4, 10));
        assert_eq!(AddCheckpoint::parse(&req(0, 4).encode()).unwrap(), req(0, 4));
        assert_eq!(AddCheckpoint::parse(&req(4, 4).encode()).unwrap(), req(4, 4));
        let at4 = Some((4, tree.root_at(4).unwrap()));
        assert_eq!(judge(&parsed, &logs, |_| at4).unwrap(), at(10));
        assert_eq!(judge(&req(0, 4), &logs, |_| None).unwrap(), at(4));
        let status = |r: &AddCheckpoint, s| judge(r, &logs, |_| s).unwrap_err().status();
        assert_eq!(status(&req(0, 4), at4), 409);
        assert_eq!(status(&req(3, 10), at4), 409);
        let mut beyond = req(4, 10);
        beyond.old = 11;
        assert_eq!(status(&beyond, at4), 400);
        let mut bad_proof = req(4, 10);
        bad_proof.proof[0] = [0; 32];
        assert_eq!(status(&bad_proof, at4), 422);
        // The same size with another root is a conflict, whatever the proof.
        let other = signer.sign(&Checkpoint { root: [7; 32], ..at(4) }.text());
        assert_eq!(status(&AddCheckpoint { old: 4, proof: vec![], note: other }, at4), 409);
        let stranger = NoteSigner::from_seed("example.org/log", [6; 32]).unwrap();
        let untrusted = AddCheckpoint { note: stranger.sign(&at(10).text()), ..req(4, 10) };
        assert_eq!(status(&untrusted, at4), 403);
        let elsewhere = NoteSigner::from_seed("elsewhere.example/log", [5; 32]).unwrap();
        let unknown = AddCheckpoint {
            note: elsewhere
                .sign(&Checkpoint { origin: "elsewhere.example/log".into(), ..at(10) }.text()),
            ..req(4, 10)
        };
        assert_eq!(status(&unknown, at4), 404);
        for body in
            ["", "old x\n\nnote", "old 1\nnot base64!\n\nnote", "old 1\nAAAA\n", "old 0\n\n"]
        {
            assert_eq!(AddCheckpoint::parse(body).unwrap_err().status(), 400, "{body:?}");
        }
    }
}
