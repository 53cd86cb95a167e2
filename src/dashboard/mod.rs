//! `ci-dashboard`: one view of a failed run — classification and evidence, self-heal gates and
//! actions, the fix-agent's patch and guardrails — built from a directory of downloaded artifacts.
//!
//! Input: a directory laid out the way `actions/download-artifact` or `gh run download` lay out
//! artifacts (one folder per artifact, files keeping their relative paths inside), possibly for
//! several runs (`gh run download <id> -D artifacts/<id>`). Artifacts are recognised by file name
//! and their `schema` field, and grouped by `run.run_id`:
//!
//! | file name | schema |
//! |---|---|
//! | `context.json` | `ci-remedy/context/v1` |
//! | `decision.json` | `ci-remedy/decision/v1` |
//! | `report-<run_id>.json` | `ci-remedy/self-heal-report/v1` |
//! | `metadata-<run_id>.json` | `ci-remedy/fix-metadata/v1`, with its `patch_file` next to it |
//!
//! Raw logs found among the artifacts (same file name, size and sha256 as the context's `logs[]`)
//! give the lines around each evidence block; they are cleaned and redacted like excerpts.
//!
//! Outputs ([`write_site`], [`summary_markdown`]): `index.html` (history across runs), one
//! `runs/<run_id>/index.html` per run, `dashboard.json` ([`Dashboard`], schema
//! `ci-remedy/dashboard/v1`) and a Markdown job summary. Everything read is untrusted: pages
//! escape it with [`html::escape_html`], Markdown with the `github::summary` helpers.

pub mod html;
pub mod markdown;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::artifact::{
    read_json, Context, Decision, FixMetadata, HealReport, LogFormat, Redactions, ToolInfo,
    CONTEXT_SCHEMA, DECISION_SCHEMA, FIX_METADATA_SCHEMA, HEAL_REPORT_SCHEMA,
};

pub use html::escape_html;
pub use markdown::summary_markdown;

/// The `schema` value of `dashboard.json`.
pub const DASHBOARD_SCHEMA: &str = "ci-remedy/dashboard/v1";

/// The largest patch read for display, in bytes; a longer one is cut (and says so).
pub const MAX_PATCH_BYTES: u64 = 1024 * 1024;
/// Lines of log shown before and after each evidence block.
pub const CONTEXT_LINES: u64 = 5;
/// Evidence blocks per run that get log context.
pub const EVIDENCE_BLOCKS: usize = 5;
/// Longest log line shown, in characters; longer lines are cut with `…`.
pub const MAX_LINE_CHARS: usize = 400;
/// Most directory entries walked under the artifacts directory.
pub const MAX_ENTRIES: usize = 100_000;
/// Deepest directory level walked.
pub const MAX_DEPTH: usize = 16;

/// Errors of the dashboard; each names the path.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// The artifacts directory does not exist or is not a directory.
    #[error("artifacts directory {path} cannot be read: {reason}")]
    Artifacts {
        /// The directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// An output file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Everything the dashboard shows: `dashboard.json` (`ci-remedy/dashboard/v1`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Dashboard {
    /// Always [`DASHBOARD_SCHEMA`].
    pub schema: String,
    /// The program that wrote this file.
    pub tool: ToolInfo,
    /// The runs, newest first (numeric run ids descending, others after, by name).
    pub runs: Vec<RunView>,
    /// Counts across the runs.
    pub history: History,
    /// Tests that failed in one attempt of a commit and passed in another, from the contexts'
    /// `tests.flaky[]` (self-heal-prepare `--attempt-reports`), most failures first; absent
    /// when no context lists any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flaky_tests: Vec<FlakyTestView>,
    /// Files that looked like artifacts but could not be used, with why (path relative to the
    /// artifacts directory).
    #[serde(default)]
    pub problems: Vec<Problem>,
}

/// One flaky test across the runs shown.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct FlakyTestView {
    /// Its id (what the quarantine names), else its name.
    pub test: String,
    /// Its name as the reports give it.
    pub name: String,
    /// Attempts it failed in (each run attempt counted once across the contexts).
    pub failures: u32,
    /// Attempts it passed in.
    pub passes: u32,
    /// The workflow runs it was seen in, ascending.
    pub runs: Vec<String>,
    /// The oldest attempt it was seen in (`<run_id>#<run_attempt>`; run ids ascend with time).
    pub first_seen: String,
    /// The newest attempt it was seen in (`<run_id>#<run_attempt>`).
    pub last_seen: String,
    /// The first failure's message, as the oldest context that has one gives it (redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The most flaky tests [`Dashboard::flaky_tests`] lists.
pub const MAX_FLAKY_TESTS: usize = 1000;

/// Gathers the contexts' `tests.flaky[]` per test (id, else name): each (run, attempt,
/// outcome) counted once, so two contexts that compared the same attempts do not double the
/// counts. Most failures first, then by test.
fn flaky_view(runs: &[RunView]) -> Vec<FlakyTestView> {
    use crate::artifact::TestStatus;
    type Seen = (
        String,
        std::collections::BTreeSet<(u64, String, u32, TestStatus)>,
        Option<String>,
    );
    let mut by_test: BTreeMap<String, Seen> = BTreeMap::new();
    // Oldest run first, so the message kept is the first failure's.
    for r in runs.iter().rev() {
        let Some(c) = &r.context else { continue };
        for t in &c.tests.flaky {
            let key = t.id.clone().unwrap_or_else(|| t.name.clone());
            let entry = by_test
                .entry(key)
                .or_insert_with(|| (t.name.clone(), Default::default(), None));
            for a in &t.runs {
                let n = a.run_id.parse::<u64>().unwrap_or(u64::MAX);
                entry
                    .1
                    .insert((n, a.run_id.clone(), a.run_attempt, a.outcome));
            }
            if entry.2.is_none() {
                entry.2 = t.message.clone();
            }
        }
    }
    let mut out: Vec<FlakyTestView> = by_test
        .into_iter()
        .filter_map(|(test, (name, seen, message))| {
            let count = |s: TestStatus| {
                let n = seen.iter().filter(|x| x.3 == s).count();
                u32::try_from(n).unwrap_or(u32::MAX)
            };
            let mut ids: Vec<(u64, String)> = seen.iter().map(|x| (x.0, x.1.clone())).collect();
            ids.dedup();
            let at = |x: &(u64, String, u32, TestStatus)| format!("{}#{}", x.1, x.2);
            Some(FlakyTestView {
                failures: count(TestStatus::Failed),
                passes: count(TestStatus::Passed),
                runs: ids.into_iter().map(|(_, id)| id).collect(),
                first_seen: at(seen.iter().next()?),
                last_seen: at(seen.iter().next_back()?),
                test,
                name,
                message,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.failures
            .cmp(&a.failures)
            .then_with(|| a.test.cmp(&b.test))
    });
    out.truncate(MAX_FLAKY_TESTS);
    out
}

/// A file that could not be used.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct Problem {
    /// The file, relative to the artifacts directory, `/`-separated.
    pub path: String,
    /// Why, in one sentence.
    pub reason: String,
}

/// One workflow run's artifacts.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RunView {
    /// The run id (`run.run_id` of its artifacts).
    pub run_id: String,
    /// The run id made safe for a directory name; the page is `runs/<page_id>/index.html`.
    pub page_id: String,
    /// `owner/repo`.
    pub repository: String,
    /// The commit.
    pub sha: String,
    /// The triggering event.
    pub event_name: String,
    /// The workflow name.
    pub workflow: String,
    /// The self-heal-prepare context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
    /// The self-heal decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// The self-heal report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<HealReport>,
    /// The fix-agent metadata and patch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<FixView>,
    /// Log lines around the top evidence blocks, when the log was among the artifacts.
    #[serde(default)]
    pub evidence_context: Vec<EvidenceContext>,
    /// Which artifacts were used, relative paths.
    pub sources: Vec<String>,
    /// What is missing, one sentence each (`no self-heal decision (self-heal/decision.json)`).
    #[serde(default)]
    pub missing: Vec<String>,
}

/// How far self-heal got for a run, from its report and decision (the runs tables of the
/// pages and of the job summary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealState {
    /// A report exists: its outcome.
    Outcome(crate::artifact::Outcome),
    /// No report; the decision did not allow self-heal.
    NotAllowed,
    /// No report although the decision allowed self-heal (execute did not run or its
    /// artifact is missing).
    AllowedNoReport,
    /// Neither a report nor a decision.
    NotRun,
}

impl HealState {
    /// The text shown: the outcome's snake_case name, `not allowed`, `allowed, no report` or
    /// `not run`.
    pub fn as_str(self) -> &'static str {
        match self {
            HealState::Outcome(o) => o.as_str(),
            HealState::NotAllowed => "not allowed",
            HealState::AllowedNoReport => "allowed, no report",
            HealState::NotRun => "not run",
        }
    }
}

impl RunView {
    /// The text of [`RunView::heal_state`], or for a GitHub rerun its line
    /// (`rerun requested (attempt 2 of 2)`).
    pub fn heal_text(&self) -> String {
        match self.report.as_ref().and_then(|r| r.github_rerun.as_ref()) {
            Some(g) => g.line(),
            None => self.heal_state().as_str().to_string(),
        }
    }

    /// How far self-heal got: the report's outcome, else what the decision says.
    pub fn heal_state(&self) -> HealState {
        match (&self.report, &self.decision) {
            (Some(rep), _) => HealState::Outcome(rep.outcome),
            (None, Some(d)) if !d.allowed => HealState::NotAllowed,
            (None, Some(_)) => HealState::AllowedNoReport,
            (None, None) => HealState::NotRun,
        }
    }
}

/// The fix-agent's output.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct FixView {
    /// The metadata.
    pub metadata: FixMetadata,
    /// The patch text (lossy UTF-8, at most [`MAX_PATCH_BYTES`]), when the file was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// Whether the patch file's sha256 equals `metadata.patch_sha256` (false when not found).
    pub patch_verified: bool,
    /// Why the patch is not shown or not verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_note: Option<String>,
}

/// Log lines around one evidence block.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct EvidenceContext {
    /// 0-based index into the context's `findings`.
    pub finding: usize,
    /// The log file among the artifacts, relative path.
    pub source: String,
    /// The lines: 1-based line number in the original log, cleaned and redacted text.
    pub lines: Vec<(u64, String)>,
}

/// Counts across runs, for the history view.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct History {
    /// Runs shown.
    pub runs: u32,
    /// Runs with a context, per category (snake_case name), most frequent first.
    pub categories: Vec<(String, u32)>,
    /// Runs whose self-heal executed (a report that is not `skipped`).
    pub self_heal_attempted: u32,
    /// Of those, runs that healed.
    pub self_heal_healed: u32,
    /// Runs whose fix-agent produced a patch (metadata whose guard decision is not `empty`:
    /// a run with no instructions made no patch).
    pub patches_produced: u32,
    /// Of those, patches the guard accepted.
    pub patches_accepted: u32,
}

#[derive(Default)]
struct Found {
    contexts: Vec<(String, Context)>,
    decisions: Vec<(String, Decision)>,
    reports: Vec<(String, HealReport)>,
    metadata: Vec<(String, PathBuf, FixMetadata)>,
    /// Every regular file: (relative path, absolute path, size in bytes).
    files: Vec<(String, PathBuf, u64)>,
    problems: Vec<Problem>,
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap_or(p)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Which artifact a file name may be.
fn kind_of(name: &str) -> Option<&'static str> {
    if name == "context.json" {
        Some(CONTEXT_SCHEMA)
    } else if name == "decision.json" {
        Some(DECISION_SCHEMA)
    } else if name.starts_with("report-") && name.ends_with(".json") {
        Some(HEAL_REPORT_SCHEMA)
    } else if name.starts_with("metadata-") && name.ends_with(".json") {
        Some(FIX_METADATA_SCHEMA)
    } else {
        None
    }
}

fn walk(root: &Path) -> Result<Found, DashboardError> {
    let meta = std::fs::metadata(root).map_err(|e| DashboardError::Artifacts {
        path: root.to_path_buf(),
        reason: e.to_string(),
    })?;
    if !meta.is_dir() {
        return Err(DashboardError::Artifacts {
            path: root.to_path_buf(),
            reason: "not a directory".into(),
        });
    }
    let mut found = Found::default();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .max_depth(MAX_DEPTH)
        .sort_by_file_name();
    for (i, entry) in walker.into_iter().enumerate() {
        if i >= MAX_ENTRIES {
            found.problems.push(Problem {
                path: ".".into(),
                reason: format!("more than {MAX_ENTRIES} entries; the rest were not read"),
            });
            break;
        }
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().map(|p| rel(root, p)).unwrap_or_default();
                found.problems.push(Problem {
                    path,
                    reason: format!("cannot be read: {e}"),
                });
                continue;
            }
        };
        // Symlinks are never followed: an artifact cannot point the dashboard at other files.
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path().to_path_buf();
        let rel_path = rel(root, &path);
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        found.files.push((rel_path.clone(), path.clone(), size));
        let name = entry.file_name().to_string_lossy();
        let Some(schema) = kind_of(&name) else {
            continue;
        };
        let value: serde_json::Value = match read_json(&path) {
            Ok(v) => v,
            Err(e) => {
                found.problems.push(Problem {
                    path: rel_path,
                    reason: strip_path(&e.to_string(), &path),
                });
                continue;
            }
        };
        let got = value.get("schema").and_then(|s| s.as_str()).unwrap_or("");
        if got != schema {
            // A newer version or another tool's file with the same name.
            if got.starts_with("ci-remedy/") {
                found.problems.push(Problem {
                    path: rel_path,
                    reason: format!("schema {got:?} is not one this version reads ({schema})"),
                });
            }
            continue;
        }
        let bad = |e: serde_json::Error| Problem {
            path: rel_path.clone(),
            reason: format!("not a valid {schema} artifact: {e}"),
        };
        match schema {
            CONTEXT_SCHEMA => match serde_json::from_value(value) {
                Ok(v) => found.contexts.push((rel_path.clone(), v)),
                Err(e) => found.problems.push(bad(e)),
            },
            DECISION_SCHEMA => match serde_json::from_value(value) {
                Ok(v) => found.decisions.push((rel_path.clone(), v)),
                Err(e) => found.problems.push(bad(e)),
            },
            HEAL_REPORT_SCHEMA => match serde_json::from_value(value) {
                Ok(v) => found.reports.push((rel_path.clone(), v)),
                Err(e) => found.problems.push(bad(e)),
            },
            _ => match serde_json::from_value(value) {
                Ok(v) => found.metadata.push((rel_path.clone(), path.clone(), v)),
                Err(e) => found.problems.push(bad(e)),
            },
        }
    }
    Ok(found)
}

/// Error texts name the absolute path; the dashboard names files relative to the artifacts dir.
fn strip_path(text: &str, path: &Path) -> String {
    text.replace(&path.display().to_string(), "file")
}

/// Keeps, per run, the artifact of the highest run attempt (the first found on a tie: paths
/// are walked in name order).
fn pick<T>(
    items: Vec<(String, T)>,
    key: impl Fn(&T) -> (String, u32),
) -> BTreeMap<String, (String, T)> {
    let mut out: BTreeMap<String, (String, T)> = BTreeMap::new();
    for (p, item) in items {
        let (id, attempt) = key(&item);
        match out.get(&id) {
            Some((_, old)) if key(old).1 >= attempt => {}
            _ => {
                out.insert(id, (p, item));
            }
        }
    }
    out
}

/// Reads the artifacts under `dir` and builds the dashboard data.
///
/// Errors: only when `dir` cannot be read at all. Unusable files become [`Problem`]s and missing
/// artifacts are listed per run in [`RunView::missing`].
pub fn collect(dir: &Path) -> Result<Dashboard, DashboardError> {
    let Found {
        contexts,
        decisions,
        reports,
        metadata,
        files,
        mut problems,
    } = walk(dir)?;
    let mut contexts = pick(contexts, |c| (c.run.run_id.clone(), c.run.run_attempt));
    let mut decisions = pick(decisions, |d| (d.run.run_id.clone(), d.run.run_attempt));
    let mut reports = pick(reports, |r| (r.run.run_id.clone(), r.run.run_attempt));
    let mut metadata = pick(
        metadata
            .into_iter()
            .map(|(p, abs, m)| (p, (abs, m)))
            .collect(),
        |(_, m)| (m.run.run_id.clone(), m.run.run_attempt),
    );
    let mut ids: Vec<String> = contexts
        .keys()
        .chain(decisions.keys())
        .chain(reports.keys())
        .chain(metadata.keys())
        .cloned()
        .collect();
    ids.sort();
    ids.dedup();
    let mut used_pages: Vec<String> = Vec::new();
    let mut runs = Vec::new();
    for id in ids {
        let context = contexts.remove(&id);
        let decision = decisions.remove(&id);
        let report = reports.remove(&id);
        let meta = metadata.remove(&id);
        let mut sources = Vec::new();
        let info = context
            .as_ref()
            .map(|(_, c)| c.run.clone())
            .or_else(|| decision.as_ref().map(|(_, d)| d.run.clone()))
            .or_else(|| report.as_ref().map(|(_, r)| r.run.clone()))
            .or_else(|| meta.as_ref().map(|(_, (_, m))| m.run.clone()));
        let Some(info) = info else { continue };
        let mut page_id = info.run_id_for_file_name();
        if used_pages.contains(&page_id) {
            page_id = format!("{page_id}-{}", used_pages.len());
        }
        used_pages.push(page_id.clone());
        let mut missing = Vec::new();
        let context = match context {
            Some((p, c)) => {
                sources.push(p);
                Some(c)
            }
            None => {
                missing.push("no failure context (self-heal/context.json): classification and evidence are unknown".to_string());
                None
            }
        };
        let decision = match decision {
            Some((p, d)) => {
                sources.push(p);
                Some(d)
            }
            None => {
                missing.push("no self-heal decision (self-heal/decision.json): self-heal-decide did not run for this run, or its artifact was not downloaded".to_string());
                None
            }
        };
        let report = match report {
            Some((p, r)) => {
                sources.push(p);
                Some(r)
            }
            None => {
                let why = match &decision {
                    Some(d) if !d.allowed => "the decision did not allow self-heal",
                    _ => "self-heal-execute did not run, or its artifact was not downloaded",
                };
                missing.push(format!(
                    "no self-heal report (self-heal/report-<run_id>.json): {why}"
                ));
                None
            }
        };
        let fix = match meta {
            Some((p, (abs, m))) => {
                sources.push(p);
                Some(load_patch(dir, &abs, m, &mut sources))
            }
            None => {
                let why = match &report {
                    Some(r) if r.outcome == crate::artifact::Outcome::Healed => {
                        "self-heal healed the run, so no patch was needed"
                    }
                    _ => "fix-agent-apply did not run, or its artifact was not downloaded",
                };
                missing.push(format!(
                    "no fix-agent metadata (fix-agent/metadata-<run_id>.json): {why}"
                ));
                None
            }
        };
        let evidence_context = match &context {
            Some(c) => evidence_context(c, &files, &mut sources),
            None => Vec::new(),
        };
        if let Some(c) = &context {
            if !c.logs.is_empty() && evidence_context.is_empty() && !c.findings.is_empty() {
                missing.push(
                    "the raw logs are not among the artifacts: evidence shows the excerpts only"
                        .to_string(),
                );
            }
        }
        sources.sort();
        sources.dedup();
        runs.push(RunView {
            run_id: info.run_id,
            page_id,
            repository: info.repository,
            sha: info.sha,
            event_name: info.event_name,
            workflow: info.workflow,
            context,
            decision,
            report,
            fix,
            evidence_context,
            sources,
            missing,
        });
    }
    runs.sort_by(|a, b| run_order(&b.run_id, &a.run_id));
    problems.sort_by(|a, b| a.path.cmp(&b.path));
    let history = history(&runs);
    let flaky_tests = flaky_view(&runs);
    Ok(Dashboard {
        schema: DASHBOARD_SCHEMA.to_string(),
        tool: ToolInfo::new("ci-dashboard"),
        runs,
        history,
        flaky_tests,
        problems,
    })
}

/// Numeric run ids compare as numbers (and after non-numeric ones), others by text.
fn run_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => std::cmp::Ordering::Greater,
        (Err(_), Ok(_)) => std::cmp::Ordering::Less,
        _ => a.cmp(b),
    }
}

fn load_patch(
    root: &Path,
    meta_path: &Path,
    metadata: FixMetadata,
    sources: &mut Vec<String>,
) -> FixView {
    let mut view = FixView {
        patch: None,
        patch_verified: false,
        patch_note: None,
        metadata,
    };
    let name = view.metadata.patch_file.clone();
    // The name comes from the artifact: only a plain file name next to the metadata is read.
    let plain = !name.is_empty()
        && !name.contains(['/', '\\'])
        && name != "."
        && name != ".."
        && !name.chars().any(|c| c.is_control());
    if !plain {
        view.patch_note =
            Some("the metadata's patch_file is not a plain file name; not read".into());
        return view;
    }
    let Some(dir) = meta_path.parent() else {
        return view;
    };
    let path = dir.join(&name);
    let is_file = std::fs::symlink_metadata(&path)
        .map(|m| m.file_type().is_file())
        .unwrap_or(false);
    if !is_file {
        if view.metadata.patch_bytes > 0 {
            view.patch_note = Some(format!("{name} is not next to the metadata"));
        }
        return view;
    }
    let mut bytes = Vec::new();
    let read = std::fs::File::open(&path)
        .and_then(|f| f.take(MAX_PATCH_BYTES + 1).read_to_end(&mut bytes));
    if let Err(e) = read {
        view.patch_note = Some(format!("{name} cannot be read: {e}"));
        return view;
    }
    sources.push(rel(root, &path));
    let cut = bytes.len() as u64 > MAX_PATCH_BYTES;
    if cut {
        bytes.truncate(MAX_PATCH_BYTES as usize);
        view.patch_note = Some(format!(
            "{name} is larger than {MAX_PATCH_BYTES} bytes: cut"
        ));
    } else {
        view.patch_verified = crate::fix::sha256_hex(&bytes) == view.metadata.patch_sha256;
        if !view.patch_verified {
            view.patch_note = Some(format!(
                "{name} does not match the metadata's patch_sha256: it is not the patch the guard checked"
            ));
        }
    }
    view.patch = Some(String::from_utf8_lossy(&bytes).into_owned());
    view
}

/// Finds each log of the context among the artifact files (same file name, size and sha256) and
/// reads the lines around the top evidence blocks: the blocks are grouped by log, and each
/// candidate file is read once, hashed and searched for every block's lines in the same pass.
fn evidence_context(
    ctx: &Context,
    files: &[(String, PathBuf, u64)],
    sources: &mut Vec<String>,
) -> Vec<EvidenceContext> {
    let mut order: Vec<usize> = (0..ctx.findings.len()).collect();
    order.sort_by_key(|i| ctx.findings[*i].rank);
    order.truncate(EVIDENCE_BLOCKS);
    let mut by_log: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for &i in &order {
        by_log
            .entry(ctx.findings[i].log.as_str())
            .or_default()
            .push(i);
    }
    let mut out = Vec::new();
    for (log_path, blocks) in by_log {
        let Some(log) = ctx.logs.iter().find(|l| l.path == log_path) else {
            continue;
        };
        let ranges: Vec<(u64, u64)> = blocks
            .iter()
            .map(|&i| {
                let f = &ctx.findings[i];
                (
                    f.line_start.saturating_sub(CONTEXT_LINES).max(1),
                    f.line_end.saturating_add(CONTEXT_LINES),
                )
            })
            .collect();
        let base = log.path.rsplit(['/', '\\']).next().unwrap_or(&log.path);
        let found = files
            .iter()
            .filter(|(r, _, size)| *size == log.bytes && r.rsplit('/').next() == Some(base))
            .find_map(|(r, p, _)| {
                let (sha256, lines) = read_log(p, log.format, &ranges)?;
                (sha256 == log.sha256).then_some((r, lines))
            });
        let Some((source, lines)) = found else {
            continue;
        };
        sources.push(source.clone());
        for (finding, lines) in blocks.into_iter().zip(lines) {
            out.push(EvidenceContext {
                finding,
                source: source.clone(),
                lines,
            });
        }
    }
    // In rank order, as the blocks were chosen.
    out.sort_by_key(|e| order.iter().position(|&i| i == e.finding));
    out
}

/// Log lines with their 1-based numbers in the original file.
type NumberedLines = Vec<(u64, String)>;

/// Reads a log once: its sha256 (lowercase hex) and, for each 1-based inclusive range
/// `(first, last)`, those lines cleaned (format prefix, ANSI, control characters, at most
/// [`MAX_LINE_CHARS`]) and redacted. `None` when the file cannot be read.
fn read_log(
    path: &Path,
    format: LogFormat,
    ranges: &[(u64, u64)],
) -> Option<(String, Vec<NumberedLines>)> {
    use sha2::Digest;
    let file = std::fs::File::open(path).ok()?;
    let mut digest = sha2::Sha256::new();
    let mut reader = BufReader::new(crate::logs::read_ahead::HashingReader::new(
        file,
        &mut digest,
    ));
    let first = ranges.iter().map(|r| r.0).min().unwrap_or(1);
    let last = ranges.iter().map(|r| r.1).max().unwrap_or(0);
    let mut blocks: Vec<(Vec<u64>, String)> = vec![(Vec::new(), String::new()); ranges.len()];
    let mut buf = Vec::new();
    let mut scratch = Vec::new();
    let mut n = 0u64;
    while n < last {
        buf.clear();
        // Bounded: a line longer than 64 KiB is read in pieces that count as one line each only
        // at its newline, so line numbers stay those of the original file.
        let read = (&mut reader)
            .take(64 * 1024)
            .read_until(b'\n', &mut buf)
            .ok()?;
        if read == 0 {
            break;
        }
        let complete = buf.last() == Some(&b'\n');
        if complete {
            buf.pop();
        }
        n += 1;
        if n >= first {
            let clean = crate::logs::format::clean_line(format, &buf, &mut scratch);
            let s = String::from_utf8_lossy(clean);
            let mut line: String = s
                .chars()
                .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
                .take(MAX_LINE_CHARS)
                .collect();
            if s.chars().count() > MAX_LINE_CHARS {
                line.push('…');
            }
            for ((from, to), (numbers, text)) in ranges.iter().zip(blocks.iter_mut()) {
                if (*from..=*to).contains(&n) {
                    numbers.push(n);
                    text.push_str(&line);
                    text.push('\n');
                }
            }
        }
        if !complete {
            skip_line(&mut reader);
        }
    }
    // The rest of the file only feeds the hash.
    std::io::copy(&mut reader, &mut std::io::sink()).ok()?;
    drop(reader);
    let sha256 = crate::digest::lower_hex(&digest.finalize());
    let redactor = crate::logs::redact::Redactor::builtin();
    let lines = blocks
        .into_iter()
        .map(|(numbers, text)| {
            let redacted = redactor.redact(&text, &mut Redactions::default());
            numbers
                .into_iter()
                .zip(redacted.split('\n').map(str::to_string))
                .collect()
        })
        .collect();
    Some((sha256, lines))
}

/// Consumes the rest of the current line without holding it in memory.
fn skip_line(reader: &mut impl BufRead) {
    loop {
        let (done, used) = match reader.fill_buf() {
            Ok([]) | Err(_) => return,
            Ok(buf) => match memchr::memchr(b'\n', buf) {
                Some(i) => (true, i + 1),
                None => (false, buf.len()),
            },
        };
        reader.consume(used);
        if done {
            return;
        }
    }
}

fn history(runs: &[RunView]) -> History {
    let mut h = History {
        runs: u32::try_from(runs.len()).unwrap_or(u32::MAX),
        ..History::default()
    };
    let mut cats: BTreeMap<String, u32> = BTreeMap::new();
    for r in runs {
        if let Some(c) = &r.context {
            *cats
                .entry(c.classification.category.to_string())
                .or_default() += 1;
        }
        if let Some(rep) = &r.report {
            if rep.outcome != crate::artifact::Outcome::Skipped {
                h.self_heal_attempted += 1;
                if rep.outcome == crate::artifact::Outcome::Healed {
                    h.self_heal_healed += 1;
                }
            }
        }
        if let Some(f) = r
            .fix
            .as_ref()
            .filter(|f| f.metadata.guardrails.decision != crate::artifact::GuardDecision::Empty)
        {
            h.patches_produced += 1;
            if f.metadata.guardrails.decision == crate::artifact::GuardDecision::Accepted {
                h.patches_accepted += 1;
            }
        }
    }
    let mut cats: Vec<(String, u32)> = cats.into_iter().collect();
    cats.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    h.categories = cats;
    h
}

/// What [`write_site`] wrote.
#[derive(Debug, Clone)]
pub struct SiteFiles {
    /// `<out>/index.html`.
    pub index: PathBuf,
    /// `<out>/runs/<page_id>/index.html`, in [`Dashboard::runs`] order.
    pub run_pages: Vec<PathBuf>,
    /// `<out>/dashboard.json`.
    pub json: PathBuf,
}

/// Writes the static site and `dashboard.json` under `out` (created when missing), each file
/// atomically. Page file names come only from [`RunView::page_id`] (sanitised run ids).
pub fn write_site(d: &Dashboard, out: &Path) -> Result<SiteFiles, DashboardError> {
    let write = |path: PathBuf, bytes: &[u8]| -> Result<PathBuf, DashboardError> {
        crate::artifact::write_atomic(&path, bytes).map_err(|e| DashboardError::Write {
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        Ok(path)
    };
    let index = write(out.join("index.html"), html::index_page(d).as_bytes())?;
    let mut run_pages = Vec::new();
    for r in &d.runs {
        let p = out.join("runs").join(&r.page_id).join("index.html");
        run_pages.push(write(p, html::run_page(r).as_bytes())?);
    }
    let mut json = serde_json::to_vec_pretty(d).map_err(|e| DashboardError::Write {
        path: out.join("dashboard.json"),
        source: std::io::Error::other(e),
    })?;
    json.push(b'\n');
    let json = write(out.join("dashboard.json"), &json)?;
    Ok(SiteFiles {
        index,
        run_pages,
        json,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_order_numerically_newest_first() {
        let mut ids = vec!["9", "10", "local", "100"];
        ids.sort_by(|a, b| run_order(b, a));
        assert_eq!(ids, vec!["100", "10", "9", "local"]);
    }

    #[test]
    fn artifact_names_are_recognised() {
        assert_eq!(kind_of("context.json"), Some(CONTEXT_SCHEMA));
        assert_eq!(kind_of("report-12.json"), Some(HEAL_REPORT_SCHEMA));
        assert_eq!(kind_of("metadata-12.json"), Some(FIX_METADATA_SCHEMA));
        assert_eq!(kind_of("input.json"), None);
    }

    #[test]
    fn log_lines_keep_original_numbers_and_are_redacted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("l.log");
        let long = "x".repeat(70 * 1024);
        std::fs::write(
            &p,
            format!("a\n{long}\nc\n2024-01-01T00:00:00.0000000Z token ghp_abcdefghijklmnopqrstuvwxyz0123456789\ne\n"),
        )
        .expect("write");
        let (sha256, blocks) =
            read_log(&p, LogFormat::RawGithub, &[(3, 4), (1, 1), (4, 9)]).expect("lines");
        let whole = crate::artifact::sha256_file(&p).expect("sha");
        assert_eq!(sha256, whole);
        // Also when the lines wanted end early: the rest still feeds the hash.
        let (early, _) = read_log(&p, LogFormat::RawGithub, &[(1, 1)]).expect("lines");
        assert_eq!(early, whole);
        let lines = &blocks[0];
        assert_eq!(lines[0], (3, "c".to_string()));
        assert_eq!(lines[1].0, 4);
        assert!(lines[1].1.starts_with("token [REDACTED"), "{:?}", lines[1]);
        assert_eq!(blocks[1], vec![(1, "a".to_string())]);
        assert_eq!(blocks[2][0], lines[1]);
        assert_eq!(blocks[2][1], (5, "e".to_string()));
        assert_eq!(blocks[2].len(), 2);
    }
}
