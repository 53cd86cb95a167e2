//! A language model as a source of fix instructions (`fix-agent.model` in the policy; off by
//! default; docs/fix-agent-models.md).
//!
//! [`run`] builds the [`prompt`] from the fix input, asks the [`provider`] for structured
//! output ([`output::answer_schema`]), validates it ([`output::parse`]); invalid output gets
//! ONE repair request quoting the validation error, then the candidate is `no_fix`. Each
//! proposal goes through the same guard ([`super::apply::plan`]) and, with the policy's
//! validation command, the same validation ([`super::validate::run`]) as any instruction;
//! up to `max-candidates` are tried and the first that validates is kept. `fix-agent-apply`
//! then checks the kept one again like every other instruction.
//!
//! The API key is read from the environment variable the policy names, held as a
//! [`Token`], and never written to an artifact, a note or an error.

pub mod output;
pub mod prompt;
pub mod provider;

use std::path::Path;
use std::time::Instant;

use crate::artifact::{
    FixInput, GuardDecision, Instruction, ModelCandidate, ModelRun, ModelStatus, ValidationStatus,
};
use crate::net::{NetError, Token};
use crate::policy::fix_agent::{FixAgentPolicy, ModelPolicy};

use provider::{Client, Msg};

/// Most bytes of an invalid answer quoted back in the repair request.
pub const MAX_REPAIR_QUOTE_BYTES: usize = 8 * 1024;

/// Why the provider gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The HTTP client could not be built.
    #[error("the HTTP client could not be set up: {0}")]
    Setup(String),
    /// No answer (unreachable, timed out, an HTTP error status after the retries).
    #[error(transparent)]
    Net(NetError),
    /// An answer that is not the API's shape.
    #[error("{0}")]
    Answer(String),
}

/// What one proposal came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Proposal {
    /// Valid instructions.
    Fix(Vec<Instruction>),
    /// No usable proposal, and why.
    NoFix(String),
}

/// A run's usage counters and its client.
struct Session<'a> {
    client: Client<'a>,
    policy: &'a ModelPolicy,
    key: &'a Token,
    run: ModelRun,
}

impl Session<'_> {
    /// Removes the key's text from a message that will be stored.
    fn scrub(&self, s: &str) -> String {
        let k = self.key.expose();
        let s = if k.len() >= 4 {
            s.replace(k, "***")
        } else {
            s.to_string()
        };
        crate::text::one_line(&s)
    }

    fn budget_left(&self) -> u64 {
        self.policy
            .max_total_tokens
            .saturating_sub(self.run.tokens_in + self.run.tokens_out)
    }

    fn send(&mut self, system: &str, msgs: &[Msg]) -> Result<provider::Exchange, ModelError> {
        let max = u64::from(self.policy.max_output_tokens).min(self.budget_left());
        let ex =
            self.client
                .request(system, msgs, u32::try_from(max).unwrap_or(u32::MAX).max(1))?;
        self.run.requests += 1;
        self.run.tokens_in += ex.tokens_in;
        self.run.tokens_out += ex.tokens_out;
        Ok(ex)
    }

    /// One proposal: a request, and when its output is invalid one repair request.
    fn propose(&mut self, system: &str, user: &str) -> Result<Proposal, ModelError> {
        let mut msgs = vec![Msg::User(user.to_string())];
        for attempt in 0..2 {
            let ex = self.send(system, &msgs)?;
            if let Some(r) = ex.refusal {
                return Ok(Proposal::NoFix(format!(
                    "the model refused: {}",
                    self.scrub(prompt_cut(&r, 300))
                )));
            }
            let text = ex.text.unwrap_or_default();
            let err = if ex.truncated {
                format!(
                    "the answer was cut off at {} output tokens",
                    self.policy.max_output_tokens
                )
            } else {
                match output::parse(&text) {
                    Ok(a) if a.instructions.is_empty() => {
                        return Ok(Proposal::NoFix(format!(
                            "the model proposed no edits: {}",
                            self.scrub(a.no_fix_reason.as_deref().unwrap_or("no reason given"))
                        )))
                    }
                    Ok(a) => return Ok(Proposal::Fix(a.instructions)),
                    Err(e) => e,
                }
            };
            if attempt == 1 || self.budget_left() == 0 {
                return Ok(Proposal::NoFix(format!(
                    "the model's output stayed invalid after one repair request: {}",
                    self.scrub(prompt_cut(&err, 400))
                )));
            }
            msgs.push(Msg::Assistant(
                prompt_cut(&text, MAX_REPAIR_QUOTE_BYTES).to_string(),
            ));
            msgs.push(Msg::User(format!(
                "Your answer was rejected: {err}. Answer again with ONLY a JSON object that follows the schema."
            )));
        }
        Ok(Proposal::NoFix("no answer".into()))
    }
}

fn prompt_cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The kept instructions and the run's record.
#[derive(Debug, Clone)]
pub struct ModelResult {
    /// The kept proposal's instructions, `source` = `model:<provider>` (empty when none).
    pub instructions: Vec<Instruction>,
    /// The record for the input and the metadata.
    pub run: ModelRun,
    /// Notes for the input, one sentence each.
    pub notes: Vec<String>,
}

fn empty_run(m: &ModelPolicy) -> ModelRun {
    ModelRun {
        provider: m.provider.as_str().into(),
        model: m.model.clone(),
        status: ModelStatus::Skipped,
        reason: None,
        requests: 0,
        tokens_in: 0,
        tokens_out: 0,
        cost_estimate: None,
        prompt_sha256: String::new(),
        duration_ms: 0,
        candidates: Vec::new(),
        asked_by: None,
    }
}

/// A run that did not ask the model, with the reason (a note says the same).
pub fn skipped(m: &ModelPolicy, reason: &str) -> ModelResult {
    let mut run = empty_run(m);
    run.reason = Some(reason.to_string());
    ModelResult {
        instructions: Vec::new(),
        notes: vec![format!("the model was not asked: {reason}")],
        run,
    }
}

/// Asks the model for up to `max-candidates` proposals (one without a validation command),
/// checking each with the guard and validating it on the patched tree (restored after each);
/// keeps the first accepted one that passes (or, without a validation command, the first
/// the guard accepts). `input` is the fix input built so far (its evidence, tests, snippets
/// and constraints make the prompt); `repo` the working tree. Reads the key from the
/// environment variable `model.api_key_env`; without it the run is `skipped`.
pub fn run(repo: &Path, input: &FixInput, policy: &FixAgentPolicy, m: &ModelPolicy) -> ModelResult {
    let Some(key) = Token::from_env(&m.api_key_env) else {
        return skipped(
            m,
            &format!(
                "no API key: the environment variable {} (fix-agent.model.api-key-env) is not set; the recipes still ran",
                m.api_key_env
            ),
        );
    };
    run_with_key(repo, input, policy, m, &key)
}

/// [`run`] with the key given.
pub fn run_with_key(
    repo: &Path,
    input: &FixInput,
    policy: &FixAgentPolicy,
    m: &ModelPolicy,
    key: &Token,
) -> ModelResult {
    let files = prompt::repository_files(repo, policy);
    run_with_files(repo, input, &files, policy, m, key)
}

/// [`run_with_key`] with the prompt's file list given (the Developer-Agent server lists the
/// shipped repository section; `files` are filtered by the policy scope and cut to
/// [`prompt::MAX_LISTED_FILES`] here).
pub fn run_with_files(
    repo: &Path,
    input: &FixInput,
    files: &[String],
    policy: &FixAgentPolicy,
    m: &ModelPolicy,
    key: &Token,
) -> ModelResult {
    let started = Instant::now();
    let mut files: Vec<String> = files
        .iter()
        .filter(|f| policy.check_scope(f).is_ok())
        .cloned()
        .collect();
    files.sort();
    files.truncate(prompt::MAX_LISTED_FILES);
    let prompt = prompt::build(input, &files, policy, Some(key));
    let mut notes = Vec::new();
    let client = match Client::new(m, key) {
        Ok(c) => c,
        Err(e) => {
            let mut r = skipped(m, &e.to_string());
            r.run.status = ModelStatus::Error;
            return r;
        }
    };
    let mut s = Session {
        client,
        policy: m,
        key,
        run: empty_run(m),
    };
    s.run.prompt_sha256 = prompt.sha256();
    let validating = !policy.validation_command.is_empty();
    let tries = if validating { m.max_candidates } else { 1 };
    let mut kept: Vec<Instruction> = Vec::new();
    let mut last_reason: Option<String> = None;
    let mut feedback = String::new();
    let mut error = false;
    for index in 1..=tries {
        if s.budget_left() == 0 {
            last_reason = Some(format!(
                "the token budget ({} tokens, fix-agent.model.max-total-tokens) is spent",
                m.max_total_tokens
            ));
            break;
        }
        let user = format!("{}{feedback}", prompt.user);
        let mut list = match s.propose(&prompt.system, &user) {
            Ok(Proposal::Fix(list)) => list,
            Ok(Proposal::NoFix(reason)) => {
                last_reason = Some(reason);
                break;
            }
            Err(e) => {
                last_reason = Some(format!("no answer: {}", s.scrub(&e.to_string())));
                error = true;
                break;
            }
        };
        for i in &mut list {
            i.source = Some(format!("model:{}", m.provider.as_str()));
        }
        let plan = super::apply::plan(&list, repo, policy);
        let mut cand = ModelCandidate {
            index,
            summary: list
                .first()
                .map(|i| crate::text::one_line(&i.summary))
                .unwrap_or_default(),
            instructions: list.len() as u32,
            guard: plan.decision.as_str().into(),
            refused: plan.refused.iter().map(|r| r.code.clone()).collect(),
            validation: ValidationStatus::Skipped.as_str().into(),
            kept: false,
        };
        if plan.decision != GuardDecision::Accepted {
            let why: Vec<String> = plan
                .refused
                .iter()
                .take(5)
                .map(|r| format!("{} {}: {}", r.code, r.path, r.reason))
                .collect();
            last_reason = Some(format!(
                "candidate {index} was {} by the guard",
                plan.decision.as_str()
            ));
            feedback = format!(
                "\n\nYour previous proposal was refused by the guard: {}. Propose a different fix within the constraints.",
                crate::text::one_line(&why.join("; "))
            );
            s.run.candidates.push(cand);
            continue;
        }
        if !validating {
            cand.kept = true;
            s.run.candidates.push(cand);
            kept = list;
            break;
        }
        let validation = match super::apply::write_plan(repo, &plan.files) {
            Ok(written) => {
                let v = super::validate::run_without(
                    &super::validation_argv(policy, input),
                    repo,
                    policy.validation_timeout,
                    &policy.model_key_env(),
                );
                if let Err(e) = written.restore() {
                    notes.push(format!("the working tree could not be restored after validating a model candidate: {e}"));
                    s.run.candidates.push(cand);
                    last_reason = Some("the working tree could not be restored".into());
                    error = true;
                    break;
                }
                v
            }
            Err(e) => {
                last_reason = Some(format!("candidate {index} could not be written: {e}"));
                s.run.candidates.push(cand);
                break;
            }
        };
        cand.validation = validation.status.as_str().into();
        if validation.status == ValidationStatus::Passed {
            cand.kept = true;
            s.run.candidates.push(cand);
            kept = list;
            break;
        }
        last_reason = Some(format!(
            "candidate {index} did not validate ({})",
            validation.status.as_str()
        ));
        feedback = format!(
            "\n\nYour previous proposal was applied but the validation command {}; its output ends with:\nBEGIN UNTRUSTED DATA validation\n{}\nEND UNTRUSTED DATA validation\nPropose a different fix.",
            validation.status.as_str(),
            crate::logs::redact::Redactor::builtin().redact(
                prompt_cut(&validation.output_tail, 2048),
                &mut crate::artifact::Redactions::default()
            )
            .replace("UNTRUSTED DATA", "UNTRUSTED_DATA")
            .replace(key.expose(), "***")
        );
        s.run.candidates.push(cand);
    }
    let mut run = s.run;
    run.status = if !kept.is_empty() {
        ModelStatus::Proposed
    } else if error {
        ModelStatus::Error
    } else {
        ModelStatus::NoFix
    };
    if kept.is_empty() {
        run.reason = last_reason.or(Some("no proposal".into()));
        if let Some(r) = &run.reason {
            notes.push(format!("the model gave no usable fix: {r}"));
        }
    }
    run.cost_estimate = m.price_per_mtok.map(|(pin, pout)| {
        (run.tokens_in as f64 * pin + run.tokens_out as f64 * pout) / 1_000_000.0
    });
    run.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    ModelResult {
        instructions: kept,
        run,
        notes,
    }
}
