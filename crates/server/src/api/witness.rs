//! The registry as a witness of other logs: C2SP tlog-witness `add-checkpoint`, below the
//! prefix `/witness`.

use super::*;
use probity_tlog::witness::Refusal;

/// The largest `add-checkpoint` body: a signed checkpoint with its signatures and a proof of
/// 63 hashes fit many times over.
pub const WITNESS_BODY_LIMIT: usize = 64 << 10;

/// Cosign a checkpoint (C2SP tlog-witness). The body is `old <size>`, the consistency proof
/// from that size (a base64 hash per line), a blank line, and the signed checkpoint. Answers
/// the cosignature line (`cosignature/v1`), or a refusal with the status the specification
/// gives: 400 malformed or an old size beyond the new one, 403 no signature by a key this
/// registry trusts for the log, 404 a log it does not witness, 409 an old size other than the
/// one it last cosigned (the body is that size, `text/x.tlog.size`), 422 a proof that fails.
#[utoipa::path(post, path = "/witness/add-checkpoint", tag = "witness",
    request_body(content = String, content_type = "text/plain"),
    responses((status = 200, body = String, content_type = "text/plain", description = "The cosignature line"),
        (status = 400, body = String, content_type = "text/plain", description = "Malformed, or an old size beyond the checkpoint's"),
        (status = 403, body = String, content_type = "text/plain", description = "No signature by a key trusted for the log"),
        (status = 404, body = String, content_type = "text/plain", description = "A log this registry does not witness"),
        (status = 409, body = String, content_type = "text/x.tlog.size", description = "The size last cosigned, which the old size must be"),
        (status = 413, body = ErrorBody, description = "The body is too large"),
        (status = 422, body = String, content_type = "text/plain", description = "The consistency proof fails")))]
pub async fn add_checkpoint(State(state): State<AppState>, body: String) -> Response {
    let logs = state.witnessing();
    if logs.is_empty() {
        return text(StatusCode::NOT_FOUND, "this registry witnesses no log\n".to_owned());
    }
    match state.write(move |reg| Ok(reg.add_checkpoint(&logs, &body)?)).await {
        Ok(Ok(line)) => text(StatusCode::OK, line),
        Ok(Err(Refusal::Conflict { stored, .. })) => (
            StatusCode::CONFLICT,
            [(header::CONTENT_TYPE, "text/x.tlog.size")],
            format!("{stored}\n"),
        )
            .into_response(),
        Ok(Err(refusal)) => {
            let status = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST);
            text(status, format!("{refusal}\n"))
        }
        Err(e) => e.into_response(),
    }
}

fn text(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}
