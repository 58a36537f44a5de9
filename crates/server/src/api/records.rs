//! Records and due process: filing, correcting and withdrawing, objections, replies and
//! repair, and the deadlines they keep.

#[allow(clippy::wildcard_imports)]
use super::*;

/// A record's case: the record, its history and its deadlines.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseOut {
    /// The record as it stands (as corrected, if it was).
    #[serde(flatten)]
    pub record: Record,
    /// `filed`, `corrected` or `withdrawn`.
    pub status: String,
    /// An objection is open.
    pub disputed: bool,
    /// The day a repair ended its effects.
    pub repaired: Option<Date>,
    /// The company's reply.
    pub reply: Option<String>,
    /// The last day the company may object.
    pub objection_until: Date,
    /// The first day the company may apply for repair, if the kind can be repaired.
    pub repair_opens: Option<Date>,
    /// Every event about the record.
    pub history: Vec<HistoryEntry>,
    /// Deadlines of the case.
    pub deadlines: Vec<Deadline>,
    /// With `proof=true`: inclusion proofs of every history entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<ProfileProofs>,
}

fn case_out(v: &CaseView) -> CaseOut {
    CaseOut {
        record: v.record.record.clone(),
        status: v.record.status.as_str().to_owned(),
        disputed: v.record.disputed,
        repaired: v.record.repaired,
        reply: reply_of(v),
        objection_until: v.objection_until,
        repair_opens: v.repair_opens,
        history: v.history.clone(),
        deadlines: v.deadlines.clone(),
        proof: None,
    }
}

/// A record, its due-process history and deadlines.
#[utoipa::path(get, path = "/v1/records/{authority}/{decision_no}", tag = "public",
    params(("authority" = String, Path), ("decision_no" = String, Path), ProofFlag),
    responses((status = 200, body = CaseOut), (status = 404, body = ErrorBody)))]
pub async fn record(
    State(state): State<AppState>,
    Path((authority, decision_no)): Path<(String, String)>,
    Query(flag): Query<ProofFlag>,
) -> ApiResult<CaseOut> {
    let key = record_key(&authority, &decision_no)?;
    state
        .read(move |reg| {
            let v = reg.case(&key)?.ok_or_else(|| {
                ApiError::not_found(format!("authority `{authority}` has no record with decision number `{decision_no}`"))
            })?;
            if !reg.shown(&v.record) {
                return Err(ApiError::not_found(format!(
                    "record `{decision_no}` of `{authority}` is no longer shown (withdrawn, repaired or expired)"
                )));
            }
            let mut out = case_out(&v);
            if flag.proof == Some(true) {
                let indices = v.history.iter().map(|h| h.index).collect();
                out.proof = Some(reg.entry_proofs(indices)?);
            }
            Ok(Json(out))
        })
        .await
}

/// The result of filing one record.
#[derive(Debug, Serialize, ToSchema)]
pub struct FilingOut {
    /// Position in the request.
    pub row: usize,
    /// `filed`, `duplicate` or `rejected`.
    pub status: String,
    /// Log index when filed now.
    pub index: Option<u64>,
    /// Why it was rejected.
    pub reason: Option<String>,
}

impl From<FilingResult> for FilingOut {
    fn from(r: FilingResult) -> Self {
        Self { row: r.row, status: r.status.to_owned(), index: r.index, reason: r.reason }
    }
}

/// Results of a batch filing, one per record in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct FilingResults {
    /// Results.
    pub results: Vec<FilingOut>,
}

async fn file(state: &AppState, by: Slug, rows: Vec<Value>) -> Result<Vec<FilingOut>, ApiError> {
    if rows.len() > MAX_FILING_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!(
                "a filing holds at most {MAX_FILING_BATCH} records; this one has {}",
                rows.len()
            ),
        ));
    }
    let texts: Vec<String> = rows.iter().map(Value::to_string).collect();
    state
        .write(move |reg| {
            Ok(reg.file_records(&by, &texts)?.into_iter().map(FilingOut::from).collect())
        })
        .await
        .inspect(|results: &Vec<FilingOut>| {
            for r in results {
                state.metrics().filing(&r.status);
            }
        })
}

/// Files one record as the calling authority. Idempotent by decision number.
#[utoipa::path(post, path = "/v1/records", tag = "authority", request_body = RecordIn,
    security(("key" = [])),
    responses((status = 201, body = FilingOut, description = "Filed"), (status = 200, body = FilingOut, description = "Filed before with the same content"),
        (status = 422, body = ErrorBody, description = "Rejected, with the reason")))]
pub async fn file_one(
    State(state): State<AppState>,
    caller: Caller,
    Json(row): Json<Value>,
) -> Result<Response, ApiError> {
    let by = must_be_authority(&caller)?;
    let mut out = file(&state, by, vec![row]).await?;
    let one = out.pop().ok_or_else(|| ApiError::internal("no filing result"))?;
    match one.status.as_str() {
        "filed" => Ok((StatusCode::CREATED, Json(one)).into_response()),
        "duplicate" => Ok(Json(one).into_response()),
        _ => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "rejected",
            one.reason.unwrap_or_else(|| "the record was rejected".into()),
        )),
    }
}

/// Files up to 10,000 records as the calling authority, one result per record.
#[utoipa::path(post, path = "/v1/records/batch", tag = "authority", request_body = FilingBatch,
    security(("key" = [])),
    responses((status = 200, body = FilingResults), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn file_batch(
    State(state): State<AppState>,
    caller: Caller,
    Json(b): Json<FilingBatch>,
) -> ApiResult<FilingResults> {
    let by = must_be_authority(&caller)?;
    Ok(Json(FilingResults { results: file(&state, by, b.records).await? }))
}

/// The log index of a step taken.
#[derive(Debug, Serialize, ToSchema)]
pub struct Taken {
    /// Log index of the event; absent when the request repeated one already in the log (a
    /// second withdrawal, a correction that changes nothing), so nothing was journalled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// The record's case after the step.
    pub case: CaseOut,
}

async fn after_step(state: &AppState, key: RecordKey, index: Option<u64>) -> ApiResult<Taken> {
    state
        .read_primary(move |reg| {
            let v = reg.case(&key)?.ok_or_else(|| ApiError::internal("record vanished"))?;
            Ok(Json(Taken { index, case: case_out(&v) }))
        })
        .await
}

/// Withdraws a record (the issuing authority only).
#[utoipa::path(post, path = "/v1/records/{authority}/{decision_no}/withdraw", tag = "authority",
    params(("authority" = String, Path), ("decision_no" = String, Path)), request_body = ReasonIn,
    security(("key" = [])),
    responses((status = 200, body = Taken), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn withdraw(
    State(state): State<AppState>,
    caller: Caller,
    Path((authority, decision_no)): Path<(String, String)>,
    Json(body): Json<ReasonIn>,
) -> ApiResult<Taken> {
    let by = must_be_authority(&caller)?;
    let key = record_key(&authority, &decision_no)?;
    let k = key.clone();
    let index = state.write(move |reg| Ok(reg.withdraw_record(&by, k, &body.reason)?)).await?;
    after_step(&state, key, index).await
}

/// Corrects a record (the issuing authority only).
#[utoipa::path(post, path = "/v1/records/{authority}/{decision_no}/correct", tag = "authority",
    params(("authority" = String, Path), ("decision_no" = String, Path)), request_body = CorrectionIn,
    security(("key" = [])),
    responses((status = 200, body = Taken), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn correct(
    State(state): State<AppState>,
    caller: Caller,
    Path((authority, decision_no)): Path<(String, String)>,
    Json(body): Json<CorrectionIn>,
) -> ApiResult<Taken> {
    let by = must_be_authority(&caller)?;
    let key = record_key(&authority, &decision_no)?;
    let k = key.clone();
    let index = state
        .write(move |reg| {
            let record = reg.parse_record(&body.record.to_string())?;
            if record.key() != k {
                return Err(ApiError::invalid(
                    "a correction keeps the record's authority and decision number",
                ));
            }
            Ok(reg.correct_record(&by, record, &body.reason)?)
        })
        .await?;
    after_step(&state, key, index).await
}

async fn step(
    state: &AppState,
    caller: Caller,
    authority: String,
    decision_no: String,
    step: Step,
) -> ApiResult<Taken> {
    let key = record_key(&authority, &decision_no)?;
    let k = key.clone();
    let index = state.write(move |reg| Ok(reg.take_step(&caller.0, &k, step)?)).await?;
    after_step(state, key, Some(index)).await
}

macro_rules! step_endpoint {
    ($name:ident, $path:literal, $tag:literal, $body:ty, $doc:literal, |$b:ident| $make:expr) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = $tag,
            params(("authority" = String, Path), ("decision_no" = String, Path)), request_body = $body,
            security(("key" = [])),
            responses((status = 200, body = Taken), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
                (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
        pub async fn $name(
            State(state): State<AppState>,
            caller: Caller,
            Path((authority, decision_no)): Path<(String, String)>,
            Json($b): Json<$body>,
        ) -> ApiResult<Taken> {
            step(&state, caller, authority, decision_no, $make).await
        }
    };
}

step_endpoint!(
    object,
    "/v1/records/{authority}/{decision_no}/objection",
    "company",
    ObjectionIn,
    "The company objects to its record within the rulebook's window; the record shows as disputed.",
    |b| Step::ObjectionFiled { grounds: b.grounds }
);
step_endpoint!(
    reply,
    "/v1/records/{authority}/{decision_no}/reply",
    "company",
    ReplyIn,
    "The company publishes its reply next to its record.",
    |b| Step::ReplyPublished { text: b.text }
);
step_endpoint!(
    apply_repair,
    "/v1/records/{authority}/{decision_no}/repair",
    "company",
    RepairIn,
    "The company applies for repair of its record, from the date the rulebook allows.",
    |b| Step::RepairApplied { statement: b.statement }
);
step_endpoint!(
    answer_objection,
    "/v1/records/{authority}/{decision_no}/objection/answer",
    "authority",
    AnswerIn,
    "The issuing authority admits or refuses an objection.",
    |b| Step::ObjectionAnswered { admitted: b.admitted, reason: b.reason }
);
step_endpoint!(
    decide_repair,
    "/v1/records/{authority}/{decision_no}/repair/decision",
    "authority",
    RepairDecisionIn,
    "The issuing authority grants or refuses a repair application; a granted repair ends the record's effects today.",
    |b| Step::RepairDecided { granted: b.granted, reason: b.reason }
);

/// The issuing authority decides an admitted objection: upheld, corrected or withdrawn.
#[utoipa::path(post, path = "/v1/records/{authority}/{decision_no}/objection/decision", tag = "authority",
    params(("authority" = String, Path), ("decision_no" = String, Path)), request_body = DecisionIn,
    security(("key" = [])),
    responses((status = 200, body = Taken), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn decide_objection(
    State(state): State<AppState>,
    caller: Caller,
    Path((authority, decision_no)): Path<(String, String)>,
    Json(b): Json<DecisionIn>,
) -> ApiResult<Taken> {
    let outcome = match b.outcome.as_str() {
        "upheld" => ObjectionOutcome::Upheld,
        "corrected" => ObjectionOutcome::Corrected,
        "withdrawn" => ObjectionOutcome::Withdrawn,
        other => {
            return Err(ApiError::invalid(format!(
                "outcome `{other}` is not upheld, corrected or withdrawn"
            )));
        }
    };
    let key = record_key(&authority, &decision_no)?;
    let k = key.clone();
    let index = state
        .write(move |reg| {
            let corrected = b.record.map(|r| reg.parse_record(&r.to_string())).transpose()?;
            let decision = ObjectionDecision { outcome, reason: b.reason, corrected };
            Ok(reg.decide_objection(&caller.0, &k, decision)?)
        })
        .await?;
    after_step(&state, key, Some(index)).await
}

/// Deadline compliance per authority.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadlineStats {
    /// The day counted on.
    pub today: String,
    /// Per authority, in id order.
    pub authorities: Vec<AuthorityDeadlines>,
}

/// Due-process deadlines per authority: met, late, overdue and pending, with the overdue items.
#[utoipa::path(get, path = "/v1/stats/deadlines", tag = "public", responses((status = 200, body = DeadlineStats)))]
pub async fn deadline_stats(State(state): State<AppState>) -> ApiResult<DeadlineStats> {
    state
        .read(|reg| {
            let today = reg.today();
            let authorities = reg.deadline_compliance(today)?;
            Ok(Json(DeadlineStats { today: today.to_string(), authorities }))
        })
        .await
}
