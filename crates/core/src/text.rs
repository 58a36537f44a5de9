//! Validation of free text and of machine identifiers (slugs) used across the domain.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a piece of text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// The text is empty after trimming.
    #[error("{field} is empty")]
    Empty {
        /// Which field.
        field: &'static str,
    },
    /// The text is longer than the field allows.
    #[error("{field} has {len} characters; at most {max} are allowed")]
    TooLong {
        /// Which field.
        field: &'static str,
        /// Its length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The text contains a control character.
    #[error("{field} contains a control character (U+{code:04X})")]
    Control {
        /// Which field.
        field: &'static str,
        /// The code point.
        code: u32,
    },
    /// The text contains an invisible or bidirectional formatting character (a zero-width
    /// space, a byte-order mark, a right-to-left override), which could make two different
    /// texts look alike.
    #[error(
        "{field} contains an invisible or bidirectional formatting character (U+{code:04X}) at character {at}"
    )]
    Invisible {
        /// Which field.
        field: &'static str,
        /// The code point.
        code: u32,
        /// Its position in characters, from 0.
        at: usize,
    },
    /// A key mixes Latin letters with Cyrillic or Greek ones, which look alike.
    #[error(
        "{field} mixes Latin letters with a Cyrillic or Greek one (U+{code:04X}) at character {at}"
    )]
    MixedScript {
        /// Which field.
        field: &'static str,
        /// The code point.
        code: u32,
        /// Its position in characters, from 0.
        at: usize,
    },
    /// Free text holds what looks like an identifier of a natural person.
    #[error(
        "{field} holds what looks like {what} at character {at}; probity keeps no data about \
         natural persons: leave it out"
    )]
    PersonalData {
        /// Which field.
        field: &'static str,
        /// What it looks like.
        what: &'static str,
        /// Where it starts, in characters from 0.
        at: usize,
    },
    /// A slug contains a character outside `a-z 0-9 . _ -`.
    #[error(
        "{field} `{value}` may contain only a-z, 0-9, `.`, `_` and `-`, and must start with a letter"
    )]
    Slug {
        /// Which field.
        field: &'static str,
        /// The offending value.
        value: String,
    },
}

/// Trims `value`, puts it in Unicode normal form C (so a letter written with a combining
/// accent and the same letter precomposed are one text), and checks it is non-empty, at most
/// `max` characters, and free of control characters and of invisible or bidirectional
/// formatting characters. Returns the normalised text. Keys (decision numbers) and names go
/// through this, so texts that look alike are one text or refused.
pub fn check_text(field: &'static str, value: &str, max: usize) -> Result<String, TextError> {
    let value = nfc(value.trim());
    if value.is_empty() {
        return Err(TextError::Empty { field });
    }
    let mut len = 0;
    for (at, c) in value.chars().enumerate() {
        len += 1;
        if c.is_control() {
            return Err(TextError::Control { field, code: c as u32 });
        }
        if invisible(c) {
            return Err(TextError::Invisible { field, code: c as u32, at });
        }
    }
    if len > max {
        return Err(TextError::TooLong { field, len, max });
    }
    Ok(value)
}

/// [`check_text`] for a key that tells records apart (a decision number), which is also put in
/// compatibility form (NFKC: full-width digits and letters become ASCII, so `２０２５` and `2025`
/// are one key) and may not mix Latin letters with Cyrillic or Greek ones (`А` and `A` look
/// alike). Look-alikes across scripts that no rule here catches (a whole key in Cyrillic that
/// looks Latin) stay different keys.
pub fn check_key(field: &'static str, value: &str, max: usize) -> Result<String, TextError> {
    // Compatibility forms can themselves start or end with a space (U+2017 becomes a space and
    // a combining mark), or be longer: the result is checked again, so a key is a fixed point.
    let compatible = nfkc(&check_text(field, value, max)?);
    let value = check_text(field, &compatible, max)?;
    let latin = value.chars().any(|c| {
        c.is_ascii_alphabetic() || (c.is_alphabetic() && matches!(c as u32, 0x00C0..=0x024F))
    });
    if latin && let Some((at, c)) = value.chars().enumerate().find(|(_, c)| cyrillic_or_greek(*c)) {
        return Err(TextError::MixedScript { field, code: c as u32, at });
    }
    Ok(value)
}

/// `s` in normal form C. Most text is already in it, which the quick check says without
/// building a copy through the normaliser.
fn nfc(s: &str) -> String {
    use unicode_normalization::{IsNormalized, UnicodeNormalization as _, is_nfc_quick};
    match is_nfc_quick(s.chars()) {
        IsNormalized::Yes => s.to_owned(),
        IsNormalized::No | IsNormalized::Maybe => s.nfc().collect(),
    }
}

/// `s` in normal form KC, as [`nfc`].
fn nfkc(s: &str) -> String {
    use unicode_normalization::{IsNormalized, UnicodeNormalization as _, is_nfkc_quick};
    match is_nfkc_quick(s.chars()) {
        IsNormalized::Yes => s.to_owned(),
        IsNormalized::No | IsNormalized::Maybe => s.nfkc().collect(),
    }
}

fn cyrillic_or_greek(c: char) -> bool {
    matches!(c as u32, 0x0370..=0x03FF | 0x0400..=0x052F | 0x1F00..=0x1FFF)
}

/// [`check_text`] for prose (names, summaries, legal bases, grounds, replies, reasons), which
/// also refuses what looks like an identifier of a natural person
/// ([`crate::find_personal_identifier`]).
pub fn check_prose(field: &'static str, value: &str, max: usize) -> Result<String, TextError> {
    let value = check_text(field, value, max)?;
    if let Some((what, at)) = crate::find_personal_identifier(&value) {
        return Err(TextError::PersonalData { field, what: what.describe(), at });
    }
    Ok(value)
}

/// Whether `c` is a formatting character that shows nothing or reorders what is shown
/// (Unicode general category Cf): zero-width spaces and joiners, the byte-order mark, soft
/// hyphens, bidirectional marks, embeddings, overrides and isolates, and tag characters.
fn invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF
        | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
}

/// A short machine identifier: lowercase ASCII letters, digits, `.`, `_` and `-`, starting with
/// a letter, at most 64 bytes. Authority ids, authority categories and record kinds are slugs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

impl Slug {
    /// The longest slug accepted.
    pub const MAX_LEN: usize = 64;

    /// Checks `value` (after trimming) as a slug for `field`.
    pub fn parse(field: &'static str, value: &str) -> Result<Self, TextError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(TextError::Empty { field });
        }
        let starts_with_letter = value.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
        let allowed = value.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
        if !starts_with_letter || !allowed || value.len() > Self::MAX_LEN {
            return Err(TextError::Slug { field, value: value.to_owned() });
        }
        Ok(Self(value.to_owned()))
    }

    /// The slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Slug {
    type Error = TextError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse("identifier", &value)
    }
}

impl From<Slug> for String {
    fn from(slug: Slug) -> Self {
        slug.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The quick check only skips work: the forms are the normaliser's, on any text.
        #[test]
        fn normal_forms_are_the_normalisers(s in "(\\PC|[\u{300}-\u{36F}\u{1100}-\u{11FF}\u{FF01}-\u{FF5E}\u{2017}])*") {
            use unicode_normalization::UnicodeNormalization as _;
            proptest::prop_assert_eq!(nfc(&s), s.nfc().collect::<String>());
            proptest::prop_assert_eq!(nfkc(&s), s.nfkc().collect::<String>());
        }
    }

    /// Found by the fuzz target `identifiers`: a compatibility form that starts with a space
    /// (U+2017 is a space and a combining mark in NFKC) made a key that was not its own key.
    #[test]
    fn a_key_is_its_own_key() {
        for input in ["\u{2017}\u{2137}ab0b", "\u{FF12}\u{FF10}\u{FF12}\u{FF15}", "\u{33FF}x"] {
            let key = check_key("decision_no", input, 128).unwrap();
            assert_eq!(check_key("decision_no", &key, 128).unwrap(), key, "{input:?}");
        }
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(check_text("name", "  a b ", 10).unwrap(), "a b");
        assert_eq!(check_text("name", "   ", 10), Err(TextError::Empty { field: "name" }));
        assert!(matches!(check_text("name", "abcdef", 5), Err(TextError::TooLong { len: 6, .. })));
        assert!(matches!(check_text("name", "a\u{7}", 5), Err(TextError::Control { code: 7, .. })));
        // Length counts characters, not bytes.
        assert!(check_text("name", "北京科技有限公司", 8).is_ok());
    }

    #[test]
    fn slugs() {
        assert!(Slug::parse("kind", "penalty.minor").is_ok());
        assert!(Slug::parse("kind", "bj-amr_01").is_ok());
        for bad in ["", "Penalty", "1abc", "a b", "a/b", "é"] {
            assert!(Slug::parse("kind", bad).is_err(), "{bad}");
        }
    }
}
