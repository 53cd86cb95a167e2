//! The `self-heal` section of the policy: which runs may self-heal (event, category, confidence,
//! attempts), the named safe actions, the per-category plan and the rerun commands.
//!
//! Written form (every key optional; see docs/policy.md for a full example):
//!
//! ```yaml
//! self-heal:
//!   events: [workflow_dispatch]
//!   categories: [network, service_unavailable]
//!   min-confidence: 0.6
//!   max-attempts: 2
//!   output-tail-bytes: 4096
//!   actions:
//!     reseed-db:
//!       run: [npm, run, db:seed]
//!       timeout: 5m
//!       working-directory: backend
//!       env: [DATABASE_URL]
//!   plan:
//!     service_unavailable: [reseed-db]
//!   rerun:
//!     failed: [npx, playwright, test]
//!     full: [npx, playwright, test]
//!     timeout: 20m
//! ```
//!
//! An action may instead be a GitHub API call (the `workflow_run` flow, docs/self-heal-github.md):
//!
//! ```yaml
//! self-heal:
//!   events: [workflow_run]
//!   plan:
//!     network: [rerun-failed-jobs]
//!   actions:
//!     rerun-failed-jobs: { github: rerun-failed-jobs, delay: 30s, forks: false }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{validate_argv, validate_timeout, KeyError};
use crate::artifact::{Category, CategoryKind, RerunMode};

/// Default `events`: self-heal is a deliberate act, started by hand.
pub const DEFAULT_EVENTS: &[&str] = &["workflow_dispatch"];
/// Default `min-confidence`.
pub const DEFAULT_MIN_CONFIDENCE: f64 = 0.6;
/// Default `max-attempts`.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 2;
/// Largest accepted `max-attempts`.
pub const MAX_MAX_ATTEMPTS: u32 = 100;
/// Default `output-tail-bytes` (bytes).
pub const DEFAULT_OUTPUT_TAIL_BYTES: usize = 4096;
/// Largest accepted `output-tail-bytes` (1 MiB).
pub const MAX_OUTPUT_TAIL_BYTES: usize = 1024 * 1024;
/// Default action `timeout`.
pub const DEFAULT_ACTION_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Default `rerun.timeout`.
pub const DEFAULT_RERUN_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// The longest action name (bytes); the same limit a Developer-Agent plan has.
pub const MAX_ACTION_NAME_BYTES: usize = 64;
/// The `plan` key that applies to categories without their own entry.
pub const PLAN_DEFAULT_KEY: &str = "default";
/// The interpreter a `shell:` action runs under: `bash -e -o pipefail -c <script>`.
pub const SHELL_ARGV: &[&str] = &["bash", "-e", "-o", "pipefail", "-c"];

/// Self-heal settings as written (`self-heal:` in `.github/ci-remedy.yml`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SelfHealRaw {
    /// Workflow events (`GITHUB_EVENT_NAME`) that may self-heal. Default: `[workflow_dispatch]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// Failure categories that may self-heal. Default: every category of kind infrastructure
    /// or environment (never code kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<Category>>,
    /// Minimum classification confidence, 0..=1. Default 0.6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_confidence: Option<f64>,
    /// Most self-heal attempts for one commit of one workflow, 1..=100. Default 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// Bytes of combined stdout+stderr kept per command (the tail), 1..=1048576. Default 4096.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tail_bytes: Option<usize>,
    /// Named safe actions; only these can ever run. Names are `[A-Za-z0-9_-]+`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub actions: BTreeMap<String, ActionRaw>,
    /// Action names per category (or `default`), used when no Developer-Agent plan is given.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub plan: BTreeMap<String, Vec<String>>,
    /// The rerun after the actions.
    #[serde(default)]
    pub rerun: RerunRaw,
}

/// One named action as written: exactly one of `run` (argv, no shell) or `shell` (a script
/// run with `bash -e -o pipefail -c`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ActionRaw {
    /// The command as an argv list; no shell is involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<Vec<String>>,
    /// A shell script, explicitly: run as `bash -e -o pipefail -c <script>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    /// Time limit (`90s`, `5m`); on expiry the whole process group is killed. Default 5m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Directory to run in, relative to the repository root and inside it. Default: the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    /// Names of environment variables passed through (besides `PATH` and `HOME`); every other
    /// variable is removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// A GitHub API action instead of a command (`rerun-failed-jobs`); excludes `run`,
    /// `shell`, `timeout`, `working-directory` and `env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<GitHubActionKind>,
    /// With `github`: the wait before the API request (`30s`; at most 10m). Default 0s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<String>,
    /// With `github`: whether runs whose head is in a fork may be rerun. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forks: Option<bool>,
}

/// The GitHub API actions a policy can name (`github:` of an action).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum GitHubActionKind {
    /// `POST /repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs`: a new attempt
    /// of the failed run's failed jobs (and the jobs that depend on them).
    RerunFailedJobs,
}

impl GitHubActionKind {
    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            GitHubActionKind::RerunFailedJobs => "rerun-failed-jobs",
        }
    }
}

/// A validated GitHub API action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubAction {
    /// Which call.
    pub kind: GitHubActionKind,
    /// The wait before the request (0..=[`MAX_GITHUB_DELAY`]).
    pub delay: Duration,
    /// Whether a run whose head repository is a fork may be acted on.
    pub forks: bool,
}

/// The longest `delay` of a GitHub action.
pub const MAX_GITHUB_DELAY: Duration = Duration::from_secs(10 * 60);
/// The name of the built-in action of [`SelfHealPolicy::workflow_run_default`].
pub const BUILTIN_RERUN_ACTION: &str = "rerun-failed-jobs";

/// The rerun as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RerunRaw {
    /// `failed`, `full` or `none`. Default: `failed` when `failed` is given, else `full` when
    /// `full` is given, else `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<RerunMode>,
    /// The failed-tests-only command (argv); the failed test ids are appended as separate
    /// arguments, never spliced into a shell string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<Vec<String>>,
    /// The full test command (argv).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full: Option<Vec<String>>,
    /// Time limit for the rerun. Default 20m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Directory to run in, relative to the repository root. Default: the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    /// Environment variables passed through (besides `PATH` and `HOME`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
}

/// Self-heal settings, validated.
#[derive(Debug, Clone)]
pub struct SelfHealPolicy {
    /// Events that may self-heal.
    pub events: Vec<String>,
    /// Eligible categories.
    pub categories: BTreeSet<Category>,
    /// Minimum confidence, 0..=1.
    pub min_confidence: f64,
    /// Most self-heal attempts (an attempt number `n`, 1-based, is allowed when `n <= max_attempts`).
    pub max_attempts: u32,
    /// Output tail per command, in bytes.
    pub output_tail_bytes: usize,
    /// Actions by name.
    pub actions: BTreeMap<String, Action>,
    /// Plans by category; [`SelfHealPolicy::plan_for`] applies the `default` entry.
    pub plan: BTreeMap<Category, Vec<String>>,
    /// The `default` plan.
    pub default_plan: Option<Vec<String>>,
    /// The rerun.
    pub rerun: Rerun,
}

/// What a command runs: an argv list, or a shell script the policy author marked as such.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandSpec {
    /// Program and arguments; no shell.
    Argv(Vec<String>),
    /// A script for `bash -e -o pipefail -c`.
    Shell(String),
    /// A GitHub API call; nothing runs locally (`self-heal-execute --target-run` makes it).
    GitHub(GitHubAction),
}

impl CommandSpec {
    /// The argv that runs: the list itself, or [`SHELL_ARGV`] followed by the script.
    pub fn argv(&self) -> Vec<String> {
        match self {
            CommandSpec::Argv(v) => v.clone(),
            CommandSpec::Shell(s) => SHELL_ARGV
                .iter()
                .map(|a| a.to_string())
                .chain(std::iter::once(s.clone()))
                .collect(),
            CommandSpec::GitHub(_) => Vec::new(),
        }
    }

    /// The GitHub action, when this is one.
    pub fn github(&self) -> Option<&GitHubAction> {
        match self {
            CommandSpec::GitHub(g) => Some(g),
            _ => None,
        }
    }
}

/// One validated action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// The action's name.
    pub name: String,
    /// What it runs.
    pub command: CommandSpec,
    /// How it runs.
    pub settings: RunSettings,
}

/// How a policy command runs, whatever it runs: an action's and the rerun's `timeout`,
/// `working-directory` and `env`, validated by one function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSettings {
    /// The time limit, 1 ms..=[`MAX_TIMEOUT`](super::MAX_TIMEOUT); the process group is
    /// killed after it.
    pub timeout: Duration,
    /// Relative directory (normal components only), `None` for the repository root.
    pub working_directory: Option<PathBuf>,
    /// Variables passed through besides `PATH` and `HOME`.
    pub env: Vec<String>,
}

/// The validated rerun.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rerun {
    /// The configured mode (after defaults).
    pub mode: RerunMode,
    /// Failed-tests-only argv prefix.
    pub failed: Option<Vec<String>>,
    /// Full argv.
    pub full: Option<Vec<String>>,
    /// How it runs.
    pub settings: RunSettings,
}

impl Rerun {
    /// Whether a command exists for `mode` (`none` always does).
    pub fn supports(&self, mode: RerunMode) -> bool {
        match mode {
            RerunMode::Failed => self.failed.is_some(),
            RerunMode::Full => self.full.is_some(),
            RerunMode::None => true,
        }
    }
}

impl Default for SelfHealPolicy {
    /// The built-in defaults (no actions, no rerun: self-heal has nothing to do until a policy
    /// defines some).
    fn default() -> Self {
        SelfHealPolicy {
            events: DEFAULT_EVENTS.iter().map(|s| s.to_string()).collect(),
            categories: default_categories(),
            min_confidence: DEFAULT_MIN_CONFIDENCE,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            output_tail_bytes: DEFAULT_OUTPUT_TAIL_BYTES,
            actions: BTreeMap::new(),
            plan: BTreeMap::new(),
            default_plan: None,
            rerun: Rerun {
                mode: RerunMode::None,
                failed: None,
                full: None,
                settings: RunSettings {
                    timeout: DEFAULT_RERUN_TIMEOUT,
                    working_directory: None,
                    env: Vec::new(),
                },
            },
        }
    }
}

impl SelfHealPolicy {
    /// The built-in self-heal policy of the `workflow_run` flow, used by `self-heal-decide` and
    /// `self-heal-execute` with `--target-run` when there is no policy file: event
    /// `workflow_run`, categories `network` and `runner_infra` only, each planned as one
    /// [`BUILTIN_RERUN_ACTION`] (no delay, no forks), `max-attempts` 2 (so a failed run is
    /// rerun once: attempt 2 of 2). Everything else fails the category gate and goes to the
    /// fix-agent (code kinds) or a person.
    pub fn workflow_run_default() -> SelfHealPolicy {
        let name = BUILTIN_RERUN_ACTION.to_string();
        let action = Action {
            name: name.clone(),
            command: CommandSpec::GitHub(GitHubAction {
                kind: GitHubActionKind::RerunFailedJobs,
                delay: Duration::ZERO,
                forks: false,
            }),
            settings: RunSettings {
                timeout: DEFAULT_ACTION_TIMEOUT,
                working_directory: None,
                env: Vec::new(),
            },
        };
        let categories: BTreeSet<Category> = [Category::Network, Category::RunnerInfra].into();
        SelfHealPolicy {
            events: vec!["workflow_run".to_string()],
            plan: categories
                .iter()
                .map(|c| (*c, vec![name.clone()]))
                .collect(),
            categories,
            actions: [(name, action)].into(),
            ..SelfHealPolicy::default()
        }
    }

    /// The GitHub actions among `names` (policy action names), in order.
    pub fn github_actions<'a>(&'a self, names: &'a [String]) -> Vec<(&'a str, &'a GitHubAction)> {
        names
            .iter()
            .filter_map(|n| {
                self.actions
                    .get(n)
                    .and_then(|a| a.command.github())
                    .map(|g| (n.as_str(), g))
            })
            .collect()
    }

    /// The policy plan for `category`: its own entry, else `default`, else none.
    pub fn plan_for(&self, category: Category) -> Option<&[String]> {
        self.plan
            .get(&category)
            .or(self.default_plan.as_ref())
            .map(Vec::as_slice)
    }
}

/// Every category of kind infrastructure or environment.
pub fn default_categories() -> BTreeSet<Category> {
    Category::ALL
        .into_iter()
        .filter(|c| c.kind() != CategoryKind::Code)
        .collect()
}

/// Whether `name` is a valid action name: `[A-Za-z0-9_-]+`, at most 64 bytes.
pub fn is_valid_action_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_ACTION_NAME_BYTES
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

const KEY: &str = "self-heal";

impl SelfHealRaw {
    /// Validates this section. Errors name the dotted key (`self-heal.actions.x.timeout`).
    pub fn validate(self) -> Result<SelfHealPolicy, KeyError> {
        let defaults = SelfHealPolicy::default();

        let events = match self.events {
            None => defaults.events,
            Some(events) => {
                for e in &events {
                    if e.is_empty()
                        || !e
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                    {
                        return Err(KeyError::new(
                            format!("{KEY}.events"),
                            format!("{e:?} is not an event name like workflow_dispatch or push"),
                        ));
                    }
                }
                events
            }
        };

        let categories = match self.categories {
            None => defaults.categories,
            Some(c) => c.into_iter().collect(),
        };

        let min_confidence = self.min_confidence.unwrap_or(DEFAULT_MIN_CONFIDENCE);
        if !(0.0..=1.0).contains(&min_confidence) {
            return Err(KeyError::new(
                format!("{KEY}.min-confidence"),
                format!("{min_confidence} is not in 0..1"),
            ));
        }

        let max_attempts = self.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if !(1..=MAX_MAX_ATTEMPTS).contains(&max_attempts) {
            return Err(KeyError::new(
                format!("{KEY}.max-attempts"),
                format!("{max_attempts} is not in 1..{MAX_MAX_ATTEMPTS} (to disable self-heal, set `events: []`)"),
            ));
        }

        let output_tail_bytes = self.output_tail_bytes.unwrap_or(DEFAULT_OUTPUT_TAIL_BYTES);
        if !(1..=MAX_OUTPUT_TAIL_BYTES).contains(&output_tail_bytes) {
            return Err(KeyError::new(
                format!("{KEY}.output-tail-bytes"),
                format!("{output_tail_bytes} is not in 1..{MAX_OUTPUT_TAIL_BYTES}"),
            ));
        }

        let mut actions = BTreeMap::new();
        for (name, raw) in self.actions {
            let key = format!("{KEY}.actions.{name}");
            if !is_valid_action_name(&name) {
                return Err(KeyError::new(
                    format!("{KEY}.actions"),
                    format!(
                        "{name:?} is not a valid action name ([A-Za-z0-9_-], at most {MAX_ACTION_NAME_BYTES} bytes)"
                    ),
                ));
            }
            if let Some(kind) = raw.github {
                let action = validate_github_action(kind, raw, &name, &key)?;
                actions.insert(name, action);
                continue;
            }
            if raw.delay.is_some() || raw.forks.is_some() {
                return Err(KeyError::new(
                    key,
                    "`delay` and `forks` apply only to a `github:` action",
                ));
            }
            let command = match (raw.run, raw.shell) {
                (Some(argv), None) => {
                    CommandSpec::Argv(validate_argv(argv, &format!("{key}.run"))?)
                }
                (None, Some(script)) => {
                    if script.trim().is_empty() || script.contains('\0') {
                        return Err(KeyError::new(
                            format!("{key}.shell"),
                            "the script is empty or contains a NUL byte",
                        ));
                    }
                    CommandSpec::Shell(script)
                }
                (Some(_), Some(_)) => {
                    return Err(KeyError::new(
                        key,
                        "give either `run` (an argv list) or `shell` (a script), not both",
                    ))
                }
                (None, None) => {
                    return Err(KeyError::new(
                        key,
                        "missing `run` (an argv list) or `shell` (a script)",
                    ))
                }
            };
            let action = Action {
                command,
                settings: validate_run_settings(
                    raw.timeout.as_deref(),
                    raw.working_directory,
                    raw.env,
                    DEFAULT_ACTION_TIMEOUT,
                    &key,
                )?,
                name: name.clone(),
            };
            actions.insert(name, action);
        }

        let mut plan = BTreeMap::new();
        let mut default_plan = None;
        for (cat, names) in self.plan {
            let key = format!("{KEY}.plan.{cat}");
            for n in &names {
                if !actions.contains_key(n) {
                    return Err(KeyError::new(
                        key,
                        format!("action {n:?} is not defined under {KEY}.actions"),
                    ));
                }
            }
            check_github_plan(&names, &actions, &key)?;
            if cat == PLAN_DEFAULT_KEY {
                default_plan = Some(names);
            } else if let Some(c) = Category::parse(&cat) {
                plan.insert(c, names);
            } else {
                return Err(KeyError::new(
                    format!("{KEY}.plan"),
                    format!(
                        "{cat:?} is neither a category ({}) nor `default`",
                        Category::ALL.map(Category::as_str).join(", ")
                    ),
                ));
            }
        }

        let rr = self.rerun;
        let failed = rr
            .failed
            .map(|v| validate_argv(v, &format!("{KEY}.rerun.failed")))
            .transpose()?;
        let full = rr
            .full
            .map(|v| validate_argv(v, &format!("{KEY}.rerun.full")))
            .transpose()?;
        let mode = match rr.mode {
            Some(m) => m,
            None if failed.is_some() => RerunMode::Failed,
            None if full.is_some() => RerunMode::Full,
            None => RerunMode::None,
        };
        let rerun = Rerun {
            mode,
            failed,
            full,
            settings: validate_run_settings(
                rr.timeout.as_deref(),
                rr.working_directory,
                rr.env,
                DEFAULT_RERUN_TIMEOUT,
                &format!("{KEY}.rerun"),
            )?,
        };
        if !rerun.supports(mode) {
            let which = mode.as_str();
            return Err(KeyError::new(
                format!("{KEY}.rerun.mode"),
                format!("mode is {which} but `{KEY}.rerun.{which}` (the command) is missing"),
            ));
        }

        Ok(SelfHealPolicy {
            events,
            categories,
            min_confidence,
            max_attempts,
            output_tail_bytes,
            actions,
            plan,
            default_plan,
            rerun,
        })
    }
}

/// A `github:` action: no command keys, a `delay` of at most [`MAX_GITHUB_DELAY`].
fn validate_github_action(
    kind: GitHubActionKind,
    raw: ActionRaw,
    name: &str,
    key: &str,
) -> Result<Action, KeyError> {
    if raw.run.is_some()
        || raw.shell.is_some()
        || raw.timeout.is_some()
        || raw.working_directory.is_some()
        || !raw.env.is_empty()
    {
        return Err(KeyError::new(
            key,
            "a `github:` action runs no command: remove `run`, `shell`, `timeout`, `working-directory` and `env`",
        ));
    }
    let delay = match raw.delay.as_deref() {
        None => Duration::ZERO,
        Some(text) => {
            super::parse_duration(text).map_err(|e| KeyError::new(format!("{key}.delay"), e))?
        }
    };
    if delay > MAX_GITHUB_DELAY {
        return Err(KeyError::new(
            format!("{key}.delay"),
            format!(
                "{} s is more than the {} s allowed",
                delay.as_secs(),
                MAX_GITHUB_DELAY.as_secs()
            ),
        ));
    }
    Ok(Action {
        name: name.to_string(),
        command: CommandSpec::GitHub(GitHubAction {
            kind,
            delay,
            forks: raw.forks.unwrap_or(false),
        }),
        settings: RunSettings {
            timeout: DEFAULT_ACTION_TIMEOUT,
            working_directory: None,
            env: Vec::new(),
        },
    })
}

/// A plan with a GitHub action names nothing else: the rerun is a new attempt of the failed
/// run, in other jobs, so a local command before or after it would prove nothing.
fn check_github_plan(
    names: &[String],
    actions: &BTreeMap<String, Action>,
    key: &str,
) -> Result<(), KeyError> {
    let github = names
        .iter()
        .filter(|n| {
            actions
                .get(*n)
                .is_some_and(|a| a.command.github().is_some())
        })
        .count();
    if github > 0 && names.len() > 1 {
        return Err(KeyError::new(
            key,
            "a plan with a `github:` action (a rerun of the failed jobs in a new attempt) cannot name other actions",
        ));
    }
    Ok(())
}

/// The `timeout`, `working-directory` and `env` keys of the command at `key`
/// (`self-heal.actions.x`, `self-heal.rerun`); errors name the key below it.
fn validate_run_settings(
    timeout: Option<&str>,
    working_directory: Option<String>,
    env: Vec<String>,
    default_timeout: Duration,
    key: &str,
) -> Result<RunSettings, KeyError> {
    Ok(RunSettings {
        timeout: validate_timeout(timeout, default_timeout, &format!("{key}.timeout"))?,
        working_directory: validate_dir(working_directory, &format!("{key}.working-directory"))?,
        env: validate_env(env, &format!("{key}.env"))?,
    })
}

fn validate_dir(dir: Option<String>, key: &str) -> Result<Option<PathBuf>, KeyError> {
    let Some(dir) = dir else {
        return Ok(None);
    };
    let path = Path::new(&dir);
    let mut clean = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => clean.push(p),
            Component::CurDir => {}
            _ => {
                return Err(KeyError::new(
                    key,
                    format!("{dir:?} must be a relative path inside the repository (no `..`, no leading `/`)"),
                ))
            }
        }
    }
    if dir.contains('\0') {
        return Err(KeyError::new(key, "the path contains a NUL byte"));
    }
    Ok((!clean.as_os_str().is_empty()).then_some(clean))
}

fn validate_env(names: Vec<String>, key: &str) -> Result<Vec<String>, KeyError> {
    for n in &names {
        let ok = n
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(KeyError::new(
                key,
                format!("{n:?} is not a variable name ([A-Za-z_][A-Za-z0-9_]*)"),
            ));
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Policy, PolicyError};

    fn parse(yaml: &str) -> Result<Policy, PolicyError> {
        Policy::parse(yaml.as_bytes(), Path::new("p.yml"))
    }

    fn invalid_key(yaml: &str) -> String {
        match parse(yaml) {
            Err(PolicyError::Invalid { key, .. }) => key,
            other => panic!("expected an invalid-key error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_allow_only_dispatch_and_non_code_kinds() {
        let p = Policy::defaults().self_heal;
        assert_eq!(p.events, vec!["workflow_dispatch".to_string()]);
        assert!(p.categories.contains(&Category::Network));
        assert!(p.categories.contains(&Category::RunnerInfra));
        assert!(!p.categories.contains(&Category::TestAssertion));
        assert!(!p.categories.contains(&Category::Unknown));
        assert_eq!(p.max_attempts, 2);
        assert_eq!(p.rerun.mode, RerunMode::None);
        assert!(p.actions.is_empty());
    }

    #[test]
    fn full_example_validates() {
        let p = parse(
            r#"
self-heal:
  events: [workflow_dispatch, push]
  categories: [network, service_unavailable]
  min-confidence: 0.7
  max-attempts: 3
  output-tail-bytes: 100
  actions:
    reseed-db:
      run: [npm, run, "db:seed"]
      timeout: 90s
      working-directory: ./backend/
      env: [DATABASE_URL]
    regen:
      shell: "echo a && echo b"
  plan:
    service_unavailable: [reseed-db]
    default: [regen]
  rerun:
    failed: [npx, playwright, test]
    full: [npx, playwright, test]
    timeout: 20m
"#,
        )
        .expect("valid")
        .self_heal;
        assert_eq!(p.min_confidence, 0.7);
        assert_eq!(p.output_tail_bytes, 100);
        let a = &p.actions["reseed-db"];
        assert_eq!(a.settings.timeout, Duration::from_secs(90));
        assert_eq!(a.settings.working_directory, Some(PathBuf::from("backend")));
        assert_eq!(a.settings.env, vec!["DATABASE_URL".to_string()]);
        assert_eq!(
            p.actions["regen"].command.argv(),
            vec!["bash", "-e", "-o", "pipefail", "-c", "echo a && echo b"]
        );
        assert_eq!(p.rerun.mode, RerunMode::Failed);
        assert_eq!(
            p.plan_for(Category::ServiceUnavailable),
            Some(&["reseed-db".to_string()][..])
        );
        assert_eq!(
            p.plan_for(Category::Network),
            Some(&["regen".to_string()][..])
        );
    }

    #[test]
    fn invalid_values_name_their_key() {
        let a = "self-heal:\n  actions:\n";
        assert_eq!(
            invalid_key(&format!("{a}    x:\n      run: []\n")),
            "self-heal.actions.x.run"
        );
        assert_eq!(
            invalid_key(&format!("{a}    x:\n      run: [a]\n      shell: b\n")),
            "self-heal.actions.x"
        );
        assert_eq!(
            invalid_key(&format!("{a}    x:\n      timeout: 1m\n")),
            "self-heal.actions.x"
        );
        assert_eq!(
            invalid_key(&format!("{a}    \"a b\":\n      run: [a]\n")),
            "self-heal.actions"
        );
        assert_eq!(
            invalid_key(&format!("{a}    x:\n      run: [a]\n      timeout: soon\n")),
            "self-heal.actions.x.timeout"
        );
        assert_eq!(
            invalid_key("self-heal:\n  rerun:\n    full: [a]\n    timeout: 99999999999999h\n"),
            "self-heal.rerun.timeout"
        );
        assert_eq!(
            invalid_key(&format!(
                "{a}    x:\n      run: [a]\n      working-directory: ../up\n"
            )),
            "self-heal.actions.x.working-directory"
        );
        assert_eq!(
            invalid_key(&format!(
                "{a}    x:\n      run: [a]\n      working-directory: /etc\n"
            )),
            "self-heal.actions.x.working-directory"
        );
        assert_eq!(
            invalid_key(&format!(
                "{a}    x:\n      run: [a]\n      env: [\"A=B\"]\n"
            )),
            "self-heal.actions.x.env"
        );
        assert_eq!(
            invalid_key("self-heal:\n  plan:\n    network: [nope]\n"),
            "self-heal.plan.network"
        );
        assert_eq!(
            invalid_key("self-heal:\n  plan:\n    weather: []\n"),
            "self-heal.plan"
        );
        assert_eq!(
            invalid_key("self-heal:\n  min-confidence: 1.5\n"),
            "self-heal.min-confidence"
        );
        assert_eq!(
            invalid_key("self-heal:\n  max-attempts: 0\n"),
            "self-heal.max-attempts"
        );
        assert_eq!(
            invalid_key("self-heal:\n  rerun:\n    mode: full\n"),
            "self-heal.rerun.mode"
        );
        assert_eq!(
            invalid_key("self-heal:\n  events: [\"push; rm\"]\n"),
            "self-heal.events"
        );
    }

    #[test]
    fn documented_example_is_valid() {
        let doc = include_str!("../../docs/policy.md");
        let doc = &doc[doc.find("## Full example").expect("section")..];
        let start = doc.find("```yaml\n").expect("yaml block") + "```yaml\n".len();
        let len = doc[start..].find("```").expect("block end");
        let p = parse(&doc[start..start + len])
            .expect("the documented example validates")
            .self_heal;
        assert_eq!(p.actions.len(), 2);
        assert_eq!(
            p.rerun.settings.working_directory,
            Some(PathBuf::from("e2e"))
        );
        assert_eq!(
            p.plan_for(Category::RunnerInfra),
            Some(&["regenerate-storage-state".to_string()][..])
        );
    }

    #[test]
    fn github_actions_validate_and_refuse_command_keys() {
        let p = parse(
            "self-heal:\n  events: [workflow_run]\n  plan:\n    network: [rr]\n  actions:\n    rr: { github: rerun-failed-jobs, delay: 30s }\n",
        )
        .expect("valid")
        .self_heal;
        let g = p.actions["rr"].command.github().expect("a github action");
        assert_eq!(g.kind, GitHubActionKind::RerunFailedJobs);
        assert_eq!(g.delay, Duration::from_secs(30));
        assert!(!g.forks);
        assert!(p.actions["rr"].command.argv().is_empty());
        let a = "self-heal:\n  actions:\n";
        assert_eq!(
            invalid_key(&format!(
                "{a}    rr: {{ github: rerun-failed-jobs, run: [x] }}\n"
            )),
            "self-heal.actions.rr"
        );
        assert_eq!(
            invalid_key(&format!(
                "{a}    rr: {{ github: rerun-failed-jobs, delay: 11m }}\n"
            )),
            "self-heal.actions.rr.delay"
        );
        assert_eq!(
            invalid_key(&format!("{a}    x: {{ run: [a], delay: 1s }}\n")),
            "self-heal.actions.x"
        );
        assert_eq!(
            invalid_key(&format!(
                "{a}    rr: {{ github: rerun-failed-jobs }}\n    x: {{ run: [a] }}\n  plan:\n    network: [x, rr]\n"
            )),
            "self-heal.plan.network"
        );
    }

    #[test]
    fn workflow_run_default_reruns_network_and_runner_infra_once() {
        let p = SelfHealPolicy::workflow_run_default();
        assert_eq!(p.events, vec!["workflow_run".to_string()]);
        assert_eq!(p.max_attempts, 2);
        for c in [Category::Network, Category::RunnerInfra] {
            let plan = p.plan_for(c).expect("planned");
            assert_eq!(p.github_actions(plan).len(), 1);
        }
        assert!(!p.categories.contains(&Category::TestAssertion));
        assert!(p.plan_for(Category::ServiceUnavailable).is_none());
    }

    #[test]
    fn json_schema_has_the_kebab_case_keys() {
        let schema = serde_json::to_string(&schemars::schema_for!(crate::policy::PolicyFile))
            .expect("schema");
        for key in [
            "self-heal",
            "min-confidence",
            "max-attempts",
            "output-tail-bytes",
            "working-directory",
            "network",
        ] {
            assert!(schema.contains(&format!("\"{key}\"")), "schema lacks {key}");
        }
    }

    #[test]
    fn unknown_category_and_unknown_action_key_give_a_line() {
        for yaml in [
            "self-heal:\n  categories: [network, weather]\n",
            "self-heal:\n  actions:\n    x:\n      run: [a]\n      cwd: b\n",
        ] {
            match parse(yaml) {
                Err(PolicyError::Parse { line: Some(l), .. }) => {
                    assert!(l >= 2, "{yaml}: line {l}")
                }
                other => panic!("{yaml}: expected a parse error with a line, got {other:?}"),
            }
        }
    }
}
