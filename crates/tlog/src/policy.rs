//! Which checkpoints a reader accepts: the log's key and a quorum of witnesses, in the policy
//! file form of sigsum and torchwood.
//!
//! ```text
//! # comments and blank lines are ignored
//! log <key> [<url>]
//! witness <name> <key> [<url>]
//! group <name> <k | all | any> <member> <member>…
//! quorum <name | none>
//! ```
//!
//! A log key is a signed-note verifier key (`name+id+base64(0x01 ‖ key)`) or, as sigsum writes
//! it, 64 hex digits of a raw Ed25519 key, whose key name is then the checkpoint's origin. A
//! witness key is a `cosignature/v1` verifier key (`name+id+base64(0x04 ‖ key)`) or 64 hex
//! digits. Names of witnesses and groups share one namespace, and a group names only members
//! defined above it. Exactly one `quorum` line says which witness or group must be satisfied.

use crate::cosignature::CosignatureVerifier;
use crate::note::{Checkpoint, NoteError, NoteVerifier, note_text};

/// Why a policy file, or a checkpoint under a policy, was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The policy file is malformed.
    #[error("policy line {line}: {why}")]
    Parse {
        /// One-based line number.
        line: usize,
        /// What is wrong, naming the offending text.
        why: String,
    },
    /// The policy file has no `quorum` line.
    #[error("the policy has no `quorum` line")]
    NoQuorum,
    /// The checkpoint is not signed by a log of the policy.
    #[error("the checkpoint of `{origin}` is not signed by a log key of the policy")]
    NotByLog {
        /// The origin the checkpoint states.
        origin: String,
    },
    /// The checkpoint lacks a quorum of valid cosignatures.
    #[error(
        "the checkpoint of `{origin}` at size {size} has valid cosignatures by {} of the \
         policy's witnesses ({}); its quorum `{quorum}` is not met",
        cosigners.len(),
        if cosigners.is_empty() { "none".to_owned() } else { cosigners.join(", ") }
    )]
    NoQuorumMet {
        /// The origin the checkpoint states.
        origin: String,
        /// Its size.
        size: u64,
        /// The witnesses whose cosignatures verified.
        cosigners: Vec<String>,
        /// The policy's quorum.
        quorum: String,
    },
    /// The checkpoint is not a signed note or not a checkpoint.
    #[error(transparent)]
    Note(#[from] NoteError),
}

/// A log's key in a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LogKey {
    Named(NoteVerifier),
    Raw([u8; 32]),
}

/// A witness of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyWitness {
    /// Its name in the policy.
    pub name: String,
    /// Its cosignature key.
    pub key: CosignatureVerifier,
    /// Where it takes `add-checkpoint` requests, if the policy says.
    pub url: Option<String>,
}

/// A group: satisfied when `threshold` of its members are.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    name: String,
    threshold: usize,
    members: Vec<Node>,
}

/// A witness or a group, by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Witness(usize),
    Group(usize),
}

/// A parsed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    logs: Vec<(LogKey, Option<String>)>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<Group>,
    /// `None` is `quorum none`: no cosignature needed.
    quorum: Option<Node>,
    quorum_name: String,
}

/// A checkpoint that a policy accepts, and who cosigned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// What the checkpoint states.
    pub checkpoint: Checkpoint,
    /// The policy's witnesses whose cosignatures verify, with the time each states.
    pub cosigners: Vec<(String, u64)>,
}

fn parse_hex_key(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(key)
}

impl Policy {
    /// Parses a policy file.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let mut policy = Self {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: Vec::new(),
            quorum: None,
            quorum_name: String::new(),
        };
        let mut quorum_seen = false;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let err = |why: String| PolicyError::Parse { line, why };
            let content = raw.split('#').next().unwrap_or_default().trim();
            let words: Vec<&str> = content.split_whitespace().collect();
            match words.as_slice() {
                [] => {}
                ["log", key, rest @ ..] if rest.len() <= 1 => {
                    let key = match parse_hex_key(key) {
                        Some(raw) => LogKey::Raw(raw),
                        None => LogKey::Named(NoteVerifier::parse(key).map_err(|_| {
                            err(format!("`{key}` is neither a log verifier key nor 64 hex digits"))
                        })?),
                    };
                    policy.logs.push((key, rest.first().map(|u| (*u).to_owned())));
                }
                ["witness", name, key, rest @ ..] if rest.len() <= 1 => {
                    if policy.node(name).is_some() {
                        return Err(err(format!("`{name}` is defined twice")));
                    }
                    let verifier = match parse_hex_key(key) {
                        Some(raw) => CosignatureVerifier::from_key(&raw),
                        None => CosignatureVerifier::parse(key),
                    }
                    .map_err(|_| {
                        err(format!(
                            "`{key}` is neither a cosignature/v1 verifier key nor 64 hex digits"
                        ))
                    })?;
                    policy.witnesses.push(PolicyWitness {
                        name: (*name).to_owned(),
                        key: verifier,
                        url: rest.first().map(|u| (*u).to_owned()),
                    });
                }
                ["group", name, threshold, members @ ..] if !members.is_empty() => {
                    if policy.node(name).is_some() {
                        return Err(err(format!("`{name}` is defined twice")));
                    }
                    let members = members
                        .iter()
                        .map(|m| {
                            policy.node(m).ok_or_else(|| {
                                err(format!("group `{name}`: member `{m}` is not defined above"))
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    let threshold = match *threshold {
                        "all" => members.len(),
                        "any" => 1,
                        k => match k.parse::<usize>() {
                            Ok(k) if (1..=members.len()).contains(&k) => k,
                            _ => {
                                return Err(err(format!(
                                    "group `{name}`: threshold `{k}` is not `all`, `any` or a \
                                     number from 1 to {}",
                                    members.len()
                                )));
                            }
                        },
                    };
                    policy.groups.push(Group { name: (*name).to_owned(), threshold, members });
                }
                ["quorum", name] => {
                    if quorum_seen {
                        return Err(err("a second `quorum` line".to_owned()));
                    }
                    quorum_seen = true;
                    policy.quorum_name = (*name).to_owned();
                    policy.quorum = match *name {
                        "none" => None,
                        name => Some(policy.node(name).ok_or_else(|| {
                            err(format!("quorum `{name}` is not a witness or group defined above"))
                        })?),
                    };
                }
                _ => {
                    return Err(err(format!(
                        "`{content}` is not `log KEY [URL]`, `witness NAME KEY [URL]`, \
                         `group NAME K|all|any MEMBER…` or `quorum NAME|none`"
                    )));
                }
            }
        }
        if !quorum_seen {
            return Err(PolicyError::NoQuorum);
        }
        Ok(policy)
    }

    fn node(&self, name: &str) -> Option<Node> {
        self.witnesses
            .iter()
            .position(|w| w.name == name)
            .map(Node::Witness)
            .or_else(|| self.groups.iter().position(|g| g.name == name).map(Node::Group))
    }

    /// The witnesses the policy names.
    pub fn witnesses(&self) -> &[PolicyWitness] {
        &self.witnesses
    }

    /// The quorum's name (`none` when no cosignature is needed).
    pub fn quorum(&self) -> &str {
        &self.quorum_name
    }

    /// Whether the witnesses at these indices (into [`Self::witnesses`]) satisfy the quorum.
    pub fn satisfied_by(&self, cosigned: &[usize]) -> bool {
        self.quorum.is_none_or(|q| self.holds(q, cosigned, 0))
    }

    fn holds(&self, node: Node, cosigned: &[usize], depth: usize) -> bool {
        match node {
            Node::Witness(i) => cosigned.contains(&i),
            // Groups only name members defined before them, so there is no cycle; the depth
            // bound is a second guard.
            Node::Group(g) => self.groups.get(g).is_some_and(|g| {
                depth < 64
                    && g.members.iter().filter(|m| self.holds(**m, cosigned, depth + 1)).count()
                        >= g.threshold
            }),
        }
    }

    /// The policy's witnesses whose valid cosignatures `note` carries, as indices into
    /// [`Self::witnesses`] with each one's time.
    pub fn cosigners(&self, note: &str) -> Result<Vec<(usize, u64)>, PolicyError> {
        let mut found = Vec::new();
        for (i, w) in self.witnesses.iter().enumerate() {
            if let Some(time) = w.key.cosigned(note)? {
                found.push((i, time));
            }
        }
        Ok(found)
    }

    /// Accepts `note`, a signed checkpoint, if a log key of the policy signed it (when the
    /// policy names logs) and its valid cosignatures meet the quorum; else says which part
    /// failed and who did cosign.
    pub fn check(&self, note: &str) -> Result<Accepted, PolicyError> {
        let checkpoint = Checkpoint::parse(note_text(note))?;
        if !self.logs.is_empty() {
            let signed = self.logs.iter().any(|(key, _)| {
                let verifier = match key {
                    LogKey::Named(v) => Some(v.clone()),
                    LogKey::Raw(raw) => NoteVerifier::from_key(&checkpoint.origin, raw).ok(),
                };
                verifier.is_some_and(|v| v.open(note).is_ok())
            });
            if !signed {
                return Err(PolicyError::NotByLog { origin: checkpoint.origin });
            }
        }
        let found = self.cosigners(note)?;
        let indices: Vec<usize> = found.iter().map(|(i, _)| *i).collect();
        let named = |(i, t): (usize, u64)| {
            self.witnesses.get(i).map(|w| (w.name.clone(), t)).unwrap_or_default()
        };
        let cosigners: Vec<(String, u64)> = found.into_iter().map(named).collect();
        if !self.satisfied_by(&indices) {
            return Err(PolicyError::NoQuorumMet {
                origin: checkpoint.origin,
                size: checkpoint.size,
                cosigners: cosigners.into_iter().map(|(n, _)| n).collect(),
                quorum: self.quorum_name.clone(),
            });
        }
        Ok(Accepted { checkpoint, cosigners })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cosigner, NoteSigner};

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn a_quorum_of_two_of_three_accepts_two_and_refuses_one() {
        let log = NoteSigner::from_seed("example.org/log", [1; 32]).unwrap();
        let w: Vec<Cosigner> = (0..3u8)
            .map(|i| Cosigner::from_seed(&format!("w{i}.example"), [10 + i; 32]).unwrap())
            .collect();
        let text = format!(
            "# three witnesses\nlog {}\nwitness a {} http://a.example\nwitness b {}\n\
             witness c {}\ngroup g 2 a b c\nquorum g\n",
            log.verifier_key(),
            w[0].verifier_key(),
            w[1].verifier_key(),
            hex(&w[2].public_key()),
        );
        let policy = Policy::parse(&text).unwrap();
        assert_eq!(policy.witnesses()[0].url.as_deref(), Some("http://a.example"));
        let cp = Checkpoint { origin: "example.org/log".into(), size: 9, root: [4; 32] };
        let note = log.sign(&cp.text());
        let one = format!("{note}{}", w[0].cosign(&cp.text(), 100));
        let err = policy.check(&one).unwrap_err();
        assert!(err.to_string().contains("by 1 of the policy's witnesses (a)"), "{err}");
        let two = format!("{one}{}", w[2].cosign(&cp.text(), 101));
        let accepted = policy.check(&two).unwrap();
        assert_eq!(accepted.cosigners, vec![("a".to_owned(), 100), ("c".to_owned(), 101)]);
        // A log key the policy does not know.
        let other = NoteSigner::from_seed("example.org/log", [2; 32]).unwrap();
        let forged = format!("{}{}", other.sign(&cp.text()), w[0].cosign(&cp.text(), 1));
        assert!(matches!(policy.check(&forged), Err(PolicyError::NotByLog { .. })));
        // The sigsum form of the log key: 64 hex digits, named by the origin.
        let hexed = text.replace(&log.verifier_key(), &hex(&log_public(&log)));
        assert!(Policy::parse(&hexed).unwrap().check(&two).is_ok());
    }

    fn log_public(log: &NoteSigner) -> [u8; 32] {
        use base64::Engine as _;
        let vkey = log.verifier_key();
        let b64 = vkey.splitn(3, '+').nth(2).unwrap();
        let raw = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
        raw[1..].try_into().unwrap()
    }

    #[test]
    fn malformed_policies_name_their_line() {
        for (text, expected) in [
            ("witness a zz\nquorum a\n", "line 1"),
            ("quorum a\n", "line 1: quorum `a` is not"),
            ("group g 1 x\nquorum g\n", "member `x` is not defined"),
            ("log 00\n", "line 1"),
            ("", "no `quorum` line"),
            ("quorum none\nquorum none\n", "line 2: a second"),
            ("frobnicate\nquorum none\n", "line 1: `frobnicate` is not"),
        ] {
            let err = Policy::parse(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
        let w = Cosigner::from_seed("w", [3; 32]).unwrap();
        let text = format!("witness a {}\ngroup g 3 a\nquorum g\n", w.verifier_key());
        assert!(Policy::parse(&text).unwrap_err().to_string().contains("threshold `3`"));
        assert!(Policy::parse("quorum none\n").unwrap().satisfied_by(&[]));
    }
}
