//! `ci-remedy-eval --fix DIR`: the fix rate of the whole fix-agent path on a folder of small
//! failing repositories (`fixtures/fix-cases/`).
//!
//! Each case is `DIR/<case>/` with `repo/` (the source tree), `fail.log` (the CI log),
//! `policy.yml` (its `fix-agent:` section with the validation command) and, for recorded runs,
//! `answers/<openai|anthropic>.json` (a provider answer body). Per case: the tree is copied to
//! a temporary directory and committed with git; its validation command must fail there
//! first; the log becomes a context (through the caller's `make_context`, the
//! self-heal-prepare library); fix-agent-prepare's library builds the input (recipes, then
//! the model); fix-agent-apply's library applies it under the guard and validates it. A case
//! is fixed when the patch is accepted and its validation passed.
//!
//! Recorded runs serve the case's answer from a loopback HTTP server (the real client, its
//! retries and parsing); live runs use the `fix-agent.model` of a policy file and the key
//! from the environment it names.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::artifact::{self, Context, GuardDecision, ValidationStatus};
use crate::net::Token;
use crate::policy::fix_agent::{ModelPolicy, Provider};
use crate::policy::Policy;

/// How the model answers.
#[derive(Debug, Clone)]
pub enum Answers {
    /// The case's `answers/<provider>.json`, served on 127.0.0.1.
    Recorded(Provider),
    /// A live provider: this model policy, the key from its `api-key-env`.
    Live(ModelPolicy),
}

/// One case's result.
#[derive(Debug, Clone, Serialize)]
pub struct FixCaseResult {
    /// The case folder's name.
    pub case: String,
    /// Whether the validation command failed on the unpatched tree (a case that passes
    /// before is not a failing repository and counts as not fixed).
    pub failed_before: bool,
    /// The sources of the applied instructions (`model:openai`, `recipe:<id>`).
    pub sources: Vec<String>,
    /// The model run's status (`proposed`, `no_fix` …), when it ran.
    pub model_status: Option<String>,
    /// Why the model gave nothing, when it did not.
    pub model_reason: Option<String>,
    /// The guard's decision (`accepted`, `rejected`, `empty`).
    pub guard: String,
    /// The validation status of the patched tree.
    pub validation: String,
    /// True when the patch was accepted and validated on a tree that failed before.
    pub fixed: bool,
    /// Model input tokens.
    pub tokens_in: u64,
    /// Model output tokens.
    pub tokens_out: u64,
    /// Wall time of prepare + apply, milliseconds.
    pub duration_ms: u64,
    /// What went wrong with the case itself (unreadable files …).
    pub error: Option<String>,
}

/// All cases and the totals.
#[derive(Debug, Clone, Serialize)]
pub struct FixEvalReport {
    /// `recorded:<provider>` or `live:<provider>/<model>`.
    pub answers: String,
    /// Per case, in name order.
    pub cases: Vec<FixCaseResult>,
    /// Cases fixed.
    pub fixed: usize,
    /// `fixed / cases` (0 without cases).
    pub fix_rate: f64,
    /// Input tokens, all cases.
    pub tokens_in: u64,
    /// Output tokens, all cases.
    pub tokens_out: u64,
    /// Mean wall time per case, milliseconds.
    pub mean_ms: u64,
}

/// The case folders of `dir` (those holding `repo/` and `fail.log`), in name order.
///
/// Errors: `dir` cannot be read (the message names it).
pub fn discover(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut out: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("repo").is_dir() && p.join("fail.log").is_file())
        .collect();
    out.sort();
    Ok(out)
}

/// Serves `body` as a 200 JSON answer to every request on 127.0.0.1; returns the base URL.
/// The thread lives as long as the process (a CLI run).
fn serve(body: Vec<u8>) -> Result<String, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("no local address: {e}"))?;
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
            let Ok(clone) = stream.try_clone() else {
                continue;
            };
            let mut reader = BufReader::new(clone);
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    if k.trim().eq_ignore_ascii_case("content-length") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut sink = vec![0u8; len.min(16 * 1024 * 1024)];
            let _ = reader.read_exact(&mut sink);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    Ok(format!("http://{addr}"))
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    for e in walkdir::WalkDir::new(from) {
        let e = e.map_err(|e| format!("cannot walk {}: {e}", from.display()))?;
        let rel = e.path().strip_prefix(from).map_err(|e| e.to_string())?;
        let dest = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        } else if e.file_type().is_file() {
            std::fs::copy(e.path(), &dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        }
    }
    Ok(())
}

fn git_commit(repo: &Path) -> Result<(), String> {
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"],
        &["commit", "-q", "-m", "case"],
    ] {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(args)
            .env("GIT_AUTHOR_NAME", "ci-remedy-eval")
            .env("GIT_AUTHOR_EMAIL", "eval@localhost")
            .env("GIT_COMMITTER_NAME", "ci-remedy-eval")
            .env("GIT_COMMITTER_EMAIL", "eval@localhost")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", repo)
            .stdin(std::process::Stdio::null())
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !ok {
            return Err(format!(
                "git {} failed in {}",
                args.join(" "),
                repo.display()
            ));
        }
    }
    Ok(())
}

/// A fake key for recorded runs (the loopback server ignores it).
const RECORDED_KEY: &str = "recorded-answers-need-no-key";

/// Evaluates one case. `make_context(log, repo)` turns the case's log into a context.
pub fn evaluate_case(
    case: &Path,
    answers: &Answers,
    make_context: &dyn Fn(&Path, &Path) -> Context,
) -> FixCaseResult {
    let name = case
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut r = FixCaseResult {
        case: name,
        failed_before: false,
        sources: Vec::new(),
        model_status: None,
        model_reason: None,
        guard: GuardDecision::Empty.as_str().into(),
        validation: ValidationStatus::Skipped.as_str().into(),
        fixed: false,
        tokens_in: 0,
        tokens_out: 0,
        duration_ms: 0,
        error: None,
    };
    if let Err(e) = evaluate_into(case, answers, make_context, &mut r) {
        r.error = Some(e);
    }
    r
}

fn evaluate_into(
    case: &Path,
    answers: &Answers,
    make_context: &dyn Fn(&Path, &Path) -> Context,
    r: &mut FixCaseResult,
) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
    let repo = tmp.path().join("repo");
    let out = tmp.path().join("out");
    copy_tree(&case.join("repo"), &repo)?;
    git_commit(&repo)?;
    let policy_path = case.join("policy.yml");
    let bytes = std::fs::read(&policy_path)
        .map_err(|e| format!("cannot read {}: {e}", policy_path.display()))?;
    let mut policy = Policy::parse(&bytes, &policy_path)
        .map_err(|e| e.to_string())?
        .fix_agent;
    let before = super::validate::run(&policy.validation_command, &repo, policy.validation_timeout);
    r.failed_before = before.status != ValidationStatus::Passed;

    let (model, key) = match answers {
        Answers::Recorded(provider) => {
            let file = case.join(format!("answers/{}.json", provider.as_str()));
            let body =
                std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let base = serve(body)?;
            let raw = crate::policy::fix_agent::ModelRaw {
                provider: *provider,
                model: "recorded".into(),
                base_url: Some(match provider {
                    Provider::Openai | Provider::AzureOpenai => format!("{base}/v1"),
                    Provider::Anthropic => base,
                }),
                api_key_env: None,
                max_output_tokens: None,
                max_total_tokens: None,
                timeout: Some("30s".into()),
                temperature: None,
                max_candidates: Some(1),
                price_per_mtok: None,
            };
            let m = raw.validate().map_err(|e| format!("{e:?}"))?;
            (m, Token::new(RECORDED_KEY).ok_or("invalid key")?)
        }
        Answers::Live(m) => {
            let key = Token::from_env(&m.api_key_env).ok_or_else(|| {
                format!(
                    "no API key: the environment variable {} is not set",
                    m.api_key_env
                )
            })?;
            (m.clone(), key)
        }
    };
    let started = Instant::now();
    let ctx = make_context(&case.join("fail.log"), &repo);
    let ctx_path = out.join("self-heal/context.json");
    artifact::write_json_atomic(&ctx_path, &ctx).map_err(|e| e.to_string())?;
    policy.model = None;
    let opts = super::prepare::PrepareOptions {
        context: ctx_path,
        heal_report: None,
        instructions: None,
        repo: repo.clone(),
    };
    let mut input = super::prepare::prepare(&opts, &policy).map_err(|e| e.to_string())?;
    if input.instructions.is_empty() {
        let res = super::model::run_with_key(&repo, &input, &policy, &model, &key);
        input.instructions.extend(res.instructions);
        input.model = Some(res.run);
    }
    if let Some(m) = &input.model {
        r.model_status = Some(m.status.as_str().into());
        r.model_reason = m.reason.clone();
        r.tokens_in = m.tokens_in;
        r.tokens_out = m.tokens_out;
    }
    let input_path = out.join("fix-agent/input.json");
    artifact::write_json_atomic(&input_path, &input).map_err(|e| e.to_string())?;
    let applied = super::run_apply(
        &super::ApplyOptions {
            input: input_path,
            repo: repo.clone(),
            out: out.clone(),
            keep: false,
            artifact_name: None,
            run: input.run.clone(),
        },
        &policy,
    )
    .map_err(|e| e.to_string())?;
    r.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let m = &applied.metadata;
    r.sources = m.changes.iter().map(|c| c.source.clone()).collect();
    r.guard = m.guardrails.decision.as_str().into();
    r.validation = m.validation.status.as_str().into();
    r.fixed = r.failed_before
        && m.guardrails.decision == GuardDecision::Accepted
        && m.validation.status == ValidationStatus::Passed;
    Ok(())
}

/// Evaluates every case of `dir` ([`discover`]).
///
/// Errors: `dir` cannot be read, or holds no case.
pub fn evaluate(
    dir: &Path,
    answers: &Answers,
    make_context: &dyn Fn(&Path, &Path) -> Context,
) -> Result<FixEvalReport, String> {
    let cases = discover(dir)?;
    if cases.is_empty() {
        return Err(format!(
            "no fix cases in {} (each is a folder with repo/ and fail.log)",
            dir.display()
        ));
    }
    let results: Vec<FixCaseResult> = cases
        .iter()
        .map(|c| evaluate_case(c, answers, make_context))
        .collect();
    let fixed = results.iter().filter(|r| r.fixed).count();
    let n = results.len();
    Ok(FixEvalReport {
        answers: match answers {
            Answers::Recorded(p) => format!("recorded:{}", p.as_str()),
            Answers::Live(m) => format!("live:{}/{}", m.provider.as_str(), m.model),
        },
        fixed,
        fix_rate: fixed as f64 / n as f64,
        tokens_in: results.iter().map(|r| r.tokens_in).sum(),
        tokens_out: results.iter().map(|r| r.tokens_out).sum(),
        mean_ms: results.iter().map(|r| r.duration_ms).sum::<u64>() / n as u64,
        cases: results,
    })
}

/// The report as a plain-text table (case names and reasons shown on one line each).
pub fn render(report: &FixEvalReport) -> String {
    let mut s = format!("fix evaluation ({})\n", report.answers);
    s.push_str(&format!(
        "{:<26} {:<6} {:<22} {:<9} {:<10} {:>8} {:>7} {:>7}\n",
        "case", "fixed", "source", "guard", "validation", "tok in", "tok out", "ms"
    ));
    for c in &report.cases {
        let source = if c.sources.is_empty() {
            c.model_status.clone().unwrap_or_else(|| "-".into())
        } else {
            c.sources.join(",")
        };
        s.push_str(&crate::text::one_line(&format!(
            "{:<26} {:<6} {:<22} {:<9} {:<10} {:>8} {:>7} {:>7}",
            c.case,
            if c.fixed { "yes" } else { "no" },
            source,
            c.guard,
            c.validation,
            c.tokens_in,
            c.tokens_out,
            c.duration_ms
        )));
        s.push('\n');
        if let Some(e) = c
            .error
            .as_ref()
            .or(c.model_reason.as_ref().filter(|_| !c.fixed))
        {
            s.push_str(&format!("  note: {}\n", crate::text::one_line(e)));
        }
        if !c.failed_before {
            s.push_str("  note: the validation command passed before any change\n");
        }
    }
    s.push_str(&format!(
        "fix rate: {}/{} = {:.2}; tokens in {}, out {}; mean {} ms per case\n",
        report.fixed,
        report.cases.len(),
        report.fix_rate,
        report.tokens_in,
        report.tokens_out,
        report.mean_ms
    ));
    s
}
