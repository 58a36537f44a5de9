//! Signed notes, checkpoints, key strings, witness requests and policies: none panics, no note
//! opens without a valid signature, a checkpoint that parses is written back as it was read, an
//! `add-checkpoint` request that parses is written back as it was read, and a witness cosigns
//! only a checkpoint signed by the key it trusts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use probity_tlog::witness::{AddCheckpoint, WitnessedLog, judge};
use probity_tlog::{Checkpoint, CosignatureVerifier, Cosigner, NoteSigner, NoteVerifier, note_text};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let signer = NoteSigner::from_seed("fuzz.example/log", [7; 32]).expect("a valid name");
    let verifier = NoteVerifier::parse(&signer.verifier_key()).expect("its own key parses");
    if let Ok(opened) = verifier.open(text) {
        // Only a note this key signed opens: the note carries the signature line this key
        // writes for the opened text (Ed25519 signing is deterministic; no other is forgeable).
        let signed = signer.sign(opened);
        let line = signed[opened.len()..].trim_matches('\n');
        assert!(text.lines().any(|l| l == line), "a note opened without this key's signature");
    }
    let _ = note_text(text);
    if let Ok(cp) = Checkpoint::parse(text) {
        assert_eq!(Checkpoint::parse(&cp.text()).ok(), Some(cp), "a checkpoint read back differs");
    }
    let _ = NoteVerifier::parse(text);
    let _ = NoteSigner::parse(text);
    let _ = CosignatureVerifier::parse(text);
    let _ = Cosigner::parse(text);
    let _ = probity_tlog::policy::Policy::parse(text);
    let witness = Cosigner::from_seed("fuzz.example/witness", [8; 32]).expect("a valid name");
    let cosigned = CosignatureVerifier::parse(&witness.verifier_key()).expect("its own key");
    let _ = cosigned.cosigned(text);
    if let Ok(request) = AddCheckpoint::parse(text) {
        let again = AddCheckpoint::parse(&request.encode());
        assert_eq!(again.as_ref().ok(), Some(&request), "a request read back differs");
        let logs = [WitnessedLog { origin: "fuzz.example/log".into(), keys: vec![verifier.clone()] }];
        for stored in [None, Some((request.old, [0; 32]))] {
            if judge(&request, &logs, |_| stored).is_ok() {
                assert!(verifier.open(&request.note).is_ok(), "cosigned without the log's signature");
            }
        }
    }
});
