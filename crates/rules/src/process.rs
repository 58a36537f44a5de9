//! The rulebook's due-process clocks and the working-day calendar they count in.
//!
//! `[due_process]` sets how long after publication a company may object, how many working days
//! the issuing authority has to answer and to decide, how long a decision on repair may take, and
//! how long a reply may be. `[calendar]` lists public holidays and the weekend days shifted to be
//! worked, as China does around its holidays. A rulebook without these sections gets the defaults
//! below, which follow the clocks seen in practice (an objection within 30 days, answered within
//! 5 working days and decided within 20; removal after cure within 5 working days).

use std::collections::BTreeSet;

use probity_core::{Case, Date, ObjectionState, RepairState, date_of};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::{Period, RulebookError};

/// Due-process clocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueProcess {
    /// How long after a record is published the company may object.
    pub objection_window: Period,
    /// Working days the authority has to admit or refuse an objection.
    pub answer_within: u32,
    /// Working days from the objection to the decision on it.
    pub decide_within: u32,
    /// Working days the authority has to decide a repair application.
    pub repair_within: u32,
    /// The longest reply, in characters.
    pub reply_max_chars: usize,
    /// Where these clocks come from.
    pub basis: String,
}

impl Default for DueProcess {
    fn default() -> Self {
        Self {
            objection_window: Period::Days(30),
            answer_within: 5,
            decide_within: 20,
            repair_within: 5,
            reply_max_chars: 2000,
            basis: "probity defaults: objection within 30 days, answered within 5 working days, \
                    decided within 20; repair decided within 5 working days"
                .to_owned(),
        }
    }
}

/// Working days: Monday to Friday, less public holidays, plus weekend days shifted to be worked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    /// Public holidays (not worked even on a weekday).
    pub holidays: BTreeSet<Date>,
    /// Weekend days that are worked.
    pub workdays: BTreeSet<Date>,
}

impl Calendar {
    /// Whether `d` is a working day.
    pub fn is_working_day(&self, d: Date) -> bool {
        use jiff::civil::Weekday;
        if self.workdays.contains(&d) {
            return true;
        }
        !self.holidays.contains(&d) && !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday)
    }

    /// The `n`th working day after `start` (`start` itself never counts), saturating at the
    /// largest date.
    pub fn add_working_days(&self, start: Date, n: u32) -> Date {
        let mut d = start;
        let mut left = n;
        while left > 0 {
            let Ok(next) = d.tomorrow() else { return Date::MAX };
            d = next;
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        d
    }

    /// Working days after `from` up to and including `to` (0 if `to` is not after `from`).
    pub fn working_days_between(&self, from: Date, to: Date) -> u32 {
        let mut n = 0;
        let mut d = from;
        while d < to {
            let Ok(next) = d.tomorrow() else { break };
            d = next;
            if self.is_working_day(d) {
                n += 1;
            }
        }
        n
    }
}

/// One deadline of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deadline {
    /// What must happen: `answer_objection`, `decide_objection` or `decide_repair`.
    pub what: &'static str,
    /// The last day it may happen on.
    pub due: Date,
    /// The day it happened, if it has.
    pub done: Option<Date>,
}

impl Deadline {
    /// Whether it passed without being met, as of `today`.
    pub fn overdue(&self, today: Date) -> bool {
        matches!(self.status(today), "late" | "overdue")
    }

    /// As of `today`: `met` (on time), `late` (met after the deadline), `overdue` (passed and
    /// not met) or `pending` (still running).
    pub fn status(&self, today: Date) -> &'static str {
        match self.done {
            Some(done) if done <= self.due => "met",
            Some(_) => "late",
            None if today > self.due => "overdue",
            None => "pending",
        }
    }
}

/// The deadlines of a record's case under these clocks: met ones with the day they were met.
/// `decided` gives the day the latest objection and repair application were closed, if they were.
pub fn deadlines(
    case: &Case,
    clocks: &DueProcess,
    calendar: &Calendar,
    closed: Closed,
) -> Vec<Deadline> {
    let mut out = Vec::new();
    if let Some((state, filed)) = case.objection {
        let filed = date_of(filed);
        let answered = match state {
            ObjectionState::Filed => None,
            ObjectionState::Refused => closed.objection,
            _ => case.admitted_at.map(date_of),
        };
        out.push(Deadline {
            what: "answer_objection",
            due: calendar.add_working_days(filed, clocks.answer_within),
            done: answered,
        });
        if state != ObjectionState::Refused {
            out.push(Deadline {
                what: "decide_objection",
                due: calendar.add_working_days(filed, clocks.decide_within),
                done: matches!(state, ObjectionState::Decided(_))
                    .then_some(closed.objection)
                    .flatten(),
            });
        }
    }
    if let Some((state, applied)) = case.repair {
        out.push(Deadline {
            what: "decide_repair",
            due: calendar.add_working_days(date_of(applied), clocks.repair_within),
            done: (state != RepairState::Applied).then_some(closed.repair).flatten(),
        });
    }
    out
}

/// When the latest objection and repair application of a case were closed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Closed {
    /// The day the objection was refused or decided.
    pub objection: Option<Date>,
    /// The day the repair application was decided.
    pub repair: Option<Date>,
}

impl Closed {
    /// The day the latest case of `kind` was closed.
    pub fn of_mut(&mut self, kind: probity_core::CaseKind) -> &mut Option<Date> {
        match kind {
            probity_core::CaseKind::Objection => &mut self.objection,
            probity_core::CaseKind::Repair => &mut self.repair,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDueProcess {
    objection_window: Option<Spanned<String>>,
    answer_within_working_days: Option<u32>,
    decide_within_working_days: Option<u32>,
    repair_within_working_days: Option<u32>,
    reply_max_chars: Option<usize>,
    basis: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCalendar {
    #[serde(default)]
    holidays: Vec<Spanned<String>>,
    #[serde(default)]
    workdays: Vec<Spanned<String>>,
}

type Err<'a> = &'a dyn Fn(usize, &str, String) -> RulebookError;

pub(crate) fn due_process(
    raw: Option<RawDueProcess>,
    at: Err<'_>,
) -> Result<DueProcess, RulebookError> {
    let Some(raw) = raw else { return Ok(DueProcess::default()) };
    let d = DueProcess::default();
    if raw.basis.get_ref().trim().is_empty() {
        return Err(at(
            raw.basis.span().start,
            "due_process.basis",
            "cite where the clocks come from".into(),
        ));
    }
    let objection_window = match raw.objection_window {
        None => d.objection_window,
        Some(p) => Period::parse(p.get_ref()).ok_or_else(|| {
            at(
                p.span().start,
                "due_process.objection_window",
                format!("`{}` is not a period such as `30 days`", p.get_ref()),
            )
        })?,
    };
    let days = |v: Option<u32>, key: &str, default: u32| match v {
        Some(0) => Err(at(raw.basis.span().start, key, "must be at least 1 working day".into())),
        Some(n) => Ok(n),
        None => Ok(default),
    };
    Ok(DueProcess {
        objection_window,
        answer_within: days(
            raw.answer_within_working_days,
            "due_process.answer_within_working_days",
            d.answer_within,
        )?,
        decide_within: days(
            raw.decide_within_working_days,
            "due_process.decide_within_working_days",
            d.decide_within,
        )?,
        repair_within: days(
            raw.repair_within_working_days,
            "due_process.repair_within_working_days",
            d.repair_within,
        )?,
        reply_max_chars: raw.reply_max_chars.filter(|n| *n > 0).unwrap_or(d.reply_max_chars),
        basis: raw.basis.into_inner(),
    })
}

pub(crate) fn calendar(raw: Option<RawCalendar>, at: Err<'_>) -> Result<Calendar, RulebookError> {
    let Some(raw) = raw else { return Ok(Calendar::default()) };
    let dates = |v: Vec<Spanned<String>>, key: &str| -> Result<BTreeSet<Date>, RulebookError> {
        v.into_iter()
            .map(|s| {
                s.get_ref().parse::<Date>().map_err(|_| {
                    at(s.span().start, key, format!("`{}` is not a date YYYY-MM-DD", s.get_ref()))
                })
            })
            .collect()
    };
    let cal = Calendar {
        holidays: dates(raw.holidays, "calendar.holidays")?,
        workdays: dates(raw.workdays, "calendar.workdays")?,
    };
    if let Some(d) = cal.holidays.intersection(&cal.workdays).next() {
        return Err(at(0, "calendar", format!("{d} is listed both as a holiday and as a workday")));
    }
    Ok(cal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn working_days_skip_weekends_and_holidays_and_count_shifted_workdays() {
        let plain = Calendar::default();
        // Friday 2026-01-02 + 1 working day = Monday 2026-01-05.
        assert_eq!(plain.add_working_days(d("2026-01-02"), 1), d("2026-01-05"));
        assert_eq!(plain.add_working_days(d("2026-01-05"), 5), d("2026-01-12"));
        assert_eq!(plain.add_working_days(d("2026-01-05"), 0), d("2026-01-05"));
        // A holiday week with a shifted Sunday workday: Mon 2026-10-05 .. Wed 10-07 off,
        // Sunday 10-11 worked.
        let cal = Calendar {
            holidays: [d("2026-10-05"), d("2026-10-06"), d("2026-10-07")].into(),
            workdays: [d("2026-10-11")].into(),
        };
        // From Friday 10-02: Thu 10-08, Fri 10-09, Sun 10-11, Mon 10-12, Tue 10-13.
        assert_eq!(cal.add_working_days(d("2026-10-02"), 5), d("2026-10-13"));
        assert_eq!(cal.working_days_between(d("2026-10-02"), d("2026-10-13")), 5);
        assert!(cal.is_working_day(d("2026-10-11")));
        assert!(!cal.is_working_day(d("2026-10-06")));
    }

    #[test]
    fn deadlines_follow_the_case_and_say_when_they_were_met() {
        let t = |s: &str| -> probity_core::Timestamp { s.parse().unwrap() };
        let case = Case::default()
            .apply(
                &probity_core::Step::ObjectionFiled { grounds: "g".into() },
                t("2026-01-05T09:00:00Z"),
            )
            .unwrap();
        let clocks = DueProcess::default();
        let cal = Calendar::default();
        let open = deadlines(&case, &clocks, &cal, Closed::default());
        assert_eq!(open.len(), 2);
        assert_eq!(
            (open[0].what, open[0].due, open[0].done),
            ("answer_objection", d("2026-01-12"), None)
        );
        assert_eq!(open[1].due, d("2026-02-02"));
        assert!(!open[0].overdue(d("2026-01-12")));
        assert!(open[0].overdue(d("2026-01-13")));
        let refused = case
            .apply(
                &probity_core::Step::ObjectionAnswered { admitted: false, reason: "late".into() },
                t("2026-01-14T09:00:00Z"),
            )
            .unwrap();
        let closed = Closed { objection: Some(d("2026-01-14")), repair: None };
        let late = deadlines(&refused, &clocks, &cal, closed);
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].done, Some(d("2026-01-14")));
        assert!(late[0].overdue(d("2026-01-14")));
    }
}
