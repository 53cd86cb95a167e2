//! Source locations named in log lines (`src/app.ts:12`, javac `File.java:[12,5]`, a Java stack
//! frame `(File.java:61)`), made repository-relative.

use std::sync::OnceLock;

use regex::bytes::Regex;

const EXT: &str = "rs|go|py|js|jsx|mjs|cjs|ts|tsx|java|kt|kts|scala|groovy|rb|php|c|cc|cpp|cxx|h|hpp|cs|swift|m|ex|exs|dart|vue|svelte";

fn pattern_sources() -> Vec<String> {
    [
        // javac: /path/File.java:[12,5]
        r"(?P<file>(?:[\w.@+-]+|/)[\w./@+-]*\.java):\[(?P<line>\d+),\d+\]".to_string(),
        // path/file.ext:12 or path/file.ext(12,5) or File "x.py", line 3
        format!(r#"(?P<file>[\w./@+-]*[\w@+-]\.(?:{EXT})):(?P<line>\d+)(?-u:\b)"#),
        format!(r#"File "(?P<file>[^"]+\.(?:{EXT}))", line (?P<line>\d+)"#),
        format!(r"(?P<file>[\w./@+-]*[\w@+-]\.(?:{EXT}))\((?P<line>\d+),\d+\)"),
    ]
    .to_vec()
}

/// The location patterns, and their union without capture groups: most lines name no
/// location, and one `is_match` of the union (a lazy DFA) rejects them far faster than four
/// capturing searches.
fn patterns() -> &'static (Regex, Vec<Regex>) {
    static P: OnceLock<(Regex, Vec<Regex>)> = OnceLock::new();
    P.get_or_init(|| {
        let sources = pattern_sources();
        let union = sources
            .iter()
            .map(|p| {
                format!(
                    "(?:{})",
                    p.replace("(?P<file>", "(?:").replace("(?P<line>", "(?:")
                )
            })
            .collect::<Vec<_>>()
            .join("|");
        // A failure to compile is a programming error caught by the tests; then nothing is
        // rejected up front.
        let union = Regex::new(&union)
            .unwrap_or_else(|_| Regex::new("").unwrap_or_else(|_| unreachable!("empty regex")));
        let each = sources.iter().filter_map(|p| Regex::new(p).ok()).collect();
        (union, each)
    })
}

/// Paths that name tool or library code rather than the repository's own.
fn is_foreign(path: &str) -> bool {
    const FOREIGN: [&str; 9] = [
        "node_modules/",
        "/rustc/",
        ".cargo/registry",
        "site-packages/",
        "/usr/lib/",
        "/usr/local/",
        "/opt/hostedtoolcache/",
        "go/pkg/mod/",
        "/.m2/repository/",
    ];
    FOREIGN.iter().any(|f| path.contains(f))
}

/// The first repository-looking source location in a cleaned line.
pub(crate) fn find(text: &[u8]) -> Option<(String, u32)> {
    let (union, each) = patterns();
    if !union.is_match(text) {
        return None;
    }
    for re in each {
        for caps in re.captures_iter(text) {
            let (Some(f), Some(l)) = (caps.name("file"), caps.name("line")) else {
                continue;
            };
            let file = String::from_utf8_lossy(f.as_bytes()).into_owned();
            if is_foreign(&file) || file.contains("://") {
                continue;
            }
            let Some(line) = std::str::from_utf8(l.as_bytes())
                .ok()
                .and_then(|s| s.parse::<u32>().ok())
                .filter(|n| *n > 0)
            else {
                continue;
            };
            return Some((file, line));
        }
    }
    None
}

/// Makes a path repository-relative: strips `file://`, `/home/runner/work/<repo>/<repo>/`-style
/// runner prefixes (Linux, macOS, Windows), `/github/workspace/` (container actions) and the
/// given workspace directory (`GITHUB_WORKSPACE`); a leading `./` too.
pub fn relativize(path: &str, workspace: Option<&str>) -> String {
    static R: OnceLock<Option<Regex>> = OnceLock::new();
    let re = R.get_or_init(|| {
        Regex::new(
            r"^(?:/home/runner/work|/Users/runner/work|/__w|[A-Za-z]:[\\/]a)[\\/][^\\/]+[\\/][^\\/]+[\\/]|^/github/workspace/",
        )
        .ok()
    });
    let mut p = path.strip_prefix("file://").unwrap_or(path);
    if let Some(ws) = workspace.filter(|w| !w.is_empty()) {
        let ws = ws.trim_end_matches('/');
        if let Some(rest) = p.strip_prefix(ws) {
            if let Some(rest) = rest.strip_prefix('/') {
                p = rest;
            }
        }
    }
    if let Some(re) = re {
        if let Some(m) = re.find(p.as_bytes()) {
            p = &p[m.end()..];
        }
    }
    p.strip_prefix("./").unwrap_or(p).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_relativizes_locations() {
        let (f, l) =
            find(b"[ERROR] /home/runner/work/auto/auto/value/src/X.java:[42,46] cannot access")
                .expect("javac");
        assert_eq!(l, 42);
        assert_eq!(relativize(&f, None), "value/src/X.java");
        let (f, l) =
            find(b"    at Object.<anonymous> (tests/example-test.test.js:4:23)").expect("js");
        assert_eq!((f.as_str(), l), ("tests/example-test.test.js", 4));
        assert_eq!(relativize("/srv/ws/src/a.rs", Some("/srv/ws")), "src/a.rs");
        assert_eq!(relativize("/github/workspace/cv.tex", None), "cv.tex");
        assert!(find(b"at node_modules/x/y.js:1:2").is_none());
    }
}
