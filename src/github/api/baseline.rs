//! The last green run as a baseline: the log of the same job in the newest successful run of
//! the same workflow, on the same branch (else the default branch), from the GitHub API.
//!
//! Requests (REST reference, "Workflow runs" and "Workflow jobs"):
//! 1. `GET /repos/{o}/{r}/actions/runs/{run_id}`: this run's workflow id and branch;
//! 2. `GET /repos/{o}/{r}/actions/runs/{run_id}/jobs?filter=latest`: which job this is, when
//!    no job name is given (the job in progress on this runner, `RUNNER_NAME`; else the job
//!    whose name is `GITHUB_JOB`; else the only failed job);
//! 3. `GET /repos/{o}/{r}` for the default branch, when the run's branch has no green run;
//! 4. `GET /repos/{o}/{r}/actions/workflows/{id}/runs?branch=B&status=success` (newest
//!    first), then each candidate run's jobs, until one has a successful job of that name;
//! 5. `GET /repos/{o}/{r}/actions/jobs/{job_id}/logs`: a `302` to the plain-text log, streamed
//!    into a temporary file, at most [`BaselineRequest::max_bytes`].
//!
//! Every listing is paginated and every request goes through the client's retry and
//! rate-limit policy. Nothing here decides anything: the caller passes the file to the
//! ranking as `--baseline-log` would.

use std::path::Path;

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use crate::artifact::{BaselineInfo, BaselineSource, RunInfo};

use super::types::{Job, Repository, WorkflowRun};
use super::{ApiError, GitHub, Repo};

/// The default cap on the downloaded log: 64 MiB.
pub const DEFAULT_MAX_BASELINE_BYTES: u64 = 64 * 1024 * 1024;
/// The most successful runs examined per branch.
pub const MAX_CANDIDATE_RUNS: usize = 10;

/// What to look for.
#[derive(Debug, Clone)]
pub struct BaselineRequest<'a> {
    /// The failing run (repository, run id; `GITHUB_JOB` as `job`).
    pub run: &'a RunInfo,
    /// The job's display name when the caller knows it (`--baseline-job`).
    pub job_name: Option<&'a str>,
    /// The runner this step runs on (`RUNNER_NAME`), to tell which job of the run is this one.
    pub runner_name: Option<&'a str>,
    /// The largest log downloaded, in bytes.
    pub max_bytes: u64,
}

/// A baseline that was found: its description and the downloaded log.
#[derive(Debug)]
pub struct FoundBaseline {
    /// What was found (`source: api`, `used: true` once the caller ranked with it).
    pub info: BaselineInfo,
    /// The log, in a temporary file removed on drop.
    pub file: tempfile::NamedTempFile,
}

/// The context's `baseline` when none was found: `source: api`, `used: false`, and `detail`
/// saying why.
pub fn not_found(detail: String) -> BaselineInfo {
    BaselineInfo {
        source: Some(BaselineSource::Api),
        used: false,
        detail,
        ..BaselineInfo::default()
    }
}

/// Finds and downloads the baseline log. The error is one sentence saying why no baseline is
/// used (not inside a run, no green run, no job of that name, the log is too large, an API
/// error with its request), for [`not_found`].
///
/// `dir` is where the temporary file is made.
pub fn fetch_baseline(
    gh: &GitHub,
    req: &BaselineRequest<'_>,
    dir: &Path,
) -> Result<FoundBaseline, String> {
    let api = |e: ApiError| format!("no baseline: {e}");
    let outside = |what: &str| format!("no baseline: not inside a GitHub Actions run ({what})");
    let repo = Repo::parse(&req.run.repository)
        .map_err(|_| outside("GITHUB_REPOSITORY is not owner/repo"))?;
    let run_id: u64 = req
        .run
        .run_id
        .parse()
        .map_err(|_| outside("GITHUB_RUN_ID is not a number"))?;
    let this: WorkflowRun = gh
        .get_json(&format!("{}/actions/runs/{run_id}", repo.path()))
        .map_err(api)?;
    let job_name = match req.job_name.filter(|n| !n.trim().is_empty()) {
        Some(n) => n.to_string(),
        None => {
            let jobs = list_jobs(gh, &repo, run_id).map_err(api)?;
            this_job(&jobs, req.runner_name, &req.run.job).ok_or_else(|| {
                format!(
                    "no baseline: cannot tell which of the run's {} job(s) this is; pass --baseline-job NAME",
                    jobs.len()
                )
            })?
        }
    };
    let mut branches: Vec<String> = this.head_branch.clone().into_iter().collect();
    let mut examined = 0usize;
    let mut asked_default = false;
    let mut i = 0;
    loop {
        if i == branches.len() {
            // The run's branch had no green run with this job: try the default branch once.
            if asked_default {
                break;
            }
            asked_default = true;
            let r: Repository = gh.get_json(&repo.path()).map_err(api)?;
            if r.default_branch.is_empty() || branches.contains(&r.default_branch) {
                break;
            }
            branches.push(r.default_branch);
        }
        let branch = branches[i].clone();
        i += 1;
        let path = format!(
            "{}/actions/workflows/{}/runs?branch={}&status=success",
            repo.path(),
            this.workflow_id,
            utf8_percent_encode(&branch, NON_ALPHANUMERIC)
        );
        let runs: Vec<WorkflowRun> = gh
            .get_list(&path, Some("workflow_runs"), 1, MAX_CANDIDATE_RUNS + 1)
            .map_err(api)?;
        let green = runs
            .iter()
            .filter(|r| r.id != run_id && r.conclusion.as_deref().is_none_or(|c| c == "success"));
        for r in green.take(MAX_CANDIDATE_RUNS) {
            examined += 1;
            let jobs = list_jobs(gh, &repo, r.id).map_err(api)?;
            let Some(job) = jobs
                .iter()
                .find(|j| j.name == job_name && j.conclusion.as_deref() == Some("success"))
            else {
                continue;
            };
            return download(gh, &repo, r, job, &branch, req.max_bytes, dir);
        }
    }
    Err(format!(
        "no baseline: no successful run of this workflow with a successful job {:?} on {} ({} run(s) examined)",
        job_name,
        branches
            .iter()
            .map(|b| format!("{b:?}"))
            .collect::<Vec<_>>()
            .join(" or "),
        examined
    ))
}

/// The jobs of a run's latest attempt (every page).
fn list_jobs(gh: &GitHub, repo: &Repo, run_id: u64) -> Result<Vec<Job>, ApiError> {
    gh.get_list(
        &format!("{}/actions/runs/{run_id}/jobs?filter=latest", repo.path()),
        Some("jobs"),
        super::MAX_PAGES,
        1000,
    )
}

/// Which job of `jobs` runs this step: the one in progress on `runner` (its display name
/// carries the matrix values), else the one named `github_job` (`GITHUB_JOB` is the job's
/// key, which is its name when the workflow gives none), else the only failed job.
pub fn this_job(jobs: &[Job], runner: Option<&str>, github_job: &str) -> Option<String> {
    let on_runner: Vec<&Job> = match runner.filter(|r| !r.is_empty()) {
        Some(r) => jobs
            .iter()
            .filter(|j| j.status == "in_progress" && j.runner_name.as_deref() == Some(r))
            .collect(),
        None => Vec::new(),
    };
    if let [one] = on_runner.as_slice() {
        return Some(one.name.clone());
    }
    if let Some(j) = jobs.iter().find(|j| j.name == github_job) {
        return Some(j.name.clone());
    }
    let failed: Vec<&Job> = jobs
        .iter()
        .filter(|j| j.conclusion.as_deref() == Some("failure"))
        .collect();
    match failed.as_slice() {
        [one] => Some(one.name.clone()),
        _ => None,
    }
}

fn download(
    gh: &GitHub,
    repo: &Repo,
    run: &WorkflowRun,
    job: &Job,
    branch: &str,
    max_bytes: u64,
    dir: &Path,
) -> Result<FoundBaseline, String> {
    let file = tempfile::Builder::new()
        .prefix("ci-remedy-baseline-")
        .suffix(".log")
        .tempfile_in(dir)
        .map_err(|e| {
            format!(
                "no baseline: cannot make a temporary file in {}: {e}",
                dir.display()
            )
        })?;
    let cap = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    let bytes = gh
        .download_redirect_to_file(
            &format!("{}/actions/jobs/{}/logs", repo.path(), job.id),
            cap,
            file.as_file(),
        )
        .map_err(|e| match e {
            ApiError::TooLarge { .. } => format!(
                "no baseline: the log of job {:?} in run {} is larger than {max_bytes} bytes (raise it with --baseline-max-bytes)",
                job.name, run.id
            ),
            e => format!("no baseline: {e}"),
        })?;
    let sha = if job.head_sha.is_empty() {
        run.head_sha.clone()
    } else {
        job.head_sha.clone()
    };
    Ok(FoundBaseline {
        info: BaselineInfo {
            source: Some(BaselineSource::Api),
            used: false,
            path: None,
            run_id: Some(run.id),
            run_attempt: job.run_attempt.or(run.run_attempt),
            job: Some(job.name.clone()),
            job_id: Some(job.id),
            sha: (!sha.is_empty()).then_some(sha),
            branch: Some(branch.to_string()),
            bytes: Some(bytes),
            detail: format!(
                "the log of job {:?} in run {} (the newest successful run on {:?})",
                job.name, run.id, branch
            ),
        },
        file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, status: &str, conclusion: Option<&str>, runner: Option<&str>) -> Job {
        Job {
            id: 1,
            run_id: 1,
            name: name.into(),
            status: status.into(),
            conclusion: conclusion.map(String::from),
            head_sha: String::new(),
            runner_name: runner.map(String::from),
            run_attempt: Some(1),
        }
    }

    #[test]
    fn which_job_is_this_one() {
        let jobs = vec![
            job("lint", "completed", Some("success"), Some("r1")),
            job("test (ubuntu, 3.12)", "in_progress", None, Some("r2")),
            job(
                "test (ubuntu, 3.11)",
                "completed",
                Some("failure"),
                Some("r3"),
            ),
        ];
        // The runner tells, matrix values included.
        assert_eq!(
            this_job(&jobs, Some("r2"), "test").as_deref(),
            Some("test (ubuntu, 3.12)")
        );
        // No runner: GITHUB_JOB as the name, else the only failed job.
        assert_eq!(this_job(&jobs, None, "lint").as_deref(), Some("lint"));
        assert_eq!(
            this_job(&jobs, None, "test").as_deref(),
            Some("test (ubuntu, 3.11)")
        );
        // A completed job on the runner does not count; two failed jobs are ambiguous.
        let mut two = jobs.clone();
        two.push(job("build", "completed", Some("failure"), None));
        assert_eq!(this_job(&two, Some("r1"), "x"), None);
    }
}
