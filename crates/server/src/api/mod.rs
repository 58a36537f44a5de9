//! The `/v1` endpoints. Handlers parse, authorise by role, and call one registry use case on a
//! blocking thread; every rule of the domain lives in the registry. One module per part of the
//! API; this one holds what they share.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use probity_core::{Date, ObjectionOutcome, RecordKey, Slug, Step, SubjectId};
use probity_registry::{Actor, CaseView, FilingResult, MAX_FILING_BATCH, ObjectionDecision};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, Json, Path, Query};
use crate::state::{AnswerKey, AppState};

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
    Ok(RecordKey { authority, decision_no: decision_no.to_owned() })
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

fn to_value<T: Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(ApiError::internal)
}

mod health;
mod lists;
mod log;
mod operator;
mod records;
mod subjects;

pub use health::*;
pub use lists::*;
pub use log::*;
pub use operator::*;
pub use records::*;
pub use subjects::*;
