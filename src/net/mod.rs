//! HTTP client policy shared by the client binaries (`ci-logs-ship`, `ci-notify`), the
//! Cloud-Agent forwarder and the GitHub client: connect and total timeouts, ONE retry
//! mechanism ([`RetryPolicy`] and [`retry`]: bounded attempts and total time, exponential
//! backoff with full jitter, server-requested waits such as `Retry-After`), bounded response
//! bodies, and bearer [`Token`]s that never print.
//!
//! What [`HttpClient::post_json`] retries (and nothing else): connection errors, HTTP 5xx and
//! HTTP 429, and — when the request may be sent twice ([`Resend::Always`]) — timeouts and
//! answers that broke off. Other 4xx answers are returned at once. Errors never contain the
//! request URL (a webhook URL is a secret); they name the target by a caller-given label.

mod token;

pub use token::Token;

use std::io::Read;
use std::time::{Duration, Instant};

/// The `User-Agent` every request sends (this client and the GitHub client):
/// `ci-remedy/<version>`.
pub const USER_AGENT: &str = concat!("ci-remedy/", env!("CARGO_PKG_VERSION"));

/// Retry schedule: at most `max_attempts` requests; before retry `n` (1-based) a wait the
/// server asked for (`Retry-After`, a rate-limit reset) when it asked at most
/// `max_retry_after`, else a random time in `0..=min(max_delay, base_delay * 2^(n-1))` (full
/// jitter); and, with a `budget`, no retry whose wait would end after the budget (counted
/// from the first request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total requests, at least 1 (1 = no retry).
    pub max_attempts: u32,
    /// The first backoff ceiling.
    pub base_delay: Duration,
    /// The largest backoff ceiling.
    pub max_delay: Duration,
    /// The longest wait a server may ask for; a server asking for more ends the retries
    /// ([`GaveUp::ServerWait`]).
    pub max_retry_after: Duration,
    /// Total time (requests and waits) after which no retry starts ([`GaveUp::Budget`]);
    /// `None`: only the attempts bound the time.
    pub budget: Option<Duration>,
}

impl Default for RetryPolicy {
    /// 4 attempts, backoff ceilings 500 ms, 1 s, 2 s (at most 8 s), `Retry-After` up to 30 s,
    /// no time budget.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
            budget: None,
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
        let ceiling = u64::try_from(self.ceiling(retry).as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::random_range(0..=ceiling))
    }
}

/// What one attempt of [`retry`]'s operation came to.
#[derive(Debug)]
pub enum Step<T, E> {
    /// Success: return `T`.
    Done(T),
    /// A failure that a retry cannot help: return `E` at once.
    Fail(E),
    /// A failure worth another attempt: after the wait the server asked for (`Some`), else
    /// after the policy's backoff. `err` is returned when no retry follows.
    Retry {
        /// The wait the server asked for (`Retry-After`, a rate-limit reset).
        after: Option<Duration>,
        /// The error of this attempt.
        err: E,
    },
}

/// Why [`retry`] stopped after a retryable failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GaveUp {
    /// `max_attempts` requests were made.
    Attempts,
    /// The server asked to wait this long, more than `max_retry_after`.
    ServerWait(Duration),
    /// Waiting this long would pass the budget.
    Budget(Duration),
}

/// The error [`retry`] ends with.
#[derive(Debug)]
pub struct Failure<E> {
    /// The last attempt's error.
    pub err: E,
    /// Attempts made, 1-based.
    pub attempts: u32,
    /// Why no retry followed; `None` when the operation answered [`Step::Fail`].
    pub gave_up: Option<GaveUp>,
}

/// Runs `op(attempt)` (attempt 1-based) until it answers [`Step::Done`] or [`Step::Fail`],
/// or a [`Step::Retry`] may not be retried under `policy` (checked in this order: the server's
/// wait against `max_retry_after`, the wait against the budget, the attempts). Sleeps between
/// attempts (blocking; do not call from an async task).
pub fn retry<T, E>(
    policy: &RetryPolicy,
    mut op: impl FnMut(u32) -> Step<T, E>,
) -> Result<T, Failure<E>> {
    let start = Instant::now();
    let max_attempts = policy.max_attempts.max(1);
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let (after, err) = match op(attempt) {
            Step::Done(v) => return Ok(v),
            Step::Fail(err) => {
                return Err(Failure {
                    err,
                    attempts: attempt,
                    gave_up: None,
                })
            }
            Step::Retry { after, err } => (after, err),
        };
        let wait = after.unwrap_or_else(|| policy.backoff(attempt));
        let gave_up = if after.is_some_and(|w| w > policy.max_retry_after) {
            Some(GaveUp::ServerWait(wait))
        } else if policy
            .budget
            .is_some_and(|b| start.elapsed().saturating_add(wait) > b)
        {
            Some(GaveUp::Budget(wait))
        } else if attempt >= max_attempts {
            Some(GaveUp::Attempts)
        } else {
            None
        };
        if let Some(g) = gave_up {
            return Err(Failure {
                err,
                attempts: attempt,
                gave_up: Some(g),
            });
        }
        std::thread::sleep(wait);
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

/// Whether a request that may already have reached the server is sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    /// Sending it twice is harmless (the receiver stores or classifies the payload again):
    /// timeouts and answers that broke off are retried too.
    Always,
    /// Sending it twice is visible (a second chat message): retried only when the server
    /// refused it (429, 5xx) or the connection could not be opened (nothing was sent). A
    /// timeout while waiting for the answer, or an answer that broke off, is NOT retried: the
    /// server may have acted on the request.
    IfRefused,
}

/// How a request carries its token.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    /// No token.
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(&'a Token),
    /// `<header>: <token>` (e.g. `x-api-key`).
    Header(&'static str, &'a Token),
}

/// A blocking HTTP client for one target, built once (its connection pool is reused across
/// requests) with `cfg`'s timeouts, no redirects (a redirect could carry the bearer token
/// elsewhere) and [`USER_AGENT`].
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::blocking::Client,
    cfg: ClientConfig,
}

impl HttpClient {
    /// Builds the client. Must not be called from an async task (reqwest's blocking client
    /// starts its own runtime); from `spawn_blocking` or plain threads it is fine.
    ///
    /// Errors: the TLS backend could not be set up (the message).
    pub fn new(cfg: ClientConfig) -> Result<HttpClient, String> {
        let client = reqwest::blocking::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| e.without_url().to_string())?;
        Ok(HttpClient { client, cfg })
    }

    /// The settings the client was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    /// POSTs `body` as `application/json` to `url` with `Authorization: Bearer <token>` when a
    /// token is given, retrying with [`retry`] and the config's [`RetryPolicy`]: connection
    /// errors, 429 and 5xx always (a `Retry-After` in seconds is honoured up to
    /// `max_retry_after`; a longer one ends the retries, noted in [`NetError::Status`]),
    /// timeouts and broken-off answers only with [`Resend::Always`]. `target` names the
    /// service in errors (the URL never appears in them). Blocks; do not call from an async
    /// task.
    ///
    /// Returns the first 2xx answer. Errors: [`NetError`].
    pub fn post_json(
        &self,
        url: &str,
        token: Option<&Token>,
        body: &[u8],
        target: &str,
        resend: Resend,
    ) -> Result<Response, NetError> {
        let auth = match token {
            Some(t) => Auth::Bearer(t),
            None => Auth::None,
        };
        self.post_json_auth(url, auth, &[], body, target, resend)
    }

    /// [`HttpClient::post_json`] with the token in the header `auth` names (an API that wants
    /// `x-api-key: <token>` rather than a bearer token) and constant `extra` headers (such as
    /// `anthropic-version`). Same retries, limits and errors.
    pub fn post_json_auth(
        &self,
        url: &str,
        auth: Auth<'_>,
        extra: &[(&'static str, &'static str)],
        body: &[u8],
        target: &str,
        resend: Resend,
    ) -> Result<Response, NetError> {
        let parsed = parse_url(url, target)?;
        let limit = self.cfg.max_response_bytes;
        let outcome = retry(&self.cfg.retry, |attempt| {
            let unreachable = |reason: String| NetError::Unreachable {
                target: target.to_string(),
                attempts: attempt,
                reason,
            };
            let mut req = self
                .client
                .post(parsed.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(reqwest::header::ACCEPT, "application/json")
                .body(body.to_vec());
            for (k, v) in extra {
                req = req.header(*k, *v);
            }
            match auth {
                Auth::None => {}
                Auth::Bearer(t) => req = req.bearer_auth(t.expose()),
                Auth::Header(name, t) => req = req.header(name, t.expose()),
            }
            let resp = match req.send() {
                Ok(r) => r,
                // A connection that could not be opened carried nothing; after that the
                // server may have the request.
                Err(e) if e.is_connect() || resend == Resend::Always => {
                    return Step::Retry {
                        after: None,
                        err: unreachable(describe(&e)),
                    }
                }
                Err(e) => return Step::Fail(unreachable(describe(&e))),
            };
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
            let body = match read_bounded(resp, limit) {
                Ok(b) => b,
                Err(ReadError::TooLarge) => {
                    return Step::Fail(NetError::TooLarge {
                        target: target.to_string(),
                        limit,
                        attempts: attempt,
                    })
                }
                Err(ReadError::Io(reason)) if resend == Resend::Always => {
                    return Step::Retry {
                        after: None,
                        err: unreachable(reason),
                    }
                }
                Err(ReadError::Io(reason)) => return Step::Fail(unreachable(reason)),
            };
            if (200..300).contains(&status) {
                return Step::Done(Response {
                    status,
                    content_type,
                    body,
                    attempts: attempt,
                });
            }
            let err = NetError::Status {
                target: target.to_string(),
                status,
                attempts: attempt,
                retry_note: None,
                body_head: String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
            };
            if status == 429 || (500..600).contains(&status) {
                Step::Retry {
                    after: retry_after,
                    err,
                }
            } else {
                Step::Fail(err)
            }
        });
        outcome.map_err(|f| match (f.err, f.gave_up) {
            (
                NetError::Status {
                    target,
                    status,
                    attempts,
                    body_head,
                    ..
                },
                Some(GaveUp::ServerWait(wait)),
            ) => NetError::Status {
                target,
                status,
                attempts,
                retry_note: Some(format!(
                    "Retry-After {}s is longer than the {}s allowed",
                    wait.as_secs(),
                    self.cfg.retry.max_retry_after.as_secs()
                )),
                body_head,
            },
            (err, _) => err,
        })
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
            budget: None,
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
        let client = HttpClient::new(ClientConfig {
            connect_timeout: Duration::from_millis(200),
            timeout: Duration::from_millis(500),
            retry: RetryPolicy {
                max_attempts: 2,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(1),
                max_retry_after: Duration::from_secs(1),
                budget: None,
            },
            max_response_bytes: 10,
        })
        .expect("client");
        // A refused connection sent nothing: retried even when resending is not safe.
        let e = client
            .post_json(
                "http://127.0.0.1:1/secret-path",
                None,
                b"{}",
                "the webhook",
                Resend::IfRefused,
            )
            .expect_err("nothing listens on port 1");
        assert_eq!(e.attempts(), 2);
        assert!(!e.to_string().contains("secret-path"), "{e}");
        assert!(e.to_string().starts_with("the webhook unreachable"), "{e}");
    }

    fn fast(max_attempts: u32, budget: Option<Duration>) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
            max_retry_after: Duration::from_millis(50),
            budget,
        }
    }

    #[test]
    fn retry_stops_for_the_first_reason_that_applies() {
        // Done after two retries.
        let mut calls = 0;
        let r: Result<u32, Failure<&str>> = retry(&fast(4, None), |a| {
            calls += 1;
            if a < 3 {
                Step::Retry {
                    after: None,
                    err: "again",
                }
            } else {
                Step::Done(a)
            }
        });
        assert_eq!(r.expect("done"), 3);
        assert_eq!(calls, 3);
        // Fail is returned at once.
        let f = retry(&fast(4, None), |_| Step::<(), _>::Fail("no")).expect_err("fail");
        assert_eq!((f.err, f.attempts, f.gave_up), ("no", 1, None));
        // The attempts run out.
        let again = |_| Step::<(), _>::Retry {
            after: None,
            err: "again",
        };
        let f = retry(&fast(3, None), again).expect_err("attempts");
        assert_eq!((f.attempts, f.gave_up), (3, Some(GaveUp::Attempts)));
        // A server wait longer than allowed ends the retries at once.
        let long = |_| Step::<(), _>::Retry {
            after: Some(Duration::from_secs(60)),
            err: "slow down",
        };
        let f = retry(&fast(3, None), long).expect_err("server wait");
        assert_eq!(
            (f.attempts, f.gave_up),
            (1, Some(GaveUp::ServerWait(Duration::from_secs(60))))
        );
        // A wait that would pass the budget too.
        let mut p = fast(3, Some(Duration::from_millis(20)));
        p.max_retry_after = Duration::from_secs(3600);
        let f = retry(&p, long).expect_err("budget");
        assert_eq!(
            (f.attempts, f.gave_up),
            (1, Some(GaveUp::Budget(Duration::from_secs(60))))
        );
        // A server wait within the limits is waited.
        let started = Instant::now();
        let r = retry(&fast(2, None), |a| {
            if a == 1 {
                Step::Retry {
                    after: Some(Duration::from_millis(30)),
                    err: "wait",
                }
            } else {
                Step::Done(())
            }
        });
        assert!(r.is_ok());
        assert!(started.elapsed() >= Duration::from_millis(30));
    }
}
