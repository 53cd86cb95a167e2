//! The job summary: a runs table, then per run (newest first, at most [`DETAILED_RUNS`]) the
//! classification with confidence, the top evidence blocks with `file:line`, the self-heal gates
//! and outcome, and the patch's guardrail table with the diff collapsed in `<details>`.
//!
//! Built from the shared helpers: `github::summary` (`cell`, `code_block`, `context_markdown`,
//! `decision_markdown`) and `fix::pr::guardrails_markdown`, so untrusted text is neutralised the
//! same way everywhere.

use std::fmt::Write as _;

use crate::artifact::{ActionResult, GuardDecision, ValidationStatus};
use crate::fix::pr::guardrails_markdown;
use crate::github::summary::{cell, code_block, context_markdown, decision_markdown};

use super::{Dashboard, FixView, RunView};

/// Runs shown in detail; the others only in the table.
pub const DETAILED_RUNS: usize = 3;
/// Diff lines shown in the summary; the full diff is on the page and in the artifact.
pub const SUMMARY_DIFF_LINES: usize = 200;

/// The job summary for a dashboard (GitHub-flavoured Markdown; no absolute paths, no times,
/// so the same artifacts always give the same text).
pub fn summary_markdown(d: &Dashboard) -> String {
    let mut md = String::from("# ci-remedy dashboard\n\n");
    let h = &d.history;
    if d.runs.is_empty() {
        md.push_str("No ci-remedy artifacts were found (no context, decision, self-heal report or fix-agent metadata).\n");
        problems(&mut md, d);
        return md;
    }
    let _ = writeln!(
        md,
        "{} run{} · self-heal healed {} of {} attempts · patches accepted {} of {}\n",
        h.runs,
        if h.runs == 1 { "" } else { "s" },
        h.self_heal_healed,
        h.self_heal_attempted,
        h.patches_accepted,
        h.patches_produced
    );
    md.push_str("| run | category | confidence | self-heal | patch | missing |\n|---|---|---|---|---|---|\n");
    for r in &d.runs {
        let (cat, conf) = match &r.context {
            Some(c) => (
                format!("`{}`", c.classification.category),
                format!("{:.2}", c.classification.confidence),
            ),
            None => ("unknown".into(), "–".into()),
        };
        let _ = writeln!(
            md,
            "| {} | {cat} | {conf} | {} | {} | {} |",
            cell(&r.run_id),
            heal_state(r),
            r.fix
                .as_ref()
                .map(|f| f.metadata.guardrails.decision.as_str())
                .unwrap_or("none"),
            r.missing.len()
        );
    }
    md.push('\n');
    problems(&mut md, d);
    for r in d.runs.iter().take(DETAILED_RUNS) {
        run_markdown(&mut md, r);
    }
    if d.runs.len() > DETAILED_RUNS {
        let _ = writeln!(
            md,
            "{} older run(s) are in the table above and on the dashboard pages.\n",
            d.runs.len() - DETAILED_RUNS
        );
    }
    md
}

fn heal_state(r: &RunView) -> &'static str {
    match (&r.report, &r.decision) {
        (Some(rep), _) => rep.outcome.as_str(),
        (None, Some(d)) if !d.allowed => "not allowed",
        (None, Some(_)) => "allowed, no report",
        (None, None) => "not run",
    }
}

fn problems(md: &mut String, d: &Dashboard) {
    if d.problems.is_empty() {
        return;
    }
    md.push_str("**Files that could not be used:**\n\n");
    for p in &d.problems {
        let _ = writeln!(md, "- {}: {}", cell(&p.path), cell(&p.reason));
    }
    md.push('\n');
}

fn run_markdown(md: &mut String, r: &RunView) {
    let _ = writeln!(
        md,
        "---\n\n## Run {} · {} · {} · commit {}\n",
        cell(&r.run_id),
        cell(&r.repository),
        cell(&r.event_name),
        cell(&r.sha.chars().take(12).collect::<String>())
    );
    if !r.missing.is_empty() {
        md.push_str("> **Not available:**\n");
        for m in &r.missing {
            let _ = writeln!(md, "> - {}", cell(m));
        }
        md.push('\n');
    }
    if let Some(c) = &r.context {
        let text = context_markdown(c);
        let text = text
            .strip_prefix("## ci-remedy: failure analysis\n\n")
            .unwrap_or(&text);
        md.push_str("### Failure\n\n");
        md.push_str(text);
    }
    md.push_str("### Self-heal\n\n");
    match &r.decision {
        Some(d) => md.push_str(&decision_markdown(d)),
        None => md.push_str("No decision: self-heal-decide did not run for this run.\n\n"),
    }
    if let Some(rep) = &r.report {
        let _ = writeln!(
            md,
            "**Outcome:** `{}` · escalate to `{}` · {}\n",
            rep.outcome.as_str(),
            rep.escalate_to.as_str(),
            cell(&rep.detail)
        );
        if !rep.actions.is_empty() || rep.rerun.is_some() {
            md.push_str("| step | exit | time |\n|---|---|---|\n");
            for a in &rep.actions {
                action_row(md, &format!("action {}", a.name), a);
            }
            if let Some(rr) = &rep.rerun {
                action_row(md, "rerun", &rr.result);
            }
            md.push('\n');
        }
    }
    md.push_str("### Patch\n\n");
    match &r.fix {
        Some(f) => fix_markdown(md, f),
        None => md.push_str("No fix-agent metadata for this run.\n\n"),
    }
}

fn action_row(md: &mut String, label: &str, a: &ActionResult) {
    let exit = if a.timed_out {
        "timed out".to_string()
    } else {
        a.exit_code
            .map(|c| c.to_string())
            .unwrap_or_else(|| "none".into())
    };
    let _ = writeln!(md, "| {} | {exit} | {} ms |", cell(label), a.duration_ms);
}

fn fix_markdown(md: &mut String, f: &FixView) {
    let m = &f.metadata;
    md.push_str(&guardrails_markdown(&m.guardrails, m.patch_bytes, &m.risk));
    md.push('\n');
    let v = &m.validation;
    match v.status {
        ValidationStatus::Skipped => {
            let _ = writeln!(
                md,
                "**Validation:** skipped ({})\n",
                cell(v.detail.as_deref().unwrap_or("no validation command"))
            );
        }
        s => {
            let _ = writeln!(
                md,
                "**Validation:** `{}` in {} ms{}\n",
                s.as_str(),
                v.duration_ms,
                v.exit_code
                    .map(|c| format!(", exit code {c}"))
                    .unwrap_or_default()
            );
        }
    }
    if m.needs_manual_review {
        md.push_str("**Needs manual review:**\n\n");
        for r in &m.review_reasons {
            let _ = writeln!(md, "- {}", cell(r));
        }
        md.push('\n');
    }
    if let Some(note) = &f.patch_note {
        let _ = writeln!(md, "> {}\n", cell(note));
    }
    match &f.patch {
        Some(p) if !p.is_empty() && m.guardrails.decision == GuardDecision::Accepted => {
            let lines: Vec<&str> = p.lines().collect();
            let shown = lines
                .iter()
                .take(SUMMARY_DIFF_LINES)
                .copied()
                .collect::<Vec<_>>()
                .join("\n");
            let _ = writeln!(
                md,
                "<details><summary>{} (+{} −{}{})</summary>\n",
                cell(&m.patch_file),
                m.guardrails.lines_added,
                m.guardrails.lines_removed,
                if f.patch_verified {
                    ", sha256 verified"
                } else {
                    ", sha256 NOT verified"
                }
            );
            md.push_str(&code_block(&shown, "diff"));
            if lines.len() > SUMMARY_DIFF_LINES {
                let _ = writeln!(
                    md,
                    "\n… {} more lines in the artifact.",
                    lines.len() - SUMMARY_DIFF_LINES
                );
            }
            md.push_str("\n</details>\n\n");
        }
        _ => md.push_str("No patch to show.\n\n"),
    }
}
