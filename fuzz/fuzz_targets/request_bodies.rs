//! Request bodies as the API reads them (strict JSON: one object, no key twice), for every
//! body type; the records of a filing batch then go through the registry's record parser, and
//! an inspection plan through its own checks and the rulebook's.
#![no_main]

use libfuzzer_sys::fuzz_target;
use probity_api::{
    AnswerIn, AuthorityIn, BatchCheck, BeaconIn, CorrectionIn, DecisionIn, ExceptionIn,
    FilingBatch, KeyIn, ObjectionIn, ReasonIn, RepairDecisionIn, RepairIn, ReplyIn, RulebookIn,
    SubjectsIn, WatchlistIn, WebhookIn, parse_body,
};

mod world;

/// Reads `body` as a `T`, as the API would.
fn read<T: serde::de::DeserializeOwned>(body: &[u8]) {
    let _ = parse_body::<T>(body);
}

/// An inspection plan, read and checked as filing one checks it.
fn plan(body: &[u8]) {
    static BOOK: std::sync::OnceLock<probity_rules::Rulebook> = std::sync::OnceLock::new();
    let Ok(plan) = parse_body::<probity_core::InspectionPlan>(body) else { return };
    let Ok(plan) = plan.check() else { return };
    let book = BOOK.get_or_init(|| {
        probity_rules::Rulebook::parse(probity_rules::DEFAULT_RULEBOOK).expect("the default is valid")
    });
    if let Some(section) = book.inspection() {
        let _ = section.check_plan(&plan, probity_core::Timestamp::UNIX_EPOCH);
    }
}

/// A filing batch, whose records then go through the registry's record parser.
fn filing(body: &[u8]) {
    if let Ok(batch) = parse_body::<FilingBatch>(body) {
        let world = world::shared().lock().expect("not poisoned");
        for record in &batch.records {
            let _ = world.registry.parse_record(&record.to_string());
        }
    }
}

/// Every body type; the input's first byte chooses one (the seeds' first bytes index this).
const READERS: [fn(&[u8]); 19] = [
    read::<BatchCheck>,
    read::<AuthorityIn>,
    read::<KeyIn>,
    read::<ExceptionIn>,
    read::<RulebookIn>,
    read::<ReasonIn>,
    read::<CorrectionIn>,
    read::<ObjectionIn>,
    read::<ReplyIn>,
    read::<RepairIn>,
    read::<AnswerIn>,
    read::<DecisionIn>,
    read::<RepairDecisionIn>,
    plan,
    read::<BeaconIn>,
    filing,
    read::<WatchlistIn>,
    read::<SubjectsIn>,
    read::<WebhookIn>,
];

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    if let Some(read) = READERS.get(usize::from(which) % READERS.len()) {
        read(body);
    }
});
