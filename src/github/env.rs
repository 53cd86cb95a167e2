//! Run metadata from the Actions environment.
//!
//! Variables as documented in GitHub's "Store information in variables" reference
//! (default environment variables).

use crate::artifact::RunInfo;

/// The value used for run fields outside GitHub Actions.
pub const LOCAL: &str = "local";

impl RunInfo {
    /// Reads `GITHUB_REPOSITORY`, `GITHUB_RUN_ID`, `GITHUB_RUN_ATTEMPT`, `GITHUB_EVENT_NAME`,
    /// `GITHUB_SHA`, `GITHUB_REF`, `GITHUB_WORKFLOW` and `GITHUB_JOB`; each missing or empty
    /// variable becomes `local` (the attempt becomes 1).
    pub fn from_env() -> RunInfo {
        RunInfo::from_lookup(|k| std::env::var(k).ok())
    }

    /// As [`RunInfo::from_env`], reading variables through `get` (for tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> RunInfo {
        let var = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| LOCAL.to_string())
        };
        RunInfo {
            repository: var("GITHUB_REPOSITORY"),
            run_id: var("GITHUB_RUN_ID"),
            run_attempt: get("GITHUB_RUN_ATTEMPT")
                .and_then(|v| v.trim().parse().ok())
                .filter(|n| *n >= 1)
                .unwrap_or(1),
            event_name: var("GITHUB_EVENT_NAME"),
            sha: var("GITHUB_SHA"),
            git_ref: var("GITHUB_REF"),
            workflow: var("GITHUB_WORKFLOW"),
            job: var("GITHUB_JOB"),
        }
    }

    /// The run id made safe for a file name: ASCII alphanumerics, `-` and `_` only (others
    /// become `_`), at most 64 bytes; `local` when nothing is left.
    pub fn run_id_for_file_name(&self) -> String {
        let s: String = self
            .run_id
            .chars()
            .take(64)
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if s.is_empty() {
            LOCAL.to_string()
        } else {
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_variables_become_local() {
        let run = RunInfo::from_lookup(|k| (k == "GITHUB_RUN_ID").then(|| "42".to_string()));
        assert_eq!(run.run_id, "42");
        assert_eq!(run.repository, "local");
        assert_eq!(run.run_attempt, 1);
    }

    #[test]
    fn run_id_file_name_is_sanitised() {
        let mut run = RunInfo::from_lookup(|_| None);
        run.run_id = "../../etc/passwd".into();
        assert_eq!(run.run_id_for_file_name(), "______etc_passwd");
    }
}
