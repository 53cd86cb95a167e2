//! Re-checking a patch where it is consumed (a downloaded artifact, a patch a job is about to
//! open a PR from). The patch text is untrusted: a run, or its artifact, can be tampered with.
//!
//! - [`check_patch`] runs the same guard `fix-agent-apply` runs ([`super::apply::plan`]) on
//!   the patch text: every path, scope, size, Trojan-source and test-weakening check.
//! - [`verify_artifact`] also checks the metadata against the patch: schema, file name,
//!   sha256, byte count, the guard's decision, the counts of files and lines, and the risk
//!   class recomputed from the policy. The guard runs against the patch's BASE commit when the
//!   local repository has it (the touched files are read with `git` into a temporary
//!   directory), else against the working tree.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::artifact::{Edit, FixMetadata, GuardDecision, Instruction, Risk, FIX_METADATA_SCHEMA};
use crate::policy::fix_agent::FixAgentPolicy;

use super::apply::{plan, Plan};
use super::path::verify_path;
use super::{pr, sha256_hex, udiff};

/// Runs the guard on `text` as one `patch` edit (source `downloaded-patch`) against the tree
/// at `repo` (read only). The plan's `decision` is `accepted` only when every check passes.
pub fn check_patch(text: &str, repo: &Path, policy: &FixAgentPolicy) -> Plan {
    let instruction = Instruction {
        summary: "re-check of a downloaded patch".into(),
        source: Some("downloaded-patch".into()),
        edits: vec![Edit::Patch {
            diff: text.to_string(),
        }],
    };
    plan(&[instruction], repo, policy)
}

/// One way the metadata and the patch disagree, or the guard refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `schema`, `patch_file`, `sha256`, `patch_bytes`, `not_accepted`, `not_utf8`,
    /// `guard`, `counts`, `risk`, `base_sha`.
    pub code: &'static str,
    /// One sentence (may quote untrusted text; print it through `quote_untrusted`).
    pub detail: String,
}

/// The result of [`verify_artifact`].
#[derive(Debug, Clone)]
pub struct Verified {
    /// The metadata as read (untrusted: use [`Verified::risk`], not `metadata.risk`).
    pub metadata: FixMetadata,
    /// The patch text (lossy when it was not UTF-8; then a problem is listed).
    pub patch: String,
    /// The guard's plan on the patch text.
    pub plan: Plan,
    /// The risk recomputed from the plan's files and the policy.
    pub risk: Risk,
    /// Everything wrong; empty when the patch may be used.
    pub problems: Vec<Problem>,
    /// What tree the guard checked against, one sentence.
    pub checked_against: String,
}

impl Verified {
    /// True when nothing is wrong.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Errors that stop verification before the guard runs.
#[derive(Debug, thiserror::Error)]
pub enum RecheckError {
    /// The metadata is not a fix metadata artifact.
    #[error("the metadata {name} is not valid: {message}")]
    Metadata {
        /// The entry or file name.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// Verifies a fix-agent artifact: `metadata` (bytes of `metadata-*.json`, named
/// `metadata_name`), `patch` (bytes of the entry or file named `patch_name`) against the repo
/// at `repo` and the `policy`. Errors only when the metadata cannot be read at all; every
/// other problem is listed in [`Verified::problems`].
pub fn verify_artifact(
    metadata: &[u8],
    metadata_name: &str,
    patch: &[u8],
    patch_name: &str,
    repo: &Path,
    policy: &FixAgentPolicy,
) -> Result<Verified, RecheckError> {
    let bad = |message: String| RecheckError::Metadata {
        name: metadata_name.to_string(),
        message,
    };
    let meta: FixMetadata =
        serde_json::from_slice(metadata).map_err(|e| bad(format!("not fix metadata: {e}")))?;
    if meta.schema != FIX_METADATA_SCHEMA {
        return Err(bad(format!(
            "schema is {:?}, expected {FIX_METADATA_SCHEMA:?}",
            meta.schema.chars().take(80).collect::<String>()
        )));
    }
    let mut problems = Vec::new();
    let mut p = |code, detail: String| problems.push(Problem { code, detail });
    if meta.patch_file != patch_name {
        p(
            "patch_file",
            format!(
                "the metadata names patch {:?} but the patch is {:?}",
                meta.patch_file.chars().take(100).collect::<String>(),
                patch_name
            ),
        );
    }
    let sha = sha256_hex(patch);
    if !meta.patch_sha256.eq_ignore_ascii_case(&sha) {
        p(
            "sha256",
            format!(
                "the patch's sha256 is {sha}, the metadata says {}",
                meta.patch_sha256.chars().take(64).collect::<String>()
            ),
        );
    }
    if meta.patch_bytes != patch.len() as u64 {
        p(
            "patch_bytes",
            format!(
                "the patch is {} bytes, the metadata says {}",
                patch.len(),
                meta.patch_bytes
            ),
        );
    }
    if meta.guardrails.decision != GuardDecision::Accepted || patch.is_empty() {
        p(
            "not_accepted",
            format!(
                "the guard's decision in the metadata is {} and the patch is {} bytes; there is nothing to apply",
                meta.guardrails.decision.as_str(),
                patch.len()
            ),
        );
    }
    let base = crate::github::api::check_sha(&meta.base_sha).ok();
    if base.is_none() {
        p(
            "base_sha",
            "the metadata's base_sha is not a commit sha (40 or 64 hex digits)".to_string(),
        );
    }
    let text = match std::str::from_utf8(patch) {
        Ok(t) => t.to_string(),
        Err(_) => {
            p("not_utf8", "the patch is not valid UTF-8".to_string());
            String::from_utf8_lossy(patch).into_owned()
        }
    };
    let snapshot = base.and_then(|b| base_snapshot(repo, b, &text));
    let (tree, checked_against) = match &snapshot {
        Some(dir) => (
            dir.path().to_path_buf(),
            format!(
                "the base commit {} read from the local repository",
                meta.base_sha
            ),
        ),
        None => (
            repo.to_path_buf(),
            "the working tree (the base commit is not in the local repository)".to_string(),
        ),
    };
    let plan = check_patch(&text, &tree, policy);
    if plan.decision != GuardDecision::Accepted {
        let why: Vec<String> = plan
            .refused
            .iter()
            .take(5)
            .map(|r| format!("{} {}: {}", r.code, r.path, r.reason))
            .collect();
        p(
            "guard",
            format!(
                "the guard {} the patch: {}",
                plan.decision.as_str(),
                if why.is_empty() {
                    "it changes nothing".to_string()
                } else {
                    why.join("; ")
                }
            ),
        );
    } else {
        let g = &meta.guardrails;
        if (g.files_changed, g.lines_added, g.lines_removed)
            != (plan.files_changed, plan.lines_added, plan.lines_removed)
        {
            p(
                "counts",
                format!(
                    "the patch changes {} file(s), +{} -{} lines; the metadata says {} file(s), +{} -{}",
                    plan.files_changed,
                    plan.lines_added,
                    plan.lines_removed,
                    g.files_changed,
                    g.lines_added,
                    g.lines_removed
                ),
            );
        }
    }
    let paths: Vec<String> = plan.diffs.iter().map(|d| d.path.clone()).collect();
    let risk = pr::risk(
        &paths,
        plan.lines_added.saturating_add(plan.lines_removed),
        policy,
    );
    if plan.decision == GuardDecision::Accepted && risk.class != meta.risk.class {
        p(
            "risk",
            format!(
                "the patch's risk class is {}, the metadata says {}",
                risk.class.as_str(),
                meta.risk.class.as_str()
            ),
        );
    }
    Ok(Verified {
        metadata: meta,
        patch: text,
        plan,
        risk,
        problems,
        checked_against,
    })
}

/// Runs `git -C repo args…` (argv, standard input empty, standard error dropped); its
/// standard output when it exits 0.
pub(crate) fn git(repo: &Path, args: &[&str]) -> Option<Vec<u8>> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout)
}

/// Writes the base-commit versions of the files `patch` names (and `.gitmodules`) into a
/// temporary directory, with their modes; `None` when `repo` is not a git repository or does
/// not have `base`. Paths that fail [`verify_path`] are skipped (the guard refuses them).
fn base_snapshot(repo: &Path, base: &str, patch: &str) -> Option<tempfile::TempDir> {
    let commit = format!("{base}^{{commit}}");
    git(repo, &["cat-file", "-e", &commit])?;
    let mut paths: Vec<String> = vec![".gitmodules".into()];
    if let Ok(files) = udiff::parse(patch) {
        for f in files {
            for p in [f.old.as_deref(), f.new.as_deref()].into_iter().flatten() {
                if verify_path(p).is_ok() && !paths.iter().any(|x| x == p) {
                    paths.push(p.to_string());
                }
            }
        }
    }
    let dir = tempfile::tempdir().ok()?;
    let mut args = vec!["ls-tree", "-z", base, "--"];
    args.extend(paths.iter().map(String::as_str));
    let listing = git(repo, &args)?;
    for rec in listing.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let rec = String::from_utf8_lossy(rec);
        let Some((info, path)) = rec.split_once('\t') else {
            continue;
        };
        let mut parts = info.split(' ');
        let (mode, kind, sha) = (parts.next()?, parts.next()?, parts.next()?);
        if verify_path(path).is_err() || !paths.iter().any(|x| x == path) {
            continue;
        }
        let target: PathBuf = dir.path().join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).ok()?;
        }
        match (mode, kind) {
            ("120000", "blob") => {
                let link = git(repo, &["cat-file", "blob", sha])?;
                std::os::unix::fs::symlink(String::from_utf8_lossy(&link).as_ref(), &target)
                    .ok()?;
            }
            (_, "blob") => {
                let data = git(repo, &["cat-file", "blob", sha])?;
                std::fs::write(&target, data).ok()?;
                if mode == "100755" {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))
                        .ok()?;
                }
            }
            _ => {
                // A submodule (commit) or tree: leave a directory so the guard sees it is not a file.
                std::fs::create_dir_all(&target).ok()?;
            }
        }
    }
    Some(dir)
}
