//! `--log` specs to log sources.
//!
//! A spec is, in this order of precedence:
//! - an existing **file**: one source, or — when it starts with the zip magic bytes
//!   `PK\x03\x04` (or `PK\x05\x06`, an empty archive), whatever its extension — the entries of
//!   the zip GitHub serves for a run's logs (see below);
//! - an existing **directory**: every file under it (walked with `walkdir`, symlinks not
//!   followed, sorted by path so the order is deterministic), zips expanded as above;
//! - otherwise a **glob** (`globset`, `literal_separator(true)`: `*` never crosses `/`, `**`
//!   does), matched against the files under the glob's literal directory prefix (`logs/**/*.txt`
//!   walks `logs`), sorted by path.
//!
//! A spec that yields no log is [`LogError::NotFound`] naming it. The same file named twice (by
//! two specs, or spelt two ways: `a.log` and `./a.log`) is read once.
//!
//! # GitHub run-log zips
//!
//! `GET /repos/{owner}/{repo}/actions/runs/{run_id}/logs` (and the "Download log archive" button)
//! serve a zip with two views of the same text:
//! - `<N>_<job>.txt` at the top level: the whole log of job `<job>` (`N` orders the jobs);
//! - `<job>/<step#>_<step>.txt`: the log of one step of that job.
//!
//! A job's whole-job file and its step files contain the SAME lines, so reading both would double
//! every finding. The rule: a job with a whole-job file is read from that file only (its findings
//! carry `job`, not `step`); the step files are read only for jobs that have no whole-job file
//! (then each source carries `job` and `step`). Other entries (e.g. `<job>/system.txt`, files of
//! a zip you built yourself) are read as plain logs after the jobs, by entry name. Directory
//! entries are skipped.
//!
//! Entry names are untrusted text: they only ever name a source (`archive.zip!entry`, with
//! control characters replaced by `?`); nothing is extracted to disk, so `../x.txt` or `/etc/x`
//! entries are harmless. [`LogSource::open`] streams an entry (stored or deflate) straight from
//! the archive file, checking its CRC-32 and size at the end, so a GiB-sized entry never sits in
//! memory.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use globset::GlobBuilder;
use walkdir::WalkDir;

use crate::artifact::open_input;
use crate::logs::lines::read_some;

/// Errors finding or opening logs; each names the spec or path.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Nothing matched a spec (a missing path, an empty directory, a glob without matches, an
    /// empty zip).
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
    /// Walking a directory failed (permission denied, a vanished entry).
    #[error("cannot walk {path}: {source}")]
    Walk {
        /// The directory or entry.
        path: String,
        /// The error.
        source: walkdir::Error,
    },
    /// A spec that is neither a path nor a valid glob.
    #[error("invalid glob {spec}: {source}")]
    Glob {
        /// The `--log` value.
        spec: String,
        /// The error.
        source: globset::Error,
    },
    /// A file that starts like a zip but is not a readable one (truncated, corrupted).
    #[error("cannot read zip archive {path}: {source}")]
    Zip {
        /// The archive.
        path: String,
        /// The error.
        source: zip::result::ZipError,
    },
    /// A log zip over a [`ZipLimits`] cap (a zip bomb, or a bigger run log than allowed).
    #[error("zip archive {path} {reason}")]
    ZipLimit {
        /// The archive.
        path: String,
        /// Which cap, with the numbers and the flag that raises it.
        reason: String,
    },
    /// A zip entry that cannot be streamed (encrypted, an unsupported compression method, gone).
    #[error("cannot read zip entry {name}: {reason}")]
    ZipEntry {
        /// `archive.zip!entry`.
        name: String,
        /// Why.
        reason: String,
    },
}

/// The default of [`ZipLimits::max_unpacked_bytes`]: 2 GiB.
pub const DEFAULT_MAX_ZIP_UNPACKED_BYTES: u64 = 2 << 30;
/// The default of [`ZipLimits::max_ratio`]: 200 (text logs compress 5–50×; deflate's own
/// maximum is about 1030×, what a zip bomb uses).
pub const DEFAULT_MAX_ZIP_RATIO: u64 = 200;
/// Entries at most this big (1 MiB unpacked) are not held to the ratio: tiny files compress
/// oddly and cannot cost much.
pub const ZIP_RATIO_MIN_BYTES: u64 = 1 << 20;

/// Caps on what a log zip may unpack to, checked when the archive is listed (from its central
/// directory, before a byte is inflated) and held while streaming: an entry never yields more
/// than its recorded size (a longer one is a read error), so the total read cannot pass the
/// total checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZipLimits {
    /// The most bytes all the entries read from one archive may unpack to, together.
    pub max_unpacked_bytes: u64,
    /// The largest unpacked / compressed size ratio of an entry over [`ZIP_RATIO_MIN_BYTES`].
    pub max_ratio: u64,
}

impl Default for ZipLimits {
    fn default() -> Self {
        ZipLimits {
            max_unpacked_bytes: DEFAULT_MAX_ZIP_UNPACKED_BYTES,
            max_ratio: DEFAULT_MAX_ZIP_RATIO,
        }
    }
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
        /// The entry name inside it, exactly as stored (untrusted text).
        entry: String,
        /// Where the entry's data lies, read from the central directory when the archive was
        /// listed (so opening each entry does not parse the directory again); `None`: looked
        /// up when the entry is opened.
        data: Option<ZipEntryData>,
    },
}

/// One log to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSource {
    /// The name findings use: the path, or `archive.zip!entry` (control characters in the entry
    /// name replaced by `?`).
    pub name: String,
    /// Where the bytes are.
    pub origin: Origin,
    /// The job this log belongs to, from a GitHub log zip's entry name (`3_build.txt` →
    /// `build`, `build/2_Run tests.txt` → `build`; control characters replaced by `?`);
    /// `None` for plain files.
    pub job: Option<String>,
    /// The step, for a per-step zip entry (`build/2_Run tests.txt` → `Run tests`). A finding
    /// in such a log whose lines name no step gets `job / step` as its step.
    pub step: Option<String>,
}

impl LogSource {
    /// A plain file read as it is (never sniffed for a zip), named `name` in findings.
    pub fn file(path: PathBuf, name: impl Into<String>) -> LogSource {
        LogSource {
            name: name.into(),
            origin: Origin::File(path),
            job: None,
            step: None,
        }
    }

    /// Opens the log as a byte stream (unbuffered for a plain file: wrap it in a `BufReader`).
    ///
    /// A zip entry is streamed from the archive (stored or deflate; its CRC-32 and size are
    /// checked when the end is reached, a mismatch is an `InvalidData` read error).
    ///
    /// Errors: [`LogError::Io`] when the file cannot be opened, [`LogError::Zip`] when the archive
    /// cannot be read, [`LogError::ZipEntry`] when the entry is missing, encrypted or compressed
    /// with another method.
    pub fn open(&self) -> Result<Box<dyn Read + Send>, LogError> {
        match &self.origin {
            Origin::File(p) => open_input(p)
                .map(|f| Box::new(f) as Box<dyn Read + Send>)
                .map_err(|source| LogError::Io {
                    path: p.display().to_string(),
                    source,
                }),
            Origin::ZipEntry {
                archive,
                entry,
                data,
            } => open_zip_entry(archive, entry, data.as_ref(), &self.name),
        }
    }
}

/// Resolves `--log` specs into sources, in the order given (see the module docs); stops at
/// the first spec that fails ([`resolve_all`] goes on past it).
///
/// Errors: [`LogError::NotFound`] for a spec that yields no log, [`LogError::Glob`] for an
/// invalid glob, [`LogError::Walk`]/[`LogError::Io`] for unreadable directories or files,
/// [`LogError::Zip`] for a corrupted or truncated zip.
pub fn resolve(specs: &[String]) -> Result<Vec<LogSource>, LogError> {
    resolve_with(specs, &ZipLimits::default())
}

/// [`resolve`] with these zip caps; [`LogError::ZipLimit`] for an archive over them.
pub fn resolve_with(specs: &[String], limits: &ZipLimits) -> Result<Vec<LogSource>, LogError> {
    let (sources, errors) = resolve_all_with(specs, limits);
    match errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(sources),
    }
}

/// Resolves every `--log` spec into sources, in the order given (see the module docs), going
/// on past a spec that fails: returns the sources of the specs that resolved and one error per
/// spec that did not (the errors of [`resolve`]).
///
/// A log named twice is read once, however it is spelt (`a.log`, `./a.log`, a symlink, a
/// directory that holds it): sources are told apart by the canonical path of the file (of the
/// archive plus the entry name, for a zip entry); the first spelling names it.
pub fn resolve_all(specs: &[String]) -> (Vec<LogSource>, Vec<LogError>) {
    resolve_all_with(specs, &ZipLimits::default())
}

/// [`resolve_all`] with these zip caps ([`ZipLimits`]); an archive over them is one
/// [`LogError::ZipLimit`] and none of its entries is read.
pub fn resolve_all_with(specs: &[String], limits: &ZipLimits) -> (Vec<LogSource>, Vec<LogError>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for spec in specs {
        let found = match resolve_spec(spec, limits) {
            Ok(found) => found,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        for s in found {
            if seen.insert(identity(&s.origin)) {
                out.push(s);
            }
        }
    }
    (out, errors)
}

/// The sources of one spec. Errors: those of [`resolve`].
fn resolve_spec(spec: &str, limits: &ZipLimits) -> Result<Vec<LogSource>, LogError> {
    let mut found = Vec::new();
    for path in expand_spec(spec)? {
        expand_file(&path, limits, &mut found)?;
    }
    if found.is_empty() {
        return Err(LogError::NotFound {
            spec: spec.to_string(),
        });
    }
    Ok(found)
}

/// What makes two sources the same log: the canonical path of the file (the path as given
/// when it cannot be canonicalised), and the entry name for a zip entry.
fn identity(origin: &Origin) -> (PathBuf, Option<String>) {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    match origin {
        Origin::File(p) => (canonical(p), None),
        Origin::ZipEntry { archive, entry, .. } => (canonical(archive), Some(entry.clone())),
    }
}

/// Expands one spec (file, directory or glob) into the files it names, sorted by path within a
/// directory or glob. No zip expansion. An empty result is not an error here.
///
/// Errors: [`LogError::Glob`], [`LogError::Walk`].
pub fn expand_spec(spec: &str) -> Result<Vec<PathBuf>, LogError> {
    let path = Path::new(spec);
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if path.is_dir() {
        return walk_files(path, usize::MAX, |_| true);
    }
    if path.exists() {
        // A FIFO, socket or device: named so that opening it refuses it with a clear error
        // (it is never read: it could block forever or never end).
        return Ok(vec![path.to_path_buf()]);
    }
    if !spec.contains(['*', '?', '[', '{']) {
        return Ok(Vec::new());
    }
    let glob = GlobBuilder::new(spec)
        .literal_separator(true)
        .build()
        .map_err(|source| LogError::Glob {
            spec: spec.to_string(),
            source,
        })?
        .compile_matcher();
    // The literal directory prefix: components before the first one with a glob character.
    let mut base = PathBuf::new();
    let mut rest = Vec::new();
    for comp in spec.split('/') {
        if rest.is_empty() && !comp.contains(['*', '?', '[', '{']) {
            if comp.is_empty() && base.as_os_str().is_empty() {
                base.push("/");
            } else {
                base.push(comp);
            }
        } else {
            rest.push(comp);
        }
    }
    // The last literal component may be a file name only when nothing follows; here something
    // always follows (the spec has a glob character), so `base` is a directory.
    let max_depth = if rest.contains(&"**") || rest.iter().any(|c| c.contains("**")) {
        usize::MAX
    } else {
        rest.len()
    };
    let (walk_root, strip_dot) = if base.as_os_str().is_empty() {
        (PathBuf::from("."), true)
    } else {
        (base, false)
    };
    if !walk_root.is_dir() {
        return Ok(Vec::new());
    }
    walk_files(&walk_root, max_depth, |p| {
        let candidate = if strip_dot {
            p.strip_prefix(".").unwrap_or(p)
        } else {
            p
        };
        glob.is_match(candidate)
    })
    .map(|files| {
        files
            .into_iter()
            .map(|p| {
                if strip_dot {
                    p.strip_prefix(".").map(Path::to_path_buf).unwrap_or(p)
                } else {
                    p
                }
            })
            .collect()
    })
}

/// Files under `root` (depth ≤ `max_depth`), sorted by path, for which `keep` holds.
fn walk_files(
    root: &Path,
    max_depth: usize,
    keep: impl Fn(&Path) -> bool,
) -> Result<Vec<PathBuf>, LogError> {
    let mut out = Vec::new();
    for entry in WalkDir::new(root)
        .follow_links(false)
        .max_depth(max_depth)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|source| LogError::Walk {
            path: source.path().unwrap_or(root).display().to_string(),
            source,
        })?;
        if entry.file_type().is_file() && keep(entry.path()) {
            out.push(entry.into_path());
        }
    }
    Ok(out)
}

/// Adds the sources of one file: itself, or its entries when it is a zip.
fn expand_file(path: &Path, limits: &ZipLimits, out: &mut Vec<LogSource>) -> Result<(), LogError> {
    let io_err = |source| LogError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut f = open_input(path).map_err(io_err)?;
    let mut magic = [0u8; 4];
    let mut n = 0;
    while n < 4 {
        match read_some(&mut f, &mut magic[n..]).map_err(io_err)? {
            0 => break,
            k => n += k,
        }
    }
    if n == 4 && (&magic == b"PK\x03\x04" || &magic == b"PK\x05\x06") {
        f.seek(SeekFrom::Start(0)).map_err(io_err)?;
        zip_sources(path, f, limits, out)
    } else {
        out.push(LogSource::file(
            path.to_path_buf(),
            path.display().to_string(),
        ));
        Ok(())
    }
}

/// What a zip entry name means in GitHub's run-log layout.
#[derive(Debug, PartialEq, Eq)]
enum EntryKind {
    /// `<N>_<job>.txt`.
    Job { order: u64, job: String },
    /// `<job>/<step#>_<step>.txt`.
    Step {
        job: String,
        order: u64,
        step: String,
    },
    /// Anything else.
    Other,
}

/// Splits `12_name.txt` into `(12, "name")`.
fn numbered_txt(s: &str) -> Option<(u64, &str)> {
    let stem = s.strip_suffix(".txt")?;
    let (num, name) = stem.split_once('_')?;
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) || name.is_empty() {
        return None;
    }
    Some((num.parse().ok()?, name))
}

fn classify_entry(name: &str) -> EntryKind {
    match name.split_once('/') {
        None => match numbered_txt(name) {
            Some((order, job)) => EntryKind::Job {
                order,
                job: job.to_string(),
            },
            None => EntryKind::Other,
        },
        Some((job, file)) if !matches!(job, "" | "." | "..") && !file.contains('/') => {
            match numbered_txt(file) {
                Some((order, step)) => EntryKind::Step {
                    job: job.to_string(),
                    order,
                    step: step.to_string(),
                },
                None => EntryKind::Other,
            }
        }
        Some(_) => EntryKind::Other,
    }
}

/// Replaces control characters so an untrusted entry name stays one printable line.
fn display_entry(entry: &str) -> String {
    entry
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn zip_sources(
    path: &Path,
    file: File,
    limits: &ZipLimits,
    out_all: &mut Vec<LogSource>,
) -> Result<(), LogError> {
    let zip_err = |source| LogError::Zip {
        path: path.display().to_string(),
        source,
    };
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(zip_err)?;
    let mut jobs: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut steps: Vec<(String, u64, String, String)> = Vec::new();
    let mut others: Vec<String> = Vec::new();
    for entry in archive.file_names() {
        if entry.ends_with('/') {
            continue;
        }
        match classify_entry(entry) {
            EntryKind::Job { order, job } => {
                // With duplicate job names, keep the first-numbered file (deterministic).
                let slot = jobs.entry(job).or_insert((order, entry.to_string()));
                if (order, entry) < (slot.0, slot.1.as_str()) {
                    *slot = (order, entry.to_string());
                }
            }
            EntryKind::Step { job, order, step } => {
                steps.push((job, order, step, entry.to_string()));
            }
            EntryKind::Other => others.push(entry.to_string()),
        }
    }
    let mut source = |entry: &str, job: Option<String>, step: Option<String>| {
        let name = format!("{}!{}", path.display(), display_entry(entry));
        // An entry that cannot be located now is looked up again when opened, which then
        // reports why.
        let data = entry_data(&mut archive, entry, &name).ok();
        LogSource {
            name,
            origin: Origin::ZipEntry {
                archive: path.to_path_buf(),
                entry: entry.to_string(),
                data,
            },
            job,
            step,
        }
    };
    let mut found = Vec::new();
    let out = &mut found;
    let mut job_files: Vec<(&String, &(u64, String))> = jobs.iter().collect();
    job_files.sort_by(|a, b| (a.1 .0, a.0).cmp(&(b.1 .0, b.0)));
    for (job, (_, entry)) in job_files {
        out.push(source(entry, Some(display_entry(job)), None));
    }
    steps.retain(|(job, ..)| !jobs.contains_key(job));
    steps.sort();
    for (job, _, step, entry) in steps {
        out.push(source(
            &entry,
            Some(display_entry(&job)),
            Some(display_entry(&step)),
        ));
    }
    others.sort();
    for entry in others {
        out.push(source(&entry, None, None));
    }
    check_zip_limits(path, &found, limits)?;
    out_all.append(&mut found);
    Ok(())
}

/// Refuses an archive whose entries to read would unpack past `limits` (their recorded sizes;
/// see [`ZipLimits`]).
fn check_zip_limits(path: &Path, found: &[LogSource], limits: &ZipLimits) -> Result<(), LogError> {
    let err = |reason: String| LogError::ZipLimit {
        path: path.display().to_string(),
        reason,
    };
    let mut total: u64 = 0;
    for s in found {
        let Origin::ZipEntry { data: Some(d), .. } = &s.origin else {
            continue;
        };
        total = total.saturating_add(d.size);
        if total > limits.max_unpacked_bytes {
            return Err(err(format!(
                "would unpack to more than {} bytes (the cap on a log zip's total unpacked size; raise it with --max-zip-bytes)",
                limits.max_unpacked_bytes
            )));
        }
        if d.size > ZIP_RATIO_MIN_BYTES && d.size / d.compressed_size.max(1) > limits.max_ratio {
            return Err(err(format!(
                "has entry {} compressed {}:1 ({} bytes from {}), over the {}:1 cap on the compression ratio (a zip bomb?; raise it with --max-zip-ratio)",
                s.name,
                d.size / d.compressed_size.max(1),
                d.size,
                d.compressed_size,
                limits.max_ratio
            )));
        }
    }
    Ok(())
}

/// The position and shape of a zip entry's data inside its archive (from the archive's central
/// directory, APPNOTE 4.3.12; `data_start` from its local header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZipEntryData {
    /// Offset of the entry's (compressed) data in the archive, in bytes.
    pub data_start: u64,
    /// Length of the compressed data, in bytes.
    pub compressed_size: u64,
    /// Length of the data once decompressed, in bytes.
    pub size: u64,
    /// CRC-32 of the decompressed data.
    pub crc32: u32,
    /// How the data is compressed.
    pub method: zip::CompressionMethod,
}

fn locate_entry(archive: &Path, entry: &str, name: &str) -> Result<ZipEntryData, LogError> {
    let file = open_input(archive).map_err(|source| LogError::Io {
        path: archive.display().to_string(),
        source,
    })?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|source| LogError::Zip {
        path: archive.display().to_string(),
        source,
    })?;
    entry_data(&mut zip, entry, name)
}

/// Where `entry` lies in an open archive. Errors: [`LogError::ZipEntry`] (no such entry, an
/// encrypted one, a broken header).
fn entry_data<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    entry: &str,
    name: &str,
) -> Result<ZipEntryData, LogError> {
    let entry_err = |reason: String| LogError::ZipEntry {
        name: name.to_string(),
        reason,
    };
    let index = zip
        .index_for_name(entry)
        .ok_or_else(|| entry_err("no such entry".into()))?;
    let f = zip
        .by_index_raw(index)
        .map_err(|e| entry_err(e.to_string()))?;
    if f.encrypted() {
        return Err(entry_err("the entry is encrypted".into()));
    }
    Ok(ZipEntryData {
        data_start: f.data_start(),
        compressed_size: f.compressed_size(),
        size: f.size(),
        crc32: f.crc32(),
        method: f.compression(),
    })
}

fn open_zip_entry(
    archive: &Path,
    entry: &str,
    data: Option<&ZipEntryData>,
    name: &str,
) -> Result<Box<dyn Read + Send>, LogError> {
    let data = match data {
        Some(d) => *d,
        None => locate_entry(archive, entry, name)?,
    };
    let io_err = |source| LogError::Io {
        path: archive.display().to_string(),
        source,
    };
    let mut file = open_input(archive).map_err(io_err)?;
    file.seek(SeekFrom::Start(data.data_start))
        .map_err(io_err)?;
    let raw = BufReader::with_capacity(64 * 1024, file.take(data.compressed_size));
    let inner: Box<dyn Read + Send> = match data.method {
        zip::CompressionMethod::Stored => Box::new(raw),
        zip::CompressionMethod::Deflated => Box::new(flate2::bufread::DeflateDecoder::new(raw)),
        other => {
            return Err(LogError::ZipEntry {
                name: name.to_string(),
                reason: format!("unsupported compression method {other}"),
            })
        }
    };
    Ok(Box::new(CheckedReader {
        inner,
        hasher: crc32fast::Hasher::new(),
        read: 0,
        expected_crc: data.crc32,
        expected_size: data.size,
        name: name.to_string(),
        done: false,
    }))
}

/// Streams an entry's decompressed bytes, checking CRC-32 and size at the end.
struct CheckedReader {
    inner: Box<dyn Read + Send>,
    hasher: crc32fast::Hasher,
    read: u64,
    expected_crc: u32,
    expected_size: u64,
    name: String,
    done: bool,
}

impl Read for CheckedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf).map_err(|e| {
            // A broken deflate stream says nothing of where it is: name the entry.
            io::Error::new(e.kind(), format!("zip entry {}: {e}", self.name))
        })?;
        if n == 0 {
            self.done = true;
            let crc = std::mem::take(&mut self.hasher).finalize();
            if self.read != self.expected_size || crc != self.expected_crc {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "zip entry {} is corrupted ({} bytes, crc32 {crc:08x}; expected {} bytes, crc32 {:08x})",
                        self.name, self.read, self.expected_size, self.expected_crc
                    ),
                ));
            }
            return Ok(0);
        }
        self.read += n as u64;
        if self.read > self.expected_size {
            self.done = true;
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "zip entry {} is longer than its recorded size of {} bytes",
                    self.name, self.expected_size
                ),
            ));
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_follow_github_layout() {
        assert_eq!(
            classify_entry("3_build (ubuntu-latest).txt"),
            EntryKind::Job {
                order: 3,
                job: "build (ubuntu-latest)".into()
            }
        );
        assert_eq!(
            classify_entry("build/12_Run npm test.txt"),
            EntryKind::Step {
                job: "build".into(),
                order: 12,
                step: "Run npm test".into()
            }
        );
        assert_eq!(classify_entry("build/system.txt"), EntryKind::Other);
        assert_eq!(classify_entry("../1_x.txt"), EntryKind::Other);
        assert_eq!(classify_entry("/1_x.txt"), EntryKind::Other);
        assert_eq!(classify_entry("x_1.txt"), EntryKind::Other);
        assert_eq!(classify_entry("_x.txt"), EntryKind::Other);
    }

    #[test]
    fn display_entry_removes_control_characters() {
        assert_eq!(display_entry("a\nb\r\x1b[0m.txt"), "a?b??[0m.txt");
    }
}
