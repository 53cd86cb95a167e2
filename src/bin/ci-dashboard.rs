//! `ci-dashboard`: reads downloaded ci-remedy artifacts and writes a job summary, a static site
//! and `dashboard.json`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use ci_remedy::cli::{self, EXIT_FAILED, EXIT_OK};
use ci_remedy::dashboard::{self, Dashboard};
use ci_remedy::github::commands::{quote_untrusted, ActionsEnv};

const AFTER_HELP: &str = "\
Inputs:
  A directory of artifacts as `actions/download-artifact` (all artifacts) or
  `gh run download <run_id> -D DIR/<run_id>` lay them out: one folder per artifact, for one or
  more runs. Recognised by file name and `schema`: context.json, decision.json,
  report-<run_id>.json, metadata-<run_id>.json (+ its patch-<run_id>.diff next to it), and the raw
  logs the context names (matched by name, size and sha256) for lines around the evidence.

Outputs (under --out):
  index.html                 history across runs (categories, healed, accepted) and a run table
  runs/<run_id>/index.html   one page per run: evidence with log context, gates, actions, diff,
                             guardrails, validation, risk, PR text; says what is missing
  dashboard.json             the same data (schema ci-remedy/dashboard/v1)
  summary.md                 the job summary, also appended to GITHUB_STEP_SUMMARY when set
  The pages are self-contained: no scripts, fonts or styles from elsewhere, a strict
  Content-Security-Policy, dark mode, readable on a phone.

Missing or partial artifacts are normal: the pages show what exists and list what is missing.";

/// Builds the ci-remedy dashboard (job summary, static site, dashboard.json) from downloaded
/// artifacts.
#[derive(Debug, Parser)]
#[command(name = "ci-dashboard", version, after_help = format!("{AFTER_HELP}\n\n{}", cli::EXIT_CODES_HELP))]
struct Args {
    /// The directory holding the downloaded artifacts.
    #[arg(long, value_name = "DIR", default_value = ".")]
    artifacts: PathBuf,
    /// The site's output directory (created when missing).
    #[arg(long, value_name = "DIR", default_value = "dashboard")]
    out: PathBuf,
    /// Where to write the Markdown job summary [default: <OUT>/summary.md].
    #[arg(long, value_name = "PATH")]
    summary_file: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args: Args = match cli::parse_args() {
        Ok(a) => a,
        Err(code) => return code,
    };
    let mut code = EXIT_OK;
    let data = match dashboard::collect(&args.artifacts) {
        Ok(d) => d,
        Err(e) => {
            cli::print_error(
                &e,
                Some("pass --artifacts DIR, the directory actions/download-artifact or `gh run download` wrote"),
            );
            code = EXIT_FAILED;
            // Still write a site that says nothing was found, so a Pages deploy has a page.
            Dashboard {
                schema: dashboard::DASHBOARD_SCHEMA.into(),
                tool: ci_remedy::artifact::ToolInfo::new("ci-dashboard"),
                runs: Vec::new(),
                history: dashboard::History::default(),
                flaky_tests: Vec::new(),
                problems: vec![dashboard::Problem {
                    path: ".".into(),
                    reason: e.to_string(),
                }],
            }
        }
    };
    let files = match dashboard::write_site(&data, &args.out) {
        Ok(f) => f,
        Err(e) => {
            cli::print_error(&e, Some("check that --out is a writable directory"));
            return cli::exit(EXIT_FAILED);
        }
    };
    let markdown = dashboard::summary_markdown(&data);
    let summary_path = args
        .summary_file
        .unwrap_or_else(|| args.out.join("summary.md"));
    if let Err(e) = ci_remedy::artifact::write_atomic(&summary_path, markdown.as_bytes()) {
        cli::print_error(
            &e,
            Some("check that the summary file's directory is writable"),
        );
        code = EXIT_FAILED;
    }
    let gh = ActionsEnv::from_env();
    if let Err(e) = gh.append_summary(&markdown) {
        cli::print_warning(&format!("cannot write GITHUB_STEP_SUMMARY: {e}"));
    }
    let h = &data.history;
    ci_remedy::outln!(
        "ci-dashboard: {} run(s); self-heal healed {} of {}; patches accepted {} of {}; {} unusable file(s)",
        h.runs,
        h.self_heal_healed,
        h.self_heal_attempted,
        h.patches_accepted,
        h.patches_produced,
        data.problems.len()
    );
    for r in &data.runs {
        // Run ids and categories come from artifacts: printed only through quote_untrusted.
        let category = r
            .context
            .as_ref()
            .map(|c| c.classification.category.as_str())
            .unwrap_or("unknown");
        ci_remedy::out!(
            "{}",
            quote_untrusted(
                &cli::one_line(&format!(
                    "{} {category}, {} missing",
                    r.run_id,
                    r.missing.len()
                )),
                "  run "
            )
        );
    }
    ci_remedy::outln!("site: {}", files.index.display());
    ci_remedy::outln!("data: {}", files.json.display());
    ci_remedy::outln!("summary: {}", summary_path.display());
    cli::exit(code)
}
