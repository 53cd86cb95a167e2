//! fix-agent-prepare: `self-heal/context.json` (+ the self-heal report, `--instructions`, the
//! Developer-Agent answer, built-in recipes) to `fix-agent/input.json`.
//!
//! Instruction sources are merged in this order, each instruction tagged with its `source`:
//! 1. `--instructions PATH` (`instructions-file`),
//! 2. the Developer-Agent answer carried in the context (`developer-agent`),
//! 3. built-in recipes (`recipe:<id>`),
//! 4. when the policy's `fix-agent.model` is on and no source above gave any: the model
//!    (`model:<provider>`, [`super::model::run`]; its candidates already checked by the guard
//!    and the validation command).
//!
//! An instruction whose edits equal an earlier one's is dropped.

use std::path::{Path, PathBuf};

use crate::artifact::{
    self, Caps, Constraints, Context, Evidence, FixInput, HealReport, Instruction, Redactions,
    RunInfo, Snippet, ToolInfo, FIX_INPUT_SCHEMA,
};
use crate::logs::redact::Redactor;
use crate::policy::fix_agent::{FixAgentPolicy, OnRefusal, TestWeakening};

use super::path::{check_on_disk, verify_path, OnDisk};
use super::recipes::{self, EvidenceLine, EvidenceLog};
use super::{base_sha, read_instructions, validate_instructions, FixError};

/// Lines of context around a snippet's focus line (each side).
pub const SNIPPET_CONTEXT_LINES: u32 = 15;
/// Most bytes per snippet.
pub const SNIPPET_MAX_BYTES: usize = 4096;
/// Most snippets.
pub const MAX_SNIPPETS: usize = 12;
/// Most findings quoted as the input's evidence.
pub const MAX_EVIDENCE: usize = 5;
pub use super::recipes::{MAX_EVIDENCE_LINES, MAX_EVIDENCE_LOG_BYTES, MAX_LOG_SCAN_BYTES};

/// What `fix-agent-prepare` is asked to do.
#[derive(Debug, Clone)]
pub struct PrepareOptions {
    /// `self-heal/context.json`.
    pub context: PathBuf,
    /// A self-heal report, when there is one.
    pub heal_report: Option<PathBuf>,
    /// `--instructions`.
    pub instructions: Option<PathBuf>,
    /// The working tree.
    pub repo: PathBuf,
}

/// The policy's size caps as the artifacts record them.
pub fn caps(p: &FixAgentPolicy) -> Caps {
    Caps {
        max_files: p.max_files,
        max_changed_lines: p.max_changed_lines,
        max_patch_bytes: p.max_patch_bytes,
    }
}

/// The policy's `on-refusal` as the artifacts record it: `reject-patch` or `drop-edit`.
pub fn on_refusal(p: &FixAgentPolicy) -> String {
    match p.on_refusal {
        OnRefusal::RejectPatch => "reject-patch",
        OnRefusal::DropEdit => "drop-edit",
    }
    .into()
}

/// The constraints section of the input, from the policy.
pub fn constraints(p: &FixAgentPolicy) -> Constraints {
    Constraints {
        allow: p.allow.as_ref().map(|a| a.patterns.clone()),
        deny: p.deny.patterns.clone(),
        builtin_deny: p.builtin_deny.iter().map(|b| b.name.to_string()).collect(),
        caps: caps(p),
        test_weakening: match p.test_weakening {
            TestWeakening::Refuse => "refuse".into(),
            TestWeakening::Flag => "flag".into(),
        },
        on_refusal: on_refusal(p),
    }
}

/// The recipes' evidence from the context: its findings, failed tests and the end of each log
/// (read from its path, [`EvidenceLog::open`]; zip entries `a.zip!x` and unreadable logs are
/// skipped), through the shared [`recipes::evidence_lines`] (which redacts it).
fn evidence_lines(ctx: &Context) -> Vec<EvidenceLine> {
    let logs = ctx
        .logs
        .iter()
        .filter(|log| !log.path.contains(".zip!"))
        .filter_map(|log| EvidenceLog::open(log).ok());
    recipes::evidence_lines(&ctx.findings, &ctx.tests.failed, logs)
}

/// The code around `line` (1-based) of `path`, when `path` is inside the repository, passes
/// the path rules and the policy scope, and is a regular text file.
fn snippet(repo: &Path, path: &str, line: u32, policy: &FixAgentPolicy) -> Option<Snippet> {
    let p = verify_path(path).ok()?;
    policy.check_scope(p).ok()?;
    match check_on_disk(repo, p).ok()? {
        OnDisk::File { bytes, .. } if bytes <= super::apply::MAX_FILE_BYTES => {}
        _ => return None,
    }
    let bytes = std::fs::read(repo.join(p)).ok()?;
    if bytes.contains(&0) {
        return None;
    }
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let focus = line.max(1);
    if focus as usize > lines.len() {
        return None;
    }
    let start = focus.saturating_sub(SNIPPET_CONTEXT_LINES).max(1);
    let end = (focus + SNIPPET_CONTEXT_LINES).min(lines.len() as u32);
    let mut body = String::new();
    let mut last = start;
    for n in start..=end {
        let l = lines[(n - 1) as usize];
        if body.len() + l.len() + 1 > SNIPPET_MAX_BYTES {
            break;
        }
        body.push_str(l);
        body.push('\n');
        last = n;
    }
    // Repository files can hold credentials too; redaction keeps the lines where they are.
    let text = Redactor::builtin().redact(&body, &mut Redactions::default());
    Some(Snippet {
        path: p.to_string(),
        start_line: start,
        end_line: last,
        focus_line: focus,
        text,
    })
}

fn snippets(
    repo: &Path,
    ctx: &Context,
    lines: &[EvidenceLine],
    policy: &FixAgentPolicy,
) -> Vec<Snippet> {
    snippets_for(repo, &ctx.findings, &ctx.tests.failed, lines, policy)
}

/// The input's snippets: the code around each `file:line` the findings, the failed tests and
/// the evidence lines name (stack frames), at most [`MAX_SNIPPETS`], each within the path
/// rules and the policy scope, redacted. The Developer-Agent server builds its model prompt
/// with it from the repository snapshot it rebuilt.
pub fn snippets_for(
    repo: &Path,
    findings: &[crate::artifact::Finding],
    failed_tests: &[crate::artifact::FailedTest],
    lines: &[EvidenceLine],
    policy: &FixAgentPolicy,
) -> Vec<Snippet> {
    let mut wanted: Vec<(String, u32)> = Vec::new();
    for f in findings {
        if let (Some(file), Some(l)) = (&f.file, f.file_line) {
            wanted.push((file.clone(), l));
        }
    }
    for t in failed_tests {
        if let (Some(file), Some(l)) = (&t.file, t.line) {
            wanted.push((file.clone(), l));
        }
    }
    // Stack frames and `file:line` in the evidence.
    let frame = regex::Regex::new(r"((?:/|\./)?(?:[\w.@-]+/)*[\w.@-]+\.[A-Za-z]{1,6}):(\d+)")
        .expect("constant regex");
    for l in lines.iter().filter(|l| l.text.contains(':')).take(5000) {
        for c in frame.captures_iter(&l.text) {
            let (Some(p), Some(n)) = (c.get(1), c.get(2)) else {
                continue;
            };
            if p.as_str().contains("node_modules") {
                continue;
            }
            if let (Some(file), Ok(line)) = (
                recipes::map_to_repo(repo, p.as_str()),
                n.as_str().parse::<u32>(),
            ) {
                wanted.push((file, line));
            }
        }
        if wanted.len() > 200 {
            break;
        }
    }
    let mut out: Vec<Snippet> = Vec::new();
    for (file, line) in wanted {
        if out.len() >= MAX_SNIPPETS {
            break;
        }
        let file = recipes::map_to_repo(repo, &file).unwrap_or(file);
        if out
            .iter()
            .any(|s| s.path == file && s.start_line <= line && line <= s.end_line)
        {
            continue;
        }
        if let Some(s) = snippet(repo, &file, line, policy) {
            out.push(s);
        }
    }
    out
}

/// The input's evidence: the classification's evidence findings, then the other findings in
/// rank order, each finding once, at most [`MAX_EVIDENCE`].
fn evidence(ctx: &Context) -> Vec<Evidence> {
    evidence_for(&ctx.classification.evidence, &ctx.findings)
}

/// [`evidence`] from the classification's evidence indexes and the findings.
pub fn evidence_for(first: &[usize], findings: &[crate::artifact::Finding]) -> Vec<Evidence> {
    let mut picked: Vec<usize> = Vec::new();
    for i in first.iter().copied().chain(0..findings.len()) {
        if picked.len() >= MAX_EVIDENCE {
            break;
        }
        if i < findings.len() && !picked.contains(&i) {
            picked.push(i);
        }
    }
    picked
        .into_iter()
        .filter_map(|i| findings.get(i))
        .map(|f| Evidence {
            rule: f.rule.clone(),
            log: f.log.clone(),
            line_start: f.line_start,
            line_end: f.line_end,
            excerpt: f.excerpt.clone(),
            file: f.file.clone(),
            file_line: f.file_line,
        })
        .collect()
}

fn same_edits(a: &Instruction, b: &Instruction) -> bool {
    a.edits == b.edits
}

/// Builds the fix input. Returns the input and whether an instruction source failed (the
/// input then carries `error`, and `fix-agent-apply` applies nothing).
///
/// Errors: the context cannot be read (the caller writes an input with `error`).
pub fn prepare(opts: &PrepareOptions, policy: &FixAgentPolicy) -> Result<FixInput, FixError> {
    let ctx: Context = artifact::read_artifact(&opts.context)?;
    let mut notes = Vec::new();
    let mut error = None;
    let mut instructions: Vec<Instruction> = Vec::new();

    if let Some(path) = &opts.instructions {
        match read_instructions(path, "instructions-file") {
            Ok(list) => instructions.extend(list),
            Err(e) => {
                notes.push(format!("--instructions was not used: {e}"));
                error = Some(e.to_string());
            }
        }
    }
    if let Some(answer) = &ctx.developer_agent.answer {
        let mut list = answer.fix_agent_instructions.clone();
        match validate_instructions(&list) {
            Ok(()) => {
                for i in &mut list {
                    i.source = Some("developer-agent".into());
                }
                instructions.extend(list);
            }
            Err(e) => notes.push(format!(
                "the Developer-Agent instructions were not used: {e}"
            )),
        }
    }
    // The Developer-Agent's model record, when its server asked a model for the answer.
    let answer_model = ctx.developer_agent.answer.as_ref().and_then(|a| {
        a.model.clone().map(|mut m| {
            m.asked_by = Some("developer-agent".into());
            m
        })
    });
    let lines = evidence_lines(&ctx);
    let rec = recipes::run_all(&opts.repo, &lines, policy);
    notes.extend(rec.notes);
    instructions.extend(rec.instructions);
    let mut merged: Vec<Instruction> = Vec::new();
    for i in instructions {
        if crate::fix::has_redacted_text(&i) {
            notes.push(format!(
                "an instruction from {} was dropped: its edits contain redacted text",
                i.source.as_deref().unwrap_or("an unnamed source")
            ));
            continue;
        }
        if !merged.iter().any(|m| same_edits(m, &i)) {
            merged.push(i);
        }
    }
    if let Err(e) = validate_instructions(&merged) {
        error = Some(format!("the merged instructions exceed the limits: {e}"));
        merged.clear();
    }
    if merged.is_empty() {
        notes.push("no instructions: no source gave any, and no recipe was sure".into());
    }

    let self_heal_outcome = match &opts.heal_report {
        Some(p) => match artifact::read_artifact::<HealReport>(p) {
            Ok(r) => Some(r.outcome.as_str().to_string()),
            Err(e) => {
                notes.push(format!("the self-heal report was not used: {e}"));
                None
            }
        },
        None => None,
    };
    let evidence = evidence(&ctx);
    let snippets = snippets(&opts.repo, &ctx, &lines, policy);
    let asked_model = policy.model.is_some() && merged.is_empty() && error.is_none();
    if asked_model {
        // The "no instructions" note is replaced by what the model said.
        notes.retain(|n| !n.starts_with("no instructions: "));
    }
    let mut input = FixInput {
        schema: FIX_INPUT_SCHEMA.into(),
        tool: ToolInfo::new("fix-agent-prepare"),
        run: ctx.run.clone(),
        base_sha: base_sha(&opts.repo),
        classification: ctx.classification.clone(),
        evidence,
        failed_tests: ctx.tests.failed.clone(),
        self_heal_outcome,
        instructions: merged,
        snippets,
        constraints: constraints(policy),
        notes,
        model: None,
        error,
    };
    if let Some(m) = &answer_model {
        input.notes.push(format!(
            "the Developer-Agent asked the model {}/{}: {}{}",
            crate::text::one_line(&m.provider),
            crate::text::one_line(&m.model),
            m.status.as_str(),
            m.reason
                .as_deref()
                .map(|r| format!(" ({})", crate::text::one_line(r)))
                .unwrap_or_default()
        ));
    }
    if let Some(m) = &policy.model {
        let result = if asked_model {
            super::model::run(&opts.repo, &input, policy, m)
        } else if input.error.is_some() {
            super::model::skipped(m, "an instruction source failed")
        } else {
            super::model::skipped(m, "another source already gave instructions")
        };
        input.notes.extend(result.notes);
        input.instructions.extend(result.instructions);
        if input.instructions.is_empty() {
            input
                .notes
                .push("no instructions: no source gave any, and no recipe was sure".into());
        }
        // A local run that did not ask the model says less than the Developer-Agent's.
        input.model = match answer_model {
            Some(a) if !asked_model => Some(a),
            _ => Some(result.run),
        };
    } else {
        input.model = answer_model;
    }
    Ok(input)
}

/// An input that carries nothing to apply: no instructions, classification `unknown` with
/// `summary`, and `error`. `tool` names the writer: `fix-agent-prepare` writes it when the
/// context cannot be read, `fix-agent-apply` stands it in for an input it cannot use.
pub fn failed_input(
    tool: &str,
    run: &RunInfo,
    repo: &Path,
    summary: &str,
    error: String,
    policy: &FixAgentPolicy,
) -> FixInput {
    FixInput {
        schema: FIX_INPUT_SCHEMA.into(),
        tool: ToolInfo::new(tool),
        run: run.clone(),
        base_sha: base_sha(repo),
        classification: artifact::Classification {
            category: artifact::Category::Unknown,
            kind: artifact::CategoryKind::Code,
            confidence: 0.0,
            source: artifact::ClassificationSource::Rules,
            evidence: Vec::new(),
            summary: summary.into(),
        },
        evidence: Vec::new(),
        failed_tests: Vec::new(),
        self_heal_outcome: None,
        instructions: Vec::new(),
        snippets: Vec::new(),
        constraints: constraints(policy),
        notes: Vec::new(),
        model: None,
        error: Some(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(findings: usize, evidence: Vec<usize>) -> Context {
        let findings: Vec<serde_json::Value> = (0..findings)
            .map(|i| {
                serde_json::json!({
                    "rule": format!("r{i}"), "category": "unknown", "log": "a.log",
                    "line_start": i + 1, "line_end": i + 1, "rank": i + 1, "score": 1.0,
                    "excerpt": format!("line {i}"),
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "schema": artifact::CONTEXT_SCHEMA,
            "tool": {"name": "self-heal-prepare", "version": "0"},
            "run": RunInfo::from_lookup(|_| None),
            "logs": [],
            "tests": {},
            "findings": findings,
            "classification": {"category": "unknown", "kind": "code", "confidence": 0.5,
                "source": "rules", "evidence": evidence, "summary": "s"},
            "developer_agent": {"status": "not_provided"},
            "redactions": {"total": 0, "by_rule": {}},
        }))
        .expect("context")
    }

    fn rules(e: &[Evidence]) -> Vec<&str> {
        e.iter().map(|e| e.rule.as_str()).collect()
    }

    #[test]
    fn evidence_is_filled_up_to_five_distinct_findings() {
        // The classification's evidence first, then the others in order, each once.
        let ctx = context(7, vec![0, 1, 2]);
        assert_eq!(rules(&evidence(&ctx)), ["r0", "r1", "r2", "r3", "r4"]);
        let ctx = context(7, vec![3, 0, 3, 99]);
        assert_eq!(rules(&evidence(&ctx)), ["r3", "r0", "r1", "r2", "r4"]);
        let ctx = context(2, vec![1]);
        assert_eq!(rules(&evidence(&ctx)), ["r1", "r0"]);
    }

    #[test]
    fn instructions_with_redacted_text_are_dropped_with_a_note() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut ctx = serde_json::to_value(context(1, vec![0])).expect("json");
        let edit = |text: &str| serde_json::json!({"op": "replace", "path": "a.txt", "find": "x", "replace": text});
        ctx["developer_agent"] = serde_json::json!({
            "status": "valid",
            "answer": {
                "classification": {"category": "unknown", "confidence": 0.5},
                "fix_agent_instructions": [
                    {"summary": "leaks", "edits": [edit("token [REDACTED:github-pat]")]},
                    {"summary": "fine", "edits": [edit("y")]},
                ],
            },
        });
        let path = dir.path().join("context.json");
        std::fs::write(&path, serde_json::to_vec(&ctx).expect("bytes")).expect("write");
        let opts = PrepareOptions {
            context: path,
            heal_report: None,
            instructions: None,
            repo: dir.path().to_path_buf(),
        };
        let input = prepare(&opts, &FixAgentPolicy::default()).expect("prepares");
        let summaries: Vec<&str> = input
            .instructions
            .iter()
            .map(|i| i.summary.as_str())
            .collect();
        assert_eq!(summaries, ["fine"]);
        assert!(
            input
                .notes
                .iter()
                .any(|n| n.contains("developer-agent") && n.contains("redacted")),
            "{:?}",
            input.notes
        );
    }
}
