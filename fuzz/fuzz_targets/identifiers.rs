//! Subject codes, slugs, region codes, and the text checks every name and key passes: none
//! panics, and what one accepts it accepts again unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use probity_core::{Region, Slug, SubjectId, check_key, check_prose, find_personal_identifier};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(id) = SubjectId::parse(text) {
        assert_eq!(SubjectId::parse(id.as_str()).as_ref(), Ok(&id), "a code parsed twice differs");
        // Prefix 92 marks an individually owned business in a USCC; an LEI may start so.
        if matches!(id, SubjectId::Uscc(_)) {
            assert!(!id.as_str().starts_with("92"), "an individually owned business was admitted");
        }
    }
    let _ = SubjectId::exception_candidate(text);
    if let Ok(slug) = Slug::parse("slug", text) {
        assert_eq!(Slug::parse("slug", slug.as_str()).as_ref(), Ok(&slug));
    }
    if let Some(region) = Region::parse(text) {
        assert_eq!(Region::parse(&region.to_string()), Some(region));
    }
    if let Ok(key) = check_key("decision_no", text, 128) {
        assert_eq!(
            check_key("decision_no", &key, 128).as_deref(),
            Ok(key.as_str()),
            "not a fixed point"
        );
    }
    if let Ok(prose) = check_prose("summary", text, 4000) {
        assert!(find_personal_identifier(&prose).is_none());
    }
});
