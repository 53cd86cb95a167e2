//! The one way every consumer opens an input file, and the one checked artifact reader.
//!
//! - [`open_input`]: opens a path for reading only when it is a regular file. A FIFO, socket,
//!   device or directory is refused before a single byte is read, so `--context /dev/stdin` or
//!   a named pipe can never block a step forever. Unix: the file is opened with `O_NONBLOCK`
//!   (opening a FIFO then returns at once instead of waiting for a writer) and checked with
//!   `fstat` on the open descriptor, so a path swapped between a check and the open is still
//!   refused. `O_NONBLOCK` has no effect on reads of a regular file.
//! - [`read_artifact`]: a regular file ([`open_input`]), at most [`MAX_ARTIFACT_BYTES`]
//!   (`read_capped`), JSON, whose `schema` field is exactly the one the type expects
//!   ([`Artifact::SCHEMA`], e.g. `ci-remedy/context/v1`), then the type's shape.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use serde::de::DeserializeOwned;

use super::write::{read_capped, ArtifactError, MAX_ARTIFACT_BYTES};

/// The kind of a file that is not a regular file, in words (`a FIFO`, `a directory`).
/// Reads `r` to its end, at most `cap` bytes: `Ok(None)` when it has more (only `cap + 1`
/// bytes are ever read, so a stream that never ends cannot exhaust memory). The one capped
/// read of the crate: files ([`read_capped`](super::read_capped)), test reports and zip
/// entries all go through it.
///
/// Errors: those of the reader.
pub fn read_at_most(r: impl Read, cap: u64) -> io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    r.take(cap.saturating_add(1)).read_to_end(&mut data)?;
    Ok((data.len() as u64 <= cap).then_some(data))
}

fn kind_of(ft: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if ft.is_socket() {
            return "a socket";
        }
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
    }
    if ft.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Opens `path` for reading, refusing anything but a regular file (symlinks are followed to
/// their target, which must be a regular file). See the module documentation.
///
/// Errors: the open error (`NotFound`, `PermissionDenied`, …), or an error of kind
/// `InvalidInput` whose message says what the path is instead (`is a FIFO (named pipe), not a
/// regular file`).
pub fn open_input(path: &Path) -> io::Result<File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(nix::libc::O_NONBLOCK);
    }
    #[cfg(not(unix))]
    {
        // Without O_NONBLOCK: look before opening.
        let meta = std::fs::metadata(path)?;
        if !meta.is_file() {
            return Err(not_regular(meta.file_type()));
        }
    }
    let file = opts.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(meta.file_type()));
    }
    Ok(file)
}

fn not_regular(ft: std::fs::FileType) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("is {}, not a regular file", kind_of(ft)),
    )
}

/// An artifact type with a fixed `schema` value, read by [`read_artifact`].
pub trait Artifact: DeserializeOwned {
    /// The exact `schema` value this version reads and writes (`ci-remedy/context/v1`).
    const SCHEMA: &'static str;
}

impl Artifact for super::Context {
    const SCHEMA: &'static str = super::CONTEXT_SCHEMA;
}
impl Artifact for super::Decision {
    const SCHEMA: &'static str = super::DECISION_SCHEMA;
}
impl Artifact for super::HealReport {
    const SCHEMA: &'static str = super::HEAL_REPORT_SCHEMA;
}
impl Artifact for super::FixInput {
    const SCHEMA: &'static str = super::FIX_INPUT_SCHEMA;
}
impl Artifact for super::FixMetadata {
    const SCHEMA: &'static str = super::FIX_METADATA_SCHEMA;
}

/// Only the `schema` field of a document; every other field is skipped unparsed.
#[derive(serde::Deserialize)]
struct SchemaProbe {
    #[serde(default)]
    schema: Option<serde_json::Value>,
}

/// The longest found `schema` value quoted in an error, in characters.
const SHOWN_SCHEMA_CHARS: usize = 80;

/// Reads the artifact at `path` (see the module documentation).
///
/// Errors: [`ArtifactError::Read`] (missing, unreadable, not a regular file),
/// [`ArtifactError::TooLarge`] (over [`MAX_ARTIFACT_BYTES`]), [`ArtifactError::Parse`] (not
/// JSON, or not of `T`'s shape), [`ArtifactError::Schema`] (no `schema` field, or another
/// value than `T::SCHEMA`).
pub fn read_artifact<T: Artifact>(path: &Path) -> Result<T, ArtifactError> {
    let bytes = read_capped(path, MAX_ARTIFACT_BYTES)?;
    parse_artifact(&bytes, path)
}

/// Parses `bytes` as the artifact `T`, checking its `schema` first; `path` names the document
/// in errors. The checks of [`read_artifact`] after the read.
pub fn parse_artifact<T: Artifact>(bytes: &[u8], path: &Path) -> Result<T, ArtifactError> {
    let parse = |source| ArtifactError::Parse {
        path: path.to_path_buf(),
        source,
    };
    let probe: SchemaProbe = serde_json::from_slice(bytes).map_err(parse)?;
    let found = match probe.schema {
        Some(serde_json::Value::String(s)) if s == T::SCHEMA => None,
        Some(serde_json::Value::String(s)) => Some(format!(
            "schema {:?}",
            s.chars().take(SHOWN_SCHEMA_CHARS).collect::<String>()
        )),
        Some(other) => Some(format!(
            "a schema that is a {}, not a string",
            json_kind(&other)
        )),
        None => Some("no schema field".to_string()),
    };
    if let Some(found) = found {
        return Err(ArtifactError::Schema {
            path: path.to_path_buf(),
            found,
            expected: T::SCHEMA,
        });
    }
    serde_json::from_slice(bytes).map_err(parse)
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::{Context, Decision};

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let err = open_input(&fifo).expect_err("a FIFO");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("FIFO"), "{err}");
        let err = read_artifact::<Context>(&fifo).expect_err("a FIFO");
        assert!(err.to_string().contains("fifo") && err.to_string().contains("FIFO"));
        let err = open_input(dir.path()).expect_err("a directory");
        assert!(err.to_string().contains("directory"), "{err}");
        let err = open_input(Path::new("/dev/null")).expect_err("a device");
        assert!(err.to_string().contains("character device"), "{err}");
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").expect("write");
        assert!(open_input(&file).is_ok());
    }

    #[test]
    fn the_schema_must_match_exactly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("d.json");
        for (text, needle) in [
            (
                r#"{"schema": "ci-remedy/context/v1"}"#,
                "\"ci-remedy/context/v1\"",
            ),
            (r#"{"schema": 3}"#, "a schema that is a number"),
            (r#"{"allowed": true}"#, "no schema field"),
            (r#"{"schema": "ci-remedy/decision/v99"}"#, "v99"),
        ] {
            std::fs::write(&path, text).expect("write");
            let err = read_artifact::<Decision>(&path).expect_err(text);
            let msg = err.to_string();
            assert!(matches!(err, ArtifactError::Schema { .. }), "{msg}");
            assert!(msg.contains(needle), "{msg}");
            assert!(msg.contains("ci-remedy/decision/v1"), "{msg}");
            assert!(msg.contains("d.json"), "{msg}");
        }
        std::fs::write(&path, b"[1,").expect("write");
        assert!(matches!(
            read_artifact::<Decision>(&path),
            Err(ArtifactError::Parse { .. })
        ));
    }
}
