//! `ci-logs-ship`: send the run's redacted log tails, failed tests and local classification to
//! the Cloud-Agent, validate its answer, and write it for `self-heal-prepare`. Best-effort:
//! whatever the service does, the status artifact is written and the exit code is 0.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use ci_remedy::agent::repository::RepositoryLimits;
use ci_remedy::agent::ship::{
    build_payload, origin, ship, write_artifacts, BuiltPayload, RepositoryInput, SentLog,
    ShipInput, ShipStatus, Shipped, MAX_ANSWER_BYTES, SHIP_STATUS_SCHEMA,
};
use ci_remedy::artifact::{RunInfo, ToolInfo};
use ci_remedy::classify::RulePack;
use ci_remedy::cli::{self, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use ci_remedy::github::commands::{quote_untrusted, ActionsEnv};
use ci_remedy::net::{ClientConfig, RetryPolicy, Token};
use ci_remedy::policy::parse_duration;

const AFTER_HELP: &str = "\
Configuration (environment):
  AGENT_URL    the Cloud-Agent: a base URL (`/api/ci/logs` is appended) or the full endpoint URL
  AGENT_TOKEN  the bearer token (never printed; not accepted as a flag so it stays out of `ps`)
  Without either, nothing is sent and the status is `skipped`.

What is sent (schemas/ci-logs-payload.schema.json): the run metadata (GITHUB_*), the last
`ship.max-log-bytes` of each log (policy; default 1 MiB) with secrets redacted, the failed tests
of the reports, the rules-only classification, and (policy `ship.repository`, default true) the
repository section: the file listing of --repo (default GITHUB_WORKSPACE, else the git
repository around the working directory, else none is sent; at most 20000 paths; .git, target and
node_modules left out) and the few files the fix recipes read (Docker files, sources holding a
failing import, files the evidence names; at most 32 of 256 KiB, text only, redacted). With it
the Developer-Agent can answer with fix instructions; `ship.repository: false` sends no path.

Outputs (under <out>/agent/):
  payload.json                  the payload as sent
  developer-agent-answer.json   the validated answer, when one came back:
                                pass it to `self-heal-prepare --developer-agent-response`
  ship-status.json              status answered | skipped | unreachable | rejected |
                                invalid_answer, attempts, HTTP status, duration
  With GITHUB_OUTPUT set: outputs status and answer-path.

Retries: connection errors, timeouts, HTTP 5xx and 429 are retried with exponential backoff and
full jitter (429/503 honour Retry-After in seconds); other 4xx are not retried.

Exit codes:
  0  the status artifact was written, whatever the service did
  1  the status artifact could not be written
  2  usage or policy-file error

Example:
  AGENT_URL=https://agent.example AGENT_TOKEN=... ci-logs-ship --log logs/ --junit 'reports/*.xml' --out .";

/// Ship redacted CI logs to the Cloud-Agent and save its validated answer.
#[derive(Parser, Debug)]
#[command(name = "ci-logs-ship", version, after_help = AFTER_HELP)]
struct Args {
    /// A log to send: a file, a directory (walked), a glob, or a GitHub run-log zip. Repeatable.
    #[arg(long = "log", value_name = "PATH")]
    logs: Vec<String>,
    /// A JUnit XML report. Repeatable.
    #[arg(long = "junit", value_name = "PATH")]
    junit: Vec<PathBuf>,
    /// A Playwright JSON report. Repeatable.
    #[arg(long = "playwright-report", value_name = "PATH")]
    playwright: Vec<PathBuf>,
    /// The policy file [default: .github/ci-remedy.yml when it exists, else built-in defaults].
    #[arg(long, value_name = "PATH")]
    policy: Option<PathBuf>,
    /// The output directory; artifacts go to <DIR>/agent/.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
    /// The checkout described in the payload's repository section [default: GITHUB_WORKSPACE
    /// when set, else the git repository the working directory is in (the nearest ancestor
    /// holding `.git`); outside a repository no repository section is sent].
    #[arg(long, value_name = "DIR")]
    repo: Option<PathBuf>,
    /// Time allowed to connect, e.g. 5s or 500ms.
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    connect_timeout: String,
    /// Time allowed for one request (connect, send, answer).
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    timeout: String,
    /// Total requests, retries included (1 = no retry).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=10))]
    max_attempts: u32,
    /// The first backoff ceiling; doubles each retry, capped at 8 times this.
    #[arg(long, value_name = "DURATION", default_value = "1s")]
    backoff: String,
    /// The longest Retry-After honoured; a longer one ends the retries.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    max_retry_after: String,
    /// More logs, after `--`.
    #[arg(value_name = "LOG", last = true)]
    more_logs: Vec<String>,
}

fn duration(flag: &str, text: &str) -> Result<Duration, String> {
    parse_duration(text).map_err(|e| format!("--{flag}: {e}"))
}

/// The checkout to describe when `--repo` is not given: `GITHUB_WORKSPACE` when set, else the
/// repository the working directory is in, found as git finds it (the nearest ancestor with a
/// `.git` directory or, for a worktree or submodule, a `.git` file), else `None`: a directory
/// that is not a repository (a home directory, `/tmp`) is never listed.
fn default_checkout() -> Option<PathBuf> {
    if let Some(w) = std::env::var_os("GITHUB_WORKSPACE").filter(|w| !w.is_empty()) {
        return Some(PathBuf::from(w));
    }
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors()
        .find(|d| d.join(".git").symlink_metadata().is_ok())
        .map(std::path::Path::to_path_buf)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let client = match (|| -> Result<ClientConfig, String> {
        let base = duration("backoff", &args.backoff)?;
        Ok(ClientConfig {
            connect_timeout: duration("connect-timeout", &args.connect_timeout)?,
            timeout: duration("timeout", &args.timeout)?,
            retry: RetryPolicy {
                max_attempts: args.max_attempts,
                base_delay: base,
                max_delay: base.saturating_mul(8),
                max_retry_after: duration("max-retry-after", &args.max_retry_after)?,
                budget: None,
            },
            max_response_bytes: MAX_ANSWER_BYTES,
        })
    })() {
        Ok(c) => c,
        Err(e) => {
            cli::print_error(&e, Some("durations look like 500ms, 5s or 1m"));
            return cli::exit(EXIT_USAGE);
        }
    };
    let policy = match cli::load_policy(
        args.policy.as_deref(),
        "fix the policy file or pass --policy PATH",
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let pack = match RulePack::new(&policy.classify) {
        Ok(p) => p,
        Err(e) => {
            cli::print_error(&e, Some("check the `classify.rules` section of the policy"));
            return cli::exit(EXIT_USAGE);
        }
    };

    let mut logs = args.logs;
    logs.extend(args.more_logs);
    let repo = args.repo.or_else(default_checkout);
    if repo.is_none() && policy.ship.repository {
        cli::print_warning(
            &"no repository section sent: no --repo, no GITHUB_WORKSPACE, and the working directory is not inside a git repository",
        );
    }
    let input = ShipInput {
        logs,
        junit: args.junit,
        playwright: args.playwright,
        max_log_bytes: policy.ship.max_log_bytes,
        repository: repo
            .filter(|_| policy.ship.repository)
            .map(|dir| RepositoryInput {
                dir,
                limits: RepositoryLimits {
                    max_paths: policy.ship.repository_max_paths,
                    max_files: policy.ship.repository_max_files,
                    max_file_bytes: policy.ship.repository_max_file_bytes,
                },
            }),
    };
    let run = RunInfo::from_env();
    let BuiltPayload {
        payload,
        errors,
        repository,
    } = build_payload(&input, &pack, run.clone());
    for e in &errors {
        cli::print_warning(e);
    }

    let url = std::env::var("AGENT_URL")
        .ok()
        .filter(|u| !u.trim().is_empty());
    let token = Token::from_env("AGENT_TOKEN");
    let shipped = match (&url, &token) {
        (Some(url), Some(token)) => ship(&payload, url.trim(), token, &client),
        (None, _) => Shipped::skipped("AGENT_URL is not set: nothing was sent"),
        (Some(_), None) => {
            Shipped::skipped("AGENT_TOKEN is not set (or not a valid token): nothing was sent")
        }
    };
    let mut status = ShipStatus {
        schema: SHIP_STATUS_SCHEMA.into(),
        tool: ToolInfo::new("ci-logs-ship"),
        run,
        status: shipped.outcome,
        detail: shipped.detail,
        endpoint: url.as_deref().and_then(origin),
        http_status: shipped.http_status,
        attempts: shipped.attempts,
        duration_ms: shipped.duration_ms,
        payload_path: None,
        answer_path: None,
        logs: payload
            .logs
            .iter()
            .map(|l| SentLog {
                name: l.name.clone(),
                bytes: l.bytes,
                sent_bytes: l.content.len() as u64,
                truncated: l.truncated,
            })
            .collect(),
        failed_tests: payload.failed_tests.len(),
        redactions: payload.redactions.clone(),
        repository,
        error: (!errors.is_empty()).then(|| errors.join("; ")),
    };
    let path = match write_artifacts(&args.out, &payload, &mut status, shipped.answer.as_ref()) {
        Ok(p) => p,
        Err(e) => {
            cli::print_error(&e, Some("check that --out is a writable directory"));
            return cli::exit(EXIT_FAILED);
        }
    };

    let status_name = serde_json::to_value(status.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    ci_remedy::outln!(
        "ci-logs-ship: {status_name} ({} attempt(s), {} ms)",
        status.attempts,
        status.duration_ms
    );
    ci_remedy::out!("{}", quote_untrusted(&status.detail, "  "));
    match &status.repository {
        Some(r) => ci_remedy::outln!(
            "repository: {} path(s){}, {} file(s) with contents",
            r.paths,
            if r.truncated { " (listing capped)" } else { "" },
            r.files.len()
        ),
        None => ci_remedy::outln!("repository: not sent"),
    }
    ci_remedy::outln!("wrote {}", path.display());
    if let Some(a) = &status.answer_path {
        ci_remedy::outln!("answer: {a}");
    }
    let mut outputs = vec![("status", status_name)];
    if let Some(a) = &status.answer_path {
        outputs.push(("answer-path", a.clone()));
    }
    if let Err(e) = ActionsEnv::from_env().set_outputs(&outputs) {
        cli::print_warning(&format!("cannot write GITHUB_OUTPUT: {e}"));
    }
    cli::exit(EXIT_OK)
}
