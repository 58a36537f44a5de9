//! The registry's second time axis: what it knew, and so what it answered, at an earlier point.
//!
//! "What was true on date D" assesses every record known now as of D. "What did the registry
//! answer on date D" assesses only what the journal held at the end of D: records filed later
//! are left out, and corrections and withdrawals recorded later are undone. The journal is in
//! recording order, so "the end of D" is a log size, found by binary search.

use probity_core::{Date, Event, EventBody, RecordKey, Slug, Timestamp};
use probity_store::{RecordStatus, StoredRecord};

use crate::{Profile, Registry, RegistryError};

fn corrupt(index: u64, e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Store(probity_store::StoreError::Corrupt { index, reason: e.to_string() })
}

impl Registry {
    /// The number of log entries the registry had recorded by `t`.
    pub fn log_size_at(&self, t: Timestamp) -> Result<u64, RegistryError> {
        let (mut lo, mut hi) = (0u64, self.log_size()?);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.store.recorded_at(mid)? {
                Some(at) if at <= t => lo = mid + 1,
                _ => hi = mid,
            }
        }
        Ok(lo)
    }

    /// The number of log entries recorded by the end of `date` (UTC).
    pub fn log_size_at_end_of(&self, date: Date) -> Result<u64, RegistryError> {
        let next =
            date.tomorrow().map_err(|e| RegistryError::Refused(format!("date `{date}`: {e}")))?;
        let start = jiff::tz::TimeZone::UTC
            .to_timestamp(next.to_datetime(jiff::civil::Time::midnight()))
            .map_err(|e| RegistryError::Refused(format!("date `{date}`: {e}")))?;
        let end = start
            .checked_sub(jiff::SignedDuration::from_nanos(1))
            .map_err(|e| RegistryError::Refused(format!("date `{date}`: {e}")))?;
        self.log_size_at(end)
    }

    /// A subject and its records as the first `size` log entries describe them, or `None` if the
    /// subject was not registered by then.
    pub fn profile_at(
        &self,
        id: &probity_core::SubjectId,
        size: u64,
    ) -> Result<Option<Profile>, RegistryError> {
        let Some(now) = self.profile(id)? else { return Ok(None) };
        if now.subject.index >= size {
            return Ok(None);
        }
        let mut records = Vec::new();
        for r in now.records {
            if r.filed_index >= size {
                continue;
            }
            if r.last_index < size {
                records.push(r);
                continue;
            }
            records.push(self.record_at(&r.record.key(), r, size)?);
        }
        Ok(Some(Profile { subject: now.subject, records }))
    }

    /// Replays a record's history up to `size`.
    fn record_at(
        &self,
        key: &RecordKey,
        mut r: StoredRecord,
        size: u64,
    ) -> Result<StoredRecord, RegistryError> {
        r.status = RecordStatus::Filed;
        let mut case = probity_core::Case::default();
        for entry in self.store.record_history(key)?.into_iter().filter(|e| e.index < size) {
            let event = Event::decode(&entry.bytes).map_err(|e| corrupt(entry.index, e))?;
            match event.body {
                EventBody::ProcessStep { step, .. } => {
                    case = case
                        .apply(&step, event.recorded_at)
                        .map_err(|e| corrupt(entry.index, e))?;
                }
                EventBody::RecordFiled { record } => r.record = record,
                EventBody::RecordCorrected { record, .. } => {
                    r.record = record;
                    r.status = RecordStatus::Corrected;
                }
                EventBody::RecordWithdrawn { .. } => r.status = RecordStatus::Withdrawn,
                _ => return Err(corrupt(entry.index, "not an event about a record")),
            }
            r.last_index = entry.index;
        }
        r.disputed = case.disputed();
        r.repaired = case.repaired_at.map(probity_core::date_of);
        Ok(r)
    }

    /// The assessment the registry would have given with the first `size` log entries: their
    /// records, under the rulebooks adopted by then.
    pub fn assess_known_at(
        &self,
        profile: &Profile,
        as_of: Date,
        size: u64,
    ) -> probity_rules::Assessment {
        self.assess_under(self.rulebook_known_at(as_of, size), profile, as_of)
    }

    /// Authority `by` withdraws a record it filed. Returns the withdrawal's log index, or
    /// `None` if the record was withdrawn already.
    pub fn withdraw_record(
        &mut self,
        by: &Slug,
        key: RecordKey,
        reason: &str,
    ) -> Result<Option<u64>, RegistryError> {
        self.own_record(by, &key)?;
        let reason = probity_core::check_prose("reason", reason, probity_core::limits::BASIS)
            .map_err(|e| RegistryError::Refused(e.to_string()))?;
        self.append_one(EventBody::RecordWithdrawn { key, reason })
    }

    /// Authority `by` corrects a record it filed (same authority and decision number). Returns
    /// the correction's log index, or `None` if it changed nothing.
    pub fn correct_record(
        &mut self,
        by: &Slug,
        record: probity_core::Record,
        reason: &str,
    ) -> Result<Option<u64>, RegistryError> {
        self.own_record(by, &record.key())?;
        let reason = probity_core::check_prose("reason", reason, probity_core::limits::BASIS)
            .map_err(|e| RegistryError::Refused(e.to_string()))?;
        if self.rulebook().kind(record.kind.as_str()).is_none() {
            return Err(RegistryError::Refused(format!(
                "kind `{}` is not in the rulebook in force",
                record.kind
            )));
        }
        self.append_one(EventBody::RecordCorrected { record, reason })
    }

    /// Refuses unless `by` is the issuing authority of the record `key`, which the registry
    /// holds.
    fn own_record(&self, by: &Slug, key: &RecordKey) -> Result<(), RegistryError> {
        if key.authority != *by {
            return Err(RegistryError::Forbidden(format!(
                "only the issuing authority `{}` may change this record",
                key.authority
            )));
        }
        if self.store.record(key)?.is_none() {
            return Err(RegistryError::NotFound(format!(
                "authority `{}` has no record with decision number `{}`",
                key.authority, key.decision_no
            )));
        }
        Ok(())
    }
}
