//! Test reports to failed tests.
//!
//! - [`read_junit`]: JUnit XML as written by Maven Surefire/Failsafe, Gradle, pytest
//!   `--junitxml`, jest-junit and Playwright's `junit` reporter (see [`junit`]).
//! - [`read_playwright_json`]: Playwright's `json` reporter (see [`playwright`]).
//!
//! Reports are untrusted input: files over [`MAX_REPORT_BYTES`] are refused, malformed XML/JSON
//! is an error naming the file and the 1-based line and column, and nothing panics. Messages are
//! returned with ANSI escapes stripped and capped at [`MAX_MESSAGE_BYTES`], but NOT redacted:
//! names, ids, files and messages are redacted with the rest of the context by
//! [`crate::prepare::redact_context`] (or by whoever else writes them anywhere), so the
//! redaction counts land in the artifact.

pub mod attempts;
pub mod junit;
pub mod playwright;

use std::path::Path;

pub use junit::{read_junit, read_junit_outcomes};
pub use playwright::{read_playwright_json, read_playwright_outcomes};

pub use crate::artifact::TestStatus;

use crate::artifact::FailedTest;

/// A test case with its outcome: the case filled in as for a failed test (no `message` when it
/// passed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOutcome {
    /// The case.
    pub test: FailedTest,
    /// What became of it.
    pub outcome: TestStatus,
}

/// Largest report accepted, in bytes (64 MiB).
pub const MAX_REPORT_BYTES: u64 = 64 * 1024 * 1024;

/// Largest failure message kept, in bytes (4 KiB; cut at a character boundary, before a token
/// the cut would split).
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// Errors reading a report; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// An I/O error.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_REPORT_BYTES`].
    #[error("{path} is too large ({bytes} bytes; the limit is {limit} bytes)")]
    TooLarge {
        /// The path.
        path: String,
        /// Its size in bytes (at least `limit + 1` when it grew while read).
        bytes: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// Malformed XML.
    #[error("malformed XML in {path} at line {line}, column {column}: {message}")]
    Xml {
        /// The path.
        path: String,
        /// 1-based line of the error.
        line: u64,
        /// 1-based column (in bytes) of the error.
        column: u64,
        /// What is wrong.
        message: String,
    },
    /// Well-formed XML that is not a JUnit report.
    #[error("{path} is not a JUnit XML report (its root element is <{root}>, expected <testsuites> or <testsuite>)")]
    NotJunit {
        /// The path.
        path: String,
        /// The root element's name (lossy, at most 64 characters).
        root: String,
    },
    /// Malformed JSON, or JSON that is not a Playwright report.
    #[error("invalid Playwright JSON report {path} at line {line}, column {column}: {message}")]
    Json {
        /// The path.
        path: String,
        /// 1-based line of the error (0 when unknown).
        line: u64,
        /// 1-based column of the error (0 when unknown).
        column: u64,
        /// What is wrong.
        message: String,
    },
}

/// Reads a whole report, refusing more than [`MAX_REPORT_BYTES`].
fn read_capped(path: &Path) -> Result<Vec<u8>, ReportError> {
    let io_err = |source| ReportError::Io {
        path: path.display().to_string(),
        source,
    };
    let f = crate::artifact::open_input(path).map_err(io_err)?;
    let len = f.metadata().map_err(io_err)?.len();
    let too_large = |bytes| ReportError::TooLarge {
        path: path.display().to_string(),
        bytes,
        limit: MAX_REPORT_BYTES,
    };
    if len > MAX_REPORT_BYTES {
        return Err(too_large(len));
    }
    crate::artifact::read_at_most(f, MAX_REPORT_BYTES)
        .map_err(io_err)?
        .ok_or_else(|| too_large(len.max(MAX_REPORT_BYTES + 1)))
}

/// 1-based line and column (in bytes) of byte `offset` in `bytes`.
fn line_col(bytes: &[u8], offset: usize) -> (u64, u64) {
    let offset = offset.min(bytes.len());
    let before = &bytes[..offset];
    let line = memchr::memchr_iter(b'\n', before).count() as u64 + 1;
    let col = match memchr::memrchr(b'\n', before) {
        Some(nl) => offset - nl,
        None => offset + 1,
    } as u64;
    (line, col)
}

/// Strips ANSI escapes, trims, and caps a message at [`MAX_MESSAGE_BYTES`].
fn clean_message(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len().min(MAX_MESSAGE_BYTES * 2));
    crate::logs::format::strip_ansi_into(s.as_bytes(), &mut out);
    let s = String::from_utf8_lossy(&out);
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    // Redaction comes later and needs whole tokens: the cut never keeps part of one.
    let s = crate::text::token_safe_str(s, MAX_MESSAGE_BYTES);
    if s.is_empty() {
        return None;
    }
    Some(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_is_one_based() {
        let b = b"ab\ncd\nef";
        assert_eq!(line_col(b, 0), (1, 1));
        assert_eq!(line_col(b, 4), (2, 2));
        assert_eq!(line_col(b, 100), (3, 3));
    }

    #[test]
    fn clean_message_strips_ansi_and_caps() {
        assert_eq!(
            clean_message("\u{1b}[31mError\u{1b}[39m: boom\n").as_deref(),
            Some("Error: boom")
        );
        assert_eq!(clean_message("  \n "), None);
        let long = "é".repeat(5000);
        let m = clean_message(&long).unwrap_or_default();
        assert!(m.len() <= MAX_MESSAGE_BYTES && m.len() >= MAX_MESSAGE_BYTES - 1);
        // A cut inside a token drops the whole token: redaction needs it whole.
        let token = format!("{}ghp_{}", "a ".repeat(2040), "x".repeat(36));
        assert_eq!(clean_message(&token), Some("a ".repeat(2040)));
        assert_eq!(clean_message(&"x".repeat(5000)), None);
    }
}
