//! Subjects, authorities and records: what an authority files about a legal entity.
//!
//! There is deliberately no field for a natural person anywhere in this module: no legal
//! representative, no identity-card number, no telephone number, no photograph. The
//! `no_personal_data` tests in the store crates hold every schema to that.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Date, Region, Slug, SubjectId, TextError, check_key, check_prose, check_text};

/// Name fragments that would mean data about a natural person. No field of any event and no
/// column of any store may have a name containing one; tests in the core and in every store
/// enforce it.
pub const PERSONAL_DATA_FRAGMENTS: &[&str] = &[
    "person",
    "representative",
    "legal_rep",
    "id_card",
    "idcard",
    "identity_no",
    "passport",
    "phone",
    "mobile",
    "email",
    "photo",
    "face",
    "birth",
    "gender",
    "ethnic",
    "home_address",
    "owner_name",
    "shareholder_name",
    "contact",
];

/// Limits on free text, in characters.
pub mod limits {
    /// Names of subjects and authorities.
    pub const NAME: usize = 200;
    /// Former names kept per subject.
    pub const FORMER_NAMES: usize = 20;
    /// Decision numbers.
    pub const DECISION_NO: usize = 100;
    /// Legal basis cited by a decision.
    pub const BASIS: usize = 1000;
    /// Summary of a decision.
    pub const SUMMARY: usize = 4000;
    /// Jurisdiction of an authority.
    pub const JURISDICTION: usize = 100;
}

/// Why a domain value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A text field was refused.
    #[error(transparent)]
    Text(#[from] TextError),
    /// An amount was malformed.
    #[error("amount `{0}` is not a non-negative decimal number with at most two decimals")]
    Amount(String),
    /// A currency was malformed.
    #[error("currency `{0}` is not a three-letter ISO 4217 code")]
    Currency(String),
    /// An amount without currency or the reverse.
    #[error("an amount needs a currency and a currency needs an amount")]
    AmountWithoutCurrency,
    /// A document hash was malformed.
    #[error("document_sha256 `{0}` is not 64 hexadecimal characters")]
    DocumentHash(String),
    /// An inspection plan was refused on its own terms.
    #[error("inspection plan: {0}")]
    Plan(String),
    /// A decision said to take effect before it was made.
    #[error("effective date {effective} is before the decision date {decided}")]
    EffectiveBeforeDecided {
        /// Decision date.
        decided: Date,
        /// Effective date.
        effective: Date,
    },
    /// A region that contradicts the USCC.
    #[error("region `{given}` contradicts the code, which was registered in `{from_code}`")]
    RegionMismatch {
        /// The region given.
        given: Region,
        /// The region in the code.
        from_code: Region,
    },
    /// Too many former names.
    #[error("{0} former names given; at most {max} are kept", max = limits::FORMER_NAMES)]
    TooManyFormerNames(usize),
}

/// What kind of legal entity a subject is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// A company or other enterprise.
    Enterprise,
    /// A farmers' specialised cooperative.
    Cooperative,
    /// A social organisation, foundation or private non-enterprise unit.
    SocialOrganisation,
    /// A public body or public institution.
    PublicInstitution,
    /// Any other legal entity.
    Other,
}

impl SubjectKind {
    /// All kinds, in a stable order.
    pub const ALL: [Self; 5] = [
        Self::Enterprise,
        Self::Cooperative,
        Self::SocialOrganisation,
        Self::PublicInstitution,
        Self::Other,
    ];

    /// The kind implied by a subject id: USCC positions 1-2, or enterprise for an LEI.
    pub fn from_id(id: &SubjectId) -> Self {
        match id {
            SubjectId::Uscc(u) => match u.category() {
                [b'9', b'1'] => Self::Enterprise,
                [b'9', b'3'] | [b'N', _] => Self::Cooperative,
                [b'5', _] => Self::SocialOrganisation,
                [b'1', _] => Self::PublicInstitution,
                _ => Self::Other,
            },
            SubjectId::Lei(_) => Self::Enterprise,
        }
    }

    /// The kind's name as written in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enterprise => "enterprise",
            Self::Cooperative => "cooperative",
            Self::SocialOrganisation => "social_organisation",
            Self::PublicInstitution => "public_institution",
            Self::Other => "other",
        }
    }

    /// Parses a kind's name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
}

/// Registration status of a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SubjectStatus {
    /// In business.
    #[default]
    Active,
    /// Business licence revoked.
    Revoked,
    /// Deregistered.
    Deregistered,
}

impl SubjectStatus {
    /// All statuses.
    pub const ALL: [Self; 3] = [Self::Active, Self::Revoked, Self::Deregistered];

    /// The status as written in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
            Self::Deregistered => "deregistered",
        }
    }

    /// Parses a status.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
}

/// A legal entity the registry holds records about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Subject {
    /// Its checked code.
    pub id: SubjectId,
    /// Its registered name, in the original script.
    pub name: String,
    /// Names it was registered under before, oldest first.
    pub former_names: Vec<String>,
    /// What kind of entity it is.
    pub kind: SubjectKind,
    /// Administrative division of registration.
    pub region: Option<Region>,
    /// Registration status.
    pub status: SubjectStatus,
    /// Date established.
    pub established: Option<Date>,
}

impl Subject {
    /// Builds a subject, checking every field. `kind` and `region` default to what the code says.
    pub fn new(
        id: SubjectId,
        name: &str,
        former_names: &[&str],
        kind: Option<SubjectKind>,
        region: Option<Region>,
        status: SubjectStatus,
        established: Option<Date>,
    ) -> Result<Self, ModelError> {
        let name = check_prose("name", name, limits::NAME)?;
        if former_names.len() > limits::FORMER_NAMES {
            return Err(ModelError::TooManyFormerNames(former_names.len()));
        }
        let former_names = former_names
            .iter()
            .map(|n| check_prose("former name", n, limits::NAME))
            .collect::<Result<Vec<_>, _>>()?;
        let region = match (region, id.region()) {
            (Some(given), Some(from_code)) if given != from_code => {
                return Err(ModelError::RegionMismatch { given, from_code });
            }
            (given, from_code) => given.or(from_code),
        };
        Ok(Self {
            kind: kind.unwrap_or_else(|| SubjectKind::from_id(&id)),
            id,
            name,
            former_names,
            region,
            status,
            established,
        })
    }
}

/// A public authority that files decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Authority {
    /// Its id in the registry, e.g. `bj-chaoyang-amr`.
    pub id: Slug,
    /// Its official name.
    pub name: String,
    /// Its category, e.g. `market_regulation`; the rulebook says which record kinds each category
    /// may file.
    pub category: Slug,
    /// Where it has authority, e.g. a division code or a country.
    pub jurisdiction: String,
}

impl Authority {
    /// Builds an authority, checking every field.
    pub fn new(
        id: &str,
        name: &str,
        category: &str,
        jurisdiction: &str,
    ) -> Result<Self, ModelError> {
        Ok(Self {
            id: Slug::parse("authority id", id)?,
            name: check_prose("authority name", name, limits::NAME)?,
            category: Slug::parse("category", category)?,
            jurisdiction: check_text("jurisdiction", jurisdiction, limits::JURISDICTION)?,
        })
    }
}

/// An amount of money in minor units (hundredths) of an ISO 4217 currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Money {
    /// Hundredths of the currency unit.
    pub minor: i64,
    /// ISO 4217 alphabetic code.
    pub currency: Currency,
}

/// A three-letter ISO 4217 currency code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// Parses three ASCII letters, upper-casing them.
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        let up = s.trim().to_ascii_uppercase();
        let b: [u8; 3] =
            up.as_bytes().try_into().map_err(|_| ModelError::Currency(s.to_owned()))?;
        if b.iter().all(u8::is_ascii_uppercase) {
            Ok(Self(b))
        } else {
            Err(ModelError::Currency(s.to_owned()))
        }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl TryFrom<String> for Currency {
    type Error = ModelError;
    fn try_from(s: String) -> Result<Self, ModelError> {
        Self::parse(&s)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> Self {
        c.as_str().to_owned()
    }
}

impl Money {
    /// Parses a decimal amount such as `50000`, `50000.5` or `50000.50` with its currency.
    pub fn parse(amount: &str, currency: &str) -> Result<Self, ModelError> {
        let text = amount.trim();
        let bad = || ModelError::Amount(amount.to_owned());
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty()
            || frac.len() > 2
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || (text.contains('.') && frac.is_empty())
        {
            return Err(bad());
        }
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let frac: i64 =
            if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().map_err(|_| bad())? };
        let minor = whole.checked_mul(100).and_then(|w| w.checked_add(frac)).ok_or_else(bad)?;
        Ok(Self { minor, currency: Currency::parse(currency)? })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02} {}", self.minor / 100, self.minor % 100, self.currency.as_str())
    }
}

/// SHA-256 of a decision document, written as 64 lowercase hex characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DocumentHash([u8; 32]);

impl DocumentHash {
    /// Parses 64 hexadecimal characters.
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        let t = s.trim();
        let bad = || ModelError::DocumentHash(s.to_owned());
        if t.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            let pair = t.get(2 * i..2 * i + 2).ok_or_else(bad)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        Ok(Self(out))
    }

    /// From raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl TryFrom<String> for DocumentHash {
    type Error = ModelError;
    fn try_from(s: String) -> Result<Self, ModelError> {
        Self::parse(&s)
    }
}

impl From<DocumentHash> for String {
    fn from(h: DocumentHash) -> Self {
        h.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The natural key of a record: the issuing authority and its own decision number. Ordered by
/// authority, then decision number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordKey {
    /// Issuing authority.
    pub authority: Slug,
    /// The authority's decision number, unique within that authority.
    pub decision_no: String,
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.authority, self.decision_no)
    }
}

/// A formal decision of an authority about a subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Record {
    /// Issuing authority.
    pub authority: Slug,
    /// The authority's own decision number.
    pub decision_no: String,
    /// The subject decided about.
    pub subject: SubjectId,
    /// The record kind, from the rulebook's catalogue.
    pub kind: Slug,
    /// Date of the decision.
    pub decided: Date,
    /// Date the decision took legal effect.
    pub effective: Date,
    /// The legal basis the decision cites.
    pub basis: String,
    /// What was decided.
    pub summary: String,
    /// Amount imposed or awarded, if any.
    pub amount: Option<Money>,
    /// SHA-256 of the decision document, if published.
    pub document_sha256: Option<DocumentHash>,
    /// For the outcome of an inspection: the number of the issuing authority's inspection plan
    /// whose draw selected the subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inspection_plan: Option<String>,
}

/// The fields of a record before they are checked; used by [`Record::new`].
#[derive(Debug, Clone)]
pub struct RecordFields<'a> {
    /// Issuing authority id.
    pub authority: Slug,
    /// Decision number.
    pub decision_no: &'a str,
    /// Subject.
    pub subject: SubjectId,
    /// Kind.
    pub kind: Slug,
    /// Decision date.
    pub decided: Date,
    /// Effective date.
    pub effective: Date,
    /// Legal basis.
    pub basis: &'a str,
    /// Summary; may be empty.
    pub summary: &'a str,
    /// Amount and currency.
    pub amount: Option<Money>,
    /// Document hash.
    pub document_sha256: Option<DocumentHash>,
    /// The authority's inspection plan this record is an outcome of.
    pub inspection_plan: Option<&'a str>,
}

impl Record {
    /// Builds a record, checking every field: a decision number and a legal basis are required,
    /// and a decision cannot take effect before it was made.
    pub fn new(f: RecordFields<'_>) -> Result<Self, ModelError> {
        if f.effective < f.decided {
            return Err(ModelError::EffectiveBeforeDecided {
                decided: f.decided,
                effective: f.effective,
            });
        }
        let summary = f.summary.trim();
        let summary = if summary.is_empty() {
            String::new()
        } else {
            check_prose("summary", summary, limits::SUMMARY)?
        };
        Ok(Self {
            decision_no: check_key("decision_no", f.decision_no, limits::DECISION_NO)?,
            basis: check_prose("basis", f.basis, limits::BASIS)?,
            authority: f.authority,
            subject: f.subject,
            kind: f.kind,
            decided: f.decided,
            effective: f.effective,
            summary,
            amount: f.amount,
            document_sha256: f.document_sha256,
            inspection_plan: f
                .inspection_plan
                .map(|p| check_key("inspection_plan", p, limits::DECISION_NO))
                .transpose()?,
        })
    }

    /// The record's natural key.
    pub fn key(&self) -> RecordKey {
        RecordKey { authority: self.authority.clone(), decision_no: self.decision_no.clone() }
    }
}

/// A valid record for tests.
#[cfg(test)]
pub(crate) fn sample_record() -> Record {
    let d = |s: &str| s.parse::<Date>().unwrap();
    Record::new(RecordFields {
        authority: Slug::parse("a", "bj-amr").unwrap(),
        decision_no: "京市监罚〔2024〕1号",
        subject: SubjectId::parse("91110000600037341L").unwrap(),
        kind: Slug::parse("k", "penalty.minor").unwrap(),
        decided: d("2024-03-01"),
        effective: d("2024-03-02"),
        basis: "Art. 1",
        summary: "fine",
        amount: Some(Money::parse("100.5", "CNY").unwrap()),
        document_sha256: None,
        inspection_plan: None,
    })
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_parses_decimals_exactly() {
        assert_eq!(Money::parse("50000", "cny").unwrap().minor, 5_000_000);
        assert_eq!(Money::parse("0.5", "CNY").unwrap().minor, 50);
        assert_eq!(Money::parse("12.34", "USD").unwrap().to_string(), "12.34 USD");
        for bad in ["", "-1", "1.234", "1.", ".5", "1e3", "99999999999999999999"] {
            assert!(Money::parse(bad, "CNY").is_err(), "{bad}");
        }
        assert!(Money::parse("1", "CN").is_err());
    }

    #[test]
    fn record_requires_basis_and_order_of_dates() {
        let d = |s: &str| s.parse::<Date>().unwrap();
        let r = sample_record();
        let fields = RecordFields {
            authority: r.authority.clone(),
            decision_no: &r.decision_no,
            subject: r.subject,
            kind: r.kind.clone(),
            decided: r.decided,
            effective: r.effective,
            basis: &r.basis,
            summary: &r.summary,
            amount: r.amount,
            document_sha256: None,
            inspection_plan: None,
        };
        assert!(Record::new(fields.clone()).is_ok());
        let no_basis = RecordFields { basis: "  ", ..fields.clone() };
        assert_eq!(Record::new(no_basis).unwrap_err().to_string(), "basis is empty");
        let backwards = RecordFields { effective: d("2024-02-01"), ..fields };
        assert!(
            Record::new(backwards).unwrap_err().to_string().contains("before the decision date")
        );
    }

    #[test]
    fn subject_region_comes_from_the_code_and_must_agree() {
        let id = SubjectId::parse("91110000600037341L").unwrap();
        let s =
            Subject::new(id, "测试有限公司", &[], None, None, SubjectStatus::Active, None).unwrap();
        assert_eq!(s.region.unwrap().as_str(), "110000");
        assert_eq!(s.kind, SubjectKind::Enterprise);
        let other = Region::parse("110105");
        assert!(Subject::new(id, "x", &[], None, other, SubjectStatus::Active, None).is_err());
    }
}
