//! Evaluation of failure evidence against human ground truth, in the CiDiff breakage format
//! (`DIR/<case>/fail.log`, `pass.log`, `groundtruth`; see `fixtures/cidiff/NOTICE.md`).
//!
//! The ground truth numbers lines the way Java's `String.lines()` does (a line ends at `\n`,
//! `\r\n` or a lone `\r`), while findings number lines split on `\n` only (what GitHub shows).
//! [`LineMap`] converts. For each case, the flagged lines are the union of the ranges of the
//! findings with rank ≤ `top`; precision = flagged lines that are `E` or `C` / flagged lines
//! (0 when nothing is flagged), recall = `E` lines flagged / `E` lines, full = every `E` line
//! flagged. Means are macro means over cases.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{analyze, AnalyzeOptions, ClassifyError, RulePack};
use crate::logs::lines::{read_some, READ_CHUNK};
use crate::logs::source::resolve;

/// Evaluation errors, naming the case directory or file.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A groundtruth file is malformed.
    #[error("{path} line {line}: {message}")]
    GroundTruth {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The analysis failed.
    #[error("{case}: {source}")]
    Analyze {
        /// The case.
        case: String,
        /// The error.
        source: ClassifyError,
    },
}

/// A case's ground truth: error (`E`) and context (`C`) line ranges, 1-based inclusive, in
/// `String.lines()` numbering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroundTruth {
    /// The declared log format (`DEFAULT`, `RAW_GITHUB`, `FULL_GITHUB`).
    pub format: String,
    /// Error line ranges.
    pub errors: Vec<(u64, u64)>,
    /// Context line ranges.
    pub context: Vec<(u64, u64)>,
}

/// Parses a groundtruth file: first line the format, then `E a-b` / `E n` / `C a-b` lines.
pub fn parse_groundtruth(text: &str, path: &Path) -> Result<GroundTruth, EvalError> {
    let mut gt = GroundTruth::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if i == 0 {
            gt.format = line.to_string();
            continue;
        }
        if line.is_empty() {
            continue;
        }
        let bad = |message: &str| EvalError::GroundTruth {
            path: path.to_path_buf(),
            line: i + 1,
            message: message.to_string(),
        };
        let mut parts = line.split_whitespace();
        let kind = parts.next().ok_or_else(|| bad("empty"))?;
        let range = parts.next().ok_or_else(|| bad("missing range"))?;
        let (a, b) = match range.split_once('-') {
            Some((a, b)) => (a, b),
            None => (range, range),
        };
        let a: u64 = a.parse().map_err(|_| bad("bad line number"))?;
        let b: u64 = b.parse().map_err(|_| bad("bad line number"))?;
        if a == 0 || b < a {
            return Err(bad("bad range"));
        }
        match kind {
            "E" => gt.errors.push((a, b)),
            "C" => gt.context.push((a, b)),
            _ => return Err(bad("expected E or C")),
        }
    }
    Ok(gt)
}

/// Maps `\n`-numbered lines to `String.lines()` numbering: entry `i` is the range of
/// ground-truth lines that `\n`-line `i + 1` covers.
#[derive(Debug, Clone)]
pub struct LineMap(Vec<(u64, u64)>);

impl LineMap {
    /// Builds the map from a log's bytes.
    pub fn new(bytes: &[u8]) -> LineMap {
        let mut b = LineMapBuilder::default();
        b.feed(bytes);
        b.finish()
    }

    /// Builds the map from a log stream, reading it in chunks (a log can be GiBs; the map
    /// costs 16 bytes per line).
    ///
    /// Errors: a read error of `r`.
    pub fn read<R: Read>(mut r: R) -> std::io::Result<LineMap> {
        let mut b = LineMapBuilder::default();
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let n = read_some(&mut r, &mut buf)?;
            if n == 0 {
                return Ok(b.finish());
            }
            b.feed(&buf[..n]);
        }
    }

    /// The ground-truth range of `\n`-lines `a..=b` (1-based).
    pub fn range(&self, a: u64, b: u64) -> Option<(u64, u64)> {
        let first = self.0.get(usize::try_from(a.checked_sub(1)?).ok()?)?;
        let last_idx = usize::try_from(b.saturating_sub(1))
            .ok()?
            .min(self.0.len().checked_sub(1)?);
        let last = self.0.get(last_idx)?;
        Some((first.0, last.1))
    }
}

/// [`LineMap`] built from chunks: a `\r` at the end of a chunk is settled by the next byte.
#[derive(Debug)]
struct LineMapBuilder {
    map: Vec<(u64, u64)>,
    /// The current ground-truth line, and the one the current `\n`-line started on.
    gt: u64,
    start: u64,
    /// The last byte seen was a `\r` (a line end unless a `\n` follows).
    cr: bool,
    /// The last byte seen was a `\n` (or nothing was seen).
    at_line_start: bool,
}

impl Default for LineMapBuilder {
    fn default() -> Self {
        LineMapBuilder {
            map: Vec::new(),
            gt: 1,
            start: 1,
            cr: false,
            at_line_start: true,
        }
    }
}

impl LineMapBuilder {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.cr && b != b'\n' {
                self.gt += 1;
            }
            self.cr = b == b'\r';
            if b == b'\n' {
                self.map.push((self.start, self.gt));
                self.gt += 1;
                self.start = self.gt;
            }
            self.at_line_start = b == b'\n';
        }
    }

    fn finish(mut self) -> LineMap {
        if self.cr {
            self.gt += 1;
        }
        if !self.at_line_start {
            self.map.push((self.start, self.gt));
        }
        LineMap(self.map)
    }
}

/// One case's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseScore {
    /// The case directory name.
    pub name: String,
    /// Flagged lines that are `E` or `C`, over flagged lines.
    pub precision: f64,
    /// `E` lines flagged, over `E` lines.
    pub recall: f64,
    /// Every `E` line flagged.
    pub full: bool,
    /// Number of flagged lines.
    pub flagged: usize,
    /// Number of `E` lines.
    pub error_lines: usize,
    /// The first (at most 10) `E` lines not flagged.
    pub missed: Vec<u64>,
}

/// Scores flagged ground-truth ranges against the ground truth.
pub fn score(name: &str, flagged_ranges: &[(u64, u64)], gt: &GroundTruth) -> CaseScore {
    let set =
        |rs: &[(u64, u64)]| -> BTreeSet<u64> { rs.iter().flat_map(|(a, b)| *a..=*b).collect() };
    let flagged = set(flagged_ranges);
    let e = set(&gt.errors);
    let c = set(&gt.context);
    let good = flagged
        .iter()
        .filter(|l| e.contains(l) || c.contains(l))
        .count();
    let found = e.iter().filter(|l| flagged.contains(l)).count();
    CaseScore {
        name: name.to_string(),
        precision: if flagged.is_empty() {
            0.0
        } else {
            good as f64 / flagged.len() as f64
        },
        recall: if e.is_empty() {
            1.0
        } else {
            found as f64 / e.len() as f64
        },
        full: found == e.len(),
        flagged: flagged.len(),
        error_lines: e.len(),
        missed: e
            .iter()
            .filter(|l| !flagged.contains(l))
            .take(10)
            .copied()
            .collect(),
    }
}

/// Macro means over a set of cases.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Summary {
    /// Number of cases.
    pub cases: usize,
    /// Mean precision.
    pub precision: f64,
    /// Mean recall.
    pub recall: f64,
    /// Cases with every `E` line found.
    pub full: usize,
}

impl Summary {
    /// Means over `scores`.
    pub fn of<'a>(scores: impl IntoIterator<Item = &'a CaseScore>) -> Summary {
        let mut s = Summary::default();
        for c in scores {
            s.cases += 1;
            s.precision += c.precision;
            s.recall += c.recall;
            s.full += usize::from(c.full);
        }
        if s.cases > 0 {
            s.precision /= s.cases as f64;
            s.recall /= s.cases as f64;
        }
        s
    }

    /// Share of cases fully found, 0..=1.
    pub fn full_share(&self) -> f64 {
        if self.cases == 0 {
            0.0
        } else {
            self.full as f64 / self.cases as f64
        }
    }
}

/// The case directories under `dir` (those holding `fail.log` and `groundtruth`), sorted by
/// name.
pub fn cases(dir: &Path) -> Result<Vec<PathBuf>, EvalError> {
    let rd = std::fs::read_dir(dir).map_err(|source| EvalError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut v: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("fail.log").is_file() && p.join("groundtruth").is_file())
        .collect();
    v.sort();
    Ok(v)
}

/// The deterministic split: the development half is every case at an even index in name
/// order, the check half every odd one.
pub fn is_dev_half(index: usize) -> bool {
    index % 2 == 0
}

/// A finding as the evaluation saw it: rank, rule, ground-truth line range, score.
#[derive(Debug, Clone, PartialEq)]
pub struct Explained {
    /// The finding's rank.
    pub rank: u32,
    /// Its rule.
    pub rule: String,
    /// First ground-truth line.
    pub start: u64,
    /// Last ground-truth line.
    pub end: u64,
    /// Its score.
    pub score: f64,
}

/// What [`evaluate_case_explained`] found for one case.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseReport {
    /// The case's figures.
    pub score: CaseScore,
    /// Every finding, in ground-truth numbering, rank 1 first.
    pub findings: Vec<Explained>,
    /// The case's ground truth.
    pub truth: GroundTruth,
}

/// Analyzes one case (with `pass.log` as the baseline when `with_baseline`) and scores the
/// union of the findings ranked ≤ `top`.
pub fn evaluate_case(
    case: &Path,
    pack: &RulePack,
    with_baseline: bool,
    top: u32,
) -> Result<CaseScore, EvalError> {
    evaluate_case_explained(case, pack, with_baseline, top).map(|r| r.score)
}

/// [`evaluate_case`], also returning every finding in ground-truth numbering and the ground
/// truth itself.
///
/// Errors: [`EvalError::Io`] (a file cannot be read), [`EvalError::GroundTruth`],
/// [`EvalError::Analyze`] (a log cannot be resolved or read).
pub fn evaluate_case_explained(
    case: &Path,
    pack: &RulePack,
    with_baseline: bool,
    top: u32,
) -> Result<CaseReport, EvalError> {
    let name = case
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let gt_path = case.join("groundtruth");
    let gt_text = std::fs::read_to_string(&gt_path).map_err(|source| EvalError::Io {
        path: gt_path.clone(),
        source,
    })?;
    let truth = parse_groundtruth(&gt_text, &gt_path)?;
    let fail = case.join("fail.log");
    let io_err = |source| EvalError::Io {
        path: fail.clone(),
        source,
    };
    let map = LineMap::read(std::fs::File::open(&fail).map_err(io_err)?).map_err(io_err)?;
    let an = |source| EvalError::Analyze {
        case: name.clone(),
        source,
    };
    let logs = resolve(&[fail.to_string_lossy().into_owned()]).map_err(|e| an(e.into()))?;
    let pass = case.join("pass.log");
    let base = if with_baseline && pass.is_file() {
        resolve(&[pass.to_string_lossy().into_owned()])
            .map_err(|e| an(e.into()))?
            .into_iter()
            .next()
    } else {
        None
    };
    let opts = AnalyzeOptions {
        baseline: base.as_ref(),
        ..Default::default()
    };
    let mut analysis = analyze(pack, &logs, &[], &opts);
    // A case whose logs cannot be read has no meaningful score.
    if !analysis.errors.is_empty() {
        return Err(an(analysis.errors.swap_remove(0)));
    }
    let ranges: Vec<(u64, u64)> = analysis
        .findings
        .iter()
        .filter(|f| f.rank <= top)
        .filter_map(|f| map.range(f.line_start, f.line_end))
        .collect();
    let findings = analysis
        .findings
        .iter()
        .filter_map(|f| {
            map.range(f.line_start, f.line_end).map(|(a, b)| Explained {
                rank: f.rank,
                rule: f.rule.clone(),
                start: a,
                end: b,
                score: f.score,
            })
        })
        .collect();
    Ok(CaseReport {
        score: score(&name, &ranges, &truth),
        findings,
        truth,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_map_counts_lone_carriage_returns() {
        let m = LineMap::new(b"a\nb\rc\r\nd");
        assert_eq!(m.range(1, 1), Some((1, 1)));
        assert_eq!(m.range(2, 2), Some((2, 3)));
        assert_eq!(m.range(3, 3), Some((4, 4)));
        assert_eq!(m.range(2, 9), Some((2, 4)));
        assert_eq!(m.range(0, 1), None);
    }

    #[test]
    fn line_map_from_chunks_is_the_same() {
        // One byte per read: every `\r` is settled by the next chunk.
        struct Bytewise<'a>(&'a [u8]);
        impl Read for Bytewise<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let Some((first, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                out[0] = *first;
                self.0 = rest;
                Ok(1)
            }
        }
        for text in [&b"a\nb\rc\r\nd"[..], b"a\r", b"\r\r\n\n", b"x\n", b""] {
            let streamed = LineMap::read(Bytewise(text)).expect("reads");
            assert_eq!(streamed.0, LineMap::new(text).0, "{text:?}");
        }
        assert_eq!(LineMap::new(b"a\r").0, [(1, 2)]);
        assert_eq!(LineMap::new(b"").0, []);
    }

    #[test]
    fn scores_precision_recall_and_full() {
        let gt = parse_groundtruth("DEFAULT\nE 3-5\nC 2\n", Path::new("g")).expect("parses");
        let s = score("x", &[(2, 4), (10, 10)], &gt);
        assert_eq!(s.flagged, 4);
        assert!((s.precision - 0.75).abs() < 1e-9);
        assert!((s.recall - 2.0 / 3.0).abs() < 1e-9);
        assert!(!s.full);
        let s = score("x", &[(3, 5)], &gt);
        assert!(s.full);
        assert!(parse_groundtruth("DEFAULT\nX 1\n", Path::new("g")).is_err());
        assert!(parse_groundtruth("DEFAULT\nE 5-2\n", Path::new("g")).is_err());
    }
}
