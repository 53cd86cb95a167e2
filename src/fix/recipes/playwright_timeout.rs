//! Recipe `playwright-timeout`: one locator wait timed out; raise its explicit timeout
//! (policy opt-in, never above the cap). Category `test_timeout`.

use super::*;

/// Maps a path from a stack frame (absolute on the runner, or relative) to a repository file
/// by the longest existing suffix.
pub fn map_to_repo(repo: &Path, raw: &str) -> Option<String> {
    let raw = raw.trim_start_matches("file://");
    let parts: Vec<&str> = raw.split('/').filter(|c| !c.is_empty()).collect();
    for i in 0..parts.len() {
        let cand = parts[i..].join("/");
        if is_file(repo, &cand) {
            return Some(cand);
        }
    }
    None
}

/// The `playwright-timeout` recipe: raise one locator wait's explicit timeout (or give an
/// empty `.waitFor()` one) to `min(2 × the timeout that expired, cap)`.
pub fn playwright_timeout(repo: &Path, lines: &[EvidenceLine], cap: u64, out: &mut RecipeOutput) {
    static T: OnceLock<Regex> = OnceLock::new();
    static F: OnceLock<Regex> = OnceLock::new();
    static O: OnceLock<Regex> = OnceLock::new();
    let timeout_re = T.get_or_init(|| re(r"(?:locator\.\w+|waitFor\w*|expect\(locator\)\.\w+(?:\(\))?)(?: failed)?:?.*?\bTimeout:? (\d+)\s?ms\b"));
    let frame_re =
        F.get_or_init(|| re(r"\bat (?:.*?\()?((?:[A-Za-z]:)?[\w./@-]+\.[cm]?[jt]sx?):(\d+):\d+"));
    let option_re = O.get_or_init(|| re(r"\btimeout\s*:\s*(\d+)"));
    let Some(pos) = lines.iter().position(|l| timeout_re.is_match(&l.text)) else {
        return;
    };
    let Some(expired) = timeout_re
        .captures(&lines[pos].text)
        .and_then(|c| c.get(1))
        .and_then(|m| m.as_str().parse::<u64>().ok())
    else {
        return;
    };
    // The first stack frame (`at …file:line:col`) inside the repository, within the next 40 lines.
    let mut frame = None;
    for l in lines.iter().skip(pos).take(40) {
        for c in frame_re.captures_iter(&l.text) {
            let (Some(p), Some(n)) = (c.get(1), c.get(2)) else {
                continue;
            };
            if p.as_str().contains("node_modules") {
                continue;
            }
            if let (Some(file), Ok(line)) =
                (map_to_repo(repo, p.as_str()), n.as_str().parse::<usize>())
            {
                frame = Some((file, line));
                break;
            }
        }
        if frame.is_some() {
            break;
        }
    }
    let Some((file, line_no)) = frame else {
        return;
    };
    let Some(text) = read_small(repo, &file) else {
        return;
    };
    let Some(line) = text.split('\n').nth(line_no.saturating_sub(1)) else {
        return;
    };
    let line = line.trim_end_matches('\r');
    let new_ms = expired.saturating_mul(2).min(cap);
    if new_ms <= expired {
        out.notes.push(format!("recipe playwright-timeout: the expired timeout {expired} ms is already at the policy cap {cap} ms; nothing done"));
        return;
    }
    let options: Vec<_> = option_re.captures_iter(line).collect();
    let new_line = if options.len() == 1 {
        let Some(m) = options[0].get(1) else { return };
        if m.as_str().parse::<u64>().ok() != Some(expired) {
            out.notes.push(format!("recipe playwright-timeout: {file}:{line_no} sets a timeout other than the {expired} ms that expired; nothing done"));
            return;
        }
        format!("{}{}{}", &line[..m.start()], new_ms, &line[m.end()..])
    } else if options.is_empty() && line.matches(".waitFor()").count() == 1 {
        line.replacen(
            ".waitFor()",
            &format!(".waitFor({{ timeout: {new_ms} }})"),
            1,
        )
    } else {
        out.notes.push(format!("recipe playwright-timeout: {file}:{line_no} has no single wait with an explicit timeout; nothing done"));
        return;
    };
    let ln = u32::try_from(line_no).unwrap_or(u32::MAX);
    out.instructions.push(Instruction {
        summary: clip_summary(
            &format!(
                "Raise the locator wait timeout at {file}:{line_no} from {expired} ms to {new_ms} ms (policy cap {cap} ms): the log says the wait timed out ({}).",
                quote_evidence(&lines[pos])
            ),
        ),
        source: Some("recipe:playwright-timeout".into()),
        edits: vec![Edit::ReplaceLines {
            path: file,
            start_line: ln,
            end_line: ln,
            expected: line.to_string(),
            replacement: new_line,
        }],
    });
}
