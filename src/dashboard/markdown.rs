//! The job summary: a runs table, then per run (newest first, at most [`DETAILED_RUNS`]) the
//! classification with confidence, the top evidence blocks with `file:line`, the self-heal gates
//! and outcome, and the patch's guardrail table with the diff collapsed in `<details>`.
//!
//! Built from the shared helpers: `github::summary` (`cell`, `code_block`, `context_markdown`,
//! `decision_markdown`, `report_markdown`) and `fix::pr::guardrails_markdown`, so untrusted text is neutralised the
//! same way everywhere.

use std::fmt::Write as _;

use crate::artifact::{GuardDecision, ValidationStatus};
use crate::fix::pr::guardrails_markdown;
use crate::github::summary::{
    cell, code_block, context_markdown, decision_markdown, report_markdown,
};

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
            cell(&r.heal_text()),
            r.fix
                .as_ref()
                .map(|f| f.metadata.guardrails.decision.as_str())
                .unwrap_or("none"),
            r.missing.len()
        );
    }
    md.push('\n');
    flaky(&mut md, d);
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

/// The most flaky tests the job summary lists.
pub const SUMMARY_FLAKY_TESTS: usize = 20;

fn flaky(md: &mut String, d: &Dashboard) {
    if d.flaky_tests.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "**Flaky tests** (failed in one attempt of a commit, passed in another; top {} of {}):\n",
        d.flaky_tests.len().min(SUMMARY_FLAKY_TESTS),
        d.flaky_tests.len()
    );
    md.push_str(
        "| test | failures | passes | runs | first seen | last seen |\n|---|---|---|---|---|---|\n",
    );
    for t in d.flaky_tests.iter().take(SUMMARY_FLAKY_TESTS) {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&t.test),
            t.failures,
            t.passes,
            cell(&t.runs.join(", ")),
            cell(&t.first_seen),
            cell(&t.last_seen)
        );
    }
    md.push('\n');
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
        md.push_str(&report_markdown(rep));
    }
    md.push_str("### Patch\n\n");
    match &r.fix {
        Some(f) => fix_markdown(md, f),
        None => md.push_str("No fix-agent metadata for this run.\n\n"),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_with_a_self_heal_report_shows_it_as_self_heal_execute_does() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/dashboard/artifacts/7001");
        let d = super::super::collect(&dir).expect("collect");
        let rep = d.runs[0]
            .report
            .as_ref()
            .expect("7001 has a self-heal report");
        let md = summary_markdown(&d);
        assert!(md.contains(&report_markdown(rep)), "{md}");
        assert!(
            md.contains(&format!("| {} |", d.runs[0].heal_state().as_str())),
            "{md}"
        );
    }
}
