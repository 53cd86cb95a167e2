//! `self-heal-prepare`: why did the run fail? Reads logs and test reports, classifies the
//! failure with evidence lines and writes `<out>/self-heal/context.json`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use ci_remedy::artifact::{write_json_atomic, Context, RunInfo};
use ci_remedy::classify::RulePack;
use ci_remedy::cli::{self, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use ci_remedy::github::api::baseline::{fetch_baseline, not_found, BaselineRequest, FoundBaseline};
use ci_remedy::github::api::GitHub;
use ci_remedy::github::commands::{annotation, quote_untrusted, ActionsEnv, Level};
use ci_remedy::github::summary::{context_markdown, finding_location, TOP_EVIDENCE};
use ci_remedy::prepare::{prepare, PrepareInput};

const AFTER_HELP: &str = "\
Inputs:
  Logs are raw GitHub Actions logs (a timestamp before every line, ANSI colours), the zip GitHub
  serves for a run's logs (`gh run download`-free: GET .../actions/runs/{id}/logs), `gh run view
  --log` output, or any plain build log. Timestamps and colour codes are stripped for matching;
  every reported line number is the line in the ORIGINAL file, 1-based.

Outputs:
  <out>/self-heal/context.json  (schema ci-remedy/context/v1: run, logs, tests.failed, ranked
                                 findings with evidence lines, classification, redactions)
  With GITHUB_OUTPUT set: outputs category, kind, confidence, context-path.
  With GITHUB_STEP_SUMMARY set: the classification and the top three evidence blocks.
  Inside Actions (GITHUB_ACTIONS=true): an ::error annotation per top evidence block.

Run metadata comes from GITHUB_REPOSITORY, GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT, GITHUB_EVENT_NAME,
GITHUB_SHA, GITHUB_REF, GITHUB_WORKFLOW and GITHUB_JOB (`local` when unset).

Exit codes:
  0  the step ran and wrote its artifact, whatever it found
  1  an input could not be read (missing log, malformed report): the context is still written,
     with what could be read and an `error` field
  2  usage or policy-file error

Example:
  self-heal-prepare --log logs/ --junit 'reports/*.xml' --out .";

/// Collect CI logs and test reports, classify the failure with evidence lines, and write
/// self-heal/context.json.
#[derive(Parser, Debug)]
#[command(name = "self-heal-prepare", version, after_help = AFTER_HELP)]
struct Args {
    /// A log to read: a file, a directory (walked), a glob, or a GitHub run-log zip. Repeatable.
    #[arg(long = "log", value_name = "PATH")]
    logs: Vec<String>,
    /// A JUnit XML report (Surefire, pytest --junitxml, jest-junit, Playwright junit). Repeatable.
    #[arg(long = "junit", value_name = "PATH")]
    junit: Vec<PathBuf>,
    /// A Playwright JSON report (`--reporter=json`). Repeatable.
    #[arg(long = "playwright-report", value_name = "PATH")]
    playwright: Vec<PathBuf>,
    /// A classification service's answer (JSON). Validated strictly; an invalid answer falls
    /// back to rules-only classification and says why in developer_agent.status.
    #[arg(long, value_name = "PATH")]
    developer_agent_response: Option<PathBuf>,
    /// A ci-smoke report (smoke/report-<run_id>.json): its failed expectations and matched log
    /// lines become findings, first in rank, and give the category when the rules find none.
    #[arg(long, value_name = "PATH")]
    smoke_report: Option<PathBuf>,
    /// The last passing log of the same job: lines that also appear there rank lower.
    #[arg(long, value_name = "PATH", conflicts_with = "baseline_from_api")]
    baseline_log: Option<String>,
    /// Find the baseline through the GitHub API: the log of the same job in the newest
    /// successful run of this workflow on this branch, else on the default branch
    /// (GITHUB_API_URL, GITHUB_TOKEN with `actions: read`). Best effort: without API access or
    /// a green run the context's `baseline` says why, and the ranking goes on without one.
    #[arg(long)]
    baseline_from_api: bool,
    /// With --baseline-from-api: the job's display name as the run lists it (default: the job
    /// running on this runner, RUNNER_NAME; else the job named GITHUB_JOB; else the only
    /// failed job of the run).
    #[arg(long, value_name = "NAME", requires = "baseline_from_api")]
    baseline_job: Option<String>,
    /// With --baseline-from-api: the largest log downloaded, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = ci_remedy::github::api::baseline::DEFAULT_MAX_BASELINE_BYTES)]
    baseline_max_bytes: u64,
    /// The most bytes the entries of one log zip may unpack to, together; a bigger archive is
    /// refused before anything is inflated (zip bombs).
    #[arg(long, value_name = "BYTES", default_value_t = ci_remedy::logs::source::DEFAULT_MAX_ZIP_UNPACKED_BYTES)]
    max_zip_bytes: u64,
    /// The largest unpacked:compressed ratio of a log zip entry over 1 MiB (deflate reaches
    /// about 1030:1 only on crafted data).
    #[arg(long, value_name = "RATIO", default_value_t = ci_remedy::logs::source::DEFAULT_MAX_ZIP_RATIO)]
    max_zip_ratio: u64,
    /// The workflow_run flow: download the log zip of run RUN_ID of GITHUB_REPOSITORY through
    /// the API (GET …/actions/runs/RUN_ID/logs; GITHUB_TOKEN with actions: read) to
    /// <OUT>/self-heal/run-RUN_ID-logs.zip, at most --run-logs-max-bytes, and read it like
    /// --log (job and step names kept). Nothing of the failed run's code is run or checked out.
    #[arg(long, value_name = "RUN_ID")]
    run_logs_from_api: Option<u64>,
    /// With --run-logs-from-api: the largest zip downloaded, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = ci_remedy::github::api::rerun::DEFAULT_MAX_RUN_LOG_BYTES, requires = "run_logs_from_api")]
    run_logs_max_bytes: u64,
    /// A directory of the test reports of other attempts of this commit: one subdirectory per
    /// attempt, named <run_id>-<run_attempt> or run-<run_id>-attempt-<run_attempt> (an
    /// attempt.json {run_id, run_attempt, sha} inside overrides the name), holding JUnit XML
    /// (*.xml) and Playwright JSON (*.json) reports. A test that failed in one attempt and
    /// passed in another is listed in tests.flaky; when every failed test of this run is,
    /// the category is flaky_test (classification source `attempts`).
    #[arg(long, value_name = "DIR", conflicts_with = "attempt_reports_from_api")]
    attempt_reports: Option<PathBuf>,
    /// Like --attempt-reports, from the artifacts of this run (GITHUB_RUN_ID) named
    /// <NAME>-<run_attempt>, downloaded through the GitHub API (GITHUB_API_URL, GITHUB_TOKEN
    /// with actions: read; each zip at most 16 MiB). Best effort: when the API fails the
    /// context's tests.attempts_detail says why and the step goes on.
    #[arg(long, value_name = "NAME")]
    attempt_reports_from_api: Option<String>,
    /// The policy file [default: .github/ci-remedy.yml when it exists, else built-in defaults].
    #[arg(long, value_name = "PATH")]
    policy: Option<PathBuf>,
    /// The checkout the built-in recipes check the evidence against, read-only (is the file the
    /// log misses excluded by .dockerignore? does an import differ only in case?). A sure recipe
    /// decides the category (classification.source `recipe`).
    #[arg(long, value_name = "DIR", default_value = ".")]
    repo_root: PathBuf,
    /// The output directory; the context goes to <DIR>/self-heal/context.json.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
    /// Print the active rules (built-in plus policy, minus disabled) as JSON and exit.
    #[arg(long)]
    list_rules: bool,
    /// More logs, after `--` (same as --log; lets scripts pass untrusted paths safely).
    #[arg(value_name = "LOG", last = true)]
    more_logs: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
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
    if args.list_rules {
        match serde_json::to_string_pretty(&pack.to_json()) {
            Ok(s) => ci_remedy::outln!("{s}"),
            Err(e) => {
                cli::print_error(&e, None);
                return cli::exit(EXIT_FAILED);
            }
        }
        return cli::exit(EXIT_OK);
    }

    let run = RunInfo::from_env();
    // Kept alive until the context is built: the downloaded log is removed on drop.
    let mut downloaded = None;
    let mut baseline_info = None;
    let mut baseline_log = args.baseline_log;
    if args.baseline_from_api {
        match baseline_from_api(&run, args.baseline_job.as_deref(), args.baseline_max_bytes) {
            Ok(found) => {
                baseline_log = Some(found.file.path().display().to_string());
                baseline_info = Some(found.info.clone());
                downloaded = Some(found);
            }
            Err(why) => {
                cli::print_warning(&why);
                baseline_info = Some(not_found(why));
            }
        }
    }

    let mut logs = args.logs;
    logs.extend(args.more_logs);
    let mut run_logs_error = None;
    if let Some(id) = args.run_logs_from_api {
        match run_logs_from_api(&run, id, args.run_logs_max_bytes, &args.out) {
            Ok(path) => logs.push(path.display().to_string()),
            Err(why) => {
                cli::print_error(
                    &why,
                    Some(
                        "check GITHUB_TOKEN (actions: read), the run id, and --run-logs-max-bytes",
                    ),
                );
                run_logs_error = Some(why);
            }
        }
    }
    // Kept alive until the context is built: the downloaded reports are removed on drop.
    let mut attempts_tmp = None;
    let mut attempt_reports = args.attempt_reports;
    let mut attempts_detail = None;
    if let Some(name) = &args.attempt_reports_from_api {
        match attempt_reports_from_api(&run, name) {
            Ok((dir, detail)) => {
                attempt_reports = Some(dir.path().to_path_buf());
                attempts_detail = Some(detail);
                attempts_tmp = Some(dir);
            }
            Err(why) => {
                cli::print_warning(&format!("no attempt reports: {why}"));
                attempts_detail = Some(format!("no attempt reports from the GitHub API: {why}"));
            }
        }
    }
    let input = PrepareInput {
        logs,
        junit: args.junit,
        playwright: args.playwright,
        developer_agent_response: args.developer_agent_response,
        baseline_log,
        baseline_info,
        workspace: std::env::var("GITHUB_WORKSPACE")
            .ok()
            .filter(|w| !w.is_empty()),
        zip_limits: ci_remedy::logs::source::ZipLimits {
            max_unpacked_bytes: args.max_zip_bytes,
            max_ratio: args.max_zip_ratio,
        },
        repo_root: Some(args.repo_root),
        smoke_report: args.smoke_report,
        attempt_reports,
        attempts_detail,
    };
    let mut ctx = prepare(&input, &pack, run, "self-heal-prepare");
    drop(attempts_tmp);
    if let (Some(found), Some(info)) = (&downloaded, ctx.baseline.as_mut()) {
        // The temporary file's name means nothing to a reader of the context.
        info.path = None;
        info.bytes = found.info.bytes;
    }
    drop(downloaded);
    if let Some(e) = run_logs_error {
        ctx.error = Some(match ctx.error.take() {
            Some(other) => format!("{e}; {other}"),
            None => e,
        });
    }
    let path = args.out.join("self-heal").join("context.json");
    if let Err(e) = write_json_atomic(&path, &ctx) {
        cli::print_error(&e, Some("check that --out is a writable directory"));
        return cli::exit(EXIT_FAILED);
    }
    report(&ctx, &path);
    if let Some(e) = &ctx.error {
        cli::print_error(
            e,
            Some("the context was written with what could be read; see its `error` field"),
        );
        return cli::exit(EXIT_FAILED);
    }
    cli::exit(EXIT_OK)
}

/// `--run-logs-from-api`: streams the run's log zip into a temporary file beside its final
/// name, `<out>/self-heal/run-<id>-logs.zip`, and renames it there once complete (a cut-off or
/// oversized download leaves nothing). The error names the request and the cap.
fn run_logs_from_api(
    run: &RunInfo,
    run_id: u64,
    max_bytes: u64,
    out: &std::path::Path,
) -> Result<PathBuf, String> {
    use ci_remedy::github::api::{rerun, Repo};
    let dir = out.join("self-heal");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let target = dir.join(format!("run-{run_id}-logs.zip"));
    let gh = GitHub::from_env().map_err(|e| format!("cannot download the run's logs: {e}"))?;
    let repo = Repo::parse(&run.repository)
        .map_err(|e| format!("cannot download the run's logs: {e} (GITHUB_REPOSITORY)"))?;
    let tmp = tempfile::NamedTempFile::new_in(&dir)
        .map_err(|e| format!("cannot create a file in {}: {e}", dir.display()))?;
    let bytes = rerun::download_run_logs(&gh, &repo, run_id, max_bytes, tmp.as_file())
        .map_err(|e| format!("cannot download the logs of run {run_id}: {e}"))?;
    tmp.persist(&target)
        .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    ci_remedy::outln!("downloaded the logs of run {run_id}: {bytes} bytes");
    Ok(target)
}

/// `--attempt-reports-from-api NAME`: downloads the `NAME-<attempt>` artifacts of this run
/// into a temporary directory (under RUNNER_TEMP when set) laid out as for --attempt-reports.
/// Returns the directory and the detail sentence; the error says why nothing was downloaded.
fn attempt_reports_from_api(
    run: &RunInfo,
    name: &str,
) -> Result<(tempfile::TempDir, String), String> {
    use ci_remedy::github::api::{attempts, Repo};
    let run_id: u64 = run
        .run_id
        .parse()
        .map_err(|_| "GITHUB_RUN_ID is not a run id (outside GitHub Actions?)".to_string())?;
    let gh = GitHub::from_env().map_err(|e| format!("{e} ({})", e.help()))?;
    let repo = Repo::parse(&run.repository).map_err(|e| format!("{e} (GITHUB_REPOSITORY)"))?;
    let base = std::env::var_os("RUNNER_TEMP")
        .map(PathBuf::from)
        .filter(|d| d.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("ci-remedy-attempts-")
        .tempdir_in(&base)
        .map_err(|e| format!("cannot create a directory in {}: {e}", base.display()))?;
    let got = attempts::download_attempt_reports(&gh, &repo, run_id, name, dir.path())?;
    for p in &got.problems {
        cli::print_warning(&format!("attempt reports: {p}"));
    }
    ci_remedy::outln!(
        "downloaded the test reports of {} attempt(s) of run {run_id}",
        got.attempts.len()
    );
    Ok((dir, got.detail(name, run_id)))
}

/// `--baseline-from-api`: the client from the environment, then the search. The error says
/// why no baseline is used.
fn baseline_from_api(
    run: &RunInfo,
    job_name: Option<&str>,
    max_bytes: u64,
) -> Result<FoundBaseline, String> {
    let gh = GitHub::from_env().map_err(|e| format!("no baseline: {e} ({})", e.help()))?;
    let runner = std::env::var("RUNNER_NAME").ok();
    let dir = std::env::var_os("RUNNER_TEMP")
        .map(PathBuf::from)
        .filter(|d| d.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let req = BaselineRequest {
        run,
        job_name,
        runner_name: runner.as_deref(),
        max_bytes,
    };
    fetch_baseline(&gh, &req, &dir)
}

/// Human summary on stdout, annotations, outputs and the job summary.
fn report(ctx: &Context, path: &std::path::Path) {
    let c = &ctx.classification;
    ci_remedy::outln!(
        "category: {} ({}), confidence {:.2}, source {:?}",
        c.category,
        c.kind.as_str(),
        c.confidence,
        c.source
    );
    ci_remedy::out!("{}", quote_untrusted(&c.summary, "summary: "));
    let lines: u64 = ctx.logs.iter().map(|l| l.lines).sum();
    ci_remedy::outln!(
        "read {} log(s), {} lines; {} failed test(s); {} finding(s); {} redaction(s)",
        ctx.logs.len(),
        lines,
        ctx.tests.failed.len(),
        ctx.findings.len(),
        ctx.redactions.total
    );
    if let Some(b) = &ctx.baseline {
        ci_remedy::out!(
            "{}",
            quote_untrusted(
                &b.detail,
                if b.used {
                    "baseline: "
                } else {
                    "baseline (not used): "
                }
            )
        );
    }
    if ctx.developer_agent.status != ci_remedy::artifact::DeveloperAgentStatus::NotProvided {
        ci_remedy::outln!("developer-agent answer: {:?}", ctx.developer_agent.status);
        if let Some(d) = &ctx.developer_agent.detail {
            ci_remedy::out!("{}", quote_untrusted(d, "  "));
        }
    }
    let env = ActionsEnv::from_env();
    for f in ctx
        .findings
        .iter()
        .filter(|f| f.rank as usize <= TOP_EVIDENCE)
    {
        ci_remedy::outln!(
            "\n#{} {} [{} · {} · score {:.2}]",
            f.rank,
            quote_untrusted(&finding_location(f), "").trim_end(),
            f.rule,
            f.category,
            f.score
        );
        ci_remedy::out!("{}", quote_untrusted(&f.excerpt, "  | "));
        if env.in_actions {
            let first = f.excerpt.lines().next().unwrap_or("");
            let title = format!("ci-remedy: {} ({})", f.category, finding_location(f));
            let line = match (&f.file, f.file_line) {
                (Some(file), line) => annotation(
                    Level::Error,
                    Some(file),
                    line.map(u64::from),
                    None,
                    Some(&title),
                    first,
                ),
                _ => annotation(Level::Error, None, None, None, Some(&title), first),
            };
            ci_remedy::outln!("{line}");
        }
    }
    ci_remedy::outln!("\nwrote {}", path.display());
    let outputs = [
        ("category", c.category.to_string()),
        ("kind", c.kind.as_str().to_string()),
        ("confidence", format!("{:.2}", c.confidence)),
        ("context-path", path.display().to_string()),
    ];
    if let Err(e) = env.set_outputs(&outputs) {
        cli::print_warning(&format!("cannot write GITHUB_OUTPUT: {e}"));
    }
    if let Err(e) = env.append_summary(&context_markdown(ctx)) {
        cli::print_warning(&format!("cannot write GITHUB_STEP_SUMMARY: {e}"));
    }
}
