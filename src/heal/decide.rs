//! The self-heal gates.
//!
//! Gates, all evaluated (in this order) so the decision explains every reason at once; the
//! decision is allowed only when all pass:
//!
//! 1. `event`: the run's event (`GITHUB_EVENT_NAME` or `--event`) is in `self-heal.events`.
//! 2. `failure_present`: the context has at least one finding or failed test.
//! 3. `category`: the classified category is in `self-heal.categories`.
//! 4. `confidence`: the classification's confidence is `>= self-heal.min-confidence`.
//! 5. `attempts`: this attempt's number (1-based) is `<= self-heal.max-attempts`, so
//!    `max-attempts: 2` allows exactly two self-heal attempts. The number is the run attempt
//!    (`GITHUB_RUN_ATTEMPT` or `--attempt`) plus the earlier self-heal attempts of OTHER workflow
//!    runs found in the history directory (see [`scan_history`]).
//! 6. `plan`: the actions come from a valid Developer-Agent plan in the context (every name must
//!    be a policy action; any unknown name is refused, listed in `refused_actions`, and fails the
//!    gate), else from the policy's `plan` for the category (or `default`). With no action and no
//!    rerun there is nothing to do and the gate fails.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::artifact::{
    Category, CategoryKind, Context, Decision, DeveloperAgentStatus, Gate, HealReport, Outcome,
    RerunMode, RunInfo, ToolInfo, DECISION_SCHEMA,
};
use crate::policy::self_heal::SelfHealPolicy;

use super::resolve_rerun;

/// The largest history report read (bytes); bigger files are ignored.
pub const MAX_HISTORY_REPORT_BYTES: u64 = 4 * 1024 * 1024;
/// The most `report-*.json` files examined under a history directory.
pub const MAX_HISTORY_FILES: usize = 1000;
/// How deep the history directory is walked (artifact downloads nest one directory per artifact).
pub const MAX_HISTORY_DEPTH: usize = 4;

/// Earlier self-heal attempts found in a history directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriorAttempts {
    /// The directory scanned.
    pub dir: PathBuf,
    /// Distinct earlier attempts counted (reports of the same repository, workflow and sha,
    /// from other run ids, whose outcome is not `skipped`), by (run id, run attempt).
    pub counted: u32,
    /// Reports read but not counted (other commit, skipped, this run).
    pub not_counted: u32,
    /// `report-*.json` files ignored because they are not valid reports, each `name: why`.
    pub ignored: Vec<String>,
    /// Where the reports came from when not a directory (`the artifacts of 3 earlier runs of
    /// workflow 42 via the GitHub API`); the gate detail then names this instead of `dir`.
    pub source: Option<String>,
    /// A note for the gate detail (why the API was not used and the directory was).
    pub note: Option<String>,
    seen: BTreeSet<(String, u32)>,
}

impl PriorAttempts {
    /// Counts one `report-*.json` (its bytes; `shown` names it in `ignored`) toward `run`'s
    /// earlier attempts, by the rules of [`scan_history`].
    pub fn add_report(&mut self, shown: &str, bytes: &[u8], run: &RunInfo) {
        if bytes.len() as u64 > MAX_HISTORY_REPORT_BYTES {
            self.ignored.push(format!(
                "{shown}: larger than {MAX_HISTORY_REPORT_BYTES} bytes"
            ));
            return;
        }
        let report: HealReport = match crate::artifact::parse_artifact(bytes, Path::new(shown)) {
            Ok(r) => r,
            Err(_) => {
                self.ignored
                    .push(format!("{shown}: not a self-heal report"));
                return;
            }
        };
        self.count(report, run);
    }

    fn count(&mut self, report: HealReport, run: &RunInfo) {
        let same_commit = report.run.repository == run.repository
            && report.run.workflow == run.workflow
            && report.run.sha == run.sha;
        if !same_commit || report.run.run_id == run.run_id || report.outcome == Outcome::Skipped {
            self.not_counted += 1;
            return;
        }
        if self
            .seen
            .insert((report.run.run_id.clone(), report.run.run_attempt))
        {
            self.counted += 1;
        } else {
            self.not_counted += 1;
        }
    }
}

/// Scans `dir` (recursively, at most [`MAX_HISTORY_DEPTH`] levels, no symlinks followed) for
/// `report-*.json` self-heal reports and counts the earlier attempts of `run`'s repository,
/// workflow and sha.
///
/// Reports from `run`'s own run id are not counted (its earlier attempts are already in the run
/// attempt number), nor are `skipped` reports (nothing ran). Malformed or oversized files are
/// ignored and listed. Errors (a sentence) when `dir` cannot be read.
pub fn scan_history(dir: &Path, run: &RunInfo) -> Result<PriorAttempts, String> {
    let meta = std::fs::metadata(dir)
        .map_err(|e| format!("cannot read history directory {}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!("history {} is not a directory", dir.display()));
    }
    let mut prior = PriorAttempts {
        dir: dir.to_path_buf(),
        ..PriorAttempts::default()
    };
    let mut files = 0usize;
    for entry in walkdir::WalkDir::new(dir)
        .max_depth(MAX_HISTORY_DEPTH)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                prior.ignored.push(format!("{e}"));
                continue;
            }
        };
        let name = entry.file_name().to_string_lossy();
        if !entry.file_type().is_file() || !name.starts_with("report-") || !name.ends_with(".json")
        {
            continue;
        }
        files += 1;
        if files > MAX_HISTORY_FILES {
            prior.ignored.push(format!(
                "more than {MAX_HISTORY_FILES} report files; the rest were not read"
            ));
            break;
        }
        let shown = entry
            .path()
            .strip_prefix(dir)
            .unwrap_or(entry.path())
            .display()
            .to_string();
        // One byte past the limit is enough for add_report to refuse an oversized file.
        let mut bytes = Vec::new();
        let read = std::fs::File::open(entry.path())
            .and_then(|f| f.take(MAX_HISTORY_REPORT_BYTES + 1).read_to_end(&mut bytes));
        match read {
            Ok(_) => prior.add_report(&shown, &bytes, run),
            Err(e) => prior.ignored.push(format!("{shown}: {e}")),
        }
    }
    Ok(prior)
}

/// Everything the gates look at.
#[derive(Debug, Clone)]
pub struct DecideInput<'a> {
    /// The context from `self-heal-prepare`.
    pub context: &'a Context,
    /// The policy's `self-heal` section.
    pub policy: &'a SelfHealPolicy,
    /// The deciding run (from the environment); `event_name` and `run_attempt` already carry
    /// any `--event` / `--attempt` override.
    pub run: RunInfo,
    /// The history scan, when `--history` was given: the prior attempts, or why the directory
    /// could not be read (the attempts gate then fails closed).
    pub history: Option<Result<PriorAttempts, String>>,
}

fn list(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let v: Vec<String> = items.into_iter().map(|s| s.as_ref().to_string()).collect();
    format!("[{}]", v.join(", "))
}

/// Applies every gate; see the module documentation.
pub fn decide(input: &DecideInput<'_>) -> Decision {
    let ctx = input.context;
    let p = input.policy;
    let class = &ctx.classification;
    let mut gates = Vec::new();

    // 1. event
    let event = &input.run.event_name;
    let ok = p.events.iter().any(|e| e == event);
    gates.push(Gate::new(
        "event",
        ok,
        if ok {
            format!("event {event} is in the allowed events {}", list(&p.events))
        } else {
            format!(
                "event {event} is not in the allowed events {} (self-heal is started deliberately; see self-heal.events)",
                list(&p.events)
            )
        },
    ));

    // 2. failure_present
    let (nf, nt) = (ctx.findings.len(), ctx.tests.failed.len());
    let ok = nf + nt > 0;
    gates.push(Gate::new(
        "failure_present",
        ok,
        if ok {
            format!("the context has {nf} finding(s) and {nt} failed test(s)")
        } else {
            "the context shows no failure: no findings and no failed tests".to_string()
        },
    ));

    // 3. category
    let cat = class.category;
    let ok = p.categories.contains(&cat);
    let allowed_cats = list(p.categories.iter().map(|c| c.as_str()));
    gates.push(Gate::new(
        "category",
        ok,
        if ok {
            format!(
                "category {cat} ({}) is eligible: {allowed_cats}",
                cat.kind().as_str()
            )
        } else {
            format!(
                "category {cat} ({}) is not eligible: {allowed_cats}",
                cat.kind().as_str()
            )
        },
    ));

    // 4. confidence
    let conf = class.confidence;
    let ok = conf.is_finite() && conf >= p.min_confidence;
    gates.push(Gate::new(
        "confidence",
        ok,
        format!(
            "confidence {conf:.2} {} minimum {:.2}",
            if ok { ">=" } else { "<" },
            p.min_confidence
        ),
    ));

    // 5. attempts
    let run_attempt = input.run.run_attempt.max(1);
    let (attempt, attempts_gate) =
        attempts_gate(run_attempt, p.max_attempts, input.history.as_ref());
    gates.push(attempts_gate);

    // 6. plan
    let (actions, refused, rerun, plan_gate) = plan_gate(ctx, p);
    gates.push(plan_gate);

    Decision {
        schema: DECISION_SCHEMA.to_string(),
        tool: ToolInfo::new("self-heal-decide"),
        run: input.run.clone(),
        allowed: gates.iter().all(|g| g.passed),
        category: cat,
        kind: cat.kind(),
        confidence: if conf.is_finite() { conf } else { 0.0 },
        attempt,
        max_attempts: p.max_attempts,
        gates,
        actions,
        rerun,
        refused_actions: refused,
        target_run: None,
        quarantined: false,
        error: None,
    }
}

fn attempts_gate(
    run_attempt: u32,
    max: u32,
    history: Option<&Result<PriorAttempts, String>>,
) -> (u32, Gate) {
    let (prior, history_note, history_ok) = match history {
        None => (0, "no --history given".to_string(), true),
        Some(Err(why)) => (0, why.clone(), false),
        Some(Ok(h)) => {
            let mut note = format!(
                "{} earlier self-heal attempt(s) of this commit {}",
                h.counted,
                h.source
                    .clone()
                    .unwrap_or_else(|| format!("under {}", h.dir.display()))
            );
            if let Some(n) = &h.note {
                note.push_str(&format!(" ({n})"));
            }
            if h.not_counted > 0 {
                note.push_str(&format!(
                    ", {} report(s) not counted (other commit, this run, or skipped)",
                    h.not_counted
                ));
            }
            if !h.ignored.is_empty() {
                note.push_str(&format!(
                    ", {} malformed file(s) ignored: {}",
                    h.ignored.len(),
                    h.ignored[..h.ignored.len().min(5)].join("; ")
                ));
            }
            (h.counted, note, true)
        }
    };
    let attempt = run_attempt.saturating_add(prior);
    let ok = history_ok && attempt <= max;
    let detail = if !history_ok {
        format!("attempt unknown: {history_note}; refusing rather than risking a loop (max-attempts {max})")
    } else {
        format!(
            "attempt {attempt} (run attempt {run_attempt} + {history_note}) {} max-attempts {max}",
            if ok { "<=" } else { ">" }
        )
    };
    (attempt, Gate::new("attempts", ok, detail))
}

/// The plan for a context under a policy: which actions, from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The policy action names to run, in order, each at most once.
    pub actions: Vec<String>,
    /// Names a Developer-Agent plan asked for that the policy does not define (each once).
    pub refused: Vec<String>,
    /// The rerun mode the Developer-Agent plan asks for, if any.
    pub requested_rerun: Option<RerunMode>,
    /// Where the actions come from, in words (`policy plan for this category`).
    pub source: &'static str,
}

/// The actions the `plan` gate would pick (see the module documentation): those of a valid
/// Developer-Agent plan in the context that the policy defines, else the policy's plan for the
/// category (or `default`). A name listed twice is kept once, at its first place.
/// `self-heal-execute` recomputes this to check a decision's actions.
pub fn plan(ctx: &Context, p: &SelfHealPolicy) -> Plan {
    let da_plan = match (&ctx.developer_agent.status, &ctx.developer_agent.answer) {
        (DeveloperAgentStatus::Valid, Some(a))
            if !a.self_heal_plan.actions.is_empty() || a.self_heal_plan.rerun.is_some() =>
        {
            Some(&a.self_heal_plan)
        }
        _ => None,
    };
    let cat = ctx.classification.category;
    let mut refused: Vec<String> = Vec::new();
    let mut actions: Vec<String> = Vec::new();
    let (names, requested_rerun, source): (&[String], _, _) = match da_plan {
        Some(plan) => (&plan.actions, plan.rerun, "Developer-Agent plan"),
        None => (
            p.plan_for(cat).unwrap_or_default(),
            None,
            if p.plan.contains_key(&cat) {
                "policy plan for this category"
            } else if p.default_plan.is_some() {
                "policy default plan"
            } else {
                "no plan in the policy for this category"
            },
        ),
    };
    for name in names {
        if !p.actions.contains_key(name) {
            if !refused.contains(name) {
                refused.push(name.clone());
            }
        } else if !actions.contains(name) {
            actions.push(name.clone());
        }
    }
    Plan {
        actions,
        refused,
        requested_rerun,
        source,
    }
}

fn plan_gate(ctx: &Context, p: &SelfHealPolicy) -> (Vec<String>, Vec<String>, RerunMode, Gate) {
    let Plan {
        actions,
        refused,
        requested_rerun,
        source,
    } = plan(ctx, p);
    let (rerun, rerun_note) = resolve_rerun(&p.rerun, requested_rerun, ctx);
    let what = format!("{source}: actions {}; {rerun_note}", list(&actions));
    let g = if !refused.is_empty() {
        Gate::new(
            "plan",
            false,
            format!(
                "the Developer-Agent plan names action(s) the policy does not define, refused: {}; defined: {}",
                list(&refused),
                list(p.actions.keys())
            ),
        )
    } else if actions.is_empty() && rerun == RerunMode::None {
        Gate::new(
            "plan",
            false,
            format!(
                "nothing to do: {what} (define self-heal.actions, plan and rerun in the policy)"
            ),
        )
    } else {
        Gate::new("plan", true, what)
    };
    (actions, refused, rerun, g)
}

/// A not-allowed decision for a context that could not be read: one failing `context` gate and
/// `error` set.
pub fn error_decision(run: RunInfo, policy: &SelfHealPolicy, error: String) -> Decision {
    Decision {
        schema: DECISION_SCHEMA.to_string(),
        tool: ToolInfo::new("self-heal-decide"),
        attempt: run.run_attempt.max(1),
        run,
        allowed: false,
        category: Category::Unknown,
        kind: CategoryKind::Code,
        confidence: 0.0,
        max_attempts: policy.max_attempts,
        gates: vec![Gate::new(
            "context",
            false,
            format!("the context could not be read: {error}"),
        )],
        actions: Vec::new(),
        rerun: RerunMode::None,
        refused_actions: Vec::new(),
        target_run: None,
        quarantined: false,
        error: Some(error),
    }
}
