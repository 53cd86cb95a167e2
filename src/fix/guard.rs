//! Content checks of the guard: Trojan-source characters, binary content and test weakening
//! (skip/only/ignore markers, deleted assertions, `continue-on-error`), judged on the lines
//! one edit adds and removes.

use std::sync::OnceLock;

use regex::Regex;

/// A content problem: a code and a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentIssue {
    /// `trojan_source`, `binary`, `test_weakening`.
    pub code: &'static str,
    /// Why, naming the marker or character.
    pub reason: String,
}

/// Bidirectional formatting characters (the Trojan Source set, CVE-2021-42574) and other
/// invisible characters that reorder or hide text.
pub fn is_trojan_char(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Refuses added text with bidirectional overrides or a NUL byte.
pub fn check_added_text(added: &[String]) -> Result<(), ContentIssue> {
    for line in added {
        if let Some(c) = line.chars().find(|c| is_trojan_char(*c)) {
            return Err(ContentIssue {
                code: "trojan_source",
                reason: format!(
                    "the edit adds a bidirectional control character U+{:04X} (Trojan Source)",
                    c as u32
                ),
            });
        }
        if line.contains('\0') {
            return Err(ContentIssue {
                code: "binary",
                reason: "the edit adds binary content (a NUL byte)".into(),
            });
        }
    }
    Ok(())
}

struct Patterns {
    markers: Vec<(&'static str, Regex)>,
    assertion: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let m = |name: &'static str, re: &str| (name, Regex::new(re).expect("constant regex"));
        let markers = [
            m("test.skip/only", r"\b(?:test|it|describe|context|suite|specify|Deno\.test)\s*\.\s*(?:skip|only|todo|fixme|failing)\b"),
            m("xit/fit", r"\b(?:xit|xdescribe|xtest|xcontext|xspecify|fit|fdescribe|ftest)\s*\("),
            m("@pytest.mark.skip", r"@pytest\.mark\.(?:skip|skipif|xfail)\b"),
            m("pytest.skip", r"\bpytest\.(?:skip|xfail)\s*\("),
            m("unittest.skip", r"\bunittest\.skip|\bself\.skipTest\s*\(|@skip\b"),
            m("#[ignore]", r"#\s*\[\s*ignore\b"),
            m("t.Skip", r"\b[bt]\.Skip(?:Now|f)?\s*\("),
            m("@Disabled/@Ignore", r"@(?:Disabled|Ignore)\b"),
            m("continue-on-error", r"\bcontinue-on-error\s*:"),
            m("|| true", r"\|\|\s*true\b"),
        ]
        .into_iter()
        .collect();
        let assertion = Regex::new(
            r"\bexpect\s*[(.]|\bassert\w*!?\s*[(!]|\bassert\s|\.should\b|\b[tb]\.(?:Error|Errorf|Fatal|Fatalf|Fail|FailNow)\s*\(|\brequire\.\w+\s*\(|\bXCTAssert\w*\s*\(",
        )
        .expect("constant regex");
        Patterns { markers, assertion }
    })
}

/// True when a line is a comment in the common languages (`//`, `/*`, `*`, `#` but not `#[`,
/// `--`, `<!--`).
fn is_comment(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("//")
        || t.starts_with("/*")
        || t.starts_with("* ")
        || t == "*"
        || (t.starts_with('#') && !t.starts_with("#["))
        || t.starts_with("--")
        || t.starts_with("<!--")
}

/// Checks one edit's added and removed lines for test weakening: a skip/only/ignore marker
/// or `continue-on-error` more often in the added lines than in the removed ones, or fewer
/// assertions added than removed (commented-out lines do not count).
pub fn check_test_weakening(added: &[String], removed: &[String]) -> Result<(), ContentIssue> {
    let p = patterns();
    fn live(lines: &[String]) -> Vec<&str> {
        lines
            .iter()
            .map(String::as_str)
            .filter(|l| !is_comment(l))
            .collect()
    }
    let (a, r) = (live(added), live(removed));
    for (name, re) in &p.markers {
        let count = |lines: &[&str]| lines.iter().map(|l| re.find_iter(l).count()).sum::<usize>();
        if count(&a) > count(&r) {
            return Err(ContentIssue {
                code: "test_weakening",
                reason: format!("the edit adds a `{name}` marker"),
            });
        }
    }
    let count = |lines: &[&str]| {
        lines
            .iter()
            .map(|l| p.assertion.find_iter(l).count())
            .sum::<usize>()
    };
    let (ca, cr) = (count(&a), count(&r));
    if cr > ca {
        return Err(ContentIssue {
            code: "test_weakening",
            reason: format!("the edit deletes {} assertion(s)", cr - ca),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn weakening_is_detected() {
        for added in [
            "test.skip('login', async () => {",
            "it.only('works', () => {",
            "xit('works', () => {",
            "@pytest.mark.skip(reason='flaky')",
            "#[ignore]",
            "    t.Skip(\"later\")",
            "@Disabled",
            "    continue-on-error: true",
            "test.describe.only('x', () => {})",
        ] {
            assert!(check_test_weakening(&v(&[added]), &[]).is_err(), "{added}");
        }
        assert!(
            check_test_weakening(&v(&["// expect(a).toBe(1)"]), &v(&["expect(a).toBe(1)"]))
                .is_err()
        );
        assert!(check_test_weakening(&[], &v(&["    assert_eq!(a, b);"])).is_err());
        assert!(
            check_test_weakening(&v(&["expect(a).toBe(2)"]), &v(&["expect(a).toBe(1)"])).is_ok()
        );
        assert!(check_test_weakening(&v(&["test.skip(x)"]), &v(&["test.skip(y)"])).is_ok());
        assert!(check_test_weakening(&v(&["const timeout = 5000;"]), &[]).is_ok());
    }

    #[test]
    fn trojan_and_binary() {
        assert_eq!(
            check_added_text(&v(&["a\u{202E}b"]))
                .expect_err("bidi")
                .code,
            "trojan_source"
        );
        assert_eq!(
            check_added_text(&v(&["a\u{2067}b"]))
                .expect_err("bidi")
                .code,
            "trojan_source"
        );
        assert_eq!(
            check_added_text(&v(&["a\0b"])).expect_err("nul").code,
            "binary"
        );
        assert!(check_added_text(&v(&["héllo"])).is_ok());
    }
}
