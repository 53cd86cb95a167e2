//! `ci-logs-ship`'s library side: build the payload (redacted log tails, failed tests, the
//! local classification, the repository section), post it, validate the answer, and describe
//! what happened in a [`ShipStatus`] artifact (`ci-remedy/ci-logs-ship/v1`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::artifact::{
    parse_answer, write_json_atomic, DeveloperAgentAnswer, FailedTest, Redactions, RunInfo,
    ToolInfo,
};
use crate::classify::{analyze, AnalyzeOptions, RulePack};
use crate::fix::recipes::{evidence_lines, EvidenceLog};
use crate::logs::redact::Redactor;
use crate::logs::source::{resolve_all, LogSource};
use crate::net::{post_json, ClientConfig, NetError, Token};
use crate::reports::{read_junit, read_playwright_json};

use super::payload::{LogsPayload, PayloadLog, PAYLOAD_SCHEMA};
use super::repository::{collect, RepositoryLimits};
use super::server::is_json_content_type;

/// The `schema` value of a ship status artifact.
pub const SHIP_STATUS_SCHEMA: &str = "ci-remedy/ci-logs-ship/v1";
/// The path appended to a Cloud-Agent URL given without a path.
pub const CI_LOGS_PATH: &str = "/api/ci/logs";
/// The largest answer accepted, in bytes: 4 MiB (what `self-heal-prepare` reads).
pub const MAX_ANSWER_BYTES: u64 = 4 * 1024 * 1024;

/// What to send.
#[derive(Debug, Clone, Default)]
pub struct ShipInput {
    /// Log specs (files, directories, globs, zips), as `self-heal-prepare --log`.
    pub logs: Vec<String>,
    /// JUnit XML reports.
    pub junit: Vec<PathBuf>,
    /// Playwright JSON reports.
    pub playwright: Vec<PathBuf>,
    /// The tail of each log sent, in bytes (the policy's `ship.max-log-bytes`).
    pub max_log_bytes: u64,
    /// The checkout to describe in the payload's repository section; `None` sends no section
    /// (the policy's `ship.repository: false`).
    pub repository: Option<RepositoryInput>,
}

/// Where the repository section comes from.
#[derive(Debug, Clone)]
pub struct RepositoryInput {
    /// The checkout (`--repo`, default `GITHUB_WORKSPACE` or `.`).
    pub dir: PathBuf,
    /// How much of it is sent (the policy's `ship.repository-*` keys).
    pub limits: RepositoryLimits,
}

/// What was sent of the repository (`ship-status.json`'s `repository`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct SentRepository {
    /// The checkout directory.
    pub dir: String,
    /// Paths listed.
    pub paths: usize,
    /// True when the listing stopped at a cap.
    pub truncated: bool,
    /// The files sent with their (redacted) contents.
    pub files: Vec<String>,
    /// Files the recipes would read that were not sent, `path: reason`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

/// How shipping ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ShipOutcome {
    /// A valid answer was received and written.
    Answered,
    /// Nothing was sent: no Cloud-Agent URL or no token configured.
    Skipped,
    /// Connection errors, timeouts, 5xx or 429 until the retries ran out.
    Unreachable,
    /// The service refused the payload (a 4xx other than 429).
    Rejected,
    /// The service answered, but not with a valid answer (wrong content type, malformed or
    /// oversized JSON, a shape that fails validation).
    InvalidAnswer,
}

/// One log as sent.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct SentLog {
    /// The log's name.
    pub name: String,
    /// The original size, bytes.
    pub bytes: u64,
    /// The size of the text sent, bytes.
    pub sent_bytes: u64,
    /// True when only the tail was sent.
    pub truncated: bool,
}

/// `agent/ship-status.json`: what `ci-logs-ship` did. Always written, whatever happened.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ShipStatus {
    /// Always [`SHIP_STATUS_SCHEMA`].
    pub schema: String,
    /// The program that wrote this artifact.
    pub tool: ToolInfo,
    /// The workflow run.
    pub run: RunInfo,
    /// How it ended.
    pub status: ShipOutcome,
    /// One line on why (untrusted parts quoted from the service are cut to 512 bytes).
    pub detail: String,
    /// The Cloud-Agent's origin (`scheme://host:port`); the path is not recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The last HTTP status received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Requests made.
    pub attempts: u32,
    /// Wall time of the exchange, milliseconds.
    pub duration_ms: u64,
    /// The payload as sent (`agent/payload.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_path: Option<String>,
    /// The validated answer (`agent/developer-agent-answer.json`), for
    /// `self-heal-prepare --developer-agent-response`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_path: Option<String>,
    /// The logs sent.
    pub logs: Vec<SentLog>,
    /// Failed tests sent.
    pub failed_tests: usize,
    /// Secrets redacted before sending.
    pub redactions: Redactions,
    /// What was sent of the repository; absent when no repository section was sent (the
    /// policy's `ship.repository: false`, or `--repo` could not be read: see `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<SentRepository>,
    /// Problems reading inputs (a missing log); what could be read was still sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What [`build_payload`] made.
#[derive(Debug, Clone)]
pub struct BuiltPayload {
    /// The payload.
    pub payload: LogsPayload,
    /// Problems with single inputs (a missing log, an unreadable `--repo`); what could be read
    /// is still in the payload.
    pub errors: Vec<String>,
    /// What was sent of the repository, when a section was built.
    pub repository: Option<SentRepository>,
}

/// Builds the payload: the redacted tail of each log, the failed tests (messages redacted),
/// the rules-only classification and, with `input.repository`, the repository section
/// ([`collect`]: the file listing and the files the fix recipes read for the evidence in
/// those tails, tests and findings). Problems with single inputs are returned as messages.
pub fn build_payload(input: &ShipInput, pack: &RulePack, run: RunInfo) -> BuiltPayload {
    let mut errors = Vec::new();
    let (sources, log_errors) = resolve_all(&input.logs);
    errors.extend(log_errors.iter().map(ToString::to_string));
    let mut failed: Vec<FailedTest> = Vec::new();
    let workspace = std::env::var("GITHUB_WORKSPACE").ok();
    let workspace = workspace.as_deref().filter(|w| !w.is_empty());
    for p in &input.junit {
        match read_junit(p, workspace) {
            Ok(t) => failed.extend(t),
            Err(e) => errors.push(e.to_string()),
        }
    }
    for p in &input.playwright {
        match read_playwright_json(p, workspace) {
            Ok(t) => failed.extend(t),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let redactor = Redactor::builtin();
    let mut redactions = Redactions::default();
    for t in &mut failed {
        if let Some(m) = &t.message {
            t.message = Some(redactor.redact(m, &mut redactions));
        }
    }
    let mut logs = Vec::new();
    for s in sources.iter().take(super::payload::MAX_PAYLOAD_LOGS) {
        match read_tail(s, input.max_log_bytes) {
            Ok(mut log) => {
                log.content = redactor.redact(&log.content, &mut redactions);
                logs.push(log);
            }
            Err(e) => errors.push(e),
        }
    }
    let analysis = analyze(pack, &sources, &failed, &AnalyzeOptions::default());
    errors.extend(analysis.errors.iter().map(ToString::to_string));
    let findings = analysis.findings;
    let mut c = analysis.classification;
    c.summary = redactor.redact(&c.summary, &mut redactions);
    let classification = Some(c);
    let mut repository = None;
    let mut sent = None;
    if let Some(ri) = &input.repository {
        // The evidence the Developer-Agent will see: the tails as sent, the tests, and the
        // findings (these only pick files; they are not sent).
        let lines = evidence_lines(
            &findings,
            &failed,
            logs.iter().map(|l| EvidenceLog {
                label: l.name.clone(),
                first_line: l.first_line,
                reader: l.content.as_bytes(),
            }),
        );
        match collect(&ri.dir, &lines, &ri.limits, redactor, &mut redactions) {
            Ok(c) => {
                sent = Some(SentRepository {
                    dir: ri.dir.display().to_string(),
                    paths: c.snapshot.paths.len(),
                    truncated: c.snapshot.truncated,
                    files: c.snapshot.files.iter().map(|f| f.path.clone()).collect(),
                    skipped: c.skipped,
                });
                repository = Some(c.snapshot);
            }
            Err(e) => errors.push(format!("no repository section: {e}")),
        }
    }
    BuiltPayload {
        payload: LogsPayload {
            schema: PAYLOAD_SCHEMA.into(),
            tool: ToolInfo::new("ci-logs-ship"),
            run,
            logs,
            failed_tests: failed,
            classification,
            redactions,
            repository,
        },
        errors,
        repository: sent,
    }
}

/// Reads a log in one pass, keeping its last `cap` bytes (cut forward to a line start when
/// truncated), its size, sha256 and the 1-based line number where the kept text starts.
pub fn read_tail(source: &LogSource, cap: u64) -> Result<PayloadLog, String> {
    let mut reader = source.open().map_err(|e| e.to_string())?;
    let cap = usize::try_from(cap).unwrap_or(usize::MAX).max(1);
    let mut hasher = Sha256::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut dropped_lines: u64 = 0;
    let mut last_dropped: Option<u8> = None;
    let mut total: u64 = 0;
    let mut chunk = vec![0u8; 64 * 1024];
    let mut drop_front = |buf: &mut Vec<u8>, n: usize, dropped_lines: &mut u64| {
        if n == 0 {
            return;
        }
        *dropped_lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        last_dropped = Some(buf[n - 1]);
        buf.drain(..n);
    };
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("cannot read {}: {e}", source.name)),
        };
        hasher.update(&chunk[..n]);
        total += n as u64;
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > cap.saturating_mul(2) {
            let n = buf.len() - cap;
            drop_front(&mut buf, n, &mut dropped_lines);
        }
    }
    if buf.len() > cap {
        let n = buf.len() - cap;
        drop_front(&mut buf, n, &mut dropped_lines);
    }
    let truncated = (buf.len() as u64) < total;
    if truncated && last_dropped != Some(b'\n') {
        // Cut forward to the start of a line (unless the tail is a single line).
        if let Some(i) = memchr::memchr(b'\n', &buf) {
            if i + 1 < buf.len() {
                buf.drain(..=i);
                dropped_lines += 1;
            }
        }
    }
    Ok(PayloadLog {
        name: source.name.clone(),
        bytes: total,
        sha256: Some(format!("{:x}", hasher.finalize())),
        truncated,
        first_line: dropped_lines + 1,
        content: String::from_utf8_lossy(&buf).into_owned(),
    })
}

/// Where a Cloud-Agent URL posts: the URL itself when it has a path, else
/// `<url>/api/ci/logs`.
pub fn endpoint_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) if u.path() == "/" || u.path().is_empty() => {
            format!("{}{CI_LOGS_PATH}", url.trim_end_matches('/'))
        }
        _ => url.to_string(),
    }
}

/// `scheme://host[:port]` of a URL, for the status artifact.
pub fn origin(url: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
}

/// What [`ship`] produced.
#[derive(Debug, Clone)]
pub struct Shipped {
    /// The status artifact's content.
    pub status: ShipStatus,
    /// The validated answer, when one was received.
    pub answer: Option<DeveloperAgentAnswer>,
}

/// Posts `payload` to `url` (see [`endpoint_url`]) and validates the answer: a 2xx with a JSON
/// content type whose body [`parse_answer`] accepts (bare answer or Cloud-Agent envelope).
/// Never fails: every problem becomes a [`ShipOutcome`].
pub fn ship(
    payload: &LogsPayload,
    url: &str,
    token: &Token,
    cfg: &ClientConfig,
) -> (
    ShipOutcome,
    String,
    Option<u16>,
    u32,
    u64,
    Option<DeveloperAgentAnswer>,
) {
    let started = Instant::now();
    let ms = |s: Instant| s.elapsed().as_millis() as u64;
    let body = match serde_json::to_vec(payload) {
        Ok(b) => b,
        Err(e) => {
            return (
                ShipOutcome::Skipped,
                format!("cannot serialize the payload: {e}"),
                None,
                0,
                0,
                None,
            )
        }
    };
    let endpoint = endpoint_url(url);
    match post_json(&endpoint, Some(token), &body, cfg, "the Cloud-Agent") {
        Ok(resp) => {
            let elapsed = ms(started);
            let ct = resp.content_type.clone().unwrap_or_default();
            if !is_json_content_type(&ct) {
                return (
                    ShipOutcome::InvalidAnswer,
                    format!(
                        "the answer's Content-Type is {:?}, not application/json",
                        cut(&ct, 100)
                    ),
                    Some(resp.status),
                    resp.attempts,
                    elapsed,
                    None,
                );
            }
            match parse_answer(&resp.body) {
                Ok(a) => (
                    ShipOutcome::Answered,
                    format!(
                        "answered {} ({:.2})",
                        a.classification.category, a.classification.confidence
                    ),
                    Some(resp.status),
                    resp.attempts,
                    elapsed,
                    Some(a),
                ),
                Err(e) => (
                    ShipOutcome::InvalidAnswer,
                    cut(&e, 512),
                    Some(resp.status),
                    resp.attempts,
                    elapsed,
                    None,
                ),
            }
        }
        Err(e) => {
            let elapsed = ms(started);
            let outcome = match &e {
                NetError::Status { status, .. } if *status != 429 && *status < 500 => {
                    ShipOutcome::Rejected
                }
                NetError::TooLarge { .. } => ShipOutcome::InvalidAnswer,
                NetError::InvalidUrl { .. } => ShipOutcome::Skipped,
                _ => ShipOutcome::Unreachable,
            };
            let mut detail = e.to_string();
            if let NetError::Status { body_head, .. } = &e {
                if !body_head.is_empty() {
                    detail.push_str(": ");
                    detail.push_str(&cut(body_head, 300));
                }
            }
            (
                outcome,
                cut(&detail, 512),
                e.status(),
                e.attempts(),
                elapsed,
                None,
            )
        }
    }
}

/// Cuts text to at most `max` bytes on a char boundary, one line.
fn cut(s: &str, max: usize) -> String {
    let s = crate::cli::one_line(s);
    if s.len() <= max {
        return s;
    }
    format!("{}...", crate::text::truncate_str(&s, max))
}

/// Writes `payload.json`, the answer (when there is one) and `ship-status.json` under
/// `<out>/agent/`, returning the status path.
pub fn write_artifacts(
    out: &Path,
    payload: &LogsPayload,
    status: &mut ShipStatus,
    answer: Option<&DeveloperAgentAnswer>,
) -> Result<PathBuf, crate::artifact::ArtifactError> {
    let dir = out.join("agent");
    let payload_path = dir.join("payload.json");
    write_json_atomic(&payload_path, payload)?;
    status.payload_path = Some(payload_path.display().to_string());
    if let Some(a) = answer {
        let p = dir.join("developer-agent-answer.json");
        write_json_atomic(&p, a)?;
        status.answer_path = Some(p.display().to_string());
    }
    let status_path = dir.join("ship-status.json");
    write_json_atomic(&status_path, status)?;
    Ok(status_path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::source::Origin;

    fn source(path: &Path) -> LogSource {
        LogSource {
            name: path.display().to_string(),
            origin: Origin::File(path.to_path_buf()),
            job: None,
            step: None,
        }
    }

    #[test]
    fn tail_is_capped_at_a_line_start_with_its_line_number() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a.log");
        let text: String = (1..=5000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&p, &text).expect("write");
        let log = read_tail(&source(&p), 1024).expect("read");
        assert!(log.truncated);
        assert_eq!(log.bytes, text.len() as u64);
        assert!(log.content.len() <= 1024);
        assert!(log.content.ends_with("line 5000\n"));
        let first = log.content.lines().next().expect("line");
        assert_eq!(first, format!("line {}", log.first_line));

        let small = read_tail(&source(&p), 1 << 20).expect("read");
        assert!(!small.truncated);
        assert_eq!(small.first_line, 1);
        assert_eq!(small.content, text);
    }

    #[test]
    fn endpoint_and_origin() {
        assert_eq!(endpoint_url("http://h:1"), "http://h:1/api/ci/logs");
        assert_eq!(endpoint_url("http://h:1/"), "http://h:1/api/ci/logs");
        assert_eq!(endpoint_url("http://h/x/y"), "http://h/x/y");
        assert_eq!(
            origin("https://h:8443/secret?k=v").as_deref(),
            Some("https://h:8443")
        );
    }
}
