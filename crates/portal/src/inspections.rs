//! The inspection pages: every plan, and one plan with its sampling rate by class, the firms
//! drawn and their teams (`docs/inspection.md`).

use std::collections::BTreeMap;

use maud::html;
use probity_registry::{PlanStatus, PlanView};
use probity_rules::inspection::percent;

use crate::chart::{self, Labels};
use crate::{Ctx, layout, query_escape};

/// Firms drawn shown per page.
pub const DRAWN_PER_PAGE: usize = 100;

fn status(ctx: &Ctx, s: PlanStatus) -> String {
    ctx.t(match s {
        PlanStatus::AwaitingBeacon => "inspection-status-awaiting",
        PlanStatus::ReadyToDraw => "inspection-status-ready",
        PlanStatus::Drawn => "inspection-status-drawn",
    })
}

fn href(v: &PlanView) -> String {
    format!("/inspections/{}/{}", v.plan.authority, query_escape(&v.plan.plan_no))
}

/// Every plan, newest first.
pub fn inspections(
    ctx: &Ctx,
    plans: &[PlanView],
    authorities: &BTreeMap<String, String>,
) -> String {
    let name = |id: &str| authorities.get(id).cloned().unwrap_or_else(|| id.to_owned());
    let body = html! {
        h1 { (ctx.t("nav-inspections")) }
        p { (ctx.t("inspections-intro")) " " a href="/v1/inspections" { (ctx.t("inspections-api")) } }
        @if plans.is_empty() {
            p role="status" { (ctx.t("inspections-none")) }
        } @else {
            table.results {
                thead { tr {
                    th scope="col" { (ctx.t("col-plan")) }
                    th scope="col" { (ctx.t("col-authority")) }
                    th scope="col" { (ctx.t("col-ratios")) }
                    th scope="col" { (ctx.t("col-status")) }
                    th scope="col" { (ctx.t("col-drawn")) }
                } }
                tbody {
                    @for v in plans.iter().rev() {
                        tr {
                            td { a href=(href(v)) { (v.plan.plan_no) } br; small { (v.plan.title) } }
                            td { (name(v.plan.authority.as_str())) }
                            td { @for (i, (c, bp)) in v.plan.ratios.iter().enumerate() { @if i > 0 { ", " } (c) " " (percent(*bp)) } }
                            td { (status(ctx, v.status)) }
                            td { @if let Some(d) = &v.draw { (ctx.int(d.selected.len() as u64)) " / " (ctx.int(d.population.values().sum())) } }
                        }
                    }
                }
            }
        }
    };
    layout(ctx, &ctx.t("nav-inspections"), body)
}

/// What one plan's page shows besides the plan.
pub struct PlanPage<'a> {
    /// The plan.
    pub view: &'a PlanView,
    /// The authority's name.
    pub authority: &'a str,
    /// The firms drawn on this page: code, name (if the registry holds it), class, team, and the
    /// outcome once filed.
    pub drawn: Vec<(String, String, String, u32, Option<probity_registry::InspectionOutcome>)>,
    /// The rulebook in force, for the names of outcome kinds.
    pub rulebook: &'a probity_rules::Rulebook,
    /// This page, from 0.
    pub page: usize,
}

/// One plan: what it asked for, the draw's sampling rate by class, and the firms drawn.
pub fn inspection(ctx: &Ctx, p: &PlanPage<'_>) -> String {
    let v = p.view;
    let title = format!("{} · {}", v.plan.plan_no, v.plan.title);
    let rows: Vec<(String, Vec<u64>)> = v
        .draw
        .iter()
        .flat_map(|d| {
            d.population.iter().map(|(class, n)| {
                let selected = d.selected.iter().filter(|t| &t.class == class).count() as u64;
                (class.clone(), vec![selected, n.saturating_sub(selected)])
            })
        })
        .collect();
    let parts = [ctx.t("inspection-selected"), ctx.t("inspection-not-selected")];
    let total = v.draw.as_ref().map_or(0, |d| d.selected.len());
    let pages = total.div_ceil(DRAWN_PER_PAGE);
    let base = href(v);
    let body = html! {
        h1 { (v.plan.title) }
        dl.identity {
            div { dt { (ctx.t("col-plan")) } dd { (v.plan.plan_no) } }
            div { dt { (ctx.t("col-authority")) } dd { (p.authority) } }
            div { dt { (ctx.t("col-status")) } dd { (status(ctx, v.status)) } }
            div { dt { (ctx.t("basis")) } dd { (v.plan.basis) } }
            div { dt { (ctx.t("inspection-items")) } dd { @for (i, item) in v.plan.items.iter().enumerate() { @if i > 0 { ", " } code { (item) } } } }
            div { dt { (ctx.t("inspection-teams")) } dd { (v.plan.teams) " · " (ctx.t("inspection-commitment")) " " code { (String::from(v.plan.team_commitment)) } } }
            div { dt { (ctx.t("inspection-beacon")) } dd { "drand quicknet, " (ctx.ta("inspection-round", &[("round", v.plan.beacon.round.to_string())])) " · " (v.round_at.to_string()) } }
            div { dt { (ctx.t("inspection-planned")) } dd { (ctx.ta("inspection-entry", &[("index", v.planned.to_string())])) " · " (v.planned_at.to_string()) } }
            @if let (Some(at), Some(index)) = (v.drawn_at, v.drawn) {
                div { dt { (ctx.t("inspection-drawn")) } dd { (ctx.ta("inspection-entry", &[("index", index.to_string())])) " · " (at.to_string()) } }
            }
            @if let Some(by) = v.publish_by {
                div { dt { (ctx.t("inspection-publish-by")) } dd { (ctx.time(by)) } }
            }
        }
        table.results {
            caption { (ctx.t("col-ratios")) }
            thead { tr { th scope="col" { (ctx.t("inspection-class")) } th scope="col" { (ctx.t("inspection-ratio")) } } }
            tbody { @for (c, bp) in &v.plan.ratios { tr { th scope="row" { (c) } td { (percent(*bp)) } } } }
        }
        @if v.draw.is_some() {
            (chart::stacked("sampling", &Labels { caption: &ctx.t("inspection-chart-caption"), key: &ctx.t("inspection-class"), data: &ctx.t("chart-data") }, &parts, &rows))
            h2 { (ctx.t("inspection-firms")) }
            table.results {
                thead { tr {
                    th scope="col" { (ctx.t("col-name")) }
                    th scope="col" { (ctx.t("col-code")) }
                    th scope="col" { (ctx.t("inspection-class")) }
                    th scope="col" { (ctx.t("inspection-team")) }
                    th scope="col" { (ctx.t("inspection-outcome")) }
                } }
                tbody {
                    @for (code, name, class, team, outcome) in &p.drawn {
                        tr {
                            td { a href={"/subjects/" (code)} { (name) } }
                            td.code { (code) }
                            td { (class) }
                            td { (team) }
                            td { @match outcome {
                                Some(o) => { (ctx.kind_name(p.rulebook, &o.kind)) " (" (ctx.time(o.filed)) ")" },
                                None => (ctx.t("profile-inspection-pending")),
                            } }
                        }
                    }
                }
            }
            @if pages > 1 {
                nav.pager aria-label=(ctx.t("pager")) {
                    @if p.page > 0 { a rel="prev" href={(base) "?page=" (p.page - 1)} { (ctx.t("pager-prev")) } " " }
                    (ctx.ta("pager-of", &[("page", (p.page + 1).to_string()), ("pages", pages.to_string())]))
                    @if p.page + 1 < pages { " " a rel="next" href={(base) "?page=" (p.page + 1)} { (ctx.t("pager-next")) } }
                }
            }
        } @else {
            p role="status" { (ctx.t("inspection-not-drawn")) }
        }
        p { a href=(format!("/v1{}?proof=true", &base)) { (ctx.t("inspection-json")) } " · " a href="/inspections" { (ctx.t("nav-inspections")) } }
    };
    layout(ctx, &title, body)
}
