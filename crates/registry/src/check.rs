//! The question probity answers: may this company take part in this measure, and why? And the
//! log proofs that let anyone check the answer's inputs offline.

use base64::Engine as _;
use probity_core::Date;
use probity_core::SubjectId;
use probity_rules::{Assessment, Decision, Reason};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Profile, Registry, RegistryError};

/// The rulebook an answer was given under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RulebookRef {
    /// Rulebook id.
    pub id: String,
    /// Version.
    pub version: String,
}

// `R`: the reasons decoded (`Reason`s), or, where the answer is only sent on, the JSON they were
// stored as (`Box<serde_json::value::RawValue>`). Serialised, both are the same text.
/// One answer to the check question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckAnswer<R = Vec<Reason>> {
    /// The subject's code.
    pub subject: String,
    /// Its name.
    pub name: String,
    /// The measure.
    pub measure: String,
    /// The date the answer is about.
    pub as_of: Date,
    /// `allow`, `flag` or `deny`.
    pub decision: &'static str,
    /// Why (empty when allowed).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Reason>))]
    pub reasons: R,
    /// When the answer changes, if records already filed change it.
    pub changes_on: Option<Date>,
    /// What it changes to then.
    pub changes_to: Option<&'static str>,
    /// Score, if the rulebook scores.
    pub score: Option<i32>,
    /// Grade, if the rulebook grades.
    pub grade: Option<String>,
    /// The rulebook applied.
    pub rulebook: RulebookRef,
    /// The date whose knowledge was used, if not everything known now.
    pub known_at: Option<Date>,
    /// The log size the answer reflects.
    pub log_size: u64,
}

/// Inclusion proofs of the log entries behind a profile, against the checkpoint the registry
/// serves (the newest cosigned one when its log has witnesses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProfileProofs {
    /// The signed checkpoint note the proofs are against, with its cosignatures.
    pub checkpoint: String,
    /// Its tree size.
    pub size: u64,
    /// The witnesses of the registry's policy whose cosignatures the checkpoint carries.
    pub witnesses: Vec<crate::WitnessCosignature>,
    /// One proof per entry: the subject's registration and each record's filing and last event.
    pub entries: Vec<EntryProof>,
}

/// The inclusion proof of one entry, hashes in base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EntryProof {
    /// Log index.
    pub index: u64,
    /// Leaf hash.
    pub leaf_hash: String,
    /// Audit path, nearest sibling first.
    pub path: Vec<String>,
}

/// What decides whether a stored assessment still holds: when and under what it was rated.
struct Rated<'a> {
    /// The log size it reflects.
    log_size: u64,
    /// The date it was rated on.
    on: Date,
    /// The next date an effect starts or ends.
    next_change: Option<Date>,
    /// The rulebook and version it was rated under.
    rulebook: &'a str,
    version: &'a str,
}

/// The assessment a stored row holds: its explanation, with its answers per measure put back
/// (a row rated before they were kept apart holds them in the explanation). `None` if either
/// does not decode, which makes the caller compute the assessment afresh.
pub(crate) fn stored_assessment(row: &probity_store::AssessmentRow) -> Option<Assessment> {
    let mut a = serde_json::from_str::<Assessment>(&row.explanation).ok()?;
    if !row.answers.is_empty() {
        a.measures = crate::answers::decode(&row.answers)?;
    }
    Some(a)
}

fn b64(h: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(h)
}

impl Registry {
    /// The answer for subject `id` and `measure` on `as_of`, from what the registry knew at the
    /// end of `known_at` (everything if `None`); `None` if it held no such subject then.
    ///
    /// An answer about now is read from the stored assessment when that still holds (see
    /// [`Registry::assessment_holding_on`]); any other is computed from the records.
    pub fn check(
        &self,
        id: &str,
        measure: &str,
        as_of: Date,
        known_at: Option<Date>,
    ) -> Result<Option<CheckAnswer>, RegistryError> {
        let id = self.parse_id(id)?;
        if known_at.is_none()
            && let Some(answer) = self.check_stored(&id, measure, as_of)?
        {
            return Ok(Some(answer));
        }
        self.check_past_stored(&id, measure, as_of, known_at)
    }

    /// [`Registry::check`] after [`Registry::check_stored`] gave nothing: from the stored
    /// assessment while it holds (a row rated before answers were kept apart), else computed.
    pub fn check_past_stored(
        &self,
        id: &SubjectId,
        measure: &str,
        as_of: Date,
        known_at: Option<Date>,
    ) -> Result<Option<CheckAnswer>, RegistryError> {
        let id = *id;
        if known_at.is_none()
            && let Some(subject) = self.store.subject(&id)?
            && let Some(a) = self.assessment_holding_on(&subject, as_of)?
        {
            let log_size = self.log_size()?;
            return self.answer(&subject.subject, &a, measure, None, log_size).map(Some);
        }
        self.check_computed(&id, measure, as_of, known_at)
    }

    /// The answer about now read from the subject's stored answers in one look-up, if they hold
    /// on `as_of` (as in [`Registry::assessment_holding_on`]) and are kept apart from the
    /// explanation; `None` sends the caller to the longer ways. The reasons are decoded into
    /// `R`: [`Reason`]s, or their stored JSON to send on without decoding it.
    pub fn check_stored<R: DeserializeOwned>(
        &self,
        id: &SubjectId,
        measure: &str,
        as_of: Date,
    ) -> Result<Option<CheckAnswer<R>>, RegistryError> {
        let row = self.store.answer_row(id)?;
        self.stored_answer(id, row, measure, as_of)
    }

    /// [`Registry::check_stored`] of each question asked, `(subject, measure, as of)`, in their
    /// order, read from the store at once ([`probity_store::Store::answer_rows`]: one round trip
    /// on a networked store). Fails as a whole only if the read does.
    #[allow(clippy::type_complexity, reason = "an answer, or none, or why not, for each asked")]
    pub fn check_stored_many<R: DeserializeOwned>(
        &self,
        asked: &[(SubjectId, &str, Date)],
    ) -> Result<Vec<Result<Option<CheckAnswer<R>>, RegistryError>>, RegistryError> {
        let ids: Vec<SubjectId> = asked.iter().map(|(id, _, _)| *id).collect();
        let rows = self.store.answer_rows(&ids)?;
        Ok(asked
            .iter()
            .zip(rows)
            .map(|((id, measure, as_of), row)| self.stored_answer(id, row, measure, *as_of))
            .collect())
    }

    /// The answer to `measure` about `id` on `as_of` from its answer row, if the row holds.
    fn stored_answer<R: DeserializeOwned>(
        &self,
        id: &SubjectId,
        row: Option<probity_store::AnswerRow>,
        measure: &str,
        as_of: Date,
    ) -> Result<Option<CheckAnswer<R>>, RegistryError> {
        let Some(row) = row else { return Ok(None) };
        let rated = Rated {
            log_size: row.rated_at_size,
            on: row.as_of,
            next_change: row.next_change,
            rulebook: &row.rulebook,
            version: &row.version,
        };
        if row.answers.is_empty() || !self.holds(&rated, row.last_event, as_of) {
            return Ok(None);
        }
        // Only the asked measure's answer is decoded.
        let Some(found) = crate::answers::find::<R>(&row.answers, measure) else {
            return Ok(None);
        };
        let Some(m) = found else {
            return Err(self.unknown_measure(measure, &row.rulebook));
        };
        Ok(Some(CheckAnswer {
            subject: id.as_str().to_owned(),
            name: row.name,
            measure: m.measure,
            as_of,
            decision: m.decision.as_str(),
            reasons: m.reasons,
            changes_on: m.changes_on,
            changes_to: m.changes_to.map(Decision::as_str),
            score: row.score,
            grade: row.grade,
            rulebook: RulebookRef { id: row.rulebook, version: row.version },
            known_at: None,
            log_size: row.log_size,
        }))
    }

    /// Whether an assessment stored as `rated` holds on `as_of` for a subject whose latest event
    /// is at `last_event` (see [`Registry::assessment_holding_on`]).
    fn holds(&self, rated: &Rated<'_>, last_event: u64, as_of: Date) -> bool {
        let book = self.rulebook_at(as_of);
        rated.log_size > last_event
            && rated.on <= as_of
            && rated.next_change.is_none_or(|n| n > as_of)
            && rated.rulebook == book.header.id.as_str()
            && rated.version == book.header.version
    }

    fn unknown_measure(&self, measure: &str, rulebook: &str) -> RegistryError {
        let known: Vec<_> = self.rulebook().measures().map(|m| m.id.clone()).collect();
        RegistryError::NotFound(format!(
            "measure `{measure}` is not in rulebook `{rulebook}`; it has {}",
            known.join(", ")
        ))
    }

    /// The answer computed from the records, never from a stored assessment.
    pub fn check_computed(
        &self,
        id: &SubjectId,
        measure: &str,
        as_of: Date,
        known_at: Option<Date>,
    ) -> Result<Option<CheckAnswer>, RegistryError> {
        let log_size = match known_at {
            Some(k) => self.log_size_at_end_of(k)?,
            None => self.log_size()?,
        };
        let Some(profile) = self.profile_at(id, log_size)? else { return Ok(None) };
        let a = self.assess_known_at(&profile, as_of, log_size);
        self.answer(&profile.subject.subject, &a, measure, known_at, log_size).map(Some)
    }

    /// The stored assessment of `subject` as it stands on `as_of`, if it still holds then:
    /// it reflects the subject's latest event, and was rated on or before `as_of` under the
    /// rulebook in force on `as_of`, with no effect starting or ending in between. (An
    /// assessment is constant between such changes.) A writer that stopped between appending
    /// an event and rating its subject leaves an assessment that does not hold.
    pub fn assessment_holding_on(
        &self,
        subject: &probity_store::StoredSubject,
        as_of: Date,
    ) -> Result<Option<Assessment>, RegistryError> {
        let Some(row) = self.store.assessment(&subject.subject.id)? else { return Ok(None) };
        let rated = Rated {
            log_size: row.log_size,
            on: row.as_of,
            next_change: row.next_change,
            rulebook: &row.rulebook,
            version: &row.version,
        };
        if !self.holds(&rated, subject.last_event, as_of) {
            return Ok(None);
        }
        Ok(stored_assessment(&row).map(|mut a| {
            a.as_of = as_of;
            a
        }))
    }

    fn answer(
        &self,
        subject: &probity_core::Subject,
        a: &Assessment,
        measure: &str,
        known_at: Option<Date>,
        log_size: u64,
    ) -> Result<CheckAnswer, RegistryError> {
        let Some(m) = a.measures.iter().find(|m| m.measure == measure) else {
            return Err(self.unknown_measure(measure, &a.rulebook));
        };
        Ok(CheckAnswer {
            subject: subject.id.as_str().to_owned(),
            name: subject.name.clone(),
            measure: measure.to_owned(),
            as_of: a.as_of,
            decision: m.decision.as_str(),
            reasons: m.reasons.clone(),
            changes_on: m.changes_on,
            changes_to: m.changes_to.map(Decision::as_str),
            score: a.score,
            grade: a.grade.clone(),
            rulebook: RulebookRef { id: a.rulebook.clone(), version: a.version.clone() },
            known_at,
            log_size,
        })
    }

    /// Inclusion proofs of the log entries behind a check of `id` with what the registry knew
    /// at the end of `known_at` (everything if `None`).
    pub fn check_proofs(
        &self,
        id: &str,
        known_at: Option<Date>,
    ) -> Result<Option<ProfileProofs>, RegistryError> {
        let id = self.parse_id(id)?;
        let size = match known_at {
            Some(k) => self.log_size_at_end_of(k)?,
            None => self.log_size()?,
        };
        self.profile_at(&id, size)?.map(|p| self.profile_proofs(&p)).transpose()
    }

    /// Inclusion proofs of every log entry behind `profile`, against the served checkpoint.
    pub fn profile_proofs(&self, p: &Profile) -> Result<ProfileProofs, RegistryError> {
        let mut indices = vec![p.subject.index];
        for r in &p.records {
            indices.push(r.filed_index);
            indices.push(r.last_index);
        }
        self.entry_proofs(indices)
    }

    /// Inclusion proofs of these log entries against the served checkpoint; entries the
    /// checkpoint does not cover yet are left out.
    pub fn entry_proofs(&self, mut indices: Vec<u64>) -> Result<ProfileProofs, RegistryError> {
        let (note, cp) = self.proving_checkpoint()?;
        indices.sort_unstable();
        indices.dedup();
        let mut entries = Vec::new();
        for index in indices.into_iter().filter(|i| *i < cp.size) {
            let proof = self.inclusion_proof(index, Some(cp.size))?;
            entries.push(EntryProof {
                index,
                leaf_hash: b64(&proof.leaf_hash),
                path: proof.path.iter().map(|h| b64(h)).collect(),
            });
        }
        let witnesses = self.cosigners_of(&note)?;
        Ok(ProfileProofs { checkpoint: note, size: cp.size, witnesses, entries })
    }
}
