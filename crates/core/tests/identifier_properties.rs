//! Property tests of the identifier checks: every valid code parses, and single-character
//! substitutions are rejected.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use probity_core::{SubjectId, USCC_KINDS, lei_check_digits, org_check_char, uscc_check_char};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

const USCC_CHARSET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const ALNUM: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Characters a substitution may put in: every printable ASCII character but space.
fn replacements() -> impl Iterator<Item = char> {
    ('!'..='~').filter(|c| !c.is_ascii_lowercase())
}

prop_compose! {
    /// A valid USCC of a legal entity, built from random parts and both check characters.
    fn valid_uscc()(
        // A registration authority and a category it assigns (GB 32100-2015), never 92.
        kind in prop::sample::select(
            USCC_KINDS.iter().filter(|k| **k != "92").map(|k| k.as_bytes().to_vec()).collect::<Vec<_>>()
        ),
        region in "[0-9]{6}",
        org in prop::collection::vec(prop::sample::select(USCC_CHARSET.as_bytes().to_vec()), 8),
    ) -> String {
        let mut code = kind;
        code.extend_from_slice(region.as_bytes());
        code.extend_from_slice(&org);
        code.push(org_check_char(&org).unwrap() as u8);
        code.push(uscc_check_char(&code).unwrap() as u8);
        String::from_utf8(code).unwrap()
    }
}

prop_compose! {
    fn valid_lei()(body in prop::collection::vec(prop::sample::select(ALNUM.as_bytes().to_vec()), 18)) -> String {
        let check = lei_check_digits(&body).unwrap();
        format!("{}{check}", String::from_utf8(body).unwrap())
    }
}

fn substitutions(code: &str) -> impl Iterator<Item = (usize, char, String)> + '_ {
    code.char_indices().flat_map(move |(i, original)| {
        replacements().filter(move |c| *c != original).map(move |c| {
            let mut s = code.to_owned();
            s.replace_range(i..=i, c.encode_utf8(&mut [0; 4]));
            (i, c, s)
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_valid_uscc_parses_in_any_case_and_padding(code in valid_uscc()) {
        let id = SubjectId::parse(&code).unwrap();
        prop_assert_eq!(id.as_str(), code.as_str());
        prop_assert_eq!(SubjectId::parse(&format!("  {}\t", code.to_lowercase())).unwrap(), id);
    }

    #[test]
    fn every_single_substitution_of_a_uscc_is_rejected(code in valid_uscc()) {
        for (i, c, bad) in substitutions(&code) {
            prop_assert!(SubjectId::parse(&bad).is_err(), "{} (position {}, `{}`) was accepted", bad, i + 1, c);
        }
    }

    #[test]
    fn every_valid_lei_parses(code in valid_lei()) {
        let id = SubjectId::parse(&code).unwrap();
        prop_assert_eq!(id.as_str(), code.as_str());
    }

    /// ISO 7064 MOD 97-10 catches every substitution of a digit by a digit and of a letter by a
    /// letter, and any substitution in the check digits. A digit swapped for a letter (or the
    /// reverse) lengthens the number the check reads, and about 1 in 97 such swaps escapes: a
    /// limit of the standard, measured in `lei_cross_class_substitutions_escape_rarely`.
    #[test]
    fn every_same_class_substitution_of_an_lei_is_rejected(code in valid_lei()) {
        for (i, c, bad) in substitutions(&code) {
            let original = code.as_bytes()[i] as char;
            let same_class = (original.is_ascii_digit() && c.is_ascii_digit())
                || (original.is_ascii_uppercase() && c.is_ascii_uppercase());
            if same_class || i >= 18 || !c.is_ascii_alphanumeric() {
                prop_assert!(SubjectId::parse(&bad).is_err(), "{} (position {}, `{}`) was accepted", bad, i + 1, c);
            }
        }
    }
}

#[test]
fn lei_cross_class_substitutions_escape_rarely() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut tried, mut escaped) = (0u32, 0u32);
    for _ in 0..300 {
        let code = valid_lei().new_tree(&mut runner).unwrap().current();
        for (i, c, bad) in substitutions(&code) {
            let original = code.as_bytes()[i] as char;
            if i < 18
                && c.is_ascii_alphanumeric()
                && original.is_ascii_digit() != c.is_ascii_digit()
            {
                tried += 1;
                escaped += u32::from(SubjectId::parse(&bad).is_ok());
            }
        }
    }
    let rate = f64::from(escaped) / f64::from(tried);
    assert!(rate < 0.02, "{escaped} of {tried} cross-class substitutions escaped");
    eprintln!("lei cross-class substitutions: {escaped} of {tried} escaped ({:.2}%)", rate * 100.0);
}
