//! The GitHub side of the `workflow_run` self-heal flow: the failed run, its log zip, and the
//! request that reruns its failed jobs.
//!
//! Requests (REST reference, "Workflow runs"):
//! - `GET /repos/{o}/{r}/actions/runs/{run_id}`: the run's attempt, event, head sha, head
//!   repository (a fork when it is not the base repository) and conclusion ([`target_run`]);
//! - `GET /repos/{o}/{r}/actions/runs/{run_id}/logs`: a `302` to the zip of every job's log
//!   (one `<job>/<n>_<step>.txt` entry per step), streamed into a file, size-capped
//!   ([`download_run_logs`]);
//! - `POST /repos/{o}/{r}/actions/runs/{run_id}/rerun-failed-jobs`: `201 Created` when GitHub
//!   starts a new attempt of the failed jobs (and the jobs that need them); needs `actions:
//!   write` ([`rerun_failed_jobs`]).
//!
//! The POST is not idempotent (two would start two attempts), so only a rate-limit answer is
//! retried (GitHub did not process it), within the client's budget; a 403 without a rate limit
//! is [`ApiError::Forbidden`] at once. Nothing here decides anything: `crate::heal::github`
//! does, and the binaries call both.

use serde::Deserialize;

use crate::artifact::{GitHubRerun, TargetRun};

use super::types::RepoRef;
use super::{ApiError, GitHub, Repo, Request};

/// The default cap on a run's log zip: 64 MiB.
pub const DEFAULT_MAX_RUN_LOG_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Deserialize)]
struct RunWire {
    id: u64,
    #[serde(default)]
    run_attempt: Option<u32>,
    #[serde(default)]
    event: String,
    #[serde(default)]
    head_sha: String,
    #[serde(default)]
    conclusion: Option<String>,
    #[serde(default)]
    repository: Option<RepoRef>,
    #[serde(default)]
    head_repository: Option<RepoRef>,
}

/// `/repos/o/r/actions/runs/{run_id}/rerun-failed-jobs`.
pub fn rerun_path(repo: &Repo, run_id: u64) -> String {
    format!("{}/actions/runs/{run_id}/rerun-failed-jobs", repo.path())
}

/// The failed run `run_id` of `repo` as [`TargetRun`]. A head repository other than `repo`
/// (or a deleted one, `null`) is a fork. Errors: the API's ([`ApiError`]), or a decode error
/// when the answer is for another run.
pub fn target_run(gh: &GitHub, repo: &Repo, run_id: u64) -> Result<TargetRun, ApiError> {
    let path = format!("{}/actions/runs/{run_id}", repo.path());
    let w: RunWire = gh.get_json(&path)?;
    if w.id != run_id {
        return Err(ApiError::Decode {
            request: format!("GET {path}"),
            message: format!("the answer is for run {}, not {run_id}", w.id),
        });
    }
    let base = w
        .repository
        .map(|r| r.full_name)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| repo.to_string());
    let head = w.head_repository.map(|r| r.full_name).unwrap_or_default();
    let fork = !head.eq_ignore_ascii_case(&base);
    Ok(TargetRun {
        repository: repo.to_string(),
        run_id,
        run_attempt: w.run_attempt.unwrap_or(1).max(1),
        event: crate::text::one_line(&w.event.chars().take(64).collect::<String>()),
        head_sha: w.head_sha.chars().take(64).collect(),
        head_repository: crate::text::one_line(&head.chars().take(200).collect::<String>()),
        fork,
        conclusion: w
            .conclusion
            .map(|c| crate::text::one_line(&c.chars().take(32).collect::<String>())),
    })
}

/// Streams the log zip of run `run_id` into `file` (truncated first), at most `max_bytes`
/// bytes ([`ApiError::TooLarge`] past it). Returns the bytes written.
pub fn download_run_logs(
    gh: &GitHub,
    repo: &Repo,
    run_id: u64,
    max_bytes: u64,
    file: &std::fs::File,
) -> Result<u64, ApiError> {
    let max = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    gh.download_redirect_to_file(
        &format!("{}/actions/runs/{run_id}/logs", repo.path()),
        max,
        file,
    )
}

/// Sends `POST …/rerun-failed-jobs` for `run_id` and fills `record`'s `status`, `message`
/// and `requested` from the answer (or the error). Returns the error when GitHub did not
/// accept it, so the caller can say why.
pub fn rerun_failed_jobs(
    gh: &GitHub,
    repo: &Repo,
    run_id: u64,
    record: &mut GitHubRerun,
) -> Result<(), ApiError> {
    let body = serde_json::json!({});
    let req = Request::post(rerun_path(repo, run_id), &body, false);
    match gh.send(&req) {
        Ok(a) => {
            record.status = Some(a.status.as_u16());
            record.requested = a.status.is_success();
            record.message = if record.requested {
                format!("GitHub accepted the request ({})", a.status.as_u16())
            } else {
                format!("unexpected answer {}", a.status.as_u16())
            };
            Ok(())
        }
        Err(e) => {
            record.status = e.status();
            record.requested = false;
            record.message =
                crate::text::one_line(&e.to_string().chars().take(300).collect::<String>());
            Err(e)
        }
    }
}
