//! ci-comment: one sticky PR comment built from a run's artifacts, created once and updated
//! in place.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use ci_remedy::cli::{
    self, exit, print_error, print_warning, EXIT_CODES_HELP, EXIT_FAILED, EXIT_OK, EXIT_USAGE,
};
use ci_remedy::github::api::comment::{
    build_body, marker, pr_from_event, upsert, CommentInputs, RunLink,
};
use ci_remedy::github::api::{ApiError, GitHub, Repo};
use ci_remedy::github::commands::ActionsEnv;

const AFTER_HELP: &str = "\
Reads DIR/self-heal/context.json, decision.json, report-*.json and DIR/fix-agent/metadata-*.json
(each optional) and writes one Markdown comment: classification and top evidence, self-heal gates
and outcome, the patch summary and how to apply it. The comment starts with a hidden marker
(<!-- ci-remedy:sticky-comment KEY -->); the comment with that marker is updated, so there is
never a second one.

It skips (exit 0, says why) when there is no PR, no token, or the token may not comment
(403/404). Needs `pull-requests: write` (or `issues: write`).

Step outputs: comment-action (created | updated | unchanged | skipped), comment-url.";

/// Create or update the ci-remedy comment on a pull request.
#[derive(Parser, Debug)]
#[command(version, after_help = format!("{AFTER_HELP}\n\n{EXIT_CODES_HELP}"))]
struct Args {
    /// The directory holding self-heal/ and fix-agent/ (the action's `out`).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// OWNER/REPO [default: GITHUB_REPOSITORY].
    #[arg(long)]
    repo: Option<String>,
    /// The PR number [default: from GITHUB_EVENT_PATH or GITHUB_REF].
    #[arg(long)]
    pr: Option<u64>,
    /// The run id the artifacts came from [default: GITHUB_RUN_ID].
    #[arg(long)]
    run: Option<String>,
    /// The fix-agent artifact name shown in the apply instructions [default: fix-agent].
    #[arg(long, default_value = "fix-agent")]
    artifact: String,
    /// The marker key: workflows with different keys keep separate comments.
    #[arg(long, default_value = "default")]
    key: String,
    /// Only update a marked comment written by this login (for example github-actions[bot]).
    #[arg(long)]
    author: Option<String>,
    /// Print the comment instead of posting it.
    #[arg(long)]
    dry_run: bool,
}

fn skip(env: &ActionsEnv, why: &str) -> ExitCode {
    // `why` can quote GitHub's error message: untrusted.
    ci_remedy::out!(
        "{}",
        ci_remedy::github::commands::quote_untrusted(
            &ci_remedy::cli::one_line(why),
            "ci-comment: skipped: "
        )
    );
    let _ = env.set_outputs(&[
        ("comment-action", "skipped".to_string()),
        ("comment-url", String::new()),
    ]);
    exit(EXIT_OK)
}

fn main() -> ExitCode {
    let args: Args = match cli::parse_args() {
        Ok(a) => a,
        Err(code) => return code,
    };
    let env = ActionsEnv::from_env();
    let inputs = CommentInputs::load(&args.dir);
    for u in &inputs.unreadable {
        print_warning(u);
    }
    let repo_text = args
        .repo
        .clone()
        .or_else(|| std::env::var("GITHUB_REPOSITORY").ok())
        .unwrap_or_default();
    // The run the patch came from (its metadata) beats this run's id: in a `workflow_run` job
    // they differ, and the apply instructions must name the run that holds the artifact.
    let run_id = args
        .run
        .clone()
        .or_else(|| {
            inputs
                .metadata
                .as_ref()
                .map(|m| m.run.run_id.clone())
                .filter(|id| id != ci_remedy::github::env::LOCAL)
        })
        .or_else(|| std::env::var("GITHUB_RUN_ID").ok())
        .unwrap_or_else(|| "RUN_ID".into());
    let link = RunLink {
        repo: if repo_text.is_empty() {
            "OWNER/REPO".into()
        } else {
            repo_text.clone()
        },
        run_id,
        artifact: args.artifact.clone(),
    };
    let body = build_body(&args.key, &inputs, &link);
    if args.dry_run {
        ci_remedy::out!(
            "{}",
            ci_remedy::github::commands::quote_untrusted(&body, "")
        );
        return exit(EXIT_OK);
    }
    if inputs.is_empty() {
        return skip(
            &env,
            &format!("no ci-remedy artifacts under {}", args.dir.display()),
        );
    }
    let pr = args.pr.or_else(|| {
        pr_from_event(
            std::env::var_os("GITHUB_EVENT_PATH")
                .map(PathBuf::from)
                .as_deref(),
            std::env::var("GITHUB_REF").ok().as_deref(),
        )
    });
    let Some(pr) = pr else {
        return skip(&env, "this run is not for a pull request (pass --pr N)");
    };
    let repo = match Repo::parse(&repo_text) {
        Ok(r) => r,
        Err(e) => {
            print_error(&e, Some("pass --repo OWNER/REPO or set GITHUB_REPOSITORY"));
            return exit(EXIT_USAGE);
        }
    };
    let gh = match GitHub::from_env() {
        Ok(g) => g,
        Err(ApiError::NoToken) => return skip(&env, "no GITHUB_TOKEN or GH_TOKEN"),
        Err(e) => {
            print_error(&e, Some(e.help()));
            return exit(EXIT_USAGE);
        }
    };
    match upsert(
        &gh,
        &repo,
        pr,
        &marker(&args.key),
        &body,
        args.author.as_deref(),
    ) {
        Ok(u) => {
            ci_remedy::outln!(
                "ci-comment: {} comment {} on PR #{pr}",
                u.action.as_str(),
                u.id
            );
            let _ = env.set_outputs(&[
                ("comment-action", u.action.as_str().to_string()),
                ("comment-url", u.url),
            ]);
            exit(EXIT_OK)
        }
        Err(
            e @ (ApiError::Forbidden { .. }
            | ApiError::NotFound { .. }
            | ApiError::Unauthorized { .. }),
        ) => skip(
            &env,
            &format!("no permission to comment ({e}); grant pull-requests: write"),
        ),
        Err(e) => {
            print_error(&e, Some(e.help()));
            exit(EXIT_FAILED)
        }
    }
}
