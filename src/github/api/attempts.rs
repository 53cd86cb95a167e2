//! The test reports of the attempts of a run, from its artifacts (`self-heal-prepare
//! --attempt-reports-from-api NAME`): each attempt uploads its reports as an artifact named
//! `<NAME>-<run_attempt>` (`name: test-reports-${{ github.run_attempt }}`: artifact names are
//! unique within a run, and a rerun keeps the artifacts of the earlier attempts). One request
//! lists them (`GET /repos/{o}/{r}/actions/runs/{id}/artifacts`), one download per attempt
//! fetches its zip (at most [`super::artifacts::MAX_ARTIFACT_ZIP_BYTES`], read in memory with the
//! entry checks and caps of [`read_zip`]), and the `*.xml` / `*.json` entries are written under
//! `<dir>/<run_id>-<attempt>/` with names of our own (`0001.xml`, never the entry's name),
//! beside an `attempt.json` giving the run, the attempt and the artifact's head sha: the layout
//! of `--attempt-reports`.

use std::path::Path;

use super::artifacts::{download, list_run_artifacts, read_zip, EntryUse};
use super::{ApiError, GitHub, Repo};
use crate::reports::attempts::MAX_ATTEMPTS;

/// What [`download_attempt_reports`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownloadedAttempts {
    /// The attempts written under the directory, ascending.
    pub attempts: Vec<u32>,
    /// Artifacts that could not be used, one sentence each (expired, too large, corrupt).
    pub problems: Vec<String>,
}

impl DownloadedAttempts {
    /// One sentence for the context's `tests.attempts_detail`.
    pub fn detail(&self, name: &str, run_id: u64) -> String {
        let mut d = format!(
            "the `{name}-<attempt>` artifacts of run {run_id} (GitHub API): {}",
            if self.attempts.is_empty() {
                "none found".to_string()
            } else {
                format!(
                    "attempt(s) {}",
                    self.attempts
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
        if !self.problems.is_empty() {
            d.push_str(&format!("; not used: {}", self.problems.join("; ")));
        }
        d
    }
}

/// `NAME-<n>` → `n` (1-based).
pub fn attempt_of(artifact: &str, name: &str) -> Option<u32> {
    let n = artifact.strip_prefix(name)?.strip_prefix('-')?;
    if n.is_empty() || n.len() > 9 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok().filter(|&n| n > 0)
}

/// Only the report entries (`*.xml`, `*.json`; not an `attempt.json`: the API says which
/// attempt it is) are inflated.
fn report_entry(name: &str) -> EntryUse {
    let base = name.rsplit('/').next().unwrap_or(name);
    let lower = base.to_ascii_lowercase();
    if lower != "attempt.json" && (lower.ends_with(".xml") || lower.ends_with(".json")) {
        EntryUse::Read
    } else {
        EntryUse::Skip
    }
}

/// Downloads the `<name>-<attempt>` artifacts of run `run_id` into `dir` (one subdirectory per
/// attempt, see the module documentation), at most [`MAX_ATTEMPTS`].
///
/// Errors: listing the artifacts failed (no token, no permission, no such run), or `dir`
/// cannot be written. An artifact that cannot be downloaded or read is a problem, not an
/// error: the other attempts are still used.
pub fn download_attempt_reports(
    gh: &GitHub,
    repo: &Repo,
    run_id: u64,
    name: &str,
    dir: &Path,
) -> Result<DownloadedAttempts, String> {
    let list = list_run_artifacts(gh, repo, run_id)
        .map_err(|e: ApiError| format!("cannot list the artifacts of run {run_id}: {e}"))?;
    let mut wanted: Vec<(u32, &super::types::Artifact)> = list
        .iter()
        .filter_map(|a| attempt_of(&a.name, name).map(|n| (n, a)))
        .collect();
    wanted.sort_by_key(|(n, a)| (*n, a.id));
    wanted.dedup_by_key(|(n, _)| *n);
    let mut out = DownloadedAttempts::default();
    if wanted.len() > MAX_ATTEMPTS {
        out.problems.push(format!(
            "{} attempt artifacts; only the first {MAX_ATTEMPTS} were read",
            wanted.len()
        ));
        wanted.truncate(MAX_ATTEMPTS);
    }
    for (n, a) in wanted {
        let shown = format!("artifact {}", crate::text::one_line(&a.name));
        let zip = match download(gh, repo, a) {
            Ok(z) => z,
            Err(e) => {
                out.problems.push(format!("{shown}: {e}"));
                continue;
            }
        };
        let entries = match read_zip(&zip, report_entry) {
            Ok(e) => e,
            Err(e) => {
                out.problems.push(format!("{shown}: {e}"));
                continue;
            }
        };
        let sub = dir.join(format!("{run_id}-{n}"));
        std::fs::create_dir_all(&sub)
            .map_err(|e| format!("cannot create {}: {e}", sub.display()))?;
        for (i, (entry, bytes)) in entries.iter().enumerate() {
            let ext = if entry.to_ascii_lowercase().ends_with(".xml") {
                "xml"
            } else {
                "json"
            };
            let p = sub.join(format!("{:04}.{ext}", i + 1));
            std::fs::write(&p, bytes).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        }
        let sha = a
            .workflow_run
            .as_ref()
            .and_then(|w| w.head_sha.clone())
            .filter(|s| super::check_sha(s).is_ok());
        let meta = serde_json::json!({
            "run_id": run_id.to_string(),
            "run_attempt": n,
            "sha": sha,
            "artifact": a.name,
        });
        let p = sub.join("attempt.json");
        std::fs::write(&p, meta.to_string())
            .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        out.attempts.push(n);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_suffixes() {
        assert_eq!(attempt_of("test-reports-2", "test-reports"), Some(2));
        assert_eq!(attempt_of("test-reports", "test-reports"), None);
        assert_eq!(attempt_of("test-reports-x", "test-reports"), None);
        assert_eq!(attempt_of("test-reports-0", "test-reports"), None);
        assert_eq!(attempt_of("other-1", "test-reports"), None);
        assert_eq!(report_entry("a/b/results.XML"), EntryUse::Read);
        assert_eq!(report_entry("attempt.json"), EntryUse::Skip);
        assert_eq!(report_entry("trace.zip"), EntryUse::Skip);
    }
}
