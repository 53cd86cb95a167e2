//! `ci-logs-ship`'s library side: build the payload (redacted log tails, failed tests, the
//! local classification, the repository section), post it, validate the answer, and describe
//! what happened in a [`ShipStatus`] artifact (`ci-remedy/ci-logs-ship/v1`).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Instant;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::artifact::{
    parse_answer, write_json_atomic, DeveloperAgentAnswer, FailedTest, LogInfo, Redactions,
    RunInfo, ToolInfo,
};
use crate::classify::{analyze, AnalyzeOptions, RulePack};
use crate::fix::recipes::{evidence_lines, EvidenceLog, LineNumbers};
use crate::logs::redact::Redactor;
use crate::logs::source::{resolve_all, LogSource, Origin};
use crate::net::{ClientConfig, HttpClient, NetError, Resend, Token};
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
        redact_failed_test(redactor, t, &mut redactions);
    }
    let sent_sources = &sources[..sources.len().min(super::payload::MAX_PAYLOAD_LOGS)];
    // The analysis reads every log once and measures it (bytes, lines, sha256); the tails
    // below then read only their last bytes.
    let analysis = analyze(pack, &sources, &failed, &AnalyzeOptions::default());
    errors.extend(analysis.errors.iter().map(ToString::to_string));
    let findings = analysis.findings;
    let infos: Vec<LogInfo> = analysis.logs;
    let mut c = analysis.classification;
    c.summary = redactor.redact(&c.summary, &mut redactions);
    let classification = Some(c);
    let mut logs = Vec::new();
    for s in sent_sources {
        // A log the analysis could not read has its error listed already.
        let Some(info) = infos.iter().find(|i| i.path == s.name) else {
            continue;
        };
        match read_tail(s, input.max_log_bytes, info) {
            Ok(mut log) => {
                // A log's name is a file or zip entry name, and GitHub names entries after
                // the step's command: it can quote a secret as well as the text can.
                log.name = redactor.redact(&log.name, &mut redactions);
                log.content = redactor.redact(&log.content, &mut redactions);
                logs.push(log);
            }
            Err(e) => errors.push(e),
        }
    }
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
                numbers: LineNumbers::FirstIs(l.first_line),
                format: None,
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

/// Redacts every text field of a failed test in place (name, id, file, message, report —
/// like `self-heal-prepare`'s context), adding the counts to `counts`: test names carry
/// values too (pytest's parametrised ids, `test_login[AKIA…]`).
pub fn redact_failed_test(redactor: &Redactor, t: &mut FailedTest, counts: &mut Redactions) {
    let FailedTest {
        name,
        id,
        file,
        line: _,
        message,
        report,
    } = t;
    let mut r = |s: &mut String| *s = redactor.redact(s, counts);
    r(name);
    r(report);
    id.iter_mut().chain(file).chain(message).for_each(&mut r);
}

/// The last `cap` bytes of a log that the analysis measured (`info`: its size, line count
/// and sha256), cut forward to a line start when truncated (unless the tail is one line),
/// with the 1-based line number where the kept text starts, counted from the end:
/// `info.lines - lines kept + 1`. A plain file is read from `info.bytes - cap` on (one seek,
/// nothing before it is read, bytes appended since are not); a zip entry is streamed,
/// keeping only the last bytes. Errors: the log cannot be read, or it is shorter than
/// `info.bytes` (it changed since).
pub fn read_tail(source: &LogSource, cap: u64, info: &LogInfo) -> Result<PayloadLog, String> {
    let cap = cap.max(1);
    // One byte more than the tail when there is one: it says whether the tail starts a line.
    let want = cap.saturating_add(1).min(info.bytes);
    let io = |e: std::io::Error| format!("cannot read {}: {e}", source.name);
    let buf = match &source.origin {
        Origin::File(path) => {
            let mut f = File::open(path).map_err(io)?;
            f.seek(SeekFrom::Start(info.bytes - want)).map_err(io)?;
            let mut buf = Vec::new();
            f.take(want).read_to_end(&mut buf).map_err(io)?;
            buf
        }
        Origin::ZipEntry { .. } => {
            let mut r = source.open().map_err(|e| e.to_string())?;
            last_bytes(&mut r, want, info.bytes).map_err(io)?
        }
    };
    if buf.len() as u64 != want {
        return Err(format!(
            "{} changed since it was analysed ({} bytes expected)",
            source.name, info.bytes
        ));
    }
    let truncated = info.bytes > cap;
    let mut tail = buf.as_slice();
    if truncated {
        let before = tail[0];
        tail = &tail[1..];
        if before != b'\n' {
            // Cut forward to the start of a line (unless the tail is a single line).
            if let Some(i) = memchr::memchr(b'\n', tail) {
                if i + 1 < tail.len() {
                    tail = &tail[i + 1..];
                }
            }
        }
    }
    let tail_lines = memchr::memchr_iter(b'\n', tail).count() as u64
        + u64::from(tail.last().is_some_and(|b| *b != b'\n'));
    Ok(PayloadLog {
        name: source.name.clone(),
        bytes: info.bytes,
        sha256: Some(info.sha256.clone()),
        truncated,
        first_line: info.lines.saturating_sub(tail_lines) + 1,
        content: String::from_utf8_lossy(tail).into_owned(),
    })
}

/// Streams `r` to its end, keeping its last `keep` bytes
/// ([`crate::logs::lines::read_last_bytes`]); errors unless it had exactly `total` bytes.
fn last_bytes(r: &mut dyn Read, keep: u64, total: u64) -> std::io::Result<Vec<u8>> {
    let keep = usize::try_from(keep).unwrap_or(usize::MAX);
    let t = crate::logs::lines::read_last_bytes(r, keep);
    if let Some(e) = t.error {
        return Err(e);
    }
    if t.total != total {
        return Err(std::io::Error::other(format!(
            "{} bytes, the analysis read {total}",
            t.total
        )));
    }
    Ok(t.bytes)
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

/// What [`ship`] did: the exchange's part of the status artifact, and the answer.
#[derive(Debug, Clone)]
pub struct Shipped {
    /// How it ended.
    pub outcome: ShipOutcome,
    /// One line on why (untrusted parts quoted from the service are cut to 512 bytes).
    pub detail: String,
    /// The last HTTP status received.
    pub http_status: Option<u16>,
    /// Requests made.
    pub attempts: u32,
    /// Wall time of the exchange, milliseconds.
    pub duration_ms: u64,
    /// The validated answer, when one was received.
    pub answer: Option<DeveloperAgentAnswer>,
}

impl Shipped {
    /// Nothing was sent; `detail` says why.
    pub fn skipped(detail: impl Into<String>) -> Shipped {
        Shipped {
            outcome: ShipOutcome::Skipped,
            detail: detail.into(),
            http_status: None,
            attempts: 0,
            duration_ms: 0,
            answer: None,
        }
    }
}

/// Posts `payload` to `url` (see [`endpoint_url`]) and validates the answer: a 2xx with a JSON
/// content type whose body [`parse_answer`] accepts (bare answer or Cloud-Agent envelope).
/// Never fails: every problem becomes a [`ShipOutcome`].
pub fn ship(payload: &LogsPayload, url: &str, token: &Token, cfg: &ClientConfig) -> Shipped {
    let started = Instant::now();
    let body = match serde_json::to_vec(payload) {
        Ok(b) => b,
        Err(e) => return Shipped::skipped(format!("cannot serialize the payload: {e}")),
    };
    let endpoint = endpoint_url(url);
    // The payload is stored and classified again when it arrives twice: safe to resend.
    let sent = HttpClient::new(cfg.clone())
        .map_err(|reason| NetError::Unreachable {
            target: "the Cloud-Agent".into(),
            attempts: 0,
            reason,
        })
        .and_then(|client| {
            client.post_json(
                &endpoint,
                Some(token),
                &body,
                "the Cloud-Agent",
                Resend::Always,
            )
        });
    let done = |outcome, detail, http_status, attempts, answer| Shipped {
        outcome,
        detail,
        http_status,
        attempts,
        duration_ms: started.elapsed().as_millis() as u64,
        answer,
    };
    match sent {
        Ok(resp) => {
            let ct = resp.content_type.clone().unwrap_or_default();
            if !is_json_content_type(&ct) {
                return done(
                    ShipOutcome::InvalidAnswer,
                    format!(
                        "the answer's Content-Type is {:?}, not application/json",
                        cut(&ct, 100)
                    ),
                    Some(resp.status),
                    resp.attempts,
                    None,
                );
            }
            match parse_answer(&resp.body) {
                Ok(a) => done(
                    ShipOutcome::Answered,
                    format!(
                        "answered {} ({:.2})",
                        a.classification.category, a.classification.confidence
                    ),
                    Some(resp.status),
                    resp.attempts,
                    Some(a),
                ),
                Err(e) => done(
                    ShipOutcome::InvalidAnswer,
                    cut(&e, 512),
                    Some(resp.status),
                    resp.attempts,
                    None,
                ),
            }
        }
        Err(e) => {
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
            done(outcome, cut(&detail, 512), e.status(), e.attempts(), None)
        }
    }
}

/// Cuts text to at most `max` bytes on a char boundary, one line.
fn cut(s: &str, max: usize) -> String {
    let s = crate::text::one_line(s);
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

    /// The source and what the analysis measured of it.
    fn measured(path: &Path) -> (LogSource, LogInfo) {
        let s = source(path);
        let pack = RulePack::builtin().expect("pack");
        let mut a = analyze(
            &pack,
            std::slice::from_ref(&s),
            &[],
            &AnalyzeOptions::default(),
        );
        assert!(a.errors.is_empty(), "{:?}", a.errors);
        (s, a.logs.remove(0))
    }

    #[test]
    fn tail_is_capped_at_a_line_start_with_its_line_number() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a.log");
        let text: String = (1..=5000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&p, &text).expect("write");
        let (s, info) = measured(&p);
        let log = read_tail(&s, 1024, &info).expect("read");
        assert!(log.truncated);
        assert_eq!(log.bytes, text.len() as u64);
        assert_eq!(log.sha256.as_deref(), Some(info.sha256.as_str()));
        assert!(log.content.len() <= 1024);
        assert!(log.content.ends_with("line 5000\n"));
        let first = log.content.lines().next().expect("line");
        assert_eq!(first, format!("line {}", log.first_line));

        let small = read_tail(&s, 1 << 20, &info).expect("read");
        assert!(!small.truncated);
        assert_eq!(small.first_line, 1);
        assert_eq!(small.content, text);

        // A log that shrank since it was analysed.
        std::fs::write(&p, "line 1\n").expect("write");
        assert!(read_tail(&s, 1024, &info)
            .expect_err("changed")
            .contains("changed since it was analysed"));
    }

    #[test]
    fn first_line_is_counted_from_the_end_of_a_big_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        // ~4.6 MB, lines of varying length, no newline at the very end.
        let mut text: String = (1..=200_000)
            .map(|i| format!("line {i} {}\n", "x".repeat(i % 37)))
            .collect();
        text.push_str("last line without a newline");
        let p = dir.path().join("big.log");
        std::fs::write(&p, &text).expect("write");
        let (s, info) = measured(&p);
        assert_eq!(info.lines, 200_001);
        for cap in [1u64, 10, 100, 4095, 4096, 65_537, 1 << 20] {
            let log = read_tail(&s, cap, &info).expect("read");
            assert!(log.truncated);
            assert!(text.ends_with(&log.content), "cap {cap}");
            // The number of the kept text's first line is right: count it in the original.
            let start = text.len() - log.content.len();
            let expected = text[..start].matches('\n').count() as u64 + 1;
            assert_eq!(log.first_line, expected, "cap {cap}");
            // Cut forward to a line start, unless the tail is (part of) one line.
            if log.content.contains('\n') {
                assert!(
                    text[..start].ends_with('\n'),
                    "cap {cap}: not at a line start"
                );
            }
        }
        // A tail that starts exactly at a line start keeps that line.
        let line = "line 200000 ".to_string() + &"x".repeat(200_000 % 37) + "\n";
        let cap = (line.len() + "last line without a newline".len()) as u64;
        let log = read_tail(&s, cap, &info).expect("read");
        assert_eq!(log.first_line, 200_000);
        assert!(log.content.starts_with("line 200000 "), "{}", log.content);
    }

    #[test]
    fn a_zip_entry_tail_is_streamed_to_the_same_result() {
        use std::io::Write;
        let dir = tempfile::tempdir().expect("tempdir");
        let text: String = (1..=30_000).map(|i| format!("step line {i}\n")).collect();
        let plain = dir.path().join("1_build.txt");
        std::fs::write(&plain, &text).expect("write");
        let zip_path = dir.path().join("logs.zip");
        let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).expect("create"));
        w.start_file("1_build.txt", zip::write::SimpleFileOptions::default())
            .expect("start");
        w.write_all(text.as_bytes()).expect("write");
        w.finish().expect("finish");
        let sources =
            crate::logs::source::resolve(&[zip_path.display().to_string()]).expect("resolve");
        let pack = RulePack::builtin().expect("pack");
        let a = analyze(&pack, &sources, &[], &AnalyzeOptions::default());
        assert!(a.errors.is_empty(), "{:?}", a.errors);
        let (s, info) = measured(&plain);
        for cap in [5u64, 1000, 100_000, 1 << 20] {
            let from_zip = read_tail(&sources[0], cap, &a.logs[0]).expect("zip tail");
            let from_file = read_tail(&s, cap, &info).expect("file tail");
            assert_eq!(from_zip.content, from_file.content, "cap {cap}");
            assert_eq!(from_zip.first_line, from_file.first_line, "cap {cap}");
        }
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
