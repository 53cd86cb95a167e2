//! prepare → apply on the fixture repositories, proven with `git apply` and `patch -p1`.

use crate::fix_support;

use ci_remedy::artifact::{Category, FixInput, GuardDecision, RiskClass, ValidationStatus};
use ci_remedy::fix::dockerignore::DockerIgnore;
use fix_support::*;

fn write_policy(root: &std::path::Path, yaml: &str) -> std::path::PathBuf {
    let p = root.join("policy.yml");
    std::fs::write(&p, yaml).expect("policy");
    p
}

#[test]
fn dockerignore_incident_prepare_apply_and_prove() {
    let sb = sandbox(Some("dockerignore-incident"));
    commit_all(&sb.repo());
    let log = sb.root().join("smoke.log");
    std::fs::copy(format!("{FIXTURES}/dockerignore-incident.log"), &log).expect("log");
    let ctx = context(
        Category::BuildConfig,
        &log,
        20,
        21,
        "Error: Pricing file not found: /app/data/pricing.json\n    at loadPricing (/app/src/server.js:9:11)",
    );
    write_json(&sb.out().join("self-heal/context.json"), &ctx);
    // Validation runs on the patched tree: it proves the tree was written, then restored.
    let policy = write_policy(
        sb.root(),
        "fix-agent:\n  validation:\n    command: [grep, -q, \"^!data/pricing.json$\", .dockerignore]\n    pass-failed-tests: false\n    timeout: 10s\n",
    );
    let before = snapshot(sb.root(), &["out", "github_output", "step_summary"]);

    let o = hermetic(PREPARE, sb.root())
        .args(["--out", "out", "--repo", "repo", "--policy"])
        .arg(&policy)
        .output()
        .expect("prepare");
    assert!(o.status.success(), "{o:?}");
    let input: FixInput =
        ci_remedy::artifact::read_json(&sb.out().join("fix-agent/input.json")).expect("input");
    assert_eq!(input.instructions.len(), 1, "{:?}", input.notes);
    let ins = &input.instructions[0];
    assert_eq!(ins.source.as_deref(), Some("recipe:dockerignore-exception"));
    assert!(
        ins.summary.contains("/app/data/pricing.json"),
        "{}",
        ins.summary
    );
    assert!(ins.summary.contains("Dockerfile line 6"), "{}", ins.summary);
    assert!(input.base_sha.len() == 40, "{}", input.base_sha);
    assert!(
        input
            .snippets
            .iter()
            .any(|s| s.path == "src/server.js" && s.focus_line == 9),
        "{:?}",
        input.snippets
    );

    let o = hermetic(APPLY, sb.root())
        .args(["--out", "out", "--repo", "repo", "--policy"])
        .arg(&policy)
        .output()
        .expect("apply");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = read_metadata(&sb.out());
    assert_eq!(
        m.guardrails.decision,
        GuardDecision::Accepted,
        "{:?}",
        m.guardrails
    );
    assert_eq!(
        m.validation.status,
        ValidationStatus::Passed,
        "{:?}",
        m.validation
    );
    assert_eq!(m.risk.class, RiskClass::Config);
    assert_eq!(m.branch, "ci-remedy/local-build-config");
    assert!(!m.needs_manual_review);
    assert_eq!(m.base_sha, input.base_sha);
    let patch = read_patch(&sb.out());
    assert_eq!(m.patch_sha256, ci_remedy::fix::sha256_hex(patch.as_bytes()));
    assert!(patch.contains("+!data/pricing.json\n"), "{patch}");
    assert!(
        m.pr_body.contains("git apply patch-local.diff"),
        "{}",
        m.pr_body
    );
    assert!(m
        .pr_body
        .contains("gh run download local -n fix-agent-local"));

    // The working tree (and everything around it) is exactly as before.
    assert_eq!(
        before,
        snapshot(sb.root(), &["out", "github_output", "step_summary"])
    );

    let patch_path = sb.out().join("fix-agent/patch-local.diff");
    prove_patch(&sb.repo(), &patch_path);
    let o = std::process::Command::new("git")
        .arg("-C")
        .arg(sb.repo())
        .arg("apply")
        .arg(&patch_path)
        .output()
        .expect("git apply");
    assert!(o.status.success());
    let text = std::fs::read_to_string(sb.repo().join(".dockerignore")).expect("read");
    let (after, _) = DockerIgnore::parse(&text);
    assert!(!after.is_excluded("data/pricing.json"), "{text}");
    assert!(after.is_excluded("node_modules/x"), "other exclusions stay");

    let outputs = std::fs::read_to_string(sb.root().join("github_output")).expect("outputs");
    assert!(outputs.contains("patch-accepted<<"), "{outputs}");
    assert!(outputs.contains("\ntrue\n"), "{outputs}");
    assert!(outputs.contains("patch-local.diff"));
    assert!(outputs.contains("metadata-local.json"));
    let summary = std::fs::read_to_string(sb.root().join("step_summary")).expect("summary");
    assert!(summary.contains("| decision | accepted |"), "{summary}");
    assert!(
        summary.contains("Patch: `patch-local.diff` · metadata: `metadata-local.json`"),
        "{summary}"
    );
}

#[test]
fn dockerignore_recipe_does_nothing_when_not_sure() {
    // The file is not excluded: nothing to re-include.
    let sb = sandbox(Some("dockerignore-incident"));
    std::fs::write(sb.repo().join(".dockerignore"), "node_modules\n").expect("write");
    let log = sb.root().join("smoke.log");
    std::fs::copy(format!("{FIXTURES}/dockerignore-incident.log"), &log).expect("log");
    write_json(
        &sb.out().join("self-heal/context.json"),
        &context(
            Category::BuildConfig,
            &log,
            20,
            20,
            "Error: Pricing file not found: /app/data/pricing.json",
        ),
    );
    let o = hermetic(PREPARE, sb.root())
        .args(["--out", "out", "--repo", "repo"])
        .output()
        .expect("prepare");
    assert!(o.status.success(), "{o:?}");
    let input: FixInput =
        ci_remedy::artifact::read_json(&sb.out().join("fix-agent/input.json")).expect("input");
    assert!(input.instructions.is_empty(), "{:?}", input.instructions);
    let o = hermetic(APPLY, sb.root())
        .args(["--out", "out", "--repo", "repo"])
        .output()
        .expect("apply");
    assert!(o.status.success());
    assert_eq!(
        read_metadata(&sb.out()).guardrails.decision,
        GuardDecision::Empty
    );
    assert_eq!(read_patch(&sb.out()), "");
}

#[test]
fn import_case_prepare_apply_and_prove() {
    let sb = sandbox(Some("import-case"));
    commit_all(&sb.repo());
    let log = sb.root().join("jest.log");
    std::fs::copy(format!("{FIXTURES}/import-case.log"), &log).expect("log");
    let mut ctx = context(
        Category::CompileError,
        &log,
        9,
        11,
        "  ● Test suite failed to run\n\n    Cannot find module './Util' from 'src/app.js'",
    );
    ctx.tests
        .failed
        .push(failed_test("test/app.test.js", "test/app.test.js"));
    write_json(&sb.out().join("self-heal/context.json"), &ctx);
    let policy = write_policy(
        sb.root(),
        "fix-agent:\n  allow: [\"src/**\", \"test/**\"]\n  validation:\n    command: [grep, -q, \"require('./util')\", src/app.js]\n    pass-failed-tests: false\n",
    );
    let before = snapshot(sb.root(), &["out", "github_output", "step_summary"]);
    let o = hermetic(PREPARE, sb.root())
        .args(["--out", "out", "--repo", "repo", "--policy"])
        .arg(&policy)
        .output()
        .expect("prepare");
    assert!(o.status.success(), "{o:?}");
    let input: FixInput =
        ci_remedy::artifact::read_json(&sb.out().join("fix-agent/input.json")).expect("input");
    assert_eq!(input.instructions.len(), 1, "{:?}", input.notes);
    assert_eq!(
        input.instructions[0].source.as_deref(),
        Some("recipe:import-case")
    );
    assert!(input.instructions[0].summary.contains("src/util.js"));
    let o = hermetic(APPLY, sb.root())
        .args(["--out", "out", "--repo", "repo", "--policy"])
        .arg(&policy)
        .output()
        .expect("apply");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = read_metadata(&sb.out());
    assert_eq!(
        m.guardrails.decision,
        GuardDecision::Accepted,
        "{:?}",
        m.guardrails
    );
    assert_eq!(
        m.validation.status,
        ValidationStatus::Passed,
        "{:?}",
        m.validation
    );
    assert_eq!(
        (m.guardrails.lines_added, m.guardrails.lines_removed),
        (1, 1)
    );
    assert_eq!(m.risk.class, RiskClass::Source);
    let patch = read_patch(&sb.out());
    assert!(
        patch
            .contains("-const { add } = require('./Util');\n+const { add } = require('./util');\n"),
        "{patch}"
    );
    assert_eq!(
        before,
        snapshot(sb.root(), &["out", "github_output", "step_summary"])
    );
    prove_patch(&sb.repo(), &sb.out().join("fix-agent/patch-local.diff"));
}

#[test]
fn python_import_case_recipe() {
    let sb = sandbox(None);
    let repo = sb.repo();
    std::fs::create_dir_all(repo.join("app")).expect("mkdir");
    std::fs::write(repo.join("app/__init__.py"), "").expect("w");
    std::fs::write(repo.join("app/helpers.py"), "def f():\n    return 1\n").expect("w");
    std::fs::write(
        repo.join("main.py"),
        "import os\nfrom app.Helpers import f\n\nprint(f())\n",
    )
    .expect("w");
    commit_all(&repo);
    let log = sb.root().join("py.log");
    std::fs::write(
        &log,
        "Traceback (most recent call last):\n  File \"/home/runner/work/x/x/main.py\", line 2, in <module>\n    from app.Helpers import f\nModuleNotFoundError: No module named 'app.Helpers'\n",
    )
    .expect("log");
    write_json(
        &sb.out().join("self-heal/context.json"),
        &context(
            Category::CompileError,
            &log,
            4,
            4,
            "ModuleNotFoundError: No module named 'app.Helpers'",
        ),
    );
    assert!(hermetic(PREPARE, sb.root())
        .args(["--out", "out", "--repo", "repo"])
        .status()
        .expect("run")
        .success());
    assert!(hermetic(APPLY, sb.root())
        .args(["--out", "out", "--repo", "repo"])
        .status()
        .expect("run")
        .success());
    let patch = read_patch(&sb.out());
    assert!(
        patch.contains("-from app.Helpers import f\n+from app.helpers import f\n"),
        "{patch}"
    );
    prove_patch(&repo, &sb.out().join("fix-agent/patch-local.diff"));
}

fn playwright_sandbox() -> Sandbox {
    let sb = sandbox(None);
    let repo = sb.repo();
    std::fs::create_dir_all(repo.join("tests")).expect("mkdir");
    std::fs::write(
        repo.join("tests/login.spec.ts"),
        "import { test } from '@playwright/test';\n\ntest('login', async ({ page }) => {\n  await page.goto('/login');\n  await page.locator('#submit').waitFor({ timeout: 5000 });\n});\n",
    )
    .expect("w");
    commit_all(&repo);
    let log = sb.root().join("pw.log");
    std::fs::write(
        &log,
        "2024-07-01T10:00:00.0000000Z   1) [chromium] › tests/login.spec.ts:3:5 › login\n2024-07-01T10:00:00.0000001Z     TimeoutError: locator.waitFor: Timeout 5000ms exceeded.\n2024-07-01T10:00:00.0000002Z     Call log:\n2024-07-01T10:00:00.0000003Z       - waiting for locator('#submit') to be visible\n2024-07-01T10:00:00.0000004Z        at /home/runner/work/app/app/tests/login.spec.ts:5:33\n",
    )
    .expect("log");
    write_json(
        &sb.out().join("self-heal/context.json"),
        &context(
            Category::TestTimeout,
            &log,
            2,
            5,
            "TimeoutError: locator.waitFor: Timeout 5000ms exceeded.",
        ),
    );
    sb
}

#[test]
fn playwright_timeout_recipe_is_opt_in_and_capped() {
    let sb = playwright_sandbox();
    // Off by default.
    assert!(hermetic(PREPARE, sb.root())
        .args(["--out", "out", "--repo", "repo"])
        .status()
        .expect("run")
        .success());
    let input: FixInput =
        ci_remedy::artifact::read_json(&sb.out().join("fix-agent/input.json")).expect("input");
    assert!(input.instructions.is_empty());
    // Opted in with a cap of 8000 ms: 5000 → min(10000, 8000).
    let policy = write_policy(
        sb.root(),
        "fix-agent:\n  playwright-timeout:\n    enabled: true\n    max-ms: 8000\n",
    );
    assert!(hermetic(PREPARE, sb.root())
        .args(["--out", "out", "--repo", "repo", "--policy"])
        .arg(&policy)
        .status()
        .expect("run")
        .success());
    assert!(hermetic(APPLY, sb.root())
        .args(["--out", "out", "--repo", "repo", "--policy"])
        .arg(&policy)
        .status()
        .expect("run")
        .success());
    let patch = read_patch(&sb.out());
    assert!(
        patch.contains("+  await page.locator('#submit').waitFor({ timeout: 8000 });\n"),
        "{patch}"
    );
    let m = read_metadata(&sb.out());
    assert_eq!(m.risk.class, RiskClass::TestOnly);
    assert!(
        m.commit_message.starts_with("test(ci-remedy): "),
        "{}",
        m.commit_message
    );
    prove_patch(&sb.repo(), &sb.out().join("fix-agent/patch-local.diff"));
    // At the cap already: nothing.
    let policy = write_policy(
        sb.root(),
        "fix-agent:\n  playwright-timeout:\n    enabled: true\n    max-ms: 5000\n",
    );
    assert!(hermetic(PREPARE, sb.root())
        .args(["--out", "out", "--repo", "repo", "--policy"])
        .arg(&policy)
        .status()
        .expect("run")
        .success());
    let input: FixInput =
        ci_remedy::artifact::read_json(&sb.out().join("fix-agent/input.json")).expect("input");
    assert!(input.instructions.is_empty());
    assert!(
        input.notes.iter().any(|n| n.contains("cap")),
        "{:?}",
        input.notes
    );
}

#[test]
fn credentials_in_the_evidence_never_reach_the_input_or_the_outputs() {
    const TOKEN: &str = "ghp_0123456789abcdefghijklmnopqrstuvwxyZ";
    const KEY: &str = "AKIAIOSFODNN7EXAMPLE";
    let sb = sandbox(None);
    let repo = sb.repo();
    std::fs::create_dir_all(repo.join("app")).expect("mkdir");
    std::fs::write(repo.join("app/__init__.py"), "").expect("w");
    std::fs::write(repo.join("app/helpers.py"), "def f():\n    return 1\n").expect("w");
    // A credential in the code near the failing import: quoted by the snippet, but far
    // enough from the import that the patch's context lines do not hold it.
    std::fs::write(
        repo.join("main.py"),
        format!(
            "import os\nfrom app.Helpers import f\n\n\n\n\n\nAWS_KEY = \"{KEY}\"\nprint(f())\n"
        ),
    )
    .expect("w");
    commit_all(&repo);
    let log = sb.root().join("py.log");
    std::fs::write(
        &log,
        format!("Traceback (most recent call last):\n  File \"main.py\", line 2, in <module>\nModuleNotFoundError: No module named 'app.Helpers' (GITHUB_TOKEN={TOKEN})\n"),
    )
    .expect("log");
    let mut ctx = context(
        Category::CompileError,
        &log,
        1,
        1,
        "Traceback (most recent call last):",
    );
    ctx.findings[0].file = Some("main.py".into());
    ctx.findings[0].file_line = Some(2);
    write_json(&sb.out().join("self-heal/context.json"), &ctx);

    let o = hermetic(PREPARE, sb.root())
        .args(["--out", "out", "--repo", "repo"])
        .output()
        .expect("prepare");
    assert!(o.status.success(), "{o:?}");
    let input_text = std::fs::read_to_string(sb.out().join("fix-agent/input.json")).expect("input");
    let input: FixInput = serde_json::from_str(&input_text).expect("input");
    assert_eq!(input.instructions.len(), 1, "{:?}", input.notes);
    assert!(
        input.instructions[0].summary.contains("[REDACTED:"),
        "the recipe still quotes its evidence: {}",
        input.instructions[0].summary
    );
    assert!(
        input.snippets.iter().any(|s| s.path == "main.py"
            && s.text
                .contains("AWS_KEY = \"[REDACTED:aws-access-key-id]\"")),
        "{:?}",
        input.snippets
    );
    let o = hermetic(APPLY, sb.root())
        .args(["--out", "out", "--repo", "repo"])
        .output()
        .expect("apply");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let patch = read_patch(&sb.out());
    assert!(patch.contains("+from app.helpers import f\n"), "{patch}");
    let metadata =
        std::fs::read_to_string(sb.out().join("fix-agent/metadata-local.json")).expect("metadata");
    for (name, text) in [
        ("input.json", &input_text),
        ("metadata", &metadata),
        ("patch", &patch),
        ("stdout", &String::from_utf8_lossy(&o.stdout).into_owned()),
        (
            "step summary",
            &std::fs::read_to_string(sb.root().join("step_summary")).unwrap_or_default(),
        ),
    ] {
        assert!(!text.contains(TOKEN), "{name} holds the token:\n{text}");
        assert!(!text.contains(KEY), "{name} holds the key:\n{text}");
    }
}
