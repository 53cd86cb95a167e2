//! The baseline: normalised line hashes of the last passing log of the same job, so that
//! lines which also appear in a passing run rank lower (the CiDiff idea).
//!
//! Normalisation removes what differs between two runs of the same job without meaning
//! anything: timestamps, durations, counters, hashes, temporary paths, ports and ids. Every
//! token (a run of ASCII letters, digits, `_`, `-`) that contains a digit becomes `#`; runs
//! of whitespace become one space; ANSI codes and timestamps are already gone (the scanner
//! cleans lines first). The hash is FNV-1a 64 over the normalised bytes.

use std::collections::HashSet;
use std::io::Read;

use crate::logs::format::clean_line;
use crate::logs::lines::{line_head, LineReader, Piece};

/// The most distinct baseline lines kept (bounds memory to about 20 MiB).
pub const MAX_BASELINE_LINES: usize = 1 << 20;

/// Normalised line hashes of a passing log.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    set: HashSet<u64>,
}

impl Baseline {
    /// True when a line with this normalised hash is in the baseline.
    pub fn contains(&self, hash: u64) -> bool {
        self.set.contains(&hash)
    }

    /// Reads a passing log (any format the scanner reads), streaming, with the scanner's line
    /// reader ([`LineReader`]): the same format detection, and an over-long line is hashed by
    /// the same head the scanner looks at ([`line_head`]).
    ///
    /// Errors: a read error of `r`.
    pub fn read<R: Read>(r: R) -> std::io::Result<Baseline> {
        let mut lines = LineReader::from_read(r, 0)?;
        let format = lines.format();
        let mut set = HashSet::new();
        let mut scratch = Vec::new();
        while let Some(piece) = lines.next_piece()? {
            if set.len() >= MAX_BASELINE_LINES {
                continue;
            }
            let buf = lines.buf();
            let mut add = |raw: &[u8]| {
                if set.len() < MAX_BASELINE_LINES {
                    set.insert(line_hash(clean_line(format, line_head(raw), &mut scratch)));
                }
            };
            match piece {
                Piece::Lines { start, end, .. } => {
                    buf[start..end - 1].split(|b| *b == b'\n').for_each(add);
                }
                Piece::LongHead { start, end } | Piece::Last { start, end, .. } => {
                    add(&buf[start..end]);
                }
            }
        }
        Ok(Baseline { set })
    }
}

/// The normalised hash of a cleaned line (see the module docs).
pub fn line_hash(text: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    let mut feed = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(PRIME);
    };
    let t = text.trim_ascii();
    let mut i = 0;
    let mut last_space = false;
    while i < t.len() {
        let b = t[i];
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            let s = i;
            while i < t.len() && (t[i].is_ascii_alphanumeric() || t[i] == b'_' || t[i] == b'-') {
                i += 1;
            }
            let tok = &t[s..i];
            if tok.iter().any(u8::is_ascii_digit) {
                feed(b'#');
            } else {
                tok.iter().for_each(|&c| feed(c));
            }
            last_space = false;
        } else if b.is_ascii_whitespace() {
            if !last_space {
                feed(b' ');
            }
            last_space = true;
            i += 1;
        } else {
            feed(b);
            last_space = false;
            i += 1;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volatile_parts_do_not_change_the_hash() {
        assert_eq!(
            line_hash(b"[INFO] Total time:  13.052 s"),
            line_hash(b"[INFO] Total time:  2.1 s")
        );
        assert_eq!(
            line_hash(b"Checking out into /tmp/dIBV1K0J1d/x (rev: 4e8932e579)"),
            line_hash(b"Checking out into /tmp/Zq81Kk0aaa/x (rev: 0b1c2d3e4f)")
        );
        assert_ne!(
            line_hash(b"[ERROR] cannot find symbol"),
            line_hash(b"[INFO] cannot find symbol")
        );
    }

    #[test]
    fn reads_lines_of_a_passing_log() {
        let log = b"2023-01-01T00:00:00.0000000Z hello 1\n2023-01-01T00:00:00.0000000Z world\n";
        let b = Baseline::read(&log[..]).expect("reads");
        assert!(b.contains(line_hash(b"hello 2")));
        assert!(b.contains(line_hash(b"world")));
        assert!(!b.contains(line_hash(b"error")));
    }
}
