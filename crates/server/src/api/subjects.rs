//! Subjects, their assessments and timelines, and the check question, one at a time and in batches.

use super::*;

/// A record as shown on a profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordView {
    /// Issuing authority.
    pub authority: String,
    /// The authority's decision number.
    pub decision_no: String,
    /// Record kind.
    pub kind: String,
    /// Date decided.
    pub decided: String,
    /// Date effective.
    pub effective: String,
    /// Legal basis cited.
    pub basis: String,
    /// Summary.
    pub summary: String,
    /// Amount in minor units with currency, if any.
    #[schema(value_type = Option<Object>)]
    pub amount: Option<Value>,
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
    /// Code.
    pub id: String,
    /// Name.
    pub name: String,
    /// Former names.
    pub former_names: Vec<String>,
    /// Kind of entity.
    pub kind: String,
    /// Region code.
    pub region: Option<String>,
    /// Registration status.
    pub status: String,
    /// Date established.
    pub established: Option<String>,
    /// Records shown today (withdrawn, repaired and expired ones are not).
    pub records: Vec<RecordView>,
    /// The assessment today, with its explanation.
    #[schema(value_type = Object)]
    pub assessment: Value,
    /// The log size this answer reflects.
    pub log_size: u64,
    /// With `proof=true`: inclusion proofs of the log entries behind this profile against the
    /// published checkpoint.
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<Value>,
}

/// Whether to attach log proofs.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ProofFlag {
    /// Attach inclusion proofs of the log entries behind the answer.
    pub proof: Option<bool>,
}

pub(super) fn subject_id(
    reg: &probity_registry::Registry,
    id: &str,
) -> Result<SubjectId, ApiError> {
    Ok(reg.parse_id(id)?)
}

pub(super) fn no_subject(id: &SubjectId) -> ApiError {
    ApiError::not_found(format!("the registry holds no subject `{id}`"))
}

pub(super) fn reply_of(view: &CaseView) -> Option<String> {
    view.case.reply.as_ref().map(|(t, _)| t.clone())
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
                    authority: r.record.authority.to_string(),
                    decision_no: r.record.decision_no.clone(),
                    kind: r.record.kind.to_string(),
                    decided: r.record.decided.to_string(),
                    effective: r.record.effective.to_string(),
                    basis: r.record.basis.clone(),
                    summary: r.record.summary.clone(),
                    amount: r.record.amount.as_ref().map(to_value).transpose()?,
                    status: r.status.as_str().to_owned(),
                    disputed: r.disputed,
                    reply: view.as_ref().and_then(reply_of),
                    filed_index: r.filed_index,
                });
            }
            let s = &p.subject.subject;
            Ok(Json(SubjectView {
                id: s.id.to_string(),
                name: s.name.clone(),
                former_names: s.former_names.clone(),
                kind: s.kind.as_str().to_owned(),
                region: s.region.map(|r| r.to_string()),
                status: s.status.as_str().to_owned(),
                established: s.established.map(|d| d.to_string()),
                records,
                assessment: to_value(&a)?,
                log_size: reg.log_size()?,
                proof: if flag.proof == Some(true) {
                    Some(to_value(&reg.profile_proofs(&p)?)?)
                } else {
                    None
                },
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

/// The assessment of a subject on a date, with every effect, list and measure explained.
#[utoipa::path(get, path = "/v1/subjects/{id}/assessment", tag = "public",
    params(("id" = String, Path, description = "USCC or LEI"), AsOf),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn assessment(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<AsOf>,
) -> ApiResult<Value> {
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
            let a = reg.assess_known_at(&p, as_of, size);
            let mut v = to_value(&a)?;
            if let Some(o) = v.as_object_mut() {
                o.insert("subject".into(), Value::String(id.to_string()));
                o.insert("log_size".into(), Value::from(size));
            }
            Ok(Json(v))
        })
        .await
}

/// One entry of a subject's timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntry {
    /// The record's authority.
    pub authority: String,
    /// Its decision number.
    pub decision_no: String,
    /// Its kind.
    pub kind: String,
    /// Log index (absent for computed entries such as `expired`).
    pub index: Option<u64>,
    /// When: an instant for journalled steps, a date for computed ones.
    pub at: String,
    /// `filed`, `corrected`, `withdrawn`, a due-process step, `deadline`, `repaired` or
    /// `expired`.
    pub what: String,
    /// Grounds, reason, reply or the deadline's name.
    pub text: Option<String>,
    /// Outcome of an answer or decision; for deadlines `met`, `late`, `overdue` or `pending`.
    pub outcome: Option<String>,
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
            let entries = reg
                .timeline(&p, reg.today())?
                .into_iter()
                .map(|e| TimelineEntry {
                    authority: e.record.authority.to_string(),
                    decision_no: e.record.decision_no,
                    kind: e.kind,
                    index: e.index,
                    at: e.when.to_string(),
                    what: e.what,
                    text: e.text,
                    outcome: e.outcome,
                })
                .collect();
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

/// May this company take part in this measure, and why?
#[utoipa::path(get, path = "/v1/check", tag = "public", params(CheckQuery),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
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
    let keeper = state.clone();
    state
        .read(move |reg| {
            let answer = reg.check(&q.subject, &q.measure, as_of, known_at)?.ok_or_else(|| {
                ApiError::not_found(format!("the registry holds no subject `{}`", q.subject.trim()))
            })?;
            let mut v = to_value(&answer)?;
            if q.proof == Some(true)
                && let Some(o) = v.as_object_mut()
            {
                o.insert("proof".into(), to_value(&reg.check_proofs(&q.subject, known_at)?)?);
            }
            let body = bytes::Bytes::from(serde_json::to_vec(&v).map_err(ApiError::internal)?);
            if let Some(k) = key {
                keeper.keep_answer(k, answer.log_size, body.clone());
            }
            Ok(json_body(body))
        })
        .await
}

/// A response with a JSON body already serialised.
pub(super) fn json_body(body: bytes::Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A batch check.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchCheck {
    /// Measure id.
    pub measure: String,
    /// Subject codes, at most 10,000.
    pub subjects: Vec<String>,
    /// The date the answers are about (default today).
    pub as_of: Option<String>,
}

/// Answers of a batch check, one per subject in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchAnswers {
    /// Each an answer, or `{"subject", "error": {code, message}}`.
    #[schema(value_type = Vec<Object>)]
    pub results: Vec<Value>,
}

/// The check question for many subjects at once.
#[utoipa::path(post, path = "/v1/check", tag = "public", request_body = BatchCheck,
    responses((status = 200, body = BatchAnswers), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn check_batch(
    State(state): State<AppState>,
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
    state
        .read(move |reg| {
            let as_of = as_of.unwrap_or_else(|| reg.today());
            if reg.rulebook().measure(&b.measure).is_none() {
                return Err(ApiError::not_found(format!("measure `{}` is not in the rulebook in force", b.measure)));
            }
            let mut results = Vec::with_capacity(b.subjects.len());
            for s in &b.subjects {
                let v = match reg.check(s, &b.measure, as_of, None) {
                    Ok(Some(a)) => to_value(&a)?,
                    Ok(None) => serde_json::json!({"subject": s, "error": {"code": "not_found", "message": format!("the registry holds no subject `{}`", s.trim())}}),
                    Err(e) => {
                        let e = ApiError::from(e);
                        serde_json::json!({"subject": s, "error": {"code": e.code, "message": e.message}})
                    }
                };
                results.push(v);
            }
            Ok(Json(BatchAnswers { results }))
        })
        .await
}
