//! Checked identifiers of legal entities: the Unified Social Credit Code (GB 32100-2015) and the
//! Legal Entity Identifier (ISO 17442).
//!
//! Parsing trims surrounding whitespace and upper-cases ASCII letters, then checks the structure
//! and every check character. Codes of individually owned businesses (USCC prefix `92`) are
//! refused outright: they are natural persons in substance. A code that fails only its checksum
//! can be admitted through the registry's audited exception list ([`SubjectId::parse_excepted`]);
//! the check itself is never loosened.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The 31 symbols of the USCC, in value order (I, O, S, V and Z never appear).
const USCC_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of USCC positions 1 to 17: 3^i mod 31.
const USCC_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
/// Weights of the eight body characters of the embedded organisation code (GB 11714).
const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
/// Registration-authority characters (USCC position 1) defined by GB 32100-2015.
const USCC_AUTHORITIES: &[u8] = b"123456789ANY";

/// The registration authorities and the institution categories each assigns (positions 1 and
/// 2), after GB 32100-2015: 1 staffing offices (organs, public institutions, mass organisations
/// they manage, other), 2 foreign affairs, 3 justice (law firms, notaries, grassroots legal
/// services, forensic appraisal, arbitration, other), 4 culture, 5 civil affairs (social
/// organisations, private non-enterprise units, foundations, other), 6 tourism, 7 religious
/// affairs, 8 trade unions, 9 market regulation (enterprises, individually owned businesses,
/// farmers' cooperatives), A the military, N agriculture (collective economic organisations at
/// group, village and township level, other), Y other (one category).
pub const USCC_KINDS: [&str; 36] = [
    "11", "12", "13", "19", "21", "29", "31", "32", "33", "34", "35", "39", "41", "49", "51", "52",
    "53", "59", "61", "62", "69", "71", "72", "79", "81", "89", "91", "92", "93", "A1", "A9", "N1",
    "N2", "N3", "N9", "Y1",
];

/// Why a code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Nothing was given.
    #[error("the code is empty")]
    Empty,
    /// The length fits neither scheme.
    #[error(
        "`{input}` has {len} characters; a unified social credit code has 18 and an LEI has 20"
    )]
    Length {
        /// The normalised input.
        input: String,
        /// Its length in characters.
        len: usize,
    },
    /// A character that the scheme does not allow at that position.
    #[error("`{input}`: `{found}` at position {position} is not allowed in {scheme}")]
    Character {
        /// The normalised input.
        input: String,
        /// 1-based position.
        position: usize,
        /// The character found.
        found: char,
        /// Which scheme and part.
        scheme: &'static str,
    },
    /// USCC prefix `92`.
    #[error(
        "`{input}` is the code of an individually owned business (prefix 92); these are natural \
         persons in substance and probity registers legal entities only"
    )]
    IndividualBusiness {
        /// The normalised input.
        input: String,
    },
    /// The USCC check character (position 18) is wrong.
    #[error(
        "`{input}` fails the unified social credit code check: position 18 should be `{expected}`"
    )]
    UsccCheck {
        /// The normalised input.
        input: String,
        /// The correct check character.
        expected: char,
    },
    /// The check character of the embedded organisation code (position 17) is wrong.
    #[error(
        "`{input}` fails the embedded organisation code check: position 17 should be `{expected}`"
    )]
    OrgCheck {
        /// The normalised input.
        input: String,
        /// The correct check character.
        expected: char,
    },
    /// The LEI fails ISO 7064 MOD 97-10.
    #[error(
        "`{input}` fails the LEI check (ISO 7064 MOD 97-10): the check digits should be `{expected}`"
    )]
    LeiCheck {
        /// The normalised input.
        input: String,
        /// The correct check digits.
        expected: String,
    },
}

impl IdError {
    /// True when the code is well formed and fails only a check character. Only such a code can
    /// be admitted through the exception list.
    pub fn is_checksum(&self) -> bool {
        matches!(self, Self::UsccCheck { .. } | Self::OrgCheck { .. } | Self::LeiCheck { .. })
    }
}

fn uscc_value(c: u8) -> Option<u32> {
    USCC_CHARSET.iter().position(|&x| x == c).map(|v| v as u32)
}

/// Value of a character in the organisation-code check: digits 0-9, letters A=10 … Z=35.
fn alnum_value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'A'..=b'Z' => Some(u32::from(c - b'A') + 10),
        _ => None,
    }
}

/// Computes the check character (position 17) of an organisation code body of 8 characters.
/// Returns `None` if a character is not alphanumeric.
pub fn org_check_char(body: &[u8]) -> Option<char> {
    if body.len() != 8 {
        return None;
    }
    let mut sum = 0;
    for (c, w) in body.iter().zip(ORG_WEIGHTS) {
        sum += alnum_value(*c)? * w;
    }
    Some(match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        d => char::from(b'0' + d as u8),
    })
}

/// Computes the USCC check character (position 18) of the first 17 characters.
/// Returns `None` if a character is outside the USCC character set.
pub fn uscc_check_char(first17: &[u8]) -> Option<char> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (c, w) in first17.iter().zip(USCC_WEIGHTS) {
        sum += uscc_value(*c)? * w;
    }
    let v = (31 - sum % 31) % 31;
    USCC_CHARSET.get(v as usize).map(|&b| char::from(b))
}

/// Remainder mod 97 of an alphanumeric string read as one number (letters A=10 … Z=35).
fn mod97(s: &[u8]) -> Option<u32> {
    let mut r = 0u32;
    for &c in s {
        let v = alnum_value(c)?;
        r = if v < 10 { (r * 10 + v) % 97 } else { (r * 100 + v) % 97 };
    }
    Some(r)
}

/// Computes the two LEI check digits for the first 18 characters (ISO 7064 MOD 97-10).
/// Returns `None` if a character is not alphanumeric.
pub fn lei_check_digits(first18: &[u8]) -> Option<String> {
    if first18.len() != 18 {
        return None;
    }
    let mut with_zeros = first18.to_vec();
    with_zeros.extend_from_slice(b"00");
    let check = 98 - mod97(&with_zeros)?;
    Some(format!("{check:02}"))
}

fn normalise(input: &str) -> String {
    input.trim().to_ascii_uppercase()
}

/// A six-digit administrative division code (GB/T 2260), e.g. `110105` for Beijing Chaoyang.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region([u8; 6]);

impl Region {
    /// Parses six ASCII digits.
    pub fn parse(s: &str) -> Option<Self> {
        let b: [u8; 6] = s.trim().as_bytes().try_into().ok()?;
        b.iter().all(u8::is_ascii_digit).then_some(Self(b))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Always ASCII digits by construction.
        std::str::from_utf8(&self.0).unwrap_or("000000")
    }
}

impl TryFrom<String> for Region {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
            .ok_or_else(|| format!("`{s}` is not a six-digit administrative division code"))
    }
}

impl From<Region> for String {
    fn from(r: Region) -> Self {
        r.as_str().to_owned()
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Unified Social Credit Code of a legal entity (never prefix `92`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uscc([u8; 18]);

/// A Legal Entity Identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lei([u8; 20]);

/// Checks that `input` has `len` characters, all ASCII, counting and naming characters (never
/// bytes, which a character outside ASCII has several of).
fn ascii(input: &str, len: usize, scheme: &'static str) -> Result<(), IdError> {
    let count = input.chars().count();
    if count != len {
        return Err(IdError::Length { input: input.to_owned(), len: count });
    }
    match input.chars().enumerate().find(|(_, c)| !c.is_ascii()) {
        Some((i, found)) => {
            Err(IdError::Character { input: input.to_owned(), position: i + 1, found, scheme })
        }
        None => Ok(()),
    }
}

impl Uscc {
    /// Checks structure (character set, authority, division digits) but not the check characters.
    fn structure(input: &str) -> Result<Self, IdError> {
        ascii(input, 18, "a unified social credit code")?;
        let bytes: [u8; 18] = input
            .as_bytes()
            .try_into()
            .map_err(|_| IdError::Length { input: input.to_owned(), len: input.chars().count() })?;
        let bad = |position: usize, scheme: &'static str| IdError::Character {
            input: input.to_owned(),
            position,
            found: char::from(bytes.get(position - 1).copied().unwrap_or(b'?')),
            scheme,
        };
        for (i, &c) in bytes.iter().enumerate() {
            if uscc_value(c).is_none() {
                return Err(bad(i + 1, "a unified social credit code"));
            }
        }
        if !USCC_AUTHORITIES.contains(&bytes[0]) {
            return Err(bad(
                1,
                "the registration-authority position of a unified social credit code",
            ));
        }
        let category_known = USCC_KINDS.iter().any(|k| k.as_bytes() == &bytes[..2]);
        if !category_known {
            return Err(bad(
                2,
                "the category position of a unified social credit code (GB 32100: the categories \
                 its registration authority assigns)",
            ));
        }
        if let Some(i) = bytes[2..8].iter().position(|c| !c.is_ascii_digit()) {
            return Err(bad(i + 3, "the administrative division code (positions 3-8)"));
        }
        if &bytes[..2] == b"92" {
            return Err(IdError::IndividualBusiness { input: input.to_owned() });
        }
        Ok(Self(bytes))
    }

    fn checksums(self) -> Result<Self, IdError> {
        let input = || self.as_str().to_owned();
        let org = org_check_char(&self.0[8..16]).unwrap_or('?');
        if char::from(self.0[16]) != org {
            return Err(IdError::OrgCheck { input: input(), expected: org });
        }
        let check = uscc_check_char(&self.0[..17]).unwrap_or('?');
        if char::from(self.0[17]) != check {
            return Err(IdError::UsccCheck { input: input(), expected: check });
        }
        Ok(self)
    }

    /// Parses and fully checks a USCC.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        Self::structure(&normalise(input))?.checksums()
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The administrative division of registration (positions 3-8).
    pub fn region(&self) -> Option<Region> {
        self.as_str().get(2..8).and_then(Region::parse)
    }

    /// The registration authority and category (positions 1-2).
    pub fn category(&self) -> [u8; 2] {
        [self.0[0], self.0[1]]
    }
}

impl Lei {
    fn structure(input: &str) -> Result<Self, IdError> {
        ascii(input, 20, "an LEI")?;
        let bytes: [u8; 20] = input
            .as_bytes()
            .try_into()
            .map_err(|_| IdError::Length { input: input.to_owned(), len: input.chars().count() })?;
        for (i, &c) in bytes.iter().enumerate() {
            let ok = if i < 18 {
                c.is_ascii_digit() || c.is_ascii_uppercase()
            } else {
                c.is_ascii_digit()
            };
            if !ok {
                return Err(IdError::Character {
                    input: input.to_owned(),
                    position: i + 1,
                    found: char::from(c),
                    scheme: if i < 18 {
                        "an LEI (letters and digits)"
                    } else {
                        "the LEI check digits"
                    },
                });
            }
        }
        Ok(Self(bytes))
    }

    fn checksums(self) -> Result<Self, IdError> {
        if mod97(&self.0) == Some(1) {
            return Ok(self);
        }
        Err(IdError::LeiCheck {
            input: self.as_str().to_owned(),
            expected: lei_check_digits(&self.0[..18]).unwrap_or_default(),
        })
    }

    /// Parses and fully checks an LEI.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        Self::structure(&normalise(input))?.checksums()
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

/// The identifier of a subject: a legal entity known by its USCC or its LEI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SubjectId {
    /// Unified Social Credit Code.
    Uscc(Uscc),
    /// Legal Entity Identifier.
    Lei(Lei),
}

impl SubjectId {
    fn structure(code: &str) -> Result<Self, IdError> {
        // By characters, not bytes: a character outside ASCII is several bytes.
        match code.chars().count() {
            0 => Err(IdError::Empty),
            18 => Uscc::structure(code).map(Self::Uscc),
            20 => Lei::structure(code).map(Self::Lei),
            _ => Err(IdError::Length { input: code.to_owned(), len: code.chars().count() }),
        }
    }

    fn checksums(self) -> Result<Self, IdError> {
        match self {
            Self::Uscc(u) => u.checksums().map(Self::Uscc),
            Self::Lei(l) => l.checksums().map(Self::Lei),
        }
    }

    /// Parses and fully checks a USCC (18 characters) or an LEI (20 characters).
    pub fn parse(input: &str) -> Result<Self, IdError> {
        Self::structure(&normalise(input))?.checksums()
    }

    /// Parses like [`SubjectId::parse`], but admits a well-formed code that fails only its
    /// checksum when `is_excepted` says the registry's exception list holds it. Structure, the
    /// character set and the refusal of prefix `92` still apply.
    pub fn parse_excepted(
        input: &str,
        is_excepted: impl Fn(&str) -> bool,
    ) -> Result<Self, IdError> {
        let code = normalise(input);
        let id = Self::structure(&code)?;
        match id.checksums() {
            Err(e) if e.is_checksum() && is_excepted(&code) => Ok(id),
            other => other,
        }
    }

    /// Checks that `input` is well formed and fails a checksum: the only kind of code that may
    /// be put on the exception list. Returns the normalised code.
    pub fn exception_candidate(input: &str) -> Result<String, IdError> {
        let code = normalise(input);
        match Self::structure(&code)?.checksums() {
            Err(e) if e.is_checksum() => Ok(code),
            Err(e) => Err(e),
            Ok(_) => Err(IdError::Character {
                input: code,
                position: 0,
                found: ' ',
                scheme: "an exception list (the code is valid and needs no exception)",
            }),
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Uscc(u) => u.as_str(),
            Self::Lei(l) => l.as_str(),
        }
    }

    /// The administrative division of registration, for a USCC.
    pub fn region(&self) -> Option<Region> {
        match self {
            Self::Uscc(u) => u.region(),
            Self::Lei(_) => None,
        }
    }
}

impl TryFrom<String> for SubjectId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::parse(&s)
    }
}

impl From<SubjectId> for String {
    fn from(id: SubjectId) -> Self {
        id.as_str().to_owned()
    }
}

impl fmt::Display for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SubjectId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_from_the_standard() {
        // domain.md: positions 1-17 weigh to 538; 538 mod 31 = 11; 31 - 11 = 20 = `L`.
        let sum: u32 = b"91110000600037341"
            .iter()
            .zip(USCC_WEIGHTS)
            .map(|(c, w)| uscc_value(*c).unwrap() * w)
            .sum();
        assert_eq!(sum, 538);
        assert_eq!(uscc_check_char(b"91110000600037341"), Some('L'));
        assert_eq!(org_check_char(b"60003734"), Some('1'));
        let id = SubjectId::parse("91110000600037341L").unwrap();
        assert_eq!(id.region().unwrap().as_str(), "110000");
    }

    #[test]
    fn normalises_case_and_whitespace() {
        let id = SubjectId::parse("\t91110000600037341l \n").unwrap();
        assert_eq!(id.as_str(), "91110000600037341L");
    }

    #[test]
    fn refuses_individual_businesses_even_with_valid_checksums() {
        let mut code = b"92110000600037341".to_vec();
        code.push(uscc_check_char(&code).unwrap() as u8);
        let code = String::from_utf8(code).unwrap();
        let err = SubjectId::parse(&code).unwrap_err();
        assert!(matches!(err, IdError::IndividualBusiness { .. }));
        assert!(err.to_string().contains("individually owned business"));
        // Not even the exception list admits them.
        assert!(SubjectId::parse_excepted(&code, |_| true).is_err());
        // The prefix is the USCC's: an LEI whose LOU prefix happens to start with 92 is an
        // organisation's code (found by the fuzz target `identifiers`, whose check was wrong).
        let lei = SubjectId::parse("92110001000060372999").unwrap();
        assert!(matches!(lei, SubjectId::Lei(_)));
    }

    #[test]
    fn pilot_era_code_fails_and_needs_the_exception_list() {
        let code = "91350100M0001TGQXM";
        let err = SubjectId::parse(code).unwrap_err();
        assert!(err.is_checksum(), "{err}");
        assert!(SubjectId::parse_excepted(code, |c| c == code).is_ok());
        assert!(SubjectId::parse_excepted(code, |_| false).is_err());
        assert_eq!(SubjectId::exception_candidate(code).unwrap(), code);
        assert!(SubjectId::exception_candidate("91110000600037341L").is_err());
    }

    #[test]
    fn lei_check() {
        // A published LEI (ISO 17442 example format): check digits computed, then verified.
        let body = b"5493001KJTIIGC8Y1R";
        let check = lei_check_digits(body).unwrap();
        let code = format!("{}{}", std::str::from_utf8(body).unwrap(), check);
        assert!(SubjectId::parse(&code).is_ok());
        assert_eq!(code, "5493001KJTIIGC8Y1R12");
        let err = SubjectId::parse("5493001KJTIIGC8Y1R13").unwrap_err();
        assert!(err.to_string().contains("`12`"), "{err}");
    }

    #[test]
    fn a_category_its_registration_authority_does_not_assign_is_refused() {
        // Market regulation (9) assigns 1, 2 and 3 only.
        let e = SubjectId::parse("9A110000600037341Q").unwrap_err().to_string();
        assert!(e.contains("position 2") && e.contains("category"), "{e}");
        assert!(SubjectId::parse("91110000600037341L").is_ok());
        assert!(SubjectId::parse("11100000000013127D").is_ok(), "an organ of the state");
    }

    #[test]
    fn errors_about_other_scripts_count_and_show_characters_not_bytes() {
        // Six Chinese characters are eighteen bytes: still six characters, and shown as such.
        let e = SubjectId::parse("北京科技有限").unwrap_err().to_string();
        assert!(e.contains("has 6 characters"), "{e}");
        let e = SubjectId::parse("91110000600037341北").unwrap_err().to_string();
        assert!(e.contains("`北` at position 18"), "{e}");
    }

    #[test]
    fn errors_name_the_input() {
        for (input, needle) in [
            ("", "empty"),
            ("123", "`123` has 3 characters"),
            ("91110000600037341I", "`I` at position 18"),
            ("Z1110000600037341L", "`Z` at position 1"),
            ("91A10000600037341L", "position 3"),
            ("91110000600037342L", "position 17 should be"),
            ("91110000600037341M", "position 18 should be `L`"),
        ] {
            let msg = SubjectId::parse(input).unwrap_err().to_string();
            assert!(msg.contains(needle), "{input}: {msg}");
        }
    }
}
