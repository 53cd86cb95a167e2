//! JUnit XML reports.
//!
//! The de-facto format (no single schema; see the Surefire and Ant XSDs) as written by:
//! - **Maven Surefire/Failsafe, Gradle**: `<testsuite name="com.x.FooTest">` with
//!   `<testcase name="bar" classname="com.x.FooTest">`; the failure text is a Java stack trace.
//!   `<flakyFailure>`/`<rerunFailure>` (Surefire's rerun elements) do not make a test failed:
//!   a flaky test passed in the end.
//! - **pytest `--junitxml`**: `<testsuite name="pytest">`, `classname="tests.test_x[.TestClass]"`,
//!   failure text ending with `tests/test_x.py:23: AssertionError`; `file`/`line` attributes
//!   only with `junit_family=xunit1`, and that `line` is 0-based.
//! - **jest-junit**: `<testcase classname="Suite title" name="Suite title">` (both from the same
//!   template by default), failure text with a JS stack trace; `file` with `addFileAttribute`.
//! - **Playwright `junit`**: `<testsuite name="login.spec.ts">`,
//!   `<testcase name="Login › shows error" classname="login.spec.ts">`, failure text headed by
//!   `[chromium] › login.spec.ts:12:5 › Login › shows error` (older versions put
//!   `login.spec.ts:12:5 shows error` in the `message` attribute).
//!
//! A `<testcase>` with a `<failure>` or `<error>` child is failed; `<skipped>` is not. Suites may
//! nest. Read with quick-xml's streaming reader over the (capped) file.
//!
//! What is filled in a [`FailedTest`]:
//! - `name`: `classname.name` (Java, pytest), `file › name` when the classname is a file path
//!   (Playwright), `name` alone when classname equals it or is missing (jest-junit), prefixed
//!   with the suite as `suite › name` when there is no classname.
//! - `file`/`line`: the `file`/`line` attributes when present (pytest's 0-based line made
//!   1-based), else parsed from the failure text: a Playwright header, a pytest
//!   `path.py:N: Error` line, the Java stack frame of the test class (`FooTest.java:23`, given
//!   as `com/x/FooTest.java`, a path suffix), or the first JS stack frame outside
//!   `node_modules`. Absolute runner paths are made repository-relative.
//! - `id`: Playwright `file:line`; pytest `file.py::[Class::]name`; Java `Class#method`
//!   (Surefire's `-Dtest=` syntax) when the name is a plain method name; none for jest.
//! - `message`: the `message` attribute, else the first 20 lines of the failure text (ANSI
//!   stripped, at most 4 KiB).

use std::borrow::Cow;
use std::path::Path;
use std::sync::LazyLock;

use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use regex::Regex;

use super::{clean_message, line_col, read_capped, ReportError, TestOutcome, TestStatus};
use crate::artifact::FailedTest;
use crate::logs::location::{relativize, repo_relative};
use crate::text::token_safe_str;

/// Failure text kept per test case for parsing, in bytes.
const MAX_FAILURE_TEXT: usize = 64 * 1024;

#[derive(Debug, Default)]
struct Case {
    name: String,
    classname: String,
    file: Option<String>,
    line: Option<u32>,
    failure: Option<Failure>,
    /// A `<skipped>` child.
    skipped: bool,
}

#[derive(Debug, Default)]
struct Failure {
    message: Option<String>,
    text: String,
    /// The text reached [`MAX_FAILURE_TEXT`] and was cut.
    full: bool,
}

/// Reads a JUnit XML report, or every `*.xml` file under a directory (sorted by path; files
/// whose root element is not JUnit are skipped there, e.g. Surefire's other outputs).
///
/// Returns the failed and errored test cases in document order.
///
/// `workspace` is the checkout's absolute path (`GITHUB_WORKSPACE`), stripped from the paths
/// the report names like the hosted-runner layouts ([`repo_relative`]).
///
/// Errors: [`ReportError::Io`] (missing or unreadable), [`ReportError::TooLarge`] (over
/// [`super::MAX_REPORT_BYTES`]), [`ReportError::Xml`] (malformed or truncated XML, with the
/// 1-based line and column), [`ReportError::NotJunit`] (another XML document, single file only).
pub fn read_junit(path: &Path, workspace: Option<&str>) -> Result<Vec<FailedTest>, ReportError> {
    if path.is_dir() {
        let mut out = Vec::new();
        for p in junit_files(path)? {
            match read_junit_file(&p, workspace) {
                Ok(mut tests) => out.append(&mut tests),
                Err(ReportError::NotJunit { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        return Ok(out);
    }
    read_junit_file(path, workspace)
}

fn read_junit_file(path: &Path, workspace: Option<&str>) -> Result<Vec<FailedTest>, ReportError> {
    let bytes = read_capped(path)?;
    parse_junit(&bytes, &path.display().to_string(), workspace)
}

/// Parses JUnit XML `bytes`; `report` names the file in errors and in [`FailedTest::report`],
/// `workspace` is as for [`read_junit`].
pub fn parse_junit(
    bytes: &[u8],
    report: &str,
    workspace: Option<&str>,
) -> Result<Vec<FailedTest>, ReportError> {
    Ok(parse_junit_cases(bytes, report, workspace, false)?
        .into_iter()
        .map(|c| c.test)
        .collect())
}

/// Parses JUnit XML `bytes` like [`parse_junit`] but returns EVERY test case with its
/// [`TestStatus`] (passed, failed or skipped), in document order. A passed case is filled in the
/// same way as a failed one, without a failure text: its `name` is the same, its `id` only
/// when the id does not come from the failure text (pytest, Java), and it has no `message`.
pub fn parse_junit_outcomes(
    bytes: &[u8],
    report: &str,
    workspace: Option<&str>,
) -> Result<Vec<TestOutcome>, ReportError> {
    parse_junit_cases(bytes, report, workspace, true)
}

/// Reads a JUnit XML report (a file, or every `*.xml` under a directory as [`read_junit`]
/// does) and returns every test case with its outcome ([`parse_junit_outcomes`]).
pub fn read_junit_outcomes(
    path: &Path,
    workspace: Option<&str>,
) -> Result<Vec<TestOutcome>, ReportError> {
    let files = if path.is_dir() {
        junit_files(path)?
    } else {
        vec![path.to_path_buf()]
    };
    let single = !path.is_dir();
    let mut out = Vec::new();
    for p in files {
        let bytes = read_capped(&p)?;
        match parse_junit_outcomes(&bytes, &p.display().to_string(), workspace) {
            Ok(mut tests) => out.append(&mut tests),
            Err(ReportError::NotJunit { .. }) if !single => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The `*.xml` files under `dir`, sorted by path.
fn junit_files(dir: &Path) -> Result<Vec<std::path::PathBuf>, ReportError> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| ReportError::Io {
            path: e.path().unwrap_or(dir).display().to_string(),
            source: e
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("filesystem loop")),
        })?;
        let p = entry.path();
        if entry.file_type().is_file()
            && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("xml"))
        {
            out.push(p.to_path_buf());
        }
    }
    Ok(out)
}

/// The one parser: failed cases only, or every case (`all`).
fn parse_junit_cases(
    bytes: &[u8],
    report: &str,
    workspace: Option<&str>,
    all: bool,
) -> Result<Vec<TestOutcome>, ReportError> {
    let mut reader = Reader::from_reader(bytes);
    let xml_err = |reader: &Reader<&[u8]>, message: String| {
        let (line, column) = line_col(bytes, usize::try_from(reader.error_position()).unwrap_or(0));
        ReportError::Xml {
            path: report.to_string(),
            line,
            column,
            message,
        }
    };
    let mut out = Vec::new();
    let mut suites: Vec<String> = Vec::new();
    let mut case: Option<Case> = None;
    let mut collecting = false;
    let mut depth = 0usize;
    let mut saw_root = false;
    loop {
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(e) => return Err(xml_err(&reader, e.to_string())),
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_start = matches!(event, Event::Start(_));
                let name = e.local_name();
                let name = name.as_ref();
                if !saw_root {
                    if !matches!(name, b"testsuites" | b"testsuite" | b"testcase") {
                        return Err(ReportError::NotJunit {
                            path: report.to_string(),
                            root: token_safe_str(&String::from_utf8_lossy(name), 64).to_string(),
                        });
                    }
                    saw_root = true;
                }
                if is_start {
                    depth += 1;
                }
                match name {
                    b"testsuite" if is_start => {
                        suites.push(attr(e, b"name").unwrap_or_default());
                    }
                    b"testcase" if is_start => {
                        case = Some(case_of(e));
                    }
                    // `<testcase …/>`: a case without children passed.
                    b"testcase" if all => {
                        let c = case_of(e);
                        let pytest = suites.iter().any(|s| s == "pytest");
                        out.push(TestOutcome {
                            test: failed_test(c, &suites, pytest, report, workspace),
                            outcome: TestStatus::Passed,
                        });
                    }
                    b"skipped" => {
                        if let Some(c) = case.as_mut() {
                            c.skipped = true;
                        }
                    }
                    b"failure" | b"error" => {
                        if let Some(c) = case.as_mut() {
                            if c.failure.is_none() {
                                c.failure = Some(Failure {
                                    message: attr(e, b"message"),
                                    text: String::new(),
                                    full: false,
                                });
                                collecting = is_start;
                            }
                        }
                    }
                    _ => {}
                }
            }
            Event::End(ref e) => {
                depth = depth.saturating_sub(1);
                match e.local_name().as_ref() {
                    b"failure" | b"error" => collecting = false,
                    b"testcase" => {
                        collecting = false;
                        if let Some(c) = case.take() {
                            let outcome = if c.failure.is_some() {
                                TestStatus::Failed
                            } else if c.skipped {
                                TestStatus::Skipped
                            } else {
                                TestStatus::Passed
                            };
                            if all || outcome == TestStatus::Failed {
                                let pytest = suites.iter().any(|s| s == "pytest");
                                out.push(TestOutcome {
                                    test: failed_test(c, &suites, pytest, report, workspace),
                                    outcome,
                                });
                            }
                        }
                    }
                    b"testsuite" => {
                        suites.pop();
                    }
                    _ => {}
                }
            }
            Event::Text(ref t) if collecting => push_text(
                &mut case,
                &t.decode().unwrap_or_else(|_| String::from_utf8_lossy(t)),
            ),
            Event::CData(ref t) if collecting => push_text(
                &mut case,
                &t.decode().unwrap_or_else(|_| String::from_utf8_lossy(t)),
            ),
            Event::GeneralRef(ref r) if collecting => {
                let s: Cow<'_, str> = match r.resolve_char_ref() {
                    Ok(Some(ch)) => Cow::Owned(ch.to_string()),
                    _ => match &**r {
                        b"lt" => "<".into(),
                        b"gt" => ">".into(),
                        b"amp" => "&".into(),
                        b"quot" => "\"".into(),
                        b"apos" => "'".into(),
                        other => format!("&{};", String::from_utf8_lossy(other)).into(),
                    },
                };
                push_text(&mut case, &s);
            }
            Event::Eof => {
                if depth > 0 {
                    return Err(xml_err(
                        &reader,
                        "unexpected end of file: the document is truncated".into(),
                    ));
                }
                if !saw_root {
                    return Err(ReportError::NotJunit {
                        path: report.to_string(),
                        root: String::new(),
                    });
                }
                break;
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Appends failure text up to [`MAX_FAILURE_TEXT`]; the cut keeps no part of a token (the
/// text is redacted later, which needs whole tokens), and nothing is appended after a cut.
fn push_text(case: &mut Option<Case>, s: &str) {
    if let Some(f) = case.as_mut().and_then(|c| c.failure.as_mut()) {
        if f.full {
            return;
        }
        let room = MAX_FAILURE_TEXT.saturating_sub(f.text.len());
        let kept = token_safe_str(s, room);
        f.full = kept.len() < s.len();
        f.text.push_str(kept);
    }
}

/// An attribute's unescaped value (lossy UTF-8; the raw text when it has a bad entity).
fn attr(e: &BytesStart<'_>, key: &[u8]) -> Option<String> {
    e.attributes()
        .with_checks(false)
        .filter_map(Result::ok)
        .find(|a: &Attribute<'_>| a.key.local_name().as_ref() == key)
        .map(|a| {
            let raw = String::from_utf8_lossy(&a.value);
            match quick_xml::escape::unescape(&raw) {
                Ok(v) => v.into_owned(),
                Err(_) => raw.into_owned(),
            }
        })
}

macro_rules! re {
    ($name:ident, $pat:expr) => {
        #[allow(clippy::expect_used)] // a constant pattern, exercised by the tests
        static $name: LazyLock<Regex> = LazyLock::new(|| Regex::new($pat).expect($pat));
    };
}

// `[chromium] › auth/login.spec.ts:12:5 › Login › shows error` (failure text header).
re!(
    PW_HEADER,
    r"(?m)(?:^|› )([^\s›:]+\.[cm]?[jt]sx?):(\d+):(\d+) ›"
);
// `login.spec.ts:12:5 shows error` (message attribute of older Playwright versions).
re!(PW_MESSAGE, r"^([^\s:]+\.[cm]?[jt]sx?):(\d+):(\d+) ");
// `tests/test_x.py:23: AssertionError`.
re!(PYTEST_LOC, r"(?m)^([^\s:]+\.py):(\d+):(?: |$)");
// `at com.x.FooTest.bar(FooTest.java:23)`, also with a Java 9+ class loader / module prefix
// (`at app//com.x.FooTest.bar(…)`, `at java.base/java.lang.Thread.run(…)`).
re!(
    JAVA_FRAME,
    r"at (?:[\w$.@-]*/{1,2})?([\w$.]+)\.[\w$<>]+\(([\w$]+\.(?:java|kt|groovy|scala)):(\d+)\)"
);
// `at Object.<anonymous> (/home/runner/work/app/app/src/sum.test.js:7:19)` or `at src/x.ts:3:1`.
re!(
    JS_FRAME,
    r"(?m)\bat (?:[^\n(]*\()?((?:[A-Za-z]:)?[^\s():]+\.[cm]?[jt]sx?):(\d+):(\d+)\)?"
);
re!(JAVA_NAME, r"^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+$");
re!(METHOD_NAME, r"^[A-Za-z_$][\w$]*(?:\(\))?$");

/// A `<testcase>`'s attributes.
fn case_of(e: &BytesStart<'_>) -> Case {
    Case {
        name: attr(e, b"name").unwrap_or_default(),
        classname: attr(e, b"classname").unwrap_or_default(),
        file: attr(e, b"file").filter(|f| !f.is_empty()),
        line: attr(e, b"line").and_then(|l| l.trim().parse().ok()),
        failure: None,
        skipped: false,
    }
}

fn looks_like_file(s: &str) -> bool {
    s.contains('/')
        || [
            ".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts", ".py", ".rb", ".go",
        ]
        .iter()
        .any(|ext| s.ends_with(ext))
}

fn failed_test(
    c: Case,
    suites: &[String],
    pytest: bool,
    report: &str,
    workspace: Option<&str>,
) -> FailedTest {
    let rel = |p: &str| relativize(p, workspace);
    let failure = c.failure.unwrap_or_default();
    let text = failure.text.as_str();
    let suite = suites.last().map(String::as_str).unwrap_or("");
    let name = if c.classname.is_empty() {
        if suite.is_empty() || suite == c.name {
            c.name.clone()
        } else {
            format!("{suite} › {}", c.name)
        }
    } else if c.classname == c.name {
        c.name.clone()
    } else if looks_like_file(&c.classname) {
        format!("{} › {}", c.classname, c.name)
    } else {
        format!("{}.{}", c.classname, c.name)
    };

    let mut file = c.file.as_deref().map(rel);
    let mut line = c.line.map(|l| {
        if pytest || file.as_deref().is_some_and(|f| f.ends_with(".py")) {
            l.saturating_add(1)
        } else {
            l
        }
    });
    let mut id = None;

    let pw = PW_HEADER
        .captures(text)
        .or_else(|| PW_MESSAGE.captures(failure.message.as_deref().unwrap_or("")));
    let is_pytest =
        pytest || file.as_deref().is_some_and(|f| f.ends_with(".py")) || PYTEST_LOC.is_match(text);
    if let Some(caps) = pw {
        // Playwright: the header names the test's file relative to the test directory; a stack
        // frame ending in that path gives the repository-relative path.
        let pw_file = &caps[1];
        let pw_line: Option<u32> = caps[2].parse().ok();
        let full = JS_FRAME
            .captures_iter(text)
            .map(|f| f[1].to_string())
            .find(|p| p.ends_with(&format!("/{pw_file}")) || p == pw_file)
            .and_then(|p| repo_relative(&p, workspace))
            .unwrap_or_else(|| pw_file.to_string());
        if file.is_none() {
            file = Some(full.clone());
            line = pw_line;
        }
        if let Some(l) = pw_line {
            id = Some(format!("{full}:{l}"));
        }
    } else if is_pytest {
        // The failure text lists `path.py:N: ` per traceback entry, the test's own first; pick
        // the entry in the test's module (from the classname), so a fixture in conftest.py or
        // library code does not pass for the test's file.
        let module = pytest_module_file(&c.classname);
        let locs: Vec<(String, Option<u32>)> = PYTEST_LOC
            .captures_iter(text)
            .map(|m| (rel(&m[1]), m[2].parse().ok()))
            .collect();
        let wanted = file.clone().or(module);
        match wanted {
            Some(w) => {
                let hit = locs
                    .iter()
                    .find(|(f, _)| *f == w || f.ends_with(&format!("/{w}")));
                if let Some((f, l)) = hit {
                    if file.is_none() {
                        file = Some(f.clone());
                    }
                    line = l.or(line);
                } else if file.is_none() {
                    file = Some(w);
                }
            }
            None => {
                if let Some((f, l)) = locs.first() {
                    file = Some(f.clone());
                    line = *l;
                }
            }
        }
        if let Some(f) = &file {
            id = pytest_id(f, &c.classname, &c.name);
        }
    } else if JAVA_NAME.is_match(&c.classname) {
        let frame = JAVA_FRAME.captures_iter(text).find(|f| {
            let class = &f[1];
            class == c.classname || class.starts_with(&format!("{}$", c.classname))
        });
        if let Some(f) = frame {
            if file.is_none() {
                let package = c
                    .classname
                    .rsplit_once('.')
                    .map(|(p, _)| p.replace('.', "/"))
                    .unwrap_or_default();
                file = Some(if package.is_empty() {
                    f[2].to_string()
                } else {
                    format!("{package}/{}", &f[2])
                });
                line = f[3].parse().ok();
            }
        }
        if METHOD_NAME.is_match(&c.name) {
            id = Some(format!("{}#{}", c.classname, c.name.trim_end_matches("()")));
        }
    } else if file.is_none() {
        // jest and other JS runners: prefer a frame in a test file, else any own frame.
        let frames: Vec<(String, Option<u32>)> = JS_FRAME
            .captures_iter(text)
            .map(|f| (f[1].to_string(), f[2].parse().ok()))
            .filter(|(p, _)| {
                !p.contains("node_modules")
                    && !p.starts_with("node:")
                    && !p.starts_with("internal/")
            })
            .collect();
        let pick = frames
            .iter()
            .find(|(p, _)| p.contains(".test.") || p.contains(".spec.") || p.contains("__tests__"))
            .or_else(|| frames.first());
        if let Some((p, l)) = pick {
            file = Some(rel(p));
            line = *l;
        }
    }

    let message = failure
        .message
        .as_deref()
        .and_then(clean_message)
        .or_else(|| {
            let first: Vec<&str> = text.lines().take(20).collect();
            clean_message(&first.join("\n"))
        });
    FailedTest {
        name,
        id,
        file,
        line: line.filter(|&l| l > 0),
        message,
        report: report.to_string(),
    }
}

/// pytest's classname is the test's node id with `/` → `.` and `.py` dropped, classes
/// appended: `tests.api.test_client.TestRetry` → `tests/api/test_client.py` (modules are the
/// leading components that do not start with an upper-case letter).
fn pytest_module_file(classname: &str) -> Option<String> {
    let parts: Vec<&str> = classname
        .split('.')
        .take_while(|p| !p.is_empty() && !p.starts_with(|c: char| c.is_ascii_uppercase()))
        .collect();
    if parts.is_empty() {
        return None;
    }
    Some(format!("{}.py", parts.join("/")))
}

/// `tests/test_x.py::TestClass::test_y` from the file and pytest's dotted classname
/// (`tests.test_x.TestClass`): the components after the module's own name are classes.
fn pytest_id(file: &str, classname: &str, name: &str) -> Option<String> {
    let stem = Path::new(file).file_stem()?.to_str()?;
    let parts: Vec<&str> = classname.split('.').collect();
    let classes = match parts.iter().rposition(|p| *p == stem) {
        Some(i) => &parts[i + 1..],
        None if classname.is_empty() => &parts[..0],
        None => return None,
    };
    let mut id = file.to_string();
    for c in classes {
        id.push_str("::");
        id.push_str(c);
    }
    id.push_str("::");
    id.push_str(name);
    Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_list_every_case_and_failed_only_is_unchanged() {
        let xml = br#"<testsuites><testsuite name="pytest">
<testcase classname="tests.test_a" name="test_ok" />
<testcase classname="tests.test_a" name="test_ok_too"></testcase>
<testcase classname="tests.test_a" name="test_skip"><skipped message="no"/></testcase>
<testcase classname="tests.test_a" name="test_bad"><failure message="boom">tests/test_a.py:3: AssertionError</failure></testcase>
<testcase classname="tests.test_a" name="test_err"><error message="setup"/></testcase>
</testsuite></testsuites>"#;
        let all = parse_junit_outcomes(xml, "r.xml", None).expect("parse");
        let got: Vec<(&str, TestStatus, Option<&str>)> = all
            .iter()
            .map(|c| (c.test.name.as_str(), c.outcome, c.test.id.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "tests.test_a.test_ok",
                    TestStatus::Passed,
                    Some("tests/test_a.py::test_ok")
                ),
                (
                    "tests.test_a.test_ok_too",
                    TestStatus::Passed,
                    Some("tests/test_a.py::test_ok_too")
                ),
                (
                    "tests.test_a.test_skip",
                    TestStatus::Skipped,
                    Some("tests/test_a.py::test_skip")
                ),
                (
                    "tests.test_a.test_bad",
                    TestStatus::Failed,
                    Some("tests/test_a.py::test_bad")
                ),
                (
                    "tests.test_a.test_err",
                    TestStatus::Failed,
                    Some("tests/test_a.py::test_err")
                ),
            ]
        );
        assert_eq!(all[0].test.message, None);
        assert_eq!(all[3].test.message.as_deref(), Some("boom"));
        let failed = parse_junit(xml, "r.xml", None).expect("parse");
        let failed_cases: Vec<FailedTest> = all
            .into_iter()
            .filter(|c| c.outcome == TestStatus::Failed)
            .map(|c| c.test)
            .collect();
        assert_eq!(failed, failed_cases);
    }

    #[test]
    fn pytest_ids() {
        assert_eq!(
            pytest_id("tests/test_x.py", "tests.test_x", "test_y[1-2]").as_deref(),
            Some("tests/test_x.py::test_y[1-2]")
        );
        assert_eq!(
            pytest_id("tests/test_x.py", "tests.test_x.TestA.TestB", "test_y").as_deref(),
            Some("tests/test_x.py::TestA::TestB::test_y")
        );
        assert_eq!(pytest_id("tests/test_x.py", "other.mod", "t"), None);
    }
}
