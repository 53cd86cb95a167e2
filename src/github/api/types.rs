//! Wire types: the few fields of GitHub's REST answers that ci-remedy reads. Unknown fields
//! are ignored and most fields have defaults, so a newer or smaller answer still reads.
//! Shapes as documented in the REST reference ("Artifacts", "Workflow runs", "Pulls",
//! "Issue comments", "Git database").

use serde::Deserialize;

/// A workflow run artifact (`GET /repos/{o}/{r}/actions/runs/{id}/artifacts` → `artifacts[]`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Artifact {
    /// The artifact id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// The zip size in bytes.
    #[serde(default)]
    pub size_in_bytes: u64,
    /// Whether it expired (its zip then answers 410).
    #[serde(default)]
    pub expired: bool,
    /// The run that uploaded it (`workflow_run`: id, head sha), when GitHub says.
    #[serde(default)]
    pub workflow_run: Option<ArtifactRun>,
}

/// An artifact's `workflow_run`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct ArtifactRun {
    /// The run id.
    #[serde(default)]
    pub id: Option<u64>,
    /// The commit.
    #[serde(default)]
    pub head_sha: Option<String>,
}

/// A workflow run (`GET /repos/{o}/{r}/actions/runs/{id}`, `workflow_runs[]`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct WorkflowRun {
    /// The run id.
    pub id: u64,
    /// The workflow's id.
    #[serde(default)]
    pub workflow_id: u64,
    /// The commit.
    #[serde(default)]
    pub head_sha: String,
    /// The branch.
    #[serde(default)]
    pub head_branch: Option<String>,
    /// The event that started it.
    #[serde(default)]
    pub event: String,
    /// The run attempt, 1-based.
    #[serde(default)]
    pub run_attempt: Option<u32>,
    /// ISO 8601 creation time.
    #[serde(default)]
    pub created_at: String,
    /// `success`, `failure`, … (`null` while the run is in progress).
    #[serde(default)]
    pub conclusion: Option<String>,
}

/// A user (the fields ci-remedy reads).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
pub struct User {
    /// The login (`github-actions[bot]`).
    #[serde(default)]
    pub login: String,
    /// `User` or `Bot`.
    #[serde(default, rename = "type")]
    pub kind: String,
}

/// An issue (or PR) comment.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct IssueComment {
    /// The comment id.
    pub id: u64,
    /// The Markdown body.
    #[serde(default)]
    pub body: Option<String>,
    /// Its web URL.
    #[serde(default)]
    pub html_url: String,
    /// Its author.
    #[serde(default)]
    pub user: Option<User>,
}

/// A label.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Label {
    /// The label name.
    pub name: String,
}

/// A repository as a PR's head or base names it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
pub struct RepoRef {
    /// `owner/repo`.
    #[serde(default)]
    pub full_name: String,
    /// Whether it is a fork.
    #[serde(default)]
    pub fork: bool,
}

/// A PR's head or base.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
pub struct Branch {
    /// The branch name.
    #[serde(default, rename = "ref")]
    pub branch: String,
    /// The commit.
    #[serde(default)]
    pub sha: String,
    /// The repository (`null` when a fork was deleted).
    #[serde(default)]
    pub repo: Option<RepoRef>,
}

/// A pull request (`GET /repos/{o}/{r}/pulls/{n}`, `GET …/pulls`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Pull {
    /// The PR number.
    pub number: u64,
    /// Its web URL.
    #[serde(default)]
    pub html_url: String,
    /// `open` or `closed`.
    #[serde(default)]
    pub state: String,
    /// Its labels.
    #[serde(default)]
    pub labels: Vec<Label>,
    /// ISO 8601 creation time.
    #[serde(default)]
    pub created_at: String,
    /// The head branch.
    #[serde(default)]
    pub head: Branch,
    /// The base branch.
    #[serde(default)]
    pub base: Branch,
}

impl Pull {
    /// True when the PR has label `name` (exact match).
    pub fn has_label(&self, name: &str) -> bool {
        self.labels.iter().any(|l| l.name == name)
    }
}

/// An object with a `sha` (created blob, tree, commit; ref object).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Sha {
    /// The sha.
    pub sha: String,
}

/// A git commit (`GET /repos/{o}/{r}/git/commits/{sha}`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct GitCommit {
    /// The commit sha.
    pub sha: String,
    /// Its tree.
    pub tree: Sha,
}

/// A repository (`GET /repos/{o}/{r}`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Repository {
    /// The default branch.
    #[serde(default)]
    pub default_branch: String,
}

/// A workflow job (`GET /repos/{o}/{r}/actions/runs/{id}/jobs` → `jobs[]`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Job {
    /// The job id (the `…/actions/jobs/{id}/logs` id).
    pub id: u64,
    /// Its run.
    #[serde(default)]
    pub run_id: u64,
    /// Its display name as the workflow shows it (`build`, `test (ubuntu-latest, 3.12)`).
    #[serde(default)]
    pub name: String,
    /// `queued`, `in_progress`, `completed`, …
    #[serde(default)]
    pub status: String,
    /// `success`, `failure`, `cancelled`, `skipped`, … (`null` until it completes).
    #[serde(default)]
    pub conclusion: Option<String>,
    /// The commit.
    #[serde(default)]
    pub head_sha: String,
    /// The runner it ran on (`null` until one picked it up).
    #[serde(default)]
    pub runner_name: Option<String>,
    /// The run attempt it belongs to, 1-based.
    #[serde(default)]
    pub run_attempt: Option<u32>,
}
