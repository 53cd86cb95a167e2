//! Property tests (proptest) for the unified-diff parser and the patch guard (issue 15):
//! whole classes of input, not only the hand-made attack cases.
//!
//! - the parser never panics, whatever the text;
//! - whenever the parser accepts a patch and the real `git apply --numstat --summary -z` reads
//!   it too, both name exactly the same paths and line counts (what the parser accepts is what
//!   git acts on);
//! - a diff made by the guard's own writer parses back and applies to exactly the new text;
//! - a section the guard accepts never names a path git would refuse or that aliases `.git`.

use ci_remedy::artifact::GuardDecision;
use ci_remedy::fix::diff::file_diff;
use ci_remedy::fix::recheck::{check_patch, git_touches, guard_touches};
use ci_remedy::fix::udiff::{apply, parse_sections};
use ci_remedy::policy::fix_agent::FixAgentPolicy;
use proptest::prelude::*;

/// Path components an attacker would try, benign ones included.
const PIECES: &[&str] = &[
    "src",
    "a",
    "b.ts",
    ".git",
    ".GIT",
    "git~1",
    ".github",
    "workflows",
    "CODEOWNERS",
    "x y",
    "d\u{e9}",
    "t\tq",
    "n\nl",
    "..",
    ".",
    "C:",
    "a\\b",
    "z\u{200b}",
    "r\u{202e}",
    "q\"u",
    "e\\057",
    "",
];

fn path() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(PIECES), 1..4).prop_map(|v| v.join("/"))
}

/// `prefix` + `p` as git writes it in a header: bare, or C-quoted when it must be.
fn name(prefix: &str, p: &str, force_quote: bool) -> String {
    let full = format!("{prefix}{p}");
    let needs = full
        .bytes()
        .any(|b| !(0x20..0x7f).contains(&b) || b == b'"' || b == b'\\');
    if !needs && !force_quote {
        return full;
    }
    let mut q = String::from("\"");
    for b in full.bytes() {
        match b {
            b'"' => q.push_str("\\\""),
            b'\\' => q.push_str("\\\\"),
            b'\t' => q.push_str("\\t"),
            b'\n' => q.push_str("\\n"),
            0x20..=0x7e => q.push(b as char),
            _ => q.push_str(&format!("\\{b:03o}")),
        }
    }
    q.push('"');
    q
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    HeaderOnlyNew,
    HeaderOnlyDelete,
    ModeChange,
    Rename,
    Copy,
    Modify,
    Create,
}

fn section() -> impl Strategy<Value = String> {
    (
        path(),
        path(),
        proptest::sample::select(vec![
            Shape::HeaderOnlyNew,
            Shape::HeaderOnlyDelete,
            Shape::ModeChange,
            Shape::Rename,
            Shape::Copy,
            Shape::Modify,
            Shape::Create,
        ]),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(p, q, shape, quote, index)| {
            let (a, b) = match shape {
                Shape::Rename | Shape::Copy => (p.clone(), q.clone()),
                _ => (p.clone(), p.clone()),
            };
            let mut s = format!(
                "diff --git {} {}\n",
                name("a/", &a, quote),
                name("b/", &b, quote)
            );
            let idx = if index {
                "index 0000000..e69de29\n"
            } else {
                ""
            };
            match shape {
                Shape::HeaderOnlyNew => s.push_str(&format!("new file mode 100644\n{idx}")),
                Shape::HeaderOnlyDelete => s.push_str(&format!("deleted file mode 100644\n{idx}")),
                Shape::ModeChange => s.push_str("old mode 100644\nnew mode 100755\n"),
                Shape::Rename | Shape::Copy => {
                    let w = if matches!(shape, Shape::Rename) {
                        "rename"
                    } else {
                        "copy"
                    };
                    s.push_str(&format!(
                        "similarity index 100%\n{w} from {}\n{w} to {}\n",
                        name("", &a, quote),
                        name("", &b, quote)
                    ));
                }
                Shape::Modify => s.push_str(&format!(
                    "--- {}\n+++ {}\n@@ -1 +1 @@\n-a\n+b\n",
                    name("a/", &a, quote),
                    name("b/", &b, quote)
                )),
                Shape::Create => s.push_str(&format!(
                    "new file mode 100644\n--- /dev/null\n+++ {}\n@@ -0,0 +1,2 @@\n+x\n+y\n",
                    name("b/", &b, quote)
                )),
            }
            s
        })
}

/// Lines that look like diff lines, for the no-panic property.
fn diffish() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("diff --git a/x b/x".to_string()),
        Just("diff --git \"a/\\303\\251\" \"b/\\303\\251\"".to_string()),
        Just("diff --git \"a/unterminated b/x".to_string()),
        Just("new file mode 100644".to_string()),
        Just("deleted file mode 120000".to_string()),
        Just("old mode 100644".to_string()),
        Just("new mode 160000".to_string()),
        Just("rename from x".to_string()),
        Just("rename to y".to_string()),
        Just("copy from \"\\377\"".to_string()),
        Just("index 0000000..e69de29 100644".to_string()),
        Just("similarity index 999%".to_string()),
        Just("GIT binary patch".to_string()),
        Just("--- a/x".to_string()),
        Just("+++ b/x".to_string()),
        Just("--- /dev/null".to_string()),
        Just("@@ -1 +1 @@".to_string()),
        Just("@@ -0,0 +999999999,1 @@".to_string()),
        Just("@@ -4294967296 +1 @@".to_string()),
        Just("\\ No newline at end of file".to_string()),
        "[ +-][a-z\u{202e}\r]{0,6}",
        ".{0,20}",
    ];
    (proptest::collection::vec(line, 0..24), any::<bool>()).prop_map(|(v, nl)| {
        let mut s = v.join("\n");
        if nl {
            s.push('\n');
        }
        s
    })
}

fn text_lines() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(
        proptest::sample::select(vec!["a", "b", "c", "", "  x", "+y", "-z", "\\ w"]),
        0..12,
    )
    .prop_map(|v| v.into_iter().map(str::to_string).collect())
}

fn join(lines: &[String], final_nl: bool) -> String {
    let mut s = lines.join("\n");
    if final_nl && !lines.is_empty() {
        s.push('\n');
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the text, the parser returns (no panic, no hang), and a refusal names a line.
    #[test]
    fn the_parser_never_panics(text in diffish()) {
        if let Err(e) = parse_sections(&text) {
            prop_assert!(!e.reason.is_empty());
        }
    }

    /// A diff written by the guard's own writer parses back to one section that applies to
    /// the old text and gives exactly the new text. (It found that similar's hunk headers
    /// are wrong when its ops are not in new-side order; `file_diff` now writes its own.)
    #[test]
    fn written_diffs_parse_and_apply_exactly(old in text_lines(), new in text_lines()) {
        let (old, new) = (join(&old, true), join(&new, true));
        prop_assume!(old != new);
        let d = file_diff("src/a.ts", Some(&old), Some(&new), 0o644);
        let files = parse_sections(&d.text).map_err(|e| TestCaseError::fail(format!("{e:?}\n{}", d.text)))?;
        prop_assert_eq!(files.len(), 1);
        prop_assert_eq!(files[0].counts(), (u64::from(d.added), u64::from(d.removed)));
        prop_assert_eq!(apply(Some(&old), &files[0]), Ok(Some(new.clone())));
    }
}

proptest! {
    // Each case runs the real git: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// When both the parser and git read a patch, they name the same paths (rename and copy
    /// sources included) and the same line counts per section.
    #[test]
    fn the_parser_and_git_agree_on_what_a_patch_touches(
        sections in proptest::collection::vec(section(), 1..4),
    ) {
        let patch = sections.concat();
        if let (Some(ours), Ok(theirs)) = (guard_touches(&patch), git_touches(&patch)) {
            prop_assert_eq!(&ours.paths, &theirs.paths, "{}", patch);
            prop_assert_eq!(&ours.sections, &theirs.sections, "{}", patch);
        }
    }

    /// The guard accepts a section only for a path git accepts too and that cannot alias
    /// `.git`, written with no character that needs quoting; and then git agrees it is the
    /// only path.
    #[test]
    fn accepted_sections_name_only_plain_paths(s in section()) {
        let empty = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let plan = check_patch(&s, empty.path(), &FixAgentPolicy::default());
        if plan.decision == GuardDecision::Accepted {
            let touched = guard_touches(&s).ok_or_else(|| TestCaseError::fail("parsed"))?;
            for p in &touched.paths {
                prop_assert!(!p.chars().any(|c| c.is_control() || "\\:\" ".contains(c)), "{p:?}");
                prop_assert!(!p.chars().any(ci_remedy::fix::path::is_invisible_or_bidi), "{p:?}");
                prop_assert!(p.split('/').all(|c| c != "." && c != ".." && !c.is_empty()), "{p:?}");
                prop_assert!(p.split('/').all(|c| !c.eq_ignore_ascii_case(".git") && !c.eq_ignore_ascii_case("git~1")), "{p:?}");
            }
            let git = git_touches(&s).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(git.paths, touched.paths);
        }
    }
}
