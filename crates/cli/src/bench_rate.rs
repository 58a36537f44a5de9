//! `probity bench rate`: a full re-rate through probity against DuckDB computing the same scores,
//! grades and lists in SQL over the same data, in one run; the grades of every subject compared;
//! and the time to import a last batch of records and re-rate only the subjects it touched.
//!
//! The SQL is generated here from the rulebook in force: points with validity windows, direct
//! triggers, grade bands, sticky grades, bars, the new-entity grade, and list membership by
//! duration. DuckDB runs it through `tools/bench-rate-duckdb.py` (embedded, written to the bench
//! directory), from the Python package `duckdb`, installed with pip if missing.

use std::collections::HashMap;
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use probity_core::{Date, SubjectId};
use probity_registry::{Registry, Table};
use probity_rules::{Period, Rulebook};
use serde_json::json;

use crate::commands::{import_default, write_generated};
use crate::exit;
use crate::progress::Bar;

/// The DuckDB runner.
const DUCKDB_SCRIPT: &str = include_str!("../../../tools/bench-rate-duckdb.py");

/// `probity bench rate`.
#[derive(Debug, clap::Args)]
pub struct RateArgs {
    /// Subjects to generate.
    #[arg(long, default_value_t = 1_000_000)]
    enterprises: u64,
    /// Records to generate.
    #[arg(long, default_value_t = 10_000_000)]
    records: u64,
    /// Records held back from the first import, then imported alone to time the incremental
    /// re-rating of the subjects they touch.
    #[arg(long, default_value_t = 1_000)]
    incremental: u64,
    /// Working directory (a temporary one if omitted; kept only if given). Generated input
    /// already there is reused.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn interval(p: Period) -> String {
    format!("INTERVAL '{p}'")
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The SQL that computes, on `as_of`, each subject's score, grade and lists under `book`: a
/// load part and a compute part separated by a line `-- compute`.
pub fn rate_sql(book: &Rulebook, as_of: Date) -> anyhow::Result<String> {
    let s = book.scoring().context("the rulebook has no scoring model to compare")?;
    let d = format!("DATE '{as_of}'");
    let nbands = s.bands.len();
    let band_of = |score: &str| {
        let mut case = String::from("CASE");
        for (i, b) in s.bands.iter().enumerate() {
            case.push_str(&format!(" WHEN {score} >= {} THEN {i}", b.min));
        }
        case.push_str(&format!(" ELSE {} END", nbands.saturating_sub(1)));
        case
    };
    let clamp =
        |sum: &str| format!("LEAST(GREATEST({} + {sum}, {}), {})", s.start, s.floor, s.ceiling);
    let band_index = |grade: &str| s.bands.iter().position(|b| b.grade == grade);

    let mut sql = String::new();
    sql.push_str(
        "CREATE TABLE recs AS SELECT subject, kind, effective FROM read_json('{records}', \
         format = 'newline_delimited', columns = {subject: 'VARCHAR', kind: 'VARCHAR', \
         effective: 'DATE'});\n\
         CREATE TABLE subj AS SELECT id AS subject, TRY_CAST(NULLIF(established, '') AS DATE) \
         AS established FROM read_csv('{subjects}', header = true, all_varchar = true);\n\
         -- compute\n",
    );
    // Kinds: points, how long they count, and the band a trigger sets.
    sql.push_str(
        "CREATE TABLE kinds (kind VARCHAR, points INTEGER, counts_for INTERVAL, trig INTEGER);\n",
    );
    let rows: Vec<String> = book
        .kinds()
        .map(|k| {
            let trig = s
                .triggers
                .iter()
                .find(|t| t.kind == k.id.as_str())
                .and_then(|t| band_index(&t.grade))
                .map_or_else(|| "NULL".to_owned(), |i| i.to_string());
            format!("({}, {}, {}, {trig})", quote(k.id.as_str()), k.points, interval(k.counts_for))
        })
        .collect();
    sql.push_str(&format!("INSERT INTO kinds VALUES {};\n", rows.join(", ")));
    sql.push_str(
        "CREATE TABLE r AS SELECT recs.subject, recs.kind, recs.effective, \
         recs.effective + k.counts_for AS until, k.points, k.trig FROM recs JOIN kinds k USING (kind);\n",
    );
    // Score and trigger now.
    sql.push_str(&format!(
        "CREATE TABLE now_ AS SELECT subj.subject, subj.established, {} AS score, \
         max(r.trig) FILTER (WHERE r.effective <= {d} AND {d} < r.until) AS trig \
         FROM subj LEFT JOIN r USING (subject) GROUP BY subj.subject, subj.established;\n",
        clamp(&format!(
            "coalesce(sum(r.points) FILTER (WHERE r.effective <= {d} AND {d} < r.until), 0)"
        ))
    ));
    // Sticky grades: the band on some record's effective date within the hold reached it.
    for (i, st) in s.sticky.iter().enumerate() {
        let Some(si) = band_index(&st.grade) else { continue };
        let h = interval(st.holds_for);
        sql.push_str(&format!(
            "CREATE TABLE sticky{i} AS WITH dates AS (SELECT DISTINCT subject, effective AS day \
             FROM r WHERE effective <= {d} AND effective + {h} > {d}), \
             at_day AS (SELECT dates.subject, dates.day, {} AS score, \
             max(b.trig) FILTER (WHERE b.effective <= dates.day AND dates.day < b.until) AS trig \
             FROM dates JOIN r b ON b.subject = dates.subject GROUP BY dates.subject, dates.day) \
             SELECT DISTINCT subject FROM at_day WHERE greatest({}, coalesce(trig, 0)) >= {si};\n",
            clamp(
                "coalesce(sum(b.points) FILTER (WHERE b.effective <= dates.day AND dates.day < b.until), 0)"
            ),
            band_of("score"),
        ));
    }
    // The grade, in stages (each a CTE, so no expression is repeated inside another): bands
    // and triggers, then sticky holds, then bars, then the new-entity grade.
    let mut joins = String::new();
    let mut held_cols = String::new();
    for (i, st) in s.sticky.iter().enumerate() {
        if band_index(&st.grade).is_none() {
            continue;
        }
        joins.push_str(&format!(" LEFT JOIN sticky{i} ON sticky{i}.subject = n.subject"));
        held_cols.push_str(&format!(", sticky{i}.subject IS NOT NULL AS held{i}"));
    }
    let mut ctes = vec![format!(
        "t0 AS (SELECT n.subject, n.score, n.established, greatest({}, coalesce(n.trig, 0)) AS b, \
         n.trig IS NOT NULL AS direct{held_cols} FROM now_ n{joins})",
        band_of("n.score")
    )];
    for (i, st) in s.sticky.iter().enumerate() {
        let Some(si) = band_index(&st.grade) else { continue };
        let held = format!("(b < {si} AND held{i})");
        ctes.push(format!(
            "t{} AS (SELECT * REPLACE (CASE WHEN {held} THEN {si} ELSE b END AS b, \
             direct OR {held} AS direct) FROM t{})",
            ctes.len(),
            ctes.len() - 1
        ));
    }
    for _ in &s.bars {
        let barred: Vec<String> = s
            .bars
            .iter()
            .filter_map(|b| {
                let bi = band_index(&b.grade)?;
                Some(format!(
                    "(b = {bi} AND (established IS NULL OR established + {} > {d}))",
                    interval(b.younger_than)
                ))
            })
            .collect();
        ctes.push(format!(
            "t{} AS (SELECT * REPLACE (CASE WHEN b + 1 < {nbands} AND ({}) THEN b + 1 ELSE b END \
             AS b) FROM t{})",
            ctes.len(),
            barred.join(" OR "),
            ctes.len() - 1
        ));
    }
    let mut grade = String::from("CASE");
    if let Some(ne) = &s.new_entity {
        grade.push_str(&format!(
            " WHEN NOT direct AND established IS NOT NULL AND established <= {d} \
             AND {d} < established + {} AND score >= {} THEN {}",
            interval(ne.younger_than),
            ne.min,
            quote(&ne.grade)
        ));
    }
    for (i, b) in s.bands.iter().enumerate() {
        grade.push_str(&format!(" WHEN b = {i} THEN {}", quote(&b.grade)));
    }
    grade.push_str(" END");
    ctes.push(format!(
        "graded AS (SELECT subject, score, {grade} AS grade FROM t{})",
        ctes.len() - 1
    ));
    // Lists: by a record of one of their kinds within the duration, or by grade.
    let mut members = Vec::new();
    let mut list_joins = String::new();
    for (i, l) in book.lists().enumerate() {
        let by_record = if l.kinds.is_empty() {
            "false".to_owned()
        } else {
            let kinds: Vec<String> = l.kinds.iter().map(|k| quote(k)).collect();
            sql.push_str(&format!(
                "CREATE TABLE list{i} AS SELECT DISTINCT subject FROM r WHERE kind IN ({}) \
                 AND effective <= {d} AND {d} < effective + {};\n",
                kinds.join(", "),
                interval(l.duration)
            ));
            list_joins.push_str(&format!(" LEFT JOIN list{i} ON list{i}.subject = g.subject"));
            format!("list{i}.subject IS NOT NULL")
        };
        let grades: Vec<String> = l.grades.iter().map(|g| quote(g)).collect();
        let by_grade = if grades.is_empty() {
            "false".to_owned()
        } else {
            format!("g.grade IN ({})", grades.join(", "))
        };
        members.push(format!("CASE WHEN {by_record} OR {by_grade} THEN {} END", quote(&l.id)));
    }
    sql.push_str(&format!(
        "CREATE TABLE answers AS WITH {} SELECT g.subject, g.score, g.grade, \
         concat_ws(';', {}) AS lists FROM graded g{list_joins};\n",
        ctes.join(", "),
        members.join(", ")
    ));
    Ok(sql)
}

/// One subject's answer: score, grade and lists (ids, sorted, `;`-joined).
type Answer = (Option<i32>, Option<String>, String);

/// Splits `records.jsonl` into the first `total - late` lines and the last `late`.
fn split(input: &Path, total: u64, late: u64) -> anyhow::Result<(PathBuf, PathBuf)> {
    let (main, rest) = (input.join("records-main.jsonl"), input.join("records-late.jsonl"));
    if main.exists() && rest.exists() {
        return Ok((main, rest));
    }
    let reader = std::io::BufReader::new(std::fs::File::open(input.join("records.jsonl"))?);
    let mut a = std::io::BufWriter::new(std::fs::File::create(&main)?);
    let mut b = std::io::BufWriter::new(std::fs::File::create(&rest)?);
    for (i, line) in reader.lines().enumerate() {
        let out = if (i as u64) < total.saturating_sub(late) { &mut a } else { &mut b };
        writeln!(out, "{}", line?)?;
    }
    a.flush()?;
    b.flush()?;
    Ok((main, rest))
}

/// Every stored assessment, by subject code.
fn probity_answers(reg: &Registry) -> anyhow::Result<HashMap<String, Answer>> {
    let mut out = HashMap::new();
    let mut after: Option<SubjectId> = None;
    loop {
        let page = reg.store().subject_ids(after.as_ref(), 10_000)?;
        let Some(last) = page.last().copied() else { break };
        for id in &page {
            if let Some(row) = reg.store().assessment(id)? {
                let mut lists: Vec<String> = row.lists.iter().map(|l| l.list.clone()).collect();
                lists.sort();
                out.insert(id.to_string(), (row.score, row.grade, lists.join(";")));
            }
        }
        after = Some(last);
    }
    Ok(out)
}

/// DuckDB's answers from its CSV output (a header, then `subject,score,grade,lists`; no field
/// holds a comma).
fn duckdb_answers(path: &Path) -> anyhow::Result<HashMap<String, Answer>> {
    let mut out = HashMap::new();
    let reader = std::io::BufReader::new(std::fs::File::open(path)?);
    for line in reader.lines().skip(1) {
        let line = line?;
        let mut f = line.split(',').map(|v| v.trim_matches('"'));
        let (Some(id), Some(score), Some(grade), lists) = (f.next(), f.next(), f.next(), f.next())
        else {
            anyhow::bail!("`{}`: not a line of answers: {line}", path.display());
        };
        let mut lists: Vec<&str> =
            lists.unwrap_or_default().split(';').filter(|l| !l.is_empty()).collect();
        lists.sort_unstable();
        let grade = Some(grade.to_owned()).filter(|g| !g.is_empty());
        out.insert(id.to_owned(), (score.parse().ok(), grade, lists.join(";")));
    }
    Ok(out)
}

fn ensure_duckdb() -> anyhow::Result<()> {
    let has = |_: ()| {
        std::process::Command::new("python3")
            .args(["-c", "import duckdb"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if has(()) {
        return Ok(());
    }
    eprintln!("installing the Python package duckdb (pip)…");
    let ok = std::process::Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "duckdb"])
        .status()
        .is_ok_and(|s| s.success());
    anyhow::ensure!(
        ok && has(()),
        "the Python package duckdb is needed: `python3 -m pip install duckdb`"
    );
    Ok(())
}

/// What probity measured on one store.
struct Measured {
    /// The registry, rated as of today.
    registry: Registry,
    full_secs: f64,
    rated: u64,
    rewrite_secs: f64,
    inc_secs: f64,
    inc: probity_registry::ImportReport,
}

/// Imports the input but the late records into a new registry in `reg_dir` whose store is at
/// `location`, then times a full re-rate (no row changes), a full re-rate as of tomorrow (every
/// row rewritten), and importing the late records with the re-rating of what they touch.
fn measure(
    reg_dir: &Path,
    location: &probity_stores::StoreLocation,
    input: &Path,
    main: &Path,
    late: &Path,
    today: Date,
) -> anyhow::Result<Measured> {
    eprintln!("probity: importing…");
    let mut reg = crate::bench::registry_with_authorities(reg_dir, location, input)?;
    import_default(&mut reg, Table::Subjects, &input.join("subjects.csv"))?;
    import_default(&mut reg, Table::Records, main)?;

    eprintln!(
        "probity: a full re-rate of every subject (rows that do not change are not written)…"
    );
    let bar = Bar::bytes(None, "rating");
    let t = Instant::now();
    let full = reg.rate_pass(today, true, &bar);
    bar.finish();
    let full = full?;
    let full_secs = t.elapsed().as_secs_f64();

    // The import rated every subject today already, so that pass found each row unchanged and
    // wrote none. Rating as of tomorrow changes every row: the cost of a pass that rewrites them
    // all. Then today's ratings are put back, untimed, for the comparison.
    eprintln!("probity: a full re-rate as of tomorrow, rewriting every row…");
    let tomorrow = today.tomorrow().context("no day after today")?;
    let t = Instant::now();
    reg.rate_pass(tomorrow, true, &())?;
    let rewrite_secs = t.elapsed().as_secs_f64();
    reg.rate_pass(today, true, &())?;

    eprintln!("probity: importing the last records, re-rating what they touch…");
    let t = Instant::now();
    let inc = import_default(&mut reg, Table::Records, late)?;
    let inc_secs = t.elapsed().as_secs_f64();
    // The calendar may have moved subjects the late records did not touch: sweep them, so both
    // sides answer for the same day.
    reg.rate_pass(today, false, &())?;
    Ok(Measured { registry: reg, full_secs, rated: full.rated, rewrite_secs, inc_secs, inc })
}

/// How two sets of answers differ: grade, score and list disagreements, subjects missing from
/// `theirs`, and up to five examples.
struct Disagreements {
    grades: u64,
    scores: u64,
    lists: u64,
    missing: u64,
    examples: Vec<String>,
}

impl Disagreements {
    fn between(ours: &HashMap<String, Answer>, theirs: &HashMap<String, Answer>) -> Self {
        let mut d = Self { grades: 0, scores: 0, lists: 0, missing: 0, examples: Vec::new() };
        for (id, (score, grade, l)) in ours {
            let Some((s2, g2, l2)) = theirs.get(id) else {
                d.missing += 1;
                continue;
            };
            let differs = (grade != g2, score != s2, l != l2);
            d.grades += u64::from(differs.0);
            d.scores += u64::from(differs.1);
            d.lists += u64::from(differs.2);
            if (differs.0 || differs.1 || differs.2) && d.examples.len() < 5 {
                d.examples.push(format!(
                    "{id}: probity {score:?} {grade:?} [{l}], duckdb {s2:?} {g2:?} [{l2}]"
                ));
            }
        }
        d
    }

    fn total(&self) -> u64 {
        self.grades + self.scores + self.lists + self.missing
    }

    fn json(&self) -> serde_json::Value {
        json!({"grade": self.grades, "score": self.scores, "lists": self.lists, "missing": self.missing})
    }
}

pub fn run(args: &RateArgs, store: Option<probity_stores::StoreLocation>) -> anyhow::Result<u8> {
    ensure_duckdb()?;
    let (dir, _temp) = crate::bench::work_dir(args.dir.clone(), "probity-bench-rate-")?;
    let input = dir.join("input");
    let today = jiff::tz::TimeZone::UTC.to_datetime(jiff::Timestamp::now()).date();
    let book = Rulebook::parse(probity_rules::DEFAULT_RULEBOOK)?;
    if !input.join("records.jsonl").exists() {
        eprintln!(
            "generating {} subjects and {} records in {}…",
            args.enterprises,
            args.records,
            input.display()
        );
        let cfg = probity_synth::Config {
            enterprises: args.enterprises,
            records: args.records,
            seed: 42,
            dirty: 0.0,
            as_of: today,
        };
        write_generated(&input, &cfg, &book)?;
    }
    let (main, late) = split(&input, args.records, args.incremental)?;

    let lite = measure(
        &dir.join("probity"),
        &probity_stores::StoreLocation::Sqlite,
        &input,
        &main,
        &late,
        today,
    )?;
    let postgres = match &store {
        Some(location @ probity_stores::StoreLocation::Postgres { .. }) => {
            eprintln!("the same on PostgreSQL…");
            Some(measure(&dir.join("probity-postgres"), location, &input, &main, &late, today)?)
        }
        _ => None,
    };
    let reg = &lite.registry;

    eprintln!("duckdb: the same scores, grades and lists in SQL…");
    let sql_path = dir.join("rate.sql");
    std::fs::write(&sql_path, rate_sql(reg.rulebook_at(today), today)?)?;
    let script = dir.join("bench-rate-duckdb.py");
    std::fs::write(&script, DUCKDB_SCRIPT)?;
    let out_csv = dir.join("duckdb-answers.csv");
    let o = std::process::Command::new("python3")
        .arg(&script)
        .arg("--sql")
        .arg(&sql_path)
        .arg("--input")
        .arg(&input)
        .arg("--out")
        .arg(&out_csv)
        .output()
        .context("cannot run python3")?;
    anyhow::ensure!(o.status.success(), "duckdb failed: {}", String::from_utf8_lossy(&o.stderr));
    let times: serde_json::Value = serde_json::from_slice(&o.stdout)?;
    let duck_secs =
        times.get("compute_seconds").and_then(serde_json::Value::as_f64).unwrap_or(f64::NAN);
    let duck_load =
        times.get("load_seconds").and_then(serde_json::Value::as_f64).unwrap_or(f64::NAN);

    let ours = probity_answers(reg)?;
    let theirs = duckdb_answers(&out_csv)?;
    let d = Disagreements::between(&ours, &theirs);
    let on_postgres = match &postgres {
        Some(pg) => {
            let answers = probity_answers(&pg.registry)?;
            Some((pg, Disagreements::between(&answers, &theirs), answers.len() as u64))
        }
        None => None,
    };
    let subjects = ours.len() as u64;
    let (full_secs, rewrite_secs, inc_secs) = (lite.full_secs, lite.rewrite_secs, lite.inc_secs);
    let ratio = duck_secs / full_secs;
    if args.json {
        outln!(
            "{}",
            json!({
                "subjects": subjects, "records": args.records, "as_of": today.to_string(),
                "probity_full_rerate_seconds": full_secs, "probity_rated": lite.rated,
                "probity_full_rewrite_seconds": rewrite_secs,
                "duckdb_over_probity_rewrite": duck_secs / rewrite_secs,
                "duckdb_compute_seconds": duck_secs, "duckdb_load_seconds": duck_load,
                "duckdb_over_probity": ratio,
                "incremental_records": lite.inc.accepted, "incremental_subjects_rated": lite.inc.rated,
                "incremental_seconds": inc_secs,
                "disagreements": d.json(),
                "examples": d.examples,
                "postgres": on_postgres.as_ref().map(|(pg, d, n)| json!({
                    "subjects": n,
                    "full_rerate_seconds": pg.full_secs, "rated": pg.rated,
                    "full_rewrite_seconds": pg.rewrite_secs,
                    "duckdb_over_probity": duck_secs / pg.full_secs,
                    "duckdb_over_probity_rewrite": duck_secs / pg.rewrite_secs,
                    "sqlite_over_postgres": full_secs / pg.full_secs,
                    "sqlite_over_postgres_rewrite": rewrite_secs / pg.rewrite_secs,
                    "incremental_records": pg.inc.accepted, "incremental_subjects_rated": pg.inc.rated,
                    "incremental_seconds": pg.inc_secs,
                    "disagreements": d.json(),
                    "examples": d.examples,
                })),
            })
        );
    } else {
        outln!("{subjects} subjects, {} records, as of {today}", args.records);
        outln!(
            "probity full re-rate: {full_secs:.1} s ({:.0} subjects/s)",
            lite.rated as f64 / full_secs
        );
        outln!(
            "probity full re-rate as of tomorrow, every row rewritten: {rewrite_secs:.1} s ({:.0} subjects/s)",
            lite.rated as f64 / rewrite_secs
        );
        outln!("duckdb compute:       {duck_secs:.1} s (loading the files: {duck_load:.1} s)");
        outln!("duckdb / probity:     {ratio:.2} (≥ 1 means probity is no slower)");
        outln!("duckdb / probity, every row rewritten: {:.2}", duck_secs / rewrite_secs);
        outln!(
            "incremental: {} records re-rated {} subjects in {:.0} ms (import included)",
            lite.inc.accepted,
            lite.inc.rated,
            inc_secs * 1000.0
        );
        outln!(
            "disagreements over {subjects} subjects: grade {}, score {}, lists {}, missing {}",
            d.grades,
            d.scores,
            d.lists,
            d.missing
        );
        for e in &d.examples {
            outln!("  {e}");
        }
        if let Some((pg, pd, n)) = &on_postgres {
            outln!("on PostgreSQL:");
            outln!(
                "  full re-rate: {:.1} s ({:.0} subjects/s; duckdb / probity {:.2}; SQLite took {:.2}× as long)",
                pg.full_secs,
                pg.rated as f64 / pg.full_secs,
                duck_secs / pg.full_secs,
                full_secs / pg.full_secs
            );
            outln!(
                "  every row rewritten: {:.1} s (duckdb / probity {:.2})",
                pg.rewrite_secs,
                duck_secs / pg.rewrite_secs
            );
            outln!(
                "  incremental: {} records re-rated {} subjects in {:.0} ms",
                pg.inc.accepted,
                pg.inc.rated,
                pg.inc_secs * 1000.0
            );
            outln!(
                "  disagreements over {n} subjects: grade {}, score {}, lists {}, missing {}",
                pd.grades,
                pd.scores,
                pd.lists,
                pd.missing
            );
            for e in &pd.examples {
                outln!("    {e}");
            }
        }
    }
    let failed = d.total() + on_postgres.as_ref().map_or(0, |(_, d, _)| d.total());
    Ok(if failed == 0 { exit::OK } else { exit::FAILURE })
}
