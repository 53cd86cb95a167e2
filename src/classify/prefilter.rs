//! The keyword prefilter: "which lines hold a rule keyword (ASCII case-insensitively)", at a
//! speed close to that of reading the bytes.
//!
//! The automaton is built by `aho-corasick` (its DFA, ASCII case-insensitive, no prefilter) and
//! then copied into a compact table: bytes are mapped to equivalence classes (bytes with the
//! same transitions everywhere share a class) and states are `u16` offsets premultiplied by the
//! number of classes, so one step is two loads from tables that mostly stay in the L1/L2 cache.
//! Offset 0 is a sticky "matched" state.
//!
//! A single DFA walk is bound by the latency of its loads (one step depends on the previous
//! one). [`KeywordDfa::line_hits`] therefore cuts the text into [`LANES`] line-aligned pieces
//! and walks them in lock step: the steps of different lanes do not depend on each other, so
//! the CPU overlaps them. Lanes are checked for a match once every [`BLOCK`] bytes (the
//! matched state is sticky), and a lane that matched is walked again over that block alone to
//! find the exact line. Keywords hold no `\n`, so a match never spans two lines and
//! line-aligned pieces lose nothing.
//!
//! Measured on the bench machine (AMD EPYC, 2 cores) over the 1 GiB bench log with the
//! built-in 101 keywords: the regex crate's lazy DFA over the same alternation took 2.0 s,
//! this walk 0.8–0.9 s (`ci-remedy-bench --components`).

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind};
use std::collections::VecDeque;

/// Lanes walked in lock step by [`KeywordDfa::line_hits`] (8 measured fastest of 2/4/8/12/16).
pub const LANES: usize = 8;
/// Bytes every lane walks between two checks for a match.
pub const BLOCK: usize = 64;
/// Size of the transition table: a premultiplied `u16` state plus a class (< 256) indexes it
/// without a bounds check failing, whatever the values.
const TABLE: usize = (u16::MAX as usize) + 1 + 256;
/// The sticky matched state.
const MATCHED: u16 = 0;

/// A compact keyword-containment DFA (see the module docs).
#[derive(Clone)]
pub struct KeywordDfa {
    /// Byte → equivalence class.
    classes: [u8; 256],
    /// `trans[state + class]` = the next state (premultiplied). A fixed-size array, so the
    /// compiler sees that a `u16` plus a `u8` is always in range and checks no bound.
    trans: Box<[u16; TABLE]>,
    /// The start state (premultiplied).
    start: u16,
    /// Number of states (without the matched one) and of classes, for `Debug`.
    states: usize,
    stride: usize,
}

impl std::fmt::Debug for KeywordDfa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeywordDfa")
            .field("states", &self.states)
            .field("classes", &self.stride)
            .finish()
    }
}

impl KeywordDfa {
    /// Builds the DFA for `keywords` (matched ASCII case-insensitively, anywhere in the text).
    ///
    /// Returns `None` when there are no keywords, when one is empty, or when the automaton does
    /// not fit the compact `u16` table (states × classes > 65 535); the caller then falls back
    /// to a slower matcher.
    pub fn new<S: AsRef<[u8]>>(keywords: &[S]) -> Option<KeywordDfa> {
        if keywords.is_empty() || keywords.iter().any(|k| k.as_ref().is_empty()) {
            return None;
        }
        let dfa = DFA::builder()
            .ascii_case_insensitive(true)
            .prefilter(false)
            .match_kind(MatchKind::Standard)
            .build(keywords)
            .ok()?;
        let start = dfa.start_state(Anchored::No).ok()?;
        // Every state reachable from the start without passing through a match, numbered in
        // the order found. `index` maps a state id (an offset into aho-corasick's own table,
        // so bounded by its size) to that number: a dense map, as this runs 256 times per
        // state and hashing was most of the start-up time.
        let mut index: Vec<Option<usize>> = Vec::new();
        let number = |index: &mut Vec<Option<usize>>, id: StateID, n: usize| {
            let i = id.as_usize();
            if i >= index.len() {
                index.resize(i + 1, None);
            }
            index[i] = Some(n);
        };
        let known =
            |index: &Vec<Option<usize>>, id: StateID| index.get(id.as_usize()).copied().flatten();
        let mut order = vec![start];
        number(&mut index, start, 0);
        let mut queue = VecDeque::from([start]);
        while let Some(s) = queue.pop_front() {
            for b in 0..=255u8 {
                let n = dfa.next_state(Anchored::No, s, b);
                if dfa.is_match(n) || known(&index, n).is_some() {
                    continue;
                }
                if order.len() > usize::from(u16::MAX) {
                    return None;
                }
                number(&mut index, n, order.len());
                order.push(n);
                queue.push_back(n);
            }
        }
        // Columns (next state of every state, per byte), deduplicated into classes.
        let mut classes = [0u8; 256];
        let mut columns: Vec<Vec<Option<usize>>> = Vec::new();
        for b in 0..=255u8 {
            let col: Vec<Option<usize>> = order
                .iter()
                .map(|&s| {
                    let n = dfa.next_state(Anchored::No, s, b);
                    // Every non-matching state reachable was numbered above (were one not,
                    // it would read as a match: a false candidate, never a missed one).
                    if dfa.is_match(n) {
                        None
                    } else {
                        known(&index, n)
                    }
                })
                .collect();
            let class = match columns.iter().position(|c| *c == col) {
                Some(k) => k,
                None => {
                    columns.push(col);
                    columns.len() - 1
                }
            };
            classes[usize::from(b)] = u8::try_from(class).ok()?;
        }
        let stride = columns.len();
        // State i lives at (i + 1) * stride; 0 is MATCHED, whose row (all zero) is sticky.
        if (order.len() + 1) * stride > usize::from(u16::MAX) {
            return None;
        }
        let mut trans = vec![MATCHED; TABLE].into_boxed_slice();
        for (c, col) in columns.iter().enumerate() {
            for (i, next) in col.iter().enumerate() {
                trans[(i + 1) * stride + c] = match next {
                    Some(n) => u16::try_from((n + 1) * stride).ok()?,
                    None => MATCHED,
                };
            }
        }
        let trans: Box<[u16; TABLE]> = trans.try_into().ok()?;
        Some(KeywordDfa {
            classes,
            trans,
            start: u16::try_from(stride).ok()?,
            states: order.len(),
            stride,
        })
    }

    #[inline(always)]
    fn step(&self, s: u16, b: u8) -> u16 {
        // `trans` has TABLE entries, so this index is always in range.
        self.trans[usize::from(s) + usize::from(self.classes[usize::from(b)])]
    }

    /// Offset (0-based) of the last byte of the keyword occurrence that ends first in `hay`.
    pub fn find(&self, hay: &[u8]) -> Option<usize> {
        self.find_from(self.start, hay)
    }

    fn find_from(&self, mut s: u16, hay: &[u8]) -> Option<usize> {
        for (i, &b) in hay.iter().enumerate() {
            s = self.step(s, b);
            if s == MATCHED {
                return Some(i);
            }
        }
        None
    }

    /// True when `hay` holds a keyword.
    pub fn is_match(&self, hay: &[u8]) -> bool {
        self.find(hay).is_some()
    }

    /// Appends to `out`, in increasing order, one offset (0-based, into `hay`) inside every line
    /// of `hay` that holds a keyword: the last byte of the first keyword occurrence of that line.
    /// Lines are separated by `\n`; `hay` may end without one.
    pub fn line_hits(&self, hay: &[u8], out: &mut Vec<usize>) {
        let n = hay.len();
        // Line-aligned lane bounds.
        let mut bounds = [n; LANES + 1];
        bounds[0] = 0;
        for k in 1..LANES {
            let p = (n * k / LANES).max(bounds[k - 1]);
            bounds[k] = memchr::memchr(b'\n', &hay[p..]).map_or(n, |j| p + j + 1);
        }
        let mut pos: [usize; LANES] = std::array::from_fn(|k| bounds[k]);
        let end: [usize; LANES] = std::array::from_fn(|k| bounds[k + 1]);
        let mut st = [self.start; LANES];
        let mut found: [Vec<usize>; LANES] = std::array::from_fn(|_| Vec::new());
        loop {
            let common = (0..LANES).map(|k| end[k] - pos[k]).min().unwrap_or(0);
            if common < BLOCK {
                break;
            }
            for _ in 0..common / BLOCK {
                let saved = st;
                // The lanes' next blocks side by side on the stack: the walk then addresses
                // every lane from one base register instead of keeping eight pointers (more
                // than the free registers), at the cost of one 512-byte copy per round.
                let mut blocks = [[0u8; BLOCK]; LANES];
                for k in 0..LANES {
                    blocks[k].copy_from_slice(&hay[pos[k]..pos[k] + BLOCK]);
                }
                // Byte j of every lane, then byte j + 1: the lanes' steps interleave.
                #[allow(clippy::needless_range_loop)]
                for j in 0..BLOCK {
                    for k in 0..LANES {
                        st[k] = self.step(st[k], blocks[k][j]);
                    }
                }
                if !st.contains(&MATCHED) {
                    for p in &mut pos {
                        *p += BLOCK;
                    }
                    continue;
                }
                // Some lane matched in this block: find where, restart it at the next line.
                for k in 0..LANES {
                    if st[k] == MATCHED {
                        let at = pos[k] + self.find_from(saved[k], &blocks[k]).unwrap_or(0);
                        found[k].push(at);
                        pos[k] =
                            memchr::memchr(b'\n', &hay[at..end[k]]).map_or(end[k], |i| at + i + 1);
                        st[k] = self.start;
                    } else {
                        pos[k] += BLOCK;
                    }
                }
                // Lane lengths changed: recompute the common length.
                break;
            }
        }
        // The rest of every lane, one at a time.
        for k in 0..LANES {
            let mut s = st[k];
            while pos[k] < end[k] {
                match self.find_from(s, &hay[pos[k]..end[k]]) {
                    Some(i) => {
                        let at = pos[k] + i;
                        found[k].push(at);
                        pos[k] =
                            memchr::memchr(b'\n', &hay[at..end[k]]).map_or(end[k], |i| at + i + 1);
                        s = self.start;
                    }
                    None => pos[k] = end[k],
                }
            }
            out.extend_from_slice(&found[k]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines holding a keyword, by the obvious method.
    fn naive(keywords: &[&str], hay: &[u8]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut start = 0;
        for line in hay.split(|b| *b == b'\n') {
            let low = line.to_ascii_lowercase();
            if keywords.iter().any(|k| {
                low.windows(k.len())
                    .any(|w| w == k.to_ascii_lowercase().as_bytes())
            }) {
                out.push(start);
            }
            start += line.len() + 1;
        }
        out
    }

    fn line_starts(hay: &[u8], hits: &[usize]) -> Vec<usize> {
        hits.iter()
            .map(|&h| memchr::memrchr(b'\n', &hay[..h]).map_or(0, |i| i + 1))
            .collect()
    }

    #[test]
    fn finds_the_same_lines_as_a_naive_search_across_lanes_and_blocks() {
        let kws = ["error", "npm err", "no space left", "●", "<<<", "timed out"];
        let dfa = KeywordDfa::new(&kws).expect("builds");
        // Lines of varying length, hits at lane and block edges, upper and mixed case.
        let mut hay = Vec::new();
        let mut x: u64 = 7;
        for i in 0..5000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (x >> 33) as usize % 200;
            let mut line: Vec<u8> = (0..len)
                .map(|j| b'a' + ((x >> (j % 32)) as u8 % 20))
                .collect();
            if i % 37 == 0 {
                let kw = kws[(x >> 20) as usize % kws.len()].to_ascii_uppercase();
                let at = (x >> 40) as usize % (line.len() + 1);
                line.splice(at..at, kw.bytes());
            }
            if i % 101 == 0 {
                line.extend_from_slice("Timed Out".as_bytes());
            }
            hay.extend_from_slice(&line);
            hay.push(b'\n');
        }
        hay.extend_from_slice(b"last line without newline: ERROR");
        let want = naive(&kws, &hay);
        assert!(want.len() > 100, "the test text holds hits");
        let mut got = Vec::new();
        dfa.line_hits(&hay, &mut got);
        assert_eq!(line_starts(&hay, &got), want);
        // Every offset is inside its line and ends a keyword.
        for &h in &got {
            assert!(hay[h] != b'\n');
        }
        // Any cut of the text gives the same lines (the scanner passes arbitrary regions).
        for cut in [0, 1, 63, 64, 65, 4095, hay.len() / 3] {
            let cut = memchr::memchr(b'\n', &hay[cut..]).map_or(hay.len(), |i| cut + i + 1);
            let mut a = Vec::new();
            dfa.line_hits(&hay[..cut], &mut a);
            let mut b = Vec::new();
            dfa.line_hits(&hay[cut..], &mut b);
            a.extend(b.iter().map(|x| x + cut));
            assert_eq!(a, got, "cut at {cut}");
        }
    }

    #[test]
    fn find_and_is_match_are_case_insensitive_and_exact() {
        let dfa = KeywordDfa::new(&["npm err", "exception"]).expect("builds");
        assert_eq!(dfa.find(b"xx NPM ERR! code"), Some(9));
        assert!(dfa.is_match(b"java.lang.IllegalStateEXCEPTION"));
        assert!(!dfa.is_match(b"npm er r"));
        assert!(!dfa.is_match(b""));
        let mut out = Vec::new();
        dfa.line_hits(b"", &mut out);
        dfa.line_hits(b"\n\n\n", &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn refuses_empty_input() {
        assert!(KeywordDfa::new::<&str>(&[]).is_none());
        assert!(KeywordDfa::new(&["a", ""]).is_none());
    }
}
