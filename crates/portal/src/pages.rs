//! The public pages: home, search, profile and its proof, check with its receipt, lists, the
//! rulebook and statistics.

use std::collections::BTreeMap;

use maud::{Markup, html};
use probity_core::{Date, Subject};
use probity_registry::{AuthorityDeadlines, CheckAnswer, ProfileProofs, TimelineEntry};
use probity_rules::{Assessment, Reason, Rulebook};
use probity_store::{Counts, ListEntry, Statistics, StoredRecord};

use crate::chart::{self, Labels};
use crate::{Ctx, decision_badge, layout, query_escape};

/// A record on a profile, with what the page says about it.
#[derive(Debug, Clone)]
pub struct RecordRow<'a> {
    /// The record.
    pub record: &'a StoredRecord,
    /// Its issuing authority's name.
    pub authority_name: String,
    /// The company's reply, if published.
    pub reply: Option<String>,
}

/// What a profile page shows.
#[derive(Debug, Clone)]
pub struct ProfileView<'a> {
    /// The subject.
    pub subject: &'a Subject,
    /// Its assessment today.
    pub assessment: &'a Assessment,
    /// Records shown today.
    pub records: Vec<RecordRow<'a>>,
    /// Every record and step, with deadlines.
    pub timeline: &'a [TimelineEntry],
    /// The rulebook in force.
    pub rulebook: &'a Rulebook,
    /// The log size the page reflects.
    pub log_size: u64,
    /// Authority names by id.
    pub authority_names: &'a BTreeMap<String, String>,
    /// The inspection draws that selected the subject.
    pub inspections: &'a [probity_registry::Selection],
}

/// The check form as filled in.
#[derive(Debug, Clone, Default)]
pub struct CheckForm {
    /// The code entered.
    pub subject: String,
    /// The measure chosen.
    pub measure: String,
}

/// What a check receipt is anchored to.
#[derive(Debug, Clone)]
pub struct Receipt<'a> {
    /// The answer.
    pub answer: &'a CheckAnswer,
    /// The published checkpoint's tree size.
    pub checkpoint_size: u64,
    /// The published checkpoint's root hash, base64.
    pub checkpoint_root: String,
    /// The witnesses of the registry's policy that cosigned it.
    pub witnesses: Vec<String>,
}

/// A witness of the registry's log, as the statistics page shows it.
#[derive(Debug, Clone)]
pub struct WitnessRow {
    /// Its name in the policy.
    pub name: String,
    /// Where it is asked.
    pub url: String,
    /// The size of the newest checkpoint it cosigned.
    pub cosigned_size: Option<u64>,
    /// What went wrong last, if its latest answer was not a cosignature.
    pub last_error: Option<String>,
}

/// One entry on a list page.
#[derive(Debug, Clone)]
pub struct ListRow {
    /// Subject code.
    pub subject: String,
    /// Subject name.
    pub name: String,
    /// The entry.
    pub entry: ListEntry,
}

/// Filters of a list page.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Region code prefix (from the USCC).
    pub region: String,
    /// Only entries since this day or later.
    pub since: Option<Date>,
}

fn grade_badge(grade: Option<&str>) -> Markup {
    html! {
        @if let Some(g) = grade {
            span class={"grade grade-" (g)} { (g) }
        } @else {
            span.grade { "–" }
        }
    }
}

fn search_form(ctx: &Ctx, q: &str) -> Markup {
    html! {
        form.search role="search" action="/search" method="get" {
            label for="q" { (ctx.t("search-label")) }
            div.row {
                input id="q" name="q" type="search" value=(q) required
                    placeholder=(ctx.t("search-placeholder")) autocomplete="off";
                button type="submit" { (ctx.t("search-button")) }
            }
        }
    }
}

/// The home page.
pub fn home(ctx: &Ctx, counts: &Counts, book: &Rulebook) -> String {
    let body = html! {
        h1 { (ctx.t("home-title")) }
        p.lead { (ctx.t("home-lead")) }
        (search_form(ctx, ""))
        section aria-labelledby="registry-h" {
            h2 id="registry-h" { (ctx.t("home-registry")) }
            dl.figures {
                div { dt { (ctx.t("count-subjects")) } dd { (ctx.int(counts.subjects)) } }
                div { dt { (ctx.t("count-records")) } dd { (ctx.int(counts.records)) } }
                div { dt { (ctx.t("count-authorities")) } dd { (ctx.int(counts.authorities)) } }
                div { dt { (ctx.t("count-events")) } dd { (ctx.int(counts.events)) } }
            }
            p { (ctx.ta("home-rulebook", &[("id", book.header.id.to_string()), ("version", book.header.version.clone())])) " "
                a href="/rulebook" { (ctx.t("nav-rulebook")) } }
        }
        section aria-labelledby="lists-h" {
            h2 id="lists-h" { (ctx.t("nav-lists")) }
            ul { @for l in book.lists() { li { a href={"/lists/" (l.id)} { (ctx.list_name(book, &l.id)) } } } }
        }
    };
    layout(ctx, &ctx.t("home-title"), body)
}

/// The search results page.
pub fn search(
    ctx: &Ctx,
    q: &str,
    hits: &[probity_registry::SearchHit],
    page: usize,
    more: bool,
) -> String {
    let body = html! {
        h1 { (ctx.t("search-title")) }
        (search_form(ctx, q))
        @if q.trim().is_empty() {
            p { (ctx.t("search-empty-query")) }
        } @else if hits.is_empty() {
            p role="status" { (ctx.ta("search-none", &[("q", q.to_owned())])) }
        } @else {
            p role="status" { (ctx.ta("search-page", &[("page", (page + 1).to_string())])) }
            table.results {
                caption.visually-hidden { (ctx.ta("search-caption", &[("q", q.to_owned())])) }
                thead { tr {
                    th scope="col" { (ctx.t("col-name")) }
                    th scope="col" { (ctx.t("col-code")) }
                    th scope="col" { (ctx.t("col-grade")) }
                } }
                tbody {
                    @for h in hits {
                        tr {
                            td { a href={"/subjects/" (h.id)} { (h.name) } }
                            td.code { (h.id) }
                            td { (grade_badge(h.grade.as_deref())) }
                        }
                    }
                }
            }
            nav.pager aria-label=(ctx.t("pager")) {
                @if page > 0 {
                    a rel="prev" href={"/search?q=" (query_escape(q)) "&page=" (page - 1)} { (ctx.t("pager-prev")) }
                }
                @if more {
                    a rel="next" href={"/search?q=" (query_escape(q)) "&page=" (page + 1)} { (ctx.t("pager-next")) }
                }
            }
        }
    };
    layout(ctx, &ctx.t("search-title"), body)
}

fn what_words(ctx: &Ctx, what: &str) -> String {
    ctx.t(&format!("step-{}", what.replace('_', "-")))
}

/// A reason for a measure's answer, in words.
fn reason_words(ctx: &Ctx, r: &Reason, book: &Rulebook) -> String {
    if let Some(g) = r.cause.strip_prefix("grade ") {
        return ctx.ta("reason-grade", &[("grade", g.to_owned())]);
    }
    let list = r.cause.split('`').nth(1).and_then(|id| book.list(id));
    match list {
        Some(l) => ctx.ta("reason-list", &[("list", ctx.list_name(book, &l.id))]),
        None => r.cause.clone(),
    }
}

/// The profile page.
pub fn profile(ctx: &Ctx, v: &ProfileView<'_>) -> String {
    let s = v.subject;
    let a = v.assessment;
    let by_index: BTreeMap<u64, &StoredRecord> =
        v.records.iter().map(|r| (r.record.filed_index, r.record)).collect();
    let record_name = |id: u64| {
        by_index.get(&id).map_or_else(|| format!("#{id}"), |r| r.record.decision_no.clone())
    };
    let kind_name = |kind: &str| ctx.kind_name(v.rulebook, kind);
    let body = html! {
        nav.crumbs aria-label=(ctx.t("breadcrumbs")) { a href="/" { (ctx.t("nav-home")) } " › " (s.name) }
        h1 { (s.name) }
        section aria-labelledby="identity-h" {
            h2 id="identity-h" { (ctx.t("profile-identity")) }
            dl.identity {
                div { dt { (ctx.t("col-code")) } dd.code { (s.id) } }
                @if !s.former_names.is_empty() {
                    div { dt { (ctx.t("profile-former-names")) } dd { (s.former_names.join("; ")) } }
                }
                div { dt { (ctx.t("profile-kind")) } dd { (ctx.t(&format!("kind-{}", s.kind.as_str().replace('_', "-")))) } }
                @if let Some(r) = s.region { div { dt { (ctx.t("profile-region")) } dd { (r) } } }
                div { dt { (ctx.t("profile-status")) } dd { (ctx.t(&format!("status-{}", s.status.as_str()))) } }
                @if let Some(d) = s.established { div { dt { (ctx.t("profile-established")) } dd { (ctx.time(d)) } } }
            }
        }
        section aria-labelledby="rating-h" {
            h2 id="rating-h" { (ctx.t("profile-rating")) }
            div.rating {
                (grade_badge(a.grade.as_deref()))
                @if let Some(score) = a.score {
                    p { (ctx.ta("profile-score", &[("score", score.to_string())])) }
                }
                p { (ctx.ta("profile-rating-under", &[("id", a.rulebook.clone()), ("version", a.version.clone()), ("date", ctx.date(a.as_of))])) }
            }
            h3 { (ctx.t("profile-why")) }
            @if a.effects.is_empty() {
                p { (ctx.t("profile-no-effects")) }
            } @else {
                ul.explain {
                    @for e in &a.effects {
                        li {
                            (ctx.ta("effect-line", &[
                                ("record", record_name(e.record)),
                                ("kind", kind_name(&e.kind)),
                                ("points", e.points.to_string()),
                                ("until", ctx.date(e.until)),
                            ]))
                            @if let Some(g) = &e.sets_grade { " " (ctx.ta("effect-sets-grade", &[("grade", g.clone())])) }
                            @if let Some(d) = e.repair_opens {
                                " " (ctx.ta("effect-repair", &[("date", ctx.date(d))]))
                                @if let Some(g) = &e.grade_if_repaired { " " (ctx.ta("effect-grade-if-repaired", &[("grade", g.clone())])) }
                            }
                            small.basis { (ctx.t("basis")) ": " (e.basis) }
                        }
                    }
                }
            }
            @if !a.grade_notes.is_empty() {
                details {
                    summary { (ctx.t("profile-grade-notes")) }
                    ul { @for n in &a.grade_notes { li lang="en" { (n) } } }
                }
            }
        }
        section aria-labelledby="lists-h" {
            h2 id="lists-h" { (ctx.t("nav-lists")) }
            @if a.lists.is_empty() {
                p { (ctx.t("profile-no-lists")) }
            } @else {
                ul {
                    @for m in &a.lists {
                        li {
                            a href={"/lists/" (m.list)} { (ctx.list_name(v.rulebook, &m.list)) }
                            " — "
                            @if let Some(d) = m.since { (ctx.ta("since", &[("date", ctx.date(d))])) " " }
                            @if let Some(d) = m.until { (ctx.ta("until", &[("date", ctx.date(d))])) }
                            small.basis { (ctx.t("basis")) ": " (m.basis) }
                        }
                    }
                }
            }
        }
        section aria-labelledby="measures-h" {
            h2 id="measures-h" { (ctx.t("profile-measures")) }
            table.measures {
                thead { tr {
                    th scope="col" { (ctx.t("col-measure")) }
                    th scope="col" { (ctx.t("col-answer")) }
                    th scope="col" { (ctx.t("col-why")) }
                } }
                tbody {
                    @for m in &a.measures {
                        tr {
                            th scope="row" { (ctx.measure_name(v.rulebook, &m.measure)) br; small.code { (m.measure) } }
                            td { (decision_badge(ctx, m.decision.as_str())) }
                            td {
                                @for r in &m.reasons { p { (reason_words(ctx, r, v.rulebook)) } }
                                @if let (Some(d), Some(to)) = (m.changes_on, m.changes_to) {
                                    @if to.as_str() == "allow" {
                                        p.eligible { (ctx.ta("eligible-again", &[("date", ctx.date(d))])) }
                                    } @else {
                                        p { (ctx.ta("changes-on", &[("date", ctx.date(d))])) " " (decision_badge(ctx, to.as_str())) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="records-h" {
            h2 id="records-h" { (ctx.t("profile-records")) }
            @if v.records.is_empty() {
                p { (ctx.t("profile-no-records")) }
            }
            @for r in &v.records {
                @let rec = &r.record.record;
                article.record {
                    h3 { (kind_name(rec.kind.as_str())) " · " span.code { (rec.decision_no) } }
                    @if r.record.disputed { p.badge.flag { (ctx.t("record-disputed")) } }
                    dl {
                        div { dt { (ctx.t("record-authority")) } dd { (r.authority_name) } }
                        div { dt { (ctx.t("record-decided")) } dd { (ctx.time(rec.decided)) } }
                        div { dt { (ctx.t("record-effective")) } dd { (ctx.time(rec.effective)) } }
                        div { dt { (ctx.t("basis")) } dd { (rec.basis) } }
                        div { dt { (ctx.t("record-summary")) } dd { (rec.summary) } }
                        @if let Some(m) = &rec.amount { div { dt { (ctx.t("record-amount")) } dd { (ctx.money(m)) } } }
                        div { dt { (ctx.t("record-status")) } dd { (what_words(ctx, r.record.status.as_str())) } }
                    }
                    @if let Some(reply) = &r.reply {
                        blockquote.reply {
                            p { strong { (ctx.t("record-reply")) } }
                            p { (reply) }
                        }
                    }
                }
            }
        }
        @if !v.inspections.is_empty() {
            section aria-labelledby="inspections-h" {
                h2 id="inspections-h" { (ctx.t("profile-inspections")) }
                ul {
                    @for sel in v.inspections {
                        li {
                            a href={"/inspections/" (sel.plan.authority) "/" (crate::query_escape(&sel.plan.plan_no))} { (sel.plan.plan_no) }
                            " · " (sel.title)
                            " · " (ctx.ta("profile-inspection-drawn", &[("class", sel.class.clone()), ("team", sel.team.to_string())]))
                            " · "
                            @match &sel.outcome {
                                Some(o) => { (kind_name(&o.kind)) " (" (ctx.time(o.filed)) ")" },
                                None => {
                                    (ctx.t("profile-inspection-pending"))
                                    @if let Some(by) = sel.publish_by { " " (ctx.time(by)) }
                                },
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="timeline-h" {
            h2 id="timeline-h" { (ctx.t("profile-timeline")) }
            ol.timeline {
                @for e in v.timeline {
                    li class={"tl-" (e.what)} {
                        (ctx.time(e.when.date()))
                        " · " strong { (what_words(ctx, &e.what)) }
                        " · " (kind_name(&e.kind)) " " span.code { (e.record.decision_no) }
                        " · " (v.authority_names.get(e.record.authority.as_str()).map_or(e.record.authority.as_str(), String::as_str))
                        @if e.what == "filed" {
                            @if let Some(r) = v.records.iter().find(|r| r.record.record.key() == e.record) {
                                small.basis { (ctx.t("basis")) ": " (r.record.record.basis) }
                            }
                        }
                        @if e.what == "deadline" {
                            @if let Some(t) = &e.text { " — " (what_words(ctx, t)) }
                            @if let Some(o) = &e.outcome { " " span class={"badge deadline-" (o)} { (ctx.t(&format!("deadline-{o}"))) } }
                        } @else {
                            @if let Some(o) = &e.outcome { " — " (what_words(ctx, o)) }
                            @if let Some(t) = &e.text { p.text { (t) } }
                        }
                    }
                }
            }
        }
        p.verify { a href={"/subjects/" (s.id) "/verify"} { (ctx.t("profile-verify")) } " " (ctx.ta("profile-log-size", &[("size", ctx.int(v.log_size))])) }
        p { a href={"/check?subject=" (s.id)} { (ctx.t("profile-check-link")) } }
    };
    layout(ctx, &s.name, body)
}

/// The page with a profile's log proofs and how to check them offline.
pub fn verify(ctx: &Ctx, subject: &Subject, proofs: &ProfileProofs, verifier_key: &str) -> String {
    let body = html! {
        nav.crumbs aria-label=(ctx.t("breadcrumbs")) { a href={"/subjects/" (subject.id)} { (subject.name) } " › " (ctx.t("verify-title")) }
        h1 { (ctx.t("verify-title")) }
        p { (ctx.ta("verify-lead", &[("size", ctx.int(proofs.size))])) }
        h2 { (ctx.t("verify-checkpoint")) }
        pre.note { (proofs.checkpoint) }
        p { (ctx.t("verify-key")) } pre { (verifier_key) }
        @if proofs.witnesses.is_empty() {
            p { (ctx.t("verify-no-witnesses")) }
        } @else {
            h2 { (ctx.t("verify-witnesses")) }
            p { (ctx.t("verify-witnesses-lead")) }
            table {
                thead { tr { th scope="col" { (ctx.t("col-witness")) } th scope="col" { (ctx.t("col-cosigned-at")) } } }
                tbody {
                    @for w in &proofs.witnesses {
                        tr { td { (w.witness) } td { (probity_core::Timestamp::from_second(w.time as i64).map(|t| t.to_string()).unwrap_or_default()) } }
                    }
                }
            }
        }
        h2 { (ctx.t("verify-entries")) }
        table {
            thead { tr { th scope="col" { (ctx.t("col-index")) } th scope="col" { (ctx.t("col-leaf-hash")) } th scope="col" { (ctx.t("col-path")) } } }
            tbody {
                @for e in &proofs.entries {
                    tr { td { (e.index) } td.code { (e.leaf_hash) } td { details { summary { (e.path.len()) } ol { @for h in &e.path { li.code { (h) } } } } } }
                }
            }
        }
        h2 { (ctx.t("verify-how")) }
        ol {
            li { (ctx.t("verify-step-fetch")) " " code { "curl -s 'http://HOST/v1/subjects/" (subject.id) "?proof=true'" } }
            li { (ctx.t("verify-step-signature")) }
            li { (ctx.t("verify-step-path")) }
            li { (ctx.t("verify-step-recompute")) " " a href="/v1/rulebook/text" { (ctx.t("nav-rulebook")) } }
        }
        p { (ctx.t("verify-format")) }
    };
    layout(ctx, &ctx.t("verify-title"), body)
}

/// The check page: the form, and the answer with its printable receipt.
pub fn check(
    ctx: &Ctx,
    form: &CheckForm,
    book: &Rulebook,
    receipt: Option<&Receipt<'_>>,
    problem: Option<&str>,
) -> String {
    let body = html! {
        h1 { (ctx.t("check-title")) }
        p.lead.no-print { (ctx.t("check-lead")) }
        form.check.no-print action="/check" method="get" {
            div.field {
                label for="subject" { (ctx.t("check-subject")) }
                input id="subject" name="subject" value=(form.subject) required autocomplete="off" spellcheck="false";
            }
            div.field {
                label for="measure" { (ctx.t("check-measure")) }
                select id="measure" name="measure" {
                    @for m in book.measures() {
                        option value=(m.id) selected[m.id == form.measure] { (ctx.measure_name(book, &m.id)) }
                    }
                }
            }
            button type="submit" { (ctx.t("check-button")) }
        }
        @if let Some(p) = problem {
            p.error role="alert" { (p) }
        }
        @if let Some(r) = receipt {
            @let a = r.answer;
            section.receipt aria-labelledby="answer-h" {
                h2 id="answer-h" { (ctx.t("check-answer")) " " (decision_badge(ctx, a.decision)) }
                dl {
                    div { dt { (ctx.t("col-name")) } dd { a href={"/subjects/" (a.subject)} { (a.name) } } }
                    div { dt { (ctx.t("col-code")) } dd.code { (a.subject) } }
                    div { dt { (ctx.t("check-measure")) } dd { (ctx.measure_name(book, &a.measure)) " (" (a.measure) ")" } }
                    div { dt { (ctx.t("check-as-of")) } dd { (ctx.time(a.as_of)) } }
                    @if let Some(g) = &a.grade { div { dt { (ctx.t("col-grade")) } dd { (g) } } }
                    div { dt { (ctx.t("check-rulebook")) } dd { (a.rulebook.id) " " (a.rulebook.version) } }
                    div { dt { (ctx.t("check-checkpoint")) } dd { (ctx.ta("check-checkpoint-value", &[("size", ctx.int(r.checkpoint_size))])) br; span.code { (r.checkpoint_root) } } }
                    @if !r.witnesses.is_empty() {
                        div { dt { (ctx.t("check-cosigned")) } dd { (r.witnesses.join(", ")) } }
                    }
                    div { dt { (ctx.t("check-log-size")) } dd { (ctx.int(a.log_size)) } }
                }
                @if a.reasons.is_empty() {
                    p { (ctx.t("check-no-reasons")) }
                } @else {
                    h3 { (ctx.t("col-why")) }
                    ul { @for reason in &a.reasons { li { (reason_words(ctx, reason, book)) small.basis { (ctx.t("basis")) ": " (reason.basis) } } } }
                }
                @if let (Some(d), Some(to)) = (a.changes_on, a.changes_to) {
                    p { (ctx.ta("changes-on", &[("date", ctx.date(d))])) " " (decision_badge(ctx, to)) }
                }
                p.no-print { button type="button" data-print { (ctx.t("check-print")) } }
                script src="/static/console.js" defer {}
            }
        }
    };
    layout(ctx, &ctx.t("check-title"), body)
}

/// The index of lists.
pub fn lists(ctx: &Ctx, book: &Rulebook) -> String {
    let body = html! {
        h1 { (ctx.t("nav-lists")) }
        ul.cards {
            @for l in book.lists() {
                li {
                    h2 { a href={"/lists/" (l.id)} { (ctx.list_name(book, &l.id)) } }
                    p { (ctx.t(&format!("list-type-{}", list_type(l)))) " · " (ctx.ta("list-duration", &[("period", l.duration.to_string())])) }
                    p.basis { (l.basis) }
                }
            }
        }
    };
    layout(ctx, &ctx.t("nav-lists"), body)
}

fn list_type(l: &probity_rules::ListRule) -> &'static str {
    match l.list_type {
        probity_rules::ListType::Exclusion => "exclusion",
        probity_rules::ListType::Warning => "warning",
        probity_rules::ListType::GoodStanding => "good-standing",
    }
}

/// A list's page: its rule, filters, entries and export.
pub fn list(
    ctx: &Ctx,
    book: &Rulebook,
    rule: &probity_rules::ListRule,
    filter: &ListFilter,
    rows: &[ListRow],
    next: Option<&str>,
) -> String {
    let name = ctx.list_name(book, &rule.id);
    let mut query = String::new();
    if !filter.region.is_empty() {
        query.push_str(&format!("&region={}", query_escape(&filter.region)));
    }
    if let Some(d) = filter.since {
        query.push_str(&format!("&since={d}"));
    }
    let body = html! {
        h1 { (name) }
        p { (ctx.t(&format!("list-type-{}", list_type(rule)))) " · " (ctx.ta("list-duration", &[("period", rule.duration.to_string())])) }
        p.basis { (ctx.t("basis")) ": " (rule.basis) }
        form.filters action={"/lists/" (rule.id)} method="get" {
            div.field {
                label for="region" { (ctx.t("list-filter-region")) }
                input id="region" name="region" value=(filter.region) inputmode="numeric" pattern="[0-9]{0,6}" maxlength="6";
            }
            div.field {
                label for="since" { (ctx.t("list-filter-since")) }
                input id="since" name="since" type="date" value=(filter.since.map(|d| d.to_string()).unwrap_or_default());
            }
            button type="submit" { (ctx.t("list-filter-apply")) }
        }
        p { a href={"/lists/" (rule.id) "/export.csv?" (query.trim_start_matches('&'))} download={(rule.id) ".csv"} { (ctx.t("list-export-csv")) } }
        @if rows.is_empty() {
            p role="status" { (ctx.t("list-empty")) }
        } @else {
            table.results {
                thead { tr {
                    th scope="col" { (ctx.t("col-name")) }
                    th scope="col" { (ctx.t("col-code")) }
                    th scope="col" { (ctx.t("col-since")) }
                    th scope="col" { (ctx.t("col-until")) }
                } }
                tbody {
                    @for r in rows {
                        tr {
                            td { a href={"/subjects/" (r.subject)} { (r.name) } }
                            td.code { (r.subject) }
                            td { @if let Some(d) = r.entry.since { (ctx.time(d)) } }
                            td { @if let Some(d) = r.entry.until { (ctx.time(d)) } }
                        }
                    }
                }
            }
        }
        @if let Some(n) = next {
            nav.pager aria-label=(ctx.t("pager")) {
                a rel="next" href={"/lists/" (rule.id) "?after=" (query_escape(n)) (query)} { (ctx.t("pager-next")) }
            }
        }
    };
    layout(ctx, &name, body)
}

/// The rulebook page: the rules in force, the versions, and what changed between two.
pub fn rulebook(
    ctx: &Ctx,
    book: &Rulebook,
    versions: &[&Rulebook],
    diff: Option<(&Rulebook, &Rulebook)>,
) -> String {
    let body = html! {
        h1 { (ctx.t("nav-rulebook")) }
        p.lead { (book.header.publisher) " · " (book.header.id) " " (book.header.version) " · "
            (ctx.ta("rulebook-effective", &[("date", ctx.date(book.header.effective))])) }
        p { a href={"/v1/rulebook/text?version=" (query_escape(&book.header.version))} { (ctx.t("rulebook-text")) } }
        h2 { (ctx.t("rulebook-kinds")) }
        table.rules {
            thead { tr {
                th scope="col" { (ctx.t("col-kind")) }
                th scope="col" { (ctx.t("col-tier")) }
                th scope="col" { (ctx.t("col-points")) }
                th scope="col" { (ctx.t("col-published")) }
                th scope="col" { (ctx.t("col-counts")) }
                th scope="col" { (ctx.t("col-repair")) }
                th scope="col" { (ctx.t("basis")) }
            } }
            tbody {
                @for k in book.kinds() {
                    tr {
                        th scope="row" { (ctx.kind_name(book, k.id.as_str())) br; small.code { (k.id) } }
                        td { (ctx.t(&format!("tier-{:?}", k.tier).to_lowercase())) }
                        td { (k.points) }
                        td { (k.published_for) }
                        td { (k.counts_for) }
                        td { @if let Some(p) = k.repair_after { (p) } @else { "–" } }
                        td.basis { (k.basis) }
                    }
                }
            }
        }
        @if let Some(s) = book.scoring() {
            h2 { (ctx.t("rulebook-scoring")) }
            p { (ctx.ta("rulebook-score-range", &[("start", s.start.to_string()), ("floor", s.floor.to_string()), ("ceiling", s.ceiling.to_string())])) }
            ul { @for b in &s.bands { li { (ctx.ta("rulebook-band", &[("grade", b.grade.clone()), ("min", b.min.to_string())])) } } }
            @for t in &s.triggers { p { (ctx.ta("rulebook-trigger", &[("kind", t.kind.clone()), ("grade", t.grade.clone())])) small.basis { (t.basis) } } }
            @for b in &s.sticky { p { (ctx.ta("rulebook-sticky", &[("grade", b.grade.clone()), ("period", b.holds_for.to_string())])) small.basis { (b.basis) } } }
            @for b in &s.bars { p { (ctx.ta("rulebook-bar", &[("grade", b.grade.clone()), ("period", b.younger_than.to_string())])) small.basis { (b.basis) } } }
            @if let Some(n) = &s.new_entity { p { (ctx.ta("rulebook-new-entity", &[("grade", n.grade.clone()), ("period", n.younger_than.to_string()), ("min", n.min.to_string())])) small.basis { (n.basis) } } }
            p.basis { (s.basis) }
        }
        h2 { (ctx.t("nav-lists")) }
        ul { @for l in book.lists() { li { a href={"/lists/" (l.id)} { (ctx.list_name(book, &l.id)) } " · " (ctx.ta("list-duration", &[("period", l.duration.to_string())])) small.basis { (l.basis) } } } }
        h2 { (ctx.t("rulebook-measures")) }
        ul {
            @for m in book.measures() {
                li {
                    strong { (ctx.measure_name(book, &m.id)) } " " span.code { (m.id) }
                    @if !m.deny.lists.is_empty() || !m.deny.grades.is_empty() {
                        br; (ctx.ta("rulebook-denied-by", &[("what", m.deny.lists.iter().chain(&m.deny.grades).cloned().collect::<Vec<_>>().join(", "))]))
                    }
                    @if !m.flag.lists.is_empty() || !m.flag.grades.is_empty() {
                        br; (ctx.ta("rulebook-flagged-by", &[("what", m.flag.lists.iter().chain(&m.flag.grades).cloned().collect::<Vec<_>>().join(", "))]))
                    }
                    small.basis { (m.basis) }
                }
            }
        }
        h2 { (ctx.t("rulebook-due-process")) }
        @let d = book.due_process();
        p { (ctx.ta("rulebook-due-process-text", &[
            ("window", d.objection_window.to_string()),
            ("answer", d.answer_within.to_string()),
            ("decide", d.decide_within.to_string()),
            ("repair", d.repair_within.to_string()),
        ])) small.basis { (d.basis) } }
        h2 { (ctx.t("rulebook-versions")) }
        table {
            thead { tr { th scope="col" { (ctx.t("col-version")) } th scope="col" { (ctx.t("col-effective")) } th scope="col" { (ctx.t("col-publisher")) } } }
            tbody { @for b in versions { tr { td { (b.header.id) " " (b.header.version) } td { (ctx.time(b.header.effective)) } td { (b.header.publisher) } } } }
        }
        @if versions.len() > 1 {
            form action="/rulebook" method="get" {
                label for="from" { (ctx.t("rulebook-compare-from")) }
                select id="from" name="from" { @for b in versions { option value=(b.header.version) { (b.header.version) } } }
                label for="to" { (ctx.t("rulebook-compare-to")) }
                select id="to" name="to" { @for b in versions.iter().rev() { option value=(b.header.version) { (b.header.version) } } }
                button type="submit" { (ctx.t("rulebook-compare")) }
            }
        }
        @if let Some((from, to)) = diff {
            h2 id="diff" { (ctx.ta("rulebook-diff", &[("from", from.header.version.clone()), ("to", to.header.version.clone())])) }
            @let changes = crate::rulediff::diff(from, to);
            @if changes.is_empty() {
                p { (ctx.t("rulebook-diff-none")) }
            } @else {
                table.diff {
                    thead { tr { th scope="col" { (ctx.t("col-rule")) } th scope="col" { (ctx.t("col-before")) } th scope="col" { (ctx.t("col-after")) } } }
                    tbody { @for c in &changes { tr { th scope="row" { (c.path) } td.before { (c.before.as_deref().unwrap_or("–")) } td.after { (c.after.as_deref().unwrap_or("–")) } } } }
                }
            }
        }
    };
    layout(ctx, &ctx.t("nav-rulebook"), body)
}

/// The statistics page.
pub fn stats(
    ctx: &Ctx,
    book: &Rulebook,
    s: &Statistics,
    deadlines: &[AuthorityDeadlines],
    authority_names: &BTreeMap<String, String>,
    witnesses: &[WitnessRow],
) -> String {
    let name = |id: &str| authority_names.get(id).cloned().unwrap_or_else(|| id.to_owned());
    // Grades in the rulebook's band order.
    let order: Vec<String> = book
        .scoring()
        .map(|s| s.grades().into_iter().map(str::to_owned).collect())
        .unwrap_or_default();
    let mut grades: Vec<(String, u64)> = order
        .iter()
        .map(|g| {
            (g.clone(), s.grades.iter().find(|(x, _)| x.as_deref() == Some(g)).map_or(0, |x| x.1))
        })
        .collect();
    for (g, n) in &s.grades {
        let g = g.clone().unwrap_or_else(|| "–".into());
        if !order.contains(&g) {
            grades.push((g, *n));
        }
    }
    // Records per month for the busiest authorities, over the last 24 months with records.
    let mut months: Vec<u32> = s.records_by_month.iter().map(|r| r.1).collect();
    months.sort_unstable();
    months.dedup();
    let months: Vec<u32> = months.iter().rev().take(24).rev().copied().collect();
    let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
    for (a, m, n) in &s.records_by_month {
        if months.contains(m) {
            *totals.entry(a.as_str()).or_default() += n;
        }
    }
    let mut busiest: Vec<(&str, u64)> = totals.into_iter().collect();
    busiest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let series: Vec<(String, Vec<u64>)> = busiest
        .iter()
        .take(5)
        .map(|(a, _)| {
            (
                name(a),
                months
                    .iter()
                    .map(|m| {
                        s.records_by_month
                            .iter()
                            .filter(|r| r.0 == *a && r.1 == *m)
                            .map(|r| r.2)
                            .sum()
                    })
                    .collect(),
            )
        })
        .collect();
    let month_labels: Vec<String> =
        months.iter().map(|m| crate::format::month(ctx.lang, *m)).collect();
    // List entries by the month they began, per list.
    let mut joined: Vec<u32> = s.list_entries.iter().filter_map(|r| r.1).collect();
    joined.sort_unstable();
    joined.dedup();
    let joined: Vec<u32> = joined.iter().rev().take(24).rev().copied().collect();
    let list_series: Vec<(String, Vec<u64>)> = book
        .lists()
        .map(|l| {
            (
                ctx.list_name(book, &l.id),
                joined
                    .iter()
                    .map(|m| {
                        s.list_entries
                            .iter()
                            .filter(|r| r.0 == l.id && r.1 == Some(*m))
                            .map(|r| r.3)
                            .sum()
                    })
                    .collect(),
            )
        })
        .collect();
    let joined_labels: Vec<String> =
        joined.iter().map(|m| crate::format::month(ctx.lang, *m)).collect();
    let parts: Vec<String> =
        ["deadline-met", "deadline-late", "deadline-overdue", "deadline-pending"]
            .iter()
            .map(|k| ctx.t(k))
            .collect();
    let rows: Vec<(String, Vec<u64>)> = deadlines
        .iter()
        .map(|d| (name(&d.authority), vec![d.met, d.late, d.overdue, d.pending]))
        .collect();
    let data = ctx.t("chart-data");
    let body = html! {
        h1 { (ctx.t("nav-stats")) }
        section {
            h2 { (ctx.t("stats-grades")) }
            (chart::bars("chart-grades", &Labels { caption: &ctx.t("stats-grades-caption"), key: &ctx.t("col-grade"), data: &data }, &grades))
        }
        section {
            h2 { (ctx.t("stats-records")) }
            (chart::lines("chart-records", &Labels { caption: &ctx.t("stats-records-caption"), key: &ctx.t("col-month"), data: &data }, &month_labels, &series))
        }
        section {
            h2 { (ctx.t("stats-lists")) }
            (chart::lines("chart-lists", &Labels { caption: &ctx.t("stats-lists-caption"), key: &ctx.t("col-month"), data: &data }, &joined_labels, &list_series))
        }
        section {
            h2 { (ctx.t("stats-deadlines")) }
            @if rows.is_empty() {
                p { (ctx.t("stats-no-deadlines")) }
            } @else {
                (chart::stacked("chart-deadlines", &Labels { caption: &ctx.t("stats-deadlines-caption"), key: &ctx.t("record-authority"), data: &data }, &parts, &rows))
            }
        }
        @if !witnesses.is_empty() {
            section {
                h2 { (ctx.t("stats-witnesses")) }
                table {
                    thead { tr { th scope="col" { (ctx.t("col-witness")) } th scope="col" { (ctx.t("col-witness-cosigned")) } th scope="col" { (ctx.t("col-witness-state")) } } }
                    tbody {
                        @for w in witnesses {
                            tr {
                                td { (w.name) br; span.code { (w.url) } }
                                td { @if let Some(n) = w.cosigned_size { (ctx.int(n)) } @else { "–" } }
                                td { @if let Some(e) = &w.last_error { (ctx.t("witness-failing")) ": " (e) } @else { (ctx.t("witness-ok")) } }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(ctx, &ctx.t("nav-stats"), body)
}

/// An error page.
pub fn error(ctx: &Ctx, status: u16, message: &str) -> String {
    let title = ctx.t(if status == 404 { "error-not-found" } else { "error-title" });
    let body = html! {
        h1 { (title) }
        p role="alert" { (message) }
        p { a href="/" { (ctx.t("nav-home")) } }
    };
    layout(ctx, &title, body)
}
