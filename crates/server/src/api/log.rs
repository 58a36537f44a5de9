//! The transparency log: the checkpoint, tiles and proofs.

use super::*;

/// The latest signed checkpoint (a C2SP signed note).
#[utoipa::path(get, path = "/v1/log/checkpoint", tag = "log",
    responses((status = 200, body = String, content_type = "text/plain")))]
pub async fn checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    let note = state.read(|reg| Ok(reg.published_checkpoint()?.0)).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
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
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn proof(State(state): State<AppState>, Query(q): Query<ProofQuery>) -> ApiResult<Value> {
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
            Ok(Json(to_value(&reg.inclusion_proof(q.index, Some(size))?)?))
        })
        .await
}
