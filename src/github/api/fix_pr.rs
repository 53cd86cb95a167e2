//! fix-agent-pr: opens a DRAFT pull request from a re-checked patch, only when every gate of
//! the `fix-agent-pr` policy passes. The branch and commit are made through the Git Data API
//! (blobs, tree, commit, ref), so the token needs only `contents: write` and
//! `pull-requests: write`; nothing is pushed with git.
//!
//! Gates, in order (all reported; the API is not asked when a local gate fails):
//! `enabled`, `risk`, `changed_lines`, `validation`, `guard` (the patch re-checked against the
//! metadata and the guard), then with the API: `fork`, `opt_in_label`, `open_limit`,
//! `hourly_limit`.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::artifact::{Gate, RunInfo, ToolInfo, ValidationStatus};
use crate::fix::pr::plain_line;
use crate::fix::recheck::Verified;
use crate::policy::pr::FixAgentPrPolicy;

use super::types::{GitCommit, Pull, Repository, Sha};
use super::{ApiError, GitHub, Repo, Request};

/// The `schema` value of a fix-agent-pr result.
pub const PR_RESULT_SCHEMA: &str = "ci-remedy/fix-pr-result/v1";

/// What fix-agent-pr did: the PR it opened, or every gate with why it failed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PrResult {
    /// Always [`PR_RESULT_SCHEMA`].
    pub schema: String,
    /// The program that wrote this artifact.
    pub tool: ToolInfo,
    /// The run deciding (from the environment).
    pub run: RunInfo,
    /// True when a draft PR was opened.
    pub opened: bool,
    /// Every gate, in evaluation order.
    pub gates: Vec<Gate>,
    /// The PR number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr_number: Option<u64>,
    /// The PR's web URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr_url: Option<String>,
    /// The branch created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The commit created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_sha: Option<String>,
    /// The workflow dispatched on the branch, when asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatched: Option<String>,
    /// Set when the step could not do its job (an API error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What fix-agent-pr is asked to do.
#[derive(Debug, Clone)]
pub struct PrRequest<'a> {
    /// The repository.
    pub repo: Repo,
    /// The re-checked patch and metadata.
    pub verified: &'a Verified,
    /// The policy section.
    pub policy: &'a FixAgentPrPolicy,
    /// The run (event name, run id).
    pub run: RunInfo,
    /// The PR the failure happened on, if any.
    pub source_pr: Option<u64>,
    /// The branch to open the PR against; default: the source PR's branch when it is in this
    /// repository, else the default branch.
    pub base_branch: Option<String>,
    /// A workflow file (`ci.yml`) to dispatch on the new branch.
    pub dispatch: Option<String>,
    /// The current time (for the hourly limit).
    pub now: SystemTime,
}

/// The local gates: enabled, risk, changed_lines, validation, guard.
pub fn local_gates(v: &Verified, policy: &FixAgentPrPolicy) -> Vec<Gate> {
    let mut g = vec![Gate::new(
        "enabled",
        policy.enabled,
        if policy.enabled {
            "fix-agent-pr.enabled is true".into()
        } else {
            "fix-agent-pr.enabled is false (the default): no PR is opened".into()
        },
    )];
    let allowed: Vec<&str> = policy.allowed_risk.iter().map(|c| c.as_str()).collect();
    g.push(Gate::new(
        "risk",
        policy.allowed_risk.contains(&v.risk.class),
        format!(
            "risk class {} (recomputed from the patch) {} fix-agent-pr.allowed-risk [{}]",
            v.risk.class.as_str(),
            if policy.allowed_risk.contains(&v.risk.class) {
                "is in"
            } else {
                "is not in"
            },
            allowed.join(", ")
        ),
    ));
    let lines = v.plan.lines_added.saturating_add(v.plan.lines_removed);
    g.push(Gate::new(
        "changed_lines",
        lines <= policy.max_changed_lines && lines > 0,
        format!(
            "{lines} changed line(s) {} fix-agent-pr.max-changed-lines {}",
            if lines <= policy.max_changed_lines {
                "<="
            } else {
                ">"
            },
            policy.max_changed_lines
        ),
    ));
    let st = v.metadata.validation.status;
    g.push(Gate::new(
        "validation",
        st == ValidationStatus::Passed,
        format!("validation {} (it must have passed)", st.as_str()),
    ));
    g.push(Gate::new(
        "guard",
        v.ok(),
        if v.ok() {
            format!(
                "the patch matches its metadata and the guard accepts it again (checked against {})",
                v.checked_against
            )
        } else {
            v.problems
                .iter()
                .map(|p| format!("{}: {}", p.code, p.detail))
                .collect::<Vec<_>>()
                .join("; ")
        },
    ));
    g
}

/// Parses an RFC 3339 timestamp (GitHub writes `YYYY-MM-DDTHH:MM:SSZ`) to Unix seconds;
/// `None` when it is not one.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.timestamp())
}

/// Checks a branch name from the (untrusted) metadata: `ci-remedy/` then ASCII letters,
/// digits, `.`, `_`, `-` and `/`; no `..`, `//`, `.lock` or `/` at the end; at most 100 bytes.
pub fn safe_branch(name: &str) -> bool {
    name.len() <= 100
        && name.starts_with("ci-remedy/")
        && name.len() > "ci-remedy/".len()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
        && !name.contains("..")
        && !name.contains("//")
        && !name.ends_with('/')
        && !name.ends_with(".lock")
        && !name.split('/').any(|c| c.starts_with('.'))
}

fn api_gates(
    gh: &GitHub,
    req: &PrRequest<'_>,
    source: Option<&Pull>,
) -> Result<Vec<Gate>, ApiError> {
    let p = req.policy;
    let repo_name = req.repo.to_string();
    let mut g = Vec::new();
    // Fork.
    let head_repo = source.and_then(|s| s.head.repo.as_ref());
    let from_fork =
        source.is_some() && head_repo.is_none_or(|r| !r.full_name.eq_ignore_ascii_case(&repo_name));
    let target = req.run.event_name == "pull_request_target";
    g.push(if target && from_fork && !p.allow_fork {
        Gate::new(
            "fork",
            false,
            format!(
                "refused: a pull_request_target run for a PR from the fork {} has a write token but runs on untrusted code; set fix-agent-pr.allow-fork: true only if you accept that",
                head_repo
                    .map(|r| r.full_name.chars().take(100).collect::<String>())
                    .unwrap_or_else(|| "(deleted)".into())
            ),
        )
    } else if target && source.is_none() {
        Gate::new(
            "fork",
            false,
            "refused: a pull_request_target run without a source PR to check the head repository of".into(),
        )
    } else {
        Gate::new(
            "fork",
            true,
            format!(
                "event {}{}",
                plain_line(&req.run.event_name, 40),
                if from_fork { ", PR from a fork (allowed by policy or not pull_request_target)" } else { "" }
            ),
        )
    });
    // Opt-in label.
    g.push(match (&p.opt_in_label, source) {
        (None, _) => Gate::new(
            "opt_in_label",
            true,
            "no fix-agent-pr.opt-in-label in the policy".into(),
        ),
        (Some(l), None) => Gate::new(
            "opt_in_label",
            true,
            format!("no source PR to carry the label {l:?}"),
        ),
        (Some(l), Some(s)) => Gate::new(
            "opt_in_label",
            s.has_label(l),
            format!(
                "PR #{} {} the label {l:?}",
                s.number,
                if s.has_label(l) {
                    "carries"
                } else {
                    "does not carry"
                }
            ),
        ),
    });
    // Open agent PRs.
    let open: Vec<Pull> = gh.get_list(
        &format!("{}/pulls?state=open", req.repo.path()),
        None,
        10,
        1000,
    )?;
    let n_open = open.iter().filter(|x| x.has_label(&p.agent_label)).count();
    g.push(Gate::new(
        "open_limit",
        (n_open as u64) < u64::from(p.max_open),
        format!(
            "{n_open} open PR(s) with the label {:?}; fix-agent-pr.max-open is {}",
            p.agent_label, p.max_open
        ),
    ));
    // Created in the last hour (newest first; one page of 100 is enough for any sane limit).
    let recent: Vec<Pull> = gh.get_list(
        &format!(
            "{}/pulls?state=all&sort=created&direction=desc",
            req.repo.path()
        ),
        None,
        1,
        100,
    )?;
    let now = req
        .now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let n_hour = recent
        .iter()
        .filter(|x| x.has_label(&p.agent_label))
        .filter(|x| parse_timestamp(&x.created_at).is_some_and(|t| now - t < 3600))
        .count();
    g.push(Gate::new(
        "hourly_limit",
        (n_hour as u64) < u64::from(p.max_per_hour),
        format!(
            "{n_hour} PR(s) with the label {:?} created in the last hour; fix-agent-pr.max-per-hour is {}",
            p.agent_label, p.max_per_hour
        ),
    ));
    Ok(g)
}

fn commit_message(text: &str) -> String {
    let s: String = text
        .chars()
        .filter(|c| *c == '\n' || !c.is_control())
        .take(5000)
        .collect();
    if s.trim().is_empty() {
        "fix: ci-remedy patch".into()
    } else {
        s
    }
}

/// Evaluates every gate and, when all pass, creates the branch, commit and draft PR. Returns
/// the result (with `error` set when an API call failed; gates evaluated so far are kept).
pub fn run(gh: Option<&GitHub>, req: &PrRequest<'_>) -> PrResult {
    let mut result = PrResult {
        schema: PR_RESULT_SCHEMA.into(),
        tool: ToolInfo::new("fix-agent-pr"),
        run: req.run.clone(),
        opened: false,
        gates: local_gates(req.verified, req.policy),
        pr_number: None,
        pr_url: None,
        branch: None,
        commit_sha: None,
        dispatched: None,
        error: None,
    };
    if result.gates.iter().any(|g| !g.passed) {
        return result;
    }
    let Some(gh) = gh else {
        result.error = Some(ApiError::NoToken.to_string());
        return result;
    };
    if let Err(e) = open(gh, req, &mut result) {
        result.error = Some(e.to_string());
    }
    result
}

fn open(gh: &GitHub, req: &PrRequest<'_>, result: &mut PrResult) -> Result<(), ApiError> {
    let repo = &req.repo;
    let source: Option<Pull> = match req.source_pr {
        Some(n) => Some(gh.get_json(&format!("{}/pulls/{n}", repo.path()))?),
        None => None,
    };
    result.gates.extend(api_gates(gh, req, source.as_ref())?);
    if result.gates.iter().any(|g| !g.passed) {
        return Ok(());
    }
    let v = req.verified;
    let m = &v.metadata;
    let base_branch = match &req.base_branch {
        Some(b) => b.clone(),
        None => match source.as_ref().filter(|s| {
            s.head
                .repo
                .as_ref()
                .is_some_and(|r| r.full_name.eq_ignore_ascii_case(&repo.to_string()))
        }) {
            Some(s) => s.head.branch.clone(),
            None => {
                let r: Repository = gh.get_json(&repo.path())?;
                r.default_branch
            }
        },
    };
    let branch = if safe_branch(&m.branch) {
        m.branch.clone()
    } else {
        format!(
            "ci-remedy/patch-{}",
            &crate::fix::sha256_hex(v.patch.as_bytes())[..12]
        )
    };
    let base: GitCommit = gh.get_json(&format!("{}/git/commits/{}", repo.path(), m.base_sha))?;
    let mut entries = Vec::new();
    for f in &v.plan.files {
        let mode = if f.mode & 0o111 != 0 {
            "100755"
        } else {
            "100644"
        };
        match &f.new {
            Some(content) => {
                let body = serde_json::json!({
                    "content": base64::engine::general_purpose::STANDARD.encode(content.as_bytes()),
                    "encoding": "base64",
                });
                let blob: Sha = gh.json(&Request::post(
                    format!("{}/git/blobs", repo.path()),
                    &body,
                    true,
                ))?;
                entries.push(serde_json::json!({"path": f.path, "mode": mode, "type": "blob", "sha": blob.sha}));
            }
            None => entries.push(
                serde_json::json!({"path": f.path, "mode": mode, "type": "blob", "sha": null}),
            ),
        }
    }
    let tree_body = serde_json::json!({"base_tree": base.tree.sha, "tree": entries});
    let tree: Sha = gh.json(&Request::post(
        format!("{}/git/trees", repo.path()),
        &tree_body,
        true,
    ))?;
    let commit_body = serde_json::json!({
        "message": commit_message(&m.commit_message),
        "tree": tree.sha,
        "parents": [m.base_sha],
    });
    let commit: Sha = gh.json(&Request::post(
        format!("{}/git/commits", repo.path()),
        &commit_body,
        true,
    ))?;
    result.commit_sha = Some(commit.sha.clone());
    let ref_body = serde_json::json!({"ref": format!("refs/heads/{branch}"), "sha": commit.sha});
    let _: serde_json::Value = gh.json(&Request::post(
        format!("{}/git/refs", repo.path()),
        &ref_body,
        false,
    ))?;
    result.branch = Some(branch.clone());
    let mut body: String = m.pr_body.chars().take(55_000).collect();
    body.push_str(&format!(
        "\n\n---\n<sub>Opened as a draft by ci-remedy fix-agent-pr from run {}; patch sha256 `{}`, re-checked by the guard before this PR was opened.{}</sub>\n",
        plain_line(&req.run.run_id, 40).replace('`', ""),
        crate::fix::sha256_hex(v.patch.as_bytes()),
        req.source_pr.map(|n| format!(" Source PR: #{n}.")).unwrap_or_default()
    ));
    let pr_body = serde_json::json!({
        "title": plain_line(&m.pr_title, 200),
        "body": body,
        "head": branch,
        "base": base_branch,
        "draft": true,
    });
    let pr: Pull = gh.json(&Request::post(
        format!("{}/pulls", repo.path()),
        &pr_body,
        false,
    ))?;
    result.opened = true;
    result.pr_number = Some(pr.number);
    result.pr_url = Some(pr.html_url.clone());
    let labels = serde_json::json!({"labels": [req.policy.agent_label]});
    let _: serde_json::Value = gh.json(&Request::post(
        format!("{}/issues/{}/labels", repo.path(), pr.number),
        &labels,
        true,
    ))?;
    if let Some(wf) = &req.dispatch {
        let ok = !wf.is_empty()
            && wf.len() <= 100
            && wf
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !ok {
            return Err(ApiError::InvalidArgument {
                what: "workflow",
                value: wf.chars().take(100).collect(),
                why: "expected a workflow file name like ci.yml".into(),
            });
        }
        let d = serde_json::json!({"ref": branch});
        gh.send(&Request::post(
            format!("{}/actions/workflows/{wf}/dispatches", repo.path()),
            &d,
            false,
        ))?;
        result.dispatched = Some(wf.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("2024-02-29T12:00:00Z"), Some(1_709_208_000));
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn branches() {
        assert!(safe_branch("ci-remedy/123-test-timeout"));
        for bad in [
            "main",
            "ci-remedy/",
            "ci-remedy/../main",
            "ci-remedy/a.lock",
            "ci-remedy/a b",
            "ci-remedy/.hidden",
            "ci-remedy/a//b",
        ] {
            assert!(!safe_branch(bad), "{bad}");
        }
    }
}
