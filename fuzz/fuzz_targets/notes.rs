//! Signed notes, checkpoints and key strings: none panics, no note opens without a valid
//! signature, and a checkpoint that parses is written back as it was read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use probity_tlog::{Checkpoint, NoteSigner, NoteVerifier, note_text};

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
});
