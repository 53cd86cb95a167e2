//! The repository policy, `.github/ci-remedy.yml`.
//!
//! Two layers: the raw serde form ([`PolicyFile`]: kebab-case keys, unknown keys are errors
//! reported with file and line, defaults for everything) is validated once into [`Policy`]
//! (compiled globs and regexes, durations, checked names). The JSON Schema of the raw form is
//! `schemas/policy.schema.json`.

pub mod classify;
pub mod fix_agent;
pub mod pr;
pub mod self_heal;
pub mod ship;

use std::path::{Path, PathBuf};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The default policy path, relative to the repository root.
pub const DEFAULT_POLICY_PATH: &str = ".github/ci-remedy.yml";

/// The largest policy file read: 1 MiB.
pub const MAX_POLICY_BYTES: u64 = 1024 * 1024;

/// The deepest nesting a policy file may have (block indentation, `- ` sequence entries and
/// `[`/`{` flow collections together). A real policy nests 5 levels; the YAML parser's time
/// grows with the square of the depth, so the file is pre-scanned and refused above this.
pub const MAX_POLICY_DEPTH: usize = 64;

/// The longest timeout any command the policy runs may have (24 h): self-heal actions, the
/// rerun and the fix-agent validation.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// The policy file as written (raw layer).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PolicyFile {
    /// The policy format version; only `1` exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// Self-heal gates, actions and rerun.
    #[serde(default)]
    pub self_heal: self_heal::SelfHealRaw,
    /// Extra classification rules and disabled built-in ones.
    #[serde(default)]
    pub classify: classify::ClassifyRaw,
    /// Fix-agent scope, caps and validation.
    #[serde(default)]
    pub fix_agent: fix_agent::FixAgentRaw,
    /// What `ci-logs-ship` sends.
    #[serde(default)]
    pub ship: ship::ShipRaw,
    /// When fix-agent-pr may open a draft PR (off by default).
    #[serde(default)]
    pub fix_agent_pr: pr::FixAgentPrRaw,
}

/// The validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Where it was read from; `None` for the built-in defaults.
    pub path: Option<PathBuf>,
    /// Self-heal.
    pub self_heal: self_heal::SelfHealPolicy,
    /// Classification.
    pub classify: classify::ClassifyPolicy,
    /// Fix-agent.
    pub fix_agent: fix_agent::FixAgentPolicy,
    /// Shipping logs to the Cloud-Agent.
    pub ship: ship::ShipPolicy,
    /// fix-agent-pr.
    pub fix_agent_pr: pr::FixAgentPrPolicy,
}

/// Policy errors; every one names the file, and the line when the YAML parser knows it.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read policy {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_POLICY_BYTES`].
    #[error("policy {path} is larger than {MAX_POLICY_BYTES} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The YAML is malformed or has an unknown key or a wrong type.
    #[error("invalid policy {path}{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The 1-based line, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// The YAML nests deeper than [`MAX_POLICY_DEPTH`].
    #[error("invalid policy {path} line {line}: nested deeper than {MAX_POLICY_DEPTH} levels")]
    TooDeep {
        /// The file.
        path: PathBuf,
        /// The 1-based line where the depth was passed.
        line: usize,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid policy {path}: {key}: {message}")]
    Invalid {
        /// The file (or `built-in defaults`).
        path: PathBuf,
        /// The key, dotted (`self-heal.max-attempts`).
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// A validation problem inside one section: the dotted key and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    /// The key, dotted (`self-heal.actions.reseed.timeout`).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl KeyError {
    /// A new key error.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        KeyError {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl Policy {
    /// The built-in defaults (what a repository without a policy file gets).
    pub fn defaults() -> Policy {
        Policy::validate(PolicyFile::default(), None).expect("built-in defaults are valid")
    }

    /// Loads a policy. With `path` = `None`, reads [`DEFAULT_POLICY_PATH`] when it exists and
    /// falls back to the defaults otherwise; an explicit path that does not exist is an error.
    pub fn load(path: Option<&Path>) -> Result<Policy, PolicyError> {
        let (path, explicit) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_POLICY_PATH), false),
        };
        if !explicit && !path.exists() {
            return Ok(Policy::defaults());
        }
        // One capped read (no size check before it that a growing file could get past).
        let bytes = match crate::artifact::read_capped(&path, MAX_POLICY_BYTES) {
            Ok(bytes) => bytes,
            Err(crate::artifact::ArtifactError::TooLarge { .. }) => {
                return Err(PolicyError::TooLarge { path })
            }
            Err(crate::artifact::ArtifactError::Read { source, .. }) => {
                return Err(PolicyError::Read { path, source })
            }
            Err(other) => {
                return Err(PolicyError::Read {
                    path,
                    source: std::io::Error::other(other.to_string()),
                })
            }
        };
        Policy::parse(&bytes, &path)
    }

    /// [`Policy::load`] relative to the repository root `root`: a relative `path`, and the
    /// default [`DEFAULT_POLICY_PATH`], are joined to `root` (an absolute `path` is used as it
    /// is), so a step run from another working directory reads the same file.
    pub fn load_in(root: &Path, path: Option<&Path>) -> Result<Policy, PolicyError> {
        let joined = root.join(path.unwrap_or(Path::new(DEFAULT_POLICY_PATH)));
        match path {
            Some(_) => Policy::load(Some(&joined)),
            None if joined.exists() => Policy::load(Some(&joined)),
            None => Ok(Policy::defaults()),
        }
    }

    /// Parses and validates policy YAML; `path` is used in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Policy, PolicyError> {
        let text = std::str::from_utf8(bytes).map_err(|e| PolicyError::Parse {
            path: path.to_path_buf(),
            line: Some(
                1 + bytes[..e.valid_up_to()]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count(),
            ),
            message: "the file is not valid UTF-8".into(),
        })?;
        if let Err(line) = check_depth(text, MAX_POLICY_DEPTH) {
            return Err(PolicyError::TooDeep {
                path: path.to_path_buf(),
                line,
            });
        }
        let raw: PolicyFile = if text.trim().is_empty() {
            PolicyFile::default()
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| PolicyError::Parse {
                path: path.to_path_buf(),
                line: e.location().map(|l| l.line()),
                message: strip_location(&e.to_string()),
            })?
        };
        Policy::validate(raw, Some(path))
    }

    /// Validates the raw form.
    pub fn validate(raw: PolicyFile, path: Option<&Path>) -> Result<Policy, PolicyError> {
        let shown = path
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("built-in defaults"));
        let invalid = |e: KeyError| PolicyError::Invalid {
            path: shown.clone(),
            key: e.key,
            message: e.message,
        };
        if let Some(v) = raw.version {
            if v != 1 {
                return Err(invalid(KeyError::new(
                    "version",
                    format!("unsupported version {v}; this ci-remedy reads version 1"),
                )));
            }
        }
        Ok(Policy {
            path: path.map(Path::to_path_buf),
            self_heal: raw.self_heal.validate().map_err(invalid)?,
            classify: raw.classify.validate().map_err(invalid)?,
            fix_agent: raw.fix_agent.validate().map_err(invalid)?,
            ship: raw.ship.validate().map_err(invalid)?,
            fix_agent_pr: raw.fix_agent_pr.validate().map_err(invalid)?,
        })
    }
}

/// A linear pre-scan of YAML `text` for nesting deeper than `max`: block mappings by
/// indentation, `- ` sequence entries (several may start one line), and `[` / `{` flow
/// collections (outside quoted scalars and comments; they may span lines). Block scalar
/// contents (after a `|` or `>` indicator) are skipped. Errors with the 1-based line where
/// the depth first passes `max`. It over-counts rather than under-counts: a file it passes
/// is no deeper than `max` for the parser.
pub fn check_depth(text: &str, max: usize) -> Result<(), usize> {
    let mut indents: Vec<usize> = Vec::new();
    let mut flow: usize = 0;
    // Inside a block scalar: lines indented more than this belong to it.
    let mut block_scalar: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        let trimmed = line.trim_start_matches(' ');
        let indent = line.len() - trimmed.len();
        if trimmed.trim().is_empty() {
            continue;
        }
        if let Some(parent) = block_scalar {
            if indent > parent {
                continue;
            }
            block_scalar = None;
        }
        if trimmed.starts_with('#') && flow == 0 {
            continue;
        }
        let mut rest = trimmed;
        let mut depth_here = 0usize;
        if flow == 0 {
            while indents.last().is_some_and(|&top| top > indent) {
                indents.pop();
            }
            if indents.last().is_none_or(|&top| top < indent) {
                indents.push(indent);
            }
            while let Some(after) = rest.strip_prefix('-') {
                if after.is_empty() || after.starts_with([' ', '\t']) {
                    depth_here += 1;
                    rest = after.trim_start_matches([' ', '\t']);
                } else {
                    break;
                }
            }
        }
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            match quote {
                Some('\'') if c == '\'' => {
                    if chars.peek() == Some(&'\'') {
                        chars.next();
                    } else {
                        quote = None;
                    }
                }
                Some('"') if c == '\\' => {
                    chars.next();
                }
                Some('"') if c == '"' => quote = None,
                Some(_) => {}
                None => match c {
                    '#' if prev == ' ' || prev == '\t' => break,
                    '\'' | '"' if matches!(prev, ' ' | '\t' | '[' | '{' | ',' | ':') => {
                        quote = Some(c)
                    }
                    '[' | '{' => flow += 1,
                    ']' | '}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            if indents.len() + depth_here + flow > max {
                return Err(lineno);
            }
            prev = c;
        }
        if indents.len() + depth_here + flow > max {
            return Err(lineno);
        }
        // `key: |`, `key: >-`, `- |2`: the next, more indented lines are the scalar's text.
        let t = rest.split(" #").next().unwrap_or("").trim_end();
        let indicator = t
            .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '+')
            .trim_end();
        if flow == 0
            && (indicator.ends_with(" |")
                || indicator.ends_with(" >")
                || indicator == "|"
                || indicator == ">")
        {
            block_scalar = Some(indent);
        }
    }
    Ok(())
}

/// serde_yaml_ng appends ` at line L column C`; the line is reported separately.
fn strip_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Parses a duration in humantime's syntax (`90s`, `5m`, `1h 30m`, `250ms`; see
/// <https://docs.rs/humantime/latest/humantime/fn.parse_duration.html>). A bare number is
/// seconds.
///
/// Errors: the text is neither, with an example of what is accepted.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse()
            .map(Duration::from_secs)
            .map_err(|_| format!("{text:?} is not a duration like 90s, 5m or 1h"));
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("{text:?} is not a duration like 90s, 5m or 1h ({e})"))
}

/// Checks a command from the policy, written as an argv list: at least the program, which is
/// not blank, and no argument with a NUL byte. Errors name `key` (`self-heal.rerun.full`).
pub fn validate_argv(argv: Vec<String>, key: &str) -> Result<Vec<String>, KeyError> {
    match argv.first() {
        None => return Err(KeyError::new(key, "the argv list is empty")),
        Some(p) if p.trim().is_empty() => {
            return Err(KeyError::new(key, "the program (first element) is empty"))
        }
        _ => {}
    }
    if argv.iter().any(|a| a.contains('\0')) {
        return Err(KeyError::new(key, "an argument contains a NUL byte"));
    }
    Ok(argv)
}

/// Parses a command's `timeout` ([`parse_duration`]); `default` when it is not written.
/// Errors name `key` when the text is not a duration or not between 1 ms and [`MAX_TIMEOUT`]
/// (so no deadline computed from it can overflow).
pub fn validate_timeout(
    text: Option<&str>,
    default: Duration,
    key: &str,
) -> Result<Duration, KeyError> {
    let Some(text) = text else {
        return Ok(default);
    };
    let d = parse_duration(text).map_err(|m| KeyError::new(key, m))?;
    if d.is_zero() || d > MAX_TIMEOUT {
        return Err(KeyError::new(
            key,
            format!("{text:?} is not between 1ms and 24h"),
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_file_is_read_whole_up_to_its_cap() {
        let dir = tempfile::tempdir().expect("temp dir");
        let at_cap = dir.path().join("at-cap.yml");
        let mut text = b"# ".to_vec();
        text.resize(usize::try_from(MAX_POLICY_BYTES).expect("fits") - 1, b'x');
        text.push(b'\n');
        std::fs::write(&at_cap, &text).expect("write");
        assert!(Policy::load(Some(&at_cap)).is_ok());
        let over = dir.path().join("over.yml");
        text.insert(0, b'#');
        std::fs::write(&over, &text).expect("write");
        let err = Policy::load(Some(&over)).expect_err("too large");
        assert!(matches!(err, PolicyError::TooLarge { .. }), "{err}");
        assert!(err.to_string().contains("over.yml"), "{err}");
        for path in [dir.path().join("missing.yml"), dir.path().to_path_buf()] {
            let err = Policy::load(Some(&path)).expect_err("unreadable");
            assert!(matches!(err, PolicyError::Read { .. }), "{err}");
            assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn unknown_key_names_file_and_line() {
        let err = Policy::parse(
            b"version: 1\nself-heal:\n  bogus-key: 3\n",
            Path::new("p.yml"),
        )
        .expect_err("unknown key");
        let msg = err.to_string();
        assert!(msg.contains("p.yml line 3"), "{msg}");
        assert!(msg.contains("bogus-key"), "{msg}");
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let n = 100_000;
        let flow = format!("self-heal: {}{}\n", "[".repeat(n), "]".repeat(n));
        let err = Policy::parse(flow.as_bytes(), Path::new("deep.yml")).expect_err("too deep");
        assert!(matches!(err, PolicyError::TooDeep { line: 1, .. }), "{err}");
        assert!(err.to_string().contains("deep.yml line 1"), "{err}");
        assert!(err.to_string().contains("64 levels"), "{err}");
        let dashes = format!("self-heal:\n  events:\n    {}x\n", "- ".repeat(n));
        let err = Policy::parse(dashes.as_bytes(), Path::new("d.yml")).expect_err("too deep");
        assert!(matches!(err, PolicyError::TooDeep { line: 3, .. }), "{err}");
        let mut block = String::new();
        for i in 0..100 {
            block.push_str(&format!("{}k{i}:\n", " ".repeat(i)));
        }
        let err = Policy::parse(block.as_bytes(), Path::new("b.yml")).expect_err("too deep");
        assert!(
            matches!(err, PolicyError::TooDeep { line: 65, .. }),
            "{err}"
        );
        // Brackets in quotes, comments and block scalars do not count.
        let ok = format!(
            "self-heal:\n  actions:\n    a:\n      shell: |\n        echo {}\n      timeout: 5s # {}\n    b:\n      run: [echo, '{}', \"{}\"]\n",
            "[".repeat(100),
            "{".repeat(100),
            "[".repeat(100),
            "{".repeat(100)
        );
        Policy::parse(ok.as_bytes(), Path::new("ok.yml")).expect("quoted brackets");
    }

    #[test]
    fn every_shipped_policy_passes_the_depth_scan() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for dir in ["examples", "fixtures", ".github"] {
            for e in walkdir::WalkDir::new(root.join(dir)).into_iter().flatten() {
                let p = e.path();
                let name = p.to_string_lossy();
                if (name.ends_with("ci-remedy.yml") || name.contains("policy"))
                    && name.ends_with(".yml")
                {
                    let text = std::fs::read_to_string(p).expect("read");
                    assert_eq!(check_depth(&text, MAX_POLICY_DEPTH), Ok(()), "{name}");
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any bytes: an error or a policy, never a panic.
        #[test]
        fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = Policy::parse(&bytes, Path::new("p.yml"));
        }

        /// YAML-looking text built from policy keys, indentation, sequences and flow
        /// collections: never a panic, and a depth error exactly when the scan says so.
        #[test]
        fn yaml_like_text_never_panics(lines in proptest::collection::vec(
            (0usize..12, proptest::sample::select(vec![
                "self-heal:", "actions:", "a:", "run: [sh, -c, 'x']", "- x", "- - y", "events: [push, {a: b}]",
                "timeout: 5s", "shell: |", "  echo [", "plan:", "default: [a]", "# [[[", "\"q[\": 1", "[", "]", "{", "}",
            ])), 0..40)) {
            let text: String = lines.iter().map(|(i, l)| format!("{}{l}\n", " ".repeat(*i))).collect();
            let r = Policy::parse(text.as_bytes(), Path::new("p.yml"));
            let deep = check_depth(&text, MAX_POLICY_DEPTH).is_err();
            proptest::prop_assert_eq!(deep, matches!(r, Err(PolicyError::TooDeep { .. })));
        }

        /// Flow nesting of depth `d` (plus the top-level key): refused exactly above the cap.
        #[test]
        fn flow_nesting_is_refused_exactly_above_the_cap(d in 1usize..200) {
            let text = format!("self-heal:\n  events: {}{}\n", "[".repeat(d), "]".repeat(d));
            let r = Policy::parse(text.as_bytes(), Path::new("p.yml"));
            // self-heal (1) + events (2) + d brackets.
            proptest::prop_assert_eq!(matches!(r, Err(PolicyError::TooDeep { line: 2, .. })), 2 + d > MAX_POLICY_DEPTH);
        }
    }

    #[test]
    fn empty_file_is_defaults() {
        Policy::parse(b"", Path::new("p.yml")).expect("defaults");
    }
}
