//! Request bodies as the API reads them (strict JSON: one object, no key twice), for every
//! body type; the records of a filing batch then go through the registry's record parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use probity_server::{
    AnswerIn, AuthorityIn, BatchCheck, CorrectionIn, DecisionIn, ExceptionIn, FilingBatch, KeyIn,
    ObjectionIn, ReasonIn, RepairDecisionIn, RepairIn, ReplyIn, RulebookIn, parse_body,
};

mod world;

/// Reads `body` as a `T`, as the API would.
fn read<T: serde::de::DeserializeOwned>(body: &[u8]) {
    let _ = parse_body::<T>(body);
}

/// Every body type but the filing batch, which is read with its records below.
const OTHERS: [fn(&[u8]); 13] = [
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
];

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    match OTHERS.get(usize::from(which % 14)) {
        Some(read) => read(body),
        None => {
            if let Ok(batch) = parse_body::<FilingBatch>(body) {
                let world = world::shared().lock().expect("not poisoned");
                for record in &batch.records {
                    let _ = world.registry.parse_record(&record.to_string());
                }
            }
        }
    }
});
