//! Finding what looks like an identifier of a natural person in free text, so that no record
//! summary, legal basis, name, reason or reply carries one into the append-only log.
//!
//! What it finds (each where it stands alone, not inside a longer run of digits or letters):
//! - PRC resident identity numbers (GB 11643): 18 characters, a region code whose province part
//!   is one that exists, a birth date that exists, three digits and a check digit or `X`, whether
//!   or not the check digit is right (a mistyped number still identifies a person); and the old
//!   15-digit form;
//! - mobile numbers (`1[3-9]` and nine digits, with or without `+86`, spaces or dashes) and
//!   landline numbers (an area code `0…`, then seven or eight digits);
//! - e-mail addresses;
//! - passport and similar travel-document numbers (PRC passports `E`/`G` and eight digits or
//!   `E` and a letter and seven digits; Mainland travel permits for Hong Kong and Macao
//!   residents `H`/`M` and eight or ten digits; exit-entry permits `C` and eight digits), and any
//!   number that follows the words "passport" or 护照.
//!
//! What it cannot find: a bare personal name, an address, or an identifier in a form it does
//! not know. Full-width digits and letters are read as their ASCII forms, so they do not hide a
//! number.

/// A kind of personal identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identifier {
    /// A PRC resident identity number.
    ResidentId,
    /// A mobile or landline telephone number.
    Phone,
    /// An e-mail address.
    Email,
    /// A passport or similar travel-document number.
    Passport,
}

impl Identifier {
    /// What it is, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Self::ResidentId => "a resident identity number",
            Self::Phone => "a telephone number",
            Self::Email => "an e-mail address",
            Self::Passport => "a passport or travel-document number",
        }
    }
}

/// The first thing in `text` that looks like a personal identifier, with the position (in
/// characters, from 0) where it starts.
pub fn find_personal_identifier(text: &str) -> Option<(Identifier, usize)> {
    let chars: Vec<char> = text.chars().map(fold).collect();
    let mut found: Vec<(usize, Identifier)> = Vec::new();
    found.extend(resident_ids(&chars).map(|at| (at, Identifier::ResidentId)));
    found.extend(phones(&chars).map(|at| (at, Identifier::Phone)));
    found.extend(emails(&chars).map(|at| (at, Identifier::Email)));
    found.extend(passports(&chars).map(|at| (at, Identifier::Passport)));
    found.into_iter().min_by_key(|(at, _)| *at).map(|(at, what)| (what, at))
}

/// Full-width digits and Latin letters as their ASCII forms, and the full-width `@` and `+`.
fn fold(c: char) -> char {
    match c {
        '\u{FF10}'..='\u{FF19}'
        | '\u{FF21}'..='\u{FF3A}'
        | '\u{FF41}'..='\u{FF5A}'
        | '＠'
        | '＋' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// Maximal runs of characters for which `keep` holds: (start, end).
fn runs(chars: &[char], keep: impl Fn(char) -> bool) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &c) in chars.iter().enumerate() {
        match (keep(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, chars.len()));
    }
    out
}

fn digits(chars: &[char]) -> String {
    chars.iter().filter(|c| c.is_ascii_digit()).collect()
}

/// The province codes of GB/T 2260 (the first two digits of a region code).
const PROVINCES: &[u32] = &[
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83,
];

fn number(s: &str) -> u32 {
    s.parse().unwrap_or(0)
}

fn is_date(year: u32, month: u32, day: u32) -> bool {
    (1900..=2100).contains(&year)
        && jiff::civil::Date::new(year as i16, month as i8, day as i8).is_ok()
}

/// Where resident identity numbers start.
fn resident_ids(chars: &[char]) -> impl Iterator<Item = usize> + '_ {
    runs(chars, |c| c.is_ascii_alphanumeric()).into_iter().filter_map(move |(s, e)| {
        let token: String = chars.get(s..e)?.iter().collect();
        let (body, check) = match token.len() {
            18 => token.split_at(17),
            15 => (token.as_str(), ""),
            _ => return None,
        };
        if !body.chars().all(|c| c.is_ascii_digit())
            || !(check.is_empty()
                || check == "X"
                || check == "x"
                || check.chars().all(|c| c.is_ascii_digit()))
        {
            return None;
        }
        let province = number(body.get(..2)?);
        let date = if token.len() == 18 {
            (number(body.get(6..10)?), number(body.get(10..12)?), number(body.get(12..14)?))
        } else {
            (1900 + number(body.get(6..8)?), number(body.get(8..10)?), number(body.get(10..12)?))
        };
        (PROVINCES.contains(&province) && is_date(date.0, date.1, date.2)).then_some(s)
    })
}

/// Where telephone numbers start: runs of digits, single spaces or dashes (and a leading `+`).
fn phones(chars: &[char]) -> impl Iterator<Item = usize> + '_ {
    let numberish = |c: char| c.is_ascii_digit() || matches!(c, ' ' | '-' | '+' | '(' | ')');
    runs(chars, numberish).into_iter().flat_map(move |(mut s, mut e)| {
        let edge = |c: Option<&char>| c.is_some_and(|c| matches!(c, ' ' | '-'));
        while s < e && edge(chars.get(s)) {
            s += 1;
        }
        while e > s && edge(chars.get(e - 1)) {
            e -= 1;
        }
        // A run may hold several numbers apart from each other by more than one space.
        let run = chars.get(s..e).unwrap_or_default();
        let mut out = Vec::new();
        let mut start = 0;
        for (i, w) in run.windows(2).enumerate() {
            if w.first() == Some(&' ') && w.get(1) == Some(&' ') {
                out.extend(
                    phone_in(run.get(start..i).unwrap_or_default()).map(|at| s + start + at),
                );
                start = i + 2;
            }
        }
        out.extend(phone_in(run.get(start..).unwrap_or_default()).map(|at| s + start + at));
        // Not inside a longer alphanumeric token (a code or a decision number).
        let before =
            s.checked_sub(1).and_then(|i| chars.get(i)).is_some_and(|c| c.is_ascii_alphanumeric());
        let after = chars.get(e).is_some_and(|c| c.is_ascii_alphanumeric());
        if before || after { Vec::new() } else { out }
    })
}

/// Where, in a run of digits and separators, a telephone number starts, if it is one.
fn phone_in(run: &[char]) -> Option<usize> {
    let first = run.iter().position(|c| c.is_ascii_digit() || *c == '+')?;
    let d = digits(run);
    let d = d
        .strip_prefix("0086")
        .or_else(|| d.strip_prefix("86").filter(|r| r.len() == 11))
        .unwrap_or(&d);
    let mobile = d.len() == 11
        && d.starts_with('1')
        && d.chars().nth(1).is_some_and(|c| ('3'..='9').contains(&c));
    let separated = run.iter().any(|c| matches!(c, ' ' | '-' | '(' | ')'));
    let landline = d.starts_with('0')
        && d.chars().nth(1).is_some_and(|c| c != '0')
        && (10..=12).contains(&d.len())
        && (separated || d.len() >= 11);
    (mobile || landline).then_some(first)
}

/// Where e-mail addresses start.
fn emails(chars: &[char]) -> impl Iterator<Item = usize> + '_ {
    let local = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-');
    let domain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-');
    chars.iter().enumerate().filter(|(_, c)| **c == '@').filter_map(move |(at, _)| {
        let mut start = at;
        while start > 0 && chars.get(start - 1).is_some_and(|c| local(*c)) {
            start -= 1;
        }
        let mut end = at + 1;
        while chars.get(end).is_some_and(|c| domain(*c)) {
            end += 1;
        }
        let host: String = chars.get(at + 1..end)?.iter().collect();
        let host = host.trim_end_matches('.');
        let tld = host.rsplit('.').next().unwrap_or_default();
        (start < at
            && host.contains('.')
            && tld.len() >= 2
            && tld.chars().all(|c| c.is_ascii_alphabetic()))
        .then_some(start)
    })
}

/// Where passport and travel-document numbers start.
fn passports(chars: &[char]) -> impl Iterator<Item = usize> + '_ {
    let tokens = runs(chars, |c| c.is_ascii_alphanumeric());
    let shaped = tokens.clone().into_iter().filter_map(move |(s, e)| {
        let t: String = chars.get(s..e)?.iter().collect::<String>().to_ascii_uppercase();
        let (head, rest) = t.split_at(1.min(t.len()));
        let all_digits = |x: &str| !x.is_empty() && x.chars().all(|c| c.is_ascii_digit());
        let second_letter = rest.chars().next().is_some_and(|c| c.is_ascii_uppercase());
        let passport = match head {
            "E" | "G" => {
                (rest.len() == 8 && all_digits(rest))
                    || (head == "E"
                        && rest.len() == 8
                        && second_letter
                        && all_digits(rest.get(1..)?))
            }
            "H" | "M" => (rest.len() == 8 || rest.len() == 10) && all_digits(rest),
            "C" => rest.len() == 8 && all_digits(rest),
            _ => false,
        };
        passport.then_some(s)
    });
    // Any number of 6 to 12 characters within a few characters after the word.
    let text: String = chars.iter().collect::<String>().to_lowercase();
    let mut named = Vec::new();
    for word in ["passport", "护照"] {
        for (byte, _) in text.match_indices(word) {
            let after = text.get(..byte).map_or(0, |t| t.chars().count()) + word.chars().count();
            if let Some(&(s, e)) = tokens.iter().find(|(s, _)| *s >= after && *s <= after + 4)
                && (6..=12).contains(&(e - s))
                && chars.get(s..e).is_some_and(|t| t.iter().any(char::is_ascii_digit))
            {
                named.push(s);
            }
        }
    }
    shaped.chain(named)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Option<Identifier> {
        find_personal_identifier(text).map(|(what, _)| what)
    }

    #[test]
    fn resident_id_numbers_are_found_with_any_check_digit() {
        // The standard's own example, and the same with a wrong check digit.
        assert_eq!(found("身份证11010519491231002X"), Some(Identifier::ResidentId));
        assert_eq!(found("id 110105194912310021."), Some(Identifier::ResidentId));
        assert_eq!(found("old form 110105491231002"), Some(Identifier::ResidentId));
        assert_eq!(
            find_personal_identifier("法定代表人张三 身份证11010519491231002X"),
            Some((Identifier::ResidentId, 11))
        );
        // Full-width digits hide nothing.
        assert_eq!(found("１１０１０５１９４９１２３１００２Ｘ"), Some(Identifier::ResidentId));
    }

    #[test]
    fn company_codes_dates_and_amounts_are_not_identifiers() {
        for text in [
            "91110000600037341L",
            "11100000000013127D",
            "failure to publish the 2024 annual report; fine CNY 5,000",
            "Administrative Penalty Law, Art. 28; SAMR Order No. 45 (2021)",
            "京市监罚〔2025〕0001号",
            "decision 20250101-00012",
            "110105194913310021",
            "990105194912310021",
        ] {
            assert_eq!(found(text), None, "{text}");
        }
    }

    #[test]
    fn telephone_numbers_are_found_in_their_usual_forms() {
        for text in [
            "电话13800138000",
            "tel +86 138 0013 8000",
            "138-0013-8000",
            "(010) 6552 8888",
            "010-65528888",
            "0755-83765566",
        ] {
            assert_eq!(found(text), Some(Identifier::Phone), "{text}");
        }
        assert_eq!(found("fined 10000000000 yuan"), None);
    }

    #[test]
    fn email_addresses_and_passports_are_found() {
        assert_eq!(found("write to zhang.san@example.com"), Some(Identifier::Email));
        assert_eq!(found("联系 zhangsan＠example.cn"), Some(Identifier::Email));
        assert_eq!(found("a@b"), None);
        assert_eq!(found("passport E12345678"), Some(Identifier::Passport));
        assert_eq!(found("EA1234567"), Some(Identifier::Passport));
        assert_eq!(found("护照号 P1234567"), Some(Identifier::Passport));
        assert_eq!(found("Art. 12345678"), None);
    }
}
