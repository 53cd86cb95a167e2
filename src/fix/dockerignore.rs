//! `.dockerignore` with Docker's own semantics (moby/patternmatcher as used by BuildKit and
//! the classic builder), and the Dockerfile's `WORKDIR`/`COPY`/`ADD` instructions that map a
//! path as the container sees it back to the build context.
//!
//! Semantics: one pattern per line; `#` lines are comments; surrounding whitespace is
//! trimmed; a leading `!` makes an exception; patterns are cleaned like Go's
//! `filepath.Clean` and a leading `/` is dropped; `*` and `?` never cross `/`, `**` matches
//! any number of directories (zero included), `[...]` classes and `\` escapes work as in
//! Go's `filepath.Match`; a pattern that matches a parent directory matches everything in
//! it; the LAST matching pattern wins.

use regex::Regex;

/// One compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The cleaned pattern text (without `!`).
    pub text: String,
    /// True for `!` exceptions.
    pub exclusion: bool,
    /// 1-based line in the file.
    pub line: usize,
    re: Regex,
}

/// A parsed `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    /// The patterns in file order.
    pub patterns: Vec<Pattern>,
}

/// Cleans a path like Go's `filepath.Clean` on `/`-separated paths, dropping a leading `/`.
fn clean(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out.join("/")
}

/// Translates a pattern to an anchored regex (as moby/patternmatcher does).
fn to_regex(pattern: &str) -> Option<Regex> {
    let mut re = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' => {
                if chars.get(i + 1) == Some(&'*') {
                    i += 1;
                    if chars.get(i + 1) == Some(&'/') {
                        i += 1;
                        re.push_str("(.*/)?");
                    } else {
                        re.push_str(".*");
                    }
                } else {
                    re.push_str("[^/]*");
                }
            }
            '?' => re.push_str("[^/]"),
            '[' => {
                // Copy the class; Go uses `^` for negation like regex does.
                let mut j = i + 1;
                let mut class = String::from("[");
                if chars.get(j) == Some(&'^') || chars.get(j) == Some(&'!') {
                    class.push('^');
                    j += 1;
                }
                let mut closed = false;
                while j < chars.len() {
                    let d = chars[j];
                    if d == ']' {
                        closed = true;
                        break;
                    }
                    if d == '\\' {
                        j += 1;
                        if let Some(e) = chars.get(j) {
                            class.push_str(&regex::escape(&e.to_string()));
                        }
                    } else if d == '-' {
                        class.push('-');
                    } else {
                        class.push_str(&regex::escape(&d.to_string()));
                    }
                    j += 1;
                }
                if !closed {
                    return None;
                }
                class.push(']');
                re.push_str(&class);
                i = j;
            }
            '\\' => {
                i += 1;
                if let Some(e) = chars.get(i) {
                    re.push_str(&regex::escape(&e.to_string()));
                }
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    re.push('$');
    Regex::new(&re).ok()
}

impl DockerIgnore {
    /// Parses `.dockerignore` text. Invalid patterns are skipped (Docker errors on them; a
    /// recipe then cannot be sure and does nothing, see [`DockerIgnore::invalid`]).
    pub fn parse(text: &str) -> (DockerIgnore, usize) {
        let mut patterns = Vec::new();
        let mut invalid = 0;
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exclusion, body) = match line.strip_prefix('!') {
                Some(b) => (true, b.trim()),
                None => (false, line),
            };
            let cleaned = clean(body);
            if cleaned.is_empty() {
                continue;
            }
            match to_regex(&cleaned) {
                Some(re) => patterns.push(Pattern {
                    text: cleaned,
                    exclusion,
                    line: n + 1,
                    re,
                }),
                None => invalid += 1,
            }
        }
        (DockerIgnore { patterns }, invalid)
    }

    /// The pattern deciding `path` (a context-relative file path): the last pattern that
    /// matches the path or one of its parent directories. `None` when nothing matches.
    pub fn deciding(&self, path: &str) -> Option<&Pattern> {
        let path = clean(path);
        // The path and its parent directories: `a`, `a/b`, `a/b/c`.
        let prefixes: Vec<&str> = path
            .match_indices('/')
            .map(|(i, _)| &path[..i])
            .chain(std::iter::once(path.as_str()))
            .collect();
        self.patterns
            .iter()
            .rev()
            .find(|p| prefixes.iter().any(|x| p.re.is_match(x)))
    }

    /// True when `path` is excluded from the build context.
    pub fn is_excluded(&self, path: &str) -> bool {
        self.deciding(path).is_some_and(|p| !p.exclusion)
    }
}

/// Escapes a literal path for use as a pattern (`*`, `?`, `[`, `\` escaped).
pub fn escape_pattern(path: &str) -> String {
    let mut s = String::new();
    for c in path.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

/// One `COPY`/`ADD` without `--from`: sources (context-relative) and destination (absolute,
/// resolved against `WORKDIR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyInstruction {
    /// Source paths as written, cleaned, relative to the context.
    pub sources: Vec<String>,
    /// The destination, absolute.
    pub dest: String,
    /// True when the destination is a directory (ends with `/`, or several sources).
    pub dest_is_dir: bool,
    /// 1-based line of the instruction in the Dockerfile.
    pub line: usize,
}

fn join_abs(base: &str, p: &str) -> String {
    let joined = if p.starts_with('/') {
        p.to_string()
    } else {
        format!("{base}/{p}")
    };
    format!("/{}", clean(&joined))
}

/// Reads the `COPY`/`ADD` instructions of a Dockerfile (line continuations with `\`, JSON
/// and shell forms, `--chown`-style flags skipped, `--from` copies ignored: they do not read
/// the context), resolving destinations against `WORKDIR` (default `/`).
pub fn copies(dockerfile: &str) -> Vec<CopyInstruction> {
    let mut out = Vec::new();
    let mut workdir = "/".to_string();
    let mut logical = String::new();
    let mut start = 0;
    for (n, raw) in dockerfile.lines().enumerate() {
        let t = raw.trim();
        if logical.is_empty() {
            if t.starts_with('#') || t.is_empty() {
                continue;
            }
            start = n + 1;
        }
        if let Some(body) = t.strip_suffix('\\') {
            logical.push_str(body);
            logical.push(' ');
            continue;
        }
        logical.push_str(t);
        let line = std::mem::take(&mut logical);
        let mut words = line.split_whitespace();
        let Some(kw) = words.next() else { continue };
        let kw = kw.to_ascii_uppercase();
        let rest: Vec<&str> = words.collect();
        match kw.as_str() {
            "FROM" => workdir = "/".into(),
            "WORKDIR" => {
                if let Some(w) = rest.first() {
                    workdir = join_abs(&workdir, w.trim_matches('"'));
                }
            }
            "COPY" | "ADD" => {
                let mut args: Vec<String> = Vec::new();
                let mut from = false;
                let flags_end = rest.iter().take_while(|w| w.starts_with("--")).count();
                for f in &rest[..flags_end] {
                    if f.starts_with("--from") {
                        from = true;
                    }
                }
                let after: String = rest[flags_end..].join(" ");
                if after.trim_start().starts_with('[') {
                    if let Ok(v) = serde_json::from_str::<Vec<String>>(after.trim()) {
                        args = v;
                    }
                } else {
                    args = after.split_whitespace().map(str::to_string).collect();
                }
                if from || args.len() < 2 {
                    continue;
                }
                let Some(dest_raw) = args.pop() else { continue };
                let dest_is_dir = dest_raw.ends_with('/') || args.len() > 1 || dest_raw == ".";
                out.push(CopyInstruction {
                    sources: args.iter().map(|s| clean(s)).collect(),
                    dest: join_abs(&workdir, &dest_raw),
                    dest_is_dir,
                    line: start,
                });
            }
            _ => {}
        }
    }
    out
}

/// Maps an absolute container path back to context paths through `copies`: for a source
/// directory (or `.`) copied to a directory, the file below it; for a source file copied to
/// the path itself (or into a directory as the same name). Wildcard sources are matched
/// segment by segment. Returns every candidate with the first instruction that copies it
/// there, in Dockerfile order.
pub fn context_paths_for<'a>(
    container_path: &str,
    copies: &'a [CopyInstruction],
    is_dir: impl Fn(&str) -> bool,
) -> Vec<(String, &'a CopyInstruction)> {
    let target = join_abs("/", container_path);
    let mut out = Vec::new();
    for c in copies {
        let dest = c.dest.trim_end_matches('/');
        let dest = if dest.is_empty() { "/" } else { dest };
        for src in &c.sources {
            let src_clean = clean(src);
            let src_is_dir = src_clean.is_empty() || is_dir(&src_clean);
            let rel_under = |d: &str| -> Option<String> {
                if d == "/" {
                    Some(target.trim_start_matches('/').to_string())
                } else {
                    target.strip_prefix(&format!("{d}/")).map(str::to_string)
                }
            };
            let cand = if src_is_dir {
                rel_under(dest).map(|rel| {
                    if src_clean.is_empty() {
                        rel
                    } else {
                        format!("{src_clean}/{rel}")
                    }
                })
            } else {
                let name = src_clean.rsplit('/').next().unwrap_or(&src_clean);
                if c.dest_is_dir {
                    rel_under(dest)
                        .filter(|r| r == name)
                        .map(|_| src_clean.clone())
                } else if target == dest {
                    Some(src_clean.clone())
                } else {
                    None
                }
            };
            if let Some(p) = cand {
                let p = clean(&p);
                if !p.is_empty() && !out.iter().any(|(x, _)| *x == p) {
                    out.push((p, c));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn di(t: &str) -> DockerIgnore {
        DockerIgnore::parse(t).0
    }

    #[test]
    fn docker_semantics() {
        let d = di("data/\n");
        assert!(d.is_excluded("data/pricing.json"));
        assert!(!d.is_excluded("database.json"));
        let d = di("data\n!data/pricing.json\n");
        assert!(!d.is_excluded("data/pricing.json"));
        assert!(d.is_excluded("data/other.json"));
        let d = di("*.md\n!README*.md\nREADME-secret.md\n");
        assert!(d.is_excluded("CHANGES.md"));
        assert!(!d.is_excluded("README.md"));
        assert!(d.is_excluded("README-secret.md"));
        assert!(!d.is_excluded("docs/CHANGES.md"), "`*` does not cross `/`");
        let d = di("**/*.json\n");
        assert!(d.is_excluded("a.json") && d.is_excluded("x/y/a.json"));
        let d = di("/node_modules\n# comment\n  ./build/  \n");
        assert!(d.is_excluded("node_modules/x/y.js") && d.is_excluded("build/a"));
        let d = di("data/**\n");
        assert!(d.is_excluded("data/a/b.json"));
        let d = di("da?a/[a-c]*.json\n");
        assert!(d.is_excluded("data/b1.json") && !d.is_excluded("data/d1.json"));
        let d = di("!data/x.json\ndata\n");
        assert!(d.is_excluded("data/x.json"), "last match wins");
    }

    #[test]
    fn maps_container_paths_through_copy() {
        let df = "FROM node:20\nWORKDIR /app\nCOPY package.json ./\nCOPY src ./src\nCOPY data/ ./data/\nCOPY --from=build /out /srv\nADD [\"config/app.yml\", \"/etc/app/app.yml\"]\n";
        let c = copies(df);
        assert_eq!(c.len(), 4);
        let is_dir = |p: &str| matches!(p, "src" | "data");
        let paths = |target: &str| -> Vec<(String, usize)> {
            context_paths_for(target, &c, is_dir)
                .into_iter()
                .map(|(p, ci)| (p, ci.line))
                .collect()
        };
        assert_eq!(
            paths("/app/data/pricing.json"),
            vec![("data/pricing.json".to_string(), 5)]
        );
        assert_eq!(paths("/app/package.json"), vec![("package.json".into(), 3)]);
        assert_eq!(
            paths("/etc/app/app.yml"),
            vec![("config/app.yml".into(), 7)]
        );
        assert!(context_paths_for("/srv/x", &c, is_dir).is_empty());
        let c = copies("FROM x\nWORKDIR /app\nCOPY . .\n");
        let found = context_paths_for("/app/data/p.json", &c, |_| true);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].0.as_str(), found[0].1.line), ("data/p.json", 3));
    }
}
