//! `ci-smoke`: production validation after a deploy. Waits until the service is healthy, runs
//! the checks file's requests against the live URL and evaluates their expectations (server-sent
//! event streams included), matches the deployment's logs for patterns, and builds the
//! [`SmokeReport`] (`ci-remedy/smoke-report/v1`) that `self-heal-prepare --smoke-report` turns
//! into findings.
//!
//! Trust: every answer and log line is untrusted. Requests go only to hosts in `hosts:`, on
//! every redirect hop too (at most [`MAX_REDIRECTS`]); bodies are read up to the check's cap
//! (default 1 MiB, [`checks::DEFAULT_MAX_BODY_BYTES`]); log sources up to
//! [`MAX_LOG_BYTES`]; everything the report quotes is cut to
//! [`MAX_SMOKE_EXCERPT_BYTES`], has the header values the checks sent removed, and is
//! redacted with the built-in redactor.

pub mod checks;
pub mod expect;
pub mod sse;

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::artifact::{
    CheckResult, HealthResult, LogMatch, LogPatternResult, Redactions, RunInfo, SmokeIteration,
    SmokeOutcome, SmokeReport, Timings, ToolInfo, MAX_SMOKE_EXCERPT_BYTES, MAX_SMOKE_LOG_MATCHES,
    SMOKE_REPORT_SCHEMA,
};
use crate::logs::redact::Redactor;
use checks::{Check, Checks, Health, LogPattern};

/// Redirect hops followed at most (each one checked against `hosts:`).
pub const MAX_REDIRECTS: usize = 5;
/// Bytes of one log file or log URL read at most (64 MiB); the rest is not scanned.
pub const MAX_LOG_BYTES: u64 = 64 * 1024 * 1024;
/// Earlier smoke reports read from `--history` at most.
pub const MAX_HISTORY_FILES: usize = 1000;

/// What can stop `ci-smoke`.
#[derive(Debug, thiserror::Error)]
pub enum SmokeError {
    /// The checks file is missing, unreadable or invalid (exit 2).
    #[error("{message} ({file}{})", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Checks {
        /// The checks file.
        file: String,
        /// The 1-based line, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// The HTTP client could not be built (exit 1).
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Caps, strips the header secrets from, and redacts untrusted text for the report.
pub struct Quoter<'a> {
    secrets: &'a [String],
    counts: Mutex<Redactions>,
}

impl<'a> Quoter<'a> {
    /// A quoter that removes `secrets` (the header values sent).
    pub fn new(secrets: &'a [String]) -> Self {
        Quoter {
            secrets,
            counts: Mutex::new(Redactions::default()),
        }
    }

    /// `text` cut to [`MAX_SMOKE_EXCERPT_BYTES`] (marked `…` when cut), secrets replaced by
    /// `[REDACTED:header]`, then redacted.
    pub fn quote(&self, text: &str) -> String {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let mut t = text.to_string();
        for s in self.secrets {
            if t.contains(s.as_str()) {
                let n = t.matches(s.as_str()).count() as u64;
                t = t.replace(s.as_str(), "[REDACTED:header]");
                counts.add("header", n);
            }
        }
        let cut = crate::text::token_safe_str(&t, MAX_SMOKE_EXCERPT_BYTES);
        let mut out = Redactor::builtin().redact(cut, &mut counts);
        if cut.len() < t.len() {
            out.push('…');
        }
        out
    }

    /// The redactions so far.
    pub fn counts(&self) -> Redactions {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Why a redirect to `next` is not followed, or `None` to follow it: a host outside the
/// allowlist, or a downgrade from `https` to `http` (the request's headers, secrets among
/// them, would then cross the network in clear text).
fn hop_refusal(hosts: &[String], previous: &[reqwest::Url], next: &reqwest::Url) -> Option<String> {
    if !checks::host_allowed(hosts, next) {
        let host = next.host_str().unwrap_or("");
        return Some(format!(
            "a redirect went to host {host:?}, which is not in `hosts:`"
        ));
    }
    if next.scheme() == "http" && previous.iter().any(|u| u.scheme() == "https") {
        let host = next.host_str().unwrap_or("");
        return Some(format!(
            "a redirect went from https to plain http (host {host:?})"
        ));
    }
    None
}

/// An HTTP client that refuses, on every redirect hop, hosts outside the allowlist and
/// downgrades to plain http ([`hop_refusal`]); the reason is recorded in `refused`.
fn client(
    hosts: &[String],
    refused: Arc<Mutex<Option<String>>>,
) -> Result<reqwest::blocking::Client, SmokeError> {
    let hosts = hosts.to_vec();
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        match hop_refusal(&hosts, attempt.previous(), attempt.url()) {
            None => attempt.follow(),
            Some(why) => {
                if let Ok(mut r) = refused.lock() {
                    *r = Some(why.clone());
                }
                attempt.error(why)
            }
        }
    });
    reqwest::blocking::Client::builder()
        .redirect(policy)
        .user_agent(concat!("ci-remedy-smoke/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| SmokeError::Client(e.to_string()))
}

/// A response read up to a cap.
struct Read_ {
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
    truncated: bool,
    timings: Timings,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Sends `req` and reads the body up to `cap` bytes.
fn send(
    req: reqwest::blocking::RequestBuilder,
    cap: u64,
    refused: &Arc<Mutex<Option<String>>>,
) -> Result<Read_, String> {
    if let Ok(mut r) = refused.lock() {
        *r = None;
    }
    let start = Instant::now();
    let mut resp = req.send().map_err(|e| {
        if let Some(why) = refused.lock().ok().and_then(|r| r.clone()) {
            return format!("refused: {why}");
        }
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(&format!(": {s}"));
            src = s.source();
        }
        if e.is_timeout() {
            format!("timed out: {msg}")
        } else {
            msg
        }
    })?;
    let headers_at = start.elapsed();
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut body = Vec::new();
    let mut first = None;
    let mut buf = [0u8; 16 * 1024];
    let mut truncated = false;
    loop {
        let n = match resp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                return Err(format!(
                    "reading the body failed after {} bytes: {e}",
                    body.len()
                ))
            }
        };
        first.get_or_insert_with(|| start.elapsed());
        let room = usize::try_from(cap)
            .unwrap_or(usize::MAX)
            .saturating_sub(body.len());
        if n > room {
            body.extend_from_slice(&buf[..room]);
            truncated = true;
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    Ok(Read_ {
        status,
        content_type,
        body,
        truncated,
        timings: Timings {
            first_byte_ms: ms(first.unwrap_or(headers_at)),
            total_ms: ms(start.elapsed()),
        },
    })
}

fn healthy(h: &Health, r: &Read_) -> bool {
    if r.status != h.status {
        return false;
    }
    match &h.json_path {
        None => true,
        Some((_, path, want)) => match serde_json::from_slice::<serde_json::Value>(&r.body) {
            Err(_) => false,
            Ok(v) => {
                let first = path.query(&v).first().cloned();
                match (first, want) {
                    (Some(got), Some(want)) => got == *want,
                    (Some(_), None) => true,
                    (None, _) => false,
                }
            }
        },
    }
}

/// Polls the health URL until it says healthy or the timeout passes.
fn wait_for_healthy(
    client: &reqwest::blocking::Client,
    h: &Health,
    q: &Quoter<'_>,
    refused: &Arc<Mutex<Option<String>>>,
) -> HealthResult {
    let start = Instant::now();
    let mut result = HealthResult {
        url: q.quote(h.url.as_str()),
        healthy: false,
        attempts: 0,
        elapsed_ms: 0,
        last_status: None,
        last_answer: String::new(),
    };
    loop {
        result.attempts += 1;
        let left = h
            .timeout
            .saturating_sub(start.elapsed())
            .max(Duration::from_millis(100));
        let req = client
            .get(h.url.clone())
            .timeout(left.min(Duration::from_secs(30)));
        match send(req, 64 * 1024, refused) {
            Ok(r) => {
                result.last_status = Some(r.status);
                result.last_answer = q.quote(&String::from_utf8_lossy(&r.body));
                if healthy(h, &r) {
                    result.healthy = true;
                }
            }
            Err(e) => {
                result.last_status = None;
                result.last_answer = q.quote(&e);
            }
        }
        result.elapsed_ms = ms(start.elapsed());
        if result.healthy || start.elapsed() + h.interval > h.timeout {
            return result;
        }
        std::thread::sleep(h.interval);
    }
}

fn run_check(
    client: &reqwest::blocking::Client,
    c: &Check,
    q: &Quoter<'_>,
    refused: &Arc<Mutex<Option<String>>>,
) -> CheckResult {
    let mut result = CheckResult {
        name: q.quote(&c.name),
        method: c.method.to_string(),
        url: q.quote(c.url.as_str()),
        passed: false,
        status: None,
        content_type: None,
        timings: None,
        body_bytes: 0,
        body_truncated: false,
        body_excerpt: String::new(),
        sse: None,
        expectations: Vec::new(),
        error: None,
    };
    let mut req = client
        .request(c.method.clone(), c.url.clone())
        .timeout(c.timeout);
    for (name, value) in &c.headers {
        req = req.header(name, value);
    }
    if let Some(b) = &c.body {
        req = req.body(b.clone());
    }
    let r = match send(req, c.max_body_bytes, refused) {
        Ok(r) => r,
        Err(e) => {
            result.error = Some(q.quote(&e));
            return result;
        }
    };
    let body = String::from_utf8_lossy(&r.body);
    let event_stream = r.content_type.as_deref().is_some_and(|t| {
        t.trim()
            .to_ascii_lowercase()
            .starts_with("text/event-stream")
    });
    let answer = expect::Answer {
        status: r.status,
        body: &body,
        event_stream,
        timings: r.timings,
        truncated: r.truncated,
        cap: c.max_body_bytes,
    };
    let (expectations, sse) = expect::evaluate(&c.expect, &answer, &|s| q.quote(s));
    result.passed = expectations.iter().all(|e| e.passed);
    result.status = Some(r.status);
    result.content_type = r.content_type.as_deref().map(|t| q.quote(t));
    result.timings = Some(r.timings);
    result.body_bytes = r.body.len() as u64;
    result.body_truncated = r.truncated;
    result.body_excerpt = q.quote(&body);
    result.sse = sse;
    result.expectations = expectations;
    result
}

fn scan_log(
    p: &LogPattern,
    client: &reqwest::blocking::Client,
    q: &Quoter<'_>,
    refused: &Arc<Mutex<Option<String>>>,
) -> Vec<LogPatternResult> {
    let mut sources: Vec<(String, Result<Vec<u8>, String>)> = Vec::new();
    for (shown, path) in &p.files {
        let read = std::fs::File::open(path)
            .and_then(|f| {
                let mut v = Vec::new();
                f.take(MAX_LOG_BYTES).read_to_end(&mut v).map(|_| v)
            })
            .map_err(|e| format!("{shown}: {e}"));
        sources.push((shown.clone(), read));
    }
    if let Some(u) = &p.url {
        let r = send(
            client.get(u.clone()).timeout(Duration::from_secs(60)),
            MAX_LOG_BYTES,
            refused,
        )
        .and_then(|r| {
            if (200..300).contains(&r.status) {
                Ok(r.body)
            } else {
                Err(format!("status {}", r.status))
            }
        })
        .map_err(|e| format!("{}: {e}", u.as_str()));
        sources.push((u.to_string(), r));
    }
    let mut errors = Vec::new();
    let mut texts = Vec::new();
    for (shown, r) in sources {
        match r {
            Ok(bytes) => texts.push((
                q.quote(&shown),
                String::from_utf8_lossy(&bytes).into_owned(),
            )),
            Err(e) => errors.push(q.quote(&e)),
        }
    }
    let mut out = Vec::new();
    for (kind, list) in [
        ("must-not-match", &p.must_not_match),
        ("must-match", &p.must_match),
    ] {
        for re in list {
            let mut matches = Vec::new();
            let mut omitted = 0u64;
            for (shown, text) in &texts {
                for (i, line) in text.lines().enumerate() {
                    if re.is_match(line) {
                        if matches.len() < MAX_SMOKE_LOG_MATCHES {
                            matches.push(LogMatch {
                                source: shown.clone(),
                                line: i as u64 + 1,
                                text: q.quote(line),
                            });
                        } else {
                            omitted += 1;
                        }
                    }
                }
            }
            let any = !matches.is_empty();
            let passed = errors.is_empty() && if kind == "must-match" { any } else { !any };
            out.push(LogPatternResult {
                name: q.quote(&p.name),
                kind: kind.into(),
                pattern: re.as_str().to_string(),
                passed,
                matches,
                matches_omitted: omitted,
                errors: errors.clone(),
            });
        }
    }
    out
}

/// Runs the health wait, every check and every log pattern, and builds the report
/// (`iteration` counts only this run: see [`count_history`]).
///
/// Errors: [`SmokeError::Client`] when no HTTP client can be built.
pub fn run(
    checks: &Checks,
    run: RunInfo,
    deployment_sha: Option<String>,
    tool: &str,
) -> Result<SmokeReport, SmokeError> {
    let refused = Arc::new(Mutex::new(None));
    let client = client(&checks.hosts, refused.clone())?;
    let q = Quoter::new(&checks.secrets);
    let health = checks
        .health
        .as_ref()
        .map(|h| wait_for_healthy(&client, h, &q, &refused));
    let healthy = health.as_ref().is_none_or(|h| h.healthy);
    let results: Vec<CheckResult> = if healthy {
        checks
            .checks
            .iter()
            .map(|c| run_check(&client, c, &q, &refused))
            .collect()
    } else {
        Vec::new()
    };
    // Logs are read even when the service is unhealthy: they say why.
    let log_patterns: Vec<LogPatternResult> = checks
        .log_patterns
        .iter()
        .flat_map(|p| scan_log(p, &client, &q, &refused))
        .collect();
    let failed = u32::from(!healthy)
        + results.iter().filter(|c| !c.passed).count() as u32
        + log_patterns.iter().filter(|p| !p.passed).count() as u32;
    Ok(SmokeReport {
        schema: SMOKE_REPORT_SCHEMA.into(),
        tool: ToolInfo::new(tool),
        run,
        checks_file: checks.path.display().to_string(),
        deployment_sha,
        outcome: if failed == 0 {
            SmokeOutcome::Passed
        } else {
            SmokeOutcome::Failed
        },
        health,
        checks: results,
        log_patterns,
        failed,
        iteration: SmokeIteration {
            failed_validations: u32::from(failed > 0),
            max_iterations: checks.max_iterations,
            escalate_to_human: false,
            ignored: Vec::new(),
        },
        redactions: q.counts(),
        error: None,
    })
}

/// Counts the failed validations of `sha` in the earlier smoke reports under `dir`
/// (`report-*.json`, at most [`MAX_HISTORY_FILES`], each at most
/// [`crate::artifact::MAX_ARTIFACT_BYTES`]), skipping the report of `run_id` itself (a re-run
/// attempt overwrites it), into `report.iteration`; sets `escalate_to_human` when the count
/// (this run included) reaches `max_iterations`. A file that cannot be read or parsed is listed
/// in `iteration.ignored`, never fatal.
pub fn count_history(report: &mut SmokeReport, dir: &Path) {
    let it = &mut report.iteration;
    let Some(sha) = report.deployment_sha.clone() else {
        it.ignored.push("no deployment sha (--sha or GITHUB_SHA): failed validations are not counted across runs".into());
        return;
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut files = 0;
    for entry in walkdir::WalkDir::new(dir)
        .max_depth(3)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                it.ignored.push(e.to_string());
                continue;
            }
        };
        let name = entry.file_name().to_string_lossy();
        if !entry.file_type().is_file() || !name.starts_with("report-") || !name.ends_with(".json")
        {
            continue;
        }
        files += 1;
        if files > MAX_HISTORY_FILES {
            it.ignored.push(format!(
                "more than {MAX_HISTORY_FILES} reports; the rest were not read"
            ));
            break;
        }
        let shown = entry.path().display().to_string();
        match crate::artifact::read_json_capped::<SmokeReport>(
            entry.path(),
            crate::artifact::MAX_ARTIFACT_BYTES,
        ) {
            Ok(r) if r.schema != SMOKE_REPORT_SCHEMA => {
                it.ignored.push(format!("{shown}: schema {:?}", r.schema))
            }
            Ok(r) => {
                if r.deployment_sha.as_deref() == Some(sha.as_str())
                    && r.outcome == SmokeOutcome::Failed
                    && r.run.run_id != report.run.run_id
                    && seen.insert(r.run.run_id.clone())
                {
                    it.failed_validations += 1;
                }
            }
            Err(e) => it.ignored.push(format!("{shown}: {e}")),
        }
    }
    it.escalate_to_human =
        report.outcome == SmokeOutcome::Failed && it.failed_validations >= it.max_iterations;
}

/// The report of a run that could not validate (`error` set, outcome `error`).
pub fn error_report(
    checks_file: &str,
    run: RunInfo,
    sha: Option<String>,
    tool: &str,
    error: String,
) -> SmokeReport {
    SmokeReport {
        schema: SMOKE_REPORT_SCHEMA.into(),
        tool: ToolInfo::new(tool),
        run,
        checks_file: checks_file.into(),
        deployment_sha: sha,
        outcome: SmokeOutcome::Error,
        health: None,
        checks: Vec::new(),
        log_patterns: Vec::new(),
        failed: 0,
        iteration: SmokeIteration {
            max_iterations: checks::DEFAULT_MAX_ITERATIONS,
            ..SmokeIteration::default()
        },
        redactions: Redactions::default(),
        error: Some(error),
    }
}

/// The job summary: the outcome, the health wait, a table of every failed expectation and
/// log pattern, and baseline diffs. All quoted text goes through [`crate::text::markdown`].
pub fn summary_markdown(r: &SmokeReport) -> String {
    use crate::text::markdown::{cell, code_block};
    let mut md = format!(
        "## ci-smoke: {}\n\n",
        match r.outcome {
            SmokeOutcome::Passed => "passed",
            SmokeOutcome::Failed => "failed",
            SmokeOutcome::Error => "error",
        }
    );
    if let Some(e) = &r.error {
        md.push_str(&format!("error: {}\n\n", cell(e)));
    }
    if let Some(h) = &r.health {
        md.push_str(&format!(
            "Health {}: {} after {} request(s) in {} ms; last status {}; last answer: {}\n\n",
            cell(&h.url),
            if h.healthy { "healthy" } else { "NOT healthy" },
            h.attempts,
            h.elapsed_ms,
            h.last_status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "none".into()),
            cell(&h.last_answer),
        ));
    }
    md.push_str(&format!(
        "{} check(s), {} log pattern(s), {} failed; failed validations of this sha: {} of {}{}\n\n",
        r.checks.len(),
        r.log_patterns.len(),
        r.failed,
        r.iteration.failed_validations,
        r.iteration.max_iterations,
        if r.iteration.escalate_to_human {
            " (escalated to a person)"
        } else {
            ""
        },
    ));
    md.push_str("| check | expectation | expected | actual |\n|---|---|---|---|\n");
    for c in &r.checks {
        if let Some(e) = &c.error {
            md.push_str(&format!(
                "| {} | request | an answer | {} |\n",
                cell(&c.name),
                cell(e)
            ));
        }
        for e in c.expectations.iter().filter(|e| !e.passed) {
            md.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                cell(&c.name),
                cell(&e.kind),
                cell(&e.expected),
                cell(&e.actual)
            ));
        }
    }
    for p in r.log_patterns.iter().filter(|p| !p.passed) {
        let first = p
            .matches
            .first()
            .map(|m| format!("{}:{}: {}", m.source, m.line, m.text))
            .or_else(|| p.errors.first().cloned())
            .unwrap_or_else(|| "no line matched".into());
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            cell(&p.name),
            cell(&p.kind),
            cell(&p.pattern),
            cell(&first)
        ));
    }
    for c in &r.checks {
        for e in &c.expectations {
            if let Some(d) = &e.diff {
                md.push_str(&format!(
                    "\nBaseline diff of {}:\n\n{}\n",
                    cell(&c.name),
                    code_block(d, "diff")
                ));
            }
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::hop_refusal;
    use reqwest::Url;

    #[test]
    fn redirect_hops_outside_the_allowlist_or_down_to_http_are_refused() {
        let hosts = vec!["app.example".to_string()];
        let u = |s: &str| Url::parse(s).expect("url");
        let from_https = [u("https://app.example/chat")];
        assert_eq!(
            hop_refusal(&hosts, &from_https, &u("https://app.example/next")),
            None
        );
        let down = hop_refusal(
            &hosts,
            &from_https,
            &u("http://app.example/next?token=s3cret"),
        )
        .expect("downgrade refused");
        assert!(down.contains("https to plain http"), "{down}");
        assert!(!down.contains("s3cret"), "{down}");
        let away = hop_refusal(&hosts, &from_https, &u("https://evil.example/"))
            .expect("other host refused");
        assert!(away.contains("\"evil.example\""), "{away}");
        // Plain http from the start (a local service) may redirect within http.
        assert_eq!(
            hop_refusal(
                &hosts,
                &[u("http://app.example/")],
                &u("http://app.example/b")
            ),
            None
        );
    }
}
