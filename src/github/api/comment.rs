//! The sticky PR comment: one Markdown comment built from a run's artifacts (classification
//! and top evidence, self-heal gates and outcome, patch summary and how to apply it), created
//! once and then updated in place. It is found again by a hidden marker at the start of its
//! body, so there is never a second one.

use std::path::Path;

use crate::artifact::{
    read_artifact, Artifact, Context, Decision, FixMetadata, GuardDecision, HealReport,
};
use crate::github::summary::{cell, context_markdown, decision_markdown, report_markdown};

use super::types::IssueComment;
use super::{ApiError, GitHub, Repo, Request};

/// The largest comment body GitHub accepts is 65 536 characters; ci-remedy stays below this.
pub const MAX_COMMENT_CHARS: usize = 60_000;

/// The hidden marker for comments of `key` (ASCII letters, digits, `-`, `_`; others become `-`).
pub fn marker(key: &str) -> String {
    let k: String = key
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("<!-- ci-remedy:sticky-comment {k} -->")
}

/// A word safe inside a shell code block and inline code: ASCII letters, digits, `.`, `_`,
/// `-` and `/` kept, anything else becomes `_`; at most 100 characters.
pub fn shell_word(s: &str) -> String {
    s.chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The artifacts a comment is built from; each is optional.
#[derive(Debug, Clone, Default)]
pub struct CommentInputs {
    /// `self-heal/context.json`.
    pub context: Option<Context>,
    /// `self-heal/decision.json`.
    pub decision: Option<Decision>,
    /// `self-heal/report-*.json`.
    pub report: Option<HealReport>,
    /// `fix-agent/metadata-*.json`.
    pub metadata: Option<FixMetadata>,
    /// Files that exist but could not be read, `path: why`.
    pub unreadable: Vec<String>,
}

/// The last (by name) regular file in `dir` named `prefix…suffix`.
fn last_matching(dir: &Path, prefix: &str, suffix: &str) -> Option<std::path::PathBuf> {
    super::artifacts::list_dir(dir)
        .ok()?
        .into_iter()
        .rfind(|f| f.is_file && f.name.starts_with(prefix) && f.name.ends_with(suffix))
        .map(|f| f.path)
}

impl CommentInputs {
    /// Reads `DIR/self-heal/context.json`, `DIR/self-heal/decision.json`, the last
    /// `DIR/self-heal/report-*.json` and the last `DIR/fix-agent/metadata-*.json` (by name).
    /// Missing files are skipped; unreadable ones are listed in `unreadable`.
    pub fn load(dir: &Path) -> CommentInputs {
        let mut c = CommentInputs::default();
        let heal = dir.join("self-heal");
        let fix = dir.join("fix-agent");
        fn load<T: Artifact>(p: Option<std::path::PathBuf>, bad: &mut Vec<String>) -> Option<T> {
            let p = p.filter(|p| p.exists())?;
            match read_artifact::<T>(&p) {
                Ok(v) => Some(v),
                Err(e) => {
                    bad.push(e.to_string());
                    None
                }
            }
        }
        c.context = load(Some(heal.join("context.json")), &mut c.unreadable);
        c.decision = load(Some(heal.join("decision.json")), &mut c.unreadable);
        c.report = load(last_matching(&heal, "report-", ".json"), &mut c.unreadable);
        c.metadata = load(last_matching(&fix, "metadata-", ".json"), &mut c.unreadable);
        c
    }

    /// True when there is nothing to say.
    pub fn is_empty(&self) -> bool {
        self.context.is_none()
            && self.decision.is_none()
            && self.report.is_none()
            && self.metadata.is_none()
    }
}

/// Where the comment points for the artifacts: `owner/repo`, the run id and the fix-agent
/// artifact's name.
#[derive(Debug, Clone)]
pub struct RunLink {
    /// `owner/repo`.
    pub repo: String,
    /// The workflow run id.
    pub run_id: String,
    /// The fix-agent artifact name (for `gh run download -n`).
    pub artifact: String,
}

/// Builds the comment body: the marker, then the sections that have artifacts. Untrusted
/// text goes through [`cell`] or fenced code blocks; the body is cut to
/// [`MAX_COMMENT_CHARS`].
pub fn build_body(key: &str, inputs: &CommentInputs, link: &RunLink) -> String {
    let mut md = format!("{}\n", marker(key));
    match &inputs.context {
        Some(ctx) => md.push_str(&context_markdown(ctx)),
        None => {
            md.push_str("## ci-remedy: failure analysis\n\nNo failure context for this run.\n\n")
        }
    }
    if inputs.decision.is_some() || inputs.report.is_some() {
        md.push_str("### Self-heal\n\n");
    }
    if let Some(d) = &inputs.decision {
        md.push_str(&decision_markdown(d));
    }
    if let Some(r) = &inputs.report {
        md.push_str(&report_markdown(r));
    }
    if let Some(m) = &inputs.metadata {
        let g = &m.guardrails;
        md.push_str("### Patch\n\n");
        md.push_str(&format!(
            "| | |\n|---|---|\n| guard | {} |\n| files | {} |\n| lines | +{} −{} |\n| risk | {} ({}) |\n| validation | {} |\n| needs manual review | {} |\n\n",
            g.decision.as_str(),
            g.files_changed,
            g.lines_added,
            g.lines_removed,
            m.risk.class.as_str(),
            m.risk.score,
            m.validation.status.as_str(),
            m.needs_manual_review
        ));
        if g.decision == GuardDecision::Accepted {
            md.push_str(&format!(
                "**{}**\n\nHow to apply (the patch is for commit `{}`):\n\n```sh\ngh run download {} -R {} -n {}\ngit apply {}\n```\n\nor, checking the artifact and the guard again first:\n\n```sh\nfix-agent-fetch --repo {} --run {} --apply\n```\n\n",
                cell(&m.pr_title.chars().take(200).collect::<String>()),
                shell_word(&m.base_sha),
                shell_word(&link.run_id),
                shell_word(&link.repo),
                shell_word(&link.artifact),
                shell_word(&m.patch_file),
                shell_word(&link.repo),
                shell_word(&link.run_id),
            ));
        } else {
            md.push_str(&format!(
                "No patch: the guard's decision is `{}` ({} refusal(s)).\n\n",
                g.decision.as_str(),
                g.refused.len()
            ));
        }
    }
    if !inputs.unreadable.is_empty() {
        md.push_str(&format!(
            "> {} artifact file(s) could not be read.\n\n",
            inputs.unreadable.len()
        ));
    }
    md.push_str(&format!(
        "<sub>ci-remedy · run {} · this comment is updated in place.</sub>\n",
        cell(&link.run_id)
    ));
    if md.chars().count() > MAX_COMMENT_CHARS {
        let mut cut: String = md.chars().take(MAX_COMMENT_CHARS - 100).collect();
        cut.push_str("\n\n… (cut: the comment reached GitHub's size limit)\n");
        md = cut;
    }
    md
}

/// What [`upsert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentAction {
    /// A new comment was created.
    Created,
    /// The existing comment was updated.
    Updated,
    /// The existing comment already had this body.
    Unchanged,
}

impl CommentAction {
    /// `created`, `updated` or `unchanged`.
    pub fn as_str(self) -> &'static str {
        match self {
            CommentAction::Created => "created",
            CommentAction::Updated => "updated",
            CommentAction::Unchanged => "unchanged",
        }
    }
}

/// The comment written.
#[derive(Debug, Clone)]
pub struct Upserted {
    /// What was done.
    pub action: CommentAction,
    /// The comment id.
    pub id: u64,
    /// Its web URL.
    pub url: String,
}

/// Finds the comment on PR (issue) `number` whose body starts with `marker` (and, when
/// `author` is given, whose author has that login), and updates it with `body` (`PATCH
/// /repos/{o}/{r}/issues/comments/{id}`), or creates one (`POST
/// /repos/{o}/{r}/issues/{n}/comments`) when there is none. With several matches the oldest
/// is updated.
pub fn upsert(
    gh: &GitHub,
    repo: &Repo,
    number: u64,
    marker: &str,
    body: &str,
    author: Option<&str>,
) -> Result<Upserted, ApiError> {
    let comments: Vec<IssueComment> = gh.get_list(
        &format!("{}/issues/{number}/comments", repo.path()),
        None,
        30,
        3000,
    )?;
    let found = comments.iter().find(|c| {
        c.body
            .as_deref()
            .is_some_and(|b| b.trim_start().starts_with(marker))
            && author.is_none_or(|a| c.user.as_ref().is_some_and(|u| u.login == a))
    });
    let payload = serde_json::json!({ "body": body });
    match found {
        Some(c) if c.body.as_deref() == Some(body) => Ok(Upserted {
            action: CommentAction::Unchanged,
            id: c.id,
            url: c.html_url.clone(),
        }),
        Some(c) => {
            let updated: IssueComment = gh.json(&Request::patch(
                format!("{}/issues/comments/{}", repo.path(), c.id),
                &payload,
            ))?;
            Ok(Upserted {
                action: CommentAction::Updated,
                id: updated.id,
                url: updated.html_url,
            })
        }
        None => {
            let created: IssueComment = gh.json(&Request::post(
                format!("{}/issues/{number}/comments", repo.path()),
                &payload,
                false,
            ))?;
            Ok(Upserted {
                action: CommentAction::Created,
                id: created.id,
                url: created.html_url,
            })
        }
    }
}

/// The PR number of the event: `pull_request.number`, else `issue.number` when the issue is a
/// PR, else the first of `workflow_run.pull_requests[]` (from the JSON at `GITHUB_EVENT_PATH`,
/// at most 16 MiB), else `N` from `GITHUB_REF=refs/pull/N/merge`.
pub fn pr_from_event(event_path: Option<&Path>, git_ref: Option<&str>) -> Option<u64> {
    let from_file = event_path.and_then(|p| {
        let meta = std::fs::metadata(p).ok()?;
        if meta.len() > 16 * 1024 * 1024 {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
        v.pointer("/pull_request/number")
            .and_then(|n| n.as_u64())
            .or_else(|| {
                v.pointer("/issue/pull_request")
                    .and(v.pointer("/issue/number").and_then(|n| n.as_u64()))
            })
            .or_else(|| {
                v.pointer("/workflow_run/pull_requests/0/number")
                    .and_then(|n| n.as_u64())
            })
    });
    from_file.or_else(|| {
        let r = git_ref?.strip_prefix("refs/pull/")?;
        r.split('/').next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_is_sanitised() {
        assert_eq!(marker("ci"), "<!-- ci-remedy:sticky-comment ci -->");
        assert_eq!(marker("a-->b"), "<!-- ci-remedy:sticky-comment a---b -->");
    }

    #[test]
    fn self_heal_tables_are_the_job_summary_ones() {
        let report: HealReport = serde_json::from_value(serde_json::json!({
            "schema": "ci-remedy/self-heal-report/v1",
            "tool": {"name": "self-heal-execute", "version": "0"},
            "run": {"repository": "o/r", "run_id": "7", "run_attempt": 1, "event_name": "push",
                "sha": "abc", "ref": "refs/heads/main", "workflow": "ci", "job": "test"},
            "category": "network",
            "attempt": 1,
            "actions": [{"name": "clear-cache", "command": ["true"], "exit_code": 0,
                "duration_ms": 5, "timed_out": false, "output_tail": ""}],
            "rerun": {"mode": "failed", "tests": [], "result": {"name": "rerun",
                "command": ["npm", "test"], "exit_code": null, "duration_ms": 900,
                "timed_out": true, "output_tail": ""}},
            "outcome": "still_failing",
            "escalate_to": "human",
            "detail": "y".repeat(400)
        }))
        .expect("report");
        let inputs = CommentInputs {
            report: Some(report.clone()),
            ..CommentInputs::default()
        };
        let link = RunLink {
            repo: "o/r".into(),
            run_id: "7".into(),
            artifact: "fix-agent".into(),
        };
        let body = build_body("k", &inputs, &link);
        assert!(body.contains(&report_markdown(&report)), "{body}");
        // The rerun has its row, and the detail is cut.
        assert!(body.contains("| rerun | - | 900 | yes |"), "{body}");
        assert!(!body.contains(&"y".repeat(301)), "{body}");
    }

    #[test]
    fn pr_number_from_ref() {
        assert_eq!(pr_from_event(None, Some("refs/pull/17/merge")), Some(17));
        assert_eq!(pr_from_event(None, Some("refs/heads/main")), None);
        let dir = tempfile::tempdir().expect("dir");
        let p = dir.path().join("event.json");
        std::fs::write(&p, br#"{"workflow_run":{"pull_requests":[{"number":9}]}}"#).expect("write");
        assert_eq!(pr_from_event(Some(&p), None), Some(9));
        std::fs::write(&p, b"not json").expect("write");
        assert_eq!(pr_from_event(Some(&p), Some("refs/pull/3/merge")), Some(3));
    }
}
