//! `self-heal-prepare`'s pipeline: collect logs and reports, classify, merge a Developer-Agent
//! answer, redact, and build the [`Context`] artifact.

use std::path::{Path, PathBuf};

use crate::artifact::{
    read_developer_agent_answer, BaselineInfo, BaselineSource, Classification,
    ClassificationSource, Context, DeveloperAgent, DeveloperAgentStatus, Edit, FailedTest,
    Redactions, RunInfo, Tests, ToolInfo, CONTEXT_SCHEMA, MAX_CONTEXT_FAILED_TESTS,
    MAX_CONTEXT_REPORTS, MAX_CONTEXT_TEST_FIELD_BYTES,
};
use crate::classify::{analyze, AnalyzeOptions, RulePack};
use crate::fix::recipes;
use crate::logs::redact::Redactor;
use crate::logs::source::{resolve_all_with, resolve_with, ZipLimits};
use crate::reports::attempts::{self, AttemptReports};
use crate::reports::{
    read_junit, read_junit_outcomes, read_playwright_json, read_playwright_outcomes, ReportError,
};

/// [`read_junit`] or [`read_playwright_json`].
type ReadReport = fn(&Path, Option<&str>) -> Result<Vec<FailedTest>, ReportError>;

/// What to read.
#[derive(Debug, Clone, Default)]
pub struct PrepareInput {
    /// `--log` specs (files, directories, globs, zips).
    pub logs: Vec<String>,
    /// `--junit` report files.
    pub junit: Vec<PathBuf>,
    /// `--playwright-report` JSON files.
    pub playwright: Vec<PathBuf>,
    /// `--developer-agent-response` file.
    pub developer_agent_response: Option<PathBuf>,
    /// `--baseline-log`: the last passing log of the same job.
    pub baseline_log: Option<String>,
    /// Where `baseline_log` came from when it is not the user's file (`--baseline-from-api`):
    /// recorded as the context's `baseline`, with `used` set from the analysis. When the API
    /// found none, this says why and `baseline_log` is `None`.
    pub baseline_info: Option<BaselineInfo>,
    /// The checkout's absolute path (`GITHUB_WORKSPACE`), stripped from file paths in findings
    /// and test reports so they come out repository-relative.
    pub workspace: Option<String>,
    /// Caps on what a log zip may unpack to (`--max-zip-bytes`, `--max-zip-ratio`).
    pub zip_limits: ZipLimits,
    /// The checkout (`--repo-root`): when given, the read-only recipes check the evidence
    /// against it and a sure recipe decides the category ([`diagnose`]).
    pub repo_root: Option<PathBuf>,
    /// `--smoke-report`: a `ci-smoke` report whose failed expectations and matched log lines
    /// become findings ([`smoke_findings`]).
    pub smoke_report: Option<PathBuf>,
    /// `--attempt-reports` (or the directory `--attempt-reports-from-api` downloaded into): one
    /// subdirectory per attempt of this commit with its test reports
    /// ([`attempts::read_attempts_dir`]). The tests that failed in one attempt and passed in
    /// another become `tests.flaky`; when every failed test of this run is one of them, the
    /// classification is `flaky_test` ([`classify_flaky`]).
    pub attempt_reports: Option<PathBuf>,
    /// Where `attempt_reports` came from, or why there are none (the API route failed): the
    /// context's `tests.attempts_detail`. Without it, and with `attempt_reports`, the detail
    /// names the directory.
    pub attempts_detail: Option<String>,
}

/// Builds the context. Problems with individual inputs (a missing log, a malformed report) do
/// not stop the step: what could be read is analysed and every problem is joined into
/// `Context::error` (the binary then exits 1).
pub fn prepare(input: &PrepareInput, pack: &RulePack, run: RunInfo, tool: &str) -> Context {
    let mut errors: Vec<String> = Vec::new();

    let (sources, log_errors) = resolve_all_with(&input.logs, &input.zip_limits);
    errors.extend(log_errors.iter().map(ToString::to_string));
    let baseline = input.baseline_log.as_ref().and_then(|spec| {
        match resolve_with(std::slice::from_ref(spec), &input.zip_limits) {
            Ok(found) => found.into_iter().next(),
            Err(e) => {
                errors.push(format!("baseline log: {e}"));
                None
            }
        }
    });

    let mut tests = Tests::default();
    let workspace = input.workspace.as_deref();
    let mut read_reports = |paths: &[PathBuf], read: ReadReport| {
        for p in paths {
            match read(p, workspace) {
                Ok(failed) => {
                    tests.reports.push(p.display().to_string());
                    tests.failed.extend(failed);
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
    };
    read_reports(&input.junit, read_junit);
    read_reports(&input.playwright, read_playwright_json);
    if let Some(dir) = &input.attempt_reports {
        let (attempts, flaky, detail) = compare_attempts(input, dir, &run, &mut errors);
        tests.attempts = attempts;
        tests.flaky = flaky;
        tests.attempts_detail = Some(detail);
    } else if let Some(d) = &input.attempts_detail {
        tests.attempts_detail = Some(d.clone());
    }

    let opts = AnalyzeOptions {
        baseline: baseline.as_ref(),
        workspace,
    };
    // A log (or the baseline) that cannot be read is skipped by `analyze`, not fatal.
    let analysis = analyze(pack, &sources, &tests.failed, &opts);
    errors.extend(analysis.errors.iter().map(ToString::to_string));
    let baseline_failed = analysis
        .errors
        .iter()
        .find(|e| matches!(e, crate::classify::ClassifyError::Baseline(_)));
    let baseline_info = match (&input.baseline_info, &input.baseline_log) {
        (Some(info), _) => Some(info.clone()),
        (None, Some(spec)) => Some(BaselineInfo {
            source: Some(BaselineSource::File),
            path: Some(spec.clone()),
            detail: format!("the file {spec:?} (--baseline-log)"),
            ..BaselineInfo::default()
        }),
        (None, None) => None,
    }
    .map(|mut info| {
        info.used = baseline.is_some() && baseline_failed.is_none();
        if baseline.is_some() {
            if let Some(e) = baseline_failed {
                info.detail = format!("{}; not used: {e}", info.detail);
            }
        } else if input.baseline_log.is_some() {
            info.detail = format!("{}; not used: it could not be found", info.detail);
        }
        info
    });
    let (logs, mut findings) = (analysis.logs, analysis.findings);
    let mut rules_classification = analysis.classification;
    if let Some(path) = &input.smoke_report {
        match crate::artifact::read_artifact::<crate::artifact::SmokeReport>(path) {
            Ok(r) => {
                rules_classification =
                    merge_smoke(rules_classification, &mut findings, smoke_findings(&r));
            }
            Err(e) => errors.push(format!("smoke report: {e}")),
        }
    }
    rules_classification = classify_flaky(rules_classification, &mut findings, &tests);
    // The analysis saw every failed test; the artifact keeps a bounded list and a count.
    cap_tests(&mut tests);

    let developer_agent = read_developer_agent_answer(input.developer_agent_response.as_deref());
    let mut classification = merge_answer(rules_classification, &developer_agent, &findings);
    if let Some(repo) = &input.repo_root {
        classification = diagnose(repo, classification, &findings, &tests.failed);
    }

    let mut ctx = Context {
        schema: CONTEXT_SCHEMA.to_string(),
        tool: ToolInfo::new(tool),
        run,
        logs,
        tests,
        findings,
        classification,
        developer_agent,
        redactions: Redactions::default(),
        baseline: baseline_info,
        error: if errors.is_empty() {
            None
        } else {
            Some(errors.join("; "))
        },
    };
    redact_context(Redactor::builtin(), &mut ctx);
    ctx
}

/// Redacts every string of `ctx` that quotes untrusted input, in place, adding the counts to
/// `ctx.redactions`: log names (zip entry names are step names, which GitHub derives from the
/// step's command), findings (log, excerpt, file, step — the `##[group]Run <command>` line),
/// failed tests (name, id, file, message, report), the classification summary, the
/// Developer-Agent status detail and its whole answer, and `error` (which quotes paths and
/// entry names). Only `schema`, `tool` and `run` (the workflow's own `GITHUB_*` values) are
/// left as they are.
///
/// The one place where the context is redacted: a field added to the context is added here.
pub fn redact_context(redactor: &Redactor, ctx: &mut Context) {
    let Context {
        schema: _,
        tool: _,
        run: _,
        logs,
        tests,
        findings,
        classification,
        developer_agent,
        redactions,
        baseline,
        error,
    } = ctx;
    let mut r = |s: &mut String| *s = redactor.redact(s, redactions);
    if let Some(b) = baseline {
        r(&mut b.detail);
        b.path.iter_mut().chain(&mut b.job).for_each(&mut r);
    }
    for l in logs {
        r(&mut l.path);
    }
    for p in &mut tests.reports {
        r(p);
    }
    for a in &mut tests.attempts {
        r(&mut a.run_id);
        r(&mut a.source);
        a.sha.iter_mut().for_each(&mut r);
    }
    for t in &mut tests.flaky {
        r(&mut t.name);
        t.id.iter_mut().chain(&mut t.message).for_each(&mut r);
        for run in &mut t.runs {
            r(&mut run.run_id);
        }
    }
    tests.attempts_detail.iter_mut().for_each(&mut r);
    for t in &mut tests.failed {
        let FailedTest {
            name,
            id,
            file,
            line: _,
            message,
            report,
        } = t;
        r(name);
        r(report);
        id.iter_mut().chain(file).chain(message).for_each(&mut r);
    }
    for f in findings {
        r(&mut f.log);
        r(&mut f.excerpt);
        f.file.iter_mut().chain(&mut f.step).for_each(&mut r);
    }
    r(&mut classification.summary);
    developer_agent.detail.iter_mut().for_each(&mut r);
    if let Some(a) = &mut developer_agent.answer {
        a.classification.summary.iter_mut().for_each(&mut r);
        a.self_heal_plan.actions.iter_mut().for_each(&mut r);
        for t in &mut a.triggers {
            r(&mut t.name);
            t.reason.iter_mut().for_each(&mut r);
        }
        if let Some(m) = &mut a.model {
            [&mut m.provider, &mut m.model].into_iter().for_each(&mut r);
            m.reason.iter_mut().for_each(&mut r);
            for c in &mut m.candidates {
                r(&mut c.summary);
            }
        }
        for ins in &mut a.fix_agent_instructions {
            r(&mut ins.summary);
            ins.source.iter_mut().for_each(&mut r);
            for e in &mut ins.edits {
                match e {
                    Edit::Replace {
                        path,
                        find,
                        replace,
                        count: _,
                    } => [path, find, replace].into_iter().for_each(&mut r),
                    Edit::ReplaceLines {
                        path,
                        start_line: _,
                        end_line: _,
                        expected,
                        replacement,
                    } => [path, expected, replacement].into_iter().for_each(&mut r),
                    Edit::Create { path, content } => [path, content].into_iter().for_each(&mut r),
                    Edit::Delete { path } => r(path),
                    Edit::Patch { diff } => r(diff),
                }
            }
        }
    }
    error.iter_mut().for_each(&mut r);
}

/// Bounds what the context keeps of the test reports, so that however many tests failed the
/// context stays far below what its readers accept ([`crate::artifact::MAX_ARTIFACT_BYTES`]):
/// at most [`MAX_CONTEXT_FAILED_TESTS`] failed tests and [`MAX_CONTEXT_REPORTS`] report paths
/// (the rest counted in `failed_omitted` / `reports_omitted`), each name, id, file and report
/// path cut to [`MAX_CONTEXT_TEST_FIELD_BYTES`] (messages are already capped by the readers).
pub fn cap_tests(tests: &mut Tests) {
    if tests.failed.len() > MAX_CONTEXT_FAILED_TESTS {
        tests.failed_omitted += (tests.failed.len() - MAX_CONTEXT_FAILED_TESTS) as u64;
        tests.failed.truncate(MAX_CONTEXT_FAILED_TESTS);
    }
    if tests.reports.len() > MAX_CONTEXT_REPORTS {
        tests.reports_omitted += (tests.reports.len() - MAX_CONTEXT_REPORTS) as u64;
        tests.reports.truncate(MAX_CONTEXT_REPORTS);
    }
    let cut = |s: &mut String| {
        let keep = crate::text::token_safe_str(s, MAX_CONTEXT_TEST_FIELD_BYTES).len();
        s.truncate(keep);
    };
    if tests.flaky.len() > crate::artifact::MAX_CONTEXT_FLAKY_TESTS {
        tests.flaky_omitted +=
            (tests.flaky.len() - crate::artifact::MAX_CONTEXT_FLAKY_TESTS) as u64;
        tests
            .flaky
            .truncate(crate::artifact::MAX_CONTEXT_FLAKY_TESTS);
    }
    tests.reports.iter_mut().for_each(cut);
    for t in &mut tests.flaky {
        cut(&mut t.name);
        t.id.iter_mut().for_each(cut);
    }
    for a in &mut tests.attempts {
        cut(&mut a.source);
        cut(&mut a.run_id);
    }
    for t in &mut tests.failed {
        cut(&mut t.name);
        cut(&mut t.report);
        t.id.iter_mut().chain(&mut t.file).for_each(cut);
    }
}

/// `--attempt-reports`: reads the attempts under `dir`, adds this run's own reports (`--junit`,
/// `--playwright-report`) as its attempt unless `dir` has it already, leaves out attempts of
/// another commit (an `attempt.json` whose `sha` is not `GITHUB_SHA`), and compares them.
/// Returns the attempts (oldest first), the flaky tests and the detail sentence.
fn compare_attempts(
    input: &PrepareInput,
    dir: &Path,
    run: &RunInfo,
    errors: &mut Vec<String>,
) -> (
    Vec<crate::artifact::AttemptInfo>,
    Vec<crate::artifact::FlakyTest>,
    String,
) {
    let workspace = input.workspace.as_deref();
    let (mut list, errs) = attempts::read_attempts_dir(dir, workspace);
    errors.extend(errs);
    let this_sha = Some(run.sha.as_str()).filter(|s| !s.is_empty() && *s != "local");
    let has_current = list.iter().any(|a| a.is(&run.run_id, run.run_attempt));
    let own_reports = !input.junit.is_empty() || !input.playwright.is_empty();
    if !has_current && own_reports {
        let mut cur = AttemptReports::new(
            run.run_id.clone(),
            run.run_attempt,
            this_sha.map(str::to_string),
            "current".into(),
        );
        // Read errors were reported with the failed tests already.
        for p in &input.junit {
            if let Ok(c) = read_junit_outcomes(p, workspace) {
                cur.add(c);
            }
        }
        for p in &input.playwright {
            if let Ok(c) = read_playwright_outcomes(p, workspace) {
                cur.add(c);
            }
        }
        list.push(cur);
    }
    let mut other_commit = Vec::new();
    list.retain(|a| match (a.info.sha.as_deref(), this_sha) {
        (Some(s), Some(this)) if !s.eq_ignore_ascii_case(this) => {
            other_commit.push(format!(
                "{} (sha {})",
                a.info.source,
                crate::text::one_line(s)
            ));
            false
        }
        _ => true,
    });
    attempts::normalize(&mut list);
    let flaky = attempts::flaky_tests(&list, Some((run.run_id.as_str(), run.run_attempt)));
    let mut detail = input.attempts_detail.clone().unwrap_or_else(|| {
        format!(
            "the test reports of {} attempt(s) under {} (--attempt-reports)",
            list.len(),
            dir.display()
        )
    });
    detail.push_str(&format!("; {} flaky test(s)", flaky.len()));
    if !other_commit.is_empty() {
        detail.push_str(&format!(
            "; left out, another commit: {}",
            other_commit.join(", ")
        ));
    }
    let infos = list.into_iter().map(|a| a.info).collect();
    (infos, flaky, detail)
}

/// The confidence of a `flaky_test` classification from the attempts' reports.
pub const FLAKY_CONFIDENCE: f64 = 0.9;

/// The most findings [`classify_flaky`] adds (one per flaky failed test).
pub const MAX_FLAKY_FINDINGS: usize = 20;

/// When this run failed tests (`tests.failed`, complete: before [`cap_tests`]) and EVERY one of
/// them is in `tests.flaky` (it passed in another attempt of the commit), the classification is
/// `flaky_test` (source `attempts`, confidence [`FLAKY_CONFIDENCE`]): a finding per flaky
/// failed test (at most [`MAX_FLAKY_FINDINGS`]) naming the runs and attempts and the first
/// failure's message goes first, and is the evidence. Otherwise `rules` and `findings` are
/// unchanged: one real failure is enough to keep the rules' category.
pub fn classify_flaky(
    rules: Classification,
    findings: &mut Vec<crate::artifact::Finding>,
    tests: &Tests,
) -> Classification {
    use crate::artifact::{Category, Finding};
    if tests.failed.is_empty() || tests.flaky.is_empty() || tests.failed_omitted > 0 {
        return rules;
    }
    let by_name: std::collections::BTreeMap<&str, &crate::artifact::FlakyTest> =
        tests.flaky.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut hits: Vec<(&FailedTest, &crate::artifact::FlakyTest)> = Vec::new();
    for t in &tests.failed {
        match by_name.get(t.name.as_str()) {
            Some(f) => {
                if !hits.iter().any(|(h, _)| h.name == t.name) {
                    hits.push((t, *f));
                }
            }
            None => return rules,
        }
    }
    let front: Vec<Finding> = hits
        .iter()
        .take(MAX_FLAKY_FINDINGS)
        .map(|(t, f)| {
            let mut excerpt = format!(
                "{} failed in {} attempt(s) and passed in {} of this commit: {}",
                t.name,
                f.failures,
                f.passes,
                attempts::runs_line(f)
            );
            if let Some(m) = t.message.as_deref().or(f.message.as_deref()) {
                excerpt.push_str("\nfailure: ");
                excerpt.push_str(m);
            }
            Finding {
                rule: "attempts/flaky".into(),
                category: Category::FlakyTest,
                log: format!("attempts:{}", t.name),
                line_start: 1,
                line_end: 1,
                rank: 0,
                score: 0.0,
                excerpt: crate::text::token_safe_str(&excerpt, 8 * 1024).to_string(),
                file: t.file.clone(),
                file_line: t.line,
                step: None,
            }
        })
        .collect();
    let n = front.len();
    put_in_front(front, findings);
    let (t, f) = hits[0];
    let first = format!(
        "{} ({})",
        crate::text::one_line(crate::text::truncate_str(&t.name, 200)),
        attempts::runs_line(f)
    );
    Classification {
        category: Category::FlakyTest,
        kind: Category::FlakyTest.kind(),
        confidence: FLAKY_CONFIDENCE,
        source: ClassificationSource::Attempts,
        evidence: (0..n).collect(),
        summary: format!(
            "flaky_test: all {} failed test(s) passed in another attempt of this commit: {first}{} (rules said {} at {:.2})",
            hits.len(),
            if hits.len() > 1 {
                format!(" and {} more", hits.len() - 1)
            } else {
                String::new()
            },
            rules.category,
            rules.confidence
        ),
    }
}

/// A rules classification gives way to a sure recipe's ([`recipes::diagnose`]): the recipe
/// checked the log's evidence against the checkout, so e.g. a container that cannot find
/// `/app/data/pricing.json` because `.dockerignore` excludes `data/` is `build_config`, not
/// the `network` its failing health check looks like (and so never rerun). A Developer-Agent
/// answer is kept. The evidence is the findings' excerpts and the failed tests' messages
/// (both bounded), not the logs again: `fix-agent-prepare` reads the logs' ends as well.
fn diagnose(
    repo: &Path,
    rules: Classification,
    findings: &[crate::artifact::Finding],
    failed: &[FailedTest],
) -> Classification {
    if rules.source != ClassificationSource::Rules {
        return rules;
    }
    let no_logs: [recipes::EvidenceLog<std::io::Empty>; 0] = [];
    let lines = recipes::evidence_lines(findings, failed, no_logs);
    let Some(d) = recipes::diagnose(repo, &lines) else {
        return rules;
    };
    let evidence = evidence_of(d.category, findings, &rules.evidence);
    Classification {
        category: d.category,
        kind: d.category.kind(),
        confidence: RECIPE_CONFIDENCE,
        source: ClassificationSource::Recipe,
        evidence,
        summary: format!(
            "{} (recipe {}; rules said {} at {:.2}): {}",
            d.category, d.recipe, rules.category, rules.confidence, d.summary
        ),
    }
}

/// The indices of the findings of `category`, best first; `fallback` (the rules' evidence) when
/// there are none: the evidence of a classification that replaced the rules'.
fn evidence_of(
    category: crate::artifact::Category,
    findings: &[crate::artifact::Finding],
    fallback: &[usize],
) -> Vec<usize> {
    let of: Vec<usize> = findings
        .iter()
        .enumerate()
        .filter(|(_, f)| f.category == category)
        .map(|(i, _)| i)
        .collect();
    if of.is_empty() {
        fallback.to_vec()
    } else {
        of
    }
}

/// The confidence of a recipe's classification: it checked the evidence against the files.
pub const RECIPE_CONFIDENCE: f64 = 0.95;

/// A valid Developer-Agent answer decides the category and confidence; its evidence is the
/// findings of that category (the rules' evidence when none match).
fn merge_answer(
    rules: Classification,
    da: &DeveloperAgent,
    findings: &[crate::artifact::Finding],
) -> Classification {
    let Some(answer) = da
        .answer
        .as_ref()
        .filter(|_| da.status == DeveloperAgentStatus::Valid)
    else {
        return rules;
    };
    let c = &answer.classification;
    let evidence = evidence_of(c.category, findings, &rules.evidence);
    Classification {
        category: c.category,
        kind: c.category.kind(),
        confidence: c.confidence,
        source: ClassificationSource::DeveloperAgent,
        evidence,
        summary: c.summary.clone().unwrap_or_else(|| {
            format!(
                "Developer-Agent: {} (rules said {} at {:.2})",
                c.category, rules.category, rules.confidence
            )
        }),
    }
}

/// The findings of a `ci-smoke` report, most likely cause first: matched log lines that say a
/// file is missing (`build_config`, so the `.dockerignore` recipe can act on them), other
/// matched log lines (`test_assertion`), an unhealthy service or a check without an answer
/// (`service_unavailable`; `test_timeout` for a timeout), and failed expectations
/// (`test_timeout` for latency, else `test_assertion`). A log line's finding points at its log
/// and 1-based line; an expectation's at `smoke:<check name>`, line 1. Ranks are left 0 (set
/// by [`merge_smoke`]).
pub fn smoke_findings(r: &crate::artifact::SmokeReport) -> Vec<crate::artifact::Finding> {
    use crate::artifact::{Category, Finding};
    let finding =
        |rule: String, category: Category, log: String, line: u64, excerpt: String| Finding {
            rule,
            category,
            log,
            line_start: line.max(1),
            line_end: line.max(1),
            rank: 0,
            score: 0.0,
            excerpt: crate::text::token_safe_str(&excerpt, 8 * 1024).to_string(),
            file: None,
            file_line: None,
            step: None,
        };
    let missing = crate::fix::recipes::missing_file_pattern();
    let (mut first, mut rest) = (Vec::new(), Vec::new());
    for p in r.log_patterns.iter().filter(|p| !p.passed) {
        for m in &p.matches {
            let category = if missing.is_match(&m.text) {
                Category::BuildConfig
            } else {
                Category::TestAssertion
            };
            let f = finding(
                format!("smoke/log/{}", p.name),
                category,
                m.source.clone(),
                m.line,
                m.text.clone(),
            );
            if category == Category::BuildConfig {
                first.push(f);
            } else {
                rest.push(f);
            }
        }
        if p.matches.is_empty() {
            rest.push(finding(
                format!("smoke/log/{}", p.name),
                Category::TestAssertion,
                format!("smoke:{}", p.name),
                1,
                format!(
                    "log pattern {}: {} {} held for no line{}",
                    p.name,
                    p.kind,
                    p.pattern,
                    p.errors
                        .first()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                ),
            ));
        }
    }
    if let Some(h) = r.health.as_ref().filter(|h| !h.healthy) {
        rest.push(finding(
            "smoke/health".into(),
            Category::ServiceUnavailable,
            "smoke:wait-for-healthy".into(),
            1,
            format!(
                "service not healthy at {} after {} request(s) in {} ms; last status {}: {}",
                h.url,
                h.attempts,
                h.elapsed_ms,
                h.last_status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "none".into()),
                h.last_answer
            ),
        ));
    }
    for c in r.checks.iter().filter(|c| !c.passed) {
        let log = format!("smoke:{}", c.name);
        if let Some(e) = &c.error {
            let category = if e.starts_with("timed out") {
                Category::TestTimeout
            } else {
                Category::ServiceUnavailable
            };
            rest.push(finding(
                format!("smoke/check/{}", c.name),
                category,
                log.clone(),
                1,
                format!("check {} ({} {}): no answer: {e}", c.name, c.method, c.url),
            ));
            continue;
        }
        for e in c.expectations.iter().filter(|e| !e.passed) {
            let category = match e.kind.as_str() {
                "first-byte-ms" | "total-ms" => Category::TestTimeout,
                "status" if c.status.is_some_and(|s| s >= 500) => Category::ServiceUnavailable,
                _ => Category::TestAssertion,
            };
            let mut text = format!(
                "check {} ({} {}): {} expected {}, got {}",
                c.name, c.method, c.url, e.kind, e.expected, e.actual
            );
            if let Some(d) = &e.diff {
                text.push('\n');
                text.push_str(d);
            }
            rest.push(finding(
                format!("smoke/check/{}/{}", c.name, e.kind),
                category,
                log.clone(),
                1,
                text,
            ));
        }
    }
    first.extend(rest);
    first
}

/// Puts `front` before `findings` and re-ranks every finding densely from 1; the findings put
/// in front get scores above all the others (`total - index`), so that they also sort first by
/// score. The rest keep their scores.
fn put_in_front(
    mut front: Vec<crate::artifact::Finding>,
    findings: &mut Vec<crate::artifact::Finding>,
) {
    let n = front.len();
    front.append(findings);
    let total = front.len();
    for (i, f) in front.iter_mut().enumerate() {
        f.rank = u32::try_from(i + 1).unwrap_or(u32::MAX);
        if i < n {
            f.score = (total - i) as f64;
        }
    }
    *findings = front;
}

/// Puts the smoke findings first (they are why the pipeline runs after a deploy) and re-ranks
/// every finding densely from 1; a rules classification that found nothing (`unknown`) takes
/// the top smoke finding's category, with the smoke findings of that category as evidence.
pub fn merge_smoke(
    rules: Classification,
    findings: &mut Vec<crate::artifact::Finding>,
    smoke: Vec<crate::artifact::Finding>,
) -> Classification {
    if smoke.is_empty() {
        return rules;
    }
    let n = smoke.len();
    let top = smoke[0].category;
    put_in_front(smoke, findings);
    if rules.category != crate::artifact::Category::Unknown {
        // The rules' evidence indices moved by the smoke findings in front of them.
        return Classification {
            evidence: rules.evidence.iter().map(|i| i + n).collect(),
            ..rules
        };
    }
    let evidence: Vec<usize> = (0..n).filter(|i| findings[*i].category == top).collect();
    Classification {
        category: top,
        kind: top.kind(),
        confidence: SMOKE_CONFIDENCE,
        source: ClassificationSource::Rules,
        evidence,
        summary: format!(
            "{top}: the deployment's smoke validation failed: {}",
            crate::text::one_line(crate::text::truncate_str(&findings[0].excerpt, 300))
        ),
    }
}

/// The confidence of a classification taken from smoke findings.
pub const SMOKE_CONFIDENCE: f64 = 0.7;
