//! Classification: the rule pack, the streaming scanner and evidence ranking.
//!
//! - [`rules`]: the rule shape ([`RuleSpec`]) shared by `rules/builtin.yml` (compiled in) and
//!   the policy's `classify.rules`.
//! - `scan`: one streaming pass per log; a literal prefilter so regexes only see candidate
//!   lines; rule matches grow into blocks (stack traces, compiler error lists, test failure
//!   sections) with bounded memory.
//! - ranking ([`analyze`]): every block gets a score from its most specific rule, the failing
//!   step, its position, and (with a baseline) how much of it also appears in a passing run.
//!   `rank` 1 is the most likely failure reason. See docs/evidence.md.
//! - [`eval`]: precision/recall of the evidence against human ground truth (the CiDiff format).
//! - [`synth`]: a deterministic GitHub-Actions-style log generator for the benchmark.

pub mod baseline;
pub mod bench;
pub mod eval;
/// Source locations in log lines live with the log code; re-exported for the rules and the scanner.
pub use crate::logs::location;
pub mod prefilter;
pub mod rules;
mod scan;
pub mod structure;
pub mod synth;

use std::collections::HashSet;

pub use baseline::Baseline;
pub use rules::{Extend, RuleError, RuleRole, RuleSpec};

use crate::artifact::{
    Category, Classification, ClassificationSource, FailedTest, Finding, LogInfo,
};
use crate::logs::source::LogSource;
use crate::policy::classify::ClassifyPolicy;

/// The most findings an analysis returns (best first).
pub const MAX_FINDINGS: usize = 20;

/// Errors building the rule pack or reading logs.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    /// A log could not be opened.
    #[error(transparent)]
    Log(#[from] crate::logs::source::LogError),
    /// A log could not be read to the end.
    #[error("cannot read log {path}: {source}")]
    Read {
        /// The log's name.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The baseline log could not be opened or read; the logs were ranked without it.
    #[error("baseline log: {0}")]
    Baseline(Box<ClassifyError>),
    /// A rule is invalid (a policy rule, or a policy `disable` entry naming no built-in rule).
    #[error("invalid classification rule: {0}")]
    Rule(#[from] RuleError),
}

/// The active rules: the built-in pack minus the policy's `disable` list, plus the policy's
/// own rules (which come after the built-in ones and may not reuse a built-in id).
#[derive(Debug, Clone)]
pub struct RulePack {
    specs: Vec<(RuleSpec, &'static str)>,
    compiled: rules::Compiled,
}

impl RulePack {
    /// The built-in rules with the policy's additions and removals.
    ///
    /// Errors: [`ClassifyError::Rule`] when a policy rule does not compile, an id is
    /// duplicated, or `disable` names an id that is not a built-in rule.
    pub fn new(policy: &ClassifyPolicy) -> Result<RulePack, ClassifyError> {
        let builtin = rules::builtin_specs()?;
        for id in &policy.disable {
            if !builtin.iter().any(|r| &r.id == id) {
                return Err(RuleError {
                    id: id.clone(),
                    key: "disable".into(),
                    message: "no built-in rule has this id (see --list-rules)".into(),
                }
                .into());
            }
        }
        let mut specs: Vec<(RuleSpec, &'static str)> = builtin
            .into_iter()
            .filter(|r| !policy.disable.contains(&r.id))
            .map(|r| (r, "builtin"))
            .collect();
        specs.extend(policy.rules.iter().cloned().map(|r| (r, "policy")));
        let plain: Vec<RuleSpec> = specs.iter().map(|(s, _)| s.clone()).collect();
        let compiled = rules::compile(&plain)?;
        Ok(RulePack { specs, compiled })
    }

    /// The built-in rules only.
    pub fn builtin() -> Result<RulePack, ClassifyError> {
        RulePack::new(&ClassifyPolicy::default())
    }

    /// The active rules as JSON (for `--list-rules`): an array of
    /// `{id, category, kind, pattern, keywords, confidence, role, extend, continue, stop,
    /// join-before, before, after, max-lines, source}` (`source` is `builtin` or `policy`;
    /// absent optional keys are omitted).
    pub fn to_json(&self) -> serde_json::Value {
        let arr = self
            .specs
            .iter()
            .map(|(s, source)| {
                let mut v = serde_json::to_value(s).unwrap_or(serde_json::Value::Null);
                if let Some(o) = v.as_object_mut() {
                    o.insert(
                        "kind".into(),
                        serde_json::Value::String(s.category.kind().as_str().into()),
                    );
                    o.insert("source".into(), serde_json::Value::String((*source).into()));
                }
                v
            })
            .collect();
        serde_json::Value::Array(arr)
    }
}

/// Analysis options.
#[derive(Debug, Clone, Default)]
pub struct AnalyzeOptions<'a> {
    /// The last passing log of the same job (`--baseline-log`): blocks whose lines also appear
    /// there (after normalisation) rank lower.
    pub baseline: Option<&'a LogSource>,
    /// The checkout directory (`GITHUB_WORKSPACE`), stripped from `Finding::file`.
    pub workspace: Option<&'a str>,
}

/// The result of reading the logs.
#[derive(Debug)]
pub struct Analysis {
    /// The logs read (a log that could not be read is not listed: see `errors`).
    pub logs: Vec<LogInfo>,
    /// Ranked findings, rank 1 first (excerpts not yet redacted); at most [`MAX_FINDINGS`].
    pub findings: Vec<Finding>,
    /// The rules-only classification.
    pub classification: Classification,
    /// Logs that could not be opened or read to the end ([`ClassifyError::Log`],
    /// [`ClassifyError::Read`]; they add no findings), and a baseline that could not be read
    /// ([`ClassifyError::Baseline`]; the logs were ranked without one), in the order met.
    pub errors: Vec<ClassifyError>,
}

struct Scored {
    log: usize,
    block: scan::Block,
    score: f64,
    /// The category of the failing command whose output holds the block, if the command's
    /// tools name one.
    command_category: Option<Category>,
}

/// Reads every log once (streaming) and returns ranked findings and a classification.
///
/// `tests` (failed tests from reports) lift blocks that name one of them. A log that cannot be
/// opened or read to the end (a vanished file, a zip entry whose CRC does not match) is skipped
/// and its error recorded in [`Analysis::errors`]; the other logs are still analysed. A
/// baseline that cannot be read is recorded there too, and the logs are ranked without it.
/// Never panics on binary data, invalid UTF-8, over-long lines or empty files.
pub fn analyze(
    pack: &RulePack,
    logs: &[LogSource],
    tests: &[FailedTest],
    opts: &AnalyzeOptions<'_>,
) -> Analysis {
    let mut errors = Vec::new();
    let baseline = opts.baseline.and_then(|src| match read_baseline(src) {
        Ok(b) => Some(b),
        Err(e) => {
            errors.push(ClassifyError::Baseline(Box::new(e)));
            None
        }
    });
    let mut infos = Vec::with_capacity(logs.len());
    let mut scored: Vec<Scored> = Vec::new();
    let mut command_categories: Vec<(Category, String)> = Vec::new();
    let needles = test_needles(tests);
    for (li, src) in logs.iter().enumerate() {
        let out = match scan_source(src, pack, baseline.as_ref()) {
            Ok(out) => out,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let total = out.lines.max(1) as f64;
        for block in out.blocks {
            // Only commands whose start the log shows delimit evidence (a failure line with
            // no echo before it says nothing about where its output began).
            let echoed = || out.failed_commands.iter().filter(|r| r.echoed);
            let region = echoed().find(|r| block.start <= r.marker && block.end >= r.start);
            let score = score_block(
                &block,
                &out.error_steps,
                echoed().next().is_some(),
                region.is_some(),
                echoed().next_back().is_some_and(|r| block.start > r.marker),
                total,
                baseline.is_some(),
                &needles,
            );
            scored.push(Scored {
                log: li,
                block,
                score,
                command_category: region.and_then(|r| r.category),
            });
        }
        command_categories.extend(
            out.failed_commands
                .iter()
                .filter_map(|r| r.category.map(|c| (c, r.command.clone()))),
        );
        infos.push(LogInfo {
            path: src.name.clone(),
            bytes: out.bytes,
            lines: out.lines,
            sha256: out.sha256,
            format: out.format,
        });
    }
    scored.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.log.cmp(&b.log))
            .then(a.block.start.cmp(&b.block.start))
    });
    scored.truncate(MAX_FINDINGS);
    let findings: Vec<Finding> = scored
        .iter()
        .enumerate()
        .map(|(i, s)| to_finding(pack, logs, s, i, opts.workspace))
        .collect();
    let classification = classify(&findings, &scored, &command_categories);
    Analysis {
        logs: infos,
        findings,
        classification,
        errors,
    }
}

/// Opens and reads the baseline log.
fn read_baseline(src: &LogSource) -> Result<Baseline, ClassifyError> {
    Baseline::read(src.open()?).map_err(|source| ClassifyError::Read {
        path: src.name.clone(),
        source,
    })
}

/// Opens and scans one log.
fn scan_source(
    src: &LogSource,
    pack: &RulePack,
    baseline: Option<&Baseline>,
) -> Result<scan::ScanOut, ClassifyError> {
    scan::scan(src.open()?, &pack.compiled, baseline).map_err(|source| ClassifyError::Read {
        path: src.name.clone(),
        source,
    })
}

/// Last path/name segments of failed tests, to recognise blocks that name them.
fn test_needles(tests: &[FailedTest]) -> Vec<String> {
    let mut v: Vec<String> = tests
        .iter()
        .flat_map(|t| {
            let short = t
                .name
                .rsplit(['.', ' ', '›', ':', '/'])
                .find(|s| !s.trim().is_empty())
                .unwrap_or(&t.name)
                .trim()
                .to_string();
            [Some(short), t.file.clone()]
        })
        .flatten()
        .filter(|s| s.len() >= 4)
        .collect();
    v.sort();
    v.dedup();
    v.truncate(64);
    v
}

/// The ranking score of a block (higher is more likely the cause). See docs/evidence.md.
///
/// `commands_failed`: the log's structure shows which commands failed (Travis, GitLab,
/// Jenkins, CircleCI, Buildkite, GitHub markers); `in_failed_command`: the block lies in the
/// output of one of them; `after_failures`: the block comes after the last failure
/// (post-build steps that failed too, the service's own errors: neither favoured nor
/// lowered). Other blocks are in commands that passed.
#[allow(clippy::too_many_arguments)]
fn score_block(
    b: &scan::Block,
    error_steps: &HashSet<std::sync::Arc<str>>,
    commands_failed: bool,
    in_failed_command: bool,
    after_failures: bool,
    total_lines: f64,
    with_baseline: bool,
    needles: &[String],
) -> f64 {
    let mut s = match (b.cause, b.summary) {
        (Some((_, c)), _) => c,
        (None, Some((_, x))) => 0.5 * x,
        (None, None) => 0.05,
    };
    if b.demoted {
        s *= 0.6;
    }
    if with_baseline && b.lines > 0 {
        let frac = b.baseline_hits as f64 / b.lines as f64;
        s *= 1.0 - 0.6 * frac;
    }
    if b.warning {
        s *= 0.6;
    }
    if !error_steps.is_empty() {
        // GitHub marked a step as failed: evidence inside it is more likely the cause, and a
        // block in a step that did not fail is not what failed the job.
        if b.step_key.as_ref().is_some_and(|k| error_steps.contains(k)) {
            s += 0.15;
        } else {
            s *= 0.5;
        }
    } else if commands_failed {
        // The same for the other services: the failing command's output is where its cause
        // is; evidence from commands that passed (setup, earlier phases) is not.
        if in_failed_command || (after_failures && b.cause.is_some()) {
            s += 0.15;
        } else if !after_failures {
            s *= 0.6;
        }
    }
    if !needles.is_empty() {
        let text = String::from_utf8_lossy(&b.excerpt);
        if needles.iter().any(|n| text.contains(n.as_str())) {
            s += 0.1;
        }
    }
    // Position: failures sit near the end of a log (the failing step, the build summary).
    let from_end = (total_lines - b.end as f64).max(0.0);
    s += 0.1 * (-from_end / 300.0).exp() + 0.02 * (b.start as f64 / total_lines).min(1.0);
    (s * 1000.0).round() / 1000.0
}

fn to_finding(
    pack: &RulePack,
    logs: &[LogSource],
    s: &Scored,
    i: usize,
    workspace: Option<&str>,
) -> Finding {
    let rule = &pack.specs[s.block.best_rule()].0;
    // A failing command's output tail carries the command's category (`bundle exec rspec`
    // → test_assertion) when its tools name one.
    let category = match s.block.failure_tail {
        Some(cat) => cat.or(s.command_category).unwrap_or(rule.category),
        None => rule.category,
    };
    let mut excerpt = String::from_utf8_lossy(&s.block.excerpt).into_owned();
    if excerpt.ends_with('\n') {
        excerpt.pop();
    }
    // Lossy decoding can grow the text (3 bytes per invalid byte); cut again, whole tokens only.
    let keep = crate::text::token_safe_str(&excerpt, scan::MAX_EXCERPT_BYTES).len();
    excerpt.truncate(keep);
    let (file, file_line) = match &s.block.file {
        Some((f, l)) => (Some(location::relativize(f, workspace)), Some(*l)),
        None => (None, None),
    };
    let src = logs.get(s.log);
    // The step the log itself says (`##[group]`, `gh run view` columns), else the one its
    // source names (a per-step entry of a GitHub log zip), spelt as `gh run view` spells it.
    let step = s.block.step.as_deref().map(str::to_string).or_else(|| {
        let src = src?;
        Some(format!(
            "{} / {}",
            src.job.as_deref()?,
            src.step.as_deref()?
        ))
    });
    Finding {
        rule: rule.id.clone(),
        category,
        log: src.map(|l| l.name.clone()).unwrap_or_default(),
        line_start: s.block.start,
        line_end: s.block.end.max(s.block.start),
        rank: u32::try_from(i + 1).unwrap_or(u32::MAX),
        score: s.score,
        excerpt,
        file,
        file_line,
        step,
    }
}

/// The rules-only classification: the category of the best-ranked finding whose rule names
/// one (not `unknown`); confidence is that rule's confidence, lowered when the finding is not
/// rank 1 or when a different specific category ranks close to it. When no finding names a
/// category, the first failing command whose tools name one gives it (`command_categories`:
/// category and command, in log order), at confidence 0.4.
fn classify(
    findings: &[Finding],
    scored: &[Scored],
    command_categories: &[(Category, String)],
) -> Classification {
    let Some((best_i, best)) = findings
        .iter()
        .enumerate()
        .find(|(_, f)| f.category != Category::Unknown)
    else {
        if let Some((cat, command)) = command_categories.first() {
            let evidence: Vec<usize> = scored
                .iter()
                .enumerate()
                .filter(|(_, s)| s.command_category == Some(*cat))
                .map(|(i, _)| i)
                .take(5)
                .collect();
            let evidence = if evidence.is_empty() {
                (0..findings.len().min(3)).collect()
            } else {
                evidence
            };
            let shown: String = command.chars().take(80).collect();
            return Classification {
                category: *cat,
                kind: cat.kind(),
                confidence: 0.4,
                source: ClassificationSource::Rules,
                evidence,
                summary: format!(
                    "{} (inferred from the failing command `{shown}`; no rule named a category)",
                    cat.as_str()
                ),
            };
        }
        let summary = if findings.is_empty() {
            "no failure recognised".to_string()
        } else {
            format!(
                "failure evidence found ({} blocks) but no rule names its category",
                findings.len()
            )
        };
        return Classification {
            category: Category::Unknown,
            kind: Category::Unknown.kind(),
            confidence: if findings.is_empty() { 0.0 } else { 0.2 },
            source: ClassificationSource::Rules,
            evidence: (0..findings.len().min(3)).collect(),
            summary,
        };
    };
    let conf_of = |i: usize| {
        let b = &scored[i].block;
        b.cause.or(b.summary).map_or(0.3, |(_, c)| c)
    };
    let mut confidence = conf_of(best_i);
    if best_i > 0 {
        confidence *= 0.85;
    }
    // A different specific category close behind makes the call less sure.
    if let Some(rival) = findings
        .iter()
        .skip(best_i + 1)
        .take(3)
        .find(|f| f.category != Category::Unknown && f.category != best.category)
    {
        if rival.score >= best.score * 0.9 {
            confidence *= 0.8;
        }
    }
    let confidence = (confidence.clamp(0.0, 1.0) * 100.0).round() / 100.0;
    let evidence: Vec<usize> = findings
        .iter()
        .enumerate()
        .filter(|(_, f)| f.category == best.category)
        .map(|(i, _)| i)
        .take(5)
        .collect();
    Classification {
        category: best.category,
        kind: best.category.kind(),
        confidence,
        source: ClassificationSource::Rules,
        evidence,
        summary: format!(
            "{} (rule {}) at {} lines {}-{}",
            best.category.as_str(),
            best.rule,
            best.log,
            best.line_start,
            best.line_end
        ),
    }
}
