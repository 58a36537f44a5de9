//! The web portal's routes: the pages of `probity-portal`, served from the same process and the
//! same registry readers as the API.
//!
//! Reading pages are public. Companies and authorities sign in with the credential or key they
//! use for the API; the portal then keeps a session (an HttpOnly, SameSite=Strict cookie whose
//! token is known only to this process) and every form carries the session's CSRF token. Actions
//! go through the same registry calls as the API, so the portal can do nothing the API would not
//! let the same party do.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Multipart, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use probity_core::{ObjectionOutcome, RecordKey, Slug, Step, SubjectId};
use probity_portal::{self as portal, Ctx, Flash, Lang};
use probity_registry::{Actor, ObjectionDecision, Registry};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::{AppState, Session, Upload};

const SESSION_COOKIE: &str = "probity_session";
/// The cookie that carries the sign-in page's token.
const SIGN_IN_COOKIE: &str = "probity_sign_in";
const LANG_COOKIE: &str = "probity_lang";
/// Search results per page.
const SEARCH_PAGE: usize = 20;
/// List entries per page.
const LIST_PAGE: usize = 50;
/// The most list entries one filtered page looks through.
const LIST_SCAN: usize = 5_000;

/// The portal's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/search", get(search))
        .route("/subjects/{id}", get(subject))
        .route("/subjects/{id}/verify", get(verify))
        .route("/check", get(check))
        .route("/lists", get(lists))
        .route("/inspections", get(inspections))
        .route("/inspections/{authority}/{plan_no}", get(inspection))
        .route("/lists/{id}", get(list))
        .route("/lists/{id}/export.csv", get(list_csv))
        .route("/rulebook", get(rulebook))
        .route("/stats", get(stats))
        .route("/lang", get(set_lang))
        .route("/static/portal.css", get(stylesheet))
        .route("/static/console.js", get(script))
        .route("/account", get(account))
        .route("/account/sign-in", get(sign_in_form).post(sign_in))
        .route("/account/sign-out", post(sign_out))
        .route("/account/records/{authority}/{decision_no}/{action}", post(act))
        .route("/account/file", post(file))
        .route("/account/upload", post(upload))
        .route("/account/rejects.csv", get(rejects))
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The page context of a request, with the session behind it if any.
pub(crate) struct Page {
    ctx: Ctx,
    token: Option<String>,
    session: Option<Session>,
    ip: Option<std::net::IpAddr>,
}

impl FromRequestParts<AppState> for Page {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let lang = Lang::negotiate(
            cookie(&parts.headers, LANG_COOKIE),
            parts.headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()),
        );
        let token = cookie(&parts.headers, SESSION_COOKIE).map(str::to_owned);
        let mut session = token.as_deref().and_then(|t| state.session(t));
        // The key or credential signed in with is checked on every request: once it is
        // revoked, rotated away or expired, the session ends.
        if let (Some(s), Some(t)) = (&session, &token) {
            let key_id = s.key_id.clone();
            let live = state.read_primary(move |reg| Ok(reg.credential_live(&key_id)?)).await;
            if !matches!(live, Ok(true)) {
                state.end_session(t);
                session = None;
            }
        }
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let ctx = Ctx {
            lang,
            path,
            session: session.as_ref().map(|s| {
                let (role, principal) = probity_registry::principal_of(&s.actor);
                portal::Session { role, principal, csrf: s.csrf.clone() }
            }),
            today: probity_core::date_of(jiff::Timestamp::now()),
        };
        let ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        Ok(Page { ctx, token, session, ip })
    }
}

impl Page {
    /// The page context.
    pub(crate) fn ctx(&self) -> &Ctx {
        &self.ctx
    }
}

pub(crate) fn error_page(ctx: &Ctx, e: &ApiError) -> Response {
    (e.status, Html(portal::error(ctx, e.status.as_u16(), &e.message))).into_response()
}

/// Renders a page on a registry reader, in the registry's today.
async fn render(
    state: &AppState,
    ctx: Ctx,
    f: impl FnOnce(&Registry, &Ctx) -> Result<String, ApiError> + Send + 'static,
) -> Response {
    render_on(state, ctx, false, f).await
}

/// Renders a page on a reader of the primary store (`primary`) or of the read store.
async fn render_on(
    state: &AppState,
    ctx: Ctx,
    primary: bool,
    f: impl FnOnce(&Registry, &Ctx) -> Result<String, ApiError> + Send + 'static,
) -> Response {
    let c = ctx.clone();
    let page = move |reg: &Registry| {
        let mut c = c;
        c.today = reg.today();
        f(reg, &c)
    };
    let out = if primary { state.read_primary(page).await } else { state.read(page).await };
    match out {
        Ok(html) => Html(html).into_response(),
        Err(e) => error_page(&ctx, &e),
    }
}

fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

async fn home(State(state): State<AppState>, page: Page) -> Response {
    render(&state, page.ctx, |reg, ctx| Ok(portal::home(ctx, &reg.counts()?, reg.rulebook()))).await
}

#[derive(Debug, Deserialize)]
struct SearchQuery {
    q: Option<String>,
    page: Option<usize>,
}

async fn search(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<SearchQuery>,
) -> Response {
    let text = q.q.unwrap_or_default();
    let n = q.page.unwrap_or(0).min(probity_registry::MAX_SEARCH_OFFSET / SEARCH_PAGE);
    render(&state, page.ctx, move |reg, ctx| {
        let found = reg.search(&text, n * SEARCH_PAGE, SEARCH_PAGE)?;
        Ok(portal::search(ctx, &text, &found.hits, n, found.more))
    })
    .await
}

fn subject_of(reg: &Registry, id: &str) -> Result<probity_registry::Profile, ApiError> {
    let id = reg.parse_id(id)?;
    reg.profile(&id)?
        .ok_or_else(|| ApiError::not_found(format!("the registry holds no subject `{id}`")))
}

async fn subject(State(state): State<AppState>, page: Page, Path(id): Path<String>) -> Response {
    render(&state, page.ctx, move |reg, ctx| {
        let p = subject_of(reg, &id)?;
        let a = reg.assess(&p, ctx.today);
        let names = authority_names(reg)?;
        let timeline = reg.timeline(&p, ctx.today)?;
        let mut records = Vec::new();
        for r in p.records.iter().filter(|r| reg.shown(r)) {
            // The reply in force is the last one published (the timeline is in time order).
            let key = r.record.key();
            let reply = timeline
                .iter()
                .rev()
                .find(|e| e.record == key && e.what == "reply_published")
                .and_then(|e| e.text.clone());
            let authority_name = names
                .get(r.record.authority.as_str())
                .cloned()
                .unwrap_or_else(|| r.record.authority.to_string());
            records.push(portal::RecordRow { record: r, authority_name, reply });
        }
        let inspections = reg.selections(&p.subject.subject.id)?;
        let view = portal::ProfileView {
            inspections: &inspections,
            authority_names: &names,
            subject: &p.subject.subject,
            assessment: &a,
            records,
            timeline: &timeline,
            rulebook: reg.rulebook(),
            log_size: reg.log_size()?,
        };
        Ok(portal::profile(ctx, &view))
    })
    .await
}

fn authority_names(reg: &Registry) -> Result<std::collections::BTreeMap<String, String>, ApiError> {
    Ok(reg.authorities()?.into_iter().map(|a| (a.id.to_string(), a.name)).collect())
}

async fn verify(State(state): State<AppState>, page: Page, Path(id): Path<String>) -> Response {
    render(&state, page.ctx, move |reg, ctx| {
        let p = subject_of(reg, &id)?;
        let proofs = reg.profile_proofs(&p)?;
        Ok(portal::verify(ctx, &p.subject.subject, &proofs, &reg.verifier_key()?))
    })
    .await
}

#[derive(Debug, Deserialize)]
struct CheckQuery {
    subject: Option<String>,
    measure: Option<String>,
}

async fn check(State(state): State<AppState>, page: Page, Query(q): Query<CheckQuery>) -> Response {
    let ctx = page.ctx.clone();
    let c = page.ctx;
    let out = state
        .read(move |reg| {
            let mut ctx = c;
            ctx.today = reg.today();
            let book = reg.rulebook();
            let form = portal::CheckForm {
                subject: q.subject.clone().unwrap_or_default(),
                measure: q
                    .measure
                    .clone()
                    .or_else(|| book.measures().next().map(|m| m.id.clone()))
                    .unwrap_or_default(),
            };
            if form.subject.trim().is_empty() {
                return Ok((StatusCode::OK, portal::check(&ctx, &form, book, None, None)));
            }
            let answer = match reg.check(&form.subject, &form.measure, ctx.today, None) {
                Ok(Some(a)) => a,
                Ok(None) => {
                    let msg = format!("the registry holds no subject `{}`", form.subject.trim());
                    let html = portal::check(&ctx, &form, book, None, Some(&msg));
                    return Ok((StatusCode::NOT_FOUND, html));
                }
                Err(e) => {
                    let e = ApiError::from(e);
                    let html = portal::check(&ctx, &form, book, None, Some(&e.message));
                    return Ok((e.status, html));
                }
            };
            let (note, cp) = reg.proving_checkpoint()?;
            let witnesses = reg.cosigners_of(&note)?.into_iter().map(|w| w.witness).collect();
            let receipt = portal::Receipt {
                answer: &answer,
                checkpoint_size: cp.size,
                checkpoint_root: base64::engine::general_purpose::STANDARD.encode(cp.root),
                witnesses,
            };
            Ok((StatusCode::OK, portal::check(&ctx, &form, book, Some(&receipt), None)))
        })
        .await;
    match out {
        Ok((status, html)) => (status, Html(html)).into_response(),
        Err(e) => error_page(&ctx, &e),
    }
}

async fn inspections(State(state): State<AppState>, page: Page) -> Response {
    render(&state, page.ctx, |reg, ctx| {
        Ok(portal::inspections(ctx, &reg.plans()?, &authority_names(reg)?))
    })
    .await
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    page: Option<usize>,
}

async fn inspection(
    State(state): State<AppState>,
    page: Page,
    Path((authority, plan_no)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
) -> Response {
    render(&state, page.ctx, move |reg, ctx| {
        let key = probity_core::PlanKey {
            authority: Slug::parse("authority", &authority)
                .map_err(|e| ApiError::bad_request(e.to_string()))?,
            plan_no,
        };
        let view = reg.plan(&key)?.ok_or_else(|| {
            ApiError::not_found(format!(
                "authority `{}` has no inspection plan `{}`",
                key.authority, key.plan_no
            ))
        })?;
        let n = q.page.unwrap_or(0);
        let drawn = view
            .draw
            .iter()
            .flat_map(|d| &d.selected)
            .skip(n.saturating_mul(portal::DRAWN_PER_PAGE))
            .take(portal::DRAWN_PER_PAGE)
            .map(|t| {
                let name = reg.subject(&t.subject)?.map(|s| s.subject.name).unwrap_or_default();
                let outcome = reg.outcome_of(&key, &t.subject)?;
                Ok((t.subject.to_string(), name, t.class.clone(), t.team, outcome))
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let names = authority_names(reg)?;
        let authority =
            names.get(key.authority.as_str()).cloned().unwrap_or(key.authority.to_string());
        Ok(portal::inspection(
            ctx,
            &portal::PlanPage {
                view: &view,
                authority: &authority,
                drawn,
                page: n,
                rulebook: reg.rulebook(),
            },
        ))
    })
    .await
}

async fn lists(State(state): State<AppState>, page: Page) -> Response {
    render(&state, page.ctx, |reg, ctx| Ok(portal::lists(ctx, reg.rulebook()))).await
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    after: Option<String>,
    region: Option<String>,
    since: Option<String>,
}

impl ListQuery {
    /// The filters, checked.
    fn filter(&self) -> Result<portal::ListFilter, ApiError> {
        let since = match self.since.as_deref().filter(|s| !s.is_empty()).map(str::parse) {
            None => None,
            Some(Ok(d)) => Some(d),
            Some(Err(_)) => return Err(ApiError::bad_request("since: expected a date YYYY-MM-DD")),
        };
        let region = self.region.clone().unwrap_or_default().trim().to_owned();
        if region.len() > 6 || !region.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::bad_request("region: up to six digits"));
        }
        Ok(portal::ListFilter { region, since })
    }

    fn after(&self) -> Result<Option<SubjectId>, ApiError> {
        self.after
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| SubjectId::parse_excepted(c, |_| true))
            .transpose()
            .map_err(|e| ApiError::bad_request(format!("after: {e}")))
    }
}

/// Up to `rows` entries of list `id` after `after` that pass `filter`, looking through at most
/// `scan` entries; and where the next page starts, if there is more.
fn scan_list(
    reg: &Registry,
    id: &str,
    filter: &portal::ListFilter,
    mut after: Option<SubjectId>,
    rows: usize,
    scan: usize,
) -> Result<(Vec<portal::ListRow>, Option<String>), ApiError> {
    let today = reg.today();
    let mut out = Vec::new();
    let mut scanned = 0;
    while scanned < scan {
        let batch = reg.list_entries(probity_store::ListQuery {
            list: id,
            on: today,
            after: after.as_ref(),
            limit: 500,
        })?;
        let Some(last) = batch.last() else { return Ok((out, None)) };
        let end = last.0;
        for (subject, entry) in batch {
            scanned += 1;
            let code = subject.to_string();
            let in_region = code.get(2..8).is_some_and(|r| r.starts_with(&filter.region));
            let recent = filter.since.is_none_or(|d| entry.since.is_some_and(|s| s >= d));
            if !(in_region && recent) {
                continue;
            }
            if out.len() == rows {
                let next = out.last().map(|r: &portal::ListRow| r.subject.clone());
                return Ok((out, next));
            }
            let name = reg.subject(&subject)?.map(|s| s.subject.name);
            out.push(portal::ListRow { subject: code, name: name.unwrap_or_default(), entry });
        }
        after = Some(end);
    }
    Ok((out, after.map(|a| a.to_string())))
}

fn list_rule<'r>(reg: &'r Registry, id: &str) -> Result<&'r probity_rules::ListRule, ApiError> {
    reg.rulebook()
        .list(id)
        .ok_or_else(|| ApiError::not_found(format!("the rulebook in force has no list `{id}`")))
}

async fn list(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let (filter, after) = match q.filter().and_then(|f| Ok((f, q.after()?))) {
        Ok(x) => x,
        Err(e) => return error_page(&page.ctx, &e),
    };
    render(&state, page.ctx, move |reg, ctx| {
        let rule = list_rule(reg, &id)?;
        let (rows, next) = scan_list(reg, &id, &filter, after, LIST_PAGE, LIST_SCAN)?;
        Ok(portal::list(ctx, reg.rulebook(), rule, &filter, &rows, next.as_deref()))
    })
    .await
}

/// The whole list, filtered as on its page, as CSV: `subject,name,since,until`.
async fn list_csv(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let out = state
        .read(move |reg| {
            let filter = q.filter()?;
            list_rule(reg, &id)?;
            let (rows, _) = scan_list(reg, &id, &filter, None, usize::MAX, usize::MAX)?;
            let mut w = csv::Writer::from_writer(Vec::new());
            let fail = |e: csv::Error| ApiError::internal(e);
            w.write_record(["subject", "name", "since", "until"]).map_err(fail)?;
            for r in rows {
                let date =
                    |d: Option<probity_core::Date>| d.map(|d| d.to_string()).unwrap_or_default();
                w.write_record([r.subject, r.name, date(r.entry.since), date(r.entry.until)])
                    .map_err(fail)?;
            }
            let bytes = w.into_inner().map_err(|e| ApiError::internal(e.to_string()))?;
            Ok((id, bytes))
        })
        .await;
    match out {
        Ok((id, bytes)) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{id}.csv\"")),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => error_page(&page.ctx, &e),
    }
}

#[derive(Debug, Deserialize)]
struct RulebookQuery {
    from: Option<String>,
    to: Option<String>,
}

async fn rulebook(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<RulebookQuery>,
) -> Response {
    render(&state, page.ctx, move |reg, ctx| {
        let versions: Vec<_> = reg.rulebooks().collect();
        let find = |v: &Option<String>| {
            v.as_deref().and_then(|v| versions.iter().copied().find(|b| b.header.version == v))
        };
        let diff = find(&q.from).zip(find(&q.to));
        Ok(portal::rulebook(ctx, reg.rulebook(), &versions, diff))
    })
    .await
}

async fn stats(State(state): State<AppState>, page: Page) -> Response {
    let figures = match state.stats_figures().await {
        Ok(f) => f,
        Err(e) => return error_page(&page.ctx, &e),
    };
    let witnesses: Vec<portal::WitnessRow> = state
        .witness_statuses()
        .into_iter()
        .map(|w| portal::WitnessRow {
            name: w.name,
            url: w.url.unwrap_or_default(),
            cosigned_size: w.cosigned_size,
            last_error: w.last_error,
        })
        .collect();
    render(&state, page.ctx, move |reg, ctx| {
        let names = authority_names(reg)?;
        let (s, d) = (&figures.statistics, &figures.deadlines);
        Ok(portal::stats(ctx, reg.rulebook(), s, d, &names, &witnesses))
    })
    .await
}

#[derive(Debug, Deserialize)]
struct LangQuery {
    to: String,
    back: Option<String>,
}

/// Switches the language and goes back where the switch was used; the choice is kept for a year.
async fn set_lang(Query(q): Query<LangQuery>) -> Response {
    let lang = Lang::parse(&q.to).unwrap_or(Lang::En);
    let back = q.back.filter(|b| b.starts_with('/') && !b.starts_with("//")).unwrap_or("/".into());
    let cookie = format!("{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax", lang.tag());
    let mut r = see_other(&back);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", portal::STYLESHEET)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", portal::CONSOLE_SCRIPT)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body)
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// Signed-in parties
// ---------------------------------------------------------------------------------------------

async fn sign_in_form(State(state): State<AppState>, page: Page) -> Response {
    sign_in_page(&state, &page.ctx, None, StatusCode::OK)
}

/// The sign-in page with a fresh token, set in a cookie and carried by its form.
fn sign_in_page(
    state: &AppState,
    ctx: &Ctx,
    problem: Option<&str>,
    status: StatusCode,
) -> Response {
    let token = crate::state::random_token();
    if token.is_empty() {
        return error_page(ctx, &ApiError::internal("no random source for sign-in tokens"));
    }
    let mut r = (status, Html(portal::sign_in(ctx, problem, &token))).into_response();
    set_cookie(
        &mut r,
        state,
        &format!("{SIGN_IN_COOKIE}={token}; Path=/account/sign-in; Max-Age=3600"),
    );
    r
}

/// Sets a cookie, never readable by scripts nor sent from other sites, and `Secure` when the
/// public reaches the server over HTTPS.
fn set_cookie(r: &mut Response, state: &AppState, cookie: &str) {
    let https = state.config().public_url.as_deref().is_some_and(|u| u.starts_with("https://"));
    let secure = if https { "; Secure" } else { "" };
    if let Ok(v) = HeaderValue::from_str(&format!("{cookie}; HttpOnly; SameSite=Strict{secure}")) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

#[derive(Debug, Deserialize)]
struct SignIn {
    credential: String,
    /// The sign-in page's token, which must match the browser's sign-in cookie.
    #[serde(default)]
    csrf: String,
}

async fn sign_in(
    State(state): State<AppState>,
    page: Page,
    parts: axum::http::HeaderMap,
    axum::Form(f): axum::Form<SignIn>,
) -> Response {
    let expected = cookie(&parts, SIGN_IN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !bool::from(expected.as_bytes().ct_eq(f.csrf.as_bytes())) {
        let msg = page.ctx.t("sign-in-expired");
        return sign_in_page(&state, &page.ctx, Some(&msg), StatusCode::FORBIDDEN);
    }
    match crate::auth::verify_key(&state, page.ip, f.credential.trim()).await {
        Ok(actor) => {
            let key_id = probity_registry::split_key(f.credential.trim())
                .map(|(id, _)| id.to_owned())
                .unwrap_or_default();
            let Some((token, _)) = state.start_session(actor, &key_id) else {
                return error_page(&page.ctx, &ApiError::internal("no random source for sessions"));
            };
            let mut r = see_other("/account");
            set_cookie(&mut r, &state, &format!("{SESSION_COOKIE}={token}; Path=/; Max-Age=28800"));
            r
        }
        Err(_) => {
            let msg = page.ctx.t("sign-in-failed");
            sign_in_page(&state, &page.ctx, Some(&msg), StatusCode::UNAUTHORIZED)
        }
    }
}

/// The session of a form post, if its CSRF token matches.
fn posted_by(page: &Page, csrf: &str) -> Result<(String, Session), Box<Response>> {
    let (Some(token), Some(session)) = (&page.token, &page.session) else {
        return Err(Box::new(see_other("/account/sign-in")));
    };
    if !bool::from(session.csrf.as_bytes().ct_eq(csrf.as_bytes())) {
        let e = ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the form's token does not match this session; reload the page",
        );
        return Err(Box::new(error_page(&page.ctx, &e)));
    }
    Ok((token.clone(), session.clone()))
}

#[derive(Debug, Deserialize)]
struct Csrf {
    csrf: String,
}

async fn sign_out(
    State(state): State<AppState>,
    page: Page,
    axum::Form(f): axum::Form<Csrf>,
) -> Response {
    let (token, _) = match posted_by(&page, &f.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    state.end_session(&token);
    let mut r = see_other("/");
    set_cookie(&mut r, &state, &format!("{SESSION_COOKIE}=; Path=/; Max-Age=0"));
    r
}

async fn account(State(state): State<AppState>, page: Page) -> Response {
    let (Some(token), Some(session)) = (page.token.clone(), page.session.clone()) else {
        return see_other("/account/sign-in");
    };
    let flash = state.take_flash(&token);
    let upload = session.upload.clone();
    // The watchlist positions a subscriber's page shows, marked seen once it is rendered.
    let shown = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, u64)>::new()));
    let seen_here = std::sync::Arc::clone(&shown);
    let actor = session.actor.clone();
    // From the primary: the party sees its own action at once, whatever a replica's lag.
    let response = render_on(&state, page.ctx, true, move |reg, ctx| {
        let mut seen = seen_here.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let names = authority_names(reg)?;
        match &session.actor {
            Actor::Company(id) => {
                let p = reg.profile(id)?.ok_or_else(|| {
                    ApiError::not_found(format!("the registry holds no subject `{id}`"))
                })?;
                let mut views = Vec::new();
                for r in p.records.iter().filter(|r| reg.shown(r)) {
                    if let Some(v) = reg.case(&r.record.key())? {
                        views.push(v);
                    }
                }
                let rows: Vec<portal::CompanyRow<'_>> = views
                    .iter()
                    .map(|v| portal::CompanyRow {
                        view: v,
                        kind_name: ctx.kind_name(reg.rulebook(), v.record.record.kind.as_str()),
                        authority_name: names
                            .get(v.record.record.authority.as_str())
                            .cloned()
                            .unwrap_or_default(),
                    })
                    .collect();
                Ok(portal::company(ctx, &p.subject.subject, &rows, flash.as_ref()))
            }
            Actor::Authority(slug) => {
                let authority = reg
                    .authorities()?
                    .into_iter()
                    .find(|a| a.id == *slug)
                    .ok_or_else(|| ApiError::not_found(format!("no authority `{slug}`")))?;
                let open = reg.open_cases(Some(slug), 200)?;
                let kinds = reg
                    .rulebook()
                    .kinds()
                    .filter(|k| k.may_be_filed_by(&authority.category))
                    .map(|k| (k.id.to_string(), ctx.kind_name(reg.rulebook(), k.id.as_str())))
                    .collect();
                let view = portal::ConsoleView {
                    authority: slug.as_str(),
                    authority_name: &authority.name,
                    kinds,
                    open: &open,
                    upload: upload.as_ref().map(|u| (u.filed, u.duplicates, u.rejected)),
                };
                Ok(portal::console(ctx, &view, flash.as_ref()))
            }
            Actor::Operator => Ok(portal::operator(ctx)),
            Actor::Subscriber(name) => {
                let lists = reg.watchlists_of(&session.actor)?;
                let mut pages = Vec::with_capacity(lists.len());
                for w in &lists {
                    pages.push(reg.watchlist_changes(&session.actor, &w.id, w.seen, 20)?);
                }
                let rows: Vec<portal::WatchlistRow<'_>> = lists
                    .iter()
                    .zip(&pages)
                    .map(|(list, p)| portal::WatchlistRow {
                        list,
                        changes: &p.changes,
                        more: p.more,
                    })
                    .collect();
                let html = portal::subscriber(ctx, name.as_str(), &rows);
                // What was shown counts as seen: the next visit shows what came after.
                seen.extend(lists.iter().zip(&pages).map(|(l, p)| (l.id.clone(), p.next)));
                Ok(html)
            }
        }
    })
    .await;
    let shown =
        std::mem::take(&mut *shown.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    if response.status().is_success() && !shown.is_empty() {
        let marked = state
            .write(move |reg| {
                for (id, position) in shown {
                    reg.mark_seen(&actor, &id, position)?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = marked {
            tracing::warn!(error = %e.message, "marking watchlist changes seen failed");
        }
    }
    response
}

#[derive(Debug, Deserialize)]
struct ActionForm {
    csrf: String,
    grounds: Option<String>,
    text: Option<String>,
    statement: Option<String>,
    outcome: Option<String>,
    reason: Option<String>,
}

/// A due-process step from a form: the company's objection, reply or repair application, or
/// the authority's answer and decisions.
async fn act(
    State(state): State<AppState>,
    page: Page,
    Path((authority, decision_no, action)): Path<(String, String, String)>,
    axum::Form(f): axum::Form<ActionForm>,
) -> Response {
    let (token, session) = match posted_by(&page, &f.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let key = match Slug::parse("authority", &authority) {
        Ok(a) => RecordKey { authority: a, decision_no },
        Err(e) => return error_page(&page.ctx, &ApiError::bad_request(e.to_string())),
    };
    let text = |v: Option<String>| v.unwrap_or_default();
    let outcome = f.outcome.clone().unwrap_or_default();
    let reason = f.reason.clone().unwrap_or_default();
    let step = match action.as_str() {
        "objection" => Ok(Step::ObjectionFiled { grounds: text(f.grounds) }),
        "reply" => Ok(Step::ReplyPublished { text: text(f.text) }),
        "repair" => Ok(Step::RepairApplied { statement: text(f.statement) }),
        "answer" => {
            Ok(Step::ObjectionAnswered { admitted: outcome == "admit", reason: text(f.reason) })
        }
        "repair-decision" => {
            Ok(Step::RepairDecided { granted: outcome == "grant", reason: text(f.reason) })
        }
        "decide" => Err(match outcome.as_str() {
            "upheld" => Ok(ObjectionOutcome::Upheld),
            "withdrawn" => Ok(ObjectionOutcome::Withdrawn),
            other => Err(other.to_owned()),
        }),
        other => {
            let e = ApiError::not_found(format!("no action `{other}`"));
            return error_page(&page.ctx, &e);
        }
    };
    let actor = session.actor;
    let done = state
        .write(move |reg| match step {
            Ok(step) => Ok(reg.take_step(&actor, &key, step)?),
            Err(Ok(outcome)) => {
                let decision = ObjectionDecision { outcome, reason, corrected: None };
                Ok(reg.decide_objection(&actor, &key, decision)?)
            }
            Err(Err(other)) => {
                Err(ApiError::invalid(format!("outcome `{other}` is not upheld or withdrawn")))
            }
        })
        .await;
    finish(&state, &token, &page.ctx, done)
}

/// Keeps the outcome of an action for the next page and goes back to the account page.
fn finish(state: &AppState, token: &str, ctx: &Ctx, done: Result<u64, ApiError>) -> Response {
    let flash = match done {
        Ok(index) => {
            Flash { ok: true, text: ctx.ta("console-done", &[("index", index.to_string())]) }
        }
        Err(e) => Flash { ok: false, text: e.message },
    };
    state.set_flash(token, flash);
    see_other("/account")
}

#[derive(Debug, Deserialize)]
struct FileForm {
    csrf: String,
    decision_no: String,
    subject: String,
    kind: String,
    decided: String,
    effective: String,
    basis: String,
    summary: String,
    amount: Option<String>,
    currency: Option<String>,
    document_sha256: Option<String>,
}

/// Files one record from the console's form.
async fn file(
    State(state): State<AppState>,
    page: Page,
    axum::Form(f): axum::Form<FileForm>,
) -> Response {
    let (token, session) = match posted_by(&page, &f.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let Actor::Authority(by) = session.actor else {
        let e =
            ApiError::new(StatusCode::FORBIDDEN, "forbidden", "only an authority files records");
        return error_page(&page.ctx, &e);
    };
    let mut row = serde_json::json!({
        "authority": by.to_string(), "decision_no": f.decision_no, "subject": f.subject,
        "kind": f.kind, "decided": f.decided, "effective": f.effective, "basis": f.basis,
        "summary": f.summary,
    });
    for (k, v) in
        [("amount", f.amount), ("currency", f.currency), ("document_sha256", f.document_sha256)]
    {
        if let (Some(v), Some(o)) = (v.filter(|v| !v.trim().is_empty()), row.as_object_mut()) {
            o.insert(k.into(), v.into());
        }
    }
    let done = state
        .write(move |reg| {
            let result = reg.file_records(&by, &[row.to_string()])?.into_iter().next();
            match result {
                Some(r) if r.status == "filed" => Ok(r.index.unwrap_or_default()),
                Some(r) if r.status == "duplicate" => {
                    Err(ApiError::invalid("a record with this decision number is already on file"))
                }
                Some(r) => Err(ApiError::invalid(r.reason.unwrap_or_else(|| "rejected".into()))),
                None => Err(ApiError::internal("no filing result")),
            }
        })
        .await;
    finish(&state, &token, &page.ctx, done)
}

/// Files a batch file from the console, row by row, and keeps a rejects report.
async fn upload(State(state): State<AppState>, page: Page, mut form: Multipart) -> Response {
    let mut csrf = String::new();
    let mut file = None;
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_owned();
                let file_name = field.file_name().unwrap_or_default().to_owned();
                match field.bytes().await {
                    Ok(b) if name == "csrf" => csrf = String::from_utf8_lossy(&b).into_owned(),
                    Ok(b) if name == "file" => file = Some((file_name, b)),
                    Ok(_) => {}
                    Err(e) => return error_page(&page.ctx, &ApiError::bad_request(e.body_text())),
                }
            }
            Ok(None) => break,
            Err(e) => return error_page(&page.ctx, &ApiError::bad_request(e.body_text())),
        }
    }
    let (token, session) = match posted_by(&page, &csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let Actor::Authority(by) = session.actor else {
        let e =
            ApiError::new(StatusCode::FORBIDDEN, "forbidden", "only an authority files records");
        return error_page(&page.ctx, &e);
    };
    let Some((name, bytes)) = file else {
        return error_page(&page.ctx, &ApiError::bad_request("file: no batch file was sent"));
    };
    let format = probity_registry::Format::from_path(std::path::Path::new(&name))
        .unwrap_or(probity_registry::Format::Jsonl);
    let done = state
        .write(move |reg| {
            let mut up = Upload { report: "line,reason\n".into(), ..Upload::default() };
            let mut w = csv::Writer::from_writer(Vec::new());
            for (line, r) in reg.file_file(&by, format, std::io::Cursor::new(bytes))? {
                match r.status {
                    "filed" => up.filed += 1,
                    "duplicate" => up.duplicates += 1,
                    _ => {
                        up.rejected += 1;
                        let reason = r.reason.unwrap_or_else(|| "rejected".into());
                        w.write_record([line.to_string(), reason]).map_err(ApiError::internal)?;
                    }
                }
            }
            let rejects = w.into_inner().map_err(|e| ApiError::internal(e.to_string()))?;
            up.report.push_str(&String::from_utf8_lossy(&rejects));
            Ok(up)
        })
        .await;
    match done {
        Ok(up) => {
            tracing::info!(
                filed = up.filed,
                rejected = up.rejected,
                "batch uploaded from the console"
            );
            state.keep_upload(&token, up);
            see_other("/account")
        }
        Err(e) => error_page(&page.ctx, &e),
    }
}

async fn rejects(page: Page) -> Response {
    let Some(upload) = page.session.and_then(|s| s.upload) else {
        return error_page(
            &page.ctx,
            &ApiError::not_found("no batch has been uploaded in this session"),
        );
    };
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"rejects.csv\""),
        ],
        upload.report.clone(),
    )
        .into_response()
}
