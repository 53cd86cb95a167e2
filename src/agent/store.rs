//! The Developer-Agent's storage: `<data-dir>/logs/<run_id>/<entry>/`.
//!
//! Each accepted payload becomes one entry directory named
//! `attempt-<n>-<unix ms>-<8 hex>`, holding `payload.json` (the payload without log contents;
//! log names, failed tests and the repository section's file contents redacted again),
//! `log-<NN>.txt` (each log's redacted text, NN 0-based), once classified `answer.json`, and
//! with a repository section `recipes.json` (what the fix recipes were run on and said).
//! The entry is written into a hidden `.incoming-*` directory first and renamed into place, so
//! a reader never sees half an entry and concurrent posts of the same run never mix files.
//!
//! The run id is sanitised with [`crate::artifact::RunInfo::run_id_for_file_name`]
//! (`[A-Za-z0-9_-]`, at most 64 bytes), so no payload can name a path outside the data
//! directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::artifact::{write_json_atomic, ArtifactError, Redactions};
use crate::logs::redact::Redactor;

use super::payload::{LogsPayload, PayloadLog, RepositoryFile, RepositorySnapshot};

/// Storage errors; each names the path.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A directory or file could not be created or written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The run directory exists but is not a plain directory (e.g. a symlink).
    #[error("{path} is not a plain directory")]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// An artifact write failed.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
}

/// A stored payload.
#[derive(Debug, Clone)]
pub struct StoredEntry {
    /// The entry directory.
    pub dir: PathBuf,
    /// The stored log files, in payload order.
    pub log_files: Vec<PathBuf>,
    /// The payload's repository section with every file's content redacted again, as stored.
    pub repository: Option<RepositorySnapshot>,
}

/// Stores `payload` under `<data_dir>/logs/<sanitised run_id>/`, redacting every log, log
/// name, failed test and repository file again with the built-in redactor. Creates missing directories.
pub fn store_payload(data_dir: &Path, payload: &LogsPayload) -> Result<StoredEntry, StoreError> {
    let run_dir = data_dir
        .join("logs")
        .join(payload.run.run_id_for_file_name());
    let werr = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Write { path, source }
    };
    std::fs::create_dir_all(&run_dir).map_err(werr(&run_dir))?;
    let meta = std::fs::symlink_metadata(&run_dir).map_err(werr(&run_dir))?;
    if !meta.file_type().is_dir() {
        return Err(StoreError::NotADirectory { path: run_dir });
    }
    let incoming = tempfile::Builder::new()
        .prefix(".incoming-")
        .tempdir_in(&run_dir)
        .map_err(werr(&run_dir))?;

    let redactor = Redactor::builtin();
    let mut redactions = Redactions::default();
    let mut names = Vec::new();
    for (i, log) in payload.logs.iter().enumerate() {
        let name = format!("log-{i:02}.txt");
        let path = incoming.path().join(&name);
        let text = redactor.redact(&log.content, &mut redactions);
        let mut f = std::fs::File::create(&path).map_err(werr(&path))?;
        f.write_all(text.as_bytes()).map_err(werr(&path))?;
        f.sync_all().map_err(werr(&path))?;
        names.push(name);
    }
    // The payload without log contents (they are the log files) and with the repository's
    // files redacted again; nothing is copied only to be blanked.
    let repository = payload.repository.as_ref().map(|r| RepositorySnapshot {
        paths: r.paths.clone(),
        truncated: r.truncated,
        files: r
            .files
            .iter()
            .map(|f| RepositoryFile {
                path: f.path.clone(),
                content: redactor.redact(&f.content, &mut redactions),
            })
            .collect(),
    });
    let meta = LogsPayload {
        schema: payload.schema.clone(),
        tool: payload.tool.clone(),
        run: payload.run.clone(),
        logs: payload
            .logs
            .iter()
            .map(|l| PayloadLog {
                name: redactor.redact(&l.name, &mut redactions),
                bytes: l.bytes,
                sha256: l.sha256.clone(),
                truncated: l.truncated,
                first_line: l.first_line,
                content: String::new(),
            })
            .collect(),
        failed_tests: payload
            .failed_tests
            .iter()
            .cloned()
            .map(|mut t| {
                super::ship::redact_failed_test(redactor, &mut t, &mut redactions);
                t
            })
            .collect(),
        classification: payload.classification.clone(),
        redactions: payload.redactions.clone(),
        repository,
    };
    write_json_atomic(&incoming.path().join("payload.json"), &meta)?;

    let entry_name = format!(
        "attempt-{}-{}-{:08x}",
        payload.run.run_attempt,
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0),
        rand::random::<u32>()
    );
    let dir = run_dir.join(entry_name);
    let tmp_path = incoming.keep();
    if let Err(source) = std::fs::rename(&tmp_path, &dir) {
        let _ = std::fs::remove_dir_all(&tmp_path);
        return Err(StoreError::Write { path: dir, source });
    }
    Ok(StoredEntry {
        log_files: names.iter().map(|n| dir.join(n)).collect(),
        dir,
        repository: meta.repository,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::payload::{PayloadLog, PAYLOAD_SCHEMA};
    use crate::artifact::{RunInfo, ToolInfo};

    #[test]
    fn hostile_run_ids_stay_inside_the_data_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let mut run = RunInfo::from_lookup(|_| None);
        run.run_id = "../../etc".into();
        let payload = LogsPayload {
            schema: PAYLOAD_SCHEMA.into(),
            tool: ToolInfo::new("test"),
            run,
            logs: vec![PayloadLog {
                name: "../../x".into(),
                bytes: 2,
                sha256: None,
                truncated: false,
                first_line: 1,
                content: "hi".into(),
            }],
            failed_tests: Vec::new(),
            classification: None,
            redactions: Redactions::default(),
            repository: None,
        };
        let entry = store_payload(&data, &payload).expect("store");
        assert!(entry.dir.starts_with(data.join("logs").join("______etc")));
        assert_eq!(
            std::fs::read_to_string(&entry.log_files[0]).expect("read"),
            "hi"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("data")]);
    }
}
