//! C2SP tlog-tiles: how a log is cut into static files that mirrors and clients can fetch.
//!
//! A hash tile at tile level `L` and index `N` holds, concatenated, the hashes of tree level `8L`
//! nodes `[256N, 256N + W)`; a full tile has `W = 256`. Its path is `tile/<L>/<N>` when full and
//! `tile/<L>/<N>.p/<W>` when partial. An entry bundle `tile/entries/<N>[.p/<W>]` holds the leaf
//! data of leaves `[256N, 256N + W)`, each prefixed by its length as a big-endian `u16`. `N` is
//! written in groups of three digits, all but the last prefixed with `x`: 1234067 is
//! `x001/x234/067`.

use crate::{Hash, node_hash};

/// Hashes per full tile.
pub const TILE_WIDTH: u64 = 256;
/// Tree levels per tile level.
pub const TILE_HEIGHT: u8 = 8;

/// The path element of tile index `n`: `x001/x234/067` for 1234067.
pub fn tile_index_path(n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

/// The path of a hash tile (`level` is the tile level) or, with `level = None`, of an entry
/// bundle; `width` below 256 makes it a partial tile.
pub fn tile_path(level: Option<u8>, index: u64, width: u64) -> String {
    let l = level.map_or_else(|| "entries".to_owned(), |l| l.to_string());
    let mut p = format!("tile/{l}/{}", tile_index_path(index));
    if width < TILE_WIDTH {
        p.push_str(&format!(".p/{width}"));
    }
    p
}

/// Whether `s` is a number of at most `max` digits written as [`tile_path`] writes one: no sign,
/// no leading zero.
fn canonical_number(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'))
}

/// The tile a path names, as [`tile_path`] writes it: `(level, index, width)` with `level = None`
/// for an entry bundle. Refuses anything else, including non-canonical index groups (`x1/005`,
/// `x000/005`) and widths outside 1..=255 after `.p/`.
pub fn parse_tile_path(path: &str) -> Option<(Option<u8>, u64, u64)> {
    let rest = path.strip_prefix("tile/")?;
    let (level, rest) = rest.split_once('/')?;
    let level = match level {
        "entries" => None,
        l if canonical_number(l, 2) => Some(l.parse::<u8>().ok()?),
        _ => return None,
    };
    let (index, width) = match rest.split_once(".p/") {
        Some((index, w)) => {
            if !canonical_number(w, 3) {
                return None;
            }
            let w: u64 = w.parse().ok()?;
            (index, (1..TILE_WIDTH).contains(&w).then_some(w)?)
        }
        None => (rest, TILE_WIDTH),
    };
    let groups: Vec<&str> = index.split('/').collect();
    let (last, upper) = groups.split_last()?;
    let mut n: u64 = 0;
    for (i, g) in upper.iter().enumerate() {
        let digits = g.strip_prefix('x')?;
        if digits.len() != 3
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || (i == 0 && digits == "000")
        {
            return None;
        }
        n = n.checked_mul(1000)?.checked_add(digits.parse::<u64>().ok()?)?;
    }
    if last.len() != 3 || !last.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n = n.checked_mul(1000)?.checked_add(last.parse::<u64>().ok()?)?;
    Some((level, n, width))
}

/// The tiles at one tile level that a log growing from `from` to `to` leaves must (re)write:
/// `(index, width)` for each, in order. Full tiles written before are not repeated.
pub fn tiles_to_write(level: u8, from: u64, to: u64) -> Vec<(u64, u64)> {
    let shift = u32::from(level) * u32::from(TILE_HEIGHT);
    let nodes = |size: u64| size.checked_shr(shift).unwrap_or(0);
    let (old, new) = (nodes(from), nodes(to));
    if new == old {
        return Vec::new();
    }
    let first = old / TILE_WIDTH;
    let last = new.div_ceil(TILE_WIDTH);
    (first..last).map(|n| (n, (new - n * TILE_WIDTH).min(TILE_WIDTH))).collect()
}

/// The hash of the node `levels` above the start of `hashes` (2^levels consecutive hashes of one
/// tile row), as a client computes interior nodes from a tile.
pub fn fold(hashes: &[Hash]) -> Option<Hash> {
    match hashes {
        [] => None,
        [one] => Some(*one),
        _ if hashes.len().is_power_of_two() => {
            let (l, r) = hashes.split_at(hashes.len() / 2);
            Some(node_hash(&fold(l)?, &fold(r)?))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_spec() {
        assert_eq!(tile_index_path(1_234_067), "x001/x234/067");
        assert_eq!(tile_index_path(0), "000");
        assert_eq!(tile_index_path(1000), "x001/000");
        assert_eq!(tile_path(Some(0), 5, 256), "tile/0/005");
        assert_eq!(tile_path(Some(1), 1_234_067, 7), "tile/1/x001/x234/067.p/7");
        assert_eq!(tile_path(None, 2, 256), "tile/entries/002");
    }

    #[test]
    fn paths_parse_back_and_nothing_else_does() {
        for (level, n, w) in
            [(Some(0), 0, 256), (Some(1), 1_234_067, 7), (None, 2, 256), (None, 1000, 255)]
        {
            assert_eq!(parse_tile_path(&tile_path(level, n, w)), Some((level, n, w)));
        }
        for bad in [
            "tile/0/5",
            "tile/0/x000/005",
            "tile/0/x1/005",
            "tile/0/005.p/0",
            "tile/0/005.p/256",
            "tile/0/005.p/",
            "tile/abc/005",
            "tile/0/",
            "tiles/0/005",
            "tile/0/005/",
            "tile/300/005",
            // Found by the fuzz target `tile_paths`: leading zeros named a tile another way.
            "tile/01/234",
            "tile/0/005.p/05",
        ] {
            assert_eq!(parse_tile_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_changed_tiles_are_written() {
        assert_eq!(tiles_to_write(0, 0, 10), vec![(0, 10)]);
        assert_eq!(tiles_to_write(0, 10, 600), vec![(0, 256), (1, 256), (2, 88)]);
        assert_eq!(tiles_to_write(0, 600, 700), vec![(2, 188)]);
        assert_eq!(tiles_to_write(0, 512, 700), vec![(2, 188)]);
        assert_eq!(tiles_to_write(1, 0, 600), vec![(0, 2)]);
        assert!(tiles_to_write(1, 0, 255).is_empty());
        assert!(tiles_to_write(0, 7, 7).is_empty());
    }
}
