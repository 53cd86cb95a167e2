//! Markdown for untrusted text (job summaries, PR bodies, comments): GitHub Flavored Markdown
//! (<https://github.github.com/gfm/>) as GitHub renders it. A table cell escapes what could
//! start markup or HTML; a code block or span gets a fence longer than any backtick run inside
//! (so the text cannot close it), and invisible or bidirectional characters are neutralised.

/// Escapes text for one Markdown table cell (or inline text): `|`, HTML specials and
/// backticks are neutralised, control characters and newlines become spaces.
pub fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '`' => out.push_str("&#96;"),
            '*' | '_' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The longest run of backticks in `text` (a fence or code-span delimiter must be longer).
fn longest_backtick_run(text: &str) -> usize {
    let mut longest = 0usize;
    let mut run = 0usize;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

/// A fenced code block around untrusted text: the fence is longer than any run of backticks
/// inside (so the text cannot close it), and invisible or bidirectional-override characters
/// become `?` (so the text cannot hide what it says).
pub fn code_block(text: &str, lang: &str) -> String {
    let longest = longest_backtick_run(text);
    let fence = "`".repeat(longest.max(2) + 1);
    let body: String = text
        .chars()
        .map(|c| {
            if super::is_invisible_or_bidi(c) {
                '?'
            } else {
                c
            }
        })
        .collect();
    format!("{fence}{lang}\n{}\n{fence}\n", body.trim_end_matches('\n'))
}

/// An inline code span around untrusted text, for prose (not for a table cell, where GFM
/// splits on `|` even inside code spans). CommonMark shows a code span's text literally
/// (no entity or backslash decoding), so the text is not escaped: control, invisible and
/// bidirectional-override characters are dropped, the backtick fence is longer than any run
/// of backticks inside (so the text cannot close it), and the text is padded with one space
/// on each side when it starts or ends with a backtick or with a space at both ends (CommonMark
/// strips exactly one such space from each side). Empty text gives a span holding one space.
pub fn code_span(text: &str) -> String {
    let body: String = text
        .chars()
        .filter(|c| !c.is_control() && !super::is_invisible_or_bidi(*c))
        .collect();
    if body.is_empty() {
        return "` `".into();
    }
    let longest = longest_backtick_run(&body);
    let fence = "`".repeat(longest + 1);
    let pad = body.starts_with('`')
        || body.ends_with('`')
        || (body.starts_with(' ') && body.ends_with(' ') && body.chars().any(|c| c != ' '));
    if pad {
        format!("{fence} {body} {fence}")
    } else {
        format!("{fence}{body}{fence}")
    }
}
