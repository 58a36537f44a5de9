//! The `/v1` endpoints. Handlers parse, authorise by role, and call one registry use case on a
//! blocking thread; every rule of the domain lives in the registry.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use probity_core::{
    Date, EventBody, ObjectionOutcome, Record, RecordKey, Slug, Step, Subject, SubjectId,
};
use probity_registry::{
    Actor, AuthorityDeadlines, CaseView, CheckAnswer, FilingResult, HistoryEntry, InclusionProof,
    MAX_FILING_BATCH, ObjectionDecision, ProfileProofs, RecordIn, SearchHit, TimelineEntry,
};
use probity_rules::{Assessment, Deadline};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use probity_api::{
    AnswerIn, AuthorityIn, BatchCheck, BeaconIn, CorrectionIn, DecisionIn, ExceptionIn,
    FilingBatch, KeyIn, ObjectionIn, ReasonIn, RepairDecisionIn, RepairIn, ReplyIn, RulebookIn,
    SubjectsIn, WatchlistIn, WebhookIn,
};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, ErrorDetail, Json, Path, Query};
use crate::state::{AnswerKey, AppState};

mod inspections;
mod operator;
mod public;
mod records;
mod watchlists;
mod witness;

pub use inspections::*;
pub use operator::*;
pub use public::*;
pub use records::*;
pub use watchlists::*;
pub use witness::*;

/// The most subjects one batch check takes.
pub const MAX_CHECK_BATCH: usize = 10_000;
/// The largest page.
pub const MAX_PAGE: usize = 1000;
/// The page size when none is asked for.
pub const DEFAULT_PAGE: usize = 50;

type ApiResult<T> = Result<Json<T>, ApiError>;

fn page_size(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(format!("limit {n} is outside 1..={MAX_PAGE}"))),
    }
}

fn parse_date(field: &str, value: &str) -> Result<Date, ApiError> {
    let d: Date = value.parse().map_err(|_| {
        ApiError::bad_request(format!("{field}: `{value}` is not a date YYYY-MM-DD"))
    })?;
    let (min, max) = (Date::constant(1949, 10, 1), Date::constant(2199, 12, 31));
    if d < min || d > max {
        return Err(ApiError::bad_request(format!("{field}: {d} is outside {min}..={max}")));
    }
    Ok(d)
}

fn opt_date(field: &str, value: Option<&String>) -> Result<Option<Date>, ApiError> {
    value.map(|v| parse_date(field, v)).transpose()
}

fn record_key(authority: &str, decision_no: &str) -> Result<RecordKey, ApiError> {
    let authority =
        Slug::parse("authority", authority).map_err(|e| ApiError::bad_request(e.to_string()))?;
    // The same normal form as a filing's, so a look-alike finds the record it looks like.
    let decision_no =
        probity_core::check_key("decision_no", decision_no, probity_core::limits::DECISION_NO)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(RecordKey { authority, decision_no })
}

fn must_be_operator(caller: &Caller) -> Result<(), ApiError> {
    match caller.0 {
        Actor::Operator => Ok(()),
        _ => Err(ApiError::forbidden("only the registry's operator may do this")),
    }
}

fn must_be_authority(caller: &Caller) -> Result<Slug, ApiError> {
    match &caller.0 {
        Actor::Authority(a) => Ok(a.clone()),
        _ => Err(ApiError::forbidden("only an authority may file records")),
    }
}

fn subject_id(reg: &probity_registry::Registry, id: &str) -> Result<SubjectId, ApiError> {
    Ok(reg.parse_id(id)?)
}

fn no_subject(id: &SubjectId) -> ApiError {
    ApiError::not_found(format!("the registry holds no subject `{id}`"))
}

fn reply_of(view: &CaseView) -> Option<String> {
    view.case.reply.as_ref().map(|(t, _)| t.clone())
}
