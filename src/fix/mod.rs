//! Fix-agent: instructions, the guard, diffs, validation and PR text.
//!
//! - [`prepare`]: `self-heal/context.json` (+ `--instructions`, the Developer-Agent answer,
//!   built-in [`recipes`]) to `fix-agent/input.json`.
//! - [`run_apply`]: `fix-agent/input.json` to `fix-agent/patch-<run_id>.diff` and
//!   `fix-agent/metadata-<run_id>.json`: [`apply::plan`] checks every edit with the guard
//!   ([`path`], [`guard`], policy scope and caps) in memory, [`diff`] makes the patch,
//!   [`validate`] runs the policy's command on the patched tree, which is then restored.
//!
//! Everything a fix-agent is told is untrusted: instructions never become a command line, a
//! path outside the repository or the allowlist, or text that can inject workflow commands.

pub mod apply;
pub mod diff;
pub mod dockerignore;
pub mod eval;
pub mod guard;
pub mod model;
pub mod path;
pub mod pr;
pub mod prepare;
pub mod recheck;
pub mod recipes;
pub mod udiff;
pub mod validate;

use std::path::{Path, PathBuf};

use crate::artifact::{
    self, Edit, FixInput, FixMetadata, GuardDecision, Guardrails, Instruction, Refusal, RiskClass,
    RunInfo, ToolInfo, Validation, ValidationStatus, FIX_INPUT_SCHEMA, FIX_METADATA_SCHEMA,
};
use crate::policy::fix_agent::FixAgentPolicy;

/// Fix-agent errors; each names the file or path concerned.
#[derive(Debug, thiserror::Error)]
pub enum FixError {
    /// An I/O error on a path.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// An input or output artifact could not be read or written.
    #[error(transparent)]
    Artifact(#[from] artifact::ArtifactError),
    /// Instructions are malformed or exceed the limits.
    #[error("invalid instructions in {origin}: {message}")]
    Instructions {
        /// Which file or source.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// Paths of the working tree could not be restored after validation: one error each.
    #[error("{}", join_errors(.0))]
    Restore(Vec<FixError>),
    /// A guard check failed while writing the patched tree.
    #[error("refused to write {path}: {reason}")]
    Guard {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
}

fn join_errors(errors: &[FixError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The largest instructions file (`--instructions`) read: 8 MiB. The fix input, which merges
/// it with the Developer-Agent answer and the recipes, is an artifact read with
/// [`artifact::read_json`] (at most [`artifact::MAX_ARTIFACT_BYTES`]).
pub const MAX_INSTRUCTIONS_BYTES: u64 = 8 * 1024 * 1024;
pub use crate::artifact::{
    validate_instructions, MAX_EDITS_PER_INSTRUCTION, MAX_EDITS_TOTAL, MAX_EDIT_STRING_BYTES,
    MAX_INSTRUCTIONS, MAX_SUMMARY_BYTES,
};

/// True when an edit of `ins` holds a `[REDACTED:` marker ([`crate::logs::redact`]): it was
/// built from redacted text (a log line, a repository file shipped redacted) and would write
/// the marker, not the real text, into the file. Such instructions are dropped wherever
/// instructions are gathered (the Developer-Agent, `fix-agent-prepare`).
pub fn has_redacted_text(ins: &Instruction) -> bool {
    let has = |s: &str| s.contains("[REDACTED:");
    ins.edits.iter().any(|e| match e {
        Edit::Replace { find, replace, .. } => has(find) || has(replace),
        Edit::ReplaceLines {
            expected,
            replacement,
            ..
        } => has(expected) || has(replacement),
        Edit::Create { content, .. } => has(content),
        Edit::Delete { .. } => false,
        Edit::Patch { diff } => has(diff),
    })
}

/// Reads an instructions file: a JSON list of [`Instruction`]s (the JSON Schema is generated
/// from that type), at most [`MAX_INSTRUCTIONS_BYTES`], then [`validate_instructions`].
/// Each instruction's `source` is set to `source`.
pub fn read_instructions(path: &Path, source: &str) -> Result<Vec<Instruction>, FixError> {
    let bad = |message: String| FixError::Instructions {
        origin: path.display().to_string(),
        message,
    };
    let bytes = artifact::read_capped(path, MAX_INSTRUCTIONS_BYTES).map_err(|e| match e {
        artifact::ArtifactError::TooLarge { limit, .. } => {
            bad(format!("the file is larger than the {limit} bytes read"))
        }
        e => FixError::Artifact(e),
    })?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| bad(format!("not valid UTF-8 (at byte {})", e.valid_up_to())))?;
    let mut list: Vec<Instruction> =
        serde_json::from_str(text).map_err(|e| bad(format!("not a list of instructions: {e}")))?;
    validate_instructions(&list).map_err(bad)?;
    for ins in &mut list {
        ins.source = Some(source.to_string());
    }
    Ok(list)
}

/// The commit the patch applies to: `git rev-parse HEAD` in `repo` when it is a git work
/// tree (git run with argv), else `GITHUB_SHA`, else `local`.
pub fn base_sha(repo: &Path) -> String {
    if let Some(out) = recheck::git(repo, &["rev-parse", "--verify", "-q", "HEAD"]) {
        let s = String::from_utf8_lossy(&out).trim().to_string();
        if s.len() >= 40 && s.chars().all(|c| c.is_ascii_hexdigit()) {
            return s;
        }
    }
    match std::env::var("GITHUB_SHA") {
        Ok(s) if !s.trim().is_empty() && s.trim().chars().all(|c| c.is_ascii_hexdigit()) => {
            s.trim().to_string()
        }
        _ => "local".to_string(),
    }
}

/// Why an input whose `base_sha` is `claimed` may not be applied to a repository whose
/// [`base_sha`] is `head`: `None` when they are the same commit (hex compared without case),
/// or when the input says `local` (fix-agent-prepare ran without git or `GITHUB_SHA`; the
/// patch is then made against, and the metadata names, `head`).
pub fn base_mismatch(claimed: &str, head: &str) -> Option<String> {
    if claimed == "local" || claimed.eq_ignore_ascii_case(head) {
        return None;
    }
    let shown: String = claimed
        .chars()
        .take(64)
        .flat_map(char::escape_debug)
        .collect();
    Some(format!(
        "the fix input was made for commit {shown} but the repository's HEAD is {head}; nothing is applied (run fix-agent-prepare on this checkout, or check out {shown})"
    ))
}

/// The lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::digest::sha256_hex(bytes)
}

/// What `fix-agent-apply` is asked to do.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// `fix-agent/input.json`.
    pub input: PathBuf,
    /// The working tree.
    pub repo: PathBuf,
    /// The output directory; files go to `<out>/fix-agent/`.
    pub out: PathBuf,
    /// Leave the patched files in the working tree.
    pub keep: bool,
    /// The artifact name used in the PR body's `gh run download -n`.
    pub artifact_name: Option<String>,
    /// The run (from the environment).
    pub run: RunInfo,
}

/// What `fix-agent-apply` produced.
#[derive(Debug, Clone)]
pub struct ApplyResult {
    /// The patch file written.
    pub patch_path: PathBuf,
    /// The metadata file written.
    pub metadata_path: PathBuf,
    /// The metadata.
    pub metadata: FixMetadata,
}

impl ApplyResult {
    /// True when a non-empty patch was accepted.
    pub fn accepted(&self) -> bool {
        self.metadata.guardrails.decision == GuardDecision::Accepted
    }
}

fn read_input(path: &Path) -> Result<FixInput, FixError> {
    let input: FixInput = artifact::read_json(path)?;
    if input.schema != FIX_INPUT_SCHEMA {
        return Err(FixError::Instructions {
            origin: path.display().to_string(),
            message: format!(
                "schema is {:?}, expected {FIX_INPUT_SCHEMA:?}",
                input.schema
            ),
        });
    }
    validate_instructions(&input.instructions).map_err(|message| FixError::Instructions {
        origin: path.display().to_string(),
        message,
    })?;
    Ok(input)
}

/// Runs fix-agent-apply: reads the input, plans and guards every edit, writes the patched
/// tree only for validation (then restores it unless `keep`), and writes the patch and the
/// metadata atomically. Returns `Err` only when the artifacts could not be written; an
/// unusable input yields an empty patch and metadata with `error` (check `metadata.error`).
pub fn run_apply(opts: &ApplyOptions, policy: &FixAgentPolicy) -> Result<ApplyResult, FixError> {
    let run_file = opts.run.run_id_for_file_name();
    let dir = opts.out.join("fix-agent");
    let patch_file = format!("patch-{run_file}.diff");
    let patch_path = dir.join(&patch_file);
    let metadata_path = dir.join(format!("metadata-{run_file}.json"));
    let artifact = opts
        .artifact_name
        .clone()
        .unwrap_or_else(|| format!("fix-agent-{run_file}"));

    let (mut input, mut error) = match read_input(&opts.input) {
        Ok(i) => {
            let err = i
                .error
                .as_ref()
                .map(|e| format!("fix-agent-prepare reported an error, nothing is applied: {e}"));
            (i, err)
        }
        Err(e) => {
            let e = e.to_string();
            let input = prepare::failed_input(
                "fix-agent-apply",
                &opts.run,
                &opts.repo,
                "no usable fix input",
                e.clone(),
                policy,
            );
            (input, Some(e))
        }
    };
    // The patch is made against the repository as it is: an input made for another commit
    // is refused, and the metadata names the commit the guard really checked against.
    let head = base_sha(&opts.repo);
    let mut error_code = "invalid_input";
    if error.is_none() {
        if let Some(why) = base_mismatch(&input.base_sha, &head) {
            error = Some(why);
            error_code = "base_sha";
        }
    }
    // The PR text names the commit the patch is really made against.
    input.base_sha = head.clone();
    let instructions: &[Instruction] = if error.is_some() {
        &[]
    } else {
        &input.instructions
    };
    let mut plan = apply::plan(instructions, &opts.repo, policy);
    if let Some(e) = &error {
        plan.decision = GuardDecision::Rejected;
        plan.refused.push(Refusal {
            instruction: None,
            edit: None,
            path: opts.input.display().to_string(),
            code: error_code.into(),
            reason: crate::text::one_line(e),
        });
    }

    let mut validation =
        Validation::skipped("no validation command in the policy (fix-agent.validation.command)");
    if plan.decision == GuardDecision::Accepted {
        if policy.validation_command.is_empty() && !opts.keep {
            // Nothing to run: the tree is never touched.
        } else {
            match apply::write_plan(&opts.repo, &plan.files) {
                Ok(written) => {
                    if !policy.validation_command.is_empty() {
                        validation = validate::run_without(
                            &validation_argv(policy, &input),
                            &opts.repo,
                            policy.validation_timeout,
                            &policy.model_key_env(),
                        );
                    }
                    if opts.keep {
                        written.keep();
                    } else if let Err(e) = written.restore() {
                        error = Some(format!("the working tree could not be restored: {e}"));
                    }
                }
                Err(e) => {
                    validation =
                        Validation::skipped(&format!("the patched tree could not be written: {e}"));
                }
            }
        }
    } else {
        validation = Validation::skipped("no accepted patch to validate");
    }

    let patch_bytes = plan.patch.as_bytes();
    artifact::write_atomic(&patch_path, patch_bytes)?;
    let guardrails = Guardrails {
        decision: plan.decision,
        files_changed: plan.files_changed,
        lines_added: plan.lines_added,
        lines_removed: plan.lines_removed,
        caps: prepare::caps(policy),
        on_refusal: prepare::on_refusal(policy),
        refused: plan.refused.clone(),
        flagged: plan.flagged.clone(),
    };
    let paths: Vec<String> = plan.files.iter().map(|f| f.path.clone()).collect();
    let risk = pr::risk(
        &paths,
        plan.lines_added.saturating_add(plan.lines_removed),
        policy,
    );
    let mut review_reasons = Vec::new();
    match validation.status {
        ValidationStatus::Failed => review_reasons.push("validation failed".to_string()),
        ValidationStatus::TimedOut => review_reasons.push("validation timed out".to_string()),
        _ => {}
    }
    if !plan.flagged.is_empty() && plan.decision == GuardDecision::Accepted {
        review_reasons.push(format!(
            "{} edit(s) flagged for test weakening",
            plan.flagged.len()
        ));
    }
    if risk.class == RiskClass::Sensitive {
        review_reasons.push("the patch touches a sensitive path".to_string());
    }
    if plan.decision == GuardDecision::Accepted && !plan.refused.is_empty() {
        review_reasons.push(format!(
            "{} edit(s) were refused and dropped",
            plan.refused.len()
        ));
    }
    let text = pr::PrText {
        input: &input,
        plan: &plan,
        guardrails: &guardrails,
        risk: &risk,
        validation: &validation,
        run_id: &run_file,
        artifact: &artifact,
        patch_file: &patch_file,
        review_reasons: &review_reasons,
    };
    let (commit_message, pr_title) = pr::commit_and_title(&text);
    let pr_body = pr::pr_body(&text);
    let metadata = FixMetadata {
        schema: FIX_METADATA_SCHEMA.into(),
        tool: ToolInfo::new("fix-agent-apply"),
        run: opts.run.clone(),
        base_sha: head,
        category: input.classification.category,
        patch_file,
        patch_sha256: sha256_hex(patch_bytes),
        patch_bytes: patch_bytes.len() as u64,
        branch: pr::branch(&run_file, input.classification.category),
        commit_message,
        pr_title,
        pr_body,
        changes: plan.applied.clone(),
        guardrails,
        risk,
        validation,
        needs_manual_review: !review_reasons.is_empty(),
        review_reasons,
        model: input.model.clone(),
        error,
    };
    artifact::write_json_atomic(&metadata_path, &metadata)?;
    Ok(ApplyResult {
        patch_path,
        metadata_path,
        metadata,
    })
}

/// The validation argv: the policy's command, then (when `pass-failed-tests`) each usable
/// failed-test id (else the test file) as its own argument, deduplicated.
pub fn validation_argv(policy: &FixAgentPolicy, input: &FixInput) -> Vec<String> {
    let mut argv = policy.validation_command.clone();
    if policy.validation_pass_failed_tests {
        for t in &input.failed_tests {
            if let Some(id) = t.id.as_ref().or(t.file.as_ref()) {
                if artifact::check_test_id(id).is_ok()
                    && !argv[policy.validation_command.len()..].contains(id)
                {
                    argv.push(id.clone());
                }
            }
        }
    }
    argv
}

/// The JSON Schema of an instructions file (`--instructions`): a list of [`Instruction`]s,
/// generated from the Rust types.
pub fn instructions_schema() -> schemars::Schema {
    schemars::schema_for!(Vec<Instruction>)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_schema_describes_every_op() {
        let s = serde_json::to_string(&instructions_schema()).expect("json");
        for op in ["replace", "replace_lines", "create", "delete", "patch"] {
            assert!(s.contains(&format!("\"{op}\"")), "{op} missing");
        }
        assert!(s.contains("\"summary\""));
    }
}
