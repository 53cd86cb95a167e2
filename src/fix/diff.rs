//! Producing the patch: one git-style unified diff per changed file with `similar`
//! (`diff --git a/… b/…`, `new file mode`, `deleted file mode`, `--- a/…`/`+++ b/…`, three lines
//! of context, `\ No newline at end of file`), which `git apply` and `patch -p1` accept on the
//! original tree.

use std::time::Duration;

use similar::{ChangeTag, TextDiff};

/// The diff of one file with its line counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDiff {
    /// The path, relative, `/`-separated.
    pub path: String,
    /// The diff text (empty when nothing changed).
    pub text: String,
    /// Lines added.
    pub added: u32,
    /// Lines removed.
    pub removed: u32,
}

/// How long `similar` may look for a minimal diff before falling back to a larger (still
/// correct) one.
pub const DIFF_TIMEOUT: Duration = Duration::from_secs(2);

/// Diffs `old` (`None`: the file is created) against `new` (`None`: deleted). `mode` is the
/// git file mode of the old file (`0o644` or `0o755`), used in `deleted file mode`.
pub fn file_diff(path: &str, old: Option<&str>, new: Option<&str>, mode: u32) -> FileDiff {
    let old_text = old.unwrap_or("");
    let new_text = new.unwrap_or("");
    let diff = TextDiff::configure()
        .timeout(DIFF_TIMEOUT)
        .diff_lines(old_text, new_text);
    let (mut added, mut removed) = (0u32, 0u32);
    for change in diff.iter_all_changes() {
        match change.tag() {
            ChangeTag::Insert => added = added.saturating_add(1),
            ChangeTag::Delete => removed = removed.saturating_add(1),
            ChangeTag::Equal => {}
        }
    }
    if old.is_some() && new.is_some() && old_text == new_text {
        return FileDiff {
            path: path.to_string(),
            text: String::new(),
            added: 0,
            removed: 0,
        };
    }
    let mut text = format!("diff --git a/{path} b/{path}\n");
    let (a, b) = match (old, new) {
        (None, _) => {
            text.push_str("new file mode 100644\n");
            ("/dev/null".to_string(), format!("b/{path}"))
        }
        (_, None) => {
            text.push_str(&format!("deleted file mode 100{:o}\n", mode));
            (format!("a/{path}"), "/dev/null".to_string())
        }
        _ => (format!("a/{path}"), format!("b/{path}")),
    };
    let udiff = diff.unified_diff();
    let mut hunks = String::new();
    for hunk in udiff.iter_hunks() {
        // similar's body lines are right, but its header takes the new start from the first
        // op and the end from the last, which is wrong when the ops are not in new-side order
        // (`@@ -1,4 +2,3 @@` for a change at line 1; found by a property test): the header is
        // computed here from every op of the hunk.
        let text = hunk.to_string();
        let body = text.split_once('\n').map_or("", |(_, b)| b);
        hunks.push_str(&hunk_header(hunk.ops()));
        hunks.push('\n');
        hunks.push_str(body);
    }
    if !hunks.is_empty() {
        text.push_str(&format!("--- {a}\n+++ {b}\n"));
        text.push_str(&hunks);
        if !text.ends_with('\n') {
            text.push('\n');
        }
    }
    FileDiff {
        path: path.to_string(),
        text,
        added,
        removed,
    }
}

/// A unified-diff hunk header (`@@ -<old> +<new> @@`, GNU diff's format as git writes it) for
/// the ops of one hunk: each side's range runs from the smallest op start to the largest op
/// end (0-based, end exclusive), printed 1-based as `start,len`, `start` alone when the length
/// is 1, and the line before the range when it is empty.
fn hunk_header(ops: &[similar::DiffOp]) -> String {
    fn range(ranges: impl Iterator<Item = std::ops::Range<usize>> + Clone) -> String {
        let start = ranges.clone().map(|r| r.start).min().unwrap_or(0);
        let end = ranges.map(|r| r.end).max().unwrap_or(start);
        match end.saturating_sub(start) {
            1 => format!("{}", start + 1),
            0 => format!("{start},0"),
            len => format!("{},{len}", start + 1),
        }
    }
    format!(
        "@@ -{} +{} @@",
        range(ops.iter().map(similar::DiffOp::old_range)),
        range(ops.iter().map(similar::DiffOp::new_range))
    )
}

/// Added and removed lines between two texts (each without its line terminator).
pub fn changed_lines(old: &str, new: &str) -> (Vec<String>, Vec<String>) {
    let diff = TextDiff::configure()
        .timeout(DIFF_TIMEOUT)
        .diff_lines(old, new);
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    for change in diff.iter_all_changes() {
        let line = change.value().trim_end_matches(['\n', '\r']).to_string();
        match change.tag() {
            ChangeTag::Insert => added.push(line),
            ChangeTag::Delete => removed.push(line),
            ChangeTag::Equal => {}
        }
    }
    (added, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_follow_git() {
        let d = file_diff("a.txt", Some("x\ny\n"), Some("x\nz\n"), 0o644);
        assert!(
            d.text.starts_with(
                "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n"
            ),
            "{}",
            d.text
        );
        assert_eq!((d.added, d.removed), (1, 1));
        let c = file_diff("n.txt", None, Some("hi"), 0o644);
        assert!(c.text.contains("new file mode 100644\n--- /dev/null\n+++ b/n.txt\n@@ -0,0 +1 @@\n+hi\n\\ No newline at end of file\n"), "{}", c.text);
        let r = file_diff("x.sh", Some("echo\n"), None, 0o755);
        assert!(
            r.text.contains(
                "deleted file mode 100755\n--- a/x.sh\n+++ /dev/null\n@@ -1 +0,0 @@\n-echo\n"
            ),
            "{}",
            r.text
        );
        assert!(file_diff("a", Some("s"), Some("s"), 0o644).text.is_empty());
    }
}
