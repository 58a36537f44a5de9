//! Risk-weighted "double random" inspections: the rulebook's `[inspection]` section, the check
//! of a plan against it, the beacon round that decides a draw, and the draw itself.
//!
//! The draw is a pure function of three things: the plan's leaf hash in the log, the population
//! (every subject in the plan's scope with its risk class, as the log stood just before the plan),
//! and the randomness of the plan's beacon round. `docs/inspection.md` specifies it byte for byte:
//!
//! - randomness = SHA-256(beacon signature) (drand's definition);
//! - seed = SHA-256([`DRAW_TAG`] ‖ plan leaf hash ‖ randomness);
//! - in each class (in the order of the classes' names), the ⌈ratio × N⌉ subjects with the
//!   smallest SHA-256(seed ‖ code), code in ASCII, ties (none in practice) broken by code;
//! - the i-th subject selected (from 0, over all classes in that order) goes to team
//!   (i mod teams) + 1.

use std::collections::BTreeMap;

use probity_core::{
    BeaconRound, Date, InspectionDraw, InspectionPlan, SubjectId, SubjectKind, Target, Timestamp,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::policy::At;
use crate::{RulebookError, Scoring};

/// The domain tag that starts the seed's hash input.
pub const DRAW_TAG: &[u8] = b"probity-inspection-draw-v1";

/// Basis points in a whole.
const WHOLE: u32 = 10_000;

/// Whether an inspection item's sampling ratio is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A key item (重点检查事项): no upper limit on the ratio.
    Key,
    /// A general item (一般检查事项): the class's upper bound applies.
    General,
}

/// An inspection item of the rulebook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Its id.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Key or general.
    pub kind: ItemKind,
    /// Where the item comes from.
    pub basis: String,
}

/// A risk class: the grades it holds and the bounds of its sampling ratio, in basis points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskClass {
    /// Its name, e.g. `A`.
    pub class: String,
    /// The grades in it.
    pub grades: Vec<String>,
    /// The lowest ratio a plan may set: above zero, so no one is exempt.
    pub min: u32,
    /// The highest ratio a plan with a general item may set.
    pub max: u32,
}

/// The rulebook's `[inspection]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// Risk classes, as the rulebook lists them.
    pub classes: Vec<RiskClass>,
    /// Inspection items by id.
    pub items: BTreeMap<String, Item>,
    /// Working days after the draw within which results are published.
    pub publish_within: u32,
    /// Where the section comes from.
    pub basis: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInspection {
    publish_within_working_days: u32,
    basis: String,
    classes: Vec<Spanned<RawClass>>,
    items: BTreeMap<String, Spanned<RawItem>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClass {
    class: String,
    grades: Vec<String>,
    min: String,
    max: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    name: String,
    kind: ItemKind,
    basis: String,
}

/// Parses a percentage with at most two decimals (`1%`, `0.5%`, `100%`) into basis points.
pub fn parse_percent(text: &str) -> Option<u32> {
    let n = text.trim().strip_suffix('%')?.trim();
    let (whole, frac) = n.split_once('.').unwrap_or((n, ""));
    if whole.is_empty()
        || frac.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || (n.contains('.') && frac.is_empty())
        || whole.len() > 3
    {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    let frac: u32 = if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().ok()? };
    Some(whole * 100 + frac).filter(|bp| *bp <= WHOLE)
}

/// Writes basis points as a percentage: `100` → `1%`, `50` → `0.5%`.
pub fn percent(bp: u32) -> String {
    let (whole, frac) = (bp / 100, bp % 100);
    match frac {
        0 => format!("{whole}%"),
        f if f % 10 == 0 => format!("{whole}.{}%", f / 10),
        f => format!("{whole}.{f:02}%"),
    }
}

pub(crate) fn inspection(
    raw: Spanned<RawInspection>,
    scoring: Option<&Scoring>,
    at: At<'_>,
) -> Result<Inspection, RulebookError> {
    let offset = raw.span().start;
    let raw = raw.into_inner();
    let Some(scoring) = scoring else {
        return Err(at(
            offset,
            "inspection",
            "risk classes are made of grades: an [inspection] section needs a [scoring] model"
                .into(),
        ));
    };
    if raw.basis.trim().is_empty() {
        return Err(at(offset, "inspection.basis", "the section must cite its basis".into()));
    }
    if raw.publish_within_working_days == 0 {
        return Err(at(
            offset,
            "inspection.publish_within_working_days",
            "results are published within at least one working day".into(),
        ));
    }
    let grades = scoring.grades();
    let mut classes: Vec<RiskClass> = Vec::new();
    for c in raw.classes {
        let o = c.span().start;
        let c = c.into_inner();
        let key = format!("inspection.classes.{}", c.class);
        if c.class.is_empty() || !c.class.chars().all(|ch| ch.is_ascii_alphanumeric()) {
            return Err(at(o, &key, format!("class name `{}` is not letters and digits", c.class)));
        }
        if classes.iter().any(|x| x.class == c.class) {
            return Err(at(o, &key, format!("class `{}` appears twice", c.class)));
        }
        let bound = |text: &str| {
            parse_percent(text).ok_or_else(|| {
                at(o, &key, format!("`{text}` is not a percentage such as `5%` or `0.5%`"))
            })
        };
        let (min, max) = (bound(&c.min)?, bound(&c.max)?);
        if min == 0 {
            return Err(at(o, &key, "the minimum ratio must be above 0%: no one is exempt".into()));
        }
        if min > max {
            return Err(at(o, &key, format!("minimum {} is above maximum {}", c.min, c.max)));
        }
        for g in &c.grades {
            if !grades.contains(&g.as_str()) {
                return Err(at(o, &key, format!("grade `{g}` is not a grade of the scoring")));
            }
            if let Some(other) = classes.iter().find(|x| x.grades.contains(g)) {
                return Err(at(o, &key, format!("grade `{g}` is in class `{}` too", other.class)));
            }
        }
        classes.push(RiskClass { class: c.class, grades: c.grades, min, max });
    }
    for g in &grades {
        if !classes.iter().any(|c| c.grades.iter().any(|x| x == g)) {
            return Err(at(
                offset,
                "inspection.classes",
                format!("grade `{g}` is in no risk class: no one is exempt"),
            ));
        }
    }
    if raw.items.is_empty() {
        return Err(at(offset, "inspection.items", "no inspection items".into()));
    }
    let mut items = BTreeMap::new();
    for (id, item) in raw.items {
        let o = item.span().start;
        let item = item.into_inner();
        if item.basis.trim().is_empty() {
            return Err(at(o, &format!("inspection.items.{id}.basis"), "missing basis".into()));
        }
        items.insert(id.clone(), Item { id, name: item.name, kind: item.kind, basis: item.basis });
    }
    Ok(Inspection {
        classes,
        items,
        publish_within: raw.publish_within_working_days,
        basis: raw.basis,
    })
}

/// Why a plan or a draw was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InspectionError {
    /// The plan asks for what the rulebook does not allow.
    #[error("inspection plan {plan}: {problem}")]
    Plan {
        /// The plan's key.
        plan: String,
        /// What is wrong.
        problem: String,
    },
    /// The beacon round offered is not the plan's, or its signature does not verify.
    #[error("beacon round {round}: {problem}")]
    Beacon {
        /// The round offered.
        round: u64,
        /// What is wrong.
        problem: String,
    },
}

impl Inspection {
    /// The risk class of a grade.
    pub fn class_of(&self, grade: &str) -> Option<&str> {
        self.classes.iter().find(|c| c.grades.iter().any(|g| g == grade)).map(|c| c.class.as_str())
    }

    /// Checks a plan against this section and the beacon: its items exist, it sets a ratio for
    /// exactly the rulebook's classes, each at least the class's minimum and, when any item is
    /// general, at most its maximum; its beacon is one this registry verifies, and its round is
    /// published only after `planned` (the instant the plan is recorded).
    pub fn check_plan(
        &self,
        plan: &InspectionPlan,
        planned: Timestamp,
    ) -> Result<(), InspectionError> {
        let fail =
            |problem: String| Err(InspectionError::Plan { plan: plan.key().to_string(), problem });
        for item in &plan.items {
            if !self.items.contains_key(item.as_str()) {
                return fail(format!("item `{item}` is not an inspection item of the rulebook"));
            }
        }
        let general = plan
            .items
            .iter()
            .any(|i| self.items.get(i.as_str()).is_some_and(|x| x.kind == ItemKind::General));
        for class in &self.classes {
            let Some(&bp) = plan.ratios.get(&class.class) else {
                return fail(format!(
                    "no ratio for risk class `{}`: no one is exempt",
                    class.class
                ));
            };
            if bp < class.min {
                return fail(format!(
                    "class `{}` ratio {} is below the rulebook's minimum {}",
                    class.class,
                    percent(bp),
                    percent(class.min)
                ));
            }
            if general && bp > class.max {
                return fail(format!(
                    "class `{}` ratio {} is above the rulebook's maximum {} for general items \
                     (only a plan of key items alone may exceed it)",
                    class.class,
                    percent(bp),
                    percent(class.max)
                ));
            }
        }
        if let Some(extra) = plan.ratios.keys().find(|k| self.class_of_name(k).is_none()) {
            return fail(format!("`{extra}` is not a risk class of the rulebook"));
        }
        let beacon = Beacon::of(&plan.beacon)
            .map_err(|problem| InspectionError::Plan { plan: plan.key().to_string(), problem })?;
        let out = beacon.round_time(plan.beacon.round);
        if out <= planned {
            return fail(format!(
                "beacon round {} was published at {out}, not after the plan ({planned}): a plan \
                 names a future round",
                plan.beacon.round
            ));
        }
        Ok(())
    }

    fn class_of_name(&self, name: &str) -> Option<&RiskClass> {
        self.classes.iter().find(|c| c.class == name)
    }
}

/// A randomness beacon this registry can verify offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beacon {
    /// Its chain hash, hex.
    pub chain: &'static str,
    /// Its BLS public key (on G2), hex.
    pub public_key: &'static str,
    /// Unix time of round 1.
    pub genesis: i64,
    /// Seconds between rounds.
    pub period: i64,
}

/// drand's quicknet (scheme `bls-unchained-g1-rfc9380`), as its `/info` publishes it.
pub const QUICKNET: Beacon = Beacon {
    chain: "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
    public_key: "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a",
    genesis: 1_692_803_367,
    period: 3,
};

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

impl Beacon {
    /// The beacon a plan names, if this registry knows it.
    pub fn of(round: &BeaconRound) -> Result<Self, String> {
        if round.chain == QUICKNET.chain {
            Ok(QUICKNET)
        } else {
            Err(format!(
                "beacon chain `{}` is not one this registry verifies (drand quicknet is `{}`)",
                round.chain, QUICKNET.chain
            ))
        }
    }

    /// When round `round` is published.
    pub fn round_time(&self, round: u64) -> Timestamp {
        let offset = i64::try_from(round.saturating_sub(1)).unwrap_or(i64::MAX / 4);
        let secs = self.genesis.saturating_add(offset.saturating_mul(self.period));
        Timestamp::from_second(secs).unwrap_or(Timestamp::MAX)
    }

    /// Verifies the signature of `round` (hex) and returns the round's randomness,
    /// SHA-256(signature).
    pub fn verify(&self, round: u64, signature_hex: &str) -> Result<[u8; 32], InspectionError> {
        use drand_verify::{G2PubkeyRfc, Pubkey};
        let fail = |problem: String| Err(InspectionError::Beacon { round, problem });
        let Some(signature) = unhex(signature_hex) else {
            return fail(format!("signature `{signature_hex}` is not hex"));
        };
        let Some(key) = unhex(self.public_key).and_then(|k| <[u8; 96]>::try_from(k).ok()) else {
            return fail("the beacon's public key does not decode".into());
        };
        let key = match G2PubkeyRfc::from_fixed(key) {
            Ok(k) => k,
            Err(e) => return fail(format!("the beacon's public key: {e}")),
        };
        match key.verify(round, b"", &signature) {
            Ok(true) => Ok(Sha256::digest(&signature).into()),
            Ok(false) => fail(format!("the signature does not verify for round {round}")),
            Err(e) => fail(format!("the signature is not a point of the curve: {e}")),
        }
    }
}

/// The randomness of a beacon round with this signature (hex): SHA-256 of the signature's
/// bytes, in hex; `None` if the signature is not hex.
pub fn randomness_hex(signature_hex: &str) -> Option<String> {
    let bytes = unhex(signature_hex)?;
    Some(Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect())
}

/// Checks a beacon round's stated randomness, if it states one, against its signature (hex).
pub fn check_randomness(
    round: u64,
    signature_hex: &str,
    stated: Option<&str>,
) -> Result<(), InspectionError> {
    let Some(stated) = stated else { return Ok(()) };
    if randomness_hex(signature_hex).as_deref() == Some(stated.to_ascii_lowercase().as_str()) {
        Ok(())
    } else {
        Err(InspectionError::Beacon {
            round,
            problem: format!("randomness `{stated}` is not SHA-256 of the signature"),
        })
    }
}

/// A subject as the population sees it: its code, kind, region and grade at the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Its code.
    pub subject: SubjectId,
    /// Its kind of entity.
    pub kind: SubjectKind,
    /// Its region of registration, six digits.
    pub region: Option<String>,
    /// Its grade at the plan's date.
    pub grade: Option<String>,
}

/// The population of a plan: the codes in scope, by risk class, each class in code order.
pub type Population = BTreeMap<String, Vec<SubjectId>>;

/// Sorts candidates into the plan's population: those in scope, by the class of their grade.
/// Every class of the plan's ratios is present, if empty. A candidate whose grade has no class
/// (there is none under a valid rulebook) is left out.
pub fn population<'a>(
    section: &Inspection,
    plan: &InspectionPlan,
    candidates: impl IntoIterator<Item = &'a Candidate>,
) -> Population {
    let mut out: Population = plan.ratios.keys().map(|c| (c.clone(), Vec::new())).collect();
    for c in candidates {
        if !plan.scope.holds(c.kind, c.region.as_deref()) {
            continue;
        }
        let Some(class) = c.grade.as_deref().and_then(|g| section.class_of(g)) else {
            continue;
        };
        if let Some(members) = out.get_mut(class) {
            members.push(c.subject);
        }
    }
    for members in out.values_mut() {
        members.sort();
    }
    out
}

/// The RFC 6962 leaf hash of the journal entry with these canonical bytes:
/// SHA-256(0x00 ‖ leaf data), the leaf data being the leaf format version and SHA-256 of the
/// bytes (`docs/log-format.md`).
pub fn leaf_hash(canonical: &[u8]) -> [u8; 32] {
    probity_tlog::leaf_hash(&probity_core::leaf_data(canonical))
}

/// The seed of a draw.
pub fn seed(plan_leaf: &[u8; 32], randomness: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(DRAW_TAG);
    h.update(plan_leaf);
    h.update(randomness);
    h.finalize().into()
}

/// How many of `n` subjects a ratio of `bp` basis points selects: ⌈bp × n / 10000⌉.
pub fn quota(bp: u32, n: u64) -> u64 {
    let num = u128::from(bp) * u128::from(n);
    u64::try_from(num.div_ceil(u128::from(WHOLE))).unwrap_or(n)
}

/// A subject's rank key in a draw: SHA-256(seed ‖ code).
pub fn rank(seed: &[u8; 32], subject: &SubjectId) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(seed);
    h.update(subject.as_str().as_bytes());
    h.finalize().into()
}

/// Draws a plan: the selection from `population` by the seed, with teams.
pub fn select(plan: &InspectionPlan, population: &Population, seed: &[u8; 32]) -> Vec<Target> {
    let mut out = Vec::new();
    for (class, members) in population {
        let bp = plan.ratios.get(class).copied().unwrap_or(0);
        let n = usize::try_from(quota(bp, members.len() as u64)).unwrap_or(members.len());
        let mut ranked: Vec<([u8; 32], &SubjectId)> =
            members.iter().map(|s| (rank(seed, s), s)).collect();
        if n < ranked.len() {
            ranked.select_nth_unstable(n);
            ranked.truncate(n);
        }
        ranked.sort_unstable();
        out.extend(ranked.into_iter().map(|(_, s)| Target {
            subject: *s,
            class: class.clone(),
            team: 0,
        }));
    }
    let teams = u64::from(plan.teams.max(1));
    for (i, t) in out.iter_mut().enumerate() {
        t.team = u32::try_from(i as u64 % teams + 1).unwrap_or(1);
    }
    out
}

/// The whole draw of a plan: the beacon's signature verified, the seed, the selection.
pub fn draw(
    plan: &InspectionPlan,
    plan_leaf: &[u8; 32],
    population: &Population,
    round: u64,
    signature_hex: &str,
) -> Result<InspectionDraw, InspectionError> {
    if round != plan.beacon.round {
        return Err(InspectionError::Beacon {
            round,
            problem: format!("the plan names round {}", plan.beacon.round),
        });
    }
    let beacon =
        Beacon::of(&plan.beacon).map_err(|problem| InspectionError::Beacon { round, problem })?;
    let randomness = beacon.verify(round, signature_hex)?;
    let seed = seed(plan_leaf, &randomness);
    Ok(InspectionDraw {
        plan: plan.key(),
        round,
        signature: signature_hex.to_ascii_lowercase(),
        population: population.iter().map(|(c, m)| (c.clone(), m.len() as u64)).collect(),
        selected: select(plan, population, &seed),
    })
}

/// The first day results of a draw recorded on `drawn` must be published by.
pub fn publication_due(section: &Inspection, calendar: &crate::Calendar, drawn: Date) -> Date {
    calendar.add_working_days(drawn, section.publish_within)
}

/// What differs between the draw recomputed and the draw recorded, in words.
pub fn difference(recomputed: &InspectionDraw, recorded: &InspectionDraw) -> String {
    if recomputed.population != recorded.population {
        return format!(
            "population by class {:?}, recorded {:?}",
            recomputed.population, recorded.population
        );
    }
    if recomputed.signature != recorded.signature {
        return "the signature differs".into();
    }
    if recomputed.selected.len() != recorded.selected.len() {
        return format!(
            "{} subjects selected, recorded {}",
            recomputed.selected.len(),
            recorded.selected.len()
        );
    }
    match recomputed.selected.iter().zip(&recorded.selected).enumerate().find(|(_, (a, b))| a != b)
    {
        Some((i, (a, b))) => format!(
            "selection {} is {} (class {}, team {}), recorded {} (class {}, team {})",
            i + 1,
            a.subject,
            a.class,
            a.team,
            b.subject,
            b.class,
            b.team
        ),
        None => "they differ".into(),
    }
}
