//! Redaction: withdrawing the content of records that no longer matter from publication.
//!
//! Nothing is for life. A record stops being shown when its publication period ends, when its
//! authority withdraws it, or when a repair is granted; once it also affects no assessment, its
//! content can go. A `record_redacted` event names the record and the journal entries about it;
//! their bodies are then withheld everywhere the registry publishes, while their leaves stay in
//! the log, so every proof and every checkpoint stays valid.
//!
//! What "affects no assessment" means is decided by the engine itself: the subject's assessment
//! today, what-if included, is the same with and without the record, and so is the assessment
//! on each later date on which the engine says something might change.

use probity_core::{Event, EventBody, RecordKey, SubjectId};
use probity_store::Outcome;
use serde::Serialize;

use crate::{Profile, Progress, Registry, RegistryError};

/// What a redaction pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RedactionReport {
    /// Subjects examined.
    pub subjects: u64,
    /// Records redacted (or, in a dry run, that would be).
    pub redacted: Vec<RecordKey>,
}

/// Subjects examined per store transaction.
const PAGE: usize = 1000;

/// How many later dates of possible change are compared before a record is deemed to matter.
const MAX_LOOKAHEAD: usize = 16;

impl Registry {
    /// Whether a subject's assessment differs between two sets of its records: today, what-if
    /// included, and on each later date on which the engine says something might change. The
    /// dates themselves are only when to look again (a record adds candidates on which nothing
    /// changes), so they are not compared. Returns the first date they differ on, or why they
    /// may.
    fn differs(&self, with: &Profile, without: &Profile) -> Option<String> {
        let mut on = Some(self.today());
        for _ in 0..MAX_LOOKAHEAD {
            let date = on?;
            let mut a = self.assess(with, date);
            let mut b = self.assess(without, date);
            on = a.next_boundary;
            (a.next_boundary, b.next_boundary) = (None, None);
            if a != b {
                return Some(format!("on {date}"));
            }
        }
        Some(format!("possibly after {MAX_LOOKAHEAD} changes"))
    }

    /// Why a record of `profile` may not be redacted today on its own account (still shown, or a
    /// case open), or `None`.
    fn barrier(&self, profile: &Profile, key: &RecordKey) -> Result<Option<String>, RegistryError> {
        let Some(record) = profile.records.iter().find(|r| r.record.key() == *key) else {
            return Ok(Some(format!("the registry holds no record `{key}`")));
        };
        if self.shown(record) {
            return Ok(Some(
                "it is still published; only records no longer shown (expired, withdrawn or \
                 repaired) can be redacted"
                    .to_owned(),
            ));
        }
        if let Some(view) = self.case(key)?
            && (view.case.disputed()
                || matches!(view.case.repair, Some((probity_core::RepairState::Applied, _))))
        {
            return Ok(Some("an objection or repair application about it is open".to_owned()));
        }
        Ok(None)
    }

    /// Why removing `keys` together from `profile` would change an assessment, or `None`.
    fn matters(&self, profile: &Profile, keys: &[RecordKey]) -> Option<String> {
        let without = Profile {
            subject: profile.subject.clone(),
            records: profile
                .records
                .iter()
                .filter(|r| !keys.contains(&r.record.key()))
                .cloned()
                .collect(),
        };
        self.differs(profile, &without).map(|when| {
            format!("it still affects the assessment of {} ({when})", profile.subject.subject.id)
        })
    }

    /// The records of a subject that may be redacted today: all candidates at once if together
    /// they change nothing (the common case, one comparison); else the longest run of them,
    /// oldest first, that together change nothing (a binary search, so a subject with many
    /// records costs a few comparisons, not one per record). Newer ones wait for a later pass.
    fn redactable(&self, profile: &Profile) -> Result<Vec<RecordKey>, RegistryError> {
        let mut candidates = Vec::new();
        for r in profile.records.iter().filter(|r| !self.shown(r)) {
            if self.barrier(profile, &r.record.key())?.is_none() {
                candidates.push((r.record.effective, r.filed_index, r.record.key()));
            }
        }
        candidates.sort_by_key(|(effective, filed, _)| (*effective, *filed));
        let keys: Vec<RecordKey> = candidates.into_iter().map(|(_, _, k)| k).collect();
        if keys.is_empty() || self.matters(profile, &keys).is_none() {
            return Ok(keys);
        }
        // The longest prefix that changes nothing: `good` does not matter, `bad` does.
        let (mut good, mut bad) = (0, keys.len());
        while bad - good > 1 {
            let mid = good + (bad - good) / 2;
            if self.matters(profile, keys.get(..mid).unwrap_or_default()).is_none() {
                good = mid;
            } else {
                bad = mid;
            }
        }
        Ok(keys.into_iter().take(good).collect())
    }

    /// The redaction event for a record, with the journal entries it withholds.
    fn redaction(&self, key: &RecordKey, reason: &str) -> Result<Event, RegistryError> {
        let entries = self.store.record_history(key)?.into_iter().map(|e| e.index).collect();
        Ok(Event::new(
            self.clock.now(),
            EventBody::RecordRedacted { key: key.clone(), entries, reason: reason.to_owned() },
        ))
    }

    /// Journals redactions, publishes a checkpoint, and re-rates their subjects.
    fn apply_redactions(
        &mut self,
        events: Vec<Event>,
        subjects: &[SubjectId],
    ) -> Result<(), RegistryError> {
        if events.is_empty() {
            return Ok(());
        }
        let encoded: Vec<probity_core::Encoded> = events.into_iter().map(Into::into).collect();
        for outcome in self.store.append(&encoded)? {
            if let Outcome::Refused(r) = outcome {
                return Err(RegistryError::Refused(r.to_string()));
            }
        }
        self.publish_checkpoint()?;
        let today = self.today();
        self.rate(subjects, today)?;
        Ok(())
    }

    /// Redacts one record, if it no longer affects any assessment (with `dry_run`, only checks
    /// that it may be).
    pub fn redact_record(
        &mut self,
        key: &RecordKey,
        reason: &str,
        dry_run: bool,
    ) -> Result<(), RegistryError> {
        let reason = probity_core::check_prose("reason", reason, probity_core::limits::BASIS)
            .map_err(|e| RegistryError::Refused(e.to_string()))?;
        let Some(record) = self.store.record(key)? else {
            return Err(RegistryError::NotFound(format!(
                "authority `{}` has no record with decision number `{}`",
                key.authority, key.decision_no
            )));
        };
        let subject = record.record.subject;
        let Some(profile) = self.profile(&subject)? else {
            return Err(RegistryError::NotFound(format!("no subject `{subject}`")));
        };
        let why = match self.barrier(&profile, key)? {
            Some(why) => Some(why),
            None => self.matters(&profile, std::slice::from_ref(key)),
        };
        if let Some(why) = why {
            return Err(RegistryError::Refused(format!(
                "record `{key}` may not be redacted: {why}"
            )));
        }
        if dry_run {
            return Ok(());
        }
        let event = self.redaction(key, &reason)?;
        self.apply_redactions(vec![event], &[subject])
    }

    /// Redacts every record that may be redacted today (or, with `dry_run`, only lists them).
    pub fn redact_expired(
        &mut self,
        reason: &str,
        dry_run: bool,
        progress: &dyn Progress,
    ) -> Result<RedactionReport, RegistryError> {
        let reason = probity_core::check_prose("reason", reason, probity_core::limits::BASIS)
            .map_err(|e| RegistryError::Refused(e.to_string()))?;
        let mut report = RedactionReport::default();
        let mut after: Option<SubjectId> = None;
        loop {
            let page = self.store.subject_ids(after.as_ref(), PAGE)?;
            let Some(last) = page.last().copied() else { break };
            let mut events = Vec::new();
            let mut touched = Vec::new();
            for id in &page {
                report.subjects += 1;
                let Some(profile) = self.profile(id)? else { continue };
                let chosen = self.redactable(&profile)?;
                if chosen.is_empty() {
                    continue;
                }
                touched.push(*id);
                for key in chosen {
                    if !dry_run {
                        events.push(self.redaction(&key, &reason)?);
                    }
                    report.redacted.push(key);
                }
            }
            self.apply_redactions(events, &touched)?;
            progress.advance(0, page.len() as u64);
            after = Some(last);
        }
        Ok(report)
    }
}

impl Registry {
    /// Withholds the free text of every journal entry about record `key` (summaries, legal
    /// bases, reasons, grounds, replies, statements) from publication, because it holds personal
    /// data: an operator's act, journalled with its `reason`. Unlike a redaction it works while
    /// the record still counts, since what rating reads stays published; the entries' leaves
    /// stay as they were. Returns the log index of the event.
    pub fn withhold_text(&mut self, key: &RecordKey, reason: &str) -> Result<u64, RegistryError> {
        let reason = probity_core::check_prose("reason", reason, probity_core::limits::BASIS)
            .map_err(|e| RegistryError::Refused(e.to_string()))?;
        let entries: Vec<u64> = self.store.record_history(key)?.iter().map(|e| e.index).collect();
        if entries.is_empty() {
            return Err(RegistryError::NotFound(format!(
                "the registry holds no record `{key}` (or it was redacted, and none of its text \
                 is published)"
            )));
        }
        let body = EventBody::RecordTextWithheld { key: key.clone(), entries, reason };
        self.append_one(body)?
            .ok_or_else(|| RegistryError::Internal("a text withholding was a duplicate".into()))
    }
}
