//! "Double random" inspections: a plan an authority commits to before any randomness exists,
//! and the draw that a public randomness beacon later decides.
//!
//! These are the values the journal carries. What a plan may ask for (its items and ratios) is
//! the rulebook's business, and how a draw is computed from a plan and a beacon round is the
//! rules engine's; both live in `probity-rules`. Nothing here names an inspector: a plan carries
//! only the number of teams and a SHA-256 commitment to the authority's own list of them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{
    DocumentHash, ModelError, Slug, SubjectId, SubjectKind, check_key, check_prose, limits,
};

/// The most region prefixes and record items a plan names.
pub const PLAN_LIST_MAX: usize = 64;

/// The natural key of an inspection plan: the authority and its own plan number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlanKey {
    /// The authority that files the plan.
    pub authority: Slug,
    /// Its own number for the plan, unique within that authority.
    pub plan_no: String,
}

impl fmt::Display for PlanKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.authority, self.plan_no)
    }
}

/// Which subjects a plan draws from. An empty list means no restriction of that kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// Prefixes (2 to 6 digits) of the administrative division code of registration. A subject
    /// without a region (an LEI) is in scope only when this list is empty.
    pub regions: Vec<String>,
    /// Kinds of entity.
    pub kinds: Vec<SubjectKind>,
}

impl Scope {
    /// Whether a subject of `kind`, registered in `region`, is in scope.
    pub fn holds(&self, kind: SubjectKind, region: Option<&str>) -> bool {
        let region_ok = self.regions.is_empty()
            || region.is_some_and(|r| self.regions.iter().any(|p| r.starts_with(p.as_str())));
        region_ok && (self.kinds.is_empty() || self.kinds.contains(&kind))
    }
}

/// A round of a public randomness beacon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BeaconRound {
    /// The beacon chain's hash, 64 lowercase hex characters (drand's chain hash).
    pub chain: String,
    /// The round number.
    pub round: u64,
}

/// An inspection plan: everything that decides a draw but the beacon's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InspectionPlan {
    /// The authority that files it.
    pub authority: Slug,
    /// Its own plan number.
    pub plan_no: String,
    /// What the plan is, in a line.
    pub title: String,
    /// The legal basis the plan cites.
    pub basis: String,
    /// Who is drawn from.
    pub scope: Scope,
    /// The inspection items, from the rulebook's `[inspection]` items.
    pub items: Vec<Slug>,
    /// The sampling ratio of each risk class, in basis points (1/100 of a percent).
    pub ratios: BTreeMap<String, u32>,
    /// How many inspection teams the selected subjects are shared among.
    pub teams: u32,
    /// SHA-256 of the authority's own list of teams, which never enters the registry.
    pub team_commitment: DocumentHash,
    /// The future beacon round whose output decides the draw.
    pub beacon: BeaconRound,
}

impl InspectionPlan {
    /// The plan's key.
    pub fn key(&self) -> PlanKey {
        PlanKey { authority: self.authority.clone(), plan_no: self.plan_no.clone() }
    }

    /// Checks what the plan says on its own terms: a plan number and a legal basis, region
    /// prefixes of 2 to 6 digits, at least one item and one team, ratios of at most 100%, and a
    /// beacon chain hash. What the rulebook allows is checked by the rules engine.
    pub fn check(mut self) -> Result<Self, ModelError> {
        let bad = |what: String| Err(ModelError::Plan(what));
        self.plan_no = check_key("plan_no", &self.plan_no, limits::DECISION_NO)?;
        self.basis = check_prose("basis", &self.basis, limits::BASIS)?;
        self.title = check_prose("title", &self.title, limits::NAME)?;
        if self.scope.regions.len() > PLAN_LIST_MAX || self.items.len() > PLAN_LIST_MAX {
            return bad(format!("a plan names at most {PLAN_LIST_MAX} regions and items"));
        }
        for r in &self.scope.regions {
            if !(2..=6).contains(&r.len()) || !r.bytes().all(|b| b.is_ascii_digit()) {
                return bad(format!("region prefix `{r}` is not 2 to 6 digits"));
            }
        }
        if self.items.is_empty() {
            return bad("a plan names at least one inspection item".into());
        }
        if self.teams == 0 || self.teams > 100_000 {
            return bad(format!("{} teams: a plan has 1 to 100000 teams", self.teams));
        }
        if self.ratios.is_empty() {
            return bad("a plan gives a ratio for each risk class".into());
        }
        for (class, bp) in &self.ratios {
            if *bp == 0 || *bp > 10_000 {
                return bad(format!(
                    "the ratio of class `{class}` is {bp} basis points; it must be above 0 and at \
                     most 10000 (100%): no one is exempt"
                ));
            }
        }
        let chain = &self.beacon.chain;
        if chain.len() != 64
            || !chain.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return bad(format!("beacon chain `{chain}` is not 64 lowercase hex characters"));
        }
        Ok(self)
    }
}

/// A subject drawn for inspection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Target {
    /// The subject.
    pub subject: SubjectId,
    /// Its risk class at the plan's position in the log.
    pub class: String,
    /// The team it goes to, from 1 to the plan's number of teams.
    pub team: u32,
}

/// The draw of a plan: the beacon's output for the plan's round and what it selected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InspectionDraw {
    /// The plan drawn.
    pub plan: PlanKey,
    /// The beacon round (the plan's).
    pub round: u64,
    /// The beacon's signature of the round, lowercase hex; its SHA-256 is the randomness.
    pub signature: String,
    /// How many subjects each risk class held at the plan's position in the log.
    pub population: BTreeMap<String, u64>,
    /// The subjects selected, by class in the plan's class order, then by rank in the draw.
    pub selected: Vec<Target>,
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample_plan() -> InspectionPlan {
        InspectionPlan {
            authority: Slug::parse("a", "bj-amr").unwrap(),
            plan_no: "京市监抽〔2026〕1号".into(),
            title: "2026 double random inspection".into(),
            basis: "Interim Regulations on Enterprise Information Publicity, Art. 14".into(),
            scope: Scope { regions: vec!["11".into()], kinds: vec![SubjectKind::Enterprise] },
            items: vec![Slug::parse("i", "annual_report").unwrap()],
            ratios: [("A".to_owned(), 100), ("D".to_owned(), 3000)].into_iter().collect(),
            teams: 4,
            team_commitment: DocumentHash::from_bytes([7; 32]),
            beacon: BeaconRound { chain: "52".repeat(32), round: 123 },
        }
    }

    #[test]
    fn a_plan_is_checked_on_its_own_terms() {
        assert!(sample_plan().check().is_ok());
        let mut p = sample_plan();
        p.ratios.insert("B".into(), 0);
        assert!(p.check().unwrap_err().to_string().contains("no one is exempt"));
        let mut p = sample_plan();
        p.scope.regions.push("1x".into());
        assert!(p.check().unwrap_err().to_string().contains("`1x`"));
        let mut p = sample_plan();
        p.teams = 0;
        assert!(p.check().is_err());
        let mut p = sample_plan();
        p.items.clear();
        assert!(p.check().is_err());
        let mut p = sample_plan();
        p.beacon.chain = "XY".into();
        assert!(p.check().unwrap_err().to_string().contains("beacon chain"));
    }

    #[test]
    fn scope_matches_region_prefixes_and_kinds() {
        let s = Scope { regions: vec!["1101".into()], kinds: vec![SubjectKind::Enterprise] };
        assert!(s.holds(SubjectKind::Enterprise, Some("110105")));
        assert!(!s.holds(SubjectKind::Enterprise, Some("120105")));
        assert!(!s.holds(SubjectKind::Cooperative, Some("110105")));
        assert!(!s.holds(SubjectKind::Enterprise, None));
        assert!(Scope::default().holds(SubjectKind::Other, None));
    }
}
