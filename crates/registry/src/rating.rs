//! Materialised assessments: rating subjects and keeping their ratings current.
//!
//! An import re-rates exactly the subjects it touched. The calendar moves too: each stored
//! assessment carries the next date on which one of its effects starts or ends, and a sweep
//! re-rates the subjects whose date has come. A full pass re-rates everyone.

use std::collections::BTreeMap;

use probity_core::{Date, SubjectId};
use probity_rules::Assessment;
use probity_store::{AssessmentRow, Store, StoreError};
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

#[allow(
    clippy::expect_used,
    reason = "an assessment is plain data whose serialisation cannot fail; storing an empty \
              explanation instead would publish an answer without its reasons, so it stops"
)]
pub(crate) fn row(id: SubjectId, mut a: Assessment, log_size: u64) -> AssessmentRow {
    let decisions: BTreeMap<&str, &str> =
        a.measures.iter().map(|m| (m.measure.as_str(), m.decision.as_str())).collect();
    let decisions = serde_json::to_string(&decisions).expect("decisions serialise");
    let answers = crate::answers::encode(&a.measures);
    let lists = a
        .lists
        .iter()
        .map(|m| probity_store::ListEntry { list: m.list.clone(), since: m.since, until: m.until })
        .collect();
    // The answers are kept apart: the explanation is the rest.
    a.measures = Vec::new();
    AssessmentRow {
        subject: id,
        as_of: a.as_of,
        grade: a.grade.clone(),
        score: a.score,
        decisions,
        next_change: a.next_boundary,
        rulebook: a.rulebook.clone(),
        version: a.version.clone(),
        answers,
        explanation: serde_json::to_string(&a).expect("an assessment serialises"),
        log_size,
        lists,
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
        row(i.id, probity_rules::assess(book, &i.subject, &i.records, as_of), log_size)
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

/// What the engine needs of these subjects (those the store holds), read in one store snapshot
/// from the projections: no record's journal entry is decoded.
fn rating_inputs(store: &dyn Store, ids: &[SubjectId]) -> Result<Vec<RatingInput>, RegistryError> {
    store.begin_snapshot()?;
    let read = store.standings_of(ids).map(|standings| {
        ids.iter()
            .zip(standings)
            .filter_map(|(id, s)| {
                s.map(|s| RatingInput {
                    id: *id,
                    subject: probity_rules::SubjectInput { established: s.established },
                    records: s.records.into_iter().map(Registry::record_input).collect(),
                })
            })
            .collect::<Vec<_>>()
    });
    let end = store.end_snapshot();
    let read = read?;
    end?;
    Ok(read)
}

impl Registry {
    /// Rates these subjects on `as_of` and stores the assessments.
    pub fn rate(&mut self, ids: &[SubjectId], as_of: Date) -> Result<u64, RegistryError> {
        let mut batches = ids.chunks(RATE_BATCH);
        self.rate_batches(as_of, &(), |_| Ok(batches.next().map(<[SubjectId]>::to_vec)))
    }

    /// Rates, on `as_of`, every subject (`all`), or those whose stored assessment does not hold
    /// on `as_of` (the sweep): never rated, their next change has come, rated under another
    /// rulebook than the one in force, or rated before their latest event (a writer that
    /// stopped between appending and rating). The sweep is what brings every stored assessment
    /// and list entry up to the log after a crash.
    pub fn rate_pass(
        &mut self,
        as_of: Date,
        all: bool,
        progress: &dyn Progress,
    ) -> Result<RateReport, RegistryError> {
        let book = self.rulebooks.known_at(as_of, u64::MAX);
        let (id, version) = (book.header.id.to_string(), book.header.version.clone());
        let in_force = (id.as_str(), version.as_str());
        self.rate_paged(as_of, progress, |store, after| {
            if all {
                store.subject_ids(after, RATE_BATCH)
            } else {
                store.due_for_rating(as_of, in_force, after, RATE_BATCH)
            }
        })
    }

    /// How many subjects' stored answers miss an event about them (the rating lag), counted up
    /// to `cap`.
    pub fn stale_count(&self, cap: usize) -> Result<usize, RegistryError> {
        Ok(self.store.stale_subjects(None, cap)?.len())
    }

    /// Rates, today, the subjects whose stored assessment does not reflect their latest event
    /// ([`Store::stale_subjects`]): what writers appended and have not rated yet, or what a
    /// writer that stopped between appending and rating left behind. Memory stays bounded by
    /// the batch, however many there are.
    pub fn rate_stale(&mut self, progress: &dyn Progress) -> Result<RateReport, RegistryError> {
        let today = self.clock.today();
        self.rate_paged(today, progress, |store, after| store.stale_subjects(after, RATE_BATCH))
    }

    /// Rates on `as_of` the pages of subjects that `page` reads, each after the last one of
    /// the page before, until a page is empty.
    fn rate_paged(
        &mut self,
        as_of: Date,
        progress: &dyn Progress,
        mut page: impl FnMut(&dyn Store, Option<&SubjectId>) -> Result<Vec<SubjectId>, StoreError>
        + Send,
    ) -> Result<RateReport, RegistryError> {
        let mut after: Option<SubjectId> = None;
        let rated = self.rate_batches(as_of, progress, |store| {
            let ids = page(store, after.as_ref())?;
            after = ids.last().copied();
            Ok(Some(ids).filter(|p| !p.is_empty()))
        })?;
        Ok(RateReport { rated })
    }

    /// Rates the batches `next` reads from the store until it has none, and stores their
    /// assessments.
    ///
    /// Batches are pipelined in three stages: a reader on a store connection of its own reads
    /// the next batch's inputs, the engine assesses one on other threads, and this handle
    /// stores the one before, so that reading, assessing and writing all run at once (on a
    /// networked store, reading and writing on one connection would wait on each other's
    /// round trips). At most five batches are in flight, one at each stage and one in each of
    /// the two channels between them. A single batch is rated here alone.
    fn rate_batches(
        &mut self,
        as_of: Date,
        progress: &dyn Progress,
        mut next: impl FnMut(&dyn Store) -> Result<Option<Vec<SubjectId>>, StoreError> + Send,
    ) -> Result<u64, RegistryError> {
        // Read before the profiles, so each rating reflects at least this much of the log.
        let size = self.store.log_size()?;
        let book = self.rulebooks.known_at(as_of, u64::MAX);
        let store = &mut self.store;
        let Some(first) = next(store.as_ref())? else { return Ok(0) };
        let first = rating_inputs(store.as_ref(), &first)?;
        // Stores one batch's rows, with the changes they make to watched subjects' answers,
        // and counts them.
        let put = |store: &mut Box<dyn Store>, rows: Vec<AssessmentRow>| {
            let changes = crate::watchlist::changes_for(store.as_ref(), &rows)?;
            store.put_assessments(&rows, &changes)?;
            progress.advance(0, rows.len() as u64);
            Ok::<_, RegistryError>(rows.len() as u64)
        };
        let Some(second) = next(store.as_ref())? else {
            // One batch: nothing to overlap.
            return put(store, assess_all(book, &first, as_of, size));
        };
        // Its own connection, so that its reads need not wait for this handle's writes. It
        // pages on from where this handle's pages ended; the rows stored meanwhile are of
        // subjects before that, which no later page holds.
        let reads = (self.connect)()?;
        std::thread::scope(|scope| {
            let (to_assess, inbox) = std::sync::mpsc::sync_channel::<Vec<RatingInput>>(1);
            let (to_store, assessed) = std::sync::mpsc::sync_channel::<Vec<AssessmentRow>>(1);
            // Each send fails only when the stage after it has stopped (on an error there),
            // and then this stage stops too.
            let reader = scope.spawn(move || -> Result<(), RegistryError> {
                let mut inputs = first;
                let mut batch = Some(second);
                loop {
                    if to_assess.send(inputs).is_err() {
                        return Ok(());
                    }
                    let Some(ids) = batch else { return Ok(()) };
                    inputs = rating_inputs(reads.as_ref(), &ids)?;
                    batch = next(reads.as_ref())?;
                }
            });
            scope.spawn(move || {
                for inputs in inbox {
                    if to_store.send(assess_all(book, &inputs, as_of, size)).is_err() {
                        break;
                    }
                }
            });
            let mut rated = 0u64;
            let stored = assessed.iter().try_for_each(|rows| {
                rated += put(store, rows)?;
                Ok::<_, RegistryError>(())
            });
            // Closing the last channel lets the other stages end, whatever happened here.
            drop(assessed);
            let read = reader.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            stored?;
            read?;
            Ok(rated)
        })
    }
}
