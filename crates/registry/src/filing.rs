//! Filing records one by one or in batches, as an authority does through the API.
//!
//! Each row goes through exactly the validation a bulk import applies (the same code), and the
//! rows that pass are journalled in one store transaction. Every row gets its own result: filed,
//! already filed (filing is idempotent by decision number), or rejected with the reason. An
//! authority may file only in its own name.

use probity_core::{Encoded, EventBody, Slug};
use probity_store::Outcome;
use serde::Serialize;

use crate::input::{Context, Cuts, json_row, read_rows};
use crate::{Format, Registry, RegistryError, Table};

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
        let rows: Vec<(&Slug, &str)> = rows.iter().map(|r| (by, r.as_str())).collect();
        self.file_records_of_many(&rows)
    }

    /// Files rows of several authorities at once, each row as the authority beside it (so a row
    /// in another authority's name is rejected), in one transaction: one result per row. For
    /// a bus that carries many authorities' filings.
    pub fn file_records_of_many(
        &mut self,
        rows: &[(&Slug, &str)],
    ) -> Result<Vec<FilingResult>, RegistryError> {
        if rows.len() > MAX_FILING_BATCH {
            return Err(RegistryError::Invalid(format!(
                "a filing holds at most {MAX_FILING_BATCH} records; this one has {}",
                rows.len()
            )));
        }
        let parsed: Vec<_> = {
            let ctx = self.input_context()?;
            rows.iter().map(|(_, row)| json_row(Table::Records, row, &ctx)).collect()
        };
        let bys: Vec<&Slug> = rows.iter().map(|(by, _)| *by).collect();
        self.file_parsed(&bys, parsed)
    }

    /// Files the records of a CSV or JSON Lines file (the import's record format) as authority
    /// `by`, up to [`MAX_FILING_BATCH`] rows per transaction: one result per row, with its line.
    /// The file's rows are read by the import's reader, so they are checked the same way.
    pub fn file_file(
        &mut self,
        by: &Slug,
        format: Format,
        input: impl std::io::Read,
    ) -> Result<Vec<(u64, FilingResult)>, RegistryError> {
        let mut rows = Vec::new();
        {
            let ctx = self.input_context()?;
            read_rows(
                Table::Records,
                format,
                input,
                &ctx,
                Cuts::new(MAX_FILING_BATCH, MAX_FILING_BATCH),
                |batch, _| {
                    rows.extend(batch.into_iter().map(|p| (p.line, p.result)));
                    true
                },
            )?;
        }
        let mut out = Vec::with_capacity(rows.len());
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let (lines, parsed): (Vec<u64>, Vec<_>) = rows.by_ref().take(MAX_FILING_BATCH).unzip();
            let bys = vec![by; parsed.len()];
            for r in self.file_parsed(&bys, parsed)? {
                out.push((lines.get(r.row).copied().unwrap_or_default(), r));
            }
        }
        Ok(out)
    }

    /// Files rows already read and checked, each as the authority in `bys` at its position,
    /// refusing any filed in another authority's name.
    fn file_parsed(
        &mut self,
        bys: &[&Slug],
        parsed: Vec<Result<Encoded, String>>,
    ) -> Result<Vec<FilingResult>, RegistryError> {
        let mut results = Vec::with_capacity(parsed.len());
        let mut events = Vec::with_capacity(parsed.len());
        for (i, parsed) in parsed.into_iter().enumerate() {
            let Some(by) = bys.get(i).copied() else {
                return Err(RegistryError::Internal("a row without its authority".into()));
            };
            let parsed = parsed.and_then(|e| match &e.event().body {
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
                return Err(RegistryError::Internal(
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
