//! The layering of `docs/architecture.md`, held against the code: every `crate::<module>` path
//! in `src/` (outside `src/bin/`, comment lines excluded) is an edge from the file's top-level
//! module to `<module>`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::common::root;

/// `module -> layer` from the doc's table rows (`| \`name\` | N | … |`).
fn layers(doc: &str) -> BTreeMap<String, u32> {
    doc.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let layer = cells.get(2)?.parse().ok()?;
            Some((name.to_string(), layer))
        })
        .collect()
}

/// The `- \`a -> b\`: why` items of the doc's "Known debt" section.
fn debt(doc: &str) -> BTreeSet<(String, String)> {
    let section = doc.split("## Known debt").nth(1).unwrap_or_default();
    let mut out = BTreeSet::new();
    for l in section.lines().filter(|l| l.starts_with("- ")) {
        let head = l.split(':').next().unwrap_or_default();
        for item in head.split(',') {
            let item = item.trim().trim_start_matches("- ").trim_matches('`');
            if let Some((a, b)) = item.split_once(" -> ") {
                out.insert((a.trim().to_string(), b.trim().to_string()));
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `(from, to) -> first place seen` for every edge in the code.
fn edges(src: &Path, modules: &BTreeSet<String>) -> BTreeMap<(String, String), String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut out = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(src).expect("under src");
        let first = rel.components().next().expect("component");
        let from = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if from == "bin" || from == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&f).expect("read");
        for (i, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for (at, _) in line.match_indices("crate::") {
                let rest = &line[at + "crate::".len()..];
                let to: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if to != from && modules.contains(&to) {
                    out.entry((from.clone(), to))
                        .or_insert_with(|| format!("src/{}:{}", rel.display(), i + 1));
                }
            }
        }
    }
    out
}

#[test]
fn the_code_keeps_the_documented_layers() {
    let doc = std::fs::read_to_string(root().join("docs/architecture.md")).expect("doc");
    let layers = layers(&doc);
    let debt = debt(&doc);
    assert!(
        layers.len() >= 10,
        "the table lists the modules: {layers:?}"
    );
    assert!(!debt.is_empty(), "the debt list parses");

    // Every top-level module of the library is in the table.
    let src = root().join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let declared: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').to_string())
        .collect();
    let missing: Vec<_> = declared
        .iter()
        .filter(|m| !layers.contains_key(*m))
        .collect();
    assert!(
        missing.is_empty(),
        "modules missing from docs/architecture.md: {missing:?}"
    );

    let found = edges(&src, &declared);
    let mut forbidden = Vec::new();
    for ((from, to), at) in &found {
        let (Some(a), Some(b)) = (layers.get(from), layers.get(to)) else {
            continue;
        };
        if b >= a && !debt.contains(&(from.clone(), to.clone())) {
            forbidden.push(format!("{from} (layer {a}) -> {to} (layer {b}) at {at}"));
        }
    }
    assert!(
        forbidden.is_empty(),
        "edges docs/architecture.md forbids (use a lower layer, or move the shared code down):\n{}",
        forbidden.join("\n")
    );
    let gone: Vec<_> = debt
        .iter()
        .filter(|e| !found.contains_key(*e))
        .map(|(a, b)| format!("{a} -> {b}"))
        .collect();
    assert!(
        gone.is_empty(),
        "debt edges that no longer exist: strike them from docs/architecture.md: {gone:?}"
    );
}

/// The checker itself: an upward edge is found and named with its file and line.
#[test]
fn an_upward_edge_is_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path();
    std::fs::create_dir_all(src.join("artifact")).expect("mkdir");
    std::fs::write(
        src.join("artifact/mod.rs"),
        "// crate::fix in a comment does not count\nuse crate::fix::x;\n",
    )
    .expect("write");
    let modules: BTreeSet<String> = ["artifact", "fix"].map(String::from).into();
    let found = edges(src, &modules);
    assert_eq!(
        found
            .get(&("artifact".to_string(), "fix".to_string()))
            .map(String::as_str),
        Some("src/artifact/mod.rs:2")
    );
    assert_eq!(found.len(), 1);
}
