//! The `developer-agent` HTTP server: both roles of the reference design in one binary.
//!
//! - `POST /api/ci/logs` (Cloud-Agent): bearer `AGENT_TOKEN`; validates the payload, then
//!   forwards it to the configured Developer-Agent URL with `DEVELOPER_AGENT_TOKEN`, or handles
//!   it locally when none is configured; answers `{"status":"received","upstream":<answer>}`.
//! - `POST /process-logs` (Developer-Agent): bearer `DEVELOPER_AGENT_TOKEN` (or `AGENT_TOKEN`
//!   when only that is set); validates, stores under `<data-dir>/logs/<run_id>/`, classifies
//!   with the library's rule pack, runs the built-in fix recipes on the payload's repository
//!   section (when sent) and answers a bare [`DeveloperAgentAnswer`].
//! - `GET /healthz`: `{"status":"ok"}`.
//!
//! Answers: 200 JSON; every error is the JSON [`ErrorBody`] `{"error","fields"}`: 400 for an
//! invalid payload; 401 for a missing or wrong token (checked before anything else, the body
//! unread, whatever its size); 404 / 405 for an unknown path or method; 413 over the body cap
//! (by `Content-Length` before the body is read, or while reading); 415 for a non-JSON content
//! type; 429 with `Retry-After` over the per-token rate; 408 past the request timeout; 502
//! when the upstream Developer-Agent fails; 500 when storage fails; 503 from the accept loop
//! when every connection slot is busy ([`super::listen`]). No error answer contains a token.
//!
//! Work in flight is bounded: a request reads its body only once it holds one of
//! [`ServerConfig::max_in_flight`] slots (waiting within the request timeout) and keeps the
//! slot until its processing ends, so at most that many bodies (each at most
//! [`ServerConfig::max_body_bytes`]) are in memory at once, whatever the number of clients.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http_body_util::BodyExt;

use crate::artifact::{
    parse_answer, write_json_atomic, AnswerClassification, Category, CategoryKind,
    DeveloperAgentAnswer, Finding, Instruction, RerunMode, SelfHealPlan, Trigger,
};
use crate::classify::{analyze, AnalyzeOptions, RulePack};
use crate::fix::recipes::{evidence_lines, EvidenceLine, EvidenceLog, LineNumbers};
use crate::logs::source::LogSource;
use crate::net::{ClientConfig, HttpClient, NetError, Resend, Token};
use crate::policy::fix_agent::FixAgentPolicy;

use super::model::{Failure, ModelJobs, ServerModel};
use super::payload::{validate_payload, CloudAgentEnvelope, ErrorBody, LogsPayload, PayloadLog};
use super::repository::{rebuild, recipes_on};
use super::store::store_payload;

/// The server's settings (from flags and environment, see the `developer-agent` binary).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Token for `POST /api/ci/logs` (`AGENT_TOKEN`). Without it that endpoint answers 401.
    pub agent_token: Option<Token>,
    /// Token for `POST /process-logs` (`DEVELOPER_AGENT_TOKEN`); falls back to `agent_token`.
    pub developer_agent_token: Option<Token>,
    /// Where `/api/ci/logs` forwards (`DEVELOPER_AGENT_URL`, the full `/process-logs` URL);
    /// `None`: handled locally.
    pub upstream_url: Option<String>,
    /// Timeouts and retries for the forward.
    pub upstream_client: ClientConfig,
    /// The data directory; payloads go to `<data_dir>/logs/<run_id>/`.
    pub data_dir: PathBuf,
    /// The largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Requests per minute allowed per token (a token bucket refilled continuously).
    pub rate_per_minute: u32,
    /// The bucket size: requests allowed in a burst.
    pub burst: u32,
    /// Time allowed for one request, end to end.
    pub request_timeout: Duration,
    /// Self-heal action names to suggest per category (names the repository's policy defines).
    pub plan_actions: HashMap<Category, Vec<String>>,
    /// The fix-agent settings the recipes run with (only the Playwright recipe's opt-in and
    /// cap matter): the `fix-agent` section of the server's `--policy`, or the defaults.
    pub recipe_policy: FixAgentPolicy,
    /// Requests that read their body and are processed at once (at least 1; the binary sizes
    /// it from the cores); others wait before their body is read (within the request timeout).
    pub max_in_flight: usize,
    /// Most payloads with a repository section processed at once (at least 1); others wait
    /// (within the request timeout). Each runs on one blocking-pool thread.
    pub recipe_jobs: usize,
    /// The language model asked when the recipes propose nothing for a payload with a
    /// repository section (`None`: off, the default; [`super::model`]).
    pub model: Option<ServerModel>,
}

/// Shared state of the running server.
pub struct AppState {
    cfg: ServerConfig,
    pack: RulePack,
    limiter: RateLimiter,
    recipe_slots: Arc<tokio::sync::Semaphore>,
    /// Model runs alive at once (at most `recipe_jobs`).
    model_jobs: ModelJobs,
    /// [`ServerConfig::max_in_flight`] slots.
    work_slots: Arc<tokio::sync::Semaphore>,
    /// The client for the upstream Developer-Agent, built on the first forward (on the
    /// blocking pool: a blocking reqwest client must not be built inside an async task) and
    /// reused for every later one.
    upstream: OnceLock<Result<HttpClient, String>>,
}

impl AppState {
    /// State from a config and the active rule pack.
    pub fn new(cfg: ServerConfig, pack: RulePack) -> Arc<AppState> {
        let limiter = RateLimiter::new(cfg.rate_per_minute, cfg.burst);
        let recipe_slots = Arc::new(tokio::sync::Semaphore::new(cfg.recipe_jobs.max(1)));
        let work_slots = Arc::new(tokio::sync::Semaphore::new(cfg.max_in_flight.max(1)));
        let model_jobs = ModelJobs::new(cfg.recipe_jobs);
        Arc::new(AppState {
            cfg,
            pack,
            limiter,
            recipe_slots,
            model_jobs,
            work_slots,
            upstream: OnceLock::new(),
        })
    }

    /// The upstream client (see `upstream`). Call from blocking code only.
    fn upstream_client(&self) -> Result<&HttpClient, NetError> {
        self.upstream
            .get_or_init(|| HttpClient::new(self.cfg.upstream_client.clone()))
            .as_ref()
            .map_err(|reason| NetError::Unreachable {
                target: UPSTREAM.into(),
                attempts: 0,
                reason: reason.clone(),
            })
    }
}

/// How errors name the upstream Developer-Agent.
const UPSTREAM: &str = "the Developer-Agent";

/// The router with every endpoint; unknown paths and methods answer JSON 404 / 405. The body
/// cap and the request timeout are applied by the handlers themselves, after the token check,
/// so that every refusal is the documented JSON and an unauthenticated request never costs a
/// body read (a layer would answer 413 or 408 first, in its own format).
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/process-logs", post(process_logs))
        .route("/api/ci/logs", post(ci_logs))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such endpoint", vec![])
}

async fn method_not_allowed() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed for this endpoint",
        vec![],
    )
}

/// Runs `work` within the request timeout; past it, a JSON 408.
async fn timed(st: &AppState, work: impl std::future::Future<Output = Response>) -> Response {
    match tokio::time::timeout(st.cfg.request_timeout, work).await {
        Ok(resp) => resp,
        Err(_) => error(
            StatusCode::REQUEST_TIMEOUT,
            &format!(
                "the request took longer than {} ms",
                st.cfg.request_timeout.as_millis()
            ),
            vec![],
        ),
    }
}

async fn healthz() -> Response {
    json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

/// Which token a request must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Role {
    CloudAgent,
    DeveloperAgent,
}

/// When a request's processing must be done by: its start plus the request timeout, less a
/// margin (a tenth of the timeout, at most 1 s) for writing the answer. Only the model waits
/// for it ([`super::model::ask`]); everything else is bounded by its own limits.
fn deadline(st: &AppState) -> Instant {
    let t = st.cfg.request_timeout;
    Instant::now() + t.saturating_sub((t / 10).min(Duration::from_secs(1)))
}

async fn process_logs(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let deadline = deadline(&st);
    timed(&st, async {
        let (payload, slot) = match admit(&st, Role::DeveloperAgent, req).await {
            Ok(p) => p,
            Err(resp) => return resp,
        };
        match handle_locally(st.clone(), payload, slot, deadline).await {
            Ok(answer) => json(StatusCode::OK, &answer),
            Err(resp) => resp,
        }
    })
    .await
}

async fn ci_logs(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let deadline = deadline(&st);
    timed(&st, ci_logs_within(st.clone(), req, deadline)).await
}

async fn ci_logs_within(st: Arc<AppState>, req: Request, deadline: Instant) -> Response {
    let (payload, slot) = match admit(&st, Role::CloudAgent, req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let answer = match st.cfg.upstream_url.clone() {
        Some(url) => forward(st.clone(), url, payload, slot).await,
        None => handle_locally(st, payload, slot, deadline).await,
    };
    match answer {
        Ok(upstream) => json(
            StatusCode::OK,
            &CloudAgentEnvelope {
                status: "received".into(),
                upstream,
            },
        ),
        Err(resp) => resp,
    }
}

/// A work slot ([`ServerConfig::max_in_flight`]), held until the request's processing ends.
type WorkSlot = tokio::sync::OwnedSemaphorePermit;

/// Token, rate limit, content type, declared length, a work slot, body, validation — in that
/// order, so an unauthenticated request costs no body read and a waiting one holds no body.
async fn admit(
    st: &AppState,
    role: Role,
    req: Request,
) -> Result<(LogsPayload, WorkSlot), Response> {
    let token = match role {
        Role::CloudAgent => st.cfg.agent_token.as_ref(),
        Role::DeveloperAgent => st
            .cfg
            .developer_agent_token
            .as_ref()
            .or(st.cfg.agent_token.as_ref()),
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if !token.is_some_and(|t| t.matches_bearer(presented)) {
        let mut resp = error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token",
            vec![],
        );
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return Err(resp);
    }
    if let Err(wait) = st.limiter.check(role) {
        let mut resp = error(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded", vec![]);
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait.max(1)));
        return Err(resp);
    }
    if !is_json(req.headers()) {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
            vec![],
        ));
    }
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the body is larger than {} bytes", st.cfg.max_body_bytes),
            vec![],
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > st.cfg.max_body_bytes as u64) {
        return Err(too_large());
    }
    let slot = match st.work_slots.clone().acquire_owned().await {
        Ok(s) => s,
        Err(_) => {
            return Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is shutting down",
                vec![],
            ))
        }
    };
    let body: Bytes = match http_body_util::Limited::new(req.into_body(), st.cfg.max_body_bytes)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
        Err(_) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "the body could not be read (the connection broke off)",
                vec![],
            ))
        }
    };
    let payload = validate_payload(&body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &e.message, e.fields))?;
    Ok((payload, slot))
}

/// True when the `Content-Type` is `application/json` or `*/*+json` (parameters allowed).
pub fn is_json_content_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
        || (essence.len() > 5
            && essence.is_char_boundary(essence.len() - 5)
            && essence[essence.len() - 5..].eq_ignore_ascii_case("+json"))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_json_content_type)
}

/// Store, classify, run the recipes, answer — on the blocking pool (file I/O, the scanner and
/// the recipes are synchronous). A payload with a repository section first takes one of the
/// `recipe_jobs` slots and holds it until its work ends, even when the request has timed out;
/// so does the work `slot`.
async fn handle_locally(
    st: Arc<AppState>,
    payload: LogsPayload,
    slot: WorkSlot,
    deadline: Instant,
) -> Result<DeveloperAgentAnswer, Response> {
    let permit = match payload.repository {
        Some(_) => st.recipe_slots.clone().acquire_owned().await.ok(),
        None => None,
    };
    let result = tokio::task::spawn_blocking(move || {
        let answer = process(&st, &payload, deadline);
        drop(permit);
        drop(payload);
        drop(slot);
        answer
    })
    .await;
    match result {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(msg)) => {
            crate::errln!("error: {}", crate::text::one_line(&msg));
            Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the payload could not be stored",
                vec![],
            ))
        }
        Err(_) => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "processing failed",
            vec![],
        )),
    }
}

fn process(
    st: &AppState,
    payload: &LogsPayload,
    deadline: Instant,
) -> Result<DeveloperAgentAnswer, String> {
    let entry = store_payload(&st.cfg.data_dir, payload).map_err(|e| e.to_string())?;
    // Each stored file is read as it is — a log tail may start with zip magic bytes, so the
    // `--log` spec rules (zip sniffing, globs) must not apply — and named as the payload
    // names it.
    let sources: Vec<LogSource> = entry
        .log_files
        .iter()
        .zip(source_names(&payload.logs))
        .map(|(path, name)| LogSource::file(path.clone(), name))
        .collect();
    let analysis = analyze(
        &st.pack,
        &sources,
        &payload.failed_tests,
        &AnalyzeOptions::default(),
    );
    // The logs were just stored by this server: one it cannot read is a processing failure.
    if let Some(e) = analysis.errors.first() {
        return Err(e.to_string());
    }
    let mut model_run = None;
    let instructions = match &entry.repository {
        Some(repo) => {
            let (findings, lines) = evidence(payload, &sources, &analysis.findings);
            match rebuild(repo) {
                Ok(rebuilt) => {
                    let run = recipes_on(&rebuilt, &lines, &st.cfg.recipe_policy);
                    write_json_atomic(&entry.dir.join("recipes.json"), &run)
                        .map_err(|e| e.to_string())?;
                    match &st.cfg.model {
                        Some(m) if run.instructions.is_empty() => {
                            let failure = Failure {
                                classification: &analysis.classification,
                                findings: &findings,
                                failed_tests: &payload.failed_tests,
                                lines: &lines,
                            };
                            let asked = super::model::ask(
                                m,
                                &st.model_jobs,
                                rebuilt,
                                &failure,
                                &st.cfg.recipe_policy,
                                deadline,
                            );
                            model_run = Some(asked.run);
                            asked.instructions
                        }
                        _ => {
                            if let Err(e) = rebuilt.dir.close() {
                                crate::errln!(
                                    "warning: the rebuilt repository could not be removed: {}",
                                    crate::text::one_line(&e.to_string())
                                );
                            }
                            run.instructions
                        }
                    }
                }
                Err(e) => {
                    crate::errln!(
                        "warning: the fix recipes did not run: {}",
                        crate::text::one_line(&e.to_string())
                    );
                    Vec::new()
                }
            }
        }
        None => Vec::new(),
    };
    let mut answer = build_answer(&analysis.classification, &st.cfg.plan_actions, instructions);
    answer.model = model_run;
    write_json_atomic(&entry.dir.join("answer.json"), &answer).map_err(|e| e.to_string())?;
    Ok(answer)
}

/// The payload's log names as the stored logs' source names: a repeated name gets ` (2)`,
/// ` (3)`… so a finding names exactly one stored log.
fn source_names(logs: &[PayloadLog]) -> Vec<String> {
    let mut seen = HashSet::new();
    logs.iter()
        .map(|l| {
            let mut name = l.name.clone();
            let mut n = 1;
            while !seen.insert(name.clone()) {
                n += 1;
                name = format!("{} ({n})", l.name);
            }
            name
        })
        .collect()
}

/// The findings relabelled, and the recipes' evidence for a stored payload, built like `fix-agent-prepare` builds it
/// ([`crate::fix::recipes::evidence_lines`]): the findings, the failed tests, then the stored
/// logs (`sources`, in payload order). Lines are labelled with the payload's log names and
/// original line numbers (a tail's `first_line` added).
fn evidence(
    payload: &LogsPayload,
    sources: &[LogSource],
    findings: &[Finding],
) -> (Vec<Finding>, Vec<EvidenceLine>) {
    let findings: Vec<Finding> = findings
        .iter()
        .map(|f| {
            let mut f = f.clone();
            let log = sources
                .iter()
                .zip(&payload.logs)
                .find(|(s, _)| s.name == f.log)
                .map(|(_, log)| log);
            if let Some(log) = log {
                let offset = log.first_line.saturating_sub(1);
                f.log = log.name.clone();
                f.line_start = f.line_start.saturating_add(offset);
                f.line_end = f.line_end.saturating_add(offset);
            }
            f
        })
        .collect();
    let logs = sources.iter().zip(&payload.logs).filter_map(|(s, log)| {
        Some(EvidenceLog {
            label: log.name.clone(),
            numbers: LineNumbers::FirstIs(log.first_line.max(1)),
            format: None,
            reader: s.open().ok()?,
        })
    });
    let lines = evidence_lines(&findings, &payload.failed_tests, logs);
    (findings, lines)
}

/// The answer for a classification: the category and confidence, a self-heal plan (the
/// configured action names for the category; rerun the failed tests unless the failure is in
/// the code), triggers (`self-heal` for infrastructure and environment failures, `fix-agent`
/// for code failures, `notify` when nothing was recognised), and `instructions` as
/// `fix_agent_instructions`.
///
/// `instructions` come from the built-in recipes run on the payload's repository section
/// ([`super::repository::run_recipes`]: `source` `developer-agent`, within the limits of
/// [`crate::fix::validate_instructions`]). A payload without a repository section gets an
/// empty list; `fix-agent-prepare` then still runs the same recipes on the checkout.
pub fn build_answer(
    c: &crate::artifact::Classification,
    plan_actions: &HashMap<Category, Vec<String>>,
    instructions: Vec<Instruction>,
) -> DeveloperAgentAnswer {
    let mut summary = crate::logs::redact::Redactor::builtin()
        .redact(&c.summary, &mut crate::artifact::Redactions::default());
    if summary.len() > 1024 {
        summary = format!("{}...", crate::text::truncate_str(&summary, 1021));
    }
    let kind = c.category.kind();
    let (rerun, trigger) = match (c.category, kind) {
        (Category::Unknown, _) => (RerunMode::None, ("notify", "no failure pattern recognised")),
        (_, CategoryKind::Code) => (RerunMode::None, ("fix-agent", "the failure is in the code")),
        _ => (
            RerunMode::Failed,
            (
                "self-heal",
                "an infrastructure or environment failure may heal on a rerun",
            ),
        ),
    };
    DeveloperAgentAnswer {
        classification: AnswerClassification {
            category: c.category,
            confidence: if c.confidence.is_finite() {
                c.confidence.clamp(0.0, 1.0)
            } else {
                0.0
            },
            summary: Some(summary),
        },
        self_heal_plan: SelfHealPlan {
            actions: plan_actions.get(&c.category).cloned().unwrap_or_default(),
            rerun: Some(rerun),
        },
        fix_agent_instructions: instructions,
        model: None,
        triggers: vec![Trigger {
            name: trigger.0.into(),
            reason: Some(trigger.1.into()),
        }],
    }
}

async fn forward(
    st: Arc<AppState>,
    url: String,
    payload: LogsPayload,
    slot: WorkSlot,
) -> Result<DeveloperAgentAnswer, Response> {
    let body = match serde_json::to_vec(&payload) {
        Ok(b) => b,
        Err(_) => {
            return Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot serialize the payload",
                vec![],
            ))
        }
    };
    drop(payload);
    // A payload that arrives twice is stored and classified again: safe to resend.
    let result = tokio::task::spawn_blocking(move || {
        let token = st.cfg.developer_agent_token.as_ref();
        let answer = st
            .upstream_client()?
            .post_json(&url, token, &body, UPSTREAM, Resend::Always);
        drop(body);
        drop(slot);
        answer
    })
    .await;
    let bad_gateway = |msg: String| {
        crate::errln!("error: {}", crate::text::one_line(&msg));
        error(StatusCode::BAD_GATEWAY, &msg, vec![])
    };
    match result {
        Ok(Ok(resp)) => parse_answer(&resp.body)
            .map_err(|e| bad_gateway(format!("the Developer-Agent answer is invalid: {e}"))),
        Ok(Err(e)) => Err(bad_gateway(e.to_string())),
        Err(_) => Err(bad_gateway("forwarding failed".into())),
    }
}

fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn error(status: StatusCode, msg: &str, fields: Vec<String>) -> Response {
    json(
        status,
        &ErrorBody {
            error: msg.to_string(),
            fields,
        },
    )
}

/// A token bucket per role: `burst` requests at once, refilled at `rate_per_minute`.
struct RateLimiter {
    per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<Role, (f64, Instant)>>,
}

impl RateLimiter {
    fn new(rate_per_minute: u32, burst: u32) -> Self {
        RateLimiter {
            per_sec: f64::from(rate_per_minute.max(1)) / 60.0,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request; `Err(seconds to wait)` when the bucket is empty.
    fn check(&self, role: Role) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = match self.buckets.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let (tokens, last) = buckets.entry(role).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*last).as_secs_f64() * self.per_sec).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.per_sec).ceil() as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limiter_allows_a_burst_then_says_when() {
        let l = RateLimiter::new(60, 3);
        for _ in 0..3 {
            assert!(l.check(Role::DeveloperAgent).is_ok());
        }
        let wait = l.check(Role::DeveloperAgent).expect_err("empty");
        assert!((1..=2).contains(&wait), "{wait}");
        // Buckets are per token.
        assert!(l.check(Role::CloudAgent).is_ok());
    }

    #[test]
    fn json_content_types() {
        assert!(is_json_content_type("application/json"));
        assert!(is_json_content_type("Application/JSON; charset=utf-8"));
        assert!(is_json_content_type("application/problem+json"));
        assert!(!is_json_content_type("text/html"));
        assert!(!is_json_content_type("json"));
    }
}
