//! Playwright JSON reports (`reporter: [['json', { outputFile: 'results.json' }]]`).
//!
//! Shape (only what is read; unknown fields are ignored):
//! `{ config: { rootDir }, suites: [Suite] }`, `Suite = { title, file, suites: [Suite],
//! specs: [Spec] }`, `Spec = { title, file, line, tests: [Test] }`, `Test = { projectName,
//! expectedStatus, status, results: [{ status, error: {message}, errors: [{message}] }] }`.
//! `file` is relative to `config.rootDir` (the test directory).
//!
//! A test is failed when its final `status` is `unexpected` (or, in reports without `status`,
//! when its last result is `failed`/`timedOut`/`interrupted` and that was not the expected
//! status). **Flaky tests (`status: "flaky"`, failed then passed on retry) are not listed**: they
//! passed, and rerunning them proves nothing; skipped and expected-to-fail tests are not listed
//! either.
//!
//! A [`FailedTest`] gets: `name` = the suite titles (file first, then `describe` blocks) and the
//! spec title joined with ` › `, prefixed with `[project] › ` when the spec ran in several
//! projects; `file` = the spec's file, made repository-relative through `config.rootDir` when that
//! is a runner path (`/home/runner/work/app/app/e2e` + `login.spec.ts` → `e2e/login.spec.ts`);
//! `line` = the spec's 1-based line; `id` = `file:line` (what `npx playwright test` accepts);
//! `message` = the last attempt's `errors[].message` (else `error.message`), ANSI stripped,
//! at most 4 KiB.

use std::path::Path;

use serde::Deserialize;

use super::{clean_message, read_capped, ReportError, TestOutcome, TestStatus};
use crate::artifact::FailedTest;
use crate::logs::location::{relativize, repo_relative};

#[derive(Debug, Deserialize)]
struct Report {
    #[serde(default)]
    config: Config,
    suites: Vec<Suite>,
}

#[derive(Debug, Default, Deserialize)]
struct Config {
    #[serde(default, rename = "rootDir")]
    root_dir: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Suite {
    #[serde(default)]
    title: String,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    suites: Vec<Suite>,
    #[serde(default)]
    specs: Vec<Spec>,
}

#[derive(Debug, Deserialize)]
struct Spec {
    #[serde(default)]
    title: String,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    line: Option<u32>,
    #[serde(default)]
    tests: Vec<Test>,
}

#[derive(Debug, Deserialize)]
struct Test {
    #[serde(default, rename = "projectName")]
    project_name: String,
    #[serde(default, rename = "expectedStatus")]
    expected_status: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    results: Vec<TestResult>,
}

#[derive(Debug, Deserialize)]
struct TestResult {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    error: Option<TestError>,
    #[serde(default)]
    errors: Vec<TestError>,
}

#[derive(Debug, Deserialize)]
struct TestError {
    #[serde(default)]
    message: Option<String>,
}

/// Reads a Playwright JSON report and returns its failed tests in report order.
///
/// `workspace` is the checkout's absolute path (`GITHUB_WORKSPACE`), stripped from
/// `config.rootDir` and absolute spec paths like the hosted-runner layouts ([`repo_relative`]).
///
/// Errors: [`ReportError::Io`], [`ReportError::TooLarge`], [`ReportError::Json`] (malformed JSON
/// or not a Playwright report, with the 1-based line and column).
pub fn read_playwright_json(
    path: &Path,
    workspace: Option<&str>,
) -> Result<Vec<FailedTest>, ReportError> {
    let bytes = read_capped(path)?;
    parse_playwright_json(&bytes, &path.display().to_string(), workspace)
}

/// Parses a Playwright JSON report from `bytes`; `report` names the file in errors and in
/// [`FailedTest::report`], `workspace` is as for [`read_playwright_json`].
pub fn parse_playwright_json(
    bytes: &[u8],
    report: &str,
    workspace: Option<&str>,
) -> Result<Vec<FailedTest>, ReportError> {
    Ok(parse_cases(bytes, report, workspace, false)?
        .into_iter()
        .map(|c| c.test)
        .collect())
}

/// Reads a Playwright JSON report and returns EVERY test with its [`TestStatus`], in report
/// order: `unexpected` is failed; `expected` and `flaky` (passed on a retry within the run) are
/// passed; `skipped` (and an expected failure) is skipped. Names and ids are those of
/// [`read_playwright_json`].
pub fn read_playwright_outcomes(
    path: &Path,
    workspace: Option<&str>,
) -> Result<Vec<TestOutcome>, ReportError> {
    let bytes = read_capped(path)?;
    parse_cases(&bytes, &path.display().to_string(), workspace, true)
}

/// The one parser: failed tests only, or every test (`all`).
fn parse_cases(
    bytes: &[u8],
    report: &str,
    workspace: Option<&str>,
    all: bool,
) -> Result<Vec<TestOutcome>, ReportError> {
    let parsed: Report = serde_json::from_slice(bytes).map_err(|e| ReportError::Json {
        path: report.to_string(),
        line: e.line() as u64,
        column: e.column() as u64,
        message: e.to_string(),
    })?;
    let prefix = parsed
        .config
        .root_dir
        .as_deref()
        .and_then(|r| repo_relative(r, workspace))
        .filter(|p| !p.is_empty());
    let mut out = Vec::new();
    let mut titles = Vec::new();
    for suite in &parsed.suites {
        let at = Paths {
            prefix: prefix.as_deref(),
            workspace,
            all,
        };
        walk(suite, &mut titles, at, report, &mut out);
    }
    Ok(out)
}

/// How spec paths are made repository-relative.
#[derive(Clone, Copy)]
struct Paths<'a> {
    /// `config.rootDir` relative to the repository, when it is a checkout path.
    prefix: Option<&'a str>,
    /// The checkout (`GITHUB_WORKSPACE`).
    workspace: Option<&'a str>,
    /// Every test, not only the failed ones.
    all: bool,
}

fn walk<'a>(
    suite: &'a Suite,
    titles: &mut Vec<&'a str>,
    at: Paths<'_>,
    report: &str,
    out: &mut Vec<TestOutcome>,
) {
    let pushed = !suite.title.is_empty();
    if pushed {
        titles.push(&suite.title);
    }
    for spec in &suite.specs {
        let several_projects = spec.tests.len() > 1;
        for test in &spec.tests {
            let outcome = outcome(test);
            if !at.all && outcome != TestStatus::Failed {
                continue;
            }
            let mut parts: Vec<&str> = Vec::new();
            if several_projects && !test.project_name.is_empty() {
                parts.push("");
            }
            parts.extend(titles.iter().copied());
            parts.push(&spec.title);
            let mut name = parts.join(" › ");
            if several_projects && !test.project_name.is_empty() {
                name = format!("[{}]{name}", test.project_name);
            }
            let file = spec
                .file
                .as_deref()
                .or(suite.file.as_deref())
                .filter(|f| !f.is_empty())
                .map(|f| match at.prefix {
                    Some(p) if !f.starts_with('/') => format!("{p}/{f}"),
                    _ => relativize(f, at.workspace),
                });
            let line = spec.line.filter(|&l| l > 0);
            let id = match (&file, line) {
                (Some(f), Some(l)) => Some(format!("{f}:{l}")),
                _ => None,
            };
            out.push(TestOutcome {
                test: FailedTest {
                    name,
                    id,
                    file,
                    line,
                    message: if outcome == TestStatus::Failed {
                        message(test)
                    } else {
                        None
                    },
                    report: report.to_string(),
                },
                outcome,
            });
        }
    }
    for child in &suite.suites {
        walk(child, titles, at, report, out);
    }
    if pushed {
        titles.pop();
    }
}

fn outcome(test: &Test) -> TestStatus {
    if is_failed(test) {
        return TestStatus::Failed;
    }
    let passed = match test.status.as_deref() {
        Some("expected") => matches!(test.expected_status.as_deref(), None | Some("passed")),
        Some(s) => s == "flaky",
        None => test.results.last().and_then(|r| r.status.as_deref()) == Some("passed"),
    };
    if passed {
        TestStatus::Passed
    } else {
        TestStatus::Skipped
    }
}

fn is_failed(test: &Test) -> bool {
    match test.status.as_deref() {
        Some(s) => s == "unexpected",
        None => match test.results.last().and_then(|r| r.status.as_deref()) {
            Some(s @ ("failed" | "timedOut" | "interrupted")) => {
                test.expected_status.as_deref() != Some(s)
            }
            _ => false,
        },
    }
}

fn message(test: &Test) -> Option<String> {
    let last = test
        .results
        .iter()
        .rev()
        .find(|r| !r.errors.is_empty() || r.error.is_some())?;
    let msgs: Vec<&str> = last
        .errors
        .iter()
        .filter_map(|e| e.message.as_deref())
        .collect();
    if msgs.is_empty() {
        last.error
            .as_ref()
            .and_then(|e| e.message.as_deref())
            .and_then(clean_message)
    } else {
        clean_message(&msgs.join("\n\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_map_playwright_statuses() {
        let spec = |title: &str, expected: &str, status: &str| {
            format!(
                r#"{{"title": "{title}", "file": "a.spec.ts", "line": 3, "tests": [{{"projectName": "chromium", "expectedStatus": "{expected}", "status": "{status}", "results": [{{"status": "failed", "errors": [{{"message": "m"}}]}}]}}]}}"#
            )
        };
        let json = format!(
            r#"{{"config": {{}}, "suites": [{{"title": "a.spec.ts", "file": "a.spec.ts", "specs": [{}, {}, {}, {}, {}]}}]}}"#,
            spec("ok", "passed", "expected"),
            spec("retried", "passed", "flaky"),
            spec("bad", "passed", "unexpected"),
            spec("skip", "skipped", "expected"),
            spec("known", "failed", "expected"),
        );
        let all = parse_cases(json.as_bytes(), "r.json", None, true).expect("parse");
        let got: Vec<(&str, TestStatus)> = all
            .iter()
            .map(|c| (c.test.name.as_str(), c.outcome))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a.spec.ts › ok", TestStatus::Passed),
                ("a.spec.ts › retried", TestStatus::Passed),
                ("a.spec.ts › bad", TestStatus::Failed),
                ("a.spec.ts › skip", TestStatus::Skipped),
                ("a.spec.ts › known", TestStatus::Skipped),
            ]
        );
        // Only a failure carries a message; the failed-only reader lists just that one.
        assert!(all
            .iter()
            .all(|c| c.test.message.is_some() == (c.outcome == TestStatus::Failed)));
        let failed = parse_playwright_json(json.as_bytes(), "r.json", None).expect("parse");
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0], all[2].test);
    }
}
