//! The recipes' evidence: finding excerpts, failed-test messages and the end of each log,
//! cleaned and redacted ([`evidence_lines`]), shared by `fix-agent-prepare`, `self-heal-prepare`
//! and the Developer-Agent.

use super::*;

/// Most bytes of each log the recipes read: its last 16 MiB (a failure is reported at the end
/// of a log, and that is also the part `ci-logs-ship` sends).
pub const MAX_LOG_SCAN_BYTES: u64 = 16 * 1024 * 1024;
/// Most bytes of log text read for the evidence, all logs together.
pub const MAX_EVIDENCE_LOG_BYTES: u64 = 32 * 1024 * 1024;
/// Most evidence lines handed to the recipes, all sources together.
pub const MAX_EVIDENCE_LINES: usize = 200_000;
/// Longest evidence line kept from a log, bytes (the rest of the line is dropped).
pub const MAX_EVIDENCE_LINE_BYTES: usize = 4096;

/// How the lines of an [`EvidenceLog`]'s reader are numbered in the original log (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineNumbers {
    /// The reader's first line is this line of the log (1 for a whole log, a shipped tail's
    /// `first_line`).
    FirstIs(u64),
    /// The reader's last line is this line of the log: the reader ends where the log ends and
    /// the log has this many lines ([`LogInfo::lines`]). Lets a caller seek into a big file
    /// and hand over only its end ([`EvidenceLog::open`]).
    LastIs(u64),
}

/// A log the recipes read: its bytes, how its lines are numbered and labelled, and its format.
#[derive(Debug)]
pub struct EvidenceLog<R> {
    /// The name lines are reported under: `<label>:<line>`.
    pub label: String,
    /// How the reader's lines are numbered in the original log.
    pub numbers: LineNumbers,
    /// The log's format ([`LogInfo::format`]); `None`: detected from the first lines read.
    pub format: Option<LogFormat>,
    /// The log's bytes, starting at a line start. Read to the end; only the last
    /// [`MAX_LOG_SCAN_BYTES`] are kept (a line cut by that is dropped).
    pub reader: R,
}

impl EvidenceLog<BufReader<File>> {
    /// Opens a log the context describes for its tail: when the file still has
    /// `info.bytes` bytes, it is positioned at the first line start within its last
    /// [`MAX_LOG_SCAN_BYTES`] and its lines are numbered back from `info.lines`, so nothing
    /// before the tail is read; otherwise (the file changed) it is read from its start.
    ///
    /// Errors: the file cannot be opened, inspected or positioned.
    pub fn open(info: &LogInfo) -> std::io::Result<Self> {
        let mut file = File::open(&info.path)?;
        let len = file.metadata()?.len();
        let (reader, numbers) = if len == info.bytes && len > MAX_LOG_SCAN_BYTES {
            // Start one byte early and drop up to and including the first newline: that
            // byte is the newline ending the previous line, or the tail starts mid-line.
            file.seek(SeekFrom::Start(len - MAX_LOG_SCAN_BYTES - 1))?;
            let mut reader = BufReader::new(file);
            reader.skip_until(b'\n')?;
            (reader, LineNumbers::LastIs(info.lines))
        } else {
            (BufReader::new(file), LineNumbers::FirstIs(1))
        };
        Ok(EvidenceLog {
            label: info.path.clone(),
            numbers,
            format: Some(info.format),
            reader,
        })
    }
}

/// `origin: text` of an evidence line, the text cut to 200 characters: how a recipe quotes
/// its evidence in an instruction summary. Evidence text is already redacted.
pub fn quote_evidence(l: &EvidenceLine) -> String {
    format!("{}: {}", l.origin, clip(&l.text, 200))
}

/// Builds the recipes' evidence, in this order: every line of every finding's excerpt
/// (`<finding.log>:<line>`), every line of every failed test's message (`test <name>`), then
/// the lines of the end of every log with timestamps, `gh run view` prefixes and colour codes
/// removed (`<label>:<line>`, lossy UTF-8, lines cut to [`MAX_EVIDENCE_LINE_BYTES`]). Every
/// text is redacted with [`Redactor::builtin`] (a log's kept text in one piece, so a private
/// key block spanning lines is found), because the recipes quote evidence in instruction
/// summaries that reach the fix input, the metadata, the commit message and the PR body.
///
/// Of each log the last [`MAX_LOG_SCAN_BYTES`] are kept, at most
/// [`MAX_EVIDENCE_LOG_BYTES`] of all logs together, and at most [`MAX_EVIDENCE_LINES`] lines
/// in all (the last lines of a log when it has more than fit); later logs are not read once a
/// cap is reached. A read error ends that log (a log numbered from its end is then dropped).
///
/// `fix-agent-prepare` (over the context's logs, [`EvidenceLog::open`]) and the
/// Developer-Agent (over the tails `ci-logs-ship` sent) both call this, so the recipes see the
/// end of every log in both places; the Developer-Agent sees less of a log when the shipped
/// tail is shorter than [`MAX_LOG_SCAN_BYTES`].
pub fn evidence_lines<R: Read>(
    findings: &[Finding],
    failed: &[FailedTest],
    logs: impl IntoIterator<Item = EvidenceLog<R>>,
) -> Vec<EvidenceLine> {
    let redactor = Redactor::builtin();
    let mut counts = Redactions::default();
    let mut out = Vec::new();
    for f in findings {
        let excerpt = redactor.redact(&f.excerpt, &mut counts);
        for (i, l) in excerpt.lines().enumerate() {
            if out.len() >= MAX_EVIDENCE_LINES {
                return out;
            }
            out.push(EvidenceLine {
                origin: format!("{}:{}", f.log, f.line_start.saturating_add(i as u64)),
                text: l.to_string(),
            });
        }
    }
    for t in failed {
        if let Some(m) = &t.message {
            let origin = format!("test {}", t.name.chars().take(100).collect::<String>());
            for l in redactor.redact(m, &mut counts).lines() {
                if out.len() >= MAX_EVIDENCE_LINES {
                    return out;
                }
                out.push(EvidenceLine {
                    origin: origin.clone(),
                    text: l.to_string(),
                });
            }
        }
    }
    let mut budget = MAX_EVIDENCE_LOG_BYTES;
    for log in logs {
        if out.len() >= MAX_EVIDENCE_LINES || budget == 0 {
            break;
        }
        log_lines(log, &mut budget, &mut out);
    }
    out
}

/// The end of a stream: its last bytes (starting at a line start), how many lines came
/// before them, and whether the stream was read to its end.
pub(super) struct Tail {
    pub(super) bytes: Vec<u8>,
    pub(super) lines_before: u64,
    pub(super) complete: bool,
}

/// Reads `reader` to its end keeping its last `cap` bytes
/// ([`crate::logs::lines::read_last_bytes`]), then drops a line cut at the front.
pub(super) fn read_tail<R: Read>(mut reader: R, cap: usize) -> Tail {
    let t = crate::logs::lines::read_last_bytes(&mut reader, cap);
    let mut bytes = t.bytes;
    let mut lines_before = t.newlines_before;
    if t.byte_before.is_some_and(|b| b != b'\n') {
        match memchr::memchr(b'\n', &bytes) {
            Some(i) => {
                bytes.drain(..=i);
                lines_before += 1;
            }
            None => bytes.clear(),
        }
    }
    Tail {
        bytes,
        lines_before,
        complete: t.error.is_none(),
    }
}

/// Appends the cleaned, redacted lines of one log's end to `out`, within the caps of
/// [`evidence_lines`]; `budget` is what is left of [`MAX_EVIDENCE_LOG_BYTES`].
pub(super) fn log_lines<R: Read>(
    log: EvidenceLog<R>,
    budget: &mut u64,
    out: &mut Vec<EvidenceLine>,
) {
    let cap = usize::try_from(MAX_LOG_SCAN_BYTES.min(*budget)).unwrap_or(usize::MAX);
    let tail = read_tail(log.reader, cap);
    *budget = budget.saturating_sub(tail.bytes.len() as u64);
    let mut raw: Vec<&[u8]> = tail.bytes.split(|b| *b == b'\n').collect();
    if tail.bytes.last().is_none_or(|b| *b == b'\n') {
        raw.pop(); // after the last newline: no line
    }
    let first = match log.numbers {
        LineNumbers::FirstIs(n) => n.saturating_add(tail.lines_before),
        LineNumbers::LastIs(_) if !tail.complete => return,
        LineNumbers::LastIs(n) => n.saturating_add(1).saturating_sub(raw.len() as u64).max(1),
    };
    // More lines than fit: the last ones.
    let skip = raw
        .len()
        .saturating_sub(MAX_EVIDENCE_LINES.saturating_sub(out.len()));
    let raw = &raw[skip..];
    let first = first.saturating_add(skip as u64);
    let format = log
        .format
        .unwrap_or_else(|| detect_format(raw.iter().take(20).copied()));
    let mut text = String::with_capacity(raw.iter().map(|l| l.len() + 1).sum());
    let mut scratch = Vec::new();
    for l in raw {
        let mut l = *l;
        while let [rest @ .., b'\r'] = l {
            l = rest;
        }
        let l = &l[..l.len().min(MAX_EVIDENCE_LINE_BYTES)];
        text.push_str(&String::from_utf8_lossy(clean_line(
            format,
            l,
            &mut scratch,
        )));
        text.push('\n');
    }
    drop(tail);
    // Redaction keeps every line where it was, so the numbering holds.
    let text = Redactor::builtin().redact(&text, &mut Redactions::default());
    for (n, l) in text.split_terminator('\n').enumerate() {
        out.push(EvidenceLine {
            origin: format!("{}:{}", log.label, first.saturating_add(n as u64)),
            text: l.to_string(),
        });
    }
}
