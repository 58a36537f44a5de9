//! Deterministic synthetic data for a demo registry: authorities, subjects and records in the
//! formats `probity import` reads.
//!
//! The same [`Config`] (seed and reference date included) gives byte-identical output on every
//! machine and every version of this crate's dependencies: the random generator is this crate's
//! own SplitMix64, and nothing depends on hash-map order or the clock. Every generated code is
//! valid. With [`Config::dirty`] above zero, bad rows are mixed in *in addition* to the good
//! ones, and [`Summary`] counts them, so a test can expect an exact number of rejects.

mod names;
mod rng;

use std::collections::HashMap;
use std::io::{self, Write};

use probity_core::{Date, lei_check_digits, org_check_char, uscc_check_char};
use probity_rules::Rulebook;
use serde::Serialize;

pub use rng::SplitMix64;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Config {
    /// Number of legal entities (valid subjects).
    pub enterprises: u64,
    /// Number of valid records.
    pub records: u64,
    /// Seed of the random generator.
    pub seed: u64,
    /// Share of extra bad rows, from 0 to 1.
    pub dirty: f64,
    /// Records are dated within the six years before this date.
    pub as_of: Date,
}

/// What was generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Summary {
    /// Authority rows (all valid).
    pub authorities: u64,
    /// Valid subject rows.
    pub subjects: u64,
    /// Bad subject rows mixed in.
    pub subjects_dirty: u64,
    /// Valid record rows.
    pub records: u64,
    /// Bad record rows mixed in.
    pub records_dirty: u64,
}

/// Where the three files go.
pub struct Outputs<A, S, R> {
    /// `authorities.csv`.
    pub authorities: A,
    /// `subjects.csv`.
    pub subjects: S,
    /// `records.jsonl`.
    pub records: R,
}

/// Errors while writing.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Writing failed.
    #[error("cannot write generated data: {0}")]
    Io(#[from] io::Error),
    /// The rulebook has a kind no generated authority may file.
    #[error("no generated authority may file record kind `{0}`")]
    NoAuthorityFor(String),
}

impl From<csv::Error> for GenerateError {
    fn from(e: csv::Error) -> Self {
        Self::Io(io::Error::other(e))
    }
}

/// Beijing's districts (GB/T 2260), used as regions of generated enterprises.
pub const BEIJING_DISTRICTS: &[(&str, &str)] = &[
    ("110101", "东城"),
    ("110102", "西城"),
    ("110105", "朝阳"),
    ("110106", "丰台"),
    ("110107", "石景山"),
    ("110108", "海淀"),
    ("110109", "门头沟"),
    ("110111", "房山"),
    ("110112", "通州"),
    ("110113", "顺义"),
    ("110114", "昌平"),
    ("110115", "大兴"),
    ("110116", "怀柔"),
    ("110117", "平谷"),
    ("110118", "密云"),
    ("110119", "延庆"),
];

const USCC_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const ALNUM: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// A bijection on `0..modulus` that scatters consecutive indices, so codes look random but stay
/// unique.
fn scatter(i: u64, modulus: u64) -> u64 {
    // 0x9E3779B1 is odd and not divisible by 3 or 31, hence coprime with 31^8 and 36^12.
    (i.wrapping_mul(0x9E37_79B1) % modulus + 0x5851_F42D) % modulus
}

fn encode(mut v: u64, alphabet: &[u8], len: usize) -> Vec<u8> {
    let base = alphabet.len() as u64;
    let mut out = vec![b'0'; len];
    for slot in out.iter_mut().rev() {
        *slot = alphabet.get((v % base) as usize).copied().unwrap_or(b'0');
        v /= base;
    }
    out
}

/// The `i`-th generated USCC: registration authority and category `prefix`, division `region`.
pub fn uscc(i: u64, prefix: &str, region: &str) -> String {
    let mut body = encode(scatter(i, 31u64.pow(8)), USCC_CHARSET, 8);
    // The organisation-code check may be `X` or a digit; both are in the USCC character set.
    let org = org_check_char(&body).unwrap_or('0');
    let mut code = format!("{prefix}{region}").into_bytes();
    code.append(&mut body);
    code.push(org as u8);
    let check = uscc_check_char(&code).unwrap_or('0');
    code.push(check as u8);
    String::from_utf8(code).unwrap_or_default()
}

/// The `i`-th generated LEI.
pub fn lei(i: u64, lou: &str) -> String {
    let mut code = lou.as_bytes().to_vec();
    code.extend_from_slice(b"00");
    code.extend(encode(scatter(i, 36u64.pow(12)), ALNUM, 12));
    let check = lei_check_digits(&code).unwrap_or_default();
    format!("{}{check}", String::from_utf8(code).unwrap_or_default())
}

struct GenAuthority {
    id: &'static str,
    name: &'static str,
    category: &'static str,
    jurisdiction: &'static str,
    prefix: &'static str,
}

const AUTHORITIES: &[GenAuthority] = &[
    GenAuthority {
        id: "bj-amr",
        name: "北京市市场监督管理局",
        category: "market_regulation",
        jurisdiction: "110000",
        prefix: "京市监罚",
    },
    GenAuthority {
        id: "bj-chaoyang-amr",
        name: "北京市朝阳区市场监督管理局",
        category: "market_regulation",
        jurisdiction: "110105",
        prefix: "京朝市监罚",
    },
    GenAuthority {
        id: "bj-haidian-amr",
        name: "北京市海淀区市场监督管理局",
        category: "market_regulation",
        jurisdiction: "110108",
        prefix: "京海市监罚",
    },
    GenAuthority {
        id: "bj-fengtai-amr",
        name: "北京市丰台区市场监督管理局",
        category: "market_regulation",
        jurisdiction: "110106",
        prefix: "京丰市监罚",
    },
    GenAuthority {
        id: "bj-tax",
        name: "国家税务总局北京市税务局",
        category: "tax",
        jurisdiction: "110000",
        prefix: "京税稽罚",
    },
    GenAuthority {
        id: "bj-chaoyang-tax",
        name: "国家税务总局北京市朝阳区税务局",
        category: "tax",
        jurisdiction: "110105",
        prefix: "京朝税罚",
    },
    GenAuthority {
        id: "bj-3rd-intermediate-court",
        name: "北京市第三中级人民法院",
        category: "court",
        jurisdiction: "110000",
        prefix: "京03执",
    },
    GenAuthority {
        id: "bj-chaoyang-court",
        name: "北京市朝阳区人民法院",
        category: "court",
        jurisdiction: "110105",
        prefix: "京0105执",
    },
    GenAuthority {
        id: "bj-haidian-court",
        name: "北京市海淀区人民法院",
        category: "court",
        jurisdiction: "110108",
        prefix: "京0108执",
    },
    GenAuthority {
        id: "bj-eco",
        name: "北京市生态环境局",
        category: "environment",
        jurisdiction: "110000",
        prefix: "京环罚字",
    },
    GenAuthority {
        id: "beijing-customs",
        name: "中华人民共和国北京海关",
        category: "customs",
        jurisdiction: "110000",
        prefix: "京关缉违字",
    },
    GenAuthority {
        id: "bj-hrss",
        name: "北京市人力资源和社会保障局",
        category: "labour_inspection",
        jurisdiction: "110000",
        prefix: "京人社监罚",
    },
];

#[derive(Serialize)]
struct RecordRow<'a> {
    authority: &'a str,
    decision_no: &'a str,
    subject: &'a str,
    kind: &'a str,
    decided: String,
    effective: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    basis: &'a str,
    summary: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    document_sha256: Option<String>,
}

struct Generator<'a> {
    cfg: &'a Config,
    rng: SplitMix64,
    /// Subject codes, in generation order.
    codes: Vec<String>,
    /// Per authority and year, the last decision number used.
    counters: HashMap<(usize, i16), u32>,
    /// Kinds with weights and the authorities that may file each.
    kinds: Vec<(String, u32, Vec<usize>)>,
}

/// Writes authorities, subjects and records for `cfg` with record kinds from `rulebook`.
pub fn generate<A: Write, S: Write, R: Write>(
    cfg: &Config,
    rulebook: &Rulebook,
    out: Outputs<A, S, R>,
) -> Result<Summary, GenerateError> {
    let mut kinds = Vec::new();
    // Inspection outcomes are filed against a draw, which generated data has none of.
    for kind in rulebook.kinds().filter(|k| !k.inspection_outcome) {
        let filers: Vec<usize> = AUTHORITIES
            .iter()
            .enumerate()
            .filter(|(_, a)| kind.filed_by.iter().any(|c| c.as_str() == a.category))
            .map(|(i, _)| i)
            .collect();
        if filers.is_empty() {
            return Err(GenerateError::NoAuthorityFor(kind.id.to_string()));
        }
        kinds.push((kind.id.to_string(), names::kind_weight(kind.id.as_str()), filers));
    }
    let mut g = Generator {
        cfg,
        rng: SplitMix64::new(cfg.seed),
        codes: Vec::with_capacity(cfg.enterprises as usize),
        counters: HashMap::new(),
        kinds,
    };
    let mut summary = Summary::default();
    g.authorities(out.authorities, &mut summary)?;
    g.subjects(out.subjects, &mut summary)?;
    g.records(out.records, rulebook, &mut summary)?;
    Ok(summary)
}

impl Generator<'_> {
    fn dirty(&mut self) -> bool {
        self.cfg.dirty > 0.0 && self.rng.chance(self.cfg.dirty)
    }

    fn authorities<W: Write>(&mut self, w: W, summary: &mut Summary) -> Result<(), GenerateError> {
        let mut w = csv::Writer::from_writer(w);
        w.write_record(["id", "name", "category", "jurisdiction"])?;
        for a in AUTHORITIES {
            w.write_record([a.id, a.name, a.category, a.jurisdiction])?;
            summary.authorities += 1;
        }
        w.flush()?;
        Ok(())
    }

    fn date_between(&mut self, from: Date, to: Date) -> Date {
        let days = (to - from).get_days().max(1) as u64;
        let offset = self.rng.below(days) as i64;
        from.checked_add(jiff::Span::new().days(offset)).unwrap_or(from)
    }

    fn subjects<W: Write>(&mut self, w: W, summary: &mut Summary) -> Result<(), GenerateError> {
        let mut w = csv::Writer::from_writer(w);
        w.write_record(["id", "name", "kind", "region", "status", "established", "former_names"])?;
        let today = self.cfg.as_of;
        let earliest = Date::constant(1995, 1, 1);
        let latest = today.checked_sub(jiff::Span::new().days(365)).unwrap_or(today);
        for i in 0..self.cfg.enterprises {
            let roll = self.rng.below(1000);
            let (code, name, kind, region) = if roll < 50 {
                let lou = names::pick(&mut self.rng, &["5493", "2138", "9845", "3003", "7245"]);
                (lei(i, lou), names::foreign_name(&mut self.rng), "enterprise", String::new())
            } else {
                let (region, district) = *names::pick(&mut self.rng, BEIJING_DISTRICTS);
                let (prefix, kind, name) = match roll {
                    50..=74 => {
                        ("93", "cooperative", names::cooperative_name(&mut self.rng, district))
                    }
                    75..=89 => {
                        ("51", "social_organisation", names::association_name(&mut self.rng))
                    }
                    _ => ("91", "enterprise", names::enterprise_name(&mut self.rng, district)),
                };
                (uscc(i, prefix, region), name, kind, region.to_owned())
            };
            let status = match self.rng.below(100) {
                0..=91 => "active",
                92..=96 => "revoked",
                _ => "deregistered",
            };
            let established = self.date_between(earliest, latest).to_string();
            let former = if self.rng.chance(0.05) {
                names::enterprise_name(&mut self.rng, "")
            } else {
                String::new()
            };
            w.write_record([code.as_str(), &name, kind, &region, status, &established, &former])?;
            self.codes.push(code);
            summary.subjects += 1;
            if self.dirty() {
                let bad = self.bad_subject(i, &name);
                w.write_record(bad.iter().map(String::as_str))?;
                summary.subjects_dirty += 1;
            }
        }
        w.flush()?;
        Ok(())
    }

    fn bad_subject(&mut self, i: u64, name: &str) -> Vec<String> {
        let good = uscc(i + 1_000_000_000, "91", "110105");
        let row = |code: String, name: &str, date: &str| {
            vec![
                code,
                name.to_owned(),
                String::new(),
                String::new(),
                "active".into(),
                date.to_owned(),
                String::new(),
            ]
        };
        match self.rng.below(5) {
            0 => row(names::break_checksum(&good), name, ""),
            1 => row(uscc(i + 1_000_000_000, "92", "110105"), "个体工商户", ""),
            2 => row(good, "", ""),
            3 => row(good, name, "2021-02-30"),
            _ => row(format!("{}I", good.get(..17).unwrap_or("")), name, ""),
        }
    }

    fn decision_no(&mut self, authority: usize, year: i16) -> String {
        let n = self.counters.entry((authority, year)).or_insert(0);
        *n += 1;
        let a = AUTHORITIES.get(authority).map_or("", |a| a.prefix);
        if a.contains('执') {
            format!("（{year}）{a}{n}号")
        } else {
            format!("{a}〔{year}〕{n}号")
        }
    }

    fn records<W: Write>(
        &mut self,
        mut w: W,
        rulebook: &Rulebook,
        summary: &mut Summary,
    ) -> Result<(), GenerateError> {
        let today = self.cfg.as_of;
        let start = today.checked_sub(jiff::Span::new().years(6)).unwrap_or(today);
        let total_weight: u32 = self.kinds.iter().map(|k| k.1).sum();
        let n = self.codes.len() as u64;
        let mut line = Vec::with_capacity(512);
        for _ in 0..self.cfg.records {
            if n == 0 {
                break;
            }
            // Skewed: three records in ten go to the hundredth of subjects that reoffend most,
            // five to the tenth that reoffend at all, two fall anywhere.
            let share = match self.rng.below(10) {
                0..=2 => 0.01,
                3..=7 => 0.10,
                _ => 1.0,
            };
            let subject = self.rng.below(((n as f64 * share).ceil() as u64).max(1)) as usize;
            let code = self.codes.get(subject).cloned().unwrap_or_default();
            let mut pick = self.rng.below(u64::from(total_weight.max(1))) as u32;
            let mut chosen = 0;
            for (i, k) in self.kinds.iter().enumerate() {
                if pick < k.1 {
                    chosen = i;
                    break;
                }
                pick -= k.1;
            }
            let (kind, _, filers) = self.kinds.get(chosen).cloned().unwrap_or_default();
            let authority = *names::pick(&mut self.rng, &filers);
            let decided = self.date_between(start, today);
            let effective = decided
                .checked_add(jiff::Span::new().days(self.rng.below(20) as i64))
                .unwrap_or(decided);
            let effective = effective.min(today);
            let decision_no = self.decision_no(authority, decided.year());
            let category = AUTHORITIES.get(authority).map_or("", |a| a.category);
            let (basis, summary_text, amount) =
                names::decision(&mut self.rng, &kind, category, rulebook);
            let document = self.rng.chance(0.6).then(|| {
                (0..4).map(|_| format!("{:016x}", self.rng.next_u64())).collect::<String>()
            });
            let a = AUTHORITIES.get(authority).map_or("", |a| a.id);
            let row = RecordRow {
                authority: a,
                decision_no: &decision_no,
                subject: &code,
                kind: &kind,
                decided: decided.to_string(),
                effective: effective.to_string(),
                basis: &basis,
                summary: &summary_text,
                currency: amount.as_ref().map(|_| "CNY"),
                amount,
                document_sha256: document,
            };
            line.clear();
            serde_json::to_writer(&mut line, &row).map_err(io::Error::other)?;
            line.push(b'\n');
            w.write_all(&line)?;
            summary.records += 1;
            if self.dirty() {
                let mut bad = row;
                let bad_no = format!("{decision_no}-X");
                bad.decision_no = &bad_no;
                let broken_code;
                match self.rng.below(7) {
                    0 => bad.kind = "opinion.disloyal",
                    1 => bad.decided = "2023-02-30".into(),
                    2 => bad.basis = "",
                    3 => {
                        broken_code = names::break_checksum(&code);
                        bad.subject = &broken_code;
                    }
                    4 => bad.authority = "unknown-bureau",
                    5 => bad.effective = "1999-01-01".into(),
                    _ => {
                        bad.amount = Some("12,5".into());
                        bad.currency = Some("CNY");
                    }
                }
                line.clear();
                serde_json::to_writer(&mut line, &bad).map_err(io::Error::other)?;
                line.push(b'\n');
                w.write_all(&line)?;
                summary.records_dirty += 1;
            }
        }
        w.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use probity_core::SubjectId;
    use probity_rules::{DEFAULT_RULEBOOK, Rulebook};

    use super::*;

    fn run(seed: u64, dirty: f64) -> (Vec<u8>, Vec<u8>, Vec<u8>, Summary) {
        let book = Rulebook::parse(DEFAULT_RULEBOOK).unwrap();
        let cfg = Config {
            enterprises: 500,
            records: 2000,
            seed,
            dirty,
            as_of: Date::constant(2026, 11, 1),
        };
        let (mut a, mut s, mut r) = (Vec::new(), Vec::new(), Vec::new());
        let summary = generate(
            &cfg,
            &book,
            Outputs { authorities: &mut a, subjects: &mut s, records: &mut r },
        )
        .unwrap();
        (a, s, r, summary)
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let one = run(7, 0.1);
        assert_eq!(one, run(7, 0.1));
        assert_ne!(one.2, run(8, 0.1).2);
    }

    #[test]
    fn clean_output_has_only_valid_codes_and_known_kinds() {
        let (a, s, r, summary) = run(1, 0.0);
        assert_eq!(summary.subjects_dirty + summary.records_dirty, 0);
        assert_eq!(String::from_utf8(a).unwrap().lines().count(), 13);
        let subjects = String::from_utf8(s).unwrap();
        let mut codes = std::collections::HashSet::new();
        for line in subjects.lines().skip(1) {
            let code = line.split(',').next().unwrap();
            SubjectId::parse(code).unwrap();
            assert!(codes.insert(code.to_owned()), "duplicate code {code}");
        }
        assert_eq!(codes.len(), 500);
        assert!(codes.iter().any(|c| c.len() == 20), "some foreign companies with an LEI");
        let book = Rulebook::parse(DEFAULT_RULEBOOK).unwrap();
        let mut per_subject: HashMap<String, u32> = HashMap::new();
        for line in String::from_utf8(r).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(book.kind(v["kind"].as_str().unwrap()).is_some());
            assert!(!v["basis"].as_str().unwrap().is_empty());
            *per_subject.entry(v["subject"].as_str().unwrap().to_owned()).or_default() += 1;
        }
        // Skewed: most companies are clean, a few have many records.
        assert!(per_subject.len() < 400, "{}", per_subject.len());
        assert!(per_subject.values().max().unwrap() > &10);
    }

    #[test]
    fn dirty_rows_are_extra_and_counted() {
        let (_, s, r, summary) = run(3, 0.2);
        assert!(summary.subjects_dirty > 50 && summary.records_dirty > 200, "{summary:?}");
        assert_eq!(
            String::from_utf8(s).unwrap().lines().count() as u64,
            1 + summary.subjects + summary.subjects_dirty
        );
        assert_eq!(
            String::from_utf8(r).unwrap().lines().count() as u64,
            summary.records + summary.records_dirty
        );
    }

    #[test]
    fn generated_codes_are_unique_over_a_large_range() {
        let mut seen = std::collections::HashSet::new();
        for i in (0..2_000_000).step_by(7) {
            assert!(seen.insert(uscc(i, "91", "110105")));
        }
    }
}
