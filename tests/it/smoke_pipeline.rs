//! The pricing bug through the pipeline, with the real binaries: `ci-smoke` against the local
//! test service → `self-heal-prepare --smoke-report` → `fix-agent-prepare` → `fix-agent-apply`,
//! and the patch proven with `git apply --check`.

use ci_remedy::artifact::{Category, ClassificationSource, Context, FixInput, GuardDecision};

use crate::fix_support::{
    commit_all, hermetic, prove_patch, read_metadata, read_patch, sandbox, APPLY, PREPARE,
};
use crate::smoke_support;

#[test]
fn the_missing_pricing_file_reaches_the_dockerignore_recipes_patch() {
    let svc = smoke_support::start();
    let sb = sandbox(Some("dockerignore-incident"));
    commit_all(&sb.repo());
    std::fs::write(
        sb.root().join("ci-remedy-smoke.yml"),
        "hosts: [127.0.0.1]
variables: [APP_URL]
checks:
  - name: price shown
    request: { url: '${APP_URL}/price' }
    expect:
      json-path: [{ path: '$.price', contains: 'IDR' }]
log-patterns:
  - name: pricing data
    url: '${APP_URL}/logs'
    must-not-match: ['Pricing file not found', 'Loaded 0 tools']
",
    )
    .expect("checks");
    let o = hermetic(env!("CARGO_BIN_EXE_ci-smoke"), sb.root())
        .env("APP_URL", &svc.base)
        .args(["--checks", "ci-remedy-smoke.yml", "--out", "out"])
        .output()
        .expect("ci-smoke");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report = sb.out().join("smoke/report-local.json");
    assert!(report.exists());

    let o = hermetic(env!("CARGO_BIN_EXE_self-heal-prepare"), sb.root())
        .args(["--out", "out", "--repo-root", "repo", "--smoke-report"])
        .arg(&report)
        .output()
        .expect("self-heal-prepare");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let ctx: Context =
        ci_remedy::artifact::read_json(&sb.out().join("self-heal/context.json")).expect("context");
    let top = &ctx.findings[0];
    assert_eq!(top.rank, 1);
    assert_eq!(top.category, Category::BuildConfig);
    assert_eq!(top.line_start, 3, "the log's line");
    assert!(
        top.excerpt
            .contains("Pricing file not found: /app/data/pricing.json"),
        "{}",
        top.excerpt
    );
    assert!(
        ctx.findings
            .iter()
            .any(|f| f.rule == "smoke/check/price shown/json-path"
                && f.category == Category::TestAssertion
                && f.excerpt.contains("got null")),
        "{:#?}",
        ctx.findings
    );
    assert!(
        ctx.findings
            .iter()
            .any(|f| f.excerpt.contains("Loaded 0 tools for AI")),
        "{:#?}",
        ctx.findings
    );
    assert_eq!(ctx.classification.category, Category::BuildConfig);
    assert_eq!(
        ctx.classification.source,
        ClassificationSource::Recipe,
        "{}",
        ctx.classification.summary
    );
    assert_eq!(ctx.classification.evidence.first(), Some(&0));

    let o = hermetic(PREPARE, sb.root())
        .args(["--out", "out", "--repo", "repo"])
        .output()
        .expect("fix-agent-prepare");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let input: FixInput =
        ci_remedy::artifact::read_json(&sb.out().join("fix-agent/input.json")).expect("input");
    assert_eq!(input.instructions.len(), 1, "{:?}", input.notes);
    assert_eq!(
        input.instructions[0].source.as_deref(),
        Some("recipe:dockerignore-exception")
    );

    let o = hermetic(APPLY, sb.root())
        .args(["--out", "out", "--repo", "repo"])
        .output()
        .expect("fix-agent-apply");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = read_metadata(&sb.out());
    assert_eq!(
        m.guardrails.decision,
        GuardDecision::Accepted,
        "{:?}",
        m.guardrails
    );
    let patch = read_patch(&sb.out());
    assert!(patch.contains("+!data/pricing.json\n"), "{patch}");
    prove_patch(&sb.repo(), &sb.out().join("fix-agent/patch-local.diff"));
}
