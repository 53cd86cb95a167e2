//! `--log` specs to log sources. (Skeleton: to be completed.)

use std::io::Read;
use std::path::PathBuf;

/// Errors finding or opening logs; each names the spec or path.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Nothing matched a spec.
    #[error("no log found at {spec}")]
    NotFound {
        /// The `--log` value.
        spec: String,
    },
    /// An I/O error.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Where a log's bytes live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A plain file.
    File(PathBuf),
    /// An entry of a zip archive (GitHub's run log download).
    ZipEntry {
        /// The archive.
        archive: PathBuf,
        /// The entry name inside it.
        entry: String,
    },
}

/// One log to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSource {
    /// The name findings use: the path, or `archive.zip!entry`.
    pub name: String,
    /// Where the bytes are.
    pub origin: Origin,
}

impl LogSource {
    /// Opens the log as a byte stream.
    pub fn open(&self) -> Result<Box<dyn Read + Send>, LogError> {
        match &self.origin {
            Origin::File(p) => std::fs::File::open(p)
                .map(|f| Box::new(f) as Box<dyn Read + Send>)
                .map_err(|source| LogError::Io {
                    path: p.display().to_string(),
                    source,
                }),
            Origin::ZipEntry { .. } => Err(LogError::NotFound {
                spec: self.name.clone(),
            }),
        }
    }
}

/// Resolves `--log` specs into sources. (Skeleton: plain files only.)
pub fn resolve(specs: &[String]) -> Result<Vec<LogSource>, LogError> {
    specs
        .iter()
        .map(|s| {
            let p = PathBuf::from(s);
            if p.is_file() {
                Ok(LogSource {
                    name: s.clone(),
                    origin: Origin::File(p),
                })
            } else {
                Err(LogError::NotFound { spec: s.clone() })
            }
        })
        .collect()
}
