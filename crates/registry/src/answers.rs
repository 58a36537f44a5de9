//! The stored form of a subject's answers per measure ([`probity_store::AssessmentRow::answers`]):
//! JSON Lines, one [`MeasureAnswer`] a line, in the assessment's order.
//!
//! A check asks about one measure. Its line is found by how the line starts, `{"measure":`
//! and the measure id as a JSON string, and only that line is decoded; the others are passed
//! over, not parsed. The split is exact: serialised JSON holds no raw newline (control
//! characters in strings are escaped), and `measure` is the struct's first field. A line not
//! found that way is looked for by decoding them all, so a text written otherwise (by a
//! migration, say) still gives the same answers. An answer only sent on need not decode its
//! reasons either: found as `MeasureAnswer<Box<RawValue>>`, they stay the JSON they were
//! stored as, which serialises to the same text as the reasons decoded.

use probity_rules::MeasureAnswer;
use serde::de::DeserializeOwned;

/// The stored text of `measures`.
#[allow(
    clippy::expect_used,
    reason = "a measure's answer is plain data whose serialisation cannot fail"
)]
pub(crate) fn encode(measures: &[MeasureAnswer]) -> String {
    let mut out = String::with_capacity(measures.len() * 160);
    for (i, m) in measures.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&serde_json::to_string(m).expect("an answer serialises"));
    }
    out
}

/// Every answer in `text`, in order; `None` if a line does not decode.
pub(crate) fn decode<R: DeserializeOwned>(text: &str) -> Option<Vec<MeasureAnswer<R>>> {
    text.split('\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// The answer to `measure` in `text`, the stored bytes: `Some(None)` if there is none, `None`
/// if the text does not decode. Only the measure's line is decoded; the rest is not looked at
/// past the starts of lines, nor checked as UTF-8, unless the line is not found that way.
pub(crate) fn find<R: DeserializeOwned>(
    text: &[u8],
    measure: &str,
) -> Option<Option<MeasureAnswer<R>>> {
    if let Some(line) = line_of(text, measure)
        && let Ok(m) = serde_json::from_slice::<MeasureAnswer<R>>(line)
        && m.measure == measure
    {
        return Some(Some(m));
    }
    Some(decode(std::str::from_utf8(text).ok()?)?.into_iter().find(|m| m.measure == measure))
}

/// The line of `text` that starts as the line of `measure` is written: `{"measure":`, the id as
/// a JSON string, and a comma.
fn line_of<'t>(text: &'t [u8], measure: &str) -> Option<&'t [u8]> {
    // An id with nothing to escape (the usual) is its own JSON string's contents.
    let escaped;
    let id = if measure.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        measure.as_bytes()
    } else {
        escaped = serde_json::to_string(measure).ok()?;
        escaped.as_bytes().get(1..escaped.len().saturating_sub(1))?
    };
    let head = br#"{"measure":""#;
    let mut at = 0;
    while let Some(line) = text.get(at..) {
        if let Some(rest) = line.strip_prefix(head.as_slice())
            && let Some(rest) = rest.strip_prefix(id)
            && rest.starts_with(b"\",")
        {
            let end = memchr::memchr(b'\n', line).unwrap_or(line.len());
            return line.get(..end);
        }
        at += memchr::memchr(b'\n', line)? + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use probity_rules::{Decision, Reason};

    use super::*;

    fn answer(measure: &str, decision: Decision) -> MeasureAnswer {
        MeasureAnswer {
            measure: measure.into(),
            decision,
            reasons: vec![Reason {
                cause: "line one\nline two, a \"quote\" and {\"measure\":\"b\",".into(),
                records: vec![3, 5],
                basis: "basis".into(),
            }],
            changes_on: None,
            changes_to: None,
        }
    }

    #[test]
    fn each_measure_is_found_on_its_own_line_and_all_decode_in_order() {
        let all = vec![
            answer("a", Decision::Allow),
            answer("b", Decision::Deny),
            answer("tab\tand \"quote\"", Decision::Flag),
            answer("a.b", Decision::Flag),
        ];
        let text = encode(&all);
        assert_eq!(text.lines().count(), all.len());
        for m in &all {
            assert_eq!(find(text.as_bytes(), &m.measure), Some(Some(m.clone())));
        }
        assert_eq!(find::<Vec<Reason>>(text.as_bytes(), "c"), Some(None));
        assert_eq!(find::<Vec<Reason>>(text.as_bytes(), "a."), Some(None));
        assert_eq!(decode(&text), Some(all));
        assert_eq!(decode::<Vec<Reason>>(""), Some(vec![]));
        assert_eq!(find::<Vec<Reason>>(b"", "a"), Some(None));
    }

    #[test]
    fn reasons_found_as_stored_serialise_to_the_text_of_those_decoded() {
        use serde_json::value::RawValue;
        let all = vec![answer("a", Decision::Deny), answer("b", Decision::Flag)];
        let text = encode(&all);
        for m in &all {
            let raw =
                find::<Box<RawValue>>(text.as_bytes(), &m.measure).flatten().map(|r| r.reasons);
            let decoded = serde_json::to_string(&m.reasons).ok();
            assert_eq!(raw.map(|r| r.get().to_owned()), decoded, "{}", m.measure);
        }
        // Written otherwise (spaces, keys reordered), the raw reasons are still their JSON.
        let value = serde_json::to_value(&all[0]).unwrap_or_default();
        let other = serde_json::to_string_pretty(&value).unwrap_or_default().replace('\n', " ");
        let raw = find::<Box<RawValue>>(other.as_bytes(), "a").flatten().map(|r| r.reasons);
        let back: Option<Vec<Reason>> = raw.and_then(|r| serde_json::from_str(r.get()).ok());
        assert_eq!(back, Some(all[0].reasons.clone()));
    }

    #[test]
    fn only_the_asked_line_is_read_as_utf8() {
        let all = vec![answer("a", Decision::Deny), answer("b", Decision::Flag)];
        let mut text = encode(&all).into_bytes();
        // Bytes that are not UTF-8 on the line of `b` do not stop `a` being found; `b` then
        // does not decode, nor does the whole text.
        let at = text.len() - 2;
        text.insert(at, 0xff);
        assert_eq!(find(&text, "a"), Some(Some(all[0].clone())));
        assert_eq!(find::<Vec<Reason>>(&text, "b"), None);
    }

    #[test]
    fn text_written_otherwise_gives_the_same_answers_and_garbage_gives_none() {
        let a = answer("a", Decision::Deny);
        // Keys in another order (serde_json's map sorts them) and spaces: the prefix does not
        // match, decoding them all does.
        let value = serde_json::to_value(&a).unwrap_or_default();
        let other = serde_json::to_string_pretty(&value).unwrap_or_default().replace('\n', " ");
        assert!(!other.starts_with(r#"{"measure":"#));
        assert_eq!(find(other.as_bytes(), "a"), Some(Some(a)));
        assert_eq!(find::<Vec<Reason>>(b"not json", "a"), None);
        assert_eq!(decode::<Vec<Reason>>("{\"measure\":\"a\",}"), None);
    }
}
