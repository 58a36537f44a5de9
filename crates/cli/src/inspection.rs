//! `probity inspection`: risk-weighted "double random" inspections from the command line
//! (`docs/inspection.md`).

use probity_stores::Stores as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;
use probity_core::{InspectionPlan, PlanKey, Slug};
use probity_registry::{PlanView, Registry};
use probity_rules::inspection::percent;
use serde::Deserialize;

use crate::exit;
use crate::progress::Bar;

#[derive(Debug, Subcommand)]
pub enum InspectionCommand {
    /// File an inspection plan (JSON, as `docs/inspection.md` shows): scope, items, a ratio per
    /// risk class in basis points, the number of teams and a SHA-256 commitment to their list,
    /// and a future round of drand's quicknet. It is checked against the rulebook in force and
    /// journalled before the round exists.
    Plan {
        /// The plan (JSON).
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Draw a plan once its beacon round is out: the round's signature is verified offline
    /// against the beacon's public key, the population is rebuilt from the log up to the plan,
    /// and the selection is journalled.
    Draw {
        /// The plan's authority.
        authority: String,
        /// Its plan number.
        plan_no: String,
        /// The beacon round as drand's HTTP API serves it (`/public/<round>`: JSON with
        /// `round` and `signature`).
        #[arg(long)]
        beacon: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Recompute a plan's draw from the log alone (every entry up to the draw replayed and
    /// checked against its leaf) and compare it with the one recorded. Exits 1 if they differ.
    Verify {
        /// The plan's authority.
        authority: String,
        /// Its plan number.
        plan_no: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show every plan, or one with its selection.
    Show {
        /// The plan's authority (with its plan number: one plan).
        authority: Option<String>,
        /// Its plan number.
        plan_no: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A beacon round as drand's HTTP API serves it.
#[derive(Debug, Deserialize)]
struct BeaconFile {
    round: u64,
    signature: String,
    /// SHA-256 of the signature, if given: checked.
    randomness: Option<String>,
}

fn key(authority: &str, plan_no: &str) -> anyhow::Result<PlanKey> {
    Ok(PlanKey { authority: Slug::parse("authority", authority)?, plan_no: plan_no.to_owned() })
}

pub fn run(data: &Path, cmd: InspectionCommand) -> anyhow::Result<u8> {
    let mut reg = Registry::open(data)?;
    match cmd {
        InspectionCommand::Plan { file, json } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read plan `{}`", file.display()))?;
            let plan: InspectionPlan = serde_json::from_str(&text)
                .with_context(|| format!("plan `{}` is not a plan in JSON", file.display()))?;
            let key = plan.key();
            let index = reg.file_plan(plan)?;
            let view = reg.plan(&key)?.context("the plan just filed is missing")?;
            crate::print_json_or(json, &serde_json::json!({"index": index, "plan": view}), |_| {
                match index {
                    Some(i) => outln!("filed inspection plan {key} at log entry {i}"),
                    None => outln!("inspection plan {key} was filed before; nothing written"),
                }
                outln!("beacon round {} is published at {}", view.plan.beacon.round, view.round_at);
                Ok(())
            })?;
        }
        InspectionCommand::Draw { authority, plan_no, beacon, json } => {
            let key = key(&authority, &plan_no)?;
            let text = std::fs::read_to_string(&beacon)
                .with_context(|| format!("cannot read beacon round `{}`", beacon.display()))?;
            let round: BeaconFile = serde_json::from_str(&text).with_context(|| {
                format!(
                    "`{}` is not a drand round (JSON with round and signature)",
                    beacon.display()
                )
            })?;
            probity_rules::inspection::check_randomness(
                round.round,
                &round.signature,
                round.randomness.as_deref(),
            )
            .with_context(|| format!("`{}`", beacon.display()))?;
            let bar = Bar::bytes(None, "replaying");
            let drawn = reg.draw_plan(&key, round.round, &round.signature, &bar);
            bar.finish();
            let (index, draw) = drawn?;
            crate::print_json_or(json, &serde_json::json!({"index": index, "draw": draw}), |_| {
                match index {
                    Some(i) => outln!("drew inspection plan {key} at log entry {i}"),
                    None => outln!("inspection plan {key} was drawn before; nothing written"),
                }
                for (class, n) in &draw.population {
                    let selected = draw.selected.iter().filter(|t| &t.class == class).count();
                    outln!("  class {class}: {selected} of {n} selected");
                }
                Ok(())
            })?;
        }
        InspectionCommand::Verify { authority, plan_no, json } => {
            let key = key(&authority, &plan_no)?;
            let bar = Bar::bytes(None, "replaying");
            let started = std::time::Instant::now();
            let check = reg.verify_draw(&key, &bar);
            bar.finish();
            let check = check?;
            let secs = started.elapsed().as_secs_f64();
            crate::print_json_or(json, &check, |c| {
                if c.verified {
                    outln!(
                        "the draw of {key} is the one its plan, the log up to it and its beacon \
                         round give ({} entries replayed in {secs:.1} s; {} selected)",
                        c.entries,
                        c.selected
                    );
                } else {
                    outln!("the draw of {key} does NOT verify:");
                }
                for p in &c.problems {
                    outln!("  {p}");
                }
                Ok(())
            })?;
            if !check.verified {
                return Ok(exit::FAILURE);
            }
        }
        InspectionCommand::Show { authority, plan_no, json } => match (authority, plan_no) {
            (Some(a), Some(n)) => {
                let key = key(&a, &n)?;
                let Some(view) = reg.plan(&key)? else {
                    eprintln!("error: no inspection plan `{key}`");
                    return Ok(exit::NOT_FOUND);
                };
                let outcomes = reg.outcomes(&view)?;
                let mut out = serde_json::to_value(&view)?;
                if let Some(fields) = out.as_object_mut() {
                    fields.insert("outcomes".into(), serde_json::to_value(&outcomes)?);
                }
                crate::print_json_or(json, &out, |_| {
                    describe(&view)?;
                    for t in view.draw.iter().flat_map(|d| &d.selected) {
                        let outcome = outcomes.iter().find(|o| o.subject == t.subject);
                        let outcome = outcome.map_or("result pending", |o| o.kind.as_str());
                        outln!("  {}  class {}  team {}  {outcome}", t.subject, t.class, t.team);
                    }
                    Ok(())
                })?;
            }
            (None, None) => crate::print_json_or(json, &reg.plans()?, |plans| {
                for v in plans {
                    describe(v)?;
                }
                Ok(())
            })?,
            _ => anyhow::bail!("give the plan's authority and its plan number, or neither"),
        },
    }
    Ok(exit::OK)
}

fn describe(v: &PlanView) -> anyhow::Result<()> {
    let ratios: Vec<String> =
        v.plan.ratios.iter().map(|(c, bp)| format!("{c} {}", percent(*bp))).collect();
    outln!(
        "{} — {} (entry {}, {}): {}; round {} at {}",
        v.plan.key(),
        v.plan.title,
        v.planned,
        serde_json::to_value(v.status)?.as_str().unwrap_or("?"),
        ratios.join(", "),
        v.plan.beacon.round,
        v.round_at
    );
    if let (Some(d), Some(by)) = (&v.draw, v.publish_by) {
        outln!(
            "  drawn at entry {}: {} selected; results due by {by}",
            v.drawn.unwrap_or(0),
            d.selected.len()
        );
    }
    Ok(())
}

/// drand quicknet round 123 as drand's HTTP API served it, shipped so that the demo and the
/// benchmark draw with a real round and never fetch one.
pub const SHIPPED_ROUND: &str = include_str!("../data/drand-quicknet-123.json");
/// An instant before the shipped round was published (2023-08-23T15:15:33Z): a plan on it is
/// recorded by then.
pub const BEFORE_SHIPPED_ROUND: &str = "2023-08-23T08:00:00Z";
/// An instant after it, when its plan is drawn.
pub const AFTER_SHIPPED_ROUND: &str = "2023-08-24T09:00:00Z";

/// A clock stopped at `instant` (one of the constants above).
pub fn stopped_at(instant: &str) -> anyhow::Result<probity_registry::FixedClock> {
    Ok(probity_registry::FixedClock(instant.parse()?))
}

/// Files a plan numbered `plan_no` of the registry's first market regulator on the shipped
/// round (see [`sample_plan`]); the registry's clock must stand before the round.
pub fn file_sample_plan(reg: &mut Registry, plan_no: &str) -> anyhow::Result<PlanKey> {
    let authority = reg
        .store()
        .authorities()?
        .into_iter()
        .find(|a| a.category.as_str() == "market_regulation")
        .map(|a| a.id)
        .context("the registry has no market regulator to plan an inspection")?;
    let plan = sample_plan(reg, &authority, plan_no)?;
    let key = plan.key();
    reg.file_plan(plan)?;
    Ok(key)
}

/// A plan of `authority` on the shipped round: every general item of the rulebook in force, each
/// class at the rulebook's minimum ratio, four teams.
pub fn sample_plan(
    reg: &Registry,
    authority: &Slug,
    plan_no: &str,
) -> anyhow::Result<InspectionPlan> {
    use sha2::Digest as _;
    let book = reg.rulebook_at(reg.today());
    let section = book.inspection().context("the rulebook in force plans no inspections")?;
    let items = section
        .items
        .values()
        .filter(|i| i.kind == probity_rules::inspection::ItemKind::General)
        .map(|i| Slug::parse("item", &i.id))
        .collect::<Result<Vec<_>, _>>()?;
    let teams = "team 1: district office east\nteam 2: district office west\nteam 3: special \
                 equipment\nteam 4: food safety\n";
    let round: BeaconFile = serde_json::from_str(SHIPPED_ROUND)?;
    Ok(InspectionPlan {
        authority: authority.clone(),
        plan_no: plan_no.to_owned(),
        title: "Publicised information and registered addresses, 2023".into(),
        basis: "Interim Regulations on Enterprise Information Publicity (2014), Art. 14".into(),
        scope: probity_core::Scope::default(),
        items,
        ratios: section.classes.iter().map(|c| (c.class.clone(), c.min)).collect(),
        teams: 4,
        team_commitment: probity_core::DocumentHash::from_bytes(
            sha2::Sha256::digest(teams.as_bytes()).into(),
        ),
        beacon: probity_core::BeaconRound {
            chain: probity_rules::inspection::QUICKNET.chain.into(),
            round: round.round,
        },
    })
}

/// Draws `key` with the shipped round.
pub fn draw_with_shipped_round(
    reg: &mut Registry,
    key: &PlanKey,
    progress: &dyn probity_registry::Progress,
) -> anyhow::Result<probity_core::InspectionDraw> {
    let round: BeaconFile = serde_json::from_str(SHIPPED_ROUND)?;
    Ok(reg.draw_plan(key, round.round, &round.signature, progress)?.1)
}

/// Files outcomes for the first two thirds of a draw's selection, as an authority would over the
/// weeks after it: mostly no issue, some issues found, a few not at their registered address.
/// Returns how many were filed.
pub fn sample_outcomes(
    reg: &mut Registry,
    key: &PlanKey,
    draw: &probity_core::InspectionDraw,
) -> anyhow::Result<usize> {
    let today = reg.today().to_string();
    let rows: Vec<String> = draw
        .selected
        .iter()
        .take(draw.selected.len() * 2 / 3)
        .enumerate()
        .map(|(i, t)| {
            let kind = match i % 10 {
                0 => "inspection.not_at_address",
                3 | 7 => "inspection.issues_found",
                _ => "inspection.no_issue",
            };
            serde_json::json!({
                "authority": key.authority, "decision_no": format!("{}-R{:04}", key.plan_no, i + 1),
                "subject": t.subject, "kind": kind, "decided": today, "effective": today,
                "basis": "Interim Regulations on Enterprise Information Publicity (2014), Art. 14",
                "inspection_plan": key.plan_no
            })
            .to_string()
        })
        .collect();
    let results = reg.file_records(&key.authority, &rows)?;
    if let Some(bad) = results.iter().find(|r| r.status == "rejected") {
        anyhow::bail!("an outcome of the demo was rejected: {:?}", bad.reason);
    }
    Ok(results.len())
}
