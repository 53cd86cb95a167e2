//! HTTP client policy shared by the client binaries (`ci-logs-ship`, `ci-notify`) and the
//! Cloud-Agent forwarder: connect and total timeouts, bounded retries with exponential backoff
//! and full jitter, `Retry-After`, bounded response bodies, and bearer [`Token`]s that never
//! print.
//!
//! What is retried (and nothing else): connection errors, timeouts, HTTP 5xx and HTTP 429.
//! Other 4xx answers are returned at once. Errors never contain the request URL (a webhook URL
//! is a secret); they name the target by a caller-given label.

mod token;

pub use token::Token;

use std::io::Read;
use std::time::Duration;

/// The `User-Agent` every request sends: `ci-remedy/<version>`.
pub const USER_AGENT: &str = concat!("ci-remedy/", env!("CARGO_PKG_VERSION"));

/// Retry schedule: at most `max_attempts` requests, waiting a random time in
/// `0..=min(max_delay, base_delay * 2^(n-1))` before retry `n` (full jitter), or what the
/// server's `Retry-After` asks when it asks at most `max_retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total requests, at least 1 (1 = no retry).
    pub max_attempts: u32,
    /// The first backoff ceiling.
    pub base_delay: Duration,
    /// The largest backoff ceiling.
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured; a server asking for more ends the retries.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, backoff ceilings 500 ms, 1 s, 2 s (at most 8 s), `Retry-After` up to 30 s.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The backoff ceiling before retry `retry` (1-based): `base_delay * 2^(retry-1)`, capped
    /// at `max_delay`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let shift = retry.saturating_sub(1).min(20);
        self.base_delay
            .saturating_mul(1u32 << shift)
            .min(self.max_delay)
    }

    /// A jittered wait before retry `retry` (1-based): uniform in `0..=ceiling(retry)`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry).as_millis() as u64;
        Duration::from_millis(rand::random_range(0..=ceiling))
    }
}

/// Connection settings for one target.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Time allowed to open the TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Time allowed for one whole request: connect, send, and read the answer.
    pub timeout: Duration,
    /// The retry schedule.
    pub retry: RetryPolicy,
    /// The largest answer body read, in bytes; a larger one is [`NetError::TooLarge`].
    pub max_response_bytes: u64,
}

impl Default for ClientConfig {
    /// Connect 5 s, total 30 s, [`RetryPolicy::default`], answers up to 4 MiB.
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            max_response_bytes: 4 * 1024 * 1024,
        }
    }
}

/// An HTTP answer with a 2xx status (or a non-retryable 4xx, see [`NetError::Status`]).
#[derive(Debug, Clone)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header, when present and printable.
    pub content_type: Option<String>,
    /// The body, at most `max_response_bytes`.
    pub body: Vec<u8>,
    /// Requests made, 1-based.
    pub attempts: u32,
}

/// Why a request produced no usable answer. Display never contains the URL.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The URL is not a valid `http`/`https` URL.
    #[error("{target}: invalid URL: {reason}")]
    InvalidUrl {
        /// The caller's label for the target.
        target: String,
        /// What is wrong.
        reason: String,
    },
    /// Connection errors or timeouts until the attempts ran out.
    #[error("{target} unreachable after {attempts} attempt(s): {reason}")]
    Unreachable {
        /// The caller's label for the target.
        target: String,
        /// Requests made.
        attempts: u32,
        /// The last error, without the URL.
        reason: String,
    },
    /// A status that is not 2xx: a 4xx other than 429 at once, or a 5xx/429 after the
    /// attempts ran out (or a `Retry-After` longer than allowed).
    #[error("{target} answered HTTP {status} after {attempts} attempt(s){}", retry_note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default())]
    Status {
        /// The caller's label for the target.
        target: String,
        /// The HTTP status.
        status: u16,
        /// Requests made.
        attempts: u32,
        /// Why retries stopped early, when they did.
        retry_note: Option<String>,
        /// The first bytes of the body (untrusted; print via `quote_untrusted`).
        body_head: String,
    },
    /// The answer body is larger than `max_response_bytes`.
    #[error("{target} answered more than {limit} bytes")]
    TooLarge {
        /// The caller's label for the target.
        target: String,
        /// The limit in bytes.
        limit: u64,
        /// Requests made.
        attempts: u32,
    },
}

impl NetError {
    /// Requests made before this error (0 for an invalid URL).
    pub fn attempts(&self) -> u32 {
        match self {
            NetError::InvalidUrl { .. } => 0,
            NetError::Unreachable { attempts, .. }
            | NetError::Status { attempts, .. }
            | NetError::TooLarge { attempts, .. } => *attempts,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            NetError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Parses a `Retry-After` value given in delta-seconds (`"120"`). The HTTP-date form is not
/// parsed (`None`): the caller then falls back to its own backoff.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Checks that `url` is an absolute `http` or `https` URL and returns it parsed.
pub fn parse_url(url: &str, target: &str) -> Result<reqwest::Url, NetError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| NetError::InvalidUrl {
        target: target.to_string(),
        reason: e.to_string(),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(NetError::InvalidUrl {
            target: target.to_string(),
            reason: format!("scheme {:?} is not http or https", parsed.scheme()),
        });
    }
    Ok(parsed)
}

/// Builds a blocking client with `cfg`'s timeouts, no redirects (a redirect could carry the
/// bearer token elsewhere) and [`USER_AGENT`].
pub fn blocking_client(cfg: &ClientConfig) -> Result<reqwest::blocking::Client, String> {
    reqwest::blocking::Client::builder()
        .connect_timeout(cfg.connect_timeout)
        .timeout(cfg.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(USER_AGENT)
        .build()
        .map_err(|e| e.without_url().to_string())
}

/// POSTs `body` as `application/json` to `url` with `Authorization: Bearer <token>` when a
/// token is given, retrying as [`RetryPolicy`] says. `target` names the service in errors
/// (the URL never appears in them). Blocks; do not call from an async task.
///
/// Returns the first 2xx answer. Errors: [`NetError`].
pub fn post_json(
    url: &str,
    token: Option<&Token>,
    body: &[u8],
    cfg: &ClientConfig,
    target: &str,
) -> Result<Response, NetError> {
    let parsed = parse_url(url, target)?;
    let client = blocking_client(cfg).map_err(|reason| NetError::Unreachable {
        target: target.to_string(),
        attempts: 0,
        reason,
    })?;
    let attempts_max = cfg.retry.max_attempts.max(1);
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let mut req = client
            .post(parsed.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body.to_vec());
        if let Some(t) = token {
            req = req.bearer_auth(t.expose());
        }
        let outcome = req.send();
        let (reason, wait_hint, last_status) = match outcome {
            Err(e) => (describe(&e), None, None),
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
                let content_type = resp
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                match read_bounded(resp, cfg.max_response_bytes) {
                    Err(ReadError::TooLarge) => {
                        return Err(NetError::TooLarge {
                            target: target.to_string(),
                            limit: cfg.max_response_bytes,
                            attempts: attempt,
                        })
                    }
                    Err(ReadError::Io(reason)) => (reason, None, None),
                    Ok(body) => {
                        if (200..300).contains(&status) {
                            return Ok(Response {
                                status,
                                content_type,
                                body,
                                attempts: attempt,
                            });
                        }
                        let head =
                            String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned();
                        if status != 429 && !(500..600).contains(&status) {
                            return Err(NetError::Status {
                                target: target.to_string(),
                                status,
                                attempts: attempt,
                                retry_note: None,
                                body_head: head,
                            });
                        }
                        if let Some(ra) = retry_after.filter(|ra| *ra > cfg.retry.max_retry_after) {
                            return Err(NetError::Status {
                                target: target.to_string(),
                                status,
                                attempts: attempt,
                                retry_note: Some(format!(
                                    "Retry-After {}s is longer than the {}s allowed",
                                    ra.as_secs(),
                                    cfg.retry.max_retry_after.as_secs()
                                )),
                                body_head: head,
                            });
                        }
                        (format!("HTTP {status}"), retry_after, Some((status, head)))
                    }
                }
            }
        };
        if attempt >= attempts_max {
            return Err(match last_status {
                Some((status, body_head)) => NetError::Status {
                    target: target.to_string(),
                    status,
                    attempts: attempt,
                    retry_note: None,
                    body_head,
                },
                None => NetError::Unreachable {
                    target: target.to_string(),
                    attempts: attempt,
                    reason,
                },
            });
        }
        let wait = wait_hint.unwrap_or_else(|| cfg.retry.backoff(attempt));
        std::thread::sleep(wait);
    }
}

enum ReadError {
    TooLarge,
    Io(String),
}

fn read_bounded(resp: reqwest::blocking::Response, limit: u64) -> Result<Vec<u8>, ReadError> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(ReadError::TooLarge);
    }
    let mut body = Vec::new();
    resp.take(limit.saturating_add(1))
        .read_to_end(&mut body)
        .map_err(|e| ReadError::Io(format!("reading the answer failed: {e}")))?;
    if body.len() as u64 > limit {
        return Err(ReadError::TooLarge);
    }
    Ok(body)
}

/// A reqwest error without its URL, with the kind first.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut msg = kind.to_string();
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_within_the_cap() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(1),
        };
        assert_eq!(p.ceiling(1), Duration::from_millis(100));
        assert_eq!(p.ceiling(2), Duration::from_millis(200));
        assert_eq!(p.ceiling(3), Duration::from_millis(400));
        assert_eq!(p.ceiling(4), Duration::from_millis(500));
        assert_eq!(p.ceiling(60), Duration::from_millis(500));
        for retry in 1..8 {
            assert!(p.backoff(retry) <= p.ceiling(retry));
        }
        // Full jitter: not always the ceiling.
        let distinct: std::collections::BTreeSet<_> = (0..50).map(|_| p.backoff(4)).collect();
        assert!(distinct.len() > 1);
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn only_http_urls_are_accepted_and_errors_hide_them() {
        assert!(parse_url("https://example.test/x", "svc").is_ok());
        let e = parse_url("file:///etc/passwd", "svc").expect_err("file");
        assert!(e.to_string().starts_with("svc: invalid URL"), "{e}");
        let e = post_json(
            "http://127.0.0.1:1/secret-path",
            None,
            b"{}",
            &ClientConfig {
                connect_timeout: Duration::from_millis(200),
                timeout: Duration::from_millis(500),
                retry: RetryPolicy {
                    max_attempts: 2,
                    base_delay: Duration::from_millis(1),
                    max_delay: Duration::from_millis(1),
                    max_retry_after: Duration::from_secs(1),
                },
                max_response_bytes: 10,
            },
            "the webhook",
        )
        .expect_err("nothing listens on port 1");
        assert_eq!(e.attempts(), 2);
        assert!(!e.to_string().contains("secret-path"), "{e}");
        assert!(e.to_string().starts_with("the webhook unreachable"), "{e}");
    }
}
