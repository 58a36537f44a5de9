//! Word lists for generated names, legal bases and summaries.

use probity_rules::Rulebook;

use crate::SplitMix64;

/// Picks one element uniformly.
#[allow(clippy::indexing_slicing)] // reason: `below(len)` is less than `len`; every list here is a non-empty constant
pub fn pick<'a, T>(rng: &mut SplitMix64, items: &'a [T]) -> &'a T {
    &items[rng.below(items.len() as u64) as usize]
}

const TRADE_CHARS: &[&str] = &[
    "华", "中", "恒", "信", "达", "科", "创", "盛", "泰", "瑞", "鑫", "宏", "远", "星", "辰", "海",
    "金", "德", "诚", "新", "天", "润", "博", "源", "安", "嘉", "和", "联", "众", "智", "云", "峰",
    "龙", "凯", "汇", "祥", "通", "兴", "腾", "跃", "明", "晟", "瀚", "睿", "铭", "宇", "锦", "航",
];

const INDUSTRIES: &[&str] = &[
    "科技有限公司",
    "信息技术有限公司",
    "建筑工程有限公司",
    "商贸有限公司",
    "餐饮管理有限公司",
    "文化传媒有限公司",
    "医药有限公司",
    "物流有限公司",
    "房地产开发有限公司",
    "环保科技股份有限公司",
    "食品有限公司",
    "机械设备有限公司",
];

fn trade_name(rng: &mut SplitMix64) -> String {
    let n = 2 + rng.below(2) as usize;
    (0..n).map(|_| *pick(rng, TRADE_CHARS)).collect()
}

/// 北京[district]<trade><industry>.
pub fn enterprise_name(rng: &mut SplitMix64, district: &str) -> String {
    let district = if rng.chance(0.3) { district } else { "" };
    format!("北京{district}{}{}", trade_name(rng), pick(rng, INDUSTRIES))
}

/// A farmers' specialised cooperative.
pub fn cooperative_name(rng: &mut SplitMix64, district: &str) -> String {
    let what = pick(rng, &["蔬菜种植", "果品", "养殖", "农机服务", "花卉"]);
    format!("北京市{district}区{}{what}专业合作社", trade_name(rng))
}

/// A trade association.
pub fn association_name(rng: &mut SplitMix64) -> String {
    let what = pick(rng, &["软件", "物业管理", "餐饮", "建筑装饰", "电子商务", "广告"]);
    format!("北京{}{what}行业协会", trade_name(rng))
}

const LATIN: &[&str] = &[
    "Alder",
    "Brightwater",
    "Cobalt",
    "Danube",
    "Everest",
    "Fjord",
    "Granite",
    "Harbour",
    "Iris",
    "Juniper",
    "Kestrel",
    "Lumen",
    "Meridian",
    "Northgate",
    "Orchid",
    "Pioneer",
    "Quarry",
    "Riverside",
    "Summit",
    "Tidewater",
    "Union",
    "Vantage",
    "Westfield",
    "Zenith",
];

/// A foreign company's Latin name.
pub fn foreign_name(rng: &mut SplitMix64) -> String {
    let form = pick(rng, &["GmbH", "Ltd", "S.A.", "Inc.", "B.V.", "AG", "Pte. Ltd.", "S.p.A."]);
    let what =
        pick(rng, &["Trading", "Logistics", "Industries", "Technologies", "Holdings", "Pharma"]);
    format!("{} {what} {form}", pick(rng, LATIN))
}

/// Replaces one character of a valid code so that its check fails.
pub fn break_checksum(code: &str) -> String {
    let mut bytes = code.as_bytes().to_vec();
    if let Some(last) = bytes.last_mut() {
        *last = if *last == b'1' { b'2' } else { b'1' };
    }
    String::from_utf8(bytes).unwrap_or_default()
}

/// How often each kind occurs among generated records.
pub fn kind_weight(kind: &str) -> u32 {
    match kind {
        "penalty.minor" => 40,
        "penalty.moderate" => 22,
        "penalty.serious" => 8,
        "court.dishonest_debtor" => 10,
        "tax.major_violation" => 4,
        "registration.abnormal" => 12,
        "award.quality" => 4,
        _ => 5,
    }
}

/// Legal bases and summaries of penalties by the filing authority's category.
fn penalty_texts(category: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match category {
        "tax" => (
            &[
                "《中华人民共和国税收征收管理法》第六十二条",
                "《中华人民共和国税收征收管理法》第六十四条",
                "《中华人民共和国发票管理办法》第三十五条",
            ],
            &["逾期未申报纳税", "未按规定开具发票", "未按规定保管账簿"],
        ),
        "environment" => (
            &[
                "《中华人民共和国大气污染防治法》第九十九条",
                "《中华人民共和国水污染防治法》第八十三条",
                "《中华人民共和国固体废物污染环境防治法》第一百零二条",
            ],
            &["超标排放大气污染物", "未依法取得排污许可证排放水污染物", "未按规定贮存危险废物"],
        ),
        "customs" => (
            &[
                "《中华人民共和国海关行政处罚实施条例》第十五条",
                "《中华人民共和国海关法》第八十六条",
            ],
            &["申报不实", "未按规定办理进口货物报关手续"],
        ),
        "labour_inspection" => (
            &["《劳动保障监察条例》第二十六条", "《中华人民共和国劳动合同法》第八十五条"],
            &["拖欠劳动报酬", "未依法签订书面劳动合同"],
        ),
        _ => (
            &[
                "《中华人民共和国产品质量法》第四十九条",
                "《中华人民共和国广告法》第五十五条",
                "《中华人民共和国食品安全法》第一百二十四条",
                "《中华人民共和国价格法》第四十二条",
            ],
            &["销售不合格产品", "发布虚假广告", "经营超过保质期的食品", "未按规定明码标价"],
        ),
    }
}

/// A legal basis, a summary and an amount (yuan, as text) for a decision of `kind`.
pub fn decision(
    rng: &mut SplitMix64,
    kind: &str,
    category: &str,
    rulebook: &Rulebook,
) -> (String, String, Option<String>) {
    let (bases, summaries, range): (&[&str], &[&str], Option<(u64, u64)>) = match kind {
        "penalty.minor" | "penalty.moderate" | "penalty.serious" => {
            let (bases, summaries) = penalty_texts(category);
            (
                bases,
                summaries,
                Some(match kind {
                    "penalty.minor" => (500, 10_000),
                    "penalty.moderate" => (10_000, 200_000),
                    _ => (200_000, 5_000_000),
                }),
            )
        }
        "court.dishonest_debtor" => (
            &["《最高人民法院关于公布失信被执行人名单信息的若干规定》第一条"],
            &[
                "有履行能力而拒不履行生效法律文书确定的义务",
                "以虚假诉讼规避执行",
                "违反财产报告制度",
            ],
            Some((50_000, 3_000_000)),
        ),
        "tax.major_violation" => (
            &["《重大税收违法失信主体信息公布管理办法》第六条"],
            &["虚开增值税专用发票", "逃避缴纳税款", "骗取出口退税"],
            Some((100_000, 10_000_000)),
        ),
        "registration.abnormal" => (
            &[
                "《企业信息公示暂行条例》第十七条",
                "《市场监督管理严重违法失信名单管理办法》第十三条",
            ],
            &[
                "未按规定期限公示年度报告",
                "通过登记的住所或者经营场所无法联系",
                "公示企业信息隐瞒真实情况、弄虚作假",
            ],
            None,
        ),
        "award.quality" => (
            &["《中华人民共和国产品质量法》第六条"],
            &["获评区级质量奖", "获评市级质量管理先进单位"],
            None,
        ),
        other => {
            let basis = rulebook.kind(other).map_or("", |k| k.basis.as_str());
            return (basis.to_owned(), String::new(), None);
        }
    };
    let basis = (*pick(rng, bases)).to_owned();
    let summary = (*pick(rng, summaries)).to_owned();
    let amount = range.map(|(lo, hi)| {
        let yuan = lo + rng.below(hi - lo);
        let yuan = if yuan > 10_000 { yuan / 100 * 100 } else { yuan };
        format!("{yuan}.00")
    });
    (basis, summary, amount)
}
