//! The GitHub REST client the toolkit shares.
//!
//! Built on [octocrab](https://docs.rs/octocrab) (its raw `_get`/`_post`/`_patch` calls), with
//! what octocrab leaves to the caller done here:
//!
//! - **Base URL** from `GITHUB_API_URL` (default `https://api.github.com`; GitHub Enterprise
//!   Server uses `https://HOST/api/v3`; tests use a loopback server).
//! - **Token** from `GITHUB_TOKEN`, else `GH_TOKEN`, held as a [`Token`] that prints `***`.
//!   octocrab sends it only to the API host (relative paths), never to a redirect target.
//! - **User-Agent** `ci-remedy/<version>`, `Accept: application/vnd.github+json` and
//!   `X-GitHub-Api-Version: 2022-11-28`.
//! - **Pagination**: `Link: <…>; rel="next"` is followed only when it points at the same API
//!   origin and path prefix, and only up to a page cap.
//! - **Retries** for what GitHub documents as retryable ("Best practices for using the REST API",
//!   "Rate limits for the REST API"): HTTP 5xx and connection errors (idempotent requests only),
//!   429, and 403 rate limits (primary: `x-ratelimit-remaining: 0`; secondary: the message says
//!   so). The wait is `retry-after` seconds when sent, else until `x-ratelimit-reset` (UTC epoch
//!   seconds) when the remaining count is 0, else [`ClientSettings::secondary_wait`] for a
//!   secondary limit, else an exponential backoff with full jitter. The schedule is a
//!   [`RetryPolicy`] run by the shared driver [`crate::net::retry`] (the one `ci-logs-ship` and
//!   `ci-notify` use): bounded in count and in total time (its budget); a wait that would pass
//!   the budget ends the retries at once with [`ApiError::RateLimited`]. Artifact downloads
//!   from the storage host go through the same driver.
//! - **Clear errors**: 401, 403 (permission), 404 and 410 are returned at once, never retried.
//!
//! Everything a server answers is untrusted: bodies are size-capped, JSON is read into small
//! tolerant wire types ([`types`]), and error messages quote at most 200 characters of it.

pub mod artifacts;
pub mod attempts;
pub mod baseline;
pub mod comment;
pub mod fix_pr;
pub mod history;
pub mod rerun;
pub mod types;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, StatusCode, Uri};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

use crate::net::{parse_retry_after, retry, GaveUp, RetryPolicy, Step, Token, USER_AGENT};
use crate::policy::parse_duration;

/// The default API base URL.
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// The largest JSON answer read: 8 MiB.
pub const MAX_JSON_BYTES: usize = 8 * 1024 * 1024;
/// The most pages followed for one listing.
pub const MAX_PAGES: usize = 20;

/// GitHub API errors. Each names the request (`GET /repos/o/r/...`, never a token) and says
/// what happened; [`ApiError::help`] gives the `help:` line.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Neither `GITHUB_TOKEN` nor `GH_TOKEN` is set (or it is not a valid header value).
    #[error("no GitHub token: set GITHUB_TOKEN or GH_TOKEN")]
    NoToken,
    /// `GITHUB_API_URL` is not an http(s) URL.
    #[error("invalid GITHUB_API_URL {url:?}: {why}")]
    InvalidBase {
        /// The value.
        url: String,
        /// Why.
        why: String,
    },
    /// A `CI_REMEDY_GITHUB_*` variable has a bad value (the message names it).
    #[error("invalid client setting: {why}")]
    InvalidConfig {
        /// The variable and what is wrong with its value.
        why: String,
    },
    /// An argument that goes into a URL is malformed (repository, sha, workflow file).
    #[error("invalid {what} {value:?}: {why}")]
    InvalidArgument {
        /// What it is (`repository`, `head sha`).
        what: &'static str,
        /// The value (control characters escaped).
        value: String,
        /// Why.
        why: String,
    },
    /// HTTP 401: the token is missing, expired or wrong.
    #[error("{request}: 401 unauthorized (the token was refused)")]
    Unauthorized {
        /// `METHOD /path`.
        request: String,
    },
    /// HTTP 403 that is not a rate limit: the token lacks a permission.
    #[error("{request}: 403 forbidden: {message}")]
    Forbidden {
        /// `METHOD /path`.
        request: String,
        /// GitHub's message.
        message: String,
    },
    /// HTTP 404.
    #[error("{request}: 404 not found: {message}")]
    NotFound {
        /// `METHOD /path`.
        request: String,
        /// GitHub's message.
        message: String,
    },
    /// HTTP 410 (an expired artifact, a deleted resource).
    #[error("{request}: 410 gone: {message}")]
    Gone {
        /// `METHOD /path`.
        request: String,
        /// GitHub's message.
        message: String,
    },
    /// A rate limit that outlasted the retry budget (or the retry count).
    #[error("{request}: rate limited ({status}) after {attempts} attempt(s){}: {message}", wait.map(|w| format!("; GitHub asks to wait {}s more", w.as_secs())).unwrap_or_default())]
    RateLimited {
        /// `METHOD /path`.
        request: String,
        /// 403 or 429.
        status: u16,
        /// Requests made.
        attempts: u32,
        /// The wait GitHub asked for that was not waited.
        wait: Option<Duration>,
        /// GitHub's message.
        message: String,
    },
    /// Another non-success status (422 validation failed, 5xx after the retries …).
    #[error("{request}: HTTP {status} after {attempts} attempt(s): {message}")]
    Status {
        /// `METHOD /path`.
        request: String,
        /// The status.
        status: u16,
        /// Requests made.
        attempts: u32,
        /// GitHub's message.
        message: String,
    },
    /// The request could not be sent or the answer not read (after the retries).
    #[error("{request}: {message} (after {attempts} attempt(s))")]
    Transport {
        /// `METHOD /path`.
        request: String,
        /// What failed.
        message: String,
        /// Requests made.
        attempts: u32,
    },
    /// The answer is larger than the cap.
    #[error("{request}: the answer is larger than {limit} bytes")]
    TooLarge {
        /// `METHOD /path`.
        request: String,
        /// The cap, bytes.
        limit: usize,
    },
    /// The answer is not the JSON shape expected.
    #[error("{request}: unexpected answer: {message}")]
    Decode {
        /// `METHOD /path`.
        request: String,
        /// What is wrong.
        message: String,
    },
}

impl ApiError {
    /// A `help:` line for the user.
    pub fn help(&self) -> &'static str {
        match self {
            ApiError::NoToken => "export GITHUB_TOKEN (in a workflow: env: GITHUB_TOKEN: ${{ github.token }}), or GH_TOKEN=$(gh auth token)",
            ApiError::InvalidBase { .. } => "GITHUB_API_URL must look like https://api.github.com or https://HOST/api/v3",
            ApiError::InvalidConfig { .. } => "CI_REMEDY_GITHUB_RETRIES is 0..=20; the other CI_REMEDY_GITHUB_* variables are durations like 500ms, 2s or 1m",
            ApiError::InvalidArgument { .. } => "check the arguments (OWNER/REPO, a 40-hex sha, a workflow file name)",
            ApiError::Unauthorized { .. } => "the token is invalid or expired; create a new one",
            ApiError::Forbidden { .. } => "the token lacks a permission: actions: read for artifacts and logs, actions: write to rerun failed jobs, pull-requests: write for comments and PRs, contents: write for branches",
            ApiError::NotFound { .. } => "check the repository, run or PR number, and that the token can see the repository",
            ApiError::Gone { .. } => "the resource has expired (artifacts are kept for the repository's retention period); re-run the workflow",
            ApiError::RateLimited { .. } => "wait for the rate limit to reset, or raise CI_REMEDY_GITHUB_RETRY_BUDGET",
            ApiError::Status { .. } | ApiError::Transport { .. } => "GitHub may be having problems; try again later (https://www.githubstatus.com)",
            ApiError::TooLarge { .. } | ApiError::Decode { .. } => "the server's answer was not what the GitHub REST API documents",
        }
    }

    /// The HTTP status when the error came from one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Unauthorized { .. } => Some(401),
            ApiError::Forbidden { .. } => Some(403),
            ApiError::NotFound { .. } => Some(404),
            ApiError::Gone { .. } => Some(410),
            ApiError::RateLimited { status, .. } | ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The client's settings. Defaults: 4 retries, 120 s budget, 1 s backoff base (ceilings
/// doubling up to 30 s, full jitter), 60 s for a secondary rate limit without a header, 30 s
/// per request. Each can be changed through the environment (durations like `500ms`, `2s`,
/// `1m`): `CI_REMEDY_GITHUB_RETRIES`, `CI_REMEDY_GITHUB_RETRY_BUDGET`,
/// `CI_REMEDY_GITHUB_BACKOFF`, `CI_REMEDY_GITHUB_SECONDARY_WAIT`, `CI_REMEDY_GITHUB_TIMEOUT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSettings {
    /// The retry schedule: `max_attempts` is the retries + 1, `base_delay` the backoff base,
    /// `budget` the total time (requests and waits) after which no retry starts. GitHub's
    /// own waits (`retry-after`, a rate-limit reset) are bounded by the budget only.
    pub retry: RetryPolicy,
    /// The wait after a secondary rate limit that sends neither `retry-after` nor a reset.
    pub secondary_wait: Duration,
    /// The time allowed for one request, answer included.
    pub timeout: Duration,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            retry: RetryPolicy {
                max_attempts: 5,
                base_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(30),
                max_retry_after: Duration::MAX,
                budget: Some(Duration::from_secs(120)),
            },
            secondary_wait: Duration::from_secs(60),
            timeout: Duration::from_secs(30),
        }
    }
}

impl ClientSettings {
    /// The defaults with the environment's overrides. Errors name the variable.
    pub fn from_env() -> Result<ClientSettings, String> {
        ClientSettings::from_lookup(|k| std::env::var(k).ok())
    }

    /// As [`ClientSettings::from_env`], reading variables through `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<ClientSettings, String> {
        let mut c = ClientSettings::default();
        let dur = |k: &str| -> Result<Option<Duration>, String> {
            get(k)
                .filter(|v| !v.trim().is_empty())
                .map(|v| parse_duration(&v).map_err(|e| format!("{k}: {e}")))
                .transpose()
        };
        if let Some(v) = get("CI_REMEDY_GITHUB_RETRIES").filter(|v| !v.trim().is_empty()) {
            let retries: u32 = v
                .trim()
                .parse()
                .ok()
                .filter(|n| *n <= 20)
                .ok_or_else(|| format!("CI_REMEDY_GITHUB_RETRIES: {v:?} is not 0..=20"))?;
            c.retry.max_attempts = retries + 1;
        }
        if let Some(d) = dur("CI_REMEDY_GITHUB_RETRY_BUDGET")? {
            c.retry.budget = Some(d);
        }
        if let Some(d) = dur("CI_REMEDY_GITHUB_BACKOFF")? {
            c.retry.base_delay = d;
        }
        if let Some(d) = dur("CI_REMEDY_GITHUB_SECONDARY_WAIT")? {
            c.secondary_wait = d;
        }
        if let Some(d) = dur("CI_REMEDY_GITHUB_TIMEOUT")? {
            c.timeout = d;
        }
        if c.timeout.is_zero() {
            return Err("CI_REMEDY_GITHUB_TIMEOUT must be more than 0".into());
        }
        Ok(c)
    }
}

/// `owner/repo`, checked so it can go into a URL path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    /// The owner.
    pub owner: String,
    /// The repository name.
    pub name: String,
}

impl Repo {
    /// Parses `owner/repo`: two parts of ASCII letters, digits, `-`, `_` and `.`, neither `.`
    /// nor `..`, at most 100 bytes each.
    pub fn parse(text: &str) -> Result<Repo, ApiError> {
        let bad = |why: &str| ApiError::InvalidArgument {
            what: "repository",
            value: text
                .chars()
                .take(120)
                .flat_map(char::escape_debug)
                .collect(),
            why: why.to_string(),
        };
        let (owner, name) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| bad("expected OWNER/REPO"))?;
        for part in [owner, name] {
            if part.is_empty()
                || part.len() > 100
                || part == "."
                || part == ".."
                || !part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                return Err(bad(
                    "expected OWNER/REPO of letters, digits, `-`, `_` and `.`",
                ));
            }
        }
        Ok(Repo {
            owner: owner.to_string(),
            name: name.to_string(),
        })
    }

    /// `/repos/owner/repo`.
    pub fn path(&self) -> String {
        format!("/repos/{}/{}", self.owner, self.name)
    }
}

impl std::fmt::Display for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// Checks a commit sha: exactly 40 (SHA-1) or 64 (SHA-256) lowercase or uppercase hex
/// digits, nothing around them, so it can go into a URL or a git command line.
pub fn check_sha(sha: &str) -> Result<&str, ApiError> {
    if crate::digest::is_commit_sha(sha) {
        Ok(sha)
    } else {
        Err(ApiError::InvalidArgument {
            what: "commit sha",
            value: sha.chars().take(80).flat_map(char::escape_debug).collect(),
            why: "expected 40 or 64 hex digits".into(),
        })
    }
}

/// A raw answer: status, headers and the (size-capped) body.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body bytes.
    pub body: Vec<u8>,
}

/// Seconds since the Unix epoch, in milliseconds.
fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// Whether an answer is a rate limit, and how long GitHub asks to wait.
///
/// Returns `None` when it is not a rate limit. For 429, or 403 with `x-ratelimit-remaining: 0`,
/// `retry-after` or a message mentioning a rate limit: `retry-after` seconds when present, else
/// the time until `x-ratelimit-reset` when the remaining count is 0, else `secondary_wait`.
/// `now_ms` is the current time in Unix milliseconds.
pub fn rate_limit_wait(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    secondary_wait: Duration,
    now_ms: u128,
) -> Option<Duration> {
    let retry_after = header(headers, "retry-after").and_then(parse_retry_after);
    let remaining_zero = header(headers, "x-ratelimit-remaining") == Some("0");
    let reset = header(headers, "x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok());
    let says_rate_limit = String::from_utf8_lossy(&body[..body.len().min(4096)])
        .to_ascii_lowercase()
        .contains("rate limit");
    let limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN
            && (retry_after.is_some() || remaining_zero || says_rate_limit));
    if !limited {
        return None;
    }
    if let Some(wait) = retry_after {
        return Some(wait);
    }
    if remaining_zero {
        if let Some(r) = reset {
            let wait = u128::from(r).saturating_mul(1000).saturating_sub(now_ms);
            return Some(Duration::from_millis(
                u64::try_from(wait).unwrap_or(u64::MAX),
            ));
        }
    }
    Some(secondary_wait)
}

/// GitHub's `message` from an error body (at most 200 characters, one line), or the status text.
pub fn error_message(status: StatusCode, body: &[u8]) -> String {
    let msg = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(String::from))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
    crate::text::one_line(&msg.chars().take(200).collect::<String>())
}

/// The `rel="next"` URL of a `Link` header, if any.
pub fn next_link(link: &str) -> Option<String> {
    for part in link.split(',') {
        let mut pieces = part.split(';');
        let url = pieces.next()?.trim();
        let is_next = pieces.any(|p| {
            let p = p.trim().replace(' ', "");
            p == "rel=\"next\"" || p == "rel=next"
        });
        if is_next && url.starts_with('<') && url.ends_with('>') {
            return Some(url[1..url.len() - 1].to_string());
        }
    }
    None
}

/// The shared client: two octocrab instances, built once, on a single-threaded tokio runtime,
/// used through blocking calls: one for the API (with the token), one without a token for
/// downloads from the storage host an artifact redirects to.
pub struct GitHub {
    rt: tokio::runtime::Runtime,
    octo: octocrab::Octocrab,
    plain: octocrab::Octocrab,
    base: Uri,
    base_path: String,
    settings: ClientSettings,
}

impl std::fmt::Debug for GitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHub")
            .field("base", &self.base)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The methods the client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PATCH`.
    Patch,
}

impl Verb {
    /// `GET`, `POST` or `PATCH`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Patch => "PATCH",
        }
    }
}

/// One request: method, path (relative to the API base, with query; absolute for a
/// download) and JSON body.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The method.
    pub method: Verb,
    /// `/repos/…?…`.
    pub path: String,
    /// The JSON body.
    pub body: Option<&'a serde_json::Value>,
    /// Whether repeating it is harmless (GET, PATCH, content-addressed POSTs): only then are
    /// 5xx answers and connection errors retried. Rate limits are always retried (GitHub did
    /// not process the request).
    pub idempotent: bool,
    /// The largest body read.
    pub max_bytes: usize,
    /// Where a successful answer's body goes: `None` keeps it in [`Answer::body`]; a file gets
    /// it streamed, frame by frame (truncated first on every attempt), and `body` stays empty.
    pub sink: Option<&'a std::fs::File>,
}

impl<'a> Request<'a> {
    /// A GET of `path`.
    pub fn get(path: impl Into<String>) -> Request<'a> {
        Request {
            method: Verb::Get,
            path: path.into(),
            body: None,
            idempotent: true,
            max_bytes: MAX_JSON_BYTES,
            sink: None,
        }
    }

    /// A POST of `body` to `path`; `idempotent` as documented on the field.
    pub fn post(path: impl Into<String>, body: &'a serde_json::Value, idempotent: bool) -> Self {
        Request {
            method: Verb::Post,
            path: path.into(),
            body: Some(body),
            idempotent,
            max_bytes: MAX_JSON_BYTES,
            sink: None,
        }
    }

    /// A PATCH of `body` to `path` (idempotent).
    pub fn patch(path: impl Into<String>, body: &'a serde_json::Value) -> Self {
        Request {
            method: Verb::Patch,
            path: path.into(),
            body: Some(body),
            idempotent: true,
            max_bytes: MAX_JSON_BYTES,
            sink: None,
        }
    }

    fn shown(&self) -> String {
        let p = self.path.split('?').next().unwrap_or("");
        format!("{} {}", self.method.as_str(), p)
    }
}

impl GitHub {
    /// A client from the environment: `GITHUB_API_URL`, `GITHUB_TOKEN` / `GH_TOKEN` (required)
    /// and the retry variables ([`ClientSettings::from_env`]).
    pub fn from_env() -> Result<GitHub, ApiError> {
        let token = Token::from_env("GITHUB_TOKEN")
            .or_else(|| Token::from_env("GH_TOKEN"))
            .ok_or(ApiError::NoToken)?;
        let base = std::env::var("GITHUB_API_URL")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_API_URL.to_string());
        let settings = ClientSettings::from_env().map_err(|why| ApiError::InvalidConfig { why })?;
        GitHub::new(&base, Some(token), settings)
    }

    /// A client for `base_url` (`http(s)://host[:port][/prefix]`) with an optional token.
    pub fn new(
        base_url: &str,
        token: Option<Token>,
        settings: ClientSettings,
    ) -> Result<GitHub, ApiError> {
        let invalid = |why: &str| ApiError::InvalidBase {
            url: base_url.chars().take(200).collect(),
            why: why.to_string(),
        };
        let base: Uri = base_url
            .trim()
            .trim_end_matches('/')
            .parse()
            .map_err(|_| invalid("not a URL"))?;
        match base.scheme_str() {
            Some("http") | Some("https") => {}
            _ => return Err(invalid("the scheme must be http or https")),
        }
        if base.authority().is_none() || base.query().is_some() {
            return Err(invalid("expected scheme://host[:port][/path]"));
        }
        let base_path = base.path().trim_end_matches('/').to_string();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| invalid(&format!("cannot start the HTTP runtime: {e}")))?;
        let timeout = Some(settings.timeout);
        let octo = rt.block_on(async {
            let mut b = octocrab::Octocrab::builder()
                .base_uri(base.clone())
                .map_err(|e| invalid(&e.to_string()))?
                .set_connect_timeout(timeout)
                .set_read_timeout(timeout)
                .add_header(http::header::USER_AGENT, USER_AGENT.to_string())
                .add_header(
                    http::header::ACCEPT,
                    "application/vnd.github+json".to_string(),
                )
                .add_header(
                    http::HeaderName::from_static("x-github-api-version"),
                    "2022-11-28".to_string(),
                );
            if let Some(t) = &token {
                b = b.personal_token(t.expose().to_string());
            }
            b.build().map_err(|e| invalid(&e.to_string()))
        })?;
        // No token: storage URLs are pre-signed, and the token must never reach another host.
        // Its requests are absolute URLs; the base only fills in nothing.
        let origin = format!(
            "{}://{}",
            base.scheme_str().unwrap_or("https"),
            base.authority().map(|a| a.as_str()).unwrap_or("")
        );
        let plain = rt.block_on(async {
            octocrab::Octocrab::builder()
                .base_uri(origin.as_str())
                .map_err(|e| invalid(&e.to_string()))?
                .set_connect_timeout(timeout)
                .set_read_timeout(timeout)
                .add_header(http::header::USER_AGENT, USER_AGENT.to_string())
                .build()
                .map_err(|e| invalid(&e.to_string()))
        })?;
        Ok(GitHub {
            rt,
            octo,
            plain,
            base,
            base_path,
            settings,
        })
    }

    /// Sends one request with the retry policy. 2xx and 3xx answers are returned; everything
    /// else becomes an [`ApiError`].
    pub fn send(&self, req: &Request<'_>) -> Result<Answer, ApiError> {
        self.send_via(&self.octo, req, &req.shown())
    }

    /// Sends `req` on `octo` with [`crate::net::retry`] and the settings' policy; `shown`
    /// names the request in errors.
    fn send_via(
        &self,
        octo: &octocrab::Octocrab,
        req: &Request<'_>,
        shown: &str,
    ) -> Result<Answer, ApiError> {
        let result = retry(&self.settings.retry, |attempts| {
            match self.send_once(octo, req) {
                Ok(a) if a.status.is_success() || a.status.is_redirection() => Step::Done(a),
                Ok(a) => self.judge(req, shown, &a, attempts),
                Err(SendError::TooLarge) => Step::Fail(ApiError::TooLarge {
                    request: shown.to_string(),
                    limit: req.max_bytes,
                }),
                Err(SendError::Transport(message)) => {
                    let err = ApiError::Transport {
                        request: shown.to_string(),
                        message,
                        attempts,
                    };
                    if req.idempotent {
                        Step::Retry { after: None, err }
                    } else {
                        Step::Fail(err)
                    }
                }
            }
        });
        result.map_err(|f| match (f.err, f.gave_up) {
            (
                ApiError::RateLimited {
                    request,
                    status,
                    attempts,
                    message,
                    ..
                },
                Some(GaveUp::Budget(wait) | GaveUp::ServerWait(wait)),
            ) => ApiError::RateLimited {
                request,
                status,
                attempts,
                wait: Some(wait),
                message,
            },
            (err, _) => err,
        })
    }

    /// What to do with a non-success answer: retry a rate limit after GitHub's wait (every
    /// request: GitHub did not process it), retry a 5xx of an idempotent request after the
    /// backoff, fail on anything else.
    fn judge(
        &self,
        req: &Request<'_>,
        shown: &str,
        a: &Answer,
        attempts: u32,
    ) -> Step<Answer, ApiError> {
        let request = shown.to_string();
        let message = error_message(a.status, &a.body);
        if let Some(wait) = rate_limit_wait(
            a.status,
            &a.headers,
            &a.body,
            self.settings.secondary_wait,
            now_ms(),
        ) {
            return Step::Retry {
                after: Some(wait),
                err: ApiError::RateLimited {
                    request,
                    status: a.status.as_u16(),
                    attempts,
                    wait: None,
                    message,
                },
            };
        }
        match a.status.as_u16() {
            401 => Step::Fail(ApiError::Unauthorized { request }),
            403 => Step::Fail(ApiError::Forbidden { request, message }),
            404 => Step::Fail(ApiError::NotFound { request, message }),
            410 => Step::Fail(ApiError::Gone { request, message }),
            status => {
                let err = ApiError::Status {
                    request,
                    status,
                    attempts,
                    message,
                };
                if status >= 500 && req.idempotent {
                    Step::Retry { after: None, err }
                } else {
                    Step::Fail(err)
                }
            }
        }
    }

    fn send_once(&self, octo: &octocrab::Octocrab, req: &Request<'_>) -> Result<Answer, SendError> {
        let path = req.path.clone();
        let fut = async {
            let resp = match req.method {
                Verb::Get => octo._get(path.as_str()).await,
                Verb::Post => octo._post(path.as_str(), req.body).await,
                Verb::Patch => octo._patch(path.as_str(), req.body).await,
            }
            .map_err(|e| SendError::Transport(crate::text::one_line(&e.to_string())))?;
            let (parts, body) = resp.into_parts();
            if let (Some(file), true) = (req.sink, parts.status.is_success()) {
                use std::io::Write;
                rewind(file)?;
                let mut body = body;
                let mut out = file;
                let mut written = 0usize;
                while let Some(frame) = body.frame().await {
                    let frame = frame
                        .map_err(|e| SendError::Transport(format!("reading the answer: {e}")))?;
                    if let Some(data) = frame.data_ref() {
                        written = written.saturating_add(data.len());
                        if written > req.max_bytes {
                            return Err(SendError::TooLarge);
                        }
                        out.write_all(data).map_err(|e| {
                            SendError::Transport(format!("writing the download: {e}"))
                        })?;
                    }
                }
                return Ok(Answer {
                    status: parts.status,
                    headers: parts.headers,
                    body: Vec::new(),
                });
            }
            let body = http_body_util::Limited::new(body, req.max_bytes)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        SendError::TooLarge
                    } else {
                        SendError::Transport(format!("reading the answer: {e}"))
                    }
                })?
                .to_bytes()
                .to_vec();
            Ok(Answer {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        let timeout = self.settings.timeout;
        self.rt.block_on(async {
            match tokio::time::timeout(timeout, fut).await {
                Ok(r) => r,
                Err(_) => Err(SendError::Transport(format!(
                    "no answer within {} ms",
                    timeout.as_millis()
                ))),
            }
        })
    }

    /// GET `path` and decode the JSON answer.
    pub fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let req = Request::get(path);
        let a = self.send(&req)?;
        decode(&req, &a.body)
    }

    /// Sends `req` and decodes its JSON answer.
    pub fn json<T: DeserializeOwned>(&self, req: &Request<'_>) -> Result<T, ApiError> {
        let a = self.send(req)?;
        decode(req, &a.body)
    }

    /// GETs every page of a listing (`per_page=100` is added), following `Link: rel="next"`
    /// (same origin and API path prefix only) up to `max_pages`, and concatenates the items:
    /// the answer itself when it is an array, else its `key` field (`artifacts`,
    /// `workflow_runs`). Stops early once `max_items` items were read.
    pub fn get_list<T: DeserializeOwned>(
        &self,
        path: &str,
        key: Option<&str>,
        max_pages: usize,
        max_items: usize,
    ) -> Result<Vec<T>, ApiError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut next = Some(format!("{path}{sep}per_page=100"));
        let mut items = Vec::new();
        let mut pages = 0;
        while let Some(p) = next.take() {
            pages += 1;
            let req = Request::get(p);
            let a = self.send(&req)?;
            let value: serde_json::Value = decode(&req, &a.body)?;
            let list = match key {
                Some(k) => value.get(k).cloned().unwrap_or(serde_json::Value::Null),
                None => value,
            };
            let page: Vec<T> = serde_json::from_value(list).map_err(|e| ApiError::Decode {
                request: req.shown(),
                message: format!(
                    "not a list{}: {e}",
                    key.map(|k| format!(" in `{k}`")).unwrap_or_default()
                ),
            })?;
            items.extend(page);
            if items.len() >= max_items || pages >= max_pages {
                items.truncate(max_items);
                break;
            }
            if let Some(link) = header(&a.headers, "link").and_then(next_link) {
                next = Some(self.relative(&link).ok_or_else(|| ApiError::Decode {
                    request: req.shown(),
                    message: "the Link header's next page is not on the API host".into(),
                })?);
            }
        }
        Ok(items)
    }

    /// `url` as a path relative to the API base, when it has the same scheme, host and path
    /// prefix.
    pub fn relative(&self, url: &str) -> Option<String> {
        let u: Uri = url.parse().ok()?;
        if u.scheme() != self.base.scheme() || u.authority() != self.base.authority() {
            return None;
        }
        let pq = u.path_and_query()?.as_str();
        let rest = pq.strip_prefix(self.base_path.as_str())?;
        rest.starts_with('/').then(|| rest.to_string())
    }

    /// GETs `path`, which answers with a redirect (`302 Location`) to a download URL, and
    /// downloads that URL WITHOUT the token (a pre-signed storage URL; the token-less client),
    /// reading at most `max_bytes`, retried like any request (5xx, connection errors, rate
    /// limits and `retry-after`, within the same budget). The location must be `https`, or on
    /// the API's own scheme and host.
    pub fn download_redirect(&self, path: &str, max_bytes: usize) -> Result<Vec<u8>, ApiError> {
        self.download_via_redirect(path, max_bytes, None)
    }

    /// As [`GitHub::download_redirect`], but the file is streamed into `file` (truncated
    /// first; nothing is held in memory). Returns the bytes written. On an error the file's
    /// contents are unspecified (the caller discards it).
    pub fn download_redirect_to_file(
        &self,
        path: &str,
        max_bytes: usize,
        file: &std::fs::File,
    ) -> Result<u64, ApiError> {
        self.download_via_redirect(path, max_bytes, Some(file))?;
        file.metadata()
            .map(|m| m.len())
            .map_err(|e| ApiError::Transport {
                request: format!("GET {}", path.split('?').next().unwrap_or("")),
                message: format!("reading the downloaded file's size: {e}"),
                attempts: 1,
            })
    }

    fn download_via_redirect(
        &self,
        path: &str,
        max_bytes: usize,
        sink: Option<&std::fs::File>,
    ) -> Result<Vec<u8>, ApiError> {
        let mut req = Request::get(path);
        req.sink = sink;
        req.max_bytes = req.max_bytes.max(max_bytes);
        let a = self.send(&req)?;
        if a.status.is_success() {
            if a.body.len() > max_bytes {
                return Err(ApiError::TooLarge {
                    request: req.shown(),
                    limit: max_bytes,
                });
            }
            return Ok(a.body);
        }
        let bad = |message: &str| ApiError::Decode {
            request: req.shown(),
            message: message.to_string(),
        };
        let location =
            header(&a.headers, "location").ok_or_else(|| bad("a redirect without a Location"))?;
        let target: Uri = if location.starts_with('/') {
            format!(
                "{}://{}{}",
                self.base.scheme_str().unwrap_or("https"),
                self.base.authority().map(|a| a.as_str()).unwrap_or(""),
                location
            )
            .parse()
            .map_err(|_| bad("the Location is not a URL"))?
        } else {
            location
                .parse()
                .map_err(|_| bad("the Location is not a URL"))?
        };
        let same_origin =
            target.scheme() == self.base.scheme() && target.authority() == self.base.authority();
        if target.scheme_str() != Some("https") && !same_origin {
            return Err(bad(
                "the download Location is neither https nor on the API host",
            ));
        }
        let authority = target
            .authority()
            .ok_or_else(|| bad("the Location has no host"))?
            .clone();
        let dl = Request {
            method: Verb::Get,
            path: target.to_string(),
            body: None,
            idempotent: true,
            max_bytes,
            sink,
        };
        let shown = format!("GET {} (download for {})", authority, req.shown());
        let a = self.send_via(&self.plain, &dl, &shown)?;
        if !a.status.is_success() {
            return Err(ApiError::Decode {
                request: shown,
                message: format!(
                    "the download answered HTTP {}, not the file (a second redirect is not followed)",
                    a.status.as_u16()
                ),
            });
        }
        Ok(a.body)
    }
}

enum SendError {
    Transport(String),
    TooLarge,
}

/// Prepares `file` for a download attempt: truncated, at its start, so a retried download
/// never appends to an earlier attempt's bytes.
fn rewind(file: &std::fs::File) -> Result<(), SendError> {
    use std::io::{Seek, SeekFrom};
    let mut f = file;
    f.set_len(0)
        .and_then(|()| f.seek(SeekFrom::Start(0)).map(drop))
        .map_err(|e| SendError::Transport(format!("writing the download: {e}")))
}

fn decode<T: DeserializeOwned>(req: &Request<'_>, body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::Decode {
        request: req.shown(),
        message: format!("not the documented JSON: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header value"));
        }
        h
    }

    #[test]
    fn link_header_next() {
        let l = r#"<https://api.github.com/repositories/1/issues?page=2>; rel="next", <https://api.github.com/repositories/1/issues?page=5>; rel="last""#;
        assert_eq!(
            next_link(l).as_deref(),
            Some("https://api.github.com/repositories/1/issues?page=2")
        );
        assert_eq!(next_link(r#"<https://x/?page=1>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn rate_limit_waits() {
        let sec = Duration::from_secs(60);
        // Secondary limit with retry-after.
        let h = headers(&[("retry-after", "3")]);
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &h, b"{}", sec, 0),
            Some(Duration::from_secs(3))
        );
        // Primary limit: wait until the reset.
        let h = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "100")]);
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &h, b"{}", sec, 98_500),
            Some(Duration::from_millis(1500))
        );
        // A reset in the past: no wait.
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &h, b"{}", sec, 200_000),
            Some(Duration::ZERO)
        );
        // Secondary limit by message only.
        let body = br#"{"message":"You have exceeded a secondary rate limit."}"#;
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &HeaderMap::new(), body, sec, 0),
            Some(sec)
        );
        // A permission error is not a rate limit.
        let body = br#"{"message":"Resource not accessible by integration"}"#;
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &HeaderMap::new(), body, sec, 0),
            None
        );
        assert_eq!(
            rate_limit_wait(
                StatusCode::TOO_MANY_REQUESTS,
                &HeaderMap::new(),
                b"",
                sec,
                0
            ),
            Some(sec)
        );
        assert_eq!(
            rate_limit_wait(StatusCode::NOT_FOUND, &h, b"", sec, 0),
            None
        );
    }

    #[test]
    fn shas() {
        assert!(check_sha(&"a".repeat(40)).is_ok());
        assert!(check_sha(&"A".repeat(64)).is_ok());
        for bad in [
            " ".to_string() + &"a".repeat(40),
            "a".repeat(41),
            "g".repeat(40),
        ] {
            assert!(check_sha(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn repo_names() {
        assert!(Repo::parse("octo/hello-world.rs").is_ok());
        for bad in ["octo", "../x", "o/..", "o/r/x", "o/r?x", "o /r", "/r"] {
            assert!(Repo::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn relative_links_stay_on_the_api() {
        let gh = GitHub::new(
            "https://ghe.example/api/v3",
            None,
            ClientSettings::default(),
        )
        .expect("client");
        assert_eq!(
            gh.relative("https://ghe.example/api/v3/repos/o/r/issues?page=2")
                .as_deref(),
            Some("/repos/o/r/issues?page=2")
        );
        assert_eq!(gh.relative("https://evil.example/api/v3/repos"), None);
        assert_eq!(gh.relative("http://ghe.example/api/v3/repos"), None);
        assert_eq!(gh.relative("https://ghe.example/other"), None);
    }

    #[test]
    fn settings_from_env() {
        let c = ClientSettings::from_lookup(|k| match k {
            "CI_REMEDY_GITHUB_RETRIES" => Some("2".into()),
            "CI_REMEDY_GITHUB_BACKOFF" => Some("10ms".into()),
            "CI_REMEDY_GITHUB_RETRY_BUDGET" => Some("3s".into()),
            _ => None,
        })
        .expect("config");
        assert_eq!(c.retry.max_attempts, 3);
        assert_eq!(c.retry.base_delay, Duration::from_millis(10));
        assert_eq!(c.retry.budget, Some(Duration::from_secs(3)));
        assert!(ClientSettings::from_lookup(
            |k| (k == "CI_REMEDY_GITHUB_RETRIES").then(|| "x".into())
        )
        .is_err());
    }
}
