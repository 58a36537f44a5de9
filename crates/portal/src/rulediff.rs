//! What changed between two rulebook versions, rule by rule and field by field.

use std::collections::BTreeMap;

use probity_rules::Rulebook;

/// One changed field of one rule; `before` or `after` is `None` when the rule was added or
/// removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The rule and field, e.g. `kinds.penalty.minor.points`.
    pub path: String,
    /// The value in the older version.
    pub before: Option<String>,
    /// The value in the newer version.
    pub after: Option<String>,
}

type Fields = BTreeMap<String, String>;

/// Every rule of a rulebook as `path → value` pairs.
fn fields(b: &Rulebook) -> Fields {
    let mut f = Fields::new();
    let mut put = |path: String, value: String| {
        f.insert(path, value);
    };
    for k in b.kinds() {
        let p = format!("kinds.{}", k.id);
        put(format!("{p}.name"), k.name.clone());
        put(format!("{p}.tier"), format!("{:?}", k.tier).to_lowercase());
        put(format!("{p}.points"), k.points.to_string());
        put(format!("{p}.published_for"), k.published_for.to_string());
        put(format!("{p}.counts_for"), k.counts_for.to_string());
        put(format!("{p}.repair_after"), k.repair_after.map_or("–".into(), |r| r.to_string()));
        let filed_by: Vec<String> = k.filed_by.iter().map(ToString::to_string).collect();
        put(format!("{p}.filed_by"), filed_by.join(", "));
        put(format!("{p}.basis"), k.basis.clone());
        if k.inspection_outcome {
            put(format!("{p}.inspection_outcome"), "yes".into());
        }
    }
    if let Some(s) = b.scoring() {
        put("scoring.start".into(), s.start.to_string());
        put("scoring.floor".into(), s.floor.to_string());
        put("scoring.ceiling".into(), s.ceiling.to_string());
        for band in &s.bands {
            put(format!("scoring.bands.{}", band.grade), format!("≥ {}", band.min));
        }
        for t in &s.triggers {
            put(format!("scoring.triggers.{}", t.kind), t.grade.clone());
        }
        for x in &s.sticky {
            put(format!("scoring.sticky.{}", x.grade), x.holds_for.to_string());
        }
        for x in &s.bars {
            put(format!("scoring.bars.{}", x.grade), x.younger_than.to_string());
        }
        if let Some(n) = &s.new_entity {
            put(
                format!("scoring.new_entity.{}", n.grade),
                format!("< {}, ≥ {}", n.younger_than, n.min),
            );
        }
        put("scoring.basis".into(), s.basis.clone());
    }
    for l in b.lists() {
        let p = format!("lists.{}", l.id);
        put(format!("{p}.name"), l.name.clone());
        put(format!("{p}.type"), format!("{:?}", l.list_type).to_lowercase());
        put(format!("{p}.kinds"), l.kinds.join(", "));
        put(format!("{p}.grades"), l.grades.join(", "));
        put(format!("{p}.duration"), l.duration.to_string());
        put(format!("{p}.basis"), l.basis.clone());
    }
    for m in b.measures() {
        let p = format!("measures.{}", m.id);
        put(format!("{p}.description"), m.description.clone());
        let both = |c: &probity_rules::Condition| {
            c.lists.iter().chain(&c.grades).cloned().collect::<Vec<_>>().join(", ")
        };
        put(format!("{p}.deny"), both(&m.deny));
        put(format!("{p}.flag"), both(&m.flag));
        put(format!("{p}.basis"), m.basis.clone());
    }
    for (lang, item, name) in b.names() {
        put(format!("names.{lang}.{item}"), name.to_owned());
    }
    if let Some(i) = b.inspection() {
        put("inspection.publish_within".into(), format!("{} working days", i.publish_within));
        for c in &i.classes {
            let ratio = format!(
                "{}–{}",
                probity_rules::inspection::percent(c.min),
                probity_rules::inspection::percent(c.max)
            );
            put(
                format!("inspection.classes.{}", c.class),
                format!("{}: {ratio}", c.grades.join(", ")),
            );
        }
        for (id, item) in &i.items {
            let kind = format!("{:?}", item.kind).to_lowercase();
            put(format!("inspection.items.{id}"), format!("{} ({kind})", item.name));
        }
        put("inspection.basis".into(), i.basis.clone());
    }
    // The calendar by year, each a list of month-days: a year entered shows as added.
    let mut years: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let days = b.calendar().holidays.iter().map(|d| ("holidays", d));
    for (what, d) in days.chain(b.calendar().workdays.iter().map(|d| ("workdays", d))) {
        years.entry(format!("calendar.{}.{what}", d.year())).or_default().push(format!(
            "{:02}-{:02}",
            d.month(),
            d.day()
        ));
    }
    for (path, days) in years {
        put(path, days.join(", "));
    }
    let d = b.due_process();
    put("due_process.objection_window".into(), d.objection_window.to_string());
    put("due_process.answer_within".into(), d.answer_within.to_string());
    put("due_process.decide_within".into(), d.decide_within.to_string());
    put("due_process.repair_within".into(), d.repair_within.to_string());
    put("due_process.reply_max_chars".into(), d.reply_max_chars.to_string());
    f
}

/// The fields that differ between `from` and `to`, in path order.
pub fn diff(from: &Rulebook, to: &Rulebook) -> Vec<Change> {
    let (a, b) = (fields(from), fields(to));
    let mut paths: Vec<&String> = a.keys().chain(b.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter(|p| a.get(*p) != b.get(*p))
        .map(|p| Change { path: p.clone(), before: a.get(p).cloned(), after: b.get(p).cloned() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: &str = include_str!("../../../rulebooks/default.toml");

    #[test]
    fn a_changed_field_an_added_rule_and_nothing_else() {
        let from = Rulebook::parse(DEFAULT).unwrap();
        let text = DEFAULT.replacen("version = \"2026.12\"", "version = \"2026.3\"", 1).replacen(
            "points = -5\n",
            "points = -4\n",
            1,
        );
        let to = Rulebook::parse(&text).unwrap();
        let changes = diff(&from, &to);
        assert_eq!(
            changes,
            vec![Change {
                path: "kinds.penalty.minor.points".into(),
                before: Some("-5".into()),
                after: Some("-4".into()),
            }]
        );
        assert!(diff(&from, &from).is_empty());
    }

    #[test]
    fn the_shipped_versions_differ_in_the_law_they_cite_the_repair_of_minor_penalties_and_the_calendar()
     {
        let from = Rulebook::parse(probity_rules::DEFAULT_RULEBOOK_2023).unwrap();
        let to = Rulebook::parse(DEFAULT).unwrap();
        let changes = diff(&from, &to);
        let change = |path: &str| changes.iter().find(|c| c.path == path);
        let repair = change("kinds.penalty.minor.repair_after").unwrap();
        assert_eq!((repair.before.as_deref(), repair.after.as_deref()), (Some("–"), Some("1 day")));
        assert!(
            change("kinds.penalty.moderate.basis")
                .unwrap()
                .after
                .as_ref()
                .unwrap()
                .contains("[2025] No. 22")
        );
        let year = change("calendar.2026.holidays").unwrap();
        assert_eq!(year.before, None);
        assert!(year.after.as_ref().unwrap().starts_with("01-01, 01-02, 01-03, 02-15"), "{year:?}");
        assert_eq!(change("calendar.2023.workdays").unwrap().after, None, "2023 is left out");
        // The inspection section is the same in both.
        assert!(changes.iter().all(|c| !c.path.starts_with("inspection.")), "{changes:?}");
    }
}
