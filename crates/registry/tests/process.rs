//! Due process through the registry: who may take which step, the rulebook's windows, the
//! case state and deadlines, and what a granted repair does to the assessment.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{at, import};

use probity_core::{ObjectionOutcome, RecordKey, Slug, Step, SubjectId};
use probity_registry::{Actor, Format, ObjectionDecision, Registry, RegistryError, Table};
use probity_rules::Decision;

const A: &str = "91110000600037341L";

fn registry(dir: &std::path::Path) -> Registry {
    let b = probity_store::conformance::uscc(42);
    let subjects = format!(
        "id,name,established\n{A},北京测试有限公司,2010-01-01\n{b},北京另一有限公司,2012-01-01\n"
    );
    let mut reg = common::registry_with(dir, "2026-01-05T08:00:00Z", &subjects);
    import(
        &mut reg,
        Table::Authorities,
        Format::Csv,
        "id,name,category,jurisdiction\nbj-tax,国家税务总局北京市税务局,tax,110000\n",
    );
    import(
        &mut reg,
        Table::Records,
        Format::Csv,
        "authority,decision_no,subject,kind,decided,effective,basis\n\
         bj-amr,S-1,91110000600037341L,penalty.serious,2026-01-02,2026-01-05,Art. 49\n",
    );
    reg
}

fn key() -> RecordKey {
    RecordKey { authority: Slug::parse("a", "bj-amr").unwrap(), decision_no: "S-1".into() }
}

fn company() -> Actor {
    Actor::Company(SubjectId::parse(A).unwrap())
}

fn amr() -> Actor {
    Actor::Authority(Slug::parse("a", "bj-amr").unwrap())
}

fn bid(reg: &Registry) -> Decision {
    let p = reg.profile(&SubjectId::parse(A).unwrap()).unwrap().unwrap();
    let a = reg.assess(&p, reg.today());
    a.measures.iter().find(|m| m.measure == "procurement.bid").unwrap().decision
}

#[test]
fn objection_reply_and_repair_run_their_course() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(dir.path());
    let mut reg = reg.with_clock(at("2026-01-06T09:00:00Z"));
    assert_eq!(bid(&reg), Decision::Deny);

    // Only the company objects, and only the authority answers.
    let object = Step::ObjectionFiled { grounds: "the fine was paid before the decision".into() };
    let other = Actor::Company(probity_store::conformance::uscc(42));
    let tax = Actor::Authority(Slug::parse("a", "bj-tax").unwrap());
    for actor in [&other, &amr(), &tax, &Actor::Operator] {
        let e = reg.take_step(actor, &key(), object.clone()).unwrap_err();
        assert!(matches!(e, RegistryError::Forbidden(_)), "{e}");
    }
    let filed = reg.take_step(&company(), &key(), object.clone()).unwrap();
    let e = reg.take_step(&company(), &key(), object.clone()).unwrap_err();
    assert!(e.to_string().contains("already open"), "{e}");
    let view = reg.case(&key()).unwrap().unwrap();
    assert!(view.record.disputed);
    assert_eq!(view.deadlines[0].what, "answer_objection");
    assert_eq!(view.deadlines[0].due, "2026-01-13".parse().unwrap());
    assert_eq!(view.deadlines[1].due, "2026-02-03".parse().unwrap());
    // Still counts while disputed.
    assert_eq!(bid(&reg), Decision::Deny);

    let answer = Step::ObjectionAnswered { admitted: true, reason: "filed in time".into() };
    let e = reg.take_step(&company(), &key(), answer.clone()).unwrap_err();
    assert!(matches!(e, RegistryError::Forbidden(_)), "{e}");
    let mut reg = reg.with_clock(at("2026-01-08T09:00:00Z"));
    let answered = reg.take_step(&amr(), &key(), answer).unwrap();
    assert!(answered > filed);
    let decision = ObjectionDecision {
        outcome: ObjectionOutcome::Upheld,
        reason: "payment arrived after the deadline".into(),
        corrected: None,
    };
    reg.decide_objection(&amr(), &key(), decision).unwrap();
    let view = reg.case(&key()).unwrap().unwrap();
    assert!(!view.record.disputed);
    assert!(view.deadlines.iter().all(|d| d.done.is_some() && !d.overdue(reg.today())));

    // A reply, limited in length by the rulebook.
    let long = "字".repeat(2001);
    let e = reg.take_step(&company(), &key(), Step::ReplyPublished { text: long }).unwrap_err();
    assert!(matches!(e, RegistryError::Invalid(_)), "{e}");
    let reply = Step::ReplyPublished { text: "we have since changed our payment process".into() };
    reg.take_step(&company(), &key(), reply).unwrap();

    // Repair of a serious penalty opens a year after it took effect.
    let apply = Step::RepairApplied { statement: "fine paid, commitment published".into() };
    let e = reg.take_step(&company(), &key(), apply.clone()).unwrap_err();
    assert_eq!(e.to_string(), "repair of this record opens on 2027-01-05");
    let mut reg = reg.with_clock(at("2027-01-05T09:00:00Z"));
    // The objection window has long closed.
    let e = reg.take_step(&company(), &key(), object).unwrap_err();
    assert!(e.to_string().contains("objection window closed on 2026-02-04"), "{e}");
    reg.take_step(&company(), &key(), apply).unwrap();
    assert_eq!(bid(&reg), Decision::Deny);
    let grant = Step::RepairDecided { granted: true, reason: "conditions met".into() };
    reg.take_step(&amr(), &key(), grant).unwrap();
    // Repaired today: the exclusion ends today.
    assert_eq!(bid(&reg), Decision::Allow);
    let view = reg.case(&key()).unwrap().unwrap();
    assert_eq!(view.record.repaired, Some("2027-01-05".parse().unwrap()));
    let steps: Vec<&str> = view.history.iter().map(|h| h.what.as_str()).collect();
    assert_eq!(
        steps,
        [
            "filed",
            "objection_filed",
            "objection_answered",
            "objection_decided",
            "reply_published",
            "repair_applied",
            "repair_decided"
        ]
    );
    // The stored assessment followed.
    let row = reg.store().assessment(&SubjectId::parse(A).unwrap()).unwrap().unwrap();
    assert!(row.decisions.contains(r#""procurement.bid":"allow""#), "{}", row.decisions);
    // What the registry answered before the repair is unchanged.
    let size = reg.log_size_at_end_of("2027-01-04".parse().unwrap()).unwrap();
    let p = reg.profile_at(&SubjectId::parse(A).unwrap(), size).unwrap().unwrap();
    assert_eq!(p.records[0].repaired, None);
    let audit = reg.audit(&[], &()).unwrap();
    assert!(audit.problems.is_empty(), "{:?}", audit.problems);
}

#[test]
fn an_objection_ending_in_withdrawal_withdraws_the_record_in_the_same_entry_batch() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(dir.path());
    let mut reg = reg.with_clock(at("2026-01-06T09:00:00Z"));
    reg.take_step(&company(), &key(), Step::ObjectionFiled { grounds: "wrong company".into() })
        .unwrap();
    let early = ObjectionDecision {
        outcome: ObjectionOutcome::Withdrawn,
        reason: "wrong company".into(),
        corrected: None,
    };
    let e = reg.decide_objection(&amr(), &key(), early.clone()).unwrap_err();
    assert!(e.to_string().contains("answer it first"), "{e}");
    reg.take_step(&amr(), &key(), Step::ObjectionAnswered { admitted: true, reason: "ok".into() })
        .unwrap();
    let at_decision = reg.log_size().unwrap();
    reg.decide_objection(&amr(), &key(), early).unwrap();
    assert_eq!(reg.log_size().unwrap(), at_decision + 2);
    let view = reg.case(&key()).unwrap().unwrap();
    assert_eq!(view.record.status, probity_store::RecordStatus::Withdrawn);
    assert_eq!(bid(&reg), Decision::Allow);
    let e = reg
        .take_step(&company(), &key(), Step::ReplyPublished { text: "thanks".into() })
        .unwrap_err();
    assert!(matches!(e, RegistryError::Conflict(_)), "{e}");
}

/// A record with nothing journalled but its filing shows in the timeline exactly as its case's
/// history would show it; once a step is taken, the case's history and deadlines take over.
#[test]
fn the_timeline_of_an_untouched_record_matches_its_case() {
    let dir = tempfile::tempdir().unwrap();
    let mut reg = registry(dir.path());
    let p = reg.profile(&SubjectId::parse(A).unwrap()).unwrap().unwrap();
    let today = reg.today();
    let timeline = reg.timeline(&p, today).unwrap();
    let case = reg.case(&key()).unwrap().unwrap();
    assert_eq!(case.history.len(), 1);
    assert!(case.deadlines.is_empty());
    let h = &case.history[0];
    assert_eq!(timeline.len(), 1);
    let e = &timeline[0];
    assert_eq!(
        (e.what.as_str(), e.index, e.text.as_ref(), e.outcome.as_ref()),
        (h.what.as_str(), Some(h.index), h.text.as_ref(), h.outcome.as_ref())
    );
    assert_eq!(e.when, probity_registry::When::At(h.at));

    let grounds = Step::ObjectionFiled { grounds: "wrong office".into() };
    reg.take_step(&company(), &key(), grounds).unwrap();
    let p = reg.profile(&SubjectId::parse(A).unwrap()).unwrap().unwrap();
    let timeline = reg.timeline(&p, today).unwrap();
    let what: Vec<&str> = timeline.iter().map(|e| e.what.as_str()).collect();
    assert_eq!(what, ["filed", "objection_filed", "deadline", "deadline"], "{timeline:?}");
}

#[test]
fn a_correction_that_moves_a_record_re_rates_both_subjects_and_the_audit_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let mut reg = registry(dir.path()).with_clock(at("2026-01-06T09:00:00Z"));
    let a = SubjectId::parse(A).unwrap();
    let b = probity_store::conformance::uscc(42);
    let today = reg.today();
    reg.rate_pass(today, true, &()).unwrap();
    let before = reg.store().assessment(&a).unwrap().unwrap();
    let clean = reg.store().assessment(&b).unwrap().unwrap();
    assert_ne!(before.score, clean.score, "the serious penalty counts against A");

    // The authority filed against the wrong company and corrects it.
    let mut record = reg.store().record(&key()).unwrap().unwrap().record;
    record.subject = b;
    let amr = Slug::parse("a", "bj-amr").unwrap();
    reg.correct_record(&amr, record, "filed against the wrong company").unwrap();
    let a_now = reg.store().assessment(&a).unwrap().unwrap();
    let b_now = reg.store().assessment(&b).unwrap().unwrap();
    assert_eq!(a_now.score, clean.score, "A's stored rating no longer counts it");
    assert_eq!(b_now.score, before.score, "B's does");

    // Withdrawal is final: the record cannot be corrected back to life.
    reg.withdraw_record(&amr, key(), "annulled").unwrap();
    let record = reg.store().record(&key()).unwrap().unwrap().record;
    let err = reg.correct_record(&amr, record, "again").unwrap_err();
    assert!(err.to_string().contains("cannot be corrected"), "{err}");

    let audit = reg.audit(&[], &()).unwrap();
    assert!(audit.problems.is_empty(), "{:?}", audit.problems);
    assert_eq!((audit.subjects, audit.records, audit.assessments), (2, 1, 2));
}
