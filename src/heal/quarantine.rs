//! The quarantine kept in the repository: `.github/ci-remedy-quarantine.yml`, reviewed like
//! code. When every failed test of a run is quarantined and not expired, self-heal does
//! nothing (decision `quarantined`): the failures are shown as information, not as the cause.
//!
//! Format (dates are `YYYY-MM-DD`, UTC; an entry expires at the end of its `expires` day):
//!
//! ```yaml
//! quarantine:
//!   - test: "checkout flow > applies a coupon"   # the failed test's id, else its name
//!     reason: fails one run in ten on the payment sandbox
//!     owner: "@alice"
//!     added: 2026-11-02
//!     expires: 2026-12-31
//! ```

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::artifact::{Context, Decision, Gate};

/// Where the quarantine lives, relative to the repository root.
pub const DEFAULT_QUARANTINE_PATH: &str = ".github/ci-remedy-quarantine.yml";
/// The largest quarantine file read (bytes).
pub const MAX_QUARANTINE_BYTES: u64 = 1024 * 1024;

/// Errors reading the quarantine file.
#[derive(Debug, thiserror::Error)]
pub enum QuarantineError {
    /// It could not be read (or is larger than [`MAX_QUARANTINE_BYTES`]).
    #[error("cannot read the quarantine file ({path}): {why}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// It is not the documented YAML (the message has the line).
    #[error("invalid quarantine file ({path}): {why}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

/// The file as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct QuarantineFile {
    /// The entries.
    #[serde(default)]
    pub quarantine: Vec<Entry>,
}

/// One quarantined test.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The test's id (JUnit `classname.name`, Playwright title path), else its name, exactly as
    /// the context's `tests.failed[]` has it.
    pub test: String,
    /// Why it is quarantined.
    pub reason: String,
    /// Who looks after it.
    pub owner: String,
    /// When it was added (UTC date).
    pub added: NaiveDate,
    /// The last day it counts (UTC date).
    pub expires: NaiveDate,
}

impl Entry {
    /// Whether it still counts on `today` (`today <= expires`).
    pub fn active(&self, today: NaiveDate) -> bool {
        today <= self.expires
    }
}

impl QuarantineFile {
    /// Parses the YAML; `path` names it in errors. An entry whose `expires` is before its
    /// `added`, or whose `test` is empty, is invalid.
    pub fn parse(text: &str, path: &Path) -> Result<QuarantineFile, QuarantineError> {
        let f: QuarantineFile =
            serde_yaml_ng::from_str(text).map_err(|e| QuarantineError::Invalid {
                path: path.to_path_buf(),
                why: e.to_string(),
            })?;
        for (i, e) in f.quarantine.iter().enumerate() {
            if e.test.trim().is_empty() || e.expires < e.added {
                return Err(QuarantineError::Invalid {
                    path: path.to_path_buf(),
                    why: format!(
                        "entry {} ({:?}): `test` must not be empty and `expires` may not be before `added`",
                        i + 1,
                        crate::text::one_line(&e.test)
                    ),
                });
            }
        }
        Ok(f)
    }

    /// The file's YAML (deterministic: entries in their order, keys in field order).
    pub fn to_yaml(&self) -> String {
        serde_yaml_ng::to_string(self).unwrap_or_default()
    }

    /// Removes the entries that expired before `today`; returns them.
    pub fn remove_expired(&mut self, today: NaiveDate) -> Vec<Entry> {
        let (keep, gone): (Vec<Entry>, Vec<Entry>) =
            self.quarantine.drain(..).partition(|e| e.active(today));
        self.quarantine = keep;
        gone
    }

    /// Reads `path` (at most [`MAX_QUARANTINE_BYTES`]).
    pub fn load(path: &Path) -> Result<QuarantineFile, QuarantineError> {
        let bytes = crate::artifact::read_capped(path, MAX_QUARANTINE_BYTES).map_err(|e| {
            QuarantineError::Read {
                path: path.to_path_buf(),
                why: e.to_string(),
            }
        })?;
        let text = String::from_utf8(bytes).map_err(|_| QuarantineError::Invalid {
            path: path.to_path_buf(),
            why: "not UTF-8".into(),
        })?;
        QuarantineFile::parse(&text, path)
    }
}

/// The quarantine gate: added to `d` when `file` has entries and the context failed tests.
/// It fails (and sets `d.quarantined`) when EVERY failed test (its id, else its name) has an
/// active entry on `today`; an expired entry does not count and is listed in the detail as
/// expired. Recomputes `allowed`.
pub fn apply(d: &mut Decision, ctx: &Context, file: &QuarantineFile, today: NaiveDate) {
    if file.quarantine.is_empty() || ctx.tests.failed.is_empty() {
        return;
    }
    let mut active = Vec::new();
    let mut expired = Vec::new();
    let mut other = 0usize;
    for t in &ctx.tests.failed {
        let id = t.id.as_deref().unwrap_or(&t.name);
        let entries: Vec<&Entry> = file.quarantine.iter().filter(|e| e.test == id).collect();
        if let Some(e) = entries.iter().find(|e| e.active(today)) {
            active.push(format!(
                "{} (owner {}, until {}: {})",
                crate::text::one_line(id),
                crate::text::one_line(&e.owner),
                e.expires,
                crate::text::one_line(&e.reason)
            ));
        } else if let Some(e) = entries.first() {
            expired.push(format!(
                "{} (expired {})",
                crate::text::one_line(id),
                e.expires
            ));
            other += 1;
        } else {
            other += 1;
        }
    }
    let all = other == 0 && !ctx.tests.failed.is_empty();
    let mut detail = if all {
        format!(
            "all {} failed test(s) are quarantined, so nothing is rerun: {}",
            active.len(),
            active.join("; ")
        )
    } else {
        format!(
            "{} of {} failed test(s) quarantined{}",
            active.len(),
            ctx.tests.failed.len(),
            if active.is_empty() {
                String::new()
            } else {
                format!(": {}", active.join("; "))
            }
        )
    };
    if !expired.is_empty() {
        detail.push_str(&format!(
            "; expired entries no longer count: {}",
            expired.join("; ")
        ));
    }
    d.quarantined = all;
    d.gates.push(Gate::new("quarantine", !all, detail));
    d.allowed = d.gates.iter().all(|g| g.passed);
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "quarantine:\n  - test: a.b\n    reason: flaky\n    owner: \"@o\"\n    added: 2026-11-01\n    expires: 2026-12-31\n";

    #[test]
    fn round_trip_and_expiry_day() {
        let f = QuarantineFile::parse(YAML, Path::new("q.yml")).expect("valid");
        let again = serde_yaml_ng::to_string(&f).expect("yaml");
        assert_eq!(
            QuarantineFile::parse(&again, Path::new("q.yml")).expect("valid"),
            f
        );
        let e = &f.quarantine[0];
        let day = |s: &str| s.parse::<NaiveDate>().expect("date");
        assert!(e.active(day("2026-12-31")));
        assert!(!e.active(day("2027-01-01")));
    }

    #[test]
    fn bad_entries_are_refused_with_the_file_named() {
        for bad in [
            "quarantine:\n  - test: a\n    reason: r\n    owner: o\n    added: 2026-12-01\n    expires: 2026-11-01\n",
            "quarantine:\n  - test: a\n    reason: r\n    owner: o\n    added: 2026-12-01\n    expires: 31/12/2026\n",
            "quarantine:\n  - test: a\n    owner: o\n    added: 2026-12-01\n    expires: 2026-12-02\n",
            "quarantine: [\x00]",
        ] {
            let e = QuarantineFile::parse(bad, Path::new("q.yml")).expect_err(bad);
            assert!(e.to_string().contains("q.yml"), "{e}");
        }
    }
}
