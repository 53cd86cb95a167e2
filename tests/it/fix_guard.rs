//! Adversarial instruction sets: each is refused with the expected reason, the patch is
//! empty, and nothing changes on disk — not outside the repository, not in a denied path, not
//! in the working tree (checked on a byte snapshot of the whole sandbox).

use crate::fix_support;

use std::path::Path;

use ci_remedy::artifact::{GuardDecision, Instruction, ValidationStatus};
use fix_support::*;
use serde_json::json;

const APP: &str = "const a = 1;\nconst b = 2;\nconst c = 2;\nmodule.exports = { a, b, c };\n";
const TEST: &str = "test('adds', () => {\n  expect(1 + 1).toBe(2);\n});\n";

fn hostile_repo() -> Sandbox {
    let sb = sandbox(None);
    let r = sb.repo();
    let w = |p: &str, b: &[u8]| {
        let path = r.join(p);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, b).expect("write");
    };
    w("src/app.js", APP.as_bytes());
    w("src/generated/api.js", b"export const x = 1;\n");
    w("tests/app.test.js", TEST.as_bytes());
    w(".github/workflows/ci.yml", b"on: push\njobs: {}\n");
    w("package-lock.json", b"{\"lockfileVersion\": 3}\n");
    w(".env", b"API_KEY=abc\n");
    w("img.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
    w("latin1.txt", b"caf\xe9\n");
    w("vendor/lib/.git", b"gitdir: ../../.git/modules/lib\n");
    w("vendor/lib/index.js", b"module.exports = 1;\n");
    std::os::unix::fs::symlink("../outside", r.join("link")).expect("symlink");
    std::os::unix::fs::symlink("../../outside/secret.txt", r.join("src/evil.js")).expect("symlink");
    std::fs::hard_link(sb.outside().join("secret.txt"), r.join("hard.txt")).expect("hardlink");
    sb
}

fn benign() -> Instruction {
    ins(
        "benign change",
        json!([{"op": "replace", "path": "src/app.js", "find": "const a = 1;", "replace": "const a = 10;"}]),
    )
}

struct Case {
    name: &'static str,
    edits: serde_json::Value,
    code: &'static str,
    policy: Option<&'static str>,
}

fn case(name: &'static str, code: &'static str, edits: serde_json::Value) -> Case {
    Case {
        name,
        edits,
        code,
        policy: None,
    }
}

fn cases(outside_abs: &str) -> Vec<Case> {
    let create = |p: &str| json!([{"op": "create", "path": p, "content": "x\n"}]);
    let replace = |p: &str| json!([{"op": "replace", "path": p, "find": "outside secret", "replace": "pwned"}]);
    let mut v = vec![
        case(
            "dotdot replace",
            "path_traversal",
            replace("../outside/secret.txt"),
        ),
        case(
            "dotdot inside",
            "path_traversal",
            create("src/../../outside/new.txt"),
        ),
        case("dot component", "path_traversal", create("./src/new.js")),
        case(
            "absolute",
            "absolute_path",
            create("/tmp/ci-remedy-pwned.txt"),
        ),
        case(
            "absolute outside",
            "absolute_path",
            create(&format!("{outside_abs}/new.txt")),
        ),
        case("drive letter", "absolute_path", create("C:/Windows/x.txt")),
        case("backslash", "backslash", create("..\\outside\\new.txt")),
        case("nul byte", "control_character", create("src/a\u{0}.js")),
        case("newline", "control_character", create("src/a\n.js")),
        case("double slash", "invalid_path", create("src//new.js")),
        case("trailing slash", "directory", create("src/new/")),
        case(".git", "git_dir", create(".git/hooks/pre-commit")),
        case(".GIT case", "git_dir", create(".GIT/config")),
        case(".git. ntfs", "git_dir", create(".git./config")),
        case(".git space ntfs", "git_dir", create(".git /config")),
        case("git~1 8.3", "git_dir", create("GIT~1/config")),
        case("nested .git", "git_dir", create("src/.git/config")),
        case(
            ".g zwnj it hfs",
            "invisible_character",
            create(".g\u{200c}it/config"),
        ),
        case(".gitmodules", "submodule", create(".gitmodules")),
        case(".gitattributes", "git_dir", create(".gitattributes")),
        case(
            "bidi in path",
            "invisible_character",
            create("src/a\u{202e}sj.js"),
        ),
        case("space", "unusual_character", create("src/new file.js")),
        case("symlinked dir", "symlink", create("link/new.txt")),
        case("symlinked file", "symlink", replace("src/evil.js")),
        case(
            "delete symlink",
            "symlink",
            json!([{"op": "delete", "path": "src/evil.js"}]),
        ),
        case(
            "hard link",
            "hard_link",
            json!([{"op": "replace", "path": "hard.txt", "find": "outside secret", "replace": "pwned"}]),
        ),
        case(
            "submodule",
            "submodule",
            json!([{"op": "replace", "path": "vendor/lib/index.js", "find": "1", "replace": "2"}]),
        ),
        case(
            "directory delete",
            "directory",
            json!([{"op": "delete", "path": "src"}]),
        ),
        case(
            "symlink via patch",
            "mode_change",
            json!([{"op": "patch", "diff": "diff --git a/l b/l\nnew file mode 120000\n--- /dev/null\n+++ b/l\n@@ -0,0 +1 @@\n+../outside\n\\ No newline at end of file\n"}]),
        ),
        case(
            "created then written through",
            "not_a_directory",
            json!([
            {"op": "create", "path": "newdir", "content": "x\n"},
            {"op": "create", "path": "newdir/child.txt", "content": "y\n"}]),
        ),
        case(
            "mode change",
            "mode_change",
            json!([{"op": "patch", "diff": "diff --git a/src/app.js b/src/app.js\nold mode 100644\nnew mode 100755\n"}]),
        ),
        case(
            "rename",
            "rename",
            json!([{"op": "patch", "diff": "diff --git a/src/app.js b/src/x.js\nsimilarity index 100%\nrename from src/app.js\nrename to src/x.js\n"}]),
        ),
        case(
            "binary patch",
            "binary",
            json!([{"op": "patch", "diff": "diff --git a/img.png b/img.png\nGIT binary patch\nliteral 0\nHcmV?d00001\n"}]),
        ),
        case(
            "patch traversal",
            "path_traversal",
            json!([{"op": "patch", "diff": "--- a/../outside/secret.txt\n+++ b/../outside/secret.txt\n@@ -1 +1 @@\n-outside secret\n+pwned\n"}]),
        ),
        case(
            "patch to workflow",
            "denied_builtin",
            json!([{"op": "patch", "diff": "--- a/.github/workflows/ci.yml\n+++ b/.github/workflows/ci.yml\n@@ -1,2 +1,2 @@\n-on: push\n+on: pull_request_target\n jobs: {}\n"}]),
        ),
        case(
            "hunk mismatch",
            "hunk_mismatch",
            json!([{"op": "patch", "diff": "--- a/src/app.js\n+++ b/src/app.js\n@@ -2,1 +2,1 @@\n-const a = 1;\n+const a = 3;\n"}]),
        ),
        case(
            "binary file",
            "binary",
            json!([{"op": "replace", "path": "img.png", "find": "PNG", "replace": "GIF"}]),
        ),
        case(
            "non-utf8 file",
            "binary",
            json!([{"op": "replace", "path": "latin1.txt", "find": "caf", "replace": "cof"}]),
        ),
        case(
            "nul content",
            "binary",
            json!([{"op": "create", "path": "src/blob.js", "content": "a\u{0}b\n"}]),
        ),
        case(
            "workflow",
            "denied_builtin",
            json!([{"op": "replace", "path": ".github/workflows/ci.yml", "find": "on: push", "replace": "on: pull_request_target"}]),
        ),
        case(
            "workflow case",
            "denied_builtin",
            create(".GitHub/Workflows/evil.yml"),
        ),
        case(
            "composite action",
            "denied_builtin",
            create(".github/actions/setup/action.yml"),
        ),
        case("action.yml", "denied_builtin", create("action.yaml")),
        case("codeowners", "denied_builtin", create(".github/CODEOWNERS")),
        case(
            "lockfile",
            "denied_builtin",
            json!([{"op": "replace", "path": "package-lock.json", "find": "3", "replace": "2"}]),
        ),
        case(
            ".env",
            "denied_builtin",
            json!([{"op": "replace", "path": ".env", "find": "abc", "replace": "x"}]),
        ),
        case(".env.local", "denied_builtin", create(".env.local")),
        case("key file", "denied_builtin", create("deploy/server.key")),
        case("pem", "denied_builtin", create("certs/ca.pem")),
        case(
            "test.skip",
            "test_weakening",
            json!([{"op": "replace", "path": "tests/app.test.js", "find": "test('adds'", "replace": "test.skip('adds'"}]),
        ),
        case(
            "it.only",
            "test_weakening",
            json!([{"op": "replace", "path": "tests/app.test.js", "find": "test('adds'", "replace": "it.only('adds'"}]),
        ),
        case(
            "xit",
            "test_weakening",
            json!([{"op": "replace", "path": "tests/app.test.js", "find": "test('adds'", "replace": "xit('adds'"}]),
        ),
        case(
            "delete assertion",
            "test_weakening",
            json!([{"op": "replace_lines", "path": "tests/app.test.js", "start_line": 2, "end_line": 2, "expected": "  expect(1 + 1).toBe(2);", "replacement": ""}]),
        ),
        case(
            "comment out assertion",
            "test_weakening",
            json!([{"op": "replace", "path": "tests/app.test.js", "find": "  expect(", "replace": "  // expect("}]),
        ),
        case(
            "delete test file",
            "test_weakening",
            json!([{"op": "delete", "path": "tests/app.test.js"}]),
        ),
        case(
            "pytest skip",
            "test_weakening",
            json!([{"op": "create", "path": "tests/test_x.py", "content": "import pytest\n\n@pytest.mark.skip(reason='x')\ndef test_x():\n    pass\n"}]),
        ),
        case(
            "rust ignore",
            "test_weakening",
            json!([{"op": "create", "path": "tests/x.rs", "content": "#[test]\n#[ignore]\nfn x() {}\n"}]),
        ),
        case(
            "go skip",
            "test_weakening",
            json!([{"op": "create", "path": "x_test.go", "content": "func TestX(t *testing.T) {\n\tt.Skip(\"later\")\n}\n"}]),
        ),
        case(
            "junit disabled",
            "test_weakening",
            json!([{"op": "create", "path": "src/XTest.java", "content": "@Disabled\nclass XTest {}\n"}]),
        ),
        case(
            "continue-on-error",
            "test_weakening",
            json!([{"op": "create", "path": "ci/steps.yml", "content": "- run: npm test\n  continue-on-error: true\n"}]),
        ),
        case(
            "trojan source",
            "trojan_source",
            json!([{"op": "replace", "path": "src/app.js", "find": "const b = 2;", "replace": "const b = 2; /*\u{202e} } \u{2066}if (isAdmin)\u{2069} \u{2066} begin admins only */"}]),
        ),
        case(
            "find twice",
            "find_count",
            json!([{"op": "replace", "path": "src/app.js", "find": " = 2;", "replace": " = 3;"}]),
        ),
        case(
            "find absent",
            "find_count",
            json!([{"op": "replace", "path": "src/app.js", "find": "nope", "replace": "x"}]),
        ),
        case(
            "find empty",
            "find_count",
            json!([{"op": "replace", "path": "src/app.js", "find": "", "replace": "x", "count": 1}]),
        ),
        case(
            "expected mismatch",
            "expected_mismatch",
            json!([{"op": "replace_lines", "path": "src/app.js", "start_line": 1, "end_line": 1, "expected": "const a = 2;", "replacement": "x"}]),
        ),
        case(
            "line range",
            "line_range",
            json!([{"op": "replace_lines", "path": "src/app.js", "start_line": 9, "end_line": 12, "expected": "", "replacement": "x"}]),
        ),
        case(
            "create existing",
            "exists",
            json!([{"op": "create", "path": "src/app.js", "content": "x\n"}]),
        ),
        case(
            "delete missing",
            "missing_file",
            json!([{"op": "delete", "path": "src/nope.js"}]),
        ),
        case(
            "replace missing",
            "missing_file",
            json!([{"op": "replace", "path": "src/nope.js", "find": "a", "replace": "b"}]),
        ),
    ];
    v.push(Case { name: "policy deny", code: "denied", policy: Some("fix-agent:\n  deny: [\"src/generated/**\"]\n"),
        edits: json!([{"op": "replace", "path": "src/generated/api.js", "find": "1", "replace": "2"}]) });
    v.push(Case {
        name: "not allowed",
        code: "not_allowed",
        policy: Some("fix-agent:\n  allow: [\"src/*.js\"]\n"),
        edits: json!([{"op": "create", "path": "src/deep/x.js", "content": "x\n"}]),
    });
    v.push(Case {
        name: "max files",
        code: "max_files",
        policy: Some("fix-agent:\n  max-files: 1\n"),
        edits: create("src/other.js"),
    });
    v.push(Case {
        name: "max lines",
        code: "max_changed_lines",
        policy: Some("fix-agent:\n  max-changed-lines: 5\n"),
        edits: json!([{"op": "create", "path": "src/big.js", "content": "a\nb\nc\nd\ne\nf\n"}]),
    });
    v.push(Case {
        name: "max bytes",
        code: "max_patch_bytes",
        policy: Some("fix-agent:\n  max-patch-bytes: 200\n"),
        edits: json!([{"op": "create", "path": "src/long.js", "content": "x".repeat(300) + "\n"}]),
    });
    v
}

fn run_case(
    sb: &Sandbox,
    instructions: Vec<Instruction>,
    policy: Option<&str>,
) -> std::process::Output {
    write_json(&sb.out().join("fix-agent/input.json"), &input(instructions));
    let mut cmd = hermetic(APPLY, sb.root());
    cmd.args(["--out", "out", "--repo", "repo"]);
    if let Some(p) = policy {
        let path = sb.root().join("out/policy.yml");
        std::fs::write(&path, p).expect("policy");
        cmd.arg("--policy").arg(path);
    }
    cmd.output().expect("apply runs")
}

const SKIP: &[&str] = &["out", "github_output", "step_summary"];

#[test]
fn adversarial_instruction_sets_are_refused_and_change_nothing() {
    let sb = hostile_repo();
    let outside_abs = sb.outside().display().to_string();
    let all = cases(&outside_abs);
    assert!(all.len() >= 40, "{} cases", all.len());
    let before = snapshot(sb.root(), SKIP);
    let mut failures = Vec::new();
    for c in &all {
        let bad: Instruction =
            match serde_json::from_value(json!({"summary": c.name, "edits": c.edits})) {
                Ok(i) => i,
                Err(e) => panic!("{}: {e}", c.name),
            };
        let o = run_case(&sb, vec![benign(), bad], c.policy);
        if !o.status.success() {
            failures.push(format!(
                "{}: exit {:?}: {}",
                c.name,
                o.status.code(),
                String::from_utf8_lossy(&o.stderr)
            ));
            continue;
        }
        let m = read_metadata(&sb.out());
        if m.guardrails.decision != GuardDecision::Rejected {
            failures.push(format!("{}: decision {:?}", c.name, m.guardrails.decision));
        }
        if !m.guardrails.refused.iter().any(|r| r.code == c.code) {
            failures.push(format!(
                "{}: expected {}, got {:?}",
                c.name, c.code, m.guardrails.refused
            ));
        }
        if !read_patch(&sb.out()).is_empty() || m.patch_bytes != 0 {
            failures.push(format!("{}: patch not empty", c.name));
        }
        if m.pr_body.contains('\u{202e}') || m.pr_body.contains('\u{0}') {
            failures.push(format!(
                "{}: untrusted characters reached the PR body",
                c.name
            ));
        }
        // No stdout line can become a workflow command.
        for line in String::from_utf8_lossy(&o.stdout).lines() {
            if line.trim_start().starts_with("::") || line.trim_start().starts_with("##[") {
                failures.push(format!("{}: stdout line {line:?}", c.name));
            }
        }
        if snapshot(sb.root(), SKIP) != before {
            failures.push(format!("{}: the file system changed", c.name));
            break;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(!Path::new("/tmp/ci-remedy-pwned.txt").exists());
}

#[test]
fn drop_edit_keeps_the_good_edits_and_restores_the_tree() {
    let sb = hostile_repo();
    let before = snapshot(sb.root(), SKIP);
    let bad = ins(
        "escape",
        json!([{"op": "replace", "path": "../outside/secret.txt", "find": "outside", "replace": "x"}]),
    );
    let weak = ins(
        "weaken",
        json!([{"op": "replace", "path": "tests/app.test.js", "find": "test('adds'", "replace": "test.skip('adds'"}]),
    );
    // The validation command sees the patched tree (and tries to write outside; it may: it is
    // trusted policy, not the instructions), then the tree is restored.
    let policy = "fix-agent:\n  on-refusal: drop-edit\n  validation:\n    command: [grep, -q, \"const a = 10;\", src/app.js]\n";
    let o = run_case(&sb, vec![bad, benign(), weak], Some(policy));
    assert!(o.status.success(), "{o:?}");
    let m = read_metadata(&sb.out());
    assert_eq!(m.guardrails.decision, GuardDecision::Accepted);
    let codes: Vec<&str> = m
        .guardrails
        .refused
        .iter()
        .map(|r| r.code.as_str())
        .collect();
    assert_eq!(codes, vec!["path_traversal", "test_weakening"]);
    assert_eq!(
        m.validation.status,
        ValidationStatus::Passed,
        "{:?}",
        m.validation
    );
    assert!(m.needs_manual_review, "dropped edits call for a review");
    let patch = read_patch(&sb.out());
    assert!(
        patch.contains("+const a = 10;") && !patch.contains("outside") && !patch.contains("skip"),
        "{patch}"
    );
    assert_eq!(m.changes.len(), 1);
    assert_eq!(before, snapshot(sb.root(), SKIP));
    prove_patch(&sb.repo(), &sb.out().join("fix-agent/patch-local.diff"));
}

#[test]
fn flagged_test_weakening_is_applied_but_needs_review() {
    let sb = hostile_repo();
    let weak = ins(
        "skip the flaky one",
        json!([{"op": "replace", "path": "tests/app.test.js", "find": "test('adds'", "replace": "test.skip('adds'"}]),
    );
    let o = run_case(
        &sb,
        vec![weak],
        Some("fix-agent:\n  test-weakening: flag\n"),
    );
    assert!(o.status.success());
    let m = read_metadata(&sb.out());
    assert_eq!(m.guardrails.decision, GuardDecision::Accepted);
    assert_eq!(m.guardrails.flagged.len(), 1);
    assert!(m.needs_manual_review);
    assert!(m.pr_body.contains("flagged"), "{}", m.pr_body);
}

#[test]
fn failing_and_hanging_validation_still_emit_the_patch() {
    let sb = hostile_repo();
    let mut inp = input(vec![benign()]);
    inp.failed_tests
        .push(failed_test("a", "tests/app.test.js:1"));
    inp.failed_tests
        .push(failed_test("hostile", "x; touch pwned"));
    inp.failed_tests
        .push(failed_test("option", "--config=evil.js"));
    write_json(&sb.out().join("fix-agent/input.json"), &inp);
    let before = snapshot(sb.root(), SKIP);
    // The ids arrive as separate arguments: `sh -c SCRIPT $0 $1 …`.
    let policy = sb.root().join("out/policy.yml");
    std::fs::write(&policy, "fix-agent:\n  validation:\n    command: [sh, -c, 'printf \"%s|\" \"$@\"; exit 4', validate]\n").expect("w");
    let o = hermetic(APPLY, sb.root())
        .args(["--out", "out", "--repo", "repo", "--policy"])
        .arg(&policy)
        .output()
        .expect("run");
    assert!(o.status.success());
    let m = read_metadata(&sb.out());
    assert_eq!(m.validation.status, ValidationStatus::Failed);
    assert_eq!(m.validation.exit_code, Some(4));
    assert_eq!(
        m.validation.output_tail,
        "tests/app.test.js:1|x; touch pwned|"
    );
    assert!(m.needs_manual_review);
    assert!(!read_patch(&sb.out()).is_empty());
    assert!(!sb.repo().join("pwned").exists() && !sb.root().join("pwned").exists());
    assert_eq!(before, snapshot(sb.root(), SKIP));

    std::fs::write(&policy, "fix-agent:\n  validation:\n    command: [sh, -c, 'sleep 30 & sleep 30']\n    timeout: 300ms\n").expect("w");
    let t = std::time::Instant::now();
    let o = hermetic(APPLY, sb.root())
        .args(["--out", "out", "--repo", "repo", "--policy"])
        .arg(&policy)
        .output()
        .expect("run");
    assert!(o.status.success());
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
    let m = read_metadata(&sb.out());
    assert_eq!(m.validation.status, ValidationStatus::TimedOut);
    assert!(m.needs_manual_review);
    assert_eq!(before, snapshot(sb.root(), SKIP));
}
