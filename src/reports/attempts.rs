//! The test reports of several attempts of one commit, compared: a test that failed in one
//! attempt and passed in another is flaky (issue 17 §2).
//!
//! Layout read by [`read_attempts_dir`] (`self-heal-prepare --attempt-reports DIR`): one
//! subdirectory per attempt, named `<run_id>-<run_attempt>` (`7001-1`) or
//! `run-<run_id>-attempt-<run_attempt>`; an `attempt.json` inside (`{"run_id": …,
//! "run_attempt": …, "sha": …}`, other fields ignored) overrides what the name says. Inside,
//! at any depth, `*.xml` files are JUnit reports (other XML documents are skipped) and `*.json`
//! files other than `attempt.json` are Playwright JSON reports (JSON documents without a
//! `suites` member are skipped: an artifact may carry other JSON files). The reports are read
//! with [`super::read_junit_outcomes`] and [`super::read_playwright_outcomes`], so every test
//! has the name [`super::read_junit`] / [`super::read_playwright_json`] give it.
//!
//! Tests are compared by that name, not by their rerun id: a JUnit id is partly derived from
//! the failure text (the Playwright header, the file of a stack frame), so the passing case of
//! the same test may have none. Within one attempt a test that failed in any report counts as
//! failed there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{read_junit_outcomes, read_playwright_outcomes, ReportError, TestOutcome};
use crate::artifact::{
    AttemptInfo, AttemptOutcome, FlakyTest, TestStatus, MAX_FLAKY_MESSAGE_BYTES,
};

/// The most attempt directories read; the rest are reported and left out.
pub const MAX_ATTEMPTS: usize = 100;
/// The most report files read per attempt.
pub const MAX_REPORTS_PER_ATTEMPT: usize = 1000;
/// The deepest level walked inside an attempt directory.
const MAX_DEPTH: usize = 8;
/// The largest `attempt.json` read, in bytes.
const MAX_ATTEMPT_JSON_BYTES: u64 = 64 * 1024;

/// What one test did in one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    status: TestStatus,
    id: Option<String>,
    message: Option<String>,
}

/// The tests of one attempt: per test name, its outcome there.
#[derive(Debug, Clone)]
pub struct AttemptReports {
    /// Which attempt, where from, and its counts (kept up to date by [`AttemptReports::add`]).
    pub info: AttemptInfo,
    tests: BTreeMap<String, Seen>,
}

impl AttemptReports {
    /// An attempt without tests yet.
    pub fn new(run_id: String, run_attempt: u32, sha: Option<String>, source: String) -> Self {
        AttemptReports {
            info: AttemptInfo {
                run_id,
                run_attempt,
                sha,
                source,
                reports: 0,
                tests: 0,
                failed: 0,
                passed: 0,
                skipped: 0,
            },
            tests: BTreeMap::new(),
        }
    }

    /// Adds the cases of one report. A failure wins over a pass or a skip of the same name, a
    /// pass over a skip.
    pub fn add(&mut self, cases: Vec<TestOutcome>) {
        self.info.reports += 1;
        for c in cases {
            let seen = Seen {
                status: c.outcome,
                id: c.test.id,
                message: c.test.message,
            };
            self.insert(c.test.name, seen);
        }
        self.count();
    }

    fn insert(&mut self, name: String, seen: Seen) {
        match self.tests.get_mut(&name) {
            None => {
                self.tests.insert(name, seen);
            }
            Some(old) => {
                if rank(seen.status) > rank(old.status) {
                    let id = seen.id.clone().or(old.id.take());
                    *old = Seen { id, ..seen };
                } else if old.id.is_none() {
                    old.id = seen.id;
                }
            }
        }
    }

    fn count(&mut self) {
        let n = |s: TestStatus| self.tests.values().filter(|t| t.status == s).count() as u64;
        self.info.tests = self.tests.len() as u64;
        self.info.failed = n(TestStatus::Failed);
        self.info.passed = n(TestStatus::Passed);
        self.info.skipped = n(TestStatus::Skipped);
    }

    /// Whether this is attempt `run_attempt` of run `run_id`.
    pub fn is(&self, run_id: &str, run_attempt: u32) -> bool {
        self.info.run_id == run_id && self.info.run_attempt == run_attempt
    }
}

fn rank(s: TestStatus) -> u8 {
    match s {
        TestStatus::Skipped => 0,
        TestStatus::Passed => 1,
        TestStatus::Failed => 2,
    }
}

/// `attempt.json`.
#[derive(Debug, Deserialize)]
struct AttemptFile {
    #[serde(default)]
    run_id: Option<serde_json::Value>,
    #[serde(default)]
    run_attempt: Option<u32>,
    #[serde(default)]
    sha: Option<String>,
}

/// `<run_id>-<run_attempt>` or `run-<run_id>-attempt-<run_attempt>`.
pub fn parse_attempt_dir_name(name: &str) -> Option<(String, u32)> {
    let (run, attempt) = match name
        .strip_prefix("run-")
        .and_then(|rest| rest.split_once("-attempt-"))
    {
        Some(pair) => pair,
        None => name.rsplit_once('-')?,
    };
    let ok = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    if !ok(run) || !ok(attempt) {
        return None;
    }
    let attempt: u32 = attempt.parse().ok().filter(|&a| a > 0)?;
    Some((run.to_string(), attempt))
}

/// Reads every attempt directory under `dir` (sorted by name, at most [`MAX_ATTEMPTS`]).
/// Problems (a directory that names no attempt, a malformed report) are returned as messages
/// naming the file; what could be read is kept.
pub fn read_attempts_dir(
    dir: &Path,
    workspace: Option<&str>,
) -> (Vec<AttemptReports>, Vec<String>) {
    let mut errors = Vec::new();
    let mut subdirs: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect(),
        Err(e) => {
            errors.push(format!(
                "attempt reports: cannot read {}: {e}",
                dir.display()
            ));
            return (Vec::new(), errors);
        }
    };
    subdirs.sort();
    if subdirs.len() > MAX_ATTEMPTS {
        errors.push(format!(
            "attempt reports: {} has {} attempt directories; only the first {MAX_ATTEMPTS} were read",
            dir.display(),
            subdirs.len()
        ));
        subdirs.truncate(MAX_ATTEMPTS);
    }
    let mut out = Vec::new();
    for sub in subdirs {
        if let Some(a) = read_attempt(&sub, workspace, &mut errors) {
            out.push(a);
        }
    }
    (out, errors)
}

fn read_attempt(
    sub: &Path,
    workspace: Option<&str>,
    errors: &mut Vec<String>,
) -> Option<AttemptReports> {
    let name = sub.file_name()?.to_string_lossy().into_owned();
    let mut which = parse_attempt_dir_name(&name);
    let mut sha = None;
    let meta = sub.join("attempt.json");
    if meta.is_file() {
        match crate::artifact::read_capped(&meta, MAX_ATTEMPT_JSON_BYTES)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<AttemptFile>(&b).map_err(|e| e.to_string()))
        {
            Ok(f) => {
                let run_id = match f.run_id {
                    Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                    Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s),
                    _ => None,
                };
                match (run_id, f.run_attempt.filter(|&a| a > 0)) {
                    (Some(r), Some(a)) => which = Some((r, a)),
                    (Some(r), None) => which = Some((r, which.map_or(1, |w| w.1))),
                    (None, Some(a)) => which = which.map(|w| (w.0, a)),
                    (None, None) => {}
                }
                sha = f.sha.filter(|s| !s.is_empty());
            }
            Err(e) => errors.push(format!(
                "attempt reports: {} is not a valid attempt.json: {e}",
                meta.display()
            )),
        }
    }
    let Some((run_id, run_attempt)) = which else {
        errors.push(format!(
            "attempt reports: {} names no attempt: call it <run_id>-<run_attempt> or run-<run_id>-attempt-<run_attempt>, or add an attempt.json",
            sub.display()
        ));
        return None;
    };
    let mut attempt = AttemptReports::new(run_id, run_attempt, sha, name);
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(sub)
        .follow_links(false)
        .max_depth(MAX_DEPTH)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            (ext.eq_ignore_ascii_case("xml") || ext.eq_ignore_ascii_case("json"))
                && p.file_name().is_some_and(|n| n != "attempt.json")
        })
        .collect();
    if files.len() > MAX_REPORTS_PER_ATTEMPT {
        errors.push(format!(
            "attempt reports: {} has {} report files; only the first {MAX_REPORTS_PER_ATTEMPT} were read",
            sub.display(),
            files.len()
        ));
        files.truncate(MAX_REPORTS_PER_ATTEMPT);
    }
    for p in files {
        let xml = p.extension().is_some_and(|e| e.eq_ignore_ascii_case("xml"));
        let read = if xml {
            read_junit_outcomes(&p, workspace)
        } else {
            read_playwright_outcomes(&p, workspace)
        };
        match read {
            Ok(cases) => attempt.add(cases),
            Err(ReportError::NotJunit { .. }) => {}
            Err(ReportError::Json { .. }) if !looks_like_playwright(&p) => {}
            Err(e) => errors.push(format!("attempt reports: {e}")),
        }
    }
    Some(attempt)
}

/// Whether a JSON file that did not read as a Playwright report is one nonetheless (an
/// object with `suites`): then the error is reported, else the file is some other JSON.
fn looks_like_playwright(p: &Path) -> bool {
    let Ok(bytes) = crate::artifact::read_capped(p, super::MAX_REPORT_BYTES) else {
        return true;
    };
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(v) => v.get("suites").is_some(),
        Err(_) => true,
    }
}

/// Numeric run ids in number order (before others), then the attempt.
fn attempt_order(a: &AttemptInfo, b: &AttemptInfo) -> std::cmp::Ordering {
    let key = |i: &AttemptInfo| {
        (
            i.run_id.parse::<u64>().ok(),
            i.run_id.clone(),
            i.run_attempt,
        )
    };
    let (ka, kb) = (key(a), key(b));
    match (ka.0, kb.0) {
        (Some(x), Some(y)) => x.cmp(&y).then(ka.2.cmp(&kb.2)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => ka.1.cmp(&kb.1).then(ka.2.cmp(&kb.2)),
    }
}

/// Sorts the attempts oldest first and merges those that are the same attempt.
pub fn normalize(attempts: &mut Vec<AttemptReports>) {
    attempts.sort_by(|a, b| attempt_order(&a.info, &b.info));
    let mut out: Vec<AttemptReports> = Vec::with_capacity(attempts.len());
    for a in attempts.drain(..) {
        match out.last_mut() {
            Some(last) if last.is(&a.info.run_id, a.info.run_attempt) => {
                for (name, seen) in a.tests {
                    last.insert(name, seen);
                }
                last.count();
                last.info.reports += a.info.reports;
                last.info.source = format!("{}, {}", last.info.source, a.info.source);
                if last.info.sha.is_none() {
                    last.info.sha = a.info.sha;
                }
            }
            _ => out.push(a),
        }
    }
    *attempts = out;
}

/// The flaky tests of `attempts` (sorted and merged by [`normalize`]): every test that failed
/// in at least one attempt and passed in another, by name. `current` is this run's attempt
/// (`run_id`, `run_attempt`): its outcome is recorded in [`FlakyTest::current`].
pub fn flaky_tests(attempts: &[AttemptReports], current: Option<(&str, u32)>) -> Vec<FlakyTest> {
    let mut by_name: BTreeMap<&str, Vec<(usize, &Seen)>> = BTreeMap::new();
    for (i, a) in attempts.iter().enumerate() {
        for (name, seen) in &a.tests {
            by_name.entry(name.as_str()).or_default().push((i, seen));
        }
    }
    let mut out = Vec::new();
    for (name, seen) in by_name {
        let failures = seen
            .iter()
            .filter(|(_, s)| s.status == TestStatus::Failed)
            .count();
        let passes = seen
            .iter()
            .filter(|(_, s)| s.status == TestStatus::Passed)
            .count();
        if failures == 0 || passes == 0 {
            continue;
        }
        let first_failure = seen.iter().find(|(_, s)| s.status == TestStatus::Failed);
        let id = first_failure
            .and_then(|(_, s)| s.id.clone())
            .or_else(|| seen.iter().find_map(|(_, s)| s.id.clone()));
        let message = first_failure
            .and_then(|(_, s)| s.message.as_deref())
            .map(|m| crate::text::token_safe_str(m, MAX_FLAKY_MESSAGE_BYTES).to_string())
            .filter(|m| !m.is_empty());
        let current_status = current.and_then(|(r, n)| {
            seen.iter()
                .find(|(i, _)| attempts[*i].is(r, n))
                .map(|(_, s)| s.status)
        });
        out.push(FlakyTest {
            name: name.to_string(),
            id,
            failures: u32::try_from(failures).unwrap_or(u32::MAX),
            passes: u32::try_from(passes).unwrap_or(u32::MAX),
            runs: seen
                .iter()
                .map(|(i, s)| AttemptOutcome {
                    run_id: attempts[*i].info.run_id.clone(),
                    run_attempt: attempts[*i].info.run_attempt,
                    outcome: s.status,
                })
                .collect(),
            current: current_status,
            message,
        });
    }
    out
}

/// `run 7001 attempt 1 failed, run 7001 attempt 2 passed`: a flaky test's runs in one line.
pub fn runs_line(t: &FlakyTest) -> String {
    t.runs
        .iter()
        .map(|r| {
            format!(
                "run {} attempt {} {}",
                r.run_id,
                r.run_attempt,
                r.outcome.as_str()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::FailedTest;

    fn case(name: &str, outcome: TestStatus, message: Option<&str>) -> TestOutcome {
        TestOutcome {
            test: FailedTest {
                name: name.into(),
                id: None,
                file: None,
                line: None,
                message: message.map(str::to_string),
                report: "r.xml".into(),
            },
            outcome,
        }
    }

    #[test]
    fn dir_names() {
        assert_eq!(parse_attempt_dir_name("7001-2"), Some(("7001".into(), 2)));
        assert_eq!(
            parse_attempt_dir_name("run-7001-attempt-3"),
            Some(("7001".into(), 3))
        );
        assert_eq!(parse_attempt_dir_name("reports"), None);
        assert_eq!(parse_attempt_dir_name("7001-0"), None);
        assert_eq!(parse_attempt_dir_name("a-1"), None);
    }

    #[test]
    fn failed_in_one_attempt_and_passed_in_another_is_flaky() {
        let mut a = AttemptReports::new("9".into(), 2, None, "9-2".into());
        a.add(vec![
            case("t.flaky", TestStatus::Passed, None),
            case("t.broken", TestStatus::Failed, Some("still broken")),
            case("t.skip", TestStatus::Skipped, None),
        ]);
        let mut b = AttemptReports::new("9".into(), 1, None, "9-1".into());
        b.add(vec![
            case("t.flaky", TestStatus::Failed, Some("timeout")),
            case("t.broken", TestStatus::Failed, Some("broken")),
            case("t.skip", TestStatus::Passed, None),
        ]);
        let mut all = vec![a, b];
        normalize(&mut all);
        assert_eq!(all[0].info.run_attempt, 1);
        let f = flaky_tests(&all, Some(("9", 2)));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].name, "t.flaky");
        assert_eq!((f[0].failures, f[0].passes), (1, 1));
        assert_eq!(f[0].message.as_deref(), Some("timeout"));
        assert_eq!(f[0].current, Some(TestStatus::Passed));
        assert_eq!(
            runs_line(&f[0]),
            "run 9 attempt 1 failed, run 9 attempt 2 passed"
        );
    }

    #[test]
    fn the_same_attempt_twice_is_merged_and_a_failure_wins() {
        let mut a = AttemptReports::new("9".into(), 1, None, "x".into());
        a.add(vec![case("t", TestStatus::Passed, None)]);
        let mut b = AttemptReports::new("9".into(), 1, Some("ab".into()), "y".into());
        b.add(vec![case("t", TestStatus::Failed, Some("m"))]);
        let mut all = vec![a, b];
        normalize(&mut all);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].info.failed, 1);
        assert_eq!(all[0].info.reports, 2);
        assert!(flaky_tests(&all, None).is_empty());
    }
}
