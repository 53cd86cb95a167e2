//! Workflow commands: step outputs (`GITHUB_OUTPUT`), the job summary (`GITHUB_STEP_SUMMARY`)
//! and annotations (`::error file=…,line=…::message`).
//!
//! Escaping follows the Actions runner's `ActionCommand` (src/Runner.Worker/ActionCommandManager.cs):
//! data escapes `%`, `\r`, `\n`; properties also escape `:` and `,`. The runner treats a stdout
//! line as a command when, after leading whitespace, it starts with `::` (or the legacy `##[`),
//! so untrusted text is only ever printed through [`quote_untrusted`], which prefixes every line.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Escapes a command's message (data) part.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command property value (`file=`, `title=` …).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Annotation severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `::error`
    Error,
    /// `::warning`
    Warning,
    /// `::notice`
    Notice,
}

/// Formats one annotation command line (without newline). `line` is 1-based.
pub fn annotation(
    level: Level,
    file: Option<&str>,
    line: Option<u64>,
    end_line: Option<u64>,
    title: Option<&str>,
    message: &str,
) -> String {
    let name = match level {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Notice => "notice",
    };
    let mut props = Vec::new();
    if let Some(f) = file {
        props.push(format!("file={}", escape_property(f)));
        if let Some(l) = line {
            props.push(format!("line={l}"));
            if let Some(e) = end_line.filter(|e| *e >= l) {
                props.push(format!("endLine={e}"));
            }
        }
    }
    if let Some(t) = title {
        props.push(format!("title={}", escape_property(t)));
    }
    let props = if props.is_empty() {
        String::new()
    } else {
        format!(" {}", props.join(","))
    };
    format!("::{name}{props}::{}", escape_data(message))
}

/// Makes untrusted multi-line text safe to print on stdout or stderr: every line gets `prefix`
/// in front; a line that would still start (after leading whitespace) with `::` or `##[` gets
/// a `\\` before its first character, so the runner never reads it as a workflow command;
/// carriage returns and other control characters except tab become `?`.
pub fn quote_untrusted(text: &str, prefix: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.split('\n') {
        let clean: String = line
            .chars()
            .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
            .collect();
        let start = out.len();
        out.push_str(prefix);
        out.push_str(&clean);
        let shown = out[start..].trim_start();
        if shown.starts_with("::") || shown.starts_with("##[") {
            let at = out.len() - shown.len();
            out.insert(at, '\\');
        }
        out.push('\n');
    }
    out
}

/// Where the Actions runner wants outputs and the job summary, from `GITHUB_OUTPUT`,
/// `GITHUB_STEP_SUMMARY` and `GITHUB_ACTIONS`.
#[derive(Debug, Clone, Default)]
pub struct ActionsEnv {
    /// The `GITHUB_OUTPUT` file.
    pub output: Option<PathBuf>,
    /// The `GITHUB_STEP_SUMMARY` file.
    pub summary: Option<PathBuf>,
    /// True when `GITHUB_ACTIONS=true`: annotations are printed only then.
    pub in_actions: bool,
}

impl ActionsEnv {
    /// Reads the environment.
    pub fn from_env() -> Self {
        let path = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        ActionsEnv {
            output: path("GITHUB_OUTPUT"),
            summary: path("GITHUB_STEP_SUMMARY"),
            in_actions: std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
        }
    }

    /// Appends step outputs to `GITHUB_OUTPUT` (a no-op without it). Every value uses the
    /// heredoc form with a random delimiter that does not occur in the value.
    ///
    /// Errors: a name that is not `[A-Za-z0-9_-]+`, or the file cannot be appended to.
    pub fn set_outputs(&self, outputs: &[(&str, String)]) -> std::io::Result<()> {
        let Some(path) = &self.output else {
            return Ok(());
        };
        let mut text = String::new();
        for (name, value) in outputs {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(std::io::Error::other(format!(
                    "invalid output name {name:?}"
                )));
            }
            let delimiter = loop {
                let d = format!("ghadelimiter_{:016x}", rand::random::<u64>());
                if !value.contains(&d) {
                    break d;
                }
            };
            text.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
        }
        append(path, text.as_bytes())
    }

    /// Appends Markdown to the job summary (a no-op without `GITHUB_STEP_SUMMARY`).
    pub fn append_summary(&self, markdown: &str) -> std::io::Result<()> {
        match &self.summary {
            Some(path) => append(path, markdown.as_bytes()),
            None => Ok(()),
        }
    }
}

fn append(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_escapes_properties_and_data() {
        let line = annotation(
            Level::Error,
            Some("src/a,b:c.ts"),
            Some(3),
            Some(5),
            Some("t"),
            "50% done\r\n::set-output name=x::y",
        );
        assert_eq!(
            line,
            "::error file=src/a%2Cb%3Ac.ts,line=3,endLine=5,title=t::50%25 done%0D%0A::set-output name=x::y"
        );
        assert_eq!(line.lines().count(), 1);
    }

    #[test]
    fn blank_prefixes_are_protected_too() {
        let q = quote_untrusted("::add-mask::x\n  ##[error]y\nplain", "  ");
        assert_eq!(q, "  \\::add-mask::x\n    \\##[error]y\n  plain\n");
    }

    #[test]
    fn quoted_untrusted_text_never_starts_a_command() {
        let q = quote_untrusted("::set-env name=A::b\n  ##[error]x\r\n\u{1b}[31mred", "  | ");
        for line in q.lines() {
            assert!(line.starts_with("  | "), "{line}");
            assert!(!line.contains('\r') && !line.contains('\u{1b}'));
        }
    }

    #[test]
    fn outputs_use_a_delimiter_absent_from_the_value() {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = ActionsEnv {
            output: Some(dir.path().join("out")),
            summary: None,
            in_actions: false,
        };
        env.set_outputs(&[("category", "network\nx<<EOF".into())])
            .expect("write");
        let text = std::fs::read_to_string(dir.path().join("out")).expect("read");
        let first = text.lines().next().expect("line");
        let delim = first.strip_prefix("category<<").expect("heredoc");
        assert!(text.ends_with(&format!("\n{delim}\n")));
        assert!(env.set_outputs(&[("bad name", String::new())]).is_err());
    }
}
