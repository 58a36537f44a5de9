//! Rulebook TOML: any text is parsed and checked, or refused with a reason, without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = probity_rules::Rulebook::parse(text) {
        assert!(!e.to_string().is_empty(), "a refusal without a reason");
    }
});
