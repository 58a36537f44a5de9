//! Search, the lists, the rulebook and its texts, and the change feed.

use super::*;

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

/// One search hit.
#[derive(Debug, Serialize, ToSchema)]
pub struct Hit {
    /// Code.
    pub id: String,
    /// Name.
    pub name: String,
    /// Its grade today, as the log gives it.
    pub grade: Option<String>,
}

/// A page of search results.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchPage {
    /// Hits: the exact code or name first, then names starting with the query, then the rest.
    pub results: Vec<Hit>,
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
            let results = found
                .hits
                .into_iter()
                .map(|h| Hit { id: h.id, name: h.name, grade: h.grade })
                .collect();
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

pub(super) fn with_cursor(mut r: Response, cursor: &Option<String>) -> Response {
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

pub(super) fn version_of(b: &probity_rules::Rulebook) -> RulebookVersion {
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
    #[schema(value_type = Option<Object>)]
    pub event: Option<Value>,
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
                changes.push(Change {
                    index: c.index,
                    event_type: c.event.as_ref().map_or("withheld", |e| e.type_name()).to_owned(),
                    recorded_at: c.recorded_at.map(|t| t.to_string()).unwrap_or_default(),
                    subject: c.subject.map(|s| s.to_string()),
                    event: c.event.map(|e| to_value(&e.body)).transpose()?,
                });
            }
            let next_after = changes.last().map(|c| c.index).or(q.after);
            Ok(Json(ChangesPage { changes, next_after, log_size: reg.log_size()? }))
        })
        .await
}
