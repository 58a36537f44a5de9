//! The portal in a real browser: `probity demo` serves a small demo registry, and the journeys in
//! `tests/browser/journeys.mjs` drive the system's headless Chromium through it (search, profile,
//! check receipt, a company's objection decided by the authority, a batch upload, the language
//! switch, charts, a phone-sized screen, the keyboard, and an axe-core accessibility check).
//!
//! Needs Node.js, Debian's `chromium` and `npm ci` in `tests/browser`; `scripts/test` installs
//! them. Without them this test fails and says what is missing, unless `PROBITY_SKIP_BROWSER=1`
//! asks to skip it, which it then says.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn missing_tools(browser_dir: &Path, chromium: &str) -> Vec<String> {
    let mut missing = Vec::new();
    if Command::new("node").arg("--version").output().is_err() {
        missing.push("node (Node.js)".to_owned());
    }
    if !Path::new(chromium).exists() {
        missing.push(format!("{chromium} (Debian package chromium)"));
    }
    if !browser_dir.join("node_modules/playwright-core").exists()
        || !browser_dir.join("node_modules/axe-core").exists()
    {
        missing.push(format!("{}/node_modules (npm ci)", browser_dir.display()));
    }
    missing
}

#[test]
fn portal_journeys_pass_in_headless_chromium() {
    let root = workspace();
    let browser_dir = root.join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let missing = missing_tools(&browser_dir, &chromium);
    if !missing.is_empty() {
        if std::env::var("PROBITY_SKIP_BROWSER").as_deref() == Ok("1")
            && std::env::var("CI").as_deref() != Ok("true")
        {
            eprintln!(
                "NOTE: skipping the browser journeys (PROBITY_SKIP_BROWSER=1); missing: {missing:?}"
            );
            return;
        }
        panic!("the browser journeys need {missing:?}; `scripts/test` installs them");
    }

    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_probity"))
        .arg("--data")
        .arg(dir.path().join("demo"))
        .args(["demo", "--enterprises", "2000", "--records", "6000", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut authority, mut company, mut subscriber) = (None, None, None);
    for line in out.by_ref() {
        let line = line.unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["authority", id, key] => authority = Some((id.to_string(), key.to_string())),
            ["company", id, key] => {
                company = Some((id.trim_end_matches(':').to_owned(), key.to_string()));
            }
            ["subscriber", _, key] => subscriber = Some(key.to_string()),
            _ => {}
        }
        if line.starts_with("serving the API") {
            break;
        }
    }
    let (authority_id, authority_key) = authority.expect("the demo prints an authority key");
    let (company_id, company_key) = company.expect("the demo prints a company credential");
    let subscriber_key = subscriber.expect("the demo prints a subscriber key");
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = err.next().expect("the server says where it listens").unwrap();
        if let Some(u) = line.strip_prefix("listening on ") {
            break u.to_owned();
        }
    };
    // Keep draining the server's log so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in err {});

    let shots = std::env::var("PROBITY_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target/screenshots"));
    let run = Command::new("node")
        .arg(browser_dir.join("journeys.mjs"))
        .current_dir(&browser_dir)
        .env("BASE_URL", &url)
        .env("AUTHORITY_ID", &authority_id)
        .env("AUTHORITY_KEY", &authority_key)
        .env("COMPANY_ID", &company_id)
        .env("COMPANY_KEY", &company_key)
        .env("SUBSCRIBER_KEY", &subscriber_key)
        .env("SCREENSHOTS", &shots)
        .env("CHROMIUM", &chromium)
        .output()
        .unwrap();
    let report =
        format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    eprintln!("{report}");
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let stopped = child.wait().unwrap();
    assert!(run.status.success(), "browser journeys failed:\n{report}");
    assert!(stopped.success(), "the demo server did not stop cleanly: {stopped:?}");
    for name in [
        "profile",
        "check-receipt-print",
        "profile-after-decision",
        "stats",
        "profile-zh",
        "watchlist",
    ] {
        assert!(shots.join(format!("{name}.png")).exists(), "no screenshot {name}.png");
    }
}
