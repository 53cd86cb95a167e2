//! The streaming scanner: one pass over a log in big chunks, a literal prefilter
//! ([`super::prefilter`]) so the regexes only see candidate lines, a keyword gate so a
//! candidate line only meets the rules whose keywords it holds, bounded block state; the log
//! is read and its SHA-256 computed on a helper thread ([`ReadAhead`], the log code's).
//!
//! The reading (chunks, format detection, over-long lines) is [`crate::logs::lines`]'s, shared
//! with the baseline. Memory is bounded whatever the input: at most [`crate::logs::read_ahead::READ_BUFFERS`] chunks of
//! [`crate::logs::lines::CHUNK_ROOM`] + [`crate::logs::lines::READ_CHUNK`] bytes are read
//! ahead, a line longer than [`crate::logs::lines::MAX_LINE`] bytes is examined by its head
//! only (cut before a token the cut would split), blocks keep at most [`MAX_EXCERPT_LINES`]
//! lines / [`MAX_EXCERPT_BYTES`] bytes of text, and at most
//! [`MAX_BLOCKS`] candidate blocks are kept.

use std::collections::HashSet;
use std::io::Read;
use std::sync::{Arc, OnceLock};

use regex::bytes::Regex;
use sha2::{Digest, Sha256};

use super::baseline::{line_hash, Baseline};
use super::rules::{Compiled, Extend, RuleRole};
use super::structure::{self, Mark};
use crate::artifact::Category;
use crate::artifact::LogFormat;
use crate::digest::lower_hex;
use crate::logs::format::{clean_line, split_gh_run_view};
use crate::logs::lines::{line_head, Chunks, LineReader, Piece, ReadChunks};
use crate::logs::read_ahead::{HashingReader, ReadAhead};

/// Lines of history kept before the current position for `join-before`/`before`, in bytes.
const HIST: usize = 16 << 10;
/// Excerpt bounds (the contract's: 40 lines, 8 KiB).
pub const MAX_EXCERPT_LINES: usize = 40;
/// Excerpt bound in bytes.
pub const MAX_EXCERPT_BYTES: usize = 8 << 10;
/// The most candidate blocks kept per log (the weakest are dropped beyond it).
pub const MAX_BLOCKS: usize = 512;
/// Tentative lines after a block (blank lines and lines that may precede a closing marker).
const MAX_PENDING: usize = 3;
/// Non-blank tentative lines.
const MAX_PENDING_TEXT: usize = 2;
/// The most lines of a failing command's output taken as its tail block (when no rule's block
/// covers them), and how far back the search for them may look.
const MAX_TAIL_LINES: usize = 20;
/// How many lines back from the end of a command's output the tail search looks.
const MAX_TAIL_LOOK: usize = 60;
/// The most failing-command regions kept per log (the first ones: the job stops at a failure).
const MAX_FAILED_COMMANDS: usize = 32;
/// The rule whose id names a failing command's output tail ([`Block::failure_tail`]).
pub const FAILURE_TAIL_RULE: &str = "failing-command-output";

/// A command that failed, as the CI service's structure shows it ([`structure`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FailedCommand {
    /// The command's first line (its echo, or the first line of the log), 1-based.
    pub start: u64,
    /// The last line of its output, 1-based, inclusive.
    pub end: u64,
    /// The line that says it failed (`The command "…" exited with 1.`), 1-based.
    pub marker: u64,
    /// The log showed where the command started (its echo or step header); when not, `start`
    /// is only the line after the previous failure.
    pub echoed: bool,
    /// The command's text when the log names it (bounded, lossy UTF-8).
    pub command: String,
    /// What the command's tools point at ([`structure::command_category`]).
    pub category: Option<Category>,
    /// The cleaned line that echoed the command (`$ make test`, `+ docker pull …`), bounded;
    /// empty when the start line named no command (`[Pipeline] sh`) or none was seen.
    pub echo: Vec<u8>,
}

/// A block of lines found by the scanner (before ranking).
#[derive(Debug, Clone)]
pub(crate) struct Block {
    /// First line, 1-based.
    pub start: u64,
    /// Last line, 1-based, inclusive.
    pub end: u64,
    /// The rule that opened the block.
    pub opener: usize,
    /// Best cause rule and its confidence.
    pub cause: Option<(usize, f64)>,
    /// Best summary rule and its confidence.
    pub summary: Option<(usize, f64)>,
    /// A demote rule matched inside.
    pub demoted: bool,
    /// Cleaned text, bounded.
    pub excerpt: Vec<u8>,
    pub excerpt_lines: usize,
    /// Lines in the block and how many of them are in the baseline.
    pub lines: u64,
    pub baseline_hits: u64,
    /// A source location named in the block, set when the scan ends ([`resolve_file`]).
    pub file: Option<(String, u32)>,
    /// The first `file`/`line` groups of a rule's match in the block, and the line they came
    /// from (1-based, in the order the block's lines were added).
    pub rule_file: Option<(u64, (String, u32))>,
    /// The line that opened the block is a warning (`[WARNING]`, `warning:`, `##[warning]`).
    pub warning: bool,
    /// The step (name) and its identity key (shared by the blocks of one step).
    pub step: Option<Arc<str>>,
    pub step_key: Option<Arc<str>>,
    /// The block is the last lines of a failing command's output that no rule matched; the
    /// category its finding carries is the command's ([`FailedCommand::category`]).
    pub failure_tail: Option<Option<Category>>,
}

impl Block {
    /// The rule whose category and id the finding carries: the best cause, else the best
    /// summary, else the opener.
    pub fn best_rule(&self) -> usize {
        self.cause
            .or(self.summary)
            .map(|(r, _)| r)
            .unwrap_or(self.opener)
    }
}

/// What one scan produced.
#[derive(Debug, Clone)]
pub(crate) struct ScanOut {
    pub bytes: u64,
    pub lines: u64,
    pub sha256: String,
    pub format: LogFormat,
    pub blocks: Vec<Block>,
    /// Step keys that hold a `##[error]` line.
    pub error_steps: HashSet<Arc<str>>,
    /// The commands the CI service reported as failed, in log order.
    pub failed_commands: Vec<FailedCommand>,
}

/// The command being run, as far as the log's structure shows.
struct Command {
    start: u64,
    text: Vec<u8>,
    /// The start line as shown, when it names the command ([`FailedCommand::echo`]).
    echo: Vec<u8>,
    /// The last line of its output, once a marker ended it.
    end: Option<u64>,
    /// Its output's tail, taken when the output ended, kept until the command is known to
    /// have failed.
    tail: Option<Block>,
}

#[derive(Default)]
struct Pending {
    no: u64,
    text: Vec<u8>,
    hits: Vec<usize>,
    blank: bool,
}

struct Open {
    b: Block,
    rule: usize,
    tag: Option<Vec<u8>>,
    pending: Vec<Pending>,
    max_lines: u64,
    /// Blank lines at the block's end taken as part of it (an `until` block takes every line
    /// up to its stop), and how many of them reached the excerpt: [`State::close`] drops them.
    trailing_blank: (u64, usize),
}

/// Access to the lines before the current one, in the read buffer.
#[derive(Clone, Copy)]
struct Back<'b> {
    buf: &'b [u8],
    /// Start of the current line.
    ls: usize,
    /// Lines starting before this offset are not available.
    floor: usize,
}

impl<'b> Back<'b> {
    /// The `k`-th previous line (1 = the line just before), raw.
    fn prev(&self, k: usize) -> Option<&'b [u8]> {
        let mut end = self.ls; // exclusive end of the previous line + 1 (the '\n')
        let mut start = self.ls;
        for _ in 0..k {
            if start <= self.floor {
                return None;
            }
            end = start - 1; // position of '\n'
            start = memchr::memrchr(b'\n', &self.buf[self.floor..end])
                .map_or(self.floor, |i| self.floor + i + 1);
        }
        Some(&self.buf[start..end])
    }
}

fn statics() -> &'static (Regex, Regex, Regex) {
    static S: OnceLock<(Regex, Regex, Regex)> = OnceLock::new();
    S.get_or_init(|| {
        // These patterns are constants; a failure here is a programming error caught by tests.
        let exception = Regex::new(
            r"^(?:Caused by: )?(?:(?:[a-z_$][\w$]*\.)+[A-Z][\w$]*|[A-Z]\w*)(?:Exception|Error|Throwable|Failure)(?-u:\b)(?::|$)",
        )
        .unwrap_or_else(|_| never_regex());
        // `is_end_marker` and `is_stop` check these regexes' literals first: keep them in step.
        let end_marker = Regex::new(
            r"marked build as failure$|^(?:##\[error\]|Error: )Process completed with exit code|^##\[error\]The process .* failed with exit code",
        )
        .unwrap_or_else(|_| never_regex());
        let stop = Regex::new(
            r"^(?:\[(?:INFO|WARNING|WARN|DEBUG)\]|##\[(?:group|endgroup|section)\]|> Task |Post job cleanup\.|\* (?:Try|Get more help|What went wrong):?)",
        )
        .unwrap_or_else(|_| never_regex());
        (exception, end_marker, stop)
    })
}

/// The end-marker regex of [`statics`], behind a check for the literal that each of its
/// alternatives needs (most lines have none, and a regex call costs more than the check).
fn is_end_marker(end_marker: &Regex, t: &[u8]) -> bool {
    (t.starts_with(b"##[error]")
        || t.starts_with(b"Error: ")
        || t.ends_with(b"marked build as failure"))
        && end_marker.is_match(t)
}

/// The stop regex of [`statics`], behind a check of the first byte its alternatives allow.
fn is_stop(stop: &Regex, t: &[u8]) -> bool {
    matches!(t.first(), Some(b'[' | b'#' | b'>' | b'P' | b'*')) && stop.is_match(t)
}

fn never_regex() -> Regex {
    // `[^\s\S]` matches nothing; it always compiles.
    Regex::new(r"[^\s\S]").unwrap_or_else(|_| unreachable!("constant regex"))
}

fn is_warning(t: &[u8]) -> bool {
    let t = t.trim_ascii_start();
    [
        &b"[WARNING]"[..],
        b"[WARN]",
        b"##[warning]",
        b"WARNING:",
        b"warning:",
        b"Warning:",
    ]
    .iter()
    .any(|p| t.starts_with(p))
}

fn is_blank(t: &[u8]) -> bool {
    t.iter().all(|b| b.is_ascii_whitespace())
}

fn leading_tag(t: &[u8]) -> Option<Vec<u8>> {
    if t.first() != Some(&b'[') {
        return None;
    }
    let close = memchr::memchr(b']', &t[..t.len().min(16)])?;
    let inner = &t[1..close];
    const ERRORISH: [&[u8]; 6] = [b"ERROR", b"FATAL", b"FAIL", b"FAILED", b"SEVERE", b"E"];
    if ERRORISH.contains(&inner) {
        Some(t[..=close].to_vec())
    } else {
        None
    }
}

enum Class {
    Cont,
    Blank,
    End,
    Stop,
    Other,
}

struct State<'a> {
    c: &'a Compiled,
    format: LogFormat,
    baseline: Option<&'a Baseline>,
    open: Option<Open>,
    /// Fixed `after` context still owed to the last closed block.
    tail: Option<(usize, u32)>,
    blocks: Vec<Block>,
    last_end: u64,
    step_idx: u32,
    /// The current `##[group]` step: its name and its key (`index:name`).
    step_name: Option<(Arc<str>, Arc<str>)>,
    error_steps: HashSet<Arc<str>>,
    hits: Vec<usize>,
    cur: Vec<u8>,
    scratch: Vec<u8>,
    lines_done: u64,
    /// Reused buffer for the prefilter's line hits of one region (offsets into the region).
    line_hits: Vec<usize>,
    /// Tentative lines no longer used, kept for their buffers.
    spare_pending: Vec<Pending>,
    /// The command whose output is being read.
    command: Option<Command>,
    /// GitLab's `after_script`/cleanup sections: `$ ` lines there are not the job's commands.
    after_script: bool,
    failed_commands: Vec<FailedCommand>,
    /// The line after the last failure (a command with no echo line starts there).
    region_floor: u64,
    /// The index of [`FAILURE_TAIL_RULE`], when the pack has it.
    tail_rule: Option<usize>,
}

impl<'a> State<'a> {
    fn every_line(&self) -> bool {
        self.open.is_some() || self.tail.is_some() || self.c.prefilter.is_none()
    }

    fn step_of(&self, raw: &[u8]) -> (Option<Arc<str>>, Option<Arc<str>>) {
        if self.format == LogFormat::GhRunView {
            if let Some((job, step, _)) = split_gh_run_view(raw) {
                let name: Arc<str> = format!(
                    "{} / {}",
                    String::from_utf8_lossy(job),
                    String::from_utf8_lossy(step)
                )
                .into();
                return (Some(name.clone()), Some(name));
            }
        }
        match &self.step_name {
            Some((name, key)) => (Some(name.clone()), Some(key.clone())),
            None => (None, None),
        }
    }

    /// One original line (raw, without its `\n`); only its [`line_head`] is looked at (the
    /// text reaches excerpts and step names, so the cut never splits a token).
    ///
    /// `candidate`: whether the raw line holds a keyword, when the caller knows it from
    /// [`Prefilter::line_hits`](super::rules::Prefilter::line_hits) over the region (that
    /// search is a superset of one over the cleaned line: removing the timestamp prefix joins
    /// no bytes, and keywords joined by removing colour codes are searched for too); `None`
    /// to search the cleaned line here.
    fn feed_raw(&mut self, no: u64, raw: &[u8], back: Option<Back<'_>>, candidate: Option<bool>) {
        let raw = line_head(raw);
        let mut cur = std::mem::take(&mut self.cur);
        cur.clear();
        cur.extend_from_slice(clean_line(self.format, raw, &mut self.scratch));
        // Structure: step headers and error markers.
        if let Some(rest) = cur.strip_prefix(b"##[group]") {
            if self.format != LogFormat::GhRunView {
                self.step_idx += 1;
                let name = String::from_utf8_lossy(rest).trim().to_string();
                let key = format!("{}:{name}", self.step_idx);
                self.step_name = Some((name.into(), key.into()));
            }
        } else if cur.starts_with(b"##[error]") {
            if let (_, Some(key)) = self.step_of(raw) {
                self.error_steps.insert(key);
            }
        }
        if let Some(m) = structure::mark(&cur) {
            self.structure(no, &cur, m, back);
        }
        let mut hits = std::mem::take(&mut self.hits);
        hits.clear();
        let candidate = match (&self.c.prefilter, candidate) {
            (None, _) => true,
            (Some(_), Some(known)) => known,
            (Some(pf), None) => pf.is_match(&cur[..]),
        };
        if candidate {
            self.c.matches(&cur[..], &mut hits);
            self.c.yield_generic(&mut hits);
        }
        // The step is worked out from `raw` only when a block opens (most hits continue one).
        self.feed(no, &cur, &hits, back, Some(raw));
        self.hits = hits;
        self.cur = cur;
    }

    /// Applies one structural mark of line `no` ([`structure::mark`]): commands start, their
    /// output ends (its tail is taken then), and a failure turns the command into a
    /// [`FailedCommand`] whose tail block, if any, is kept.
    fn structure(&mut self, no: u64, line: &[u8], m: Mark<'_>, back: Option<Back<'_>>) {
        match m {
            Mark::Start(text) => {
                if self.after_script {
                    return;
                }
                let mut t =
                    crate::text::token_safe_prefix(text.trim_ascii(), structure::MAX_COMMAND_BYTES)
                        .to_vec();
                if t.is_empty() {
                    // `[Pipeline] sh`, a Buildkite header: the command may be named by the
                    // next echo; keep the earlier text if it is the same step.
                    t = Vec::new();
                }
                let echo = if t.is_empty() {
                    Vec::new()
                } else {
                    crate::text::token_safe_prefix(
                        structure::shown(line).trim_ascii_end(),
                        2 * structure::MAX_COMMAND_BYTES,
                    )
                    .to_vec()
                };
                self.command = Some(Command {
                    start: no,
                    text: t,
                    echo,
                    end: None,
                    tail: None,
                });
            }
            Mark::OutputEnd => {
                let open = self.open.is_some();
                let tail = match (&self.command, back) {
                    (Some(c), Some(back)) if c.end.is_none() && !open => {
                        self.take_tail(no, back, c.start)
                    }
                    _ => None,
                };
                if let Some(c) = self.command.as_mut() {
                    if c.end.is_none() {
                        c.end = Some(no.saturating_sub(1).max(c.start));
                        c.tail = tail;
                    }
                }
            }
            Mark::AfterScript => {
                self.after_script = true;
            }
            Mark::Failed(named) => self.failed(no, named, back),
            Mark::JobFailed => {
                if self.failed_commands.is_empty() {
                    self.failed(no, None, back);
                }
            }
        }
    }

    /// Line `no` says a command failed: records it, with the tail of its output as a block.
    fn failed(&mut self, no: u64, named: Option<&[u8]>, back: Option<Back<'_>>) {
        let cmd = self.command.take();
        let echoed = cmd.is_some();
        let start = cmd.as_ref().map_or(self.region_floor + 1, |c| c.start);
        let end = cmd
            .as_ref()
            .and_then(|c| c.end)
            .unwrap_or(no.saturating_sub(1))
            .max(start);
        let mut tail = cmd.as_ref().and_then(|c| c.tail.clone());
        if tail.is_none() && cmd.as_ref().is_none_or(|c| c.end.is_none()) && self.open.is_none() {
            if let Some(back) = back {
                tail = self.take_tail(no, back, start);
            }
        }
        let echo = cmd.as_ref().map(|c| c.echo.clone()).unwrap_or_default();
        let text = match named {
            Some(t) => crate::text::token_safe_prefix(t.trim_ascii(), structure::MAX_COMMAND_BYTES)
                .to_vec(),
            None => cmd.map(|c| c.text).unwrap_or_default(),
        };
        let command = String::from_utf8_lossy(&text).into_owned();
        let category = structure::command_category(&command);
        self.region_floor = no;
        if self.failed_commands.len() >= MAX_FAILED_COMMANDS {
            return;
        }
        self.failed_commands.push(FailedCommand {
            start,
            end,
            marker: no,
            echoed,
            command,
            category,
            echo,
        });
        if let Some(mut b) = tail {
            // A rule's block may have been found over these lines since (a block still open
            // when the output ended is not a tail): keep the tail only where none is.
            if !self
                .blocks
                .iter()
                .any(|x| x.start <= b.end && x.end >= b.start)
            {
                b.failure_tail = Some(category);
                self.last_end = self.last_end.max(b.end);
                self.blocks.push(b);
                if self.blocks.len() > MAX_BLOCKS {
                    self.prune();
                }
            }
        }
    }

    /// The last lines of a command's output before line `no` (at most [`MAX_TAIL_LINES`],
    /// the last paragraph: trailing blank and marker lines skipped, then up to a blank line,
    /// the command's echo line `floor`, or a line already in a block), as a block; `None` when
    /// there is none or the pack has no [`FAILURE_TAIL_RULE`].
    fn take_tail(&self, no: u64, back: Back<'_>, floor: u64) -> Option<Block> {
        let rule = self.tail_rule?;
        let mut lines: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut scratch = Vec::new();
        for k in 1..=MAX_TAIL_LOOK {
            let Some(lno) = no.checked_sub(k as u64) else {
                break;
            };
            if lno <= floor || lno <= self.last_end || lno == 0 {
                break;
            }
            let Some(raw) = back.prev(k) else { break };
            let t = clean_line(self.format, line_head(raw), &mut scratch);
            let shown = match memchr::memrchr(b'\r', t) {
                Some(i) => &t[i + 1..],
                None => t,
            };
            let marker = structure::mark(t).is_some();
            if is_blank(shown) || marker {
                if lines.is_empty() && (marker || is_blank(shown)) {
                    continue;
                }
                break;
            }
            lines.push((lno, t.to_vec()));
            if lines.len() >= MAX_TAIL_LINES {
                break;
            }
        }
        if lines.is_empty() {
            return None;
        }
        let first = lines.last().map_or(no, |l| l.0);
        let mut b = Block {
            start: first,
            end: first.saturating_sub(1),
            opener: rule,
            cause: None,
            summary: Some((rule, self.c.rules[rule].spec.confidence)),
            demoted: false,
            excerpt: Vec::new(),
            excerpt_lines: 0,
            lines: 0,
            baseline_hits: 0,
            file: None,
            rule_file: None,
            warning: false,
            step: None,
            step_key: None,
            failure_tail: Some(None),
        };
        for (lno, t) in lines.iter().rev() {
            add_line(&mut b, *lno, t, self.baseline);
        }
        Some(b)
    }

    fn classify(&self, o: &Open, t: &[u8], hits: &[usize]) -> Class {
        let (exception, end_marker, stop) = statics();
        let rule = &self.c.rules[o.rule];
        // A generic block (a bare error word) never owns a line that a specific rule matches
        // (a cause, or a summary such as make's `*** Error 2`): that rule opens its own block.
        if rule.generic
            && hits.iter().any(|&h| {
                let r = &self.c.rules[h].spec;
                r.role != RuleRole::Demote && r.category != Category::Unknown
            })
        {
            return Class::Stop;
        }
        // The anchor of another rule's section (`extend: until`: a Terraform diagnostic's
        // `on FILE line N`, a pytest `____ test ____` header) right after a short block (at
        // most [`MAX_JOINED_HEAD`] lines: its header) starts that section: its rule defines the
        // extent from there, and the short block becomes its head ([`merge_sections`]). A
        // longer block (a stack trace the section's lines continue) keeps the line.
        if o.b.end - o.b.start < MAX_JOINED_HEAD
            && hits.iter().any(|&h| {
                h != o.rule && {
                    let r = &self.c.rules[h].spec;
                    r.extend == Extend::Until
                        && r.role == RuleRole::Cause
                        && r.category != Category::Unknown
                }
            })
        {
            return Class::Stop;
        }
        if rule.spec.extend == Extend::Until {
            // The stop ends the block even on a line of its own rule (the next `! ` error of
            // TeX): the next block starts there, and the section joins them again.
            return match &rule.stop {
                Some(s) if s.is_match(t) => Class::Stop,
                _ => Class::Cont,
            };
        }
        // A run of lines matched by the rule that opened the block is one block.
        if o.pending.is_empty() && hits.contains(&o.rule) && !is_warning(t) {
            return Class::Cont;
        }
        if is_blank(t) {
            return Class::Blank;
        }
        if let Some(tag) = &o.tag {
            if t.starts_with(tag) {
                return Class::Cont;
            }
        }
        if is_end_marker(end_marker, t) {
            return Class::End;
        }
        if is_stop(stop, t) {
            return Class::Stop;
        }
        if matches!(t.first(), Some(b' ' | b'\t')) {
            return Class::Cont;
        }
        let trimmed = t.trim_ascii_start();
        if trimmed.starts_with(b"at ")
            || trimmed.starts_with(b"Caused by")
            || trimmed.starts_with(b"Caused:")
            || trimmed.starts_with(b"Also:")
            || trimmed.starts_with(b"Suppressed:")
            || trimmed.starts_with(b"...")
            || exception.is_match(trimmed)
        {
            return Class::Cont;
        }
        if let Some(c) = &rule.continue_ {
            if c.is_match(t) {
                return Class::Cont;
            }
        }
        Class::Other
    }

    /// One cleaned line `text` (line `no`) with the rules it matches. `step_line` is the raw
    /// line whose step a block opened here belongs to ([`State::step_of`]); `None` when no
    /// step is known (lines fed again at the end of the log).
    fn feed(
        &mut self,
        no: u64,
        text: &[u8],
        hits: &[usize],
        back: Option<Back<'_>>,
        step_line: Option<&[u8]>,
    ) {
        if let Some((bi, left)) = self.tail {
            if let Some(b) = self.blocks.get_mut(bi) {
                if b.end + 1 == no {
                    add_line(b, no, text, self.baseline);
                    self.last_end = no;
                }
            }
            self.tail = if left > 1 { Some((bi, left - 1)) } else { None };
            // A line of `after` context that is also a new trigger still opens its own block.
            if hits.is_empty() {
                return;
            }
        }
        if let Some(mut o) = self.open.take() {
            let class = self.classify(&o, text, hits);
            match class {
                Class::Cont | Class::End => {
                    for p in std::mem::take(&mut o.pending) {
                        add_line(&mut o.b, p.no, &p.text, self.baseline);
                        enrich(&mut o.b, self.c, &p.hits, &p.text);
                        self.recycle(p);
                    }
                    let excerpt_before = o.b.excerpt_lines;
                    add_line(&mut o.b, no, text, self.baseline);
                    enrich(&mut o.b, self.c, hits, text);
                    if is_blank(text) {
                        o.trailing_blank.0 += 1;
                        o.trailing_blank.1 += o.b.excerpt_lines - excerpt_before;
                    } else {
                        o.trailing_blank = (0, 0);
                    }
                    if matches!(class, Class::End) || o.b.end - o.b.start + 1 >= o.max_lines {
                        self.close(o);
                    } else {
                        self.open = Some(o);
                    }
                    return;
                }
                Class::Blank | Class::Other => {
                    let blank = matches!(class, Class::Blank);
                    let texts = o.pending.iter().filter(|p| !p.blank).count();
                    let consecutive_blank = o.pending.last().is_some_and(|p| p.blank);
                    let fits = o.pending.len() < MAX_PENDING
                        && if blank {
                            !consecutive_blank
                        } else {
                            texts < MAX_PENDING_TEXT
                        };
                    if fits {
                        let mut p = self.spare_pending.pop().unwrap_or_default();
                        p.no = no;
                        p.blank = blank;
                        p.text.clear();
                        p.text.extend_from_slice(text);
                        p.hits.clear();
                        p.hits.extend_from_slice(hits);
                        o.pending.push(p);
                        self.open = Some(o);
                        return;
                    }
                    self.close_and_refeed(o, step_line);
                    // The current line, against whatever the re-fed lines left open.
                    self.feed(no, text, hits, back, step_line);
                    return;
                }
                Class::Stop => {
                    self.close_and_refeed(o, step_line);
                    if self.open.is_some() {
                        self.feed(no, text, hits, back, step_line);
                        return;
                    }
                }
            }
        }
        if !hits.is_empty() {
            self.open_block(no, text, hits, back, step_line);
        }
    }

    /// Closes a block at its last confirmed line and feeds its tentative lines again (a block
    /// they open gets the step of `step_line`, the line being fed).
    fn close_and_refeed(&mut self, mut o: Open, step_line: Option<&[u8]>) {
        let pending = std::mem::take(&mut o.pending);
        self.close(o);
        for p in pending {
            self.feed(p.no, &p.text, &p.hits, None, step_line);
            self.recycle(p);
        }
    }

    /// Keeps the buffers of a tentative line that is done with, for the next one.
    fn recycle(&mut self, p: Pending) {
        if self.spare_pending.len() < 2 * MAX_PENDING {
            self.spare_pending.push(p);
        }
    }

    fn open_block(
        &mut self,
        no: u64,
        text: &[u8],
        hits: &[usize],
        back: Option<Back<'_>>,
        step_line: Option<&[u8]>,
    ) {
        let (step, step_key) = match step_line {
            Some(raw) => self.step_of(raw),
            None => (None, None),
        };
        // The rule that drives the extent: the most confident cause, else any.
        let rules = &self.c.rules;
        let opener = hits
            .iter()
            .copied()
            .max_by(|a, b| {
                let ka = (
                    rules[*a].spec.role == RuleRole::Cause,
                    rules[*a].spec.confidence,
                );
                let kb = (
                    rules[*b].spec.role == RuleRole::Cause,
                    rules[*b].spec.confidence,
                );
                ka.partial_cmp(&kb).unwrap_or(std::cmp::Ordering::Equal)
            })
            .unwrap_or(hits[0]);
        let rule = &rules[opener];
        let mut b = Block {
            start: no,
            end: no.saturating_sub(1),
            opener,
            cause: None,
            summary: None,
            demoted: false,
            excerpt: Vec::new(),
            excerpt_lines: 0,
            lines: 0,
            baseline_hits: 0,
            file: None,
            rule_file: None,
            warning: is_warning(text),
            step,
            step_key,
            failure_tail: None,
        };
        // Context before: fixed `before` lines and `join-before` lines.
        let fixed = rule.spec.before.min(10) as usize;
        let may_join = fixed > 0 || hits.iter().any(|h| rules[*h].join_before.is_some());
        if let (Some(back), true) = (back, may_join) {
            let mut take = 0usize;
            let mut prevs: Vec<Vec<u8>> = Vec::new();
            for k in 1..=fixed.max(3) {
                if no <= k as u64 || no - k as u64 <= self.last_end {
                    break;
                }
                let Some(raw) = back.prev(k) else { break };
                let mut s = Vec::new();
                let t = clean_line(self.format, line_head(raw), &mut s).to_vec();
                let joins = k <= fixed
                    || (take + 1 == k
                        && hits.iter().any(|h| {
                            rules[*h]
                                .join_before
                                .as_ref()
                                .is_some_and(|j| j.is_match(&t))
                        }));
                if !joins {
                    break;
                }
                take = k;
                prevs.push(t);
            }
            for (i, t) in prevs.iter().enumerate().rev() {
                let pno = no - (i as u64 + 1);
                add_line(&mut b, pno, t, self.baseline);
            }
        }
        add_line(&mut b, no, text, self.baseline);
        enrich(&mut b, self.c, hits, text);
        let tag = leading_tag(text);
        let max_lines = u64::from(
            rule.spec
                .max_lines
                .unwrap_or(super::rules::DEFAULT_MAX_LINES)
                .max(1),
        );
        let o = Open {
            b,
            rule: opener,
            tag,
            pending: Vec::new(),
            max_lines,
            trailing_blank: (0, 0),
        };
        if rule.spec.extend == Extend::None {
            self.close(o);
        } else {
            self.open = Some(o);
        }
    }

    fn close(&mut self, mut o: Open) {
        let (blank, shown) = o.trailing_blank;
        if blank > 0 && o.b.end - o.b.start >= blank {
            o.b.end -= blank;
            o.b.lines = o.b.lines.saturating_sub(blank);
            for _ in 0..shown {
                o.b.excerpt.pop();
                let keep = memchr::memrchr(b'\n', &o.b.excerpt).map_or(0, |i| i + 1);
                o.b.excerpt.truncate(keep);
                o.b.excerpt_lines -= 1;
            }
        }
        let after = self.c.rules[o.rule].spec.after;
        self.last_end = o.b.end;
        self.blocks.push(o.b);
        if after > 0 {
            self.tail = Some((self.blocks.len() - 1, after.min(40)));
        }
        if self.blocks.len() > MAX_BLOCKS {
            self.prune();
        }
    }

    /// Drops the weaker half of the blocks (by best confidence, then position) to bound memory.
    fn prune(&mut self) {
        let strength = |b: &Block| {
            b.cause
                .map(|x| x.1)
                .or(b.summary.map(|x| x.1 * 0.5))
                .unwrap_or(0.0)
        };
        let mut idx: Vec<usize> = (0..self.blocks.len()).collect();
        idx.sort_by(|a, b| {
            let (ba, bb) = (&self.blocks[*a], &self.blocks[*b]);
            strength(bb)
                .partial_cmp(&strength(ba))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(bb.start.cmp(&ba.start))
        });
        let keep: HashSet<usize> = idx.into_iter().take(MAX_BLOCKS / 2).collect();
        let mut i = 0;
        self.blocks.retain(|_| {
            let k = keep.contains(&i);
            i += 1;
            k
        });
        self.tail = None;
    }

    fn finish(&mut self) {
        if let Some(mut o) = self.open.take() {
            let pending = std::mem::take(&mut o.pending);
            self.close(o);
            for p in pending {
                self.feed(p.no, &p.text, &p.hits, None, None);
            }
            if let Some(o) = self.open.take() {
                self.close(o);
            }
        }
    }
}

/// The most lines between two blocks of one failure section that still join them: a blank
/// line and a separator (unittest's `=====` rule before the next `FAIL:`), or the blank lines
/// between two compiler diagnostics.
const MAX_SECTION_GAP: u64 = 3;

/// Joins the blocks of one failure section: consecutive blocks opened by the same cause rule
/// with a category (not the generic one), in the same step, with at most
/// [`MAX_SECTION_GAP`] lines between them, the whole within the default `max-lines`. A runner that
/// prints five failure blocks one after another (unittest, RSpec, a compiler's diagnostics)
/// then gives one finding for its failure section rather than five that crowd out everything
/// else. `blocks` is in log order; the result is too.
///
/// A short block (the generic [`super::rules::GENERIC_RULE`]'s, or another cause rule's) right
/// before a block whose rule would have joined its lines (`join-before`) becomes that block's
/// head: the earlier block took them first, before the later rule's line was seen (Terraform's
/// `Error: <summary>` line, which a JavaScript `Error: ` rule also matches, before its `on FILE
/// line N` anchor).
fn merge_sections(blocks: &mut Vec<Block>, c: &Compiled) {
    let mut out: Vec<Block> = Vec::with_capacity(blocks.len());
    for mut b in blocks.drain(..) {
        if out.last().is_some_and(|prev| joins_before(prev, &b, c)) {
            if let Some(prev) = out.pop() {
                b = prepend(prev, b);
            }
        }
        match out.last_mut() {
            Some(prev) if same_section(prev, &b, c) => absorb(prev, b),
            _ => out.push(b),
        }
    }
    *blocks = out;
}

/// The most lines of a generic block that [`joins_before`] moves into the next block (the
/// scanner's own `join-before` looks back 3 lines).
const MAX_JOINED_HEAD: u64 = 3;

fn joins_before(prev: &Block, next: &Block, c: &Compiled) -> bool {
    let (p, n) = (&c.rules[prev.opener], &c.rules[next.opener]);
    let Some(join) = &n.join_before else {
        return false;
    };
    (p.generic || p.spec.role == RuleRole::Cause)
        && prev.opener != next.opener
        && n.spec.category != Category::Unknown
        && prev.end + 1 == next.start
        && prev.lines <= MAX_JOINED_HEAD
        && prev.excerpt_lines as u64 == prev.lines
        && prev.step_key == next.step_key
        && prev.failure_tail.is_none()
        && prev
            .excerpt
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .all(|l| join.is_match(l))
}

/// `head` (a short block right before `b`, [`joins_before`]) followed by `b`, under `b`'s rule
/// and step.
fn prepend(head: Block, mut b: Block) -> Block {
    let (mut excerpt, mut lines) = (head.excerpt, head.excerpt_lines);
    append_excerpt(&mut excerpt, &mut lines, &b.excerpt);
    b.excerpt = excerpt;
    b.excerpt_lines = lines;
    b.start = head.start;
    b.lines += head.lines;
    b.baseline_hits += head.baseline_hits;
    if b.summary.is_none() {
        b.summary = head.summary;
    }
    b.demoted |= head.demoted;
    b
}

fn same_section(prev: &Block, next: &Block, c: &Compiled) -> bool {
    let spec = &c.rules[prev.opener].spec;
    let max_lines = u64::from(super::rules::DEFAULT_MAX_LINES);
    prev.opener == next.opener
        && spec.role == RuleRole::Cause
        && spec.category != Category::Unknown
        && next.start > prev.end
        && next.start - prev.end - 1 <= MAX_SECTION_GAP
        && next.end - prev.start < max_lines
        && prev.step_key == next.step_key
        && prev.warning == next.warning
        && prev.failure_tail.is_none()
        && next.failure_tail.is_none()
}

/// Adds `next` (a later block of the same section) to `prev`: the span, the counts, the best
/// rules and as much of its excerpt as the bounds leave room for (whole lines).
fn absorb(prev: &mut Block, next: Block) {
    prev.end = next.end;
    prev.lines += next.lines;
    prev.baseline_hits += next.baseline_hits;
    if let Some((r, x)) = next.cause {
        if prev.cause.is_none_or(|(_, y)| x > y) {
            prev.cause = Some((r, x));
        }
    }
    if let Some((r, x)) = next.summary {
        if prev.summary.is_none_or(|(_, y)| x > y) {
            prev.summary = Some((r, x));
        }
    }
    prev.demoted |= next.demoted;
    if prev.rule_file.is_none() {
        prev.rule_file = next.rule_file;
    }
    append_excerpt(&mut prev.excerpt, &mut prev.excerpt_lines, &next.excerpt);
}

/// Appends the whole lines of `more` (an excerpt, `\n`-terminated lines) to `excerpt`, which
/// holds `lines` lines, while both stay within [`MAX_EXCERPT_LINES`] and [`MAX_EXCERPT_BYTES`].
fn append_excerpt(excerpt: &mut Vec<u8>, lines: &mut usize, more: &[u8]) {
    for line in more.split_inclusive(|&c| c == b'\n') {
        if *lines >= MAX_EXCERPT_LINES || excerpt.len() + line.len() > MAX_EXCERPT_BYTES {
            break;
        }
        excerpt.extend_from_slice(line);
        *lines += 1;
    }
}

/// The most lines between a failing command's echo and the block that opens its output for
/// the echo to join the block.
const MAX_ECHO_GAP: u64 = 2;

/// Puts the echo line of a failing command (`$ python vct_test.py`) at the head of the block
/// that opens its output, when at most [`MAX_ECHO_GAP`] lines lie between them: the command
/// is the header a reader needs with its error. `blocks` is in log order.
fn join_echoes(blocks: &mut [Block], failed: &[FailedCommand]) {
    for fc in failed.iter().filter(|f| !f.echo.is_empty()) {
        let Some(b) = blocks
            .iter_mut()
            .find(|b| b.start > fc.start && b.start <= fc.marker)
        else {
            continue;
        };
        if b.start - fc.start - 1 > MAX_ECHO_GAP {
            continue;
        }
        b.start = fc.start;
        b.lines += 1;
        let mut excerpt = Vec::with_capacity(fc.echo.len() + 1 + b.excerpt.len());
        excerpt.extend_from_slice(&fc.echo);
        excerpt.push(b'\n');
        let mut lines = 1;
        append_excerpt(&mut excerpt, &mut lines, &b.excerpt);
        b.excerpt = excerpt;
        b.excerpt_lines = lines;
    }
}

fn add_line(b: &mut Block, no: u64, text: &[u8], baseline: Option<&Baseline>) {
    if no < b.start {
        b.start = no;
    }
    if no > b.end {
        b.end = no;
    }
    b.lines += 1;
    if let Some(base) = baseline {
        if base.contains(line_hash(text)) {
            b.baseline_hits += 1;
        }
    }
    if b.excerpt_lines < MAX_EXCERPT_LINES && b.excerpt.len() < MAX_EXCERPT_BYTES {
        let room = MAX_EXCERPT_BYTES - b.excerpt.len();
        // Redaction runs on the finished excerpt and needs whole tokens: never keep part of one.
        let t = crate::text::token_safe_prefix(text, room.saturating_sub(1));
        b.excerpt.extend_from_slice(t);
        b.excerpt.push(b'\n');
        b.excerpt_lines += 1;
    }
}

fn enrich(b: &mut Block, c: &Compiled, hits: &[usize], text: &[u8]) {
    for &h in hits {
        let r = &c.rules[h];
        let conf = r.spec.confidence;
        match r.spec.role {
            RuleRole::Cause => {
                if b.cause.is_none_or(|(_, x)| conf > x) {
                    b.cause = Some((h, conf));
                }
            }
            RuleRole::Summary => {
                if b.summary.is_none_or(|(_, x)| conf > x) {
                    b.summary = Some((h, conf));
                }
            }
            RuleRole::Demote => b.demoted = true,
        }
        if r.file_group && b.rule_file.is_none() {
            if let Some(caps) = r.regex.captures(text) {
                if let Some(f) = caps.name("file") {
                    let line = caps
                        .name("line")
                        .and_then(|l| std::str::from_utf8(l.as_bytes()).ok())
                        .and_then(|l| l.parse::<u32>().ok());
                    if let Some(line) = line {
                        let path = String::from_utf8_lossy(f.as_bytes()).into_owned();
                        b.rule_file = Some((b.lines, (path, line)));
                    }
                }
            }
        }
    }
}

/// Sets a block's `file`: the first source location ([`super::location::find`]) named in the
/// first [`MAX_EXCERPT_LINES`] lines of its excerpt, up to the line a rule's `file` group came
/// from, else that group. Done once per kept block when the scan ends, not per line: most
/// blocks are dropped or name no location, and the search is a regex per line.
fn resolve_file(b: &mut Block) {
    let upto = b
        .rule_file
        .as_ref()
        .map_or(MAX_EXCERPT_LINES as u64, |(k, _)| {
            (*k).min(MAX_EXCERPT_LINES as u64)
        });
    let upto = usize::try_from(upto).unwrap_or(MAX_EXCERPT_LINES);
    b.file = b
        .excerpt
        .split(|c| *c == b'\n')
        .take(upto)
        .find_map(super::location::find)
        .or_else(|| b.rule_file.take().map(|(_, f)| f));
}

/// Counts `\n` bytes (memchr's SIMD counter: about 4x the auto-vectorised filter-count).
fn count_newlines(s: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', s).count() as u64
}

/// Scans one log stream.
///
/// The stream is read and its SHA-256 computed on a helper thread ([`ReadAhead`]) while this
/// thread scans: on the bench machine SHA-256 alone costs 0.6 s/GiB (SHA-NI; `openssl speed`
/// gives the same 1.77 GB/s) and the `read` calls 0.1–0.15 s/GiB, together most of the time
/// the scan itself takes. When the thread cannot be started, reading and hashing happen
/// inline.
pub(crate) fn scan<R: Read + Send>(
    r: R,
    c: &Compiled,
    baseline: Option<&Baseline>,
) -> std::io::Result<ScanOut> {
    // The thread takes the stream from here; when it cannot be started, this thread does.
    let slot = std::sync::Mutex::new(Some(r));
    std::thread::scope(|sc| {
        if let Some(mut ahead) = ReadAhead::start(sc, &slot) {
            let out = scan_with(&mut ahead, c, baseline);
            let done = ahead.finish();
            // A read error reached the scan, which reports it; `done` only knows it failed.
            let mut out = out?;
            let (sha, read) = done?;
            if read != out.bytes {
                // Only a scan that stopped before the end could see fewer bytes than were read.
                return Err(std::io::Error::other(format!(
                    "the scan saw {} bytes of the {read} read",
                    out.bytes
                )));
            }
            out.sha256 = sha;
            return Ok(out);
        }
        let r = slot
            .lock()
            .map_err(|_| std::io::Error::other("the log reader was lost"))?
            .take()
            .ok_or_else(|| std::io::Error::other("the log reader was lost"))?;
        scan_inline(r, c, baseline)
    })
}

/// [`scan`] with the reading and hashing on this thread: the fallback when the read thread
/// cannot be started. Same output.
fn scan_inline<R: Read>(
    r: R,
    c: &Compiled,
    baseline: Option<&Baseline>,
) -> std::io::Result<ScanOut> {
    let mut h = Sha256::new();
    let mut out = scan_with(ReadChunks::new(HashingReader::new(r, &mut h)), c, baseline)?;
    out.sha256 = lower_hex(&h.finalize());
    Ok(out)
}

fn scan_with<C: Chunks>(
    chunks: C,
    c: &Compiled,
    baseline: Option<&Baseline>,
) -> std::io::Result<ScanOut> {
    let mut lines = LineReader::new(chunks, HIST)?;
    let format = lines.format();
    let mut st = State {
        c,
        format,
        baseline,
        open: None,
        tail: None,
        blocks: Vec::new(),
        last_end: 0,
        step_idx: 0,
        step_name: None,
        error_steps: HashSet::new(),
        hits: Vec::new(),
        cur: Vec::with_capacity(1024),
        scratch: Vec::with_capacity(1024),
        lines_done: 0,
        line_hits: Vec::new(),
        spare_pending: Vec::new(),
        command: None,
        after_script: false,
        failed_commands: Vec::new(),
        region_floor: 0,
        tail_rule: c.rules.iter().position(|r| r.spec.id == FAILURE_TAIL_RULE),
    };
    while let Some(piece) = lines.next_piece()? {
        let buf = lines.buf();
        match piece {
            Piece::Lines { start, end, floor } => process_region(&mut st, buf, start, end, floor),
            Piece::LongHead { start, end } => {
                st.lines_done += 1;
                let no = st.lines_done;
                st.feed_raw(no, &buf[start..end], None, None);
            }
            Piece::Last { start, end, floor } => {
                st.lines_done += 1;
                let no = st.lines_done;
                let back = Back {
                    buf,
                    ls: start,
                    floor,
                };
                st.feed_raw(no, &buf[start..end], Some(back), None);
            }
        }
    }
    st.finish();
    merge_sections(&mut st.blocks, st.c);
    join_echoes(&mut st.blocks, &st.failed_commands);
    st.blocks.iter_mut().for_each(resolve_file);
    Ok(ScanOut {
        bytes: lines.bytes(),
        lines: st.lines_done,
        sha256: String::new(),
        format,
        blocks: std::mem::take(&mut st.blocks),
        error_steps: std::mem::take(&mut st.error_steps),
        failed_commands: std::mem::take(&mut st.failed_commands),
    })
}

fn process_region(st: &mut State<'_>, buf: &[u8], start: usize, end: usize, floor: usize) {
    // The lines of the region that hold a keyword, found in one pass up front.
    let mut hits = std::mem::take(&mut st.line_hits);
    hits.clear();
    if let Some(pf) = &st.c.prefilter {
        pf.line_hits(&buf[start..end], &mut hits);
    }
    let mut next = hits.iter().map(|h| start + h).peekable();
    let mut p = start;
    while p < end {
        // Hits in lines already fed are behind `p`.
        while next.next_if(|&h| h < p).is_some() {}
        if st.every_line() {
            let nl = memchr::memchr(b'\n', &buf[p..end]).map_or(end, |i| p + i);
            st.lines_done += 1;
            let no = st.lines_done;
            let back = Back { buf, ls: p, floor };
            let candidate = next.peek().is_some_and(|&h| h <= nl);
            st.feed_raw(no, &buf[p..nl], Some(back), Some(candidate));
            p = nl + 1;
            continue;
        }
        match next.next() {
            None => {
                st.lines_done += count_newlines(&buf[p..end]);
                p = end;
            }
            Some(hit) => {
                let ls = memchr::memrchr(b'\n', &buf[p..hit]).map_or(p, |i| p + i + 1);
                st.lines_done += count_newlines(&buf[p..ls]);
                let nl = memchr::memchr(b'\n', &buf[hit..end]).map_or(end, |i| hit + i);
                st.lines_done += 1;
                let no = st.lines_done;
                let back = Back { buf, ls, floor };
                st.feed_raw(no, &buf[ls..nl], Some(back), Some(true));
                p = nl + 1;
            }
        }
    }
    st.line_hits = hits;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::rules::{builtin_specs, compile};
    use crate::logs::lines::READ_CHUNK;

    fn blocks(log: &str) -> Vec<(u64, u64, String)> {
        let c = compile(&builtin_specs().expect("specs")).expect("compiles");
        let out = scan(log.as_bytes(), &c, None).expect("scans");
        out.blocks
            .iter()
            .map(|b| (b.start, b.end, c.rules[b.best_rule()].spec.id.clone()))
            .collect()
    }

    #[test]
    fn line_numbers_hold_across_read_chunks() {
        // Lines of 100 bytes, failures placed around several read-chunk and buffer boundaries.
        let filler = format!("{}\n", "x".repeat(99));
        let mut log = String::new();
        let mut want = Vec::new();
        for i in 1..=60_000u64 {
            if i % 7_000 == 0 {
                log.push_str("npm ERR! code ECONNRESET\n");
                want.push((i, i, "npm-network".to_string()));
            } else {
                log.push_str(&filler);
            }
        }
        assert!(log.len() > 20 * READ_CHUNK);
        assert_eq!(blocks(&log), want);
    }

    #[test]
    fn colour_codes_inside_a_keyword_do_not_hide_the_line() {
        // The prefilter sees raw bytes: `npm \x1b[31mERR!` does not hold `npm err!`.
        for ts in ["", "2024-01-01T00:00:00.0000000Z "] {
            for line in [
                "npm \x1b[31mERR!\x1b[39m code ERESOLVE",
                "npm ERR! code ERESOLVE",
            ] {
                let log = format!("{ts}ok\n{ts}{line}\n{ts}done\n");
                assert_eq!(
                    blocks(&log),
                    vec![(2, 2, "npm-eresolve".to_string())],
                    "{log:?}"
                );
            }
        }
    }

    #[test]
    fn a_diagnostic_after_an_error_word_keeps_its_whole_extent() {
        // Terraform's diagnostic: `Error: <summary>`, blank, `  on <file> line <N>:`, the
        // source line, then the detail paragraph; the generic block of the `Error:` line
        // becomes the diagnostic's head and the diagnostic runs to its end.
        let log = "Error: No value for required variable\n\n  on main.tf line 2:\n   2: variable \"input\" {\n\nThe module under test has a required variable\nwith no set value.\n";
        assert_eq!(
            blocks(log),
            vec![(1, 7, "terraform-diagnostic".to_string())]
        );
    }

    #[test]
    fn teamcity_inspections_match_whatever_the_attribute_order() {
        // TeamCity service messages name their attributes; the order is the producer's.
        for log in [
            "##teamcity[inspection typeId='errcheck' message='m' file='a/b.go' line='3' SEVERITY='ERROR']\n",
            "ok\n##teamcity[inspection file='c.go' typeId='unused' message='n' line='9']\n",
        ] {
            let n = log.lines().count() as u64;
            assert_eq!(
                blocks(log),
                vec![(n, n, "teamcity-inspection".to_string())],
                "{log}"
            );
        }
    }

    /// `prefix` padded with words so that a GitHub token starts at byte `at` of the line.
    fn token_at(prefix: &str, at: usize) -> String {
        let mut line = prefix.to_string();
        while line.len() + 2 <= at {
            line.push_str("w ");
        }
        while line.len() < at {
            line.push(' ');
        }
        line.push_str(&format!("ghp_{}", "Ab3".repeat(12)));
        line
    }

    #[test]
    fn budget_cuts_never_keep_part_of_a_token() {
        let c = compile(&builtin_specs().expect("specs")).expect("compiles");
        // The excerpt's 8 KiB cut falls inside the token: the whole token goes, so that no
        // `ghp_…` prefix too short for the redactor survives.
        let line = token_at("npm ERR! code ECONNRESET ", MAX_EXCERPT_BYTES - 12);
        let out = scan(format!("{line}\n").as_bytes(), &c, None).expect("scans");
        let excerpt = String::from_utf8_lossy(&out.blocks[0].excerpt).into_owned();
        assert!(
            !excerpt.contains("ghp_"),
            "{}",
            &excerpt[excerpt.len() - 40..]
        );
        assert!(excerpt.len() > MAX_EXCERPT_BYTES - 20, "{}", excerpt.len());
        // A step header longer than MAX_LINE, cut inside a token (also when the line comes
        // in pieces): the step name keeps none of it.
        let step = token_at("##[group]Run curl -H ", crate::logs::lines::MAX_LINE - 8);
        let log = format!("{step}\nnpm ERR! code ECONNRESET\n");
        let out = scan(log.as_bytes(), &c, None).expect("scans");
        let name = out.blocks[0].step.clone().expect("step");
        assert!(name.starts_with("Run curl -H w w") && !name.contains("ghp_"));
        struct Small<'a>(&'a [u8]);
        impl Read for Small<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(out.len()).min(1000);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let out = scan(Small(log.as_bytes()), &c, None).expect("scans");
        assert_eq!(out.blocks[0].step.as_deref(), Some(&*name));
    }

    #[test]
    fn error_markers_are_seen_without_a_rule_keyword() {
        // A pack whose keywords do not cover `##[error]` (say, the policy disabled the generic
        // rules): the failed step is still known.
        let specs: Vec<_> = builtin_specs()
            .expect("specs")
            .into_iter()
            .filter(|s| !s.keywords.iter().any(|k| k.contains("error")))
            .collect();
        let c = compile(&specs).expect("compiles");
        let log = "##[group]Run make\nfine\n##[error]boom\n##[endgroup]\n##[group]Run other\nok\n";
        let out = scan(log.as_bytes(), &c, None).expect("scans");
        let want: HashSet<Arc<str>> = [Arc::from("1:Run make")].into();
        assert_eq!(out.error_steps, want);
    }

    /// What a scan found, in a form that compares whole blocks.
    fn summary(out: &ScanOut) -> Vec<String> {
        let mut v: Vec<String> = out
            .blocks
            .iter()
            .map(|b| {
                format!(
                    "{}-{} {} {:?} {:?} {} {:?} {:?} {}",
                    b.start,
                    b.end,
                    b.opener,
                    b.cause,
                    b.summary,
                    b.demoted,
                    b.file,
                    b.step_key,
                    String::from_utf8_lossy(&b.excerpt)
                )
            })
            .collect();
        let mut steps: Vec<&Arc<str>> = out.error_steps.iter().collect();
        steps.sort();
        v.push(format!(
            "{} lines, {} bytes, error steps {steps:?}",
            out.lines, out.bytes
        ));
        v
    }

    #[test]
    fn the_prefilter_loses_nothing_on_the_real_logs() {
        // Without a prefilter every line is tried against the rules: the reference. With it,
        // lines are skipped by the region search and, inside blocks, by its hits: the result
        // must be identical. Colour codes splitting keywords and timestamps are added on top.
        let c = compile(&builtin_specs().expect("specs")).expect("compiles");
        assert!(c.prefilter.is_some());
        let mut every = c.clone();
        every.prefilter = None;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut logs: Vec<Vec<u8>> = walkdir::WalkDir::new(&root)
            .sort_by_file_name()
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
            .map(|e| std::fs::read(e.path()).expect("fixture"))
            .collect();
        assert!(logs.len() > 60, "{}", logs.len());
        logs.push(
            b"2024-01-01T00:00:00.0000000Z ##[group]Run npm test\n\
              2024-01-01T00:00:00.0000000Z npm \x1b[31mER\x1b[0mR! code E\x1b[1mRESOLVE\n\
              2024-01-01T00:00:00.0000000Z \x1b[32mfa\x1b[39mtal: not a git repository\n\
              2024-01-01T00:00:00.0000000Z   at x\n\
              2024-01-01T00:00:00.0000000Z ok\n"
                .to_vec(),
        );
        for log in &logs {
            let want = scan(&log[..], &every, None).expect("scans");
            let got = scan(&log[..], &c, None).expect("scans");
            assert_eq!(summary(&got), summary(&want));
        }
    }

    #[test]
    fn digest_and_size_are_those_of_the_whole_stream() {
        // Several read chunks, delivered in small reads of odd sizes.
        let mut log = Vec::new();
        let mut i = 0u32;
        while log.len() < 3 * READ_CHUNK + 12_345 {
            log.extend_from_slice(format!("line {i} of the log, npm ERR! code E{i}\n").as_bytes());
            i += 1;
        }
        log.extend_from_slice(b"no newline at the end");
        struct Odd<'a>(&'a [u8], usize);
        impl Read for Odd<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                self.1 = (self.1 * 7 + 3) % 5000 + 1;
                let n = self.0.len().min(out.len()).min(self.1);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let c = compile(&builtin_specs().expect("specs")).expect("compiles");
        let out = scan(Odd(&log, 1), &c, None).expect("scans");
        assert_eq!(out.sha256, crate::digest::sha256_hex(&log));
        assert_eq!(out.bytes, log.len() as u64);
        assert_eq!(out.lines, u64::from(i) + 1);
        // The inline fallback (no read thread) gives the same.
        let inline = scan_inline(Odd(&log, 1), &c, None).expect("scans");
        assert_eq!(
            (&inline.sha256, inline.bytes, inline.lines),
            (&out.sha256, out.bytes, out.lines)
        );
        assert_eq!(summary(&inline), summary(&out));
    }

    #[test]
    fn the_inline_fallback_scans_the_real_logs_as_the_read_thread_does() {
        let c = compile(&builtin_specs().expect("specs")).expect("compiles");
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/cidiff");
        let mut n = 0;
        for entry in walkdir::WalkDir::new(&root).sort_by_file_name() {
            let entry = entry.expect("walks");
            if entry.path().extension().is_none_or(|e| e != "log") {
                continue;
            }
            let log = std::fs::read(entry.path()).expect("reads");
            let threaded = scan(&log[..], &c, None).expect("scans");
            let inline = scan_inline(&log[..], &c, None).expect("scans");
            assert_eq!(
                summary(&inline),
                summary(&threaded),
                "{}",
                entry.path().display()
            );
            assert_eq!(inline.sha256, threaded.sha256);
            assert_eq!(
                (inline.bytes, inline.lines),
                (threaded.bytes, threaded.lines)
            );
            n += 1;
        }
        assert!(n >= 72, "{n} logs");
        // A read error fails the inline scan too, with its message.
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        let e = scan_inline(Broken, &c, None).expect_err("fails");
        assert!(e.to_string().contains("disk on fire"), "{e}");
    }

    #[test]
    fn a_read_error_fails_the_scan_with_its_message() {
        struct Broken(usize);
        impl Read for Broken {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    return Err(std::io::Error::other("disk on fire"));
                }
                self.0 -= 1;
                let line = b"npm ERR! code ECONNRESET\n";
                let n = line.len().min(out.len());
                out[..n].copy_from_slice(&line[..n]);
                Ok(n)
            }
        }
        let c = compile(&builtin_specs().expect("specs")).expect("compiles");
        for good_reads in [0, 3, 20_000] {
            let e = scan(Broken(good_reads), &c, None).expect_err("fails");
            assert!(e.to_string().contains("disk on fire"), "{e}");
        }
    }

    #[test]
    fn literal_checks_agree_with_the_regexes_on_every_fixture_line() {
        let (_, end_marker, stop) = statics();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut lines: Vec<Vec<u8>> = [
            "##[error]Process completed with exit code 2.",
            "Error: Process completed with exit code 1.",
            "##[error]The process '/usr/bin/git' failed with exit code 128",
            "Finished: FAILURE; marked build as failure",
            "[INFO] BUILD FAILURE",
            "##[endgroup]",
            "> Task :app:test FAILED",
            "Post job cleanup.",
            "* What went wrong:",
        ]
        .iter()
        .map(|l| l.as_bytes().to_vec())
        .collect();
        let mut scratch = Vec::new();
        for e in walkdir::WalkDir::new(&root)
            .into_iter()
            .filter_map(Result::ok)
        {
            if e.path().extension().is_some_and(|x| x == "log") {
                let log = std::fs::read(e.path()).expect("fixture");
                for raw in log.split(|b| *b == b'\n') {
                    let t = clean_line(LogFormat::RawGithub, raw, &mut scratch).to_vec();
                    lines.push(t);
                }
            }
        }
        let (mut ends, mut stops) = (0, 0);
        for t in &lines {
            assert_eq!(
                is_end_marker(end_marker, t),
                end_marker.is_match(t),
                "{t:?}"
            );
            assert_eq!(is_stop(stop, t), stop.is_match(t), "{t:?}");
            ends += usize::from(end_marker.is_match(t));
            stops += usize::from(stop.is_match(t));
        }
        assert!(ends > 20 && stops > 1000, "{ends} {stops}");
    }

    #[test]
    fn join_before_takes_the_header_line() {
        let log = "x\n[WARNING] Error injecting: a.B\njava.lang.UnsupportedClassVersionError: foo\n    at a.b(C.java:1)\n[INFO] done\n";
        assert_eq!(blocks(log), vec![(2, 4, "java-exception".to_string())]);
    }

    fn files(log: &str) -> Vec<Option<(String, u32)>> {
        let c = compile(&builtin_specs().expect("specs")).expect("compiles");
        let out = scan(log.as_bytes(), &c, None).expect("scans");
        out.blocks.into_iter().map(|b| b.file).collect()
    }

    #[test]
    fn a_block_names_its_first_location_within_its_first_lines() {
        // The first frame that names a file wins over later ones.
        let trace = |frames: std::ops::Range<u32>| {
            let mut log = "java.lang.IllegalStateException: boom\n".to_string();
            for i in frames {
                log.push_str(&format!("    at a.B.m{i}(B{i}.java:{i})\n"));
            }
            log + "[INFO] done\n"
        };
        assert_eq!(files(&trace(3..9)), [Some(("B3.java".to_string(), 3))]);
        // Only the first MAX_EXCERPT_LINES lines are searched: a trace whose first frames
        // name no file gets none from line 41 on.
        let mut log = "java.lang.IllegalStateException: boom\n".to_string();
        for _ in 0..MAX_EXCERPT_LINES {
            log.push_str("    at a.B.m(Native Method)\n");
        }
        log.push_str("    at a.B.m(B.java:7)\n[INFO] done\n");
        assert_eq!(files(&log), [None]);
        // On the line a rule's `file` group comes from, the generic search comes first (it
        // keeps go's `./`; the go rule's group drops it).
        let go = "./pkg/a.go:12:3: undefined: x\n    at other.go:99\n";
        assert_eq!(files(go)[0], Some(("./pkg/a.go".to_string(), 12)));
    }
}
