//! The engine on the shipped rulebook: data in, expected assessment out, at exact boundary days;
//! and the properties every assessment must have.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use probity_core::Date;
use probity_rules::{
    DEFAULT_RULEBOOK, Decision, RecordInput, RecordState, Rulebook, SubjectInput, assess,
};
use proptest::prelude::*;

fn book() -> Rulebook {
    Rulebook::parse(DEFAULT_RULEBOOK).unwrap()
}

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

fn rec(id: u64, kind: &str, effective: &str) -> RecordInput {
    RecordInput { id, kind: kind.into(), effective: d(effective), state: RecordState::InForce }
}

const OLD: SubjectInput = SubjectInput { established: Some(Date::constant(2010, 5, 1)) };

fn decision(a: &probity_rules::Assessment, measure: &str) -> Decision {
    a.measures.iter().find(|m| m.measure == measure).unwrap().decision
}

#[test]
fn a_clean_established_company_is_a_and_in_good_standing() {
    let a = assess(&book(), &OLD, &[], d("2026-11-01"));
    assert_eq!((a.score, a.grade.as_deref()), (Some(100), Some("A")));
    assert_eq!(a.lists.len(), 1);
    assert_eq!(a.lists[0].list, "good_standing");
    assert!(a.measures.iter().all(|m| m.decision == Decision::Allow && m.changes_on.is_none()));
}

#[test]
fn a_young_company_is_barred_from_a_until_its_third_anniversary() {
    let young = SubjectInput { established: Some(d("2024-06-15")) };
    let a = assess(&book(), &young, &[], d("2027-06-14"));
    assert_eq!(a.grade.as_deref(), Some("B"));
    assert!(a.grade_notes[0].contains("grade A is barred"));
    let fast = a.measures.iter().find(|m| m.measure == "licence.fast_track").unwrap();
    assert_eq!(fast.decision, Decision::Flag);
    assert_eq!((fast.changes_on, fast.changes_to), (Some(d("2027-06-15")), Some(Decision::Allow)));
    assert_eq!(assess(&book(), &young, &[], d("2027-06-15")).grade.as_deref(), Some("A"));
    // Unknown establishment: not eligible for A either.
    assert_eq!(
        assess(&book(), &SubjectInput::default(), &[], d("2027-06-15")).grade.as_deref(),
        Some("B")
    );
}

#[test]
fn a_minor_penalty_counts_for_exactly_three_months() {
    let records = [rec(7, "penalty.minor", "2026-01-10")];
    let before = assess(&book(), &OLD, &records, d("2026-01-09"));
    assert_eq!(before.score, Some(100));
    let first = assess(&book(), &OLD, &records, d("2026-01-10"));
    assert_eq!(first.score, Some(95));
    assert_eq!(first.effects[0].record, 7);
    assert_eq!(first.effects[0].until, d("2026-04-10"));
    assert!(first.effects[0].basis.contains("SAMR Order No. 45"));
    let last = assess(&book(), &OLD, &records, d("2026-04-09"));
    assert_eq!(last.score, Some(95));
    let after = assess(&book(), &OLD, &records, d("2026-04-10"));
    assert_eq!((after.score, after.effects.len()), (Some(100), 0));
}

#[test]
fn a_serious_penalty_excludes_from_procurement_until_the_list_entry_ends() {
    let records = [rec(3, "penalty.serious", "2025-06-01")];
    let a = assess(&book(), &OLD, &records, d("2026-11-01"));
    assert_eq!((a.score, a.grade.as_deref()), (Some(70), Some("B")));
    let list = a.lists.iter().find(|l| l.list == "serious_violation").unwrap();
    assert_eq!((list.since, list.until), (Some(d("2025-06-01")), Some(d("2028-06-01"))));
    let bid = a.measures.iter().find(|m| m.measure == "procurement.bid").unwrap();
    assert_eq!(bid.decision, Decision::Deny);
    assert_eq!(bid.reasons[0].records, vec![3]);
    assert!(bid.reasons[0].basis.contains("Cai Ku [2016] No. 125"));
    assert_eq!((bid.changes_on, bid.changes_to), (Some(d("2028-06-01")), Some(Decision::Allow)));
    assert_eq!(
        decision(&assess(&book(), &OLD, &records, d("2028-05-31")), "procurement.bid"),
        Decision::Deny
    );
    assert_eq!(
        decision(&assess(&book(), &OLD, &records, d("2028-06-01")), "procurement.bid"),
        Decision::Allow
    );
}

#[test]
fn a_major_tax_violation_sets_d_directly() {
    let records = [rec(1, "tax.major_violation", "2026-03-01")];
    let a = assess(&book(), &OLD, &records, d("2026-03-01"));
    assert_eq!((a.score, a.grade.as_deref()), (Some(60), Some("D")));
    assert!(a.grade_notes.iter().any(|n| n.contains("sets grade D directly")));
    assert_eq!(decision(&a, "procurement.bid"), Decision::Deny);
    assert_eq!(decision(&a, "subsidy.grant"), Decision::Deny);
}

#[test]
fn grade_d_holds_for_two_years_after_its_records_stop_counting() {
    // Five moderate penalties: 100 - 75 = 25, grade D; they count for one year only.
    let records: Vec<_> = (0..5).map(|i| rec(i, "penalty.moderate", "2025-03-01")).collect();
    let during = assess(&book(), &OLD, &records, d("2025-09-01"));
    assert_eq!((during.score, during.grade.as_deref()), (Some(25), Some("D")));
    let sticky = assess(&book(), &OLD, &records, d("2026-06-01"));
    assert_eq!(sticky.score, Some(100));
    assert_eq!(sticky.grade.as_deref(), Some("D"));
    assert!(sticky.grade_notes.iter().any(|n| n.contains("holds until 2027-03-01")));
    assert_eq!(assess(&book(), &OLD, &records, d("2027-02-28")).grade.as_deref(), Some("D"));
    assert_eq!(assess(&book(), &OLD, &records, d("2027-03-01")).grade.as_deref(), Some("A"));
}

#[test]
fn grade_bands_at_their_edges() {
    // C from 40 to 69: two serious penalties = 40; a further minor one = 35 → D.
    let two = [rec(1, "penalty.serious", "2026-01-01"), rec(2, "penalty.serious", "2026-01-02")];
    assert_eq!(assess(&book(), &OLD, &two, d("2026-02-01")).grade.as_deref(), Some("C"));
    let mut three = two.to_vec();
    three.push(rec(3, "penalty.minor", "2026-01-03"));
    assert_eq!(assess(&book(), &OLD, &three, d("2026-02-01")).grade.as_deref(), Some("D"));
    // 90 is A, 85 is B.
    let m = |n: u64| (0..n).map(|i| rec(i, "penalty.minor", "2026-01-01")).collect::<Vec<_>>();
    assert_eq!(assess(&book(), &OLD, &m(2), d("2026-02-01")).grade.as_deref(), Some("A"));
    assert_eq!(assess(&book(), &OLD, &m(3), d("2026-02-01")).grade.as_deref(), Some("B"));
    // The floor holds.
    let many: Vec<_> = (0..10).map(|i| rec(i, "court.dishonest_debtor", "2026-01-01")).collect();
    assert_eq!(assess(&book(), &OLD, &many, d("2026-02-01")).score, Some(0));
}

#[test]
fn withdrawn_records_never_count_and_awards_help() {
    let mut r = rec(1, "penalty.serious", "2026-01-01");
    r.state = RecordState::Withdrawn;
    let a = assess(&book(), &OLD, &[r], d("2026-02-01"));
    assert_eq!((a.score, a.lists.len()), (Some(100), 1));
    let awarded = assess(
        &book(),
        &OLD,
        &[rec(1, "penalty.moderate", "2026-01-01"), rec(2, "award.quality", "2026-01-01")],
        d("2026-02-01"),
    );
    assert_eq!(awarded.score, Some(90));
}

#[test]
fn an_abnormal_operations_entry_flags_procurement() {
    let a =
        assess(&book(), &OLD, &[rec(4, "registration.abnormal", "2026-05-01")], d("2026-06-01"));
    assert_eq!(decision(&a, "procurement.bid"), Decision::Flag);
    assert_eq!(decision(&a, "licence.fast_track"), Decision::Deny);
}

fn arb_records() -> impl Strategy<Value = Vec<RecordInput>> {
    // Every kind of the shipped rulebook.
    let kinds: Vec<String> = book().kinds().map(|k| k.id.to_string()).collect();
    prop::collection::vec((prop::sample::select(kinds), 0i64..3000, any::<bool>()), 0..12).prop_map(
        |v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (k, day, withdrawn))| RecordInput {
                    id: i as u64,
                    kind: k,
                    effective: d("2020-01-01").checked_add(jiff::Span::new().days(day)).unwrap(),
                    state: if withdrawn { RecordState::Withdrawn } else { RecordState::InForce },
                })
                .collect()
        },
    )
}

fn rank(g: Option<&str>) -> usize {
    let book = book();
    let grades = book.scoring().unwrap().grades();
    assert_eq!(grades, ["A", "B", "M", "C", "D"]);
    grades.iter().position(|x| Some(*x) == g).unwrap()
}

/// Established in the middle of the dates the properties look at: before it, new (grade M),
/// barred from A, then established.
const YOUNG: SubjectInput = SubjectInput { established: Some(Date::constant(2023, 3, 15)) };

fn subject(young: bool) -> &'static SubjectInput {
    if young { &YOUNG } else { &OLD }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn the_answer_does_not_depend_on_the_order_of_records(records in arb_records(), day in 0i64..4000, seed in any::<u64>(), young in any::<bool>()) {
        let as_of = d("2020-01-01").checked_add(jiff::Span::new().days(day)).unwrap();
        let mut shuffled = records.clone();
        let n = shuffled.len();
        let mut s = seed;
        for i in (1..n).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        let a = assess(&book(), subject(young), &records, as_of);
        prop_assert_eq!(&a, &assess(&book(), subject(young), &shuffled, as_of));
        // And assessing twice gives the same result.
        prop_assert_eq!(&a, &assess(&book(), subject(young), &records, as_of));
    }

    #[test]
    fn adding_a_penalty_never_raises_the_score_or_improves_the_grade(
        records in arb_records(), day in 0i64..4000, extra_day in 0i64..4000,
        kind in prop::sample::select(vec!["penalty.minor", "penalty.moderate", "penalty.serious", "court.dishonest_debtor", "tax.major_violation", "registration.abnormal"]),
        young in any::<bool>(),
    ) {
        let as_of = d("2020-01-01").checked_add(jiff::Span::new().days(day)).unwrap();
        let before = assess(&book(), subject(young), &records, as_of);
        let mut more = records.clone();
        more.push(RecordInput { id: 999, kind: kind.into(), effective: d("2020-01-01").checked_add(jiff::Span::new().days(extra_day)).unwrap(), state: RecordState::InForce });
        let after = assess(&book(), subject(young), &more, as_of);
        prop_assert!(after.score <= before.score);
        prop_assert!(rank(after.grade.as_deref()) >= rank(before.grade.as_deref()));
        for (b, a) in before.measures.iter().zip(&after.measures) {
            prop_assert!(a.decision as u8 >= b.decision as u8, "{} went from {:?} to {:?}", a.measure, b.decision, a.decision);
        }
    }

    /// The date an answer is said to change on is where a full assessment changes it: the day
    /// before still gives the current answer, the day itself the announced one.
    #[test]
    fn announced_changes_happen_on_their_day(records in arb_records(), day in 0i64..4000, young in any::<bool>()) {
        let as_of = d("2020-01-01").checked_add(jiff::Span::new().days(day)).unwrap();
        let a = assess(&book(), subject(young), &records, as_of);
        for m in &a.measures {
            if let (Some(on), Some(to)) = (m.changes_on, m.changes_to) {
                let at = |date: Date| assess(&book(), subject(young), &records, date).measures.into_iter().find(|x| x.measure == m.measure).unwrap().decision;
                prop_assert_eq!(at(on), to);
                prop_assert_eq!(at(on.yesterday().unwrap()), m.decision);
            }
        }
    }

    /// The what-if grade of a repairable record is the grade of the same subject assessed without
    /// that record, on the day repair opens (or on the day assessed, if it is open already).
    #[test]
    fn the_grade_after_repair_is_the_grade_without_the_record(records in arb_records(), day in 0i64..4000, young in any::<bool>()) {
        let as_of = d("2020-01-01").checked_add(jiff::Span::new().days(day)).unwrap();
        let a = assess(&book(), subject(young), &records, as_of);
        for e in &a.effects {
            let Some(opens) = e.repair_opens else {
                prop_assert_eq!(&e.grade_if_repaired, &None);
                continue;
            };
            let without: Vec<RecordInput> = records.iter().filter(|r| r.id != e.record).cloned().collect();
            let expected = assess(&book(), subject(young), &without, opens.max(as_of)).grade;
            prop_assert_eq!(&e.grade_if_repaired, &expected, "record {}", e.record);
        }
    }

    #[test]
    fn far_enough_in_the_future_every_effect_has_ended(records in arb_records()) {
        let a = assess(&book(), &OLD, &records, d("2040-01-01"));
        prop_assert_eq!(a.score, Some(100));
        prop_assert!(a.effects.is_empty());
        prop_assert!(a.lists.iter().all(|l| l.list == "good_standing"));
        prop_assert!(a.measures.iter().all(|m| m.decision == Decision::Allow));
    }
}

#[test]
fn the_us_exclusions_rulebook_answers_without_a_score() {
    let book = Rulebook::parse(include_str!("../../../rulebooks/us-exclusions.toml")).unwrap();
    assert!(book.scoring().is_none());
    let suspension = [rec(9, "exclusion.suspension", "2026-02-01")];
    let a = assess(&book, &OLD, &suspension, d("2026-06-01"));
    assert_eq!((a.score, a.grade.as_ref()), (None, None));
    let award = a.measures.iter().find(|m| m.measure == "federal.contract_award").unwrap();
    assert_eq!(award.decision, Decision::Deny);
    assert!(award.reasons[0].basis.contains("FAR 9.405"));
    // The list entry lasts the list's duration from the effective date.
    assert_eq!(award.changes_on, Some(d("2029-02-01")));
    assert_eq!(
        decision(&assess(&book, &OLD, &suspension, d("2026-01-31")), "federal.contract_award"),
        Decision::Allow
    );
    let perf = [rec(1, "performance.record", "2026-01-01")];
    assert_eq!(
        decision(&assess(&book, &OLD, &perf, d("2026-06-01")), "federal.contract_award"),
        Decision::Flag
    );
}

#[test]
fn the_what_if_tells_when_repair_opens_and_the_grade_after_it() {
    // A serious penalty (repair after a year), a minor one (repairable from the next day, once
    // the obligation is met: Guo Ban Fa [2025] No. 22) and an award (no repair: it expires).
    let records = [
        rec(1, "penalty.serious", "2026-01-01"),
        rec(2, "penalty.minor", "2026-10-01"),
        rec(3, "award.quality", "2026-10-01"),
    ];
    let a = assess(&book(), &OLD, &records, d("2026-11-01"));
    // 100 - 30 - 5 + 5.
    assert_eq!((a.score, a.grade.as_deref()), (Some(70), Some("B")));
    let serious = a.effects.iter().find(|e| e.record == 1).unwrap();
    assert_eq!(serious.repair_opens, Some(d("2027-01-01")));
    // Repaired on 2027-01-01, the minor penalty has expired by then: back to A.
    assert_eq!(serious.grade_if_repaired.as_deref(), Some("A"));
    let minor = a.effects.iter().find(|e| e.record == 2).unwrap();
    assert_eq!(minor.repair_opens, Some(d("2026-10-02")));
    let award = a.effects.iter().find(|e| e.record == 3).unwrap();
    assert_eq!((award.repair_opens, award.grade_if_repaired.as_deref()), (None, None));
}

#[test]
fn a_repaired_record_stops_counting_and_listing_on_the_day_of_repair() {
    let mut serious = rec(3, "penalty.serious", "2025-06-01");
    let listed = assess(&book(), &OLD, std::slice::from_ref(&serious), d("2026-11-01"));
    assert!(listed.lists.iter().any(|l| l.list == "serious_violation"));
    serious.state = RecordState::Repaired(d("2026-11-02"));
    let records = [serious];
    let eve = assess(&book(), &OLD, &records, d("2026-11-01"));
    let list = eve.lists.iter().find(|l| l.list == "serious_violation").unwrap();
    assert_eq!(list.until, Some(d("2026-11-02")));
    assert_eq!(eve.effects[0].until, d("2026-11-02"));
    assert_eq!(eve.next_boundary, Some(d("2026-11-02")));
    let bid = eve.measures.iter().find(|m| m.measure == "procurement.bid").unwrap();
    assert_eq!((bid.decision, bid.changes_on), (Decision::Deny, Some(d("2026-11-02"))));
    let day = assess(&book(), &OLD, &records, d("2026-11-02"));
    assert!(day.effects.is_empty());
    assert!(day.lists.iter().all(|l| l.list != "serious_violation"));
    assert_eq!(decision(&day, "procurement.bid"), Decision::Allow);
}
