//! Secret redaction that keeps line structure.
//!
//! Every credential format of the shared `secret-formats.md` (prefixes, alphabets and lengths as
//! documented by the issuers and collected in the gitleaks rule set) is replaced in place by
//! `[REDACTED:<rule-id>]`. A replacement never spans a newline, so the line count and the line
//! each remaining character is on are unchanged.
//!
//! | rule id | what | replaced part |
//! |---|---|---|
//! | `github-pat` | `ghp_` + 36 alphanumerics | the token |
//! | `github-fine-grained-pat` | `github_pat_` + 82 word characters | the token |
//! | `github-app-token` | `ghs_` / `ghu_` + 36 | the token |
//! | `github-oauth` | `gho_` / `ghr_` + 36 | the token |
//! | `aws-access-key-id` | `AKIA`/`ASIA`/`ABIA`/`ACCA`/`A3T?` + 16 of `[A-Z2-7]` | the id |
//! | `slack-bot-token`, `slack-user-token`, `slack-app-token` | `xoxb-…`, `xox[peos]-…`, `xapp-…` | the token |
//! | `slack-webhook-url` | `hooks.slack.com/{services,workflows,triggers}/…` | the path after the kind |
//! | `stripe-key` | `sk_`/`rk_` + `test_`/`live_`/`prod_` + 10–99 | the key |
//! | `google-api-key` | `AIza` + 35 | the key |
//! | `private-key` | `-----BEGIN … PRIVATE KEY-----` … `-----END … PRIVATE KEY-----` | every line between the markers (markers kept), or the text between them on one line (`\n`-escaped JSON) |
//! | `jwt` | `ey….ey….sig` | the token |
//! | `npm-token` | `npm_` + 36 | the token |
//! | `pypi-token` | `pypi-AgEIcHlwaS5vcmc` + 50 or more | the token |
//! | `gitlab-pat` | `glpat-` + 20 or more | the token |
//! | `openai-key` | `sk-…` containing `T3BlbkFJ` | the key |
//! | `anthropic-key` | `sk-ant-api03-` + 93 + `AA` | the key |
//! | `sendgrid-key` | `SG.` + 66 | the key |
//! | `huggingface-token` | `hf_` + 34 letters | the token |
//! | `authorization-header` | `Authorization: [Bearer\|Basic\|token…] <credential>` | the credential (the scheme word stays) |
//! | `url-credentials` | `scheme://user:password@host`, or `scheme://TOKEN@host` with a random-looking token of 10+ characters (`ssh://git@host` stays) | `user:password` / the token (scheme and host stay) |
//! | `command-line-password` | `--password VALUE`, `--password=VALUE` (also `--passwd`, `--pass`, `--pwd`, `-password`), `docker login … -p VALUE`, `mysql … -pVALUE` (and the other MySQL / MariaDB clients) | the value, whatever it looks like, unless it is a reference (`$VAR`, `${{ … }}`) |
//! | `cookie` | `Cookie:` / `Set-Cookie:` headers | the whole value (`name=value; attributes`) |
//! | `presigned-url-signature` | `X-Amz-Signature=`, `X-Amz-Security-Token=`, `X-Goog-Signature=`, Azure SAS `sig=` query parameters | the parameter's value |
//! | `generic-secret` | `token`/`secret`/`password`/`api_key`/`auth`… `=`/`:` value, or `--token`/`--secret`/`--api-key`… VALUE | the value, when ≥ 10 characters and high-entropy (below) |
//!
//! Word boundaries: the strong prefixes (`ghp_`, `github_pat_`, `AKIA`, `xoxb-`, `glpat-`,
//! `npm_`, `AIza`…) match anywhere, also glued to a word (`value_ghp_…`, `xghp_…`, `1ghp_…`,
//! `t_ghp_…`) and followed by `_x`; the weak ones (`sk_test_`, `ey…`, `hf_`) need a word start,
//! a `_` before them, or a body that looks generated (digits, or mixed case in proportions a
//! `camelCaseName` does not have), so `disk_test_cache` and `hf_hub_download` stay. Measured on
//! the corpus in `fixtures/redaction/` (zero misses, zero false positives required).
//!
//! Decisions:
//! - `***` (what the Actions runner writes for registered secrets) is left as it is, and so is a
//!   value that is already `[REDACTED:…]`, so redacting twice changes nothing.
//! - AWS ids ending in `EXAMPLE` (documentation samples such as `AKIAIOSFODNN7EXAMPLE`) ARE
//!   redacted: they have the shape of a real id, and a false positive costs nothing.
//! - The generic assignment rule only fires on a value with a Shannon entropy of at least
//!   [`GENERIC_MIN_ENTROPY`] bits per character that mixes letter case or letters and digits,
//!   so `password: required-for-login` or `token = undefined` stay readable; values that look
//!   like references (`$VAR`, `${{ … }}`, `%VAR%`, `<placeholder>`) stay too.
//! - A `BEGIN … PRIVATE KEY` without an `END` redacts every following line to the end of the
//!   text (an excerpt may cut a key); an `END` without a `BEGIN` redacts the base64-looking
//!   lines right above it.
//!
//! Cost: one `RegexSet` pass over the text decides which rules can match at all (most texts: none,
//! and the text is returned unchanged), then each candidate rule runs once over the text; the
//! `regex` crate guarantees time linear in the text size. Patterns are compiled once per process.

use std::sync::LazyLock;

use regex::{Regex, RegexSet};

use crate::artifact::Redactions;

/// Minimum Shannon entropy, in bits per character, of a `generic-secret` value.
pub const GENERIC_MIN_ENTROPY: f64 = 3.0;

/// Rule id of private key blocks.
const PRIVATE_KEY: &str = "private-key";

/// How a rule's match is checked. The part replaced is the group named `s` when the
/// pattern has one, else the whole match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Always.
    Plain,
    /// Only when it looks random ([`looks_random`]: the generic assignment rules).
    Entropy,
    /// Unless it is a reference (`$VAR`, `${{ … }}`, `%VAR%`, `<placeholder>`): values after a
    /// keyword that says they are secret (`--password`, `Cookie:`, `X-Amz-Signature=`).
    Value,
    /// A weak prefix (`sk_test_` ends `disk_test_`, `ey` is in many words): always at a
    /// word start or after `_`; glued to a letter or digit, only when it looks generated
    /// ([`looks_generated`]).
    Glued,
    /// Only when it looks generated ([`looks_generated`]): `hf_` + 34 letters is also a
    /// camel-case identifier.
    Generated,
}

#[derive(Debug)]
struct Rule {
    id: &'static str,
    re: Regex,
    check: Check,
    /// The pattern has the group `s` (the part to replace).
    has_group: bool,
}

/// Redacts credentials in text, in place, keeping line structure. See the module docs for the
/// rules and their ids.
#[derive(Debug)]
pub struct Redactor {
    rules: Vec<Rule>,
    /// One pattern per rule, plus the private key markers (last two).
    set: RegexSet,
    begin: Regex,
    end: Regex,
}

/// ASCII word boundary (the Unicode one makes the lazy DFA give up on non-ASCII text).
macro_rules! b {
    () => {
        r"(?-u:\b)"
    };
}

/// A token's first character must not continue a word for the weak prefixes only (see
/// [`Check::Glued`]); the strong prefixes (`ghp_`, `AKIA`, `xoxb-`, `glpat-`…) match anywhere,
/// so `value_ghp_…`, `xghp_…` and `1ghp_…` are redacted too. Where a format has an exact
/// length, the character after it must not continue the token's alphabet (`[A-Z0-9]` for
/// AWS ids, emulated by consuming it outside group `s`: the `regex` crate has no
/// look-around); where it has a minimum length, the whole run is taken (`ghp_` + 40
/// alphanumerics is redacted whole, `…_x` after a token stays).
const RULES: &[(&str, &str, Check)] = &[
    (
        "github-fine-grained-pat",
        r"github_pat_[0-9A-Za-z_]{82}",
        Check::Plain,
    ),
    ("github-pat", r"ghp_[0-9A-Za-z]{36,}", Check::Plain),
    ("github-app-token", r"gh[su]_[0-9A-Za-z]{36,}", Check::Plain),
    ("github-oauth", r"gh[or]_[0-9A-Za-z]{36,}", Check::Plain),
    (
        "aws-access-key-id",
        r"(?P<s>(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})(?:[^A-Z0-9]|$)",
        Check::Plain,
    ),
    (
        "slack-bot-token",
        r"xoxb-[0-9]{10,13}-[0-9]{10,13}-?[A-Za-z0-9-]*",
        Check::Plain,
    ),
    (
        "slack-user-token",
        r"xox[peos]-[0-9]+(?:-[0-9]+)*-[A-Za-z0-9]{8,}[A-Za-z0-9-]*",
        Check::Plain,
    ),
    (
        "slack-app-token",
        r"(?i:xapp)-[0-9]-[A-Za-z0-9]+-[0-9]+-[A-Za-z0-9]+",
        Check::Plain,
    ),
    (
        "slack-webhook-url",
        r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<s>[A-Za-z0-9+/]{43,56})",
        Check::Plain,
    ),
    (
        "stripe-key",
        r"[sr]k_(?:test|live|prod)_[A-Za-z0-9]{10,99}",
        Check::Glued,
    ),
    ("google-api-key", r"AIza[0-9A-Za-z_-]{35}", Check::Plain),
    (
        "jwt",
        r"ey[A-Za-z0-9_-]{10,}={0,2}\.ey[A-Za-z0-9_-]{10,}={0,2}\.[A-Za-z0-9_-]*={0,2}",
        Check::Glued,
    ),
    ("npm-token", r"(?i:npm_[a-z0-9]{36,})", Check::Plain),
    (
        "pypi-token",
        r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}",
        Check::Plain,
    ),
    ("gitlab-pat", r"glpat-[A-Za-z0-9_-]{20,}", Check::Plain),
    (
        "anthropic-key",
        r"sk-ant-(?:api03|admin01)-[A-Za-z0-9_-]{93}AA",
        Check::Plain,
    ),
    (
        "openai-key",
        r"sk-[A-Za-z0-9_-]*T3BlbkFJ[A-Za-z0-9_-]*",
        Check::Plain,
    ),
    // SendGrid's own shape (`SG.` + 22 + `.` + 43) anywhere; the looser documented one
    // (66 characters of the alphabet) only at a word start (`MSG.` + a dotted name is not a key).
    (
        "sendgrid-key",
        r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}",
        Check::Plain,
    ),
    (
        "sendgrid-key",
        concat!(b!(), r"SG\.[A-Za-z0-9=_.-]{66}"),
        Check::Plain,
    ),
    ("huggingface-token", r"hf_[A-Za-z]{34,}", Check::Generated),
    (
        "authorization-header",
        concat!(
            r#"(?i:(?:proxy-)?authorization)[ \t]*["']?[ \t]*[:=][ \t]*["']?[ \t]*"#,
            r"(?:(?i:bearer|basic|token|digest|bot|negotiate|apikey)[ \t]+)?",
            r#"(?P<s>[^\s"',;]+)"#
        ),
        Check::Plain,
    ),
    (
        "url-credentials",
        r"[A-Za-z][A-Za-z0-9+.-]*://(?P<s>[^\s/@:]*:[^\s/@]+)@",
        Check::Plain,
    ),
    // A token as the URL's user name (`https://TOKEN@host/`, `https://oauth2:…` is above):
    // only a random-looking one, so `ssh://git@host` stays.
    (
        "url-credentials",
        r"[A-Za-z][A-Za-z0-9+.-]*://(?P<s>[^\s/@:?#]{10,})@",
        Check::Entropy,
    ),
    // `--password VALUE`, `--password=VALUE`, `-p VALUE` of `docker login`, `-pVALUE` of the
    // MySQL clients: the value whatever it looks like (a password may be a word).
    (
        "command-line-password",
        r#"(?:^|[\s"'(=])--?(?i:password|passwd|pass|pwd)(?:[ \t]+|=)["']?(?P<s>[^\s"'`;]+)"#,
        Check::Value,
    ),
    (
        "command-line-password",
        r#"docker[ \t]+login[ \t][^\n]*?[ \t]-p[ \t]+["']?(?P<s>[^\s"'`;]+)"#,
        Check::Value,
    ),
    (
        "command-line-password",
        concat!(
            b!(),
            r#"(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlshow|mariadb|mariadb-dump)"#,
            r#"[ \t][^\n]*?[ \t]-p["']?(?P<s>[^\s"'`;-][^\s"'`;]*)"#
        ),
        Check::Value,
    ),
    // `--token VALUE`, `--api-key VALUE`… with a space (the `=` form is `generic-secret`).
    (
        "generic-secret",
        r#"(?:^|[\s"'(])--(?i:token|secret|api-key|apikey|access-token|auth-token|client-secret|private-token)[ \t]+["']?(?P<s>[^\s"'`;]{10,})"#,
        Check::Entropy,
    ),
    // `Cookie:` / `Set-Cookie:` headers: the whole value (`name=value; …`).
    (
        "cookie",
        concat!(
            b!(),
            r#"(?i:(?:set-)?cookie)[ \t]*["']?[ \t]*:[ \t]*["']?[ \t]*"#,
            r#"(?P<s>[^\s"';=,]+=[^\r\n"']*)"#
        ),
        Check::Value,
    ),
    // Presigned URLs: S3 (`X-Amz-Signature`, `X-Amz-Security-Token`), GCS
    // (`X-Goog-Signature`) and Azure SAS (`sig`) query parameters.
    (
        "presigned-url-signature",
        r#"[?&](?i:x-amz-signature|x-amz-security-token|x-goog-signature|sig)=(?P<s>[^&\s"'#<>]+)"#,
        Check::Value,
    ),
    (
        "generic-secret",
        concat!(
            r"(?i:[a-z0-9_.-]*",
            r"(?:token|secret|passw(?:or)?d|pwd|api[_-]?key|apikey|access[_-]?key|private[_-]?key",
            r"|secret[_-]?key|signing[_-]?key|auth|credentials?|creds)",
            r")",
            b!(),
            r#"["']?[ \t]*(?::=|=>|=|:)[ \t]*["']?(?P<s>[^\s"'`,;]{10,})"#
        ),
        Check::Entropy,
    ),
];

const BEGIN_MARKER: &str = r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----";
const END_MARKER: &str = r"-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----";

#[allow(clippy::expect_used)] // the patterns are constants, covered by every test
static BUILTIN: LazyLock<Redactor> = LazyLock::new(|| {
    let rules: Vec<Rule> = RULES
        .iter()
        .map(|(id, pat, check)| {
            let re = Regex::new(pat).expect("built-in redaction pattern");
            Rule {
                id,
                has_group: re.capture_names().any(|n| n == Some("s")),
                re,
                check: *check,
            }
        })
        .collect();
    let set = RegexSet::new(
        RULES
            .iter()
            .map(|(_, p, _)| *p)
            .chain([BEGIN_MARKER, END_MARKER]),
    )
    .expect("built-in redaction set");
    Redactor {
        rules,
        set,
        begin: Regex::new(BEGIN_MARKER).expect("begin marker"),
        end: Regex::new(END_MARKER).expect("end marker"),
    }
});

/// A byte range of the text to replace.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    rule: &'static str,
    /// Whether this span counts as one redaction (a private key block counts once).
    counts: bool,
}

impl Redactor {
    /// The built-in redactor (compiled on first use, then shared).
    pub fn builtin() -> &'static Redactor {
        &BUILTIN
    }

    /// Returns `text` with secrets replaced by `[REDACTED:<rule>]`, adding one count per
    /// replaced secret (a private key block counts once) to `counts` under the rule id.
    ///
    /// Keeps every `\n` and `\r` where it was: the output has exactly the lines of the input.
    pub fn redact(&self, text: &str, counts: &mut Redactions) -> String {
        let hits = self.set.matches(text);
        if !hits.matched_any() {
            return text.to_string();
        }
        let mut spans = Vec::new();
        let n = self.rules.len();
        if hits.matched(n) || hits.matched(n + 1) {
            self.private_key_spans(text, &mut spans);
        }
        for (i, rule) in self.rules.iter().enumerate() {
            if !hits.matched(i) {
                continue;
            }
            // One search per rule: the part to replace is group `s` when the rule has one.
            let found: Box<dyn Iterator<Item = regex::Match<'_>>> = if rule.has_group {
                Box::new(rule.re.captures_iter(text).filter_map(|c| c.name("s")))
            } else {
                Box::new(rule.re.find_iter(text))
            };
            for m in found {
                let value = m.as_str();
                if keep_as_is(value) {
                    continue;
                }
                let keep = match rule.check {
                    Check::Plain => false,
                    Check::Entropy => !looks_random(value),
                    Check::Value => is_reference(value),
                    Check::Glued => {
                        let glued = text.as_bytes()[..m.start()]
                            .last()
                            .is_some_and(u8::is_ascii_alphanumeric);
                        glued && !looks_generated(value)
                    }
                    Check::Generated => !looks_generated(value),
                };
                if keep {
                    continue;
                }
                spans.push(Span {
                    start: m.start(),
                    end: m.end(),
                    rule: rule.id,
                    counts: true,
                });
            }
        }
        if spans.is_empty() {
            return text.to_string();
        }
        // Earlier start wins; at the same start the longer span (the more specific token).
        spans.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
        let mut out = String::with_capacity(text.len());
        let mut pos = 0;
        for s in spans {
            if s.start < pos || s.start >= s.end {
                continue;
            }
            out.push_str(&text[pos..s.start]);
            out.push_str("[REDACTED:");
            out.push_str(s.rule);
            out.push(']');
            pos = s.end;
            if s.counts {
                counts.add(s.rule, 1);
            }
        }
        out.push_str(&text[pos..]);
        out
    }

    /// Spans for private key blocks: the content of each line between the markers.
    fn private_key_spans(&self, text: &str, spans: &mut Vec<Span>) {
        // (start, end) of each line's content (without `\r\n`).
        let mut lines: Vec<(usize, usize)> = Vec::new();
        let mut start = 0;
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                lines.push((start, trim_cr(text, start, i)));
                start = i + 1;
            }
        }
        if start < text.len() {
            lines.push((start, trim_cr(text, start, text.len())));
        }
        let mut in_block = false;
        let mut redacted_upto = 0usize; // index of the first line not yet redacted
        for (li, &(ls, le)) in lines.iter().enumerate() {
            let line = &text[ls..le];
            if in_block {
                if let Some(end) = self.end.find(line) {
                    push_content(spans, ls, ls + end.start(), text, false);
                    in_block = false;
                } else {
                    push_content(spans, ls, le, text, false);
                }
                redacted_upto = li + 1;
                continue;
            }
            if let Some(begin) = self.begin.find(line) {
                let after = ls + begin.end();
                if let Some(end) = self.end.find(&line[begin.end()..]) {
                    // A whole key on one line (`\n`-escaped JSON, a one-line PEM).
                    let (s, e) = content_range(text, after, after + end.start());
                    if s < e {
                        spans.push(Span {
                            start: s,
                            end: e,
                            rule: PRIVATE_KEY,
                            counts: true,
                        });
                    }
                } else {
                    // The count rides on an empty span and moves to the block's first line
                    // with key text (see `fix_block_counts`).
                    spans.push(Span {
                        start: after,
                        end: after,
                        rule: PRIVATE_KEY,
                        counts: true,
                    });
                    push_content(spans, after, le, text, false);
                    in_block = true;
                }
                redacted_upto = li + 1;
            } else if let Some(end) = self.end.find(line) {
                // An END without BEGIN: the base64 lines above it are the key's tail.
                let mut first = li;
                while first > redacted_upto && looks_base64(content_of(text, lines[first - 1])) {
                    first -= 1;
                }
                let mut counted = false;
                for &(s, e) in &lines[first..li] {
                    push_content(spans, s, e, text, !counted);
                    counted = true;
                }
                push_content(spans, ls, ls + end.start(), text, !counted);
                redacted_upto = li + 1;
            }
        }
        // Make sure every block counts exactly once: the first span pushed for a block is the
        // counting one; an empty counting span is replaced by the block's first real span.
        fix_block_counts(spans);
    }
}

/// Moves the count of an empty span to the next non-empty private-key span and drops empty spans.
fn fix_block_counts(spans: &mut Vec<Span>) {
    let mut carry = false;
    for s in spans.iter_mut() {
        if s.rule != PRIVATE_KEY {
            continue;
        }
        if s.start == s.end {
            carry |= s.counts;
            s.counts = false;
        } else if carry {
            s.counts = true;
            carry = false;
        }
    }
    spans.retain(|s| s.start < s.end);
}

fn trim_cr(text: &str, start: usize, end: usize) -> usize {
    if end > start && text.as_bytes()[end - 1] == b'\r' {
        end - 1
    } else {
        end
    }
}

/// The part of a line that holds key text: after a GitHub timestamp prefix and indentation.
fn content_range(text: &str, start: usize, end: usize) -> (usize, usize) {
    let line = &text.as_bytes()[start..end];
    let mut s = start + crate::logs::format::timestamp_prefix_len(line).unwrap_or(0);
    while s < end && matches!(text.as_bytes()[s], b' ' | b'\t') {
        s += 1;
    }
    let mut e = end;
    while e > s && matches!(text.as_bytes()[e - 1], b' ' | b'\t') {
        e -= 1;
    }
    (s, e)
}

fn content_of(text: &str, (start, end): (usize, usize)) -> &str {
    let (s, e) = content_range(text, start, end);
    &text[s..e]
}

fn push_content(spans: &mut Vec<Span>, start: usize, end: usize, text: &str, counts: bool) {
    let (s, e) = content_range(text, start, end);
    spans.push(Span {
        start: s,
        end: e,
        rule: PRIVATE_KEY,
        counts,
    });
}

/// A line of a PEM body: base64 characters only, at least 16 of them.
fn looks_base64(s: &str) -> bool {
    s.len() >= 16
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// Values left alone: runner masks (`***`), earlier redactions.
fn keep_as_is(value: &str) -> bool {
    let masked = |s: &str| !s.is_empty() && s.bytes().all(|b| b == b'*');
    masked(value)
        || value.starts_with("[REDACTED")
        // `user:***` in a URL: the runner already masked the password.
        || value.rsplit_once(':').is_some_and(|(_, pw)| masked(pw))
}

/// Shannon entropy of `s` in bits per byte.
pub fn shannon_entropy(s: &str) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut freq = [0u32; 256];
    for b in s.bytes() {
        freq[b as usize] += 1;
    }
    let len = s.len() as f64;
    freq.iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

/// A value that names a secret rather than being one: `$VAR`, `${{ secrets.X }}`, `%VAR%`,
/// `<PASSWORD>`, `{placeholder}`, `(…)`, a runner mask.
fn is_reference(value: &str) -> bool {
    value.starts_with(['$', '%', '<', '{', '(', '*']) || value.contains("***")
}

/// Whether a generic assignment value looks like a credential rather than a word or a reference.
fn looks_random(value: &str) -> bool {
    if is_reference(value) {
        return false;
    }
    let lower = value.bytes().any(|b| b.is_ascii_lowercase());
    let upper = value.bytes().any(|b| b.is_ascii_uppercase());
    let digit = value.bytes().any(|b| b.is_ascii_digit());
    let classes = usize::from(lower) + usize::from(upper) + usize::from(digit);
    classes >= 2 && shannon_entropy(value) >= GENERIC_MIN_ENTROPY
}

/// Whether a token with a weak prefix looks machine-made rather than like an identifier:
/// [`looks_random`], and when it has no digit, between 20 % and 80 % of its letters upper
/// case (random mixed-case letters are about half; `camelCaseNames` far fewer).
fn looks_generated(value: &str) -> bool {
    if !looks_random(value) {
        return false;
    }
    if value.bytes().any(|b| b.is_ascii_digit()) {
        return true;
    }
    let letters = value.bytes().filter(u8::is_ascii_alphabetic).count();
    let upper = value.bytes().filter(u8::is_ascii_uppercase).count();
    letters > 0 && upper * 5 >= letters && upper * 5 <= letters * 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_known_strings() {
        assert_eq!(shannon_entropy(""), 0.0);
        assert_eq!(shannon_entropy("aaaa"), 0.0);
        assert!((shannon_entropy("abcd") - 2.0).abs() < 1e-9);
    }

    #[test]
    fn generic_value_filter() {
        assert!(!looks_random("required-for-login"));
        assert!(!looks_random("${{ secrets.TOKEN }}"));
        assert!(!looks_random("$GITHUB_TOKEN_VALUE"));
        assert!(looks_random("q8Vt3LmZx0Rk2Wp9"));
    }
}
