//! `probity check`: may this company take part in this measure, and why?

use probity_stores::Stores as _;
use std::io::BufRead;
use std::path::Path;

use anyhow::{Context as _, bail};
use probity_core::Date;
use probity_registry::Registry;
use probity_rules::Assessment;
use serde_json::json;

use crate::exit;

/// The two time axes of a question.
#[derive(Debug, Clone, Copy)]
pub struct When {
    /// The date the answer is about (default: today).
    pub as_of: Option<Date>,
    /// Answer with what the registry had recorded by the end of this date (default: everything).
    pub known_at: Option<Date>,
}

/// One answer to `check`, as printed and as serialised.
#[derive(serde::Serialize)]
struct Answer {
    #[serde(flatten)]
    answer: probity_registry::CheckAnswer,
    #[serde(skip_serializing_if = "Option::is_none")]
    proof: Option<probity_registry::ProfileProofs>,
}

/// One answer, or `None` if the registry does not hold the subject.
fn answer(
    reg: &Registry,
    id: &str,
    measure: &str,
    as_of: Date,
    known_at: Option<Date>,
    proof: bool,
) -> anyhow::Result<Option<Answer>> {
    let Some(answer) = reg.check(id, measure, as_of, known_at)? else {
        return Ok(None);
    };
    let proof = if proof { reg.check_proofs(id, known_at)? } else { None };
    Ok(Some(Answer { answer, proof }))
}

pub fn run(
    data: &Path,
    id: Option<&str>,
    measure: &str,
    when: When,
    batch: Option<&Path>,
    as_json: bool,
    proof: bool,
) -> anyhow::Result<u8> {
    let reg = Registry::open(data)?;
    let as_of = when.as_of.or(when.known_at).unwrap_or_else(|| reg.today());
    if let Some(file) = batch {
        let input: Box<dyn BufRead> = if file == Path::new("-") {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::io::BufReader::new(
                std::fs::File::open(file)
                    .with_context(|| format!("cannot open `{}`", file.display()))?,
            ))
        };
        for (n, line) in input.lines().enumerate() {
            let line = line
                .with_context(|| format!("cannot read line {} of `{}`", n + 1, file.display()))?;
            let id = line.trim();
            if id.is_empty() {
                continue;
            }
            let v = match answer(&reg, id, measure, as_of, when.known_at, proof) {
                Ok(Some(a)) => serde_json::to_value(a)?,
                Ok(None) => {
                    json!({"line": n + 1, "subject": id, "error": format!("the registry holds no subject `{id}`")})
                }
                Err(e) => json!({"line": n + 1, "subject": id, "error": format!("{e:#}")}),
            };
            outln!("{v}");
        }
        return Ok(exit::OK);
    }
    let Some(id) = id else { bail!("give a subject id or --batch FILE") };
    let Some(Answer { answer: a, proof }) = answer(&reg, id, measure, as_of, when.known_at, proof)?
    else {
        eprintln!("error: the registry holds no subject `{id}`");
        return Ok(exit::NOT_FOUND);
    };
    if as_json {
        outln!("{}", serde_json::to_string(&Answer { answer: a.clone(), proof: proof.clone() })?);
    } else {
        outln!(
            "{}: {} {} for {measure} as of {as_of}",
            a.decision.to_uppercase(),
            a.subject,
            a.name
        );
        for r in &a.reasons {
            outln!("  because {} (records {:?}); basis: {}", r.cause, r.records, r.basis);
        }
        if let (Some(on), Some(to)) = (a.changes_on, a.changes_to) {
            outln!("  changes to {to} on {on}");
        }
        if let (Some(grade), Some(score)) = (&a.grade, a.score) {
            outln!("  grade {grade} (score {score})");
        }
        outln!("  under rulebook {} version {}", a.rulebook.id, a.rulebook.version);
        if let Some(p) = &proof {
            if p.witnesses.is_empty() {
                outln!("  proved against the checkpoint of size {}", p.size);
            } else {
                let names: Vec<&str> = p.witnesses.iter().map(|w| w.witness.as_str()).collect();
                outln!(
                    "  proved against the checkpoint of size {}, cosigned by {}",
                    p.size,
                    names.join(", ")
                );
            }
            outln!("{}", serde_json::to_string_pretty(p)?);
        }
    }
    Ok(match a.decision {
        "allow" => exit::OK,
        "flag" => exit::FLAG,
        _ => exit::DENY,
    })
}

/// The assessment in words, for `probity show`.
pub fn print_assessment(a: &Assessment) -> anyhow::Result<()> {
    outln!("");
    outln!("assessment as of {} (rulebook {} {})", a.as_of, a.rulebook, a.version);
    if let (Some(score), Some(grade)) = (a.score, &a.grade) {
        outln!("  grade {grade}, score {score}");
    }
    for n in &a.grade_notes {
        outln!("  {n}");
    }
    for e in &a.effects {
        outln!(
            "  record {} ({}) counts {:+} until {}; basis: {}",
            e.record,
            e.kind,
            e.points,
            e.until,
            e.basis
        );
        if let (Some(opens), Some(grade)) = (e.repair_opens, &e.grade_if_repaired) {
            outln!(
                "      repair may be applied for from {opens}; once repaired the grade would be {grade}"
            );
        }
    }
    for l in &a.lists {
        let until =
            l.until.map_or_else(|| "while the grade holds".to_owned(), |u| format!("until {u}"));
        outln!("  on list {} {until}", l.list);
    }
    for m in &a.measures {
        let change = match (m.changes_on, m.changes_to) {
            (Some(d), Some(t)) => format!("; {} from {d}", t.as_str()),
            _ => String::new(),
        };
        outln!("  {}: {}{change}", m.measure, m.decision.as_str());
    }
    Ok(())
}
