//! The checks file (`.github/ci-remedy-smoke.yml`): the raw serde form (kebab-case,
//! `deny_unknown_fields`, so an unknown key is an error with its file and line) and its
//! validation into [`Checks`]: URLs expanded from the allowlisted variables and checked against
//! `hosts:`, regexes and JSON paths compiled, durations parsed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json_path::JsonPath;

use super::SmokeError;

/// Largest checks file read, in bytes.
pub const MAX_CHECKS_FILE_BYTES: u64 = 1024 * 1024;
/// Default cap on a response body, in bytes (1 MiB).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 1024 * 1024;
/// Largest `max-body-bytes` a check may ask for (16 MiB).
pub const MAX_BODY_BYTES_LIMIT: u64 = 16 * 1024 * 1024;
/// Default request timeout (30 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `max-iterations`.
pub const DEFAULT_MAX_ITERATIONS: u32 = 3;

/// The checks file as written (`ci-remedy/smoke-checks`, schema `schemas/smoke-checks.schema.json`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawChecks {
    /// Host names (optionally `host:port`) requests may go to, on every redirect hop too.
    pub hosts: Vec<String>,
    /// Environment variable names `${NAME}` may expand in URLs; any other `${…}` is an error.
    #[serde(default)]
    pub variables: Vec<String>,
    /// Failed validations of one deployment sha before a person is told (default 3).
    #[serde(default)]
    pub max_iterations: Option<u32>,
    /// Poll until the service says healthy before the checks run.
    #[serde(default)]
    pub wait_for_healthy: Option<RawHealth>,
    /// The checks, run in order.
    #[serde(default)]
    pub checks: Vec<RawCheck>,
    /// Regexes over the deployment's logs.
    #[serde(default)]
    pub log_patterns: Vec<RawLogPattern>,
}

/// `wait-for-healthy`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawHealth {
    /// The URL polled with GET.
    pub url: String,
    /// The healthy status (default 200).
    #[serde(default)]
    pub status: Option<u16>,
    /// Also require this JSON path of the answer …
    #[serde(default)]
    pub json_path: Option<String>,
    /// … to equal this value (any JSON value; without it the path must exist).
    #[serde(default)]
    pub equals: Option<serde_json::Value>,
    /// Between polls (`2s`, default 2s).
    #[serde(default)]
    pub interval: Option<String>,
    /// Give up after (`2m`, default 60s).
    #[serde(default)]
    pub timeout: Option<String>,
}

/// One check.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawCheck {
    /// Shown in the report, the summary and annotations.
    pub name: String,
    /// The request.
    pub request: RawRequest,
    /// What the answer must satisfy.
    #[serde(default)]
    pub expect: RawExpect,
}

/// A request.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawRequest {
    /// GET (default), POST, PUT, PATCH, DELETE, HEAD.
    #[serde(default)]
    pub method: Option<String>,
    /// The URL; `${NAME}` expands only names listed in `variables`.
    pub url: String,
    /// Header name → the environment variable holding its value (never printed).
    #[serde(default)]
    pub headers: BTreeMap<String, RawHeader>,
    /// The request body, sent as is.
    #[serde(default)]
    pub body: Option<String>,
    /// The request timeout (`30s` default).
    #[serde(default)]
    pub timeout: Option<String>,
    /// Body bytes read at most (default 1 MiB, at most 16 MiB); the rest is not read.
    #[serde(default)]
    pub max_body_bytes: Option<u64>,
}

/// A header's value source.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawHeader {
    /// The environment variable holding the value.
    pub env: String,
    /// Written before the value (e.g. `Bearer `).
    #[serde(default)]
    pub prefix: Option<String>,
}

/// `expect`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawExpect {
    /// The status (default: any 2xx).
    #[serde(default)]
    pub status: Option<u16>,
    /// JSON path expectations on the body (on the assembled answer for event streams).
    #[serde(default)]
    pub json_path: Vec<RawJsonPath>,
    /// Substrings the body (answer) must contain.
    #[serde(default)]
    pub body_contains: Vec<String>,
    /// Substrings it must not contain.
    #[serde(default)]
    pub body_not_contains: Vec<String>,
    /// A regex it must match.
    #[serde(default)]
    pub regex: Option<String>,
    /// The body (answer) must not be empty or only whitespace.
    #[serde(default)]
    pub non_empty: bool,
    /// Server-sent events expectations (the response must be `text/event-stream`).
    #[serde(default)]
    pub sse: Option<RawSse>,
    /// Latency limits.
    #[serde(default)]
    pub latency: Option<RawLatency>,
    /// Compare with an approved response stored in the repository.
    #[serde(default)]
    pub baseline: Option<RawBaseline>,
}

/// One JSON path expectation: exactly one of `equals`, `contains`, `exists`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawJsonPath {
    /// RFC 9535 JSONPath, e.g. `$.data.price`.
    pub path: String,
    /// The first node equals this JSON value.
    #[serde(default)]
    pub equals: Option<serde_json::Value>,
    /// The first node (a string, or any value rendered as JSON) contains this text.
    #[serde(default)]
    pub contains: Option<String>,
    /// The path selects at least one node (`true`) or none (`false`).
    #[serde(default)]
    pub exists: Option<bool>,
}

/// `sse`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawSse {
    /// Fails when the answer, or its final event, arrives more than once.
    #[serde(default)]
    pub single_answer: bool,
    /// At least this many answer chunks (events) arrived.
    #[serde(default)]
    pub min_chunks: Option<u32>,
    /// A JSON path of each event's data holding the chunk's text (e.g. `$.delta`); without it
    /// the data itself is the chunk.
    #[serde(default)]
    pub data_json_path: Option<String>,
    /// The event type that ends the answer (default `done`).
    #[serde(default)]
    pub final_event: Option<String>,
    /// Event data that ends the answer (default `[DONE]`).
    #[serde(default)]
    pub final_data: Option<String>,
}

/// `latency`, in ms.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawLatency {
    /// Time to first byte at most, in ms.
    #[serde(default)]
    pub first_byte_ms: Option<u64>,
    /// Total time at most, in ms.
    #[serde(default)]
    pub total_ms: Option<u64>,
}

/// `baseline`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawBaseline {
    /// The approved response, relative to the checks file's repository root (`--root`).
    pub file: String,
    /// JSON paths removed from both sides before comparing (ids, timestamps).
    #[serde(default)]
    pub ignore_json_paths: Vec<String>,
    /// Regexes whose matches are replaced by `<ignored>` on both sides.
    #[serde(default)]
    pub ignore_regex: Vec<String>,
}

/// One log pattern.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawLogPattern {
    /// Shown in the report.
    pub name: String,
    /// Log files (relative to `--root`, or absolute).
    #[serde(default)]
    pub files: Vec<String>,
    /// A log URL (GET; `${NAME}` expands; its host must be allowed).
    #[serde(default)]
    pub url: Option<String>,
    /// Regexes no line may match.
    #[serde(default)]
    pub must_not_match: Vec<String>,
    /// Regexes some line must match.
    #[serde(default)]
    pub must_match: Vec<String>,
}

/// The validated checks file.
#[derive(Debug, Clone)]
pub struct Checks {
    /// The file, as given.
    pub path: PathBuf,
    /// Allowed hosts, lowercase.
    pub hosts: Vec<String>,
    /// `max-iterations`.
    pub max_iterations: u32,
    /// The health poll.
    pub health: Option<Health>,
    /// The checks.
    pub checks: Vec<Check>,
    /// The log patterns.
    pub log_patterns: Vec<LogPattern>,
    /// Every header value the checks send: removed from anything the report quotes.
    pub secrets: Vec<String>,
}

/// A validated health poll.
#[derive(Debug, Clone)]
pub struct Health {
    /// The expanded URL.
    pub url: reqwest::Url,
    /// The healthy status.
    pub status: u16,
    /// The path and its expected value (`None`: must exist).
    pub json_path: Option<(String, JsonPath, Option<serde_json::Value>)>,
    /// Between polls.
    pub interval: Duration,
    /// Give up after.
    pub timeout: Duration,
}

/// A validated check.
#[derive(Debug, Clone)]
pub struct Check {
    /// Its name.
    pub name: String,
    /// The method.
    pub method: reqwest::Method,
    /// The expanded URL.
    pub url: reqwest::Url,
    /// (header name, value): values come from the environment.
    pub headers: Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>,
    /// The body.
    pub body: Option<String>,
    /// The request timeout.
    pub timeout: Duration,
    /// Body bytes read at most.
    pub max_body_bytes: u64,
    /// The expectations.
    pub expect: Expect,
}

/// Validated expectations.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// The status (`None`: any 2xx).
    pub status: Option<u16>,
    /// (path text, compiled, the expectation).
    pub json_path: Vec<(String, JsonPath, PathExpect)>,
    /// Must contain.
    pub contains: Vec<String>,
    /// Must not contain.
    pub not_contains: Vec<String>,
    /// Must match.
    pub regex: Option<Regex>,
    /// Must not be empty.
    pub non_empty: bool,
    /// Event stream expectations.
    pub sse: Option<Sse>,
    /// Time to first byte at most, ms.
    pub first_byte_ms: Option<u64>,
    /// Total at most, ms.
    pub total_ms: Option<u64>,
    /// The baseline.
    pub baseline: Option<Baseline>,
}

/// What a JSON path must do.
#[derive(Debug, Clone, PartialEq)]
pub enum PathExpect {
    /// Equal this value.
    Equals(serde_json::Value),
    /// Contain this text.
    Contains(String),
    /// Exist (true) or not (false).
    Exists(bool),
}

/// Validated event stream expectations.
#[derive(Debug, Clone)]
pub struct Sse {
    /// `single-answer`.
    pub single_answer: bool,
    /// `min-chunks`.
    pub min_chunks: Option<u32>,
    /// `data-json-path`.
    pub data_json_path: Option<JsonPath>,
    /// `final-event`.
    pub final_event: String,
    /// `final-data`.
    pub final_data: String,
}

/// A validated baseline.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// The file, as written.
    pub file: String,
    /// Its approved text.
    pub approved: String,
    /// Paths to drop.
    pub ignore_json_paths: Vec<JsonPath>,
    /// Spans to blank.
    pub ignore_regex: Vec<Regex>,
}

/// A validated log pattern.
#[derive(Debug, Clone)]
pub struct LogPattern {
    /// Its name.
    pub name: String,
    /// Files, resolved against the root.
    pub files: Vec<(String, PathBuf)>,
    /// The URL.
    pub url: Option<reqwest::Url>,
    /// Must not match.
    pub must_not_match: Vec<Regex>,
    /// Must match.
    pub must_match: Vec<Regex>,
}

/// Reads and validates the checks file at `path`; `root` resolves relative baseline and log
/// files; `env` looks up environment variables (only the allowlisted ones are asked for).
///
/// Errors: [`SmokeError::Checks`] with the file, the 1-based line when the YAML parser knows it,
/// and what is wrong (unknown keys, a host outside `hosts:`, a `${VAR}` not allowed or unset, a
/// bad regex or JSON path, a missing baseline file).
pub fn load(
    path: &Path,
    root: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Checks, SmokeError> {
    let err = |line: Option<usize>, message: String| SmokeError::Checks {
        file: path.display().to_string(),
        line,
        message,
    };
    let bytes = crate::artifact::read_capped(path, MAX_CHECKS_FILE_BYTES)
        .map_err(|e| err(None, e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| err(None, "not UTF-8".into()))?;
    let raw: RawChecks = serde_yaml_ng::from_str(&text).map_err(|e| {
        let line = e.location().map(|l| l.line());
        let msg = e.to_string();
        // serde_yaml_ng appends " at line N column M"; the line is reported separately.
        let msg = match msg.find(" at line ") {
            Some(i) => msg[..i].to_string(),
            None => msg,
        };
        err(line, msg)
    })?;
    validate(raw, path, root, env).map_err(|m| err(None, m))
}

fn duration(text: Option<&str>, default: Duration, what: &str) -> Result<Duration, String> {
    match text {
        None => Ok(default),
        Some(t) => humantime::parse_duration(t).map_err(|e| format!("{what}: {t:?}: {e}")),
    }
}

fn compile_re(p: &str, what: &str) -> Result<Regex, String> {
    regex::RegexBuilder::new(p)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("{what}: invalid regex {p:?}: {e}"))
}

fn compile_path(p: &str, what: &str) -> Result<JsonPath, String> {
    JsonPath::parse(p).map_err(|e| format!("{what}: invalid JSON path {p:?}: {e}"))
}

/// True when `url`'s host (and port, for `host:port` entries) is in `hosts` (lowercase).
pub fn host_allowed(hosts: &[String], url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    let port = url.port_or_known_default();
    hosts.iter().any(|h| match h.rsplit_once(':') {
        Some((name, p)) if !name.contains(':') => *name == host && p.parse::<u16>().ok() == port,
        _ => *h == host,
    })
}

/// Expands `${NAME}` in `text` from `env` for names in `allowed`.
///
/// Errors: a name not in `allowed`, an unset variable, an unclosed `${`.
pub fn expand(
    text: &str,
    allowed: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("unclosed ${{ in {text:?}"));
        };
        let name = &after[..end];
        if !allowed.iter().any(|a| a == name) {
            return Err(format!(
                "${{{name}}} is not in `variables:` (only listed environment variables expand)"
            ));
        }
        let value = env(name).ok_or_else(|| format!("environment variable {name} is not set"))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn url(
    text: &str,
    what: &str,
    raw: &RawChecks,
    hosts: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<reqwest::Url, String> {
    let expanded = expand(text, &raw.variables, env).map_err(|e| format!("{what}: {e}"))?;
    let u =
        reqwest::Url::parse(&expanded).map_err(|e| format!("{what}: invalid URL {text:?}: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!("{what}: only http and https URLs ({text:?})"));
    }
    if !host_allowed(hosts, &u) {
        return Err(format!(
            "{what}: host {:?} is not in `hosts:`",
            u.host_str().unwrap_or("")
        ));
    }
    Ok(u)
}

fn validate(
    raw: RawChecks,
    path: &Path,
    root: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Checks, String> {
    let hosts: Vec<String> = raw
        .hosts
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    if hosts.is_empty() {
        return Err("`hosts:` is empty: list the hosts the checks may reach".into());
    }
    for v in &raw.variables {
        if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "`variables:`: {v:?} is not an environment variable name"
            ));
        }
    }
    let health = match &raw.wait_for_healthy {
        None => None,
        Some(h) => Some(Health {
            url: url(&h.url, "wait-for-healthy.url", &raw, &hosts, env)?,
            status: h.status.unwrap_or(200),
            json_path: match &h.json_path {
                Some(p) => Some((
                    p.clone(),
                    compile_path(p, "wait-for-healthy.json-path")?,
                    h.equals.clone(),
                )),
                None => None,
            },
            interval: duration(
                h.interval.as_deref(),
                Duration::from_secs(2),
                "wait-for-healthy.interval",
            )?,
            timeout: duration(
                h.timeout.as_deref(),
                Duration::from_secs(60),
                "wait-for-healthy.timeout",
            )?,
        }),
    };
    let mut secrets = Vec::new();
    let mut checks = Vec::new();
    for (i, c) in raw.checks.iter().enumerate() {
        let what = format!("checks[{i}] ({})", c.name);
        let method = c
            .request
            .method
            .as_deref()
            .unwrap_or("GET")
            .to_ascii_uppercase();
        if !matches!(
            method.as_str(),
            "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD"
        ) {
            return Err(format!(
                "{what}: method {method:?} is not one of GET POST PUT PATCH DELETE HEAD"
            ));
        }
        let method =
            reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| format!("{what}: {e}"))?;
        let mut headers = Vec::new();
        for (name, h) in &c.request.headers {
            let hn = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("{what}: invalid header name {name:?}"))?;
            let value = env(&h.env).ok_or_else(|| {
                format!(
                    "{what}: header {name}: environment variable {} is not set",
                    h.env
                )
            })?;
            let full = format!("{}{value}", h.prefix.as_deref().unwrap_or(""));
            let mut hv = reqwest::header::HeaderValue::from_str(&full).map_err(|_| {
                format!(
                    "{what}: header {name}: the value of {} is not a valid header value",
                    h.env
                )
            })?;
            hv.set_sensitive(true);
            if !value.is_empty() {
                secrets.push(value);
            }
            headers.push((hn, hv));
        }
        let max_body_bytes = c.request.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES);
        if max_body_bytes == 0 || max_body_bytes > MAX_BODY_BYTES_LIMIT {
            return Err(format!(
                "{what}: max-body-bytes must be 1..={MAX_BODY_BYTES_LIMIT}"
            ));
        }
        let e = &c.expect;
        let mut json_path = Vec::new();
        for jp in &e.json_path {
            let n = [
                jp.equals.is_some(),
                jp.contains.is_some(),
                jp.exists.is_some(),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            let exp = match (&jp.equals, &jp.contains, jp.exists) {
                (Some(v), None, None) => PathExpect::Equals(v.clone()),
                (None, Some(s), None) => PathExpect::Contains(s.clone()),
                (None, None, Some(b)) => PathExpect::Exists(b),
                _ => {
                    return Err(format!(
                        "{what}: json-path {:?} needs exactly one of equals, contains, exists (has {n})",
                        jp.path
                    ))
                }
            };
            json_path.push((jp.path.clone(), compile_path(&jp.path, &what)?, exp));
        }
        let sse = match &e.sse {
            None => None,
            Some(s) => Some(Sse {
                single_answer: s.single_answer,
                min_chunks: s.min_chunks,
                data_json_path: match &s.data_json_path {
                    Some(p) => Some(compile_path(p, &what)?),
                    None => None,
                },
                final_event: s.final_event.clone().unwrap_or_else(|| "done".into()),
                final_data: s.final_data.clone().unwrap_or_else(|| "[DONE]".into()),
            }),
        };
        let baseline = match &e.baseline {
            None => None,
            Some(b) => {
                let file = root.join(&b.file);
                let bytes = crate::artifact::read_capped(&file, MAX_BODY_BYTES_LIMIT)
                    .map_err(|err| format!("{what}: baseline: {err}"))?;
                Some(Baseline {
                    file: b.file.clone(),
                    approved: String::from_utf8_lossy(&bytes).into_owned(),
                    ignore_json_paths: b
                        .ignore_json_paths
                        .iter()
                        .map(|p| compile_path(p, &what))
                        .collect::<Result<_, _>>()?,
                    ignore_regex: b
                        .ignore_regex
                        .iter()
                        .map(|p| compile_re(p, &what))
                        .collect::<Result<_, _>>()?,
                })
            }
        };
        let latency = e.latency.clone().unwrap_or_default();
        checks.push(Check {
            name: c.name.clone(),
            method,
            url: url(&c.request.url, &what, &raw, &hosts, env)?,
            headers,
            body: c.request.body.clone(),
            timeout: duration(c.request.timeout.as_deref(), DEFAULT_TIMEOUT, &what)?,
            max_body_bytes,
            expect: Expect {
                status: e.status,
                json_path,
                contains: e.body_contains.clone(),
                not_contains: e.body_not_contains.clone(),
                regex: match &e.regex {
                    Some(r) => Some(compile_re(r, &what)?),
                    None => None,
                },
                non_empty: e.non_empty,
                sse,
                first_byte_ms: latency.first_byte_ms,
                total_ms: latency.total_ms,
                baseline,
            },
        });
    }
    let mut log_patterns = Vec::new();
    for (i, l) in raw.log_patterns.iter().enumerate() {
        let what = format!("log-patterns[{i}] ({})", l.name);
        if l.files.is_empty() && l.url.is_none() {
            return Err(format!("{what}: needs `files:` or `url:`"));
        }
        if l.must_match.is_empty() && l.must_not_match.is_empty() {
            return Err(format!("{what}: needs `must-match:` or `must-not-match:`"));
        }
        log_patterns.push(LogPattern {
            name: l.name.clone(),
            files: l.files.iter().map(|f| (f.clone(), root.join(f))).collect(),
            url: match &l.url {
                Some(u) => Some(url(u, &what, &raw, &hosts, env)?),
                None => None,
            },
            must_not_match: l
                .must_not_match
                .iter()
                .map(|p| compile_re(p, &what))
                .collect::<Result<_, _>>()?,
            must_match: l
                .must_match
                .iter()
                .map(|p| compile_re(p, &what))
                .collect::<Result<_, _>>()?,
        });
    }
    Ok(Checks {
        path: path.to_path_buf(),
        hosts,
        max_iterations: raw.max_iterations.unwrap_or(DEFAULT_MAX_ITERATIONS).max(1),
        health,
        checks,
        log_patterns,
        secrets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_only_allowlisted_names() {
        let env = |k: &str| (k == "APP_URL").then(|| "http://127.0.0.1:9".to_string());
        let allowed = vec!["APP_URL".to_string()];
        assert_eq!(
            expand("${APP_URL}/chat", &allowed, &env).as_deref(),
            Ok("http://127.0.0.1:9/chat")
        );
        let refused = expand("${HOME}/x", &allowed, &env);
        assert!(
            matches!(&refused, Err(e) if e.contains("not in `variables:`")),
            "{refused:?}"
        );
        assert!(expand("${APP_URL", &allowed, &env).is_err());
    }

    #[test]
    fn hosts_with_and_without_port() {
        let hosts = vec!["127.0.0.1".to_string(), "app.example:8443".to_string()];
        let u = |s: &str| reqwest::Url::parse(s).expect("url");
        assert!(host_allowed(&hosts, &u("http://127.0.0.1:1234/")));
        assert!(host_allowed(&hosts, &u("https://APP.example:8443/")));
        assert!(!host_allowed(&hosts, &u("https://app.example/")));
        assert!(!host_allowed(&hosts, &u("http://evil.example/")));
    }
}
