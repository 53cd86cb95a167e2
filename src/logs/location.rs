//! Source locations named in log lines (`src/app.ts:12`, javac `File.java:[12,5]`, a Java stack
//! frame `(File.java:61)`), and making CI paths repository-relative ([`relativize`],
//! [`repo_relative`]: one place for every runner layout).

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

/// Makes a path repository-relative: `file://` and a leading `./` are stripped, `\` becomes
/// `/`, and so does the checkout's prefix (see [`repo_relative`]). A path with no recognised
/// checkout prefix is returned with only those changes.
pub fn relativize(path: &str, workspace: Option<&str>) -> String {
    match repo_relative(path, workspace) {
        Some(rel) => rel,
        None => {
            let p = normalise(path);
            p.strip_prefix("./").map(str::to_string).unwrap_or(p)
        }
    }
}

/// The repository-relative form of a CI path that starts with the checkout: the given
/// `workspace` (`GITHUB_WORKSPACE`), else one of the hosted-runner layouts
/// `/home/runner/work/<repo>/<repo>/` (Linux), `/Users/runner/work/<repo>/<repo>/` (macOS),
/// `/__w/<repo>/<repo>/` (container jobs), `<drive>:\a\<repo>\<repo>\` (Windows, either
/// slash) and `/github/workspace/` (container actions). `file://` is stripped and `\` becomes
/// `/` first.
///
/// Returns `None` when no checkout prefix is recognised; `Some("")` for the checkout itself.
pub fn repo_relative(path: &str, workspace: Option<&str>) -> Option<String> {
    let p = normalise(path);
    if let Some(ws) = workspace.map(normalise) {
        let ws = ws.trim_end_matches('/');
        if !ws.is_empty() {
            if p == ws {
                return Some(String::new());
            }
            if let Some(rest) = p.strip_prefix(ws).and_then(|r| r.strip_prefix('/')) {
                return Some(rest.to_string());
            }
        }
    }
    let parts: Vec<&str> = p.split('/').collect();
    let skip = match parts.as_slice() {
        ["", "home" | "Users", "runner", "work", a, b, ..] if !a.is_empty() && !b.is_empty() => 6,
        ["", "__w", a, b, ..] if !a.is_empty() && !b.is_empty() => 4,
        [drive, "a", a, b, ..]
            if drive.len() == 2
                && drive.starts_with(|c: char| c.is_ascii_alphabetic())
                && drive.ends_with(':')
                && !a.is_empty()
                && !b.is_empty() =>
        {
            4
        }
        ["", "github", "workspace", ..] => 3,
        _ => return None,
    };
    Some(parts[skip..].join("/"))
}

/// `file://` stripped and `\` turned into `/`.
fn normalise(path: &str) -> String {
    path.strip_prefix("file://")
        .unwrap_or(path)
        .replace('\\', "/")
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
        assert_eq!(relativize("./src/a.rs", None), "src/a.rs");
        assert_eq!(relativize("/usr/lib/x.js", None), "/usr/lib/x.js");
        assert!(find(b"at node_modules/x/y.js:1:2").is_none());
    }

    #[test]
    fn every_runner_layout_is_relative() {
        for (path, want) in [
            (
                "/home/runner/work/app/app/tests/x.spec.ts",
                Some("tests/x.spec.ts"),
            ),
            (
                "/Users/runner/work/app/app/src/a.swift",
                Some("src/a.swift"),
            ),
            ("/__w/app/app/src/a.js", Some("src/a.js")),
            (r"D:\a\app\app\src\a.js", Some("src/a.js")),
            ("D:/a/app/app/src/a.js", Some("src/a.js")),
            ("/github/workspace/cv.tex", Some("cv.tex")),
            ("file:///home/runner/work/app/app/a.py", Some("a.py")),
            ("/home/runner/work/app/app", Some("")),
            ("/usr/lib/x.js", None),
            ("tests/x.py", None),
        ] {
            assert_eq!(repo_relative(path, None).as_deref(), want, "{path}");
        }
        let ws = Some(r"C:\runner\ws\");
        assert_eq!(
            repo_relative(r"C:\runner\ws\src\a.rs", ws).as_deref(),
            Some("src/a.rs")
        );
        assert_eq!(
            repo_relative("/srv/ws", Some("/srv/ws/")).as_deref(),
            Some("")
        );
        assert_eq!(repo_relative("/srv/wsx/a", Some("/srv/ws")), None);
    }
}
