//! Applying instructions: every edit is computed in memory against the working tree and
//! checked by the guard (paths, scope, file system, content, size) before anything is
//! written. Writing (for validation) and restoring the working tree are separate steps.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::artifact::{AppliedInstruction, Edit, GuardDecision, Instruction, Refusal};
use crate::policy::fix_agent::{FixAgentPolicy, OnRefusal, TestWeakening};

use super::diff::{changed_lines, file_diff, FileDiff};
use super::guard::{check_added_text, check_test_weakening};
use super::path::{check_on_disk, submodule_paths, verify_path, OnDisk};
use super::udiff;
use super::FixError;

/// The largest file an edit may change: 2 MiB.
pub const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;

/// A file as the edits see it.
#[derive(Debug, Clone)]
struct Entry {
    original: Option<String>,
    mode: u32,
    current: Option<String>,
}

/// One changed file of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedFile {
    /// The path, relative, `/`-separated.
    pub path: String,
    /// Whether the file exists before the patch (`false`: created).
    pub existed: bool,
    /// The content after (`None`: deleted).
    pub new: Option<String>,
    /// The old file's git mode (`0o644` or `0o755`).
    pub mode: u32,
}

/// The result of checking and applying instructions in memory.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The guard's decision.
    pub decision: GuardDecision,
    /// Changed files, by path (empty when rejected).
    pub files: Vec<ChangedFile>,
    /// Their diffs, by path (the would-be patch, also when rejected, for the counts).
    pub diffs: Vec<FileDiff>,
    /// The patch text: the diffs concatenated, empty unless accepted.
    pub patch: String,
    /// Refused edits and patch-wide cap violations.
    pub refused: Vec<Refusal>,
    /// Edits applied but flagged (test weakening under `flag`).
    pub flagged: Vec<Refusal>,
    /// Instructions that contributed, with their files.
    pub applied: Vec<AppliedInstruction>,
    /// Files changed, lines added and removed by the would-be patch.
    pub files_changed: u32,
    /// Lines added.
    pub lines_added: u32,
    /// Lines removed.
    pub lines_removed: u32,
}

/// Shows an untrusted path in a refusal: control characters escaped, at most 200 chars.
pub fn shown_path(p: &str) -> String {
    let s: String = p.chars().take(200).flat_map(char::escape_debug).collect();
    if p.chars().count() > 200 {
        format!("{s}…")
    } else {
        s
    }
}

struct Planner<'a> {
    repo: &'a Path,
    policy: &'a FixAgentPolicy,
    submodules: Vec<String>,
    files: BTreeMap<String, Entry>,
}

type Reject = (String, &'static str, String);
/// (path, content before, content after) for each file one edit touches.
type Change = (String, Option<String>, Option<String>);

impl Planner<'_> {
    /// Loads (once) and guards `path`; the error is (path, code, reason).
    fn entry(&mut self, path: &str) -> Result<&mut Entry, Reject> {
        let r = |code, reason: String| (shown_path(path), code, reason);
        let p = verify_path(path).map_err(|e| r(e.code, e.reason))?;
        if !self.files.contains_key(p) {
            if let Some(s) = self
                .submodules
                .iter()
                .find(|s| p == s.as_str() || p.starts_with(&format!("{s}/")))
            {
                return Err(r("submodule", format!("`{s}` is a submodule")));
            }
            self.policy
                .check_scope(p)
                .map_err(|d| r(scope_code(&d), d.to_string()))?;
            // A file created earlier in these instructions is not a directory, and a path
            // with created files below it is not a file.
            for (k, e) in &self.files {
                if e.current.is_some() && p.starts_with(&format!("{k}/")) {
                    return Err(r("not_a_directory", format!("`{k}` is a file")));
                }
                if e.current.is_some() && k.starts_with(&format!("{p}/")) {
                    return Err(r("directory", format!("`{p}` is a directory")));
                }
            }
            let entry = match check_on_disk(self.repo, p).map_err(|e| r(e.code, e.reason))? {
                OnDisk::Missing => Entry {
                    original: None,
                    mode: 0o644,
                    current: None,
                },
                OnDisk::File { mode, bytes } => {
                    if bytes > MAX_FILE_BYTES {
                        return Err(r(
                            "too_large",
                            format!("the file is {bytes} bytes, more than {MAX_FILE_BYTES}"),
                        ));
                    }
                    let data = std::fs::read(self.repo.join(p))
                        .map_err(|e| r("io_error", format!("cannot read it: {e}")))?;
                    if data.contains(&0) {
                        return Err(r("binary", "the file is binary (it has NUL bytes)".into()));
                    }
                    let text = String::from_utf8(data)
                        .map_err(|_| r("binary", "the file is not valid UTF-8".into()))?;
                    Entry {
                        original: Some(text.clone()),
                        mode,
                        current: Some(text),
                    }
                }
            };
            self.files.insert(p.to_string(), entry);
        }
        match self.files.get_mut(p) {
            Some(e) => Ok(e),
            None => Err(r("io_error", "internal: entry vanished".into())),
        }
    }

    /// Computes the new content of every file one edit touches: (path, before, after).
    fn compute(&mut self, edit: &Edit) -> Result<Vec<Change>, Reject> {
        match edit {
            Edit::Replace {
                path,
                find,
                replace,
                count,
            } => {
                let e = self.entry(path)?;
                let r = |code, reason: String| (shown_path(path), code, reason);
                let cur = e
                    .current
                    .clone()
                    .ok_or_else(|| r("missing_file", "the file does not exist".into()))?;
                if find.is_empty() {
                    return Err(r("find_count", "`find` is empty".into()));
                }
                let found = cur.matches(find.as_str()).count();
                if found != *count as usize || *count == 0 {
                    return Err(r(
                        "find_count",
                        format!("`find` occurs {found} time(s), the edit says {count}; nothing is replaced loosely"),
                    ));
                }
                let new = cur.replace(find.as_str(), replace);
                Ok(vec![(path.clone(), Some(cur), Some(new))])
            }
            Edit::ReplaceLines {
                path,
                start_line,
                end_line,
                expected,
                replacement,
            } => {
                let e = self.entry(path)?;
                let r = |code, reason: String| (shown_path(path), code, reason);
                let cur = e
                    .current
                    .clone()
                    .ok_or_else(|| r("missing_file", "the file does not exist".into()))?;
                let lines: Vec<&str> = cur.split_inclusive('\n').collect();
                let (s, en) = (*start_line as usize, *end_line as usize);
                if s == 0 || en < s || en > lines.len() {
                    return Err(r(
                        "line_range",
                        format!(
                            "lines {s}..{en} are not inside the file's {} lines",
                            lines.len()
                        ),
                    ));
                }
                let strip = |l: &str| l.trim_end_matches('\n').trim_end_matches('\r').to_string();
                let actual: Vec<String> = lines[s - 1..en].iter().map(|l| strip(l)).collect();
                if actual.join("\n") != *expected {
                    return Err(r(
                        "expected_mismatch",
                        format!("lines {s}..{en} do not have the expected text"),
                    ));
                }
                let eol = if lines[s - 1].ends_with("\r\n") {
                    "\r\n"
                } else {
                    "\n"
                };
                let last_term = if lines[en - 1].ends_with('\n') {
                    eol
                } else {
                    ""
                };
                let mut new = String::with_capacity(cur.len() + replacement.len());
                for l in &lines[..s - 1] {
                    new.push_str(l);
                }
                if !replacement.is_empty() {
                    let body: Vec<&str> = replacement.split('\n').collect();
                    new.push_str(&body.join(eol));
                    new.push_str(last_term);
                }
                for l in &lines[en..] {
                    new.push_str(l);
                }
                Ok(vec![(path.clone(), Some(cur), Some(new))])
            }
            Edit::Create { path, content } => {
                let e = self.entry(path)?;
                if e.current.is_some() {
                    return Err((shown_path(path), "exists", "the file already exists".into()));
                }
                Ok(vec![(path.clone(), None, Some(content.clone()))])
            }
            Edit::Delete { path } => {
                let e = self.entry(path)?;
                let cur = e.current.clone().ok_or_else(|| {
                    (
                        shown_path(path),
                        "missing_file",
                        "the file does not exist".to_string(),
                    )
                })?;
                Ok(vec![(path.clone(), Some(cur), None)])
            }
            Edit::Patch { diff } => {
                let sections = udiff::parse_sections(diff).map_err(diff_reject)?;
                let mut out: Vec<Change> = Vec::new();
                let mut seen: Vec<String> = Vec::new();
                for fp in &sections {
                    let path = fp.path().to_string();
                    // Every path a section touches is guarded, a rename's source too, and
                    // none may appear in two sections.
                    for p in fp.paths() {
                        if seen.iter().any(|s| s == p) {
                            return Err((
                                shown_path(p),
                                "malformed_patch",
                                format!("line {}: the diff names the file twice", fp.line),
                            ));
                        }
                        seen.push(p.to_string());
                        self.entry(p)?;
                    }
                    fp.check_plain_text().map_err(diff_reject)?;
                    let e = self.entry(&path)?;
                    let mode = 0o100000 | e.mode;
                    for (what, m) in [("index", fp.index_mode), ("deleted file mode", fp.old_mode)]
                    {
                        if let Some(m) = m.filter(|m| *m != mode) {
                            return Err((
                                shown_path(&path),
                                "mode_change",
                                format!(
                                    "line {}: the `{what}` line says mode {m:o}, the file's mode is {mode:o}",
                                    fp.line
                                ),
                            ));
                        }
                    }
                    let before = e.current.clone();
                    let after = udiff::apply(before.as_deref(), fp).map_err(diff_reject)?;
                    out.push((path, before, after));
                }
                Ok(out)
            }
        }
    }
}

/// A diff refusal as a guard refusal: it names the file of the section, `(diff)` only when
/// the problem is outside every section.
fn diff_reject(e: udiff::DiffRefusal) -> Reject {
    let path = e
        .path
        .as_deref()
        .map(shown_path)
        .unwrap_or_else(|| "(diff)".to_string());
    (path, e.code, e.reason)
}

fn scope_code(d: &crate::policy::fix_agent::ScopeDenial) -> &'static str {
    use crate::policy::fix_agent::ScopeDenial::*;
    match d {
        NotAllowed => "not_allowed",
        Denied(_) => "denied",
        Builtin(..) => "denied_builtin",
    }
}

/// Checks and applies `instructions` in memory against the working tree at `repo` (read
/// only) under `policy`. Never writes; never fails: problems become refusals.
pub fn plan(instructions: &[Instruction], repo: &Path, policy: &FixAgentPolicy) -> Plan {
    let mut pl = Planner {
        repo,
        policy,
        submodules: submodule_paths(repo),
        files: BTreeMap::new(),
    };
    let mut refused = Vec::new();
    let mut flagged = Vec::new();
    let mut applied = Vec::new();
    for (ii, ins) in instructions.iter().enumerate() {
        let mut touched: Vec<String> = Vec::new();
        for (ei, edit) in ins.edits.iter().enumerate() {
            let refusal = |(path, code, reason): Reject| Refusal {
                instruction: Some(ii),
                edit: Some(ei),
                path,
                code: code.to_string(),
                reason,
            };
            let changes = match pl.compute(edit) {
                Ok(c) => c,
                Err(rej) => {
                    refused.push(refusal(rej));
                    continue;
                }
            };
            let mut problem = None;
            let mut flags = Vec::new();
            for (path, before, after) in &changes {
                let (added, removed) = changed_lines(
                    before.as_deref().unwrap_or(""),
                    after.as_deref().unwrap_or(""),
                );
                if let Err(c) = check_added_text(&added) {
                    problem = Some((shown_path(path), c.code, c.reason));
                    break;
                }
                if let Err(c) = check_test_weakening(&added, &removed) {
                    match policy.test_weakening {
                        TestWeakening::Refuse => {
                            problem = Some((shown_path(path), c.code, c.reason));
                            break;
                        }
                        TestWeakening::Flag => {
                            flags.push(refusal((shown_path(path), c.code, c.reason)))
                        }
                    }
                }
            }
            if let Some(p) = problem {
                refused.push(refusal(p));
                continue;
            }
            flagged.extend(flags);
            for (path, _, after) in changes {
                if let Some(e) = pl.files.get_mut(&path) {
                    e.current = after;
                }
                if !touched.contains(&path) {
                    touched.push(path);
                }
            }
        }
        if !touched.is_empty() {
            applied.push(AppliedInstruction {
                source: ins.source.clone().unwrap_or_else(|| "unknown".into()),
                summary: ins.summary.clone(),
                files: touched,
            });
        }
    }
    let mut files = Vec::new();
    let mut diffs = Vec::new();
    for (path, e) in &pl.files {
        if e.original == e.current {
            continue;
        }
        let d = file_diff(path, e.original.as_deref(), e.current.as_deref(), e.mode);
        if d.text.is_empty() {
            continue;
        }
        diffs.push(d);
        files.push(ChangedFile {
            path: path.clone(),
            existed: e.original.is_some(),
            new: e.current.clone(),
            mode: e.mode,
        });
    }
    let lines_added: u32 = diffs.iter().map(|d| d.added).fold(0, u32::saturating_add);
    let lines_removed: u32 = diffs.iter().map(|d| d.removed).fold(0, u32::saturating_add);
    let files_changed = u32::try_from(diffs.len()).unwrap_or(u32::MAX);
    let patch: String = diffs.iter().map(|d| d.text.as_str()).collect();
    let cap = |code: &str, reason: String| Refusal {
        instruction: None,
        edit: None,
        path: "*".into(),
        code: code.into(),
        reason,
    };
    if files_changed > policy.max_files {
        refused.push(cap(
            "max_files",
            format!(
                "the patch changes {files_changed} files, more than max-files {}",
                policy.max_files
            ),
        ));
    }
    let changed = lines_added.saturating_add(lines_removed);
    if changed > policy.max_changed_lines {
        refused.push(cap(
            "max_changed_lines",
            format!(
                "the patch changes {changed} lines, more than max-changed-lines {}",
                policy.max_changed_lines
            ),
        ));
    }
    if patch.len() as u64 > policy.max_patch_bytes {
        refused.push(cap(
            "max_patch_bytes",
            format!(
                "the patch is {} bytes, more than max-patch-bytes {}",
                patch.len(),
                policy.max_patch_bytes
            ),
        ));
    }
    let caps_hit = refused.iter().any(|r| r.edit.is_none());
    let reject = caps_hit || (!refused.is_empty() && policy.on_refusal == OnRefusal::RejectPatch);
    let decision = if reject {
        GuardDecision::Rejected
    } else if files.is_empty() {
        GuardDecision::Empty
    } else {
        GuardDecision::Accepted
    };
    let accepted = decision == GuardDecision::Accepted;
    Plan {
        decision,
        files: if accepted { files } else { Vec::new() },
        diffs,
        patch: if accepted { patch } else { String::new() },
        refused,
        flagged,
        applied: if accepted { applied } else { Vec::new() },
        files_changed,
        lines_added,
        lines_removed,
    }
}

/// A plan written to the working tree; [`Written::restore`] (or dropping it) puts every file
/// back: the originals are renamed aside (same inode, bytes, mode and times) and renamed back.
#[derive(Debug)]
pub struct Written {
    repo: PathBuf,
    backup: Option<tempfile::TempDir>,
    undo: Vec<Undo>,
}

#[derive(Debug)]
enum Undo {
    /// Rename `backup` back to `path` (after removing what is at `path`).
    Rename { path: PathBuf, backup: PathBuf },
    /// Remove a created file.
    RemoveFile(PathBuf),
    /// Remove a created directory (if empty).
    RemoveDir(PathBuf),
}

fn io_err(path: &Path, e: std::io::Error) -> FixError {
    FixError::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

/// Writes the plan's files to the working tree at `repo`, re-checking each path on disk first.
/// On an error, what was written is restored before returning.
pub fn write_plan(repo: &Path, files: &[ChangedFile]) -> Result<Written, FixError> {
    let git_dir = repo.join(".git");
    let backup_parent = if git_dir.is_dir() && !git_dir.is_symlink() {
        git_dir
    } else {
        repo.to_path_buf()
    };
    let backup = tempfile::Builder::new()
        .prefix(".ci-remedy-orig-")
        .tempdir_in(&backup_parent)
        .map_err(|e| io_err(&backup_parent, e))?;
    let mut w = Written {
        repo: repo.to_path_buf(),
        backup: Some(backup),
        undo: Vec::new(),
    };
    for (i, f) in files.iter().enumerate() {
        if let Err(e) = w.write_one(i, f) {
            w.restore_inner();
            return Err(e);
        }
    }
    Ok(w)
}

impl Written {
    fn write_one(&mut self, i: usize, f: &ChangedFile) -> Result<(), FixError> {
        let target = self.repo.join(&f.path);
        let on_disk = check_on_disk(&self.repo, &f.path).map_err(|r| FixError::Guard {
            path: f.path.clone(),
            reason: r.reason,
        })?;
        match (f.existed, on_disk) {
            (true, OnDisk::File { .. }) | (false, OnDisk::Missing) => {}
            _ => {
                return Err(FixError::Guard {
                    path: f.path.clone(),
                    reason: "the file changed on disk while the patch was prepared".into(),
                })
            }
        }
        if f.existed {
            let backup_dir = self
                .backup
                .as_ref()
                .map(|b| b.path().to_path_buf())
                .unwrap_or_default();
            let backup = backup_dir.join(i.to_string());
            let perms = std::fs::symlink_metadata(&target)
                .map_err(|e| io_err(&target, e))?
                .permissions();
            std::fs::rename(&target, &backup).map_err(|e| io_err(&target, e))?;
            self.undo.push(Undo::Rename {
                path: target.clone(),
                backup,
            });
            if let Some(new) = &f.new {
                create_new(&target, new.as_bytes())?;
                std::fs::set_permissions(&target, perms).map_err(|e| io_err(&target, e))?;
            }
        } else if let Some(new) = &f.new {
            // Create missing parent directories, remembering them for the restore.
            let mut missing = Vec::new();
            let mut dir = target.parent().map(Path::to_path_buf);
            while let Some(d) = dir {
                if d == self.repo || d.symlink_metadata().is_ok() {
                    break;
                }
                missing.push(d.clone());
                dir = d.parent().map(Path::to_path_buf);
            }
            for d in missing.into_iter().rev() {
                std::fs::create_dir(&d).map_err(|e| io_err(&d, e))?;
                self.undo.push(Undo::RemoveDir(d));
            }
            create_new(&target, new.as_bytes())?;
            self.undo.push(Undo::RemoveFile(target));
        }
        Ok(())
    }

    fn restore_inner(&mut self) -> Vec<FixError> {
        let mut errors = Vec::new();
        while let Some(u) = self.undo.pop() {
            let r = match &u {
                Undo::Rename { path, backup } => {
                    match std::fs::remove_file(path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            errors.push(io_err(path, e));
                        }
                    }
                    std::fs::rename(backup, path).map_err(|e| io_err(path, e))
                }
                Undo::RemoveFile(p) => match std::fs::remove_file(p) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(p, e)),
                    _ => Ok(()),
                },
                Undo::RemoveDir(p) => {
                    // Only if empty: the validation command may have written into it.
                    let _ = std::fs::remove_dir(p);
                    Ok(())
                }
            };
            if let Err(e) = r {
                errors.push(e);
            }
        }
        if let Some(b) = self.backup.take() {
            let _ = b.close();
        }
        errors
    }

    /// Restores the working tree.
    ///
    /// Errors: [`FixError::Restore`] with one error per path that could not be restored (every
    /// other path is still restored).
    pub fn restore(mut self) -> Result<(), FixError> {
        let errors = self.restore_inner();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(FixError::Restore(errors))
        }
    }

    /// Leaves the patched files in place (`--keep`).
    pub fn keep(mut self) {
        self.undo.clear();
        if let Some(b) = self.backup.take() {
            let _ = b.close();
        }
    }
}

impl Drop for Written {
    fn drop(&mut self) {
        let _ = self.restore_inner();
    }
}

fn create_new(path: &Path, bytes: &[u8]) -> Result<(), FixError> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| io_err(path, e))?;
    f.write_all(bytes).map_err(|e| io_err(path, e))
}
