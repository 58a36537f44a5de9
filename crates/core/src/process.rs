//! Due process: the steps a company and the issuing authority take about one record.
//!
//! A company may object to a record, reply to it publicly, and apply for repair. The issuing
//! authority answers and decides. Each step is one journal event naming the record, so the whole
//! case is part of the record's history and of the log. Which step may follow which, and by
//! when, is decided by [`Case::apply`] and the rulebook's clocks; this module holds the steps and
//! the state they add up to, nothing that reads a clock.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// The outcome of an objection that was examined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ObjectionOutcome {
    /// The record stands as filed.
    Upheld,
    /// The record was corrected (a correction event accompanies the decision).
    Corrected,
    /// The record was withdrawn (a withdrawal event accompanies the decision).
    Withdrawn,
}

impl ObjectionOutcome {
    /// The outcome as written in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upheld => "upheld",
            Self::Corrected => "corrected",
            Self::Withdrawn => "withdrawn",
        }
    }
}

/// One due-process step about a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// The company objects to the record.
    ObjectionFiled {
        /// The company's grounds.
        grounds: String,
    },
    /// The authority admits the objection for examination, or refuses it as inadmissible.
    ObjectionAnswered {
        /// Admitted for examination.
        admitted: bool,
        /// Why.
        reason: String,
    },
    /// The authority decides an admitted objection.
    ObjectionDecided {
        /// The outcome.
        outcome: ObjectionOutcome,
        /// Why.
        reason: String,
    },
    /// The company's statement, published next to the record. A later reply replaces it.
    ReplyPublished {
        /// The statement.
        text: String,
    },
    /// The company applies for repair.
    RepairApplied {
        /// What the company did to correct the conduct and meet its obligations.
        statement: String,
    },
    /// The authority grants or refuses a repair application. A granted repair ends the record's
    /// effects on the day of the decision.
    RepairDecided {
        /// Granted.
        granted: bool,
        /// Why.
        reason: String,
    },
}

impl Step {
    /// The step's name as it appears in the encoding.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ObjectionFiled { .. } => "objection_filed",
            Self::ObjectionAnswered { .. } => "objection_answered",
            Self::ObjectionDecided { .. } => "objection_decided",
            Self::ReplyPublished { .. } => "reply_published",
            Self::RepairApplied { .. } => "repair_applied",
            Self::RepairDecided { .. } => "repair_decided",
        }
    }

    /// Whether the company (rather than the authority) takes this step.
    pub fn by_company(&self) -> bool {
        matches!(
            self,
            Self::ObjectionFiled { .. } | Self::ReplyPublished { .. } | Self::RepairApplied { .. }
        )
    }

    /// Whether this step opens a case that the authority must answer.
    pub fn opens(&self) -> Option<CaseKind> {
        match self {
            Self::ObjectionFiled { .. } => Some(CaseKind::Objection),
            Self::RepairApplied { .. } => Some(CaseKind::Repair),
            _ => None,
        }
    }

    /// Whether this step closes the open case of its kind.
    pub fn closes(&self) -> Option<CaseKind> {
        match self {
            Self::ObjectionAnswered { admitted: false, .. } | Self::ObjectionDecided { .. } => {
                Some(CaseKind::Objection)
            }
            Self::RepairDecided { .. } => Some(CaseKind::Repair),
            _ => None,
        }
    }
}

/// The two kinds of case an authority must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    /// An objection to the record.
    Objection,
    /// A repair application.
    Repair,
}

impl CaseKind {
    /// The kind as written in storage and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Objection => "objection",
            Self::Repair => "repair",
        }
    }

    /// Parses a stored kind.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Objection, Self::Repair].into_iter().find(|k| k.as_str() == s)
    }
}

/// Where an objection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectionState {
    /// Filed; the authority has not answered.
    Filed,
    /// Admitted for examination; not decided.
    Admitted,
    /// Refused as inadmissible.
    Refused,
    /// Decided.
    Decided(ObjectionOutcome),
}

/// Where a repair application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RepairState {
    /// Applied for; not decided.
    Applied,
    /// Granted: the record stopped counting.
    Granted,
    /// Refused.
    Refused,
}

/// The due-process state of one record: the latest objection, reply and repair application,
/// each with when it began.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Case {
    /// The latest objection and when it was filed.
    pub objection: Option<(ObjectionState, Timestamp)>,
    /// When the latest objection was admitted, if it was.
    pub admitted_at: Option<Timestamp>,
    /// The company's current reply and when it was published.
    pub reply: Option<(String, Timestamp)>,
    /// The latest repair application and when it was made.
    pub repair: Option<(RepairState, Timestamp)>,
    /// When a repair was granted.
    pub repaired_at: Option<Timestamp>,
}

/// A step that may not follow the state the record is in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// An objection is already open.
    #[error("an objection to this record is already open")]
    ObjectionOpen,
    /// There is no open objection to answer or decide.
    #[error("there is no objection to this record awaiting an answer")]
    NothingToAnswer,
    /// The objection has not been admitted, so it cannot be decided.
    #[error("the objection has not been admitted for examination; answer it first")]
    NotAdmitted,
    /// A repair application is already open.
    #[error("a repair application for this record is already open")]
    RepairOpen,
    /// The record is already repaired.
    #[error("this record is already repaired")]
    Repaired,
    /// There is no open repair application.
    #[error("there is no repair application for this record awaiting a decision")]
    NoRepairApplication,
}

impl Case {
    /// The state after `step`, taken at `at`, or why it may not be taken now.
    pub fn apply(&self, step: &Step, at: Timestamp) -> Result<Case, StepError> {
        let mut next = self.clone();
        let objection = self.objection.map(|(s, _)| s);
        match step {
            Step::ObjectionFiled { .. } => {
                if matches!(objection, Some(ObjectionState::Filed | ObjectionState::Admitted)) {
                    return Err(StepError::ObjectionOpen);
                }
                next.objection = Some((ObjectionState::Filed, at));
                next.admitted_at = None;
            }
            Step::ObjectionAnswered { admitted, .. } => {
                let Some((ObjectionState::Filed, filed)) = self.objection else {
                    return Err(StepError::NothingToAnswer);
                };
                if *admitted {
                    next.objection = Some((ObjectionState::Admitted, filed));
                    next.admitted_at = Some(at);
                } else {
                    next.objection = Some((ObjectionState::Refused, filed));
                }
            }
            Step::ObjectionDecided { outcome, .. } => match self.objection {
                Some((ObjectionState::Admitted, filed)) => {
                    next.objection = Some((ObjectionState::Decided(*outcome), filed));
                }
                Some((ObjectionState::Filed, _)) => return Err(StepError::NotAdmitted),
                _ => return Err(StepError::NothingToAnswer),
            },
            Step::ReplyPublished { text } => next.reply = Some((text.clone(), at)),
            Step::RepairApplied { .. } => match self.repair {
                Some((RepairState::Applied, _)) => return Err(StepError::RepairOpen),
                Some((RepairState::Granted, _)) => return Err(StepError::Repaired),
                _ => next.repair = Some((RepairState::Applied, at)),
            },
            Step::RepairDecided { granted, .. } => {
                let Some((RepairState::Applied, applied)) = self.repair else {
                    return Err(StepError::NoRepairApplication);
                };
                if *granted {
                    next.repair = Some((RepairState::Granted, applied));
                    next.repaired_at = Some(at);
                } else {
                    next.repair = Some((RepairState::Refused, applied));
                }
            }
        }
        Ok(next)
    }

    /// Whether an objection is open (filed or admitted, not yet decided).
    pub fn disputed(&self) -> bool {
        matches!(self.objection, Some((ObjectionState::Filed | ObjectionState::Admitted, _)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn text(s: &str) -> String {
        s.to_owned()
    }

    #[test]
    fn an_objection_is_filed_admitted_and_decided() {
        let c = Case::default();
        let c = c.apply(&Step::ObjectionFiled { grounds: text("g") }, t("2026-01-05T00:00:00Z"));
        let c = c.unwrap();
        assert!(c.disputed());
        assert_eq!(
            c.apply(&Step::ObjectionFiled { grounds: text("g") }, t("2026-01-05T01:00:00Z")),
            Err(StepError::ObjectionOpen)
        );
        let decide =
            Step::ObjectionDecided { outcome: ObjectionOutcome::Withdrawn, reason: text("r") };
        assert_eq!(c.apply(&decide, t("2026-01-06T00:00:00Z")), Err(StepError::NotAdmitted));
        let c = c
            .apply(
                &Step::ObjectionAnswered { admitted: true, reason: text("r") },
                t("2026-01-06T00:00:00Z"),
            )
            .unwrap();
        assert_eq!(c.admitted_at, Some(t("2026-01-06T00:00:00Z")));
        let c = c.apply(&decide, t("2026-01-20T00:00:00Z")).unwrap();
        assert!(!c.disputed());
        assert_eq!(
            c.objection,
            Some((ObjectionState::Decided(ObjectionOutcome::Withdrawn), t("2026-01-05T00:00:00Z")))
        );
        // A new objection may follow a decided one.
        assert!(
            c.apply(&Step::ObjectionFiled { grounds: text("g") }, t("2026-02-01T00:00:00Z"))
                .is_ok()
        );
    }

    #[test]
    fn repair_is_applied_for_once_and_ends_with_a_decision() {
        let at = t("2026-03-01T00:00:00Z");
        let apply = Step::RepairApplied { statement: text("paid") };
        assert_eq!(
            Case::default().apply(&Step::RepairDecided { granted: true, reason: text("r") }, at),
            Err(StepError::NoRepairApplication)
        );
        let c = Case::default().apply(&apply, at).unwrap();
        assert_eq!(c.apply(&apply, at), Err(StepError::RepairOpen));
        let refused =
            c.apply(&Step::RepairDecided { granted: false, reason: text("r") }, at).unwrap();
        assert_eq!(refused.repaired_at, None);
        let again = refused.apply(&apply, at).unwrap();
        let granted =
            again.apply(&Step::RepairDecided { granted: true, reason: text("r") }, at).unwrap();
        assert_eq!(granted.repaired_at, Some(at));
        assert_eq!(granted.apply(&apply, at), Err(StepError::Repaired));
    }

    #[test]
    fn steps_know_who_takes_them_and_what_they_open_and_close() {
        let filed = Step::ObjectionFiled { grounds: text("g") };
        assert!(filed.by_company());
        assert_eq!(filed.opens(), Some(CaseKind::Objection));
        let refused = Step::ObjectionAnswered { admitted: false, reason: text("r") };
        assert!(!refused.by_company());
        assert_eq!(refused.closes(), Some(CaseKind::Objection));
        assert_eq!(Step::ObjectionAnswered { admitted: true, reason: text("r") }.closes(), None);
        assert_eq!(CaseKind::parse("repair"), Some(CaseKind::Repair));
    }
}
