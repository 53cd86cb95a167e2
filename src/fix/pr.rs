//! Risk classes and the PR-ready text of the metadata: branch, conventional commit message,
//! PR title and a Markdown PR body in which every untrusted string is neutralised.

use crate::artifact::{
    Category, Evidence, FixInput, Guardrails, Risk, RiskClass, Validation, ValidationStatus,
};
use crate::policy::fix_agent::FixAgentPolicy;

use super::apply::Plan;
use crate::text::markdown::{code_block, code_span};

/// The class of one path: `sensitive` per the policy's sensitive globs, `test_only` for test
/// files, `config` for build/container/config/docs files, else `source`.
pub fn classify_path(path: &str, policy: &FixAgentPolicy) -> RiskClass {
    if policy.sensitive.is_match(path) {
        return RiskClass::Sensitive;
    }
    let lower = path.to_ascii_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    let dirs: Vec<&str> = lower.split('/').collect();
    let in_dir = |d: &[&str]| {
        dirs[..dirs.len().saturating_sub(1)]
            .iter()
            .any(|x| d.contains(x))
    };
    if in_dir(&[
        "test",
        "tests",
        "__tests__",
        "spec",
        "specs",
        "e2e",
        "testdata",
    ]) || name.contains(".test.")
        || name.contains(".spec.")
        || name.contains("_test.")
        || (name.starts_with("test_") && name.ends_with(".py"))
    {
        return RiskClass::TestOnly;
    }
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    if name.starts_with("dockerfile")
        || name.ends_with(".dockerfile")
        || name.starts_with('.')
        || name == "makefile"
        || name.contains(".config.")
        || name.starts_with("tsconfig")
        || matches!(
            ext,
            "yml"
                | "yaml"
                | "json"
                | "toml"
                | "ini"
                | "cfg"
                | "conf"
                | "xml"
                | "properties"
                | "md"
                | "txt"
                | "rst"
        )
    {
        return RiskClass::Config;
    }
    RiskClass::Source
}

/// The patch's risk: the highest class among its files and a 0..=100 score (class base
/// 10/25/50/80 plus up to 10 for files and 10 for changed lines).
pub fn risk(paths: &[String], changed_lines: u32, policy: &FixAgentPolicy) -> Risk {
    let classes: Vec<(String, RiskClass)> = paths
        .iter()
        .map(|p| (p.clone(), classify_path(p, policy)))
        .collect();
    let class = classes
        .iter()
        .map(|(_, c)| *c)
        .max()
        .unwrap_or(RiskClass::None);
    let base = match class {
        RiskClass::None => 0,
        RiskClass::TestOnly => 10,
        RiskClass::Config => 25,
        RiskClass::Source => 50,
        RiskClass::Sensitive => 80,
    };
    let score = if class == RiskClass::None {
        0
    } else {
        let files = u32::try_from(paths.len())
            .unwrap_or(u32::MAX)
            .saturating_mul(2)
            .min(10);
        (base + files + (changed_lines / 10).min(10)).min(100)
    };
    Risk {
        class,
        score,
        files: classes
            .iter()
            .map(|(p, c)| format!("{p}: {}", c.as_str()))
            .collect(),
    }
}

/// One line of untrusted text, safe inside Markdown and a commit message: control characters
/// removed, Markdown and HTML specials and `@` (mentions) as character references, at most
/// `max` characters.
pub fn md_inline(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i >= max {
            out.push('…');
            break;
        }
        match c {
            c if c.is_control() || super::path::is_invisible_or_bidi(c) => out.push(' '),
            '<' | '>' | '&' | '@' | '|' | '`' | '[' | ']' | '*' | '_' | '\\' | '#' | '!' | '~' => {
                out.push_str(&format!("&#{};", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// One line of untrusted text for a commit message or title: control, invisible and
/// bidirectional characters become spaces, at most `max` characters.
pub fn plain_line(text: &str, max: usize) -> String {
    let s: String = text
        .chars()
        .map(|c| {
            if c.is_control() || super::path::is_invisible_or_bidi(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > max {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    } else {
        s
    }
}

/// The branch name: `ci-remedy/<run_id>-<category>` with `_` as `-`.
pub fn branch(run_id_for_file: &str, category: Category) -> String {
    format!(
        "ci-remedy/{run_id_for_file}-{}",
        category.as_str().replace('_', "-")
    )
}

/// The conventional-commit type for a patch: `test` for test-only, `build` for config, else `fix`.
pub fn commit_type(class: RiskClass) -> &'static str {
    match class {
        RiskClass::TestOnly => "test",
        RiskClass::Config => "build",
        _ => "fix",
    }
}

/// Everything the PR text needs.
pub struct PrText<'a> {
    /// The fix input.
    pub input: &'a FixInput,
    /// The plan.
    pub plan: &'a Plan,
    /// The guardrails as recorded.
    pub guardrails: &'a Guardrails,
    /// The risk.
    pub risk: &'a Risk,
    /// The validation.
    pub validation: &'a Validation,
    /// The run id as used in file names.
    pub run_id: &'a str,
    /// The artifact name for `gh run download -n`.
    pub artifact: &'a str,
    /// The patch file name.
    pub patch_file: &'a str,
    /// Why a manual review is needed.
    pub review_reasons: &'a [String],
}

/// (commit message, PR title).
pub fn commit_and_title(t: &PrText<'_>) -> (String, String) {
    let category = t.input.classification.category;
    let first = t
        .plan
        .applied
        .first()
        .map(|a| {
            // The summary's first clause (before `:`) reads as a title.
            let head = a.summary.split(':').next().unwrap_or(&a.summary);
            let head = if head.trim().len() >= 10 {
                head
            } else {
                a.summary.as_str()
            };
            plain_line(head, 60)
        })
        .unwrap_or_else(|| format!("address {category} failure"));
    let subject = format!("{}(ci-remedy): {first}", commit_type(t.risk.class));
    let mut msg = format!("{subject}\n\n");
    for a in &t.plan.applied {
        msg.push_str(&format!(
            "- {} ({})\n",
            plain_line(&a.summary, 200),
            a.files.join(", ")
        ));
    }
    msg.push_str(&format!(
        "\nFailure: {category} in workflow run {}.\nGenerated by ci-remedy fix-agent-apply; review before merging.\n",
        plain_line(&t.input.run.run_id, 64)
    ));
    let title = format!("ci-remedy: fix {category} failure: {first}");
    (msg, title)
}

/// Untrusted text as an inline code span ([`code_span`]), cut to `max` characters.
fn code(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        code_span(text)
    } else {
        let mut t: String = text.chars().take(max).collect();
        t.push('…');
        code_span(&t)
    }
}

fn evidence_block(e: &Evidence) -> String {
    let loc = match (&e.file, e.file_line) {
        (Some(f), Some(l)) => format!(" — {}", code(&format!("{f}:{l}"), 200)),
        (Some(f), None) => format!(" — {}", code(f, 200)),
        _ => String::new(),
    };
    let excerpt: String = e.excerpt.lines().take(20).collect::<Vec<_>>().join("\n");
    format!(
        "Log {} lines {}–{} (rule {}){loc}:\n\n{}",
        code(&e.log, 200),
        e.line_start,
        e.line_end,
        code(&e.rule, 80),
        code_block(&excerpt, "text")
    )
}

/// The guardrail table in Markdown (decision, files, lines, patch bytes against the caps,
/// refused and flagged edits, risk), followed by a table of refusals when there are any.
/// `patch_bytes` is the patch size in bytes. Paths and reasons are neutralised with
/// [`md_inline`].
pub fn guardrails_markdown(g: &Guardrails, patch_bytes: u64, risk: &Risk) -> String {
    let mut b = String::from("| check | value | limit |\n|---|---|---|\n");
    b.push_str(&format!("| decision | {} | |\n", g.decision.as_str()));
    b.push_str(&format!(
        "| files changed | {} | {} |\n",
        g.files_changed, g.caps.max_files
    ));
    b.push_str(&format!(
        "| lines changed (+{} −{}) | {} | {} |\n",
        g.lines_added,
        g.lines_removed,
        g.lines_added.saturating_add(g.lines_removed),
        g.caps.max_changed_lines
    ));
    b.push_str(&format!(
        "| patch bytes | {} | {} |\n",
        patch_bytes, g.caps.max_patch_bytes
    ));
    b.push_str(&format!(
        "| refused edits | {} | on refusal: {} |\n",
        g.refused.len(),
        g.on_refusal
    ));
    b.push_str(&format!("| flagged edits | {} | |\n", g.flagged.len()));
    b.push_str(&format!(
        "| risk | {} (score {}) | |\n",
        risk.class.as_str(),
        risk.score
    ));
    if !g.refused.is_empty() || !g.flagged.is_empty() {
        b.push_str("\n| edit | path | reason |\n|---|---|---|\n");
        for (r, kind) in g
            .refused
            .iter()
            .map(|r| (r, "refused"))
            .chain(g.flagged.iter().map(|r| (r, "flagged")))
        {
            let at = match (r.instruction, r.edit) {
                (Some(i), Some(e)) => format!("{kind} {i}.{e}"),
                _ => format!("{kind} (patch)"),
            };
            b.push_str(&format!(
                "| {at} | {} | {}: {} |\n",
                md_inline(&r.path, 120),
                r.code,
                md_inline(&r.reason, 300)
            ));
        }
    }
    b
}

/// The PR body in Markdown.
pub fn pr_body(t: &PrText<'_>) -> String {
    let c = &t.input.classification;
    let mut b = String::new();
    b.push_str("## Failure\n\n");
    b.push_str(&format!(
        "Category **{}** ({}), confidence {:.2}: {}\n\n",
        c.category,
        c.kind.as_str(),
        c.confidence,
        md_inline(&c.summary, 300)
    ));
    if let Some(e) = t.input.evidence.first() {
        b.push_str("### Evidence\n\n");
        b.push_str(&evidence_block(e));
        b.push('\n');
    }
    b.push_str("## What changed and why\n\n");
    if t.plan.applied.is_empty() {
        b.push_str("Nothing: the patch is empty.\n\n");
    }
    for a in &t.plan.applied {
        b.push_str(&format!(
            "- {} — source {}, files: {}\n",
            md_inline(&a.summary, 500),
            code(&a.source, 80),
            a.files
                .iter()
                .map(|f| code(f, 200))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    b.push_str("\n## Guardrails\n\n");
    b.push_str(&guardrails_markdown(
        t.guardrails,
        t.plan.patch.len() as u64,
        t.risk,
    ));
    b.push_str("\n## Validation\n\n");
    let v = t.validation;
    match v.status {
        ValidationStatus::Skipped => b.push_str(&format!(
            "Skipped: {}\n",
            md_inline(v.detail.as_deref().unwrap_or("no validation command"), 300)
        )),
        s => {
            b.push_str(&format!(
                "**{}** in {} ms{}: ",
                s.as_str(),
                v.duration_ms,
                v.exit_code
                    .map(|c| format!(", exit code {c}"))
                    .unwrap_or_default()
            ));
            b.push_str(&format!("{}\n", code(&v.command.join(" "), 300)));
        }
    }
    if !t.review_reasons.is_empty() {
        b.push_str("\n**Needs manual review:**\n\n");
        for r in t.review_reasons {
            b.push_str(&format!("- {}\n", md_inline(r, 300)));
        }
    }
    b.push_str("\n## How to apply\n\n");
    if t.plan.patch.is_empty() {
        b.push_str("There is no patch to apply.\n");
    } else {
        b.push_str(&format!(
            "```sh\ngh run download {} -n {}\ngit apply {}\n```\n",
            t.run_id, t.artifact, t.patch_file
        ));
        b.push_str(&format!(
            "\nThe patch applies to commit {}.\n",
            code(&t.input.base_sha, 64)
        ));
    }
    b.push_str("\n<sub>Generated by ci-remedy fix-agent. Nothing was pushed; instructions are untrusted and were checked by the guard.</sub>\n");
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        let p = FixAgentPolicy::default();
        assert_eq!(
            classify_path("tests/login.spec.ts", &p),
            RiskClass::TestOnly
        );
        assert_eq!(classify_path(".dockerignore", &p), RiskClass::Config);
        assert_eq!(classify_path("Dockerfile", &p), RiskClass::Config);
        assert_eq!(classify_path("src/app.js", &p), RiskClass::Source);
        assert_eq!(classify_path("src/auth/login.js", &p), RiskClass::Sensitive);
        let r = risk(&["src/app.js".into(), "tests/a.test.js".into()], 4, &p);
        assert_eq!(r.class, RiskClass::Source);
        assert!(r.score >= 50 && r.score <= 100);
    }

    #[test]
    fn code_spans_hold_the_text_unescaped() {
        let e = Evidence {
            rule: "py_error".into(),
            log: "__tests__/ci.log".into(),
            line_start: 3,
            line_end: 4,
            excerpt: "boom".into(),
            file: Some("test_utils.py".into()),
            file_line: Some(7),
        };
        let b = evidence_block(&e);
        assert!(
            b.starts_with(
                "Log `__tests__/ci.log` lines 3–4 (rule `py_error`) — `test_utils.py:7`:"
            ),
            "{b}"
        );
        assert!(!b.contains("&#"), "{b}");
        assert_eq!(code("a`b", 10), "``a`b``");
        assert_eq!(code("abcdef", 3), "`abc…`");
    }

    #[test]
    fn untrusted_text_is_neutralised() {
        let s = md_inline("@admin <img src=x> | `x` [a](http://e)\n::set-output", 500);
        assert!(
            !s.contains('@')
                && !s.contains('<')
                && !s.contains('|')
                && !s.contains('\n')
                && !s.contains('`')
        );
        let block = code_block("```\nescape", "text");
        assert!(block.starts_with("````text\n"));
        assert_eq!(plain_line("a\nb\u{202e}c", 10), "a b c");
    }
}
