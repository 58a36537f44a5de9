//! The commands other than the benchmarks.

use probity_stores::StoreLocation;
use probity_stores::Stores as _;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use probity_core::Date;
use probity_registry::{
    Format, ImportOptions, ImportReport, Profile, Registry, Rejected, Rejects, Table,
};
use probity_rules::Rulebook;
use probity_synth::{Config, Outputs, Summary};
use serde_json::json;

use crate::progress::Bar;
use crate::{
    Cli, Command, DemoArgs, ExceptionCommand, FormatArg, GenerateArgs, ImportArgs, RulebookCommand,
    TableArg, exit,
};

/// Runs a parsed command line and returns the exit status.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let data = cli.data;
    let store = cli.store.as_deref().map(|s| StoreLocation::parse(s, &cli.store_schema));
    // Commands that make a registry of their own, rather than open the one at `--data`.
    let makes_its_own = match cli.command {
        Command::Init { .. } | Command::Generate(_) => true,
        #[cfg(feature = "bench")]
        Command::Bench(_) => true,
        _ => false,
    };
    if let Some(wanted) = &store
        && !makes_its_own
        && Registry::exists(&data)
    {
        let actual = StoreLocation::of(&data)?;
        if &actual != wanted {
            bail!(
                "the registry at `{}` keeps its store elsewhere ({}); leave out --store or give that one",
                data.display(),
                describe(&actual)
            );
        }
    }
    match cli.command {
        Command::Init { rulebook, origin } => {
            let text = rulebook
                .as_deref()
                .map(|p| {
                    std::fs::read_to_string(p)
                        .with_context(|| format!("cannot read rulebook `{}`", p.display()))
                })
                .transpose()?;
            let location = store.unwrap_or(StoreLocation::Sqlite);
            let reg = Registry::init_at(
                &data,
                &location,
                text.as_deref(),
                &origin,
                probity_registry::SystemClock,
            )?;
            let h = &reg.rulebook().header;
            outln!(
                "created registry at {} with rulebook {} version {}",
                data.display(),
                h.id,
                h.version
            );
            Ok(exit::OK)
        }
        Command::Generate(args) => generate(&args),
        Command::Import(args) => import(&data, &args),
        Command::Show { id, json, proof } => show(&data, &id, json, proof),
        Command::Stats { json } => stats(&data, json),
        Command::Rate { all, as_of, json: as_json } => {
            let mut reg = Registry::open(&data)?;
            let as_of = as_of.unwrap_or_else(|| reg.today());
            let bar = Bar::bytes(None, "rating");
            let started = std::time::Instant::now();
            let result = reg.rate_pass(as_of, all, &bar);
            bar.finish();
            let r = result?;
            let secs = started.elapsed().as_secs_f64();
            if as_json {
                outln!(
                    "{}",
                    json!({"rated": r.rated, "as_of": as_of.to_string(), "all": all, "seconds": secs})
                );
            } else {
                outln!("rated {} subjects as of {as_of} in {secs:.1}s", r.rated);
            }
            Ok(exit::OK)
        }
        Command::Redact { authority, decision_no, reason, dry_run, json: as_json } => {
            let mut reg = Registry::open(&data)?;
            let redacted = match (authority, decision_no) {
                (Some(authority), Some(decision_no)) => {
                    let key = probity_core::RecordKey {
                        authority: probity_core::Slug::parse("authority", &authority)?,
                        decision_no,
                    };
                    reg.redact_record(&key, &reason, dry_run)?;
                    vec![key]
                }
                _ => {
                    let bar = Bar::bytes(None, "redacting");
                    let result = reg.redact_expired(&reason, dry_run, &bar);
                    bar.finish();
                    result?.redacted
                }
            };
            if as_json {
                let keys: Vec<_> = redacted
                    .iter()
                    .map(|k| json!({"authority": k.authority.as_str(), "decision_no": k.decision_no}))
                    .collect();
                outln!("{}", json!({"redacted": keys, "dry_run": dry_run}));
            } else {
                let verb = if dry_run { "would redact" } else { "redacted" };
                for k in &redacted {
                    outln!("{verb} {} {}", k.authority, k.decision_no);
                }
                outln!("{verb} {} records", redacted.len());
            }
            Ok(exit::OK)
        }
        Command::WithholdText { authority, decision_no, reason, json: as_json } => {
            let mut reg = Registry::open(&data)?;
            let authority = probity_core::Slug::parse("authority", &authority)?;
            let key = probity_core::RecordKey { authority, decision_no };
            let index = reg.withhold_text(&key, &reason)?;
            if as_json {
                outln!(
                    "{}",
                    json!({"index": index, "authority": key.authority.as_str(), "decision_no": key.decision_no})
                );
            } else {
                outln!("withheld the text of {key} (log entry {index})");
            }
            Ok(exit::OK)
        }
        Command::Check { args, as_of, known_at, batch, json, proof } => {
            let (id, measure) = match (args.as_slice(), &batch) {
                ([measure], Some(_)) => (None, measure.as_str()),
                ([id, measure], None) => (Some(id.as_str()), measure.as_str()),
                (_, Some(_)) => bail!(
                    "with --batch, give only the measure: `probity check --batch FILE MEASURE`"
                ),
                _ => bail!("give a subject id and a measure: `probity check ID MEASURE`"),
            };
            let when = crate::check::When { as_of, known_at };
            crate::check::run(&data, id, measure, when, batch.as_deref(), json, proof)
        }
        Command::Exception(cmd) => exception(&data, cmd),
        Command::Rulebook(cmd) => rulebook(&data, cmd),
        Command::Demo(args) => demo(&data, &args),
        Command::Serve(args) => crate::serve::serve(&data, &args),
        Command::Authority(cmd) => crate::serve::authority(&data, cmd),
        Command::Company(cmd) => crate::serve::company(&data, cmd),
        Command::Operator(cmd) => crate::serve::operator(&data, cmd),
        Command::Subscriber(cmd) => crate::watchlist::subscriber(&data, cmd),
        Command::Watchlist(cmd) => crate::watchlist::run(cmd),
        #[cfg(feature = "bench")]
        Command::Bench(cmd) => crate::bench::run(cmd, store),
        Command::Log(cmd) => crate::log::run(&data, cmd),
        Command::Inspection(cmd) => crate::inspection::run(&data, cmd),
        Command::Witness(cmd) => crate::witness::run(&data, cmd),
        Command::Audit { from, sample, key, policy, state, json } => crate::log::audit(
            &from,
            sample,
            key.as_deref(),
            policy.as_deref(),
            state.as_deref(),
            json,
        ),
    }
}

/// A store location for messages, without secrets.
fn describe(l: &StoreLocation) -> String {
    match l {
        StoreLocation::Sqlite => "sqlite".into(),
        StoreLocation::Postgres { schema, .. } => format!("PostgreSQL schema `{schema}`"),
    }
}

pub fn today() -> Date {
    jiff::tz::TimeZone::UTC.to_datetime(jiff::Timestamp::now()).date()
}

/// Writes the three generated files into `out`.
pub fn write_generated(out: &Path, cfg: &Config, rulebook: &Rulebook) -> anyhow::Result<Summary> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create `{}`", out.display()))?;
    let create = |name: &str| -> anyhow::Result<BufWriter<File>> {
        let path = out.join(name);
        Ok(BufWriter::with_capacity(
            1 << 20,
            File::create(&path).with_context(|| format!("cannot create `{}`", path.display()))?,
        ))
    };
    let outputs = Outputs {
        authorities: create("authorities.csv")?,
        subjects: create("subjects.csv")?,
        records: create("records.jsonl")?,
    };
    Ok(probity_synth::generate(cfg, rulebook, outputs)?)
}

fn generate(args: &GenerateArgs) -> anyhow::Result<u8> {
    if !(0.0..=1.0).contains(&args.dirty) {
        bail!("--dirty `{}` is not a share between 0 and 1", args.dirty);
    }
    let cfg = Config {
        enterprises: args.volume.enterprises,
        records: args.volume.records,
        seed: args.volume.seed,
        dirty: args.dirty,
        as_of: args.as_of.unwrap_or_else(today),
    };
    let rulebook = Rulebook::parse(probity_rules::DEFAULT_RULEBOOK)?;
    let summary = write_generated(&args.out, &cfg, &rulebook)?;
    if args.json {
        outln!("{}", serde_json::to_string(&summary)?);
    } else {
        outln!(
            "wrote {} authorities, {} subjects ({} bad) and {} records ({} bad) to {}",
            summary.authorities,
            summary.subjects + summary.subjects_dirty,
            summary.subjects_dirty,
            summary.records + summary.records_dirty,
            summary.records_dirty,
            args.out.display()
        );
    }
    Ok(exit::OK)
}

/// Writes rejected rows as JSON lines.
struct RejectsFile {
    out: BufWriter<File>,
}

impl Rejects for RejectsFile {
    fn reject(&mut self, rejected: Rejected) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, &rejected)?;
        self.out.write_all(b"\n")
    }
}

/// Imports one file as its extension says, in batches of the default size, with a progress
/// bar; returns the report.
pub fn import_default(
    reg: &mut Registry,
    table: Table,
    file: &Path,
) -> anyhow::Result<ImportReport> {
    import_file(reg, table, file, None, None, probity_registry::DEFAULT_BATCH_SIZE).map(|(r, _)| r)
}

/// Imports one file with a progress bar; returns the report and the rejects path if any.
pub fn import_file(
    reg: &mut Registry,
    table: Table,
    file: &Path,
    format: Option<Format>,
    rejects: Option<PathBuf>,
    batch_size: usize,
) -> anyhow::Result<(ImportReport, PathBuf)> {
    let stdin = file == Path::new("-");
    let format = match format.or_else(|| Format::from_path(file)) {
        Some(f) => f,
        None => bail!(
            "cannot tell the format of `{}`; name it .csv or .jsonl, or pass --format",
            file.display()
        ),
    };
    let rejects_path = rejects.unwrap_or_else(|| {
        if stdin {
            PathBuf::from("stdin.rejects.jsonl")
        } else {
            file.with_extension(format!(
                "{}.rejects.jsonl",
                file.extension().and_then(|e| e.to_str()).unwrap_or("")
            ))
        }
    });
    let (input, size): (Box<dyn Read + Send>, Option<u64>) = if stdin {
        (Box::new(std::io::stdin()), None)
    } else {
        let f = File::open(file).with_context(|| format!("cannot open `{}`", file.display()))?;
        let size = f.metadata().ok().map(|m| m.len());
        (Box::new(f), size)
    };
    let out = File::create(&rejects_path)
        .with_context(|| format!("cannot create `{}`", rejects_path.display()))?;
    let mut sink = RejectsFile { out: BufWriter::new(out) };
    let bar = Bar::bytes(size, table.as_str());
    tracing::info!(file = %file.display(), table = table.as_str(), "import started");
    let result = reg.import(table, format, input, ImportOptions { batch_size }, &bar, &mut sink);
    bar.finish();
    sink.out.flush().with_context(|| format!("cannot write `{}`", rejects_path.display()))?;
    let report = result.with_context(|| {
        format!(
            "import of `{}` stopped; every batch reported before this point is stored",
            file.display()
        )
    })?;
    if report.rejected == 0 {
        let _ = std::fs::remove_file(&rejects_path);
    }
    tracing::info!(
        rows = report.rows,
        accepted = report.accepted,
        duplicate = report.duplicate,
        rejected = report.rejected,
        "import finished"
    );
    Ok((report, rejects_path))
}

fn import(data: &Path, args: &ImportArgs) -> anyhow::Result<u8> {
    let mut reg = Registry::open(data)?;
    let table = match args.table {
        TableArg::Authorities => Table::Authorities,
        TableArg::Subjects => Table::Subjects,
        TableArg::Records => Table::Records,
    };
    let format = args.format.map(|f| match f {
        FormatArg::Csv => Format::Csv,
        FormatArg::Jsonl => Format::Jsonl,
    });
    let started = std::time::Instant::now();
    let (report, rejects) =
        import_file(&mut reg, table, &args.file, format, args.rejects.clone(), args.batch_size)?;
    let secs = started.elapsed().as_secs_f64();
    if args.json {
        let mut v = serde_json::to_value(report)?;
        if let Some(m) = v.as_object_mut() {
            m.insert("table".into(), json!(table.as_str()));
            m.insert("seconds".into(), json!((secs * 1000.0).round() / 1000.0));
            let file = (report.rejected > 0).then(|| rejects.display().to_string());
            m.insert("rejects_file".into(), json!(file));
        }
        outln!("{v}");
    } else {
        outln!(
            "{}: {} rows, {} accepted, {} duplicate, {} rejected in {:.1}s",
            table.as_str(),
            report.rows,
            report.accepted,
            report.duplicate,
            report.rejected,
            secs
        );
        if report.rejected > 0 {
            outln!("rejected rows, with line numbers and reasons: {}", rejects.display());
        }
    }
    Ok(if report.rejected > 0 { exit::REJECTED_ROWS } else { exit::OK })
}

fn profile_json(p: &Profile) -> serde_json::Value {
    let records: Vec<_> = p
        .records
        .iter()
        .map(|r| {
            json!({
                "record": r.record,
                "status": r.status.as_str(),
                "filed_index": r.filed_index,
                "last_index": r.last_index,
                "recorded_at": r.recorded_at.to_string(),
            })
        })
        .collect();
    json!({
        "subject": p.subject.subject,
        "registered_index": p.subject.index,
        "recorded_at": p.subject.recorded_at.to_string(),
        "records": records,
    })
}

fn show(data: &Path, id: &str, as_json: bool, with_proof: bool) -> anyhow::Result<u8> {
    let reg = Registry::open(data)?;
    let id = reg.parse_id(id)?;
    let Some(p) = reg.profile(&id)? else {
        eprintln!("error: the registry holds no subject `{id}`");
        return Ok(exit::NOT_FOUND);
    };
    let proofs =
        if with_proof { Some(serde_json::to_value(reg.profile_proofs(&p)?)?) } else { None };
    let assessment = reg.assess(&p, reg.today());
    if as_json {
        let mut v = profile_json(&p);
        if let Some(m) = v.as_object_mut() {
            m.insert("assessment".into(), serde_json::to_value(&assessment)?);
        }
        if let (Some(m), Some(proofs)) = (v.as_object_mut(), &proofs) {
            m.insert("proof".into(), proofs.clone());
        }
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(exit::OK);
    }
    let s = &p.subject.subject;
    outln!("{}  {}", s.id, s.name);
    let region = s.region.map_or_else(|| "-".to_owned(), |r| r.to_string());
    let established = s.established.map_or_else(|| "-".to_owned(), |d| d.to_string());
    outln!(
        "  kind {} · status {} · region {} · established {}",
        s.kind.as_str(),
        s.status.as_str(),
        region,
        established
    );
    if !s.former_names.is_empty() {
        outln!("  formerly {}", s.former_names.join("; "));
    }
    outln!("  registered at journal index {} on {}", p.subject.index, p.subject.recorded_at);
    outln!("");
    if p.records.is_empty() {
        outln!("no records");
    } else {
        outln!("{} records:", p.records.len());
    }
    crate::check::print_assessment(&assessment)?;
    outln!("");
    if let Some(proofs) = &proofs {
        outln!("{}", serde_json::to_string_pretty(proofs)?);
    }
    for r in &p.records {
        let rec = &r.record;
        outln!(
            "  {} {} [{}] {} {}",
            rec.effective,
            rec.kind,
            r.status.as_str(),
            rec.authority,
            rec.decision_no
        );
        outln!("      basis: {}", rec.basis);
        if !rec.summary.is_empty() {
            outln!("      {}", rec.summary);
        }
        if let Some(m) = rec.amount {
            outln!("      amount: {m}");
        }
    }
    Ok(exit::OK)
}

fn stats(data: &Path, as_json: bool) -> anyhow::Result<u8> {
    let reg = Registry::open(data)?;
    let c = reg.counts()?;
    let h = &reg.rulebook().header;
    if as_json {
        outln!(
            "{}",
            json!({
                "subjects": c.subjects, "authorities": c.authorities, "records": c.records,
                "events": c.events, "code_exceptions": c.code_exceptions,
                "rulebook": {"id": h.id.as_str(), "version": h.version},
            })
        );
    } else {
        outln!("registry {}", data.display());
        outln!("  rulebook     {} version {}", h.id, h.version);
        outln!("  authorities  {}", c.authorities);
        outln!("  subjects     {}", c.subjects);
        outln!("  records      {}", c.records);
        outln!("  events       {}", c.events);
        outln!("  exceptions   {}", c.code_exceptions);
    }
    Ok(exit::OK)
}

fn exception(data: &Path, cmd: ExceptionCommand) -> anyhow::Result<u8> {
    let mut reg = Registry::open(data)?;
    match cmd {
        ExceptionCommand::Add { code, reason } => {
            if reg.admit_code_exception(&code, &reason)? {
                outln!("admitted `{}` to the exception list", code.trim().to_ascii_uppercase());
            } else {
                outln!("`{}` is already on the exception list", code.trim().to_ascii_uppercase());
            }
        }
        ExceptionCommand::List { json } => {
            let codes = reg.store().code_exceptions()?;
            if json {
                outln!("{}", serde_json::to_string(&codes)?);
            } else {
                for c in &codes {
                    outln!("{c}");
                }
            }
        }
    }
    Ok(exit::OK)
}

fn rulebook(data: &Path, cmd: RulebookCommand) -> anyhow::Result<u8> {
    let mut reg = Registry::open(data)?;
    let read = |file: &Path| {
        std::fs::read_to_string(file)
            .with_context(|| format!("cannot read rulebook `{}`", file.display()))
    };
    match cmd {
        RulebookCommand::Show { json: as_json } => {
            let now = reg.rulebook();
            let history: Vec<_> = reg
                .rulebooks()
                .map(|b| {
                    json!({"id": b.header.id.as_str(), "version": b.header.version, "effective": b.header.effective.to_string()})
                })
                .collect();
            if as_json {
                outln!(
                    "{}",
                    json!({"in_force": {"id": now.header.id.as_str(), "version": now.header.version}, "adopted": history})
                );
            } else {
                outln!(
                    "in force: {} version {} (effective {})",
                    now.header.id,
                    now.header.version,
                    now.header.effective
                );
                outln!(
                    "  {} kinds, {} lists, {} measures",
                    now.kinds().count(),
                    now.lists().count(),
                    now.measures().count()
                );
                for b in reg.rulebooks() {
                    outln!(
                        "adopted: {} version {} effective {}",
                        b.header.id,
                        b.header.version,
                        b.header.effective
                    );
                }
            }
        }
        RulebookCommand::Diff { file, as_of, json: as_json } => {
            let text = read(&file)?;
            let new =
                Rulebook::parse(&text).map_err(|e| anyhow::anyhow!("`{}`: {e}", file.display()))?;
            let as_of = as_of.unwrap_or_else(|| new.header.effective.max(reg.today()));
            let bar = Bar::bytes(None, "subjects");
            let result = reg.diff_rulebook(&text, as_of, &bar);
            bar.finish();
            crate::print_json_or(as_json, &result?, |d| {
                outln!(
                    "{} → {} on {as_of}, {} subjects assessed under both",
                    d.from,
                    d.to,
                    d.subjects
                );
                outln!(
                    "  grades: {} better, {} worse, {} renamed",
                    d.grade_better,
                    d.grade_worse,
                    d.grade_other
                );
                for (l, n) in &d.list_joins {
                    outln!("  list {l}: {n} would join");
                }
                for (l, n) in &d.list_leaves {
                    outln!("  list {l}: {n} would leave");
                }
                for (m, f) in &d.flips {
                    for (k, n) in f {
                        outln!("  {m}: {n} {k}");
                    }
                }
                for s in &d.samples {
                    outln!(
                        "  e.g. {}: grade {:?} → {:?}; {}",
                        s.subject,
                        s.grade_from,
                        s.grade_to,
                        s.flips.join("; ")
                    );
                }
                Ok(())
            })?;
        }
        RulebookCommand::Adopt { file } => {
            let text = read(&file)?;
            if reg.adopt_rulebook(&text)? {
                if let Some(b) = reg.rulebooks().last() {
                    outln!(
                        "adopted {} version {}; assessments follow it from {}",
                        b.header.id,
                        b.header.version,
                        b.header.effective
                    );
                }
            } else {
                outln!("this version was adopted already");
            }
        }
    }
    Ok(exit::OK)
}

/// Marks a registry directory made by `probity demo`, which the next demo may replace.
const DEMO_MARKER: &str = "DEMO";

fn demo(data: &Path, args: &DemoArgs) -> anyhow::Result<u8> {
    if Registry::exists(data) {
        if !data.join(DEMO_MARKER).exists() {
            bail!("`{}` holds a registry that is not a demo; pass another --data", data.display());
        }
        std::fs::remove_dir_all(data)
            .with_context(|| format!("cannot remove the old demo at `{}`", data.display()))?;
    }
    let input = data.join("demo-input");
    let rulebook = Rulebook::parse(probity_rules::DEFAULT_RULEBOOK)?;
    let cfg = Config {
        enterprises: args.volume.enterprises,
        records: args.volume.records,
        seed: args.volume.seed,
        dirty: 0.0,
        as_of: today(),
    };
    eprintln!("generating {} enterprises and {} records…", cfg.enterprises, cfg.records);
    write_generated(&input, &cfg, &rulebook)?;
    // The demo's history starts in 2023, so that an inspection plan can come before the drand
    // round shipped with probity: the registry is made on a clock stopped before that round,
    // with the subjects established and the records in force by then; the plan is filed, then
    // drawn the next day; then the rest of the history is filed on today's clock.
    let (early, late) = split_demo_input(&input, Date::constant(2023, 8, 22))?;
    let before = crate::inspection::stopped_at(crate::inspection::BEFORE_SHIPPED_ROUND)?;
    // It starts on the rulebook then in force, the default's version 2023.5, and adopts the
    // current version once it is back on today's clock, as an operator would.
    let first_rulebook = Some(probity_rules::DEFAULT_RULEBOOK_2023);
    let mut reg =
        Registry::init_with_clock(data, first_rulebook, probity_registry::DEFAULT_ORIGIN, before)?;
    std::fs::write(
        data.join(DEMO_MARKER),
        "made by `probity demo`; the next demo replaces this directory\n",
    )?;
    let mut tables = [
        (Table::Authorities, "authorities.csv", 0u64),
        (Table::Subjects, "subjects.csv", 0),
        (Table::Records, "records.jsonl", 0),
    ];
    for (table, name, imported) in &mut tables {
        let report = import_default(&mut reg, *table, &early.join(name))?;
        *imported += report.accepted;
    }
    let key = crate::inspection::file_sample_plan(&mut reg, "2023-DR-01")?;
    let after = crate::inspection::stopped_at(crate::inspection::AFTER_SHIPPED_ROUND)?;
    let mut reg = reg.with_clock(after);
    let draw = crate::inspection::draw_with_shipped_round(&mut reg, &key, &())?;
    let outcomes = crate::inspection::sample_outcomes(&mut reg, &key, &draw)?;
    let mut reg = reg.with_clock(probity_registry::SystemClock);
    // A bank watches the companies the rest of the history is about, so that its watchlist
    // shows the answer changes that history makes.
    let (subscriber, watchlist) = demo_watchlist(&mut reg, &late.join("records.jsonl"))?;
    let adopted = demo_adopt_current_rulebook(&mut reg)?;
    for (table, name, imported) in tables.iter_mut().skip(1) {
        let report = import_default(&mut reg, *table, &late.join(name))?;
        *imported += report.accepted;
    }
    for (table, _, n) in tables {
        outln!("{:<12} {n} imported", table.as_str());
    }
    outln!(
        "inspection   plan {key} drawn with drand quicknet round 123: {} of {} selected, {outcomes} \
         outcomes filed",
        draw.selected.len(),
        draw.population.values().sum::<u64>()
    );
    outln!("{adopted}");
    let first = std::fs::read_to_string(input.join("subjects.csv"))?
        .lines()
        .nth(1)
        .and_then(|l| l.split(',').next().map(str::to_owned))
        .unwrap_or_default();
    let operator = reg.issue_key(&probity_registry::Actor::Operator, None)?;
    let authority = reg.store().authorities()?.into_iter().next().map(|a| a.id);
    let authority_key = authority
        .as_ref()
        .map(|a| reg.issue_key(&probity_registry::Actor::Authority(a.clone()), None))
        .transpose()?;
    // The demo company is one the demo authority has a record shown about, so that the whole
    // due-process story (object, answer, decide) can be played with the two printed keys.
    let first = authority
        .as_ref()
        .and_then(|a| {
            let records = std::fs::read_to_string(input.join("records.jsonl")).ok()?;
            records.lines().find_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                let field = |k: &str| v.get(k).and_then(serde_json::Value::as_str);
                let effective: probity_core::Date = field("effective")?.parse().ok()?;
                let shown = rulebook
                    .kind(field("kind")?)
                    .is_some_and(|k| k.published_for.after(effective) > today());
                (field("authority")? == a.as_str() && shown)
                    .then(|| field("subject").map(str::to_owned))?
            })
        })
        .unwrap_or(first);
    let company = reg.parse_id(&first)?;
    let company_key = reg.issue_key(&probity_registry::Actor::Company(company), None)?;
    outln!("");
    outln!("demo registry ready at {}", data.display());
    outln!("  look up a company:   probity --data {} show {first}", data.display());
    outln!("  count everything:    probity --data {} stats", data.display());
    outln!("");
    outln!("demo keys (shown once; send as `authorization: Bearer KEY`):");
    outln!("  operator:            {operator}");
    if let (Some(a), Some(k)) = (authority, authority_key) {
        outln!("  authority {a:<9} {k}");
    }
    outln!("  company {first}: {company_key}");
    outln!("  subscriber bank-demo: {subscriber}");
    outln!(
        "watchlist {watchlist}: {} answer changes so far (probity watchlist changes {watchlist} \
         --key KEY)",
        reg.watchlist_changes(&demo_bank()?, &watchlist, 0, 1000)?.changes.len()
    );
    if args.no_serve {
        return Ok(exit::OK);
    }
    let log_key = reg.verifier_key()?;
    drop(reg);
    let serve = crate::serve::ServeArgs::local(args.listen);
    // Two witnesses, each a registry of its own served by its own process, cosign the demo's
    // checkpoints; they stop when the demo does.
    let witnesses = start_demo_witnesses(data, &log_key)?;
    outln!("");
    outln!("witnesses (separate processes; a checkpoint is served once both have cosigned it):");
    for w in &witnesses {
        outln!("  {}  {}  {}", w.name, w.url, w.key);
    }
    outln!("open the portal:       http://{}/", args.listen);
    outln!(
        "  sign in at /account/sign-in with the authority key, the company credential or the \
         subscriber key"
    );
    outln!(
        "serving the API at http://{}/v1/ (OpenAPI: /v1/openapi.json); Ctrl-C stops",
        args.listen
    );
    std::io::stdout().flush()?;
    let served = crate::serve::serve(data, &serve);
    drop(witnesses);
    served
}

/// Adopts the shipped rulebook over the demo's first one, as `probity rulebook adopt` does,
/// after weighing what it changes; the rating pass that follows brings every answer to it.
/// Returns the line that says so.
fn demo_adopt_current_rulebook(reg: &mut Registry) -> anyhow::Result<String> {
    // Answers first move to today under the rulebook they were given by, so that the changes
    // the adoption makes are its own.
    reg.rate_pass(reg.today(), false, &())?;
    let from = reg.rulebook().header.version.clone();
    let text = probity_rules::DEFAULT_RULEBOOK;
    let diff = reg.diff_rulebook(text, reg.today(), &())?;
    let moved: u64 = diff.flips.values().flat_map(|f| f.values()).sum();
    reg.adopt_rulebook(text)?;
    let to = reg.rulebook().header.version.clone();
    reg.rate_pass(reg.today(), false, &())?;
    Ok(format!(
        "rulebook     {to} adopted over {from} (`probity rulebook diff` before it: {} subjects \
         assessed, {} grades better, {} worse, {moved} answers to a measure change); the rules \
         that changed: /rulebook?from={from}&to={to}",
        diff.subjects, diff.grade_better, diff.grade_worse
    ))
}

fn demo_bank() -> anyhow::Result<probity_registry::Actor> {
    Ok(probity_registry::Actor::Subscriber(probity_core::Slug::parse("subscriber", "bank-demo")?))
}

/// The demo's subscriber and its watchlist of up to 300 companies the records in `records`
/// (JSON Lines) are about: returns the subscriber's key and the watchlist's id.
fn demo_watchlist(reg: &mut Registry, records: &Path) -> anyhow::Result<(String, String)> {
    let mut codes: Vec<String> = Vec::new();
    for line in std::fs::read_to_string(records)?.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        if let Some(s) = v.get("subject").and_then(serde_json::Value::as_str)
            && !codes.iter().any(|c| c == s)
        {
            codes.push(s.to_owned());
        }
        if codes.len() == 300 {
            break;
        }
    }
    let bank = demo_bank()?;
    let key = reg.issue_key(&bank, None)?;
    let (list, _) = reg.create_watchlist(&bank, "demo borrowers", vec![], None)?;
    reg.watch(&bank, &list.id, &codes)?;
    Ok((key, list.id))
}

/// A witness of the demo's log: a `probity serve` process of its own registry, stopped when
/// dropped (or when the demo's process is gone, as its standard input then ends).
struct DemoWitness {
    child: std::process::Child,
    name: String,
    url: String,
    key: String,
}

impl Drop for DemoWitness {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts two witnesses of the log whose verifier key is `log_key`, in directories under
/// `data`, and writes the demo registry's witness policy (both must cosign).
fn start_demo_witnesses(data: &Path, log_key: &str) -> anyhow::Result<Vec<DemoWitness>> {
    use std::io::BufRead as _;
    let mut witnesses = Vec::new();
    for i in 1..=2 {
        let dir = data.join("demo-witnesses").join(format!("w{i}"));
        let reg = Registry::init_with_origin(&dir, None, &format!("witness-{i}.localhost/log"))?;
        std::fs::write(dir.join(probity_registry::FOLLOWED_FILE), format!("log {log_key}\n"))?;
        let key = reg.witness_key()?.verifier_key();
        drop(reg);
        let mut child = std::process::Command::new(std::env::current_exe()?)
            .arg("--data")
            .arg(&dir)
            .args(["serve", "--listen", "127.0.0.1:0", "--sweep-minutes", "0", "--stop-with-stdin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .context("cannot start a demo witness")?;
        let stderr = child.stderr.take().context("no stderr of a demo witness")?;
        let mut lines = std::io::BufReader::new(stderr).lines();
        let mut witness = DemoWitness { child, name: format!("w{i}"), url: String::new(), key };
        let listening = lines
            .by_ref()
            .find_map(|l| l.ok().and_then(|l| l.strip_prefix("listening on ").map(str::to_owned)));
        witness.url =
            format!("{}/witness", listening.context("a demo witness did not start serving")?);
        // Keep reading its log, so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        witnesses.push(witness);
    }
    let mut policy = format!("log {log_key}\n");
    for w in &witnesses {
        policy.push_str(&format!("witness {} {} {}\n", w.name, w.key, w.url));
    }
    policy.push_str("group both all w1 w2\nquorum both\n");
    std::fs::write(data.join(probity_registry::WITNESSES_FILE), policy)?;
    Ok(witnesses)
}

/// Splits the demo's generated input into what the registry knew on `cutoff` (subjects
/// established by then, and their records in effect by then) and the rest, in two directories
/// beside it, `early` and `late`, with the same file names. Authorities are all early.
fn split_demo_input(input: &Path, cutoff: Date) -> anyhow::Result<(PathBuf, PathBuf)> {
    let (early, late) = (input.join("early"), input.join("late"));
    for dir in [&early, &late] {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::copy(input.join("authorities.csv"), early.join("authorities.csv"))?;
    std::fs::write(late.join("authorities.csv"), "id,name,category,jurisdiction\n")?;
    let mut known = std::collections::HashSet::new();
    let mut reader = csv::Reader::from_path(input.join("subjects.csv"))?;
    let headers = reader.headers()?.clone();
    let established = headers
        .iter()
        .position(|h| h == "established")
        .context("the generated subjects have no `established` column")?;
    let mut w_early = csv::Writer::from_path(early.join("subjects.csv"))?;
    let mut w_late = csv::Writer::from_path(late.join("subjects.csv"))?;
    w_early.write_record(&headers)?;
    w_late.write_record(&headers)?;
    for row in reader.records() {
        let row = row?;
        let on: Option<Date> = row.get(established).and_then(|d| d.parse().ok());
        if on.is_none_or(|d| d <= cutoff) {
            known.insert(row.get(0).unwrap_or_default().to_owned());
            w_early.write_record(&row)?;
        } else {
            w_late.write_record(&row)?;
        }
    }
    w_early.flush()?;
    w_late.flush()?;
    let text = std::fs::read_to_string(input.join("records.jsonl"))?;
    let (mut e, mut l) = (String::new(), String::new());
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let field = |k: &str| v.get(k).and_then(serde_json::Value::as_str).unwrap_or_default();
        let in_force = field("effective").parse::<Date>().is_ok_and(|d| d <= cutoff);
        let out = if in_force && known.contains(field("subject")) { &mut e } else { &mut l };
        out.push_str(line);
        out.push('\n');
    }
    std::fs::write(early.join("records.jsonl"), e)?;
    std::fs::write(late.join("records.jsonl"), l)?;
    Ok((early, late))
}
