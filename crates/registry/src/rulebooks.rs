//! Changing the rules: the impact of a new rulebook before adoption.

use std::collections::BTreeMap;

use probity_core::{Date, SubjectId};
use probity_rules::{Assessment, Rulebook};
use serde::Serialize;

use crate::{Progress, Registry, RegistryError};

/// A subject whose answers change, with the new reasons.
#[derive(Debug, Clone, Serialize)]
pub struct DiffSample {
    /// The subject.
    pub subject: String,
    /// Grade under the current rulebook.
    pub grade_from: Option<String>,
    /// Grade under the new one.
    pub grade_to: Option<String>,
    /// Measures whose answer changes, as `measure: from → to`.
    pub flips: Vec<String>,
    /// The new assessment's explanation of the grade.
    pub grade_notes: Vec<String>,
}

/// What adopting a rulebook would change, assessed on one date.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RulebookDiff {
    /// The date both rulebooks were applied on.
    pub as_of: Option<Date>,
    /// `id version` of the rulebook in force.
    pub from: String,
    /// `id version` of the new one.
    pub to: String,
    /// Subjects assessed.
    pub subjects: u64,
    /// Subjects whose grade improves (by the new rulebook's order of grades).
    pub grade_better: u64,
    /// Subjects whose grade worsens.
    pub grade_worse: u64,
    /// Subjects whose grade changes in a way the orders cannot compare (renamed grades).
    pub grade_other: u64,
    /// Per list: subjects that would join it.
    pub list_joins: BTreeMap<String, u64>,
    /// Per list: subjects that would leave it.
    pub list_leaves: BTreeMap<String, u64>,
    /// Per measure: counts of `from → to` answer changes.
    pub flips: BTreeMap<String, BTreeMap<String, u64>>,
    /// Up to ten subjects whose answers change.
    pub samples: Vec<DiffSample>,
}

fn label(b: &Rulebook) -> String {
    format!("{} {}", b.header.id, b.header.version)
}

impl Registry {
    /// Assesses every subject on `as_of` under the rulebook in force and under `text`, and
    /// reports what would change. Nothing is written.
    pub fn diff_rulebook(
        &self,
        text: &str,
        as_of: Date,
        progress: &dyn Progress,
    ) -> Result<RulebookDiff, RegistryError> {
        let new = Rulebook::parse(text).map_err(|source| RegistryError::Rulebook {
            path: "the new rulebook".into(),
            source,
        })?;
        let old = self.rulebook_at(as_of);
        let order: Vec<&str> = new.scoring().map(|s| s.grades()).unwrap_or_default();
        let rank =
            |g: &Option<String>| g.as_deref().and_then(|g| order.iter().position(|x| *x == g));
        let mut diff = RulebookDiff {
            as_of: Some(as_of),
            from: label(old),
            to: label(&new),
            ..RulebookDiff::default()
        };
        let mut after: Option<SubjectId> = None;
        loop {
            let page = self.store.subject_ids(after.as_ref(), 1000)?;
            let Some(last) = page.last().copied() else { break };
            for id in &page {
                let Some(profile) = self.profile(id)? else { continue };
                let a = self.assess_under(old, &profile, as_of);
                let b = self.assess_under(&new, &profile, as_of);
                diff.subjects += 1;
                compare(&mut diff, id, &a, &b, rank(&a.grade), rank(&b.grade));
            }
            progress.advance(0, page.len() as u64);
            after = Some(last);
        }
        Ok(diff)
    }
}

fn compare(
    diff: &mut RulebookDiff,
    id: &SubjectId,
    a: &Assessment,
    b: &Assessment,
    ra: Option<usize>,
    rb: Option<usize>,
) {
    if a.grade != b.grade {
        match (ra, rb) {
            (Some(x), Some(y)) if y < x => diff.grade_better += 1,
            (Some(x), Some(y)) if y > x => diff.grade_worse += 1,
            _ => diff.grade_other += 1,
        }
    }
    let lists = |x: &Assessment| {
        x.lists.iter().map(|m| m.list.clone()).collect::<std::collections::BTreeSet<_>>()
    };
    let (la, lb) = (lists(a), lists(b));
    for l in lb.difference(&la) {
        *diff.list_joins.entry(l.clone()).or_default() += 1;
    }
    for l in la.difference(&lb) {
        *diff.list_leaves.entry(l.clone()).or_default() += 1;
    }
    let mut flips = Vec::new();
    for m in &b.measures {
        let before = a
            .measures
            .iter()
            .find(|x| x.measure == m.measure)
            .map_or("absent", |x| x.decision.as_str());
        let now = m.decision.as_str();
        if before != now {
            let key = format!("{before} → {now}");
            *diff.flips.entry(m.measure.clone()).or_default().entry(key.clone()).or_default() += 1;
            flips.push(format!("{}: {key}", m.measure));
        }
    }
    if (!flips.is_empty() || a.grade != b.grade) && diff.samples.len() < 10 {
        diff.samples.push(DiffSample {
            subject: id.to_string(),
            grade_from: a.grade.clone(),
            grade_to: b.grade.clone(),
            flips,
            grade_notes: b.grade_notes.clone(),
        });
    }
}
