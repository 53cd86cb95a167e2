//! Rules: the YAML shape ([`RuleSpec`], shared by `rules/builtin.yml` and the policy's
//! `classify.rules`), and their compiled form.

use regex::bytes::{Regex, RegexBuilder};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::artifact::Category;

/// The built-in rule pack, `rules/builtin.yml`, compiled into the binary.
pub const BUILTIN_RULES_YAML: &str = include_str!("../../rules/builtin.yml");

/// Largest compiled size of one rule regex, in bytes (guards against pathological patterns).
const REGEX_SIZE_LIMIT: usize = 4 * 1024 * 1024;

/// The default cap on a block's length, in lines.
pub const DEFAULT_MAX_LINES: u32 = 5000;

/// What a rule's match says about the block it is in.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RuleRole {
    /// The block explains the failure.
    #[default]
    Cause,
    /// The line only says that something failed (`BUILD FAILURE`, an exit code).
    Summary,
    /// The line says the real cause is elsewhere; a block holding one scores lower.
    Demote,
}

/// How a block grows after the line that opened it.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Extend {
    /// The line itself (plus `before`/`after` context).
    #[default]
    None,
    /// Continuation lines: indented lines, stack frames, `Caused by:`, lines with the same
    /// `[TAG]` as the first line, lines matching `continue`; a closing marker a few lines later
    /// is absorbed.
    Block,
    /// Every line until one matches `stop` (that line is not included).
    Until,
}

/// One rule as written in `rules/builtin.yml` or in the policy's `classify.rules`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RuleSpec {
    /// Unique id (kebab-case), used by `disable` and in findings.
    pub id: String,
    /// The category a match points at.
    pub category: Category,
    /// A regex (Rust `regex` syntax) matched on the cleaned line (timestamp, `gh run view`
    /// prefix and ANSI codes removed). Named groups `file` and `line` give a source location.
    pub pattern: String,
    /// Case-insensitive literals, one of which is in every line the pattern matches. Lines
    /// without any keyword of any rule are skipped at memory speed; a rule without keywords
    /// runs on every line (slower).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// How surely a match explains the failure, 0..=1.
    pub confidence: f64,
    /// What a match says about its block.
    #[serde(default)]
    pub role: RuleRole,
    /// How the block grows after the matching line.
    #[serde(default)]
    pub extend: Extend,
    /// Extra continuation lines for `extend: block` (regex on the cleaned line).
    #[serde(default, rename = "continue", skip_serializing_if = "Option::is_none")]
    pub continue_: Option<String>,
    /// The line that ends an `extend: until` block (regex; the line is not included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<String>,
    /// Preceding lines matching this regex (at most 3) join the block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_before: Option<String>,
    /// Fixed context lines before the matching line.
    #[serde(default)]
    pub before: u32,
    /// Fixed context lines after the block.
    #[serde(default)]
    pub after: u32,
    /// The longest block, in lines (default 5000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lines: Option<u32>,
    /// What the rule recognises, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The YAML file shape: `rules: [...]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    rules: Vec<RuleSpec>,
}

/// A problem with one rule: which rule, which key, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule {id}: {key}: {message}")]
pub struct RuleError {
    /// The rule id (or its index when the id is missing).
    pub id: String,
    /// The key (`pattern`, `confidence`…).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// Parses the built-in rule pack.
pub fn builtin_specs() -> Result<Vec<RuleSpec>, RuleError> {
    let file: RuleFile = serde_yaml_ng::from_str(BUILTIN_RULES_YAML).map_err(|e| RuleError {
        id: "builtin".into(),
        key: "rules/builtin.yml".into(),
        message: e.to_string(),
    })?;
    Ok(file.rules)
}

/// The ids of the built-in rules, in file order (empty if the pack does not parse, which a
/// unit test rules out).
pub fn builtin_ids() -> Vec<String> {
    builtin_specs()
        .map(|v| v.into_iter().map(|r| r.id).collect())
        .unwrap_or_default()
}

fn build_regex(id: &str, key: &str, pattern: &str) -> Result<Regex, RuleError> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| RuleError {
            id: id.to_string(),
            key: key.to_string(),
            message: e.to_string(),
        })
}

/// Checks one rule: id shape, confidence range, regexes compile, `stop` present for `until`.
pub fn check_spec(spec: &RuleSpec) -> Result<(), RuleError> {
    compile_rule(spec).map(|_| ())
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub spec: RuleSpec,
    pub regex: Regex,
    pub continue_: Option<Regex>,
    pub stop: Option<Regex>,
    pub join_before: Option<Regex>,
    pub file_group: bool,
    /// The rule is [`GENERIC_RULE`]: its blocks give way to specific rules
    /// (`classify::scan`).
    pub generic: bool,
}

/// The id of the built-in rule that matches a bare error word (`error`, `failed`, `fatal`):
/// the last resort. A block it opens ends where a specific cause rule's line starts, and a
/// short one right before a block whose rule would have joined its lines becomes that block's
/// head.
pub const GENERIC_RULE: &str = "error-word";

fn compile_rule(spec: &RuleSpec) -> Result<Rule, RuleError> {
    let err = |key: &str, message: String| RuleError {
        id: spec.id.clone(),
        key: key.to_string(),
        message,
    };
    if spec.id.is_empty()
        || spec.id.len() > 64
        || !spec
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Err(err(
            "id",
            "must be 1-64 characters of a-z, 0-9, '-' or '_'".into(),
        ));
    }
    if !(0.0..=1.0).contains(&spec.confidence) || spec.confidence.is_nan() {
        return Err(err("confidence", "must be between 0 and 1".into()));
    }
    if spec.keywords.iter().any(|k| k.is_empty()) {
        return Err(err("keywords", "a keyword must not be empty".into()));
    }
    if spec.keywords.iter().any(|k| k.contains(['\n', '\r'])) {
        return Err(err(
            "keywords",
            "a keyword must not contain a line break (lines are matched one at a time)".into(),
        ));
    }
    if spec.extend == Extend::Until && spec.stop.is_none() {
        return Err(err("stop", "`extend: until` needs a `stop` regex".into()));
    }
    let regex = build_regex(&spec.id, "pattern", &spec.pattern)?;
    let opt = |key: &str, p: &Option<String>| -> Result<Option<Regex>, RuleError> {
        p.as_deref()
            .map(|p| build_regex(&spec.id, key, p))
            .transpose()
    };
    let file_group = regex.capture_names().any(|n| n == Some("file"));
    Ok(Rule {
        continue_: opt("continue", &spec.continue_)?,
        stop: opt("stop", &spec.stop)?,
        join_before: opt("join-before", &spec.join_before)?,
        regex,
        file_group,
        generic: spec.id == GENERIC_RULE,
        spec: spec.clone(),
    })
}

/// The compiled rule set: rules, the keyword gate that picks the rules to try on a line, and
/// the literal prefilter.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub rules: Vec<Rule>,
    pub gate: RuleGate,
    /// Keywords of every rule plus the structural markers; `None` when some rule has no
    /// keywords (then every line is a candidate).
    pub prefilter: Option<Prefilter>,
}

/// The literal prefilter: "does this text hold any keyword, case-insensitively".
#[derive(Debug, Clone)]
pub(crate) enum Prefilter {
    /// The compact keyword DFA walked in lanes ([`super::prefilter`]); the normal case.
    Dfa(Box<super::prefilter::KeywordDfa>),
    /// A case-insensitive alternation of the escaped keywords (the regex engine's lazy DFA), for
    /// a keyword set too large for the compact table.
    Re(Regex),
}

impl Prefilter {
    /// Offset (0-based, in bytes) of the last byte of the keyword occurrence that ends first
    /// in `hay`. Keywords hold no `\n`, so this is in the first line that holds a keyword; the
    /// earliest end is cheaper than the leftmost start (no reverse scan to find the start).
    pub fn find(&self, hay: &[u8]) -> Option<usize> {
        match self {
            Prefilter::Dfa(d) => d.find(hay),
            Prefilter::Re(re) => re.shortest_match(hay).map(|end| end.saturating_sub(1)),
        }
    }

    /// True when `hay` holds a keyword.
    pub fn is_match(&self, hay: &[u8]) -> bool {
        match self {
            Prefilter::Dfa(d) => d.is_match(hay),
            Prefilter::Re(re) => re.is_match(hay),
        }
    }

    /// Appends to `out`, in increasing order, one offset inside every line of `hay` that holds
    /// a keyword (see [`super::prefilter::KeywordDfa::line_hits`]): in its raw bytes, or, for
    /// a line with an escape sequence, in its text with the ANSI codes removed (a colour code
    /// can split a keyword: `npm \x1b[31mERR!\x1b[39m`, and the rules match the cleaned
    /// line). A line can be named twice (once per way); the offsets stay sorted.
    pub fn line_hits(&self, hay: &[u8], out: &mut Vec<usize>) {
        let first = out.len();
        self.raw_line_hits(hay, out);
        // The lines holding ESC, cleaned, one per line of `stripped`, searched the same way.
        let mut stripped: Vec<u8> = Vec::new();
        let mut raw_starts: Vec<usize> = Vec::new();
        let mut stripped_starts: Vec<usize> = Vec::new();
        let mut p = 0;
        while let Some(i) = memchr::memchr(0x1b, &hay[p..]) {
            let at = p + i;
            let ls = memchr::memrchr(b'\n', &hay[p..at]).map_or(p, |k| p + k + 1);
            let le = memchr::memchr(b'\n', &hay[at..]).map_or(hay.len(), |k| at + k);
            raw_starts.push(ls);
            stripped_starts.push(stripped.len());
            crate::logs::format::strip_ansi_into(&hay[ls..le], &mut stripped);
            stripped.push(b'\n');
            p = le.saturating_add(1);
            if p >= hay.len() {
                break;
            }
        }
        if raw_starts.is_empty() {
            return;
        }
        let mut found = Vec::new();
        self.raw_line_hits(&stripped, &mut found);
        if found.is_empty() {
            return;
        }
        for h in found {
            let k = stripped_starts
                .partition_point(|&s| s <= h)
                .saturating_sub(1);
            out.push(raw_starts[k]);
        }
        out[first..].sort_unstable();
    }

    fn raw_line_hits(&self, hay: &[u8], out: &mut Vec<usize>) {
        match self {
            Prefilter::Dfa(d) => d.line_hits(hay, out),
            Prefilter::Re(_) => {
                let mut p = 0;
                while let Some(m) = self.find(&hay[p..]) {
                    let hit = p + m;
                    out.push(hit);
                    p = memchr::memchr(b'\n', &hay[hit..]).map_or(hay.len(), |i| hit + i + 1);
                }
            }
        }
    }
}

/// Literals the prefilter also looks for, besides the rules' keywords. The prefilter runs on
/// the RAW bytes of a region, while rules (and the per-line `is_match` in the scanner) see the
/// cleaned line:
/// - `##[group]`: step headers (a finding's step);
/// - `##[error]`: the markers of the step that failed (ranking favours its evidence);
/// - the CI services' command and failure markers ([`super::structure::KEYWORDS`]: `$ `,
///   `The command "…" exited with N.`, `ERROR: Job failed`, …).
///
/// (Lines with colour codes are also searched with the codes removed:
/// [`Prefilter::line_hits`].)
pub(crate) const STRUCTURAL_KEYWORDS: &[&str] = &["##[group]", "##[error]"];

/// Picks the rules worth trying on a line: those with a keyword in it (found by one
/// case-insensitive aho-corasick pass over the line), plus the rules without keywords. A rule's
/// pattern only matches lines that hold one of its keywords (the rule pack's contract, tested
/// for the built-in rules), so trying only these rules gives the same matches as trying all
/// of them, at the cost of a few regexes instead of one regex set over every pattern (measured:
/// about 10 µs per candidate line for the set, a fraction of that for the gate).
#[derive(Debug, Clone)]
pub(crate) struct RuleGate {
    /// Every distinct keyword (lowercase); `None` when no rule has keywords.
    keywords: Option<aho_corasick::AhoCorasick>,
    /// Keyword index → the rules (indexes, ascending) that list it.
    rules_of: Vec<Vec<usize>>,
    /// Rules without keywords: tried on every line.
    always: Vec<usize>,
}

impl RuleGate {
    fn new(rules: &[Rule]) -> Result<RuleGate, RuleError> {
        let mut words: Vec<String> = Vec::new();
        let mut rules_of: Vec<Vec<usize>> = Vec::new();
        let mut always = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            if r.spec.keywords.is_empty() {
                always.push(i);
            }
            for k in &r.spec.keywords {
                let k = k.to_ascii_lowercase();
                let at = match words.iter().position(|w| *w == k) {
                    Some(at) => at,
                    None => {
                        words.push(k);
                        rules_of.push(Vec::new());
                        words.len() - 1
                    }
                };
                if rules_of[at].last() != Some(&i) {
                    rules_of[at].push(i);
                }
            }
        }
        let keywords = if words.is_empty() {
            None
        } else {
            Some(
                // Lines are short: a DFA without a prefilter is the fastest to start and run.
                aho_corasick::AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                    .prefilter(false)
                    .build(&words)
                    .map_err(|e| RuleError {
                        id: "(all rules)".into(),
                        key: "keywords".into(),
                        message: e.to_string(),
                    })?,
            )
        };
        Ok(RuleGate {
            keywords,
            rules_of,
            always,
        })
    }
}

impl Compiled {
    /// Puts into `out` (cleared first) the indexes, ascending, of the rules whose pattern
    /// matches `line`.
    pub fn matches(&self, line: &[u8], out: &mut Vec<usize>) {
        out.clear();
        out.extend_from_slice(&self.gate.always);
        if let Some(ac) = &self.gate.keywords {
            for m in ac.find_overlapping_iter(line) {
                out.extend_from_slice(&self.gate.rules_of[m.pattern().as_usize()]);
            }
        }
        out.sort_unstable();
        out.dedup();
        out.retain(|&i| self.rules[i].regex.is_match(line));
    }

    /// Removes the generic rule ([`GENERIC_RULE`]) from one line's `hits` (indices into
    /// `rules`, as [`Self::matches`] gives them) when a specific rule with a category that is
    /// not a `demote` also matched: the generic rule yields a line that a specific rule
    /// explains or sums up (`make: *** [test] Error 2` is make's summary, not a bare error word
    /// of unknown cause).
    pub(crate) fn yield_generic(&self, out: &mut Vec<usize>) {
        if out.len() > 1 && out.iter().any(|&i| self.rules[i].generic) {
            let specific = out.iter().any(|&i| {
                let s = &self.rules[i].spec;
                !self.rules[i].generic
                    && s.role != RuleRole::Demote
                    && s.category != Category::Unknown
            });
            if specific {
                out.retain(|&i| !self.rules[i].generic);
            }
        }
    }
}

pub(crate) fn compile(specs: &[RuleSpec]) -> Result<Compiled, RuleError> {
    let mut seen = std::collections::HashSet::new();
    let mut rules = Vec::with_capacity(specs.len());
    for spec in specs {
        if !seen.insert(spec.id.as_str()) {
            return Err(RuleError {
                id: spec.id.clone(),
                key: "id".into(),
                message: "duplicate rule id".into(),
            });
        }
        rules.push(compile_rule(spec)?);
    }
    let gate = RuleGate::new(&rules)?;
    let prefilter = if rules.iter().any(|r| r.spec.keywords.is_empty()) {
        None
    } else {
        let mut words: Vec<String> = rules
            .iter()
            .flat_map(|r| r.spec.keywords.iter().map(|k| k.to_ascii_lowercase()))
            .chain(STRUCTURAL_KEYWORDS.iter().map(|s| s.to_string()))
            .chain(super::structure::KEYWORDS.iter().map(|s| s.to_string()))
            .collect();
        words.sort();
        words.dedup();
        // A keyword that contains another is redundant for "is any present".
        let all = words.clone();
        words.retain(|w| !all.iter().any(|o| o != w && w.contains(o.as_str())));
        if let Some(dfa) = keyword_dfa(&words) {
            Some(Prefilter::Dfa(Box::new(dfa)))
        } else {
            let alt: Vec<String> = words.iter().map(|w| regex::escape(w)).collect();
            let re = RegexBuilder::new(&format!("(?i-u:{})", alt.join("|")))
                .unicode(false)
                .size_limit(REGEX_SIZE_LIMIT.saturating_mul(8))
                .dfa_size_limit(REGEX_SIZE_LIMIT.saturating_mul(8))
                .build()
                .map_err(|e| RuleError {
                    id: "(all rules)".into(),
                    key: "keywords".into(),
                    message: e.to_string(),
                })?;
            Some(Prefilter::Re(re))
        }
    };
    Ok(Compiled {
        rules,
        gate,
        prefilter,
    })
}

/// Longest keyword prefixes (bytes) tried for the compact prefilter DFA, longest first.
const PREFIX_LENGTHS: [usize; 6] = [usize::MAX, 24, 16, 12, 10, 8];

/// The compact prefilter DFA for `words`, or for their prefixes when the whole words do not
/// fit its table.
///
/// The prefilter only has to be a necessary condition (a line holding a keyword holds every
/// prefix of it; the rule gate and the regexes then see the whole rule), so cutting every
/// keyword to its first `n` bytes trades a few more candidate lines for an automaton with far
/// fewer states. The longest `n` of [`PREFIX_LENGTHS`] whose automaton fits is taken; `None`
/// when none fits (the caller falls back to the regex alternation).
fn keyword_dfa(words: &[String]) -> Option<super::prefilter::KeywordDfa> {
    PREFIX_LENGTHS.iter().find_map(|&n| {
        let mut cut: Vec<&[u8]> = words
            .iter()
            .map(|w| &w.as_bytes()[..w.len().min(n)])
            .collect();
        cut.sort_unstable();
        cut.dedup();
        let all = cut.clone();
        cut.retain(|w| {
            !all.iter()
                .any(|o| o != w && memchr::memmem::find(w, o).is_some())
        });
        super::prefilter::KeywordDfa::new(&cut)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_pack_parses_and_compiles() {
        let specs = builtin_specs().expect("builtin parses");
        assert!(specs.len() > 40);
        let c = compile(&specs).expect("builtin compiles");
        assert!(c.prefilter.is_some(), "every built-in rule has keywords");
    }

    #[test]
    fn every_builtin_rule_keyword_is_in_its_own_examples() {
        // A rule whose keywords do not occur in what its pattern matches would never fire.
        let specs = builtin_specs().expect("builtin parses");
        let samples = [
            "TimeoutError: locator.click: Timeout 30000ms exceeded.",
            "panic: test timed out after 10m0s",
            "npm ERR! code ECONNRESET",
            "npm ERR! code ERESOLVE",
            "fatal: unsafe repository ('/github/workspace' is owned by someone else)",
            "[ERROR] /a/B.java:[1,2] cannot find symbol",
            "thread 'main' panicked at src/lib.rs:1:2:",
            "--- FAIL: TestX (0.1s)",
        ];
        let c = compile(&specs).expect("compiles");
        let pf = c.prefilter.as_ref().expect("prefilter");
        for s in samples {
            let mut hits = Vec::new();
            c.matches(s.as_bytes(), &mut hits);
            assert!(!hits.is_empty(), "no rule matches {s}");
            assert!(pf.is_match(s.as_bytes()), "prefilter misses {s}");
            for h in hits {
                let r = &c.rules[h];
                let lower = s.to_ascii_lowercase();
                assert!(
                    r.spec
                        .keywords
                        .iter()
                        .any(|k| lower.contains(&k.to_ascii_lowercase())),
                    "rule {} matches {s:?} but none of its keywords is in it",
                    r.spec.id
                );
            }
        }
    }

    #[test]
    fn line_hits_see_keywords_split_by_colour_codes_in_order() {
        let c = compile(&builtin_specs().expect("specs")).expect("compiles");
        let pf = c.prefilter.as_ref().expect("prefilter");
        let hay: &[u8] = b"ok\n\x1b[32mall good\x1b[0m\nnpm \x1b[31mERR!\x1b[39m code E\nnpm ERR! x\n\x1b[1mnpm ERR!\x1b[0m y\nfin";
        let mut out = Vec::new();
        pf.line_hits(hay, &mut out);
        let starts: Vec<usize> = out
            .iter()
            .map(|&h| memchr::memrchr(b'\n', &hay[..h]).map_or(0, |i| i + 1))
            .collect();
        let line = |n: usize| -> usize {
            hay.split(|b| *b == b'\n')
                .take(n)
                .map(|l| l.len() + 1)
                .sum()
        };
        // Line 3 only with the codes removed, line 4 raw, line 5 both ways (named twice).
        assert_eq!(starts, [line(2), line(3), line(4), line(4)]);
        assert!(out.windows(2).all(|w| w[0] <= w[1]), "{out:?}");
    }

    #[test]
    fn the_keyword_gate_finds_what_trying_every_rule_finds_on_real_logs() {
        // Every line of the bundled real logs (cleaned the way the scanner cleans them): the
        // gate must pick exactly the rules that trying all of them would.
        let c = compile(&builtin_specs().expect("specs")).expect("compiles");
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut files: Vec<std::path::PathBuf> = Vec::new();
        for dir in [
            "logs",
            "cidiff/assertj_1944",
            "cidiff/cv_45",
            "cidiff/guava_1947",
        ] {
            if let Ok(rd) = std::fs::read_dir(root.join(dir)) {
                files.extend(
                    rd.flatten()
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|e| e == "log")),
                );
            }
        }
        assert!(files.len() >= 5, "fixtures found: {files:?}");
        let (mut lines, mut matched) = (0, 0);
        let mut got = Vec::new();
        let mut scratch = Vec::new();
        for f in files {
            let bytes = std::fs::read(&f).expect("fixture reads");
            for raw in bytes.split(|b| *b == b'\n') {
                let line = crate::logs::format::clean_line(
                    crate::artifact::LogFormat::RawGithub,
                    raw,
                    &mut scratch,
                )
                .to_vec();
                c.matches(&line, &mut got);
                let want: Vec<usize> = (0..c.rules.len())
                    .filter(|&i| c.rules[i].regex.is_match(&line))
                    .collect();
                assert_eq!(
                    got,
                    want,
                    "{}: {}",
                    f.display(),
                    String::from_utf8_lossy(&line)
                );
                lines += 1;
                matched += usize::from(!want.is_empty());
            }
        }
        assert!(
            lines > 10_000 && matched > 50,
            "{lines} lines, {matched} matched"
        );
    }

    #[test]
    fn bad_rules_are_refused_with_the_key() {
        let mut spec = builtin_specs().expect("ok").remove(0);
        spec.pattern = "(".into();
        assert_eq!(check_spec(&spec).expect_err("bad regex").key, "pattern");
        spec.pattern = "x".into();
        spec.confidence = 1.5;
        assert_eq!(check_spec(&spec).expect_err("bad conf").key, "confidence");
        spec.confidence = 0.5;
        spec.id = "Bad Id".into();
        assert_eq!(check_spec(&spec).expect_err("bad id").key, "id");
        spec.id = "ok".into();
        spec.keywords = vec!["a\nb".into()];
        assert_eq!(check_spec(&spec).expect_err("line break").key, "keywords");
    }
}
#[cfg(test)]
mod prefilter_tests {
    /// The built-in pack's keywords must fit the compact DFA (with prefixes if need be): the
    /// regex fallback scans about 2.5x slower (`ci-remedy-bench --components`).
    #[test]
    fn the_builtin_pack_gets_the_compact_prefilter() {
        let pack = super::super::RulePack::builtin().expect("pack");
        assert!(matches!(
            pack.compiled.prefilter,
            Some(super::Prefilter::Dfa(_))
        ));
    }

    /// A keyword set too large for the table as whole words still gets the DFA over prefixes,
    /// and it finds every line that holds a whole keyword.
    #[test]
    fn long_keyword_sets_fall_back_to_prefixes_not_to_the_regex() {
        let words: Vec<String> = (0..400)
            .map(|i| format!("keyword number {i:04} with a long tail of words"))
            .collect();
        assert!(super::super::prefilter::KeywordDfa::new(&words).is_none());
        let dfa = super::keyword_dfa(&words).expect("prefix dfa");
        assert!(dfa.is_match(b"xx KEYWORD NUMBER 0399 WITH A LONG TAIL OF WORDS yy"));
        assert!(!dfa.is_match(b"nothing to see here"));
    }
}
