//! The web portal over HTTP against a real server: languages, sign-in and sessions, CSRF tokens,
//! what each party may do from its pages, and errors as pages. The journeys in a real browser are
//! in `crates/cli/tests/browser.rs`.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use probity_core::{Slug, SubjectId};
use probity_registry::{Actor, Registry};
use probity_stores::Stores as _;
use reqwest::blocking::{Client, Response};
use reqwest::redirect::Policy;

mod common;

use common::A;

struct World {
    _dir: tempfile::TempDir,
    _server: probity_server::Running,
    url: String,
    http: Client,
    amr: String,
    tax: String,
    company: String,
    operator: String,
    other: SubjectId,
}

/// The defaults, with public reads limited far above what a test sends.
fn config() -> probity_server::Config {
    probity_server::Config {
        public: probity_server::Allowance { rate: 10_000, burst: 10_000 },
        ..Default::default()
    }
}

fn world() -> World {
    world_with(config())
}

fn world_with(config: probity_server::Config) -> World {
    let dir = tempfile::tempdir().unwrap();
    let mut reg = Registry::init(&dir.path().join("r"), None).unwrap();
    let other = probity_store::conformance::uscc(42);
    common::authorities_and_companies(
        &mut reg,
        "北京测试科技有限公司",
        other.as_str(),
        "<b>北京另一</b>有限公司",
    );
    let today = reg.today().to_string();
    let row_of = |no: &str, subject: &str, kind: &str| {
        serde_json::json!({
            "authority": "bj-amr", "decision_no": no, "subject": subject, "kind": kind,
            "decided": today, "effective": today, "basis": "Administrative Penalty Law, Art. 28",
            "summary": "late annual report", "amount": "5000", "currency": "CNY"
        })
        .to_string()
    };
    let row = |no: &str, subject: &str| row_of(no, subject, "penalty.moderate");
    let amr_slug = Slug::parse("a", "bj-amr").unwrap();
    let filed =
        reg.file_records(&amr_slug, &[row("AMR-1", A), row("AMR-2", other.as_str())]).unwrap();
    assert!(filed.iter().all(|r| r.status == "filed"), "{filed:?}");
    let filed =
        reg.file_records(&amr_slug, &[row_of("AMR-5", A, "registration.abnormal")]).unwrap();
    assert!(filed.iter().all(|r| r.status == "filed"), "{filed:?}");
    let amr = reg.issue_key(&Actor::Authority(amr_slug), None).unwrap();
    let tax = reg.issue_key(&Actor::Authority(Slug::parse("a", "bj-tax").unwrap()), None).unwrap();
    let company = reg.issue_key(&Actor::Company(SubjectId::parse(A).unwrap()), None).unwrap();
    let operator = reg.issue_key(&Actor::Operator, None).unwrap();
    let server = probity_server::spawn(reg, "127.0.0.1:0".parse().unwrap(), config).unwrap();
    let url = format!("http://{}", server.addr);
    let http = Client::builder().redirect(Policy::none()).build().unwrap();
    World { _dir: dir, _server: server, url, http, amr, tax, company, operator, other }
}

/// A signed-in browser: its session cookie and the CSRF token of its forms.
struct Signed {
    cookie: String,
    csrf: String,
}

impl World {
    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut r = self.http.get(format!("{}{path}", self.url));
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.send().unwrap()
    }

    fn post(&self, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Response {
        let mut r = self.http.post(format!("{}{path}", self.url)).form(form);
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        r.send().unwrap()
    }

    /// Opens the sign-in page and posts its form with `key`, as a browser does: the form's
    /// token and the sign-in cookie go with it.
    fn post_sign_in(&self, key: &str) -> Response {
        let page = self.get("/account/sign-in", &[]);
        let set = page.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(set.starts_with("probity_sign_in=") && set.contains("HttpOnly"), "{set}");
        let cookie = set.split(';').next().unwrap().to_owned();
        let text = page.text().unwrap();
        let csrf = text.split(r#"name="csrf" value=""#).nth(1).unwrap().split('"').next().unwrap();
        self.post("/account/sign-in", Some(&cookie), &[("credential", key), ("csrf", csrf)])
    }

    fn sign_in(&self, key: &str) -> Signed {
        let r = self.post_sign_in(key);
        assert_eq!(r.status(), 303);
        let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
        let cookie = set.split(';').next().unwrap().to_owned();
        let page = self.get("/account", &[("cookie", &cookie)]).text().unwrap();
        let csrf = page
            .split(r#"name="csrf" value=""#)
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("the account page's forms carry a csrf token")
            .to_owned();
        Signed { cookie, csrf }
    }

    fn account(&self, s: &Signed) -> String {
        let r = self.get("/account", &[("cookie", &s.cookie)]);
        assert_eq!(r.status(), 200);
        r.text().unwrap()
    }
}

#[test]
fn pages_speak_the_language_asked_for_and_the_switch_sticks() {
    let w = world();
    for path in [
        "/",
        "/search?q=北京",
        &format!("/subjects/{A}"),
        "/check",
        "/lists",
        "/lists/abnormal_operations",
        "/rulebook",
        "/stats",
        "/account/sign-in",
    ] {
        let en = w.get(path, &[]);
        assert_eq!(en.status(), 200, "{path}");
        assert!(en.text().unwrap().contains(r#"<html lang="en">"#), "{path}");
        let zh = w.get(path, &[("accept-language", "zh-CN,zh;q=0.9,en;q=0.5")]).text().unwrap();
        assert!(zh.contains(r#"<html lang="zh-Hans">"#), "{path}");
    }
    let r = w.get("/lang?to=zh-Hans&back=/rulebook", &[]);
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/rulebook");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let page = w.get("/stats", &[("cookie", &cookie), ("accept-language", "en")]).text().unwrap();
    assert!(page.contains(r#"<html lang="zh-Hans">"#), "the cookie beats Accept-Language");
    assert!(page.contains("等级分布"));
    // The switch only goes back within the portal.
    let r = w.get("/lang?to=en&back=//elsewhere.example/x", &[]);
    assert_eq!(r.headers()["location"], "/");
}

#[test]
fn the_profile_shows_records_amounts_and_dates_per_locale_and_escapes_names() {
    let w = world();
    let en = w.get(&format!("/subjects/{A}"), &[]).text().unwrap();
    assert!(en.contains("AMR-1") && en.contains("CN¥5,000.00"), "amount in English form");
    let zh = w.get(&format!("/subjects/{A}"), &[("accept-language", "zh")]).text().unwrap();
    assert!(zh.contains("¥5,000.00") && zh.contains("年"), "amount and dates in Chinese form");
    // The rulebook's own names for kinds, lists and measures, in the reader's language.
    assert!(
        en.contains("Administrative penalty, moderate") && en.contains("Bid in public procurement")
    );
    assert!(zh.contains("行政处罚（一般）") && zh.contains("参与政府采购投标"), "{zh}");
    assert!(!zh.contains("Administrative penalty, moderate"));
    let other = w.get(&format!("/subjects/{}", w.other), &[]).text().unwrap();
    assert!(other.contains("&lt;b&gt;北京另一&lt;/b&gt;有限公司"), "names are escaped");
    let found = w.get("/search?q=%3Cscript%3E", &[]).text().unwrap();
    assert!(found.contains("&lt;script&gt;") && !found.contains("<script>"));
}

#[test]
fn errors_are_pages_that_name_the_problem() {
    let w = world();
    let r = w.get("/subjects/91110000600037341X", &[]);
    assert_eq!(r.status(), 422);
    let body = r.text().unwrap();
    assert!(body.contains("<html") && body.contains("91110000600037341X"), "{body}");
    let r = w.get("/subjects/911100006000373419", &[]);
    assert!(r.status() == 404 || r.status() == 422, "{}", r.status());
    let r = w.get("/check?subject=92110000600037341L&measure=procurement.bid", &[]);
    assert_eq!(r.status(), 422);
    assert!(r.text().unwrap().contains("individually owned"), "the check form says why");
    let r = w.get("/lists/no_such_list", &[]);
    assert_eq!(r.status(), 404);
    assert!(r.text().unwrap().contains("no_such_list"));
    assert_eq!(w.get("/lists/abnormal_operations?since=yesterday", &[]).status(), 400);
    // No such page: a page in the reader's language; no such endpoint: JSON.
    let r = w.get("/no/such/page", &[("accept-language", "zh-CN")]);
    assert_eq!(r.status(), 404);
    let body = r.text().unwrap();
    assert!(body.contains(r#"lang="zh-Hans""#) && body.contains("/no/such/page"), "{body}");
    let r = w.get("/v1/no/such/endpoint", &[]);
    assert_eq!(r.status(), 404);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
}

#[test]
fn signing_in_takes_a_real_credential_and_forms_need_the_session_token() {
    let w = world();
    let r = w.post_sign_in("prb_0000000000000000_forged");
    assert_eq!(r.status(), 401);
    assert!(r.text().unwrap().contains("not accepted"));
    assert_eq!(w.get("/account", &[]).status(), 303, "no session: to the sign-in page");

    let company = w.sign_in(&w.company);
    let path = "/account/records/bj-amr/AMR-1/objection";
    let grounds = ("grounds", "the wrong branch office is named");
    // No token, a wrong token, or no session: refused, and nothing is filed.
    assert_eq!(w.post(path, Some(&company.cookie), &[("csrf", "nope"), grounds]).status(), 403);
    assert_eq!(w.post(path, None, &[("csrf", &company.csrf), grounds]).status(), 303);
    assert!(!w.account(&company).contains("filed, awaiting an answer"));
    // With it: the objection is filed and shown.
    let r = w.post(path, Some(&company.cookie), &[("csrf", &company.csrf), grounds]);
    assert_eq!(r.status(), 303);
    let page = w.account(&company);
    assert!(page.contains("flash ok") && page.contains("filed, awaiting an answer"), "{page}");
    // Replies are published next to the record; the latest one stands.
    for text in ["first reply", "the office has since moved; see our statement"] {
        let form = [("csrf", company.csrf.as_str()), ("text", text)];
        let r = w.post("/account/records/bj-amr/AMR-1/reply", Some(&company.cookie), &form);
        assert_eq!(r.status(), 303);
    }
    let profile = w.get(&format!("/subjects/{A}"), &[]).text().unwrap();
    let reply = profile.split("class=\"reply\"").nth(1).expect("a reply is shown");
    assert!(reply.contains("the office has since moved"), "{reply}");
    assert!(!reply.split("</blockquote>").next().unwrap().contains("first reply"));
    // Another company's record: the registry refuses, and the page says so.
    let theirs = "/account/records/bj-amr/AMR-2/objection";
    let _ = w.post(theirs, Some(&company.cookie), &[("csrf", &company.csrf), grounds]);
    let page = w.account(&company);
    assert!(page.contains("flash error"), "{page}");
    // A company files nothing.
    let r = w.post(
        "/account/file",
        Some(&company.cookie),
        &[
            ("csrf", &company.csrf),
            ("decision_no", "X"),
            ("subject", A),
            ("kind", "penalty.minor"),
            ("decided", "2026-01-01"),
            ("effective", "2026-01-01"),
            ("basis", "b"),
            ("summary", "s"),
        ],
    );
    assert_eq!(r.status(), 403);

    // Signing out ends the session.
    let r = w.post("/account/sign-out", Some(&company.cookie), &[("csrf", &company.csrf)]);
    assert_eq!(r.status(), 303);
    assert_eq!(w.get("/account", &[("cookie", &company.cookie)]).status(), 303);
}

#[test]
fn an_authority_works_its_own_cases_and_files_from_the_console() {
    let w = world();
    let company = w.sign_in(&w.company);
    let grounds = [("csrf", company.csrf.as_str()), ("grounds", "wrong office")];
    w.post("/account/records/bj-amr/AMR-1/objection", Some(&company.cookie), &grounds);

    // Another authority sees no case and may not answer this one.
    let tax = w.sign_in(&w.tax);
    assert!(!w.account(&tax).contains("AMR-1"));
    let answer = |s: &Signed, outcome: &str| {
        let form = [("csrf", s.csrf.as_str()), ("outcome", outcome), ("reason", "examined")];
        w.post("/account/records/bj-amr/AMR-1/answer", Some(&s.cookie), &form)
    };
    answer(&tax, "admit");
    assert!(w.account(&tax).contains("flash error"));

    let amr = w.sign_in(&w.amr);
    let console = w.account(&amr);
    assert!(console.contains("case-AMR-1") && console.contains("days left"), "{console}");
    answer(&amr, "admit");
    assert!(w.account(&amr).contains("flash ok"));
    let form =
        [("csrf", amr.csrf.as_str()), ("outcome", "upheld"), ("reason", "the decision stands")];
    w.post("/account/records/bj-amr/AMR-1/decide", Some(&amr.cookie), &form);
    let console = w.account(&amr);
    assert!(console.contains("flash ok") && !console.contains("case-AMR-1"), "{console}");
    let profile = w.get(&format!("/subjects/{A}"), &[]).text().unwrap();
    assert!(profile.contains("Objection decided") && profile.contains("Upheld"), "{profile}");

    // Filing from the form: a good record is filed, a bad one is refused with the reason.
    let mut form = vec![
        ("csrf", amr.csrf.as_str()),
        ("decision_no", "AMR-3"),
        ("subject", A),
        ("kind", "penalty.minor"),
        ("decided", "2026-01-05"),
        ("effective", "2026-01-06"),
        ("basis", "Administrative Penalty Law, Art. 28"),
        ("summary", "late report"),
        ("amount", ""),
        ("currency", ""),
        ("document_sha256", ""),
    ];
    assert_eq!(w.post("/account/file", Some(&amr.cookie), &form).status(), 303);
    assert!(w.account(&amr).contains("flash ok"));
    form[1] = ("decision_no", "AMR-4");
    form[3] = ("kind", "tax.major_violation");
    w.post("/account/file", Some(&amr.cookie), &form);
    let page = w.account(&amr);
    assert!(page.contains("flash error") && page.contains("tax.major_violation"), "{page}");
}

#[test]
fn lists_filter_and_export_what_the_page_shows() {
    let w = world();
    let page = w.get("/lists/abnormal_operations", &[]).text().unwrap();
    assert!(page.contains(A) && page.contains("北京测试科技有限公司"), "{page}");
    let csv = |query: &str| {
        let r = w.get(&format!("/lists/abnormal_operations/export.csv{query}"), &[]);
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        r.text().unwrap()
    };
    let all = csv("");
    assert!(all.starts_with("subject,name,since,until\n"), "{all}");
    assert!(all.contains(&format!("{A},北京测试科技有限公司,")), "{all}");
    assert!(csv("?region=110000").contains(A), "A's region is 110000");
    assert_eq!(csv("?region=3").lines().count(), 1, "another region: the header only");
    assert_eq!(csv("?since=2999-01-01").lines().count(), 1, "listed later: none");
    let filtered = w.get("/lists/abnormal_operations?region=3", &[]).text().unwrap();
    assert!(!filtered.contains(A) && filtered.contains("export.csv?region=3"), "{filtered}");
}

#[test]
fn the_rulebook_page_shows_versions_and_what_changed_between_them() {
    let w = world();
    let text = probity_rules::DEFAULT_RULEBOOK
        .replacen("version = \"2026.12\"", "version = \"2027.1\"", 1)
        .replacen("effective = \"2026-01-01\"", "effective = \"2027-01-01\"", 1)
        .replacen("points = -5\n", "points = -4\n", 1);
    let r = w
        .http
        .post(format!("{}/v1/rulebook", w.url))
        .bearer_auth(&w.operator)
        .json(&serde_json::json!({ "text": text }))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text());
    let page = w.get("/rulebook", &[]).text().unwrap();
    assert!(page.contains("2026.12") && page.contains("2027.1"), "both versions are listed");
    assert!(page.contains("Show differences"));
    let diff = w.get("/rulebook?from=2026.12&to=2027.1", &[]).text().unwrap();
    assert!(diff.contains("kinds.penalty.minor.points"), "{diff}");
    assert!(diff.contains(">-5<") && diff.contains(">-4<"), "before and after are shown");
    let same = w.get("/rulebook?from=2026.12&to=2026.12", &[]).text().unwrap();
    assert!(same.contains("the same rules"));
}

/// A portal session lives only as long as the key it was opened with: revoking an authority's
/// keys or a company's credentials signs their sessions out at once, and anything they then
/// send is refused.
#[test]
fn revoking_a_key_ends_the_portal_sessions_opened_with_it() {
    let w = world();
    let amr = w.sign_in(&w.amr);
    let company = w.sign_in(&w.company);
    assert_eq!(w.get("/account", &[("cookie", &amr.cookie)]).status(), 200);
    let revoke = |path: &str| {
        let r = w.http.delete(format!("{}{path}", w.url)).bearer_auth(&w.operator).send().unwrap();
        assert_eq!(r.status(), 200, "{path}");
    };
    revoke("/v1/authorities/bj-amr/keys");
    let r = w.get("/account", &[("cookie", &amr.cookie)]);
    assert_eq!(r.status(), 303, "the authority's session ended with its key");
    assert_eq!(r.headers()["location"], "/account/sign-in");
    let file = [
        ("csrf", amr.csrf.as_str()),
        ("decision_no", "AMR-9"),
        ("subject", A),
        ("kind", "penalty.minor"),
        ("decided", "2026-01-02"),
        ("effective", "2026-01-05"),
        ("basis", "Art. 28"),
        ("summary", "late report"),
    ];
    w.post("/account/file", Some(&amr.cookie), &file);
    let filed = w.get("/v1/records/bj-amr/AMR-9", &[]);
    assert_eq!(filed.status(), 404, "a filing from the ended session is not taken");
    assert_eq!(w.get("/account", &[("cookie", &company.cookie)]).status(), 200);
    revoke(&format!("/v1/subjects/{A}/credentials"));
    assert_eq!(w.get("/account", &[("cookie", &company.cookie)]).status(), 303);
}

/// Sessions are capped per credential, not in all: signing in over and over with one
/// credential drops only that credential's oldest sessions, never another party's.
#[test]
fn one_credential_cannot_sign_anyone_else_out() {
    let w = world();
    let tax = w.sign_in(&w.tax);
    let first = w.sign_in(&w.company);
    let cap = 8;
    let mut latest = Vec::new();
    for _ in 0..cap {
        latest.push(w.sign_in(&w.company));
    }
    assert_eq!(w.get("/account", &[("cookie", &tax.cookie)]).status(), 200, "another party");
    assert_eq!(w.get("/account", &[("cookie", &first.cookie)]).status(), 303, "its oldest");
    for s in &latest {
        assert_eq!(w.get("/account", &[("cookie", &s.cookie)]).status(), 200);
    }
}

/// Pages may load only from the server, run no inline script and not be framed; nothing the
/// server sends may be sniffed as another type or leak its address to other sites.
#[test]
fn pages_carry_a_content_security_policy_and_no_inline_script() {
    let w = world();
    for path in ["/", &format!("/check?subject={A}&measure=procurement.bid"), "/account/sign-in"] {
        let r = w.get(path, &[]);
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "same-origin");
        assert_eq!(h["x-frame-options"], "DENY");
        let page = r.text().unwrap();
        assert!(!page.contains("onclick=") && !page.contains("<script>"), "{path}: inline script");
    }
    let api = w.get("/v1/health", &[]);
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
    assert!(!api.headers().contains_key("content-security-policy"));
}

/// The sign-in form is protected too: a post without the token of the browser's own sign-in
/// page (a form on another site signing the browser in under an account of its choosing) is
/// refused, whatever the credential.
#[test]
fn signing_in_needs_the_sign_in_pages_own_token() {
    let w = world();
    let r = w.post("/account/sign-in", None, &[("credential", &w.company)]);
    assert_eq!(r.status(), 403);
    assert!(
        !r.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("probity_session="))
    );
    let forged = [("credential", w.company.as_str()), ("csrf", "0000")];
    let r = w.post("/account/sign-in", Some("probity_sign_in=1111"), &forged);
    assert_eq!(r.status(), 403);
    assert_eq!(w.post_sign_in(&w.company).status(), 303);
}

/// Behind a public HTTPS address, the portal's cookies are sent only over HTTPS.
#[test]
fn cookies_are_secure_behind_a_public_https_address() {
    let w = world_with(probity_server::Config {
        public_url: Some("https://credit.example.gov.cn".into()),
        ..config()
    });
    let page = w.get("/account/sign-in", &[]);
    assert!(page.headers()["set-cookie"].to_str().unwrap().contains("; Secure"));
    let r = w.post_sign_in(&w.company);
    let session = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(session.starts_with("probity_session=") && session.contains("; Secure"), "{session}");
    let plain = world();
    assert!(
        !plain.get("/account/sign-in", &[]).headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Secure")
    );
}
