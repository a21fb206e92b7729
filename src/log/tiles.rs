//! C2SP `tlog-tiles`: the log's Merkle tree and entries as immutable resources, so existing
//! transparency tooling (monitors, witnesses, Go's and Rust's tile readers) can read the log
//! and compute any proof itself.
//!
//! A hash tile at level `l`, index `n` lists the RFC 6962 hashes
//! `MTH(D[(n·256 + i)·256^l : (n·256 + i + 1)·256^l])` for `i` from 0 to its width − 1: the
//! complete nodes of tree level `8·l`, which the store already keeps. A full tile is 256
//! hashes; a partial one (`.p/<W>`) is its first `W`. The entry bundle `n` holds entries
//! `n·256 …` as big-endian `u16` length-prefixed byte strings.
//!
//! Everything a tile lists is a complete node or a committed entry, which never changes, so
//! any tile whose hashes are all complete in the tree of the log's current size is served,
//! partial widths included (the spec asks for at least the widths of the checkpoints'
//! sizes). Paths are parsed strictly: one spelling per tile, as the spec writes it.

use std::fmt;

/// Hashes (or entries) in a full tile.
pub const WIDTH: u64 = 256;
/// Tree levels a tile spans.
pub const HEIGHT: u32 = 8;
/// The largest entry an entry bundle can carry (its length is a `u16`).
pub const MAX_BUNDLED_ENTRY: usize = u16::MAX as usize;

/// What a tile lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileKind {
    /// Merkle tree hashes of tile level `0..=63`.
    Hashes(u8),
    /// Log entries (the level-0 geometry).
    Entries,
}

/// One tile resource: `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    pub kind: TileKind,
    /// The tile's index within its level.
    pub index: u64,
    /// 1 to 256; below 256 the tile is partial.
    pub width: u16,
}

/// Why a tile path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PathError(String);

fn refuse(what: impl Into<String>) -> PathError {
    PathError(what.into())
}

impl Tile {
    /// Parses the path after `tile/`, e.g. `0/x001/x234/067.p/112` or `entries/000`.
    pub fn parse(path: &str) -> Result<Self, PathError> {
        let (level, rest) = path
            .split_once('/')
            .ok_or_else(|| refuse("a tile path is <level>/<index>[.p/<width>]"))?;
        let kind = match level {
            "entries" => TileKind::Entries,
            _ => TileKind::Hashes(parse_level(level)?),
        };
        let (index, width) = match rest.split_once(".p/") {
            Some((index, width)) => (index, parse_width(width)?),
            None => (rest, WIDTH as u16),
        };
        let tile = Self {
            kind,
            index: parse_index(index)?,
            width,
        };
        // The checks above name what is wrong; this one makes sure nothing else is.
        let canonical = tile.to_string();
        if canonical != path {
            return Err(refuse(format!(
                "tile path {path:?} is not spelled as the spec writes it: {canonical}"
            )));
        }
        Ok(tile)
    }

    /// Whether the tile lists fewer than 256 hashes or entries.
    pub fn is_partial(&self) -> bool {
        u64::from(self.width) < WIDTH
    }

    /// The tree level of the nodes the tile lists (8 per tile level).
    fn tree_level(&self) -> u32 {
        match self.kind {
            TileKind::Hashes(l) => HEIGHT * u32::from(l),
            TileKind::Entries => 0,
        }
    }

    /// The nodes the tile lists, as `(tree level, first index, count)`, when every one of
    /// them is complete in a tree of `size` leaves; `None` when the tile does not exist yet
    /// (or can never exist in a log of 64-bit size).
    pub fn nodes_within(&self, size: u64) -> Option<(u8, u64, u64)> {
        let level = self.tree_level();
        if level >= 64 {
            return None;
        }
        let first = self.index.checked_mul(WIDTH)?;
        let count = u64::from(self.width);
        let end = first.checked_add(count)?;
        // The tile's last node ends at leaf `end << level` (below 2^127 here); it is
        // complete iff that is within the tree.
        if u128::from(end) << level > u128::from(size) {
            return None;
        }
        Some((level as u8, first, count))
    }
}

impl fmt::Display for Tile {
    /// The path after `tile/`, as the spec spells it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TileKind::Hashes(l) => write!(f, "{l}/")?,
            TileKind::Entries => f.write_str("entries/")?,
        }
        let digits = self.index.to_string();
        let pad = (3 - digits.len() % 3) % 3;
        let padded = format!("{}{digits}", "0".repeat(pad));
        let groups: Vec<&str> = padded
            .as_bytes()
            .chunks(3)
            .map(|g| std::str::from_utf8(g).expect("ASCII digits"))
            .collect();
        for (i, group) in groups.iter().enumerate() {
            if i + 1 < groups.len() {
                write!(f, "x{group}/")?;
            } else {
                f.write_str(group)?;
            }
        }
        if self.is_partial() {
            write!(f, ".p/{}", self.width)?;
        }
        Ok(())
    }
}

/// A decimal with no sign and no leading zero (other than `0` itself).
fn plain_decimal(s: &str) -> Option<u64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

fn parse_level(s: &str) -> Result<u8, PathError> {
    plain_decimal(s)
        .filter(|l| *l <= 63)
        .map(|l| l as u8)
        .ok_or_else(|| {
            refuse(format!(
                "tile level {s:?} is not `entries` or a decimal 0 to 63 without leading zeros"
            ))
        })
}

fn parse_width(s: &str) -> Result<u16, PathError> {
    plain_decimal(s)
        .filter(|w| (1..WIDTH).contains(w))
        .map(|w| w as u16)
        .ok_or_else(|| {
            refuse(format!(
                "partial tile width {s:?} is not a decimal 1 to 255 without leading zeros"
            ))
        })
}

/// `x001/x234/067` → 1234067: three-digit groups, all but the last prefixed with `x`, no
/// leading all-zero group.
fn parse_index(s: &str) -> Result<u64, PathError> {
    let bad = || {
        refuse(format!(
            "tile index {s:?} is not written as three-digit groups, all but the last \
             prefixed with x (1234067 is x001/x234/067)"
        ))
    };
    let groups: Vec<&str> = s.split('/').collect();
    let (last, leading) = groups.split_last().ok_or_else(bad)?;
    let mut digits = String::with_capacity(3 * groups.len());
    for group in leading {
        digits.push_str(group.strip_prefix('x').ok_or_else(bad)?);
        if !digits.len().is_multiple_of(3) {
            return Err(bad());
        }
    }
    digits.push_str(last);
    let three_digit_groups = digits.len() == 3 * groups.len();
    if !three_digit_groups || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if leading.first() == Some(&"x000") {
        return Err(bad());
    }
    digits.parse().map_err(|_| bad())
}

/// An entry bundle's bytes: each entry's length as a big-endian `u16`, then the entry.
/// Refuses (naming its position in the bundle) an entry longer than 65,535 bytes.
pub fn entry_bundle<'a>(
    entries: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<u8>, (usize, usize)> {
    let mut out = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let len = u16::try_from(entry.len()).map_err(|_| (i, entry.len()))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    Ok(out)
}

/// Splits an entry bundle into its entries (the reader's side, for clients and tests).
pub fn split_entry_bundle(mut bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_be_bytes(*len));
        if rest.len() < len {
            return None;
        }
        let (entry, rest) = rest.split_at(len);
        out.push(entry);
        bytes = rest;
    }
    Some(out)
}

#[cfg(test)]
mod tests;
