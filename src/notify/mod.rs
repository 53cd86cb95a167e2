//! `ci-notify`: one message to a person when the pipeline escalates to a human.
//!
//! Escalation reasons (each can be switched on or off with `--on`):
//! - `self-heal-exhausted`: the self-heal report says `escalate_to: human` and did not heal
//!   (the message's [`headline`] then says what stopped it: gates, a failing action, an error);
//! - `patch-rejected`: the fix metadata's `guardrails.decision` is `rejected`;
//! - `validation-failed`: the fix metadata's `validation.status` is `failed` or `timed_out`.
//!
//! The message goes to a Slack incoming webhook, a Discord webhook or a generic JSON webhook
//! ([`WebhookKind`]), with the run link, the category, the top evidence and what was tried.
//! At most one message per run and category: a state file records what was sent
//! ([`SentState`]). The webhook URL is a secret: it is never printed nor written anywhere.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::artifact::{
    Context, Escalation, FixMetadata, GuardDecision, HealReport, Outcome, RunInfo, ToolInfo,
    ValidationStatus,
};
use crate::fix::pr::plain_line;

/// The `schema` value of the status artifact.
pub const NOTIFY_STATUS_SCHEMA: &str = "ci-remedy/notify/v1";
/// The `schema` value of the state file.
pub const SENT_STATE_SCHEMA: &str = "ci-remedy/notify-state/v1";
/// The `schema` value of a generic webhook message.
pub const GENERIC_MESSAGE_SCHEMA: &str = "ci-remedy/notification/v1";
/// Top findings quoted in a message.
pub const MAX_EVIDENCE: usize = 3;
/// Lines quoted per finding.
pub const MAX_EVIDENCE_LINES: usize = 4;
/// Characters kept per quoted line.
pub const MAX_LINE_CHARS: usize = 200;

/// Why the pipeline escalates to a human.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// Self-heal did not heal and escalated to a human: it was not allowed to run (a gate
    /// failed, e.g. the attempts or the plan), it ran and the job still fails, or it
    /// could not run. The name is kept for `--on` compatibility.
    SelfHealExhausted,
    /// The fix-agent's patch was rejected by the guard.
    PatchRejected,
    /// The fix-agent's patch failed validation.
    ValidationFailed,
    /// `ci-smoke` failed `max-iterations` validations of the same deployment sha
    /// (the smoke report's `iteration.escalate_to_human`).
    SmokeMaxIterations,
}

impl Reason {
    /// Every reason.
    pub const ALL: [Reason; 4] = [
        Reason::SelfHealExhausted,
        Reason::PatchRejected,
        Reason::ValidationFailed,
        Reason::SmokeMaxIterations,
    ];

    /// The kebab-case name used by `--on`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::SelfHealExhausted => "self-heal-exhausted",
            Reason::PatchRejected => "patch-rejected",
            Reason::ValidationFailed => "validation-failed",
            Reason::SmokeMaxIterations => "smoke-max-iterations",
        }
    }

    /// Parses a kebab-case name.
    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s.trim())
    }

    /// A sentence for the message.
    pub fn sentence(self) -> &'static str {
        match self {
            Reason::SelfHealExhausted => "self-heal did not heal the failure",
            Reason::PatchRejected => "the fix-agent patch was rejected by the guard",
            Reason::ValidationFailed => "the fix-agent patch failed validation",
            Reason::SmokeMaxIterations => {
                "the deployment's smoke validation failed max-iterations times for this commit"
            }
        }
    }
}

/// The reasons the artifacts give, in [`Reason::ALL`] order. `metadata` is the fix metadata
/// (`fix-agent/metadata-<run_id>.json`).
pub fn escalation_reasons(
    report: Option<&HealReport>,
    metadata: Option<&FixMetadata>,
) -> Vec<Reason> {
    let mut out = Vec::new();
    if let Some(r) = report {
        if r.escalate_to == Escalation::Human && r.outcome != Outcome::Healed {
            out.push(Reason::SelfHealExhausted);
        }
    }
    if let Some(m) = metadata {
        if m.guardrails.decision == GuardDecision::Rejected {
            out.push(Reason::PatchRejected);
        }
        if matches!(
            m.validation.status,
            ValidationStatus::Failed | ValidationStatus::TimedOut
        ) {
            out.push(Reason::ValidationFailed);
        }
    }
    out
}

/// [`Reason::SmokeMaxIterations`] when the smoke report escalates to a person.
pub fn smoke_escalation(smoke: &crate::artifact::SmokeReport) -> Option<Reason> {
    smoke
        .iteration
        .escalate_to_human
        .then_some(Reason::SmokeMaxIterations)
}

impl Message {
    /// Adds what a smoke report says: the count of failed validations of the sha to `tried`,
    /// and, when the message has no evidence yet (no context), the first failed expectations
    /// and matched log lines (at most [`MAX_EVIDENCE`], cleaned like every evidence line).
    pub fn add_smoke(&mut self, smoke: &crate::artifact::SmokeReport) {
        self.tried.push(format!(
            "smoke validation of {}: failed {} of {} allowed times",
            clean_line(
                smoke
                    .deployment_sha
                    .as_deref()
                    .unwrap_or("an unknown commit")
            ),
            smoke.iteration.failed_validations,
            smoke.iteration.max_iterations
        ));
        if !self.evidence.is_empty() {
            return;
        }
        for p in smoke.log_patterns.iter().filter(|p| !p.passed) {
            for m in &p.matches {
                self.evidence.push(EvidenceLine {
                    location: clean_line(&format!("{}:{}", m.source, m.line)),
                    text: clean_line(&m.text),
                });
            }
        }
        for c in smoke.checks.iter().filter(|c| !c.passed) {
            let why = c.error.clone().or_else(|| {
                c.expectations
                    .iter()
                    .find(|e| !e.passed)
                    .map(|e| format!("{} expected {}, got {}", e.kind, e.expected, e.actual))
            });
            self.evidence.push(EvidenceLine {
                location: clean_line(&format!("smoke check {}", c.name)),
                text: clean_line(&why.unwrap_or_default()),
            });
        }
        self.evidence.truncate(MAX_EVIDENCE);
    }
}

/// The message's first sentence: [`Reason::sentence`], except for
/// [`Reason::SelfHealExhausted`] with a report, where it says what stopped self-heal
/// from the report's outcome and detail (e.g. "self-heal did not run: the decision did
/// not allow self-heal (failed gates: plan); nothing ran"). Report text is cleaned with
/// the same rule as evidence lines (one line, no control or bidi characters).
pub fn headline(reason: Reason, report: Option<&HealReport>) -> String {
    let Some(r) = report.filter(|_| reason == Reason::SelfHealExhausted) else {
        return reason.sentence().to_string();
    };
    let detail = clean_line(&r.detail);
    let detail = detail.trim();
    let with = |what: &str, why: &str| {
        if why.is_empty() {
            what.to_string()
        } else {
            format!("{what}: {why}")
        }
    };
    match r.outcome {
        Outcome::Skipped => with("self-heal did not run", detail),
        Outcome::StillFailing => with("self-heal ran and the job still fails", detail),
        Outcome::RerunRequested => with(
            &r.github_rerun
                .as_ref()
                .map(|g| g.line())
                .unwrap_or_else(|| "rerun requested".into()),
            detail,
        ),
        Outcome::Error => {
            let why = r.error.as_deref().map(clean_line).unwrap_or_default();
            let why = if why.trim().is_empty() {
                detail.to_string()
            } else {
                why.trim().to_string()
            };
            with("self-heal could not run", &why)
        }
        Outcome::Healed => reason.sentence().to_string(),
    }
}

/// Where the message goes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WebhookKind {
    /// A Slack incoming webhook: `{"text": ...}` with mrkdwn.
    Slack,
    /// A Discord webhook: `{"content": ..., "allowed_mentions": {"parse": []}}`.
    Discord,
    /// Any JSON receiver: the structured message ([`GENERIC_MESSAGE_SCHEMA`]).
    Generic,
}

impl WebhookKind {
    /// Guesses from the URL's host: `hooks.slack.com` → Slack, `discord.com` /
    /// `discordapp.com` with `/api/webhooks/` → Discord, anything else → generic.
    pub fn detect(url: &str) -> WebhookKind {
        let Ok(u) = reqwest::Url::parse(url) else {
            return WebhookKind::Generic;
        };
        let host = u.host_str().unwrap_or("");
        if host == "hooks.slack.com" {
            WebhookKind::Slack
        } else if (host == "discord.com"
            || host.ends_with(".discord.com")
            || host == "discordapp.com")
            && u.path().starts_with("/api/webhooks/")
        {
            WebhookKind::Discord
        } else {
            WebhookKind::Generic
        }
    }

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookKind::Slack => "slack",
            WebhookKind::Discord => "discord",
            WebhookKind::Generic => "generic",
        }
    }
}

/// One quoted evidence block.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct EvidenceLine {
    /// `log:line` or `log:start-end`.
    pub location: String,
    /// The first lines of the excerpt (already redacted by `self-heal-prepare`).
    pub text: String,
}

/// What a message says.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Message {
    /// Always [`GENERIC_MESSAGE_SCHEMA`].
    pub schema: String,
    /// Why a person is needed.
    pub reason: Reason,
    /// The same in one sentence, saying what actually stopped self-heal when the report
    /// is the reason: it did not run (and which gates failed), it ran and the job still
    /// fails, or it could not run ([`headline`]).
    pub headline: String,
    /// `owner/repo`.
    pub repository: String,
    /// The workflow run id.
    pub run_id: String,
    /// The run's page, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    /// The failure category (`unknown` without a context).
    pub category: String,
    /// Its confidence in 0..=1, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// The top evidence, best first.
    pub evidence: Vec<EvidenceLine>,
    /// What was tried: self-heal actions, the rerun, the patch.
    pub tried: Vec<String>,
}

impl Message {
    /// Builds a message from the run (trusted environment), the server URL
    /// (`GITHUB_SERVER_URL`) and the artifacts.
    pub fn build(
        reason: Reason,
        run: &RunInfo,
        server_url: &str,
        context: Option<&Context>,
        report: Option<&HealReport>,
        metadata: Option<&FixMetadata>,
    ) -> Message {
        let run_url = (run.repository != crate::github::env::LOCAL
            && run.run_id != crate::github::env::LOCAL)
            .then(|| {
                format!(
                    "{}/{}/actions/runs/{}",
                    server_url.trim_end_matches('/'),
                    run.repository,
                    run.run_id
                )
            });
        let category = context
            .map(|c| c.classification.category.to_string())
            .or_else(|| report.map(|r| r.category.to_string()))
            .unwrap_or_else(|| "unknown".into());
        let evidence = context
            .map(|c| {
                let mut findings: Vec<_> = c.findings.iter().collect();
                findings.sort_by_key(|f| f.rank);
                findings
                    .into_iter()
                    .take(MAX_EVIDENCE)
                    .map(|f| EvidenceLine {
                        location: clean_line(&crate::github::summary::finding_location(f)),
                        text: f
                            .excerpt
                            .lines()
                            .filter(|l| !l.trim().is_empty())
                            .take(MAX_EVIDENCE_LINES)
                            .map(clean_line)
                            .collect::<Vec<_>>()
                            .join("\n"),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut tried = Vec::new();
        if let Some(r) = report {
            for a in &r.actions {
                let how = if a.timed_out {
                    "timed out".to_string()
                } else {
                    match a.exit_code {
                        Some(c) => format!("exit {c}"),
                        None => "did not finish".to_string(),
                    }
                };
                tried.push(format!("self-heal action {} ({how})", clean_line(&a.name)));
            }
            if let Some(rr) = &r.rerun {
                let ok = rr.result.exit_code == Some(0);
                tried.push(format!(
                    "rerun {:?} ({})",
                    rr.mode,
                    if ok { "passed" } else { "still failing" }
                ));
            }
            tried.push(format!(
                "self-heal attempt {}: {}",
                r.attempt,
                r.outcome.as_str()
            ));
        }
        if let Some(m) = metadata {
            tried.push(format!(
                "fix-agent patch: guard {}, validation {}",
                m.guardrails.decision.as_str(),
                m.validation.status.as_str()
            ));
        }
        Message {
            schema: GENERIC_MESSAGE_SCHEMA.into(),
            reason,
            headline: headline(reason, report),
            repository: run.repository.clone(),
            run_id: run.run_id.clone(),
            run_url,
            category,
            confidence: context.map(|c| c.classification.confidence),
            evidence,
            tried,
        }
    }

    /// The message as plain text (Discord; generic `text`).
    pub fn text(&self) -> String {
        let mut t = format!(
            "ci-remedy: a person is needed for {} run {} — {}\nCategory: {}",
            self.repository, self.run_id, self.headline, self.category
        );
        if let Some(c) = self.confidence {
            t.push_str(&format!(" (confidence {c:.2})"));
        }
        if let Some(u) = &self.run_url {
            t.push_str(&format!("\nRun: {u}"));
        }
        if !self.tried.is_empty() {
            t.push_str("\nTried: ");
            t.push_str(&self.tried.join("; "));
        }
        for e in &self.evidence {
            t.push_str(&format!("\nEvidence {}:\n{}", e.location, e.text));
        }
        t
    }

    /// The JSON body for `kind`. Slack text escapes `&`, `<`, `>` (so log text cannot form
    /// `<!channel>` mentions or links); Discord disables every mention and is cut to 2000
    /// characters.
    pub fn render(&self, kind: WebhookKind) -> serde_json::Value {
        match kind {
            WebhookKind::Slack => {
                let esc = |s: &str| {
                    s.replace('&', "&amp;")
                        .replace('<', "&lt;")
                        .replace('>', "&gt;")
                };
                let mut t = format!(
                    "*ci-remedy: a person is needed* — {}\n*Reason:* {}\n*Category:* `{}`",
                    match &self.run_url {
                        Some(u) => format!(
                            "<{}|{} run {}>",
                            esc(u),
                            esc(&self.repository),
                            esc(&self.run_id)
                        ),
                        None => format!("{} run {}", esc(&self.repository), esc(&self.run_id)),
                    },
                    esc(&self.headline),
                    esc(&self.category)
                );
                if let Some(c) = self.confidence {
                    t.push_str(&format!(" (confidence {c:.2})"));
                }
                if !self.tried.is_empty() {
                    t.push_str(&format!("\n*Tried:* {}", esc(&self.tried.join("; "))));
                }
                for e in &self.evidence {
                    t.push_str(&format!(
                        "\n*Evidence* `{}`\n```{}```",
                        esc(&e.location).replace('`', "'"),
                        esc(&e.text).replace("```", "'''")
                    ));
                }
                serde_json::json!({ "text": t })
            }
            WebhookKind::Discord => {
                let text: String = self.text().chars().take(2000).collect();
                serde_json::json!({ "content": text, "allowed_mentions": { "parse": [] } })
            }
            WebhookKind::Generic => {
                let mut v = serde_json::to_value(self).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("text".into(), serde_json::Value::String(self.text()));
                }
                v
            }
        }
    }
}

/// One line of untrusted text ([`plain_line`]: control, invisible and bidirectional
/// characters become spaces), at most [`MAX_LINE_CHARS`].
fn clean_line(s: &str) -> String {
    plain_line(s, MAX_LINE_CHARS)
}

/// The dedup key of a run and category: `<repository>#<run_id>#<category>`.
pub fn dedup_key(run: &RunInfo, category: &str) -> String {
    format!("{}#{}#{}", run.repository, run.run_id, category)
}

/// The state file: which run and category pairs were already notified.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct SentState {
    /// Always [`SENT_STATE_SCHEMA`].
    pub schema: String,
    /// Sent messages, oldest first.
    pub sent: Vec<SentEntry>,
}

/// One sent message.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct SentEntry {
    /// The [`dedup_key`].
    pub key: String,
    /// The reason sent.
    pub reason: Reason,
    /// When, seconds since the Unix epoch.
    pub at_unix: u64,
}

impl Default for SentState {
    fn default() -> Self {
        SentState {
            schema: SENT_STATE_SCHEMA.into(),
            sent: Vec::new(),
        }
    }
}

impl SentState {
    /// Reads the state file; a missing file is an empty state. A corrupt one is an error
    /// (sending again could spam a channel).
    pub fn load(path: &Path) -> Result<SentState, crate::artifact::ArtifactError> {
        if !path.exists() {
            return Ok(SentState::default());
        }
        crate::artifact::read_json(path)
    }

    /// True when `key` was sent.
    pub fn contains(&self, key: &str) -> bool {
        self.sent.iter().any(|e| e.key == key)
    }
}

/// How `ci-notify` ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NotifyOutcome {
    /// The message was delivered.
    Sent,
    /// This run and category were already notified.
    Duplicate,
    /// No enabled escalation reason applies.
    NotEscalated,
    /// No webhook configured.
    Skipped,
    /// Delivery failed after the retry.
    Failed,
}

/// `notify/notify-status.json`. Never contains the webhook URL.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct NotifyStatus {
    /// Always [`NOTIFY_STATUS_SCHEMA`].
    pub schema: String,
    /// The program that wrote this artifact.
    pub tool: ToolInfo,
    /// The workflow run.
    pub run: RunInfo,
    /// How it ended.
    pub status: NotifyOutcome,
    /// The escalation reason, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// The category.
    pub category: String,
    /// The webhook kind, when one is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookKind>,
    /// Requests made.
    pub attempts: u32,
    /// The last HTTP status received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// One line on why.
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_detected_from_the_host() {
        assert_eq!(
            WebhookKind::detect("https://hooks.slack.com/services/T/B/x"),
            WebhookKind::Slack
        );
        assert_eq!(
            WebhookKind::detect("https://discord.com/api/webhooks/1/abc"),
            WebhookKind::Discord
        );
        assert_eq!(
            WebhookKind::detect("https://hooks.slack.com.evil.test/x"),
            WebhookKind::Generic
        );
    }

    #[test]
    fn slack_text_cannot_mention_and_discord_disables_mentions() {
        let run = RunInfo::from_lookup(|k| match k {
            "GITHUB_REPOSITORY" => Some("o/r".into()),
            "GITHUB_RUN_ID" => Some("9".into()),
            _ => None,
        });
        let mut m = Message::build(
            Reason::SelfHealExhausted,
            &run,
            "https://github.com",
            None,
            None,
            None,
        );
        m.evidence.push(EvidenceLine {
            location: "a.log:3".into(),
            text: "<!channel> @everyone boom".into(),
        });
        let slack = m.render(WebhookKind::Slack);
        let t = slack["text"].as_str().expect("text");
        assert!(
            !t.contains("<!channel>") && t.contains("&lt;!channel&gt;"),
            "{t}"
        );
        assert!(
            t.contains("<https://github.com/o/r/actions/runs/9|o/r run 9>"),
            "{t}"
        );
        let discord = m.render(WebhookKind::Discord);
        assert_eq!(discord["allowed_mentions"]["parse"], serde_json::json!([]));
        let generic = m.render(WebhookKind::Generic);
        assert_eq!(generic["schema"], GENERIC_MESSAGE_SCHEMA);
        assert_eq!(generic["reason"], "self-heal-exhausted");
    }

    fn fix_metadata() -> FixMetadata {
        serde_json::from_str(include_str!(
            "../../fixtures/dashboard/artifacts/7002/fix-agent/fix-agent/metadata-7002.json"
        ))
        .expect("fix metadata")
    }

    #[test]
    fn reasons_from_fix_metadata() {
        let mut m = fix_metadata();
        assert!(escalation_reasons(None, Some(&m)).is_empty());
        m.guardrails.decision = GuardDecision::Rejected;
        m.validation.status = ValidationStatus::TimedOut;
        assert_eq!(
            escalation_reasons(None, Some(&m)),
            vec![Reason::PatchRejected, Reason::ValidationFailed]
        );
        let run = RunInfo::from_lookup(|_| None);
        let msg = Message::build(
            Reason::PatchRejected,
            &run,
            "https://github.com",
            None,
            None,
            Some(&m),
        );
        assert_eq!(
            msg.tried,
            vec!["fix-agent patch: guard rejected, validation timed_out".to_string()]
        );
    }

    #[test]
    fn quoted_lines_cannot_hide_text() {
        // Bidirectional overrides and zero-width characters become spaces, like in PR text.
        assert_eq!(clean_line("a\u{202e}b\u{200b}c\td\u{7}"), "a b c d");
        let long = "x".repeat(MAX_LINE_CHARS + 10);
        assert_eq!(clean_line(&long).chars().count(), MAX_LINE_CHARS);
    }
}
