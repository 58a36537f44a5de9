//! Journal events: the registry's state is derived from an append-only sequence of these.
//!
//! Each event has one canonical encoding, [`Event::encode`]: compact JSON (UTF-8, no insignificant
//! whitespace) whose object keys appear in the order the types below declare them, dates as
//! `YYYY-MM-DD`, instants as RFC 3339 in UTC, amounts as integer minor units. The encoding carries
//! its version in `v`. Events are never edited or deleted; a correction or a withdrawal is a new
//! event that names the record it changes.

use serde::{Deserialize, Serialize};

use crate::{Authority, Record, RecordKey, Subject, Timestamp};

/// Version of the canonical event encoding written in each event's `v` field.
pub const EVENT_FORMAT_VERSION: u32 = 1;

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    /// A subject entered the registry.
    SubjectRegistered {
        /// The subject as registered.
        subject: Subject,
    },
    /// An authority was admitted to file decisions.
    AuthorityRegistered {
        /// The authority.
        authority: Authority,
    },
    /// An authority filed a decision.
    RecordFiled {
        /// The record.
        record: Record,
    },
    /// The issuing authority corrected a record it filed. The record's key is unchanged.
    RecordCorrected {
        /// The record as corrected.
        record: Record,
        /// Why.
        reason: String,
    },
    /// The issuing authority withdrew a record it filed.
    RecordWithdrawn {
        /// Which record.
        key: RecordKey,
        /// Why.
        reason: String,
    },
    /// The bodies of every journal entry about a record were withdrawn from publication: the
    /// record no longer affects any assessment. Their leaves stay in the log, so every proof
    /// stays valid; only the content is gone.
    RecordRedacted {
        /// Which record.
        key: RecordKey,
        /// The log indices of its entries whose bodies are withheld (its filing, corrections,
        /// withdrawal and due-process steps), in order.
        entries: Vec<u64>,
        /// Why.
        reason: String,
    },
    /// The free text of every journal entry about a record (summaries, legal bases, reasons,
    /// grounds, replies and statements) was withheld from publication because it holds personal
    /// data; what rating reads (kinds, dates, amounts, outcomes) stays. Their leaves stay in the
    /// log; each body is published with its free text replaced by [`WITHHELD_TEXT`].
    RecordTextWithheld {
        /// Which record.
        key: RecordKey,
        /// The log indices of its entries whose free text is withheld, in order.
        entries: Vec<u64>,
        /// Why (without repeating the personal data).
        reason: String,
    },
    /// A due-process step about a record: an objection, an answer or decision on it, a reply,
    /// a repair application or its decision.
    ProcessStep {
        /// Which record.
        record: RecordKey,
        /// The step.
        step: crate::Step,
    },
    /// An operator adopted a rulebook. Assessments on or after `effective` follow it.
    RulebookAdopted {
        /// The rulebook's id.
        rulebook: String,
        /// Its version label.
        version: String,
        /// From when it applies.
        effective: crate::Date,
        /// Its full TOML text, exactly as adopted.
        text: String,
    },
    /// An authority committed to an inspection plan, before the beacon round it names exists.
    InspectionPlanned {
        /// The plan.
        plan: crate::InspectionPlan,
    },
    /// A plan was drawn with its beacon round's output.
    InspectionDrawn {
        /// The draw.
        draw: crate::InspectionDraw,
    },
    /// An operator admitted a code that fails its checksum (an early pilot-era code) to the
    /// exception list.
    CodeExceptionAdmitted {
        /// The normalised code.
        code: String,
        /// Why the code is genuine.
        reason: String,
    },
}

/// One journal event: what happened and when the registry learned of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Encoding version, [`EVENT_FORMAT_VERSION`].
    pub v: u32,
    /// When the registry recorded it (the registry's time axis, distinct from the dates a
    /// decision carries).
    pub recorded_at: Timestamp,
    /// What happened.
    pub body: EventBody,
}

impl Event {
    /// An event in the current encoding version.
    pub fn new(recorded_at: Timestamp, body: EventBody) -> Self {
        Self { v: EVENT_FORMAT_VERSION, recorded_at, body }
    }

    /// The canonical encoding.
    #[allow(
        clippy::expect_used,
        reason = "serialising these plain data types to a Vec cannot fail (every map key is a \
                  string, no Serialize implementation is fallible); if it ever did, journalling \
                  empty bytes would corrupt the log, so it stops instead"
    )]
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an event serialises")
    }

    /// Decodes the canonical encoding.
    pub fn decode(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The event as published once its free text is withheld (see
    /// [`EventBody::RecordTextWithheld`]): every free-text field of a record's entry replaced by
    /// [`WITHHELD_TEXT`], everything else as it was. Events of other kinds are unchanged.
    pub fn without_free_text(&self) -> Self {
        let blank = |s: &mut String| *s = WITHHELD_TEXT.to_owned();
        let mut e = self.clone();
        match &mut e.body {
            EventBody::RecordFiled { record } => {
                blank(&mut record.summary);
                blank(&mut record.basis);
            }
            EventBody::RecordCorrected { record, reason } => {
                blank(&mut record.summary);
                blank(&mut record.basis);
                blank(reason);
            }
            EventBody::RecordWithdrawn { reason, .. } => blank(reason),
            EventBody::ProcessStep { step, .. } => match step {
                crate::Step::ObjectionFiled { grounds: t }
                | crate::Step::ObjectionAnswered { reason: t, .. }
                | crate::Step::ObjectionDecided { reason: t, .. }
                | crate::Step::ReplyPublished { text: t }
                | crate::Step::RepairApplied { statement: t }
                | crate::Step::RepairDecided { reason: t, .. } => blank(t),
            },
            _ => {}
        }
        e
    }

    /// The event's type name as it appears in the encoding.
    pub fn type_name(&self) -> &'static str {
        match self.body {
            EventBody::SubjectRegistered { .. } => "subject_registered",
            EventBody::AuthorityRegistered { .. } => "authority_registered",
            EventBody::RecordFiled { .. } => "record_filed",
            EventBody::RecordCorrected { .. } => "record_corrected",
            EventBody::RecordWithdrawn { .. } => "record_withdrawn",
            EventBody::RecordRedacted { .. } => "record_redacted",
            EventBody::RecordTextWithheld { .. } => "record_text_withheld",
            EventBody::CodeExceptionAdmitted { .. } => "code_exception_admitted",
            EventBody::ProcessStep { .. } => "process_step",
            EventBody::RulebookAdopted { .. } => "rulebook_adopted",
            EventBody::InspectionPlanned { .. } => "inspection_planned",
            EventBody::InspectionDrawn { .. } => "inspection_drawn",
        }
    }
}

/// What a withheld free-text field reads once its text is withheld.
pub const WITHHELD_TEXT: &str = "[withheld: personal data]";

/// Version of the leaf format: the first byte of [`Encoded::leaf_data`].
pub const LEAF_FORMAT_VERSION: u8 = 1;

/// An event together with its canonical encoding and the data of its log leaf, computed once
/// where the event is made so that the writer of the journal only copies bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    event: Event,
    bytes: Vec<u8>,
    leaf_data: [u8; 33],
}

impl Encoded {
    /// The event.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// Its canonical encoding.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The data of its log leaf: the leaf format version, then SHA-256 of the canonical
    /// encoding (`docs/log-format.md`).
    pub fn leaf_data(&self) -> &[u8; 33] {
        &self.leaf_data
    }
}

/// The data of the log leaf of an event with these canonical bytes.
pub fn leaf_data(canonical: &[u8]) -> [u8; 33] {
    use sha2::{Digest, Sha256};
    let digest: [u8; 32] = Sha256::digest(canonical).into();
    let mut out = [LEAF_FORMAT_VERSION; 33];
    for (o, d) in out.iter_mut().skip(1).zip(digest) {
        *o = d;
    }
    out
}

impl From<Event> for Encoded {
    fn from(event: Event) -> Self {
        let bytes = event.encode();
        let leaf_data = leaf_data(&bytes);
        Self { event, bytes, leaf_data }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        crate::model::sample_record()
    }

    #[test]
    fn canonical_encoding_is_stable() {
        let at: Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        let e = Event::new(at, EventBody::RecordFiled { record: record() });
        let text = String::from_utf8(e.encode()).unwrap();
        assert_eq!(
            text,
            r#"{"v":1,"recorded_at":"2026-01-02T03:04:05Z","body":{"type":"record_filed","record":{"authority":"bj-amr","decision_no":"京市监罚〔2024〕1号","subject":"91110000600037341L","kind":"penalty.minor","decided":"2024-03-01","effective":"2024-03-02","basis":"Art. 1","summary":"fine","amount":{"minor":10050,"currency":"CNY"},"document_sha256":null}}}"#
        );
        assert_eq!(Event::decode(text.as_bytes()).unwrap(), e);
        assert_eq!(e.type_name(), "record_filed");
    }

    fn keys(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    out.push(k.clone());
                    keys(v, out);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
            _ => {}
        }
    }

    #[test]
    fn no_event_field_holds_data_about_a_person() {
        use crate::{Authority, Subject, SubjectStatus};
        let at: Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        let subject =
            Subject::new(record().subject, "x", &["y"], None, None, SubjectStatus::Active, None)
                .unwrap();
        let bodies = [
            EventBody::SubjectRegistered { subject },
            EventBody::AuthorityRegistered {
                authority: Authority::new("a", "b", "c", "d").unwrap(),
            },
            EventBody::RecordFiled { record: record() },
            EventBody::RecordCorrected { record: record(), reason: "r".into() },
            EventBody::RecordWithdrawn { key: record().key(), reason: "r".into() },
            EventBody::RecordRedacted { key: record().key(), entries: vec![3], reason: "r".into() },
            EventBody::CodeExceptionAdmitted { code: "c".into(), reason: "r".into() },
            EventBody::ProcessStep {
                record: record().key(),
                step: crate::Step::ObjectionFiled { grounds: "g".into() },
            },
            EventBody::ProcessStep {
                record: record().key(),
                step: crate::Step::ObjectionDecided {
                    outcome: crate::ObjectionOutcome::Upheld,
                    reason: "r".into(),
                },
            },
            EventBody::ProcessStep {
                record: record().key(),
                step: crate::Step::ReplyPublished { text: "t".into() },
            },
            EventBody::RulebookAdopted {
                rulebook: "r".into(),
                version: "1".into(),
                effective: "2026-01-01".parse().unwrap(),
                text: "t".into(),
            },
        ];
        let mut all = Vec::new();
        for body in bodies {
            let v: serde_json::Value =
                serde_json::from_slice(&Event::new(at, body).encode()).unwrap();
            keys(&v, &mut all);
        }
        assert!(all.len() > 30);
        for key in all {
            for bad in crate::PERSONAL_DATA_FRAGMENTS {
                assert!(!key.contains(bad), "event field `{key}` looks like data about a person");
            }
        }
    }

    #[test]
    fn decoding_rechecks_identifiers() {
        let at: Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        let e = Event::new(at, EventBody::RecordFiled { record: record() });
        let forged = String::from_utf8(e.encode()).unwrap().replace("341L", "341M");
        assert!(Event::decode(forged.as_bytes()).is_err());
    }
}
