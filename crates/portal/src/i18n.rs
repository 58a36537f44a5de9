//! The portal's two languages: message catalogues in Fluent (`locales/<tag>.ftl`), the choice
//! of language from a cookie or `Accept-Language`, and lookups.

use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};

/// A language the portal speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// English.
    En,
    /// Simplified Chinese.
    ZhHans,
}

/// The catalogue sources, by language.
pub const CATALOGUES: [(Lang, &str); 2] = [
    (Lang::En, include_str!("../locales/en.ftl")),
    (Lang::ZhHans, include_str!("../locales/zh-Hans.ftl")),
];

impl Lang {
    /// Every language, the default first.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::ZhHans];

    /// The BCP 47 tag, as used in `lang` attributes and the language cookie.
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::ZhHans => "zh-Hans",
        }
    }

    /// The language's name in itself, for the switch.
    pub fn native_name(self) -> &'static str {
        match self {
            Self::En => "English",
            Self::ZhHans => "简体中文",
        }
    }

    /// The language a tag asks for: `en`, `en-GB`, … and `zh`, `zh-CN`, `zh-SG`, `zh-Hans`,
    /// …; traditional-script tags (`zh-TW`, `zh-HK`, `zh-Hant`) are not Simplified Chinese.
    pub fn parse(tag: &str) -> Option<Self> {
        let tag = tag.trim().to_ascii_lowercase();
        let mut parts = tag.split(['-', '_']);
        match parts.next()? {
            "en" => Some(Self::En),
            "zh" => {
                let rest: Vec<&str> = parts.collect();
                let traditional = rest.iter().any(|p| matches!(*p, "hant" | "tw" | "hk" | "mo"));
                (!traditional).then_some(Self::ZhHans)
            }
            _ => None,
        }
    }

    /// The language for a request: the cookie's if it names one, else the first language of
    /// `Accept-Language` (by quality) the portal speaks, else English.
    pub fn negotiate(cookie: Option<&str>, accept_language: Option<&str>) -> Self {
        if let Some(l) = cookie.and_then(Self::parse) {
            return l;
        }
        let mut wanted: Vec<(f32, usize, &str)> = accept_language
            .unwrap_or("")
            .split(',')
            .enumerate()
            .filter_map(|(i, item)| {
                let mut parts = item.split(';');
                let tag = parts.next()?.trim();
                let q = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                (!tag.is_empty() && q > 0.0).then_some((q, i, tag))
            })
            .collect();
        wanted.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        wanted.iter().find_map(|(_, _, tag)| Self::parse(tag)).unwrap_or(Self::En)
    }
}

type Bundle = FluentBundle<FluentResource>;

static BUNDLES: LazyLock<Vec<(Lang, Bundle)>> = LazyLock::new(|| {
    CATALOGUES
        .iter()
        .map(|(lang, source)| {
            let id = lang.tag().parse().unwrap_or_default();
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            // Plain text: the pages are HTML, where isolation marks would only get in the way.
            bundle.set_use_isolating(false);
            // A catalogue that does not parse is caught by the catalogue tests; what parsed is used.
            let resource = FluentResource::try_new((*source).to_owned()).unwrap_or_else(|(r, _)| r);
            let _ = bundle.add_resource(resource);
            (*lang, bundle)
        })
        .collect()
});

/// The message `id` in `lang` with `args`; the id itself if the catalogue lacks it (which the
/// catalogue tests forbid).
pub fn message(lang: Lang, id: &str, args: &[(&str, String)]) -> String {
    let Some((_, bundle)) = BUNDLES.iter().find(|(l, _)| *l == lang) else {
        return id.to_owned();
    };
    let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
        return id.to_owned();
    };
    let mut fargs = FluentArgs::new();
    for (k, v) in args {
        fargs.set(*k, v.clone());
    }
    let mut errors = Vec::new();
    bundle.format_pattern(pattern, Some(&fargs), &mut errors).into_owned()
}

/// The message ids of a catalogue source, in order, or its parse errors.
pub fn message_ids(source: &str) -> Result<Vec<String>, String> {
    use fluent_syntax::ast::Entry;
    let resource = fluent_syntax::parser::parse(source).map_err(|(_, e)| format!("{e:?}"))?;
    Ok(resource
        .body
        .iter()
        .filter_map(|e| match e {
            Entry::Message(m) => Some(m.id.name.to_owned()),
            _ => None,
        })
        .collect())
}
