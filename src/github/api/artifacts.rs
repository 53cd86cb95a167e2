//! Workflow run artifacts: listing, downloading (a `302` to a pre-signed zip URL) and reading
//! the zip in memory with strict entry checks. Nothing from a zip is ever written under the
//! entry's own name.

use std::path::{Path, PathBuf};

use super::types::{Artifact, WorkflowRun};
use super::{check_sha, ApiError, GitHub, Repo, MAX_PAGES};

/// The largest artifact zip downloaded: 16 MiB.
pub const MAX_ARTIFACT_ZIP_BYTES: usize = 16 * 1024 * 1024;
/// The largest single entry read from a zip (uncompressed): 8 MiB.
pub const MAX_ENTRY_BYTES: u64 = 8 * 1024 * 1024;
/// The most bytes read from one zip in all (uncompressed): 32 MiB.
pub const MAX_TOTAL_BYTES: u64 = 32 * 1024 * 1024;
/// The most entries a zip may have.
pub const MAX_ENTRIES: usize = 256;

/// Lists a run's artifacts (every page).
pub fn list_run_artifacts(
    gh: &GitHub,
    repo: &Repo,
    run_id: u64,
) -> Result<Vec<Artifact>, ApiError> {
    gh.get_list(
        &format!("{}/actions/runs/{run_id}/artifacts", repo.path()),
        Some("artifacts"),
        MAX_PAGES,
        1000,
    )
}

/// One workflow run.
pub fn get_run(gh: &GitHub, repo: &Repo, run_id: u64) -> Result<WorkflowRun, ApiError> {
    gh.get_json(&format!("{}/actions/runs/{run_id}", repo.path()))
}

/// Runs of `workflow_id` for commit `head_sha` (newest first, as GitHub lists them), at most
/// `max`; `workflow_id` 0 lists the runs of every workflow.
pub fn runs_for_sha(
    gh: &GitHub,
    repo: &Repo,
    workflow_id: u64,
    head_sha: &str,
    max: usize,
) -> Result<Vec<WorkflowRun>, ApiError> {
    let sha = check_sha(head_sha)?;
    let path = if workflow_id == 0 {
        format!("{}/actions/runs?head_sha={sha}", repo.path())
    } else {
        format!(
            "{}/actions/workflows/{workflow_id}/runs?head_sha={sha}",
            repo.path()
        )
    };
    gh.get_list(&path, Some("workflow_runs"), 5, max)
}

/// Downloads an artifact's zip (at most [`MAX_ARTIFACT_ZIP_BYTES`]). An artifact listed as
/// expired is [`ApiError::Gone`] without a request.
pub fn download(gh: &GitHub, repo: &Repo, artifact: &Artifact) -> Result<Vec<u8>, ApiError> {
    let path = format!("{}/actions/artifacts/{}/zip", repo.path(), artifact.id);
    if artifact.expired {
        return Err(ApiError::Gone {
            request: format!("GET {path}"),
            message: format!("artifact {:?} has expired", artifact.name),
        });
    }
    if artifact.size_in_bytes > MAX_ARTIFACT_ZIP_BYTES as u64 {
        return Err(ApiError::TooLarge {
            request: format!("GET {path}"),
            limit: MAX_ARTIFACT_ZIP_BYTES,
        });
    }
    gh.download_redirect(&path, MAX_ARTIFACT_ZIP_BYTES)
}

/// Problems with a fix-agent or self-heal artifact: its zip, or the directory it was
/// downloaded into.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArtifactProblem {
    /// Not a readable zip (truncated, corrupted, unsupported compression).
    #[error("the artifact zip is corrupted: {0}")]
    Corrupt(String),
    /// A directory that cannot be listed, or a file in it that cannot be read (`path: why`).
    #[error("cannot read {0}")]
    Io(String),
    /// An entry name that could escape a directory (`../`, absolute, backslash, drive, control
    /// characters).
    #[error("the artifact has an unsafe entry name {0:?}")]
    UnsafeName(String),
    /// A directory entry that is not a regular file (a symlink, a subdirectory).
    #[error("the artifact's {0:?} is not a regular file")]
    NotAFile(String),
    /// An entry larger than [`MAX_ENTRY_BYTES`], too many bytes in all, or too many entries.
    #[error("the artifact is too large: {0}")]
    TooLarge(String),
    /// An entry the artifact must not have.
    #[error("the artifact has an unexpected entry {0:?}")]
    Extra(String),
    /// A required entry is missing.
    #[error("the artifact has no {0}")]
    Missing(String),
}

/// Checks a zip entry name: relative, `/`-separated, no empty, `.` or `..` component, no
/// backslash, colon or control character, at most 255 bytes.
pub fn safe_entry_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('/')
        && !name.contains('\\')
        && !name.contains(':')
        && !name.chars().any(char::is_control)
        && name
            .trim_end_matches('/')
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// What [`read_zip`] does with a file entry, decided from its name before it is inflated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryUse {
    /// Inflate it and return it.
    Read,
    /// Leave it packed (it costs nothing).
    Skip,
    /// Refuse the whole zip ([`ArtifactProblem::Extra`]).
    Refuse,
}

/// Reads the file entries of a zip that `select` wants, in memory: `(name, bytes)` in
/// archive order. First, without inflating anything, every entry name (directories too) is
/// checked with [`safe_entry_name`], `select` is asked about each file entry, and the sizes
/// the zip declares for the wanted ones are checked against [`MAX_ENTRY_BYTES`] each and
/// [`MAX_TOTAL_BYTES`] in all; then only the wanted entries are inflated, each read stopping
/// at those caps whatever its declared size.
pub fn read_zip(
    bytes: &[u8],
    select: impl Fn(&str) -> EntryUse,
) -> Result<Vec<(String, Vec<u8>)>, ArtifactProblem> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| ArtifactProblem::Corrupt(e.to_string()))?;
    if zip.len() > MAX_ENTRIES {
        return Err(ArtifactProblem::TooLarge(format!(
            "{} entries, at most {MAX_ENTRIES}",
            zip.len()
        )));
    }
    let mut wanted = Vec::new();
    let mut declared = 0u64;
    for i in 0..zip.len() {
        let f = zip
            .by_index_raw(i)
            .map_err(|e| ArtifactProblem::Corrupt(e.to_string()))?;
        let name = String::from_utf8_lossy(f.name_raw()).into_owned();
        if !safe_entry_name(&name) || f.enclosed_name().is_none() {
            return Err(ArtifactProblem::UnsafeName(name));
        }
        if f.is_dir() {
            continue;
        }
        match select(&name) {
            EntryUse::Skip => continue,
            EntryUse::Refuse => return Err(ArtifactProblem::Extra(name)),
            EntryUse::Read => {}
        }
        if f.size() > MAX_ENTRY_BYTES {
            return Err(ArtifactProblem::TooLarge(format!(
                "{name} is {} bytes, at most {MAX_ENTRY_BYTES}",
                f.size()
            )));
        }
        declared = declared.saturating_add(f.size());
        if declared > MAX_TOTAL_BYTES {
            return Err(ArtifactProblem::TooLarge(format!(
                "the entries to read hold more than {MAX_TOTAL_BYTES} bytes"
            )));
        }
        wanted.push((i, name));
    }
    let mut out = Vec::new();
    let mut total = 0u64;
    for (i, name) in wanted {
        let f = zip
            .by_index(i)
            .map_err(|e| ArtifactProblem::Corrupt(e.to_string()))?;
        let cap = MAX_ENTRY_BYTES.min(MAX_TOTAL_BYTES - total);
        let data = crate::artifact::read_at_most(f, cap)
            .map_err(|e| ArtifactProblem::Corrupt(format!("{name}: {e}")))?;
        let Some(data) = data else {
            return Err(ArtifactProblem::TooLarge(format!(
                "{name} inflates to more than its declared size allows ({cap} bytes left)"
            )));
        };
        total += data.len() as u64;
        out.push((name, data));
    }
    Ok(out)
}

/// The files of a fix-agent artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixArtifact {
    /// The patch entry's name (`patch-<run_id>.diff`).
    pub patch_name: String,
    /// The patch bytes.
    pub patch: Vec<u8>,
    /// The metadata entry's name (`metadata-<run_id>.json`).
    pub metadata_name: String,
    /// The metadata bytes.
    pub metadata: Vec<u8>,
}

/// Which entries of a fix-agent artifact are read: `patch-*.diff` and `metadata-*.json` at
/// its root. `input.json` (fix-agent-prepare's) and `pr-result-*.json` (fix-agent-pr's result,
/// which lands in the same directory with the default `--out`) are ci-remedy's own files and
/// are skipped, never read; anything else is refused.
pub fn fix_entry_use(name: &str) -> EntryUse {
    let is =
        |pre: &str, ext: &str| name.starts_with(pre) && name.ends_with(ext) && !name.contains('/');
    if is("patch-", ".diff") || is("metadata-", ".json") {
        EntryUse::Read
    } else if name == "input.json" || is("pr-result-", ".json") {
        EntryUse::Skip
    } else {
        EntryUse::Refuse
    }
}

/// Picks the fix-agent files from zip entries (or the files of a downloaded directory). The
/// artifact `fix-agent-apply` uploads holds exactly `patch-*.diff`, `metadata-*.json` and
/// optionally `input.json`, at its root ([`fix_entry_use`]); any other entry (a second patch,
/// a nested file, a script) is refused, and so is any name [`safe_entry_name`] refuses.
pub fn fix_artifact(entries: Vec<(String, Vec<u8>)>) -> Result<FixArtifact, ArtifactProblem> {
    let mut patch = None;
    let mut metadata = None;
    for (name, data) in entries {
        // The gate a zip and a downloaded directory share: a name is printed and used as a
        // file name later, so a newline (a workflow command on stdout) or `..` never passes.
        if !safe_entry_name(&name) {
            return Err(ArtifactProblem::UnsafeName(name));
        }
        match fix_entry_use(&name) {
            EntryUse::Skip => continue,
            EntryUse::Refuse => return Err(ArtifactProblem::Extra(name)),
            EntryUse::Read => {}
        }
        let slot = if name.starts_with("patch-") {
            &mut patch
        } else {
            &mut metadata
        };
        if slot.is_some() {
            return Err(ArtifactProblem::Extra(name));
        }
        *slot = Some((name, data));
    }
    let (patch_name, patch) =
        patch.ok_or_else(|| ArtifactProblem::Missing("patch-*.diff".into()))?;
    let (metadata_name, metadata) =
        metadata.ok_or_else(|| ArtifactProblem::Missing("metadata-*.json".into()))?;
    Ok(FixArtifact {
        patch_name,
        patch,
        metadata_name,
        metadata,
    })
}

/// Reads a fix-agent artifact zip: [`read_zip`] with [`fix_entry_use`] (a refused entry stops
/// it before anything is inflated), then [`fix_artifact`].
pub fn read_fix_zip(bytes: &[u8]) -> Result<FixArtifact, ArtifactProblem> {
    fix_artifact(read_zip(bytes, fix_entry_use)?)
}

/// One entry of a directory listing ([`list_dir`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirFile {
    /// The file name (lossily decoded).
    pub name: String,
    /// The path (`dir/name`, the real name).
    pub path: PathBuf,
    /// True for a regular file (symlinks are not followed).
    pub is_file: bool,
}

/// The entries directly in `dir`, sorted by name. Errors: the directory cannot be listed,
/// or an entry's type cannot be read.
pub fn list_dir(dir: &Path) -> std::io::Result<Vec<DirFile>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        out.push(DirFile {
            name: e.file_name().to_string_lossy().into_owned(),
            path: e.path(),
            is_file: e.file_type()?.is_file(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Reads a fix-agent artifact from the directory it was downloaded into (`gh run download`,
/// or `fix-agent-apply`'s `OUT/fix-agent/`) with the zip's rules: at most [`MAX_ENTRIES`]
/// entries, every name checked with [`safe_entry_name`] and [`fix_entry_use`] before
/// anything is read, regular files only, at most [`MAX_ENTRY_BYTES`] each and
/// [`MAX_TOTAL_BYTES`] in all (the reads stop at the caps), then [`fix_artifact`].
pub fn read_dir_artifact(dir: &Path) -> Result<FixArtifact, ArtifactProblem> {
    let io =
        |what: &Path, e: std::io::Error| ArtifactProblem::Io(format!("{}: {e}", what.display()));
    let files = list_dir(dir).map_err(|e| io(dir, e))?;
    if files.len() > MAX_ENTRIES {
        return Err(ArtifactProblem::TooLarge(format!(
            "{} entries, at most {MAX_ENTRIES}",
            files.len()
        )));
    }
    let mut entries = Vec::new();
    let mut total = 0u64;
    for f in files {
        if !safe_entry_name(&f.name) {
            return Err(ArtifactProblem::UnsafeName(f.name));
        }
        if !f.is_file {
            return Err(ArtifactProblem::NotAFile(f.name));
        }
        match fix_entry_use(&f.name) {
            EntryUse::Skip => continue,
            EntryUse::Refuse => return Err(ArtifactProblem::Extra(f.name)),
            EntryUse::Read => {}
        }
        let cap = MAX_ENTRY_BYTES.min(MAX_TOTAL_BYTES - total);
        let file = std::fs::File::open(&f.path).map_err(|e| io(&f.path, e))?;
        let Some(data) = crate::artifact::read_at_most(file, cap).map_err(|e| io(&f.path, e))?
        else {
            return Err(ArtifactProblem::TooLarge(format!(
                "{} is more than {cap} bytes",
                f.name
            )));
        };
        total += data.len() as u64;
        entries.push((f.name, data));
    }
    fix_artifact(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (n, d) in entries {
            w.start_file(*n, zip::write::SimpleFileOptions::default())
                .expect("start");
            w.write_all(d).expect("write");
        }
        w.finish().expect("finish").into_inner()
    }

    /// A zip of stored (uncompressed) entries, so a test can damage an entry's bytes.
    fn stored_zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (n, d) in entries {
            w.start_file(*n, opts).expect("start");
            w.write_all(d).expect("write");
        }
        w.finish().expect("finish").into_inner()
    }

    #[test]
    fn the_total_is_capped_before_anything_is_inflated() {
        // Five entries of 7 MiB: each under the entry cap, 35 MiB in all.
        let big = vec![0u8; 7 * 1024 * 1024];
        let names: Vec<String> = (0..5).map(|i| format!("report-{i}.json")).collect();
        let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &big[..])).collect();
        let z = zip_of(&entries);
        assert!(
            z.len() < 1024 * 1024,
            "deflated zeros are small: {}",
            z.len()
        );
        assert!(matches!(
            read_zip(&z, |_| EntryUse::Read),
            Err(ArtifactProblem::TooLarge(m)) if m.contains("more than 33554432 bytes")
        ));
        // Only what the caller wants counts.
        let one = read_zip(&z, |n| {
            if n == "report-0.json" {
                EntryUse::Read
            } else {
                EntryUse::Skip
            }
        })
        .expect("one entry");
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].1.len(), big.len());
    }

    #[test]
    fn entries_not_wanted_are_never_inflated() {
        let mut z = stored_zip_of(&[
            ("report-1.json", b"{}"),
            ("junk.bin", b"AAAAAAAAAAAAAAAAAAAAAAAA"),
        ]);
        // Damage junk.bin's data: reading it fails its CRC-32.
        let at = z
            .windows(24)
            .position(|w| w == b"AAAAAAAAAAAAAAAAAAAAAAAA")
            .expect("data");
        z[at] = b'B';
        assert!(matches!(
            read_zip(&z, |_| EntryUse::Read),
            Err(ArtifactProblem::Corrupt(_))
        ));
        let reports = |n: &str| {
            if n.starts_with("report-") {
                EntryUse::Read
            } else {
                EntryUse::Skip
            }
        };
        assert_eq!(
            read_zip(&z, reports).expect("skipped"),
            vec![("report-1.json".to_string(), b"{}".to_vec())]
        );
        // A refused entry stops the read before anything is inflated.
        assert_eq!(
            read_zip(&z, fix_entry_use),
            Err(ArtifactProblem::Extra("report-1.json".into()))
        );
    }

    #[test]
    fn a_directory_is_read_with_the_zip_rules() {
        let dir = tempfile::tempdir().expect("dir");
        let d = dir.path();
        std::fs::write(d.join("patch-1.diff"), b"d").expect("write");
        std::fs::write(d.join("metadata-1.json"), b"{}").expect("write");
        std::fs::write(d.join("input.json"), b"{}").expect("write");
        std::fs::write(d.join("pr-result-1.json"), b"{}").expect("write");
        let f = read_dir_artifact(d).expect("artifact");
        assert_eq!(
            (f.patch_name.as_str(), f.patch.as_slice()),
            ("patch-1.diff", &b"d"[..])
        );
        // A second patch is refused, not picked by name.
        std::fs::write(d.join("patch-2.diff"), b"d").expect("write");
        assert_eq!(
            read_dir_artifact(d),
            Err(ArtifactProblem::Extra("patch-2.diff".into()))
        );
        std::fs::remove_file(d.join("patch-2.diff")).expect("rm");
        std::fs::create_dir(d.join("sub")).expect("mkdir");
        assert_eq!(
            read_dir_artifact(d),
            Err(ArtifactProblem::NotAFile("sub".into()))
        );
        assert!(matches!(
            read_dir_artifact(&d.join("missing")),
            Err(ArtifactProblem::Io(_))
        ));
    }

    #[test]
    fn entry_names() {
        for ok in ["a", "patch-1.diff", "dir/", "a/b.json"] {
            assert!(safe_entry_name(ok), "{ok}");
        }
        for bad in [
            "",
            "../x",
            "a/../b",
            "/etc/passwd",
            "a\\b",
            "C:x",
            "a//b",
            "./a",
            "a\n",
        ] {
            assert!(!safe_entry_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn reads_and_refuses() {
        let all = |_: &str| EntryUse::Read;
        let z = zip_of(&[
            ("patch-1.diff", b"d"),
            ("metadata-1.json", b"{}"),
            ("input.json", b"{}"),
        ]);
        let f = read_fix_zip(&z).expect("artifact");
        assert_eq!(f.patch, b"d");
        let z = zip_of(&[("../evil", b"x")]);
        assert!(matches!(
            read_zip(&z, all),
            Err(ArtifactProblem::UnsafeName(_))
        ));
        let z = zip_of(&[
            ("patch-1.diff", b"d"),
            ("metadata-1.json", b"{}"),
            ("run.sh", b"x"),
        ]);
        assert_eq!(
            read_fix_zip(&z),
            Err(ArtifactProblem::Extra("run.sh".into()))
        );
        let z = zip_of(&[
            ("patch-1.diff", b"d"),
            ("patch-2.diff", b"d"),
            ("metadata-1.json", b"{}"),
        ]);
        assert_eq!(
            read_fix_zip(&z),
            Err(ArtifactProblem::Extra("patch-2.diff".into()))
        );
        assert!(matches!(
            read_zip(b"PK\x03\x04garbage", all),
            Err(ArtifactProblem::Corrupt(_))
        ));
        let z = zip_of(&[("metadata-1.json", b"{}")]);
        assert!(matches!(read_fix_zip(&z), Err(ArtifactProblem::Missing(_))));
        // The files of a downloaded directory pass the same name check.
        let entries = vec![
            ("patch-1\n::warning::x.diff".to_string(), b"d".to_vec()),
            ("metadata-1.json".to_string(), b"{}".to_vec()),
        ];
        assert!(matches!(
            fix_artifact(entries),
            Err(ArtifactProblem::UnsafeName(_))
        ));
    }
}
