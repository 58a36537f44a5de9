//! Tile paths as a mirror or the server reads them: a path that parses is the one canonical
//! path of its tile.
#![no_main]

use libfuzzer_sys::fuzz_target;
use probity_tlog::tiles::{parse_tile_path, tile_path};

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else { return };
    if let Some((level, index, width)) = parse_tile_path(path) {
        assert_eq!(tile_path(level, index, width), path, "two paths name one tile");
    }
});
