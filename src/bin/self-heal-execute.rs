//! `self-heal-execute`: runs the safe actions an allowed decision names (from the policy), then
//! the rerun, and writes `<out>/self-heal/report-<run_id>.json`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use ci_remedy::artifact::{
    read_artifact, write_json_atomic, Context, Decision, HealReport, RunInfo,
};
use ci_remedy::cli::{self, EXIT_FAILED, EXIT_OK};
use ci_remedy::github::commands::{quote_untrusted, ActionsEnv};
use ci_remedy::heal::{error_report, execute, ExecuteInput};

const AFTER_HELP: &str = "\
Inputs:
  the decision written by self-heal-decide, the context (for the failed test ids: tests.failed[].id,
  else the name) and the policy's `self-heal:` section, the only source of commands.

Checks before anything runs (a decision is a file, and may be stale or forged):
  every gate passed; repository and sha are the context's and this run's; the event is in
  self-heal.events and is this run's (--event or GITHUB_EVENT_NAME, when set); the category is
  the context's and eligible, the confidence and a failure are in the context; the attempt is
  at most self-heal.max-attempts and not below GITHUB_RUN_ATTEMPT; each action is named once
  and is one the plan for this context picks. Otherwise: outcome error, exit 1, nothing runs.

What runs (only when the decision is allowed):
  each decided action, in order, from its policy definition: an argv list (no shell) or an explicit
  `shell:` script (bash -e -o pipefail -c), with its timeout (the whole process group gets SIGTERM,
  then SIGKILL), its working directory inside --repo-root, an environment holding only PATH, HOME
  and its `env:` allowlist, stdin from /dev/null, and a redacted tail of its output. A failing
  action stops the sequence. Then the rerun: the failed-tests command with each test id as a
  separate argument, or the full command.

Outputs:
  <out>/self-heal/report-<run_id>.json (schema ci-remedy/self-heal-report/v1) with outcome
  healed | still_failing | skipped | error and escalate_to fix-agent | human | none; step outputs
  `outcome` and `escalate_to` when GITHUB_OUTPUT is set; a job summary section when
  GITHUB_STEP_SUMMARY is set.
";

/// Runs the self-heal actions and rerun a decision allows.
#[derive(Debug, Parser)]
#[command(name = "self-heal-execute", version, after_help = format!("{AFTER_HELP}\n{}", cli::EXIT_CODES_HELP))]
struct Args {
    /// Output directory; the report goes to <OUT>/self-heal/report-<run_id>.json.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
    /// The decision [default: <OUT>/self-heal/decision.json].
    #[arg(long, value_name = "PATH")]
    decision: Option<PathBuf>,
    /// The context [default: <OUT>/self-heal/context.json].
    #[arg(long, value_name = "PATH")]
    context: Option<PathBuf>,
    /// The policy [default: .github/ci-remedy.yml when present, else built-in defaults].
    #[arg(long, value_name = "PATH")]
    policy: Option<PathBuf>,
    /// The repository root; action working directories and a relative --policy (or the
    /// default .github/ci-remedy.yml) are relative to it.
    #[arg(long, value_name = "DIR", default_value = ".")]
    repo_root: PathBuf,
    /// This run's event, instead of GITHUB_EVENT_NAME; the decision's event must be the same.
    #[arg(long, value_name = "NAME")]
    event: Option<String>,
    /// The workflow_run flow: the failed run of GITHUB_REPOSITORY whose failed jobs a `github:
    /// rerun-failed-jobs` decision reruns (GITHUB_TOKEN with actions: write). The run is read
    /// again first: it must be the decision's, at the same attempt, still failed, no fork
    /// (unless allowed), and the new attempt at most max-attempts; then the action's delay is
    /// waited and exactly one POST …/rerun-failed-jobs is sent. With no policy file, the
    /// built-in workflow_run default applies.
    #[arg(long, value_name = "RUN_ID")]
    target_run: Option<u64>,
}

fn main() -> ExitCode {
    let args: Args = match cli::parse_args() {
        Ok(a) => a,
        Err(code) => return code,
    };
    let mut policy = match cli::load_policy_in(
        &args.repo_root,
        args.policy.as_deref(),
        "fix the policy file; see docs/policy.md for the self-heal keys",
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if args.target_run.is_some() && policy.path.is_none() {
        policy.self_heal = ci_remedy::policy::self_heal::SelfHealPolicy::workflow_run_default();
    }
    let run = RunInfo::from_env();
    let report_path = args
        .out
        .join("self-heal")
        .join(format!("report-{}.json", run.run_id_for_file_name()));
    let decision_path = args
        .decision
        .unwrap_or_else(|| args.out.join("self-heal").join("decision.json"));
    let context_path = args
        .context
        .unwrap_or_else(|| args.out.join("self-heal").join("context.json"));

    let inputs = read_artifact::<Decision>(&decision_path)
        .map_err(|e| (e, "run self-heal-decide first, or pass --decision PATH"))
        .and_then(|d| {
            read_artifact::<Context>(&context_path)
                .map(|c| (d, c))
                .map_err(|e| (e, "run self-heal-prepare first, or pass --context PATH"))
        });
    let (report, code) = match inputs {
        Ok((decision, context)) => {
            let env = |k: &str| std::env::var_os(k);
            let input = ExecuteInput {
                decision: &decision,
                context: &context,
                policy: &policy.self_heal,
                event: args
                    .event
                    .clone()
                    .or_else(|| std::env::var("GITHUB_EVENT_NAME").ok())
                    .filter(|e| !e.is_empty()),
                run_attempt: std::env::var("GITHUB_RUN_ATTEMPT")
                    .ok()
                    .and_then(|a| a.parse().ok()),
                run,
                repo_root: &args.repo_root,
                env: &env,
            };
            let github = !policy
                .self_heal
                .github_actions(&decision.actions)
                .is_empty();
            let report = if (github || args.target_run.is_some())
                && decision.allowed
                && decision.error.is_none()
            {
                execute_github(&input, args.target_run)
            } else {
                execute(&input)
            };
            let code = if report.error.is_some() {
                EXIT_FAILED
            } else {
                EXIT_OK
            };
            if let Some(e) = &report.error {
                cli::print_error(
                    e,
                    Some(
                        "see the report's `error` and `detail`; nothing after the failing step ran",
                    ),
                );
            }
            (report, code)
        }
        Err((e, help)) => {
            cli::print_error(&e, Some(help));
            (error_report(run, e.to_string()), EXIT_FAILED)
        }
    };
    if let Err(e) = write_json_atomic(&report_path, &report) {
        cli::print_error(&e, Some("check that --out is a writable directory"));
        return cli::exit(EXIT_FAILED);
    }
    ci_remedy::out!("{}", summary_text(&report));
    ci_remedy::outln!("report: {}", report_path.display());

    let gh = ActionsEnv::from_env();
    if let Err(e) = gh.set_outputs(&[
        ("outcome", report.outcome.as_str().to_string()),
        ("escalate_to", report.escalate_to.as_str().to_string()),
    ]) {
        cli::print_warning(&format!("cannot write GITHUB_OUTPUT: {e}"));
    }
    if let Err(e) = gh.append_summary(&ci_remedy::github::summary::report_markdown(&report)) {
        cli::print_warning(&format!("cannot write GITHUB_STEP_SUMMARY: {e}"));
    }
    cli::exit(code)
}

/// The workflow_run flow: checks the decision again ([`ci_remedy::heal::execute::recheck`]),
/// reads the failed run from the API, checks it again
/// ([`ci_remedy::heal::github::check_before_rerun`]), waits the delay and sends one
/// `rerun-failed-jobs` request. Every problem is a report with outcome `error`.
fn execute_github(input: &ExecuteInput<'_>, target_run: Option<u64>) -> HealReport {
    use ci_remedy::github::api::{rerun, GitHub, Repo};
    use ci_remedy::heal::github::{check_before_rerun, rerun_record, rerun_report};
    let d = input.decision;
    let fail = |e: String| rerun_report(d, input.run.clone(), None, Some(e));
    if let Err(e) = ci_remedy::heal::execute::recheck(input) {
        return fail(e);
    }
    let Some(id) = target_run else {
        return fail(
            "the decision names a github: action; pass --target-run RUN_ID (the workflow_run flow)"
                .into(),
        );
    };
    let api = GitHub::from_env().and_then(|gh| {
        let repo = Repo::parse(&input.run.repository)?;
        let now = rerun::target_run(&gh, &repo, id)?;
        Ok((gh, repo, now))
    });
    let (gh, repo, now) = match api {
        Ok(x) => x,
        Err(e) => {
            return fail(format!(
                "cannot read run {id}: {}",
                cli::one_line(&e.to_string())
            ))
        }
    };
    let approved = match check_before_rerun(d, input.policy, now, 0) {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    let mut record = rerun_record(
        &approved,
        format!("POST {}", rerun::rerun_path(&repo, id)),
        input.policy.max_attempts,
    );
    if !approved.action.delay.is_zero() {
        std::thread::sleep(approved.action.delay);
    }
    let result = rerun::rerun_failed_jobs(&gh, &repo, id, &mut record);
    let error = result
        .err()
        .map(|e| format!("{} (help: {})", cli::one_line(&e.to_string()), e.help()));
    rerun_report(d, input.run.clone(), Some(record), error)
}

fn summary_text(r: &HealReport) -> String {
    let mut s = format!(
        "self-heal outcome: {} (escalate to {})\n",
        r.outcome.as_str(),
        r.escalate_to.as_str()
    );
    s.push_str(&quote_untrusted(&cli::one_line(&r.detail), "  detail: "));
    if let Some(g) = &r.github_rerun {
        s.push_str(&quote_untrusted(&cli::one_line(&g.line()), "  github: "));
    }
    let rerun = r.rerun.as_ref().map(|x| &x.result);
    for a in r.actions.iter().chain(rerun) {
        let line = format!(
            "{}: {}, {} ms{}",
            a.name,
            a.exit_code
                .map_or("no exit code".to_string(), |c| format!("exit {c}")),
            a.duration_ms,
            if a.timed_out { ", TIMED OUT" } else { "" }
        );
        s.push_str(&quote_untrusted(&line, "  ran "));
        let lines: Vec<&str> = a.output_tail.lines().collect();
        let last = &lines[lines.len().saturating_sub(5)..];
        if !last.is_empty() && a.exit_code != Some(0) {
            s.push_str(&quote_untrusted(&last.join("\n"), "    | "));
        }
    }
    s
}
