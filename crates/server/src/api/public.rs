//! The public reads: health, subjects and their assessments, the check question, search,
//! lists, the rulebook, the change feed and the transparency log.

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::state::SentAnswer;

// ---------------------------------------------------------------------------------------------
// Health
// ---------------------------------------------------------------------------------------------

/// Liveness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/v1/health", tag = "service", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness and freshness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// Whether the registry answers.
    pub ready: bool,
    /// The log size answers reflect.
    pub log_size: u64,
    /// The rulebook in force.
    pub rulebook: String,
    /// The witnesses of the log, and what each last answered (empty without witnesses).
    pub witnesses: Vec<crate::witnessing::WitnessStatus>,
    /// The NATS feeds, when the server runs them (`--nats`).
    pub nats: Option<crate::feeds::FeedStatus>,
}

/// The registry answers; says how fresh answers are.
#[utoipa::path(get, path = "/v1/ready", tag = "service",
    responses((status = 200, body = Ready), (status = 503, body = ErrorBody)))]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Ready>, ApiError> {
    let r = state
        .read(|reg| {
            let b = reg.rulebook();
            Ok(Ready {
                ready: true,
                log_size: reg.log_size()?,
                rulebook: format!("{} {}", b.header.id, b.header.version),
                witnesses: Vec::new(),
                nats: None,
            })
        })
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", e.message))?;
    Ok(Json(Ready { witnesses: state.witness_statuses(), nats: state.feeds(), ..r }))
}

// ---------------------------------------------------------------------------------------------
// Subjects, assessments, check
// ---------------------------------------------------------------------------------------------

/// A record as shown on a profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordView {
    /// The record as it stands (as corrected, if it was).
    #[serde(flatten)]
    pub record: Record,
    /// `filed`, `corrected`.
    pub status: String,
    /// An objection is open.
    pub disputed: bool,
    /// The company's reply, if any.
    pub reply: Option<String>,
    /// Log index of the filing.
    pub filed_index: u64,
}

/// A subject's profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectView {
    /// The subject as registered.
    #[serde(flatten)]
    pub subject: Subject,
    /// Records shown today (withdrawn, repaired and expired ones are not).
    pub records: Vec<RecordView>,
    /// The assessment today, with its explanation.
    pub assessment: Assessment,
    /// The inspection draws that selected it, with their outcomes once filed.
    pub inspections: Vec<probity_registry::Selection>,
    /// The log size this answer reflects.
    pub log_size: u64,
    /// With `proof=true`: inclusion proofs of the log entries behind this profile against the
    /// published checkpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<ProfileProofs>,
}

/// Whether to attach log proofs.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ProofFlag {
    /// Attach inclusion proofs of the log entries behind the answer.
    pub proof: Option<bool>,
}

/// A subject's identity, shown records and current assessment.
#[utoipa::path(get, path = "/v1/subjects/{id}", tag = "public",
    params(("id" = String, Path, description = "USCC or LEI"), ProofFlag),
    responses((status = 200, body = SubjectView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn subject(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(flag): Query<ProofFlag>,
) -> ApiResult<SubjectView> {
    state
        .read(move |reg| {
            let id = subject_id(reg, &id)?;
            let p = reg.profile(&id)?.ok_or_else(|| no_subject(&id))?;
            let a = reg.assess(&p, reg.today());
            let mut records = Vec::new();
            for r in p.records.iter().filter(|r| reg.shown(r)) {
                let view = reg.case(&r.record.key())?;
                records.push(RecordView {
                    record: r.record.clone(),
                    status: r.status.as_str().to_owned(),
                    disputed: r.disputed,
                    reply: view.as_ref().and_then(reply_of),
                    filed_index: r.filed_index,
                });
            }
            Ok(Json(SubjectView {
                subject: p.subject.subject.clone(),
                records,
                assessment: a,
                inspections: reg.selections(&p.subject.subject.id)?,
                log_size: reg.log_size()?,
                proof: if flag.proof == Some(true) { Some(reg.profile_proofs(&p)?) } else { None },
            }))
        })
        .await
}

/// When an answer is about and what it may use.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AsOf {
    /// The date the answer is about (default today), YYYY-MM-DD.
    pub as_of: Option<String>,
    /// Answer from what the registry had recorded by the end of this date.
    pub known_at: Option<String>,
}

/// An assessment with the subject and the log size it reflects.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssessmentOut {
    /// The subject.
    pub subject: String,
    /// The log size the assessment reflects.
    pub log_size: u64,
    /// The assessment.
    #[serde(flatten)]
    pub assessment: Assessment,
}

/// The assessment of a subject on a date, with every effect, list and measure explained.
#[utoipa::path(get, path = "/v1/subjects/{id}/assessment", tag = "public",
    params(("id" = String, Path, description = "USCC or LEI"), AsOf),
    responses((status = 200, body = AssessmentOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn assessment(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<AsOf>,
) -> ApiResult<AssessmentOut> {
    let as_of = opt_date("as_of", q.as_of.as_ref())?;
    let known_at = opt_date("known_at", q.known_at.as_ref())?;
    state
        .read(move |reg| {
            let id = subject_id(reg, &id)?;
            let as_of = as_of.or(known_at).unwrap_or_else(|| reg.today());
            let size = match known_at {
                Some(k) => reg.log_size_at_end_of(k)?,
                None => reg.log_size()?,
            };
            let p = reg.profile_at(&id, size)?.ok_or_else(|| no_subject(&id))?;
            let assessment = reg.assess_known_at(&p, as_of, size);
            Ok(Json(AssessmentOut { subject: id.to_string(), log_size: size, assessment }))
        })
        .await
}

/// A subject's timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct Timeline {
    /// The subject.
    pub subject: String,
    /// Entries in time order.
    pub entries: Vec<TimelineEntry>,
}

/// Every record and due-process step about a subject, with deadlines. Records no longer shown
/// appear only as `expired`, `repaired` or `withdrawn`, without their content.
#[utoipa::path(get, path = "/v1/subjects/{id}/timeline", tag = "public",
    params(("id" = String, Path, description = "USCC or LEI")),
    responses((status = 200, body = Timeline), (status = 404, body = ErrorBody)))]
pub async fn timeline(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Timeline> {
    state
        .read(move |reg| {
            let id = subject_id(reg, &id)?;
            let p = reg.profile(&id)?.ok_or_else(|| no_subject(&id))?;
            let entries = reg.timeline(&p, reg.today())?;
            Ok(Json(Timeline { subject: id.to_string(), entries }))
        })
        .await
}

/// One check question.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CheckQuery {
    /// USCC or LEI.
    pub subject: String,
    /// Measure id from the rulebook, e.g. `procurement.bid`.
    pub measure: String,
    /// The date the answer is about (default today).
    pub as_of: Option<String>,
    /// Answer from what the registry had recorded by the end of this date.
    pub known_at: Option<String>,
    /// Include log proofs of the records behind the answer.
    pub proof: Option<bool>,
}

/// A check answer, with the proofs of its inputs when asked for.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckOut<R = Vec<probity_rules::Reason>> {
    /// The answer.
    #[serde(flatten)]
    #[schema(value_type = CheckAnswer)]
    pub answer: CheckAnswer<R>,
    /// With `proof=true`: inclusion proofs of the log entries behind the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<ProfileProofs>,
}

/// May this company take part in this measure, and why?
#[utoipa::path(get, path = "/v1/check", tag = "public", params(CheckQuery),
    responses((status = 200, body = CheckOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn check(
    State(state): State<AppState>,
    Query(q): Query<CheckQuery>,
) -> Result<Response, ApiError> {
    let known_at = opt_date("known_at", q.known_at.as_ref())?;
    let as_of = opt_date("as_of", q.as_of.as_ref())?.or(known_at).unwrap_or_else(|| state.today());
    // The same question at the same log size has the same answer: the answer is a function of
    // the rulebooks and the records, all in the log. Answers with proofs are not kept.
    let key = (q.proof != Some(true)).then(|| AnswerKey {
        subject: q.subject.clone(),
        measure: q.measure.clone(),
        as_of,
        known_at,
    });
    if let Some(body) = key.as_ref().and_then(|k| state.kept_answer(k)) {
        return Ok(json_body(body));
    }
    // The subject's stored answers, read in one look-up if they hold: where the request is on
    // a store that reads in place, else gathered with other questions into one statement.
    let tried = q.proof != Some(true) && known_at.is_none();
    if tried {
        let answer = match state.read_here(|reg| stored_answer(reg, &q.subject, &q.measure, as_of))
        {
            Some(here) => here?,
            // Gathered with others asked at once. A code that does not parse may still be
            // on the exception list, or be refused: the longer way below finds out which.
            None => match probity_core::SubjectId::parse(&q.subject) {
                Ok(id) => state.gathered_answer(id, q.measure.clone(), as_of).await?,
                Err(_) => None,
            },
        };
        if let Some(answer) = answer {
            return checked(&state, key, answer, None);
        }
    }
    let keeper = state.clone();
    state
        .read(move |reg| {
            // The stored answers, if tried above, are not read again.
            let answer = if tried {
                reg.check_past_stored(&reg.parse_id(&q.subject)?, &q.measure, as_of, known_at)?
            } else {
                reg.check(&q.subject, &q.measure, as_of, known_at)?
            };
            let answer = answer.ok_or_else(|| {
                ApiError::not_found(format!("the registry holds no subject `{}`", q.subject.trim()))
            })?;
            let proof = match q.proof {
                Some(true) => reg.check_proofs(&q.subject, known_at)?,
                _ => None,
            };
            checked(&keeper, key, answer, proof)
        })
        .await
}

/// The answer about `subject` read from its stored answers in one look-up, if they hold; its
/// reasons are sent on as stored.
fn stored_answer(
    reg: &probity_registry::Registry,
    subject: &str,
    measure: &str,
    as_of: Date,
) -> Result<Option<SentAnswer>, ApiError> {
    let id = reg.parse_id(subject)?;
    Ok(reg.check_stored(&id, measure, as_of)?)
}

/// The response to a check: counted, kept for the same question at the same log size (unless
/// it carries proofs), and sent.
fn checked<R: Serialize>(
    state: &AppState,
    key: Option<AnswerKey>,
    answer: CheckAnswer<R>,
    proof: Option<ProfileProofs>,
) -> Result<Response, ApiError> {
    let (log_size, decision) = (answer.log_size, answer.decision);
    state.metrics().answer(&answer.measure, decision);
    // Without proofs the body is the answer alone: serialised as itself, the same JSON as
    // through the flattening map that `CheckOut` needs, in fewer steps.
    // Room for an answer with a few reasons, so that the body is not grown as it is written.
    let mut body = Vec::with_capacity(1024);
    match proof {
        None => serde_json::to_writer(&mut body, &answer),
        proof => serde_json::to_writer(&mut body, &CheckOut { answer, proof }),
    }
    .map_err(ApiError::internal)?;
    let body = bytes::Bytes::from(body);
    if let Some(k) = key {
        state.keep_answer(k, log_size, body.clone(), decision);
    }
    Ok(json_body(body))
}

/// A response with a JSON body already serialised.
fn json_body(body: bytes::Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The answer for one subject of a batch check, or why there is none.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum BatchAnswer {
    /// The answer.
    Answer(CheckAnswer),
    /// No answer for this subject.
    Error {
        /// The subject as given.
        subject: String,
        /// Why: `not_found`, `invalid` (a malformed code), or another error code.
        error: ErrorDetail,
    },
}

/// Answers of a batch check, one per subject in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchAnswers {
    /// Each an answer, or the subject with an error.
    pub results: Vec<BatchAnswer>,
}

/// The check question for many subjects at once.
#[utoipa::path(post, path = "/v1/check", tag = "public", request_body = BatchCheck,
    responses((status = 200, body = BatchAnswers), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn check_batch(
    State(state): State<AppState>,
    charged: Option<axum::Extension<crate::auth::Charged>>,
    Json(b): Json<BatchCheck>,
) -> ApiResult<BatchAnswers> {
    if b.subjects.len() > MAX_CHECK_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!(
                "a batch check holds at most {MAX_CHECK_BATCH} subjects; this one has {}",
                b.subjects.len()
            ),
        ));
    }
    let as_of = opt_date("as_of", b.as_of.as_ref())?;
    // A batch costs what its subjects would cost asked one by one, in requests of
    // BATCH_SUBJECTS_PER_REQUEST; the middleware charged the first.
    let cost = b.subjects.len().div_ceil(BATCH_SUBJECTS_PER_REQUEST).max(1);
    if let Some(axum::Extension(who)) = &charged {
        who.charge(&state, u32::try_from(cost - 1).unwrap_or(u32::MAX))?;
    }
    // Few batches run at once, and each takes a reader a slice at a time, so single reads
    // always find a reader soon.
    let _turn = state.batch_turn().await?;
    let measure = b.measure.clone();
    let known = state.read(move |reg| Ok(reg.rulebook().measure(&measure).is_some())).await?;
    if !known {
        return Err(ApiError::not_found(format!(
            "measure `{}` is not in the rulebook in force",
            b.measure
        )));
    }
    let mut results = Vec::with_capacity(b.subjects.len());
    for slice in b.subjects.chunks(BATCH_SLICE) {
        let (slice, measure, metrics) = (slice.to_vec(), b.measure.clone(), state.clone());
        let answers = state
            .read(move |reg| {
                let as_of = as_of.unwrap_or_else(|| reg.today());
                // The slice's stored answers first, read at once (one statement, so one round
                // trip on a networked store); the longer way for each that does not hold, and
                // for each code that does not parse (`check` says why).
                let ids: Vec<Option<probity_core::SubjectId>> =
                    slice.iter().map(|s| reg.parse_id(s).ok()).collect();
                let asked: Vec<_> =
                    ids.iter().flatten().map(|id| (*id, measure.as_str(), as_of)).collect();
                let mut stored = reg.check_stored_many(&asked)?.into_iter();
                let answers = slice
                    .iter()
                    .zip(&ids)
                    .map(|(s, id)| {
                        let answer = match id.and_then(|_| stored.next()) {
                            Some(Ok(Some(a))) => Ok(Some(a)),
                            Some(Err(e)) => Err(e),
                            Some(Ok(None)) | None => reg.check(s, &measure, as_of, None),
                        };
                        let e = match answer {
                            Ok(Some(a)) => {
                                metrics.metrics().answer(&a.measure, a.decision);
                                return BatchAnswer::Answer(a);
                            }
                            Ok(None) => ApiError::not_found(format!(
                                "the registry holds no subject `{}`",
                                s.trim()
                            )),
                            Err(e) => ApiError::from(e),
                        };
                        BatchAnswer::Error { subject: s.clone(), error: e.detail() }
                    })
                    .collect::<Vec<_>>();
                Ok(answers)
            })
            .await?;
        results.extend(answers);
    }
    Ok(Json(BatchAnswers { results }))
}

/// How many subjects of a batch check cost as much as one request.
pub const BATCH_SUBJECTS_PER_REQUEST: usize = 20;
/// How many subjects of a batch check are answered with one reader before it is given back.
const BATCH_SLICE: usize = 250;

// ---------------------------------------------------------------------------------------------
// Search, lists, rulebook, changes
// ---------------------------------------------------------------------------------------------

/// A search.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// A code, or a name or part of one in its original script.
    pub q: String,
    /// The cursor from the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    pub limit: Option<usize>,
}

/// A page of search results.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchPage {
    /// Hits: the exact code or name first, then names starting with the query, then the rest.
    pub results: Vec<SearchHit>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// Finds subjects by code or name.
#[utoipa::path(get, path = "/v1/search", tag = "public", params(SearchQuery),
    responses((status = 200, body = SearchPage), (status = 400, body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    Query(q): Query<SearchQuery>,
) -> ApiResult<SearchPage> {
    let limit = page_size(q.limit)?;
    let offset = match q.cursor.as_deref() {
        None | Some("") => 0,
        Some(c) => c.strip_prefix("o").and_then(|n| n.parse::<usize>().ok()).ok_or_else(|| {
            ApiError::bad_request(format!("cursor `{c}` is not one this server gave"))
        })?,
    };
    state
        .read(move |reg| {
            let found = reg.search(&q.q, offset, limit)?;
            let results = found.hits;
            let next_cursor = found.more.then(|| format!("o{}", offset + limit));
            Ok(Json(SearchPage { results, next_cursor }))
        })
        .await
}

/// A page of a list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// The last subject code of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    pub limit: Option<usize>,
    /// `json` (default), `csv` or `jsonl`.
    pub format: Option<String>,
}

/// One entry of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListItem {
    /// Subject code.
    pub subject: String,
    /// Since.
    pub since: Option<String>,
    /// Until (exclusive).
    pub until: Option<String>,
}

/// A page of list entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListPage {
    /// The list.
    pub list: String,
    /// Its name.
    pub name: String,
    /// Its type.
    pub list_type: String,
    /// Entries in subject-code order.
    pub entries: Vec<ListItem>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// The current entries of a list, paginated; CSV and JSON Lines exports.
#[utoipa::path(get, path = "/v1/lists/{id}", tag = "public",
    params(("id" = String, Path, description = "list id from the rulebook"), ListQuery),
    responses((status = 200, body = ListPage), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let limit = page_size(q.limit)?;
    let format = q.format.clone().unwrap_or_else(|| "json".into());
    if !["json", "csv", "jsonl"].contains(&format.as_str()) {
        return Err(ApiError::bad_request(format!("format `{format}` is not json, csv or jsonl")));
    }
    let page = state
        .read(move |reg| {
            let rule = reg.rulebook().list(&id).ok_or_else(|| {
                ApiError::not_found(format!("the rulebook in force has no list `{id}`"))
            })?;
            let after = q
                .cursor
                .as_deref()
                .filter(|c| !c.is_empty())
                .map(|c| SubjectId::parse_excepted(c, |_| true))
                .transpose()
                .map_err(|e| ApiError::bad_request(format!("cursor: {e}")))?;
            let rows = reg.list_entries(probity_store::ListQuery {
                list: &id,
                on: reg.today(),
                after: after.as_ref(),
                limit: limit + 1,
            })?;
            let more = rows.len() > limit;
            let entries: Vec<ListItem> = rows
                .into_iter()
                .take(limit)
                .map(|(s, e)| ListItem {
                    subject: s.to_string(),
                    since: e.since.map(|d| d.to_string()),
                    until: e.until.map(|d| d.to_string()),
                })
                .collect();
            let next_cursor = if more { entries.last().map(|e| e.subject.clone()) } else { None };
            Ok(ListPage {
                list: id.clone(),
                name: rule.name.clone(),
                list_type: format!("{:?}", rule.list_type).to_lowercase(),
                entries,
                next_cursor,
            })
        })
        .await?;
    Ok(match format.as_str() {
        "csv" => {
            let mut out = String::from("subject,since,until\n");
            for e in &page.entries {
                out.push_str(&format!(
                    "{},{},{}\n",
                    e.subject,
                    e.since.as_deref().unwrap_or(""),
                    e.until.as_deref().unwrap_or("")
                ));
            }
            with_cursor(
                ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response(),
                &page.next_cursor,
            )
        }
        "jsonl" => {
            let mut out = String::new();
            for e in &page.entries {
                out.push_str(&serde_json::to_string(e).map_err(ApiError::internal)?);
                out.push('\n');
            }
            with_cursor(
                ([(header::CONTENT_TYPE, "application/x-ndjson")], out).into_response(),
                &page.next_cursor,
            )
        }
        _ => Json(page).into_response(),
    })
}

fn with_cursor(mut r: Response, cursor: &Option<String>) -> Response {
    if let Some(c) = cursor.as_deref().and_then(|c| HeaderValue::from_str(c).ok()) {
        r.headers_mut().insert("x-next-cursor", c);
    }
    r
}

/// One adopted rulebook.
#[derive(Debug, Serialize, ToSchema)]
pub struct RulebookVersion {
    /// Id.
    pub id: String,
    /// Version.
    pub version: String,
    /// Publisher.
    pub publisher: String,
    /// Effective from.
    pub effective: String,
}

/// The rulebook in force and its history.
#[derive(Debug, Serialize, ToSchema)]
pub struct RulebookInfo {
    /// In force today.
    pub current: RulebookVersion,
    /// Every version adopted, in adoption order.
    pub versions: Vec<RulebookVersion>,
}

fn version_of(b: &probity_rules::Rulebook) -> RulebookVersion {
    RulebookVersion {
        id: b.header.id.to_string(),
        version: b.header.version.clone(),
        publisher: b.header.publisher.clone(),
        effective: b.header.effective.to_string(),
    }
}

/// The rulebook in force and every version adopted.
#[utoipa::path(get, path = "/v1/rulebook", tag = "public", responses((status = 200, body = RulebookInfo)))]
pub async fn rulebook(State(state): State<AppState>) -> ApiResult<RulebookInfo> {
    state
        .read(|reg| {
            Ok(Json(RulebookInfo {
                current: version_of(reg.rulebook()),
                versions: reg.rulebooks().map(version_of).collect(),
            }))
        })
        .await
}

/// Which rulebook text.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    /// Version (default: the one in force).
    pub version: Option<String>,
}

/// The full text of a rulebook version, exactly as adopted (TOML).
#[utoipa::path(get, path = "/v1/rulebook/text", tag = "public", params(VersionQuery),
    responses((status = 200, body = String, content_type = "application/toml"), (status = 404, body = ErrorBody)))]
pub async fn rulebook_text(
    State(state): State<AppState>,
    Query(q): Query<VersionQuery>,
) -> Result<Response, ApiError> {
    let text = state
        .read(move |reg| {
            let want = q.version.unwrap_or_else(|| reg.rulebook().header.version.clone());
            reg.rulebook_text(&want)?.ok_or_else(|| {
                ApiError::not_found(format!("no rulebook version `{want}` was adopted"))
            })
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/toml; charset=utf-8")], text).into_response())
}

/// A page of the change feed.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    /// Return entries after this log index (exclusive); omit to start at the beginning.
    pub after: Option<u64>,
    /// Page size, 1 to 1000 (default 50).
    pub limit: Option<usize>,
}

/// One change.
#[derive(Debug, Serialize, ToSchema)]
pub struct Change {
    /// Log index: the cursor.
    pub index: u64,
    /// The event type, or `withheld` for an entry whose body a later `record_redacted` event
    /// withdrew from publication (its leaf stays in the log).
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the registry recorded it.
    pub recorded_at: String,
    /// The subject it concerns, if any.
    pub subject: Option<String>,
    /// The event as journalled; null if withheld.
    pub event: Option<EventBody>,
    /// The event is published without its free text (`[withheld: personal data]` in its
    /// place): its leaf commits to the body it had, which is not published.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub text_withheld: bool,
}

/// A journal entry as the change feed writes it (and the NATS event feed publishes it).
pub(crate) fn change_of(c: probity_registry::ChangeEntry) -> Change {
    Change {
        index: c.index,
        event_type: c.event.as_ref().map_or("withheld", |e| e.type_name()).to_owned(),
        recorded_at: c.recorded_at.map(|t| t.to_string()).unwrap_or_default(),
        subject: c.subject.map(|s| s.to_string()),
        event: c.event.map(|e| e.body),
        text_withheld: c.text_withheld,
    }
}

/// A page of changes.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangesPage {
    /// Changes in log order.
    pub changes: Vec<Change>,
    /// Pass as `after` for the next page (the last index here, or `after` if none).
    pub next_after: Option<u64>,
    /// The log size now.
    pub log_size: u64,
}

/// Every journal event after a log index, in order: re-screen after each without missing one.
#[utoipa::path(get, path = "/v1/changes", tag = "public", params(ChangesQuery),
    responses((status = 200, body = ChangesPage), (status = 400, body = ErrorBody)))]
pub async fn changes(
    State(state): State<AppState>,
    Query(q): Query<ChangesQuery>,
) -> ApiResult<ChangesPage> {
    let limit = page_size(q.limit)?;
    state
        .read(move |reg| {
            let from = q.after.map_or(0, |a| a.saturating_add(1));
            let mut changes = Vec::new();
            for c in reg.changes(from, limit)? {
                changes.push(change_of(c));
            }
            let next_after = changes.last().map(|c| c.index).or(q.after);
            Ok(Json(ChangesPage { changes, next_after, log_size: reg.log_size()? }))
        })
        .await
}

// ---------------------------------------------------------------------------------------------
// Log
// ---------------------------------------------------------------------------------------------

/// The checkpoint readers should take (a C2SP signed note): when the log has witnesses, the
/// newest one whose cosignatures meet its policy (503 until one has), else the newest signed.
#[utoipa::path(get, path = "/v1/log/checkpoint", tag = "log", params(("if-none-match" = Option<String>, Header, description = "the ETag of a checkpoint seen before")),
    responses((status = 200, body = String, content_type = "text/plain"),
        (status = 304, description = "Not modified since the checkpoint with that tag"),
        (status = 503, body = ErrorBody, description = "No checkpoint has met the witness policy yet")))]
pub async fn checkpoint(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let note = state.read(|reg| Ok(reg.served_checkpoint()?.0)).await?;
    Ok(note_response(&note, &headers))
}

/// The newest signed checkpoint, whether or not witnesses have cosigned it yet.
#[utoipa::path(get, path = "/v1/log/checkpoint/latest", tag = "log", params(("if-none-match" = Option<String>, Header, description = "the ETag of a checkpoint seen before")),
    responses((status = 200, body = String, content_type = "text/plain"),
        (status = 304, description = "Not modified since the checkpoint with that tag")))]
pub async fn latest_checkpoint(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let note = state.read(|reg| Ok(reg.published_checkpoint()?.0)).await?;
    Ok(note_response(&note, &headers))
}

/// A checkpoint note, tagged, for caches that must ask again each time.
fn note_response(note: &str, headers: &axum::http::HeaderMap) -> Response {
    // A checkpoint changes with every write: caches must ask again each time, and the tag lets
    // them do so without the body when it has not changed.
    let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(note.as_bytes()).into();
    let tag =
        format!("\"{}\"", digest.iter().take(16).map(|b| format!("{b:02x}")).collect::<String>());
    let cache = [(header::CACHE_CONTROL, "no-cache".to_owned()), (header::ETAG, tag.clone())];
    let seen = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    if seen {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    let content = [(header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned())];
    (cache, content, note.to_owned()).into_response()
}

/// A C2SP tlog-tiles tile of the log at the published checkpoint: `tile/<L>/<N>[.p/<W>]` (hashes)
/// or `tile/entries/<N>[.p/<W>]` (leaf data), below the prefix `/v1/log`. Full tiles never
/// change and may be cached for ever.
#[utoipa::path(get, path = "/v1/log/tile/{path}", tag = "log",
    params(("path" = String, Path, description = "the tile's path below `tile/`, e.g. `0/x001/234.p/7`")),
    responses((status = 200, body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 404, body = ErrorBody)))]
pub async fn tile(
    State(state): State<AppState>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let Some((level, index, width)) = probity_tlog::tiles::parse_tile_path(&format!("tile/{path}"))
    else {
        return Err(ApiError::not_found(format!("`tile/{path}` is not a tile path")));
    };
    let bytes = state
        .read(move |reg| {
            let (_, cp) = reg.published_checkpoint()?;
            Ok(reg.tile(level, index, width, cp.size)?)
        })
        .await?;
    let cache = if width == probity_tlog::tiles::TILE_WIDTH {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream"), (header::CACHE_CONTROL, cache)],
        bytes,
    )
        .into_response())
}

/// Which inclusion proof.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ProofQuery {
    /// Log index.
    pub index: u64,
    /// Tree size (default: the current size).
    pub size: Option<u64>,
}

/// The inclusion proof of a log entry.
#[utoipa::path(get, path = "/v1/log/proof", tag = "log", params(ProofQuery),
    responses((status = 200, body = InclusionProof), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn proof(
    State(state): State<AppState>,
    Query(q): Query<ProofQuery>,
) -> ApiResult<InclusionProof> {
    state
        .read(move |reg| {
            let size = q.size.unwrap_or(reg.log_size()?);
            if q.index >= size || size > reg.log_size()? {
                return Err(ApiError::invalid(format!(
                    "index {} is not in a log of size {size} (the log has {})",
                    q.index,
                    reg.log_size()?
                )));
            }
            Ok(Json(reg.inclusion_proof(q.index, Some(size))?))
        })
        .await
}
