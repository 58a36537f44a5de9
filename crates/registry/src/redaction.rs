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
    /// Why a record may not be redacted today, or `None` if it may. `without` are records of
    /// the same subject already chosen for redaction.
    fn redaction_barrier(
        &self,
        profile: &Profile,
        key: &RecordKey,
        without: &[RecordKey],
    ) -> Result<Option<String>, RegistryError> {
        let Some(record) = profile.records.iter().find(|r| r.record.key() == *key) else {
            return Ok(Some(format!("the registry holds no record `{key}`")));
        };
        if self.shown(record) {
            return Ok(Some(format!(
                "record `{key}` is still published; only records no longer shown (expired, \
                 withdrawn or repaired) can be redacted"
            )));
        }
        if let Some(view) = self.case(key)?
            && (view.case.disputed()
                || matches!(view.case.repair, Some((probity_core::RepairState::Applied, _))))
        {
            return Ok(Some(format!("record `{key}` has an open objection or repair application")));
        }
        let today = self.today();
        let keep = |skip: &[&RecordKey]| Profile {
            subject: profile.subject.clone(),
            records: profile
                .records
                .iter()
                .filter(|r| {
                    let k = r.record.key();
                    !without.contains(&k) && !skip.contains(&&k)
                })
                .cloned()
                .collect(),
        };
        // The assessment today and on every later date the engine names as a possible change
        // must be the same without the record. The dates themselves are only when to look
        // again (a record adds candidates on which nothing changes), so they are not compared.
        let (with, without) = (keep(&[]), keep(&[key]));
        let mut on = Some(today);
        for _ in 0..MAX_LOOKAHEAD {
            let Some(date) = on else { return Ok(None) };
            let mut a = self.assess(&with, date);
            let mut b = self.assess(&without, date);
            on = a.next_boundary;
            (a.next_boundary, b.next_boundary) = (None, None);
            if a != b {
                return Ok(Some(format!(
                    "record `{key}` still affects the assessment of {} (on {date})",
                    profile.subject.subject.id
                )));
            }
        }
        Ok(Some(format!(
            "record `{key}` may still affect the assessment of {} later",
            profile.subject.subject.id
        )))
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
        let reason = probity_core::check_text("reason", reason, probity_core::limits::BASIS)
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
        if let Some(why) = self.redaction_barrier(&profile, key, &[])? {
            return Err(RegistryError::Refused(why));
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
        let reason = probity_core::check_text("reason", reason, probity_core::limits::BASIS)
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
                let mut chosen: Vec<RecordKey> = Vec::new();
                for r in profile.records.iter().filter(|r| !self.shown(r)) {
                    let key = r.record.key();
                    if self.redaction_barrier(&profile, &key, &chosen)?.is_none() {
                        chosen.push(key);
                    }
                }
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
