//! Watchlists report exactly the answer changes that a brute-force comparison of every watched
//! subject's answer before and after finds: for filings, corrections, withdrawals, repairs,
//! expiries and rulebook adoptions, with nothing for unwatched subjects and nothing for an
//! event that moves no answer.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeMap;

use common::{at, import};
use probity_core::{RecordKey, Slug, Step, SubjectId};
use probity_registry::{Actor, Format, Registry, Table};
use probity_store::{Answer, Cause};

/// Watched subjects; the registry holds [`UNWATCHED`] more.
const WATCHED: u32 = 10_000;
const UNWATCHED: u32 = 400;

fn id(n: u32) -> SubjectId {
    probity_store::conformance::uscc(n)
}

fn amr() -> Slug {
    Slug::parse("a", "bj-amr").unwrap()
}

/// Every subject's answer today, computed afresh from its records: the brute force.
fn answers(reg: &Registry, n: u32) -> BTreeMap<SubjectId, Answer> {
    (0..n)
        .map(|i| {
            let p = reg.profile(&id(i)).unwrap().unwrap();
            let a = reg.assess(&p, reg.today());
            let mut lists: Vec<String> = a.lists.iter().map(|l| l.list.clone()).collect();
            lists.sort();
            let answer = Answer {
                grade: a.grade.clone(),
                lists,
                decisions: a
                    .measures
                    .iter()
                    .map(|m| (m.measure.clone(), m.decision.as_str().to_owned()))
                    .collect(),
            };
            (id(i), answer)
        })
        .collect()
}

/// The subjects whose answer differs between `before` and `after`, with both answers, as far as
/// `measures` matter.
fn differences(
    before: &BTreeMap<SubjectId, Answer>,
    after: &BTreeMap<SubjectId, Answer>,
    measures: &[String],
) -> BTreeMap<SubjectId, (Answer, Answer)> {
    after
        .iter()
        .filter_map(|(s, a)| {
            let (b, a) = (before[s].narrowed(measures), a.narrowed(measures));
            (b != a).then_some((*s, (b, a)))
        })
        .collect()
}

/// Every change a watchlist reports after `after`, page by page, composed per subject (the
/// first answer before and the last after, dropped if they are equal), and the causes seen.
fn reported(
    reg: &Registry,
    who: &Actor,
    list: &str,
    after: &mut u64,
) -> (BTreeMap<SubjectId, (Answer, Answer)>, Vec<Cause>) {
    let mut net: BTreeMap<SubjectId, (Answer, Answer)> = BTreeMap::new();
    let mut causes = Vec::new();
    loop {
        let page = reg.watchlist_changes(who, list, *after, 700).unwrap();
        for c in page.changes {
            assert!(c.position > *after);
            assert!(!c.changed.is_empty(), "a change names what moved: {c:?}");
            let before = c.before.clone().expect("every watched subject had an answer");
            net.entry(c.subject).or_insert((before, c.after.clone())).1 = c.after.clone();
            causes.push(c.cause);
        }
        *after = page.next;
        if !page.more {
            break;
        }
    }
    net.retain(|_, (b, a)| b != a);
    (net, causes)
}

struct Watch {
    list: String,
    measures: Vec<String>,
    after: u64,
    n: u32,
}

#[test]
fn a_watchlist_of_ten_thousand_reports_exactly_the_answer_changes_brute_force_finds() {
    let dir = tempfile::tempdir().unwrap();
    let total = WATCHED + UNWATCHED;
    let mut subjects = String::from("id,name,established\n");
    let mut records = String::from("authority,decision_no,subject,kind,decided,effective,basis\n");
    for i in 0..total {
        subjects.push_str(&format!("{},测试企业{i}有限公司,2010-01-01\n", id(i)));
        if i % 3 == 0 {
            // Counts three months: ends on 2027-01-15.
            let s = id(i);
            records.push_str(&format!(
                "bj-amr,M-{i},{s},penalty.minor,2026-10-10,2026-10-15,Art. 1\n"
            ));
        }
        if i % 7 == 0 {
            let s = id(i);
            records.push_str(&format!(
                "bj-amr,AB-{i},{s},registration.abnormal,2026-10-25,2026-11-01,Art. 2\n"
            ));
        }
    }
    let mut reg = common::registry_with(dir.path(), "2026-12-01T08:00:00Z", &subjects);
    import(&mut reg, Table::Records, Format::Csv, &records);
    let today = reg.today();
    reg.rate_pass(today, true, &()).unwrap();

    let bank = Actor::Subscriber(Slug::parse("subscriber", "bank-1").unwrap());
    let (all, _) = reg.create_watchlist(&bank, "borrowers", vec![], None).unwrap();
    let bid = vec!["procurement.bid".to_owned()];
    let (narrow, _) = reg.create_watchlist(&bank, "bidders", bid.clone(), None).unwrap();
    let codes = |n: u32| (0..n).map(|i| id(i).to_string()).collect::<Vec<_>>();
    let report = reg.watch(&bank, &all.id, &codes(WATCHED)).unwrap();
    assert_eq!((report.added, report.already, report.rejected.len()), (10_000, 0, 0));
    reg.watch(&bank, &narrow.id, &codes(2_000)).unwrap();
    let mut watches = [
        Watch { list: all.id.clone(), measures: vec![], after: 0, n: WATCHED },
        Watch { list: narrow.id.clone(), measures: bid, after: 0, n: 2_000 },
    ];
    let mut before = answers(&reg, total);

    // Checks every watchlist against the brute force, and returns the causes the first reported.
    let mut check = |reg: &Registry, step: &str, before: &mut BTreeMap<SubjectId, Answer>| {
        let now = answers(reg, total);
        let mut causes = Vec::new();
        for w in &mut watches {
            let (got, c) = reported(reg, &bank, &w.list, &mut w.after);
            let watched: BTreeMap<SubjectId, Answer> =
                now.iter().take(w.n as usize).map(|(s, a)| (*s, a.clone())).collect();
            let want = differences(before, &watched, &w.measures);
            assert_eq!(got.len(), want.len(), "{step}: how many changed, in {}", w.list);
            assert_eq!(got, want, "{step}: the changes of {}", w.list);
            if causes.is_empty() {
                causes = c;
            }
        }
        *before = now;
        causes
    };

    // Filings: a moderate penalty for some watched and some unwatched subjects.
    let rows: Vec<String> = (0..300)
        .map(|i| i * 31)
        .chain(WATCHED..WATCHED + 50)
        .map(|i| {
            format!(
                r#"{{"authority":"bj-amr","decision_no":"P-{i}","subject":"{}","kind":"penalty.moderate","decided":"2026-11-20","effective":"2026-11-25","basis":"Art. 3"}}"#,
                id(i)
            )
        })
        .collect();
    for chunk in rows.chunks(100) {
        reg.file_records(&amr(), chunk).unwrap();
    }
    let causes = check(&reg, "filings", &mut before);
    assert!(!causes.is_empty(), "filings moved answers");
    assert!(
        causes.iter().all(|c| matches!(c, Cause::Event { event, .. } if event == "record_filed"))
    );

    // Corrections: some to a lighter kind, which moves answers; some to the summary only, which
    // moves none.
    for i in (0..100).map(|i| i * 31) {
        let key = RecordKey { authority: amr(), decision_no: format!("P-{i}") };
        let mut record = reg.store().record(&key).unwrap().unwrap().record;
        if i % 2 == 0 {
            record.kind = probity_core::Slug::parse("kind", "penalty.minor").unwrap();
        } else {
            record.summary = "amount corrected".into();
        }
        reg.correct_record(&amr(), record, "clerical error").unwrap();
    }
    let causes = check(&reg, "corrections", &mut before);
    assert!(
        causes
            .iter()
            .all(|c| matches!(c, Cause::Event { event, .. } if event == "record_corrected"))
    );

    // Withdrawals.
    for i in (100..200).map(|i| i * 31) {
        let key = RecordKey { authority: amr(), decision_no: format!("P-{i}") };
        reg.withdraw_record(&amr(), key, "annulled on review").unwrap();
    }
    let causes = check(&reg, "withdrawals", &mut before);
    assert!(
        causes
            .iter()
            .all(|c| matches!(c, Cause::Event { event, .. } if event == "record_withdrawn"))
    );

    // Repairs of abnormal-operations entries: applied for by the company, granted by the
    // authority.
    for i in (0..60).map(|i| i * 7) {
        let key = RecordKey { authority: amr(), decision_no: format!("AB-{i}") };
        let company = Actor::Company(id(i));
        let apply = Step::RepairApplied { statement: "annual report filed".into() };
        reg.take_step(&company, &key, apply).unwrap();
        let grant = Step::RepairDecided { granted: true, reason: "conditions met".into() };
        reg.take_step(&Actor::Authority(amr()), &key, grant).unwrap();
    }
    let causes = check(&reg, "repairs", &mut before);
    assert!(!causes.is_empty(), "repairs moved answers");
    assert!(
        causes.iter().all(|c| matches!(c, Cause::Event { event, .. } if event == "repair_decided")),
        "{:?}",
        &causes[..3]
    );

    // Expiries: no event, only the date. The minor penalties stop counting on 2027-01-15; the
    // sweep of that day reports them.
    let mut reg = reg.with_clock(at("2027-01-15T00:30:00Z"));
    let today = reg.today();
    reg.rate_pass(today, false, &()).unwrap();
    let causes = check(&reg, "expiries", &mut before);
    // Those with an abnormal-operations entry too (one in 21) go from B back to A.
    assert!(causes.len() > 300, "{} changes", causes.len());
    assert!(causes.iter().all(|c| *c == Cause::Date), "{:?}", &causes[..3]);

    // A rulebook adoption: abnormal operations weigh more from its effective date.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../rulebooks/default.toml"
    ))
    .unwrap()
    .replace("version = \"2026.12\"", "version = \"2027.1\"")
    .replace("effective = \"2026-01-01\"", "effective = \"2027-01-15\"")
    .replacen("points = -10", "points = -25", 1);
    assert!(reg.adopt_rulebook(&text).unwrap());
    reg.rate_pass(today, false, &()).unwrap();
    let causes = check(&reg, "rulebook", &mut before);
    assert!(!causes.is_empty(), "the new rulebook moved answers");
    assert!(
        causes.iter().all(|c| *c == Cause::Rulebook { version: "2027.1".into() }),
        "{:?}",
        &causes[..3]
    );

    // Nothing was recorded for unwatched subjects, and a subject taken off a watchlist is no
    // longer reported.
    let watched: std::collections::HashSet<SubjectId> = (0..WATCHED).map(id).collect();
    let everything = reg.store().watched_changes(&all.id, 0, usize::MAX >> 1).unwrap();
    assert!(everything.iter().all(|c| watched.contains(&c.subject)));
    assert_eq!(reg.unwatch(&bank, &all.id, &[id(0).to_string()]).unwrap(), 1);
    let later = reg.watchlist_changes(&bank, &all.id, 0, 1000).unwrap();
    assert!(later.changes.iter().all(|c| c.subject != id(0)));
}

#[test]
fn only_a_subscriber_keeps_watchlists_and_only_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let subjects = format!("id,name,established\n{},北京测试有限公司,2010-01-01\n", id(1));
    let mut reg = common::registry_with(dir.path(), "2026-12-01T08:00:00Z", &subjects);
    let bank = Actor::Subscriber(Slug::parse("subscriber", "bank-1").unwrap());
    let other = Actor::Subscriber(Slug::parse("subscriber", "bank-2").unwrap());
    for actor in [Actor::Operator, Actor::Authority(amr()), Actor::Company(id(1))] {
        let e = reg.create_watchlist(&actor, "x", vec![], None).unwrap_err();
        assert_eq!(e.to_string(), "only a subscriber key keeps watchlists");
    }
    let e = reg.create_watchlist(&bank, "x", vec!["lending.loan".into()], None).unwrap_err();
    assert_eq!(e.to_string(), "measure `lending.loan` is not in the rulebook in force");
    let e = reg.create_watchlist(&bank, "x", vec![], Some("ftp://x")).unwrap_err();
    assert_eq!(e.to_string(), "webhook url `ftp://x`: must start with http://");
    let e = reg.create_watchlist(&bank, "x", vec![], Some("https://bank.example/h")).unwrap_err();
    assert!(e.to_string().contains("plain http only"), "{e}");
    let (w, secret) =
        reg.create_watchlist(&bank, "suppliers", vec![], Some("http://127.0.0.1:9/h")).unwrap();
    assert!(secret.unwrap().starts_with("whsec_"));
    let e = reg.watchlist(&other, &w.id).unwrap_err();
    assert_eq!(e.to_string(), format!("no watchlist `{}`", w.id));
    let report = reg
        .watch(&bank, &w.id, &[id(1).to_string(), "92110000MA00000000".into(), "bad".into()])
        .unwrap();
    assert_eq!(report.added, 1);
    let lines: Vec<usize> = report.rejected.iter().map(|r| r.line).collect();
    assert_eq!(lines, [2, 3], "{:?}", report.rejected);
    assert!(report.rejected.iter().all(|r| !r.reason.is_empty()));
    assert_eq!(reg.watchlist(&bank, &w.id).unwrap().subjects, 1);
    assert_eq!(reg.watchlists_of(&bank).unwrap().len(), 1);
    assert!(reg.watchlists_of(&other).unwrap().is_empty());
}
