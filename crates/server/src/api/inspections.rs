//! Inspections: plans an authority files, draws by a public beacon round, and what anyone can
//! read of them (`docs/inspection.md`).

#[allow(clippy::wildcard_imports)]
use super::*;

use probity_core::{InspectionPlan, PlanKey};
use probity_registry::PlanView;

/// A plan with its draw and, on request, inclusion proofs of its entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanOut {
    /// The plan, where it stands, and its draw.
    #[serde(flatten)]
    pub view: PlanView,
    /// The outcomes filed against the draw, in its order.
    pub outcomes: Vec<probity_registry::InspectionOutcome>,
    /// With `proof=true`: inclusion proofs of the plan's entry and its draw's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<ProfileProofs>,
}

/// The plans filed, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlansOut {
    /// The plans.
    pub plans: Vec<PlanView>,
}

/// What filing a plan or drawing it wrote.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanTaken {
    /// Log index of the event; absent when the request repeated what the log holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// The plan as it now stands.
    pub plan: PlanView,
}

fn plan_key(authority: &str, plan_no: &str) -> Result<PlanKey, ApiError> {
    let k = record_key(authority, plan_no)?;
    Ok(PlanKey { authority: k.authority, plan_no: k.decision_no })
}

fn no_plan(key: &PlanKey) -> ApiError {
    ApiError::not_found(format!(
        "authority `{}` has no inspection plan numbered `{}`",
        key.authority, key.plan_no
    ))
}

/// Every inspection plan, with its status and draw.
#[utoipa::path(get, path = "/v1/inspections", tag = "public",
    responses((status = 200, body = PlansOut)))]
pub async fn inspections(State(state): State<AppState>) -> ApiResult<PlansOut> {
    state.read(move |reg| Ok(Json(PlansOut { plans: reg.plans()? }))).await
}

/// One inspection plan: its population per class, the subjects selected and their teams, the
/// deadline for publishing results, and with `proof=true` the inclusion proofs of its entries.
#[utoipa::path(get, path = "/v1/inspections/{authority}/{plan_no}", tag = "public",
    params(("authority" = String, Path), ("plan_no" = String, Path), ProofFlag),
    responses((status = 200, body = PlanOut), (status = 404, body = ErrorBody)))]
pub async fn inspection(
    State(state): State<AppState>,
    Path((authority, plan_no)): Path<(String, String)>,
    Query(flag): Query<ProofFlag>,
) -> ApiResult<PlanOut> {
    let key = plan_key(&authority, &plan_no)?;
    state
        .read(move |reg| {
            let view = reg.plan(&key)?.ok_or_else(|| no_plan(&key))?;
            let proof = match flag.proof {
                Some(true) => {
                    let indices = std::iter::once(view.planned).chain(view.drawn).collect();
                    Some(reg.entry_proofs(indices)?)
                }
                _ => None,
            };
            let outcomes = reg.outcomes(&view)?;
            Ok(Json(PlanOut { view, outcomes, proof }))
        })
        .await
}

/// Files an inspection plan of the calling authority. It must keep to the rulebook in force
/// and name a beacon round not yet published. Idempotent: the same plan again answers 200.
#[utoipa::path(post, path = "/v1/inspections", tag = "authority", request_body = InspectionPlan,
    security(("key" = [])),
    responses((status = 201, body = PlanTaken, description = "Filed"), (status = 200, body = PlanTaken, description = "Filed before"),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn file_plan(
    State(state): State<AppState>,
    caller: Caller,
    Json(plan): Json<InspectionPlan>,
) -> Result<Response, ApiError> {
    let by = must_be_authority(&caller)?;
    if plan.authority != by {
        return Err(ApiError::forbidden(format!(
            "authority `{by}` may file only its own plans, not `{}`'s",
            plan.authority
        )));
    }
    let key = plan.key();
    let (index, plan) = state
        .write(move |reg| {
            let index = reg.file_plan(plan)?;
            let view = reg.plan(&key)?.ok_or_else(|| no_plan(&key))?;
            Ok((index, view))
        })
        .await?;
    let status = if index.is_some() { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(PlanTaken { index, plan })).into_response())
}

/// Draws a plan with its beacon round (the plan's authority only): the round's signature is
/// verified, the population rebuilt from the log up to the plan, and the selection journalled.
#[utoipa::path(post, path = "/v1/inspections/{authority}/{plan_no}/draw", tag = "authority",
    params(("authority" = String, Path), ("plan_no" = String, Path)), request_body = BeaconIn,
    security(("key" = [])),
    responses((status = 200, body = PlanTaken), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn draw_plan(
    State(state): State<AppState>,
    caller: Caller,
    Path((authority, plan_no)): Path<(String, String)>,
    Json(beacon): Json<BeaconIn>,
) -> ApiResult<PlanTaken> {
    let by = must_be_authority(&caller)?;
    let key = plan_key(&authority, &plan_no)?;
    if key.authority != by {
        return Err(ApiError::forbidden(format!(
            "authority `{by}` may draw only its own plans, not `{}`'s",
            key.authority
        )));
    }
    probity_rules::inspection::check_randomness(
        beacon.round,
        &beacon.signature,
        beacon.randomness.as_deref(),
    )
    .map_err(|e| ApiError::invalid(e.to_string()))?;
    state
        .write(move |reg| {
            let (index, _) = reg.draw_plan(&key, beacon.round, &beacon.signature, &())?;
            let view = reg.plan(&key)?.ok_or_else(|| no_plan(&key))?;
            Ok(Json(PlanTaken { index, plan: view }))
        })
        .await
}
