//! Dates, numbers and amounts as each language writes them (patterns from the Unicode CLDR
//! for `en` and `zh-Hans`): `5 Mar 2025` and `2025年3月5日`; `1,234,567` in both; `CN¥5,000.00`
//! and `¥5,000.00`.

use probity_core::{Date, Money};

use crate::Lang;

const MONTHS_EN: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// A day.
pub fn date(lang: Lang, d: Date) -> String {
    match lang {
        Lang::En => {
            let m = MONTHS_EN.get(usize::from(d.month().unsigned_abs()) - 1).unwrap_or(&"");
            format!("{} {m} {}", d.day(), d.year())
        }
        Lang::ZhHans => format!("{}年{}月{}日", d.year(), d.month(), d.day()),
    }
}

/// A month given as `YYYYMM`.
pub fn month(lang: Lang, yyyymm: u32) -> String {
    let (y, m) = (yyyymm / 100, yyyymm % 100);
    match lang {
        Lang::En => {
            let name = MONTHS_EN.get((m as usize).saturating_sub(1)).unwrap_or(&"");
            format!("{name} {y}")
        }
        Lang::ZhHans => format!("{y}年{m}月"),
    }
}

/// An integer with thousands separators.
pub fn int(_lang: Lang, n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An amount of money with its currency.
pub fn money(lang: Lang, m: &Money) -> String {
    let sign = if m.minor < 0 { "-" } else { "" };
    let abs = m.minor.unsigned_abs();
    let number = format!("{}.{:02}", int(lang, (abs / 100) as i64), abs % 100);
    let code = m.currency.as_str();
    let symbol = match (lang, code) {
        (Lang::En, "CNY") => Some("CN¥"),
        (Lang::ZhHans, "CNY") => Some("¥"),
        (Lang::En, "USD") => Some("$"),
        (Lang::ZhHans, "USD") => Some("US$"),
        (_, "EUR") => Some("€"),
        (Lang::En, "HKD") => Some("HK$"),
        _ => None,
    };
    match symbol {
        Some(s) => format!("{sign}{s}{number}"),
        None => format!("{sign}{code} {number}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_language_writes_dates_numbers_and_amounts_its_own_way() {
        let d: Date = "2025-03-05".parse().unwrap();
        assert_eq!(date(Lang::En, d), "5 Mar 2025");
        assert_eq!(date(Lang::ZhHans, d), "2025年3月5日");
        assert_eq!(month(Lang::En, 202512), "Dec 2025");
        assert_eq!(month(Lang::ZhHans, 202512), "2025年12月");
        assert_eq!(int(Lang::En, 1_234_567), "1,234,567");
        assert_eq!(int(Lang::En, -1000), "-1,000");
        assert_eq!(int(Lang::En, 999), "999");
        let m = Money::parse("5000", "CNY").unwrap();
        assert_eq!(money(Lang::En, &m), "CN¥5,000.00");
        assert_eq!(money(Lang::ZhHans, &m), "¥5,000.00");
        let m = Money::parse("12.5", "CHF").unwrap();
        assert_eq!(money(Lang::En, &m), "CHF 12.50");
    }
}
