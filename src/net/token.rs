//! Bearer tokens: never printed, compared in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A bearer token (`AGENT_TOKEN`, `DEVELOPER_AGENT_TOKEN`). `Debug` and `Display` print `***`;
/// only [`Token::expose`] gives the text, for the `Authorization` header.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// A token from its text, trimmed. `None` when empty or when it holds characters that are
    /// not visible ASCII (it could not travel in a header).
    pub fn new(text: &str) -> Option<Token> {
        let t = text.trim();
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        Some(Token(t.to_string()))
    }

    /// Reads an environment variable as a token; `None` when unset, empty or invalid.
    pub fn from_env(var: &str) -> Option<Token> {
        std::env::var(var).ok().and_then(|v| Token::new(&v))
    }

    /// The token text, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when `presented` equals this token. Both are hashed with SHA-256 first and the
    /// digests compared in constant time, so neither the content nor the length leaks
    /// through timing.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let a = Sha256::digest(self.0.as_bytes());
        let b = Sha256::digest(presented);
        a.as_slice().ct_eq(b.as_slice()).into()
    }

    /// True when an `Authorization` header value is `Bearer <this token>` (scheme
    /// case-insensitive).
    pub fn matches_bearer(&self, header: Option<&[u8]>) -> bool {
        let Some(h) = header else { return false };
        if h.len() < 7 || !h[..7].eq_ignore_ascii_case(b"bearer ") {
            return false;
        }
        self.matches(h[7..].trim_ascii())
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_print() {
        let t = Token::new("s3cr3t-value").expect("token");
        assert_eq!(format!("{t}"), "***");
        assert!(!format!("{t:?}").contains("s3cr3t"));
        assert_eq!(t.expose(), "s3cr3t-value");
    }

    #[test]
    fn comparison_and_bearer_parsing() {
        let t = Token::new("abc").expect("token");
        assert!(t.matches(b"abc"));
        assert!(!t.matches(b"abd"));
        assert!(!t.matches(b"abcd"));
        assert!(t.matches_bearer(Some(b"Bearer abc")));
        assert!(t.matches_bearer(Some(b"bearer abc ")));
        assert!(!t.matches_bearer(Some(b"Basic abc")));
        assert!(!t.matches_bearer(Some(b"Bearer")));
        assert!(!t.matches_bearer(None));
        assert!(Token::new("  ").is_none());
        assert!(Token::new("a\nb").is_none());
    }
}
