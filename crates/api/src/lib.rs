//! The API's request bodies: every JSON shape a client sends to `/v1`, and the strict reader
//! the server reads them with.
//!
//! The bodies are the API's widest door for outside input, so they live apart from the HTTP
//! server: the server reads every body through [`parse_body`], and the fuzz targets drive the same
//! reader and types without building the server. Pure: no I/O, no async.
//!
//! A body is one JSON object in which no object names a key twice, and which holds exactly the
//! fields of its type (`deny_unknown_fields`). Records inside a body stay JSON values here: the
//! registry's record parser reads them, as it reads an import's rows.

use probity_registry::RecordIn;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Why a body was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Not JSON, or JSON in which an object names a key twice.
    #[error("{0}")]
    Malformed(String),
    /// JSON, but not an object with the fields the request takes.
    #[error("{0}")]
    Invalid(String),
}

/// Reads a request body as the API does: one JSON object in which no object names a key twice,
/// then the fields `T` takes.
///
/// # Errors
/// [`BodyError::Malformed`] for text that is not JSON or names a key twice, and
/// [`BodyError::Invalid`] for JSON that is not an object or not a `T`; each message names the
/// problem.
pub fn parse_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    let value: Value =
        serde_json::from_slice::<Unique>(bytes).map_err(|e| BodyError::Malformed(e.to_string()))?.0;
    if !value.is_object() {
        return Err(BodyError::Invalid("the body must be a json object".to_owned()));
    }
    T::deserialize(value).map_err(|e| BodyError::Invalid(e.to_string()))
}

// Operator

/// An authority to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorityIn {
    /// Id (a slug).
    pub id: String,
    /// Name.
    pub name: String,
    /// Category, as the rulebook's `filed_by` names them.
    pub category: String,
    /// Jurisdiction.
    pub jurisdiction: String,
}

/// Options for a new key.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyIn {
    /// Revoke the holder's other keys (rotation).
    #[serde(default)]
    pub rotate: bool,
    /// When the key stops working, RFC 3339.
    pub expires: Option<String>,
}

/// A code to admit to the exception list.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExceptionIn {
    /// The code (well formed, failing only its checksum).
    pub code: String,
    /// Why it is genuine.
    pub reason: String,
}

/// A rulebook to adopt.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulebookIn {
    /// The full TOML text.
    pub text: String,
}

// Public reads

/// A batch check.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchCheck {
    /// Measure id.
    pub measure: String,
    /// Subject codes, at most 10,000.
    pub subjects: Vec<String>,
    /// The date the answers are about (default today).
    pub as_of: Option<String>,
}

// Filing and due process

/// A batch of records to file.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FilingBatch {
    /// Records in the import's record format; at most 10,000.
    #[schema(value_type = Vec<RecordIn>)]
    pub records: Vec<Value>,
}

/// A reason.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonIn {
    /// Why.
    pub reason: String,
}

/// A correction.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionIn {
    /// The record as corrected (same authority and decision number).
    #[schema(value_type = RecordIn)]
    pub record: Value,
    /// Why.
    pub reason: String,
}

/// An objection.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectionIn {
    /// The company's grounds.
    pub grounds: String,
}

/// A reply.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyIn {
    /// The statement to publish next to the record.
    pub text: String,
}

/// A repair application.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepairIn {
    /// What the company did.
    pub statement: String,
}

/// An answer to an objection.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerIn {
    /// Admitted for examination (true) or refused as inadmissible (false).
    pub admitted: bool,
    /// Why.
    pub reason: String,
}

/// A decision on an admitted objection.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionIn {
    /// `upheld`, `corrected` or `withdrawn`.
    pub outcome: String,
    /// Why.
    pub reason: String,
    /// The corrected record, for `corrected` only.
    #[schema(value_type = Option<RecordIn>)]
    pub record: Option<Value>,
}

/// A decision on a repair application.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepairDecisionIn {
    /// Granted.
    pub granted: bool,
    /// Why.
    pub reason: String,
}

// Inspections

/// A beacon round, as drand's HTTP API serves it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BeaconIn {
    /// The round (the plan's).
    pub round: u64,
    /// Its BLS signature, hex.
    pub signature: String,
    /// SHA-256 of the signature, hex, if given: checked.
    pub randomness: Option<String>,
}

// Watchlists

/// A new watchlist.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WatchlistIn {
    /// A label for it.
    pub label: String,
    /// The measures whose decisions it reports (every measure if absent or empty).
    #[serde(default)]
    pub measures: Vec<String>,
    /// A webhook to push its changes to.
    pub webhook_url: Option<String>,
}

/// Subject codes to add to or take off a watchlist.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectsIn {
    /// USCCs or LEIs; at most 100,000 on a watchlist.
    pub subjects: Vec<String>,
}

/// A webhook to set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookIn {
    /// The receiver's URL (`http`: this build has no TLS stack).
    pub url: String,
}

/// A JSON value in which no object names a key twice.
struct Unique(serde_json::Value);

impl<'de> serde::Deserialize<'de> for Unique {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor).map(Unique)
    }
}

struct UniqueVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a json value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        <Unique as serde::Deserialize>::deserialize(d).map(|u| u.0)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Unique(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(out.into())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("the key `{key}` appears twice")));
            }
            let Unique(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(out.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_one_object_with_its_fields_and_no_key_twice() {
        let ok: ReasonIn = parse_body(br#"{"reason": "late"}"#).unwrap();
        assert_eq!(ok.reason, "late");
        assert!(matches!(parse_body::<ReasonIn>(b"{"), Err(BodyError::Malformed(_))));
        let twice = parse_body::<ReasonIn>(br#"{"reason": "a", "reason": "b"}"#);
        assert!(
            matches!(&twice, Err(BodyError::Malformed(m)) if m.contains("`reason` appears twice"))
        );
        let deep = parse_body::<FilingBatch>(br#"{"records": [{"a": 1, "a": 2}]}"#);
        assert!(matches!(&deep, Err(BodyError::Malformed(m)) if m.contains("`a` appears twice")));
        let array = parse_body::<ReasonIn>(br#"[{"reason": "late"}]"#);
        assert_eq!(array.unwrap_err(), BodyError::Invalid("the body must be a json object".into()));
        let extra = parse_body::<ReasonIn>(br#"{"reason": "late", "why": 1}"#);
        assert!(matches!(&extra, Err(BodyError::Invalid(m)) if m.contains("unknown field `why`")));
        let missing = parse_body::<ReasonIn>(b"{}");
        assert!(
            matches!(&missing, Err(BodyError::Invalid(m)) if m.contains("missing field `reason`"))
        );
    }
}
