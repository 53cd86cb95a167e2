//! Reading the unified diffs of `patch` edits and downloaded patches (untrusted) and applying
//! them strictly.
//!
//! The grammar is git's own (`git help diff`, "generating patches with -p", and the parser in
//! git's `apply.c`), read so that what is accepted here is exactly what `git apply` acts on:
//!
//! - a **git section** starts with `diff --git a/<old> b/<new>`, followed by extended header
//!   lines (`old mode`, `new mode`, `deleted file mode`, `new file mode`, `copy from`/`copy to`,
//!   `rename from`/`rename to` (and the older `rename old`/`rename new`), `similarity index`,
//!   `dissimilarity index`, `index <hex>..<hex>[ <mode>]`), then either nothing (a header-only
//!   section: an empty new file, a deletion of an empty file, a mode change, a pure rename or
//!   copy), a binary marker (`Binary files … differ`, `Files … differ`, `GIT binary patch`),
//!   or `--- a/<old>` / `+++ b/<new>` and hunks;
//! - a **traditional section** is `--- a/<path>` / `+++ b/<path>` followed by hunks;
//! - names are either bare (no space, no tab) or C-quoted (`"a/d\303\251.txt"`: `\a \b \f \n
//!   \r \t \v \\ \"` and three-digit octal escapes, git's `unquote_c_style`), and must be valid
//!   UTF-8 once unquoted;
//! - blank lines between sections are allowed (git skips them); any other text outside a
//!   section, any header line git would not read the same way (a tab in a name, a carriage
//!   return, `---`/`+++` names that disagree with the `diff --git` line, a hunk header whose
//!   new start line disagrees with its old one), refuses the whole diff.
//!
//! [`parse_sections`] returns every section, whatever it does; [`FilePatch::check_plain_text`]
//! refuses what the guard does not apply (mode changes, renames, copies, symlinks, submodules,
//! executables); [`apply`] applies hunks exactly at the line they name (no offset, no fuzz).

/// A refusal while reading or applying a diff: a code, the file it concerns and a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffRefusal {
    /// `malformed_patch`, `mode_change`, `rename`, `binary`, `hunk_mismatch`,
    /// `unusual_character` …
    pub code: &'static str,
    /// The file of the section the problem is in (as the diff names it, unquoted), `None` when
    /// the problem is outside every section (text before the first file header).
    pub path: Option<String>,
    /// Why, with the 1-based line of the diff where it applies.
    pub reason: String,
}

fn refuse(code: &'static str, path: Option<&str>, reason: impl Into<String>) -> DiffRefusal {
    DiffRefusal {
        code,
        path: path.map(str::to_string),
        reason: reason.into(),
    }
}

/// What a section does to its file(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionKind {
    /// Changes an existing file in place (`old` = `new`).
    Modify,
    /// Creates `new` (`old` is `None`).
    Create,
    /// Deletes `old` (`new` is `None`).
    Delete,
    /// Renames `old` to `new` (`rename from` / `rename to`).
    Rename,
    /// Copies `old` to `new` (`copy from` / `copy to`).
    Copy,
}

/// One file's section of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePatch {
    /// The old path without `a/`, `None` for a new file.
    pub old: Option<String>,
    /// The new path without `b/`, `None` for a deletion.
    pub new: Option<String>,
    /// What the section does.
    pub kind: SectionKind,
    /// `old mode` (or `deleted file mode`), as an octal number (`0o100644`).
    pub old_mode: Option<u32>,
    /// `new mode` (or `new file mode`), as an octal number.
    pub new_mode: Option<u32>,
    /// True when the section has `old mode`/`new mode` lines (a mode change).
    pub mode_lines: bool,
    /// The mode on the `index` line, when it has one (git sets the file's mode from it).
    pub index_mode: Option<u32>,
    /// True for a `diff --git` section, false for a traditional `---`/`+++` one.
    pub git: bool,
    /// The 1-based line of the diff where the section starts.
    pub line: usize,
    /// The hunks in order.
    pub hunks: Vec<Hunk>,
}

impl FilePatch {
    /// The path the section is about (new, else old).
    pub fn path(&self) -> &str {
        self.new.as_deref().or(self.old.as_deref()).unwrap_or("")
    }

    /// Every path the section touches: old and new, once each (a rename's source and target).
    pub fn paths(&self) -> Vec<&str> {
        let mut v: Vec<&str> = Vec::new();
        for p in [self.old.as_deref(), self.new.as_deref()]
            .into_iter()
            .flatten()
        {
            if !v.contains(&p) {
                v.push(p);
            }
        }
        v
    }

    /// Lines added and removed by the hunks.
    pub fn counts(&self) -> (u64, u64) {
        let mut c = (0u64, 0u64);
        for h in &self.hunks {
            for (tag, _) in &h.lines {
                match tag {
                    '+' => c.0 += 1,
                    '-' => c.1 += 1,
                    _ => {}
                }
            }
        }
        c
    }

    /// Refuses what the guard does not apply: renames and copies (`rename`), mode changes,
    /// new files with a mode other than 100644 (`mode_change`), and deletions or `index` lines
    /// with a mode other than 100644 or 100755 (`file_type`). The reason names the file.
    pub fn check_plain_text(&self) -> Result<(), DiffRefusal> {
        let p = Some(self.path());
        let at = self.line;
        match self.kind {
            SectionKind::Rename | SectionKind::Copy => {
                let what = if self.kind == SectionKind::Rename {
                    "renames"
                } else {
                    "copies"
                };
                return Err(refuse(
                    "rename",
                    p,
                    format!(
                        "line {at}: the section {what} {} to {} (only plain text changes are accepted)",
                        self.old.as_deref().unwrap_or(""),
                        self.new.as_deref().unwrap_or("")
                    ),
                ));
            }
            _ => {}
        }
        if self.mode_lines {
            return Err(refuse(
                "mode_change",
                p,
                format!(
                    "line {at}: the section changes the file mode from {:o} to {:o} (only plain text changes are accepted)",
                    self.old_mode.unwrap_or(0),
                    self.new_mode.unwrap_or(0)
                ),
            ));
        }
        if self.kind == SectionKind::Create && self.new_mode != Some(0o100644) {
            return Err(refuse(
                "mode_change",
                p,
                format!(
                    "line {at}: new file mode {:o} ({}; only 100644 is accepted)",
                    self.new_mode.unwrap_or(0),
                    mode_name(self.new_mode.unwrap_or(0))
                ),
            ));
        }
        for (what, m) in [
            ("deleted file mode", self.old_mode),
            ("index", self.index_mode),
        ] {
            if let Some(m) = m {
                if (what == "index" || self.kind == SectionKind::Delete)
                    && !matches!(m, 0o100644 | 0o100755)
                {
                    return Err(refuse(
                        "file_type",
                        p,
                        format!(
                            "line {at}: `{what}` mode {m:o} ({}; only regular files are changed)",
                            mode_name(m)
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn mode_name(m: u32) -> &'static str {
    match m {
        0o100644 => "a regular file",
        0o100755 => "an executable file",
        0o120000 => "a symbolic link",
        0o160000 => "a submodule",
        0o040000 => "a directory",
        _ => "not a mode git writes",
    }
}

/// One hunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    /// Old start line (1-based; with an empty old range, the line after which the new lines
    /// go, 0 at the top of the file).
    pub old_start: usize,
    /// Old line count.
    pub old_len: usize,
    /// New start line (same convention as `old_start`).
    pub new_start: usize,
    /// New line count.
    pub new_len: usize,
    /// The lines: (`' '`, `'-'` or `'+'`, text including its `\n` unless it is the last line
    /// of a file without a final newline).
    pub lines: Vec<(char, String)>,
}

/// The most files one diff may touch.
pub const MAX_FILES_PER_DIFF: usize = 64;

/// Parses a unified diff and refuses every section that is not a plain text change
/// ([`FilePatch::check_plain_text`]). Errors name the file and the 1-based line.
pub fn parse(text: &str) -> Result<Vec<FilePatch>, DiffRefusal> {
    let files = parse_sections(text)?;
    for f in &files {
        f.check_plain_text()?;
    }
    Ok(files)
}

/// The text of a line without its `\n`; `None` when it has none (git reads no header or hunk
/// line without one).
fn body(line: &str) -> Option<&str> {
    line.strip_suffix('\n')
}

/// Undoes git's C-style quoting (`quote.c`, `unquote_c_style`): `s` starts with `"`. Returns
/// the bytes and the rest after the closing quote; `None` on a bad escape or no closing quote.
pub fn unquote_c(s: &str) -> Option<(Vec<u8>, &str)> {
    let b = s.as_bytes();
    if b.first() != Some(&b'"') {
        return None;
    }
    let mut out = Vec::new();
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'"' => return Some((out, &s[i + 1..])),
            b'\\' => {
                let c = *b.get(i + 1)?;
                i += 2;
                let v = match c {
                    b'a' => 7,
                    b'b' => 8,
                    b'f' => 12,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'v' => 11,
                    b'\\' | b'"' => c,
                    b'0'..=b'3' => {
                        let d1 = *b.get(i)?;
                        let d2 = *b.get(i + 1)?;
                        if !(b'0'..=b'7').contains(&d1) || !(b'0'..=b'7').contains(&d2) {
                            return None;
                        }
                        i += 2;
                        ((c - b'0') << 6) | ((d1 - b'0') << 3) | (d2 - b'0')
                    }
                    _ => return None,
                };
                out.push(v);
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    None
}

/// A name as the diff shows it, for messages: control characters escaped, at most 120 chars.
fn shown(s: &str) -> String {
    s.chars().take(120).flat_map(char::escape_debug).collect()
}

/// Reads one name token at the start of `s`: C-quoted, or bare up to the first space (or the
/// end when `to_end`). Returns the name and the rest.
fn name_token<'a>(
    s: &'a str,
    to_end: bool,
    line: usize,
    path: Option<&str>,
) -> Result<(String, &'a str), DiffRefusal> {
    if s.starts_with('"') {
        let (bytes, rest) = unquote_c(s).ok_or_else(|| {
            refuse(
                "malformed_patch",
                path,
                format!("line {line}: a badly quoted file name {:?}", shown(s)),
            )
        })?;
        let name = String::from_utf8(bytes).map_err(|_| {
            refuse(
                "unusual_character",
                path,
                format!(
                    "line {line}: the quoted file name {:?} is not UTF-8",
                    shown(s)
                ),
            )
        })?;
        return Ok((no_double_slash(&name, line, path)?, rest));
    }
    let end = if to_end {
        s.len()
    } else {
        s.find(' ').unwrap_or(s.len())
    };
    Ok((no_double_slash(&s[..end], line, path)?, &s[end..]))
}

/// Git squashes `//` in patch names (`squash_slash` in apply.c), so such a name is not the
/// path git acts on: refused.
fn no_double_slash(name: &str, line: usize, path: Option<&str>) -> Result<String, DiffRefusal> {
    if name.contains("//") {
        return Err(refuse(
            "malformed_patch",
            path,
            format!(
                "line {line}: the file name {:?} has an empty component (`//`), which git would read as another path",
                shown(name)
            ),
        ));
    }
    Ok(name.to_string())
}

/// A `---`/`+++` name: `/dev/null` (`None`) or `prefix` + a path. No tab (git ends some names
/// at a tab and keeps it in others), nothing after a closing quote.
fn header_name(
    raw: &str,
    prefix: &str,
    line: usize,
    path: Option<&str>,
) -> Result<Option<String>, DiffRefusal> {
    if raw.contains('\t') {
        return Err(refuse(
            "malformed_patch",
            path,
            format!(
                "line {line}: a tab in the file header {:?} (timestamps and tabs are refused)",
                shown(raw)
            ),
        ));
    }
    if raw == "/dev/null" {
        return Ok(None);
    }
    let (name, rest) = name_token(raw, true, line, path)?;
    if !rest.is_empty() {
        return Err(refuse(
            "malformed_patch",
            path,
            format!(
                "line {line}: text after the quoted file name {:?}",
                shown(raw)
            ),
        ));
    }
    match name.strip_prefix(prefix) {
        Some(p) if !p.is_empty() => Ok(Some(p.to_string())),
        _ => Err(refuse(
            "malformed_patch",
            path,
            format!(
                "line {line}: file name {:?} lacks the `{prefix}` prefix",
                shown(&name)
            ),
        )),
    }
}

/// Parses every section of a unified diff (git and traditional; see the module docs) without
/// judging what the sections do. Errors name the file of the section and the 1-based line.
pub fn parse_sections(text: &str) -> Result<Vec<FilePatch>, DiffRefusal> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut i = 0;
    let mut files: Vec<FilePatch> = Vec::new();
    while i < lines.len() {
        let line = lines[i];
        if line == "\n" {
            i += 1;
            continue;
        }
        let (fp, next) = if line.starts_with("diff --git ") {
            git_section(&lines, i)?
        } else if line.starts_with("--- ") {
            traditional_section(&lines, i)?
        } else {
            let last = files.last().map(FilePatch::path);
            let reason = match last {
                Some(p) => format!(
                    "line {}: unexpected text {:?} after the section of {}",
                    i + 1,
                    shown(line.trim_end_matches('\n')),
                    shown(p)
                ),
                None => format!(
                    "line {}: unexpected text {:?} before the first file header",
                    i + 1,
                    shown(line.trim_end_matches('\n'))
                ),
            };
            return Err(refuse("malformed_patch", last, reason));
        };
        files.push(fp);
        if files.len() > MAX_FILES_PER_DIFF {
            return Err(refuse(
                "too_many_files",
                files.last().map(FilePatch::path),
                format!("the diff touches more than {MAX_FILES_PER_DIFF} files"),
            ));
        }
        i = next;
    }
    if files.is_empty() {
        return Err(refuse(
            "malformed_patch",
            None,
            "the diff has no file sections (`diff --git` or `---`/`+++` headers)",
        ));
    }
    Ok(files)
}

fn parse_mode(s: &str, line: usize, path: Option<&str>) -> Result<u32, DiffRefusal> {
    if s.is_empty() || s.len() > 7 || !s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(refuse(
            "malformed_patch",
            path,
            format!("line {line}: {:?} is not a file mode", shown(s)),
        ));
    }
    u32::from_str_radix(s, 8).map_err(|_| {
        refuse(
            "malformed_patch",
            path,
            format!("line {line}: {:?} is not a file mode", shown(s)),
        )
    })
}

#[derive(Default)]
struct GitHeader {
    old_mode: Option<u32>,
    new_mode: Option<u32>,
    deleted_mode: Option<u32>,
    new_file_mode: Option<u32>,
    copy_from: Option<String>,
    copy_to: Option<String>,
    rename_from: Option<String>,
    rename_to: Option<String>,
    index_mode: Option<u32>,
    seen: Vec<&'static str>,
}

fn git_section(lines: &[&str], at: usize) -> Result<(FilePatch, usize), DiffRefusal> {
    let n = at + 1;
    let head = body(lines[at]).ok_or_else(|| {
        refuse(
            "malformed_patch",
            None,
            format!("line {n}: the `diff --git` line has no newline"),
        )
    })?;
    if head.contains(['\r', '\t']) {
        return Err(refuse(
            "malformed_patch",
            None,
            format!("line {n}: a carriage return or tab in {:?}", shown(head)),
        ));
    }
    let rest = &head["diff --git ".len()..];
    let (a, rest) = name_token(rest, false, n, None)?;
    let b_raw = rest.strip_prefix(' ').ok_or_else(|| {
        refuse(
            "malformed_patch",
            None,
            format!("line {n}: {:?} does not name two files", shown(head)),
        )
    })?;
    let (b, rest) = name_token(b_raw, false, n, None)?;
    if !rest.is_empty() {
        return Err(refuse(
            "malformed_patch",
            None,
            format!(
                "line {n}: {:?} names more than two files (a name with a space must be quoted, and is refused)",
                shown(head)
            ),
        ));
    }
    let (Some(a), Some(b)) = (
        a.strip_prefix("a/").filter(|s| !s.is_empty()),
        b.strip_prefix("b/").filter(|s| !s.is_empty()),
    ) else {
        return Err(refuse(
            "malformed_patch",
            None,
            format!(
                "line {n}: {:?} lacks the `a/` and `b/` prefixes",
                shown(head)
            ),
        ));
    };
    let (a, b) = (a.to_string(), b.to_string());
    let path = Some(b.as_str());
    let bad =
        |line: usize, why: String| refuse("malformed_patch", path, format!("line {line}: {why}"));
    let mut h = GitHeader::default();
    let mut i = at + 1;
    let mut names: Option<(Option<String>, Option<String>)> = None;
    // Extended header lines, as git's `parse_git_diff_header` reads them.
    while let Some(raw) = lines.get(i) {
        let ln = i + 1;
        let Some(l) = body(raw) else {
            return Err(bad(ln, "the line has no newline".into()));
        };
        if l.starts_with("@@ -") {
            return Err(bad(ln, "a hunk without `---`/`+++` file names".into()));
        }
        if let Some(old) = l.strip_prefix("--- ") {
            let Some(new) = lines
                .get(i + 1)
                .and_then(|x| body(x))
                .and_then(|x| x.strip_prefix("+++ "))
            else {
                return Err(bad(ln, "`---` without `+++`".into()));
            };
            if old.contains('\r') || new.contains('\r') {
                return Err(bad(ln, "a carriage return in a file header".into()));
            }
            names = Some((
                header_name(old, "a/", ln, path)?,
                header_name(new, "b/", ln + 1, path)?,
            ));
            i += 2;
            if !lines.get(i).is_some_and(|x| x.starts_with("@@ -")) {
                return Err(bad(i + 1, "a `---`/`+++` header without hunks".into()));
            }
            break;
        }
        if l.starts_with("+++ ") {
            return Err(bad(ln, "`+++` without `---`".into()));
        }
        const KEYS: [&str; 15] = [
            "old mode ",
            "new mode ",
            "deleted file mode ",
            "new file mode ",
            "copy from ",
            "copy to ",
            "rename old ",
            "rename new ",
            "rename from ",
            "rename to ",
            "similarity index ",
            "dissimilarity index ",
            "index ",
            "GIT binary patch",
            "",
        ];
        let Some(key) = KEYS.iter().find(|k| l.starts_with(**k)).copied() else {
            break;
        };
        if key.is_empty() {
            // Not a header line: the header ends here (git's `gitdiff_unrecognized`).
            if (l.starts_with("Binary files ") || l.starts_with("Files ")) && l.ends_with(" differ")
            {
                return Err(refuse(
                    "binary",
                    path,
                    format!("line {ln}: a binary change (only text changes are accepted)"),
                ));
            }
            break;
        }
        if key == "GIT binary patch" {
            return Err(refuse(
                "binary",
                path,
                format!("line {ln}: a binary patch (only text changes are accepted)"),
            ));
        }
        if l.contains('\r') {
            return Err(bad(
                ln,
                format!("a carriage return in the `{}` line", key.trim_end()),
            ));
        }
        let canonical = match key {
            "rename old " => "rename from ",
            "rename new " => "rename to ",
            k => k,
        };
        if h.seen.contains(&canonical) {
            return Err(bad(ln, format!("a second `{}` line", canonical.trim_end())));
        }
        h.seen.push(canonical);
        let v = &l[key.len()..];
        match canonical {
            "old mode " => h.old_mode = Some(parse_mode(v, ln, path)?),
            "new mode " => h.new_mode = Some(parse_mode(v, ln, path)?),
            "deleted file mode " => h.deleted_mode = Some(parse_mode(v, ln, path)?),
            "new file mode " => h.new_file_mode = Some(parse_mode(v, ln, path)?),
            "copy from " | "copy to " | "rename from " | "rename to " => {
                let (name, rest) = name_token(v, true, ln, path)?;
                if !rest.is_empty() || name.is_empty() || name.contains('\t') {
                    return Err(bad(ln, format!("a bad file name {:?}", shown(v))));
                }
                let slot = match canonical {
                    "copy from " => &mut h.copy_from,
                    "copy to " => &mut h.copy_to,
                    "rename from " => &mut h.rename_from,
                    _ => &mut h.rename_to,
                };
                *slot = Some(name);
            }
            "similarity index " | "dissimilarity index " => {
                let ok = v.strip_suffix('%').is_some_and(|d| {
                    !d.is_empty() && d.len() <= 3 && d.bytes().all(|c| c.is_ascii_digit())
                });
                if !ok {
                    return Err(bad(
                        ln,
                        format!("a bad `{}` value {:?}", canonical.trim_end(), shown(v)),
                    ));
                }
            }
            _ => {
                // index <hex>..<hex>[ <mode>]
                let (ids, mode) = match v.split_once(' ') {
                    Some((ids, m)) => (ids, Some(parse_mode(m, ln, path)?)),
                    None => (v, None),
                };
                let hex = |s: &str| {
                    !s.is_empty() && s.len() <= 64 && s.bytes().all(|c| c.is_ascii_hexdigit())
                };
                match ids.split_once("..") {
                    Some((x, y)) if hex(x) && hex(y) => {}
                    _ => return Err(bad(ln, format!("a bad `index` line {:?}", shown(v)))),
                }
                h.index_mode = mode;
            }
        }
        i += 1;
    }
    // Consistency, as git's `check_header_line` and more: one kind per section, names that
    // agree with the `diff --git` line.
    let kinds = [
        h.new_file_mode.is_some(),
        h.deleted_mode.is_some(),
        h.rename_from.is_some() || h.rename_to.is_some(),
        h.copy_from.is_some() || h.copy_to.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() > 1 {
        return Err(bad(
            n,
            "inconsistent header lines (more than one of new, deleted, rename, copy)".into(),
        ));
    }
    if h.old_mode.is_some() != h.new_mode.is_some() {
        return Err(bad(n, "`old mode` and `new mode` come together".into()));
    }
    if h.old_mode.is_some() && (h.new_file_mode.is_some() || h.deleted_mode.is_some()) {
        return Err(bad(n, "a mode change on a new or deleted file".into()));
    }
    if h.index_mode.is_some()
        && (h.new_file_mode.is_some() || h.deleted_mode.is_some() || h.old_mode.is_some())
    {
        return Err(bad(
            n,
            "a mode on the `index` line of a new, deleted or mode-changed file".into(),
        ));
    }
    let pair =
        |from: &Option<String>, to: &Option<String>, what: &str| -> Result<(), DiffRefusal> {
            match (from, to) {
                (None, None) => Ok(()),
                (Some(f), Some(t)) if *f == a && *t == b && a != b => Ok(()),
                (Some(f), Some(t)) => Err(bad(
                    n,
                    format!(
                        "`{what} from {}` / `{what} to {}` disagree with the `diff --git` line",
                        shown(f),
                        shown(t)
                    ),
                )),
                _ => Err(bad(
                    n,
                    format!("`{what} from` and `{what} to` come together"),
                )),
            }
        };
    pair(&h.rename_from, &h.rename_to, "rename")?;
    pair(&h.copy_from, &h.copy_to, "copy")?;
    let kind = if h.new_file_mode.is_some() {
        SectionKind::Create
    } else if h.deleted_mode.is_some() {
        SectionKind::Delete
    } else if h.rename_from.is_some() {
        SectionKind::Rename
    } else if h.copy_from.is_some() {
        SectionKind::Copy
    } else {
        SectionKind::Modify
    };
    if matches!(
        kind,
        SectionKind::Modify | SectionKind::Create | SectionKind::Delete
    ) && a != b
    {
        return Err(bad(
            n,
            format!(
                "the `diff --git` line names two files ({} and {}) without a rename or copy",
                shown(&a),
                shown(&b)
            ),
        ));
    }
    let (old, new) = match kind {
        SectionKind::Create => (None, Some(b.clone())),
        SectionKind::Delete => (Some(a.clone()), None),
        _ => (Some(a.clone()), Some(b.clone())),
    };
    if let Some(got) = &names {
        if *got != (old.clone(), new.clone()) {
            let side = |s: &Option<String>, p: &str| match s {
                Some(x) => format!("{p}{}", shown(x)),
                None => "/dev/null".into(),
            };
            return Err(bad(
                n,
                format!(
                    "the `---`/`+++` names ({} and {}) disagree with the section header (expected {} and {})",
                    side(&got.0, "a/"),
                    side(&got.1, "b/"),
                    side(&old, "a/"),
                    side(&new, "b/")
                ),
            ));
        }
    }
    let mut hunks = Vec::new();
    if names.is_some() {
        let (hs, next) = parse_hunks(lines, i, path)?;
        hunks = hs;
        i = next;
    } else if kind == SectionKind::Modify && h.old_mode.is_none() {
        return Err(bad(
            n,
            "the section changes nothing (no hunks, no mode change, no new or deleted file)".into(),
        ));
    }
    Ok((
        FilePatch {
            old,
            new,
            kind,
            old_mode: h.old_mode.or(h.deleted_mode),
            new_mode: h.new_mode.or(h.new_file_mode),
            mode_lines: h.old_mode.is_some(),
            index_mode: h.index_mode,
            git: true,
            line: n,
            hunks,
        },
        i,
    ))
}

fn traditional_section(lines: &[&str], at: usize) -> Result<(FilePatch, usize), DiffRefusal> {
    let n = at + 1;
    let bad = |path: Option<&str>, line: usize, why: &str| {
        refuse("malformed_patch", path, format!("line {line}: {why}"))
    };
    let Some(old_raw) = body(lines[at]).map(|l| &l[4..]) else {
        return Err(bad(None, n, "the `---` line has no newline"));
    };
    let Some(new_raw) = lines
        .get(at + 1)
        .and_then(|x| body(x))
        .and_then(|x| x.strip_prefix("+++ "))
    else {
        return Err(bad(None, n, "`---` without `+++`"));
    };
    if old_raw.contains('\r') || new_raw.contains('\r') {
        return Err(bad(None, n, "a carriage return in a file header"));
    }
    let old = header_name(old_raw, "a/", n, None)?;
    let new = header_name(new_raw, "b/", n + 1, old.as_deref())?;
    let path = new.as_deref().or(old.as_deref());
    let kind = match (&old, &new) {
        (None, None) => return Err(bad(None, n, "both sides are /dev/null")),
        (Some(a), Some(b)) if a != b => {
            return Err(refuse(
                "rename",
                path,
                format!(
                    "line {n}: renames ({} -> {}) are refused",
                    shown(a),
                    shown(b)
                ),
            ))
        }
        (None, Some(_)) => SectionKind::Create,
        (Some(_), None) => SectionKind::Delete,
        _ => SectionKind::Modify,
    };
    if !lines.get(at + 2).is_some_and(|x| x.starts_with("@@ -")) {
        return Err(bad(path, n + 2, "a `---`/`+++` header without hunks"));
    }
    let (hunks, next) = parse_hunks(lines, at + 2, path)?;
    Ok((
        FilePatch {
            old,
            new,
            kind,
            old_mode: None,
            new_mode: (kind == SectionKind::Create).then_some(0o100644),
            mode_lines: false,
            index_mode: None,
            git: false,
            line: n,
            hunks,
        },
        next,
    ))
}

/// Hunks from `at` while lines start with `@@ -`; checks that each hunk's new start line is
/// where its old start line puts it (git locates a hunk by its new start line).
fn parse_hunks(
    lines: &[&str],
    mut i: usize,
    path: Option<&str>,
) -> Result<(Vec<Hunk>, usize), DiffRefusal> {
    let mut hunks: Vec<Hunk> = Vec::new();
    let mut delta: i64 = 0;
    while lines.get(i).is_some_and(|l| l.starts_with("@@ -")) {
        let (hunk, next) = parse_hunk(lines, i, path)?;
        let old0 = if hunk.old_len > 0 {
            hunk.old_start as i64 - 1
        } else {
            hunk.old_start as i64
        };
        let new0 = old0 + delta;
        let want = if hunk.new_len > 0 { new0 + 1 } else { new0 };
        if want != hunk.new_start as i64 {
            return Err(refuse(
                "malformed_patch",
                path,
                format!(
                    "line {}: the hunk's new start line is {}, its old start line and the hunks before it put it at {want}",
                    i + 1,
                    hunk.new_start
                ),
            ));
        }
        if let Some(prev) = hunks.last() {
            if hunk.old_start < prev.old_start + prev.old_len {
                return Err(refuse(
                    "malformed_patch",
                    path,
                    format!(
                        "line {}: the hunk overlaps or precedes the one before it",
                        i + 1
                    ),
                ));
            }
        }
        delta += hunk.new_len as i64 - hunk.old_len as i64;
        hunks.push(hunk);
        i = next;
    }
    Ok((hunks, i))
}

fn parse_range(s: &str) -> Option<(usize, usize)> {
    let num = |x: &str| -> Option<usize> {
        if x.is_empty() || x.len() > 9 || !x.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        x.parse().ok()
    };
    match s.split_once(',') {
        Some((a, b)) => Some((num(a)?, num(b)?)),
        None => Some((num(s)?, 1)),
    }
}

/// The numbers of a hunk header `@@ -a,b +c,d @@ …` (GNU diff's unified format; a missing
/// count is 1): `(old_start, old_len, new_start, new_len)`, starts 1-based (0 for an empty
/// side at the top of the file). `None` when the line is not a hunk header. The line may end
/// with `\n` or not.
pub fn hunk_header(line: &str) -> Option<(usize, usize, usize, usize)> {
    let rest = line.strip_prefix("@@ -")?;
    let (old, rest) = rest.split_once(" +")?;
    let (new, _) = rest.split_once(" @@")?;
    let (old_start, old_len) = parse_range(old)?;
    let (new_start, new_len) = parse_range(new)?;
    Some((old_start, old_len, new_start, new_len))
}

fn parse_hunk(lines: &[&str], at: usize, path: Option<&str>) -> Result<(Hunk, usize), DiffRefusal> {
    let header = lines[at].trim_end_matches('\n');
    let bad = || {
        refuse(
            "malformed_patch",
            path,
            format!("line {}: bad hunk header {:?}", at + 1, shown(header)),
        )
    };
    if !lines[at].ends_with('\n') {
        return Err(bad());
    }
    let (old_start, old_len, new_start, new_len) = hunk_header(header).ok_or_else(bad)?;
    if old_len > 1_000_000 || new_len > 1_000_000 || (old_len > 0 && old_start == 0) {
        return Err(bad());
    }
    let mut hunk = Hunk {
        old_start,
        old_len,
        new_start,
        new_len,
        lines: Vec::new(),
    };
    let (mut seen_old, mut seen_new) = (0usize, 0usize);
    let mut i = at + 1;
    let mut changes = 0usize;
    let no_newline = |l: &str| l.starts_with("\\ ") && l.len() >= 12 && l.ends_with('\n');
    while seen_old < old_len || seen_new < new_len {
        let Some(line) = lines.get(i) else {
            return Err(refuse(
                "malformed_patch",
                path,
                format!("line {}: the hunk ends early", at + 1),
            ));
        };
        if !line.ends_with('\n') {
            return Err(refuse(
                "malformed_patch",
                path,
                format!("line {}: the last line of the diff has no newline", i + 1),
            ));
        }
        let (tag, body) = match line.chars().next() {
            Some(c @ (' ' | '-' | '+')) => (c, &line[1..]),
            // Some tools strip the space of an empty context line (git reads it so too).
            Some('\n') => (' ', "\n"),
            _ => {
                return Err(refuse(
                    "malformed_patch",
                    path,
                    format!(
                        "line {}: expected a hunk line, found {:?}",
                        i + 1,
                        shown(line.trim_end_matches('\n'))
                    ),
                ))
            }
        };
        match tag {
            ' ' => {
                seen_old += 1;
                seen_new += 1;
            }
            '-' => {
                seen_old += 1;
                changes += 1;
            }
            _ => {
                seen_new += 1;
                changes += 1;
            }
        }
        if seen_old > old_len || seen_new > new_len {
            return Err(refuse(
                "malformed_patch",
                path,
                format!(
                    "line {}: the hunk has more lines than its header says",
                    i + 1
                ),
            ));
        }
        hunk.lines.push((tag, body.to_string()));
        i += 1;
        if let Some(next) = lines.get(i).filter(|l| l.starts_with('\\')) {
            if !no_newline(next) {
                return Err(refuse(
                    "malformed_patch",
                    path,
                    format!("line {}: expected `\\ No newline at end of file`", i + 1),
                ));
            }
            if let Some((_, last)) = hunk.lines.last_mut() {
                last.pop();
            }
            i += 1;
        }
    }
    if changes == 0 {
        return Err(refuse(
            "malformed_patch",
            path,
            format!("line {}: the hunk adds and removes nothing", at + 1),
        ));
    }
    Ok((hunk, i))
}

/// Applies one file's hunks to `original` (`None` when the file does not exist). Returns the
/// new content, `None` for a deletion. Every hunk must match exactly at its stated line.
pub fn apply(original: Option<&str>, fp: &FilePatch) -> Result<Option<String>, DiffRefusal> {
    let path = Some(fp.path());
    match (&fp.old, original) {
        (None, Some(_)) => {
            return Err(refuse(
                "exists",
                path,
                format!("the diff creates {} but it exists", fp.path()),
            ))
        }
        (Some(_), None) => {
            return Err(refuse(
                "missing_file",
                path,
                format!("the diff changes {} but it does not exist", fp.path()),
            ))
        }
        _ => {}
    }
    let text = original.unwrap_or("");
    let old_lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::with_capacity(text.len() + 256);
    let mut cursor = 0usize;
    for (n, h) in fp.hunks.iter().enumerate() {
        let pos = if h.old_len == 0 {
            h.old_start
        } else {
            h.old_start.saturating_sub(1)
        };
        if h.old_len > 0 && h.old_start == 0 {
            return Err(refuse(
                "malformed_patch",
                path,
                format!("hunk {} starts at line 0", n + 1),
            ));
        }
        if pos < cursor || pos > old_lines.len() {
            return Err(refuse(
                "hunk_mismatch",
                path,
                format!(
                    "hunk {} of {} is out of order or past the end",
                    n + 1,
                    fp.path()
                ),
            ));
        }
        for l in &old_lines[cursor..pos] {
            out.push_str(l);
        }
        let mut at = pos;
        for (tag, body) in &h.lines {
            if *tag == '+' {
                out.push_str(body);
                continue;
            }
            match old_lines.get(at) {
                Some(actual) if actual == body => {}
                _ => {
                    return Err(refuse(
                        "hunk_mismatch",
                        path,
                        format!("hunk {} of {} does not match the file at line {} (hunks must match exactly)", n + 1, fp.path(), at + 1),
                    ))
                }
            }
            if *tag == ' ' {
                out.push_str(body);
            }
            at += 1;
        }
        cursor = at;
    }
    for l in &old_lines[cursor.min(old_lines.len())..] {
        out.push_str(l);
    }
    if fp.new.is_none() {
        if !out.is_empty() {
            return Err(refuse(
                "hunk_mismatch",
                path,
                format!(
                    "the diff deletes {} but does not remove all of its lines",
                    fp.path()
                ),
            ));
        }
        return Ok(None);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_exactly_or_refuses() {
        let d = "diff --git a/x.txt b/x.txt\n--- a/x.txt\n+++ b/x.txt\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n";
        let fp = parse(d).expect("parse");
        assert_eq!(
            apply(Some("a\nb\nc\n"), &fp[0]),
            Ok(Some("a\nB\nc\n".into()))
        );
        assert_eq!(
            apply(Some("z\na\nb\nc\n"), &fp[0])
                .expect_err("offset")
                .code,
            "hunk_mismatch"
        );
        let create =
            "--- /dev/null\n+++ b/n.txt\n@@ -0,0 +1,2 @@\n+x\n+y\n\\ No newline at end of file\n";
        let fp = parse(create).expect("parse");
        assert_eq!(apply(None, &fp[0]), Ok(Some("x\ny".into())));
        assert_eq!(apply(Some(""), &fp[0]).expect_err("exists").code, "exists");
    }

    #[test]
    fn refuses_non_text_changes() {
        for (d, code) in [
            ("diff --git a/x b/x\nold mode 100644\nnew mode 100755\n", "mode_change"),
            ("diff --git a/x b/y\nsimilarity index 90%\nrename from x\nrename to y\n", "rename"),
            ("diff --git a/x b/y\ncopy from x\ncopy to y\n", "rename"),
            ("diff --git a/l b/l\nnew file mode 120000\n--- /dev/null\n+++ b/l\n@@ -0,0 +1 @@\n+/etc\n", "mode_change"),
            ("diff --git a/l b/l\nnew file mode 100755\n", "mode_change"),
            ("diff --git a/l b/l\ndeleted file mode 120000\n", "file_type"),
            ("diff --git a/l b/l\nindex 1234567..89abcde 160000\n--- a/l\n+++ b/l\n@@ -1 +1 @@\n-a\n+b\n", "file_type"),
            ("diff --git a/b b/b\nBinary files a/b and b/b differ\n", "binary"),
            ("diff --git a/b b/b\nindex 1234567..89abcde\nGIT binary patch\nliteral 0\n", "binary"),
            ("--- a/x\n+++ b/y\n@@ -1 +1 @@\n-a\n+b\n", "rename"),
            ("--- x\n+++ x\n@@ -1 +1 @@\n-a\n+b\n", "malformed_patch"),
            ("--- a/x\n+++ b/x\n@@ -1,5 +1 @@\n-a\n+b\n", "malformed_patch"),
            ("hello\n", "malformed_patch"),
            ("", "malformed_patch"),
        ] {
            assert_eq!(parse(d).expect_err(d).code, code, "{d}");
        }
    }

    #[test]
    fn header_only_sections_are_sections() {
        let d = "diff --git a/.github/CODEOWNERS b/.github/CODEOWNERS\nnew file mode 100644\nindex 0000000..e69de29\ndiff --git a/x.txt b/x.txt\n--- a/x.txt\n+++ b/x.txt\n@@ -1 +1 @@\n-a\n+b\n";
        let s = parse_sections(d).expect("parse");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].kind, SectionKind::Create);
        assert_eq!(s[0].new.as_deref(), Some(".github/CODEOWNERS"));
        assert!(s[0].hunks.is_empty());
        let del = parse_sections(
            "diff --git a/k.pem b/k.pem\ndeleted file mode 100644\nindex e69de29..0000000\n",
        )
        .expect("parse");
        assert_eq!(
            (del[0].kind, del[0].old.as_deref()),
            (SectionKind::Delete, Some("k.pem"))
        );
        let q = parse_sections(
            "diff --git \"a/d\\303\\251.txt\" \"b/d\\303\\251.txt\"\nnew file mode 100644\n",
        )
        .expect("parse");
        assert_eq!(q[0].path(), "dé.txt");
    }

    #[test]
    fn refusals_name_the_file() {
        for (d, file) in [
            ("diff --git a/src/a.ts b/src/a.ts\n--- a/src/a.ts\n+++ b/src/a.ts\n@@ -1 +1 @@\n-a\n", "src/a.ts"),
            ("diff --git a/src/a.ts b/src/a.ts\nweird header\n", "src/a.ts"),
            ("diff --git a/src/a.ts b/src/a.ts\n--- a/src/b.ts\n+++ b/src/b.ts\n@@ -1 +1 @@\n-a\n+b\n", "src/a.ts"),
            ("--- a/src/a.ts\n+++ b/src/a.ts\n@@ -1 +1 @@\n-a\n+b\ntrailing junk\n", "src/a.ts"),
            ("--- a/src/a.ts\n+++ b/src/a.ts\n@@ -1 +5 @@\n-a\n+b\n", "src/a.ts"),
        ] {
            let e = parse_sections(d).expect_err(d);
            assert_eq!(e.path.as_deref(), Some(file), "{d}: {e:?}");
            assert!(e.reason.starts_with("line "), "{e:?}");
        }
    }

    #[test]
    fn unquotes_like_git() {
        assert_eq!(
            unquote_c("\"a\\tb\\\"\\\\\\101\" rest"),
            Some((b"a\tb\"\\A".to_vec(), " rest"))
        );
        assert_eq!(unquote_c("\"a\\q\""), None);
        assert_eq!(unquote_c("\"a\\48\""), None);
        assert_eq!(unquote_c("\"open"), None);
    }
}
