//! Test reports (JUnit XML flavours, Playwright JSON) → failed tests, on the fixtures in
//! `fixtures/reports/` and on hostile input.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::path::{Path, PathBuf};

use ci_remedy::artifact::{FailedTest, Redactions, RunInfo};
use ci_remedy::classify::RulePack;
use ci_remedy::logs::redact::Redactor;
use ci_remedy::prepare::{redact_context, PrepareInput};
use ci_remedy::reports::{self, read_junit, read_playwright_json, ReportError};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/reports")
        .join(name)
}

fn by_name<'a>(tests: &'a [FailedTest], name: &str) -> &'a FailedTest {
    tests
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no failed test {name:?} in {tests:#?}"))
}

#[test]
fn surefire_failures_and_errors_but_not_skipped_or_flaky() {
    let path = fixture("surefire-TEST-com.example.shop.CartServiceTest.xml");
    let tests = read_junit(&path, None).unwrap();
    let names: Vec<&str> = tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "com.example.shop.CartServiceTest.appliesDiscount",
            "com.example.shop.CartServiceTest.checkoutWithEmptyCart"
        ]
    );
    let t = &tests[0];
    assert_eq!(
        t.id.as_deref(),
        Some("com.example.shop.CartServiceTest#appliesDiscount")
    );
    assert_eq!(
        t.file.as_deref(),
        Some("com/example/shop/CartServiceTest.java")
    );
    assert_eq!(t.line, Some(48));
    assert_eq!(
        t.message.as_deref(),
        Some("expected: <90.0> but was: <100.0>")
    );
    assert_eq!(t.report, path.display().to_string());
    // The frame of the test class (through a lambda), not CartService.java:77.
    let t = &tests[1];
    assert_eq!(t.line, Some(63));
    assert!(t.message.as_deref().unwrap().contains("\"cart\" is null"));
}

#[test]
fn pytest_xunit2_locations_come_from_the_traceback() {
    let tests = read_junit(&fixture("pytest-junit.xml"), None).unwrap();
    assert_eq!(tests.len(), 3, "{tests:#?}");

    let t = by_name(&tests, "tests.test_orders.test_total_includes_tax[DE-0.19]");
    assert_eq!(t.file.as_deref(), Some("tests/test_orders.py"));
    assert_eq!(t.line, Some(42));
    assert_eq!(
        t.id.as_deref(),
        Some("tests/test_orders.py::test_total_includes_tax[DE-0.19]")
    );
    assert!(t
        .message
        .as_deref()
        .unwrap()
        .starts_with("assert 119.0 == 121.0\n"));

    let t = by_name(
        &tests,
        "tests.api.test_client.TestRetry.test_gives_up_after_three_attempts",
    );
    assert_eq!(t.file.as_deref(), Some("tests/api/test_client.py"));
    assert_eq!(t.line, Some(88));
    assert_eq!(
        t.id.as_deref(),
        Some("tests/api/test_client.py::TestRetry::test_gives_up_after_three_attempts")
    );

    // An <error> in a fixture: the traceback is in conftest.py, the test is in test_db.py.
    let t = by_name(&tests, "tests.test_db.test_migrations");
    assert_eq!(t.file.as_deref(), Some("tests/test_db.py"));
    assert_eq!(t.line, None);
    assert_eq!(t.id.as_deref(), Some("tests/test_db.py::test_migrations"));
    assert!(t.message.as_deref().unwrap().contains("port 5432 failed"));
}

#[test]
fn pytest_xunit1_line_attribute_is_zero_based() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r.xml");
    std::fs::write(
        &p,
        r#"<testsuites><testsuite name="pytest"><testcase classname="tests.test_a" name="test_b" file="tests/test_a.py" line="9"><failure message="boom">x</failure></testcase></testsuite></testsuites>"#,
    )
    .unwrap();
    let t = &read_junit(&p, None).unwrap()[0];
    assert_eq!(t.file.as_deref(), Some("tests/test_a.py"));
    assert_eq!(t.line, Some(10));
    assert_eq!(t.id.as_deref(), Some("tests/test_a.py::test_b"));
}

#[test]
fn jest_junit_uses_the_test_file_frame() {
    let tests = read_junit(&fixture("jest-junit.xml"), None).unwrap();
    assert_eq!(tests.len(), 2, "{tests:#?}");
    let t = by_name(&tests, "cart reducer removes an item");
    assert_eq!(
        t.file.as_deref(),
        Some("src/cart/__tests__/reducer.test.ts")
    );
    assert_eq!(t.line, Some(27));
    assert_eq!(t.id, None);
    assert!(t
        .message
        .as_deref()
        .unwrap()
        .starts_with("Error: expect(received).toEqual(expected)"));
    let t = by_name(&tests, "PriceTag renders the currency");
    assert_eq!(t.file.as_deref(), Some("src/components/PriceTag.test.tsx"));
    assert_eq!(t.line, Some(14));
    assert!(t
        .message
        .as_deref()
        .unwrap()
        .contains("<span class=\"price\">"));
}

#[test]
fn playwright_junit_ids_are_file_and_line() {
    let tests = read_junit(&fixture("playwright-junit.xml"), None).unwrap();
    assert_eq!(tests.len(), 2, "{tests:#?}");
    let t = by_name(
        &tests,
        "checkout/payment.spec.ts › Checkout › pays with a saved card",
    );
    assert_eq!(t.file.as_deref(), Some("e2e/checkout/payment.spec.ts"));
    assert_eq!(t.line, Some(18));
    assert_eq!(t.id.as_deref(), Some("e2e/checkout/payment.spec.ts:18"));
    assert_eq!(
        t.message.as_deref(),
        Some("Timed out 5000ms waiting for expect(locator).toBeVisible()")
    );
    let t = by_name(&tests, "auth/login.spec.ts › rejects a wrong password");
    assert_eq!(t.id.as_deref(), Some("e2e/auth/login.spec.ts:9"));
    assert_eq!(
        t.message.as_deref(),
        Some("Test timeout of 30000ms exceeded.")
    );
}

#[test]
fn playwright_json_lists_unexpected_not_flaky() {
    let path = fixture("playwright-report.json");
    let tests = read_playwright_json(&path, None).unwrap();
    let names: Vec<&str> = tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "checkout/payment.spec.ts › Checkout › pays with a saved card",
            "[chromium] › auth/login.spec.ts › rejects a wrong password",
        ]
    );
    let t = &tests[0];
    assert_eq!(t.file.as_deref(), Some("e2e/checkout/payment.spec.ts"));
    assert_eq!(t.line, Some(18));
    assert_eq!(t.id.as_deref(), Some("e2e/checkout/payment.spec.ts:18"));
    let m = t.message.as_deref().unwrap();
    assert!(
        m.starts_with("Error: Timed out 5000ms waiting for expect(locator).toBeVisible()"),
        "{m}"
    );
    assert!(!m.contains('\u{1b}'));
    let t = &tests[1];
    assert_eq!(t.id.as_deref(), Some("e2e/auth/login.spec.ts:9"));
    assert_eq!(
        t.message.as_deref(),
        Some(
            "Test timeout of 30000ms exceeded.\n\nError: page.fill: Test timeout of 30000ms exceeded.\nCall log:\n  - waiting for getByLabel('Password')"
        )
    );
}

#[test]
fn junit_directory_reads_every_report_and_skips_other_xml() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("surefire-TEST-com.example.shop.CartServiceTest.xml"),
        dir.path().join("TEST-b.xml"),
    )
    .unwrap();
    std::fs::copy(fixture("pytest-junit.xml"), dir.path().join("a.xml")).unwrap();
    std::fs::write(
        dir.path().join("pom.xml"),
        "<project><modelVersion/></project>",
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a report").unwrap();
    let tests = read_junit(dir.path(), None).unwrap();
    assert_eq!(tests.len(), 5);
    // Byte order of the names: upper case sorts first.
    assert!(tests[0].report.ends_with("TEST-b.xml"));
    assert!(tests[1].report.ends_with("TEST-b.xml"));
    assert!(tests[2].report.ends_with("a.xml"));
    assert!(tests[4].report.ends_with("a.xml"));
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn truncated_xml_is_an_error_with_position() {
    let dir = tempfile::tempdir().unwrap();
    let full = std::fs::read(fixture("pytest-junit.xml")).unwrap();
    let p = write(dir.path(), "cut.xml", &full[..full.len() / 2]);
    match read_junit(&p, None) {
        Err(ReportError::Xml { path, line, .. }) => {
            assert_eq!(path, p.display().to_string());
            assert!(line >= 1);
        }
        other => panic!("expected an XML error, got {other:?}"),
    }
    let p = write(
        dir.path(),
        "bad.xml",
        b"<testsuites>\n<testsuite>\n</testcase>\n",
    );
    let err = read_junit(&p, None).unwrap_err();
    assert!(matches!(err, ReportError::Xml { line: 3, .. }), "{err}");
    assert!(err.to_string().contains("bad.xml"), "{err}");
}

#[test]
fn other_documents_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "index.html", b"<html><body>hi</body></html>");
    let err = read_junit(&p, None).unwrap_err();
    assert!(
        matches!(err, ReportError::NotJunit { ref root, .. } if root == "html"),
        "{err}"
    );
    let p = write(dir.path(), "empty.xml", b"");
    assert!(matches!(
        read_junit(&p, None),
        Err(ReportError::NotJunit { .. })
    ));
    let p = write(dir.path(), "missing.xml", b"");
    std::fs::remove_file(&p).unwrap();
    assert!(matches!(read_junit(&p, None), Err(ReportError::Io { .. })));
    assert!(matches!(
        read_playwright_json(&p, None),
        Err(ReportError::Io { .. })
    ));
}

#[test]
fn binary_and_invalid_utf8_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut garbage = Vec::new();
    let mut x: u32 = 12345;
    for _ in 0..100_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        garbage.push((x >> 16) as u8);
    }
    let p = write(dir.path(), "garbage.xml", &garbage);
    assert!(read_junit(&p, None).is_err());
    assert!(read_playwright_json(&p, None).is_err());
    // Invalid UTF-8 inside an otherwise valid report: read lossily.
    let p = write(
        dir.path(),
        "latin1.xml",
        b"<testsuite name=\"s\"><testcase classname=\"a.B\" name=\"t\"><failure message=\"caf\xe9\">x</failure></testcase></testsuite>",
    );
    let t = &read_junit(&p, None).unwrap()[0];
    assert_eq!(t.message.as_deref(), Some("caf\u{fffd}"));
}

#[test]
fn oversized_reports_are_refused_without_reading() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("huge.xml");
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(reports::MAX_REPORT_BYTES + 1).unwrap(); // sparse: no disk, no time
    let err = read_junit(&p, None).unwrap_err();
    assert!(matches!(err, ReportError::TooLarge { .. }), "{err}");
    assert!(matches!(
        read_playwright_json(&p, None),
        Err(ReportError::TooLarge { .. })
    ));
}

#[test]
fn malformed_playwright_json_names_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let full = std::fs::read(fixture("playwright-report.json")).unwrap();
    let p = write(dir.path(), "cut.json", &full[..full.len() / 3]);
    match read_playwright_json(&p, None) {
        Err(ReportError::Json { line, column, .. }) => assert!(line > 1 && column >= 1),
        other => panic!("expected a JSON error, got {other:?}"),
    }
    let p = write(dir.path(), "other.json", b"{\"name\": \"pkg\"}");
    let err = read_playwright_json(&p, None).unwrap_err();
    assert!(err.to_string().contains("suites"), "{err}");
    // Deep nesting hits serde_json's recursion limit instead of the stack.
    let deep = format!("{}{}", "{\"suites\":[".repeat(10_000), "]}".repeat(10_000));
    let p = write(dir.path(), "deep.json", deep.as_bytes());
    assert!(read_playwright_json(&p, None).is_err());
}

#[test]
fn long_messages_are_capped_and_redaction_counts() {
    let dir = tempfile::tempdir().unwrap();
    // Words: a cut inside one run of token characters drops the whole run (see below).
    let long = "x ".repeat(50_000);
    let token = "Zx81qPl0vW".repeat(500);
    let xml = format!(
        "<testsuite><testcase classname=\"a.B\" name=\"t\"><failure message=\"{long}\"/></testcase>\
         <testcase classname=\"a.B\" name=\"u\"><failure message=\"login with password=Zx81qPl0vW3mTy9K failed\"/></testcase>\
         <testcase classname=\"a.B\" name=\"v\"><failure message=\"Authorization: token ghp_{token}\"/></testcase></testsuite>"
    );
    let p = write(dir.path(), "r.xml", xml.as_bytes());
    let tests = read_junit(&p, None).unwrap();
    assert_eq!(
        tests[0].message.as_ref().map(String::len),
        Some(reports::MAX_MESSAGE_BYTES)
    );
    // The cap falls inside a token: no part of it is kept for the redactor to miss.
    assert_eq!(tests[2].message.as_deref(), Some("Authorization: token "));
    // The context redacts every field of a failed test (see tests/prepare.rs for the binary).
    let mut ctx = ci_remedy::prepare::prepare(
        &PrepareInput {
            junit: vec![p],
            ..Default::default()
        },
        &RulePack::builtin().unwrap(),
        run_info(),
        "test",
    );
    assert_eq!(ctx.error, None);
    let t = &ctx.tests.failed[1];
    assert_eq!(
        t.message.as_deref(),
        Some("login with password=[REDACTED:generic-secret] failed")
    );
    assert_eq!(ctx.redactions.by_rule.get("generic-secret"), Some(&1));
    // Redacting twice changes nothing and counts nothing.
    let before = ctx.tests.failed.clone();
    ctx.redactions = Redactions::default();
    redact_context(Redactor::builtin(), &mut ctx);
    assert_eq!(ctx.tests.failed, before);
    assert_eq!(ctx.redactions.total, 0);
}

fn run_info() -> RunInfo {
    RunInfo {
        repository: "local".into(),
        run_id: "local".into(),
        run_attempt: 1,
        event_name: "local".into(),
        sha: "local".into(),
        git_ref: "local".into(),
        workflow: "local".into(),
        job: "local".into(),
    }
}

#[test]
fn gradle_method_names_and_old_playwright_messages() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "TEST-com.x.FooTest.xml",
        br#"<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="com.x.FooTest" tests="2" skipped="0" failures="1" errors="0">
  <testcase name="parsesInput()" classname="com.x.FooTest" time="0.01">
    <failure message="org.opentest4j.AssertionFailedError: expected: &lt;1&gt; but was: &lt;2&gt;" type="org.opentest4j.AssertionFailedError">org.opentest4j.AssertionFailedError: expected: &lt;1&gt; but was: &lt;2&gt;
	at app//com.x.FooTest.parsesInput(FooTest.kt:12)
</failure>
  </testcase>
  <testcase name="[1] input=a" classname="com.x.FooTest" time="0.01"><failure message="boom"/></testcase>
</testsuite>"#,
    );
    let tests = read_junit(&p, None).unwrap();
    assert_eq!(tests[0].id.as_deref(), Some("com.x.FooTest#parsesInput"));
    assert_eq!(tests[0].file.as_deref(), Some("com/x/FooTest.kt"));
    assert_eq!(tests[0].line, Some(12));
    // Not a plain method name: no id rather than a wrong one.
    assert_eq!(tests[1].id, None);

    let p = write(
        dir.path(),
        "pw-old.xml",
        br#"<testsuites><testsuite name="login.spec.ts"><testcase name="shows error" classname="login.spec.ts"><failure message="login.spec.ts:12:5 shows error" type="FAILURE">Error: boom</failure></testcase></testsuite></testsuites>"#,
    );
    let t = &read_junit(&p, None).unwrap()[0];
    assert_eq!(t.name, "login.spec.ts › shows error");
    assert_eq!(t.id.as_deref(), Some("login.spec.ts:12"));
    assert_eq!(t.line, Some(12));
}

#[test]
fn the_workspace_given_is_stripped_like_the_runner_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let ws = Some("/srv/ci/ws");
    let p = write(
        dir.path(),
        "r.xml",
        br#"<testsuite name="pytest"><testcase classname="tests.test_x" name="test_y" file="/srv/ci/ws/tests/test_x.py" line="2"><failure message="boom"/></testcase></testsuite>"#,
    );
    let t = &read_junit(&p, ws).unwrap()[0];
    assert_eq!(t.file.as_deref(), Some("tests/test_x.py"));
    assert_eq!(t.id.as_deref(), Some("tests/test_x.py::test_y"));
    // Without the workspace a custom checkout path is not recognised.
    let t = &read_junit(&p, None).unwrap()[0];
    assert_eq!(t.file.as_deref(), Some("/srv/ci/ws/tests/test_x.py"));

    let p = write(
        dir.path(),
        "pw.json",
        br#"{"config":{"rootDir":"/srv/ci/ws/e2e"},"suites":[{"title":"login.spec.ts","file":"login.spec.ts","specs":[{"title":"shows error","file":"login.spec.ts","line":12,"tests":[{"projectName":"chromium","status":"unexpected","results":[{"status":"failed","errors":[{"message":"boom"}]}]}]}]}]}"#,
    );
    let t = &read_playwright_json(&p, ws).unwrap()[0];
    assert_eq!(t.file.as_deref(), Some("e2e/login.spec.ts"));
    assert_eq!(t.id.as_deref(), Some("e2e/login.spec.ts:12"));
}
