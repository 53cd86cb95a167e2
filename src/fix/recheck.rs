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

use crate::artifact::{
    Edit, FixMetadata, GuardDecision, Instruction, Refusal, Risk, FIX_METADATA_SCHEMA,
};
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
    let mut plan = plan(&[instruction], repo, policy);
    if plan.decision == GuardDecision::Accepted {
        if let Err(why) = cross_check(text) {
            plan.refused.push(Refusal {
                instruction: Some(0),
                edit: Some(0),
                path: "*".into(),
                code: "git_disagrees".into(),
                reason: why,
            });
            plan.decision = GuardDecision::Rejected;
            plan.files.clear();
            plan.patch.clear();
            plan.applied.clear();
        }
    }
    plan
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
    let base = crate::digest::is_commit_sha(&meta.base_sha).then_some(meta.base_sha.as_str());
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

/// Every path `patch` names ([`udiff::parse_sections`], rename sources too) that passes
/// [`verify_path`], with each of its parent directories, parents first.
fn paths_and_parents(patch: &str) -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    let mut add = |p: &str| {
        if !paths.iter().any(|x| x == p) {
            paths.push(p.to_string());
        }
    };
    if let Ok(files) = udiff::parse_sections(patch) {
        for f in &files {
            for p in f.paths() {
                if verify_path(p).is_err() {
                    continue;
                }
                let mut at = 0;
                while let Some(k) = p[at..].find('/') {
                    add(&p[..at + k]);
                    at += k + 1;
                }
                add(p);
            }
        }
    }
    paths
}

/// Writes the base-commit versions of the files `patch` names (and `.gitmodules`) into a
/// temporary directory, with their modes, and every parent directory of those paths as the
/// base tree has it: a symbolic link stays a link (so the guard names it), a file stays a
/// file, a submodule becomes a directory holding a `.git` file. `None` when `repo` is not a
/// git repository or does not have `base`. Paths that fail [`verify_path`] are skipped (the
/// guard refuses them).
fn base_snapshot(repo: &Path, base: &str, patch: &str) -> Option<tempfile::TempDir> {
    let commit = format!("{base}^{{commit}}");
    git(repo, &["cat-file", "-e", &commit])?;
    let mut paths: Vec<String> = vec![".gitmodules".into()];
    for p in paths_and_parents(patch) {
        if !paths.contains(&p) {
            paths.push(p);
        }
    }
    let dir = tempfile::tempdir().ok()?;
    let mut args = vec!["ls-tree", "-z", base, "--"];
    args.extend(paths.iter().map(String::as_str));
    let listing = git(repo, &args)?;
    let mut entries: Vec<(String, String, String, String)> = Vec::new();
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
        entries.push((
            path.to_string(),
            mode.to_string(),
            kind.to_string(),
            sha.to_string(),
        ));
    }
    // Parents first: a link or file in the way of a deeper path is written, the deeper one not.
    entries.sort_by_key(|e| e.0.matches('/').count());
    for (path, mode, kind, sha) in &entries {
        let target: PathBuf = dir.path().join(path);
        if let Some(parent) = target.parent() {
            // A parent that is a link or a file in the base tree: nothing below it exists.
            if std::fs::create_dir_all(parent).is_err() {
                continue;
            }
            if parent
                .symlink_metadata()
                .map(|m| !m.file_type().is_dir())
                .unwrap_or(true)
            {
                continue;
            }
        }
        match (mode.as_str(), kind.as_str()) {
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
            (_, "commit") => {
                // A submodule: a directory with a `.git`, as a checkout has it.
                std::fs::create_dir_all(&target).ok()?;
                std::fs::write(
                    target.join(".git"),
                    "gitdir: (submodule of the base tree)\n",
                )
                .ok()?;
            }
            _ => {
                std::fs::create_dir_all(&target).ok()?;
            }
        }
    }
    Some(dir)
}

/// What `git apply --numstat --summary -z` says a patch touches: for each section (as git
/// keys it: the new name, else the old) the lines added and removed (`None` for binary),
/// and every path, rename and copy sources included.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GitTouches {
    /// (path, added, removed) per section, sorted.
    pub sections: Vec<(String, Option<(u64, u64)>)>,
    /// Every path, sorted, once each.
    pub paths: Vec<String>,
}

/// Why git's view of a patch could not be had.
#[derive(Debug, thiserror::Error)]
pub enum CrossCheckError {
    /// `git` could not be run.
    #[error("cannot run git apply --numstat: {0}")]
    Spawn(std::io::Error),
    /// `git apply` refused the patch (its first lines of standard error).
    #[error("git apply --numstat refused the patch: {0}")]
    Refused(String),
    /// Its output is not what this parser understands.
    #[error("git apply --numstat --summary printed a line this check does not understand: {0:?}")]
    Output(String),
}

/// Runs the real `git apply --numstat --summary -z` on `patch` (standard input), in an empty
/// temporary directory outside any repository (so no subdirectory prefix or repository
/// configuration changes what git reads), without applying anything, and reads which paths
/// git would touch. The `-z` numstat records are `added\tremoved\tpath\0` (`-\t-\t` for
/// binary); the summary lines (` create mode …`, ` delete mode …`, ` mode change …`,
/// ` rename a => b (n%)`, ` copy {a => b}/c (n%)`, ` rewrite …`) give rename and copy sources.
pub fn git_touches(patch: &str) -> Result<GitTouches, CrossCheckError> {
    use std::io::Write;
    let dir = tempfile::tempdir().map_err(CrossCheckError::Spawn)?;
    let ceiling = dir
        .path()
        .parent()
        .map(|p| p.as_os_str().to_owned())
        .unwrap_or_default();
    let mut child = Command::new("git")
        .args(["apply", "--numstat", "--summary", "-z", "-"])
        .current_dir(dir.path())
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env("GIT_CEILING_DIRECTORIES", ceiling)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(CrossCheckError::Spawn)?;
    let mut stdin = child.stdin.take();
    let data = patch.as_bytes().to_vec();
    let writer = std::thread::spawn(move || {
        if let Some(s) = stdin.as_mut() {
            let _ = s.write_all(&data);
        }
    });
    let out = child.wait_with_output().map_err(CrossCheckError::Spawn)?;
    let _ = writer.join();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first: Vec<&str> = err.lines().take(3).collect();
        return Err(CrossCheckError::Refused(first.join(" / ")));
    }
    parse_touches(&out.stdout)
}

/// Reads `git apply --numstat --summary -z` output (see [`git_touches`]).
pub fn parse_touches(stdout: &[u8]) -> Result<GitTouches, CrossCheckError> {
    let text = String::from_utf8_lossy(stdout);
    let bad = |s: &str| CrossCheckError::Output(s.chars().take(200).collect());
    let mut t = GitTouches::default();
    let mut paths: Vec<String> = Vec::new();
    let mut rest: &str = &text;
    // The numstat records come first, each NUL-terminated; the summary lines follow.
    while let Some(end) = rest.find('\0') {
        let rec = &rest[..end];
        if rec.starts_with(' ') {
            break;
        }
        let mut f = rec.splitn(3, '\t');
        let (a, r, p) = (f.next(), f.next(), f.next());
        let (Some(a), Some(r), Some(p)) = (a, r, p) else {
            return Err(bad(rec));
        };
        let counts = match (a, r) {
            ("-", "-") => None,
            _ => Some((
                a.parse().map_err(|_| bad(rec))?,
                r.parse().map_err(|_| bad(rec))?,
            )),
        };
        if p.is_empty() {
            // A rename record in the `\0old\0new\0` form (newer git): read both names.
            let after = &rest[end + 1..];
            let mut it = after.splitn(3, '\0');
            let (Some(old), Some(new)) = (it.next(), it.next()) else {
                return Err(bad(rec));
            };
            paths.push(old.to_string());
            paths.push(new.to_string());
            t.sections.push((new.to_string(), counts));
            rest = it.next().unwrap_or("");
            continue;
        }
        paths.push(p.to_string());
        t.sections.push((p.to_string(), counts));
        rest = &rest[end + 1..];
    }
    for line in rest.split('\n').filter(|l| !l.is_empty()) {
        let l = line.strip_prefix(' ').ok_or_else(|| bad(line))?;
        if l.starts_with("create mode ")
            || l.starts_with("delete mode ")
            || l.starts_with("mode change ")
            || l.starts_with("rewrite ")
        {
            // The path is already in the numstat records.
            continue;
        }
        let body = l
            .strip_prefix("rename ")
            .or_else(|| l.strip_prefix("copy "))
            .ok_or_else(|| bad(line))?;
        // `<names> (<n>%)`
        let names = match body.rfind(" (") {
            Some(k) if body.ends_with("%)") => &body[..k],
            _ => return Err(bad(line)),
        };
        let (old, new) = match (names.find('{'), names.rfind('}')) {
            (Some(o), Some(c)) if o < c => {
                let (prefix, inner, suffix) = (&names[..o], &names[o + 1..c], &names[c + 1..]);
                let (a, b) = inner.split_once(" => ").ok_or_else(|| bad(line))?;
                (
                    format!("{prefix}{a}{suffix}"),
                    format!("{prefix}{b}{suffix}"),
                )
            }
            _ => {
                let (a, b) = names.split_once(" => ").ok_or_else(|| bad(line))?;
                (a.to_string(), b.to_string())
            }
        };
        paths.push(old.replace("//", "/"));
        paths.push(new.replace("//", "/"));
    }
    paths.sort();
    paths.dedup();
    t.paths = paths;
    t.sections.sort();
    Ok(t)
}

/// What the guard read from `patch` in the same shape as [`GitTouches`] (`None` when the
/// parser refuses it).
pub fn guard_touches(patch: &str) -> Option<GitTouches> {
    let files = udiff::parse_sections(patch).ok()?;
    let mut t = GitTouches::default();
    for f in &files {
        t.sections.push((f.path().to_string(), Some(f.counts())));
        t.paths.extend(f.paths().into_iter().map(str::to_string));
    }
    t.paths.sort();
    t.paths.dedup();
    t.sections.sort();
    Some(t)
}

/// Compares the paths git itself would touch ([`git_touches`]) with those the guard checked
/// ([`guard_touches`]): equal path sets and equal per-section line counts, else a sentence
/// saying what differs.
pub fn cross_check(patch: &str) -> Result<(), String> {
    let Some(ours) = guard_touches(patch) else {
        return Err("the guard's parser refused the patch".into());
    };
    let theirs = git_touches(patch).map_err(|e| e.to_string())?;
    if ours.paths != theirs.paths {
        let only = |a: &[String], b: &[String]| -> Vec<String> {
            a.iter()
                .filter(|p| !b.contains(p))
                .take(5)
                .map(|p| super::apply::shown_path(p))
                .collect()
        };
        return Err(format!(
            "git would touch {} path(s), the guard checked {}; only git: [{}]; only the guard: [{}]",
            theirs.paths.len(),
            ours.paths.len(),
            only(&theirs.paths, &ours.paths).join(", "),
            only(&ours.paths, &theirs.paths).join(", ")
        ));
    }
    if ours.sections != theirs.sections {
        return Err(format!(
            "git counts the sections' lines differently: git {:?}, guard {:?}",
            theirs.sections.iter().take(5).collect::<Vec<_>>(),
            ours.sections.iter().take(5).collect::<Vec<_>>()
        ));
    }
    Ok(())
}
