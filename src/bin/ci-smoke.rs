//! `ci-smoke`: validates a deployed service with the checks file and writes
//! `<out>/smoke/report-<run_id>.json`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use ci_remedy::artifact::{write_json_atomic, RunInfo, SmokeOutcome, SmokeReport};
use ci_remedy::cli::{self, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use ci_remedy::github::commands::{annotation, quote_untrusted, ActionsEnv, Level};
use ci_remedy::smoke::{self, checks, SmokeError};

const AFTER_HELP: &str = "\
Inputs:
  the checks file (hosts, variables, wait-for-healthy, checks, log-patterns, max-iterations;
  see docs/smoke.md and schemas/smoke-checks.schema.json), the environment variables it names,
  GITHUB_* for the run (or `local`).

Outputs:
  <out>/smoke/report-<run_id>.json (schema ci-remedy/smoke-report/v1), a summary on stdout,
  the job summary (GITHUB_STEP_SUMMARY), error annotations in Actions, and step outputs
  `outcome`, `failed`, `report`, `escalate` (GITHUB_OUTPUT).

Failed checks exit 0 (the report says what failed) unless --fail-on-failure is given, then 3.";

/// Smoke checks against a deployed service: health wait, expectations, event streams,
/// baselines, log patterns.
#[derive(Debug, Parser)]
#[command(name = "ci-smoke", version, after_help = format!("{AFTER_HELP}\n{}\n  3  with --fail-on-failure: a check, a log pattern or the health wait failed", cli::EXIT_CODES_HELP))]
struct Args {
    /// The checks file.
    #[arg(
        long,
        value_name = "PATH",
        default_value = ".github/ci-remedy-smoke.yml"
    )]
    checks: PathBuf,
    /// Baseline and log files are relative to this directory.
    #[arg(long, value_name = "DIR", default_value = ".")]
    root: PathBuf,
    /// Output directory; the report goes to <OUT>/smoke/report-<run_id>.json.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
    /// The deployed commit [default: GITHUB_SHA].
    #[arg(long, value_name = "SHA")]
    sha: Option<String>,
    /// Earlier smoke reports (report-*.json, searched recursively): failed validations of the
    /// same sha are counted, and after max-iterations the report escalates to a person.
    #[arg(long, value_name = "DIR")]
    history: Option<PathBuf>,
    /// Exit 3 when a check, a log pattern or the health wait failed (the report is still written).
    #[arg(long)]
    fail_on_failure: bool,
}

/// The exit code of `--fail-on-failure` when a validation failed.
const EXIT_CHECKS_FAILED: u8 = 3;

fn main() -> ExitCode {
    let args: Args = match cli::parse_args() {
        Ok(a) => a,
        Err(code) => return code,
    };
    let run = RunInfo::from_env();
    let sha = args
        .sha
        .clone()
        .or_else(|| Some(run.sha.clone()).filter(|s| s != "local"));
    let report_path = args.out.join("smoke").join(format!(
        "report-{}.json",
        ci_remedy::text::one_line(&run.run_id).replace(['/', '\\'], "_")
    ));
    let env = |k: &str| std::env::var(k).ok();
    let loaded = checks::load(&args.checks, &args.root, &env);
    let (mut report, code) = match loaded {
        Err(e) => {
            cli::print_error(&e, Some("fix the checks file; see docs/smoke.md"));
            let r = smoke::error_report(
                &args.checks.display().to_string(),
                run,
                sha,
                "ci-smoke",
                e.to_string(),
            );
            (r, EXIT_USAGE)
        }
        Ok(c) => match smoke::run(&c, run.clone(), sha.clone(), "ci-smoke") {
            Ok(r) => (r, EXIT_OK),
            Err(e @ SmokeError::Checks { .. }) | Err(e @ SmokeError::Client(_)) => {
                cli::print_error(&e, None);
                let r = smoke::error_report(
                    &args.checks.display().to_string(),
                    run,
                    sha,
                    "ci-smoke",
                    e.to_string(),
                );
                (r, EXIT_FAILED)
            }
        },
    };
    if let Some(dir) = &args.history {
        smoke::count_history(&mut report, dir);
    }
    if let Err(e) = write_json_atomic(&report_path, &report) {
        cli::print_error(&e, Some("check that --out is writable"));
        return cli::exit(EXIT_FAILED);
    }
    print_report(&report, &report_path);
    let actions = ActionsEnv::from_env();
    if let Err(e) = actions.append_summary(&smoke::summary_markdown(&report)) {
        cli::print_warning(&format!("cannot write the job summary: {e}"));
    }
    let outputs = [
        ("outcome", outcome_name(report.outcome).to_string()),
        ("failed", report.failed.to_string()),
        ("report", report_path.display().to_string()),
        ("escalate", report.iteration.escalate_to_human.to_string()),
    ];
    if let Err(e) = actions.set_outputs(&outputs) {
        cli::print_warning(&format!("cannot write step outputs: {e}"));
    }
    if actions.in_actions {
        annotate(&report);
    }
    if code == EXIT_OK && args.fail_on_failure && report.outcome == SmokeOutcome::Failed {
        return cli::exit(EXIT_CHECKS_FAILED);
    }
    cli::exit(code)
}

fn outcome_name(o: SmokeOutcome) -> &'static str {
    match o {
        SmokeOutcome::Passed => "passed",
        SmokeOutcome::Failed => "failed",
        SmokeOutcome::Error => "error",
    }
}

/// One line per check and log pattern on stdout; everything the service said goes through
/// `quote_untrusted` (no workflow command can be smuggled onto stdout).
fn print_report(r: &SmokeReport, path: &std::path::Path) {
    let mut text = String::new();
    if let Some(h) = &r.health {
        text.push_str(&quote_untrusted(
            &format!(
                "health {}: {} after {} request(s), {} ms, last status {}: {}",
                h.url,
                if h.healthy { "healthy" } else { "NOT healthy" },
                h.attempts,
                h.elapsed_ms,
                h.last_status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "none".into()),
                ci_remedy::text::one_line(&h.last_answer)
            ),
            "",
        ));
    }
    for c in &r.checks {
        let status = if c.passed { "ok    " } else { "FAILED" };
        text.push_str(&quote_untrusted(
            &format!("{status} check {}", ci_remedy::text::one_line(&c.name)),
            "",
        ));
        if let Some(e) = &c.error {
            text.push_str(&quote_untrusted(&ci_remedy::text::one_line(e), "         "));
        }
        for e in c.expectations.iter().filter(|e| !e.passed) {
            text.push_str(&quote_untrusted(
                &ci_remedy::text::one_line(&format!(
                    "{}: expected {}, got {}",
                    e.kind, e.expected, e.actual
                )),
                "         ",
            ));
        }
    }
    for p in &r.log_patterns {
        let status = if p.passed { "ok    " } else { "FAILED" };
        text.push_str(&quote_untrusted(
            &ci_remedy::text::one_line(&format!(
                "{status} log {} {} {}",
                p.name, p.kind, p.pattern
            )),
            "",
        ));
        for m in p.matches.iter().take(3) {
            text.push_str(&quote_untrusted(
                &ci_remedy::text::one_line(&format!("{}:{}: {}", m.source, m.line, m.text)),
                "         ",
            ));
        }
    }
    text.push_str(&format!(
        "ci-smoke: {} ({} failed; failed validations of this sha: {} of {}{}); report {}\n",
        outcome_name(r.outcome),
        r.failed,
        r.iteration.failed_validations,
        r.iteration.max_iterations,
        if r.iteration.escalate_to_human {
            ", escalate to a person"
        } else {
            ""
        },
        quote_untrusted(&path.display().to_string(), "").trim_end()
    ));
    cli::write_stdout(format_args!("{text}"));
}

/// One error annotation per failed check or log pattern (the message is escaped by
/// `annotation`; it is one line of redacted, capped text).
fn annotate(r: &SmokeReport) {
    let mut lines = String::new();
    for c in r.checks.iter().filter(|c| !c.passed) {
        let why = c
            .error
            .clone()
            .or_else(|| {
                c.expectations
                    .iter()
                    .find(|e| !e.passed)
                    .map(|e| format!("{}: expected {}, got {}", e.kind, e.expected, e.actual))
            })
            .unwrap_or_default();
        let title = format!("smoke check {}", ci_remedy::text::one_line(&c.name));
        lines.push_str(&annotation(
            Level::Error,
            None,
            None,
            None,
            Some(&title),
            &ci_remedy::text::one_line(&why),
        ));
        lines.push('\n');
    }
    for p in r.log_patterns.iter().filter(|p| !p.passed) {
        let why = p
            .matches
            .first()
            .map(|m| format!("{}:{}: {}", m.source, m.line, m.text))
            .unwrap_or_else(|| format!("{} {}: no line matched", p.kind, p.pattern));
        let title = format!("smoke log {}", ci_remedy::text::one_line(&p.name));
        lines.push_str(&annotation(
            Level::Error,
            None,
            None,
            None,
            Some(&title),
            &ci_remedy::text::one_line(&why),
        ));
        lines.push('\n');
    }
    cli::write_stdout(format_args!("{lines}"));
}
