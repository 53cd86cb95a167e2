//! Small text helpers shared by every module: cutting text to a byte budget without splitting
//! a character or a credential, lowercase hex, one-line terminal text, and the characters that
//! hide or reorder text. [`markdown`] renders untrusted text for Markdown.

pub mod markdown;

/// True for the bytes a credential token is made of: ASCII letters and digits, `_ + / = . -`
/// (the alphabets of every pattern in [`crate::logs::redact`]: base64, base64url, JWT parts,
/// dotted and dashed ids).
pub fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'/' | b'=' | b'.' | b'-')
}

/// The length of the longest prefix of `bytes` of at most `max` bytes that does not end inside
/// a run of token bytes ([`is_token_byte`]) that goes on past the cut.
///
/// Text is cut to a budget before it is redacted, and a redaction pattern needs the whole
/// token: `ghp_` plus 20 of its 36 characters is not recognised and would survive. So when the
/// cut falls inside a token run, the whole run is dropped (the cut backs off to the run's
/// start, possibly 0). `bytes` shorter than `max` are kept whole.
pub fn token_safe_len(bytes: &[u8], max: usize) -> usize {
    if bytes.len() <= max {
        return bytes.len();
    }
    let mut end = max;
    if is_token_byte(bytes[end]) {
        while end > 0 && is_token_byte(bytes[end - 1]) {
            end -= 1;
        }
    }
    end
}

/// `bytes` cut to at most `max` bytes with [`token_safe_len`].
pub fn token_safe_prefix(bytes: &[u8], max: usize) -> &[u8] {
    &bytes[..token_safe_len(bytes, max)]
}

/// `s` cut to at most `max` bytes at a character boundary, then backed off past a token run
/// the cut would split (see [`token_safe_len`]).
pub fn token_safe_str(s: &str, max: usize) -> &str {
    let cut = truncate_str(s, max);
    if cut.len() == s.len() {
        return s;
    }
    // `cut` ends at a character boundary and token bytes are ASCII, so backing off over them
    // stays on a boundary.
    &s[..token_safe_len(s.as_bytes(), cut.len())]
}

/// The longest prefix of `s` of at most `max` bytes that ends at a character boundary.
pub fn truncate_str(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Collapses text to one line for a terminal or a log: control characters (newlines, escape
/// sequences' ESC, NUL) become spaces.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Characters that are invisible or reorder text: HFS+ ignores some of them in names (so
/// `.g\u{200c}it` is `.git` there) and all of them are Trojan-source material (CVE-2021-42574).
pub fn is_invisible_or_bidi(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{00AD}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_str("héllo", 2), "h");
        assert_eq!(truncate_str("héllo", 3), "hé");
        assert_eq!(truncate_str("abc", 10), "abc");
        assert_eq!(truncate_str("abc", 0), "");
    }

    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {}

    #[test]
    fn a_cut_never_keeps_part_of_a_token() {
        let t = b"auth ghp_abcdefghij0123456789 done";
        // Inside the token: the whole token goes.
        assert_eq!(token_safe_prefix(t, 12), b"auth ");
        // Right after it (a space follows): it stays whole.
        assert_eq!(token_safe_prefix(t, 29), b"auth ghp_abcdefghij0123456789");
        assert_eq!(token_safe_prefix(t, 28), b"auth ");
        // Not cut at all.
        assert_eq!(token_safe_prefix(t, 100), &t[..]);
        // One long token: nothing is left.
        assert_eq!(token_safe_prefix(b"QUJDREVGR0g=", 5), b"");
        assert_eq!(token_safe_str("é ghp_abc", 7), "é ");
        assert_eq!(token_safe_str("éé", 3), "é");
    }
}
