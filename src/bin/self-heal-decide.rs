//! `self-heal-decide`: applies the policy's self-heal gates to a context and writes
//! `<out>/self-heal/decision.json`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use ci_remedy::artifact::{read_artifact, write_json_atomic, Context, Decision, RunInfo};
use ci_remedy::cli::{self, EXIT_FAILED, EXIT_OK};
use ci_remedy::github::commands::{quote_untrusted, ActionsEnv};
use ci_remedy::heal::{decide, error_decision, scan_history, DecideInput};

const AFTER_HELP: &str = "\
Inputs:
  the context written by self-heal-prepare, the policy's `self-heal:` section, and the run's
  GITHUB_EVENT_NAME, GITHUB_RUN_ATTEMPT, GITHUB_REPOSITORY, GITHUB_WORKFLOW, GITHUB_SHA (or `local`).

Gates (all evaluated; allowed only when all pass):
  event            the event is in self-heal.events (default: workflow_dispatch only)
  failure_present  the context has a finding or a failed test
  category         the category is in self-heal.categories (default: infrastructure and environment kinds)
  confidence       the classification confidence >= self-heal.min-confidence (default 0.6)
  attempts         attempt <= self-heal.max-attempts (default 2), where attempt = run attempt
                   (or --attempt) + earlier self-heal reports (report-*.json, not skipped) of other
                   runs for the same repository, workflow and sha under --history, or in the
                   other runs' artifacts with --history-from-api
  plan             a valid Developer-Agent plan may name only policy actions (unknown names are
                   refused and fail the gate); otherwise the policy plan for the category (or
                   `default`); no actions and no rerun means nothing to do

Outputs:
  <out>/self-heal/decision.json (schema ci-remedy/decision/v1), a gates table on stdout,
  step outputs `allowed`, `category`, `confidence`, `attempt` when GITHUB_OUTPUT is set, and a
  gates table in the job summary when GITHUB_STEP_SUMMARY is set.
";

/// Decides whether self-heal may run for a failed workflow run.
#[derive(Debug, Parser)]
#[command(name = "self-heal-decide", version, after_help = format!("{AFTER_HELP}\n{}", cli::EXIT_CODES_HELP))]
struct Args {
    /// Output directory; the decision goes to <OUT>/self-heal/decision.json.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
    /// The context [default: <OUT>/self-heal/context.json].
    #[arg(long, value_name = "PATH")]
    context: Option<PathBuf>,
    /// The policy [default: .github/ci-remedy.yml when present, else built-in defaults].
    #[arg(long, value_name = "PATH")]
    policy: Option<PathBuf>,
    /// A directory holding earlier self-heal reports (report-*.json, searched recursively).
    #[arg(long, value_name = "DIR")]
    history: Option<PathBuf>,
    /// Count earlier attempts from the self-heal report artifacts of the other runs of this
    /// workflow for this commit (GitHub API: GITHUB_TOKEN or GH_TOKEN with actions: read,
    /// GITHUB_REPOSITORY, GITHUB_RUN_ID, GITHUB_SHA). Without API access it falls back to
    /// --history DIR (and says so in the gate's detail), else the attempts gate fails.
    #[arg(long)]
    history_from_api: bool,
    /// With --history-from-api, when neither the API nor a --history DIR can be used: count
    /// no earlier runs (the attempt is the run attempt alone) instead of failing the attempts
    /// gate. The gate's detail and a warning say so. The composite action uses this.
    #[arg(long, requires = "history_from_api")]
    history_best_effort: bool,
    /// The artifact name prefix of self-heal reports for --history-from-api.
    #[arg(long, value_name = "PREFIX", default_value = "self-heal")]
    history_artifact_prefix: String,
    /// Use this event name instead of GITHUB_EVENT_NAME.
    #[arg(long, value_name = "NAME")]
    event: Option<String>,
    /// Use this run attempt (1-based) instead of GITHUB_RUN_ATTEMPT.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    attempt: Option<u32>,
    /// The workflow_run flow: the failed run of GITHUB_REPOSITORY that a `github:` action
    /// (rerun-failed-jobs) acts on, read through the API (GITHUB_TOKEN, actions: read). Adds
    /// the `github` gate (one github: action, no fork unless allowed, a failed run, the
    /// attempt the rerun starts <= max-attempts). With no policy file, the built-in
    /// workflow_run default applies (network and runner_infra: rerun once).
    #[arg(long, value_name = "RUN_ID")]
    target_run: Option<u64>,
    /// The quarantine file [default: .github/ci-remedy-quarantine.yml when present]. When
    /// every failed test is quarantined and not expired, the `quarantine` gate fails and the
    /// decision says `quarantined`: nothing runs or reruns.
    #[arg(long, value_name = "PATH")]
    quarantine: Option<PathBuf>,
    /// The date the quarantine's `expires` is compared with (YYYY-MM-DD) [default: today, UTC].
    #[arg(long, value_name = "DATE")]
    today: Option<chrono::NaiveDate>,
}

fn main() -> ExitCode {
    let args: Args = match cli::parse_args() {
        Ok(a) => a,
        Err(code) => return code,
    };
    let mut policy = match cli::load_policy(
        args.policy.as_deref(),
        "fix the policy file; see docs/policy.md for the self-heal keys",
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if args.target_run.is_some() && policy.path.is_none() {
        policy.self_heal = ci_remedy::policy::self_heal::SelfHealPolicy::workflow_run_default();
    }
    let mut run = RunInfo::from_env();
    if let Some(ev) = args.event {
        run.event_name = ev;
    }
    if let Some(n) = args.attempt {
        run.run_attempt = n;
    }
    let context_path = args
        .context
        .unwrap_or_else(|| args.out.join("self-heal").join("context.json"));
    let decision_path = args.out.join("self-heal").join("decision.json");

    let (decision, code) = match read_artifact::<Context>(&context_path) {
        Ok(context) => {
            let history = if args.history_from_api {
                Some(history_from_api(
                    &run,
                    &args.history_artifact_prefix,
                    args.history.as_deref(),
                    args.history_best_effort,
                ))
            } else {
                args.history.as_deref().map(|d| scan_history(d, &run))
            };
            let mut d = decide(&DecideInput {
                context: &context,
                policy: &policy.self_heal,
                run,
                history,
            });
            github_gate(
                &mut d,
                &policy.self_heal,
                args.target_run,
                args.history.as_deref(),
            );
            if let Err(code) = quarantine_gate(&mut d, &context, args.quarantine, args.today) {
                return code;
            }
            (d, EXIT_OK)
        }
        Err(e) => {
            cli::print_error(
                &e,
                Some("run self-heal-prepare first, or pass --context PATH"),
            );
            (
                error_decision(run, &policy.self_heal, e.to_string()),
                EXIT_FAILED,
            )
        }
    };
    if let Err(e) = write_json_atomic(&decision_path, &decision) {
        cli::print_error(&e, Some("check that --out is a writable directory"));
        return cli::exit(EXIT_FAILED);
    }
    ci_remedy::out!("{}", summary_text(&decision));
    ci_remedy::outln!("decision: {}", decision_path.display());

    let gh = ActionsEnv::from_env();
    if let Err(e) = gh.set_outputs(&[
        ("allowed", decision.allowed.to_string()),
        ("category", decision.category.to_string()),
        ("confidence", format!("{:.2}", decision.confidence)),
        ("attempt", decision.attempt.to_string()),
    ]) {
        cli::print_warning(&format!("cannot write GITHUB_OUTPUT: {e}"));
    }
    if let Err(e) = gh.append_summary(&ci_remedy::github::summary::decision_markdown(&decision)) {
        cli::print_warning(&format!("cannot write GITHUB_STEP_SUMMARY: {e}"));
    }
    cli::exit(code)
}

/// The `quarantine` gate ([`ci_remedy::heal::quarantine::apply`]) from `path`, else
/// `.github/ci-remedy-quarantine.yml` when present; a file that cannot be read is a usage
/// error (exit 2).
fn quarantine_gate(
    d: &mut Decision,
    context: &Context,
    path: Option<PathBuf>,
    today: Option<chrono::NaiveDate>,
) -> Result<(), ExitCode> {
    use ci_remedy::heal::quarantine::{apply, QuarantineFile, DEFAULT_QUARANTINE_PATH};
    let path = path.or_else(|| {
        let p = PathBuf::from(DEFAULT_QUARANTINE_PATH);
        p.exists().then_some(p)
    });
    let Some(path) = path else {
        return Ok(());
    };
    match QuarantineFile::load(&path) {
        Ok(q) => {
            let today = today.unwrap_or_else(|| chrono::Utc::now().date_naive());
            apply(d, context, &q, today);
            Ok(())
        }
        Err(e) => {
            cli::print_error(
                &e,
                Some("fix the quarantine file; see docs/self-heal-github.md"),
            );
            Err(cli::exit(cli::EXIT_USAGE))
        }
    }
}

/// The `github` gate of the workflow_run flow ([`ci_remedy::heal::github::apply_target`]):
/// the target run from the API, the requested reruns of it under `history`.
fn github_gate(
    d: &mut Decision,
    policy: &ci_remedy::policy::self_heal::SelfHealPolicy,
    target_run: Option<u64>,
    history: Option<&std::path::Path>,
) {
    use ci_remedy::github::api::{rerun, GitHub, Repo};
    let target = target_run.map(|id| {
        GitHub::from_env()
            .and_then(|gh| {
                let repo = Repo::parse(&d.run.repository)?;
                rerun::target_run(&gh, &repo, id)
            })
            .map_err(|e| cli::one_line(&e.to_string()))
    });
    let prior = match (target_run, history) {
        (Some(id), Some(dir)) => {
            ci_remedy::heal::github::count_prior_reruns(dir, &d.run.repository, id)
        }
        _ => 0,
    };
    ci_remedy::heal::github::apply_target(d, policy, target, prior);
}

/// Prior attempts from the API; on any API problem, from `fallback` with a note saying why,
/// else none with a note when `best_effort`, else an error (the gate then fails rather than
/// risk a loop).
fn history_from_api(
    run: &RunInfo,
    prefix: &str,
    fallback: Option<&std::path::Path>,
    best_effort: bool,
) -> Result<ci_remedy::heal::PriorAttempts, String> {
    use ci_remedy::github::api::{history, GitHub};
    let api = GitHub::from_env().and_then(|gh| history::prior_attempts(&gh, run, prefix));
    match (api, fallback) {
        (Ok(p), _) => Ok(p),
        (Err(e), Some(dir)) => {
            let mut p = scan_history(dir, run)?;
            p.note = Some(format!(
                "GitHub API unavailable ({}), counted from --history instead",
                cli::one_line(&e.to_string())
            ));
            Ok(p)
        }
        (Err(e), None) if best_effort => {
            let why = cli::one_line(&e.to_string());
            cli::print_warning(&format!(
                "earlier self-heal attempts in other runs were not counted: GitHub API unavailable ({why}); grant the token `actions: read` to count them"
            ));
            let mut p = ci_remedy::heal::PriorAttempts::default();
            p.source = Some("in other runs, which were not looked up".into());
            p.note = Some(format!(
                "GitHub API unavailable ({why}); --history-best-effort: only the run attempt counts"
            ));
            Ok(p)
        }
        (Err(e), None) => Err(format!(
            "GitHub API unavailable ({}) and no --history DIR to fall back to",
            cli::one_line(&e.to_string())
        )),
    }
}

/// The stdout summary; gate details may quote untrusted text, so they go through
/// `quote_untrusted`.
fn summary_text(d: &Decision) -> String {
    let mut s = format!(
        "self-heal {}: category {} ({}), confidence {:.2}, attempt {} of {}\n",
        if d.allowed { "ALLOWED" } else { "not allowed" },
        d.category,
        d.kind.as_str(),
        d.confidence,
        d.attempt,
        d.max_attempts
    );
    for g in &d.gates {
        let prefix = format!(
            "  {} {:<16} ",
            if g.passed { "pass" } else { "FAIL" },
            g.name
        );
        s.push_str(&quote_untrusted(&cli::one_line(&g.detail), &prefix));
    }
    if d.allowed {
        s.push_str(&quote_untrusted(
            &format!(
                "actions [{}], rerun {}",
                d.actions.join(", "),
                d.rerun.as_str()
            ),
            "  will run: ",
        ));
    }
    s
}
