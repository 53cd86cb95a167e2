//! The wire types between CI, the Cloud-Agent and the Developer-Agent.
//!
//! - [`LogsPayload`] (`ci-remedy/ci-logs/v1`): what `ci-logs-ship` POSTs to `/api/ci/logs` and
//!   the Cloud-Agent forwards to `/process-logs`. JSON Schema: `schemas/ci-logs-payload.schema.json`.
//! - The answer of `/process-logs` is a bare [`crate::artifact::DeveloperAgentAnswer`]
//!   (`schemas/developer-agent-answer.schema.json`); `/api/ci/logs` wraps it in a
//!   [`CloudAgentEnvelope`] (`schemas/cloud-agent-answer.schema.json`).
//!
//! Readers are tolerant of unknown fields in the payload (a newer client may add some) but
//! strict about the fields below: [`validate_payload`] names every missing or wrong one.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::artifact::{
    Classification, DeveloperAgentAnswer, FailedTest, Redactions, RunInfo, ToolInfo,
};
use crate::fix::path::verify_path;

/// The `schema` value of a payload.
pub const PAYLOAD_SCHEMA: &str = "ci-remedy/ci-logs/v1";
/// At most this many logs in one payload.
pub const MAX_PAYLOAD_LOGS: usize = 64;
/// At most this many failed tests in one payload.
pub const MAX_PAYLOAD_TESTS: usize = 1000;
pub use crate::policy::ship::{
    MAX_REPOSITORY_FILES, MAX_REPOSITORY_FILE_BYTES, MAX_REPOSITORY_PATHS,
};
/// At most this many bytes of listed paths, all of `repository.paths` together: 1 MiB.
pub const MAX_REPOSITORY_LISTING_BYTES: usize = 1024 * 1024;
/// The largest total of `repository.files[].content`, in bytes: 2 MiB.
pub const MAX_REPOSITORY_CONTENT_BYTES: usize = 2 * 1024 * 1024;
/// At most this many invalid repository entries are named in a 400 answer's `fields`.
pub const MAX_REPORTED_FIELDS: usize = 16;

/// What CI sends about a failed run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct LogsPayload {
    /// Always [`PAYLOAD_SCHEMA`].
    pub schema: String,
    /// The program that built the payload.
    pub tool: ToolInfo,
    /// The workflow run (from `GITHUB_*`).
    pub run: RunInfo,
    /// The logs: each one's redacted tail.
    pub logs: Vec<PayloadLog>,
    /// Failed tests from the test reports.
    #[serde(default)]
    pub failed_tests: Vec<FailedTest>,
    /// The client's rules-only classification, when it made one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
    /// Secrets redacted from the logs (and repository files) before sending.
    #[serde(default)]
    pub redactions: Redactions,
    /// What the Developer-Agent needs to run the built-in fix recipes: the checkout's file
    /// listing and the few files whose contents the recipes read. Absent when the client did
    /// not send it (older clients, or the policy's `ship.repository: false`); the answer's
    /// `fix_agent_instructions` is then empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<RepositorySnapshot>,
}

/// A bounded view of the repository checkout (`payload.repository`).
///
/// Limits (a payload over any of them is refused with HTTP 400 naming the field):
/// [`MAX_REPOSITORY_PATHS`] paths and [`MAX_REPOSITORY_LISTING_BYTES`] of them in all,
/// [`MAX_REPOSITORY_FILES`] files of at most [`MAX_REPOSITORY_FILE_BYTES`] each and
/// [`MAX_REPOSITORY_CONTENT_BYTES`] in all. Every path must be relative, `/`-separated and
/// pass `fix::path::verify_path` (no `..`, no absolute path, no backslash, no `.git`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct RepositorySnapshot {
    /// The checkout's regular files as relative, `/`-separated paths, sorted; `.git`,
    /// `target`, `node_modules`, nested repositories and symbolic links are left out.
    #[serde(default)]
    pub paths: Vec<String>,
    /// True when the listing stopped at a cap: the checkout has more files than listed.
    #[serde(default)]
    pub truncated: bool,
    /// The files whose contents the recipes read (`fix::recipes::files_wanted`): Docker
    /// files, the sources holding a failing import, the files the evidence names. Text only,
    /// redacted like the logs.
    #[serde(default)]
    pub files: Vec<RepositoryFile>,
}

/// One file of [`RepositorySnapshot::files`].
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct RepositoryFile {
    /// The relative, `/`-separated path.
    pub path: String,
    /// The redacted UTF-8 text.
    pub content: String,
}

/// One log's redacted tail.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct PayloadLog {
    /// The log's name (a path, or `archive.zip!entry`); used only as a label.
    pub name: String,
    /// The original log's size in bytes.
    pub bytes: u64,
    /// The sha256 of the original log's bytes, lowercase hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// True when only the tail was sent.
    #[serde(default)]
    pub truncated: bool,
    /// The 1-based line number, in the original log, of the first line of `content`.
    #[serde(default = "one")]
    pub first_line: u64,
    /// The redacted text (invalid UTF-8 replaced by U+FFFD).
    pub content: String,
}

fn one() -> u64 {
    1
}

/// The Cloud-Agent's answer: `{"status": "received", "upstream": <answer>}`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CloudAgentEnvelope {
    /// Always `received`.
    pub status: String,
    /// The Developer-Agent's answer.
    pub upstream: DeveloperAgentAnswer,
}

/// An error answer of either endpoint (HTTP 4xx/5xx): `{"error": "...", "fields": [...]}`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ErrorBody {
    /// What is wrong, one line.
    pub error: String,
    /// For HTTP 400: the payload fields that are missing or invalid, as JSON paths
    /// (`run.run_id`, `logs[0].content`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

/// A payload that failed validation: the message and every offending field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadError {
    /// What is wrong, one line.
    pub message: String,
    /// JSON paths of the missing or invalid fields.
    pub fields: Vec<String>,
}

impl std::fmt::Display for PayloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)?;
        if !self.fields.is_empty() {
            write!(f, ": {}", self.fields.join(", "))?;
        }
        Ok(())
    }
}

/// Parses and validates a payload: valid JSON, an object with every required field of the
/// right JSON type (all problems listed, not only the first), `schema` equal to
/// [`PAYLOAD_SCHEMA`], at most [`MAX_PAYLOAD_LOGS`] logs and [`MAX_PAYLOAD_TESTS`] tests.
pub fn validate_payload(bytes: &[u8]) -> Result<LogsPayload, PayloadError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| PayloadError {
        message: format!("the body is not valid JSON: {e}"),
        fields: Vec::new(),
    })?;
    let Some(obj) = value.as_object() else {
        return Err(PayloadError {
            message: "the body is not a JSON object".into(),
            fields: Vec::new(),
        });
    };
    let mut fields = Vec::new();
    fn check(
        fields: &mut Vec<String>,
        o: &serde_json::Map<String, serde_json::Value>,
        prefix: &str,
        key: &str,
        ok: fn(&serde_json::Value) -> bool,
    ) {
        if !o.get(key).is_some_and(ok) {
            fields.push(format!("{prefix}{key}"));
        }
    }
    let is_str = |v: &serde_json::Value| v.is_string();
    let is_obj = |v: &serde_json::Value| v.is_object();
    let is_arr = |v: &serde_json::Value| v.is_array();
    let is_uint = |v: &serde_json::Value| v.is_u64();
    check(&mut fields, obj, "", "schema", is_str);
    check(&mut fields, obj, "", "tool", is_obj);
    check(&mut fields, obj, "", "run", is_obj);
    check(&mut fields, obj, "", "logs", is_arr);
    if let Some(tool) = obj.get("tool").and_then(|v| v.as_object()) {
        check(&mut fields, tool, "tool.", "name", is_str);
        check(&mut fields, tool, "tool.", "version", is_str);
    }
    if let Some(run) = obj.get("run").and_then(|v| v.as_object()) {
        for k in [
            "repository",
            "run_id",
            "event_name",
            "sha",
            "ref",
            "workflow",
            "job",
        ] {
            check(&mut fields, run, "run.", k, is_str);
        }
        check(&mut fields, run, "run.", "run_attempt", is_uint);
    }
    if let Some(logs) = obj.get("logs").and_then(|v| v.as_array()) {
        for (i, log) in logs.iter().enumerate() {
            let prefix = format!("logs[{i}].");
            match log.as_object() {
                Some(l) => {
                    check(&mut fields, l, &prefix, "name", is_str);
                    check(&mut fields, l, &prefix, "bytes", is_uint);
                    check(&mut fields, l, &prefix, "content", is_str);
                }
                None => fields.push(format!("logs[{i}]")),
            }
        }
    }
    if let Some(repo) = obj.get("repository").filter(|v| !v.is_null()) {
        repository_shape(repo, &mut fields);
    }
    if !fields.is_empty() {
        return Err(PayloadError {
            message: "missing or invalid fields".into(),
            fields,
        });
    }
    if obj.get("schema").and_then(|v| v.as_str()) != Some(PAYLOAD_SCHEMA) {
        return Err(PayloadError {
            message: format!("schema must be {PAYLOAD_SCHEMA:?}"),
            fields: vec!["schema".into()],
        });
    }
    let payload: LogsPayload = serde_json::from_value(value).map_err(|e| PayloadError {
        message: format!("invalid payload: {e}"),
        fields: Vec::new(),
    })?;
    if payload.logs.len() > MAX_PAYLOAD_LOGS {
        return Err(PayloadError {
            message: format!("at most {MAX_PAYLOAD_LOGS} logs are accepted"),
            fields: vec!["logs".into()],
        });
    }
    if payload.failed_tests.len() > MAX_PAYLOAD_TESTS {
        return Err(PayloadError {
            message: format!("at most {MAX_PAYLOAD_TESTS} failed tests are accepted"),
            fields: vec!["failed_tests".into()],
        });
    }
    if let Some(repo) = &payload.repository {
        check_repository(repo)?;
    }
    Ok(payload)
}

/// JSON types of the repository section: an object whose `paths` (when present) is an array
/// of strings and whose `files` is an array of `{path: string, content: string}`. Adds at most
/// [`MAX_REPORTED_FIELDS`] field names.
fn repository_shape(repo: &serde_json::Value, fields: &mut Vec<String>) {
    let Some(r) = repo.as_object() else {
        fields.push("repository".into());
        return;
    };
    let start = fields.len();
    let full = |fields: &Vec<String>| fields.len() - start >= MAX_REPORTED_FIELDS;
    match r.get("paths") {
        None => {}
        Some(serde_json::Value::Array(a)) => {
            for (i, p) in a.iter().enumerate() {
                if full(fields) {
                    return;
                }
                if !p.is_string() {
                    fields.push(format!("repository.paths[{i}]"));
                }
            }
        }
        Some(_) => fields.push("repository.paths".into()),
    }
    if r.get("truncated").is_some_and(|v| !v.is_boolean()) {
        fields.push("repository.truncated".into());
    }
    match r.get("files") {
        None => {}
        Some(serde_json::Value::Array(a)) => {
            for (i, f) in a.iter().enumerate() {
                if full(fields) {
                    return;
                }
                match f.as_object() {
                    Some(o) => {
                        for k in ["path", "content"] {
                            if !o.get(k).is_some_and(|v| v.is_string()) {
                                fields.push(format!("repository.files[{i}].{k}"));
                            }
                        }
                    }
                    None => fields.push(format!("repository.files[{i}]")),
                }
            }
        }
        Some(_) => fields.push("repository.files".into()),
    }
}

/// Checks the limits and paths of a repository section (see [`RepositorySnapshot`]). The
/// error's message names the first problem; `fields` names up to [`MAX_REPORTED_FIELDS`]
/// offending entries (`repository.paths[3]`, `repository.files[0].content`).
pub fn check_repository(repo: &RepositorySnapshot) -> Result<(), PayloadError> {
    let too_many = |message: String, field: &str| PayloadError {
        message,
        fields: vec![field.to_string()],
    };
    if repo.paths.len() > MAX_REPOSITORY_PATHS {
        return Err(too_many(
            format!(
                "repository.paths has {} entries, at most {MAX_REPOSITORY_PATHS} are accepted",
                repo.paths.len()
            ),
            "repository.paths",
        ));
    }
    let listing: usize = repo.paths.iter().map(String::len).sum();
    if listing > MAX_REPOSITORY_LISTING_BYTES {
        return Err(too_many(
            format!("repository.paths has {listing} bytes of paths, at most {MAX_REPOSITORY_LISTING_BYTES} are accepted"),
            "repository.paths",
        ));
    }
    if repo.files.len() > MAX_REPOSITORY_FILES {
        return Err(too_many(
            format!(
                "repository.files has {} entries, at most {MAX_REPOSITORY_FILES} are accepted",
                repo.files.len()
            ),
            "repository.files",
        ));
    }
    let content: usize = repo.files.iter().map(|f| f.content.len()).sum();
    if content > MAX_REPOSITORY_CONTENT_BYTES {
        return Err(too_many(
            format!("repository.files has {content} bytes of content, at most {MAX_REPOSITORY_CONTENT_BYTES} are accepted"),
            "repository.files",
        ));
    }
    let mut first: Option<String> = None;
    let mut fields = Vec::new();
    let mut note = |fields: &mut Vec<String>, field: String, why: String| {
        if first.is_none() {
            first = Some(format!("{field}: {why}"));
        }
        if fields.len() < MAX_REPORTED_FIELDS {
            fields.push(field);
        }
    };
    for (i, p) in repo.paths.iter().enumerate() {
        if let Err(r) = verify_path(p) {
            note(&mut fields, format!("repository.paths[{i}]"), r.reason);
        }
    }
    for (i, f) in repo.files.iter().enumerate() {
        if let Err(r) = verify_path(&f.path) {
            note(&mut fields, format!("repository.files[{i}].path"), r.reason);
        }
        if f.content.len() > MAX_REPOSITORY_FILE_BYTES {
            note(
                &mut fields,
                format!("repository.files[{i}].content"),
                format!(
                    "{} bytes, at most {MAX_REPOSITORY_FILE_BYTES} are accepted",
                    f.content.len()
                ),
            );
        }
    }
    match first {
        None => Ok(()),
        Some(first) => Err(PayloadError {
            message: format!(
                "invalid repository section ({})",
                crate::text::one_line(&first)
            ),
            fields,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_missing_field_is_named() {
        let err = validate_payload(
            br#"{"schema":"ci-remedy/ci-logs/v1","tool":{"name":"x"},"run":{"run_id":"1"},"logs":[{"name":"a"},3]}"#,
        )
        .expect_err("invalid");
        for f in [
            "tool.version",
            "run.repository",
            "run.run_attempt",
            "logs[0].content",
            "logs[0].bytes",
            "logs[1]",
        ] {
            assert!(
                err.fields.iter().any(|x| x == f),
                "{f} not in {:?}",
                err.fields
            );
        }
        assert!(!err.fields.iter().any(|x| x == "run.run_id"));
    }

    fn with_repository(repo: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "schema": PAYLOAD_SCHEMA,
            "tool": {"name": "t", "version": "0"},
            "run": {"repository": "o/r", "run_id": "1", "run_attempt": 1, "event_name": "push",
                    "sha": "a", "ref": "r", "workflow": "w", "job": "j"},
            "logs": [],
            "repository": repo,
        }))
        .expect("json")
    }

    #[test]
    fn repository_section_is_optional_bounded_and_path_checked() {
        let p = validate_payload(&with_repository(serde_json::Value::Null)).expect("null");
        assert_eq!(p.repository, None);
        let p = validate_payload(&with_repository(serde_json::json!({
            "paths": ["a.txt", "src/b.js"],
            "files": [{"path": "src/b.js", "content": "x"}]
        })))
        .expect("valid");
        assert_eq!(p.repository.expect("section").paths.len(), 2);

        let err = validate_payload(&with_repository(serde_json::json!({
            "paths": ["ok", "../x", "/abs", ".GIT/config"],
            "files": [{"path": "a\\b", "content": "x".repeat(MAX_REPOSITORY_FILE_BYTES + 1)}]
        })))
        .expect_err("invalid");
        assert_eq!(
            err.fields,
            vec![
                "repository.paths[1]",
                "repository.paths[2]",
                "repository.paths[3]",
                "repository.files[0].path",
                "repository.files[0].content"
            ]
        );
        assert!(
            err.message.contains("repository.paths[1]"),
            "{}",
            err.message
        );

        // Many bad entries: a bounded list of fields.
        let bad: Vec<String> = (0..1000).map(|i| format!("../{i}")).collect();
        let err = validate_payload(&with_repository(serde_json::json!({ "paths": bad })))
            .expect_err("invalid");
        assert_eq!(err.fields.len(), MAX_REPORTED_FIELDS);
        let err = validate_payload(&with_repository(
            serde_json::json!({ "paths": (0..1000).collect::<Vec<_>>() }),
        ))
        .expect_err("invalid");
        assert_eq!(err.fields.len(), MAX_REPORTED_FIELDS);
    }

    #[test]
    fn not_json_and_not_an_object() {
        assert!(validate_payload(b"{\"schema\":")
            .expect_err("bad")
            .message
            .contains("not valid JSON"));
        assert!(validate_payload(b"[1]")
            .expect_err("bad")
            .message
            .contains("not a JSON object"));
        let err = validate_payload(br#"{}"#).expect_err("bad");
        assert_eq!(err.fields, vec!["schema", "tool", "run", "logs"]);
    }
}
