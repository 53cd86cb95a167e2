//! The `ship` section of the policy: what `ci-logs-ship` sends to the Cloud-Agent.
//!
//! ```yaml
//! ship:
//!   max-log-bytes: 1048576            # the tail of each log that is sent, in bytes
//!   repository: true                  # send the file listing and the files the fix recipes read
//!   repository-max-paths: 20000       # paths listed (1..=20000)
//!   repository-max-files: 32          # files sent with their contents (0..=32)
//!   repository-max-file-bytes: 262144 # largest file sent, bytes (1 KiB..=256 KiB)
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::KeyError;

/// At most this many paths in a payload's `repository.paths` (the policy's
/// `ship.repository-max-paths` default and ceiling; the server refuses more).
pub const MAX_REPOSITORY_PATHS: usize = 20_000;
/// At most this many files with contents in a payload's `repository.files`.
pub const MAX_REPOSITORY_FILES: usize = 32;
/// The largest `repository.files[].content`, in bytes: 256 KiB.
pub const MAX_REPOSITORY_FILE_BYTES: usize = 256 * 1024;

/// The default tail of each log that is sent: 1 MiB.
pub const DEFAULT_MAX_LOG_BYTES: u64 = 1024 * 1024;
/// The largest `max-log-bytes` accepted: 16 MiB.
pub const MAX_MAX_LOG_BYTES: u64 = 16 * 1024 * 1024;

/// Shipping settings as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ShipRaw {
    /// The tail of each log that is sent, in bytes (1 KiB ..= 16 MiB; default 1 MiB). A longer
    /// log is cut at a line start inside that tail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_log_bytes: Option<u64>,
    /// Send the repository section (default true): the checkout's file listing and the few
    /// files the built-in fix recipes read (Docker files, the sources holding a failing import,
    /// the files the evidence names), redacted. The Developer-Agent needs it to answer with
    /// fix instructions. `false`: no path or source file leaves CI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<bool>,
    /// Most paths listed (1 ..= 20000; default 20000); a larger checkout is listed up to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_max_paths: Option<usize>,
    /// Most files sent with their contents (0 ..= 32; default 32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_max_files: Option<usize>,
    /// The largest file sent with its contents, in bytes (1 KiB ..= 256 KiB; default 256 KiB);
    /// larger files are only listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_max_file_bytes: Option<usize>,
}

/// Shipping settings, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipPolicy {
    /// The tail of each log that is sent, in bytes.
    pub max_log_bytes: u64,
    /// Whether the repository section is sent.
    pub repository: bool,
    /// Most paths listed.
    pub repository_max_paths: usize,
    /// Most files sent with contents.
    pub repository_max_files: usize,
    /// The largest file sent with its contents, bytes.
    pub repository_max_file_bytes: usize,
}

impl Default for ShipPolicy {
    fn default() -> Self {
        ShipPolicy {
            max_log_bytes: DEFAULT_MAX_LOG_BYTES,
            repository: true,
            repository_max_paths: MAX_REPOSITORY_PATHS,
            repository_max_files: MAX_REPOSITORY_FILES,
            repository_max_file_bytes: MAX_REPOSITORY_FILE_BYTES,
        }
    }
}

impl ShipRaw {
    /// Validates this section. Errors name the key (`ship.max-log-bytes`,
    /// `ship.repository-max-paths`, …) and the accepted range.
    pub fn validate(self) -> Result<ShipPolicy, KeyError> {
        let max_log_bytes = self.max_log_bytes.unwrap_or(DEFAULT_MAX_LOG_BYTES);
        if !(1024..=MAX_MAX_LOG_BYTES).contains(&max_log_bytes) {
            return Err(KeyError::new(
                "ship.max-log-bytes",
                format!("{max_log_bytes} is outside 1024..={MAX_MAX_LOG_BYTES} bytes"),
            ));
        }
        let range = |key: &str, v: Option<usize>, min: usize, max: usize| {
            let v = v.unwrap_or(max);
            if (min..=max).contains(&v) {
                Ok(v)
            } else {
                Err(KeyError::new(
                    format!("ship.{key}"),
                    format!("{v} is outside {min}..={max}"),
                ))
            }
        };
        Ok(ShipPolicy {
            max_log_bytes,
            repository: self.repository.unwrap_or(true),
            repository_max_paths: range(
                "repository-max-paths",
                self.repository_max_paths,
                1,
                MAX_REPOSITORY_PATHS,
            )?,
            repository_max_files: range(
                "repository-max-files",
                self.repository_max_files,
                0,
                MAX_REPOSITORY_FILES,
            )?,
            repository_max_file_bytes: range(
                "repository-max-file-bytes",
                self.repository_max_file_bytes,
                1024,
                MAX_REPOSITORY_FILE_BYTES,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_is_bounded() {
        assert_eq!(ShipRaw::default().validate(), Ok(ShipPolicy::default()));
        let err = ShipRaw {
            max_log_bytes: Some(10),
            ..ShipRaw::default()
        }
        .validate()
        .expect_err("too small");
        assert_eq!(err.key, "ship.max-log-bytes");
    }

    #[test]
    fn repository_switch_and_caps() {
        let p = ShipRaw::default().validate().expect("defaults");
        assert!(p.repository);
        assert_eq!(
            (p.repository_max_paths, p.repository_max_files),
            (20_000, 32)
        );
        let p = ShipRaw {
            repository: Some(false),
            repository_max_files: Some(0),
            ..ShipRaw::default()
        }
        .validate()
        .expect("valid");
        assert!(!p.repository);
        assert_eq!(p.repository_max_files, 0);
        for (raw, key) in [
            (
                ShipRaw {
                    repository_max_paths: Some(20_001),
                    ..ShipRaw::default()
                },
                "ship.repository-max-paths",
            ),
            (
                ShipRaw {
                    repository_max_files: Some(33),
                    ..ShipRaw::default()
                },
                "ship.repository-max-files",
            ),
            (
                ShipRaw {
                    repository_max_file_bytes: Some(100),
                    ..ShipRaw::default()
                },
                "ship.repository-max-file-bytes",
            ),
        ] {
            assert_eq!(raw.validate().expect_err("out of range").key, key);
        }
    }
}
