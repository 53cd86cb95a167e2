//! fix-agent-pr: open a DRAFT pull request from a fix-agent patch, only when every policy gate
//! passes (off by default).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use clap::Parser;

use ci_remedy::artifact::{write_json_atomic, RunInfo};
use ci_remedy::cli::{
    self, exit, one_line, print_error, EXIT_CODES_HELP, EXIT_FAILED, EXIT_OK, EXIT_USAGE,
};
use ci_remedy::fix::recheck::verify_artifact;
use ci_remedy::github::api::artifacts::read_dir_artifact;
use ci_remedy::github::api::comment::pr_from_event;
use ci_remedy::github::api::fix_pr::{run, PrRequest};
use ci_remedy::github::api::{GitHub, Repo};
use ci_remedy::github::commands::{quote_untrusted, ActionsEnv};

const AFTER_HELP: &str = "\
Gates (all must pass; see docs/github-api.md): enabled, risk (recomputed from the patch),
changed_lines, validation (passed), guard (the patch matches its metadata's sha256 and counts
and the guard accepts it again), fork (pull_request_target from a fork is refused unless
fix-agent-pr.allow-fork), opt_in_label, open_limit and hourly_limit (counted from the API by
the agent label).

The branch and commit are made with the Git Data API (blobs, tree, commit, ref); the PR is a
draft with the agent label. Events caused by GITHUB_TOKEN start no workflows: pass
--dispatch ci.yml to dispatch the CI workflow on the new branch (needs actions: write).

Writes OUT/fix-agent/pr-result-<run>.json (schema ci-remedy/fix-pr-result/v1) with the PR URL
or every gate that failed. Step outputs: opened, pr-url.
Token permissions: contents: write, pull-requests: write.";

/// Open a draft PR from a fix-agent patch when the policy allows it.
#[derive(Parser, Debug)]
#[command(version, after_help = format!("{AFTER_HELP}\n\n{EXIT_CODES_HELP}"))]
struct Args {
    /// The directory holding patch-*.diff and metadata-*.json (the fix-agent artifact).
    #[arg(long, default_value = "fix-agent")]
    patch_dir: PathBuf,
    /// The local checkout at (or containing) the patch's base commit.
    #[arg(long, default_value = ".")]
    repo_dir: PathBuf,
    /// OWNER/REPO [default: GITHUB_REPOSITORY].
    #[arg(long)]
    repo: Option<String>,
    /// The PR the failure happened on [default: from GITHUB_EVENT_PATH or GITHUB_REF].
    #[arg(long)]
    source_pr: Option<u64>,
    /// The branch to open the PR against [default: the source PR's branch when it is in this
    /// repository, else the default branch].
    #[arg(long)]
    base: Option<String>,
    /// A workflow file to dispatch on the new branch (e.g. ci.yml).
    #[arg(long)]
    dispatch: Option<String>,
    /// The policy file [default: .github/ci-remedy.yml when present, else built-in defaults].
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Where the result goes (OUT/fix-agent/pr-result-<run>.json).
    #[arg(long, default_value = ".")]
    out: PathBuf,
}

fn main() -> ExitCode {
    let args: Args = match cli::parse_args() {
        Ok(a) => a,
        Err(code) => return code,
    };
    let policy = match cli::load_policy(
        args.policy.as_deref(),
        "fix the policy file; see docs/github-api.md for its keys",
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let repo_text = args
        .repo
        .clone()
        .or_else(|| std::env::var("GITHUB_REPOSITORY").ok())
        .unwrap_or_default();
    let repo = match Repo::parse(&repo_text) {
        Ok(r) => r,
        Err(e) => {
            print_error(&e, Some("pass --repo OWNER/REPO or set GITHUB_REPOSITORY"));
            return exit(EXIT_USAGE);
        }
    };
    let files = match read_dir_artifact(&args.patch_dir) {
        Ok(f) => f,
        Err(e) => {
            print_error(
                &format!("--patch-dir {}: {e}", args.patch_dir.display()),
                Some("download the fix-agent artifact into --patch-dir first; it must hold only patch-*.diff, metadata-*.json and input.json"),
            );
            return exit(EXIT_FAILED);
        }
    };
    let verified = match verify_artifact(
        &files.metadata,
        &files.metadata_name,
        &files.patch,
        &files.patch_name,
        &args.repo_dir,
        &policy.fix_agent,
    ) {
        Ok(v) => v,
        Err(e) => {
            print_error(
                &e,
                Some("the artifact was not written by fix-agent-apply, or was changed"),
            );
            return exit(EXIT_FAILED);
        }
    };
    let run_info = RunInfo::from_env();
    let source_pr = args.source_pr.or_else(|| {
        pr_from_event(
            std::env::var_os("GITHUB_EVENT_PATH")
                .map(PathBuf::from)
                .as_deref(),
            std::env::var("GITHUB_REF").ok().as_deref(),
        )
    });
    let gh = if policy.fix_agent_pr.enabled {
        match GitHub::from_env() {
            Ok(g) => Some(g),
            Err(e) => {
                print_error(&e, Some(e.help()));
                None
            }
        }
    } else {
        None
    };
    let req = PrRequest {
        repo,
        verified: &verified,
        policy: &policy.fix_agent_pr,
        run: run_info.clone(),
        source_pr,
        base_branch: args.base.clone(),
        dispatch: args.dispatch.clone(),
        now: SystemTime::now(),
    };
    let result = run(gh.as_ref(), &req);
    let path = args.out.join("fix-agent").join(format!(
        "pr-result-{}.json",
        run_info.run_id_for_file_name()
    ));
    if let Err(e) = write_json_atomic(&path, &result) {
        print_error(&e, Some("check that --out is writable"));
        return exit(EXIT_FAILED);
    }
    let mut out = String::new();
    for g in &result.gates {
        let prefix = format!(
            "  {} {:<14} ",
            if g.passed { "pass" } else { "FAIL" },
            g.name
        );
        out.push_str(&quote_untrusted(&one_line(&g.detail), &prefix));
    }
    ci_remedy::out!("{out}");
    match (&result.pr_url, result.opened) {
        (Some(url), true) => {
            ci_remedy::out!("{}", quote_untrusted(url, "fix-agent-pr: opened draft PR "))
        }
        _ => ci_remedy::outln!("fix-agent-pr: no PR opened"),
    }
    ci_remedy::outln!("result: {}", path.display());
    let _ = ActionsEnv::from_env().set_outputs(&[
        ("opened", result.opened.to_string()),
        ("pr-url", result.pr_url.clone().unwrap_or_default()),
    ]);
    if let Some(e) = &result.error {
        print_error(
            e,
            Some("the result file lists the gates evaluated before the error"),
        );
        return exit(EXIT_FAILED);
    }
    exit(EXIT_OK)
}
