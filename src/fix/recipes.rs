//! Built-in recipes: deterministic fixes for failures recognised with certainty. Each recipe
//! reads the evidence (finding excerpts, failed-test messages, the logs themselves), checks
//! the repository, states its evidence in the instruction summary, and does nothing when it
//! cannot be sure.
//!
//! - `dockerignore-exception`: a file the container or the build cannot find is excluded by
//!   `.dockerignore` (Docker semantics); add the narrowest `!path` exception.
//! - `import-case`: a relative JS/TS import or a Python import that only fails on a
//!   case-sensitive file system; fix it to the file's real case.
//! - `playwright-timeout`: one locator wait timed out; raise its explicit timeout (policy
//!   opt-in, never above the cap).
//!
//! [`evidence_lines`] builds the evidence the same way for `fix-agent-prepare` and the
//! Developer-Agent; [`files_wanted`] names the files whose contents the recipes read, so a
//! client can send just those (plus a listing of paths) and the Developer-Agent can run the
//! recipes on a tree rebuilt from them.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::OnceLock;

use regex::Regex;

use crate::artifact::{
    Category, Edit, FailedTest, Finding, Instruction, LogFormat, LogInfo, Redactions,
};
use crate::logs::format::{clean_line, detect_format};
use crate::logs::redact::Redactor;
use crate::policy::fix_agent::FixAgentPolicy;

use super::dockerignore::{context_paths_for, copies, escape_pattern, DockerIgnore};
use super::path::{check_on_disk, verify_path, OnDisk};

/// One line of evidence text with where it came from.
#[derive(Debug, Clone)]
pub struct EvidenceLine {
    /// Where: `log.txt:120`, `finding 1`, `test <name>`.
    pub origin: String,
    /// The cleaned, redacted text.
    pub text: String,
}

/// What a recipe looked at and why it did nothing (one note per recipe that saw a candidate).
#[derive(Debug, Default)]
pub struct RecipeOutput {
    /// The instructions produced.
    pub instructions: Vec<Instruction>,
    /// Notes about candidates that were not certain enough.
    pub notes: Vec<String>,
}

fn re(s: &str) -> Regex {
    Regex::new(s).expect("constant regex")
}

fn clip(s: &str, max: usize) -> String {
    let t = s.trim();
    if t.chars().count() <= max {
        t.to_string()
    } else {
        let mut x: String = t.chars().take(max).collect();
        x.push('…');
        x
    }
}

/// The longest instruction summary a recipe writes, in bytes (plus a 3-byte `…` when cut), so
/// every summary stays under [`super::MAX_SUMMARY_BYTES`] whatever characters the evidence has.
pub const MAX_RECIPE_SUMMARY_BYTES: usize = 1000;

/// Cuts a summary to [`MAX_RECIPE_SUMMARY_BYTES`] on a character boundary.
fn clip_summary(s: &str) -> String {
    let t = s.trim();
    if t.len() <= MAX_RECIPE_SUMMARY_BYTES {
        return t.to_string();
    }
    format!(
        "{}…",
        crate::text::truncate_str(t, MAX_RECIPE_SUMMARY_BYTES)
    )
}

fn is_file(repo: &Path, p: &str) -> bool {
    verify_path(p).is_ok() && matches!(check_on_disk(repo, p), Ok(OnDisk::File { .. }))
}

fn read_small(repo: &Path, p: &str) -> Option<String> {
    match check_on_disk(repo, p) {
        Ok(OnDisk::File { bytes, .. }) if bytes <= 1024 * 1024 => {
            std::fs::read_to_string(repo.join(p)).ok()
        }
        _ => None,
    }
}

/// Runs every recipe on `lines` against the repository at `repo`.
pub fn run_all(repo: &Path, lines: &[EvidenceLine], policy: &FixAgentPolicy) -> RecipeOutput {
    let mut out = RecipeOutput::default();
    dockerignore_exception(repo, lines, &mut out);
    import_case(repo, lines, &mut out);
    if let Some(cap) = policy.playwright_max_ms {
        playwright_timeout(repo, lines, cap, &mut out);
    }
    out
}

/// What a sure recipe says the failure is, for `self-heal-prepare`: the recipe checked the
/// evidence against the repository (e.g. `.dockerignore` really excludes the file the log
/// says is missing), so its category is better founded than a keyword rule's.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosis {
    /// The recipe's id (`dockerignore-exception`, `import-case`).
    pub recipe: &'static str,
    /// The category the recipe's finding belongs to.
    pub category: Category,
    /// The recipe's own summary (its evidence and what it would change), at most
    /// [`MAX_RECIPE_SUMMARY_BYTES`] bytes plus `…`.
    pub summary: String,
}

/// The category of a failure each recipe fixes, by recipe id.
const RECIPE_CATEGORIES: &[(&str, Category)] = &[
    ("dockerignore-exception", Category::BuildConfig),
    ("import-case", Category::CompileError),
    ("playwright-timeout", Category::TestTimeout),
];

/// Runs the recipes that need no policy opt-in (`dockerignore-exception`, `import-case`) on
/// `lines` against the checkout at `repo`, read-only, and returns the first sure finding:
/// `None` when no recipe was sure. Nothing is written; the edits are discarded.
pub fn diagnose(repo: &Path, lines: &[EvidenceLine]) -> Option<Diagnosis> {
    let out = run_all(repo, lines, &FixAgentPolicy::default());
    out.instructions.into_iter().find_map(|i| {
        let id = i.source.as_deref()?.strip_prefix("recipe:")?;
        let (recipe, category) = RECIPE_CATEGORIES.iter().find(|(r, _)| *r == id)?;
        Some(Diagnosis {
            recipe,
            category: *category,
            summary: i.summary,
        })
    })
}

// ---------------------------------------------------------------- evidence

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
struct Tail {
    bytes: Vec<u8>,
    lines_before: u64,
    complete: bool,
}

/// Reads `reader` to its end keeping its last `cap` bytes
/// ([`crate::logs::lines::read_last_bytes`]), then drops a line cut at the front.
fn read_tail<R: Read>(mut reader: R, cap: usize) -> Tail {
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
fn log_lines<R: Read>(log: EvidenceLog<R>, budget: &mut u64, out: &mut Vec<EvidenceLine>) {
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

// ---------------------------------------------------------------- dockerignore-exception

fn missing_file_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| re(r"(?i)\bnot found\b|no such file|does not exist|cannot find|can't find|could not find|\bENOENT\b|failed to compute cache key|excluded by \.dockerignore"))
}

fn path_token_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| re(r#"(?:^|[\s"'`(:=\[])(/?(?:[A-Za-z0-9_.@+-]+/)*[A-Za-z0-9_@+-][A-Za-z0-9_.@+-]*\.[A-Za-z0-9]{1,10})(?:$|[\s"'`),:;\]])"#))
}

/// The `dockerignore-exception` recipe.
pub fn dockerignore_exception(repo: &Path, lines: &[EvidenceLine], out: &mut RecipeOutput) {
    let Some(ignore_text) = read_small(repo, ".dockerignore") else {
        return;
    };
    let (ignore, invalid) = DockerIgnore::parse(&ignore_text);
    let dockerfile = read_small(repo, "Dockerfile").unwrap_or_default();
    let copy_list = copies(&dockerfile);
    let mut found: Vec<(String, String, String)> = Vec::new(); // (context path, evidence, mapping)
    for l in lines {
        if !missing_file_re().is_match(&l.text) {
            continue;
        }
        for cap in path_token_re().captures_iter(&l.text) {
            let Some(tok) = cap.get(1).map(|m| m.as_str()) else {
                continue;
            };
            // (context path, how the log's path maps to it)
            let candidates: Vec<(String, String)> = if tok.starts_with('/') {
                let mut c: Vec<(String, String)> = context_paths_for(tok, &copy_list, |p| {
                    repo.join(p).symlink_metadata().is_ok_and(|m| m.is_dir())
                })
                .into_iter()
                .map(|(p, ci)| {
                    let via = format!("Dockerfile line {} copies it to {}", ci.line, ci.dest);
                    (p, via)
                })
                .collect();
                // BuildKit names context files with a leading `/` ("/tsconfig.json": not found).
                let direct = tok.trim_start_matches('/').to_string();
                if c.is_empty() && is_file(repo, &direct) && l.text.contains("cache key") {
                    c.push((direct, "it is a build-context path".into()));
                }
                c
            } else {
                vec![(
                    tok.trim_start_matches("./").to_string(),
                    "it is a build-context path".into(),
                )]
            };
            for (c, mapping) in candidates {
                if found.iter().any(|(p, _, _)| *p == c) || !is_file(repo, &c) {
                    continue;
                }
                if !ignore.is_excluded(&c) {
                    continue;
                }
                found.push((c, quote_evidence(l), mapping));
            }
        }
    }
    if found.is_empty() {
        return;
    }
    if invalid > 0 {
        out.notes.push("recipe dockerignore-exception: .dockerignore has patterns Docker would reject; not sure, nothing done".into());
        return;
    }
    found.truncate(5);
    let mut additions = String::new();
    let mut trial = ignore_text.clone();
    if !trial.is_empty() && !trial.ends_with('\n') {
        trial.push('\n');
    }
    for (p, _, _) in &found {
        additions.push_str(&format!("!{}\n", escape_pattern(p)));
    }
    trial.push_str(&additions);
    let (after, _) = DockerIgnore::parse(&trial);
    if found.iter().any(|(p, _, _)| after.is_excluded(p)) {
        out.notes.push("recipe dockerignore-exception: an exception would not re-include the file; nothing done".into());
        return;
    }
    let file_lines: Vec<&str> = ignore_text.split('\n').collect();
    // The last non-empty line is replaced by itself plus the exceptions.
    let Some(last_idx) = file_lines.iter().rposition(|l| !l.is_empty()) else {
        return;
    };
    let last = file_lines[last_idx].trim_end_matches('\r');
    let deciding: Vec<String> = found
        .iter()
        .filter_map(|(p, _, _)| {
            ignore
                .deciding(p)
                .map(|d| format!("line {} `{}`", d.line, d.text))
        })
        .collect();
    let (first_path, first_evidence, mapping) = &found[0];
    let summary = clip_summary(
        &format!(
            "Re-include {} in the Docker build context: the log says it is missing ({}); {}; .dockerignore excludes it ({}). Adds the narrowest exception `!{}`.",
            found.iter().map(|f| f.0.as_str()).collect::<Vec<_>>().join(", "),
            first_evidence,
            mapping,
            deciding.join(", "),
            escape_pattern(first_path)
        ),
    );
    out.instructions.push(Instruction {
        summary,
        source: Some("recipe:dockerignore-exception".into()),
        edits: vec![Edit::ReplaceLines {
            path: ".dockerignore".into(),
            start_line: u32::try_from(last_idx + 1).unwrap_or(u32::MAX),
            end_line: u32::try_from(last_idx + 1).unwrap_or(u32::MAX),
            expected: last.to_string(),
            replacement: format!("{last}\n{}", additions.trim_end_matches('\n')),
        }],
    });
}

// ---------------------------------------------------------------- import-case

const JS_EXTS: &[&str] = &[
    "js", "jsx", "ts", "tsx", "mjs", "cjs", "mts", "cts", "vue", "svelte",
];
const RESOLVE_SUFFIXES: &[&str] = &[
    "",
    ".js",
    ".jsx",
    ".ts",
    ".tsx",
    ".mjs",
    ".cjs",
    ".mts",
    ".cts",
    ".json",
    "/index.js",
    "/index.ts",
    "/index.jsx",
    "/index.tsx",
];

/// Resolves `rel` (a `/`-separated relative path, no `..` left) case-insensitively under
/// `repo`: each component must have exactly one directory entry equal ignoring ASCII case.
fn resolve_case_insensitive(repo: &Path, rel: &str) -> Option<String> {
    let mut cur = repo.to_path_buf();
    let mut parts = Vec::new();
    for c in rel.split('/') {
        let entries = std::fs::read_dir(&cur).ok()?;
        let mut hits = Vec::new();
        for e in entries.flatten().take(10_000) {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.eq_ignore_ascii_case(c) {
                hits.push(name);
            }
        }
        if hits.len() != 1 {
            return None;
        }
        let name = hits.remove(0);
        cur.push(&name);
        parts.push(name);
    }
    Some(parts.join("/"))
}

fn normalise_rel(base_dir: &str, spec: &str) -> Option<String> {
    let mut out: Vec<&str> = if base_dir.is_empty() {
        Vec::new()
    } else {
        base_dir.split('/').collect()
    };
    for c in spec.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            c => out.push(c),
        }
    }
    Some(out.join("/"))
}

fn source_files(repo: &Path, exts: &[&str]) -> Vec<String> {
    let mut files = Vec::new();
    let walker = walkdir::WalkDir::new(repo)
        .follow_links(false)
        .max_depth(12)
        .into_iter()
        .filter_entry(|e| {
            let n = e.file_name().to_string_lossy();
            !(e.depth() > 0
                && (n.starts_with('.')
                    || matches!(
                        n.as_ref(),
                        "node_modules"
                            | "dist"
                            | "build"
                            | "target"
                            | "vendor"
                            | "__pycache__"
                            | "venv"
                    )))
        });
    for e in walker.flatten().take(50_000) {
        if !e.file_type().is_file() {
            continue;
        }
        let Ok(rel) = e.path().strip_prefix(repo) else {
            continue;
        };
        let Some(rel) = rel.to_str() else { continue };
        let ext = rel.rsplit_once('.').map(|(_, x)| x).unwrap_or("");
        if exts.contains(&ext) && verify_path(rel).is_ok() {
            files.push(rel.to_string());
        }
        if files.len() >= 20_000 {
            break;
        }
    }
    files.sort();
    files
}

/// A failing import and the evidence (`origin: line`) that names it.
type FailingImport = (String, String);

/// The failing imports the `import-case` recipe looks at: relative JS/TS specifiers and Python
/// modules, each with the evidence line that names it, at most 5 of each (first seen first).
fn failing_imports(lines: &[EvidenceLine]) -> (Vec<FailingImport>, Vec<FailingImport>) {
    static JS: OnceLock<Vec<Regex>> = OnceLock::new();
    let js = JS.get_or_init(|| {
        vec![
            re(r#"Cannot find module ['"](\.{1,2}/[^'"]+)['"]"#),
            re(r#"Can't resolve ['"](\.{1,2}/[^'"]+)['"]"#),
            re(r#"Could not resolve ['"](\.{1,2}/[^'"]+)['"]"#),
            re(r#"Failed to resolve import ['"](\.{1,2}/[^'"]+)['"]"#),
        ]
    });
    static PY: OnceLock<Regex> = OnceLock::new();
    let py = PY.get_or_init(|| {
        re(r#"ModuleNotFoundError: No module named ['"]([A-Za-z_][A-Za-z0-9_.]*)['"]"#)
    });
    let mut js_specs: Vec<(String, String)> = Vec::new();
    let mut py_mods: Vec<(String, String)> = Vec::new();
    for l in lines {
        for r in js {
            for c in r.captures_iter(&l.text) {
                if let Some(m) = c.get(1) {
                    let s = m.as_str().to_string();
                    if !js_specs.iter().any(|(x, _)| *x == s) {
                        js_specs.push((s, quote_evidence(l)));
                    }
                }
            }
        }
        for c in py.captures_iter(&l.text) {
            if let Some(m) = c.get(1) {
                let s = m.as_str().to_string();
                if !py_mods.iter().any(|(x, _)| *x == s) {
                    py_mods.push((s, quote_evidence(l)));
                }
            }
        }
    }
    js_specs.truncate(5);
    py_mods.truncate(5);
    (js_specs, py_mods)
}

/// The spellings of a JS specifier in source: quoted with `'`, `"` or a backtick.
fn quoted_specs(spec: &str) -> Vec<String> {
    ['\'', '"', '`']
        .iter()
        .map(|q| format!("{q}{spec}{q}"))
        .collect()
}

/// The Python line that imports `module` (`from m import …`, `import m`); group 1 is the part
/// up to and including the module name.
fn py_import_line_re(module: &str) -> Option<Regex> {
    let esc = regex::escape(module);
    Regex::new(&format!(
        r"^(\s*(?:from\s+{esc}\s+import\b|import\s+{esc}(?:\s|$|,)))"
    ))
    .ok()
}

/// The `import-case` recipe (JS/TS relative imports and Python modules). Every source file
/// is read once and checked for all failing imports.
pub fn import_case(repo: &Path, lines: &[EvidenceLine], out: &mut RecipeOutput) {
    let (js_specs, py_mods) = failing_imports(lines);
    if !js_specs.is_empty() {
        let mut cases: Vec<JsCase> = js_specs
            .iter()
            .map(|(spec, evidence)| JsCase {
                spec,
                evidence,
                quoted: quoted_specs(spec),
                edits: Vec::new(),
                fixed_to: None,
                resolved_file: String::new(),
                ambiguous: false,
            })
            .collect();
        for f in source_files(repo, JS_EXTS) {
            let Some(text) = read_small(repo, &f) else {
                continue;
            };
            for c in cases.iter_mut().filter(|c| !c.ambiguous) {
                c.scan(repo, &f, &text);
            }
        }
        for c in cases {
            c.finish(out);
        }
    }
    if !py_mods.is_empty() {
        let mut cases: Vec<PyCase> = py_mods
            .iter()
            .filter_map(|(module, evidence)| PyCase::new(repo, module, evidence))
            .collect();
        if !cases.is_empty() {
            for f in source_files(repo, &["py"]) {
                let Some(text) = read_small(repo, &f) else {
                    continue;
                };
                for c in &mut cases {
                    c.scan(&f, &text);
                }
            }
        }
        for c in cases {
            c.finish(out);
        }
    }
}

/// One failing JS/TS specifier and the edits found for it so far.
struct JsCase<'a> {
    spec: &'a str,
    evidence: &'a str,
    quoted: Vec<String>,
    edits: Vec<Edit>,
    fixed_to: Option<String>,
    resolved_file: String,
    /// The specifier resolves differently from different files: nothing is done.
    ambiguous: bool,
}

impl JsCase<'_> {
    /// Checks one source file `f` (its `text`) for an import of the specifier that only
    /// resolves case-insensitively, and adds the edits fixing its letter case.
    fn scan(&mut self, repo: &Path, f: &str, text: &str) {
        let spec = self.spec;
        if !self.quoted.iter().any(|q| text.contains(q.as_str())) {
            return;
        }
        let dir = f.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        let Some(target) = normalise_rel(dir, spec) else {
            return;
        };
        if target.is_empty() {
            return;
        }
        // Exact resolution works: this file's import is fine.
        if RESOLVE_SUFFIXES
            .iter()
            .any(|s| is_file(repo, &format!("{target}{s}")))
        {
            return;
        }
        let mut real = None;
        for s in RESOLVE_SUFFIXES {
            if let Some(r) = resolve_case_insensitive(repo, &format!("{target}{s}")) {
                if verify_path(&r).is_ok() {
                    real = Some((r, *s));
                    break;
                }
            }
        }
        let Some((real_path, suffix)) = real else {
            return;
        };
        let real_target = &real_path[..real_path.len() - suffix.len()];
        // Rebuild the specifier: keep its `./`/`../` prefix, take the real case of the rest.
        let up = spec
            .split('/')
            .take_while(|c| *c == "." || *c == "..")
            .count();
        let prefix: Vec<&str> = spec.split('/').take(up).collect();
        let tail_len = spec.split('/').count() - up;
        let real_parts: Vec<&str> = real_target.split('/').collect();
        if real_parts.len() < tail_len {
            return;
        }
        let new_tail = real_parts[real_parts.len() - tail_len..].join("/");
        let new_spec = format!("{}/{new_tail}", prefix.join("/"));
        if new_spec == spec || !new_spec.eq_ignore_ascii_case(spec) {
            return;
        }
        match &self.fixed_to {
            Some(x) if *x != new_spec => {
                self.ambiguous = true;
                return;
            }
            _ => self.fixed_to = Some(new_spec.clone()),
        }
        self.resolved_file = real_path.clone();
        for (n, line) in text.split('\n').enumerate() {
            let line = line.trim_end_matches('\r');
            let is_import = line.contains("import")
                || line.contains("require")
                || line.contains("from ")
                || line.contains("export");
            if !is_import || !self.quoted.iter().any(|q| line.contains(q.as_str())) {
                continue;
            }
            let mut new_line = line.to_string();
            for q in ['\'', '"', '`'] {
                new_line = new_line.replace(&format!("{q}{spec}{q}"), &format!("{q}{new_spec}{q}"));
            }
            let ln = u32::try_from(n + 1).unwrap_or(u32::MAX);
            self.edits.push(Edit::ReplaceLines {
                path: f.to_string(),
                start_line: ln,
                end_line: ln,
                expected: line.to_string(),
                replacement: new_line,
            });
        }
    }

    /// The instruction (or the note saying why there is none).
    fn finish(self, out: &mut RecipeOutput) {
        let spec = self.spec;
        if self.ambiguous {
            out.notes.push(format!("recipe import-case: {spec:?} resolves differently from different files; nothing done"));
            return;
        }
        let (Some(new_spec), false) = (self.fixed_to, self.edits.is_empty()) else {
            return;
        };
        let (evidence, resolved_file) = (self.evidence, self.resolved_file);
        out.instructions.push(Instruction {
            summary: clip_summary(
                &format!(
                    "Fix the letter case of import {spec:?} to {new_spec:?}: the log says the module cannot be found ({evidence}), and the file is {resolved_file}, which only a case-insensitive file system finds."
                ),
            ),
            source: Some("recipe:import-case".into()),
            edits: self.edits,
        });
    }
}

/// One failing Python module whose files exist in another letter case, and the edits found
/// for it so far.
struct PyCase<'a> {
    module: &'a str,
    evidence: &'a str,
    new_module: String,
    line_re: Regex,
    edits: Vec<Edit>,
}

impl<'a> PyCase<'a> {
    /// `None` when the module resolves exactly (at the root or under `src/`), or no module
    /// of another letter case exists.
    fn new(repo: &Path, module: &'a str, evidence: &'a str) -> Option<Self> {
        let rel = module.replace('.', "/");
        for root in ["", "src/"] {
            let exact = [
                format!("{root}{rel}.py"),
                format!("{root}{rel}/__init__.py"),
            ];
            if exact.iter().any(|p| is_file(repo, p)) {
                return None;
            }
        }
        let mut real = None;
        'roots: for root in ["", "src/"] {
            for suffix in [".py", "/__init__.py"] {
                if let Some(r) = resolve_case_insensitive(repo, &format!("{root}{rel}{suffix}")) {
                    let r = r.strip_prefix(root).unwrap_or(&r).to_string();
                    real = Some(r[..r.len() - suffix.len()].replace('/', "."));
                    break 'roots;
                }
            }
        }
        let new_module = real?;
        if new_module == module || !new_module.eq_ignore_ascii_case(module) {
            return None;
        }
        Some(PyCase {
            module,
            evidence,
            new_module,
            line_re: py_import_line_re(module)?,
            edits: Vec::new(),
        })
    }

    /// Adds the edits fixing the module's letter case in one source file `f` (its `text`).
    fn scan(&mut self, f: &str, text: &str) {
        if !text.contains(self.module) {
            return;
        }
        for (n, line) in text.split('\n').enumerate() {
            let line = line.trim_end_matches('\r');
            if !self.line_re.is_match(line) {
                continue;
            }
            let new_line = self
                .line_re
                .replace(line, |c: &regex::Captures| {
                    c[1].replacen(self.module, &self.new_module, 1)
                })
                .into_owned();
            let ln = u32::try_from(n + 1).unwrap_or(u32::MAX);
            self.edits.push(Edit::ReplaceLines {
                path: f.to_string(),
                start_line: ln,
                end_line: ln,
                expected: line.to_string(),
                replacement: new_line,
            });
        }
    }

    /// The instruction, when any file imports the module.
    fn finish(self, out: &mut RecipeOutput) {
        if self.edits.is_empty() {
            return;
        }
        let (module, new_module, evidence) = (self.module, &self.new_module, self.evidence);
        out.instructions.push(Instruction {
            summary: clip_summary(
                &format!("Fix the letter case of Python import {module:?} to {new_module:?}: the log says no module is named so ({evidence}); the module's files use that case."),
            ),
            source: Some("recipe:import-case".into()),
            edits: self.edits,
        });
    }
}

// ---------------------------------------------------------------- playwright-timeout

/// Maps a path from a stack frame (absolute on the runner, or relative) to a repository file
/// by the longest existing suffix.
pub fn map_to_repo(repo: &Path, raw: &str) -> Option<String> {
    let raw = raw.trim_start_matches("file://");
    let parts: Vec<&str> = raw.split('/').filter(|c| !c.is_empty()).collect();
    for i in 0..parts.len() {
        let cand = parts[i..].join("/");
        if is_file(repo, &cand) {
            return Some(cand);
        }
    }
    None
}

/// The `playwright-timeout` recipe: raise one locator wait's explicit timeout (or give an
/// empty `.waitFor()` one) to `min(2 × the timeout that expired, cap)`.
pub fn playwright_timeout(repo: &Path, lines: &[EvidenceLine], cap: u64, out: &mut RecipeOutput) {
    static T: OnceLock<Regex> = OnceLock::new();
    static F: OnceLock<Regex> = OnceLock::new();
    static O: OnceLock<Regex> = OnceLock::new();
    let timeout_re = T.get_or_init(|| re(r"(?:locator\.\w+|waitFor\w*|expect\(locator\)\.\w+(?:\(\))?)(?: failed)?:?.*?\bTimeout:? (\d+)\s?ms\b"));
    let frame_re =
        F.get_or_init(|| re(r"\bat (?:.*?\()?((?:[A-Za-z]:)?[\w./@-]+\.[cm]?[jt]sx?):(\d+):\d+"));
    let option_re = O.get_or_init(|| re(r"\btimeout\s*:\s*(\d+)"));
    let Some(pos) = lines.iter().position(|l| timeout_re.is_match(&l.text)) else {
        return;
    };
    let Some(expired) = timeout_re
        .captures(&lines[pos].text)
        .and_then(|c| c.get(1))
        .and_then(|m| m.as_str().parse::<u64>().ok())
    else {
        return;
    };
    // The first stack frame (`at …file:line:col`) inside the repository, within the next 40 lines.
    let mut frame = None;
    for l in lines.iter().skip(pos).take(40) {
        for c in frame_re.captures_iter(&l.text) {
            let (Some(p), Some(n)) = (c.get(1), c.get(2)) else {
                continue;
            };
            if p.as_str().contains("node_modules") {
                continue;
            }
            if let (Some(file), Ok(line)) =
                (map_to_repo(repo, p.as_str()), n.as_str().parse::<usize>())
            {
                frame = Some((file, line));
                break;
            }
        }
        if frame.is_some() {
            break;
        }
    }
    let Some((file, line_no)) = frame else {
        return;
    };
    let Some(text) = read_small(repo, &file) else {
        return;
    };
    let Some(line) = text.split('\n').nth(line_no.saturating_sub(1)) else {
        return;
    };
    let line = line.trim_end_matches('\r');
    let new_ms = expired.saturating_mul(2).min(cap);
    if new_ms <= expired {
        out.notes.push(format!("recipe playwright-timeout: the expired timeout {expired} ms is already at the policy cap {cap} ms; nothing done"));
        return;
    }
    let options: Vec<_> = option_re.captures_iter(line).collect();
    let new_line = if options.len() == 1 {
        let Some(m) = options[0].get(1) else { return };
        if m.as_str().parse::<u64>().ok() != Some(expired) {
            out.notes.push(format!("recipe playwright-timeout: {file}:{line_no} sets a timeout other than the {expired} ms that expired; nothing done"));
            return;
        }
        format!("{}{}{}", &line[..m.start()], new_ms, &line[m.end()..])
    } else if options.is_empty() && line.matches(".waitFor()").count() == 1 {
        line.replacen(
            ".waitFor()",
            &format!(".waitFor({{ timeout: {new_ms} }})"),
            1,
        )
    } else {
        out.notes.push(format!("recipe playwright-timeout: {file}:{line_no} has no single wait with an explicit timeout; nothing done"));
        return;
    };
    let ln = u32::try_from(line_no).unwrap_or(u32::MAX);
    out.instructions.push(Instruction {
        summary: clip_summary(
            &format!(
                "Raise the locator wait timeout at {file}:{line_no} from {expired} ms to {new_ms} ms (policy cap {cap} ms): the log says the wait timed out ({}).",
                quote_evidence(&lines[pos])
            ),
        ),
        source: Some("recipe:playwright-timeout".into()),
        edits: vec![Edit::ReplaceLines {
            path: file,
            start_line: ln,
            end_line: ln,
            expected: line.to_string(),
            replacement: new_line,
        }],
    });
}

// ---------------------------------------------------------------- what the recipes read

/// Most distinct path-like words of the evidence that [`files_wanted`] maps to the repository.
pub const MAX_WANTED_TOKENS: usize = 2000;

/// True for the file names Docker reads: `.dockerignore`, `<name>.dockerignore`,
/// `Dockerfile`, `Dockerfile.<x>`, `<x>.dockerfile`.
pub fn is_docker_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name == ".dockerignore"
        || name.ends_with(".dockerignore")
        || name.starts_with("Dockerfile")
        || name.to_ascii_lowercase().ends_with(".dockerfile")
}

/// Path-like words of a line: runs of `[A-Za-z0-9_./@+~-]` whose last `/`-component has an
/// extension (`src/app.js` out of `(src/app.js:1:17)`, `/app/src/server.js`).
fn path_words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| {
        !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '@' | '+' | '~' | '-'))
    })
    .map(|w| w.trim_end_matches('.'))
    .filter(|w| {
        let name = w.rsplit('/').next().unwrap_or(w);
        w.len() <= super::path::MAX_PATH_BYTES
            && name
                .rsplit_once('.')
                .is_some_and(|(_, ext)| !ext.is_empty() && ext.len() <= 10)
    })
}

/// The repository files whose CONTENT the recipes read for this evidence, most important
/// first, without duplicates; each a relative path that passes [`verify_path`] and is a
/// regular file under `repo`. Every other file a recipe looks at only has to exist (its
/// letter case, whether it is excluded by `.dockerignore`), which a listing of paths gives.
///
/// 1. `.dockerignore` and `Dockerfile` at the root (`dockerignore-exception`);
/// 2. the JS/TS and Python files that hold a failing import, found the way `import-case`
///    finds them (every source file is searched for the specifier);
/// 3. the files the evidence names (stack frames, `file:line`, quoted paths), mapped with
///    [`map_to_repo`]: `playwright-timeout` reads the spec at the first frame; at most
///    [`MAX_WANTED_TOKENS`] distinct words are mapped;
/// 4. every other Docker file of `listing` ([`is_docker_file`]).
///
/// `listing` is the repository's file listing (relative paths). Keep this in step with what
/// the recipes read: the Developer-Agent runs them on a tree made of the listing plus these
/// files only.
pub fn files_wanted(repo: &Path, listing: &[String], lines: &[EvidenceLine]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let push = |out: &mut Vec<String>, p: String| {
        if !out.contains(&p) && is_file(repo, &p) {
            out.push(p);
        }
    };
    for p in [".dockerignore", "Dockerfile"] {
        push(&mut out, p.to_string());
    }
    let (js_specs, py_mods) = failing_imports(lines);
    if !js_specs.is_empty() {
        let quoted: Vec<String> = js_specs.iter().flat_map(|(s, _)| quoted_specs(s)).collect();
        for f in source_files(repo, JS_EXTS) {
            if read_small(repo, &f).is_some_and(|t| quoted.iter().any(|q| t.contains(q.as_str()))) {
                push(&mut out, f);
            }
        }
    }
    if !py_mods.is_empty() {
        let res: Vec<(&str, Regex)> = py_mods
            .iter()
            .filter_map(|(m, _)| py_import_line_re(m).map(|r| (m.as_str(), r)))
            .collect();
        for f in source_files(repo, &["py"]) {
            let Some(text) = read_small(repo, &f) else {
                continue;
            };
            let imports = res.iter().any(|(m, r)| {
                text.contains(m)
                    && text
                        .split('\n')
                        .any(|l| r.is_match(l.trim_end_matches('\r')))
            });
            if imports {
                push(&mut out, f);
            }
        }
    }
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    'lines: for l in lines {
        for w in path_words(&l.text) {
            if seen.len() >= MAX_WANTED_TOKENS {
                break 'lines;
            }
            if !seen.insert(w) {
                continue;
            }
            if let Some(p) = map_to_repo(repo, w) {
                push(&mut out, p);
            }
        }
    }
    for p in listing {
        if is_docker_file(p) {
            push(&mut out, p.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "ghp_0123456789abcdefghijklmnopqrstuvwxyZ";

    fn log<R: Read>(reader: R, numbers: LineNumbers) -> EvidenceLog<R> {
        EvidenceLog {
            label: "job.log".into(),
            numbers,
            format: None,
            reader,
        }
    }

    #[test]
    fn a_stream_keeps_its_end_and_numbers_lines_from_its_start() {
        let text: String = (1..=1000).map(|i| format!("line {i}\n")).collect();
        let tail = read_tail(text.as_bytes(), 100);
        let kept = String::from_utf8(tail.bytes).expect("utf8");
        assert!(kept.ends_with("line 1000\n"), "{kept}");
        assert!(kept.len() <= 100 && kept.starts_with("line "), "{kept}");
        let first: u64 = kept["line ".len()..kept.find('\n').expect("nl")]
            .parse()
            .expect("n");
        assert_eq!(tail.lines_before + 1, first, "the cut line is dropped");
        assert!(tail.complete);
        // Shorter than the cap: all of it.
        let tail = read_tail(&b"a\nb"[..], 100);
        assert_eq!(
            (tail.bytes.as_slice(), tail.lines_before),
            (&b"a\nb"[..], 0)
        );
    }

    #[test]
    fn log_lines_are_numbered_from_either_end_and_redacted() {
        let text =
            format!("2024-01-01T00:00:00.0000000Z one\nCannot find module './Util' {TOKEN}\nthree");
        for numbers in [LineNumbers::FirstIs(41), LineNumbers::LastIs(43)] {
            let mut log = log(text.as_bytes(), numbers);
            log.format = Some(LogFormat::RawGithub);
            let lines = evidence_lines(&[], &[], [log]);
            let got: Vec<(&str, &str)> = lines
                .iter()
                .map(|l| (l.origin.as_str(), l.text.as_str()))
                .collect();
            assert_eq!(
                got,
                vec![
                    ("job.log:41", "one"),
                    (
                        "job.log:42",
                        "Cannot find module './Util' [REDACTED:github-pat]"
                    ),
                    ("job.log:43", "three"),
                ]
            );
        }
    }

    #[test]
    fn findings_tests_and_key_blocks_are_redacted() {
        let finding: Finding = serde_json::from_value(serde_json::json!({
            "rule": "r", "category": "unknown", "log": "a.log", "line_start": 3, "line_end": 3,
            "rank": 1, "score": 1.0, "excerpt": format!("token {TOKEN}"),
        }))
        .expect("finding");
        let test: FailedTest = serde_json::from_value(serde_json::json!({
            "name": "t", "report": "r.xml", "message": format!("Authorization: Bearer {TOKEN}"),
        }))
        .expect("test");
        let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAzbase64secretline\n-----END RSA PRIVATE KEY-----\n";
        let lines = evidence_lines(
            &[finding],
            &[test],
            [log(key.as_bytes(), LineNumbers::FirstIs(1))],
        );
        let all: String = lines.iter().map(|l| format!("{}\n", l.text)).collect();
        assert!(
            !all.contains(TOKEN) && !all.contains("base64secretline"),
            "{all}"
        );
        assert_eq!(lines.len(), 5, "{lines:?}");
    }

    #[test]
    fn a_big_file_is_read_from_its_tail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.log");
        let mut text = String::from("Cannot find module './First'\n");
        let filler = "x".repeat(99) + "\n";
        while text.len() as u64 <= MAX_LOG_SCAN_BYTES + 1000 {
            text.push_str(&filler);
        }
        text.push_str("Cannot find module './Last'\n");
        std::fs::write(&path, &text).expect("write");
        let info = LogInfo {
            path: path.display().to_string(),
            bytes: text.len() as u64,
            lines: text.matches('\n').count() as u64,
            sha256: String::new(),
            format: LogFormat::Plain,
        };
        let opened = EvidenceLog::open(&info).expect("open");
        assert_eq!(opened.numbers, LineNumbers::LastIs(info.lines));
        let lines = evidence_lines(&[], &[], [opened]);
        let last = lines.last().expect("lines");
        assert_eq!(last.origin, format!("{}:{}", info.path, info.lines));
        assert_eq!(last.text, "Cannot find module './Last'");
        assert!(lines.iter().all(|l| !l.text.contains("First")));
        assert!(lines
            .iter()
            .all(|l| l.text.len() == 99 || l.text.contains("Last")));
        // The file changed since the context was written: read from the start.
        let mut changed = info.clone();
        changed.bytes += 1;
        let opened = EvidenceLog::open(&changed).expect("open");
        assert_eq!(opened.numbers, LineNumbers::FirstIs(1));
    }
}
