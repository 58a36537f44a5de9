//! The store conformance suite on SQLite, each test in a fresh registry directory.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use probity_sqlite::SqliteStore;

fn fresh() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::create(&dir.path().join("registry")).expect("create store");
    (dir, store)
}

probity_store::conformance_tests!(fresh);

#[test]
fn reopening_keeps_everything_and_creating_twice_fails() {
    use probity_store::Store;
    let (dir, mut store) = fresh();
    probity_store::conformance::records_of_a_subject_in_filing_order(&mut store);
    let before = store.counts().unwrap();
    drop(store);
    let path = dir.path().join("registry");
    let mut reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(reopened.counts().unwrap(), before);
    // The log continues where it stopped: the root over all entries matches a fresh tree.
    let more: probity_core::Encoded = probity_core::Event::new(
        probity_core::Timestamp::UNIX_EPOCH,
        probity_core::EventBody::SubjectRegistered {
            subject: probity_store::conformance::subject(77),
        },
    )
    .into();
    reopened.append(&[more]).unwrap();
    let size = reopened.counts().unwrap().events;
    let mut tree = probity_tlog::MemoryTree::default();
    for e in reopened.journal(0, 100).unwrap() {
        tree.append(&probity_core::leaf_data(&e.bytes));
    }
    assert_eq!(probity_tlog::root(&probity_store::LogNodes(&reopened), size).unwrap(), tree.root());
    drop(reopened);
    assert!(SqliteStore::create(&path).unwrap_err().to_string().contains("already exists"));
    let missing = SqliteStore::open(&dir.path().join("nope")).unwrap_err().to_string();
    assert!(missing.contains("probity init"), "{missing}");
}

/// A registry made under the released migrations 0001 and 0002 opens under 0003: the assessment
/// explanations are added without touching what is stored.
#[test]
fn a_registry_from_before_assessment_explanations_migrates() {
    use probity_store::Store;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry");
    std::fs::create_dir_all(&path).unwrap();
    {
        let conn = rusqlite::Connection::open(path.join(probity_sqlite::DB_FILE)).unwrap();
        for (i, sql) in [
            include_str!("../migrations/0001_journal_and_projections.sql"),
            include_str!("../migrations/0002_due_process.sql"),
        ]
        .iter()
        .enumerate()
        {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", i as i64 + 1).unwrap();
        }
        let columns = columns_of(&conn, "assessments");
        assert!(!columns.contains(&"explanation".to_owned()), "0002 as released");
    }
    let mut store = SqliteStore::open(&path).unwrap();
    probity_store::conformance::assessments_are_kept_and_swept(&mut store);
    assert!(store.counts().unwrap().subjects > 0);
}

/// A registry made before subjects kept their date of establishment gets it from the journal
/// when it opens under migration 0007.
#[test]
fn a_registry_from_before_subjects_kept_their_establishment_migrates() {
    let (dir, mut store) = fresh();
    let ids =
        probity_store::conformance::register_subjects_with_and_without_establishment(&mut store);
    drop(store);
    let path = dir.path().join("registry");
    {
        let conn = rusqlite::Connection::open(path.join(probity_sqlite::DB_FILE)).unwrap();
        keep_log_as_nodes(&conn);
        keep_last_events_in_subjects(&conn);
        keep_kinds_as_names(&conn);
        conn.execute_batch(
            "ALTER TABLE subjects DROP COLUMN last_event;
             ALTER TABLE subjects DROP COLUMN established;
             ALTER TABLE assessments DROP COLUMN answers; PRAGMA user_version = 6;",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    probity_store::conformance::establishment_is_read_back(&store, &ids);
}

/// The names of `table`'s columns.
fn columns_of(conn: &rusqlite::Connection, table: &str) -> Vec<String> {
    conn.prepare("SELECT name FROM pragma_table_info(?1)")
        .unwrap()
        .query_map([table], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Puts each subject's latest event back in `subjects`, as registries before migration 0017
/// kept it.
fn keep_last_events_in_subjects(conn: &rusqlite::Connection) {
    conn.execute_batch(
        "ALTER TABLE subjects ADD COLUMN last_event INTEGER NOT NULL DEFAULT 0;
         UPDATE subjects SET last_event =
             (SELECT l.last_event FROM subject_last_events l WHERE l.subject = subjects.id);
         DROP TABLE subject_last_events;",
    )
    .unwrap();
}

/// A registry from before subjects' latest events had a table of their own keeps each one
/// when it opens under migration 0017, and every event after moves it as before.
#[test]
fn latest_events_move_to_a_table_of_their_own() {
    use probity_store::Store as _;
    let (dir, mut store) = fresh();
    probity_store::conformance::due_process_cases(&mut store);
    let latest = |store: &SqliteStore| -> Vec<u64> {
        [1, 2]
            .map(|n| {
                store.subject(&probity_store::conformance::uscc(n)).unwrap().unwrap().last_event
            })
            .to_vec()
    };
    let want = latest(&store);
    assert_eq!(want, [9, 2]);
    drop(store);
    let path = dir.path().join("registry");
    {
        let conn = rusqlite::Connection::open(path.join(probity_sqlite::DB_FILE)).unwrap();
        keep_last_events_in_subjects(&conn);
        conn.pragma_update(None, "user_version", 16).unwrap();
    }
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(latest(&store), want);
    let conn = rusqlite::Connection::open(path.join(probity_sqlite::DB_FILE)).unwrap();
    let columns = columns_of(&conn, "subjects");
    assert!(!columns.contains(&"last_event".to_owned()), "{columns:?}");
    drop(conn);
    // A filing about subject 2 moves its latest event, and only its.
    let filed = probity_core::EventBody::RecordFiled {
        record: probity_store::conformance::record("bj-amr", "after-0017", 2),
    };
    let out = store
        .append(&[probity_core::Event::new(probity_core::Timestamp::UNIX_EPOCH, filed).into()])
        .unwrap();
    let probity_store::Outcome::Appended { index } = out[0] else { panic!("{out:?}") };
    assert_eq!(latest(&store), [want[0], index]);
}

/// Puts record kinds back as registries before migration 0016 kept them: the name in each
/// record and in the covering index.
fn keep_kinds_as_names(conn: &rusqlite::Connection) {
    conn.execute_batch(
        "DROP INDEX records_by_subject_rating;
         ALTER TABLE records ADD COLUMN kind TEXT NOT NULL DEFAULT '';
         UPDATE records SET kind = (SELECT k.kind FROM record_kinds k WHERE k.id = records.kind_id);
         ALTER TABLE records DROP COLUMN kind_id;
         DROP TABLE record_kinds;
         CREATE INDEX records_by_subject_rating
             ON records (subject, filed_event, kind, effective, status, repaired);",
    )
    .unwrap();
}

/// Puts the log back as registries before migration 0008 kept it: a row per complete node in
/// `log_nodes`, computed afresh from the journal.
fn keep_log_as_nodes(conn: &rusqlite::Connection) {
    conn.execute_batch(
        "DROP TABLE log_tiles;
         CREATE TABLE log_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL,
                                 hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID;",
    )
    .unwrap();
    let mut frontier = probity_tlog::Frontier::default();
    let mut bodies = conn.prepare("SELECT body FROM journal ORDER BY idx").unwrap();
    let mut rows = bodies.query([]).unwrap();
    while let Some(row) = rows.next().unwrap() {
        let body: Vec<u8> = row.get(0).unwrap();
        let leaf = probity_tlog::leaf_hash(&probity_core::leaf_data(&body));
        for (level, index, hash) in frontier.append(leaf) {
            conn.execute(
                "INSERT INTO log_nodes VALUES (?1, ?2, ?3)",
                rusqlite::params![level, index as i64, &hash[..]],
            )
            .unwrap();
        }
    }
}

/// A registry whose log nodes were kept a row per node opens under migration 0008 with the same
/// log a tile at a time: every node, root and proof is as before, and the log grows on from it.
#[test]
fn a_registry_from_before_log_tiles_migrates() {
    use probity_store::conformance::{log_is_the_tree_of_its_journal, register_numbered_subjects};
    let (dir, mut store) = fresh();
    register_numbered_subjects(&mut store, 0, 600, 100);
    drop(store);
    let path = dir.path().join("registry");
    {
        let conn = rusqlite::Connection::open(path.join(probity_sqlite::DB_FILE)).unwrap();
        keep_log_as_nodes(&conn);
        let nodes: i64 =
            conn.query_row("SELECT count(*) FROM log_nodes", [], |r| r.get(0)).unwrap();
        assert_eq!(nodes, 2 * 600 - i64::from(600u32.count_ones()), "a row per complete node");
        keep_last_events_in_subjects(&conn);
        keep_kinds_as_names(&conn);
        conn.execute_batch(
            "ALTER TABLE subjects DROP COLUMN last_event;
             ALTER TABLE assessments DROP COLUMN answers;",
        )
        .unwrap();
        conn.pragma_update(None, "user_version", 7).unwrap();
    }
    let mut store = SqliteStore::open(&path).unwrap();
    log_is_the_tree_of_its_journal(&store);
    register_numbered_subjects(&mut store, 600, 700, 100);
    log_is_the_tree_of_its_journal(&store);
}

/// A registry from before subjects kept their latest event gets it from their records when it
/// opens under migration 0009, and the sweep then finds what it found before.
#[test]
fn a_registry_from_before_subjects_kept_their_latest_event_migrates() {
    use probity_store::Store as _;
    let (dir, mut store) = fresh();
    probity_store::conformance::due_process_cases(&mut store);
    let want: Vec<u64> = [1, 2]
        .map(|n| store.subject(&probity_store::conformance::uscc(n)).unwrap().unwrap().last_event)
        .to_vec();
    assert_eq!(want, [9, 2]);
    drop(store);
    let path = dir.path().join("registry");
    {
        let conn = rusqlite::Connection::open(path.join(probity_sqlite::DB_FILE)).unwrap();
        keep_last_events_in_subjects(&conn);
        keep_kinds_as_names(&conn);
        conn.execute_batch(
            "ALTER TABLE subjects DROP COLUMN last_event;
             ALTER TABLE assessments DROP COLUMN answers; PRAGMA user_version = 8;",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let got: Vec<u64> = [1, 2]
        .map(|n| store.subject(&probity_store::conformance::uscc(n)).unwrap().unwrap().last_event)
        .to_vec();
    assert_eq!(got, want);
}

/// Answers stored as one JSON array, as before migration 0015, become JSON Lines when the
/// registry opens under it, each answer's text unchanged.
#[test]
fn answers_stored_as_an_array_become_lines() {
    let (dir, mut store) = fresh();
    probity_store::conformance::put_answers_as_an_array(&mut store);
    drop(store);
    let path = dir.path().join("registry");
    {
        let conn = rusqlite::Connection::open(path.join(probity_sqlite::DB_FILE)).unwrap();
        keep_last_events_in_subjects(&conn);
        keep_kinds_as_names(&conn);
        conn.pragma_update(None, "user_version", 14).unwrap();
        // A registry of version 14 held its answers as text: packing came later.
        let unpacked = conn
            .execute(
                "UPDATE assessments SET answers = ?1 WHERE typeof(answers) = 'blob'",
                [probity_store::conformance::ANSWERS_AS_AN_ARRAY.0],
            )
            .unwrap();
        assert_eq!(unpacked, 1);
    }
    let store = SqliteStore::open(&path).unwrap();
    probity_store::conformance::answers_are_lines(&store);
}

/// The whole database file is mapped, not only its first 2 GB: SQLite is built with a higher
/// cap (`.cargo/config.toml`), and every connection asks for it.
#[test]
fn the_whole_file_can_be_mapped() {
    let (dir, store) = fresh();
    drop(store);
    let conn =
        rusqlite::Connection::open(dir.path().join("registry").join(probity_sqlite::DB_FILE))
            .unwrap();
    conn.execute_batch(probity_sqlite::SETTINGS).unwrap();
    let mapped: i64 = conn.query_row("PRAGMA mmap_size", [], |r| r.get(0)).unwrap();
    assert_eq!(mapped, 1 << 40, "SQLite's cap of 2 GB was not raised");
}

/// Records filed before migration 0016 held their kind's name; after it they hold its number,
/// every standing reads as it did, the covering index still answers rating's read alone, and
/// records filed and corrected after it take numbers too.
#[test]
fn record_kinds_become_numbers_and_every_standing_reads_as_it_did() {
    use probity_store::Store;
    use probity_store::conformance::{standings_follow_corrections, uscc};
    let (dir, mut store) = fresh();
    standings_follow_corrections(&mut store);
    let before: Vec<_> = [1, 2].map(|n| store.standing_of(&uscc(n)).unwrap()).into();
    drop(store);
    let path = dir.path().join("registry");
    {
        // The schema as version 15 had it: the name in each record and in the index.
        let conn = rusqlite::Connection::open(path.join(probity_sqlite::DB_FILE)).unwrap();
        keep_last_events_in_subjects(&conn);
        keep_kinds_as_names(&conn);
        conn.pragma_update(None, "user_version", 15).unwrap();
        let kinds: Vec<String> = conn
            .prepare("SELECT DISTINCT kind FROM records ORDER BY kind")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(kinds, ["penalty.minor", "penalty.serious"]);
    }
    let mut store = SqliteStore::open(&path).unwrap();
    let after: Vec<_> = [1, 2].map(|n| store.standing_of(&uscc(n)).unwrap()).into();
    assert_eq!(after, before);
    {
        let conn = rusqlite::Connection::open(path.join(probity_sqlite::DB_FILE)).unwrap();
        let plan: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT filed_event, kind_id, effective, status, repaired
                 FROM records WHERE subject = +?1 ORDER BY filed_event",
                [1],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("COVERING INDEX records_by_subject_rating"), "{plan}");
    }
    // A kind the registry has not seen, and one it has, filed after the migration.
    let file = |decision_no: &str, kind: &str| -> probity_core::Encoded {
        let mut record = probity_store::conformance::record("bj-amr", decision_no, 3);
        record.kind = probity_core::Slug::parse("kind", kind).unwrap();
        probity_core::Event::new(
            probity_core::Timestamp::UNIX_EPOCH,
            probity_core::EventBody::RecordFiled { record },
        )
        .into()
    };
    // Another handle, opened before they are filed, learns the new kind from the table.
    let reader = SqliteStore::open(&path).unwrap();
    let three = probity_core::Event::new(
        probity_core::Timestamp::UNIX_EPOCH,
        probity_core::EventBody::SubjectRegistered {
            subject: probity_store::conformance::subject(3),
        },
    )
    .into();
    let out = store
        .append(&[three, file("N-1", "court.dishonest_debtor"), file("N-2", "penalty.minor")])
        .unwrap();
    assert!(out.iter().all(|o| matches!(o, probity_store::Outcome::Appended { .. })), "{out:?}");
    let three = store.standing_of(&uscc(3)).unwrap().unwrap();
    let kinds: Vec<&str> = three.records.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["court.dishonest_debtor", "penalty.minor"]);
    assert_eq!(reader.standing_of(&uscc(3)).unwrap().unwrap(), three);
}

/// Appends held in one transaction are the handle's alone until it commits them: another
/// handle on the same file does not see them, and a handle dropped before the commit (a killed
/// import) leaves nothing of them. One that fails takes them all back and ends the hold.
#[test]
fn held_appends_are_seen_by_others_only_once_committed() {
    use probity_core::{Encoded, Event, EventBody, Timestamp};
    use probity_store::Store;
    use probity_store::conformance::{authority, log_is_the_tree_of_its_journal, record, subject};
    let ev = |body| -> Encoded { Event::new(Timestamp::UNIX_EPOCH, body).into() };
    let file = |no: &str, n| ev(EventBody::RecordFiled { record: record("bj-amr", no, n) });
    let (dir, mut store) = fresh();
    let path = dir.path().join("registry");
    store
        .append(&[
            ev(EventBody::AuthorityRegistered { authority: authority("bj-amr") }),
            ev(EventBody::SubjectRegistered { subject: subject(1) }),
        ])
        .unwrap();
    // A filing numbered `FAIL` fails inside the store, as a full disk or a broken file would.
    rusqlite::Connection::open(path.join(probity_sqlite::DB_FILE))
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER fail BEFORE INSERT ON records WHEN NEW.decision_no = 'FAIL'
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
        )
        .unwrap();

    assert!(store.hold_appends().unwrap());
    store.append(&[file("A-1", 1)]).unwrap();
    let failed = store.append(&[file("A-2", 1), file("FAIL", 1)]).unwrap_err();
    assert!(failed.to_string().contains("refused by the test"), "{failed}");
    assert_eq!(store.counts().unwrap().events, 2, "a failed append takes back all held");
    store.commit_held().unwrap();

    assert!(store.hold_appends().unwrap());
    store.append(&[file("A-3", 1)]).unwrap();
    store.append(&[file("A-4", 1)]).unwrap();
    assert_eq!(store.counts().unwrap().events, 4);
    let other = SqliteStore::open(&path).unwrap();
    assert_eq!(other.counts().unwrap().events, 2, "held appends are not seen before the commit");
    store.commit_held().unwrap();
    assert_eq!(other.counts().unwrap().events, 4);
    let numbers: Vec<String> = other
        .records_of(&probity_store::conformance::uscc(1))
        .unwrap()
        .into_iter()
        .map(|r| r.record.decision_no.clone())
        .collect();
    assert_eq!(numbers, ["A-3", "A-4"]);
    log_is_the_tree_of_its_journal(&other);

    assert!(store.hold_appends().unwrap());
    store.append(&[file("A-5", 1)]).unwrap();
    drop(store);
    let reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(reopened.counts().unwrap().events, 4, "a dropped hold leaves nothing");
    log_is_the_tree_of_its_journal(&reopened);
}
