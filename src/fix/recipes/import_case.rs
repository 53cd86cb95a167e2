//! Recipe `import-case`: a relative JS/TS import or a Python import that only fails on a
//! case-sensitive file system; fix it to the file's real case. Category `compile_error`.

use super::*;

pub(super) const JS_EXTS: &[&str] = &[
    "js", "jsx", "ts", "tsx", "mjs", "cjs", "mts", "cts", "vue", "svelte",
];
pub(super) const RESOLVE_SUFFIXES: &[&str] = &[
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
pub(super) fn resolve_case_insensitive(repo: &Path, rel: &str) -> Option<String> {
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

pub(super) fn normalise_rel(base_dir: &str, spec: &str) -> Option<String> {
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

pub(super) fn source_files(repo: &Path, exts: &[&str]) -> Vec<String> {
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
pub(super) fn failing_imports(lines: &[EvidenceLine]) -> (Vec<FailingImport>, Vec<FailingImport>) {
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
pub(super) fn quoted_specs(spec: &str) -> Vec<String> {
    ['\'', '"', '`']
        .iter()
        .map(|q| format!("{q}{spec}{q}"))
        .collect()
}

/// The Python line that imports `module` (`from m import …`, `import m`); group 1 is the part
/// up to and including the module name.
pub(super) fn py_import_line_re(module: &str) -> Option<Regex> {
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
pub(super) struct JsCase<'a> {
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
pub(super) struct PyCase<'a> {
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
