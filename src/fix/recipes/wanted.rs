//! What the recipes read of a repository ([`files_wanted`]), so a client can send just those
//! files (plus a listing of paths) and the Developer-Agent can run the recipes on a tree
//! rebuilt from them.

use super::import_case::{failing_imports, py_import_line_re, quoted_specs, source_files, JS_EXTS};
use super::*;

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
pub(super) fn path_words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| {
        !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '@' | '+' | '~' | '-'))
    })
    .map(|w| w.trim_end_matches('.'))
    .filter(|w| {
        let name = w.rsplit('/').next().unwrap_or(w);
        w.len() <= crate::fix::path::MAX_PATH_BYTES
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
