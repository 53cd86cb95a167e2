//! Attack cases against the patch re-check (issue 15): each prepends hostile sections to an
//! accepted artifact's patch, recomputes `patch_sha256` and `patch_bytes` as an attacker
//! would, and runs the real `fix-agent-fetch --from-dir … --apply` against a real git
//! repository. Every case must be refused (exit 1, the guard names the file) and `git status`
//! must stay clean. Also: fix-agent-apply refuses an input made for another commit.

use crate::fix_support;
use crate::github_common;

use github_common::*;

const FETCH: &str = env!("CARGO_BIN_EXE_fix-agent-fetch");
const APPLY: &str = env!("CARGO_BIN_EXE_fix-agent-apply");

/// (name, sections put in front of the benign patch, text the report must contain)
fn attacks() -> Vec<(&'static str, String, &'static str)> {
    let new_file =
        |p: &str| format!("diff --git a/{p} b/{p}\nnew file mode 100644\nindex 0000000..e69de29\n");
    vec![
        ("header-only CODEOWNERS", new_file(".github/CODEOWNERS"), ".github/CODEOWNERS"),
        ("header-only .gitmodules", new_file(".gitmodules"), ".gitmodules"),
        ("header-only action.yml", new_file("action.yml"), "action.yml"),
        ("header-only workflow", new_file(".github/workflows/x.yml"), ".github/workflows/x.yml"),
        ("header-only lock file", new_file("Cargo.lock"), "Cargo.lock"),
        ("header-only package-lock", new_file("web/package-lock.json"), "web/package-lock.json"),
        ("header-only .env.production", new_file(".env.production"), ".env.production"),
        ("header-only key file", new_file("deploy/id_rsa"), "deploy/id_rsa"),
        ("header-only pem", new_file("certs/server.pem"), "certs/server.pem"),
        ("header-only .git/config", new_file(".git/hooks/post-checkout"), ".git/hooks/post-checkout"),
        (
            "deletion without a hunk",
            "diff --git a/src/app.ts b/src/app.ts\ndeleted file mode 100644\nindex 1111111..0000000\n".into(),
            "src/app.ts",
        ),
        (
            "mode change to executable",
            "diff --git a/src/app.ts b/src/app.ts\nold mode 100644\nnew mode 100755\n".into(),
            "mode_change",
        ),
        (
            "new symlink (mode 120000)",
            "diff --git a/src/l b/src/l\nnew file mode 120000\nindex 0000000..1111111\n--- /dev/null\n+++ b/src/l\n@@ -0,0 +1 @@\n+/etc/passwd\n\\ No newline at end of file\n".into(),
            "mode_change",
        ),
        (
            "mode change to symlink",
            "diff --git a/src/app.ts b/src/app.ts\nold mode 100644\nnew mode 120000\n".into(),
            "mode_change",
        ),
        (
            "rename onto a workflow",
            "diff --git a/src/app.ts b/.github/workflows/ci.yml\nsimilarity index 100%\nrename from src/app.ts\nrename to .github/workflows/ci.yml\n".into(),
            ".github/workflows/ci.yml",
        ),
        (
            "copy onto action.yml",
            "diff --git a/src/app.ts b/action.yml\nsimilarity index 100%\ncopy from src/app.ts\ncopy to action.yml\n".into(),
            "action.yml",
        ),
        (
            "rename of a plain file",
            "diff --git a/src/app.ts b/src/app2.ts\nsimilarity index 100%\nrename from src/app.ts\nrename to src/app2.ts\n".into(),
            "rename",
        ),
        (
            "git binary patch",
            "diff --git a/src/b.bin b/src/b.bin\nnew file mode 100644\nindex 0000000..1111111\nGIT binary patch\nliteral 1\nIcmZpX000310RR91\n\nliteral 0\nHcmV?d00001\n\n".into(),
            "binary",
        ),
        (
            "binary files differ",
            "diff --git a/src/b.bin b/src/b.bin\nnew file mode 100644\nindex 0000000..1111111\nBinary files /dev/null and b/src/b.bin differ\n".into(),
            "binary",
        ),
        ("drive letter", new_file("C:/x.txt"), "drive letter"),
        ("backslash", new_file("src\\..\\..\\x.txt"), "backslash"),
        ("zero-width space", new_file("src/a\u{200b}.ts"), "invisible"),
        ("bidi override", new_file("src/a\u{202e}st.ts"), "invisible"),
        (
            "quoted .git alias with an octal escape",
            "diff --git \"a/.git\\057config\" \"b/.git\\057config\"\nnew file mode 100644\n".into(),
            ".git/config",
        ),
        (
            "quoted name with a tab",
            "diff --git \"a/src/x\\ty.ts\" \"b/src/x\\ty.ts\"\nnew file mode 100644\n".into(),
            "control",
        ),
        (
            "quoted name with a newline",
            "diff --git \"a/src/x\\ny.ts\" \"b/src/x\\ny.ts\"\nnew file mode 100644\n".into(),
            "control",
        ),
        (
            "symlinked parent directory",
            "diff --git a/linkout/x.txt b/linkout/x.txt\nnew file mode 100644\nindex 0000000..1111111\n--- /dev/null\n+++ b/linkout/x.txt\n@@ -0,0 +1 @@\n+owned\n".into(),
            "`linkout` is a symbolic link",
        ),
        (
            "text after the last section",
            "diff --git a/src/app.ts b/src/app.ts\n--- a/src/app.ts\n+++ b/src/app.ts\n@@ -1 +1 @@\n-export const x = 1;\n+export const x = 2;\nrandom text git skips\n".into(),
            "src/app.ts",
        ),
    ]
}

fn status(repo: &std::path::Path) -> String {
    git(repo, &["status", "--porcelain", "--untracked-files=all"])
}

#[test]
fn every_attack_class_is_refused_by_fetch_and_git_status_stays_clean() {
    let (repo, base) = repo();
    let r = repo.path();
    // A committed symlink to a directory outside the repository.
    std::os::unix::fs::symlink("/tmp", r.join("linkout")).expect("symlink");
    git(r, &["add", "linkout"]);
    git(r, &["commit", "-q", "-m", "link"]);
    let base2 = git(r, &["rev-parse", "HEAD"]);
    assert_ne!(base, base2);
    let (benign, f, a, rm) = make_patch(r, "tests/login.spec.ts", SPEC_AFTER);

    // The benign artifact itself is accepted and applies (the attacks below are refused for
    // what they add, not because the setup is broken).
    let dir = tempfile::tempdir().expect("dir");
    let meta = metadata(&benign, (f, a, rm), &base2, "7", "test_only");
    let art = write_artifact_dir(&dir.path().join("art"), &benign, &meta);
    let out = tempfile::tempdir().expect("out");
    let o = gh_bin(FETCH, None)
        .arg("--from-dir")
        .arg(&art)
        .arg("--repo-dir")
        .arg(r)
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let mut failures = Vec::new();
    for (name, prefix, needle) in attacks() {
        let patch = format!("{prefix}{benign}");
        // The attacker recomputes sha256 and bytes; the counts stay those of the benign
        // patch (what a re-check blind to the extra sections would find).
        let meta = metadata(&patch, (f, a, rm), &base2, "7", "test_only");
        let dir = tempfile::tempdir().expect("dir");
        let art = write_artifact_dir(&dir.path().join("art"), &patch, &meta);
        let out = tempfile::tempdir().expect("out");
        let o = gh_bin(FETCH, None)
            .arg("--from-dir")
            .arg(&art)
            .arg("--repo-dir")
            .arg(r)
            .arg("--out")
            .arg(out.path())
            .arg("--apply")
            .output()
            .expect("run");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let st = status(r);
        if o.status.code() != Some(1)
            || !all.contains("PROBLEM: guard")
            || !all.contains(needle)
            || !st.is_empty()
            || out.path().join("fix-agent").exists()
        {
            failures.push(format!(
                "{name}: exit {:?}, status {st:?}, expected {needle:?} in:\n{all}",
                o.status.code()
            ));
        }
        // Never print the refused text as a workflow command.
        assert!(!all.lines().any(|l| l.starts_with("::")), "{name}: {all}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
}

#[test]
fn a_patch_git_refuses_is_not_blamed_on_the_checkout() {
    // HEAD is the base, but a file in the way (untracked) makes git apply --check fail: the
    // hint must not send the user to --3way.
    let (repo, base) = repo();
    let r = repo.path();
    let diff = "diff --git a/src/new.ts b/src/new.ts\nnew file mode 100644\nindex 0000000..1111111\n--- /dev/null\n+++ b/src/new.ts\n@@ -0,0 +1 @@\n+export const y = 2;\n";
    let plan = ci_remedy::fix::recheck::check_patch(
        diff,
        r,
        &ci_remedy::policy::fix_agent::FixAgentPolicy::default(),
    );
    assert_eq!(
        plan.decision,
        ci_remedy::artifact::GuardDecision::Accepted,
        "{:?}",
        plan.refused
    );
    let meta = metadata(
        &plan.patch,
        (plan.files_changed, plan.lines_added, plan.lines_removed),
        &base,
        "7",
        ci_remedy::fix::pr::risk(
            &["src/new.ts".to_string()],
            plan.lines_added + plan.lines_removed,
            &ci_remedy::policy::fix_agent::FixAgentPolicy::default(),
        )
        .class
        .as_str(),
    );
    let dir = tempfile::tempdir().expect("dir");
    let art = write_artifact_dir(&dir.path().join("art"), &plan.patch, &meta);
    // The re-check ran against the base commit; the working tree now has the file.
    std::fs::write(r.join("src/new.ts"), "local\n").expect("write");
    let out = tempfile::tempdir().expect("out");
    let o = gh_bin(FETCH, None)
        .arg("--from-dir")
        .arg(&art)
        .arg("--repo-dir")
        .arg(r)
        .arg("--out")
        .arg(out.path())
        .arg("--apply")
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("git apply --check refused"), "{err}");
    assert!(!err.contains("--3way"), "{err}");
    assert!(err.contains("git status"), "{err}");
    assert_eq!(
        std::fs::read_to_string(r.join("src/new.ts")).expect("read"),
        "local\n"
    );
}

#[test]
fn apply_refuses_an_input_made_for_another_commit() {
    let (repo, head) = repo();
    let r = repo.path();
    let root = tempfile::tempdir().expect("root");
    let out = root.path().join("out");
    let edits = serde_json::json!([{"op": "replace", "path": "src/app.ts", "find": "= 1", "replace": "= 2", "count": 1}]);
    let ins: ci_remedy::artifact::Instruction = serde_json::from_value(serde_json::json!({
        "summary": "bump", "edits": edits
    }))
    .expect("instruction");
    let run = |base: &str| {
        let mut input = fix_support::input(vec![ins.clone()]);
        input.base_sha = base.into();
        std::fs::create_dir_all(out.join("fix-agent")).expect("mkdir");
        fix_support::write_json(&out.join("fix-agent/input.json"), &input);
        let o = gh_bin(APPLY, None)
            .arg("--out")
            .arg(&out)
            .arg("--repo")
            .arg(r)
            .output()
            .expect("run");
        let m: ci_remedy::artifact::FixMetadata = serde_json::from_slice(
            &std::fs::read(out.join("fix-agent/metadata-local.json")).expect("metadata"),
        )
        .expect("metadata json");
        (o, m)
    };
    let zeros = "0".repeat(40);
    let (o, m) = run(&zeros);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(
        m.guardrails.decision,
        ci_remedy::artifact::GuardDecision::Rejected
    );
    assert_eq!(
        m.guardrails.refused.last().map(|x| x.code.as_str()),
        Some("base_sha")
    );
    assert!(err.contains(&zeros) && err.contains(&head), "{err}");
    // Nothing claims the patch applies to commit 0000…
    assert_eq!(m.base_sha, head);
    assert!(
        !m.pr_body.contains(&format!("applies to commit `{zeros}`")),
        "{}",
        m.pr_body
    );
    assert_eq!(m.patch_bytes, 0);

    // The real HEAD (any letter case) is accepted and named.
    let (o, m) = run(&head.to_ascii_uppercase());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        m.guardrails.decision,
        ci_remedy::artifact::GuardDecision::Accepted
    );
    assert_eq!(m.base_sha, head);
    assert!(
        m.pr_body.contains(&format!("applies to commit `{head}`")),
        "{}",
        m.pr_body
    );
    assert!(status(r).is_empty(), "{}", status(r));
}
