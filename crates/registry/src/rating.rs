//! Materialised assessments: rating subjects and keeping their ratings current.
//!
//! An import re-rates exactly the subjects it touched. The calendar moves too: each stored
//! assessment carries the next date on which one of its effects starts or ends, and a sweep
//! re-rates the subjects whose date has come. A full pass re-rates everyone.

use std::collections::BTreeMap;

use probity_core::{Date, SubjectId};
use probity_rules::Assessment;
use probity_store::AssessmentRow;
use serde::Serialize;

use crate::{Progress, Registry, RegistryError};

/// Subjects rated per store transaction.
const RATE_BATCH: usize = 1000;

/// What a rating pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct RateReport {
    /// Subjects rated.
    pub rated: u64,
}

pub(crate) fn row(id: SubjectId, a: &Assessment, log_size: u64) -> AssessmentRow {
    let decisions: BTreeMap<&str, &str> =
        a.measures.iter().map(|m| (m.measure.as_str(), m.decision.as_str())).collect();
    AssessmentRow {
        subject: id,
        as_of: a.as_of,
        grade: a.grade.clone(),
        score: a.score,
        decisions: serde_json::to_string(&decisions).unwrap_or_default(),
        next_change: a.next_boundary,
        rulebook: a.rulebook.clone(),
        version: a.version.clone(),
        explanation: serde_json::to_string(a).unwrap_or_default(),
        log_size,
        lists: a
            .lists
            .iter()
            .map(|m| probity_store::ListEntry {
                list: m.list.clone(),
                since: m.since,
                until: m.until,
            })
            .collect(),
    }
}

impl Registry {
    /// Rates these subjects on `as_of` and stores the assessments.
    pub fn rate(&mut self, ids: &[SubjectId], as_of: Date) -> Result<u64, RegistryError> {
        let mut rows = Vec::with_capacity(RATE_BATCH.min(ids.len()));
        let mut rated = 0;
        // Read before the profiles, so each rating reflects at least this much of the log.
        let size = self.store.log_size()?;
        for id in ids {
            let Some(profile) = self.profile(id)? else { continue };
            rows.push(row(*id, &self.assess(&profile, as_of), size));
            if rows.len() == RATE_BATCH {
                self.store.put_assessments(&rows)?;
                rated += rows.len() as u64;
                rows.clear();
            }
        }
        self.store.put_assessments(&rows)?;
        Ok(rated + rows.len() as u64)
    }

    /// Rates, on `as_of`, every subject (`all`) or those never rated or whose next change has
    /// come (the calendar sweep).
    pub fn rate_pass(
        &mut self,
        as_of: Date,
        all: bool,
        progress: &dyn Progress,
    ) -> Result<RateReport, RegistryError> {
        let mut report = RateReport::default();
        let mut after: Option<SubjectId> = None;
        loop {
            let page = if all {
                self.store.subject_ids(after.as_ref(), RATE_BATCH)?
            } else {
                self.store.due_for_rating(as_of, after.as_ref(), RATE_BATCH)?
            };
            let Some(last) = page.last().copied() else { break };
            report.rated += self.rate(&page, as_of)?;
            progress.advance(0, page.len() as u64);
            after = Some(last);
        }
        Ok(report)
    }
}
