//! Earlier self-heal attempts across workflow runs, from the GitHub API: the self-heal report
//! artifacts of the other runs of the same workflow for the same commit. This is what keeps
//! `max-attempts` across `workflow_dispatch` runs, which each start at run attempt 1.

use crate::artifact::RunInfo;
use crate::heal::PriorAttempts;

use super::artifacts::{download, list_run_artifacts, read_zip, EntryUse};
use super::{artifacts, check_sha, ApiError, GitHub, Repo};

/// The most earlier runs examined.
pub const MAX_RUNS: usize = 50;
/// The most artifacts downloaded in all.
pub const MAX_DOWNLOADS: usize = 100;

/// Counts the earlier self-heal attempts of `run` (its repository, workflow and sha) from the
/// API: lists the runs of `run`'s workflow for `run.sha` (`GET
/// /repos/{o}/{r}/actions/runs/{id}` for the workflow id, then `GET
/// …/actions/workflows/{id}/runs?head_sha=…`), and in every other run, downloads the
/// artifacts whose name starts with `artifact_prefix` and counts their `report-*.json`
/// entries with the rules of [`crate::heal::scan_history`] (same repository, workflow and
/// sha; not this run; not skipped). Unreadable zips and entries are listed in `ignored`.
///
/// Errors when the run cannot be listed (no such run, no permission, rate limit).
pub fn prior_attempts(
    gh: &GitHub,
    run: &RunInfo,
    artifact_prefix: &str,
) -> Result<PriorAttempts, ApiError> {
    let repo = Repo::parse(&run.repository)?;
    let run_id: u64 = run.run_id.parse().map_err(|_| ApiError::InvalidArgument {
        what: "run id",
        value: run.run_id.chars().take(40).collect(),
        why: "GITHUB_RUN_ID must be a number".into(),
    })?;
    check_sha(&run.sha)?;
    let this = artifacts::get_run(gh, &repo, run_id)?;
    let runs = artifacts::runs_for_sha(gh, &repo, this.workflow_id, &run.sha, MAX_RUNS + 1)?;
    let mut prior = PriorAttempts::default();
    let mut examined = 0usize;
    let mut downloads = 0usize;
    'runs: for r in runs.iter().filter(|r| r.id != run_id).take(MAX_RUNS) {
        examined += 1;
        let list = list_run_artifacts(gh, &repo, r.id)?;
        for a in list.iter().filter(|a| a.name.starts_with(artifact_prefix)) {
            let shown = format!("run {} artifact {}", r.id, a.name);
            if a.expired {
                prior.ignored.push(format!("{shown}: expired"));
                continue;
            }
            downloads += 1;
            if downloads > MAX_DOWNLOADS {
                prior.ignored.push(format!(
                    "more than {MAX_DOWNLOADS} artifacts; the rest were not read"
                ));
                break 'runs;
            }
            let zip = match download(gh, &repo, a) {
                Ok(z) => z,
                Err(e) => {
                    prior.ignored.push(format!("{shown}: {e}"));
                    continue;
                }
            };
            match read_zip(&zip, report_entry) {
                Ok(entries) => {
                    for (name, bytes) in entries {
                        prior.add_report(&format!("{shown}/{name}"), &bytes, run);
                    }
                }
                Err(e) => prior.ignored.push(format!("{shown}: {e}")),
            }
        }
    }
    prior.source = Some(format!(
        "in the `{artifact_prefix}*` artifacts of {examined} earlier run(s) of this workflow (GitHub API)"
    ));
    Ok(prior)
}

/// Only the `report-*.json` entries (at any depth) of a self-heal artifact are inflated.
fn report_entry(name: &str) -> EntryUse {
    let base = name.rsplit('/').next().unwrap_or(name);
    if base.starts_with("report-") && base.ends_with(".json") {
        EntryUse::Read
    } else {
        EntryUse::Skip
    }
}
