//! The static site: self-contained HTML pages (inline CSS, no scripts, no external resources)
//! under a strict Content-Security-Policy, readable on a phone and in dark mode.
//!
//! Every string taken from an artifact goes through [`escape_html`]; nothing from an artifact
//! becomes a tag, an attribute name, a URL or a style. Links point only at page files named by
//! sanitised run ids.

use std::fmt::Write as _;

use crate::artifact::{
    ActionResult, Context, Decision, Finding, GuardDecision, HealReport, Outcome, ValidationStatus,
};
use crate::github::summary::finding_location;

use super::{Dashboard, EvidenceContext, FixView, HealState, History, RunView};

/// The Content-Security-Policy every page carries (as a `<meta http-equiv>`): nothing may load
/// but inline styles and `data:` images; no scripts at all.
pub const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/// Escapes text for HTML text content and for double- or single-quoted attribute values:
/// `&`, `<`, `>`, `"` and `'` become character references. Control characters other than
/// newline and tab, and invisible or bidirectional-override characters (Trojan Source), become
/// U+FFFD so that what a reader sees is what the text holds.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() || crate::text::is_invisible_or_bidi(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn e(text: &str) -> String {
    escape_html(text)
}

const CSS: &str = r#"
:root{--bg:#fff;--fg:#1f2328;--muted:#59636e;--border:#d1d9e0;--panel:#f6f8fa;--accent:#0969da;
--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--add-bg:#dafbe1;--del-bg:#ffebe9;--hunk:#ddf4ff;--mark:#fff8c5;}
@media (prefers-color-scheme: dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--border:#3d444d;
--panel:#151b23;--accent:#4493f8;--ok:#3fb950;--bad:#f85149;--warn:#d29922;--add-bg:#12361f;
--del-bg:#4a1c1f;--hunk:#0c2d6b;--mark:#3b2e05;}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif}
main{max-width:1100px;margin:0 auto;padding:16px}
h1{font-size:1.5rem;margin:.2em 0}h2{font-size:1.2rem;margin:1.6em 0 .5em;padding-bottom:.2em;border-bottom:1px solid var(--border)}
h3{font-size:1rem;margin:1.2em 0 .4em}
a{color:var(--accent)}
.muted{color:var(--muted)}
code,pre{font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
code{background:var(--panel);padding:0 .25em;border-radius:4px;overflow-wrap:anywhere}
pre{background:var(--panel);border:1px solid var(--border);border-radius:6px;padding:8px 0;overflow-x:auto;margin:.4em 0}
pre.text{padding:8px 12px;white-space:pre-wrap;overflow-wrap:anywhere}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;margin:.4em 0}
th,td{border:1px solid var(--border);padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:var(--panel)}
table.runs th,table.runs td{overflow-wrap:normal;white-space:nowrap}
.badge{display:inline-block;padding:0 .5em;border-radius:1em;border:1px solid currentColor;font-size:.85em;white-space:nowrap}
.ok{color:var(--ok)}.bad{color:var(--bad)}.warn{color:var(--warn)}
.note{border-left:4px solid var(--warn);background:var(--panel);padding:8px 12px;margin:1em 0;border-radius:0 6px 6px 0}
.note ul{margin:.3em 0;padding-left:1.2em}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:.5em 0}
.card{flex:1 1 180px;border:1px solid var(--border);border-radius:6px;padding:10px 14px;background:var(--panel)}
.card b{display:block;font-size:1.5rem}
.ln{display:block;white-space:pre;padding:0 12px}
.ln .n{display:inline-block;min-width:4.5em;color:var(--muted);user-select:none;text-align:right;padding-right:1em}
.ln .n2{min-width:3.5em}
.ln.hit{background:var(--mark)}
.ln.add{background:var(--add-bg)}.ln.del{background:var(--del-bg)}.ln.hunk{background:var(--hunk);color:var(--muted)}
.ln.head{font-weight:600}
svg text{fill:var(--fg);font:14px system-ui,sans-serif}
svg .bar{fill:var(--accent)}svg .bar.ok{fill:var(--ok)}svg .track{fill:var(--panel);stroke:var(--border)}
details summary{cursor:pointer;color:var(--accent)}
@media (max-width:600px){main{padding:10px}th,td{padding:3px 5px}.ln .n{min-width:3em}}
"#;

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
<meta name=\"referrer\" content=\"no-referrer\">\n\
<meta name=\"color-scheme\" content=\"light dark\">\n\
<link rel=\"icon\" href=\"data:,\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        e(title)
    )
}

fn badge(text: &str, class: &str) -> String {
    format!("<span class=\"badge {class}\">{}</span>", e(text))
}

fn outcome_badge(o: Outcome) -> String {
    badge(o.as_str(), outcome_class(o))
}

fn outcome_class(o: Outcome) -> &'static str {
    match o {
        Outcome::Healed => "ok",
        Outcome::StillFailing | Outcome::Error => "bad",
        Outcome::Skipped | Outcome::RerunRequested => "muted",
    }
}

fn guard_badge(d: GuardDecision) -> String {
    let class = match d {
        GuardDecision::Accepted => "ok",
        GuardDecision::Rejected => "bad",
        GuardDecision::Empty => "muted",
    };
    badge(d.as_str(), class)
}

fn validation_badge(s: ValidationStatus) -> String {
    let class = match s {
        ValidationStatus::Passed => "ok",
        ValidationStatus::Failed | ValidationStatus::TimedOut => "bad",
        ValidationStatus::Skipped => "muted",
    };
    badge(s.as_str(), class)
}

fn short_sha(sha: &str) -> String {
    sha.chars().take(12).collect()
}

fn pct(part: u32, whole: u32) -> String {
    if whole == 0 {
        "–".into()
    } else {
        format!(
            "{}%",
            (u64::from(part) * 100 + u64::from(whole) / 2) / u64::from(whole)
        )
    }
}

/// The index page: the history across runs (counts and an inline SVG chart) and a table of runs.
pub fn index_page(d: &Dashboard) -> String {
    let mut b = String::new();
    let repos: Vec<&str> = {
        let mut v: Vec<&str> = d.runs.iter().map(|r| r.repository.as_str()).collect();
        v.sort();
        v.dedup();
        v
    };
    let _ = writeln!(
        b,
        "<header><h1>ci-remedy dashboard</h1><p class=\"muted\">{} · {} run{}</p></header>",
        e(&repos.join(", ")),
        d.runs.len(),
        if d.runs.len() == 1 { "" } else { "s" }
    );
    problems_note(&mut b, d);
    if d.runs.is_empty() {
        b.push_str("<div class=\"note\"><p>No ci-remedy artifacts were found: no context, decision, self-heal report or fix-agent metadata. Either nothing failed, or the agent jobs' artifacts were not downloaded.</p></div>\n");
        return page("ci-remedy dashboard", &b);
    }
    history_section(&mut b, &d.history);
    flaky_section(&mut b, d);
    b.push_str("<h2 id=\"runs\">Runs</h2>\n<div class=\"scroll\"><table class=\"runs\">\n<thead><tr><th>run</th><th>event</th><th>category</th><th>confidence</th><th>self-heal</th><th>patch</th><th>missing</th></tr></thead>\n<tbody>\n");
    for r in &d.runs {
        let (cat, conf) = match &r.context {
            Some(c) => (
                e(c.classification.category.as_str()),
                format!("{:.2}", c.classification.confidence),
            ),
            None => ("<span class=\"muted\">unknown</span>".into(), "–".into()),
        };
        let heal = match r.heal_state() {
            HealState::Outcome(o @ Outcome::RerunRequested) => {
                badge(&r.heal_text(), outcome_class(o))
            }
            HealState::Outcome(o) => outcome_badge(o),
            s @ HealState::NotAllowed => badge(s.as_str(), "muted"),
            s @ HealState::AllowedNoReport => badge(s.as_str(), "warn"),
            s @ HealState::NotRun => format!("<span class=\"muted\">{}</span>", s.as_str()),
        };
        let patch = match &r.fix {
            Some(f) => guard_badge(f.metadata.guardrails.decision),
            None => "<span class=\"muted\">none</span>".into(),
        };
        let _ = writeln!(
            b,
            "<tr><td><a href=\"runs/{}/index.html\">{}</a></td><td>{}</td><td>{cat}</td><td>{conf}</td><td>{heal}</td><td>{patch}</td><td>{}</td></tr>",
            e(&r.page_id),
            e(&r.run_id),
            e(&r.event_name),
            r.missing.len()
        );
    }
    b.push_str("</tbody></table></div>\n");
    page("ci-remedy dashboard", &b)
}

/// The flaky-tests view: per test, failures and passes across the attempts, the runs, first
/// and last seen (`<table id="flaky-tests">`).
fn flaky_section(b: &mut String, d: &Dashboard) {
    if d.flaky_tests.is_empty() {
        return;
    }
    let _ = writeln!(
        b,
        "<h2 id=\"flaky\">Flaky tests</h2>\n<p class=\"muted\">{} test(s) failed in one attempt of a commit and passed in another.</p>",
        d.flaky_tests.len()
    );
    b.push_str("<div class=\"scroll\"><table id=\"flaky-tests\">\n<thead><tr><th>test</th><th>failures</th><th>passes</th><th>runs</th><th>first seen</th><th>last seen</th><th>first failure</th></tr></thead>\n<tbody>\n");
    for t in &d.flaky_tests {
        let runs: Vec<String> = t.runs.iter().map(|r| e(r)).collect();
        let message = t
            .message
            .as_deref()
            .map(|m| e(crate::text::truncate_str(m, 300)))
            .unwrap_or_default();
        let _ = writeln!(
            b,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{message}</td></tr>",
            e(&t.test),
            t.failures,
            t.passes,
            runs.join(", "),
            e(&t.first_seen),
            e(&t.last_seen)
        );
    }
    b.push_str("</tbody></table></div>\n");
}

fn problems_note(b: &mut String, d: &Dashboard) {
    if d.problems.is_empty() {
        return;
    }
    b.push_str("<div class=\"note\"><p><strong>Files that could not be used:</strong></p><ul>\n");
    for p in &d.problems {
        let _ = writeln!(b, "<li><code>{}</code>: {}</li>", e(&p.path), e(&p.reason));
    }
    b.push_str("</ul></div>\n");
}

fn history_section(b: &mut String, h: &History) {
    b.push_str("<h2 id=\"history\">History</h2>\n<div class=\"cards\">\n");
    let _ = writeln!(
        b,
        "<div class=\"card\"><b>{}</b>runs with ci-remedy artifacts</div>",
        h.runs
    );
    let _ = writeln!(
        b,
        "<div class=\"card\"><b>{} / {}</b>self-heal attempts healed ({})</div>",
        h.self_heal_healed,
        h.self_heal_attempted,
        pct(h.self_heal_healed, h.self_heal_attempted)
    );
    let _ = writeln!(
        b,
        "<div class=\"card\"><b>{} / {}</b>patches accepted by the guard ({})</div>",
        h.patches_accepted,
        h.patches_produced,
        pct(h.patches_accepted, h.patches_produced)
    );
    b.push_str("</div>\n<h3>Failures by category</h3>\n");
    b.push_str(&category_chart(&h.categories));
    b.push_str("<h3>Outcomes</h3>\n");
    b.push_str(&rate_chart(&[
        (
            "self-heal healed",
            h.self_heal_healed,
            h.self_heal_attempted,
        ),
        ("patches accepted", h.patches_accepted, h.patches_produced),
    ]));
}

/// A horizontal bar chart (inline SVG) of runs per category, most frequent first.
pub fn category_chart(categories: &[(String, u32)]) -> String {
    if categories.is_empty() {
        return "<p class=\"muted\">No classified runs.</p>\n".into();
    }
    let max = categories.iter().map(|c| c.1).max().unwrap_or(1).max(1);
    let row = 26u32;
    let height = row
        * u32::try_from(categories.len())
            .unwrap_or(u32::MAX / row)
            .min(64)
        + 8;
    let mut s = format!(
        "<svg role=\"img\" aria-label=\"Failed runs per category\" viewBox=\"0 0 600 {height}\" width=\"100%\" style=\"max-width:600px\">\n<title>Failed runs per category</title>\n"
    );
    for (i, (name, n)) in categories.iter().take(64).enumerate() {
        let y = 4 + row * u32::try_from(i).unwrap_or(0);
        let w = (u64::from(*n) * 360 / u64::from(max)).max(2);
        let _ = writeln!(
            s,
            "<text x=\"170\" y=\"{}\" text-anchor=\"end\">{}</text><rect class=\"bar\" x=\"180\" y=\"{}\" width=\"{w}\" height=\"18\" rx=\"3\"/><text x=\"{}\" y=\"{}\">{n}</text>",
            y + 13,
            e(name),
            y,
            180 + w + 6,
            y + 13
        );
    }
    s.push_str("</svg>\n");
    s
}

fn rate_chart(rates: &[(&str, u32, u32)]) -> String {
    let row = 26u32;
    let height = row * u32::try_from(rates.len()).unwrap_or(0) + 8;
    let mut s = format!(
        "<svg role=\"img\" aria-label=\"Self-heal and patch outcomes\" viewBox=\"0 0 600 {height}\" width=\"100%\" style=\"max-width:600px\">\n<title>Self-heal and patch outcomes</title>\n"
    );
    for (i, (label, part, whole)) in rates.iter().enumerate() {
        let y = 4 + row * u32::try_from(i).unwrap_or(0);
        let w = if *whole == 0 {
            0
        } else {
            u64::from(*part) * 360 / u64::from(*whole)
        };
        let _ = writeln!(
            s,
            "<text x=\"170\" y=\"{}\" text-anchor=\"end\">{}</text><rect class=\"track\" x=\"180\" y=\"{y}\" width=\"360\" height=\"18\" rx=\"3\"/><rect class=\"bar ok\" x=\"180\" y=\"{y}\" width=\"{w}\" height=\"18\" rx=\"3\"/><text x=\"548\" y=\"{}\">{part}/{whole}</text>",
            y + 13,
            e(label),
            y + 13
        );
    }
    s.push_str("</svg>\n");
    s
}

/// One run's page: what is missing, classification, evidence with log context, failed tests,
/// self-heal gates and actions, the patch with its guardrails, validation, risk and PR text.
pub fn run_page(r: &RunView) -> String {
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<nav><a href=\"../../index.html\">← all runs</a></nav>\n<header><h1>Run {}</h1><p class=\"muted\">{} · workflow {} · event {} · commit <code>{}</code></p></header>",
        e(&r.run_id),
        e(&r.repository),
        e(&r.workflow),
        e(&r.event_name),
        e(&short_sha(&r.sha))
    );
    if !r.missing.is_empty() {
        b.push_str("<div class=\"note\" id=\"missing\"><p><strong>Not available for this run:</strong></p><ul>\n");
        for m in &r.missing {
            let _ = writeln!(b, "<li>{}</li>", e(m));
        }
        b.push_str("</ul></div>\n");
    }
    match &r.context {
        Some(c) => context_section(&mut b, c, &r.evidence_context),
        None => b.push_str("<h2 id=\"classification\">Classification</h2>\n<p class=\"muted\">No context: the failure was not analysed, or its artifact is missing.</p>\n"),
    }
    b.push_str("<h2 id=\"self-heal\">Self-heal</h2>\n");
    match &r.decision {
        Some(d) => decision_section(&mut b, d),
        None => b.push_str(
            "<p class=\"muted\">No decision: self-heal-decide did not run for this run.</p>\n",
        ),
    }
    if let Some(rep) = &r.report {
        report_section(&mut b, rep);
    }
    b.push_str("<h2 id=\"patch\">Fix-agent patch</h2>\n");
    match &r.fix {
        Some(f) => fix_section(&mut b, f),
        None => b.push_str("<p class=\"muted\">No fix-agent metadata for this run.</p>\n"),
    }
    b.push_str("<h2 id=\"sources\">Artifacts read</h2>\n<ul>\n");
    for s in &r.sources {
        let _ = writeln!(b, "<li><code>{}</code></li>", e(s));
    }
    b.push_str("</ul>\n");
    page(&format!("Run {} · ci-remedy", r.run_id), &b)
}

fn context_section(b: &mut String, c: &Context, contexts: &[EvidenceContext]) {
    let k = &c.classification;
    let _ = writeln!(
        b,
        "<h2 id=\"classification\">Classification</h2>\n<p>{} <span class=\"muted\">({})</span> · confidence <strong>{:.2}</strong> · source {}</p>\n<p>{}</p>",
        badge(k.category.as_str(), "warn"),
        e(k.kind.as_str()),
        k.confidence,
        k.source.as_str(),
        e(&k.summary)
    );
    if let Some(err) = &c.error {
        let _ = writeln!(b, "<p class=\"bad\">error: {}</p>", e(err));
    }
    b.push_str("<h2 id=\"evidence\">Evidence</h2>\n");
    let mut findings: Vec<(usize, &Finding)> = c.findings.iter().enumerate().collect();
    findings.sort_by_key(|(_, f)| f.rank);
    if findings.is_empty() {
        b.push_str("<p class=\"muted\">No evidence lines were found in the logs.</p>\n");
    }
    for (i, f) in findings.iter().take(super::EVIDENCE_BLOCKS) {
        let src = match (&f.file, f.file_line) {
            (Some(file), Some(line)) => format!(" · source <code>{}:{line}</code>", e(file)),
            (Some(file), None) => format!(" · source <code>{}</code>", e(file)),
            _ => String::new(),
        };
        let step = f
            .step
            .as_deref()
            .map(|s| format!(" · step {}", e(s)))
            .unwrap_or_default();
        let _ = writeln!(
            b,
            "<h3 id=\"evidence-{}\">#{} <code>{}</code></h3>\n<p class=\"muted\">rule <code>{}</code> · {}{src}{step}</p>",
            f.rank,
            f.rank,
            e(&finding_location(f)),
            e(&f.rule),
            e(f.category.as_str())
        );
        b.push_str("<pre class=\"evidence\">");
        match contexts.iter().find(|x| x.finding == *i) {
            Some(ctx) => {
                for (n, text) in &ctx.lines {
                    let hit = *n >= f.line_start && *n <= f.line_end;
                    let _ = write!(
                        b,
                        "<span class=\"ln{}\"><span class=\"n\">{n}</span>{}</span>",
                        if hit { " hit" } else { "" },
                        e(text)
                    );
                }
            }
            None => {
                for (j, text) in f.excerpt.lines().enumerate() {
                    let n = f.line_start.saturating_add(j as u64);
                    let _ = write!(
                        b,
                        "<span class=\"ln hit\"><span class=\"n\">{n}</span>{}</span>",
                        e(text)
                    );
                }
            }
        }
        b.push_str("</pre>\n");
        if let Some(ctx) = contexts.iter().find(|x| x.finding == *i) {
            let _ = writeln!(
                b,
                "<p class=\"muted\">Lines {}–{} with {} lines of context from <code>{}</code> (redacted).</p>",
                f.line_start,
                f.line_end,
                super::CONTEXT_LINES,
                e(&ctx.source)
            );
        }
    }
    if findings.len() > super::EVIDENCE_BLOCKS {
        let _ = writeln!(
            b,
            "<p class=\"muted\">{} more finding(s) in dashboard.json.</p>",
            findings.len() - super::EVIDENCE_BLOCKS
        );
    }
    if !c.tests.failed.is_empty() {
        let _ = writeln!(
            b,
            "<h3>Failed tests ({})</h3>\n<div class=\"scroll\"><table><thead><tr><th>test</th><th>location</th><th>message</th></tr></thead><tbody>",
            c.tests.failed.len()
        );
        for t in c.tests.failed.iter().take(50) {
            let loc = match (&t.file, t.line) {
                (Some(f), Some(l)) => format!("{f}:{l}"),
                (Some(f), None) => f.clone(),
                _ => String::new(),
            };
            let msg: String = t
                .message
                .as_deref()
                .unwrap_or("")
                .chars()
                .take(600)
                .collect();
            let _ = writeln!(
                b,
                "<tr><td>{}</td><td><code>{}</code></td><td><pre class=\"text\">{}</pre></td></tr>",
                e(&t.name),
                e(&loc),
                e(&msg)
            );
        }
        b.push_str("</tbody></table></div>\n");
    }
    if !c.tests.flaky.is_empty() {
        let _ = writeln!(
            b,
            "<h3>Flaky across attempts ({})</h3>\n<div class=\"scroll\"><table class=\"run-flaky\"><thead><tr><th>test</th><th>failures</th><th>passes</th><th>attempts</th></tr></thead><tbody>",
            c.tests.flaky.len() as u64 + c.tests.flaky_omitted
        );
        for t in c.tests.flaky.iter().take(50) {
            let _ = writeln!(
                b,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e(t.id.as_deref().unwrap_or(&t.name)),
                t.failures,
                t.passes,
                e(&crate::reports::attempts::runs_line(t))
            );
        }
        b.push_str("</tbody></table></div>\n");
    }
}

fn decision_section(b: &mut String, d: &Decision) {
    let _ = writeln!(
        b,
        "<h3>Decision: {}</h3>\n<p>category <code>{}</code> ({}) · confidence {:.2} · attempt {} of {}</p>",
        if d.allowed {
            badge("allowed", "ok")
        } else {
            badge("not allowed", "bad")
        },
        e(d.category.as_str()),
        e(d.kind.as_str()),
        d.confidence,
        d.attempt,
        d.max_attempts
    );
    b.push_str("<div class=\"scroll\"><table><thead><tr><th>gate</th><th>result</th><th>detail</th></tr></thead><tbody>\n");
    for g in &d.gates {
        let _ = writeln!(
            b,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            e(&g.name),
            if g.passed {
                badge("pass", "ok")
            } else {
                badge("fail", "bad")
            },
            e(&g.detail)
        );
    }
    b.push_str("</tbody></table></div>\n");
    if !d.actions.is_empty() {
        let _ = writeln!(
            b,
            "<p>Planned actions: {}</p>",
            d.actions
                .iter()
                .map(|a| format!("<code>{}</code>", e(a)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !d.refused_actions.is_empty() {
        let _ = writeln!(
            b,
            "<p class=\"bad\">Refused actions (not defined by the policy): {}</p>",
            e(&d.refused_actions.join(", "))
        );
    }
    if let Some(err) = &d.error {
        let _ = writeln!(b, "<p class=\"bad\">error: {}</p>", e(err));
    }
}

fn action_row(b: &mut String, label: &str, a: &ActionResult) {
    let exit = match (a.exit_code, a.timed_out) {
        (_, true) => badge("timed out", "bad"),
        (Some(0), _) => badge("0", "ok"),
        (Some(c), _) => badge(&c.to_string(), "bad"),
        (None, _) => badge("no exit code", "bad"),
    };
    let _ = writeln!(
        b,
        "<tr><td>{}</td><td><code>{}</code></td><td>{exit}</td><td>{} ms</td></tr>",
        e(label),
        e(&a.command.join(" ")),
        a.duration_ms
    );
}

fn report_section(b: &mut String, r: &HealReport) {
    let _ = writeln!(
        b,
        "<h3>Outcome: {}</h3>\n<p>{} · escalate to <code>{}</code></p>",
        outcome_badge(r.outcome),
        e(&r.detail),
        e(r.escalate_to.as_str())
    );
    if !r.actions.is_empty() || r.rerun.is_some() {
        b.push_str("<div class=\"scroll\"><table><thead><tr><th>step</th><th>command</th><th>exit</th><th>time</th></tr></thead><tbody>\n");
        for a in &r.actions {
            action_row(b, &format!("action {}", a.name), a);
        }
        if let Some(rr) = &r.rerun {
            action_row(b, &format!("rerun ({})", rr.mode.as_str()), &rr.result);
        }
        b.push_str("</tbody></table></div>\n");
        let all = r
            .actions
            .iter()
            .map(|a| (a.name.clone(), a))
            .chain(r.rerun.iter().map(|rr| ("rerun".to_string(), &rr.result)));
        for (name, a) in all {
            if a.output_tail.is_empty() {
                continue;
            }
            let _ = writeln!(
                b,
                "<details><summary>output of {}</summary><pre class=\"text\">{}</pre></details>",
                e(&name),
                e(&a.output_tail)
            );
        }
    }
    if let Some(err) = &r.error {
        let _ = writeln!(b, "<p class=\"bad\">error: {}</p>", e(err));
    }
}

fn fix_section(b: &mut String, f: &FixView) {
    let m = &f.metadata;
    let g = &m.guardrails;
    let _ = writeln!(
        b,
        "<p>Guard decision {} · risk <strong>{}</strong> (score {}) · validation {}{}</p>",
        guard_badge(g.decision),
        e(m.risk.class.as_str()),
        m.risk.score,
        validation_badge(m.validation.status),
        if m.needs_manual_review {
            format!(" · {}", badge("needs manual review", "warn"))
        } else {
            String::new()
        }
    );
    b.push_str("<h3>Guardrails</h3>\n<div class=\"scroll\"><table><thead><tr><th>check</th><th>value</th><th>limit</th></tr></thead><tbody>\n");
    let rows = [
        (
            "decision".to_string(),
            g.decision.as_str().to_string(),
            String::new(),
        ),
        (
            "files changed".into(),
            g.files_changed.to_string(),
            g.caps.max_files.to_string(),
        ),
        (
            format!("lines changed (+{} −{})", g.lines_added, g.lines_removed),
            g.lines_added.saturating_add(g.lines_removed).to_string(),
            g.caps.max_changed_lines.to_string(),
        ),
        (
            "patch bytes".into(),
            m.patch_bytes.to_string(),
            g.caps.max_patch_bytes.to_string(),
        ),
        (
            "refused edits".into(),
            g.refused.len().to_string(),
            format!("on refusal: {}", g.on_refusal),
        ),
        (
            "flagged edits".into(),
            g.flagged.len().to_string(),
            String::new(),
        ),
        (
            "risk".into(),
            format!("{} (score {})", m.risk.class.as_str(), m.risk.score),
            String::new(),
        ),
    ];
    for (k, v, l) in rows {
        let _ = writeln!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            e(&k),
            e(&v),
            e(&l)
        );
    }
    b.push_str("</tbody></table></div>\n");
    let refusals: Vec<_> = g
        .refused
        .iter()
        .map(|r| ("refused", r))
        .chain(g.flagged.iter().map(|r| ("flagged", r)))
        .collect();
    if !refusals.is_empty() {
        b.push_str("<div class=\"scroll\"><table><thead><tr><th>edit</th><th>path</th><th>code</th><th>reason</th></tr></thead><tbody>\n");
        for (kind, r) in refusals {
            let at = match (r.instruction, r.edit) {
                (Some(i), Some(j)) => format!("{kind} {i}.{j}"),
                _ => format!("{kind} (patch)"),
            };
            let _ = writeln!(
                b,
                "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
                e(&at),
                e(&r.path),
                e(&r.code),
                e(&r.reason)
            );
        }
        b.push_str("</tbody></table></div>\n");
    }
    if !m.risk.files.is_empty() {
        let _ = writeln!(
            b,
            "<p>Risk per file: {}</p>",
            m.risk
                .files
                .iter()
                .map(|x| format!("<code>{}</code>", e(x)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !m.review_reasons.is_empty() {
        b.push_str("<div class=\"note\"><p><strong>Needs manual review:</strong></p><ul>\n");
        for r in &m.review_reasons {
            let _ = writeln!(b, "<li>{}</li>", e(r));
        }
        b.push_str("</ul></div>\n");
    }
    if !m.changes.is_empty() {
        b.push_str("<h3>Changes</h3>\n<ul>\n");
        for c in &m.changes {
            let _ = writeln!(
                b,
                "<li>{} <span class=\"muted\">— source <code>{}</code>, files {}</span></li>",
                e(&c.summary),
                e(&c.source),
                c.files
                    .iter()
                    .map(|x| format!("<code>{}</code>", e(x)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        b.push_str("</ul>\n");
    }
    let v = &m.validation;
    b.push_str("<h3>Validation</h3>\n");
    match v.status {
        ValidationStatus::Skipped => {
            let _ = writeln!(
                b,
                "<p>{} {}</p>",
                validation_badge(v.status),
                e(v.detail.as_deref().unwrap_or("no validation command"))
            );
        }
        s => {
            let _ = writeln!(
                b,
                "<p>{} in {} ms{}: <code>{}</code></p>",
                validation_badge(s),
                v.duration_ms,
                v.exit_code
                    .map(|c| format!(", exit code {c}"))
                    .unwrap_or_default(),
                e(&v.command.join(" "))
            );
        }
    }
    if !v.output_tail.is_empty() {
        let _ = writeln!(
            b,
            "<details><summary>validation output</summary><pre class=\"text\">{}</pre></details>",
            e(&v.output_tail)
        );
    }
    let _ = writeln!(
        b,
        "<h3 id=\"diff\">Diff <code>{}</code></h3>",
        e(&m.patch_file)
    );
    if let Some(note) = &f.patch_note {
        let _ = writeln!(b, "<div class=\"note\"><p>{}</p></div>", e(note));
    }
    match &f.patch {
        Some(p) if !p.is_empty() => {
            let _ = writeln!(
                b,
                "<p class=\"muted\">sha256 <code>{}</code>{} · applies to commit <code>{}</code></p>",
                e(&short_sha(&m.patch_sha256)),
                if f.patch_verified { " (verified)" } else { " (NOT verified)" },
                e(&short_sha(&m.base_sha))
            );
            b.push_str(&diff_view(p));
        }
        _ => b.push_str(
            "<p class=\"muted\">No patch text (the patch is empty or was not found).</p>\n",
        ),
    }
    let _ = writeln!(
        b,
        "<h3 id=\"pr\">Pull request text</h3>\n<p>Branch <code>{}</code></p>\n<p><strong>{}</strong></p>\n<details open><summary>PR body (Markdown)</summary><pre class=\"text\">{}</pre></details>\n<details><summary>commit message</summary><pre class=\"text\">{}</pre></details>",
        e(&m.branch),
        e(&m.pr_title),
        e(&m.pr_body),
        e(&m.commit_message)
    );
    if let Some(err) = &m.error {
        let _ = writeln!(b, "<p class=\"bad\">error: {}</p>", e(err));
    }
}

/// A unified diff as lines with old/new line numbers, additions, deletions and hunk headers
/// marked (classes only; every line's text escaped).
pub fn diff_view(patch: &str) -> String {
    let mut s = String::from("<pre class=\"diff\">");
    let (mut old, mut new) = (0u64, 0u64);
    for line in patch.lines() {
        let (class, o, n) = if line.starts_with("@@") {
            // The fix's own hunk-header parser; the numbers before each side's first line.
            if let Some((a, _, c, _)) = crate::fix::udiff::hunk_header(line) {
                old = (a as u64).saturating_sub(1);
                new = (c as u64).saturating_sub(1);
            }
            ("hunk", String::new(), String::new())
        } else if line.starts_with("diff ")
            || line.starts_with("--- ")
            || line.starts_with("+++ ")
            || line.starts_with("index ")
            || line.starts_with("new file")
            || line.starts_with("deleted file")
        {
            ("head", String::new(), String::new())
        } else if line.starts_with('+') {
            new += 1;
            ("add", String::new(), (new).to_string())
        } else if line.starts_with('-') {
            old += 1;
            ("del", old.to_string(), String::new())
        } else if line.starts_with('\\') {
            ("hunk", String::new(), String::new())
        } else {
            old += 1;
            new += 1;
            ("ctx", old.to_string(), new.to_string())
        };
        let _ = write!(
            s,
            "<span class=\"ln {class}\"><span class=\"n n2\">{o}</span><span class=\"n n2\">{n}</span>{}</span>",
            e(line)
        );
    }
    s.push_str("</pre>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_text_and_attributes() {
        assert_eq!(
            escape_html("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(escape_html("a\u{202e}b\u{0}c\nd"), "a\u{FFFD}b\u{FFFD}c\nd");
    }

    #[test]
    fn diff_lines_are_numbered_and_escaped() {
        let v = diff_view("--- a/x\n+++ b/x\n@@ -3,2 +3,3 @@\n ctx\n-<b>\n+<i>\n+y\n");
        assert!(v.contains("<span class=\"ln del\"><span class=\"n n2\">4</span><span class=\"n n2\"></span>-&lt;b&gt;</span>"), "{v}");
        assert!(v.contains("<span class=\"n n2\">5</span>+y"), "{v}");
        assert!(!v.contains("<b>") && !v.contains("<i>"));
    }

    #[test]
    fn chart_has_one_bar_per_category() {
        let svg = category_chart(&[("network".into(), 3), ("<lint>".into(), 1)]);
        assert_eq!(svg.matches("class=\"bar\"").count(), 2);
        assert!(svg.contains("&lt;lint&gt;"));
    }
}
