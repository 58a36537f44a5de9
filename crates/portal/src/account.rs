//! Pages for signed-in parties: the sign-in form, a company's self-service (object, reply,
//! apply for repair, follow deadlines), an authority's console (file, upload a batch, work
//! through open cases) and a subscriber's watchlists (changes since the last visit, and the
//! health of their webhooks).

use maud::{Markup, html};
use probity_core::{ObjectionState, RepairState, Subject};
use probity_registry::{CaseView, WatchedChange, WatchlistView};
use probity_rules::Deadline;

use crate::{Ctx, layout};

/// A message shown once after an action.
#[derive(Debug, Clone)]
pub struct Flash {
    /// Whether the action succeeded.
    pub ok: bool,
    /// What happened.
    pub text: String,
}

/// One of a company's records with its case.
#[derive(Debug, Clone)]
pub struct CompanyRow<'a> {
    /// The case.
    pub view: &'a CaseView,
    /// The kind's name.
    pub kind_name: String,
    /// The issuing authority's name.
    pub authority_name: String,
}

/// What the authority console shows.
#[derive(Debug, Clone)]
pub struct ConsoleView<'a> {
    /// The authority's id.
    pub authority: &'a str,
    /// Its name.
    pub authority_name: &'a str,
    /// The kinds it may file: id and name.
    pub kinds: Vec<(String, String)>,
    /// Its open cases, oldest first.
    pub open: &'a [CaseView],
    /// The last batch upload: rows filed, duplicates and rejects.
    pub upload: Option<(u64, u64, u64)>,
}

fn flash_box(flash: Option<&Flash>) -> Markup {
    html! {
        @if let Some(f) = flash {
            @if f.ok { p.flash.ok role="status" { (f.text) } } @else { p.flash.error role="alert" { (f.text) } }
        }
    }
}

/// The sign-in page.
/// The sign-in page; its form carries `csrf`, the token of the browser's sign-in cookie (so a
/// form on another site cannot sign a browser in under an account of its choosing).
pub fn sign_in(ctx: &Ctx, problem: Option<&str>, csrf: &str) -> String {
    let body = html! {
        h1 { (ctx.t("sign-in-title")) }
        p { (ctx.t("sign-in-lead")) }
        @if let Some(p) = problem { p.flash.error role="alert" { (p) } }
        form.sign-in method="post" action="/account/sign-in" {
            input type="hidden" name="csrf" value=(csrf);
            div.field {
                label for="credential" { (ctx.t("sign-in-credential")) }
                input id="credential" name="credential" type="password" required autocomplete="off" spellcheck="false";
            }
            button type="submit" { (ctx.t("sign-in-button")) }
        }
    };
    layout(ctx, &ctx.t("sign-in-title"), body)
}

fn sign_out(ctx: &Ctx) -> Markup {
    html! {
        form.inline method="post" action="/account/sign-out" {
            (ctx.csrf_field())
            button type="submit" { (ctx.t("sign-out")) }
        }
    }
}

fn countdown(ctx: &Ctx, d: &Deadline) -> Markup {
    let status = d.status(ctx.today);
    let left = (d.due - ctx.today).get_days();
    html! {
        li class={"deadline deadline-" (status)} {
            (ctx.t(&format!("step-{}", d.what.replace('_', "-")))) ": " (ctx.time(d.due)) " "
            span class={"badge deadline-" (status)} { (ctx.t(&format!("deadline-{status}"))) }
            @if status == "pending" { " " (ctx.ta("days-left", &[("days", left.to_string())])) }
        }
    }
}

fn text_action(
    ctx: &Ctx,
    action: &str,
    view: &CaseView,
    field: &str,
    label: &str,
    button: &str,
) -> Markup {
    let r = &view.record.record;
    let id = format!("{action}-{}", r.decision_no);
    html! {
        form.action method="post" action={"/account/records/" (r.authority) "/" (crate::query_escape(&r.decision_no)) "/" (action)} {
            (ctx.csrf_field())
            label for=(id) { (label) }
            textarea id=(id) name=(field) required rows="3" {}
            button type="submit" { (button) }
        }
    }
}

/// A company's self-service page.
pub fn company(
    ctx: &Ctx,
    subject: &Subject,
    rows: &[CompanyRow<'_>],
    flash: Option<&Flash>,
) -> String {
    let body = html! {
        h1 { (ctx.t("company-title")) }
        p { (subject.name) " · " span.code { (subject.id) } " · " a href={"/subjects/" (subject.id)} { (ctx.t("company-public-profile")) } }
        (sign_out(ctx))
        (flash_box(flash))
        @if rows.is_empty() { p { (ctx.t("profile-no-records")) } }
        @for row in rows {
            @let v = row.view;
            @let r = &v.record.record;
            article.record id={"record-" (r.decision_no)} data-authority=(r.authority) {
                h2 { (row.kind_name) " · " span.code { (r.decision_no) } }
                p { (row.authority_name) " · " (ctx.time(r.effective)) }
                p { (r.summary) }
                @if v.record.disputed { p.badge.flag { (ctx.t("record-disputed")) } }
                ul.case-state {
                    @if let Some((s, _)) = v.case.objection {
                        li { (ctx.t("case-objection")) ": " (ctx.t(&objection_state(s))) }
                    }
                    @if let Some((text, _)) = &v.case.reply { li { (ctx.t("record-reply")) ": " (text) } }
                    @if let Some((s, _)) = v.case.repair {
                        li { (ctx.t("case-repair")) ": " (ctx.t(repair_state(s))) }
                    }
                }
                @if !v.deadlines.is_empty() { ul.deadlines { @for d in &v.deadlines { (countdown(ctx, d)) } } }
                @let objection_open = matches!(v.case.objection, Some((ObjectionState::Filed | ObjectionState::Admitted, _)));
                @if !objection_open && ctx.today <= v.objection_until {
                    p { (ctx.ta("company-object-until", &[("date", ctx.date(v.objection_until))])) }
                    (text_action(ctx, "objection", v, "grounds", &ctx.t("company-grounds"), &ctx.t("company-object")))
                }
                (text_action(ctx, "reply", v, "text", &ctx.t("company-reply-text"), &ctx.t("company-reply")))
                @if let Some(opens) = v.repair_opens {
                    @if !matches!(v.case.repair, Some((RepairState::Applied | RepairState::Granted, _))) {
                        @if opens <= ctx.today {
                            (text_action(ctx, "repair", v, "statement", &ctx.t("company-repair-statement"), &ctx.t("company-repair")))
                        } @else {
                            p { (ctx.ta("company-repair-opens", &[("date", ctx.date(opens))])) }
                        }
                    }
                }
            }
        }
    };
    layout(ctx, &ctx.t("company-title"), body)
}

fn objection_state(s: ObjectionState) -> String {
    match s {
        ObjectionState::Filed => "case-filed".into(),
        ObjectionState::Admitted => "case-admitted".into(),
        ObjectionState::Refused => "case-refused".into(),
        ObjectionState::Decided(o) => format!("step-{}", o.as_str()),
    }
}

fn repair_state(s: RepairState) -> &'static str {
    match s {
        RepairState::Applied => "case-applied",
        RepairState::Granted => "case-granted",
        RepairState::Refused => "case-refused",
    }
}

fn decision_form(ctx: &Ctx, v: &CaseView, action: &str, choices: &[(&str, &str)]) -> Markup {
    let r = &v.record.record;
    let id = format!("{action}-{}", r.decision_no);
    html! {
        form.action method="post" action={"/account/records/" (r.authority) "/" (crate::query_escape(&r.decision_no)) "/" (action)} {
            (ctx.csrf_field())
            fieldset {
                legend { (ctx.t(&format!("console-{action}"))) }
                @for (i, (value, label)) in choices.iter().enumerate() {
                    label.choice { input type="radio" name="outcome" value=(value) required checked[i == 0]; " " (ctx.t(label)) }
                }
            }
            label for=(id) { (ctx.t("console-reason")) }
            textarea id=(id) name="reason" required rows="2" {}
            button type="submit" { (ctx.t("console-submit")) }
        }
    }
}

/// A form field; `pattern` is checked by the browser before the server checks everything.
fn field(ctx: &Ctx, name: &str, kind: &str, required: bool, pattern: Option<&str>) -> Markup {
    html! {
        div.field {
            label for={"f-" (name)} { (ctx.t(&format!("field-{}", name.replace('_', "-")))) @if !required { " " small { (ctx.t("optional")) } } }
            input id={"f-" (name)} name=(name) type=(kind) required[required] pattern=[pattern];
        }
    }
}

/// An authority's console.
pub fn console(ctx: &Ctx, v: &ConsoleView<'_>, flash: Option<&Flash>) -> String {
    let body = html! {
        h1 { (ctx.t("console-title")) }
        p { (v.authority_name) " · " span.code { (v.authority) } }
        (sign_out(ctx))
        (flash_box(flash))
        section aria-labelledby="cases-h" {
            h2 id="cases-h" { (ctx.ta("console-open", &[("count", v.open.len().to_string())])) }
            @if v.open.is_empty() { p { (ctx.t("console-no-open")) } }
            @for c in v.open {
                @let r = &c.record.record;
                article.case id={"case-" (r.decision_no)} {
                    h3 { span.code { (r.decision_no) } " · " a href={"/subjects/" (r.subject)} { (r.subject) } }
                    ul.deadlines { @for d in &c.deadlines { @if d.done.is_none() { (countdown(ctx, d)) } } }
                    @match c.case.objection {
                        Some((ObjectionState::Filed, _)) => {
                            (history_text(c, "objection_filed"))
                            (decision_form(ctx, c, "answer", &[("admit", "console-admit"), ("refuse", "console-refuse")]))
                        }
                        Some((ObjectionState::Admitted, _)) => {
                            (history_text(c, "objection_filed"))
                            (decision_form(ctx, c, "decide", &[("upheld", "step-upheld"), ("withdrawn", "step-withdrawn")]))
                        }
                        _ => {}
                    }
                    @if matches!(c.case.repair, Some((RepairState::Applied, _))) {
                        (history_text(c, "repair_applied"))
                        (decision_form(ctx, c, "repair-decision", &[("grant", "console-grant"), ("refuse", "console-refuse")]))
                    }
                }
            }
        }
        section aria-labelledby="file-h" {
            h2 id="file-h" { (ctx.t("console-file")) }
            form.file method="post" action="/account/file" {
                (ctx.csrf_field())
                (field(ctx, "decision_no", "text", true, None))
                (field(ctx, "subject", "text", true, Some("[0-9A-Za-z]{18}|[0-9A-Za-z]{20}")))
                div.field {
                    label for="f-kind" { (ctx.t("field-kind")) }
                    select id="f-kind" name="kind" required { @for (id, name) in &v.kinds { option value=(id) { (name) } } }
                }
                (field(ctx, "decided", "date", true, None))
                (field(ctx, "effective", "date", true, None))
                (field(ctx, "basis", "text", true, None))
                (field(ctx, "summary", "text", true, None))
                (field(ctx, "amount", "text", false, Some("[0-9]+([.][0-9]{1,2})?")))
                (field(ctx, "currency", "text", false, Some("[A-Za-z]{3}")))
                (field(ctx, "document_sha256", "text", false, Some("[0-9a-fA-F]{64}")))
                button type="submit" { (ctx.t("console-file-button")) }
            }
        }
        section aria-labelledby="upload-h" {
            h2 id="upload-h" { (ctx.t("console-upload")) }
            p { (ctx.t("console-upload-lead")) }
            @if let Some((filed, duplicates, rejected)) = v.upload {
                p role="status" { (ctx.ta("console-upload-result", &[("filed", filed.to_string()), ("duplicates", duplicates.to_string()), ("rejected", rejected.to_string())])) }
                @if rejected > 0 { p { a href="/account/rejects.csv" download="rejects.csv" { (ctx.t("console-rejects")) } } }
            }
            form id="upload" method="post" action="/account/upload" enctype="multipart/form-data" {
                (ctx.csrf_field())
                div.field {
                    label for="f-file" { (ctx.t("console-upload-file")) }
                    input id="f-file" name="file" type="file" accept=".csv,.jsonl,.ndjson" required;
                }
                progress id="upload-progress" max="100" value="0" hidden aria-label=(ctx.t("console-upload-progress")) {}
                button type="submit" { (ctx.t("console-upload-button")) }
            }
            script src="/static/console.js" defer {}
        }
    };
    layout(ctx, &ctx.t("console-title"), body)
}

fn history_text(c: &CaseView, what: &str) -> Markup {
    let text = c.history.iter().rev().find(|h| h.what == what).and_then(|h| h.text.clone());
    html! { @if let Some(t) = text { blockquote { (t) } } }
}

/// The page an operator sees when signed in.
pub fn operator(ctx: &Ctx) -> String {
    let body = html! {
        h1 { (ctx.t("operator-title")) }
        p { (ctx.t("operator-lead")) }
        (sign_out(ctx))
    };
    layout(ctx, &ctx.t("operator-title"), body)
}

/// One of a subscriber's watchlists, with the changes since the owner last saw it.
#[derive(Debug, Clone)]
pub struct WatchlistRow<'a> {
    /// The watchlist.
    pub list: &'a WatchlistView,
    /// Its changes since the last visit, oldest first.
    pub changes: &'a [WatchedChange],
    /// Whether there are more than shown.
    pub more: bool,
}

fn answer_text(ctx: &Ctx, a: Option<&probity_store::Answer>, what: &str) -> String {
    let Some(a) = a else { return "—".into() };
    match what {
        "grade" => a.grade.clone().unwrap_or_else(|| "—".into()),
        "lists" if a.lists.is_empty() => ctx.t("watch-no-list"),
        "lists" => a.lists.join(", "),
        m => m
            .strip_prefix("decision:")
            .and_then(|m| a.decisions.get(m))
            .map_or_else(|| "—".into(), |d| ctx.t(&format!("decision-{d}"))),
    }
}

fn cause_text(ctx: &Ctx, c: &probity_store::Cause) -> String {
    match c {
        probity_store::Cause::Event { index, event } => {
            ctx.ta("watch-cause-event", &[("event", event.clone()), ("index", index.to_string())])
        }
        probity_store::Cause::Rulebook { version } => {
            ctx.ta("watch-cause-rulebook", &[("version", version.clone())])
        }
        probity_store::Cause::Date => ctx.t("watch-cause-date"),
    }
}

/// A subscriber's page: each watchlist, its webhook's health, and what changed since the last
/// visit.
pub fn subscriber(ctx: &Ctx, name: &str, rows: &[WatchlistRow<'_>]) -> String {
    let body = html! {
        h1 { (ctx.ta("watch-title", &[("name", name.to_owned())])) }
        p { (ctx.t("watch-lead")) }
        @if rows.is_empty() { p { (ctx.t("watch-none")) } }
        @for r in rows {
            section.watchlist id={"watchlist-" (r.list.id)} {
                h2 { (r.list.label) " " small { code { (r.list.id) } } }
                p {
                    (ctx.ta("watch-subjects", &[("count", ctx.int(r.list.subjects))])) " · "
                    @if r.list.measures.is_empty() { (ctx.t("watch-all-measures")) }
                    @else { (ctx.ta("watch-measures", &[("measures", r.list.measures.join(", "))])) }
                }
                @if let Some(h) = &r.list.webhook {
                    p.webhook data-health=(h.health) {
                        (ctx.t("watch-webhook")) " " code { (h.url) } ": "
                        strong { (ctx.t(&format!("watch-health-{}", h.health))) }
                        @if let Some(e) = &h.last_error { " · " (ctx.ta("watch-last-error", &[("error", e.clone())])) }
                        @if h.attempts > 0 { " · " (ctx.ta("watch-attempts", &[("count", h.attempts.to_string())])) }
                        @if let Some(t) = h.last_success { " · " (ctx.ta("watch-last-success", &[("time", t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())])) }
                    }
                }
                @if r.changes.is_empty() {
                    p.quiet { (ctx.t("watch-no-changes")) }
                } @else {
                    table.changes {
                        caption { (ctx.t("watch-changes")) }
                        thead { tr {
                            th { (ctx.t("field-subject")) } th { (ctx.t("watch-col-what")) }
                            th { (ctx.t("watch-col-before")) } th { (ctx.t("watch-col-after")) }
                            th { (ctx.t("watch-col-why")) } th { (ctx.t("watch-col-on")) }
                        } }
                        tbody {
                            @for c in r.changes { @for what in &c.changed {
                                tr {
                                    td { a href={"/subjects/" (c.subject)} { code { (c.subject) } } }
                                    td { (what) }
                                    td { (answer_text(ctx, c.before.as_ref(), what)) }
                                    td { (answer_text(ctx, Some(&c.after), what)) }
                                    td { (cause_text(ctx, &c.cause)) }
                                    td { (ctx.time(c.as_of)) }
                                }
                            } }
                        }
                    }
                    @if r.more { p { (ctx.t("watch-more")) } }
                }
            }
        }
        (sign_out(ctx))
    };
    layout(ctx, &ctx.ta("watch-title", &[("name", name.to_owned())]), body)
}
