//! The published rulebook: which record kinds exist, who may file them, how long each is
//! published and how long it counts.
//!
//! A rulebook is TOML text. [`Rulebook::parse`] validates all of it and reports the first problem
//! with its line, column and key. The registry refuses any record whose kind the adopted rulebook
//! lacks, and any kind the filing authority's category may not file. Every kind has a published
//! end: a kind with no end is a validation error, not a default.
//!
//! ```
//! let text = r#"
//! [rulebook]
//! id = "demo"
//! version = "1"
//! publisher = "the demo registry"
//! effective = "2026-01-01"
//!
//! [kinds."penalty.minor"]
//! name = "Minor administrative penalty"
//! tier = "minor"
//! filed_by = ["market_regulation"]
//! basis = "Administrative Penalty Law, Art. 9"
//! published_for = "3 months"
//! counts_for = "3 months"
//! points = -5
//! "#;
//! let book = probity_rules::Rulebook::parse(text).unwrap();
//! assert!(book.kind("penalty.minor").is_some());
//! assert!(book.kind("opinion.disloyal").is_none());
//! ```

mod engine;
pub mod inspection;
mod policy;
mod process;
mod replay;

use std::collections::BTreeMap;
use std::fmt;

use probity_core::{Date, Slug};
use serde::Deserialize;
use toml::Spanned;

pub use engine::{
    Assessment, Decision, Effect, MeasureAnswer, Membership, Reason, RecordInput, RecordState,
    SubjectInput, assess,
};
pub use policy::{
    Band, Bar, Condition, ListRule, ListType, Measure, NewEntity, Scoring, Sticky, Trigger,
};
pub use process::{Calendar, Closed, Deadline, DueProcess, deadlines};
pub use replay::{
    Replay, ReplayError, ReplayedCase, ReplayedPlan, ReplayedRecord, ReplayedSubject, Rulebooks,
};

/// Why a rulebook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulebookError {
    /// The text is not TOML, or a key has the wrong type or is unknown.
    #[error("rulebook is malformed: {0}")]
    Syntax(String),
    /// A value is well typed but wrong.
    #[error("rulebook line {line}, column {column}, `{key}`: {message}")]
    Invalid {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// Dotted key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// A length of time as the rules state it: a number of days, months or years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// Calendar days.
    Days(u32),
    /// Calendar months.
    Months(u32),
    /// Calendar years.
    Years(u32),
}

impl Period {
    /// Parses `N day(s)`, `N month(s)` or `N year(s)` with N ≥ 1.
    pub fn parse(s: &str) -> Option<Self> {
        let (n, unit) = s.trim().split_once(' ')?;
        let n: u32 = n.parse().ok().filter(|n| *n >= 1 && *n <= 100_000)?;
        match unit.trim() {
            "day" | "days" => Some(Self::Days(n)),
            "month" | "months" => Some(Self::Months(n)),
            "year" | "years" => Some(Self::Years(n)),
            _ => None,
        }
    }

    /// The date this period after `start`, saturating at the largest date.
    pub fn after(self, start: Date) -> Date {
        let span = match self {
            Self::Days(n) => jiff::Span::new().try_days(i64::from(n)),
            Self::Months(n) => jiff::Span::new().try_months(i64::from(n)),
            Self::Years(n) => jiff::Span::new().try_years(i64::from(n)),
        };
        span.ok().and_then(|s| start.checked_add(s).ok()).unwrap_or(Date::MAX)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, unit) = match *self {
            Self::Days(n) => (n, "day"),
            Self::Months(n) => (n, "month"),
            Self::Years(n) => (n, "year"),
        };
        write!(f, "{n} {unit}{}", if n == 1 { "" } else { "s" })
    }
}

/// How heavy a record kind is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Minor: short publication.
    Minor,
    /// Moderate.
    Moderate,
    /// Serious.
    Serious,
    /// A positive record (an award, a good-standing finding).
    Positive,
}

/// A record kind of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind {
    /// Its id, e.g. `penalty.minor`.
    pub id: Slug,
    /// Human name.
    pub name: String,
    /// Tier.
    pub tier: Tier,
    /// Authority categories that may file it.
    pub filed_by: Vec<Slug>,
    /// The legal basis for keeping and publishing this kind.
    pub basis: String,
    /// How long after the effective date a record is published.
    pub published_for: Period,
    /// How long after the effective date a record counts in assessments.
    pub counts_for: Period,
    /// Points added to the score while a record counts (negative for penalties).
    pub points: i32,
    /// How long after the effective date the subject may apply for repair; repair ends the
    /// record's effects. `None`: this kind cannot be repaired early (it only expires).
    pub repair_after: Option<Period>,
    /// Whether a record of this kind is the outcome of an inspection, filed against the draw
    /// that selected its subject.
    pub inspection_outcome: bool,
}

impl Kind {
    /// Whether an authority of `category` may file this kind.
    pub fn may_be_filed_by(&self, category: &Slug) -> bool {
        self.filed_by.iter().any(|c| c == category)
    }
}

/// The header of a rulebook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Rulebook id, stable across versions.
    pub id: Slug,
    /// Version label.
    pub version: String,
    /// Who publishes it.
    pub publisher: String,
    /// From when it applies.
    pub effective: Date,
}

/// A validated rulebook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rulebook {
    /// Header.
    pub header: Header,
    kinds: BTreeMap<String, Kind>,
    scoring: Option<Scoring>,
    lists: BTreeMap<String, ListRule>,
    measures: BTreeMap<String, Measure>,
    due_process: DueProcess,
    calendar: Calendar,
    inspection: Option<inspection::Inspection>,
    names: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBook {
    rulebook: RawHeader,
    kinds: BTreeMap<String, Spanned<RawKind>>,
    scoring: Option<Spanned<policy::RawScoring>>,
    #[serde(default)]
    lists: BTreeMap<String, Spanned<policy::RawList>>,
    #[serde(default)]
    measures: BTreeMap<String, Spanned<policy::RawMeasure>>,
    due_process: Option<process::RawDueProcess>,
    calendar: Option<process::RawCalendar>,
    inspection: Option<Spanned<inspection::RawInspection>>,
    /// Names in other languages: language tag → `kinds.<id>` / `lists.<id>` / `measures.<id>`
    /// → name.
    #[serde(default)]
    names: BTreeMap<String, Spanned<BTreeMap<String, String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    id: Spanned<String>,
    version: String,
    publisher: String,
    effective: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKind {
    name: String,
    tier: Tier,
    filed_by: Spanned<Vec<String>>,
    basis: Spanned<String>,
    published_for: Option<Spanned<String>>,
    counts_for: Option<Spanned<String>>,
    points: i32,
    repair_after: Option<Spanned<String>>,
    #[serde(default)]
    inspection_outcome: bool,
}

struct Locator<'a>(&'a str);

impl Locator<'_> {
    fn err(&self, offset: usize, key: &str, message: impl Into<String>) -> RulebookError {
        let before = self.0.get(..offset).unwrap_or(self.0);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        RulebookError::Invalid { line, column, key: key.to_owned(), message: message.into() }
    }
}

impl Rulebook {
    /// Parses and validates rulebook text.
    pub fn parse(text: &str) -> Result<Self, RulebookError> {
        let raw: RawBook =
            toml::from_str(text).map_err(|e| RulebookError::Syntax(e.to_string()))?;
        let at = Locator(text);
        let h = raw.rulebook;
        let header = Header {
            id: Slug::parse("rulebook id", h.id.get_ref())
                .map_err(|e| at.err(h.id.span().start, "rulebook.id", e.to_string()))?,
            version: h.version,
            publisher: h.publisher,
            effective: h.effective.get_ref().parse().map_err(|_| {
                at.err(h.effective.span().start, "rulebook.effective", "expected a date YYYY-MM-DD")
            })?,
        };
        if raw.kinds.is_empty() {
            return Err(at.err(0, "kinds", "the catalogue has no record kinds"));
        }
        let mut kinds = BTreeMap::new();
        for (id, spanned) in raw.kinds {
            let start = spanned.span().start;
            let k = spanned.into_inner();
            let key = |field: &str| format!("kinds.\"{id}\".{field}");
            let slug = Slug::parse("kind id", &id)
                .map_err(|e| at.err(start, &key("id"), e.to_string()))?;
            if k.filed_by.get_ref().is_empty() {
                return Err(at.err(
                    k.filed_by.span().start,
                    &key("filed_by"),
                    "no authority category may file this kind",
                ));
            }
            let filed_by = k
                .filed_by
                .get_ref()
                .iter()
                .map(|c| Slug::parse("category", c))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| at.err(k.filed_by.span().start, &key("filed_by"), e.to_string()))?;
            if k.basis.get_ref().trim().is_empty() {
                return Err(at.err(
                    k.basis.span().start,
                    &key("basis"),
                    "every kind must cite its legal basis",
                ));
            }
            let period = |field: &str,
                          p: Option<Spanned<String>>|
             -> Result<Period, RulebookError> {
                let p = p.ok_or_else(|| {
                    at.err(
                        start,
                        &key(field),
                        "missing: every kind must have a published end (nothing is for life)",
                    )
                })?;
                Period::parse(p.get_ref()).ok_or_else(|| {
                    at.err(
                        p.span().start,
                        &key(field),
                        format!("`{}` is not a period such as `3 months` or `1 year`", p.get_ref()),
                    )
                })
            };
            let kind = Kind {
                published_for: period("published_for", k.published_for)?,
                counts_for: period("counts_for", k.counts_for)?,
                id: slug,
                name: k.name,
                tier: k.tier,
                filed_by,
                basis: k.basis.into_inner(),
                points: k.points,
                inspection_outcome: k.inspection_outcome,
                repair_after: k
                    .repair_after
                    .map(|p| {
                        Period::parse(p.get_ref()).ok_or_else(|| {
                            at.err(
                                p.span().start,
                                &key("repair_after"),
                                format!("`{}` is not a period such as `3 months`", p.get_ref()),
                            )
                        })
                    })
                    .transpose()?,
            };
            kinds.insert(id, kind);
        }
        let at_fn = |offset: usize, key: &str, message: String| at.err(offset, key, message);
        let scoring = raw.scoring.map(|s| policy::scoring(s, &kinds, &at_fn)).transpose()?;
        let lists = policy::lists(raw.lists, &kinds, scoring.as_ref(), &at_fn)?;
        let measures = policy::measures(raw.measures, &lists, scoring.as_ref(), &at_fn)?;
        let due_process = process::due_process(raw.due_process, &at_fn)?;
        let calendar = process::calendar(raw.calendar, &at_fn)?;
        let inspection = raw
            .inspection
            .map(|i| inspection::inspection(i, scoring.as_ref(), &at_fn))
            .transpose()?;
        let mut names = BTreeMap::new();
        for (lang, table) in raw.names {
            let start = table.span().start;
            let key = format!("names.\"{lang}\"");
            if lang.is_empty() || !lang.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(at.err(start, &key, format!("`{lang}` is not a language tag")));
            }
            let table = table.into_inner();
            for (item, name) in &table {
                let known = match item.split_once('.') {
                    Some(("kinds", id)) => kinds.contains_key(id),
                    Some(("lists", id)) => lists.contains_key(id),
                    Some(("measures", id)) => measures.contains_key(id),
                    _ => false,
                };
                if !known {
                    let msg = format!("`{item}` names no kind, list or measure of this rulebook");
                    return Err(at.err(start, &key, msg));
                }
                if name.trim().is_empty() {
                    return Err(at.err(start, &key, format!("the name of `{item}` is empty")));
                }
            }
            names.insert(lang, table);
        }
        Ok(Self {
            header,
            kinds,
            scoring,
            lists,
            measures,
            due_process,
            calendar,
            inspection,
            names,
        })
    }

    /// The scoring model, if the rulebook has one.
    pub fn scoring(&self) -> Option<&Scoring> {
        self.scoring.as_ref()
    }

    /// The due-process clocks.
    pub fn due_process(&self) -> &DueProcess {
        &self.due_process
    }

    /// The `[inspection]` section, if the rulebook has one.
    pub fn inspection(&self) -> Option<&inspection::Inspection> {
        self.inspection.as_ref()
    }

    /// The working-day calendar the clocks count in.
    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// The name of `item` (`kinds.<id>`, `lists.<id>` or `measures.<id>`) in language `lang`,
    /// if the rulebook gives one.
    pub fn name_in(&self, lang: &str, item: &str) -> Option<&str> {
        self.names.get(lang)?.get(item).map(String::as_str)
    }

    /// Every name in another language: language tag, item and name.
    pub fn names(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.names.iter().flat_map(|(lang, table)| {
            table.iter().map(move |(item, name)| (lang.as_str(), item.as_str(), name.as_str()))
        })
    }

    /// The list with this id.
    pub fn list(&self, id: &str) -> Option<&ListRule> {
        self.lists.get(id)
    }

    /// All lists, ordered by id.
    pub fn lists(&self) -> impl Iterator<Item = &ListRule> {
        self.lists.values()
    }

    /// The measure with this id.
    pub fn measure(&self, id: &str) -> Option<&Measure> {
        self.measures.get(id)
    }

    /// All measures, ordered by id.
    pub fn measures(&self) -> impl Iterator<Item = &Measure> {
        self.measures.values()
    }

    /// The kind with this id, if the catalogue has it.
    pub fn kind(&self, id: &str) -> Option<&Kind> {
        self.kinds.get(id)
    }

    /// All kinds, ordered by id.
    pub fn kinds(&self) -> impl Iterator<Item = &Kind> {
        self.kinds.values()
    }
}

/// The rulebook shipped with probity and used when a registry is created without another.
pub const DEFAULT_RULEBOOK: &str = include_str!("../../../rulebooks/default.toml");

/// The default rulebook's earlier version (2023.5, in force from May 2023 until the current
/// version's effective date), for a registry whose history starts before 2026: the demo starts on
/// it and adopts [`DEFAULT_RULEBOOK`] over it.
pub const DEFAULT_RULEBOOK_2023: &str = include_str!("../../../rulebooks/cn-default-2023.5.toml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_rulebook_is_valid_and_has_the_required_kinds() {
        let book = Rulebook::parse(DEFAULT_RULEBOOK).unwrap();
        for id in [
            "penalty.minor",
            "penalty.moderate",
            "penalty.serious",
            "court.dishonest_debtor",
            "tax.major_violation",
            "registration.abnormal",
            "award.quality",
        ] {
            assert!(book.kind(id).is_some(), "{id}");
        }
        let court = Slug::parse("c", "court").unwrap();
        assert!(book.kind("court.dishonest_debtor").unwrap().may_be_filed_by(&court));
        assert!(!book.kind("tax.major_violation").unwrap().may_be_filed_by(&court));
    }

    #[test]
    fn the_earlier_default_version_comes_before_the_current_one_with_the_same_catalogue() {
        let (old, new) = (
            Rulebook::parse(DEFAULT_RULEBOOK_2023).unwrap(),
            Rulebook::parse(DEFAULT_RULEBOOK).unwrap(),
        );
        assert_eq!(old.header.id, new.header.id);
        assert!(old.header.effective < new.header.effective);
        let ids = |b: &Rulebook| b.kinds().map(|k| k.id.to_string()).collect::<Vec<_>>();
        assert_eq!(ids(&old), ids(&new), "a record filed under one is filed under the other");
        assert!(old.inspection().is_some(), "plans were drawn under the earlier version too");
        // Under Guo Ban Fa [2025] No. 22 a minor penalty is repairable once the obligation is
        // met; before it, a minor penalty expired and had no repair.
        assert!(old.kind("penalty.minor").unwrap().repair_after.is_none());
        assert!(new.kind("penalty.minor").unwrap().repair_after.is_some());
        let oct = |d| Date::constant(2023, 10, d);
        assert_eq!(old.calendar().add_working_days(oct(6), 1), oct(7), "a shifted workday");
        assert_eq!(old.calendar().add_working_days(Date::constant(2023, 9, 28), 1), oct(7));
    }

    const HEAD: &str =
        "[rulebook]\nid = \"t\"\nversion = \"1\"\npublisher = \"p\"\neffective = \"2026-01-01\"\n";

    #[test]
    fn names_in_other_languages_must_name_something_of_the_rulebook() {
        let book = Rulebook::parse(DEFAULT_RULEBOOK).unwrap();
        assert_eq!(book.name_in("zh-Hans", "lists.serious_violation"), Some("严重违法失信名单"));
        assert_eq!(book.name_in("zh-Hans", "measures.procurement.bid"), Some("参与政府采购投标"));
        assert_eq!(book.name_in("fr", "lists.serious_violation"), None);
        // Every kind, list and measure of the shipped rulebook has its Chinese name.
        let items = book
            .kinds()
            .map(|k| format!("kinds.{}", k.id))
            .chain(book.lists().map(|l| format!("lists.{}", l.id)))
            .chain(book.measures().map(|m| format!("measures.{}", m.id)));
        for item in items {
            assert!(book.name_in("zh-Hans", &item).is_some(), "{item} has no zh-Hans name");
        }
        let unknown = DEFAULT_RULEBOOK.replacen(
            "\"kinds.award.quality\" = ",
            "\"kinds.award.nothing\" = ",
            1,
        );
        let e = Rulebook::parse(&unknown).unwrap_err().to_string();
        assert!(e.contains("kinds.award.nothing") && e.contains("names.\"zh-Hans\""), "{e}");
        let empty = DEFAULT_RULEBOOK.replacen("= \"质量奖励\"", "= \" \"", 1);
        assert!(Rulebook::parse(&empty).unwrap_err().to_string().contains("empty"));
    }

    #[test]
    fn a_kind_with_no_end_is_refused_with_its_line() {
        let text = format!(
            "{HEAD}\n[kinds.forever]\nname = \"n\"\ntier = \"serious\"\nfiled_by = [\"court\"]\nbasis = \"b\"\ncounts_for = \"1 year\"\npoints = -1\n"
        );
        let err = Rulebook::parse(&text).unwrap_err().to_string();
        assert!(err.contains("line 7"), "{err}");
        assert!(err.contains("kinds.\"forever\".published_for"), "{err}");
        assert!(err.contains("nothing is for life"), "{err}");
    }

    #[test]
    fn bad_values_name_key_and_line() {
        let text = format!(
            "{HEAD}\n[kinds.k]\nname = \"n\"\ntier = \"serious\"\nfiled_by = [\"court\"]\nbasis = \"\"\npublished_for = \"1 year\"\ncounts_for = \"1 year\"\npoints = -1\n"
        );
        let err = Rulebook::parse(&text).unwrap_err().to_string();
        assert!(
            err.contains("line 11") && err.contains("basis") && err.contains("legal basis"),
            "{err}"
        );

        let text = format!(
            "{HEAD}\n[kinds.k]\nname = \"n\"\ntier = \"serious\"\nfiled_by = [\"court\"]\nbasis = \"b\"\npublished_for = \"forever\"\ncounts_for = \"1 year\"\npoints = -1\n"
        );
        let err = Rulebook::parse(&text).unwrap_err().to_string();
        assert!(err.contains("line 12") && err.contains("`forever`"), "{err}");

        let text = format!("{HEAD}\n[kinds.k]\nname = \"n\"\ntier = \"loyalty\"\n");
        let err = Rulebook::parse(&text).unwrap_err().to_string();
        assert!(err.contains("loyalty"), "{err}");
    }

    fn with_policy(extra: &str) -> String {
        format!(
            "{HEAD}\n[kinds.k]\nname = \"n\"\ntier = \"serious\"\nfiled_by = [\"court\"]\nbasis = \"b\"\npublished_for = \"1 year\"\ncounts_for = \"1 year\"\npoints = -1\n{extra}"
        )
    }

    #[test]
    fn overlapping_grade_bands_are_refused_with_their_line() {
        let text = with_policy(
            "\n[scoring]\nstart = 100\nfloor = 0\nceiling = 100\nbasis = \"b\"\n\n[[scoring.grades]]\ngrade = \"A\"\nmin = 70\n\n[[scoring.grades]]\ngrade = \"B\"\nmin = 80\n",
        );
        let err = Rulebook::parse(&text).unwrap_err().to_string();
        assert!(err.contains("grade bands overlap") && err.contains("`B` starts at 80"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        let gap = with_policy(
            "\n[scoring]\nstart = 100\nfloor = 0\nceiling = 100\nbasis = \"b\"\n\n[[scoring.grades]]\ngrade = \"A\"\nmin = 50\n",
        );
        let err = Rulebook::parse(&gap).unwrap_err().to_string();
        assert!(err.contains("scores from 0 to 49 have no grade"), "{err}");
    }

    #[test]
    fn a_new_entity_grade_needs_its_own_name_and_a_score_in_range() {
        let scoring = |new: &str| {
            with_policy(&format!(
                "\n[scoring]\nstart = 100\nfloor = 0\nceiling = 100\nbasis = \"b\"\n\n[[scoring.grades]]\ngrade = \"A\"\nmin = 70\n\n[[scoring.grades]]\ngrade = \"C\"\nmin = 0\n\n[scoring.new_entity]\n{new}basis = \"b\"\n\n[measures.m]\ndescription = \"d\"\nbasis = \"b\"\nflag = {{ grades = [\"M\"] }}\n"
            ))
        };
        let ok = Rulebook::parse(&scoring("grade = \"M\"\nyounger_than = \"1 year\"\nmin = 70\n"))
            .unwrap();
        assert_eq!(ok.scoring().unwrap().grades(), ["A", "M", "C"]);
        let err = Rulebook::parse(&scoring("grade = \"C\"\nyounger_than = \"1 year\"\nmin = 70\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("scoring.new_entity.grade") && err.contains("a band already"),
            "{err}"
        );
        let err =
            Rulebook::parse(&scoring("grade = \"M\"\nyounger_than = \"1 year\"\nmin = 170\n"))
                .unwrap_err()
                .to_string();
        assert!(err.contains("170 is outside the scores 0..=100"), "{err}");
        let err = Rulebook::parse(&scoring("grade = \"M\"\nyounger_than = \"soon\"\nmin = 70\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`soon` is not a period"), "{err}");
    }

    #[test]
    fn a_measure_citing_an_unknown_list_is_refused() {
        let text = with_policy(
            "\n[measures.\"procurement.bid\"]\ndescription = \"d\"\nbasis = \"b\"\ndeny = { lists = [\"no_such_list\"] }\n",
        );
        let err = Rulebook::parse(&text).unwrap_err().to_string();
        assert!(
            err.contains("measures.\"procurement.bid\".deny")
                && err.contains("unknown list `no_such_list`"),
            "{err}"
        );
        let unknown_kind = with_policy(
            "\n[lists.x]\nname = \"x\"\ntype = \"exclusion\"\nkinds = [\"opinion.disloyal\"]\nduration = \"1 year\"\nbasis = \"b\"\n",
        );
        assert!(
            Rulebook::parse(&unknown_kind)
                .unwrap_err()
                .to_string()
                .contains("unknown kind `opinion.disloyal`")
        );
        let endless = with_policy(
            "\n[lists.x]\nname = \"x\"\ntype = \"exclusion\"\nkinds = [\"k\"]\nbasis = \"b\"\n",
        );
        assert!(Rulebook::parse(&endless).unwrap_err().to_string().contains("nothing is for life"));
    }

    #[test]
    fn periods() {
        let d: Date = "2024-01-31".parse().unwrap();
        assert_eq!(Period::parse("1 month").unwrap().after(d).to_string(), "2024-02-29");
        assert_eq!(Period::parse("3 years").unwrap().after(d).to_string(), "2027-01-31");
        assert_eq!(Period::parse("30 days").unwrap().to_string(), "30 days");
        for bad in ["", "0 days", "3", "3 fortnights", "-1 year"] {
            assert!(Period::parse(bad).is_none(), "{bad}");
        }
    }
}
