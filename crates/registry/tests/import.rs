//! Bulk import end to end: generated data, dirty rows, idempotency and bad input.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use probity_stores::Stores as _;
use std::io::Cursor;

use probity_core::{Date, Timestamp};
use probity_registry::{
    FixedClock, Format, ImportOptions, ImportReport, Registry, Rejected, Table,
};
use probity_rules::{DEFAULT_RULEBOOK, Rulebook};
use probity_synth::{Config, Outputs, Summary, generate};

struct Files {
    authorities: Vec<u8>,
    subjects: Vec<u8>,
    records: Vec<u8>,
    summary: Summary,
}

fn files(enterprises: u64, records: u64, dirty: f64) -> Files {
    let book = Rulebook::parse(DEFAULT_RULEBOOK).unwrap();
    let cfg = Config { enterprises, records, seed: 11, dirty, as_of: Date::constant(2026, 11, 1) };
    let (mut a, mut s, mut r) = (Vec::new(), Vec::new(), Vec::new());
    let summary =
        generate(&cfg, &book, Outputs { authorities: &mut a, subjects: &mut s, records: &mut r })
            .unwrap();
    Files { authorities: a, subjects: s, records: r, summary }
}

fn registry() -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::init(&dir.path().join("reg"), None).unwrap();
    let now: Timestamp = "2026-11-29T12:00:00Z".parse().unwrap();
    (dir, reg.with_clock(FixedClock(now)))
}

fn import(
    reg: &mut Registry,
    table: Table,
    format: Format,
    bytes: &[u8],
) -> (ImportReport, Vec<Rejected>) {
    let mut rejects = Vec::new();
    let opts = ImportOptions { batch_size: 700 };
    let report =
        reg.import(table, format, Cursor::new(bytes.to_vec()), opts, &(), &mut rejects).unwrap();
    assert_eq!(report.rows, report.accepted + report.duplicate + report.rejected);
    assert_eq!(report.rejected as usize, rejects.len());
    (report, rejects)
}

fn import_all(reg: &mut Registry, f: &Files) -> [(ImportReport, Vec<Rejected>); 3] {
    [
        import(reg, Table::Authorities, Format::Csv, &f.authorities),
        import(reg, Table::Subjects, Format::Csv, &f.subjects),
        import(reg, Table::Records, Format::Jsonl, &f.records),
    ]
}

#[test]
fn clean_generated_data_imports_completely() {
    let f = files(800, 3000, 0.0);
    let (_dir, mut reg) = registry();
    let [a, s, r] = import_all(&mut reg, &f);
    assert_eq!((a.0.accepted, a.0.rejected), (12, 0));
    assert_eq!((s.0.accepted, s.0.rejected), (800, 0), "{:?}", s.1.first());
    assert_eq!((r.0.accepted, r.0.rejected), (3000, 0), "{:?}", r.1.first());
    let c = reg.counts().unwrap();
    // Events: the rulebook adopted at init, then every accepted row.
    assert_eq!((c.authorities, c.subjects, c.records, c.events), (12, 800, 3000, 3813));
}

#[test]
fn dirty_rows_are_rejected_exactly_with_line_and_reason_and_the_rest_import() {
    let f = files(1000, 4000, 0.08);
    assert!(f.summary.subjects_dirty > 40 && f.summary.records_dirty > 200, "{:?}", f.summary);
    let (_dir, mut reg) = registry();
    let [_, (s, s_rej), (r, r_rej)] = import_all(&mut reg, &f);
    assert_eq!((s.accepted, s.rejected), (f.summary.subjects, f.summary.subjects_dirty));
    assert_eq!((r.accepted, r.rejected), (f.summary.records, f.summary.records_dirty));

    // Line numbers point at the rows: CSV counts the header as line 1.
    let subject_lines: Vec<&str> = std::str::from_utf8(&f.subjects).unwrap().lines().collect();
    for rej in &s_rej {
        let line = subject_lines[rej.line as usize - 1];
        assert_eq!(line, rej.row, "line {}", rej.line);
    }
    let record_lines: Vec<&str> = std::str::from_utf8(&f.records).unwrap().lines().collect();
    for rej in &r_rej {
        assert_eq!(record_lines[rej.line as usize - 1], rej.row);
        assert!(!rej.reason.is_empty());
    }
    // Every kind of damage the generator makes is named.
    let reasons: String = s_rej.iter().chain(&r_rej).map(|r| format!("{}\n", r.reason)).collect();
    for needle in [
        "individually owned business",
        "fails the unified social credit code check",
        "name is empty",
        "is not a date",
        "is not in rulebook `cn-default`",
        "basis is empty",
        "unknown authority `unknown-bureau`",
        "before the decision date",
        "amount `12,5`",
    ] {
        assert!(reasons.contains(needle), "no reject says `{needle}`:\n{reasons}");
    }
}

#[test]
fn importing_the_same_files_twice_adds_nothing() {
    let f = files(500, 2000, 0.05);
    let (_dir, mut reg) = registry();
    let first = import_all(&mut reg, &f);
    let before = reg.counts().unwrap();
    let second = import_all(&mut reg, &f);
    assert_eq!(reg.counts().unwrap(), before);
    for (one, two) in first.iter().zip(&second) {
        assert_eq!(two.0.accepted, 0);
        assert_eq!(two.0.duplicate, one.0.accepted + one.0.duplicate);
        assert_eq!(two.0.rejected, one.0.rejected);
    }
}

#[test]
fn records_arrive_in_csv_as_well() {
    let f = files(200, 500, 0.0);
    let (_dir, mut reg) = registry();
    import(&mut reg, Table::Authorities, Format::Csv, &f.authorities);
    import(&mut reg, Table::Subjects, Format::Csv, &f.subjects);
    let mut csv = csv::Writer::from_writer(Vec::new());
    let cols: Vec<&str> = Table::Records.columns().iter().map(|(name, _)| *name).collect();
    csv.write_record(&cols).unwrap();
    for line in std::str::from_utf8(&f.records).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        csv.write_record(cols.iter().map(|c| v[c].as_str().unwrap_or(""))).unwrap();
    }
    let bytes = csv.into_inner().unwrap();
    let (r, _) = import(&mut reg, Table::Records, Format::Csv, &bytes);
    assert_eq!(r.accepted, 500);
    // And the same records from JSONL are duplicates, not new records.
    let (j, _) = import(&mut reg, Table::Records, Format::Jsonl, &f.records);
    assert_eq!((j.accepted, j.duplicate), (0, 500));
}

const AUTH: &str = "id,name,category,jurisdiction\nbj-amr,北京市市场监督管理局,market_regulation,110000\nbj-court,北京市朝阳区人民法院,court,110105\n";
const SUBJ: &str = "id,name\n91110000600037341L,北京测试科技有限公司\n";

fn small() -> (tempfile::TempDir, Registry) {
    let (dir, mut reg) = registry();
    import(&mut reg, Table::Authorities, Format::Csv, AUTH.as_bytes());
    import(&mut reg, Table::Subjects, Format::Csv, SUBJ.as_bytes());
    (dir, reg)
}

fn record_line(kind: &str, authority: &str, subject: &str, extra: &str) -> String {
    format!(
        r#"{{"authority":"{authority}","decision_no":"N-{kind}-{authority}","subject":"{subject}","kind":"{kind}","decided":"2025-01-02","effective":"2025-01-03","basis":"Art. 1"{extra}}}"#
    )
}

#[test]
fn bad_records_get_reasons_that_name_the_problem() {
    let (_dir, mut reg) = small();
    let ok = "91110000600037341L";
    let lines = [
        (record_line("penalty.minor", "bj-amr", ok, ""), None),
        (
            record_line("court.dishonest_debtor", "bj-amr", ok, ""),
            Some(
                "authority `bj-amr` (market_regulation) may not file `court.dishonest_debtor`; the rulebook allows court",
            ),
        ),
        (
            record_line("court.dishonest_debtor", "bj-court", "91110105MA01234567", ""),
            Some("subject: `91110105MA01234567`"),
        ),
        (
            record_line("penalty.serious", "bj-amr", "5493001KJTIIGC8Y1R12", ""),
            Some("unknown subject `5493001KJTIIGC8Y1R12`"),
        ),
        (
            record_line("penalty.moderate", "bj-amr", ok, r#","representative":"张三""#),
            Some("unknown field `representative`"),
        ),
        (
            record_line("penalty.serious", "bj-amr", ok, r#","amount":5000"#),
            Some("an amount needs a currency"),
        ),
        (record_line("award.quality", "bj-amr", ok, r#","amount":5000.5,"currency":"CNY""#), None),
        ("{not json".to_owned(), Some("not a valid record object")),
        (
            record_line("penalty.minor", "bj-amr", ok, "").replace("2025-01-02", "2099-01-02"),
            Some("decided: 2099-01-02 is in the future"),
        ),
    ];
    let mut text =
        lines.iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>().join("\n").into_bytes();
    text.extend_from_slice(b"\n\xff\xfe{}\n\n");
    let (r, rej) = import(&mut reg, Table::Records, Format::Jsonl, &text);
    assert_eq!((r.accepted, r.rejected), (2, 8));
    for (i, (_, want)) in lines.iter().enumerate() {
        let got = rej.iter().find(|x| x.line == i as u64 + 1);
        match (want, got) {
            (None, None) => {}
            (Some(w), Some(g)) => {
                assert!(g.reason.contains(w), "line {}: `{}` lacks `{w}`", i + 1, g.reason)
            }
            _ => panic!("line {}: expected {want:?}, got {got:?}", i + 1),
        }
    }
    let utf8 = rej.iter().find(|x| x.line == 10).unwrap();
    assert!(utf8.reason.contains("not valid UTF-8"), "{}", utf8.reason);
}

#[test]
fn over_long_lines_are_rejected_without_holding_them() {
    let (_dir, mut reg) = small();
    let mut text = record_line("penalty.minor", "bj-amr", "91110000600037341L", "").into_bytes();
    text.push(b'\n');
    text.extend(std::iter::repeat_n(b'x', 3 << 20));
    text.push(b'\n');
    text.extend(record_line("penalty.serious", "bj-amr", "91110000600037341L", "").into_bytes());
    let (r, rej) = import(&mut reg, Table::Records, Format::Jsonl, &text);
    assert_eq!((r.accepted, r.rejected), (2, 1));
    assert_eq!(rej[0].line, 2);
    assert!(rej[0].reason.contains("longer than"));
    assert!(rej[0].row.len() <= 200);
}

/// A CSV row may span lines, so one that runs on (here a quoted field of 64 MiB that never
/// closes) is stopped once it passes the longest row allowed: the import names its line and
/// stops, having held at most that much of it, and keeps the rows before it.
#[test]
fn an_endless_csv_row_stops_the_import_at_its_line_without_reading_it_whole() {
    struct Endless(u64);
    impl std::io::Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.0 as usize);
            buf[..n].fill(b'x');
            self.0 -= n as u64;
            Ok(n)
        }
    }
    let (_dir, mut reg) = registry();
    let head = "id,name\n91110000600037341L,北京测试科技有限公司\n91110000600037342J,\"";
    let endless = std::io::Read::chain(Cursor::new(head.as_bytes().to_vec()), Endless(64 << 20));
    let mut rejects = Vec::new();
    let err = reg
        .import(Table::Subjects, Format::Csv, endless, ImportOptions::default(), &(), &mut rejects)
        .unwrap_err()
        .to_string();
    assert!(err.contains("the CSV row at line 3 is longer than 1048576 bytes"), "{err}");
    assert_eq!(reg.counts().unwrap().subjects, 1, "the row before it stands");
}

#[test]
fn unknown_or_missing_csv_columns_stop_before_any_row() {
    let (_dir, mut reg) = registry();
    let mut rejects = Vec::new();
    let bad = "id,name,legal_representative\n91110000600037341L,x,张三\n";
    let err = reg
        .import(
            Table::Subjects,
            Format::Csv,
            Cursor::new(bad),
            ImportOptions::default(),
            &(),
            &mut rejects,
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown column `legal_representative`"), "{err}");
    let err = reg
        .import(
            Table::Subjects,
            Format::Csv,
            Cursor::new("name\nx\n"),
            ImportOptions::default(),
            &(),
            &mut rejects,
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("required column `id`"), "{err}");
    assert_eq!(reg.counts().unwrap().subjects, 0);
}

#[test]
fn the_exception_list_admits_a_pilot_code_and_records_it_as_an_event() {
    let (_dir, mut reg) = registry();
    let csv = "id,name\n91350100M0001TGQXM,福建试点企业有限公司\n";
    let (r, rej) = import(&mut reg, Table::Subjects, Format::Csv, csv.as_bytes());
    assert_eq!(r.rejected, 1);
    assert!(rej[0].reason.contains("fails the"), "{}", rej[0].reason);
    assert!(
        reg.admit_code_exception(
            "91350100m0001tgqxm",
            "issued in the 2015 pilot; verified with the registration authority"
        )
        .unwrap()
    );
    assert!(!reg.admit_code_exception("91350100M0001TGQXM", "again").unwrap());
    let err =
        reg.admit_code_exception("91110000600037341L", "valid anyway").unwrap_err().to_string();
    assert!(err.contains("needs no exception"), "{err}");
    assert!(reg.admit_code_exception("92110000600037341L", "x").is_err());
    let (r, _) = import(&mut reg, Table::Subjects, Format::Csv, csv.as_bytes());
    assert_eq!(r.accepted, 1);
    let events: Vec<String> = reg
        .store()
        .journal(0, 10)
        .unwrap()
        .into_iter()
        .map(|e| String::from_utf8(e.bytes).unwrap())
        .collect();
    assert!(events[0].contains("rulebook_adopted"), "the first entry is the rulebook");
    assert!(events[1].contains("code_exception_admitted") && events[1].contains("2015 pilot"));
}

/// Decision numbers that only look different are one key (full-width digits, a letter with a
/// combining accent) or are refused (an invisible character, a right-to-left override, a
/// Cyrillic letter among Latin ones), so nobody files the same decision twice under a
/// look-alike number.
#[test]
fn look_alike_decision_numbers_are_one_key_or_refused() {
    let (_dir, mut reg) = small();
    let row = |no: &str| {
        format!(
            r#"{{"authority":"bj-amr","decision_no":"{no}","subject":"91110000600037341L","kind":"penalty.minor","decided":"2025-01-02","effective":"2025-01-03","basis":"Art. 1"}}"#
        )
    };
    let amr = probity_core::Slug::parse("a", "bj-amr").unwrap();
    let file = |reg: &mut Registry, no: &str| {
        let r = reg.file_records(&amr, &[row(no)]).unwrap().remove(0);
        (r.status, r.reason.unwrap_or_default())
    };
    assert_eq!(file(&mut reg, "ÉT-2025-1").0, "filed");
    assert_eq!(file(&mut reg, "E\u{301}T-２０２５-１").0, "duplicate", "one key in NFKC");
    for (no, why) in [
        ("ÉT-2025-1\u{200B}", "invisible"),
        ("\u{FEFF}ÉT-2025-1", "invisible"),
        ("\u{202E}1-5202-TÉ", "invisible"),
        ("ÉТ-2025-1", "Cyrillic"),
    ] {
        let (status, reason) = file(&mut reg, no);
        assert_eq!(status, "rejected", "{no:?}");
        assert!(reason.contains(why), "{no:?}: {reason}");
    }
    assert_eq!(reg.counts().unwrap().records, 1);
}

/// No free-text field takes what looks like a personal identifier: the filing is refused with
/// the field and the position, and nothing reaches the log.
#[test]
fn personal_identifiers_in_free_text_are_refused_before_the_log() {
    let (_dir, mut reg) = small();
    let before = reg.log_size().unwrap();
    let summary = "法定代表人张三 身份证11010519491231002X 电话13800138000";
    let row = format!(
        r#"{{"authority":"bj-amr","decision_no":"P-1","subject":"91110000600037341L","kind":"penalty.minor","decided":"2025-01-02","effective":"2025-01-03","basis":"Art. 1","summary":"{summary}"}}"#
    );
    let amr = probity_core::Slug::parse("a", "bj-amr").unwrap();
    let r = reg.file_records(&amr, &[row]).unwrap().remove(0);
    assert_eq!(r.status, "rejected");
    let reason = r.reason.unwrap();
    assert!(
        reason.contains("summary holds what looks like a resident identity number at character 11"),
        "{reason}"
    );
    // A company name that holds an identity number does not import either.
    let (report, rejects) = import(
        &mut reg,
        Table::Subjects,
        Format::Csv,
        format!(
            "id,name\n{},北京11010519491231002X有限公司\n",
            probity_store::conformance::uscc(7)
        )
        .as_bytes(),
    );
    assert_eq!(report.rejected, 1);
    assert!(rejects[0].reason.contains("name holds what looks like"), "{}", rejects[0].reason);
    assert_eq!(reg.log_size().unwrap(), before);
}

/// Rejected rows of a CSV file with CRLF line endings (Python's csv default) carry their own
/// line numbers, as with LF.
#[test]
fn rejects_of_a_crlf_csv_file_name_their_lines() {
    let (_dir, mut reg) = small();
    for newline in ["\n", "\r\n"] {
        let text = [
            "authority,decision_no,subject,kind,decided,effective,basis",
            "bj-amr,C-1,91110000600037341L,penalty.minor,2025-01-02,2025-01-03,Art. 1",
            "bj-amr,C-2,91110000600037341L,no.such.kind,2025-01-02,2025-01-03,Art. 1",
            "bj-amr,C-3,91110000600037341L,penalty.minor,2025-01-02,2025-01-03,Art. 1",
            "bj-amr,C-4,91110000600037341X,penalty.minor,2025-01-02,2025-01-03,Art. 1",
        ]
        .join(newline)
            + newline;
        let (_, rejects) = import(&mut reg, Table::Records, Format::Csv, text.as_bytes());
        let lines: Vec<u64> = rejects.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 5], "{newline:?}");
    }
}
