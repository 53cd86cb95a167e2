//! The payload's repository section, both sides of it.
//!
//! - [`collect`] (`ci-logs-ship`): walks the checkout into a bounded file listing and reads
//!   the few files whose contents the built-in fix recipes need
//!   ([`recipes::files_wanted`]), redacted like the logs.
//! - [`run_recipes`] (the Developer-Agent): rebuilds that view in a private temporary
//!   directory ([`materialize`]: listed paths become empty files, sent files get their text)
//!   and runs [`recipes::run_all`] on it, so the answer can carry the same instructions
//!   `fix-agent-prepare` would make from the real checkout.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::artifact::{Instruction, Redactions};
use crate::fix::path::{check_on_disk, verify_path, OnDisk};
use crate::fix::recipes::{self, EvidenceLine};
use crate::fix::{validate_instructions, MAX_INSTRUCTIONS};
use crate::logs::redact::Redactor;
use crate::policy::fix_agent::FixAgentPolicy;

use super::payload::{
    RepositoryFile, RepositorySnapshot, MAX_REPOSITORY_CONTENT_BYTES, MAX_REPOSITORY_LISTING_BYTES,
};

/// Directories never listed, at any depth.
pub const SKIPPED_DIRS: &[&str] = &[".git", "target", "node_modules"];
/// The `source` of every instruction the Developer-Agent answers with.
pub const ANSWER_SOURCE: &str = "developer-agent";

/// How much of the checkout [`collect`] sends (the policy's `ship.repository-*` keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepositoryLimits {
    /// Most paths listed.
    pub max_paths: usize,
    /// Most files sent with contents.
    pub max_files: usize,
    /// The largest file sent with its contents, bytes.
    pub max_file_bytes: usize,
}

/// A repository section and what was left out of it.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    /// The section to send.
    pub snapshot: RepositorySnapshot,
    /// Files the recipes would read that were not sent, one line each: `path: reason`
    /// (binary, not UTF-8, over a cap).
    pub skipped: Vec<String>,
}

/// Errors of [`collect`].
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    /// The checkout directory cannot be read.
    #[error("cannot read the repository {path}: {source}")]
    Unreadable {
        /// The directory.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Builds the repository section for `repo`:
///
/// - `paths`: every regular file (no symlinks), relative with `/`, that passes
///   [`verify_path`] and that the redactor leaves unchanged, walked in file-name order;
///   [`SKIPPED_DIRS`] and nested repositories (a directory holding `.git`) are not entered.
///   At most `limits.max_paths` paths and [`MAX_REPOSITORY_LISTING_BYTES`] of them; `truncated`
///   says when the walk stopped early.
/// - `files`: [`recipes::files_wanted`] for `lines`, in its order, at most `limits.max_files`,
///   each at most `limits.max_file_bytes` and [`MAX_REPOSITORY_CONTENT_BYTES`] in all; binary
///   (a NUL byte) and non-UTF-8 files are skipped. Contents are redacted with `redactor`,
///   counted in `redactions`.
///
/// Errors: `repo` is not a readable directory.
pub fn collect(
    repo: &Path,
    lines: &[EvidenceLine],
    limits: &RepositoryLimits,
    redactor: &Redactor,
    redactions: &mut Redactions,
) -> Result<Collected, RepositoryError> {
    let meta = std::fs::metadata(repo).map_err(|source| RepositoryError::Unreadable {
        path: repo.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(RepositoryError::Unreadable {
            path: repo.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        });
    }
    let mut out = Collected::default();
    let (paths, truncated) = list(repo, limits.max_paths, redactor);
    out.snapshot.paths = paths;
    out.snapshot.truncated = truncated;

    let mut total = 0usize;
    for path in recipes::files_wanted(repo, &out.snapshot.paths, lines) {
        if out.snapshot.files.len() >= limits.max_files {
            out.skipped
                .push(format!("{path}: over ship.repository-max-files"));
            continue;
        }
        let bytes = match check_on_disk(repo, &path) {
            Ok(OnDisk::File { bytes, .. }) => bytes,
            _ => continue,
        };
        if bytes > limits.max_file_bytes as u64 {
            out.skipped.push(format!(
                "{path}: {bytes} bytes, over ship.repository-max-file-bytes"
            ));
            continue;
        }
        if total.saturating_add(bytes as usize) > MAX_REPOSITORY_CONTENT_BYTES {
            out.skipped.push(format!(
                "{path}: over the {MAX_REPOSITORY_CONTENT_BYTES} bytes of contents per payload"
            ));
            continue;
        }
        let Ok(data) = std::fs::read(repo.join(&path)) else {
            continue;
        };
        if data.len() > limits.max_file_bytes {
            continue;
        }
        if data.contains(&0) {
            out.skipped.push(format!("{path}: binary"));
            continue;
        }
        let Ok(text) = String::from_utf8(data) else {
            out.skipped.push(format!("{path}: not UTF-8"));
            continue;
        };
        total += text.len();
        out.snapshot.files.push(RepositoryFile {
            path,
            content: redactor.redact(&text, redactions),
        });
    }
    Ok(out)
}

/// The file listing of [`collect`]: (paths, truncated).
fn list(repo: &Path, max_paths: usize, redactor: &Redactor) -> (Vec<String>, bool) {
    let mut paths = Vec::new();
    let mut bytes = 0usize;
    let walker = walkdir::WalkDir::new(repo)
        .follow_links(false)
        .max_depth(crate::fix::path::MAX_DEPTH)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            if e.depth() == 0 || !e.file_type().is_dir() {
                return true;
            }
            let name = e.file_name().to_string_lossy();
            !SKIPPED_DIRS.contains(&name.as_ref())
                && e.path().join(".git").symlink_metadata().is_err()
        });
    for e in walker.flatten() {
        if !e.file_type().is_file() {
            continue;
        }
        let Ok(rel) = e.path().strip_prefix(repo) else {
            continue;
        };
        let Some(rel) = rel.to_str() else { continue };
        if verify_path(rel).is_err() {
            continue;
        }
        // A path that looks like a secret is not sent at all.
        if redactor.redact(rel, &mut Redactions::default()) != rel {
            continue;
        }
        if paths.len() >= max_paths || bytes + rel.len() > MAX_REPOSITORY_LISTING_BYTES {
            return (paths, true);
        }
        bytes += rel.len();
        paths.push(rel.to_string());
    }
    (paths, false)
}

/// One repository entry [`materialize`] did not write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IgnoredEntry {
    /// The path as sent.
    pub path: String,
    /// Why (a path rule, a conflict with another entry, an I/O error).
    pub reason: String,
}

/// What [`materialize`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Materialized {
    /// Files written (with contents or empty).
    pub files: usize,
    /// Entries not written.
    pub ignored: Vec<IgnoredEntry>,
}

/// Writes `snapshot` under `root` (an empty directory the caller owns): each of `files` with
/// its content, then each listed path not already written as an empty file. Every path is
/// checked with [`verify_path`] and [`check_on_disk`] (no `..`, absolute path, backslash or
/// `.git`; no component may be a symlink or a file) and written with `create_new`, so nothing
/// is written outside `root` or through a link, and the first entry for a path wins.
/// Entries that fail a check (or conflict: `a` as a file and `a/b`) are ignored and reported.
/// Never fails.
pub fn materialize(snapshot: &RepositorySnapshot, root: &Path) -> Materialized {
    let mut out = Materialized::default();
    let entries = snapshot
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.content.as_bytes()))
        .chain(snapshot.paths.iter().map(|p| (p.as_str(), &b""[..])));
    let mut written = std::collections::HashSet::new();
    for (path, content) in entries {
        if written.contains(path) {
            continue;
        }
        let mut ignore = |reason: String| {
            if out.ignored.len() < 100 {
                out.ignored.push(IgnoredEntry {
                    path: path.chars().take(300).collect(),
                    reason,
                });
            }
        };
        if let Err(r) = verify_path(path) {
            ignore(r.reason);
            continue;
        }
        match check_on_disk(root, path) {
            Ok(OnDisk::Missing) => {}
            Ok(OnDisk::File { .. }) => {
                ignore("already written".into());
                continue;
            }
            Err(r) => {
                ignore(r.reason);
                continue;
            }
        }
        if let Some((dir, _)) = path.rsplit_once('/') {
            if let Err(e) = std::fs::create_dir_all(root.join(dir)) {
                ignore(format!("cannot create its directory: {e}"));
                continue;
            }
        }
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(root.join(path));
        match file.and_then(|mut f| f.write_all(content)) {
            Ok(()) => {
                out.files += 1;
                written.insert(path);
            }
            Err(e) => ignore(format!("cannot write it: {e}")),
        }
    }
    out
}

/// What [`run_recipes`] produced.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RecipeRun {
    /// Instructions for the answer: `source` `developer-agent`, within
    /// [`validate_instructions`]' limits.
    pub instructions: Vec<Instruction>,
    /// The recipes' notes (candidates they were not sure about) and instructions dropped.
    pub notes: Vec<String>,
    /// What was rebuilt of the repository.
    pub materialized: Materialized,
}

/// Rebuilds `snapshot` in a private temporary directory (mode 0700, under `TMPDIR`), runs
/// every recipe on it with `lines` and `policy` (only its Playwright cap matters), removes the
/// directory and returns the instructions for the answer.
///
/// Instructions are kept when they are within [`validate_instructions`]' limits (at most
/// [`MAX_INSTRUCTIONS`]; recipe summaries are already shorter than
/// [`crate::fix::MAX_SUMMARY_BYTES`]:
/// [`crate::fix::recipes::MAX_RECIPE_SUMMARY_BYTES`]) and none of
/// their edits contains a `[REDACTED:` marker (such an edit was made from redacted text and
/// could not apply to the real file). Every instruction's `source` becomes `developer-agent`.
///
/// Work is bounded by the snapshot's limits (checked before: [`super::payload::check_repository`])
/// and the recipes' own caps (walks, file sizes, evidence lines). Errors: the temporary
/// directory cannot be created.
pub fn run_recipes(
    snapshot: &RepositorySnapshot,
    lines: &[EvidenceLine],
    policy: &FixAgentPolicy,
) -> std::io::Result<RecipeRun> {
    let rebuilt = rebuild(snapshot)?;
    let run = recipes_on(&rebuilt, lines, policy);
    rebuilt.dir.close()?;
    Ok(run)
}

/// A repository section rebuilt by [`materialize`] in a private temporary directory (mode
/// 0700, under `TMPDIR`), removed when dropped.
pub struct Rebuilt {
    /// The directory.
    pub dir: tempfile::TempDir,
    /// What was written.
    pub materialized: Materialized,
    /// The listed paths that were written, sorted (the model prompt's file list).
    pub paths: Vec<String>,
}

/// Rebuilds `snapshot` (see [`Rebuilt`]). Errors: the temporary directory cannot be created.
pub fn rebuild(snapshot: &RepositorySnapshot) -> std::io::Result<Rebuilt> {
    let dir = tempfile::Builder::new()
        .prefix("ci-remedy-repo-")
        .tempdir()?;
    let materialized = materialize(snapshot, dir.path());
    let ignored: std::collections::HashSet<&str> = materialized
        .ignored
        .iter()
        .map(|i| i.path.as_str())
        .collect();
    let mut paths: Vec<String> = snapshot
        .files
        .iter()
        .map(|f| f.path.clone())
        .chain(snapshot.paths.iter().cloned())
        .filter(|p| !ignored.contains(p.as_str()) && verify_path(p).is_ok())
        .collect();
    paths.sort();
    paths.dedup();
    Ok(Rebuilt {
        dir,
        materialized,
        paths,
    })
}

/// [`run_recipes`] on a rebuilt section (kept for the caller).
pub fn recipes_on(rebuilt: &Rebuilt, lines: &[EvidenceLine], policy: &FixAgentPolicy) -> RecipeRun {
    let rec = recipes::run_all(rebuilt.dir.path(), lines, policy);
    let mut run = RecipeRun {
        instructions: Vec::new(),
        notes: rec.notes,
        materialized: rebuilt.materialized.clone(),
    };
    for mut ins in rec.instructions {
        if crate::fix::has_redacted_text(&ins) {
            run.notes.push(format!(
                "{}: dropped, its edits contain redacted text",
                ins.source.as_deref().unwrap_or("recipe")
            ));
            continue;
        }
        ins.source = Some(ANSWER_SOURCE.into());
        if run.instructions.len() >= MAX_INSTRUCTIONS {
            run.notes.push(format!(
                "more than {MAX_INSTRUCTIONS} instructions; the rest dropped"
            ));
            break;
        }
        run.instructions.push(ins);
        if let Err(e) = validate_instructions(&run.instructions) {
            run.instructions.pop();
            run.notes.push(format!("an instruction was dropped: {e}"));
        }
    }
    run
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(paths: &[&str], files: &[(&str, &str)]) -> RepositorySnapshot {
        RepositorySnapshot {
            paths: paths.iter().map(|p| p.to_string()).collect(),
            truncated: false,
            files: files
                .iter()
                .map(|(p, c)| RepositoryFile {
                    path: p.to_string(),
                    content: c.to_string(),
                })
                .collect(),
        }
    }

    fn tree(root: &Path) -> Vec<String> {
        let mut v: Vec<String> = walkdir::WalkDir::new(root)
            .into_iter()
            .flatten()
            .filter(|e| e.depth() > 0)
            .map(|e| {
                let rel = e
                    .path()
                    .strip_prefix(root)
                    .expect("rel")
                    .display()
                    .to_string();
                if e.file_type().is_dir() {
                    format!("{rel}/")
                } else {
                    rel
                }
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn materialize_writes_only_inside_and_reports_what_it_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("root");
        std::fs::create_dir(&root).expect("mkdir");
        let s = snapshot(
            &[
                "../../etc/x",
                "/abs",
                "a/../../b",
                ".git/config",
                "a\\b",
                "src/a.js",
                "src/a.js/inner",
                "Dockerfile",
                "x",
                "x/y",
            ],
            &[("Dockerfile", "FROM node\n"), ("../escape", "boom")],
        );
        let m = materialize(&s, &root);
        assert_eq!(m.files, 3, "{m:?}");
        assert_eq!(tree(&root), vec!["Dockerfile", "src/", "src/a.js", "x"]);
        assert_eq!(
            std::fs::read_to_string(root.join("Dockerfile")).expect("read"),
            "FROM node\n"
        );
        let ignored: Vec<&str> = m.ignored.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            ignored,
            vec![
                "../escape",
                "../../etc/x",
                "/abs",
                "a/../../b",
                ".git/config",
                "a\\b",
                "src/a.js/inner",
                "x/y"
            ]
        );
        // Nothing next to the root.
        assert_eq!(tree(dir.path()).len(), tree(&root).len() + 1);
    }

    #[test]
    fn materialize_never_follows_a_planted_link() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("root");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&root).expect("mkdir");
        std::fs::create_dir_all(&outside).expect("mkdir");
        std::os::unix::fs::symlink(&outside, root.join("link")).expect("symlink");
        let m = materialize(&snapshot(&["link/x"], &[("link/y", "boom")]), &root);
        assert_eq!(m.files, 0);
        assert_eq!(m.ignored.len(), 2);
        assert!(std::fs::read_dir(&outside).expect("ls").next().is_none());
    }

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/repos")
            .join(name)
    }

    fn log_lines(log: &Path) -> Vec<EvidenceLine> {
        let f = std::fs::File::open(log).expect("log");
        recipes::evidence_lines(
            &[],
            &[],
            [recipes::EvidenceLog {
                label: "job.log".into(),
                numbers: recipes::LineNumbers::FirstIs(1),
                format: None,
                reader: f,
            }],
        )
    }

    fn limits() -> RepositoryLimits {
        RepositoryLimits {
            max_paths: 20_000,
            max_files: 32,
            max_file_bytes: 256 * 1024,
        }
    }

    /// The recipes make the same edits on the rebuilt view as on the real checkout: the files
    /// `files_wanted` names are all they read.
    fn same_edits_as_the_checkout(repo: &Path, lines: &[EvidenceLine], policy: &FixAgentPolicy) {
        let local = recipes::run_all(repo, lines, policy);
        assert!(!local.instructions.is_empty(), "{:?}", local.notes);
        let c = collect(
            repo,
            lines,
            &limits(),
            Redactor::builtin(),
            &mut Redactions::default(),
        )
        .expect("collect");
        assert!(c.skipped.is_empty(), "{:?}", c.skipped);
        let run = run_recipes(&c.snapshot, lines, policy).expect("run");
        let edits = |v: &[Instruction]| v.iter().map(|i| i.edits.clone()).collect::<Vec<_>>();
        assert_eq!(edits(&run.instructions), edits(&local.instructions));
        for i in &run.instructions {
            assert_eq!(i.source.as_deref(), Some(ANSWER_SOURCE));
        }
        validate_instructions(&run.instructions).expect("within limits");
        // Sent with contents: only what the recipes read, not every file.
        assert!(c.snapshot.files.len() < c.snapshot.paths.len());
    }

    #[test]
    fn the_fixture_incidents_give_the_same_instructions_from_the_snapshot() {
        let policy = FixAgentPolicy::default();
        let repo = fixture("dockerignore-incident");
        let lines = log_lines(&fixture("dockerignore-incident.log"));
        same_edits_as_the_checkout(&repo, &lines, &policy);
        let c = collect(
            &repo,
            &lines,
            &limits(),
            Redactor::builtin(),
            &mut Redactions::default(),
        )
        .expect("collect");
        let sent: Vec<&str> = c.snapshot.files.iter().map(|f| f.path.as_str()).collect();
        // The recipe's two files, then the files the log names (a stack frame, the missing file).
        assert_eq!(
            sent,
            vec![
                ".dockerignore",
                "Dockerfile",
                "src/server.js",
                "data/pricing.json"
            ]
        );
        assert!(c.snapshot.paths.iter().any(|p| p == "data/pricing.json"));

        let repo = fixture("import-case");
        let lines = log_lines(&fixture("import-case.log"));
        same_edits_as_the_checkout(&repo, &lines, &policy);
    }

    #[test]
    fn python_and_playwright_recipes_read_only_what_files_wanted_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path();
        std::fs::create_dir_all(repo.join("app")).expect("mkdir");
        std::fs::create_dir_all(repo.join("tests")).expect("mkdir");
        std::fs::write(repo.join("app/__init__.py"), "").expect("w");
        std::fs::write(repo.join("app/helpers.py"), "def f():\n    return 1\n").expect("w");
        std::fs::write(
            repo.join("main.py"),
            "import os\nfrom app.Helpers import f\n",
        )
        .expect("w");
        std::fs::write(repo.join("other.py"), "import os\n").expect("w");
        std::fs::write(
            repo.join("tests/login.spec.ts"),
            "test('login', async ({ page }) => {\n  await page.locator('#submit').waitFor({ timeout: 5000 });\n});\n",
        )
        .expect("w");
        let lines: Vec<EvidenceLine> = [
            "ModuleNotFoundError: No module named 'app.Helpers'",
            "TimeoutError: locator.waitFor: Timeout 5000ms exceeded.",
            "   at /home/runner/work/app/app/tests/login.spec.ts:2:33",
        ]
        .iter()
        .enumerate()
        .map(|(i, t)| EvidenceLine {
            origin: format!("job.log:{}", i + 1),
            text: t.to_string(),
        })
        .collect();
        let mut raw = crate::policy::fix_agent::FixAgentRaw::default();
        raw.playwright_timeout.enabled = true;
        raw.playwright_timeout.max_ms = Some(8000);
        let policy = raw.validate().expect("policy");
        same_edits_as_the_checkout(repo, &lines, &policy);
        let local = recipes::run_all(repo, &lines, &policy);
        assert_eq!(local.instructions.len(), 2, "{:?}", local.notes);
    }

    #[test]
    fn redacted_edits_never_reach_the_answer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path();
        std::fs::create_dir_all(repo.join("data")).expect("mkdir");
        std::fs::write(repo.join("data/pricing.json"), "{}").expect("w");
        let token = format!("ghp_{}", "a1B2c3D4e5".repeat(4).get(..36).expect("36"));
        std::fs::write(repo.join(".dockerignore"), format!("# {token}\ndata\n")).expect("w");
        std::fs::write(
            repo.join("Dockerfile"),
            "FROM node\nWORKDIR /app\nCOPY . .\n",
        )
        .expect("w");
        let lines = vec![EvidenceLine {
            origin: "job.log:1".into(),
            text: "Error: file not found: /app/data/pricing.json".into(),
        }];
        let policy = FixAgentPolicy::default();
        assert_eq!(
            recipes::run_all(repo, &lines, &policy).instructions.len(),
            1
        );
        let mut counts = Redactions::default();
        let c =
            collect(repo, &lines, &limits(), Redactor::builtin(), &mut counts).expect("collect");
        assert_eq!(counts.total, 1);
        assert!(!serde_json::to_string(&c.snapshot)
            .expect("json")
            .contains(&token));
        // The last line is the one edited, so this instruction applies despite the redaction…
        let run = run_recipes(&c.snapshot, &lines, &policy).expect("run");
        assert_eq!(run.instructions.len(), 1, "{:?}", run.notes);
        // …but an edit that carries the redaction marker is dropped.
        std::fs::write(
            repo.join(".dockerignore"),
            format!("data\n*.log # {token}\n"),
        )
        .expect("w");
        assert_eq!(
            recipes::run_all(repo, &lines, &policy).instructions.len(),
            1
        );
        let c =
            collect(repo, &lines, &limits(), Redactor::builtin(), &mut counts).expect("collect");
        let run = run_recipes(&c.snapshot, &lines, &policy).expect("run");
        assert!(run.instructions.is_empty(), "{:?}", run.instructions);
        assert!(
            run.notes.iter().any(|n| n.contains("redacted")),
            "{:?}",
            run.notes
        );
    }

    #[test]
    fn summaries_stay_within_the_limit_whatever_the_characters() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path();
        std::fs::create_dir_all(repo.join("data")).expect("mkdir");
        std::fs::write(repo.join("data/pricing.json"), "{}").expect("w");
        std::fs::write(repo.join(".dockerignore"), "data\n").expect("w");
        std::fs::write(
            repo.join("Dockerfile"),
            "FROM node\nWORKDIR /app\nCOPY . .\n",
        )
        .expect("w");
        // 4-byte characters: 200 of them are 800 bytes of evidence in the summary.
        let lines = vec![EvidenceLine {
            origin: "\u{1F600}".repeat(50),
            text: format!(
                "Error: file not found: /app/data/pricing.json {}",
                "\u{1F600}".repeat(300)
            ),
        }];
        let policy = FixAgentPolicy::default();
        let c = collect(
            repo,
            &lines,
            &limits(),
            Redactor::builtin(),
            &mut Redactions::default(),
        )
        .expect("collect");
        let run = run_recipes(&c.snapshot, &lines, &policy).expect("run");
        assert_eq!(run.instructions.len(), 1, "{:?}", run.notes);
        let summary = &run.instructions[0].summary;
        assert!(
            summary.len() <= crate::fix::MAX_SUMMARY_BYTES,
            "{}",
            summary.len()
        );
        assert!(summary.ends_with('…'), "{summary}");
        validate_instructions(&run.instructions).expect("within limits");
    }

    #[test]
    fn listing_is_capped_and_skips_build_dirs_and_nested_repositories() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path();
        for p in [
            "a.txt",
            "b/c.txt",
            ".git/config",
            "node_modules/x/index.js",
            "target/debug/x",
            "sub/.git/HEAD",
            "sub/inner.txt",
        ] {
            let path = repo.join(p);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, "x").expect("w");
        }
        std::os::unix::fs::symlink("/etc/passwd", repo.join("link.txt")).expect("symlink");
        let (paths, truncated) = list(repo, 100, Redactor::builtin());
        assert_eq!(paths, vec!["a.txt", "b/c.txt"]);
        assert!(!truncated);
        let (paths, truncated) = list(repo, 1, Redactor::builtin());
        assert_eq!(paths, vec!["a.txt"]);
        assert!(truncated);
    }
}
