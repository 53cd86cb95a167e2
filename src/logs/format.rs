//! Log formats and per-line cleaning: GitHub timestamps, `gh run view --log` prefixes, ANSI
//! colour codes.
//!
//! Cleaning never changes line numbers: the caller feeds one ORIGINAL line at a time (split on
//! `\n`) and gets back the text to match on. Works on bytes, so invalid UTF-8 is carried through
//! (and shown with replacement characters only when quoted).

use crate::artifact::LogFormat;

/// Length of a raw GitHub timestamp, `2023-09-21T17:21:40.2730746Z`, in bytes.
pub const TIMESTAMP_LEN: usize = 28;

/// True when `s` starts with an ISO-8601 UTC timestamp as the Actions runner writes it
/// (`YYYY-MM-DDTHH:MM:SS.fffffffZ`; any number of fraction digits is accepted) followed by a
/// space; returns the length of that prefix including the space.
pub fn timestamp_prefix_len(s: &[u8]) -> Option<usize> {
    if s.len() < 21 {
        return None;
    }
    let d = |i: usize| s[i].is_ascii_digit();
    let shape = d(0)
        && d(1)
        && d(2)
        && d(3)
        && s[4] == b'-'
        && d(5)
        && d(6)
        && s[7] == b'-'
        && d(8)
        && d(9)
        && s[10] == b'T'
        && d(11)
        && d(12)
        && s[13] == b':'
        && d(14)
        && d(15)
        && s[16] == b':'
        && d(17)
        && d(18);
    if !shape {
        return None;
    }
    let mut i = 19;
    if s.get(i) == Some(&b'.') {
        i += 1;
        while s.get(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
    }
    if s.get(i) != Some(&b'Z') {
        return None;
    }
    i += 1;
    match s.get(i) {
        Some(b' ') => Some(i + 1),
        None | Some(b'\r') => Some(i),
        _ => None,
    }
}

/// Splits a `gh run view --log` line into job, step and the rest (the raw timestamped line).
pub fn split_gh_run_view(line: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let t1 = memchr::memchr(b'\t', line)?;
    let rest = &line[t1 + 1..];
    let t2 = memchr::memchr(b'\t', rest)?;
    let text = &rest[t2 + 1..];
    timestamp_prefix_len(text)?;
    Some((&line[..t1], &rest[..t2], text))
}

/// Guesses a log's format from its first lines (at most the first 50 are looked at). A UTF-8
/// byte order mark on the first line is ignored.
pub fn detect_format<'a>(first_lines: impl IntoIterator<Item = &'a [u8]>) -> LogFormat {
    let mut raw = 0usize;
    let mut gh = 0usize;
    let mut seen = 0usize;
    for (i, line) in first_lines.into_iter().take(50).enumerate() {
        let line = if i == 0 { strip_bom(line) } else { line };
        if line.is_empty() || line == b"\r" {
            continue;
        }
        seen += 1;
        if split_gh_run_view(line).is_some() {
            gh += 1;
        } else if timestamp_prefix_len(line).is_some() {
            raw += 1;
        }
    }
    if seen == 0 {
        LogFormat::Plain
    } else if gh * 2 > seen {
        LogFormat::GhRunView
    } else if raw * 2 > seen {
        LogFormat::RawGithub
    } else {
        LogFormat::Plain
    }
}

/// Removes a UTF-8 byte order mark.
pub fn strip_bom(line: &[u8]) -> &[u8] {
    line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
}

/// Removes the format's per-line prefix (timestamp, or job/step/timestamp) and a trailing
/// `\r`. Lines without the prefix (continuations) are returned as they are.
pub fn strip_prefix(format: LogFormat, line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match format {
        LogFormat::Plain => line,
        LogFormat::RawGithub => {
            let l = strip_bom(line);
            match timestamp_prefix_len(l) {
                Some(n) => &l[n..],
                None => line,
            }
        }
        LogFormat::GhRunView => match split_gh_run_view(line) {
            Some((_, _, text)) => {
                let n = timestamp_prefix_len(text).unwrap_or(0);
                &text[n.min(text.len())..]
            }
            None => line,
        },
    }
}

/// Appends `line` to `out` without ANSI escape sequences (CSI `ESC [ … final`, OSC
/// `ESC ] … BEL|ESC \`, and two-byte `ESC x`). Returns true when anything was removed.
pub fn strip_ansi_into(line: &[u8], out: &mut Vec<u8>) -> bool {
    let Some(first) = memchr::memchr(0x1b, line) else {
        out.extend_from_slice(line);
        return false;
    };
    out.extend_from_slice(&line[..first]);
    let mut i = first;
    while i < line.len() {
        if line[i] != 0x1b {
            let next = memchr::memchr(0x1b, &line[i..]).map_or(line.len(), |p| i + p);
            out.extend_from_slice(&line[i..next]);
            i = next;
            continue;
        }
        // ESC
        match line.get(i + 1) {
            Some(b'[') => {
                let mut j = i + 2;
                while j < line.len() && !(0x40..=0x7e).contains(&line[j]) {
                    j += 1;
                }
                i = (j + 1).min(line.len());
            }
            Some(b']') => {
                let mut j = i + 2;
                while j < line.len() {
                    if line[j] == 0x07 {
                        j += 1;
                        break;
                    }
                    if line[j] == 0x1b && line.get(j + 1) == Some(&b'\\') {
                        j += 2;
                        break;
                    }
                    j += 1;
                }
                i = j;
            }
            Some(_) => i += 2,
            None => i += 1,
        }
    }
    true
}

/// Cleans one original line for matching: the format prefix, a trailing `\r` and ANSI codes
/// removed. `scratch` is reused between calls to avoid allocation; the returned slice borrows
/// either `line` or `scratch`.
pub fn clean_line<'a>(format: LogFormat, line: &'a [u8], scratch: &'a mut Vec<u8>) -> &'a [u8] {
    let text = strip_prefix(format, line);
    if memchr::memchr(0x1b, text).is_none() {
        return text;
    }
    scratch.clear();
    strip_ansi_into(text, scratch);
    scratch.as_slice()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_github_prefix_and_ansi_are_removed() {
        let line = b"2022-05-07T08:49:05.9003542Z \x1b[1;34mInstall git by apk\x1b[0m\r";
        let mut s = Vec::new();
        assert_eq!(
            clean_line(LogFormat::RawGithub, line, &mut s),
            b"Install git by apk"
        );
        assert_eq!(TIMESTAMP_LEN + 1, timestamp_prefix_len(line).expect("ts"));
    }

    #[test]
    fn gh_run_view_prefix_is_removed() {
        let line = b"build\tSet up job\t2021-12-01T13:00:40.1077661Z Current runner version";
        let mut s = Vec::new();
        assert_eq!(
            clean_line(LogFormat::GhRunView, line, &mut s),
            b"Current runner version"
        );
        assert_eq!(detect_format([&line[..], &line[..]]), LogFormat::GhRunView);
    }

    #[test]
    fn detects_formats() {
        let raw: &[u8] = b"\xEF\xBB\xBF2023-09-21T17:21:40.2730746Z ##[group]Operating System";
        assert_eq!(detect_format([raw]), LogFormat::RawGithub);
        assert_eq!(detect_format([&b"[INFO] Building"[..]]), LogFormat::Plain);
    }

    #[test]
    fn osc_and_unterminated_escapes_do_not_panic() {
        let mut out = Vec::new();
        strip_ansi_into(b"a\x1b]0;title\x07b\x1b[31", &mut out);
        assert_eq!(out, b"ab");
        out.clear();
        strip_ansi_into(b"x\x1b", &mut out);
        assert_eq!(out, b"x");
    }
}
