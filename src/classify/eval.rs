//! Evaluation of failure evidence against human ground truth, in the CiDiff breakage format
//! (`DIR/<case>/fail.log`, `pass.log`, `groundtruth`; see `fixtures/cidiff/NOTICE.md`).
//!
//! The ground truth numbers lines the way Java's `String.lines()` does (a line ends at `\n`,
//! `\r\n` or a lone `\r`), while findings number lines split on `\n` only (what GitHub shows).
//! [`LineMap`] converts. For each case, the flagged lines are the union of the ranges of the
//! findings with rank ≤ `top`; precision = flagged lines that are `E` or `C` / flagged lines
//! (0 when nothing is flagged), recall = `E` lines flagged / `E` lines, full = every `E` line
//! flagged. Means are macro means over cases. Top-1 = every `E` line inside the finding ranked
//! 1 alone; unknown = the rules-only classification's category is `unknown`.
//!
//! Two folder layouts are read ([`discover`]): the CiDiff one (`DIR/<case>/fail.log`) and the
//! ecosystem one of `fixtures/ecosystems/README.md` (`DIR/<ecosystem>/<case>/fail.log`), where
//! figures are also given per ecosystem and the dev/check split is made within each ecosystem.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{analyze, AnalyzeOptions, ClassifyError, RulePack};
use crate::artifact::Category;
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
    /// A case folder holds `fail.log` but no `groundtruth`.
    #[error("{path} holds fail.log but no groundtruth")]
    MissingGroundTruth {
        /// The case folder.
        path: PathBuf,
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
    /// Every `E` line inside the finding ranked 1 (false when there is no finding, unless the
    /// case has no `E` line).
    pub top1: bool,
    /// The rules-only classification's category (`unknown` when nothing was recognised).
    pub category: Category,
    /// Number of flagged lines.
    pub flagged: usize,
    /// Number of `E` lines.
    pub error_lines: usize,
    /// The first (at most 10) `E` lines not flagged.
    pub missed: Vec<u64>,
}

/// The ground-truth ranges of one case's findings: the rank-1 finding's range (none when there
/// is no finding) and the union of the ranges ranked ≤ N, 1-based inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Flagged<'a> {
    /// The finding ranked 1 (its range, or nothing).
    pub rank1: &'a [(u64, u64)],
    /// The findings ranked 1..=N.
    pub top: &'a [(u64, u64)],
}

/// Scores flagged ground-truth ranges against the ground truth; `category` is the case's
/// classification, recorded as is.
pub fn score(name: &str, flagged: Flagged<'_>, gt: &GroundTruth, category: Category) -> CaseScore {
    let set =
        |rs: &[(u64, u64)]| -> BTreeSet<u64> { rs.iter().flat_map(|(a, b)| *a..=*b).collect() };
    let rank1 = set(flagged.rank1);
    let flagged = set(flagged.top);
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
        top1: e.iter().all(|l| rank1.contains(l)),
        category,
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
    /// Cases with every `E` line found (in the union of the findings ranked ≤ N).
    pub full: usize,
    /// Cases with every `E` line inside the finding ranked 1.
    pub top1: usize,
    /// Cases classified `unknown`.
    pub unknown: usize,
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
            s.top1 += usize::from(c.top1);
            s.unknown += usize::from(c.category == Category::Unknown);
        }
        if s.cases > 0 {
            s.precision /= s.cases as f64;
            s.recall /= s.cases as f64;
        }
        s
    }

    /// Share of cases fully found, 0..=1.
    pub fn full_share(&self) -> f64 {
        self.share(self.full)
    }

    /// Share of cases whose rank-1 finding holds every `E` line, 0..=1.
    pub fn top1_share(&self) -> f64 {
        self.share(self.top1)
    }

    /// Share of cases classified `unknown`, 0..=1.
    pub fn unknown_share(&self) -> f64 {
        self.share(self.unknown)
    }

    fn share(&self, n: usize) -> f64 {
        if self.cases == 0 {
            0.0
        } else {
            n as f64 / self.cases as f64
        }
    }

    /// The figures as JSON: `{cases, precision, recall, full, top1, unknown, full_share,
    /// top1_share, unknown_share}` (counts are numbers of cases, shares and means in 0..=1).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "cases": self.cases,
            "precision": self.precision,
            "recall": self.recall,
            "full": self.full,
            "top1": self.top1,
            "unknown": self.unknown,
            "full_share": self.full_share(),
            "top1_share": self.top1_share(),
            "unknown_share": self.unknown_share(),
        })
    }
}

/// The means over all cases and over the two halves of the split ([`is_dev_half`]) of one
/// list of cases in name order.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Halves {
    /// Every case.
    pub all: Summary,
    /// The cases at an even index.
    pub dev: Summary,
    /// The cases at an odd index.
    pub check: Summary,
}

impl Halves {
    /// Splits `scores` (in name order) and takes the means.
    pub fn of(scores: &[CaseScore]) -> Halves {
        let half = |dev: bool| {
            Summary::of(
                scores
                    .iter()
                    .enumerate()
                    .filter(move |(i, _)| is_dev_half(*i) == dev)
                    .map(|(_, s)| s),
            )
        };
        Halves {
            all: Summary::of(scores),
            dev: half(true),
            check: half(false),
        }
    }

    /// The three summaries as JSON: `{all, dev, check}`, each [`Summary::to_json`].
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "all": self.all.to_json(),
            "dev": self.dev.to_json(),
            "check": self.check.to_json(),
        })
    }
}

/// Per-ecosystem means, each ecosystem split within itself, and the totals (the dev total is
/// the union of every ecosystem's dev half, likewise for check).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EcosystemSummary {
    /// Each ecosystem's name and figures, in the order given (name order from [`discover`]).
    pub ecosystems: Vec<(String, Halves)>,
    /// Over every case of every ecosystem.
    pub total: Halves,
}

impl EcosystemSummary {
    /// Takes the means of each ecosystem's `scores` (each list in name order).
    pub fn of(groups: &[(String, Vec<CaseScore>)]) -> EcosystemSummary {
        let mut dev = Vec::new();
        let mut check = Vec::new();
        let mut all = Vec::new();
        for (_, scores) in groups {
            for (i, s) in scores.iter().enumerate() {
                all.push(s);
                if is_dev_half(i) {
                    dev.push(s);
                } else {
                    check.push(s);
                }
            }
        }
        EcosystemSummary {
            ecosystems: groups
                .iter()
                .map(|(name, scores)| (name.clone(), Halves::of(scores)))
                .collect(),
            total: Halves {
                all: Summary::of(all),
                dev: Summary::of(dev),
                check: Summary::of(check),
            },
        }
    }
}

/// The case folders found under an evaluation folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// `DIR/<case>/fail.log`: the case folders, in name order (empty when none was found).
    Cases(Vec<PathBuf>),
    /// `DIR/<ecosystem>/<case>/fail.log`: each ecosystem's name and its case folders, both in
    /// name order; ecosystems without a case are left out.
    Ecosystems(Vec<(String, Vec<PathBuf>)>),
}

/// Finds the cases under `dir`: the CiDiff layout when a child folder holds `fail.log`, else
/// the ecosystem layout when a grandchild does, else an empty [`Layout::Cases`].
///
/// Errors: [`EvalError::Io`] (`dir` or a child cannot be listed),
/// [`EvalError::MissingGroundTruth`] (a case folder with `fail.log` but no `groundtruth`).
pub fn discover(dir: &Path) -> Result<Layout, EvalError> {
    let children = subdirs(dir)?;
    if children.iter().any(|c| c.join("fail.log").is_file()) {
        return complete_cases(dir).map(Layout::Cases);
    }
    let mut ecosystems = Vec::new();
    for child in children {
        let found = complete_cases(&child)?;
        if !found.is_empty() {
            let name = child
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            ecosystems.push((name, found));
        }
    }
    if ecosystems.is_empty() {
        Ok(Layout::Cases(Vec::new()))
    } else {
        Ok(Layout::Ecosystems(ecosystems))
    }
}

/// The folders directly under `dir`, in name order.
fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, EvalError> {
    let rd = std::fs::read_dir(dir).map_err(|source| EvalError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut v: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    Ok(v)
}

/// [`cases`], refusing a folder that has `fail.log` but no `groundtruth` (it would silently
/// drop out of the figures).
fn complete_cases(dir: &Path) -> Result<Vec<PathBuf>, EvalError> {
    for d in subdirs(dir)? {
        if d.join("fail.log").is_file() && !d.join("groundtruth").is_file() {
            return Err(EvalError::MissingGroundTruth { path: d });
        }
    }
    cases(dir)
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
    let rank1: Vec<(u64, u64)> = analysis
        .findings
        .iter()
        .filter(|f| f.rank == 1)
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
    let flagged = Flagged {
        rank1: &rank1,
        top: &ranges,
    };
    Ok(CaseReport {
        score: score(&name, flagged, &truth, analysis.classification.category),
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
        let flagged = |rank1, top| Flagged { rank1, top };
        let s = score(
            "x",
            flagged(&[(2, 4)], &[(2, 4), (10, 10)]),
            &gt,
            Category::Lint,
        );
        assert_eq!(s.flagged, 4);
        assert!((s.precision - 0.75).abs() < 1e-9);
        assert!((s.recall - 2.0 / 3.0).abs() < 1e-9);
        assert!(!s.full);
        assert!(!s.top1);
        assert_eq!(s.category, Category::Lint);
        // Found by the top three together, not by rank 1 alone.
        let s = score(
            "x",
            flagged(&[(3, 4)], &[(3, 4), (5, 5)]),
            &gt,
            Category::Unknown,
        );
        assert!(s.full);
        assert!(!s.top1);
        let s = score("x", flagged(&[(2, 6)], &[(2, 6)]), &gt, Category::Unknown);
        assert!(s.full && s.top1);
        assert!(parse_groundtruth("DEFAULT\nX 1\n", Path::new("g")).is_err());
        assert!(parse_groundtruth("DEFAULT\nE 5-2\n", Path::new("g")).is_err());
    }

    fn case(name: &str, top1: bool, full: bool, category: Category) -> CaseScore {
        CaseScore {
            name: name.into(),
            precision: 1.0,
            recall: if full { 1.0 } else { 0.5 },
            full,
            top1,
            category,
            flagged: 1,
            error_lines: 1,
            missed: Vec::new(),
        }
    }

    #[test]
    fn ecosystems_are_split_within_themselves() {
        let groups = vec![
            (
                "a".to_string(),
                vec![
                    case("a0", true, true, Category::Lint),
                    case("a1", false, true, Category::Unknown),
                    case("a2", false, false, Category::Unknown),
                ],
            ),
            (
                "b".to_string(),
                vec![case("b0", true, true, Category::TestAssertion)],
            ),
        ];
        let s = EcosystemSummary::of(&groups);
        let (name, a) = &s.ecosystems[0];
        assert_eq!(name, "a");
        assert_eq!((a.all.cases, a.dev.cases, a.check.cases), (3, 2, 1));
        assert_eq!((a.all.top1, a.all.full, a.all.unknown), (1, 2, 2));
        assert_eq!((a.check.top1, a.check.full, a.check.unknown), (0, 1, 1));
        // b0 is at index 0 of its own ecosystem, so it is dev, not check.
        assert_eq!((s.total.dev.cases, s.total.check.cases), (3, 1));
        assert_eq!(s.total.dev.top1, 2);
        assert!((s.total.all.unknown_share() - 0.5).abs() < 1e-9);
        assert!((a.all.recall - 2.5 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn discover_tells_the_two_layouts_apart() {
        let dir = tempfile::tempdir().expect("tmp");
        let mk = |p: &Path, gt: bool| {
            std::fs::create_dir_all(p).expect("mkdir");
            std::fs::write(p.join("fail.log"), "x\n").expect("write");
            if gt {
                std::fs::write(p.join("groundtruth"), "DEFAULT\nE 1\n").expect("write");
            }
        };
        let flat = dir.path().join("flat");
        mk(&flat.join("c1"), true);
        mk(&flat.join("c0"), true);
        assert_eq!(
            discover(&flat).expect("flat"),
            Layout::Cases(vec![flat.join("c0"), flat.join("c1")])
        );
        let eco = dir.path().join("eco");
        mk(&eco.join("pytest/p-1"), true);
        mk(&eco.join("jest/j-2"), true);
        mk(&eco.join("jest/j-1"), true);
        std::fs::create_dir_all(eco.join("empty")).expect("mkdir");
        std::fs::write(eco.join("README.md"), "r").expect("write");
        assert_eq!(
            discover(&eco).expect("eco"),
            Layout::Ecosystems(vec![
                (
                    "jest".into(),
                    vec![eco.join("jest/j-1"), eco.join("jest/j-2")]
                ),
                ("pytest".into(), vec![eco.join("pytest/p-1")]),
            ])
        );
        mk(&eco.join("pytest/p-2"), false);
        assert!(matches!(
            discover(&eco),
            Err(EvalError::MissingGroundTruth { path }) if path == eco.join("pytest/p-2")
        ));
        assert_eq!(
            discover(&eco.join("empty")).expect("empty"),
            Layout::Cases(vec![])
        );
        assert!(matches!(
            discover(&dir.path().join("nope")),
            Err(EvalError::Io { .. })
        ));
    }
}
