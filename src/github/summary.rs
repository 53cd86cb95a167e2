//! Markdown for job summaries and PR text, built from artifacts.
//!
//! Everything quoted from logs is untrusted: code blocks use a fence longer than any backtick
//! run inside them, and table cells escape `|`, `<`, `>` and `&` and fold newlines, so a log
//! line can neither close a block nor inject HTML.

use crate::artifact::{Context, Decision, Finding, FixMetadata};
pub use crate::text::markdown::{cell, code_block, code_span};

/// How many evidence blocks summaries show.
pub const TOP_EVIDENCE: usize = 3;
/// The most characters of a gate's or a report's detail shown (then `…`).
pub const MAX_DETAIL_CHARS: usize = 300;

/// [`cell`] of at most [`MAX_DETAIL_CHARS`] characters of `text` (`…` when cut).
fn detail_cell(text: &str) -> String {
    let mut cut: String = text.chars().take(MAX_DETAIL_CHARS).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cell(&cut)
}

/// `log:line` or `log:start-end` for a finding (1-based lines of the original log).
pub fn finding_location(f: &Finding) -> String {
    if f.line_start == f.line_end {
        format!("{}:{}", f.log, f.line_start)
    } else {
        format!("{}:{}-{}", f.log, f.line_start, f.line_end)
    }
}

/// The job summary section for a context: classification, top evidence with `file:line`,
/// failed tests.
pub fn context_markdown(ctx: &Context) -> String {
    let c = &ctx.classification;
    let mut md = String::new();
    md.push_str("## ci-remedy: failure analysis\n\n");
    md.push_str(&format!(
        "**Category:** `{}` ({}) · **confidence** {:.2} · source: {}\n\n",
        c.category,
        c.kind.as_str(),
        c.confidence,
        c.source.as_str()
    ));
    md.push_str(&format!("{}\n\n", cell(&c.summary)));
    let top: Vec<&Finding> = ctx
        .findings
        .iter()
        .filter(|f| f.rank as usize <= TOP_EVIDENCE)
        .collect();
    if top.is_empty() {
        md.push_str("No evidence lines were found in the logs.\n\n");
    }
    for f in top {
        let source = match (&f.file, f.file_line) {
            (Some(file), Some(line)) => {
                format!(" · source {}", code_span(&format!("{file}:{line}")))
            }
            (Some(file), None) => format!(" · source {}", code_span(file)),
            _ => String::new(),
        };
        md.push_str(&format!(
            "**#{} {}** — rule {} ({}){}\n\n",
            f.rank,
            code_span(&finding_location(f)),
            code_span(&f.rule),
            f.category,
            source
        ));
        md.push_str(&code_block(&f.excerpt, "text"));
        md.push('\n');
    }
    if !ctx.tests.failed.is_empty() {
        md.push_str(&format!(
            "**Failed tests** ({}):\n\n",
            ctx.tests.failed.len()
        ));
        md.push_str("| test | location | message |\n|---|---|---|\n");
        for t in ctx.tests.failed.iter().take(10) {
            let loc = match (&t.file, t.line) {
                (Some(f), Some(l)) => format!("{f}:{l}"),
                (Some(f), None) => f.clone(),
                _ => String::new(),
            };
            let msg = t
                .message
                .as_deref()
                .and_then(|m| m.lines().next())
                .unwrap_or("");
            md.push_str(&format!(
                "| {} | {} | {} |\n",
                cell(&t.name),
                cell(&loc),
                cell(&msg.chars().take(200).collect::<String>())
            ));
        }
        if ctx.tests.failed.len() > 10 {
            md.push_str(&format!("\n… and {} more.\n", ctx.tests.failed.len() - 10));
        }
        md.push('\n');
    }
    if !ctx.tests.flaky.is_empty() {
        md.push_str(&format!(
            "**Flaky across attempts** ({}: failed in one attempt of this commit, passed in another):\n\n",
            ctx.tests.flaky.len() as u64 + ctx.tests.flaky_omitted
        ));
        md.push_str("| test | failures | passes | runs |\n|---|---|---|---|\n");
        for t in ctx.tests.flaky.iter().take(10) {
            md.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                cell(t.id.as_deref().unwrap_or(&t.name)),
                t.failures,
                t.passes,
                cell(&crate::reports::attempts::runs_line(t))
            ));
        }
        if ctx.tests.flaky.len() > 10 {
            md.push_str(&format!("\n… and {} more.\n", ctx.tests.flaky.len() - 10));
        }
        md.push('\n');
    }
    if let Some(e) = &ctx.error {
        md.push_str(&format!("> **error:** {}\n\n", cell(e)));
    }
    md
}

/// The self-heal decision as Markdown: allowed or not, category, confidence, attempt, and one
/// table row per gate (name, pass/**fail**, detail escaped with [`cell`] and cut to
/// [`MAX_DETAIL_CHARS`]).
pub fn decision_markdown(d: &Decision) -> String {
    let mut s = format!(
        "**Self-heal decision:** {} · category `{}` ({}) · confidence {:.2} · attempt {} of {}\n\n| gate | result | detail |\n|---|---|---|\n",
        if d.allowed {
            "allowed"
        } else if d.quarantined {
            "quarantined (the failed tests are known-flaky; information, not the failure cause)"
        } else {
            "not allowed"
        },
        d.category,
        d.kind.as_str(),
        d.confidence,
        d.attempt,
        d.max_attempts
    );
    for g in &d.gates {
        s.push_str(&format!(
            "| {} | {} | {} |\n",
            cell(&g.name),
            if g.passed { "pass" } else { "**fail**" },
            detail_cell(&g.detail)
        ));
    }
    if !d.refused_actions.is_empty() {
        s.push_str(&format!(
            "\nRefused actions: {}\n",
            cell(&d.refused_actions.join(", "))
        ));
    }
    s.push('\n');
    s
}

/// The job summary section for a self-heal report: outcome, escalation, the detail (cut to
/// [`MAX_DETAIL_CHARS`]), and a table of the actions and the rerun (exit code, duration in ms,
/// timed out).
pub fn report_markdown(r: &crate::artifact::HealReport) -> String {
    let mut s = format!(
        "**Self-heal outcome:** {} · escalate to: {}\n\n{}\n\n",
        r.outcome.as_str(),
        r.escalate_to.as_str(),
        detail_cell(&r.detail)
    );
    if let Some(g) = &r.github_rerun {
        s.push_str(&format!(
            "**GitHub:** {} · `{}` · answer {}\n\n",
            detail_cell(&g.line()),
            cell(&g.request),
            g.status.map_or("none".to_string(), |c| c.to_string())
        ));
    }
    let rerun = r.rerun.as_ref().map(|x| &x.result);
    let steps: Vec<_> = r.actions.iter().chain(rerun).collect();
    if !steps.is_empty() {
        s.push_str("| step | exit | duration (ms) | timed out |\n|---|---|---|---|\n");
        for a in steps {
            s.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                cell(&a.name),
                a.exit_code.map_or("-".to_string(), |c| c.to_string()),
                a.duration_ms,
                if a.timed_out { "yes" } else { "no" }
            ));
        }
    }
    s.push('\n');
    s
}

/// The job summary section for fix-agent metadata: the guardrail table (and refusals) of
/// [`crate::fix::pr::guardrails_markdown`], the validation, whether a manual review is needed
/// and why, and the names of the patch and metadata files.
pub fn fix_markdown(m: &FixMetadata) -> String {
    let mut s = String::from("### ci-remedy fix-agent\n\n");
    s.push_str(&crate::fix::pr::guardrails_markdown(
        &m.guardrails,
        m.patch_bytes,
        &m.risk,
    ));
    s.push_str(&format!(
        "\n**Validation:** {}",
        m.validation.status.as_str()
    ));
    if let Some(c) = m.validation.exit_code {
        s.push_str(&format!(" (exit code {c})"));
    }
    s.push_str(&format!(
        " · **needs manual review:** {}\n",
        if m.needs_manual_review { "yes" } else { "no" }
    ));
    for r in &m.review_reasons {
        s.push_str(&format!("- {}\n", cell(r)));
    }
    s.push_str(&format!(
        "\nPatch: {} · metadata: {}\n",
        code_span(&m.patch_file),
        code_span(&format!("metadata-{}.json", m.run.run_id_for_file_name()))
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_block_cannot_be_closed_from_inside() {
        let b = code_block("a\n```\n<script>", "text");
        assert!(b.starts_with("````text\n"));
        assert!(b.ends_with("\n````\n"));
    }

    /// The text CommonMark shows for a code span (spec 6.1): the content between the opening
    /// backtick run and the next run of the same length, one space stripped from each side
    /// when both ends are spaces and it is not all spaces. None: no such closing run.
    fn rendered_code_span(md: &str) -> Option<String> {
        let open = md.chars().take_while(|c| *c == '`').count();
        let rest = &md[open..];
        let mut i = 0;
        let bytes = rest.as_bytes();
        while i < bytes.len() {
            if bytes[i] == b'`' {
                let run = bytes[i..].iter().take_while(|b| **b == b'`').count();
                if run == open {
                    let mut content = rest[..i].to_string();
                    if content.len() >= 2
                        && content.starts_with(' ')
                        && content.ends_with(' ')
                        && content.chars().any(|c| c != ' ')
                    {
                        content = content[1..content.len() - 1].to_string();
                    }
                    return (i + run == rest.len()).then_some(content);
                }
                i += run;
            } else {
                i += 1;
            }
        }
        None
    }

    #[test]
    fn code_spans_show_the_text_literally() {
        for text in [
            "__tests__/test_utils.py",
            "a`b",
            "`x`",
            "``",
            " padded ",
            "a & <b> &amp; \\_ @user | x",
            "  ",
        ] {
            let span = code_span(text);
            assert_eq!(rendered_code_span(&span).as_deref(), Some(text), "{span}");
        }
        assert_eq!(code_span("__init__.py"), "`__init__.py`");
        assert_eq!(code_span("a`b"), "``a`b``");
        assert_eq!(code_span("`x`"), "`` `x` ``");
        assert_eq!(code_span("a\nb\u{202e}c\u{200b}"), "`abc`");
        assert_eq!(code_span(""), "` `");
    }

    #[test]
    fn details_are_cut() {
        let long = "x".repeat(MAX_DETAIL_CHARS + 50);
        assert_eq!(
            detail_cell(&long),
            format!("{}…", "x".repeat(MAX_DETAIL_CHARS))
        );
        assert_eq!(detail_cell("a|b"), "a\\|b");
    }

    #[test]
    fn cells_escape_pipes_and_html() {
        assert_eq!(cell("a|b<script>\n"), "a\\|b&lt;script&gt; ");
    }
}
