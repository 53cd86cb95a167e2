//! Test reports to failed tests. (Skeleton: to be completed.)

use std::path::Path;

use crate::artifact::FailedTest;

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
}

/// Reads a JUnit XML report.
pub fn read_junit(path: &Path) -> Result<Vec<FailedTest>, ReportError> {
    let _ = path;
    Ok(Vec::new())
}

/// Reads a Playwright JSON report.
pub fn read_playwright_json(path: &Path) -> Result<Vec<FailedTest>, ReportError> {
    let _ = path;
    Ok(Vec::new())
}
