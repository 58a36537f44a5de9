//! The parts of a rulebook that turn records into answers: the scoring model, the lists and the
//! measures. Parsed from TOML alongside the kind catalogue and validated against it.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::{Kind, Period, RulebookError};

/// A grade band: scores from `min` up to the next better band's `min` get `grade`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Band {
    /// Grade name, e.g. `A`.
    pub grade: String,
    /// Lowest score in the band.
    pub min: i32,
}

/// A record kind that sets the grade directly while it counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    /// The kind.
    pub kind: String,
    /// The grade it sets.
    pub grade: String,
    /// Legal basis.
    pub basis: String,
}

/// A grade a subject may not have while younger than a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    /// The barred grade.
    pub grade: String,
    /// Minimum age since establishment.
    pub younger_than: Period,
    /// Legal basis.
    pub basis: String,
}

/// A grade that, once reached, holds for a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sticky {
    /// The grade.
    pub grade: String,
    /// How long it holds.
    pub holds_for: Period,
    /// Legal basis.
    pub basis: String,
}

/// The scoring model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scoring {
    /// Score before any record.
    pub start: i32,
    /// Lowest possible score.
    pub floor: i32,
    /// Highest possible score.
    pub ceiling: i32,
    /// Bands, best first.
    pub bands: Vec<Band>,
    /// Direct-grade triggers.
    pub triggers: Vec<Trigger>,
    /// Conditions that bar a grade.
    pub bars: Vec<Bar>,
    /// Grades that hold once reached.
    pub sticky: Vec<Sticky>,
    /// The grade of subjects too new to be rated on their record, if the model has one.
    pub new_entity: Option<NewEntity>,
    /// Legal basis of the model.
    pub basis: String,
}

impl Scoring {
    /// Every grade, best first: the bands, with the new-entity grade after the last band it
    /// requires at least the score of.
    pub fn grades(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.bands.iter().map(|b| b.grade.as_str()).collect();
        if let Some(n) = &self.new_entity {
            let at = self.bands.iter().take_while(|b| b.min >= n.min).count();
            out.insert(at, n.grade.as_str());
        }
        out
    }
}

/// A grade for subjects too new to be rated on their record: while a subject is younger than
/// `younger_than` and scores at least `min`, it replaces the band grade, unless a trigger or a
/// sticky grade sets the grade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntity {
    /// The grade, e.g. `M`; not one of the bands.
    pub grade: String,
    /// How long a subject counts as new, from its establishment.
    pub younger_than: Period,
    /// The lowest score that gets it.
    pub min: i32,
    /// Legal basis.
    pub basis: String,
}

/// What a list is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ListType {
    /// Members are excluded from measures that deny it.
    Exclusion,
    /// Members are flagged.
    Warning,
    /// Members are in good standing.
    GoodStanding,
}

/// A list and how subjects enter and leave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRule {
    /// Its id.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Type.
    pub list_type: ListType,
    /// A counting record of one of these kinds puts the subject on the list.
    pub kinds: Vec<String>,
    /// A current grade among these puts the subject on the list.
    pub grades: Vec<String>,
    /// How long an entry made by a record lasts from the record's effective date.
    pub duration: Period,
    /// Legal basis.
    pub basis: String,
}

/// What denies or flags a measure.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Condition {
    /// Membership of any of these lists.
    pub lists: Vec<String>,
    /// Any of these grades.
    pub grades: Vec<String>,
}

/// A measure: something a subject may or may not take part in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measure {
    /// Its id.
    pub id: String,
    /// What it is.
    pub description: String,
    /// What denies it.
    pub deny: Condition,
    /// What flags it.
    pub flag: Condition,
    /// Legal basis.
    pub basis: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScoring {
    start: i32,
    floor: i32,
    ceiling: i32,
    basis: String,
    grades: Vec<Spanned<RawBand>>,
    #[serde(default)]
    triggers: Vec<Spanned<RawTrigger>>,
    #[serde(default)]
    bars: Vec<Spanned<RawBar>>,
    #[serde(default)]
    sticky: Vec<Spanned<RawSticky>>,
    #[serde(default)]
    new_entity: Option<Spanned<RawNewEntity>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNewEntity {
    grade: String,
    younger_than: String,
    min: i32,
    basis: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBand {
    grade: String,
    min: i32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrigger {
    kind: String,
    grade: String,
    basis: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBar {
    grade: String,
    younger_than: String,
    basis: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSticky {
    grade: String,
    holds_for: String,
    basis: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawList {
    name: String,
    #[serde(rename = "type")]
    list_type: ListType,
    #[serde(default)]
    kinds: Vec<String>,
    #[serde(default)]
    grades: Vec<String>,
    duration: Option<String>,
    basis: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    #[serde(default)]
    lists: Vec<String>,
    #[serde(default)]
    grades: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMeasure {
    description: String,
    basis: String,
    #[serde(default)]
    deny: RawCondition,
    #[serde(default)]
    flag: RawCondition,
}

/// Reports a problem at a byte offset of the rulebook text.
pub(crate) type At<'a> = &'a dyn Fn(usize, &str, String) -> RulebookError;

fn period(at: At<'_>, offset: usize, key: &str, text: &str) -> Result<Period, RulebookError> {
    Period::parse(text).ok_or_else(|| {
        at(offset, key, format!("`{text}` is not a period such as `3 months` or `1 year`"))
    })
}

pub(crate) fn scoring(
    raw: Spanned<RawScoring>,
    kinds: &BTreeMap<String, Kind>,
    at: At<'_>,
) -> Result<Scoring, RulebookError> {
    let offset = raw.span().start;
    let raw = raw.into_inner();
    if !(raw.floor <= raw.start && raw.start <= raw.ceiling) {
        return Err(at(
            offset,
            "scoring",
            "the start score must lie between floor and ceiling".into(),
        ));
    }
    let mut bands: Vec<Band> = Vec::new();
    for b in raw.grades {
        let o = b.span().start;
        let b = b.into_inner();
        if bands.iter().any(|x| x.grade == b.grade) {
            return Err(at(o, "scoring.grades", format!("grade `{}` appears twice", b.grade)));
        }
        if let Some(prev) = bands.last()
            && b.min >= prev.min
        {
            return Err(at(
                o,
                "scoring.grades",
                format!(
                    "grade bands overlap: `{}` starts at {} but the better grade `{}` starts at {}; list bands best first with falling minimums",
                    b.grade, b.min, prev.grade, prev.min
                ),
            ));
        }
        bands.push(Band { grade: b.grade, min: b.min });
    }
    match bands.last() {
        None => return Err(at(offset, "scoring.grades", "no grade bands".into())),
        Some(last) if last.min > raw.floor => {
            return Err(at(
                offset,
                "scoring.grades",
                format!("scores from {} to {} have no grade", raw.floor, last.min - 1),
            ));
        }
        _ => {}
    }
    let grade_known = |g: &str| bands.iter().any(|b| b.grade == g);
    let mut triggers = Vec::new();
    for t in raw.triggers {
        let o = t.span().start;
        let t = t.into_inner();
        if !kinds.contains_key(&t.kind) {
            return Err(at(
                o,
                "scoring.triggers",
                format!("trigger cites unknown kind `{}`", t.kind),
            ));
        }
        if !grade_known(&t.grade) {
            return Err(at(
                o,
                "scoring.triggers",
                format!("trigger sets unknown grade `{}`", t.grade),
            ));
        }
        triggers.push(Trigger { kind: t.kind, grade: t.grade, basis: t.basis });
    }
    let mut bars = Vec::new();
    for b in raw.bars {
        let o = b.span().start;
        let b = b.into_inner();
        if !grade_known(&b.grade) {
            return Err(at(o, "scoring.bars", format!("bar cites unknown grade `{}`", b.grade)));
        }
        bars.push(Bar {
            younger_than: period(at, o, "scoring.bars.younger_than", &b.younger_than)?,
            grade: b.grade,
            basis: b.basis,
        });
    }
    let mut sticky = Vec::new();
    for s in raw.sticky {
        let o = s.span().start;
        let s = s.into_inner();
        if !grade_known(&s.grade) {
            return Err(at(
                o,
                "scoring.sticky",
                format!("sticky rule cites unknown grade `{}`", s.grade),
            ));
        }
        sticky.push(Sticky {
            holds_for: period(at, o, "scoring.sticky.holds_for", &s.holds_for)?,
            grade: s.grade,
            basis: s.basis,
        });
    }
    let new_entity = match raw.new_entity {
        None => None,
        Some(n) => {
            let o = n.span().start;
            let n = n.into_inner();
            if grade_known(&n.grade) {
                return Err(at(
                    o,
                    "scoring.new_entity.grade",
                    format!(
                        "grade `{}` is a band already; the new-entity grade needs its own",
                        n.grade
                    ),
                ));
            }
            if !(raw.floor..=raw.ceiling).contains(&n.min) {
                return Err(at(
                    o,
                    "scoring.new_entity.min",
                    format!("{} is outside the scores {}..={}", n.min, raw.floor, raw.ceiling),
                ));
            }
            Some(NewEntity {
                younger_than: period(at, o, "scoring.new_entity.younger_than", &n.younger_than)?,
                grade: n.grade,
                min: n.min,
                basis: n.basis,
            })
        }
    };
    Ok(Scoring {
        start: raw.start,
        floor: raw.floor,
        ceiling: raw.ceiling,
        bands,
        triggers,
        bars,
        sticky,
        new_entity,
        basis: raw.basis,
    })
}

pub(crate) fn lists(
    raw: BTreeMap<String, Spanned<RawList>>,
    kinds: &BTreeMap<String, Kind>,
    scoring: Option<&Scoring>,
    at: At<'_>,
) -> Result<BTreeMap<String, ListRule>, RulebookError> {
    let mut out = BTreeMap::new();
    for (id, l) in raw {
        let o = l.span().start;
        let l = l.into_inner();
        let key = format!("lists.{id}");
        for k in &l.kinds {
            if !kinds.contains_key(k) {
                return Err(at(o, &key, format!("list entry cites unknown kind `{k}`")));
            }
        }
        for g in &l.grades {
            if !scoring.is_some_and(|s| s.grades().contains(&g.as_str())) {
                return Err(at(o, &key, format!("list entry cites unknown grade `{g}`")));
            }
        }
        if l.kinds.is_empty() && l.grades.is_empty() {
            return Err(at(o, &key, "the list has no entry condition (kinds or grades)".into()));
        }
        let duration = match (&l.duration, l.kinds.is_empty()) {
            (Some(d), _) => period(at, o, &format!("{key}.duration"), d)?,
            (None, false) => {
                return Err(at(
                    o,
                    &format!("{key}.duration"),
                    "missing: an entry made by a record must have an end (nothing is for life)"
                        .into(),
                ));
            }
            // Grade-based membership lasts exactly as long as the grade.
            (None, true) => Period::Days(1),
        };
        out.insert(
            id.clone(),
            ListRule {
                id,
                name: l.name,
                list_type: l.list_type,
                kinds: l.kinds,
                grades: l.grades,
                duration,
                basis: l.basis,
            },
        );
    }
    Ok(out)
}

pub(crate) fn measures(
    raw: BTreeMap<String, Spanned<RawMeasure>>,
    lists: &BTreeMap<String, ListRule>,
    scoring: Option<&Scoring>,
    at: At<'_>,
) -> Result<BTreeMap<String, Measure>, RulebookError> {
    let mut out = BTreeMap::new();
    for (id, m) in raw {
        let o = m.span().start;
        let m = m.into_inner();
        let key = format!("measures.\"{id}\"");
        let cond = |c: RawCondition, what: &str| -> Result<Condition, RulebookError> {
            for l in &c.lists {
                if !lists.contains_key(l) {
                    return Err(at(
                        o,
                        &format!("{key}.{what}"),
                        format!("cites unknown list `{l}`"),
                    ));
                }
            }
            for g in &c.grades {
                if !scoring.is_some_and(|s| s.grades().contains(&g.as_str())) {
                    return Err(at(
                        o,
                        &format!("{key}.{what}"),
                        format!("cites unknown grade `{g}`"),
                    ));
                }
            }
            Ok(Condition { lists: c.lists, grades: c.grades })
        };
        let deny = cond(m.deny, "deny")?;
        let flag = cond(m.flag, "flag")?;
        out.insert(
            id.clone(),
            Measure { id, description: m.description, deny, flag, basis: m.basis },
        );
    }
    Ok(out)
}
