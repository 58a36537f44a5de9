//! The probity web portal's pages: server-rendered HTML in English and Simplified Chinese, with
//! charts drawn on the server as SVG.
//!
//! Rendering only: every function here turns what the registry already answered into a page,
//! with no I/O of its own. The server fetches, checks credentials and calls in. Reading pages
//! work without JavaScript; one small script adds an upload progress bar to the authority
//! console. Nothing is loaded from outside the server.

mod account;
pub mod chart;
pub mod format;
pub mod i18n;
mod inspections;
mod pages;
pub mod rulediff;

use maud::{DOCTYPE, Markup, html};
use probity_core::{Date, Money};
use probity_rules::Rulebook;
use probity_store::Role;

pub use account::{
    CompanyRow, ConsoleView, Flash, WatchlistRow, company, console, operator, sign_in, subscriber,
};
pub use i18n::Lang;
pub use inspections::{DRAWN_PER_PAGE, PlanPage, inspection, inspections};
pub use pages::{
    CheckForm, ListFilter, ListRow, ProfileView, Receipt, RecordRow, WitnessRow, check, error,
    home, list, lists, profile, rulebook, search, stats, verify,
};

/// The stylesheet, served at `/static/portal.css`.
pub const STYLESHEET: &str = include_str!("../static/portal.css");
/// The console's upload script, served at `/static/console.js`.
pub const CONSOLE_SCRIPT: &str = include_str!("../static/console.js");

/// Who is signed in to the portal.
#[derive(Debug, Clone)]
pub struct Session {
    /// Their role.
    pub role: Role,
    /// The authority id or subject code they act for.
    pub principal: String,
    /// The token every form they post must carry.
    pub csrf: String,
}

/// What every page needs: the language, where it is, who is signed in, and the day.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The language.
    pub lang: Lang,
    /// This page's path and query, for the language switch to come back to.
    pub path: String,
    /// The signed-in party, if any.
    pub session: Option<Session>,
    /// Today, in the registry's clock.
    pub today: Date,
}

impl Ctx {
    /// A message.
    pub fn t(&self, id: &str) -> String {
        i18n::message(self.lang, id, &[])
    }

    /// A message with arguments.
    pub fn ta(&self, id: &str, args: &[(&str, String)]) -> String {
        i18n::message(self.lang, id, args)
    }

    /// A day.
    pub fn date(&self, d: Date) -> String {
        format::date(self.lang, d)
    }

    /// A count.
    pub fn int(&self, n: u64) -> String {
        format::int(self.lang, i64::try_from(n).unwrap_or(i64::MAX))
    }

    /// An amount.
    pub fn money(&self, m: &Money) -> String {
        format::money(self.lang, m)
    }

    /// A rulebook item's name in this page's language: the rulebook's name for `item`
    /// (`kinds.<id>`, `lists.<id>`, `measures.<id>`) in that language if it gives one, else
    /// `own`, the name as the rulebook states it.
    fn rule_name(&self, book: &Rulebook, item: &str, own: &str) -> String {
        match self.lang {
            Lang::En => own.to_owned(),
            other => book.name_in(other.tag(), item).unwrap_or(own).to_owned(),
        }
    }

    /// A record kind's name.
    pub fn kind_name(&self, book: &Rulebook, id: &str) -> String {
        let own = book.kind(id).map_or(id, |k| k.name.as_str());
        self.rule_name(book, &format!("kinds.{id}"), own)
    }

    /// A list's name.
    pub fn list_name(&self, book: &Rulebook, id: &str) -> String {
        let own = book.list(id).map_or(id, |l| l.name.as_str());
        self.rule_name(book, &format!("lists.{id}"), own)
    }

    /// A measure's description.
    pub fn measure_name(&self, book: &Rulebook, id: &str) -> String {
        let own = book.measure(id).map_or(id, |m| m.description.as_str());
        self.rule_name(book, &format!("measures.{id}"), own)
    }

    /// A date as a `<time>` element.
    pub fn time(&self, d: Date) -> Markup {
        html! { time datetime=(d.to_string()) { (self.date(d)) } }
    }

    fn csrf_field(&self) -> Markup {
        html! {
            @if let Some(s) = &self.session {
                input type="hidden" name="csrf" value=(s.csrf);
            }
        }
    }
}

/// Percent-encodes a query value.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The whole document around a page's content.
pub fn layout(ctx: &Ctx, title: &str, body: Markup) -> String {
    let nav = [
        ("/", "nav-home"),
        ("/check", "nav-check"),
        ("/lists", "nav-lists"),
        ("/inspections", "nav-inspections"),
        ("/rulebook", "nav-rulebook"),
        ("/stats", "nav-stats"),
    ];
    let current = ctx.path.split('?').next().unwrap_or("/");
    html! {
        (DOCTYPE)
        html lang=(ctx.lang.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · probity" }
                link rel="stylesheet" href="/static/portal.css";
            }
            body {
                a.skip href="#main" { (ctx.t("skip-to-content")) }
                header.site {
                    a.brand href="/" { "probity" }
                    nav aria-label=(ctx.t("nav-label")) {
                        ul {
                            @for (href, id) in nav {
                                li {
                                    @if current == href {
                                        a href=(href) aria-current="page" { (ctx.t(id)) }
                                    } @else {
                                        a href=(href) { (ctx.t(id)) }
                                    }
                                }
                            }
                            li {
                                @match &ctx.session {
                                    Some(_) => a href="/account" { (ctx.t("nav-account")) },
                                    None => a href="/account/sign-in" { (ctx.t("nav-sign-in")) },
                                }
                            }
                        }
                    }
                    div.langs role="group" aria-label=(ctx.t("language")) {
                        @for l in Lang::ALL {
                            @if l == ctx.lang {
                                span lang=(l.tag()) aria-current="true" { (l.native_name()) }
                            } @else {
                                a lang=(l.tag()) hreflang=(l.tag()) rel="alternate"
                                    href={"/lang?to=" (l.tag()) "&back=" (query_escape(&ctx.path))} { (l.native_name()) }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" { (body) }
                footer.site {
                    p { (ctx.t("footer-about")) }
                    p {
                        a href="/v1/openapi.json" { (ctx.t("footer-api")) } " · "
                        a href="/v1/log/checkpoint" { (ctx.t("footer-checkpoint")) }
                    }
                }
            }
        }
    }
    .into_string()
}

/// A `<span>` naming a decision (allow, flag, deny) in words and with its class.
pub fn decision_badge(ctx: &Ctx, decision: &str) -> Markup {
    html! { span class={"badge " (decision)} { (ctx.t(&format!("decision-{decision}"))) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(query_escape("/search?q=a b"), "%2Fsearch%3Fq%3Da%20b");
        assert_eq!(query_escape("北"), "%E5%8C%97");
    }
}
