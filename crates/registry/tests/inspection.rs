//! Inspections end to end on a registry: a plan committed before its beacon round, the draw
//! once the round is out, its verification from the log, and the audit catching tampering.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{at, import};

use probity_core::{BeaconRound, DocumentHash, InspectionPlan, Scope, Slug};

use probity_registry::{Format, PlanStatus, Registry, RegistryError, Table};
use probity_rules::inspection::QUICKNET;
use probity_store::conformance::uscc;
use probity_stores::Stores as _;

/// drand quicknet round 123 (published 2023-08-23T15:15:33Z) and its signature.
const ROUND: u64 = 123;
const SIGNATURE: &str = "b75c69d0b72a5d906e854e808ba7e2accb1542ac355ae486d591aa9d43765482e26cd02df835d3546d23c4b13e0dfc92";

fn plan(ratios: [u32; 4]) -> InspectionPlan {
    InspectionPlan {
        authority: Slug::parse("a", "bj-amr").unwrap(),
        plan_no: "京市监抽〔2023〕7号".into(),
        title: "Annual reports, third quarter".into(),
        basis: "Interim Regulations on Enterprise Information Publicity, Art. 14".into(),
        scope: Scope { regions: vec!["11".into()], kinds: vec![] },
        items: vec![Slug::parse("i", "annual_report").unwrap()],
        ratios: ["A", "B", "C", "D"].into_iter().map(str::to_owned).zip(ratios).collect(),
        teams: 3,
        team_commitment: DocumentHash::from_bytes([3; 32]),
        beacon: BeaconRound { chain: QUICKNET.chain.into(), round: ROUND },
    }
}

/// 200 subjects in Beijing: 10 with two serious penalties (grade C), 5 with three (grade D), the
/// rest without records (grade B: no date of establishment, so not eligible for A).
fn registry(dir: &std::path::Path) -> Registry {
    let subjects: String =
        (1..=200).map(|n| format!("{},北京测试{n}有限公司\n", uscc(n))).collect();
    let mut reg =
        common::registry_with(dir, "2023-08-23T12:00:00Z", &format!("id,name\n{subjects}"));
    let mut records = String::from("authority,decision_no,subject,kind,decided,effective,basis\n");
    for n in 1..=15 {
        let count = if n <= 10 { 2 } else { 3 };
        for i in 0..count {
            records.push_str(&format!(
                "bj-amr,P-{n}-{i},{},penalty.serious,2023-05-01,2023-05-02,Art. 1\n",
                uscc(n)
            ));
        }
    }
    import(&mut reg, Table::Records, Format::Csv, &records);
    reg
}

#[test]
fn a_plan_is_drawn_by_its_beacon_round_and_verified_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut reg = registry(dir.path());

    let low = reg.file_plan(plan([50, 200, 1000, 3000])).unwrap_err();
    assert!(
        matches!(&low, RegistryError::Invalid(m) if m.contains("below the rulebook's minimum"))
    );
    let planned = reg.file_plan(plan([100, 200, 1000, 3000])).unwrap().expect("appended");
    assert_eq!(reg.file_plan(plan([100, 200, 1000, 3000])).unwrap(), None, "the same plan again");
    let view = &reg.plans().unwrap()[0];
    assert_eq!((view.planned, view.status), (planned, PlanStatus::AwaitingBeacon));

    // Once the round is out, it is too late to plan on it.
    let mut reg = reg.with_clock(at("2023-08-24T09:00:00Z"));
    let mut late = plan([100, 200, 1000, 3000]);
    late.plan_no = "late".into();
    let e = reg.file_plan(late).unwrap_err().to_string();
    assert!(e.contains("names a future round"), "{e}");

    let key = plan([0; 4]).key();
    let forged = SIGNATURE.replace("b75c", "a75c");
    assert!(reg.draw_plan(&key, ROUND, &forged, &()).is_err());
    assert!(reg.draw_plan(&key, ROUND + 1, SIGNATURE, &()).is_err());
    let (drawn, draw) = reg.draw_plan(&key, ROUND, SIGNATURE, &()).unwrap();
    let drawn = drawn.expect("appended");
    let by_class: Vec<(String, u64)> = draw.population.clone().into_iter().collect();
    assert_eq!(
        by_class,
        [("A".into(), 0), ("B".into(), 185), ("C".into(), 10), ("D".into(), 5)],
        "every subject in scope, by the class of its grade (no date of establishment: no A)"
    );
    let count = |c: &str| draw.selected.iter().filter(|t| t.class == c).count();
    assert_eq!((count("B"), count("C"), count("D")), (4, 1, 2), "⌈ratio × N⌉ of each class");
    assert_eq!(reg.draw_plan(&key, ROUND, SIGNATURE, &()).unwrap().0, None, "drawn once");

    let view = reg.plan(&key).unwrap().unwrap();
    assert_eq!((view.status, view.drawn), (PlanStatus::Drawn, Some(drawn)));
    // 20 working days after Thu 2023-08-24 (the 2023 calendar is not entered: weekends only).
    assert_eq!(view.publish_by.unwrap().to_string(), "2023-09-21");

    let check = reg.verify_draw(&key, &()).unwrap();
    assert!(check.verified, "{:?}", check.problems);
    assert_eq!(check.selected, 7);
    assert_eq!(check.entries, drawn + 1);
    let audit = reg.audit(&[], &()).unwrap();
    assert!(audit.problems.is_empty(), "{:?}", audit.problems);

    let first = &draw.selected[0];
    let mine = reg.selections(&first.subject).unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!((mine[0].plan.clone(), mine[0].team), (key.clone(), first.team));
    assert!(mine[0].outcome.is_none(), "no outcome yet");

    // Outcomes are filed against the draw: for a subject it selected, and no other.
    let amr = Slug::parse("a", "bj-amr").unwrap();
    let outcome = |no: &str, subject: &str, kind: &str, plan: &str| {
        serde_json::json!({
            "authority": "bj-amr", "decision_no": no, "subject": subject, "kind": kind,
            "decided": "2023-08-24", "effective": "2023-08-24",
            "basis": "Interim Regulations on Enterprise Information Publicity, Art. 14",
            "inspection_plan": plan
        })
        .to_string()
    };
    let drawn_subject = first.subject.to_string();
    let not_drawn = (1..=200)
        .map(uscc)
        .find(|s| !draw.selected.iter().any(|t| t.subject == *s))
        .unwrap()
        .to_string();
    let plan_no = key.plan_no.as_str();
    let results = reg
        .file_records(
            &amr,
            &[
                outcome("O-1", &drawn_subject, "inspection.not_at_address", plan_no),
                outcome("O-2", &not_drawn, "inspection.no_issue", plan_no),
                outcome("O-3", &drawn_subject, "inspection.no_issue", "no-such-plan"),
                outcome("O-4", &drawn_subject, "penalty.minor", plan_no),
                outcome("O-5", &drawn_subject, "inspection.no_issue", ""),
            ],
        )
        .unwrap();
    let status: Vec<&str> = results.iter().map(|r| r.status).collect();
    assert_eq!(status, ["filed", "rejected", "rejected", "rejected", "rejected"], "{results:?}");
    let why = |i: usize| results[i].reason.clone().unwrap_or_default();
    assert!(why(1).contains("did not select"), "{}", why(1));
    assert!(why(2).contains("no inspection plan numbered `no-such-plan`"), "{}", why(2));
    assert!(why(3).contains("not an inspection outcome"), "{}", why(3));
    assert!(why(4).contains("give the inspection_plan"), "{}", why(4));
    // Not found at its address: the subject joins the abnormal operations list.
    let profile = reg.profile(&first.subject).unwrap().unwrap();
    let assessment = reg.assess(&profile, reg.today());
    assert!(
        assessment.lists.iter().any(|l| l.list == "abnormal_operations"),
        "{:?}",
        assessment.lists
    );
    let audit = reg.audit(&[], &()).unwrap();
    assert!(audit.problems.is_empty(), "{:?}", audit.problems);
    let mine = reg.selections(&first.subject).unwrap();
    assert_eq!(
        mine[0].outcome.as_ref().unwrap().decision_no,
        "O-1",
        "the profile shows the outcome"
    );
    let view = reg.plan(&key).unwrap().unwrap();
    let outcomes = reg.outcomes(&view).unwrap();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(
        (outcomes[0].subject, outcomes[0].kind.as_str()),
        (first.subject, "inspection.not_at_address")
    );

    // Publishing the results is a tracked clock: one met, the other six overdue after the due
    // date, in the authority's deadline statistics.
    let late = "2023-10-02".parse().unwrap();
    let compliance = reg.deadline_compliance(late).unwrap();
    let amr_deadlines = compliance.iter().find(|a| a.authority == "bj-amr").unwrap();
    assert_eq!((amr_deadlines.met, amr_deadlines.overdue), (1, 6), "{amr_deadlines:?}");
    assert_eq!(amr_deadlines.overdue_items[0].what, "publish_inspection_result");

    // A team moved in the registry's tables is caught and named.
    drop(reg);
    let db = dir.path().join("reg").join(probity_sqlite::DB_FILE);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("UPDATE inspection_targets SET team = team % 3 + 1", []).unwrap();
    // And a firm the draw did not select is added to it.
    conn.execute(
        "INSERT INTO inspection_targets (plan, subject, class, team)
         SELECT t.plan, s.id, 'B', 1 FROM inspection_targets t, subjects s
         WHERE s.code = ?1 LIMIT 1",
        [not_drawn.as_str()],
    )
    .unwrap();
    drop(conn);
    let reg = Registry::open(&dir.path().join("reg")).unwrap();
    let audit = reg.audit(&[], &()).unwrap();
    let named = audit.problems.iter().any(|p| p.contains(&first.subject.to_string()));
    assert!(named, "{:?}", audit.problems);
    let added =
        audit.problems.iter().any(|p| p.contains(&not_drawn) && p.contains("did not select"));
    assert!(added, "{:?}", audit.problems);
}
