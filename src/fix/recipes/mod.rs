//! Built-in recipes: deterministic fixes for failures recognised with certainty. Each recipe
//! reads the evidence (finding excerpts, failed-test messages, the logs themselves), checks
//! the repository, states its evidence in the instruction summary, and does nothing when it
//! cannot be sure.
//!
//! - `dockerignore-exception`: a file the container or the build cannot find is excluded by
//!   `.dockerignore` (Docker semantics); add the narrowest `!path` exception.
//! - `import-case`: a relative JS/TS import or a Python import that only fails on a
//!   case-sensitive file system; fix it to the file's real case.
//! - `playwright-timeout`: one locator wait timed out; raise its explicit timeout (policy
//!   opt-in, never above the cap).
//!
//! [`evidence_lines`] builds the evidence the same way for `fix-agent-prepare` and the
//! Developer-Agent; [`files_wanted`] names the files whose contents the recipes read, so a
//! client can send just those (plus a listing of paths) and the Developer-Agent can run the
//! recipes on a tree rebuilt from them.
//!
//! One file per recipe, listed in [`REGISTRY`].

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::OnceLock;

use regex::Regex;

use crate::artifact::{
    Category, Edit, FailedTest, Finding, Instruction, LogFormat, LogInfo, Redactions,
};
use crate::logs::format::{clean_line, detect_format};
use crate::logs::redact::Redactor;
use crate::policy::fix_agent::FixAgentPolicy;

use super::dockerignore::{context_paths_for, copies, escape_pattern, DockerIgnore};
use super::path::{check_on_disk, verify_path, OnDisk};
mod dockerignore_exception;
mod evidence;
mod import_case;
mod playwright_timeout;
mod wanted;

pub use dockerignore_exception::dockerignore_exception;
pub use evidence::*;
pub use import_case::import_case;
pub use playwright_timeout::{map_to_repo, playwright_timeout};
pub use wanted::{files_wanted, is_docker_file, MAX_WANTED_TOKENS};

/// The regex by which the `dockerignore-exception` recipe recognises a line saying a file is
/// missing (`not found`, `no such file`, `ENOENT` …): `self-heal-prepare --smoke-report` files
/// such log lines as `build_config` so the recipe acts on them.
pub fn missing_file_pattern() -> &'static Regex {
    dockerignore_exception::missing_file_re()
}

/// One line of evidence text with where it came from.
#[derive(Debug, Clone)]
pub struct EvidenceLine {
    /// Where: `log.txt:120`, `finding 1`, `test <name>`.
    pub origin: String,
    /// The cleaned, redacted text.
    pub text: String,
}

/// What a recipe looked at and why it did nothing (one note per recipe that saw a candidate).
#[derive(Debug, Default)]
pub struct RecipeOutput {
    /// The instructions produced.
    pub instructions: Vec<Instruction>,
    /// Notes about candidates that were not certain enough.
    pub notes: Vec<String>,
}

pub(super) fn re(s: &str) -> Regex {
    Regex::new(s).expect("constant regex")
}

pub(super) fn clip(s: &str, max: usize) -> String {
    let t = s.trim();
    if t.chars().count() <= max {
        t.to_string()
    } else {
        let mut x: String = t.chars().take(max).collect();
        x.push('…');
        x
    }
}

/// The longest instruction summary a recipe writes, in bytes (plus a 3-byte `…` when cut), so
/// every summary stays under [`super::MAX_SUMMARY_BYTES`] whatever characters the evidence has.
pub const MAX_RECIPE_SUMMARY_BYTES: usize = 1000;

/// Cuts a summary to [`MAX_RECIPE_SUMMARY_BYTES`] on a character boundary.
pub(super) fn clip_summary(s: &str) -> String {
    let t = s.trim();
    if t.len() <= MAX_RECIPE_SUMMARY_BYTES {
        return t.to_string();
    }
    format!(
        "{}…",
        crate::text::truncate_str(t, MAX_RECIPE_SUMMARY_BYTES)
    )
}

pub(super) fn is_file(repo: &Path, p: &str) -> bool {
    verify_path(p).is_ok() && matches!(check_on_disk(repo, p), Ok(OnDisk::File { .. }))
}

pub(super) fn read_small(repo: &Path, p: &str) -> Option<String> {
    match check_on_disk(repo, p) {
        Ok(OnDisk::File { bytes, .. }) if bytes <= 1024 * 1024 => {
            std::fs::read_to_string(repo.join(p)).ok()
        }
        _ => None,
    }
}
/// One built-in recipe: its id (`recipe:<id>` in an instruction's `source`), the category of
/// the failures it fixes, whether the policy must opt in, and its entry point.
pub struct Recipe {
    /// The id, kebab-case.
    pub id: &'static str,
    /// The category of a failure it fixes ([`diagnose`] reports it).
    pub category: Category,
    /// True when it runs only with a policy opt-in (then [`diagnose`] never runs it).
    pub opt_in: bool,
    /// Runs it: reads `lines`, checks the repository at the path, pushes an instruction when
    /// sure (or a note saying why not).
    pub run: fn(&Path, &[EvidenceLine], &FixAgentPolicy, &mut RecipeOutput),
}

/// Every built-in recipe, in the order they run; one file each under `src/fix/recipes/`.
pub const REGISTRY: &[Recipe] = &[
    Recipe {
        id: "dockerignore-exception",
        category: Category::BuildConfig,
        opt_in: false,
        run: |repo, lines, _, out| dockerignore_exception(repo, lines, out),
    },
    Recipe {
        id: "import-case",
        category: Category::CompileError,
        opt_in: false,
        run: |repo, lines, _, out| import_case(repo, lines, out),
    },
    Recipe {
        id: "playwright-timeout",
        category: Category::TestTimeout,
        opt_in: true,
        run: |repo, lines, policy, out| {
            if let Some(cap) = policy.playwright_max_ms {
                playwright_timeout(repo, lines, cap, out);
            }
        },
    },
];

/// Runs every recipe of [`REGISTRY`] on `lines` against the repository at `repo`.
pub fn run_all(repo: &Path, lines: &[EvidenceLine], policy: &FixAgentPolicy) -> RecipeOutput {
    let mut out = RecipeOutput::default();
    for r in REGISTRY {
        (r.run)(repo, lines, policy, &mut out);
    }
    out
}

/// What a sure recipe says the failure is, for `self-heal-prepare`: the recipe checked the
/// evidence against the repository (e.g. `.dockerignore` really excludes the file the log
/// says is missing), so its category is better founded than a keyword rule's.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosis {
    /// The recipe's id (`dockerignore-exception`, `import-case`).
    pub recipe: &'static str,
    /// The category the recipe's finding belongs to.
    pub category: Category,
    /// The recipe's own summary (its evidence and what it would change), at most
    /// [`MAX_RECIPE_SUMMARY_BYTES`] bytes plus `…`.
    pub summary: String,
}

/// Runs the recipes that need no policy opt-in on `lines` against the checkout at `repo`,
/// read-only, and returns the first sure finding: `None` when no recipe was sure. Nothing is
/// written; the edits are discarded.
pub fn diagnose(repo: &Path, lines: &[EvidenceLine]) -> Option<Diagnosis> {
    let policy = FixAgentPolicy::default();
    REGISTRY.iter().filter(|r| !r.opt_in).find_map(|r| {
        let mut out = RecipeOutput::default();
        (r.run)(repo, lines, &policy, &mut out);
        let i = out.instructions.into_iter().next()?;
        Some(Diagnosis {
            recipe: r.id,
            category: r.category,
            summary: i.summary,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "ghp_0123456789abcdefghijklmnopqrstuvwxyZ";

    fn log<R: Read>(reader: R, numbers: LineNumbers) -> EvidenceLog<R> {
        EvidenceLog {
            label: "job.log".into(),
            numbers,
            format: None,
            reader,
        }
    }

    #[test]
    fn a_stream_keeps_its_end_and_numbers_lines_from_its_start() {
        let text: String = (1..=1000).map(|i| format!("line {i}\n")).collect();
        let tail = read_tail(text.as_bytes(), 100);
        let kept = String::from_utf8(tail.bytes).expect("utf8");
        assert!(kept.ends_with("line 1000\n"), "{kept}");
        assert!(kept.len() <= 100 && kept.starts_with("line "), "{kept}");
        let first: u64 = kept["line ".len()..kept.find('\n').expect("nl")]
            .parse()
            .expect("n");
        assert_eq!(tail.lines_before + 1, first, "the cut line is dropped");
        assert!(tail.complete);
        // Shorter than the cap: all of it.
        let tail = read_tail(&b"a\nb"[..], 100);
        assert_eq!(
            (tail.bytes.as_slice(), tail.lines_before),
            (&b"a\nb"[..], 0)
        );
    }

    #[test]
    fn log_lines_are_numbered_from_either_end_and_redacted() {
        let text =
            format!("2024-01-01T00:00:00.0000000Z one\nCannot find module './Util' {TOKEN}\nthree");
        for numbers in [LineNumbers::FirstIs(41), LineNumbers::LastIs(43)] {
            let mut log = log(text.as_bytes(), numbers);
            log.format = Some(LogFormat::RawGithub);
            let lines = evidence_lines(&[], &[], [log]);
            let got: Vec<(&str, &str)> = lines
                .iter()
                .map(|l| (l.origin.as_str(), l.text.as_str()))
                .collect();
            assert_eq!(
                got,
                vec![
                    ("job.log:41", "one"),
                    (
                        "job.log:42",
                        "Cannot find module './Util' [REDACTED:github-pat]"
                    ),
                    ("job.log:43", "three"),
                ]
            );
        }
    }

    #[test]
    fn findings_tests_and_key_blocks_are_redacted() {
        let finding: Finding = serde_json::from_value(serde_json::json!({
            "rule": "r", "category": "unknown", "log": "a.log", "line_start": 3, "line_end": 3,
            "rank": 1, "score": 1.0, "excerpt": format!("token {TOKEN}"),
        }))
        .expect("finding");
        let test: FailedTest = serde_json::from_value(serde_json::json!({
            "name": "t", "report": "r.xml", "message": format!("Authorization: Bearer {TOKEN}"),
        }))
        .expect("test");
        let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAzbase64secretline\n-----END RSA PRIVATE KEY-----\n";
        let lines = evidence_lines(
            &[finding],
            &[test],
            [log(key.as_bytes(), LineNumbers::FirstIs(1))],
        );
        let all: String = lines.iter().map(|l| format!("{}\n", l.text)).collect();
        assert!(
            !all.contains(TOKEN) && !all.contains("base64secretline"),
            "{all}"
        );
        assert_eq!(lines.len(), 5, "{lines:?}");
    }

    #[test]
    fn a_big_file_is_read_from_its_tail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.log");
        let mut text = String::from("Cannot find module './First'\n");
        let filler = "x".repeat(99) + "\n";
        while text.len() as u64 <= MAX_LOG_SCAN_BYTES + 1000 {
            text.push_str(&filler);
        }
        text.push_str("Cannot find module './Last'\n");
        std::fs::write(&path, &text).expect("write");
        let info = LogInfo {
            path: path.display().to_string(),
            bytes: text.len() as u64,
            lines: text.matches('\n').count() as u64,
            sha256: String::new(),
            format: LogFormat::Plain,
        };
        let opened = EvidenceLog::open(&info).expect("open");
        assert_eq!(opened.numbers, LineNumbers::LastIs(info.lines));
        let lines = evidence_lines(&[], &[], [opened]);
        let last = lines.last().expect("lines");
        assert_eq!(last.origin, format!("{}:{}", info.path, info.lines));
        assert_eq!(last.text, "Cannot find module './Last'");
        assert!(lines.iter().all(|l| !l.text.contains("First")));
        assert!(lines
            .iter()
            .all(|l| l.text.len() == 99 || l.text.contains("Last")));
        // The file changed since the context was written: read from the start.
        let mut changed = info.clone();
        changed.bytes += 1;
        let opened = EvidenceLog::open(&changed).expect("open");
        assert_eq!(opened.numbers, LineNumbers::FirstIs(1));
    }
}
