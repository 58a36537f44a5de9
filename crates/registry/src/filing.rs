//! Filing records one by one or in batches, as an authority does through the API.
//!
//! Each row goes through exactly the validation a bulk import applies (the same code), and the
//! rows that pass are journalled in one store transaction. Every row gets its own result: filed,
//! already filed (filing is idempotent by decision number), or rejected with the reason. An
//! authority may file only in its own name.

use probity_core::{EventBody, Slug};
use probity_store::Outcome;
use serde::Serialize;

use crate::input::{Context, json_row};
use crate::{Registry, RegistryError, Table};

/// The most rows one filing call takes.
pub const MAX_FILING_BATCH: usize = 10_000;

/// What happened to one row of a filing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FilingResult {
    /// 0-based position of the row in the request.
    pub row: usize,
    /// `filed`, `duplicate` or `rejected`.
    pub status: &'static str,
    /// The log index of the filing, when it was filed now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// Why the row was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Registry {
    /// What the import's row checks need, under the rulebook in force today.
    fn input_context(&self) -> Result<Context<'_>, RegistryError> {
        Ok(Context {
            rulebook: self.rulebook(),
            authorities: self
                .store
                .authorities()?
                .into_iter()
                .map(|a| (a.id.to_string(), a.category))
                .collect(),
            exceptions: self.exceptions()?,
            today: self.clock.today(),
            clock: self.clock.as_ref(),
        })
    }

    /// Parses one record (a JSON object in the import's record format) with the import's checks.
    pub fn parse_record(&self, row: &str) -> Result<probity_core::Record, RegistryError> {
        let ctx = self.input_context()?;
        match json_row(Table::Records, row, &ctx).map_err(RegistryError::Invalid)?.event().body {
            EventBody::RecordFiled { ref record } => Ok(record.clone()),
            _ => Err(RegistryError::Invalid("not a record".into())),
        }
    }

    /// Files records (each a JSON object in the import's record format) as authority `by`.
    pub fn file_records(
        &mut self,
        by: &Slug,
        rows: &[String],
    ) -> Result<Vec<FilingResult>, RegistryError> {
        if rows.len() > MAX_FILING_BATCH {
            return Err(RegistryError::Invalid(format!(
                "a filing holds at most {MAX_FILING_BATCH} records; this one has {}",
                rows.len()
            )));
        }
        let ctx = self.input_context()?;
        let mut results = Vec::with_capacity(rows.len());
        let mut events = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let parsed = json_row(Table::Records, row, &ctx).and_then(|e| match &e.event().body {
                EventBody::RecordFiled { record } if record.authority != *by => Err(format!(
                    "authority: `{}` may not file in the name of `{}`",
                    by, record.authority
                )),
                _ => Ok(e),
            });
            match parsed {
                Ok(e) => {
                    events.push(e);
                    results.push(FilingResult { row: i, status: "", index: None, reason: None });
                }
                Err(reason) => results.push(FilingResult {
                    row: i,
                    status: "rejected",
                    index: None,
                    reason: Some(reason),
                }),
            }
        }
        let outcomes = self.store.append(&events)?;
        let mut touched = Vec::new();
        let mut outcomes = outcomes.into_iter().zip(&events);
        for r in results.iter_mut().filter(|r| r.status.is_empty()) {
            let Some((outcome, event)) = outcomes.next() else {
                return Err(RegistryError::Refused(
                    "the store answered fewer outcomes than events".into(),
                ));
            };
            match outcome {
                Outcome::Appended { index } => {
                    r.status = "filed";
                    r.index = Some(index);
                    if let EventBody::RecordFiled { record } = &event.event().body {
                        touched.push(record.subject);
                    }
                }
                Outcome::Duplicate => r.status = "duplicate",
                Outcome::Refused(why) => {
                    r.status = "rejected";
                    r.reason = Some(why.to_string());
                }
            }
        }
        if !touched.is_empty() {
            self.publish_checkpoint()?;
            touched.sort_unstable();
            touched.dedup();
            let today = self.clock.today();
            self.rate(&touched, today)?;
        }
        Ok(results)
    }
}
