//! The two catalogues hold the same messages, and every message the pages ask for exists.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeSet;

use probity_portal::Lang;
use probity_portal::i18n::{CATALOGUES, message, message_ids};

fn ids(lang: Lang) -> BTreeSet<String> {
    let (_, source) = CATALOGUES.iter().find(|(l, _)| *l == lang).unwrap();
    let ids = message_ids(source).unwrap_or_else(|e| panic!("{} does not parse: {e}", lang.tag()));
    let set: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(set.len(), ids.len(), "{} defines a message twice", lang.tag());
    set
}

#[test]
fn every_message_exists_in_both_languages() {
    let en = ids(Lang::En);
    let zh = ids(Lang::ZhHans);
    let only_en: Vec<_> = en.difference(&zh).collect();
    let only_zh: Vec<_> = zh.difference(&en).collect();
    assert!(only_en.is_empty(), "only in English: {only_en:?}");
    assert!(only_zh.is_empty(), "only in Simplified Chinese: {only_zh:?}");
}

/// Ids built at run time from a family prefix and the values the registry uses.
fn dynamic_ids() -> Vec<String> {
    let mut out = Vec::new();
    let families: &[(&str, &[&str])] = &[
        ("nav", &["home", "check", "lists", "rulebook", "stats", "account", "sign-in"]),
        ("decision", &["allow", "flag", "deny"]),
        ("deadline", &["met", "late", "overdue", "pending"]),
        (
            "kind",
            &["enterprise", "cooperative", "social-organisation", "public-institution", "other"],
        ),
        ("status", &["active", "revoked", "deregistered"]),
        ("list-type", &["exclusion", "warning", "good-standing"]),
        ("tier", &["minor", "moderate", "serious", "positive"]),
        ("console", &["answer", "decide", "repair-decision", "admit", "refuse", "grant"]),
        ("case", &["filed", "admitted", "refused", "applied", "granted"]),
        ("error", &["title", "not-found"]),
        (
            "field",
            &[
                "decision-no",
                "subject",
                "kind",
                "decided",
                "effective",
                "basis",
                "summary",
                "amount",
                "currency",
                "document-sha256",
            ],
        ),
        (
            "step",
            &[
                "filed",
                "corrected",
                "withdrawn",
                "expired",
                "repaired",
                "deadline",
                "objection-filed",
                "objection-answered",
                "objection-decided",
                "reply-published",
                "repair-applied",
                "repair-decided",
                "admitted",
                "refused",
                "granted",
                "upheld",
                "answer-objection",
                "decide-objection",
                "decide-repair",
            ],
        ),
    ];
    for (prefix, values) in families {
        out.extend(values.iter().map(|v| format!("{prefix}-{v}")));
    }
    out
}

#[test]
fn every_message_the_pages_use_is_defined() {
    let en = ids(Lang::En);
    let mut used = BTreeSet::new();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in std::fs::read_dir(&src).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for call in [".t(\"", ".ta(\""] {
            for part in text.split(call).skip(1) {
                used.insert(part.split('"').next().unwrap().to_owned());
            }
        }
    }
    // Messages the server asks for.
    used.extend(
        ["sign-in-failed", "signed-out", "console-done", "operator-title", "operator-lead"]
            .map(String::from),
    );
    used.extend(dynamic_ids());
    assert!(used.len() > 150, "the scan found only {} ids", used.len());
    let missing: Vec<_> = used.difference(&en).collect();
    assert!(missing.is_empty(), "used but not defined: {missing:?}");
}

#[test]
fn messages_fill_in_their_arguments() {
    let args = [("date", "2027-01-01".to_owned())];
    assert_eq!(message(Lang::En, "eligible-again", &args), "Eligible again on 2027-01-01.");
    assert_eq!(message(Lang::ZhHans, "eligible-again", &args), "2027-01-01 起恢复资格。");
}

#[test]
fn the_language_comes_from_the_cookie_then_accept_language() {
    assert_eq!(Lang::negotiate(None, None), Lang::En);
    assert_eq!(Lang::negotiate(None, Some("zh-CN,zh;q=0.9,en;q=0.8")), Lang::ZhHans);
    assert_eq!(Lang::negotiate(None, Some("fr-FR, en;q=0.5, zh;q=0.7")), Lang::ZhHans);
    assert_eq!(Lang::negotiate(None, Some("zh-TW, en;q=0.5")), Lang::En);
    assert_eq!(Lang::negotiate(None, Some("de, *;q=0.1")), Lang::En);
    assert_eq!(Lang::negotiate(Some("en"), Some("zh-CN")), Lang::En);
    assert_eq!(Lang::negotiate(Some("zh-Hans"), Some("en")), Lang::ZhHans);
    assert_eq!(Lang::negotiate(Some("xx"), Some("zh-Hans")), Lang::ZhHans);
}
