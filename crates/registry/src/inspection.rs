//! "Double random" inspections: an authority files a plan naming a future beacon round, the
//! draw is made once the round is out, and anyone holding the log recomputes it.
//!
//! The draw is computed by the same code that verifies it: the journal is replayed up to the
//! plan ([`probity_rules::Replay`] works out the plan's population there), and the draw is the
//! rules engine's function of the plan, its leaf hash, that population and the beacon round.
//! A verifier replays the same journal through the audit's [`crate::audit::JournalPass`], which
//! also checks every leaf against the log.

use probity_core::{
    Date, EventBody, InspectionDraw, InspectionPlan, PlanKey, SubjectId, Timestamp, date_of,
};
use probity_rules::Replay;
use probity_rules::inspection::{self, Beacon};
use probity_store::{JournalEntry, LogNodes, PlanRow};
use serde::Serialize;

use crate::audit::JournalPass;
use crate::{Progress, Registry, RegistryError};

/// Journal entries read per page while replaying.
const PAGE: usize = 10_000;

/// Where a plan stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    /// Its beacon round is not out yet.
    AwaitingBeacon,
    /// Its round is out; it can be drawn.
    ReadyToDraw,
    /// Drawn.
    Drawn,
}

/// An inspection plan with its draw, as the registry shows it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlanView {
    /// The plan.
    pub plan: InspectionPlan,
    /// The log index of the plan.
    pub planned: u64,
    /// When the plan was recorded.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub planned_at: Timestamp,
    /// When its beacon round is (or was) published.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub round_at: Timestamp,
    /// Where it stands.
    pub status: PlanStatus,
    /// The log index of the draw, once drawn.
    pub drawn: Option<u64>,
    /// When the draw was recorded.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub drawn_at: Option<Timestamp>,
    /// The last day the results must be published by (the rulebook's working days after the
    /// draw).
    pub publish_by: Option<Date>,
    /// The draw, once drawn.
    pub draw: Option<InspectionDraw>,
}

/// The outcome filed for a subject a draw selected.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Outcome {
    /// The subject.
    pub subject: SubjectId,
    /// The outcome's record kind.
    pub kind: String,
    /// Its decision number.
    pub decision_no: String,
    /// The log index of its filing.
    pub index: u64,
    /// The day it was filed (the day the result was published).
    pub filed: Date,
}

/// A draw that selected a subject, as its profile shows it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Selection {
    /// The plan.
    pub plan: PlanKey,
    /// Its title.
    pub title: String,
    /// The log index of the draw.
    pub drawn: u64,
    /// The subject's risk class at the plan.
    pub class: String,
    /// Its team.
    pub team: u32,
    /// When the result is due.
    pub publish_by: Option<Date>,
    /// The outcome, once filed.
    pub outcome: Option<Outcome>,
}

/// What verifying a draw from the log found.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DrawCheck {
    /// The plan.
    pub plan: PlanKey,
    /// The log entries replayed (up to and including the draw).
    pub entries: u64,
    /// Subjects in each class of the population, as recomputed.
    pub population: std::collections::BTreeMap<String, u64>,
    /// Subjects the draw selected.
    pub selected: u64,
    /// Whether the recorded draw is exactly the recomputed one and every replayed entry is the
    /// log's.
    pub verified: bool,
    /// What disagrees, each naming its entry.
    pub problems: Vec<String>,
}

impl Registry {
    /// Files an inspection plan of its authority: checked on its own terms and against the
    /// rulebook in force (items, a ratio within bounds for every class, a beacon round after
    /// now). Returns the plan's log index, or `None` if the same plan was filed before.
    pub fn file_plan(&mut self, plan: InspectionPlan) -> Result<Option<u64>, RegistryError> {
        let plan = plan.check().map_err(|e| RegistryError::Invalid(e.to_string()))?;
        let now = self.clock().now();
        let book = self.rulebook_at(date_of(now));
        let Some(section) = book.inspection() else {
            return Err(RegistryError::Refused(format!(
                "rulebook {} {} in force has no [inspection] section: it plans no inspections",
                book.header.id, book.header.version
            )));
        };
        section.check_plan(&plan, now).map_err(|e| RegistryError::Invalid(e.to_string()))?;
        self.append_one_at(now, EventBody::InspectionPlanned { plan })
    }

    /// Every plan, in log order.
    pub fn plans(&self) -> Result<Vec<PlanView>, RegistryError> {
        self.store().plans()?.into_iter().map(|row| self.plan_view(row)).collect()
    }

    /// One plan.
    pub fn plan(&self, key: &PlanKey) -> Result<Option<PlanView>, RegistryError> {
        match self.store().plans()?.into_iter().find(|p| p.key == *key) {
            Some(row) => self.plan_view(row).map(Some),
            None => Ok(None),
        }
    }

    /// The stored row of a plan; not found names it.
    fn plan_row(&self, key: &PlanKey) -> Result<PlanRow, RegistryError> {
        self.store()
            .plans()?
            .into_iter()
            .find(|p| p.key == *key)
            .ok_or_else(|| RegistryError::NotFound(format!("no inspection plan `{key}`")))
    }

    /// A plan's view with its draw.
    fn plan_view(&self, row: PlanRow) -> Result<PlanView, RegistryError> {
        let drawn = row.drawn;
        let mut view = self.plan_head(row)?;
        if let Some(at) = drawn {
            match self.event_at(at)? {
                (EventBody::InspectionDrawn { draw }, _) => view.draw = Some(draw),
                _ => return Err(corrupt(at, "an inspection draw")),
            }
        }
        Ok(view)
    }

    /// A plan's view without its draw (which can be large): the plan, when it was drawn and
    /// what is due.
    fn plan_head(&self, row: PlanRow) -> Result<PlanView, RegistryError> {
        let (plan, planned_at) = match self.event_at(row.planned)? {
            (EventBody::InspectionPlanned { plan }, at) => (plan, at),
            _ => return Err(corrupt(row.planned, "an inspection plan")),
        };
        let round_at = Beacon::of(&plan.beacon)
            .map(|b| b.round_time(plan.beacon.round))
            .map_err(RegistryError::Internal)?;
        let drawn_at = match row.drawn {
            Some(at) => {
                Some(self.store().recorded_at(at)?.ok_or_else(|| corrupt(at, "a journal entry"))?)
            }
            None => None,
        };
        let draw = None;
        let publish_by = drawn_at.and_then(|t| {
            let book = self.rulebook_at(date_of(t));
            book.inspection().map(|s| inspection::publication_due(s, book.calendar(), date_of(t)))
        });
        let status = match (row.drawn, round_at <= self.clock().now()) {
            (Some(_), _) => PlanStatus::Drawn,
            (None, true) => PlanStatus::ReadyToDraw,
            (None, false) => PlanStatus::AwaitingBeacon,
        };
        Ok(PlanView {
            plan,
            planned: row.planned,
            planned_at,
            round_at,
            status,
            drawn: row.drawn,
            drawn_at,
            publish_by,
            draw,
        })
    }

    /// The body of the journal entry at `index` and when it was recorded.
    fn event_at(&self, index: u64) -> Result<(EventBody, Timestamp), RegistryError> {
        let entry = self.store().journal(index, 1)?;
        let event = entry
            .first()
            .filter(|e| e.index == index)
            .and_then(|e| e.published())
            .and_then(|b| probity_core::Event::decode(b).ok())
            .ok_or_else(|| corrupt(index, "a published event"))?;
        Ok((event.body, event.recorded_at))
    }

    /// Draws a plan with its beacon round's signature (hex): verifies the signature, replays
    /// the log up to the plan to find its population, selects, and journals the draw. Drawing
    /// a drawn plan again with the same round is a duplicate.
    pub fn draw_plan(
        &mut self,
        key: &PlanKey,
        round: u64,
        signature: &str,
        progress: &dyn Progress,
    ) -> Result<(Option<u64>, InspectionDraw), RegistryError> {
        let row = self.plan_row(key)?;
        let replay = self.replay_until(row.planned + 1, progress)?;
        let Some(p) = replay.plan(key) else {
            return Err(corrupt(row.planned, "an inspection plan the replay knows"));
        };
        let draw = inspection::draw(&p.plan, &p.leaf_hash, &p.population, round, signature)
            .map_err(|e| RegistryError::Invalid(e.to_string()))?;
        let index = self.append_one(EventBody::InspectionDrawn { draw: draw.clone() })?;
        Ok((index, draw))
    }

    /// Hands each of the journal's first `end` entries to `f`, in order, a page at a time.
    fn each_entry(
        &self,
        end: u64,
        progress: &dyn Progress,
        mut f: impl FnMut(&JournalEntry) -> Result<(), RegistryError>,
    ) -> Result<(), RegistryError> {
        let mut next = 0;
        while next < end {
            let want = usize::try_from(end - next).unwrap_or(PAGE).min(PAGE);
            let page = self.store().journal(next, want)?;
            let Some(last) = page.last() else { break };
            next = last.index + 1;
            for entry in &page {
                f(entry)?;
            }
            progress.advance(0, page.len() as u64);
        }
        Ok(())
    }

    /// Folds the journal's first `end` entries into a replay.
    fn replay_until(&self, end: u64, progress: &dyn Progress) -> Result<Replay, RegistryError> {
        let mut replay = Replay::new();
        self.each_entry(end, progress, |entry| {
            let folded = match entry.published() {
                None => replay.withheld(entry.index),
                Some(bytes) => {
                    let event = probity_core::Event::decode(bytes)
                        .map_err(|e| corrupt(entry.index, &format!("an event ({e})")))?;
                    replay.apply(entry.index, &event)
                }
            };
            folded.map_err(|e| RegistryError::Internal(e.to_string()))
        })?;
        Ok(replay)
    }

    /// Recomputes the draw of a plan from the log alone: the journal up to the draw is replayed
    /// and each entry's leaf checked against the log, as the audit does; the replay recomputes
    /// the population at the plan and the draw from the beacon round, and the draw verifies only
    /// if it is exactly the one recorded.
    pub fn verify_draw(
        &self,
        key: &PlanKey,
        progress: &dyn Progress,
    ) -> Result<DrawCheck, RegistryError> {
        let Some(drawn) = self.plan_row(key)?.drawn else {
            return Err(RegistryError::Conflict(format!(
                "inspection plan `{key}` is not drawn yet"
            )));
        };
        let size = drawn + 1;
        let mut pass = JournalPass::new(size, &[]);
        self.each_entry(size, progress, |entry| {
            let stated = self.store().log_node(0, entry.index).map_err(|e| e.to_string());
            pass.entry(entry, stated);
            Ok(())
        })?;
        let root = probity_tlog::root(&LogNodes(self.store()), size)?;
        let (audit, replay) = pass.finish(root);
        let replayed = replay.as_ref().and_then(|r| r.plan(key));
        let population = replayed
            .and_then(|p| p.draw.as_ref())
            .map(|(_, d)| d.population.clone())
            .unwrap_or_default();
        let selected = replayed.and_then(|p| p.draw.as_ref()).map_or(0, |(_, d)| d.selected.len());
        let verified = audit.problems.is_empty() && replayed.is_some_and(|p| p.draw.is_some());
        Ok(DrawCheck {
            plan: key.clone(),
            entries: size,
            population,
            selected: selected as u64,
            verified,
            problems: audit.problems,
        })
    }

    /// The outcomes filed against a plan's draw, in the draw's order: one per selected subject
    /// at most (the first filed, if a withdrawn one was filed again).
    pub fn outcomes(&self, view: &PlanView) -> Result<Vec<Outcome>, RegistryError> {
        let key = view.plan.key();
        let mut out = Vec::new();
        for t in view.draw.iter().flat_map(|d| &d.selected) {
            if let Some(o) = self.outcome_of(&key, &t.subject)? {
                out.push(o);
            }
        }
        Ok(out)
    }

    /// The outcome filed for `subject` against plan `key`, if one stands.
    pub fn outcome_of(
        &self,
        key: &PlanKey,
        subject: &SubjectId,
    ) -> Result<Option<Outcome>, RegistryError> {
        Ok(self
            .store()
            .records_of(subject)?
            .into_iter()
            .filter(|r| r.status != probity_store::RecordStatus::Withdrawn)
            .find(|r| {
                r.record.authority == key.authority
                    && r.record.inspection_plan.as_deref() == Some(key.plan_no.as_str())
            })
            .map(|r| Outcome {
                subject: *subject,
                kind: r.record.kind.to_string(),
                decision_no: r.record.decision_no.clone(),
                index: r.filed_index,
                filed: date_of(r.recorded_at),
            }))
    }

    /// The draws that selected a subject, oldest plan first, each with the outcome filed for it.
    pub fn selections(&self, id: &SubjectId) -> Result<Vec<Selection>, RegistryError> {
        self.store()
            .inspections_of(id)?
            .into_iter()
            .map(|t| {
                let view = self.plan_head(t.plan)?;
                Ok(Selection {
                    outcome: self.outcome_of(&view.plan.key(), id)?,
                    plan: view.plan.key(),
                    title: view.plan.title,
                    drawn: view.drawn.unwrap_or(view.planned),
                    publish_by: view.publish_by,
                    class: t.class,
                    team: t.team,
                })
            })
            .collect()
    }
}

fn corrupt(index: u64, what: &str) -> RegistryError {
    RegistryError::Internal(format!("journal entry {index} should be {what}"))
}
