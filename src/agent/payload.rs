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

/// The `schema` value of a payload.
pub const PAYLOAD_SCHEMA: &str = "ci-remedy/ci-logs/v1";
/// At most this many logs in one payload.
pub const MAX_PAYLOAD_LOGS: usize = 64;
/// At most this many failed tests in one payload.
pub const MAX_PAYLOAD_TESTS: usize = 1000;

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
    /// Secrets redacted from the logs before sending.
    #[serde(default)]
    pub redactions: Redactions,
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
    Ok(payload)
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
