//! Repository hygiene: every source file says what it is for, and the architecture map names
//! every crate.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_source_file_opens_with_a_doc_comment() {
    let mut files = Vec::new();
    rust_files(&root().join("crates"), &mut files);
    assert!(files.len() > 20);
    let missing: Vec<_> = files
        .iter()
        .filter(|f| !std::fs::read_to_string(f).unwrap().starts_with("//!"))
        .map(|f| f.strip_prefix(root()).unwrap_or(f).display().to_string())
        .collect();
    assert!(missing.is_empty(), "files without a leading `//!` line: {missing:?}");
}

#[test]
fn architecture_map_names_every_crate() {
    let map = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            map.contains(&format!("crates/{name}")),
            "ARCHITECTURE.md does not describe crates/{name}"
        );
    }
}

/// No SQL is built from strings: every statement in library code is a literal with bound
/// parameters. The one exception is the PostgreSQL schema name, which is checked to be a plain
/// identifier before it is used (and cannot be a parameter). `probity bench rate` is outside the
/// rule by design: it writes the rulebook's rules as SQL for DuckDB to compute over generated
/// files, and never talks to a registry's store.
#[test]
fn no_sql_is_built_from_strings() {
    let mut files = Vec::new();
    rust_files(&root().join("crates"), &mut files);
    files.retain(|f| !f.ends_with("crates/cli/src/bench_rate.rs"));
    let keywords = ["SELECT ", "INSERT ", "UPDATE ", "DELETE ", " WHERE ", "DROP "];
    let allowed = ["CREATE SCHEMA IF NOT EXISTS {schema}", "DROP SCHEMA IF EXISTS {name} CASCADE"];
    let mut found = Vec::new();
    for f in files.iter().filter(|f| f.components().any(|c| c.as_os_str() == "src")) {
        let text = std::fs::read_to_string(f).unwrap();
        for (i, _) in text.match_indices("format!(") {
            let call = text.get(i..(i + 300).min(text.len())).unwrap_or_default();
            let call = call.split(");").next().unwrap_or(call);
            if keywords.iter().any(|k| call.contains(k))
                && !allowed.iter().any(|a| call.contains(a))
            {
                let line = text.get(..i).unwrap_or_default().matches('\n').count() + 1;
                found.push(format!("{}:{line}", f.strip_prefix(root()).unwrap_or(f).display()));
            }
        }
    }
    assert!(found.is_empty(), "SQL built with format! at {found:?}");
}

/// The registry is the boundary of the HTTP API and the portal: their handlers parse, call one
/// registry function and render, and never reach past it into the store.
#[test]
fn the_server_and_the_portal_never_reach_into_the_store() {
    let mut files = Vec::new();
    rust_files(&root().join("crates/server/src"), &mut files);
    rust_files(&root().join("crates/portal/src"), &mut files);
    let reaching: Vec<_> = files
        .iter()
        .filter(|f| std::fs::read_to_string(f).unwrap().contains(".store()"))
        .map(|f| f.strip_prefix(root()).unwrap_or(f).display().to_string())
        .collect();
    assert!(reaching.is_empty(), "these call `Registry::store()`: {reaching:?}");
}

/// The dependencies a crate of the workspace declares under `[dependencies]`, by name.
fn dependencies(krate: &str) -> Vec<String> {
    let text =
        std::fs::read_to_string(root().join("crates").join(krate).join("Cargo.toml")).unwrap();
    text.split("\n[")
        .find(|section| section.starts_with("dependencies]"))
        .map(|section| {
            section
                .lines()
                .skip(1)
                .filter_map(|l| l.split(['=', '.', ' ']).next())
                .filter(|name| !name.is_empty() && !name.starts_with('#'))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The choice of store is the binary's: the registry, and the portal above it, carry no
/// database driver, directly or through another crate of the workspace.
#[test]
fn the_registry_and_the_portal_depend_on_no_database_driver() {
    for krate in ["registry", "portal"] {
        let mut seen = std::collections::BTreeSet::new();
        let mut todo = vec![krate.to_owned()];
        while let Some(k) = todo.pop() {
            for dep in dependencies(&k) {
                if let Some(ours) = dep.strip_prefix("probity-") {
                    todo.push(ours.to_owned());
                }
                seen.insert(dep);
            }
        }
        for driver in ["rusqlite", "postgres", "probity-sqlite", "probity-postgres", "duckdb"] {
            assert!(!seen.contains(driver), "crates/{krate} depends on `{driver}`: {seen:?}");
        }
        assert!(seen.contains("probity-store"), "the walk found the store crate: {seen:?}");
    }
}

/// The production binary carries no benchmark-only dependency: the baselines' drivers of
/// `probity bench` are optional, behind the `bench` feature.
#[test]
fn the_benchmarks_drivers_are_behind_the_bench_feature() {
    let text = std::fs::read_to_string(root().join("crates/cli/Cargo.toml")).unwrap();
    let deps = text.split("\n[").find(|s| s.starts_with("dependencies]")).unwrap();
    for driver in ["postgres", "rusqlite", "tempfile"] {
        let line = deps
            .lines()
            .find(|l| l.split(['=', '.', ' ']).next() == Some(driver))
            .unwrap_or_else(|| panic!("crates/cli names `{driver}` under [dependencies]"));
        assert!(line.contains("optional = true"), "`{driver}` is not optional: {line}");
        assert!(text.contains(&format!("\"dep:{driver}\"")), "the bench feature takes `{driver}`");
    }
}
