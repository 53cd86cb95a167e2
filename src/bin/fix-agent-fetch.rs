//! fix-agent-fetch: download a fix-agent patch from a workflow run, check it, and optionally
//! apply it to the local checkout.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use clap::Parser;

use ci_remedy::artifact::write_atomic;
use ci_remedy::cli::{self, exit, print_error, EXIT_CODES_HELP, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use ci_remedy::fix::recheck::{verify_artifact, Verified};
use ci_remedy::github::api::artifacts::{self, read_dir_artifact, read_fix_zip, FixArtifact};
use ci_remedy::github::api::types::{Artifact, Pull};
use ci_remedy::github::api::{ApiError, GitHub, Repo};
use ci_remedy::github::commands::quote_untrusted;
use ci_remedy::policy::Policy;

const AFTER_HELP: &str = "\
The artifact is untrusted (a run can be tampered with). Before anything is written:
  the zip (or the --from-dir directory) may hold only patch-*.diff, metadata-*.json and
  input.json at its root (no `../`, absolute, control-character or extra entries; fix-agent-pr's
  pr-result-*.json is skipped), at most 32 MiB unpacked; the patch's sha256, size and file name must match the
  metadata; the guard runs again on the patch text (paths, scope, caps, Trojan-source,
  test weakening), against the patch's base commit when the local repository has it; the
  files, lines and risk class it finds must match the metadata.

Then OUT/fix-agent/patch-<run>.diff and metadata-<run>.json are written, the PR body and the
guardrail table are printed, and with --apply the patch is applied with `git apply` (the
checkout's HEAD must be the patch's base commit, unless --3way).

Environment: GITHUB_TOKEN or GH_TOKEN (actions: read), GITHUB_API_URL (default
https://api.github.com), GITHUB_REPOSITORY (default for --repo).";

/// Fetch a fix-agent patch from a workflow run, re-check it, and optionally apply it.
#[derive(Parser, Debug)]
#[command(version, after_help = format!("{AFTER_HELP}\n\n{EXIT_CODES_HELP}"))]
struct Args {
    /// OWNER/REPO [default: GITHUB_REPOSITORY].
    #[arg(long)]
    repo: Option<String>,
    /// The workflow run id.
    #[arg(long, conflicts_with_all = ["pr", "from_dir"])]
    run: Option<u64>,
    /// A pull request: its newest run with a fix-agent artifact is used.
    #[arg(long, conflicts_with = "from_dir")]
    pr: Option<u64>,
    /// Check an artifact already downloaded (`gh run download`) into DIR, without the API.
    #[arg(long, value_name = "DIR")]
    from_dir: Option<PathBuf>,
    /// The artifact name [default: the first artifact whose name starts with `fix-agent`].
    #[arg(long)]
    artifact: Option<String>,
    /// The local checkout.
    #[arg(long, default_value = ".")]
    repo_dir: PathBuf,
    /// The policy file [default: .github/ci-remedy.yml when present, else built-in defaults].
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Where the checked patch and metadata are written (OUT/fix-agent/).
    #[arg(long, default_value = ".")]
    out: PathBuf,
    /// Apply the patch to the checkout with `git apply`.
    #[arg(long)]
    apply: bool,
    /// With --apply: allow a HEAD other than the patch's base (`git apply --3way`).
    #[arg(long = "3way", requires = "apply")]
    three_way: bool,
}

/// Why fetching failed; each maps to `error:` + `help:`.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("{0}")]
    Usage(String),
    #[error("{what}")]
    Failed { what: String, help: String },
}

fn failed(what: impl Into<String>, help: impl Into<String>) -> FetchError {
    FetchError::Failed {
        what: what.into(),
        help: help.into(),
    }
}

fn main() -> ExitCode {
    let args: Args = match cli::parse_args() {
        Ok(a) => a,
        Err(code) => return code,
    };
    let policy = match cli::load_policy(
        args.policy.as_deref(),
        "fix the policy file; see docs/fix-agent.md",
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match run(&args, &policy) {
        Ok(code) => exit(code),
        Err(FetchError::Usage(m)) => {
            print_error(&m, Some("see fix-agent-fetch --help"));
            exit(EXIT_USAGE)
        }
        Err(FetchError::Api(e)) => {
            print_error(&e, Some(e.help()));
            exit(EXIT_FAILED)
        }
        Err(FetchError::Failed { what, help }) => {
            print_error(&what, Some(&help));
            exit(EXIT_FAILED)
        }
    }
}

fn run(args: &Args, policy: &Policy) -> Result<u8, FetchError> {
    let (files, origin) = match &args.from_dir {
        Some(dir) => (
            read_dir_artifact(dir).map_err(|e| {
                failed(
                    e.to_string(),
                    "pass the directory `gh run download -n fix-agent-…` wrote; it must hold only the artifact's files",
                )
            })?,
            format!("directory {}", dir.display()),
        ),
        None => fetch(args)?,
    };
    let v = verify_artifact(
        &files.metadata,
        &files.metadata_name,
        &files.patch,
        &files.patch_name,
        &args.repo_dir,
        &policy.fix_agent,
    )
    .map_err(|e| {
        failed(
            e.to_string(),
            "the artifact was not written by fix-agent-apply, or was changed",
        )
    })?;
    print_report(&v, &origin);
    if !v.ok() {
        return Err(failed(
            format!("the patch failed {} check(s); nothing was written", v.problems.len()),
            "do not apply this patch; re-run the workflow, and look into who could change its artifacts",
        ));
    }
    let dir = args.out.join("fix-agent");
    let patch_path = dir.join(&files.patch_name);
    write_atomic(&patch_path, &files.patch)
        .map_err(|e| failed(e.to_string(), "check that --out is writable"))?;
    write_atomic(&dir.join(&files.metadata_name), &files.metadata)
        .map_err(|e| failed(e.to_string(), "check that --out is writable"))?;
    ci_remedy::out!(
        "{}",
        quote_untrusted(&patch_path.display().to_string(), "patch: ")
    );
    if args.apply {
        apply(args, &v, &patch_path)?;
    }
    Ok(EXIT_OK)
}

/// Where the artifact comes from.
enum ArtifactSource {
    /// A workflow run.
    Run(u64),
    /// The newest run of a pull request's head that has one.
    Pr(u64),
}

fn fetch(args: &Args) -> Result<(FixArtifact, String), FetchError> {
    let repo_text = args
        .repo
        .clone()
        .or_else(|| std::env::var("GITHUB_REPOSITORY").ok())
        .ok_or_else(|| FetchError::Usage("no repository: pass --repo OWNER/REPO".into()))?;
    let repo = Repo::parse(&repo_text)?;
    let from = match (args.run, args.pr) {
        (Some(run), _) => ArtifactSource::Run(run),
        (None, Some(pr)) => ArtifactSource::Pr(pr),
        (None, None) => {
            return Err(FetchError::Usage(
                "pass --run RUN_ID, --pr N or --from-dir DIR".into(),
            ))
        }
    };
    let gh = GitHub::from_env()?;
    let wanted = |a: &Artifact| match &args.artifact {
        Some(n) => a.name == *n,
        None => a.name.starts_with("fix-agent"),
    };
    let (run_id, artifact) = match from {
        ArtifactSource::Run(run) => {
            let list = artifacts::list_run_artifacts(&gh, &repo, run).map_err(|e| match e {
                ApiError::NotFound { .. } => failed(
                    format!("run {run} not found in {repo}"),
                    "check the run id (gh run list) and that the token can read the repository",
                ),
                other => other.into(),
            })?;
            let a = list.into_iter().find(|a| wanted(a)).ok_or_else(|| {
                failed(
                    format!("run {run} has no fix-agent artifact"),
                    "the fix-agent step did not run or did not upload; pass --artifact NAME if it has another name",
                )
            })?;
            (run, a)
        }
        ArtifactSource::Pr(pr) => {
            let pull: Pull = gh.get_json(&format!("{}/pulls/{pr}", repo.path()))?;
            let runs = artifacts::runs_for_sha(&gh, &repo, 0, &pull.head.sha, 30)?;
            let mut found = None;
            for r in &runs {
                let list = artifacts::list_run_artifacts(&gh, &repo, r.id)?;
                if let Some(a) = list.into_iter().find(|a| wanted(a) && !a.expired) {
                    found = Some((r.id, a));
                    break;
                }
            }
            found.ok_or_else(|| {
                failed(
                    format!(
                        "no run of PR #{pr} (head {}) has a fix-agent artifact",
                        pull.head.sha.chars().take(12).collect::<String>()
                    ),
                    "artifacts expire; re-run the workflow, or pass --run",
                )
            })?
        }
    };
    let zip = artifacts::download(&gh, &repo, &artifact).map_err(|e| match e {
        ApiError::Gone { .. } => failed(
            format!("artifact {:?} of run {run_id} has expired", artifact.name),
            "artifacts are kept for the repository's retention period; re-run the workflow to make a new patch",
        ),
        other => other.into(),
    })?;
    let files = read_fix_zip(&zip).map_err(|e| {
        failed(
            e.to_string(),
            "the artifact is not what fix-agent-apply uploads; do not use it",
        )
    })?;
    Ok((
        files,
        format!(
            "run {run_id} artifact {:?} ({} bytes)",
            artifact.name,
            zip.len()
        ),
    ))
}

fn print_report(v: &Verified, origin: &str) {
    let m = &v.metadata;
    let g = &m.guardrails;
    let mut out = String::new();
    out.push_str(&quote_untrusted(origin, "fix-agent-fetch: "));
    out.push_str(&quote_untrusted(
        &format!("the guard checked against {}", v.checked_against),
        "  ",
    ));
    out.push_str("guardrails (metadata | re-check):\n");
    out.push_str(&format!(
        "  decision       {} | {}\n",
        g.decision.as_str(),
        v.plan.decision.as_str()
    ));
    out.push_str(&format!(
        "  files          {} | {}\n",
        g.files_changed, v.plan.files_changed
    ));
    out.push_str(&format!(
        "  lines          +{} -{} | +{} -{}\n",
        g.lines_added, g.lines_removed, v.plan.lines_added, v.plan.lines_removed
    ));
    out.push_str(&format!(
        "  caps           {} files, {} lines, {} bytes\n",
        g.caps.max_files, g.caps.max_changed_lines, g.caps.max_patch_bytes
    ));
    out.push_str(&format!(
        "  risk           {} | {}\n",
        m.risk.class.as_str(),
        v.risk.class.as_str()
    ));
    out.push_str(&format!(
        "  validation     {}\n",
        m.validation.status.as_str()
    ));
    out.push_str(&format!("  manual review  {}\n", m.needs_manual_review));
    for r in v.plan.refused.iter().take(20) {
        out.push_str(&quote_untrusted(
            &ci_remedy::cli::one_line(&format!("{} {}: {}", r.code, r.path, r.reason)),
            "  refused: ",
        ));
    }
    for p in &v.problems {
        out.push_str(&quote_untrusted(
            &ci_remedy::cli::one_line(&format!("{}: {}", p.code, p.detail)),
            "  PROBLEM: ",
        ));
    }
    out.push_str(&quote_untrusted(&m.pr_title, "PR title: "));
    out.push_str("PR body:\n");
    out.push_str(&quote_untrusted(&m.pr_body, "  | "));
    ci_remedy::out!("{out}");
}

fn git(
    repo: &Path,
    args: &[&str],
    patch: Option<&Path>,
) -> Result<std::process::Output, FetchError> {
    let mut c = Command::new("git");
    c.arg("-C").arg(repo).args(args);
    if let Some(p) = patch {
        c.arg(p);
    }
    c.stdin(Stdio::null())
        .output()
        .map_err(|e| failed(format!("cannot run git: {e}"), "install git"))
}

fn apply(args: &Args, v: &Verified, patch: &Path) -> Result<(), FetchError> {
    let head = git(
        &args.repo_dir,
        &["rev-parse", "--verify", "-q", "HEAD"],
        None,
    )?;
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    let base = &v.metadata.base_sha;
    if !head.eq_ignore_ascii_case(base) && !args.three_way {
        return Err(failed(
            format!("the checkout's HEAD {} is not the patch's base {base}; nothing was applied", if head.is_empty() { "(none)" } else { &head }),
            format!("git checkout {base} first, or pass --3way to merge the patch into the current HEAD"),
        ));
    }
    let patch = std::path::absolute(patch).map_err(|e| failed(e.to_string(), "check --out"))?;
    let mut check: Vec<&str> = vec!["apply", "--check"];
    let mut real: Vec<&str> = vec!["apply"];
    if args.three_way {
        check.push("--3way");
        real.push("--3way");
    }
    let c = git(&args.repo_dir, &check, Some(&patch))?;
    if !c.status.success() {
        let err = String::from_utf8_lossy(&c.stderr);
        ci_remedy::out!("{}", quote_untrusted(err.trim_end(), "  git: "));
        let help = if args.three_way || !head.eq_ignore_ascii_case(base) {
            "the checkout differs from the patch's base; check out the base commit"
        } else {
            // HEAD is the base: what is in the way is local (uncommitted or untracked files),
            // or git itself refuses a path; merging would not make that safe.
            "HEAD is the patch's base, so the working tree is in the way (uncommitted or untracked files, or a path git refuses); run git status and do not force it"
        };
        return Err(failed(
            "git apply --check refused the patch; nothing was applied",
            help,
        ));
    }
    let r = git(&args.repo_dir, &real, Some(&patch))?;
    if !r.status.success() {
        let err = String::from_utf8_lossy(&r.stderr);
        ci_remedy::out!("{}", quote_untrusted(err.trim_end(), "  git: "));
        return Err(failed(
            "git apply failed",
            "run git status and resolve what it lists",
        ));
    }
    ci_remedy::outln!(
        "applied to {} ({} file(s)); review with git diff",
        args.repo_dir.display(),
        v.plan.files_changed
    );
    Ok(())
}
