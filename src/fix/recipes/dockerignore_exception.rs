//! Recipe `dockerignore-exception`: a file the container or the build cannot find is excluded
//! by `.dockerignore` (Docker's semantics, [`crate::fix::dockerignore`]); add the narrowest
//! `!path` exception. Category `build_config`.

use super::*;

pub(super) fn missing_file_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| re(r"(?i)\bnot found\b|no such file|does not exist|cannot find|can't find|could not find|\bENOENT\b|failed to compute cache key|excluded by \.dockerignore"))
}

pub(super) fn path_token_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| re(r#"(?:^|[\s"'`(:=\[])(/?(?:[A-Za-z0-9_.@+-]+/)*[A-Za-z0-9_@+-][A-Za-z0-9_.@+-]*\.[A-Za-z0-9]{1,10})(?:$|[\s"'`),:;\]])"#))
}

/// The `dockerignore-exception` recipe.
pub fn dockerignore_exception(repo: &Path, lines: &[EvidenceLine], out: &mut RecipeOutput) {
    let Some(ignore_text) = read_small(repo, ".dockerignore") else {
        return;
    };
    let (ignore, invalid) = DockerIgnore::parse(&ignore_text);
    let dockerfile = read_small(repo, "Dockerfile").unwrap_or_default();
    let copy_list = copies(&dockerfile);
    let mut found: Vec<(String, String, String)> = Vec::new(); // (context path, evidence, mapping)
    for l in lines {
        if !missing_file_re().is_match(&l.text) {
            continue;
        }
        for cap in path_token_re().captures_iter(&l.text) {
            let Some(tok) = cap.get(1).map(|m| m.as_str()) else {
                continue;
            };
            // (context path, how the log's path maps to it)
            let candidates: Vec<(String, String)> = if tok.starts_with('/') {
                let mut c: Vec<(String, String)> = context_paths_for(tok, &copy_list, |p| {
                    repo.join(p).symlink_metadata().is_ok_and(|m| m.is_dir())
                })
                .into_iter()
                .map(|(p, ci)| {
                    let via = format!("Dockerfile line {} copies it to {}", ci.line, ci.dest);
                    (p, via)
                })
                .collect();
                // BuildKit names context files with a leading `/` ("/tsconfig.json": not found).
                let direct = tok.trim_start_matches('/').to_string();
                if c.is_empty() && is_file(repo, &direct) && l.text.contains("cache key") {
                    c.push((direct, "it is a build-context path".into()));
                }
                c
            } else {
                vec![(
                    tok.trim_start_matches("./").to_string(),
                    "it is a build-context path".into(),
                )]
            };
            for (c, mapping) in candidates {
                if found.iter().any(|(p, _, _)| *p == c) || !is_file(repo, &c) {
                    continue;
                }
                if !ignore.is_excluded(&c) {
                    continue;
                }
                found.push((c, quote_evidence(l), mapping));
            }
        }
    }
    if found.is_empty() {
        return;
    }
    if invalid > 0 {
        out.notes.push("recipe dockerignore-exception: .dockerignore has patterns Docker would reject; not sure, nothing done".into());
        return;
    }
    found.truncate(5);
    let mut additions = String::new();
    let mut trial = ignore_text.clone();
    if !trial.is_empty() && !trial.ends_with('\n') {
        trial.push('\n');
    }
    for (p, _, _) in &found {
        additions.push_str(&format!("!{}\n", escape_pattern(p)));
    }
    trial.push_str(&additions);
    let (after, _) = DockerIgnore::parse(&trial);
    if found.iter().any(|(p, _, _)| after.is_excluded(p)) {
        out.notes.push("recipe dockerignore-exception: an exception would not re-include the file; nothing done".into());
        return;
    }
    let file_lines: Vec<&str> = ignore_text.split('\n').collect();
    // The last non-empty line is replaced by itself plus the exceptions.
    let Some(last_idx) = file_lines.iter().rposition(|l| !l.is_empty()) else {
        return;
    };
    let last = file_lines[last_idx].trim_end_matches('\r');
    let deciding: Vec<String> = found
        .iter()
        .filter_map(|(p, _, _)| {
            ignore
                .deciding(p)
                .map(|d| format!("line {} `{}`", d.line, d.text))
        })
        .collect();
    let (first_path, first_evidence, mapping) = &found[0];
    let summary = clip_summary(
        &format!(
            "Re-include {} in the Docker build context: the log says it is missing ({}); {}; .dockerignore excludes it ({}). Adds the narrowest exception `!{}`.",
            found.iter().map(|f| f.0.as_str()).collect::<Vec<_>>().join(", "),
            first_evidence,
            mapping,
            deciding.join(", "),
            escape_pattern(first_path)
        ),
    );
    out.instructions.push(Instruction {
        summary,
        source: Some("recipe:dockerignore-exception".into()),
        edits: vec![Edit::ReplaceLines {
            path: ".dockerignore".into(),
            start_line: u32::try_from(last_idx + 1).unwrap_or(u32::MAX),
            end_line: u32::try_from(last_idx + 1).unwrap_or(u32::MAX),
            expected: last.to_string(),
            replacement: format!("{last}\n{}", additions.trim_end_matches('\n')),
        }],
    });
}
