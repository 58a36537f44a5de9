//! The assessment engine: rulebook + a subject's records + a date in, score, grade, lists,
//! answers to every measure and the explanation out. Pure and deterministic: the same inputs
//! give the same assessment, whatever their order.
//!
//! One evaluation ([`evaluate`]) computes the state at a date. Everything about the future
//! ("eligible again on …") comes from evaluating again at the dates where some effect starts or
//! ends, so no rule needs its own what-if logic.

use std::collections::BTreeSet;

use probity_core::Date;
use serde::Serialize;

use crate::{ListType, Rulebook};

/// Where a record stands, as far as the engine is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordState {
    /// Filed (or corrected: the content given is the corrected one). It counts.
    InForce,
    /// Withdrawn by its authority. It never counts.
    Withdrawn,
    /// Repaired on this date: it counts until then at the latest.
    Repaired(Date),
}

/// A record as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordInput {
    /// Log index of its filing: how explanations cite it.
    pub id: u64,
    /// Its kind.
    pub kind: String,
    /// When it took legal effect.
    pub effective: Date,
    /// Where it stands.
    pub state: RecordState,
}

impl RecordInput {
    /// When an effect of this record that would naturally last until `natural` ends: never
    /// begun if withdrawn, cut short on the day of a repair.
    fn end(&self, natural: Date) -> Option<Date> {
        match self.state {
            RecordState::InForce => Some(natural),
            RecordState::Withdrawn => None,
            RecordState::Repaired(on) => Some(natural.min(on)),
        }
    }
}

/// What the engine needs to know about the subject itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubjectInput {
    /// Date established, if known.
    pub established: Option<Date>,
}

/// A rule that applied, with the record behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Effect {
    /// The record (log index of its filing).
    pub record: u64,
    /// Its kind.
    pub kind: String,
    /// Points it adds to the score.
    pub points: i32,
    /// The grade it sets directly, if it is a trigger.
    pub sets_grade: Option<String>,
    /// The legal basis of the rule.
    pub basis: String,
    /// The first day it no longer counts.
    pub until: Date,
    /// The first day the subject may apply for its repair, if the kind can be repaired.
    pub repair_opens: Option<Date>,
    /// The grade the subject would have once this record is repaired (on `repair_opens`, or
    /// on the date assessed if repair is open already), every other record as it stands.
    pub grade_if_repaired: Option<String>,
}

/// Membership of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Membership {
    /// List id.
    pub list: String,
    /// List type.
    pub list_type: ListType,
    /// Since when (the earliest effective record behind it); `None` for grade-based lists.
    pub since: Option<Date>,
    /// The first day off the list; `None` while a grade holds it.
    pub until: Option<Date>,
    /// The records behind it.
    pub records: Vec<u64>,
    /// Legal basis.
    pub basis: String,
}

/// An answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// May take part.
    Allow,
    /// May take part, with attention.
    Flag,
    /// May not take part.
    Deny,
}

impl Decision {
    /// The answer as a word, as written in output and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Flag => "flag",
            Self::Deny => "deny",
        }
    }
}

/// Why a measure was denied or flagged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reason {
    /// What caused it, e.g. `list serious_violation` or `grade D`.
    pub cause: String,
    /// The records behind it.
    pub records: Vec<u64>,
    /// The legal basis of the measure's rule and of the cause.
    pub basis: String,
}

// `R`: the reasons decoded (`Reason`s), or, where they are only passed on, the JSON they were
// stored as (`Box<serde_json::value::RawValue>`).
/// The answer for one measure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeasureAnswer<R = Vec<Reason>> {
    /// Measure id.
    pub measure: String,
    /// The answer.
    pub decision: Decision,
    /// Why (empty when allowed).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Reason>))]
    pub reasons: R,
    /// The first later date on which the answer changes, if records already filed change it.
    pub changes_on: Option<Date>,
    /// What it changes to then.
    pub changes_to: Option<Decision>,
}

/// A full assessment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Assessment {
    /// The date assessed.
    pub as_of: Date,
    /// Rulebook id.
    pub rulebook: String,
    /// Rulebook version.
    pub version: String,
    /// Score, if the rulebook scores.
    pub score: Option<i32>,
    /// Grade, if the rulebook grades.
    pub grade: Option<String>,
    /// How the grade came about beyond the bands (trigger, bar, sticky), in words.
    pub grade_notes: Vec<String>,
    /// Every record that counts, with its effect.
    pub effects: Vec<Effect>,
    /// Lists the subject is on.
    pub lists: Vec<Membership>,
    /// Answers for every measure.
    pub measures: Vec<MeasureAnswer>,
    /// The first later date on which some effect starts or ends: re-assess then.
    pub next_boundary: Option<Date>,
}

/// The state at one date.
struct State {
    score: Option<i32>,
    grade: Option<String>,
    /// The records behind the grade: those that count, and one that holds a sticky grade.
    grade_records: Vec<u64>,
    grade_notes: Vec<String>,
    effects: Vec<Effect>,
    lists: Vec<Membership>,
}

/// What the rulebook makes of one record, worked out once per assessment so that evaluating at
/// many dates, and again without one record for the what-if, repeats no look-up or date sum.
struct Fact<'b> {
    /// Its kind, if the catalogue has it.
    kind: Option<&'b crate::Kind>,
    /// The first day it no longer counts; `None` if it never counts (withdrawn, unknown kind).
    until: Option<Date>,
    /// Points it adds while it counts.
    points: i64,
    /// The trigger rule of its kind, and the band that trigger sets (if the band exists).
    trigger: Option<&'b crate::Trigger>,
    trigger_band: Option<usize>,
    /// For each sticky rule, in rulebook order: the first day a grade it reached no longer holds.
    holds: Vec<Option<Date>>,
}

/// A subject's records with their facts, in one place.
struct Facts<'b, 'r> {
    book: &'b Rulebook,
    records: &'r [RecordInput],
    facts: Vec<Fact<'b>>,
    /// Starts and ends of counting effects, ordered by date: (date, points, trigger band, +1/-1).
    changes: Vec<(Date, i64, Option<usize>, i32)>,
    /// Effective dates of counting records, ascending and distinct.
    starts: Vec<Date>,
}

impl<'b, 'r> Facts<'b, 'r> {
    fn new(book: &'b Rulebook, records: &'r [RecordInput]) -> Self {
        let scoring = book.scoring();
        let facts: Vec<Fact<'b>> = records
            .iter()
            .map(|r| {
                let kind = book.kind(&r.kind);
                let trigger = scoring.and_then(|s| s.triggers.iter().find(|t| t.kind == r.kind));
                Fact {
                    kind,
                    until: kind.and_then(|k| r.end(k.counts_for.after(r.effective))),
                    points: kind.map_or(0, |k| i64::from(k.points)),
                    trigger,
                    trigger_band: trigger.and_then(|t| {
                        scoring.and_then(|s| s.bands.iter().position(|b| b.grade == t.grade))
                    }),
                    holds: scoring
                        .map(|s| s.sticky.iter().map(|st| r.end(st.holds_for.after(r.effective))))
                        .into_iter()
                        .flatten()
                        .collect(),
                }
            })
            .collect();
        let mut changes = Vec::new();
        let mut starts = Vec::new();
        for (r, f) in records.iter().zip(&facts) {
            let Some(until) = f.until else { continue };
            changes.push((r.effective, f.points, f.trigger_band, 1));
            changes.push((until, -f.points, f.trigger_band, -1));
            starts.push(r.effective);
        }
        changes.sort_by_key(|c| c.0);
        starts.sort_unstable();
        starts.dedup();
        Self { book, records, facts, changes, starts }
    }

    /// The records and their facts, leaving out those at `without` (indices).
    fn iter<'s>(
        &'s self,
        without: &'s [usize],
    ) -> impl Iterator<Item = (&'r RecordInput, &'s Fact<'b>)> + 's {
        self.records
            .iter()
            .zip(&self.facts)
            .enumerate()
            .filter(move |(i, _)| !without.contains(i))
            .map(|(_, rf)| rf)
    }

    /// The base grade (score bands and triggers, before bars and sticky grades) on every date a
    /// record takes effect, in one sweep over the starts and ends of records.
    fn bands(&self) -> Bands {
        let nbands = self.book.scoring().map_or(0, |s| s.bands.len());
        let mut out = Bands { at: Vec::new(), triggers: Vec::new(), nbands };
        let Some(scoring) = self.book.scoring() else { return out };
        let mut triggers = vec![0i32; nbands];
        let mut total = i64::from(scoring.start);
        let mut next = self.changes.iter().peekable();
        for &date in &self.starts {
            while let Some((_, points, trigger, sign)) = next.next_if(|c| c.0 <= date) {
                total += points;
                if let Some(slot) = trigger.and_then(|t| triggers.get_mut(t)) {
                    *slot += sign;
                }
            }
            out.at.push((date, band_of(scoring, total, &triggers), total));
            out.triggers.extend_from_slice(&triggers);
        }
        out
    }

    /// Score and grade on `date` without the records at `without` (indices). With `explain`,
    /// the notes on how the grade came about beyond the bands (sticky holds, the new-entity
    /// grade, bars) and the record holding a sticky grade are added to it.
    fn grade_at(
        &self,
        subject: &SubjectInput,
        bands: &Bands,
        without: &[usize],
        date: Date,
        mut explain: Option<&mut State>,
    ) -> (Option<i32>, Option<String>) {
        let Some(scoring) = self.book.scoring() else { return (None, None) };
        let mut total = i64::from(scoring.start);
        let mut trigger_band: Option<usize> = None;
        let mut set_directly = false;
        for (r, f) in self.iter(without) {
            if !f.until.is_some_and(|u| r.effective <= date && date < u) {
                continue;
            }
            total += f.points;
            if f.trigger.is_some() {
                set_directly = true;
            }
            trigger_band = trigger_band.max(f.trigger_band);
        }
        let (score, mut band) = score_band(scoring, total);
        if let Some(t) = trigger_band {
            band = band.max(t);
        }
        // Sticky grades: a grade reached within its holding period still holds. The hold runs
        // from the last time the grade was reached.
        for (k, s) in scoring.sticky.iter().enumerate() {
            let Some(si) = scoring.bands.iter().position(|b| b.grade == s.grade) else {
                continue;
            };
            if band >= si {
                continue;
            }
            let held = self
                .iter(without)
                .filter_map(|(r, f)| {
                    let until = f.holds.get(k).copied().flatten()?;
                    (r.effective <= date
                        && until > date
                        && bands.at(self, without, r.effective).is_some_and(|b| b >= si))
                    .then_some((r, until))
                })
                .max_by_key(|(r, _)| (r.effective, r.id));
            if let Some((r, until)) = held {
                set_directly = true;
                band = si;
                if let Some(x) = explain.as_deref_mut() {
                    x.grade_records.push(r.id);
                    x.grade_notes.push(format!(
                        "grade {} reached on {} holds until {until} ({})",
                        s.grade, r.effective, s.basis
                    ));
                }
            }
        }
        if let Some((n, established)) =
            new_entity(scoring, subject, Some(score), set_directly, date)
        {
            if let Some(x) = explain.as_deref_mut() {
                x.grade_notes.push(format!(
                    "grade {}: established on {established}, less than {} before, with a score \
                     of at least {} ({})",
                    n.grade, n.younger_than, n.min, n.basis
                ));
            }
            return (Some(score), Some(n.grade.clone()));
        }
        // Bars: a barred grade falls to the next band.
        while let Some(bar) = scoring.bars.iter().find(|b| {
            scoring.bands.get(band).is_some_and(|x| x.grade == b.grade)
                && subject.established.is_none_or(|e| b.younger_than.after(e) > date)
        }) {
            if band + 1 >= scoring.bands.len() {
                break;
            }
            band += 1;
            if let Some(x) = explain.as_deref_mut() {
                x.grade_notes.push(format!(
                    "grade {} is barred: {} ({})",
                    bar.grade,
                    describe_bar(bar.younger_than),
                    bar.basis
                ));
            }
        }
        (Some(score), scoring.bands.get(band).map(|b| b.grade.clone()))
    }

    /// Every record that counts on `date`, with its effect, ordered by record.
    fn effects_at(&self, date: Date) -> Vec<Effect> {
        let mut out: Vec<Effect> = self
            .iter(&[])
            .filter_map(|(r, f)| {
                let until = f.until?;
                if !(r.effective <= date && date < until) {
                    return None;
                }
                let kind = f.kind?;
                Some(Effect {
                    record: r.id,
                    kind: r.kind.clone(),
                    points: kind.points,
                    sets_grade: f.trigger.map(|t| t.grade.clone()),
                    basis: f.trigger.map_or_else(
                        || kind.basis.clone(),
                        |t| format!("{}; {}", kind.basis, t.basis),
                    ),
                    until,
                    repair_opens: kind.repair_after.map(|p| p.after(r.effective)),
                    grade_if_repaired: None,
                })
            })
            .collect();
        out.sort_by(|a, b| (a.record, &a.kind).cmp(&(b.record, &b.kind)));
        out
    }
}

/// The base band on each date a counting record takes effect, ascending by date, with the
/// score total and the count of records holding each trigger band that gave it.
struct Bands {
    /// (date, band, total before clamping).
    at: Vec<(Date, usize, i64)>,
    /// For each entry of `at`, one count per band.
    triggers: Vec<i32>,
    nbands: usize,
}

impl Bands {
    /// The base band on `date` (one of the dates a counting record takes effect), as it would
    /// be without the records at `without` (indices into `facts`): their points and triggers are
    /// taken back where they counted, so leaving a record out needs no new sweep.
    fn at(&self, facts: &Facts<'_, '_>, without: &[usize], date: Date) -> Option<usize> {
        let i = self.at.binary_search_by_key(&date, |b| b.0).ok()?;
        let &(_, band, total) = self.at.get(i)?;
        let counting = || {
            without.iter().filter_map(move |&j| {
                let (r, f) = (facts.records.get(j)?, facts.facts.get(j)?);
                f.until.is_some_and(|u| r.effective <= date && date < u).then_some(f)
            })
        };
        if counting().next().is_none() {
            return Some(band);
        }
        let scoring = facts.book.scoring()?;
        let mut triggers: Vec<i32> =
            self.triggers.get(i * self.nbands..(i + 1) * self.nbands)?.to_vec();
        let mut total = total;
        for f in counting() {
            total -= f.points;
            if let Some(slot) = f.trigger_band.and_then(|t| triggers.get_mut(t)) {
                *slot -= 1;
            }
        }
        Some(band_of(scoring, total, &triggers))
    }
}

/// The score of a points total (start included), clamped to the scoring model's range, and the
/// band that score falls in.
fn score_band(scoring: &crate::Scoring, total: i64) -> (i32, usize) {
    let score = total.clamp(i64::from(scoring.floor), i64::from(scoring.ceiling)) as i32;
    let band = scoring
        .bands
        .iter()
        .position(|b| score >= b.min)
        .unwrap_or(scoring.bands.len().saturating_sub(1));
    (score, band)
}

/// The base band of a score total and the count of counting records holding each trigger band.
fn band_of(scoring: &crate::Scoring, total: i64, triggers: &[i32]) -> usize {
    let (_, band) = score_band(scoring, total);
    triggers.iter().rposition(|n| *n > 0).map_or(band, |worst| band.max(worst))
}

fn evaluate(facts: &Facts<'_, '_>, subject: &SubjectInput, bands: &Bands, date: Date) -> State {
    let book = facts.book;
    let records = facts.records;
    let effects = facts.effects_at(date);
    let mut state = State {
        score: None,
        grade: None,
        grade_records: effects.iter().map(|e| e.record).collect(),
        grade_notes: effects
            .iter()
            .filter_map(|e| {
                let g = e.sets_grade.as_ref()?;
                Some(format!("record {} ({}) sets grade {g} directly", e.record, e.kind))
            })
            .collect(),
        effects: Vec::new(),
        lists: Vec::new(),
    };
    let (score, grade) = facts.grade_at(subject, bands, &[], date, Some(&mut state));
    state.score = score;
    state.grade = grade;
    let mut lists = Vec::new();
    for list in book.lists() {
        let mut behind: Vec<&RecordInput> = records
            .iter()
            .filter(|r| list.kinds.contains(&r.kind))
            .filter(|r| {
                r.effective <= date
                    && r.end(list.duration.after(r.effective)).is_some_and(|e| date < e)
            })
            .collect();
        behind.sort_by_key(|r| r.id);
        if !behind.is_empty() {
            lists.push(Membership {
                list: list.id.clone(),
                list_type: list.list_type,
                since: behind.iter().map(|r| r.effective).min(),
                until: behind.iter().filter_map(|r| r.end(list.duration.after(r.effective))).max(),
                records: behind.iter().map(|r| r.id).collect(),
                basis: list.basis.clone(),
            });
        } else if state.grade.as_ref().is_some_and(|g| list.grades.contains(g)) {
            lists.push(Membership {
                list: list.id.clone(),
                list_type: list.list_type,
                since: None,
                until: None,
                records: effects.iter().map(|e| e.record).collect(),
                basis: list.basis.clone(),
            });
        }
    }
    state.grade_records.sort_unstable();
    state.grade_records.dedup();
    state.effects = effects;
    state.lists = lists;
    state
}

/// The new-entity rule and the subject's date of establishment, if the rule replaces the band
/// grade on `date`: the subject is younger than the rule's period, scores at least its minimum,
/// and no trigger or sticky grade set the grade.
fn new_entity<'s>(
    scoring: &'s crate::Scoring,
    subject: &SubjectInput,
    score: Option<i32>,
    set_directly: bool,
    date: Date,
) -> Option<(&'s crate::NewEntity, Date)> {
    let n = scoring.new_entity.as_ref()?;
    let established = subject.established?;
    (!set_directly
        && established <= date
        && date < n.younger_than.after(established)
        && score.is_some_and(|s| s >= n.min))
    .then_some((n, established))
}

fn describe_bar(p: crate::Period) -> String {
    format!(
        "the subject was established less than {p} ago, or its date of establishment is unknown"
    )
}

fn decide(book: &Rulebook, state: &State, measure: &crate::Measure) -> (Decision, Vec<Reason>) {
    let mut reasons = Vec::new();
    let mut decision = Decision::Allow;
    for (cond, d) in [(&measure.deny, Decision::Deny), (&measure.flag, Decision::Flag)] {
        let mut hit = Vec::new();
        for m in state.lists.iter().filter(|m| cond.lists.contains(&m.list)) {
            let name = book.list(&m.list).map_or(m.list.as_str(), |l| l.name.as_str());
            hit.push(Reason {
                cause: format!("on list `{}` ({name})", m.list),
                records: m.records.clone(),
                basis: format!("{}; {}", measure.basis, m.basis),
            });
        }
        if let Some(g) = state.grade.as_ref().filter(|g| cond.grades.contains(g)) {
            hit.push(Reason {
                cause: format!("grade {g}"),
                records: state.grade_records.clone(),
                basis: format!(
                    "{}; {}",
                    measure.basis,
                    book.scoring().map_or("", |s| s.basis.as_str())
                ),
            });
        }
        if !hit.is_empty() && decision == Decision::Allow {
            decision = d;
        }
        if decision == d {
            reasons.extend(hit);
        }
    }
    (decision, reasons)
}

/// The decision for a measure from a grade and the lists a subject is on.
fn quick_decision(measure: &crate::Measure, grade: Option<&str>, lists: &[&str]) -> Decision {
    let hit = |c: &crate::Condition| {
        c.lists.iter().any(|l| lists.contains(&l.as_str()))
            || grade.is_some_and(|g| c.grades.iter().any(|x| x == g))
    };
    if hit(&measure.deny) {
        Decision::Deny
    } else if hit(&measure.flag) {
        Decision::Flag
    } else {
        Decision::Allow
    }
}

/// Grade and lists on each of `dates` (ascending), in one sweep over the starts and ends of
/// records' effects: what the answers on those dates need, without the explanations.
fn timeline<'b>(
    facts: &Facts<'b, '_>,
    subject: &SubjectInput,
    bands: &Bands,
    dates: &BTreeSet<Date>,
) -> Vec<(Date, Option<String>, Vec<&'b str>)> {
    let book = facts.book;
    let scoring = book.scoring();
    let lists: Vec<&crate::ListRule> = book.lists().collect();
    let nbands = scoring.map_or(0, |s| s.bands.len());
    // Streams of changes: score points, trigger bands, sticky holds, list entries.
    #[derive(Clone, Copy)]
    enum Change {
        Points(i64),
        Trigger(usize, i32),
        Sticky(usize, i32),
        List(usize, i32),
    }
    let mut changes: Vec<(Date, Change)> = Vec::new();
    for (r, f) in facts.iter(&[]) {
        let Some(until) = f.until else { continue };
        changes.push((r.effective, Change::Points(f.points)));
        changes.push((until, Change::Points(-f.points)));
        if let Some(s) = scoring {
            if let Some(t) = f.trigger_band {
                changes.push((r.effective, Change::Trigger(t, 1)));
                changes.push((until, Change::Trigger(t, -1)));
            }
            for (k, st) in s.sticky.iter().enumerate() {
                if let Some(si) = s.bands.iter().position(|b| b.grade == st.grade)
                    && bands.at(facts, &[], r.effective).is_some_and(|b| b >= si)
                {
                    changes.push((r.effective, Change::Sticky(si, 1)));
                    let end = f.holds.get(k).copied().flatten().unwrap_or(r.effective);
                    changes.push((end, Change::Sticky(si, -1)));
                }
            }
        }
        for (i, l) in lists.iter().enumerate().filter(|(_, l)| l.kinds.contains(&r.kind)) {
            changes.push((r.effective, Change::List(i, 1)));
            changes
                .push((r.end(l.duration.after(r.effective)).unwrap_or(until), Change::List(i, -1)));
        }
    }
    changes.sort_by_key(|c| c.0);
    let (mut total, mut triggers, mut sticky, mut on) = (
        i64::from(scoring.map_or(0, |s| s.start)),
        vec![0i32; nbands],
        vec![0i32; nbands],
        vec![0i32; lists.len()],
    );
    let mut next = changes.iter().peekable();
    let mut out = Vec::with_capacity(dates.len());
    for &date in dates {
        while let Some((_, c)) = next.next_if(|c| c.0 <= date) {
            match *c {
                Change::Points(p) => total += p,
                Change::Trigger(i, d) => triggers.get_mut(i).into_iter().for_each(|x| *x += d),
                Change::Sticky(i, d) => sticky.get_mut(i).into_iter().for_each(|x| *x += d),
                Change::List(i, d) => on.get_mut(i).into_iter().for_each(|x| *x += d),
            }
        }
        let grade = scoring.and_then(|s| {
            let (score, mut band) = score_band(s, total);
            let trigger = triggers.iter().rposition(|n| *n > 0);
            let held = sticky.iter().rposition(|n| *n > 0);
            if let Some((n, _)) =
                new_entity(s, subject, Some(score), trigger.is_some() || held.is_some(), date)
            {
                return Some(n.grade.clone());
            }
            if let Some(w) = trigger {
                band = band.max(w);
            }
            if let Some(w) = held {
                band = band.max(w);
            }
            while s.bands.get(band).is_some_and(|x| {
                s.bars.iter().any(|b| {
                    b.grade == x.grade
                        && subject.established.is_none_or(|e| b.younger_than.after(e) > date)
                })
            }) && band + 1 < nbands
            {
                band += 1;
            }
            s.bands.get(band).map(|b| b.grade.clone())
        });
        let mut members: Vec<&str> =
            lists.iter().zip(&on).filter(|(_, n)| **n > 0).map(|(l, _)| l.id.as_str()).collect();
        // Grade-based entries, for lists a record does not already hold the subject on.
        for l in &lists {
            if !members.contains(&l.id.as_str())
                && grade.as_ref().is_some_and(|g| l.grades.contains(g))
            {
                members.push(l.id.as_str());
            }
        }
        out.push((date, grade, members));
    }
    out
}

/// Dates after `as_of` on which some effect starts or ends.
fn boundaries(
    book: &Rulebook,
    subject: &SubjectInput,
    records: &[RecordInput],
    as_of: Date,
) -> BTreeSet<Date> {
    let mut dates = BTreeSet::new();
    for r in records.iter().filter(|r| r.state != RecordState::Withdrawn) {
        dates.insert(r.effective);
        if let Some(k) = book.kind(&r.kind) {
            dates.extend(r.end(k.counts_for.after(r.effective)));
        }
        for l in book.lists().filter(|l| l.kinds.contains(&r.kind)) {
            dates.extend(r.end(l.duration.after(r.effective)));
        }
        for s in book.scoring().map(|s| s.sticky.as_slice()).unwrap_or_default() {
            dates.extend(r.end(s.holds_for.after(r.effective)));
        }
    }
    if let (Some(e), Some(s)) = (subject.established, book.scoring()) {
        for b in &s.bars {
            dates.insert(b.younger_than.after(e));
        }
        if let Some(n) = &s.new_entity {
            dates.insert(e);
            dates.insert(n.younger_than.after(e));
        }
    }
    dates.into_iter().filter(|d| *d > as_of).collect()
}

/// Assesses a subject with `records` under `book` on `as_of`.
pub fn assess(
    book: &Rulebook,
    subject: &SubjectInput,
    records: &[RecordInput],
    as_of: Date,
) -> Assessment {
    let facts = Facts::new(book, records);
    let bands = facts.bands();
    let mut now = evaluate(&facts, subject, &bands, as_of);
    // What-if: the grade once each repairable record is repaired, the others as they stand.
    for e in &mut now.effects {
        if let Some(opens) = e.repair_opens {
            let without: Vec<usize> = (0..records.len())
                .filter(|&i| records.get(i).is_some_and(|r| r.id == e.record))
                .collect();
            e.grade_if_repaired =
                facts.grade_at(subject, &bands, &without, opens.max(as_of), None).1;
        }
    }
    let dates = boundaries(book, subject, records, as_of);
    let next_boundary = dates.first().copied();
    let future = timeline(&facts, subject, &bands, &dates);
    let measures = book
        .measures()
        .map(|m| {
            let (decision, reasons) = decide(book, &now, m);
            let change = future
                .iter()
                .map(|(d, grade, lists)| (*d, quick_decision(m, grade.as_deref(), lists)))
                .find(|(_, x)| *x != decision);
            MeasureAnswer {
                measure: m.id.clone(),
                decision,
                reasons,
                changes_on: change.map(|c| c.0),
                changes_to: change.map(|c| c.1),
            }
        })
        .collect();
    Assessment {
        as_of,
        rulebook: book.header.id.to_string(),
        version: book.header.version.clone(),
        score: now.score,
        grade: now.grade,
        grade_notes: now.grade_notes,
        effects: now.effects,
        lists: now.lists,
        measures,
        next_boundary,
    }
}
