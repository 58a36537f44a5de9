//! Rows of import files: reading CSV and JSONL, and turning each row into an event or a reason.
//!
//! Every table can be read from CSV (with a header row) or JSONL (one object per line) with the
//! same field names. An unknown CSV column stops the import before any row is read; an unknown
//! JSON field rejects its row. Either way no field outside the published formats, such as one
//! holding data about a person, can slip in.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};

use probity_core::{
    Authority, Date, DocumentHash, Encoded, Event, EventBody, Money, Record, RecordFields, Region,
    Slug, Subject, SubjectId, SubjectKind, SubjectStatus,
};
use probity_rules::Rulebook;
use serde::Deserialize;

use crate::import::{Format, Table};
use crate::{Clock, RegistryError};

/// The longest line or CSV row accepted.
pub const MAX_ROW_BYTES: usize = 1 << 20;

/// The earliest date accepted anywhere.
const EARLIEST: Date = Date::constant(1900, 1, 1);

/// What a row needs to know to become an event.
pub(crate) struct Context<'a> {
    pub rulebook: &'a Rulebook,
    /// Authority id → category.
    pub authorities: HashMap<String, Slug>,
    pub exceptions: HashSet<String>,
    pub today: Date,
    pub clock: &'a dyn Clock,
}

/// A row as read, kept so a rejected row can be written out as it came.
pub(crate) enum RawRow {
    Line(Vec<u8>),
    Fields(csv::ByteRecord),
}

impl RawRow {
    pub fn render(&self) -> String {
        match self {
            Self::Line(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            Self::Fields(record) => {
                let mut w = csv::Writer::from_writer(Vec::new());
                let _ = w.write_byte_record(record);
                let bytes = w.into_inner().unwrap_or_default();
                String::from_utf8_lossy(&bytes).trim_end_matches(['\n', '\r']).to_owned()
            }
        }
    }
}

/// One row: its line, what it was, and what it became.
pub(crate) struct Parsed {
    pub line: u64,
    pub raw: RawRow,
    pub result: Result<Encoded, String>,
}

fn date(field: &str, value: &str, today: Date) -> Result<Date, String> {
    let d: Date =
        value.trim().parse().map_err(|_| format!("{field}: `{value}` is not a date YYYY-MM-DD"))?;
    if d < EARLIEST {
        return Err(format!("{field}: {d} is before {EARLIEST}"));
    }
    // A day of slack: a decision dated today in UTC+14 is still today somewhere.
    if d > today.tomorrow().unwrap_or(today) {
        return Err(format!("{field}: {d} is in the future"));
    }
    Ok(d)
}

fn opt(value: &str) -> Option<&str> {
    let v = value.trim();
    (!v.is_empty()).then_some(v)
}

impl Context<'_> {
    fn subject_id(&self, field: &str, value: &str) -> Result<SubjectId, String> {
        SubjectId::parse_excepted(value, |c| self.exceptions.contains(c))
            .map_err(|e| format!("{field}: {e}"))
    }

    fn event(&self, body: EventBody) -> Encoded {
        Event::new(self.clock.now(), body).into()
    }

    pub fn authority(&self, a: &AuthorityIn<'_>) -> Result<Encoded, String> {
        let authority = Authority::new(&a.id, &a.name, &a.category, &a.jurisdiction)
            .map_err(|e| e.to_string())?;
        Ok(self.event(EventBody::AuthorityRegistered { authority }))
    }

    pub fn subject(&self, s: &SubjectIn<'_>) -> Result<Encoded, String> {
        let id = self.subject_id("id", &s.id)?;
        let kind = opt(&s.kind)
            .map(|k| {
                SubjectKind::parse(k).ok_or_else(|| {
                    let all: Vec<_> = SubjectKind::ALL.iter().map(|k| k.as_str()).collect();
                    format!("kind: `{k}` is not one of {}", all.join(", "))
                })
            })
            .transpose()?;
        let region = opt(&s.region)
            .map(|r| {
                Region::parse(r)
                    .ok_or_else(|| format!("region: `{r}` is not a six-digit division code"))
            })
            .transpose()?;
        let status = opt(&s.status)
            .map(|v| {
                SubjectStatus::parse(v)
                    .ok_or_else(|| format!("status: `{v}` is not active, revoked or deregistered"))
            })
            .transpose()?
            .unwrap_or_default();
        let established =
            opt(&s.established).map(|d| date("established", d, self.today)).transpose()?;
        let former: Vec<&str> =
            s.former_names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()).collect();
        let subject = Subject::new(id, &s.name, &former, kind, region, status, established)
            .map_err(|e| e.to_string())?;
        Ok(self.event(EventBody::SubjectRegistered { subject }))
    }

    pub fn record(&self, r: &RecordIn<'_>) -> Result<Encoded, String> {
        let authority = Slug::parse("authority", &r.authority).map_err(|e| e.to_string())?;
        let Some(category) = self.authorities.get(authority.as_str()) else {
            return Err(format!("unknown authority `{authority}`; register it first"));
        };
        let kind = Slug::parse("kind", &r.kind).map_err(|e| e.to_string())?;
        let book = &self.rulebook.header;
        let Some(rule) = self.rulebook.kind(kind.as_str()) else {
            return Err(format!(
                "kind `{kind}` is not in rulebook `{}` version {}",
                book.id, book.version
            ));
        };
        match (rule.inspection_outcome, opt(&r.inspection_plan)) {
            (true, None) => {
                return Err(format!(
                    "kind `{kind}` is the outcome of an inspection: give the inspection_plan \
                     whose draw selected the subject"
                ));
            }
            (false, Some(_)) => {
                return Err(format!(
                    "kind `{kind}` is not an inspection outcome; only those name an inspection_plan"
                ));
            }
            _ => {}
        }
        if !rule.may_be_filed_by(category) {
            let allowed: Vec<_> = rule.filed_by.iter().map(Slug::as_str).collect();
            return Err(format!(
                "authority `{authority}` ({category}) may not file `{kind}`; the rulebook allows {}",
                allowed.join(", ")
            ));
        }
        let subject = self.subject_id("subject", &r.subject)?;
        let decided = date("decided", &r.decided, self.today)?;
        let effective: Date = r
            .effective
            .trim()
            .parse()
            .map_err(|_| format!("effective: `{}` is not a date YYYY-MM-DD", r.effective))?;
        let amount = match (opt(&r.amount), opt(&r.currency)) {
            (None, None) => None,
            (Some(a), Some(c)) => Some(Money::parse(a, c).map_err(|e| e.to_string())?),
            _ => return Err("an amount needs a currency and a currency needs an amount".into()),
        };
        let document_sha256 = opt(&r.document_sha256)
            .map(DocumentHash::parse)
            .transpose()
            .map_err(|e| e.to_string())?;
        let record = Record::new(RecordFields {
            authority,
            decision_no: &r.decision_no,
            subject,
            kind,
            decided,
            effective,
            basis: &r.basis,
            summary: &r.summary,
            amount,
            document_sha256,
            inspection_plan: opt(&r.inspection_plan),
        })
        .map_err(|e| e.to_string())?;
        Ok(self.event(EventBody::RecordFiled { record }))
    }
}

/// An authority row.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthorityIn<'a> {
    #[serde(borrow, default)]
    id: Cow<'a, str>,
    #[serde(borrow, default)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    category: Cow<'a, str>,
    #[serde(borrow, default)]
    jurisdiction: Cow<'a, str>,
}

/// Former names: a JSON array, or text separated by `|`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Names<'a> {
    List(Vec<Cow<'a, str>>),
    #[serde(borrow)]
    Joined(Cow<'a, str>),
}

fn split_names(s: &str) -> Vec<Cow<'_, str>> {
    s.split('|').map(Cow::Borrowed).collect()
}

fn names<'de: 'a, 'a, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Cow<'a, str>>, D::Error> {
    Ok(match Names::deserialize(d)? {
        Names::List(v) => v,
        Names::Joined(Cow::Borrowed(s)) => split_names(s),
        Names::Joined(Cow::Owned(s)) => s.split('|').map(|n| Cow::Owned(n.to_owned())).collect(),
    })
}

/// A subject row.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubjectIn<'a> {
    #[serde(borrow, default)]
    id: Cow<'a, str>,
    #[serde(borrow, default)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    region: Cow<'a, str>,
    #[serde(borrow, default)]
    status: Cow<'a, str>,
    #[serde(borrow, default)]
    established: Cow<'a, str>,
    #[serde(borrow, default, deserialize_with = "names")]
    former_names: Vec<Cow<'a, str>>,
}

/// An amount: a JSON number or a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum AmountIn<'a> {
    Number(serde_json::Number),
    #[serde(borrow)]
    Text(Cow<'a, str>),
}

fn amount<'de: 'a, 'a, D: serde::Deserializer<'de>>(d: D) -> Result<Cow<'a, str>, D::Error> {
    Ok(match Option::<AmountIn<'a>>::deserialize(d)? {
        None => Cow::Borrowed(""),
        Some(AmountIn::Number(n)) => Cow::Owned(n.to_string()),
        Some(AmountIn::Text(t)) => t,
    })
}

/// A record as an authority files it: a row of the import's record table, the body of
/// `POST /v1/records`, one element of a batch filing. Dates are `YYYY-MM-DD`.
#[derive(Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RecordIn<'a> {
    /// The filing authority's id (an API key files only as its own authority).
    #[serde(borrow, default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    authority: Cow<'a, str>,
    /// The authority's own decision number; with the authority, the record's key.
    #[serde(borrow, default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    decision_no: Cow<'a, str>,
    /// The subject's USCC or LEI.
    #[serde(borrow, default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    subject: Cow<'a, str>,
    /// A record kind of the rulebook in force that the authority's category may file.
    #[serde(borrow, default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    kind: Cow<'a, str>,
    /// Date of the decision.
    #[serde(borrow, default)]
    #[cfg_attr(feature = "openapi", schema(required = true, format = Date))]
    decided: Cow<'a, str>,
    /// Date the decision took legal effect.
    #[serde(borrow, default)]
    #[cfg_attr(feature = "openapi", schema(required = true, format = Date))]
    effective: Cow<'a, str>,
    /// The legal basis the decision cites.
    #[serde(borrow, default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    basis: Cow<'a, str>,
    /// What was decided, without personal data.
    #[serde(borrow, default)]
    summary: Cow<'a, str>,
    /// Amount imposed or awarded, in currency units (a number, or a decimal string).
    #[serde(borrow, default, deserialize_with = "amount")]
    amount: Cow<'a, str>,
    /// ISO 4217 code of the amount; given with an amount, and only then.
    #[serde(borrow, default)]
    currency: Cow<'a, str>,
    /// SHA-256 of the published decision document, in hex.
    #[serde(borrow, default)]
    document_sha256: Cow<'a, str>,
    /// For an inspection outcome (a kind the rulebook marks `inspection_outcome`): the number of
    /// the authority's inspection plan whose draw selected the subject.
    #[serde(borrow, default)]
    inspection_plan: Cow<'a, str>,
}

/// Where each known column sits in a CSV file.
struct Header {
    at: Vec<Option<usize>>,
}

impl Header {
    fn new(table: Table, header: &csv::ByteRecord) -> Result<Self, RegistryError> {
        let known = table.columns();
        let mut at = vec![None; known.len()];
        for (i, name) in header.iter().enumerate() {
            let name = String::from_utf8_lossy(name);
            let name = name.trim().trim_start_matches('\u{feff}');
            match known.iter().position(|(k, _)| *k == name) {
                Some(slot) if at.get(slot).is_some_and(Option::is_some) => {
                    return Err(RegistryError::Input(format!(
                        "column `{name}` appears twice in the header"
                    )));
                }
                Some(slot) => {
                    if let Some(s) = at.get_mut(slot) {
                        *s = Some(i);
                    }
                }
                None => {
                    let all: Vec<_> = known.iter().map(|(k, _)| *k).collect();
                    return Err(RegistryError::Input(format!(
                        "unknown column `{name}` in the header; {} files have the columns {}",
                        table.as_str(),
                        all.join(", ")
                    )));
                }
            }
        }
        for ((name, required), slot) in known.iter().zip(&at) {
            if *required && slot.is_none() {
                return Err(RegistryError::Input(format!(
                    "the header lacks the required column `{name}`"
                )));
            }
        }
        Ok(Self { at })
    }

    /// The text of column `slot` of `record`; empty if the file has no such column.
    fn get<'r>(&self, record: &'r csv::ByteRecord, slot: usize) -> Result<Cow<'r, str>, String> {
        let Some(Some(i)) = self.at.get(slot) else {
            return Ok(Cow::Borrowed(""));
        };
        let bytes = record.get(*i).unwrap_or_default();
        std::str::from_utf8(bytes).map(Cow::Borrowed).map_err(|_| {
            let name = self.at.iter().position(|x| *x == Some(*i)).unwrap_or(0);
            format!("column {} is not valid UTF-8", name + 1)
        })
    }
}

fn csv_row(
    table: Table,
    h: &Header,
    rec: &csv::ByteRecord,
    expected: usize,
    ctx: &Context<'_>,
) -> Result<Encoded, String> {
    if rec.len() != expected {
        return Err(format!("row has {} fields; the header has {expected}", rec.len()));
    }
    let g = |slot| h.get(rec, slot);
    match table {
        Table::Authorities => ctx.authority(&AuthorityIn {
            id: g(0)?,
            name: g(1)?,
            category: g(2)?,
            jurisdiction: g(3)?,
        }),
        Table::Subjects => {
            let former = g(6)?;
            ctx.subject(&SubjectIn {
                id: g(0)?,
                name: g(1)?,
                kind: g(2)?,
                region: g(3)?,
                status: g(4)?,
                established: g(5)?,
                former_names: split_names(&former),
            })
        }
        Table::Records => ctx.record(&RecordIn {
            authority: g(0)?,
            decision_no: g(1)?,
            subject: g(2)?,
            kind: g(3)?,
            decided: g(4)?,
            effective: g(5)?,
            basis: g(6)?,
            summary: g(7)?,
            amount: g(8)?,
            currency: g(9)?,
            document_sha256: g(10)?,
            inspection_plan: g(11)?,
        }),
    }
}

pub(crate) fn json_row(table: Table, line: &str, ctx: &Context<'_>) -> Result<Encoded, String> {
    let bad = |e: serde_json::Error| format!("not a valid {} object: {e}", table.singular());
    match table {
        Table::Authorities => ctx.authority(&serde_json::from_str(line).map_err(bad)?),
        Table::Subjects => ctx.subject(&serde_json::from_str(line).map_err(bad)?),
        Table::Records => ctx.record(&serde_json::from_str(line).map_err(bad)?),
    }
}

/// How far the CSV reader reads ahead of the row it parses.
const CSV_READ_AHEAD: u64 = 64 << 10;

/// A reader that hands out bytes only up to a moving end: the end of the last whole CSV row
/// plus the longest row allowed and the parser's read-ahead. Past it, reading fails. It also
/// notes where each line feed it handed out is, so rows are numbered by the lines of the file
/// whatever their endings (the CSV reader's own count is one short with CRLF).
struct Capped<R> {
    inner: R,
    read: u64,
    end: std::rc::Rc<std::cell::Cell<u64>>,
    /// Byte offsets of line feeds handed out and not yet counted (bounded by the read-ahead).
    feeds: std::rc::Rc<std::cell::RefCell<std::collections::VecDeque<u64>>>,
}

/// Counts lines by the line feeds a [`Capped`] reader noted.
struct Lines {
    feeds: std::rc::Rc<std::cell::RefCell<std::collections::VecDeque<u64>>>,
    before: u64,
}

impl Lines {
    /// The line (from 1) on which the row whose position is the byte offset `at` stands;
    /// offsets only grow. (With CRLF endings the CSV reader puts a row's start on the line feed
    /// that ends the row before, so that feed is counted too.)
    fn of(&mut self, at: u64) -> u64 {
        let mut feeds = self.feeds.borrow_mut();
        while feeds.front().is_some_and(|&f| f <= at) {
            feeds.pop_front();
            self.before += 1;
        }
        self.before + 1
    }
}

/// The error a [`Capped`] reader fails with.
const ROW_TOO_LONG: &str = "a row runs past the longest allowed";

impl<R> Capped<R> {
    /// Whether a CSV error is this reader stopping a row that ran too long.
    fn tripped(e: &csv::Error) -> bool {
        matches!(e.kind(), csv::ErrorKind::Io(io) if io.to_string() == ROW_TOO_LONG)
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let room = self.end.get().saturating_sub(self.read);
        if room == 0 && !buf.is_empty() {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, ROW_TOO_LONG));
        }
        let take = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(buf.get_mut(..take).unwrap_or_default())?;
        let mut feeds = self.feeds.borrow_mut();
        for (i, _) in buf.iter().take(n).enumerate().filter(|(_, b)| **b == b'\n') {
            feeds.push_back(self.read + i as u64);
        }
        self.read += n as u64;
        Ok(n)
    }
}

/// Where [`read_rows`] cuts the rows it hands over: a chunk ends when it holds `chunk` rows,
/// or when the rows since the last batch ended make a whole batch. So every batch is a whole
/// number of chunks, and a batch of at most `chunk` rows is one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cuts {
    chunk: usize,
    batch: usize,
    in_batch: usize,
}

impl Cuts {
    /// Chunks of at most `chunk` rows in batches of `batch` (both at least one).
    pub(crate) fn new(chunk: usize, batch: usize) -> Self {
        let batch = batch.max(1);
        Self { chunk: chunk.clamp(1, batch), batch, in_batch: 0 }
    }

    /// Counts a row just added to a chunk now `len` rows long; true if the chunk ends there.
    fn after_row(&mut self, len: usize) -> bool {
        self.in_batch += 1;
        let batch_ends = self.in_batch >= self.batch;
        if batch_ends {
            self.in_batch = 0;
        }
        batch_ends || len >= self.chunk
    }
}

/// Reads every row of `input`, handing them over in chunks cut by `cuts` with the number of
/// bytes they span. Stops early if `send` returns false.
pub(crate) fn read_rows(
    table: Table,
    format: Format,
    input: impl Read,
    ctx: &Context<'_>,
    mut cuts: Cuts,
    mut send: impl FnMut(Vec<Parsed>, u64) -> bool,
) -> Result<(), RegistryError> {
    let io = |e: std::io::Error| RegistryError::Io { path: "input".into(), source: e };
    let mut batch = Vec::with_capacity(cuts.chunk);
    let mut flushed = 0u64;
    match format {
        Format::Csv => {
            // A CSV row may span lines (quoted newlines), so its end is known only once it is
            // read: the reader below stops handing out bytes once a row has run past the
            // longest allowed, so no row is ever buffered beyond it.
            let end = std::rc::Rc::new(std::cell::Cell::new(CSV_READ_AHEAD + MAX_ROW_BYTES as u64));
            let feeds = std::rc::Rc::default();
            let mut lines = Lines { feeds: std::rc::Rc::clone(&feeds), before: 0 };
            let capped = Capped { inner: input, read: 0, end: std::rc::Rc::clone(&end), feeds };
            let mut rdr = csv::ReaderBuilder::new()
                .flexible(true)
                .buffer_capacity(CSV_READ_AHEAD as usize)
                .from_reader(capped);
            let too_long = |line: u64| {
                RegistryError::Input(format!(
                    "the CSV row at line {line} is longer than {MAX_ROW_BYTES} bytes; the import \
                     stops there, as a row's end cannot be found without reading it whole"
                ))
            };
            let header = match rdr.byte_headers() {
                Ok(h) => h.clone(),
                Err(e) if Capped::<std::io::Empty>::tripped(&e) => return Err(too_long(1)),
                Err(e) => {
                    return Err(RegistryError::Input(format!("cannot read the CSV header: {e}")));
                }
            };
            let h = Header::new(table, &header)?;
            let mut rec = csv::ByteRecord::new();
            loop {
                end.set(rdr.position().byte() + CSV_READ_AHEAD + MAX_ROW_BYTES as u64);
                match rdr.read_byte_record(&mut rec) {
                    Ok(false) => break,
                    Ok(true) => {}
                    Err(e) if Capped::<std::io::Empty>::tripped(&e) => {
                        // The rows before it stand: they go to the store first.
                        send(std::mem::take(&mut batch), rdr.position().byte() - flushed);
                        return Err(too_long(rdr.position().line()));
                    }
                    Err(e) => return Err(RegistryError::Input(format!("cannot read CSV: {e}"))),
                }
                let line = rec.position().map_or(0, |p| lines.of(p.byte()));
                let result = if rec.as_slice().len() > MAX_ROW_BYTES {
                    Err(format!("row is longer than {MAX_ROW_BYTES} bytes"))
                } else {
                    csv_row(table, &h, &rec, header.len(), ctx)
                };
                batch.push(Parsed { line, raw: RawRow::Fields(rec.clone()), result });
                if cuts.after_row(batch.len()) {
                    let at = rdr.position().byte();
                    if !send(
                        std::mem::replace(&mut batch, Vec::with_capacity(cuts.chunk)),
                        at - flushed,
                    ) {
                        return Ok(());
                    }
                    flushed = at;
                }
            }
            let at = rdr.position().byte();
            if !batch.is_empty() || at > flushed {
                send(batch, at - flushed);
            }
        }
        Format::Jsonl => {
            let mut reader = BufReader::with_capacity(1 << 20, input);
            let mut buf = Vec::with_capacity(4096);
            let (mut line, mut at) = (0u64, 0u64);
            loop {
                buf.clear();
                let n = (&mut reader)
                    .take(MAX_ROW_BYTES as u64 + 1)
                    .read_until(b'\n', &mut buf)
                    .map_err(io)?;
                if n == 0 {
                    break;
                }
                line += 1;
                at += n as u64;
                let result = if buf.len() > MAX_ROW_BYTES && buf.last() != Some(&b'\n') {
                    // Skip the rest of the over-long line without holding it.
                    loop {
                        let chunk = reader.fill_buf().map_err(io)?;
                        if chunk.is_empty() {
                            break;
                        }
                        let (used, done) = match chunk.iter().position(|&b| b == b'\n') {
                            Some(p) => (p + 1, true),
                            None => (chunk.len(), false),
                        };
                        reader.consume(used);
                        at += used as u64;
                        if done {
                            break;
                        }
                    }
                    buf.truncate(200);
                    Err(format!("line is longer than {MAX_ROW_BYTES} bytes"))
                } else {
                    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                        buf.pop();
                    }
                    if buf.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    match std::str::from_utf8(&buf) {
                        Ok(text) => json_row(table, text, ctx),
                        Err(e) => {
                            Err(format!("line is not valid UTF-8 (at byte {})", e.valid_up_to()))
                        }
                    }
                };
                batch.push(Parsed { line, raw: RawRow::Line(buf.clone()), result });
                if cuts.after_row(batch.len()) {
                    if !send(
                        std::mem::replace(&mut batch, Vec::with_capacity(cuts.chunk)),
                        at - flushed,
                    ) {
                        return Ok(());
                    }
                    flushed = at;
                }
            }
            if !batch.is_empty() || at > flushed {
                send(batch, at - flushed);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Cuts;

    /// The rows after which each chunk ends, over `rows` rows.
    fn ends(mut cuts: Cuts, rows: usize) -> Vec<usize> {
        let mut len = 0;
        let mut out = Vec::new();
        for row in 1..=rows {
            len += 1;
            if cuts.after_row(len) {
                out.push(row);
                len = 0;
            }
        }
        out
    }

    #[test]
    fn chunks_end_where_batches_do() {
        assert_eq!(ends(Cuts::new(10, 25), 60), [10, 20, 25, 35, 45, 50, 60]);
        assert_eq!(ends(Cuts::new(10, 5), 12), [5, 10]);
        assert_eq!(ends(Cuts::new(10, 30), 60), [10, 20, 30, 40, 50, 60]);
    }
}
