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

/// What the engine needs of one subject.
struct RatingInput {
    id: SubjectId,
    subject: probity_rules::SubjectInput,
    records: Vec<probity_rules::RecordInput>,
}

/// Assesses every input under `book` on `as_of`, on every core the machine has: the engine is
/// pure, so subjects are shared out in equal runs and their rows come back in input order.
fn assess_all(
    book: &probity_rules::Rulebook,
    inputs: &[RatingInput],
    as_of: Date,
    log_size: u64,
) -> Vec<AssessmentRow> {
    let one = |i: &RatingInput| {
        row(i.id, &probity_rules::assess(book, &i.subject, &i.records, as_of), log_size)
    };
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    // Below this many subjects a thread costs more than it saves.
    let threads = cores.min(inputs.len() / 64).max(1);
    if threads == 1 {
        return inputs.iter().map(one).collect();
    }
    let per = inputs.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let runs: Vec<_> = inputs
            .chunks(per)
            .map(|run| scope.spawn(move || run.iter().map(one).collect::<Vec<_>>()))
            .collect();
        runs.into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

impl Registry {
    /// What the engine needs of these subjects (those the registry holds), read in one store
    /// snapshot from the projections: no record's journal entry is decoded.
    fn rating_inputs(&self, ids: &[SubjectId]) -> Result<Vec<RatingInput>, RegistryError> {
        self.store.begin_snapshot()?;
        let read = ids
            .iter()
            .filter_map(|id| match self.store.subject(id) {
                Ok(None) => None,
                Ok(Some(s)) => Some(self.store.standings_of(id).map(|standings| RatingInput {
                    id: *id,
                    subject: probity_rules::SubjectInput { established: s.subject.established },
                    records: standings.iter().map(Self::record_input).collect(),
                })),
                Err(e) => Some(Err(e)),
            })
            .collect::<Result<Vec<_>, _>>();
        let end = self.store.end_snapshot();
        let read = read?;
        end?;
        Ok(read)
    }

    /// Rates these subjects on `as_of` and stores the assessments.
    pub fn rate(&mut self, ids: &[SubjectId], as_of: Date) -> Result<u64, RegistryError> {
        let mut rated = 0;
        // Read before the profiles, so each rating reflects at least this much of the log.
        let size = self.store.log_size()?;
        for batch in ids.chunks(RATE_BATCH) {
            let inputs = self.rating_inputs(batch)?;
            let rows = assess_all(self.rulebook_at(as_of), &inputs, as_of, size);
            self.store.put_assessments(&rows)?;
            rated += rows.len() as u64;
        }
        Ok(rated)
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
