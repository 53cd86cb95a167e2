//! fix-agent-prepare: builds `fix-agent/input.json` from `self-heal/context.json`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use ci_remedy::artifact::{self, RunInfo};
use ci_remedy::cli::{
    self, exit, one_line, print_error, CheckoutArgs, EXIT_CODES_HELP, EXIT_FAILED, EXIT_OK,
};
use ci_remedy::fix::prepare::{failed_input, prepare, PrepareOptions};
use ci_remedy::github::commands::ActionsEnv;

/// Build the fix-agent input: classification, evidence, failed tests, instructions (from
/// --instructions, the Developer-Agent answer in the context, and built-in recipes, in that
/// order), code snippets around the evidence, and the policy's constraints.
///
/// Writes OUT/fix-agent/input.json. Everything in it that came from logs, reports or
/// instructions is untrusted; fix-agent-apply checks every edit with its guard.
#[derive(Parser, Debug)]
#[command(version, after_help = EXIT_CODES_HELP)]
struct Args {
    /// The output directory (reads OUT/self-heal/context.json unless --context is given).
    #[arg(long, default_value = ".")]
    out: PathBuf,
    /// The context written by self-heal-prepare.
    #[arg(long)]
    context: Option<PathBuf>,
    /// A self-heal report (default OUT/self-heal/report-<run_id>.json when it exists).
    #[arg(long)]
    heal_report: Option<PathBuf>,
    /// A JSON list of instructions ({"summary", "edits": [...]}); see docs/fix-agent.md.
    #[arg(long)]
    instructions: Option<PathBuf>,
    #[command(flatten)]
    checkout: CheckoutArgs,
}

fn main() -> ExitCode {
    let args: Args = match cli::parse_args() {
        Ok(a) => a,
        Err(code) => return code,
    };
    let policy = match cli::load_policy(
        args.checkout.policy.as_deref(),
        "fix the policy file; see docs/fix-agent.md for the fix-agent keys",
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let run = RunInfo::from_env();
    let context = args
        .context
        .clone()
        .unwrap_or_else(|| args.out.join("self-heal/context.json"));
    let heal_report = args.heal_report.clone().or_else(|| {
        let p = args.out.join(format!(
            "self-heal/report-{}.json",
            run.run_id_for_file_name()
        ));
        p.is_file().then_some(p)
    });
    let opts = PrepareOptions {
        context: context.clone(),
        heal_report,
        instructions: args.instructions.clone(),
        repo: args.checkout.repo.clone(),
    };
    let path = args.out.join("fix-agent/input.json");
    let (input, code) = match prepare(&opts, &policy.fix_agent) {
        Ok(i) => match &i.error {
            Some(e) => {
                print_error(
                    e,
                    Some("fix the instructions file; the input carries no instructions from it"),
                );
                (i, EXIT_FAILED)
            }
            None => (i, EXIT_OK),
        },
        Err(e) => {
            print_error(
                &e,
                Some("run self-heal-prepare first, or pass --context PATH"),
            );
            let input = failed_input(
                "fix-agent-prepare",
                &run,
                &args.checkout.repo,
                "the self-heal context could not be read",
                e.to_string(),
                &policy.fix_agent,
            );
            (input, EXIT_FAILED)
        }
    };
    if let Err(e) = artifact::write_json_atomic(&path, &input) {
        print_error(&e, Some("check that --out is writable"));
        return exit(EXIT_FAILED);
    }
    let env = ActionsEnv::from_env();
    let _ = env.set_outputs(&[
        ("input-path", path.display().to_string()),
        ("instructions", input.instructions.len().to_string()),
    ]);
    ci_remedy::outln!(
        "fix-agent-prepare: {} instruction(s), {} snippet(s) -> {}",
        input.instructions.len(),
        input.snippets.len(),
        ci_remedy::cli::one_line(&path.display().to_string())
    );
    if let Some(m) = &input.model {
        // Provider and model come from the policy; the reason may quote the model: one line,
        // never a workflow command.
        ci_remedy::out!(
            "{}",
            ci_remedy::github::commands::quote_untrusted(
                &one_line(&format!(
                    "{}/{} {}: {} request(s), {} tokens in, {} out{}",
                    m.provider,
                    m.model,
                    m.status.as_str(),
                    m.requests,
                    m.tokens_in,
                    m.tokens_out,
                    m.reason
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                )),
                "  model: "
            )
        );
    }
    exit(code)
}
