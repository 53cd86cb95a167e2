//! The Developer-Agent's model: when the built-in recipes propose nothing for a shipped
//! failure with a repository section, the server asks the configured language model
//! (`--policy`'s `fix-agent.model` or the `--model-*` flags; off by default) with the same
//! prompt builder, output validation (one repair request, then `no_fix` with a reason) and
//! guard as `fix-agent-prepare`'s direct model path ([`crate::fix::model`]).
//!
//! The run happens on its own thread with the shipped repository rebuilt in a private
//! temporary directory ([`super::repository::Rebuilt`], owned by that thread). The request
//! waits for it until the request's deadline (the request timeout less a margin); past it the
//! answer goes out without the model's instructions and with a `model` record `error` that
//! says so, and the thread ends on its own within the provider client's timeouts. At most
//! [`ModelJobs`]' limit of runs are alive at once; over it the model is not asked.
//!
//! The key is read once at startup from the environment variable the configuration names;
//! only its name is ever printed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::artifact::{
    self, FailedTest, Finding, FixInput, Instruction, ModelRun, ModelStatus, RunInfo, ToolInfo,
    FIX_INPUT_SCHEMA,
};
use crate::fix::recipes::EvidenceLine;
use crate::net::Token;
use crate::policy::fix_agent::{FixAgentPolicy, ModelPolicy};

use super::repository::{Rebuilt, ANSWER_SOURCE};

/// What `asked_by` says in the server's records.
pub const ASKED_BY: &str = "developer-agent";

/// A configured model with its key (read from `policy.api_key_env` at startup).
#[derive(Clone)]
pub struct ServerModel {
    /// The model settings.
    pub policy: ModelPolicy,
    /// The API key (`Debug` prints `***`).
    pub key: Token,
}

impl std::fmt::Debug for ServerModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerModel")
            .field("provider", &self.policy.provider.as_str())
            .field("model", &self.policy.model)
            .field("key", &"***")
            .finish()
    }
}

/// Model runs alive at once (including runs whose request already answered).
#[derive(Debug)]
pub struct ModelJobs {
    running: Arc<AtomicUsize>,
    max: usize,
}

impl ModelJobs {
    /// At most `max` (at least 1) runs at once.
    pub fn new(max: usize) -> ModelJobs {
        ModelJobs {
            running: Arc::new(AtomicUsize::new(0)),
            max: max.max(1),
        }
    }

    fn take(&self) -> Option<JobGuard> {
        let mut n = self.running.load(Ordering::SeqCst);
        loop {
            if n >= self.max {
                return None;
            }
            match self
                .running
                .compare_exchange(n, n + 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return Some(JobGuard(self.running.clone())),
                Err(now) => n = now,
            }
        }
    }
}

struct JobGuard(Arc<AtomicUsize>);

impl Drop for JobGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The failure as the server saw it: what the prompt is built from.
pub struct Failure<'a> {
    /// The classification of the shipped logs.
    pub classification: &'a artifact::Classification,
    /// The findings, labelled with the payload's log names and original line numbers.
    pub findings: &'a [Finding],
    /// The payload's failed tests.
    pub failed_tests: &'a [FailedTest],
    /// The recipes' evidence lines (stack frames name the snippets' files).
    pub lines: &'a [EvidenceLine],
}

/// What the model gave: instructions for the answer (`source` `developer-agent`) and the
/// record for its `model` field.
#[derive(Debug, Clone)]
pub struct Asked {
    /// Empty unless the model's proposal passed validation and the server's guard.
    pub instructions: Vec<Instruction>,
    /// The run's record (`asked_by` `developer-agent`).
    pub run: ModelRun,
}

fn record(m: &ModelPolicy, status: ModelStatus, reason: String, started: Instant) -> ModelRun {
    let mut run = crate::fix::model::skipped(m, &reason).run;
    run.status = status;
    run.asked_by = Some(ASKED_BY.into());
    run.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    run
}

/// The fix input the prompt is built from (the rest of it is not used by the prompt).
fn input_for(failure: &Failure<'_>, repo: &std::path::Path, policy: &FixAgentPolicy) -> FixInput {
    let c = failure.classification;
    FixInput {
        schema: FIX_INPUT_SCHEMA.into(),
        tool: ToolInfo::new("developer-agent"),
        run: RunInfo::from_lookup(|_| None),
        base_sha: "developer-agent".into(),
        classification: c.clone(),
        evidence: crate::fix::prepare::evidence_for(&c.evidence, failure.findings),
        failed_tests: failure.failed_tests.to_vec(),
        self_heal_outcome: None,
        instructions: Vec::new(),
        snippets: crate::fix::prepare::snippets_for(
            repo,
            failure.findings,
            failure.failed_tests,
            failure.lines,
            policy,
        ),
        constraints: crate::fix::prepare::constraints(policy),
        notes: Vec::new(),
        model: None,
        error: None,
    }
}

/// Asks the model about `failure` with the shipped repository `rebuilt`, waiting until
/// `deadline` at most. `policy` is the server's fix-agent policy (its validation command is
/// never run on the server: the rebuilt tree is a partial copy).
pub fn ask(
    model: &ServerModel,
    jobs: &ModelJobs,
    rebuilt: Rebuilt,
    failure: &Failure<'_>,
    policy: &FixAgentPolicy,
    deadline: Instant,
) -> Asked {
    let started = Instant::now();
    let m = &model.policy;
    let nothing = |status, reason: String| Asked {
        instructions: Vec::new(),
        run: record(m, status, reason, started),
    };
    let wait = deadline.saturating_duration_since(started);
    if wait < Duration::from_millis(100) {
        return nothing(
            ModelStatus::Skipped,
            "no time was left within the server's request timeout".into(),
        );
    }
    let Some(guard) = jobs.take() else {
        return nothing(
            ModelStatus::Skipped,
            format!(
                "the server is busy: {} model runs are in progress",
                jobs.max
            ),
        );
    };
    let mut policy = policy.clone();
    policy.validation_command.clear();
    let input = input_for(failure, rebuilt.dir.path(), &policy);
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let model_copy = model.clone();
    let spawned = std::thread::Builder::new()
        .name("developer-agent-model".into())
        .spawn(move || {
            let result = crate::fix::model::run_with_files(
                rebuilt.dir.path(),
                &input,
                &rebuilt.paths,
                &policy,
                &model_copy.policy,
                &model_copy.key,
            );
            let _ = tx.send(result);
            drop(rebuilt);
            drop(guard);
        });
    if let Err(e) = spawned {
        return nothing(
            ModelStatus::Error,
            format!("the model run could not start: {e}"),
        );
    }
    match rx.recv_timeout(wait) {
        Ok(result) => {
            let mut run = result.run;
            run.asked_by = Some(ASKED_BY.into());
            let mut instructions = result.instructions;
            for i in &mut instructions {
                i.source = Some(ANSWER_SOURCE.into());
            }
            if artifact::validate_instructions(&instructions).is_err()
                || instructions.iter().any(crate::fix::has_redacted_text)
            {
                instructions.clear();
                run.status = ModelStatus::NoFix;
                run.reason = Some("the proposal exceeds the answer's instruction limits".into());
            }
            Asked { instructions, run }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => nothing(
            ModelStatus::Error,
            format!(
                "no answer: the model timed out, it did not answer within the {} ms the server's request timeout left for it; answered without it",
                wait.as_millis()
            ),
        ),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => nothing(
            ModelStatus::Error,
            "no answer: the model run failed".into(),
        ),
    }
}
