//! Watchlists: subscribers' sets of subject codes, and the changes of answers the registry
//! records for watched subjects as it stores their assessments.
//!
//! A watchlist is private to its subscriber and is not an event: the log is public, and a
//! bank's list of borrowers is not. What is recorded is derived: each time a watched subject's
//! stored assessment is replaced by one whose *answer* differs, the store keeps the change in
//! the same transaction, at the next position of one sequence shared by every watchlist.

use std::collections::BTreeMap;

use probity_core::{Date, SubjectId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::AssessmentRow;

/// What a watchlist reports changes of: a subject's grade, the lists it is on and the decision
/// for each measure. Scores, dates and explanations are not answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Answer {
    /// The grade, if the rulebook grades.
    pub grade: Option<String>,
    /// The lists the subject is on, in list order.
    pub lists: Vec<String>,
    /// The decision for each measure: `allow`, `flag` or `deny`.
    pub decisions: BTreeMap<String, String>,
}

impl Answer {
    /// The answer an assessment gives.
    pub fn of(row: &AssessmentRow) -> Self {
        let mut lists: Vec<String> = row.lists.iter().map(|e| e.list.clone()).collect();
        lists.sort_unstable();
        lists.dedup();
        Self {
            grade: row.grade.clone(),
            lists,
            // The registry writes this column from a map of strings; anything else is no answer.
            decisions: serde_json::from_str(&row.decisions).unwrap_or_default(),
        }
    }

    /// This answer as far as the `measures` matter (every measure if empty).
    pub fn narrowed(&self, measures: &[String]) -> Self {
        if measures.is_empty() {
            return self.clone();
        }
        Self {
            grade: self.grade.clone(),
            lists: self.lists.clone(),
            decisions: self
                .decisions
                .iter()
                .filter(|(m, _)| measures.contains(m))
                .map(|(m, d)| (m.clone(), d.clone()))
                .collect(),
        }
    }
}

/// Why an answer changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cause {
    /// An event about the subject: its log index and its kind (`record_filed`, …).
    Event {
        /// The log index of the subject's latest event.
        index: u64,
        /// The event's kind.
        event: String,
    },
    /// Another rulebook came into force.
    Rulebook {
        /// The version now in force.
        version: String,
    },
    /// A date came: an effect started or ended (an expiry, a repair taking effect).
    Date,
}

/// One change of one subject's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerChange {
    /// Its position in the sequence of changes (given by the store; 0 before it is stored).
    pub position: u64,
    /// The subject.
    pub subject: SubjectId,
    /// The log size the new answer reflects.
    pub log_size: u64,
    /// The date of the new answer.
    pub as_of: Date,
    /// Why it changed.
    pub cause: Cause,
    /// The answer before; `None` if the subject had none.
    pub before: Option<Answer>,
    /// The answer now.
    pub after: Answer,
}

impl AnswerChange {
    /// The change between a stored assessment and the one replacing it, if the answer moved.
    pub fn between(
        before: Option<&AssessmentRow>,
        after: &AssessmentRow,
        cause: Cause,
    ) -> Option<Self> {
        let (old, new) = (before.map(Answer::of), Answer::of(after));
        (old.as_ref() != Some(&new)).then_some(Self {
            position: 0,
            subject: after.subject,
            log_size: after.log_size,
            as_of: after.as_of,
            cause,
            before: old,
            after: new,
        })
    }

    /// This change as seen from `stored`, the answer stored when it is kept: the caller
    /// diffed against what it read before, and another writer may have stored an answer since.
    /// `None` if the stored answer is the new one already.
    pub fn from_stored(&self, stored: Option<Answer>) -> Option<Self> {
        (stored.as_ref() != Some(&self.after)).then(|| Self { before: stored, ..self.clone() })
    }

    /// The change as far as `measures` matter, or `None` if it moved nothing of them.
    pub fn narrowed(&self, measures: &[String]) -> Option<Self> {
        let before = self.before.as_ref().map(|a| a.narrowed(measures));
        let after = self.after.narrowed(measures);
        (before.as_ref() != Some(&after)).then(|| Self { before, after, ..self.clone() })
    }
}

/// The state of a webhook's deliveries, kept so that a restart loses and repeats nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delivery {
    /// Every change up to this position was delivered.
    pub delivered: u64,
    /// The last position of the message being delivered, fixed at its first attempt so that
    /// every attempt sends the same message under the same id.
    pub pending: Option<u64>,
    /// Failed attempts of the pending message.
    pub attempts: u32,
    /// When the next attempt is due, after a failure.
    pub next_attempt: Option<Timestamp>,
    /// When the pending message first failed.
    pub first_failure: Option<Timestamp>,
    /// Since when deliveries have stopped, retries being used up; the owner resumes them.
    pub failing_since: Option<Timestamp>,
    /// What the last failed attempt met.
    pub last_error: Option<String>,
    /// When a message was last delivered.
    pub last_success: Option<Timestamp>,
}

/// Where a watchlist's changes are pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// The receiver's URL.
    pub url: String,
    /// The signing secret, `whsec_` and base64 (Standard Webhooks).
    pub secret: String,
    /// Delivery state.
    pub delivery: Delivery,
}

/// A subscriber's watchlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watchlist {
    /// Its id.
    pub id: String,
    /// The subscriber who owns it.
    pub owner: String,
    /// The owner's label for it.
    pub label: String,
    /// The measures whose decisions it reports; empty for every measure.
    pub measures: Vec<String>,
    /// When it was made.
    pub created: Timestamp,
    /// The last position its owner saw on the portal.
    pub seen: u64,
    /// Its webhook, if it has one.
    pub webhook: Option<Webhook>,
}

/// How a change's answers are kept in a text column.
pub mod columns {
    use probity_core::Timestamp;

    use super::{Answer, Cause};
    use crate::StoreError;

    /// A watchlist's time, stored as microseconds since the epoch, read back.
    pub fn time(micros: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
        micros
            .map(|m| {
                Timestamp::from_microsecond(m)
                    .map_err(|e| StoreError::Backend(format!("a watchlist's time: {e}")))
            })
            .transpose()
    }

    /// A watchlist's time as stored: microseconds since the epoch.
    pub fn micros(t: Option<Timestamp>) -> Option<i64> {
        t.map(|t| t.as_microsecond())
    }

    /// An answer as JSON.
    #[allow(
        clippy::expect_used,
        reason = "an answer is strings and maps of strings, whose serialisation cannot fail"
    )]
    pub fn answer(a: &Answer) -> String {
        serde_json::to_string(a).expect("an answer serialises")
    }

    /// A cause as JSON.
    #[allow(clippy::expect_used, reason = "a cause is plain data whose serialisation cannot fail")]
    pub fn cause(c: &Cause) -> String {
        serde_json::to_string(c).expect("a cause serialises")
    }

    /// An answer read back.
    pub fn read_answer(position: u64, text: &str) -> Result<Answer, StoreError> {
        serde_json::from_str(text)
            .map_err(|e| StoreError::Backend(format!("answer change {position}: {e}")))
    }

    /// A cause read back.
    pub fn read_cause(position: u64, text: &str) -> Result<Cause, StoreError> {
        serde_json::from_str(text)
            .map_err(|e| StoreError::Backend(format!("answer change {position}: {e}")))
    }
}
