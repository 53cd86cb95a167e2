//! fix-agent-apply: guarded edits to a patch and PR-ready metadata.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use ci_remedy::artifact::RunInfo;
use ci_remedy::cli::{
    self, exit, one_line, print_error, CheckoutArgs, EXIT_CODES_HELP, EXIT_FAILED, EXIT_OK,
};
use ci_remedy::fix::{run_apply, ApplyOptions};
use ci_remedy::github::commands::ActionsEnv;

/// Apply the fix input's instructions under the guard and write a patch and its metadata.
///
/// Every edit is checked before anything is written (paths, allow/deny globs and the
/// built-in denylist, size caps, binary content, test weakening, Trojan-source characters).
/// The patched tree is only written to run the policy's validation command, and restored
/// afterwards unless --keep. Writes OUT/fix-agent/patch-<run_id>.diff (empty when rejected)
/// and OUT/fix-agent/metadata-<run_id>.json. Nothing is pushed.
#[derive(Parser, Debug)]
#[command(version, after_help = EXIT_CODES_HELP)]
struct Args {
    /// The output directory (reads OUT/fix-agent/input.json unless --input is given).
    #[arg(long, default_value = ".")]
    out: PathBuf,
    /// The input written by fix-agent-prepare.
    #[arg(long)]
    input: Option<PathBuf>,
    #[command(flatten)]
    checkout: CheckoutArgs,
    /// Leave the patched files in the working tree.
    #[arg(long)]
    keep: bool,
    /// The artifact name the workflow uploads the patch as (for the PR body's
    /// `gh run download -n`); default fix-agent-<run_id>.
    #[arg(long)]
    artifact_name: Option<String>,
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
    let opts = ApplyOptions {
        input: args
            .input
            .clone()
            .unwrap_or_else(|| args.out.join("fix-agent/input.json")),
        repo: args.checkout.repo.clone(),
        out: args.out.clone(),
        keep: args.keep,
        artifact_name: args.artifact_name.clone(),
        run: RunInfo::from_env(),
    };
    let result = match run_apply(&opts, &policy.fix_agent) {
        Ok(r) => r,
        Err(e) => {
            print_error(&e, Some("check that --out is writable"));
            return exit(EXIT_FAILED);
        }
    };
    let m = &result.metadata;
    let env = ActionsEnv::from_env();
    if let Err(e) = env.set_outputs(&[
        ("patch-path", result.patch_path.display().to_string()),
        ("metadata-path", result.metadata_path.display().to_string()),
        ("patch-accepted", result.accepted().to_string()),
    ]) {
        print_error(&e, Some("check GITHUB_OUTPUT"));
    }
    let g = &m.guardrails;
    let summary = ci_remedy::github::summary::fix_markdown(m);
    let _ = env.append_summary(&summary);
    ci_remedy::outln!(
        "fix-agent-apply: patch {} ({} files, +{} -{}, {} refused), validation {}",
        g.decision.as_str(),
        g.files_changed,
        g.lines_added,
        g.lines_removed,
        g.refused.len(),
        m.validation.status.as_str()
    );
    for r in g.refused.iter().take(20) {
        // Paths and reasons may quote untrusted text: one line, and never a workflow command.
        ci_remedy::out!(
            "{}",
            ci_remedy::github::commands::quote_untrusted(
                &one_line(&format!("{} {}: {}", r.code, r.path, r.reason)),
                "  refused: "
            )
        );
    }
    if let Some(e) = &m.error {
        print_error(
            e,
            Some("the metadata explains what was refused; the patch is empty"),
        );
        return exit(EXIT_FAILED);
    }
    exit(EXIT_OK)
}
