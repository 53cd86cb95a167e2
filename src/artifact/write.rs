//! Atomic artifact writes and tolerant reads.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Errors reading or writing an artifact file; each names the path.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid JSON of the expected shape.
    #[error("{path} is not a valid artifact: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The JSON error, with line and column.
        source: serde_json::Error,
    },
    /// The file is larger than the reader accepts.
    #[error("{path} is larger than the {limit} bytes accepted")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// The file's `schema` field is missing or is not the one expected (another artifact, or
    /// another version of this one).
    #[error("{path} is not a {expected} artifact: it has {found}")]
    Schema {
        /// The file.
        path: PathBuf,
        /// What was found instead, in words (`schema "ci-remedy/context/v99"`,
        /// `no schema field`); untrusted text, at most 80 characters of it quoted.
        found: String,
        /// The schema expected.
        expected: &'static str,
    },
    /// The file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The largest artifact [`read_json`] accepts: 64 MiB.
pub const MAX_ARTIFACT_BYTES: u64 = 64 * 1024 * 1024;

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed and
/// synced, then renamed over `path`. Creates missing parent directories. A killed process
/// leaves either the old file or the new one, never half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ArtifactError> {
    let err = |source| ArtifactError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(err)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".ci-remedy-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// Serializes `value` as pretty JSON (two-space indent, trailing newline) and writes it with
/// [`write_atomic`].
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<(), ArtifactError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| ArtifactError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Reads the whole of `path`, at most `limit` bytes. The file is opened once
/// ([`super::open_input`]: regular files only, so a FIFO never blocks) and read through a
/// `take(limit + 1)`, so a file that grows between a size check and the read cannot get past
/// the limit.
///
/// Errors: [`ArtifactError::Read`] when it cannot be opened or read or is not a regular file,
/// [`ArtifactError::TooLarge`] when it has more than `limit` bytes.
pub fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, ArtifactError> {
    let read_err = |source| ArtifactError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = super::open_input(path).map_err(read_err)?;
    super::read_at_most(file, limit)
        .map_err(read_err)?
        .ok_or_else(|| ArtifactError::TooLarge {
            path: path.to_path_buf(),
            limit,
        })
}

/// Reads a JSON document of at most `limit` bytes ([`read_capped`]) into `T`.
///
/// Errors: those of [`read_capped`], and [`ArtifactError::Parse`] when the bytes are not JSON
/// of `T`'s shape.
pub fn read_json_capped<T: DeserializeOwned>(path: &Path, limit: u64) -> Result<T, ArtifactError> {
    let bytes = read_capped(path, limit)?;
    serde_json::from_slice(&bytes).map_err(|source| ArtifactError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a JSON document of at most [`MAX_ARTIFACT_BYTES`] ([`read_json_capped`]) without
/// looking at its `schema`: for documents that are not artifacts (state files) or whose schema
/// the caller dispatches on. An artifact of a known type is read with
/// [`super::read_artifact`], which checks the schema.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, ArtifactError> {
    read_json_capped(path, MAX_ARTIFACT_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_creates_dirs_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a/b/c.json");
        write_json_atomic(&path, &serde_json::json!({"x": 1})).expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, "{\n  \"x\": 1\n}\n");
        let names: Vec<_> = std::fs::read_dir(path.parent().expect("parent"))
            .expect("ls")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 1, "temp file left behind: {names:?}");
    }

    #[test]
    fn read_reports_path_on_bad_json() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bad.json");
        std::fs::write(&path, b"{\"schema\": ").expect("write");
        let err = read_json::<serde_json::Value>(&path).expect_err("must fail");
        assert!(err.to_string().contains("bad.json"), "{err}");
    }

    #[test]
    fn capped_reads_refuse_one_byte_more() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.json");
        std::fs::write(&path, b"[1, 2]").expect("write");
        assert_eq!(read_capped(&path, 6).expect("at the limit"), b"[1, 2]");
        let err = read_capped(&path, 5).expect_err("over the limit");
        assert!(
            matches!(err, ArtifactError::TooLarge { limit: 5, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("x.json"), "{err}");
        let v: Vec<u8> = read_json_capped(&path, 6).expect("json");
        assert_eq!(v, vec![1, 2]);
        assert!(matches!(
            read_capped(&dir.path().join("missing"), 6),
            Err(ArtifactError::Read { .. })
        ));
    }
}
