//! Reading the unified diffs of `patch` edits (untrusted) and applying them strictly: every
//! hunk must match the file exactly at the line it names (no offset, no fuzz), file headers
//! use git's `a/` and `b/` prefixes or `/dev/null`, and anything that is not a plain text
//! change (mode changes, renames, copies, binary patches, symlinks, submodules) is refused.

/// A refusal while reading or applying a diff: a code and a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffRefusal {
    /// `malformed_patch`, `mode_change`, `rename`, `binary`, `hunk_mismatch` …
    pub code: &'static str,
    /// Why.
    pub reason: String,
}

fn refuse(code: &'static str, reason: impl Into<String>) -> DiffRefusal {
    DiffRefusal {
        code,
        reason: reason.into(),
    }
}

/// One file's part of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePatch {
    /// The old path without `a/`, `None` for `/dev/null` (a new file).
    pub old: Option<String>,
    /// The new path without `b/`, `None` for `/dev/null` (a deletion).
    pub new: Option<String>,
    /// The hunks in order.
    pub hunks: Vec<Hunk>,
}

impl FilePatch {
    /// The path the patch is about (new, else old).
    pub fn path(&self) -> &str {
        self.new.as_deref().or(self.old.as_deref()).unwrap_or("")
    }
}

/// One hunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    /// Old start line (1-based; 0 with an empty old range at the top of the file).
    pub old_start: usize,
    /// Old line count.
    pub old_len: usize,
    /// New line count.
    pub new_len: usize,
    /// The lines: (`' '`, `'-'` or `'+'`, text including its `\n` unless it is the last line
    /// of a file without a final newline).
    pub lines: Vec<(char, String)>,
}

/// The most files one `patch` edit may touch.
pub const MAX_FILES_PER_DIFF: usize = 64;

/// Parses a unified diff. Errors say what is wrong with which line (1-based).
pub fn parse(text: &str) -> Result<Vec<FilePatch>, DiffRefusal> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut i = 0;
    let mut files = Vec::new();
    while i < lines.len() {
        let line = lines[i];
        let bare = line.trim_end_matches(['\n', '\r']);
        let lower = bare.to_ascii_lowercase();
        if bare.is_empty() || lower.starts_with("index ") || lower.starts_with("diff --git ") {
            i += 1;
            continue;
        }
        if let Some(mode) = bare.strip_prefix("new file mode ") {
            if mode.trim() != "100644" {
                return Err(refuse(
                    "mode_change",
                    format!(
                        "line {}: new file mode {} (only 100644 is accepted)",
                        i + 1,
                        mode.trim()
                    ),
                ));
            }
            i += 1;
            continue;
        }
        if let Some(mode) = bare.strip_prefix("deleted file mode ") {
            if !matches!(mode.trim(), "100644" | "100755") {
                return Err(refuse(
                    "file_type",
                    format!("line {}: deleted file mode {}", i + 1, mode.trim()),
                ));
            }
            i += 1;
            continue;
        }
        for (prefix, code) in [
            ("old mode", "mode_change"),
            ("new mode", "mode_change"),
            ("rename ", "rename"),
            ("copy ", "rename"),
            ("similarity index", "rename"),
            ("dissimilarity index", "rename"),
            ("binary files", "binary"),
            ("git binary patch", "binary"),
        ] {
            if lower.starts_with(prefix) {
                return Err(refuse(
                    code,
                    format!(
                        "line {}: `{prefix}` (only plain text changes are accepted)",
                        i + 1
                    ),
                ));
            }
        }
        if let Some(old) = bare.strip_prefix("--- ") {
            let Some(new_line) = lines.get(i + 1) else {
                return Err(refuse(
                    "malformed_patch",
                    format!("line {}: `---` without `+++`", i + 1),
                ));
            };
            let new_bare = new_line.trim_end_matches(['\n', '\r']);
            let Some(new) = new_bare.strip_prefix("+++ ") else {
                return Err(refuse(
                    "malformed_patch",
                    format!("line {}: `---` without `+++`", i + 1),
                ));
            };
            let old = header_path(old, "a/", i + 1)?;
            let new = header_path(new, "b/", i + 2)?;
            match (&old, &new) {
                (None, None) => {
                    return Err(refuse(
                        "malformed_patch",
                        format!("line {}: both sides are /dev/null", i + 1),
                    ))
                }
                (Some(a), Some(b)) if a != b => {
                    return Err(refuse(
                        "rename",
                        format!("line {}: renames ({a} -> {b}) are refused", i + 1),
                    ))
                }
                _ => {}
            }
            i += 2;
            let mut hunks = Vec::new();
            while i < lines.len() && lines[i].starts_with("@@") {
                let (hunk, next) = parse_hunk(&lines, i)?;
                hunks.push(hunk);
                i = next;
            }
            if hunks.is_empty() && old.is_some() && new.is_some() {
                return Err(refuse(
                    "malformed_patch",
                    format!("line {}: a file header without hunks", i),
                ));
            }
            files.push(FilePatch { old, new, hunks });
            if files.len() > MAX_FILES_PER_DIFF {
                return Err(refuse(
                    "too_many_files",
                    format!("the diff touches more than {MAX_FILES_PER_DIFF} files"),
                ));
            }
            continue;
        }
        return Err(refuse(
            "malformed_patch",
            format!(
                "line {}: unexpected text {:?}",
                i + 1,
                bare.chars().take(60).collect::<String>()
            ),
        ));
    }
    if files.is_empty() {
        return Err(refuse(
            "malformed_patch",
            "the diff has no `---`/`+++` file headers",
        ));
    }
    Ok(files)
}

fn header_path(raw: &str, prefix: &str, line: usize) -> Result<Option<String>, DiffRefusal> {
    // A tab ends the name (GNU diff appends a timestamp after it).
    let name = raw.split('\t').next().unwrap_or("").trim_end_matches('\r');
    if name == "/dev/null" {
        return Ok(None);
    }
    if name.starts_with('"') {
        return Err(refuse(
            "unusual_character",
            format!("line {line}: quoted file names are refused"),
        ));
    }
    match name.strip_prefix(prefix) {
        Some(p) if !p.is_empty() => Ok(Some(p.to_string())),
        _ => Err(refuse(
            "malformed_patch",
            format!(
                "line {line}: file name {:?} lacks the `{prefix}` prefix",
                name.chars().take(80).collect::<String>()
            ),
        )),
    }
}

fn parse_range(s: &str) -> Option<(usize, usize)> {
    let (start, len) = match s.split_once(',') {
        Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
        None => (s.parse().ok()?, 1),
    };
    Some((start, len))
}

fn parse_hunk(lines: &[&str], at: usize) -> Result<(Hunk, usize), DiffRefusal> {
    let header = lines[at].trim_end_matches(['\n', '\r']);
    let bad = || {
        refuse(
            "malformed_patch",
            format!(
                "line {}: bad hunk header {:?}",
                at + 1,
                header.chars().take(80).collect::<String>()
            ),
        )
    };
    let rest = header.strip_prefix("@@ -").ok_or_else(bad)?;
    let (ranges, _) = rest.split_once(" @@").ok_or_else(bad)?;
    let (old, new) = ranges.split_once(" +").ok_or_else(bad)?;
    let (old_start, old_len) = parse_range(old).ok_or_else(bad)?;
    let (_, new_len) = parse_range(new).ok_or_else(bad)?;
    if old_len > 1_000_000 || new_len > 1_000_000 {
        return Err(bad());
    }
    let mut hunk = Hunk {
        old_start,
        old_len,
        new_len,
        lines: Vec::new(),
    };
    let (mut seen_old, mut seen_new) = (0usize, 0usize);
    let mut i = at + 1;
    while seen_old < old_len || seen_new < new_len {
        let Some(line) = lines.get(i) else {
            return Err(refuse(
                "malformed_patch",
                format!("line {}: the hunk ends early", at + 1),
            ));
        };
        let (tag, body) = match line.chars().next() {
            Some(c @ (' ' | '-' | '+')) => (c, &line[1..]),
            // Some tools strip the space of an empty context line.
            Some('\n') => (' ', "\n"),
            _ => {
                return Err(refuse(
                    "malformed_patch",
                    format!(
                        "line {}: expected a hunk line, found {:?}",
                        i + 1,
                        line.chars().take(60).collect::<String>()
                    ),
                ))
            }
        };
        match tag {
            ' ' => {
                seen_old += 1;
                seen_new += 1;
            }
            '-' => seen_old += 1,
            _ => seen_new += 1,
        }
        if seen_old > old_len || seen_new > new_len {
            return Err(refuse(
                "malformed_patch",
                format!(
                    "line {}: the hunk has more lines than its header says",
                    i + 1
                ),
            ));
        }
        hunk.lines.push((tag, body.to_string()));
        i += 1;
        if lines.get(i).is_some_and(|l| l.starts_with('\\')) {
            if let Some((_, last)) = hunk.lines.last_mut() {
                if last.ends_with('\n') {
                    last.pop();
                }
            }
            i += 1;
        }
    }
    while lines.get(i).is_some_and(|l| l.starts_with('\\')) {
        i += 1;
    }
    Ok((hunk, i))
}

/// Applies one file's hunks to `original` (`None` when the file does not exist). Returns the
/// new content, `None` for a deletion. Every hunk must match exactly at its stated line.
pub fn apply(original: Option<&str>, fp: &FilePatch) -> Result<Option<String>, DiffRefusal> {
    match (&fp.old, original) {
        (None, Some(_)) => {
            return Err(refuse(
                "exists",
                format!("the diff creates {} but it exists", fp.path()),
            ))
        }
        (Some(_), None) => {
            return Err(refuse(
                "missing_file",
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
                format!("hunk {} starts at line 0", n + 1),
            ));
        }
        if pos < cursor || pos > old_lines.len() {
            return Err(refuse(
                "hunk_mismatch",
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
            ("diff --git a/l b/l\nnew file mode 120000\n--- /dev/null\n+++ b/l\n@@ -0,0 +1 @@\n+/etc\n", "mode_change"),
            ("diff --git a/b b/b\nBinary files a/b and b/b differ\n", "binary"),
            ("--- a/x\n+++ b/y\n@@ -1 +1 @@\n-a\n+b\n", "rename"),
            ("--- x\n+++ x\n@@ -1 +1 @@\n-a\n+b\n", "malformed_patch"),
            ("--- a/x\n+++ b/x\n@@ -1,5 +1 @@\n-a\n+b\n", "malformed_patch"),
            ("hello\n", "malformed_patch"),
            ("", "malformed_patch"),
        ] {
            assert_eq!(parse(d).expect_err(d).code, code, "{d}");
        }
    }
}
