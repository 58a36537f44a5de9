//! The conformance suite: what every backend promises, as tests.
//!
//! A backend's test file invokes [`conformance_tests!`](crate::conformance_tests) with a function
//! that makes a fresh, empty store (and a guard that keeps its location alive). Each promise
//! below becomes one test of that backend.

// The suite runs inside test binaries, where a failed expectation must panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use probity_core::{
    Authority, Date, Encoded, Event, EventBody, Money, Record, RecordFields, Slug, Subject,
    SubjectId, SubjectStatus, Timestamp, org_check_char, uscc_check_char,
};

use crate::{FORBIDDEN_COLUMN_FRAGMENTS, Outcome, RecordStanding, RecordStatus, Refusal, Store};

/// Expands to one `#[test]` per promise of the suite, each on a fresh store from `$make`, an
/// expression of type `fn() -> (Guard, Store)`.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(@each $make;
            empty_store_holds_nothing,
            subjects_are_idempotent_by_id,
            authorities_are_idempotent_by_id,
            records_need_known_subject_and_authority,
            records_are_idempotent_by_authority_and_decision_number,
            duplicates_within_one_batch,
            held_appends_see_each_other_and_commit_together,
            stored_keys_among_new_ones_after_new_batches,
            one_batch_changes_what_it_filed,
            journal_is_dense_ordered_and_canonical,
            corrections_and_withdrawals,
            redaction_withholds_bodies_and_keeps_leaves,
            withholding_text_keeps_leaves_and_what_rating_reads,
            due_process_cases,
            records_of_a_subject_in_filing_order,
            standings_follow_corrections,
            settling_changes_nothing_a_reader_sees,
            code_exceptions,
            inspection_plans_and_draws,
            witness_state_moves_only_from_what_was_judged,
            feed_cursors_are_kept_by_name,
            watchlists_keep_the_answer_changes_of_their_subjects,
            log_covers_every_journal_entry,
            log_grows_across_tiles_in_any_batches,
            rulebook_adoptions,
            assessments_are_kept_and_swept,
            each_subject_knows_its_latest_event,
            subject_ids_page_in_order,
            search_ranks_codes_then_prefixes,
            statistics_aggregate_grades_records_and_lists,
            no_personal_data
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let (_guard, mut store) = ($make)();
                $crate::conformance::$name(&mut store);
            }
        )*
    };
}

/// A valid USCC of an enterprise in Beijing Chaoyang whose organisation code body is `n`.
pub fn uscc(n: u32) -> SubjectId {
    let body = format!("{n:08}");
    let org = org_check_char(body.as_bytes()).unwrap();
    let first17 = format!("91110105{body}{org}");
    let check = uscc_check_char(first17.as_bytes()).unwrap();
    SubjectId::parse(&format!("{first17}{check}")).unwrap()
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_767_225_600 + second).unwrap()
}

fn date(s: &str) -> Date {
    s.parse().unwrap()
}

/// A subject fixture.
pub fn subject(n: u32) -> Subject {
    Subject::new(
        uscc(n),
        &format!("北京测试{n}科技有限公司"),
        &[],
        None,
        None,
        SubjectStatus::Active,
        None,
    )
    .unwrap()
}

/// Registers two subjects for a migration test, one established on a known date and one whose
/// date is unknown, and returns their codes.
pub fn register_subjects_with_and_without_establishment(store: &mut dyn Store) -> Vec<SubjectId> {
    let mut dated = subject(41);
    dated.established = Some(date("2019-06-30"));
    let undated = subject(42);
    let ids = vec![dated.id, undated.id];
    let out = store
        .append(&[
            ev(EventBody::SubjectRegistered { subject: dated }),
            ev(EventBody::SubjectRegistered { subject: undated }),
        ])
        .unwrap();
    assert!(out.iter().all(appended), "{out:?}");
    ids
}

/// What rating reads of each subject's date of establishment is what its registration says.
pub fn establishment_is_read_back(store: &dyn Store, ids: &[SubjectId]) {
    let read: Vec<Option<Date>> =
        ids.iter().map(|id| store.standing_of(id).unwrap().unwrap().established).collect();
    let said: Vec<Option<Date>> =
        ids.iter().map(|id| store.subject(id).unwrap().unwrap().subject.established).collect();
    assert_eq!(read, said);
    assert!(read.iter().any(Option::is_some) && read.iter().any(Option::is_none), "{read:?}");
}

/// An authority fixture.
pub fn authority(id: &str) -> Authority {
    Authority::new(id, "北京市朝阳区市场监督管理局", "market_regulation", "110105").unwrap()
}

/// A record fixture.
pub fn record(authority: &str, decision_no: &str, subject: u32) -> Record {
    Record::new(RecordFields {
        authority: Slug::parse("authority", authority).unwrap(),
        decision_no,
        subject: uscc(subject),
        kind: Slug::parse("kind", "penalty.minor").unwrap(),
        decided: date("2025-03-01"),
        effective: date("2025-03-05"),
        basis: "Administrative Penalty Law, Art. 28",
        summary: "failure to publish annual report",
        amount: Some(Money::parse("5000", "CNY").unwrap()),
        document_sha256: None,
        inspection_plan: None,
    })
    .unwrap()
}

fn ev(body: EventBody) -> Encoded {
    Event::new(at(0), body).into()
}

/// The first ten entries of `list` that have not ended by `on`.
fn first_ten<'a>(list: &'a str, on: &str) -> crate::ListQuery<'a> {
    crate::ListQuery { list, on: date(on), after: None, limit: 10 }
}

fn reg_subject(n: u32) -> Encoded {
    ev(EventBody::SubjectRegistered { subject: subject(n) })
}

fn reg_authority(id: &str) -> Encoded {
    ev(EventBody::AuthorityRegistered { authority: authority(id) })
}

fn file(r: Record) -> Encoded {
    ev(EventBody::RecordFiled { record: r })
}

fn appended(o: &Outcome) -> bool {
    matches!(o, Outcome::Appended { .. })
}

/// What rating reads of a subject from the projections is what the full subject and records
/// say.
fn standings_agree(store: &dyn Store, id: &SubjectId) {
    let full: Vec<RecordStanding> =
        store.records_of(id).unwrap().iter().map(RecordStanding::from).collect();
    let standing = store.standing_of(id).unwrap().expect("a subject the store holds");
    assert_eq!(standing.records, full, "standings of {id}");
    let subject = store.subject(id).unwrap().unwrap().subject;
    assert_eq!(standing.established, subject.established, "established of {id}");
    // Read together, with a subject the store lacks between and the same one twice.
    let together = store.standings_of(&[*id, uscc(999), *id]).unwrap();
    assert_eq!(together, vec![Some(standing.clone()), None, Some(standing)], "standings of {id}");
}

/// The records of a subject as rating reads them.
fn standings(store: &dyn Store, id: &SubjectId) -> Vec<RecordStanding> {
    store.standing_of(id).unwrap().map(|s| s.records).unwrap_or_default()
}

fn setup(store: &mut dyn Store) {
    let out = store.append(&[reg_authority("bj-amr"), reg_subject(1), reg_subject(2)]).unwrap();
    assert!(out.iter().all(appended), "{out:?}");
}

/// A new store holds nothing.
pub fn empty_store_holds_nothing(store: &mut dyn Store) {
    let c = store.counts().unwrap();
    assert_eq!((c.subjects, c.records, c.authorities, c.events), (0, 0, 0, 0));
    assert!(store.subject(&uscc(1)).unwrap().is_none());
    assert!(store.journal(0, 10).unwrap().is_empty());
    assert!(store.authorities().unwrap().is_empty());
}

/// A subject registered twice with the same details is a duplicate; with other details, a
/// conflict. Neither is journalled.
pub fn subjects_are_idempotent_by_id(store: &mut dyn Store) {
    let out = store.append(&[reg_subject(1)]).unwrap();
    assert_eq!(out, vec![Outcome::Appended { index: 0 }]);
    assert_eq!(store.append(&[reg_subject(1)]).unwrap(), vec![Outcome::Duplicate]);
    let mut changed = subject(1);
    changed.name = "另一个名字有限公司".into();
    let out = store.append(&[ev(EventBody::SubjectRegistered { subject: changed })]).unwrap();
    assert!(
        matches!(&out[0], Outcome::Refused(Refusal::Conflict(m)) if m.contains(uscc(1).as_str())),
        "{out:?}"
    );
    assert_eq!(store.counts().unwrap().events, 1);
    let stored = store.subject(&uscc(1)).unwrap().unwrap();
    assert_eq!(stored.subject, subject(1));
    assert_eq!(stored.index, 0);
}

/// Authorities behave like subjects.
pub fn authorities_are_idempotent_by_id(store: &mut dyn Store) {
    assert!(appended(&store.append(&[reg_authority("bj-amr")]).unwrap()[0]));
    assert_eq!(store.append(&[reg_authority("bj-amr")]).unwrap(), vec![Outcome::Duplicate]);
    let mut other = authority("bj-amr");
    other.category = Slug::parse("c", "tax").unwrap();
    let out = store.append(&[ev(EventBody::AuthorityRegistered { authority: other })]).unwrap();
    assert!(matches!(&out[0], Outcome::Refused(Refusal::Conflict(_))));
    assert!(appended(&store.append(&[reg_authority("a-second")]).unwrap()[0]));
    let ids: Vec<_> = store.authorities().unwrap().into_iter().map(|a| a.id.to_string()).collect();
    assert_eq!(ids, ["a-second", "bj-amr"]);
}

/// A record naming an unknown subject or authority is refused, never stored half-linked.
pub fn records_need_known_subject_and_authority(store: &mut dyn Store) {
    setup(store);
    let out = store
        .append(&[
            file(record("bj-amr", "A-1", 99)),
            file(record("nobody", "A-1", 1)),
            file(record("bj-amr", "A-2", 1)),
        ])
        .unwrap();
    assert_eq!(out[0], Outcome::Refused(Refusal::UnknownSubject(uscc(99))));
    assert_eq!(
        out[1],
        Outcome::Refused(Refusal::UnknownAuthority(Slug::parse("a", "nobody").unwrap()))
    );
    assert_eq!(out[2], Outcome::Appended { index: 3 });
    assert_eq!(store.counts().unwrap().records, 1);
    assert!(store.record(&record("bj-amr", "A-1", 99).key()).unwrap().is_none());
}

/// Filing is idempotent by authority and decision number.
pub fn records_are_idempotent_by_authority_and_decision_number(store: &mut dyn Store) {
    setup(store);
    assert!(appended(&store.append(&[file(record("bj-amr", "A-1", 1))]).unwrap()[0]));
    assert_eq!(
        store.append(&[file(record("bj-amr", "A-1", 1))]).unwrap(),
        vec![Outcome::Duplicate]
    );
    // Same decision number, different content: a conflict that names the key.
    let out = store.append(&[file(record("bj-amr", "A-1", 2))]).unwrap();
    assert!(
        matches!(&out[0], Outcome::Refused(Refusal::Conflict(m)) if m.contains("A-1")),
        "{out:?}"
    );
    // The same decision number at another authority is another record.
    store.append(&[reg_authority("bj-tax")]).unwrap();
    assert!(appended(&store.append(&[file(record("bj-tax", "A-1", 1))]).unwrap()[0]));
    let c = store.counts().unwrap();
    assert_eq!((c.records, c.events), (2, 6));
}

/// Duplicates inside one batch are caught like duplicates across batches.
pub fn duplicates_within_one_batch(store: &mut dyn Store) {
    let out = store
        .append(&[
            reg_authority("bj-amr"),
            reg_subject(1),
            reg_subject(1),
            file(record("bj-amr", "A-1", 1)),
            file(record("bj-amr", "A-1", 1)),
        ])
        .unwrap();
    let kinds: Vec<_> = out.iter().map(appended).collect();
    assert_eq!(kinds, [true, true, false, true, false]);
    assert_eq!(out[2], Outcome::Duplicate);
    assert_eq!(store.counts().unwrap().events, 3);
}

/// Appends held in one transaction ([`Store::hold_appends`]) each get the outcomes they would
/// get alone, a later one seeing what an earlier one wrote; after the commit the store holds
/// them all, as if each had committed by itself. A commit with nothing held does nothing.
pub fn held_appends_see_each_other_and_commit_together(store: &mut dyn Store) {
    store.commit_held().unwrap();
    let held = store.hold_appends().unwrap();
    let first = store
        .append(&[reg_authority("bj-amr"), reg_subject(1), file(record("bj-amr", "A-1", 1))])
        .unwrap();
    assert!(first.iter().all(appended), "{first:?}");
    let second =
        store.append(&[reg_subject(1), reg_subject(2), file(record("bj-amr", "A-1", 1))]).unwrap();
    assert_eq!(second, [Outcome::Duplicate, second[1].clone(), Outcome::Duplicate]);
    assert!(appended(&second[1]));
    let third = store.append(&[file(record("bj-amr", "A-2", 2))]).unwrap();
    assert!(appended(&third[0]));
    store.commit_held().unwrap();
    store.commit_held().unwrap();
    assert_eq!(store.counts().unwrap().events, 5);
    // Held again after the commit, the next appends go on from where it left off.
    assert_eq!(store.hold_appends().unwrap(), held);
    let fourth = store.append(&[file(record("bj-amr", "A-3", 1))]).unwrap();
    assert!(appended(&fourth[0]));
    store.commit_held().unwrap();
    assert_eq!(store.counts().unwrap().events, 6);
    for n in [1, 2] {
        standings_agree(store, &uscc(n));
    }
    log_is_the_tree_of_its_journal(store);
}

/// After batches whose records were all new, a batch mixing new filings with a stored key
/// filed again (the same and with other content) gets each outcome it would get alone, and the
/// log and projections hold only what was new, as do the batches after it, all new again. A
/// store may send a batch's filings without first looking their keys up when the batches
/// before held none it knew, and must then still refuse what it holds.
pub fn stored_keys_among_new_ones_after_new_batches(store: &mut dyn Store) {
    setup(store);
    for n in 0..3 {
        let batch: Vec<Encoded> =
            (0..5).map(|i| file(record("bj-amr", &format!("N-{n}-{i}"), 1 + i % 2))).collect();
        assert!(store.append(&batch).unwrap().iter().all(appended), "batch {n} is all new");
    }
    let events = store.counts().unwrap().events;
    // The batch also registers a subject: a store that sends it again (after a stored key it
    // did not probe) must not keep the row it gave the subject the first time.
    let out = store
        .append(&[
            reg_subject(3),
            file(record("bj-amr", "M-1", 1)),
            file(record("bj-amr", "N-1-2", 1)),
            file(record("bj-amr", "N-2-3", 1)),
            file(record("bj-amr", "M-2", 2)),
        ])
        .unwrap();
    assert!(appended(&out[0]), "{out:?}");
    assert!(appended(&out[1]), "{out:?}");
    assert_eq!(out[2], Outcome::Duplicate, "the same filing again");
    assert!(
        matches!(&out[3], Outcome::Refused(Refusal::Conflict(m)) if m.contains("N-2-3")),
        "the same key with another subject: {out:?}"
    );
    assert!(appended(&out[4]), "{out:?}");
    assert_eq!(out[1], Outcome::Appended { index: events + 1 });
    assert_eq!(out[4], Outcome::Appended { index: events + 2 });
    let c = store.counts().unwrap();
    assert_eq!((c.records, c.events), (17, events + 3));
    let out = store.append(&[file(record("bj-amr", "L-1", 3))]).unwrap();
    assert_eq!(out, vec![Outcome::Appended { index: events + 3 }]);
    assert_eq!(
        store.append(&[file(record("bj-amr", "L-1", 3))]).unwrap(),
        vec![Outcome::Duplicate]
    );
    assert_eq!(store.counts().unwrap().records, 18);
    assert_eq!(standings(store, &uscc(3)).len(), 1, "the filing about the new subject");
    standings_agree(store, &uscc(3));
    // After more new ones, a batch that files a stored key with a subject nobody registered
    // (refused before its key is read) and then corrects that record: the correction finds it.
    let batch: Vec<Encoded> =
        (0..3).map(|i| file(record("bj-amr", &format!("P-{i}"), 1))).collect();
    assert!(store.append(&batch).unwrap().iter().all(appended));
    let mut corrected = record("bj-amr", "N-0-0", 2);
    corrected.summary = "corrected on review".into();
    let out = store
        .append(&[
            file(record("bj-amr", "N-0-0", 99)),
            ev(EventBody::RecordCorrected { record: corrected.clone(), reason: "review".into() }),
        ])
        .unwrap();
    assert_eq!(out[0], Outcome::Refused(Refusal::UnknownSubject(uscc(99))));
    assert!(appended(&out[1]), "the stored record is corrected: {out:?}");
    let stored = store.record(&corrected.key()).unwrap().unwrap();
    assert_eq!(stored.record.summary, corrected.summary);
    standings_agree(store, &uscc(1));
    standings_agree(store, &uscc(2));
}

/// One batch may file records and then correct, withdraw or file them again: each event sees
/// what the ones before it in the batch did, as if appended one by one.
pub fn one_batch_changes_what_it_filed(store: &mut dyn Store) {
    let a = record("bj-amr", "A-1", 1);
    let b = record("bj-amr", "B-1", 1);
    let mut moved = a.clone();
    moved.subject = uscc(2);
    let out = store
        .append(&[
            reg_authority("bj-amr"),
            reg_subject(1),
            reg_subject(2),
            file(a.clone()),
            file(b.clone()),
            ev(EventBody::RecordCorrected { record: moved, reason: "wrong company".into() }),
            ev(EventBody::RecordWithdrawn { key: b.key(), reason: "annulled".into() }),
            file(a.clone()),
            file(record("bj-amr", "C-1", 2)),
            ev(EventBody::RecordWithdrawn { key: b.key(), reason: "annulled".into() }),
            ev(EventBody::RecordCorrected { record: b.clone(), reason: "late".into() }),
        ])
        .unwrap();
    let indices: Vec<Option<u64>> = out
        .iter()
        .map(|o| match o {
            Outcome::Appended { index } => Some(*index),
            _ => None,
        })
        .collect();
    assert_eq!(
        indices,
        [Some(0), Some(1), Some(2), Some(3), Some(4), Some(5), Some(6), None, Some(7), None, None]
    );
    assert_eq!(out[7], Outcome::Duplicate, "the first filing of A-1 is what is compared");
    assert_eq!(out[9], Outcome::Duplicate, "withdrawn already");
    assert_eq!(out[10], Outcome::Refused(Refusal::Withdrawn(b.key())));
    assert_eq!(store.log_size().unwrap(), 8);
    let of = |store: &dyn Store, n: u32| -> Vec<(String, u64, RecordStatus)> {
        store
            .records_of(&uscc(n))
            .unwrap()
            .iter()
            .map(|r| (r.record.decision_no.clone(), r.filed_index, r.status))
            .collect()
    };
    assert_eq!(of(store, 1), [("B-1".into(), 4, RecordStatus::Withdrawn)]);
    assert_eq!(
        of(store, 2),
        [("A-1".into(), 3, RecordStatus::Corrected), ("C-1".into(), 7, RecordStatus::Filed)]
    );
    let history = |store: &dyn Store, key| -> Vec<u64> {
        store.record_history(&key).unwrap().iter().map(|e| e.index).collect()
    };
    assert_eq!(history(store, a.key()), [3, 5]);
    assert_eq!(history(store, b.key()), [4, 6]);
    standings_agree(store, &uscc(1));
    standings_agree(store, &uscc(2));
}

/// Journal indices are 0, 1, 2, … in append order, and the stored bytes are the canonical
/// encodings of the events given.
pub fn journal_is_dense_ordered_and_canonical(store: &mut dyn Store) {
    let events = vec![reg_authority("bj-amr"), reg_subject(1), file(record("bj-amr", "A-1", 1))];
    let out = store.append(&events).unwrap();
    let idx: Vec<_> = out
        .iter()
        .map(|o| match o {
            Outcome::Appended { index } => *index,
            _ => u64::MAX,
        })
        .collect();
    assert_eq!(idx, [0, 1, 2]);
    let more = store.append(&[reg_subject(2)]).unwrap();
    assert_eq!(more, vec![Outcome::Appended { index: 3 }]);
    let all = store.journal(0, 100).unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(store.log_size().unwrap(), 4);
    for (i, (entry, event)) in all.iter().zip(events.iter().chain([&reg_subject(2)])).enumerate() {
        assert_eq!(entry.index, i as u64);
        assert_eq!(entry.bytes, event.bytes());
    }
    let page = store.journal(2, 1).unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].index, 2);
    assert!(store.journal(4, 10).unwrap().is_empty());
}

/// Corrections change the current content and status; withdrawals change the status and are
/// final; the original filing stays a duplicate for idempotent re-imports.
pub fn corrections_and_withdrawals(store: &mut dyn Store) {
    setup(store);
    let original = record("bj-amr", "A-1", 1);
    store.append(&[file(original.clone())]).unwrap();
    let mut corrected = original.clone();
    corrected.basis = "Administrative Penalty Law, Art. 30".into();
    let out = store
        .append(&[ev(EventBody::RecordCorrected {
            record: corrected.clone(),
            reason: "wrong article cited".into(),
        })])
        .unwrap();
    assert_eq!(out, vec![Outcome::Appended { index: 4 }]);
    let stored = store.record(&original.key()).unwrap().unwrap();
    assert_eq!(stored.record, corrected);
    assert_eq!(stored.status, RecordStatus::Corrected);
    assert_eq!((stored.filed_index, stored.last_index), (3, 4));
    assert_eq!(store.append(&[file(original.clone())]).unwrap(), vec![Outcome::Duplicate]);

    let withdraw =
        ev(EventBody::RecordWithdrawn { key: original.key(), reason: "annulled on review".into() });
    assert!(appended(&store.append(std::slice::from_ref(&withdraw)).unwrap()[0]));
    let stored = store.record(&original.key()).unwrap().unwrap();
    assert_eq!(stored.status, RecordStatus::Withdrawn);
    assert_eq!(stored.last_index, 5);
    // Withdrawing again changes nothing.
    assert_eq!(store.append(&[withdraw]).unwrap(), vec![Outcome::Duplicate]);

    // The record's whole history is kept, in order.
    let history: Vec<u64> =
        store.record_history(&original.key()).unwrap().into_iter().map(|e| e.index).collect();
    assert_eq!(history, [3, 4, 5]);
    assert_eq!(store.recorded_at(3).unwrap(), Some(at(0)));

    // A withdrawn record stays withdrawn: a correction cannot bring it back.
    let out = store
        .append(&[ev(EventBody::RecordCorrected { record: corrected, reason: "again".into() })])
        .unwrap();
    assert_eq!(out, vec![Outcome::Refused(Refusal::Withdrawn(original.key()))]);
    assert_eq!(store.record(&original.key()).unwrap().unwrap().status, RecordStatus::Withdrawn);
    assert_eq!(store.recorded_at(99).unwrap(), None);

    standings_agree(store, &uscc(1));
    standings_agree(store, &uscc(2));

    let ghost = record("bj-amr", "nope", 1);
    let out = store
        .append(&[ev(EventBody::RecordCorrected { record: ghost.clone(), reason: "x".into() })])
        .unwrap();
    assert_eq!(out, vec![Outcome::Refused(Refusal::UnknownRecord(ghost.key()))]);
}

/// Withholding a record's text must list exactly its entries. Each body is then published
/// without its free text while its leaf stays; the record still counts as it did; a redaction
/// after it keeps the digest of the body the leaf commits to.
pub fn withholding_text_keeps_leaves_and_what_rating_reads(store: &mut dyn Store) {
    setup(store);
    let named = record("bj-amr", "A-1", 1);
    store.append(&[file(named.clone())]).unwrap();
    let standing = store.standing_of(&uscc(1)).unwrap();
    let leaves: Vec<[u8; 32]> = (0..4).map(|i| store.log_node(0, i).unwrap()).collect();
    let withhold = |entries: Vec<u64>| {
        ev(EventBody::RecordTextWithheld { key: named.key(), entries, reason: "a name".into() })
    };
    let out = store.append(&[withhold(vec![])]).unwrap();
    assert!(
        matches!(&out[0], Outcome::Refused(Refusal::Conflict(m)) if m.contains("[3]")),
        "{out:?}"
    );
    assert_eq!(store.append(&[withhold(vec![3])]).unwrap(), vec![Outcome::Appended { index: 4 }]);

    let entry = store.journal(3, 1).unwrap().remove(0);
    let published = Event::decode(&entry.bytes).unwrap();
    assert_eq!(published, published.without_free_text(), "the text is withheld");
    assert_ne!(entry.withheld, None, "the digest of the body it had is kept");
    for (i, leaf) in leaves.iter().enumerate() {
        assert_eq!(store.log_node(0, i as u64).unwrap(), *leaf, "leaf {i} must not change");
    }
    let read = store.record(&named.key()).unwrap().unwrap().record;
    assert_eq!(
        (read.kind, read.effective, read.summary.as_str()),
        (named.kind.clone(), named.effective, probity_core::WITHHELD_TEXT)
    );
    let after = store.standing_of(&uscc(1)).unwrap().unwrap();
    let before = standing.unwrap();
    assert_eq!(after.records, before.records, "what rating reads is the same");

    // A redaction later keeps the digest of the original body.
    let withdraw = ev(EventBody::RecordWithdrawn { key: named.key(), reason: "annulled".into() });
    assert!(appended(&store.append(&[withdraw]).unwrap()[0]));
    let redact = ev(EventBody::RecordRedacted {
        key: named.key(),
        entries: vec![3, 5],
        reason: "expired".into(),
    });
    assert!(appended(&store.append(&[redact]).unwrap()[0]));
    assert_eq!(store.log_node(0, 3).unwrap(), leaves[3]);
    let entry = store.journal(3, 1).unwrap().remove(0);
    assert!(entry.bytes.is_empty());
    assert_eq!(probity_tlog::leaf_hash(&entry.leaf_data()), leaves[3]);
}

/// A redaction must list exactly the record's entries. It withholds their bodies while every
/// leaf stays as it was, removes the record from the projections, and keeps its key taken:
/// filing it again or redacting it again adds nothing, and nothing else may name it.
pub fn redaction_withholds_bodies_and_keeps_leaves(store: &mut dyn Store) {
    setup(store);
    let gone = record("bj-amr", "A-1", 1);
    let kept = record("bj-amr", "A-2", 1);
    store.append(&[file(gone.clone()), file(kept.clone())]).unwrap();
    let withdraw = ev(EventBody::RecordWithdrawn { key: gone.key(), reason: "annulled".into() });
    assert!(appended(&store.append(&[withdraw]).unwrap()[0]));
    let before = store.journal(0, 10).unwrap();
    let leaves: Vec<[u8; 32]> = (0..6).map(|i| store.log_node(0, i).unwrap()).collect();
    let redact = |entries: Vec<u64>| {
        ev(EventBody::RecordRedacted { key: gone.key(), entries, reason: "expired".into() })
    };

    let out = store.append(&[redact(vec![3])]).unwrap();
    assert!(
        matches!(&out[0], Outcome::Refused(Refusal::Conflict(m)) if m.contains("[3, 5]")),
        "{out:?}"
    );
    assert_eq!(store.append(&[redact(vec![3, 5])]).unwrap(), vec![Outcome::Appended { index: 6 }]);

    let after = store.journal(0, 10).unwrap();
    assert_eq!(after.len(), 7);
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a.leaf_data(), b.leaf_data(), "entry {}: its leaf must not change", a.index);
        if [3, 5].contains(&a.index) {
            assert!(a.bytes.is_empty() && a.withheld.is_some(), "entry {} is withheld", a.index);
        } else {
            assert_eq!((&a.bytes, a.withheld), (&b.bytes, None));
        }
    }
    for (i, leaf) in leaves.iter().enumerate() {
        assert_eq!(store.log_node(0, i as u64).unwrap(), *leaf);
    }
    assert!(store.record(&gone.key()).unwrap().is_none());
    let left: Vec<_> = store.records_of(&uscc(1)).unwrap().into_iter().map(|r| r.record).collect();
    assert_eq!(left, vec![kept]);
    assert_eq!(store.counts().unwrap().records, 1);
    standings_agree(store, &uscc(1));

    assert_eq!(store.append(&[file(gone.clone())]).unwrap(), vec![Outcome::Duplicate]);
    assert_eq!(store.append(&[redact(vec![3, 5])]).unwrap(), vec![Outcome::Duplicate]);
    let out = store
        .append(&[ev(EventBody::RecordCorrected { record: gone.clone(), reason: "x".into() })])
        .unwrap();
    assert_eq!(out, vec![Outcome::Refused(Refusal::UnknownRecord(gone.key()))]);
    assert_eq!(store.log_size().unwrap(), 7);
}

/// Due-process steps join the record's history; objections and repair applications open cases
/// that the authority's answer closes; an open objection marks the record disputed; a granted
/// repair records its day. A step about an unknown record is refused.
pub fn due_process_cases(store: &mut dyn Store) {
    use probity_core::{CaseKind, ObjectionOutcome, Step};
    setup(store);
    let r = record("bj-amr", "A-1", 1);
    store.append(&[file(r.clone())]).unwrap();
    let step = |step: Step, second: i64| -> Encoded {
        Event::new(at(second), EventBody::ProcessStep { record: r.key(), step }).into()
    };
    let out = store.append(&[step(Step::ObjectionFiled { grounds: "paid already".into() }, 10)]);
    assert_eq!(out.unwrap(), vec![Outcome::Appended { index: 4 }]);
    let stored = store.record(&r.key()).unwrap().unwrap();
    assert!(stored.disputed);
    assert_eq!((stored.last_index, stored.repaired), (4, None));
    let open = store.cases(true, None, 10).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!((open[0].kind, open[0].opened, open[0].closed), (CaseKind::Objection, 4, None));
    assert_eq!(open[0].record, r.key());

    let steps = [
        step(Step::ObjectionAnswered { admitted: true, reason: "in time".into() }, 20),
        step(Step::ReplyPublished { text: "we paid on the day".into() }, 30),
        step(
            Step::ObjectionDecided {
                outcome: ObjectionOutcome::Upheld,
                reason: "payment came late".into(),
            },
            40,
        ),
        step(Step::RepairApplied { statement: "fine paid, report filed".into() }, 50),
    ];
    let out = store.append(&steps).unwrap();
    assert!(out.iter().all(appended), "{out:?}");
    assert!(!store.record(&r.key()).unwrap().unwrap().disputed);
    let open = store.cases(true, None, 10).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!((open[0].kind, open[0].opened), (CaseKind::Repair, 8));
    let all = store.cases(false, None, 10).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!((all[0].opened, all[0].closed), (4, Some(7)));
    assert_eq!(store.cases(false, Some(4), 10).unwrap().len(), 1);
    assert_eq!(store.cases(false, None, 1).unwrap().len(), 1);

    let day = 86_400 * 40;
    store.append(&[step(Step::RepairDecided { granted: true, reason: "ok".into() }, day)]).unwrap();
    let stored = store.record(&r.key()).unwrap().unwrap();
    assert_eq!(stored.repaired, Some(probity_core::date_of(at(day))));
    assert_eq!(stored.last_index, 9);
    standings_agree(store, &uscc(1));
    assert!(store.cases(true, None, 10).unwrap().is_empty());
    let history: Vec<u64> =
        store.record_history(&r.key()).unwrap().into_iter().map(|e| e.index).collect();
    assert_eq!(history, [3, 4, 5, 6, 7, 8, 9]);

    let ghost = record("bj-amr", "nope", 1).key();
    let out = store
        .append(&[ev(EventBody::ProcessStep {
            record: ghost.clone(),
            step: Step::ReplyPublished { text: "x".into() },
        })])
        .unwrap();
    assert_eq!(out, vec![Outcome::Refused(Refusal::UnknownRecord(ghost))]);
}

/// Records of a subject come back in filing order, with their status.
pub fn records_of_a_subject_in_filing_order(store: &mut dyn Store) {
    setup(store);
    store
        .append(&[
            file(record("bj-amr", "B", 1)),
            file(record("bj-amr", "A", 2)),
            file(record("bj-amr", "C", 1)),
        ])
        .unwrap();
    let nos: Vec<_> =
        store.records_of(&uscc(1)).unwrap().into_iter().map(|r| r.record.decision_no).collect();
    assert_eq!(nos, ["B", "C"]);
    assert!(store.records_of(&uscc(3)).unwrap().is_empty());
    standings_agree(store, &uscc(1));
    standings_agree(store, &uscc(2));
    assert_eq!(store.standing_of(&uscc(3)).unwrap(), None, "a subject the store lacks");
}

/// What rating reads of records follows every correction of kind, effective date and subject,
/// and every withdrawal, exactly as the full records do.
pub fn standings_follow_corrections(store: &mut dyn Store) {
    setup(store);
    let a = record("bj-amr", "A-1", 1);
    let b = record("bj-amr", "B-1", 1);
    store.append(&[file(a.clone()), file(b.clone())]).unwrap();
    let mut moved = a.clone();
    moved.subject = uscc(2);
    moved.kind = Slug::parse("kind", "penalty.serious").unwrap();
    moved.effective = date("2025-04-01");
    let correct = ev(EventBody::RecordCorrected { record: moved, reason: "wrong company".into() });
    let withdraw = ev(EventBody::RecordWithdrawn { key: b.key(), reason: "annulled".into() });
    assert!(store.append(&[correct, withdraw]).unwrap().iter().all(appended));
    standings_agree(store, &uscc(1));
    standings_agree(store, &uscc(2));
    let two = standings(store, &uscc(2));
    assert_eq!(two.len(), 1);
    assert_eq!((two[0].kind.as_str(), two[0].effective), ("penalty.serious", date("2025-04-01")));
    assert_eq!((two[0].filed_index, two[0].status), (3, RecordStatus::Corrected));
    let one = standings(store, &uscc(1));
    assert_eq!(one.len(), 1);
    assert_eq!((one[0].filed_index, one[0].status), (4, RecordStatus::Withdrawn));
}

/// Settling after a bulk change leaves every read as it was, and appends go on after it.
pub fn settling_changes_nothing_a_reader_sees(store: &mut dyn Store) {
    setup(store);
    let filings: Vec<Encoded> =
        (0..300).map(|i| file(record("bj-amr", &format!("S-{i}"), 1 + i % 2))).collect();
    assert!(store.append(&filings).unwrap().iter().all(appended));
    let read = |store: &dyn Store| {
        (
            store.counts().unwrap(),
            store.records_of(&uscc(1)).unwrap(),
            store.standings_of(&[uscc(2), uscc(999), uscc(1)]).unwrap(),
            store.journal(0, 1_000).unwrap(),
            store.log_size().unwrap(),
        )
    };
    let before = read(store);
    store.settle().unwrap();
    assert_eq!(read(store), before, "settling changed what a reader sees");
    assert!(store.append(&[file(record("bj-amr", "S-after", 2))]).unwrap().iter().all(appended));
    assert_eq!(standings(store, &uscc(2)).len(), 151);
    standings_agree(store, &uscc(2));
}

/// The exception list holds each code once.
pub fn code_exceptions(store: &mut dyn Store) {
    let admit = ev(EventBody::CodeExceptionAdmitted {
        code: "91350100M0001TGQXM".into(),
        reason: "pilot-era code".into(),
    });
    assert!(appended(&store.append(std::slice::from_ref(&admit)).unwrap()[0]));
    assert_eq!(store.append(&[admit]).unwrap(), vec![Outcome::Duplicate]);
    assert_eq!(store.code_exceptions().unwrap(), ["91350100M0001TGQXM"]);
    assert_eq!(store.counts().unwrap().code_exceptions, 1);
}

/// An inspection plan fixture of authority `bj-amr`.
pub fn plan(plan_no: &str) -> probity_core::InspectionPlan {
    probity_core::InspectionPlan {
        authority: Slug::parse("authority", "bj-amr").unwrap(),
        plan_no: plan_no.into(),
        title: "Random inspection".into(),
        basis: "Interim Regulations on Enterprise Information Publicity, Art. 14".into(),
        scope: probity_core::Scope::default(),
        items: vec![Slug::parse("item", "annual_report").unwrap()],
        ratios: [("A".to_owned(), 100)].into_iter().collect(),
        teams: 2,
        team_commitment: probity_core::DocumentHash::from_bytes([5; 32]),
        beacon: probity_core::BeaconRound { chain: "52".repeat(32), round: 9 },
    }
}

/// A feed's cursor is kept by name, and moved by the next one kept.
pub fn feed_cursors_are_kept_by_name(store: &mut dyn Store) {
    assert_eq!(store.feed_cursor("nats.events").unwrap(), None);
    store.set_feed_cursor("nats.events", 10).unwrap();
    store.set_feed_cursor("other", 3).unwrap();
    assert_eq!(store.feed_cursor("nats.events").unwrap(), Some(10));
    store.set_feed_cursor("nats.events", 510).unwrap();
    assert_eq!(store.feed_cursor("nats.events").unwrap(), Some(510));
    assert_eq!(store.feed_cursor("other").unwrap(), Some(3));
}

/// Watchlists are kept with their webhooks' delivery state; answer changes are kept with the
/// assessment that made them, in order, only when that assessment was stored, and each
/// watchlist sees those of its subjects from when it took them on.
pub fn watchlists_keep_the_answer_changes_of_their_subjects(store: &mut dyn Store) {
    use crate::{AnswerChange, AssessmentRow, Cause, Delivery, Watchlist, Webhook};
    store.append(&[reg_subject(1), reg_subject(2), reg_subject(3)]).unwrap();
    let t = |s: i64| Timestamp::from_second(1_790_000_000 + s).unwrap();
    let list = |id: &str, owner: &str| Watchlist {
        id: id.into(),
        owner: owner.into(),
        label: format!("{id} of {owner}"),
        measures: vec!["procurement.bid".into()],
        created: t(0),
        seen: 0,
        webhook: None,
    };
    let mut a = list("wl-a", "bank");
    a.webhook = Some(Webhook {
        url: "http://127.0.0.1:9/hook".into(),
        secret: "whsec_c2VjcmV0".into(),
        delivery: Delivery::default(),
    });
    store.put_watchlist(&a).unwrap();
    store.put_watchlist(&list("wl-b", "bank")).unwrap();
    store.put_watchlist(&list("wl-c", "ministry")).unwrap();
    assert_eq!(store.watchlist("wl-a").unwrap(), Some(a.clone()));
    assert_eq!(store.watchlist("nope").unwrap(), None);
    let ids = |ws: Vec<Watchlist>| ws.into_iter().map(|w| w.id).collect::<Vec<_>>();
    assert_eq!(ids(store.watchlists(Some("bank")).unwrap()), ["wl-a", "wl-b"]);
    assert_eq!(ids(store.watchlists(None).unwrap()), ["wl-a", "wl-b", "wl-c"]);

    // Delivery state moves only under the URL it was for.
    let d = Delivery {
        delivered: 4,
        pending: Some(7),
        attempts: 2,
        next_attempt: Some(t(60)),
        first_failure: Some(t(10)),
        failing_since: None,
        last_error: Some("receiver answered 503".into()),
        last_success: Some(t(5)),
    };
    assert!(store.set_delivery("wl-a", "http://127.0.0.1:9/hook", &d).unwrap());
    assert!(!store.set_delivery("wl-a", "http://elsewhere/", &Delivery::default()).unwrap());
    assert!(!store.set_delivery("wl-b", "http://127.0.0.1:9/hook", &d).unwrap());
    let kept = store.watchlist("wl-a").unwrap().unwrap();
    assert_eq!(kept.webhook.unwrap().delivery, d);

    assert_eq!(store.watch("wl-a", &[uscc(1), uscc(2)]).unwrap(), 2);
    assert_eq!(store.watch("wl-a", &[uscc(2), uscc(9)]).unwrap(), 1, "uscc(2) is on it");
    assert_eq!(store.watch_count("wl-a").unwrap(), 3);
    assert_eq!(store.watched("wl-a", None, 2).unwrap().len(), 2);
    let all = store.watched("wl-a", None, 10).unwrap();
    assert_eq!(store.watched("wl-a", Some(&all[0]), 10).unwrap(), all[1..].to_vec());
    let mut among = store.watched_among(&[uscc(1), uscc(3), uscc(9)]).unwrap();
    among.sort();
    let mut want = vec![uscc(1), uscc(9)];
    want.sort();
    assert_eq!(among, want, "uscc(3) is on no watchlist");
    assert_eq!(store.last_change().unwrap(), 0);

    let row = |n: u32, grade: &str, size: u64| AssessmentRow {
        subject: uscc(n),
        as_of: date("2026-11-01"),
        grade: Some(grade.into()),
        score: None,
        decisions: r#"{"procurement.bid":"allow"}"#.into(),
        next_change: None,
        rulebook: "cn-default".into(),
        version: "1".into(),
        explanation: format!(r#"{{"grade":"{grade}","size":{size}}}"#),
        answers: r#"[{"measure":"bid"}]"#.into(),
        log_size: size,
        lists: Vec::new(),
    };
    let change = |before: Option<&AssessmentRow>, after: &AssessmentRow| {
        AnswerChange::between(
            before,
            after,
            Cause::Event { index: after.log_size - 1, event: "record_filed".into() },
        )
        .unwrap()
    };
    let (one_a, two_a, three_a) = (row(1, "A", 3), row(2, "A", 3), row(3, "A", 3));
    store
        .put_assessments(
            &[one_a.clone(), two_a.clone(), three_a.clone()],
            &[change(None, &one_a), change(None, &two_a), change(None, &three_a)],
        )
        .unwrap();
    assert_eq!(store.last_change().unwrap(), 3);
    let seen = store.watched_changes("wl-a", 0, 10).unwrap();
    let subjects = |cs: &[AnswerChange]| cs.iter().map(|c| c.subject).collect::<Vec<_>>();
    assert_eq!(subjects(&seen), [uscc(1), uscc(2)], "uscc(3) is not on wl-a");
    assert_eq!(seen[0], AnswerChange { position: 1, ..change(None, &one_a) });
    assert_eq!(seen[1].position, 2);
    assert!(store.watched_changes("wl-b", 0, 10).unwrap().is_empty(), "wl-b watches nothing");

    // A change whose row was not stored (an older view of the log, or the same row) is not kept.
    let one_b_old = row(1, "B", 2);
    store
        .put_assessments(std::slice::from_ref(&one_b_old), &[change(Some(&one_a), &one_b_old)])
        .unwrap();
    store.put_assessments(std::slice::from_ref(&one_a), &[change(None, &one_a)]).unwrap();
    assert_eq!(store.last_change().unwrap(), 3, "neither row was stored");

    // wl-b takes on uscc(1) now: it sees only what changes from here.
    assert_eq!(store.watch("wl-b", &[uscc(1)]).unwrap(), 1);
    let one_c = row(1, "C", 5);
    store.put_assessments(std::slice::from_ref(&one_c), &[change(Some(&one_a), &one_c)]).unwrap();
    let b = store.watched_changes("wl-b", 0, 10).unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(
        (b[0].position, b[0].before.clone(), b[0].after.grade.clone()),
        (4, Some(crate::Answer::of(&one_a)), Some("C".into()))
    );
    assert_eq!(store.watched_changes("wl-a", 2, 10).unwrap(), b, "after a position");
    assert_eq!(store.watched_changes("wl-a", 0, 1).unwrap().len(), 1, "limited");

    // A change diffed against an answer that is no longer the stored one (another writer
    // stored one meanwhile) is kept as a change from the answer stored.
    let (one_d, one_e) = (row(1, "D", 6), row(1, "E", 7));
    store.put_assessments(std::slice::from_ref(&one_d), &[]).unwrap();
    store.put_assessments(std::slice::from_ref(&one_e), &[change(Some(&one_c), &one_e)]).unwrap();
    let last = store.watched_changes("wl-a", 4, 10).unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].before, Some(crate::Answer::of(&one_d)), "from the answer stored");
    // And one whose new answer is stored already is not kept.
    let one_e_again = AssessmentRow { explanation: "same answer".into(), ..row(1, "E", 8) };
    store
        .put_assessments(std::slice::from_ref(&one_e_again), &[change(Some(&one_d), &one_e_again)])
        .unwrap();
    assert_eq!(store.last_change().unwrap(), 5);

    assert_eq!(store.unwatch("wl-a", &[uscc(1), uscc(3)]).unwrap(), 1);
    assert_eq!(subjects(&store.watched_changes("wl-a", 0, 10).unwrap()), [uscc(2)]);
    assert!(store.drop_watchlist("wl-b").unwrap());
    assert!(!store.drop_watchlist("wl-b").unwrap());
    assert_eq!(store.watchlist("wl-b").unwrap(), None);
    assert!(
        store.watched_among(&[uscc(1)]).unwrap().is_empty(),
        "wl-b held the last watch of uscc(1)"
    );
}

/// As a witness, the state of a followed log moves by compare-and-set: from nothing only once,
/// then only from the size and root it holds, so of two requests judged against one state only
/// the first is stored; other origins are apart.
pub fn witness_state_moves_only_from_what_was_judged(store: &mut dyn Store) {
    let origin = "example.org/log";
    assert_eq!(store.witnessed(origin).unwrap(), None);
    assert!(store.advance_witnessed(origin, None, 3, &[3; 32], "note 3").unwrap());
    assert!(!store.advance_witnessed(origin, None, 4, &[4; 32], "note 4").unwrap());
    assert_eq!(store.witnessed(origin).unwrap(), Some((3, [3; 32])));
    // The right size with another root, and another size, both fail.
    assert!(!store.advance_witnessed(origin, Some((3, [9; 32])), 5, &[5; 32], "x").unwrap());
    assert!(!store.advance_witnessed(origin, Some((2, [3; 32])), 5, &[5; 32], "x").unwrap());
    assert!(store.advance_witnessed(origin, Some((3, [3; 32])), 5, &[5; 32], "note 5").unwrap());
    assert!(!store.advance_witnessed(origin, Some((3, [3; 32])), 6, &[6; 32], "x").unwrap());
    assert_eq!(store.witnessed(origin).unwrap(), Some((5, [5; 32])));
    assert_eq!(store.witnessed("other.example/log").unwrap(), None);
    assert!(store.advance_witnessed("other.example/log", None, 1, &[1; 32], "n").unwrap());
    assert_eq!(store.witnessed(origin).unwrap(), Some((5, [5; 32])));
}

/// A plan is kept once by its key (the same plan again is a duplicate, another one a conflict)
/// and needs a registered authority; a draw needs its plan and subjects the store holds, is
/// kept once, and the subjects it selected find it.
pub fn inspection_plans_and_draws(store: &mut dyn Store) {
    use probity_core::{InspectionDraw, Target};
    setup(store);
    let p = plan("P-1");
    let planned = ev(EventBody::InspectionPlanned { plan: p.clone() });
    let out = store.append(std::slice::from_ref(&planned)).unwrap();
    let Outcome::Appended { index: at } = out[0] else { panic!("{out:?}") };
    assert_eq!(store.append(std::slice::from_ref(&planned)).unwrap(), vec![Outcome::Duplicate]);
    let mut other = p.clone();
    other.teams = 3;
    let out = store.append(&[ev(EventBody::InspectionPlanned { plan: other })]).unwrap();
    assert!(matches!(&out[0], Outcome::Refused(Refusal::Conflict(m)) if m.contains("P-1")));
    let mut stranger = plan("P-2");
    stranger.authority = Slug::parse("a", "nowhere").unwrap();
    let out = store.append(&[ev(EventBody::InspectionPlanned { plan: stranger })]).unwrap();
    assert!(matches!(out[0], Outcome::Refused(Refusal::UnknownAuthority(_))), "{out:?}");

    let draw = |plan_no: &str, subjects: &[u32]| InspectionDraw {
        plan: plan(plan_no).key(),
        round: 9,
        signature: "ab".into(),
        population: [("A".to_owned(), 2)].into_iter().collect(),
        selected: subjects
            .iter()
            .map(|n| Target { subject: uscc(*n), class: "A".into(), team: 1 })
            .collect(),
    };
    let out = store.append(&[ev(EventBody::InspectionDrawn { draw: draw("P-9", &[1]) })]).unwrap();
    assert!(matches!(out[0], Outcome::Refused(Refusal::UnknownPlan(_))), "{out:?}");
    let out = store.append(&[ev(EventBody::InspectionDrawn { draw: draw("P-1", &[7]) })]).unwrap();
    assert!(matches!(out[0], Outcome::Refused(Refusal::UnknownSubject(_))), "{out:?}");
    assert_eq!(store.plans().unwrap()[0].drawn, None, "a refused draw leaves the plan undrawn");

    let drawn = ev(EventBody::InspectionDrawn { draw: draw("P-1", &[2]) });
    let out = store.append(std::slice::from_ref(&drawn)).unwrap();
    let Outcome::Appended { index: drawn_at } = out[0] else { panic!("{out:?}") };
    assert_eq!(store.append(&[drawn]).unwrap(), vec![Outcome::Duplicate]);
    let out = store.append(&[ev(EventBody::InspectionDrawn { draw: draw("P-1", &[1]) })]).unwrap();
    assert!(matches!(&out[0], Outcome::Refused(Refusal::Conflict(m)) if m.contains("drawn")));

    let rows = store.plans().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].key.clone(), rows[0].planned, rows[0].drawn),
        (p.key(), at, Some(drawn_at))
    );
    let mine = store.inspections_of(&uscc(2)).unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(
        (mine[0].plan.drawn, mine[0].class.as_str(), mine[0].team),
        (Some(drawn_at), "A", 1)
    );
    assert!(store.inspections_of(&uscc(1)).unwrap().is_empty());
    assert!(store.inspections_of(&uscc(999)).unwrap().is_empty());
    assert_eq!(store.plan_targets(at).unwrap(), vec![(uscc(2), "A".to_owned(), 1)]);
    assert!(store.plan_targets(drawn_at).unwrap().is_empty(), "no plan was filed there");
}

/// No column of any table may hold data about a natural person.
pub fn no_personal_data(store: &mut dyn Store) {
    let schema = store.schema().unwrap();
    assert!(schema.len() > 5, "the schema should list the store's columns: {schema:?}");
    for (table, column) in schema {
        let name = format!("{table}.{column}").to_ascii_lowercase();
        for bad in FORBIDDEN_COLUMN_FRAGMENTS {
            assert!(
                !name.contains(bad),
                "column `{name}` looks like data about a natural person (`{bad}`)"
            );
        }
    }
}

/// Every journal entry is a leaf of the log, in order, and only journalled events are: the log's
/// root is the RFC 6962 root over the entries' leaf data, and its proofs verify.
pub fn log_covers_every_journal_entry(store: &mut dyn Store) {
    use probity_tlog::{MemoryTree, consistency_proof, inclusion_proof, leaf_hash, root};
    setup(store);
    let before = store.counts().unwrap().events;
    let old_root = root(&crate::LogNodes(store), before).unwrap();
    store
        .append(&[file(record("bj-amr", "A", 1)), file(record("bj-amr", "A", 1)), reg_subject(1)])
        .unwrap();
    store.append(&[file(record("bj-amr", "B", 2)), file(record("nobody", "C", 2))]).unwrap();
    let size = store.counts().unwrap().events;
    assert_eq!(size, before + 2, "duplicates and refusals add no leaf");
    let mut tree = MemoryTree::default();
    for entry in store.journal(0, 1000).unwrap() {
        tree.append(&probity_core::leaf_data(&entry.bytes));
    }
    let nodes = crate::LogNodes(store);
    let stored = root(&nodes, size).unwrap();
    assert_eq!(stored, tree.root());
    for i in 0..size {
        let proof = inclusion_proof(&nodes, i, size).unwrap();
        let leaf = leaf_hash(&probity_core::leaf_data(&store.journal(i, 1).unwrap()[0].bytes));
        probity_tlog::verify_inclusion(&leaf, i, size, &proof, &stored).unwrap();
    }
    let proof = consistency_proof(&nodes, before, size).unwrap();
    probity_tlog::verify_consistency(before, size, &proof, &old_root, &stored).unwrap();
}

/// Registers subjects `from..to`, `batch` events to an append: a log of many leaves for the
/// log tests.
pub fn register_numbered_subjects(store: &mut dyn Store, from: u32, to: u32, batch: usize) {
    let events: Vec<Encoded> = (from..to).map(reg_subject).collect();
    for chunk in events.chunks(batch.max(1)) {
        store.append(chunk).unwrap();
    }
}

/// The log the store keeps is the tree of its journal: every complete node, the root at every
/// size of interest, and the inclusion and consistency proofs there. A node beyond the log is an
/// error that names it.
pub fn log_is_the_tree_of_its_journal(store: &dyn Store) {
    use probity_tlog::{MemoryTree, Nodes as _, consistency_proof, inclusion_proof, root};
    let size = store.counts().unwrap().events;
    let mut tree = MemoryTree::default();
    while tree.size() < size {
        for entry in store.journal(tree.size(), 1000).unwrap() {
            tree.append(&probity_core::leaf_data(&entry.bytes));
        }
    }
    for level in 0..64u8 {
        for index in 0..(size >> level) {
            assert_eq!(store.log_node(level, index).unwrap(), tree.node(level, index).unwrap());
        }
    }
    let nodes = crate::LogNodes(store);
    let sizes = [1, 2, 255, 256, 257, 511, 512, 513, size / 2, size - 1, size];
    for &n in sizes.iter().filter(|&&n| n >= 1 && n <= size) {
        assert_eq!(root(&nodes, n).unwrap(), tree.root_at(n).unwrap(), "root at {n}");
        for i in [0, n / 3, n - 1] {
            assert_eq!(
                inclusion_proof(&nodes, i, n).unwrap(),
                tree.inclusion_proof(i, n).unwrap(),
                "leaf {i} at {n}"
            );
        }
        assert_eq!(
            consistency_proof(&nodes, n, size).unwrap(),
            tree.consistency_proof(n, size).unwrap(),
            "{n} to {size}"
        );
    }
    let missing = store.log_node(0, size).unwrap_err().to_string();
    assert!(missing.contains(&format!("no node at level 0, index {size}")), "{missing}");
}

/// The log grows the same through appends of every size: one leaf, a batch ending on a tile's
/// edge, a batch across it, a batch filling several tiles at once.
pub fn log_grows_across_tiles_in_any_batches(store: &mut dyn Store) {
    let mut from = 0;
    for (batch, count) in [(1, 1), (255, 255), (1, 1), (300, 300), (7, 200), (700, 700)] {
        register_numbered_subjects(store, from, from + count, batch);
        from += count;
        log_is_the_tree_of_its_journal(store);
    }
    assert_eq!(store.counts().unwrap().events, 1457);
}

/// Rulebook adoptions are kept in order; the same version twice is a duplicate, a changed text
/// under the same version a conflict.
pub fn rulebook_adoptions(store: &mut dyn Store) {
    let adopt = |version: &str, text: &str| {
        ev(EventBody::RulebookAdopted {
            rulebook: "cn-default".into(),
            version: version.into(),
            effective: date("2026-01-01"),
            text: text.into(),
        })
    };
    assert!(appended(&store.append(&[adopt("1", "one")]).unwrap()[0]));
    assert_eq!(store.append(&[adopt("1", "one")]).unwrap(), vec![Outcome::Duplicate]);
    assert!(matches!(
        store.append(&[adopt("1", "other")]).unwrap()[0],
        Outcome::Refused(Refusal::Conflict(_))
    ));
    assert!(appended(&store.append(&[adopt("2", "two")]).unwrap()[0]));
    let texts: Vec<_> = store.adopted_rulebooks().unwrap().into_iter().map(|(_, t)| t).collect();
    assert_eq!(texts, ["one", "two"]);
}

/// Subject ids page in id order.
pub fn subject_ids_page_in_order(store: &mut dyn Store) {
    let events: Vec<_> = (1..=5).rev().map(reg_subject).collect();
    store.append(&events).unwrap();
    let first = store.subject_ids(None, 2).unwrap();
    let rest = store.subject_ids(first.last(), 10).unwrap();
    let all: Vec<_> = first.iter().chain(&rest).copied().collect();
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!((all.len(), &all), (5, &sorted));
}

/// Search finds a subject by its code and by its name in the original script, exact matches
/// first, then prefix matches, then names that contain the query.
pub fn search_ranks_codes_then_prefixes(store: &mut dyn Store) {
    let named = |n: u32, name: &str| {
        let mut s = subject(n);
        s.name = name.into();
        ev(EventBody::SubjectRegistered { subject: s })
    };
    let out = store
        .append(&[
            named(1, "北京华为数字技术有限公司"),
            named(2, "华为技术有限公司"),
            named(3, "华为"),
            named(4, "深圳市腾讯计算机系统有限公司"),
        ])
        .unwrap();
    assert!(out.iter().all(appended));
    let found = store.search_subjects("华为", 0, 10).unwrap();
    assert_eq!(found, vec![uscc(3), uscc(2), uscc(1)]);
    assert_eq!(store.search_subjects("华为", 1, 1).unwrap(), vec![uscc(2)]);
    assert_eq!(store.search_subjects(uscc(4).as_str(), 0, 10).unwrap(), vec![uscc(4)]);
    let lower = uscc(4).as_str().to_lowercase();
    assert_eq!(store.search_subjects(&lower, 0, 10).unwrap(), vec![uscc(4)]);
    assert!(store.search_subjects("百度", 0, 10).unwrap().is_empty());
    assert!(store.search_subjects("%", 0, 10).unwrap().is_empty(), "no wildcards");
}

/// The rulebook the assessment fixtures name.
const BOOK: (&str, &str) = ("cn-default", "1");

/// Assessments replace earlier ones, and the sweep finds subjects never rated or whose next
/// change has come.
pub fn assessments_are_kept_and_swept(store: &mut dyn Store) {
    use crate::AssessmentRow;
    store.append(&[reg_subject(1), reg_subject(2), reg_subject(3)]).unwrap();
    let row = |n: u32, next: Option<&str>, grade: &str| AssessmentRow {
        subject: uscc(n),
        as_of: date("2026-11-01"),
        grade: Some(grade.into()),
        score: Some(90),
        decisions: r#"{"procurement.bid":"allow"}"#.into(),
        next_change: next.map(date),
        rulebook: "cn-default".into(),
        version: "1".into(),
        explanation: format!(r#"{{"grade":"{grade}"}}"#),
        answers: r#"[{"measure":"bid"}]"#.into(),
        log_size: 3,
        lists: if grade == "C" {
            vec![crate::ListEntry {
                list: "watch".into(),
                since: Some(date("2026-10-01")),
                until: Some(date("2026-12-01")),
            }]
        } else {
            Vec::new()
        },
    };
    let all = store.due_for_rating(date("2026-11-01"), BOOK, None, 10).unwrap();
    assert_eq!(all.len(), 3, "never rated: all due");
    store.put_assessments(&[row(1, Some("2027-01-01"), "B"), row(2, None, "A")], &[]).unwrap();
    store.put_assessments(&[row(1, Some("2027-02-01"), "C")], &[]).unwrap();
    assert_eq!(store.assessment(&uscc(1)).unwrap(), Some(row(1, Some("2027-02-01"), "C")));
    assert_eq!(store.assessment(&uscc(3)).unwrap(), None);
    // What the check question reads, in one look-up: the subject's name and latest event, the
    // row's validity and answers, and the log's size.
    let answer = store.answer_row(&uscc(1)).unwrap().expect("a rated subject");
    let subject = store.subject_columns(&uscc(1)).unwrap().unwrap();
    assert_eq!(
        (answer.name.as_str(), answer.last_event, answer.log_size),
        (subject.name.as_str(), subject.last_event, store.log_size().unwrap())
    );
    assert_eq!((answer.as_of, answer.next_change), (date("2026-11-01"), Some(date("2027-02-01"))));
    assert_eq!((answer.rulebook.as_str(), answer.version.as_str()), ("cn-default", "1"));
    assert_eq!(
        (answer.rated_at_size, answer.score, answer.grade.as_deref()),
        (3, Some(90), Some("C"))
    );
    assert_eq!(answer.answers, br#"[{"measure":"bid"}]"#);
    assert_eq!(store.answer_row(&uscc(3)).unwrap(), None, "registered, never rated");
    assert_eq!(store.answer_row(&uscc(9)).unwrap(), None, "unknown");
    // Several at once, in the order asked, repeats and misses included.
    assert_eq!(
        store.answer_rows(&[uscc(9), uscc(1), uscc(3), uscc(1)]).unwrap(),
        vec![None, Some(answer.clone()), None, Some(answer.clone())]
    );
    assert_eq!(store.answer_rows(&[]).unwrap(), Vec::new());
    let on = |store: &dyn Store, d: &str| store.list_entries(first_ten("watch", d)).unwrap();
    assert_eq!(on(store, "2026-11-30").len(), 1);
    assert_eq!(on(store, "2026-11-30")[0].0, uscc(1));
    assert!(on(store, "2026-12-01").is_empty(), "ended entries are not listed");
    store.put_assessments(&[row(1, None, "B")], &[]).unwrap();
    assert!(on(store, "2026-11-30").is_empty(), "a new assessment replaces the entries");
    store.put_assessments(&[row(1, Some("2027-02-01"), "C")], &[]).unwrap();
    assert_eq!(store.due_for_rating(date("2026-11-01"), BOOK, None, 10).unwrap(), vec![uscc(3)]);
    let mut due = store.due_for_rating(date("2027-02-01"), BOOK, None, 10).unwrap();
    due.sort();
    let mut want = vec![uscc(1), uscc(3)];
    want.sort();
    assert_eq!(due, want);

    // A rating from an older view of the log never replaces one from a newer view, lists
    // included: two raters racing cannot leave the older answer.
    let newer = AssessmentRow { log_size: 9, ..row(2, None, "C") };
    store.put_assessments(std::slice::from_ref(&newer), &[]).unwrap();
    store.put_assessments(&[AssessmentRow { log_size: 8, ..row(2, None, "A") }], &[]).unwrap();
    assert_eq!(store.assessment(&uscc(2)).unwrap(), Some(newer.clone()));
    assert_eq!(on(store, "2026-11-30").iter().filter(|e| e.0 == uscc(2)).count(), 1);

    // The same row again changes nothing and keeps its list entries; a row from the same view
    // that differs in any column replaces it.
    store.put_assessments(std::slice::from_ref(&newer), &[]).unwrap();
    assert_eq!(store.assessment(&uscc(2)).unwrap(), Some(newer.clone()));
    assert_eq!(on(store, "2026-11-30").iter().filter(|e| e.0 == uscc(2)).count(), 1);
    let later = AssessmentRow { as_of: date("2026-11-02"), ..newer.clone() };
    store.put_assessments(std::slice::from_ref(&later), &[]).unwrap();
    assert_eq!(store.assessment(&uscc(2)).unwrap(), Some(later.clone()));
    // Entries follow the row (and its explanation, which they come from): one kept with new
    // dates, one added; then one dropped, one kept.
    let entry = |list: &str, since: &str, until: &str| crate::ListEntry {
        list: list.into(),
        since: Some(date(since)),
        until: Some(date(until)),
    };
    let moved = AssessmentRow {
        lists: vec![
            entry("excluded", "2026-11-02", "2027-11-02"),
            entry("watch", "2026-10-01", "2027-01-01"),
        ],
        explanation: r#"{"grade":"C","lists":["excluded","watch"]}"#.into(),
        answers: r#"[{"measure":"bid"}]"#.into(),
        ..later.clone()
    };
    store.put_assessments(std::slice::from_ref(&moved), &[]).unwrap();
    assert_eq!(store.assessment(&uscc(2)).unwrap(), Some(moved.clone()));
    let watched = store.list_entries(first_ten("watch", "2026-12-15")).unwrap();
    assert_eq!(watched, vec![(uscc(2), entry("watch", "2026-10-01", "2027-01-01"))]);
    let kept = AssessmentRow {
        lists: vec![entry("excluded", "2026-11-02", "2027-11-02")],
        explanation: r#"{"grade":"C","lists":["excluded"]}"#.into(),
        answers: r#"[{"measure":"bid"}]"#.into(),
        ..moved
    };
    store.put_assessments(std::slice::from_ref(&kept), &[]).unwrap();
    assert_eq!(store.assessment(&uscc(2)).unwrap(), Some(kept.clone()));
    assert_eq!(on(store, "2026-11-15").iter().filter(|e| e.0 == uscc(2)).count(), 0);
    assert_eq!(store.list_entries(first_ten("excluded", "2026-11-15")).unwrap().len(), 1);
    let cleared = AssessmentRow { lists: Vec::new(), grade: Some("B".into()), ..later };
    store.put_assessments(std::slice::from_ref(&cleared), &[]).unwrap();
    assert_eq!(store.assessment(&uscc(2)).unwrap(), Some(cleared.clone()));
    assert_eq!(on(store, "2026-11-30").iter().filter(|e| e.0 == uscc(2)).count(), 0);
    assert!(store.list_entries(first_ten("excluded", "2026-11-15")).unwrap().is_empty());

    // Rows for one subject in one call leave what storing them one after another would: the
    // one from the newest view of the log, the later of two from the same view.
    let newest = AssessmentRow { log_size: 12, ..row(3, None, "C") };
    let same_view = AssessmentRow { grade: Some("B".into()), lists: Vec::new(), ..newest.clone() };
    let older = AssessmentRow { log_size: 11, ..row(3, None, "A") };
    store.put_assessments(&[newest.clone(), older.clone(), row(2, None, "A")], &[]).unwrap();
    assert_eq!(store.assessment(&uscc(3)).unwrap(), Some(newest.clone()));
    assert_eq!(store.assessment(&uscc(2)).unwrap(), Some(cleared), "an older view");
    assert_eq!(on(store, "2026-11-30").iter().filter(|e| e.0 == uscc(3)).count(), 1);
    store
        .put_assessments(
            &[
                AssessmentRow { log_size: 13, ..newest.clone() },
                AssessmentRow { log_size: 13, ..same_view.clone() },
            ],
            &[],
        )
        .unwrap();
    let want = AssessmentRow { log_size: 13, ..same_view };
    assert_eq!(store.assessment(&uscc(3)).unwrap(), Some(want));
    assert_eq!(on(store, "2026-11-30").iter().filter(|e| e.0 == uscc(3)).count(), 0);
}

/// Statistics count rated grades, records not withdrawn per authority and month of effect, and
/// list entries by the months they began and end.
pub fn statistics_aggregate_grades_records_and_lists(store: &mut dyn Store) {
    use crate::{AssessmentRow, ListEntry, Statistics};
    setup(store);
    assert_eq!(store.statistics().unwrap(), Statistics::default());
    store.append(&[reg_subject(3)]).unwrap();
    let mut later = record("bj-amr", "A-2", 2);
    later.effective = date("2025-04-02");
    let gone = record("bj-amr", "A-3", 2);
    store.append(&[file(record("bj-amr", "A-1", 1)), file(later), file(gone.clone())]).unwrap();
    store
        .append(&[ev(EventBody::RecordWithdrawn { key: gone.key(), reason: "annulled".into() })])
        .unwrap();
    let row = |n: u32, grade: &str, lists: Vec<ListEntry>| AssessmentRow {
        subject: uscc(n),
        as_of: date("2026-11-01"),
        grade: Some(grade.into()),
        score: None,
        decisions: "{}".into(),
        next_change: None,
        rulebook: "cn-default".into(),
        version: "1".into(),
        explanation: "{}".into(),
        answers: r#"[{"measure":"bid"}]"#.into(),
        log_size: 0,
        lists,
    };
    let entry = |since: &str, until: Option<&str>| ListEntry {
        list: "watch".into(),
        since: Some(date(since)),
        until: until.map(date),
    };
    store
        .put_assessments(
            &[
                row(1, "B", vec![entry("2026-10-01", Some("2026-12-01"))]),
                row(2, "B", vec![entry("2026-10-15", Some("2026-12-20"))]),
                row(3, "A", vec![entry("2026-11-02", None)]),
            ],
            &[],
        )
        .unwrap();
    let s = store.statistics().unwrap();
    assert_eq!(s.grades, vec![(Some("A".into()), 1), (Some("B".into()), 2)]);
    assert_eq!(
        s.records_by_month,
        vec![("bj-amr".into(), 202503, 1), ("bj-amr".into(), 202504, 1)],
        "the withdrawn record is not counted"
    );
    assert_eq!(
        s.list_entries,
        vec![
            ("watch".into(), Some(202610), Some(202612), 2),
            ("watch".into(), Some(202611), None, 1),
        ]
    );
}

/// Every event about a subject moves its `last_event` in the same transaction: registration,
/// filing, correction (both subjects when it moves the record), withdrawal, due-process step and
/// redaction. The sweep finds every subject whose assessment does not reflect that event, or was
/// made under another rulebook than the one in force.
pub fn each_subject_knows_its_latest_event(store: &mut dyn Store) {
    use crate::AssessmentRow;
    use probity_core::Step;
    setup(store);
    let last = |store: &dyn Store, n: u32| {
        let stored = store.subject(&uscc(n)).unwrap().unwrap().last_event;
        let columns = store.subject_columns(&uscc(n)).unwrap().unwrap();
        assert_eq!(columns.last_event, stored);
        assert_eq!(columns.name, subject(n).name);
        assert_eq!(columns.established, subject(n).established);
        assert_eq!(columns.event, store.subject(&uscc(n)).unwrap().unwrap().index);
        stored
    };
    assert_eq!(store.subject_columns(&uscc(999)).unwrap(), None);
    assert_eq!((last(store, 1), last(store, 2)), (1, 2), "registration");
    let r = record("bj-amr", "A-1", 1);
    let other = record("bj-amr", "A-2", 2);
    store.append(&[file(r.clone()), file(other.clone())]).unwrap();
    assert_eq!((last(store, 1), last(store, 2)), (3, 4), "filing");
    let rated = |n: u32, log_size: u64, version: &str| AssessmentRow {
        subject: uscc(n),
        as_of: date("2026-11-01"),
        grade: Some("A".into()),
        score: Some(100),
        decisions: "{}".into(),
        next_change: None,
        rulebook: BOOK.0.into(),
        version: version.into(),
        explanation: "{}".into(),
        answers: r#"[{"measure":"bid"}]"#.into(),
        log_size,
        lists: Vec::new(),
    };
    let due = |store: &dyn Store| {
        let mut d = store.due_for_rating(date("2026-11-01"), BOOK, None, 10).unwrap();
        d.sort();
        d
    };
    let stale = |store: &dyn Store| store.stale_subjects(None, 10).unwrap();
    assert_eq!(stale(store), vec![uscc(1), uscc(2)], "filed about and never rated");
    assert_eq!(store.stale_subjects(Some(&uscc(1)), 10).unwrap(), vec![uscc(2)], "paged");
    store.put_assessments(&[rated(1, 5, "1"), rated(2, 5, "1")], &[]).unwrap();
    assert!(due(store).is_empty(), "both reflect their latest event");
    store.put_assessments(&[rated(2, 5, "0")], &[]).unwrap();
    assert_eq!(due(store), vec![uscc(2)], "rated under another rulebook");
    store.put_assessments(&[rated(2, 5, "1")], &[]).unwrap();

    // A correction that moves the record from subject 1 to subject 2 concerns both.
    let mut moved = r.clone();
    moved.subject = uscc(2);
    store.append(&[ev(EventBody::RecordCorrected { record: moved, reason: "x".into() })]).unwrap();
    assert_eq!((last(store, 1), last(store, 2)), (5, 5), "correction");
    assert_eq!(due(store), vec![uscc(1), uscc(2)], "rated before the correction");
    assert_eq!(stale(store), vec![uscc(1), uscc(2)]);
    store.put_assessments(&[rated(1, 6, "1"), rated(2, 6, "1")], &[]).unwrap();
    assert!(due(store).is_empty());

    let step = ev(EventBody::ProcessStep {
        record: other.key(),
        step: Step::ReplyPublished { text: "paid".into() },
    });
    store.append(&[step]).unwrap();
    assert_eq!((last(store, 1), last(store, 2)), (5, 6), "due-process step");
    assert_eq!(due(store), vec![uscc(2)]);
    let withdraw = ev(EventBody::RecordWithdrawn { key: other.key(), reason: "annulled".into() });
    store.append(&[withdraw]).unwrap();
    assert_eq!(last(store, 2), 7, "withdrawal");
    let redact = ev(EventBody::RecordRedacted {
        key: other.key(),
        entries: vec![4, 6, 7],
        reason: "expired".into(),
    });
    assert!(appended(&store.append(&[redact]).unwrap()[0]));
    assert_eq!(last(store, 2), 8, "redaction");
    store.put_assessments(&[rated(2, 9, "1")], &[]).unwrap();
    assert!(due(store).is_empty());
    // Events about nothing a subject has leave every subject as it was.
    store.append(&[reg_authority("bj-tax"), reg_subject(3)]).unwrap();
    assert_eq!((last(store, 1), last(store, 2), last(store, 3)), (5, 8, 10));
    assert_eq!(due(store), vec![uscc(3)], "never rated");
    assert!(stale(store).is_empty(), "a subject nothing but its registration concerns");
}

/// Answers stored as one JSON array, as rows were written before migration 0015 (with a
/// newline, a tab and a quote escaped inside a reason), and the JSON Lines text that migration
/// turns them into: each answer's text unchanged, one a line, in order.
pub const ANSWERS_AS_AN_ARRAY: (&str, &str) = (
    r#"[{"measure":"a","decision":"allow","reasons":[],"changes_on":null,"changes_to":null},{"measure":"b","decision":"deny","reasons":[{"cause":"x\ny\t\"z\"","records":[1,2],"basis":"b"}],"changes_on":"2027-01-01","changes_to":"allow"}]"#,
    concat!(
        r#"{"measure":"a","decision":"allow","reasons":[],"changes_on":null,"changes_to":null}"#,
        "\n",
        r#"{"measure":"b","decision":"deny","reasons":[{"cause":"x\ny\t\"z\"","records":[1,2],"basis":"b"}],"changes_on":"2027-01-01","changes_to":"allow"}"#
    ),
);

/// Stores assessments of subjects 1 and 2, the first with its answers as a JSON array
/// ([`ANSWERS_AS_AN_ARRAY`]), the second with none kept apart (`''`), for a migration test to
/// reopen under migration 0015 and then call [`answers_are_lines`].
pub fn put_answers_as_an_array(store: &mut dyn Store) {
    use crate::AssessmentRow;
    store.append(&[reg_subject(1), reg_subject(2)]).unwrap();
    let row = |n: u32, answers: &str| AssessmentRow {
        subject: uscc(n),
        as_of: date("2026-11-01"),
        grade: Some("B".into()),
        score: Some(80),
        decisions: r#"{"a":"allow","b":"deny"}"#.into(),
        next_change: None,
        rulebook: "cn-default".into(),
        version: "1".into(),
        explanation: "{}".into(),
        answers: answers.into(),
        log_size: 2,
        lists: Vec::new(),
    };
    store.put_assessments(&[row(1, ANSWERS_AS_AN_ARRAY.0), row(2, "")], &[]).unwrap();
}

/// After [`put_answers_as_an_array`] and migration 0015: the array became JSON Lines, and a row
/// with no answers kept apart still has none.
pub fn answers_are_lines(store: &dyn Store) {
    let answers = |n: u32| store.answer_row(&uscc(n)).unwrap().expect("rated").answers;
    assert_eq!(answers(1), ANSWERS_AS_AN_ARRAY.1.as_bytes());
    assert_eq!(answers(2), b"");
}
