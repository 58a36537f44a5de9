//! The rulebook's `[inspection]` section, the beacon, and the fairness of the draw.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeMap;

use probity_core::{
    BeaconRound, Date, DocumentHash, InspectionPlan, Scope, Slug, SubjectId, SubjectKind,
    Timestamp, uscc_check_char,
};
use probity_rules::inspection::{
    self, Beacon, Candidate, Population, QUICKNET, parse_percent, percent, quota,
};
use probity_rules::{DEFAULT_RULEBOOK, Rulebook};

/// drand quicknet round 123, as the network published it (also a test vector of `drand-verify`).
const ROUND: u64 = 123;
const SIGNATURE: &str = "b75c69d0b72a5d906e854e808ba7e2accb1542ac355ae486d591aa9d43765482e26cd02df835d3546d23c4b13e0dfc92";

fn book() -> Rulebook {
    Rulebook::parse(DEFAULT_RULEBOOK).unwrap()
}

fn plan(ratios: &[(&str, u32)], items: &[&str]) -> InspectionPlan {
    InspectionPlan {
        authority: Slug::parse("a", "bj-amr").unwrap(),
        plan_no: "京市监抽〔2023〕1号".into(),
        title: "Random inspection".into(),
        basis: "Interim Regulations on Enterprise Information Publicity, Art. 14".into(),
        scope: Scope::default(),
        items: items.iter().map(|i| Slug::parse("i", i).unwrap()).collect(),
        ratios: ratios.iter().map(|(c, bp)| ((*c).to_owned(), *bp)).collect(),
        teams: 3,
        team_commitment: DocumentHash::from_bytes([1; 32]),
        beacon: BeaconRound { chain: QUICKNET.chain.into(), round: ROUND },
    }
    .check()
    .unwrap()
}

const HENAN: [(&str, u32); 4] = [("A", 100), ("B", 200), ("C", 1000), ("D", 3000)];

fn before_round() -> Timestamp {
    QUICKNET.round_time(ROUND) - jiff::SignedDuration::from_secs(3600)
}

/// A USCC with valid check characters, from a serial number.
fn uscc(n: u64) -> SubjectId {
    let org = format!("{:08}", n % 100_000_000);
    let org_check = probity_core::org_check_char(org.as_bytes()).unwrap();
    let body = format!("91110105{org}{org_check}");
    let check = uscc_check_char(body.as_bytes()).unwrap();
    SubjectId::parse(&format!("{body}{check}")).unwrap()
}

#[test]
fn the_shipped_rulebook_has_every_grade_in_a_class_and_no_zero_minimum() {
    let book = book();
    let section = book.inspection().expect("the default rulebook has [inspection]");
    for grade in book.scoring().unwrap().grades() {
        let class = section.class_of(grade).unwrap_or_else(|| panic!("grade {grade}"));
        let c = section.classes.iter().find(|c| c.class == class).unwrap();
        assert!(c.min > 0 && c.min <= c.max);
    }
    assert_eq!(section.publish_within, 20);
}

#[test]
fn a_section_that_exempts_anyone_is_refused_with_its_line() {
    let zero = DEFAULT_RULEBOOK.replacen("min = \"1%\"", "min = \"0%\"", 1);
    let e = Rulebook::parse(&zero).unwrap_err().to_string();
    assert!(e.contains("no one is exempt") && e.contains("inspection.classes.A"), "{e}");
    let unclassed = DEFAULT_RULEBOOK.replacen(
        "class = \"B\"\ngrades = [\"B\", \"M\"]",
        "class = \"B\"\ngrades = [\"B\"]",
        1,
    );
    let e = Rulebook::parse(&unclassed).unwrap_err().to_string();
    assert!(e.contains("grade `M` is in no risk class"), "{e}");
    let twice = DEFAULT_RULEBOOK.replacen(
        "class = \"C\"\ngrades = [\"C\"]",
        "class = \"C\"\ngrades = [\"C\", \"A\"]",
        1,
    );
    assert!(Rulebook::parse(&twice).unwrap_err().to_string().contains("grade `A` is in class"));
    let unknown = DEFAULT_RULEBOOK.replacen(
        "class = \"C\"\ngrades = [\"C\"]",
        "class = \"C\"\ngrades = [\"Z\"]",
        1,
    );
    assert!(Rulebook::parse(&unknown).unwrap_err().to_string().contains("`Z` is not a grade"));
    let bad = DEFAULT_RULEBOOK.replacen("max = \"5%\"", "max = \"five\"", 1);
    let e = Rulebook::parse(&bad).unwrap_err().to_string();
    assert!(e.contains("`five` is not a percentage") && e.contains("line"), "{e}");
}

#[test]
fn percentages_are_exact() {
    assert_eq!(parse_percent("1%"), Some(100));
    assert_eq!(parse_percent("0.5%"), Some(50));
    assert_eq!(parse_percent("12.34%"), Some(1234));
    assert_eq!(parse_percent("100%"), Some(10_000));
    for bad in ["", "1", "101%", "1.234%", "-1%", ".5%", "1.%"] {
        assert_eq!(parse_percent(bad), None, "{bad}");
    }
    assert_eq!(percent(50), "0.5%");
    assert_eq!(percent(1234), "12.34%");
    assert_eq!(quota(100, 1), 1, "1% of one subject is that subject: no one is exempt");
    assert_eq!(quota(100, 250), 3);
    assert_eq!(quota(10_000, 7), 7);
}

#[test]
fn a_plan_must_keep_within_the_rulebook() {
    let book = book();
    let section = book.inspection().unwrap();
    let ok = plan(&HENAN, &["annual_report"]);
    section.check_plan(&ok, before_round()).unwrap();

    let low = plan(&[("A", 50), ("B", 200), ("C", 1000), ("D", 3000)], &["annual_report"]);
    let e = section.check_plan(&low, before_round()).unwrap_err().to_string();
    assert!(e.contains("class `A` ratio 0.5% is below the rulebook's minimum 1%"), "{e}");

    let high = [("A", 900), ("B", 200), ("C", 1000), ("D", 3000)];
    let e = section.check_plan(&plan(&high, &["annual_report"]), before_round()).unwrap_err();
    assert!(e.to_string().contains("above the rulebook's maximum 5%"), "{e}");
    // Key items alone have no upper limit.
    section.check_plan(&plan(&high, &["product_quality"]), before_round()).unwrap();

    let missing = plan(&[("A", 100), ("B", 200), ("C", 1000)], &["annual_report"]);
    let e = section.check_plan(&missing, before_round()).unwrap_err().to_string();
    assert!(e.contains("no ratio for risk class `D`"), "{e}");

    let item = plan(&HENAN, &["loyalty"]);
    let e = section.check_plan(&item, before_round()).unwrap_err().to_string();
    assert!(e.contains("item `loyalty`"), "{e}");

    let after = QUICKNET.round_time(ROUND);
    let e = section.check_plan(&ok, after).unwrap_err().to_string();
    assert!(e.contains("names a future round"), "{e}");
}

#[test]
fn a_quicknet_round_verifies_offline_and_a_wrong_one_is_refused() {
    let randomness = QUICKNET.verify(ROUND, SIGNATURE).unwrap();
    let hex: String = randomness.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex.len(), 64);
    let e = QUICKNET.verify(ROUND + 1, SIGNATURE).unwrap_err().to_string();
    assert!(e.contains("round 124") && e.contains("does not verify"), "{e}");
    let mut forged = SIGNATURE.to_owned();
    forged.replace_range(10..12, "00");
    assert!(QUICKNET.verify(ROUND, &forged).is_err());
    assert!(QUICKNET.verify(ROUND, "zz").unwrap_err().to_string().contains("not hex"));
    // Round 1 is published at genesis, and every 3 seconds after.
    assert_eq!(QUICKNET.round_time(1).as_second(), 1_692_803_367);
    assert_eq!(QUICKNET.round_time(123).as_second(), 1_692_803_367 + 122 * 3);
    assert!(Beacon::of(&BeaconRound { chain: "00".repeat(32), round: 1 }).is_err());
}

fn population(sizes: &[(&str, u64)]) -> Population {
    let mut n = 0;
    let mut out = BTreeMap::new();
    for (class, size) in sizes {
        let members: Vec<SubjectId> = (0..*size)
            .map(|_| {
                n += 1;
                uscc(n)
            })
            .collect();
        out.insert((*class).to_owned(), members);
    }
    for m in out.values_mut() {
        m.sort();
    }
    out
}

#[test]
fn a_draw_takes_the_quota_of_each_class_and_shares_teams_evenly() {
    let p = plan(&HENAN, &["annual_report"]);
    let pop = population(&[("A", 1000), ("B", 400), ("C", 50), ("D", 7)]);
    let d = inspection::draw(&p, &[9; 32], &pop, ROUND, SIGNATURE).unwrap();
    let count = |c: &str| d.selected.iter().filter(|t| t.class == c).count();
    assert_eq!((count("A"), count("B"), count("C"), count("D")), (10, 8, 5, 3));
    assert_eq!(d.population["A"], 1000);
    let mut per_team = [0; 3];
    for t in &d.selected {
        per_team[t.team as usize - 1] += 1;
    }
    assert!(per_team.iter().all(|n| (8..=9).contains(n)), "{per_team:?}");
    // Wrong round, wrong signature.
    assert!(inspection::draw(&p, &[9; 32], &pop, ROUND + 1, SIGNATURE).is_err());
    assert!(inspection::draw(&p, &[9; 32], &pop, ROUND, &SIGNATURE.replace('b', "c")).is_err());
}

#[test]
fn the_selection_moves_with_the_beacon_and_the_plan_and_nothing_else() {
    let p = plan(&HENAN, &["annual_report"]);
    let pop = population(&[("A", 2000), ("B", 500), ("C", 100), ("D", 20)]);
    let base = inspection::select(&p, &pop, &inspection::seed(&[1; 32], &[2; 32]));
    // The same inputs, in any order of the population's members, give the same draw.
    let mut shuffled = pop.clone();
    for m in shuffled.values_mut() {
        m.reverse();
    }
    assert_eq!(inspection::select(&p, &shuffled, &inspection::seed(&[1; 32], &[2; 32])), base);
    // Another beacon output, or another plan (its leaf hash), changes the selection.
    assert_ne!(inspection::select(&p, &pop, &inspection::seed(&[1; 32], &[3; 32])), base);
    assert_ne!(inspection::select(&p, &pop, &inspection::seed(&[4; 32], &[2; 32])), base);
    // A subject added to one class changes at most that class's selection.
    let mut grown = pop.clone();
    grown.get_mut("A").unwrap().push(uscc(99_999));
    let after = inspection::select(&p, &grown, &inspection::seed(&[1; 32], &[2; 32]));
    let of = |v: &[probity_core::Target], c: &str| -> Vec<SubjectId> {
        v.iter().filter(|t| t.class == c).map(|t| t.subject).collect()
    };
    for c in ["B", "C", "D"] {
        assert_eq!(of(&after, c), of(&base, c), "class {c}");
    }
}

/// Over many seeds, every member of a class is selected as often as its ratio says. The test
/// is Pearson's chi-square test of the selection counts of a class's members against the
/// uniform expectation, at significance level α = 0.001, with the critical value from the
/// Wilson–Hilferty approximation of the chi-square quantile. The seeds are fixed, so the test
/// gives the same answer on every run.
#[test]
fn selection_frequencies_match_the_ratios() {
    const SEEDS: u32 = 400;
    const Z_999: f64 = 3.090_232; // the standard normal quantile at 1 - 0.001
    let p = plan(&[("A", 100), ("B", 500), ("C", 1000), ("D", 3000)], &["annual_report"]);
    let pop = population(&[("A", 1000), ("B", 300), ("C", 120), ("D", 40)]);
    let mut counts: BTreeMap<SubjectId, u32> = BTreeMap::new();
    for s in 0..SEEDS {
        let seed = inspection::seed(&[0; 32], &sha(s));
        for t in inspection::select(&p, &pop, &seed) {
            *counts.entry(t.subject).or_default() += 1;
        }
    }
    for (class, members) in &pop {
        let n = members.len() as f64;
        let k = quota(p.ratios[class], members.len() as u64) as f64;
        let expected = f64::from(SEEDS) * k / n;
        let chi2: f64 = members
            .iter()
            .map(|m| {
                let o = f64::from(counts.get(m).copied().unwrap_or(0));
                (o - expected).powi(2) / expected
            })
            .sum();
        // Each draw selects a uniform k-subset, so a member's count is binomial with variance
        // SEEDS·p(1 - p), p = k/n, and the counts sum to SEEDS·k: scaled by (n - 1)/(n(1 - p)),
        // the statistic has the mean n - 1 of a chi-square over n - 1 degrees of freedom.
        let chi2 = chi2 * (n - 1.0) / (n * (1.0 - k / n));
        let df = n - 1.0;
        let crit = df * (1.0 - 2.0 / (9.0 * df) + Z_999 * (2.0 / (9.0 * df)).sqrt()).powi(3);
        assert!(chi2 < crit, "class {class}: chi-square {chi2:.1} over {df} df ≥ {crit:.1}");
        let total: f64 =
            members.iter().map(|m| f64::from(counts.get(m).copied().unwrap_or(0))).sum();
        assert_eq!(total, f64::from(SEEDS) * k, "class {class} selects its quota every time");
    }
}

fn sha(n: u32) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(n.to_be_bytes()).into()
}

#[test]
fn candidates_out_of_scope_or_without_a_class_are_not_in_the_population() {
    let book = book();
    let section = book.inspection().unwrap();
    let mut p = plan(&HENAN, &["annual_report"]);
    p.scope = Scope { regions: vec!["1101".into()], kinds: vec![SubjectKind::Enterprise] };
    let c = |n, kind, region: Option<&str>, grade: Option<&str>| Candidate {
        subject: uscc(n),
        kind,
        region: region.map(str::to_owned),
        grade: grade.map(str::to_owned),
    };
    let candidates = [
        c(1, SubjectKind::Enterprise, Some("110105"), Some("A")),
        c(2, SubjectKind::Enterprise, Some("110105"), Some("M")),
        c(3, SubjectKind::Enterprise, Some("120105"), Some("A")),
        c(4, SubjectKind::Cooperative, Some("110105"), Some("A")),
        c(5, SubjectKind::Enterprise, Some("110105"), None),
    ];
    let pop = inspection::population(section, &p, &candidates);
    assert_eq!(pop["A"], vec![uscc(1)]);
    assert_eq!(pop["B"], vec![uscc(2)], "M is sampled as class B");
    assert!(pop["C"].is_empty() && pop["D"].is_empty());
}

#[test]
fn working_day_clocks_cross_the_national_day_week() {
    let book = book();
    let cal = book.calendar();
    let d = |s: &str| s.parse::<Date>().unwrap();
    // Wed 2026-09-30; Oct 1-7 are holidays, Sat Oct 10 is worked, Sun Oct 11 is not. The first
    // day never counts: Oct 8, 9, 10, 12, 13.
    assert_eq!(cal.add_working_days(d("2026-09-30"), 5), d("2026-10-13"));
    assert_eq!(cal.add_working_days(d("2026-09-30"), 3), d("2026-10-10"));
    // 20 working days from the eve of the 2025 Spring Festival (Jan 28 to Feb 4 off; Sun Jan 26
    // and Sat Feb 8 worked).
    assert_eq!(cal.add_working_days(d("2025-01-27"), 1), d("2025-02-05"));
    assert!(cal.is_working_day(d("2026-09-20")), "a Sunday shifted to be worked");
    assert!(!cal.is_working_day(d("2026-10-05")), "a Monday of the National Day week");
    let due = inspection::publication_due(book.inspection().unwrap(), cal, d("2026-09-30"));
    assert_eq!(due, d("2026-11-03"));
}

/// The worked example of `docs/inspection.md`, computed there by an independent script: the
/// randomness of quicknet round 123, the seed for a plan leaf hash of 32 bytes 0x09, the rank
/// keys of five codes, and the draw of 40% of them into two teams.
#[test]
fn the_documented_example_draws_as_the_document_says() {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let randomness = QUICKNET.verify(ROUND, SIGNATURE).unwrap();
    assert_eq!(
        hex(&randomness),
        "fb8f7bc29bf24db51871ec8c79f3a1e4bd0557bc0dfcee9ed1d924e69d1c60dc"
    );
    let seed = inspection::seed(&[9; 32], &randomness);
    assert_eq!(hex(&seed), "278f61c7a3779abbb228db78830a018807cc6b5147a0ae7e6ab1241555449928");
    assert_eq!(
        hex(&inspection::rank(&seed, &uscc(4))),
        "01fce4d6b311d27d0b0c5e0d722086007b5a501fb80307975d608cfb9acfc072"
    );
    let mut p = plan(&[("A", 4000)], &["product_quality"]);
    p.teams = 2;
    let pop: Population = [("A".to_owned(), (1..=5).map(uscc).collect::<Vec<_>>())].into();
    let drawn: Vec<(String, u32)> = inspection::select(&p, &pop, &seed)
        .into_iter()
        .map(|t| (t.subject.to_string(), t.team))
        .collect();
    assert_eq!(drawn, [("911101050000000439".to_owned(), 1), ("91110105000000019Q".to_owned(), 2)]);
}
