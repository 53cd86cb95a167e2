//! Shared helpers for the fix-agent integration tests: fixture repositories in temp dirs,
//! hermetic runs of the real binaries, file-system snapshots, context/input files.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ci_remedy::artifact::{
    Category, Classification, ClassificationSource, Context, DeveloperAgent, DeveloperAgentStatus,
    FailedTest, Finding, FixInput, FixMetadata, Instruction, LogFormat, LogInfo, Redactions,
    RunInfo, Tests, ToolInfo, CONTEXT_SCHEMA,
};

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/repos");

/// A temp dir holding `repo/` (the working tree), a sibling `outside/` with a secret file,
/// and `out/` for artifacts.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    pub fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }
    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }
    pub fn outside(&self) -> PathBuf {
        self.dir.path().join("outside")
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in walkdir::WalkDir::new(from) {
        let e = e.expect("walk");
        let rel = e.path().strip_prefix(from).expect("rel");
        let dest = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest).expect("mkdir");
        } else {
            std::fs::copy(e.path(), &dest).expect("copy");
        }
    }
}

pub fn git(repo: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", repo)
        .output()
        .expect("git runs")
}

/// Copies `fixtures/repos/<name>` (or an empty dir for `None`) to a sandbox, `git init`s and
/// commits it.
pub fn sandbox(name: Option<&str>) -> Sandbox {
    let dir = tempfile::tempdir().expect("tempdir");
    let sb = Sandbox { dir };
    match name {
        Some(n) => copy_dir(&Path::new(FIXTURES).join(n), &sb.repo()),
        None => std::fs::create_dir_all(sb.repo()).expect("mkdir"),
    }
    std::fs::create_dir_all(sb.outside()).expect("mkdir");
    std::fs::write(sb.outside().join("secret.txt"), "outside secret\n").expect("write");
    std::fs::create_dir_all(sb.out()).expect("mkdir");
    sb
}

pub fn commit_all(repo: &Path) {
    let o = git(repo, &["init", "-q", "-b", "main"]);
    assert!(o.status.success(), "{o:?}");
    assert!(git(repo, &["add", "-A"]).status.success());
    let o = git(repo, &["commit", "-q", "-m", "fixture"]);
    assert!(o.status.success(), "{o:?}");
}

/// Every file's bytes (and symlink targets) under `root`, except `skip` (relative dirs).
pub fn snapshot(root: &Path, skip: &[&str]) -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    for e in walkdir::WalkDir::new(root).follow_links(false) {
        let e = e.expect("walk");
        let rel = e
            .path()
            .strip_prefix(root)
            .expect("rel")
            .to_string_lossy()
            .into_owned();
        if skip
            .iter()
            .any(|s| rel == *s || rel.starts_with(&format!("{s}/")))
        {
            continue;
        }
        let ft = e.file_type();
        if ft.is_symlink() {
            let t = std::fs::read_link(e.path()).expect("readlink");
            m.insert(
                format!("{rel} -> link"),
                t.to_string_lossy().into_owned().into_bytes(),
            );
        } else if ft.is_file() {
            use std::os::unix::fs::PermissionsExt;
            let mode = e.metadata().expect("meta").permissions().mode();
            let mut bytes = std::fs::read(e.path()).expect("read");
            bytes.extend_from_slice(format!("\0mode={mode:o}").as_bytes());
            m.insert(rel, bytes);
        } else if ft.is_dir() {
            m.insert(format!("{rel}/"), Vec::new());
        }
    }
    m
}

/// [`crate::common::bin`] for binary `bin`, with HOME in `root` and GITHUB_OUTPUT and
/// GITHUB_STEP_SUMMARY pointing into `root`.
pub fn hermetic(bin: &str, root: &Path) -> Command {
    let mut c = crate::common::bin(bin);
    c.env("HOME", root);
    c.env("GITHUB_OUTPUT", root.join("github_output"));
    c.env("GITHUB_STEP_SUMMARY", root.join("step_summary"));
    c.current_dir(root);
    c
}

pub const PREPARE: &str = env!("CARGO_BIN_EXE_fix-agent-prepare");
pub const APPLY: &str = env!("CARGO_BIN_EXE_fix-agent-apply");

pub fn run_local() -> RunInfo {
    RunInfo::from_lookup(|_| None)
}

pub fn classification(category: Category, summary: &str) -> Classification {
    Classification {
        category,
        kind: category.kind(),
        confidence: 0.9,
        source: ClassificationSource::Rules,
        evidence: vec![0],
        summary: summary.into(),
    }
}

/// A context with one log and one finding (lines `start..=end` of the log, excerpt given).
pub fn context(category: Category, log: &Path, start: u64, end: u64, excerpt: &str) -> Context {
    let bytes = std::fs::read(log).unwrap_or_default();
    Context {
        schema: CONTEXT_SCHEMA.into(),
        tool: ToolInfo::new("self-heal-prepare"),
        run: run_local(),
        logs: vec![LogInfo {
            path: log.display().to_string(),
            bytes: bytes.len() as u64,
            lines: bytes.iter().filter(|b| **b == b'\n').count() as u64,
            sha256: ci_remedy::fix::sha256_hex(&bytes),
            format: LogFormat::RawGithub,
        }],
        tests: Tests::default(),
        findings: vec![Finding {
            rule: "test-rule".into(),
            category,
            log: log.display().to_string(),
            line_start: start,
            line_end: end,
            rank: 1,
            score: 1.0,
            excerpt: excerpt.into(),
            file: None,
            file_line: None,
            step: None,
        }],
        classification: classification(category, "test failure"),
        developer_agent: DeveloperAgent {
            status: DeveloperAgentStatus::NotProvided,
            detail: None,
            answer: None,
        },
        redactions: Redactions::default(),
        baseline: None,
        error: None,
    }
}

pub fn failed_test(name: &str, id: &str) -> FailedTest {
    FailedTest {
        name: name.into(),
        id: Some(id.into()),
        file: None,
        line: None,
        message: None,
        report: "report.xml".into(),
    }
}

/// A fix input carrying `instructions` (as if fix-agent-prepare had written it).
pub fn input(instructions: Vec<Instruction>) -> FixInput {
    FixInput {
        schema: ci_remedy::artifact::FIX_INPUT_SCHEMA.into(),
        tool: ToolInfo::new("fix-agent-prepare"),
        run: run_local(),
        base_sha: "local".into(),
        classification: classification(Category::TestAssertion, "assertion failed"),
        evidence: Vec::new(),
        failed_tests: Vec::new(),
        self_heal_outcome: None,
        instructions,
        snippets: Vec::new(),
        constraints: ci_remedy::fix::prepare::constraints(
            &ci_remedy::policy::fix_agent::FixAgentPolicy::default(),
        ),
        notes: Vec::new(),
        model: None,
        error: None,
    }
}

pub fn write_json<T: serde::Serialize>(path: &Path, v: &T) {
    ci_remedy::artifact::write_json_atomic(path, v).expect("write json");
}

pub fn read_metadata(out: &Path) -> FixMetadata {
    ci_remedy::artifact::read_json(&out.join("fix-agent/metadata-local.json")).expect("metadata")
}

pub fn read_patch(out: &Path) -> String {
    std::fs::read_to_string(out.join("fix-agent/patch-local.diff")).expect("patch")
}

/// Runs `git apply --check` and `patch -p1 --dry-run` with `patch` in `repo`.
pub fn prove_patch(repo: &Path, patch: &Path) {
    let o = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["apply", "--check"])
        .arg(patch)
        .output()
        .expect("git apply");
    assert!(
        o.status.success(),
        "git apply --check: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = Command::new("patch")
        .args(["-p1", "--dry-run", "--batch", "-i"])
        .arg(patch)
        .current_dir(repo)
        .output()
        .expect("patch is installed (Debian package `patch`)");
    assert!(
        o.status.success(),
        "patch -p1 --dry-run: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

pub fn ins(summary: &str, edits: serde_json::Value) -> Instruction {
    serde_json::from_value(serde_json::json!({"summary": summary, "edits": edits}))
        .expect("instruction")
}
