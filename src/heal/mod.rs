//! Self-heal: policy gates ([`decide`]) and named safe actions ([`execute`]).
//!
//! - [`decide()`] turns a context (`self-heal/context.json`), the `self-heal` policy and the
//!   run's metadata into a [`Decision`](crate::artifact::Decision): every gate with whether it
//!   passed and why, and the action names and rerun mode that would run.
//! - [`execute()`] runs an allowed decision: each action from the POLICY definition (the
//!   decision only carries names), then the rerun, and reports a
//!   [`HealReport`](crate::artifact::HealReport).
//! - Actions run through [`crate::process`]: one command with a process-group timeout, a
//!   cleared environment and a bounded output tail (Unix only).

pub mod decide;
pub mod execute;
pub mod github;
pub mod quarantine;

pub use decide::{decide, error_decision, plan, scan_history, DecideInput, Plan, PriorAttempts};
pub use execute::{error_report, escalation, execute, ExecuteInput};

use crate::artifact::{Context, RerunMode};
use crate::policy::self_heal::Rerun;

/// The most test ids a failed-only rerun passes (more would risk the argv size limit; the full
/// rerun is used instead when the policy has one).
pub const MAX_RERUN_TESTS: usize = 256;
/// The most bytes all test ids together may have.
pub const MAX_RERUN_TEST_BYTES: usize = 64 * 1024;

/// The failed tests' rerun ids from the context, in report order without duplicates: each
/// test's `id`, else its `name`, verbatim.
///
/// Errors (with a sentence saying why) when the context left some out
/// (`tests.failed_omitted`: rerunning only the listed ones would prove nothing), when there
/// are none, more than [`MAX_RERUN_TESTS`] or
/// [`MAX_RERUN_TEST_BYTES`], or when an id fails [`crate::artifact::check_test_id`] (empty,
/// too long, a control character, a leading `-`, `@` or `+` the runner could read as an
/// option or an argument file).
pub fn failed_test_ids(context: &Context) -> Result<Vec<String>, String> {
    if context.tests.failed_omitted > 0 {
        return Err(format!(
            "the context left out {} failed test(s) (more than {} failed)",
            context.tests.failed_omitted,
            crate::artifact::MAX_CONTEXT_FAILED_TESTS
        ));
    }
    let mut ids: Vec<String> = Vec::new();
    for t in &context.tests.failed {
        let id = t.id.as_deref().unwrap_or(&t.name);
        if let Err(why) = crate::artifact::check_test_id(id) {
            return Err(format!(
                "failed test id {:?} {why}",
                crate::text::one_line(&id.chars().take(80).collect::<String>())
            ));
        }
        if !ids.iter().any(|x| x == id) {
            ids.push(id.to_string());
        }
    }
    if ids.is_empty() {
        return Err("the context lists no failed tests".into());
    }
    let bytes: usize = ids.iter().map(String::len).sum();
    if ids.len() > MAX_RERUN_TESTS || bytes > MAX_RERUN_TEST_BYTES {
        return Err(format!(
            "{} failed test ids ({bytes} bytes) are more than the {MAX_RERUN_TESTS} ids / {MAX_RERUN_TEST_BYTES} bytes passed to a failed-only rerun",
            ids.len()
        ));
    }
    Ok(ids)
}

/// Resolves the rerun mode to use: `requested` when the policy has its command, else the
/// policy's own mode; a failed-only rerun without usable test ids becomes the full rerun when
/// the policy has one, else none. Returns the mode and a sentence explaining it.
pub fn resolve_rerun(
    rerun: &Rerun,
    requested: Option<RerunMode>,
    context: &Context,
) -> (RerunMode, String) {
    let mut notes = Vec::new();
    let mut mode = match requested {
        Some(m) if rerun.supports(m) => {
            notes.push(format!("rerun {} as the plan asks", m.as_str()));
            m
        }
        Some(m) => {
            notes.push(format!(
                "the plan asks for rerun {} but the policy has no such command; using the policy's rerun {}",
                m.as_str(),
                rerun.mode.as_str()
            ));
            rerun.mode
        }
        None => {
            notes.push(format!("rerun {} (policy)", rerun.mode.as_str()));
            rerun.mode
        }
    };
    if mode == RerunMode::Failed {
        if let Err(why) = failed_test_ids(context) {
            mode = if rerun.full.is_some() {
                RerunMode::Full
            } else {
                RerunMode::None
            };
            notes.push(format!("{why}, so rerun {}", mode.as_str()));
        }
    }
    (mode, notes.join("; "))
}
