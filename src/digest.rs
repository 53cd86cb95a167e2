//! Digests and commit ids: lowercase hex, SHA-256 of bytes, and the check that a string is a
//! git commit id. Shared by the scanner (the log's digest), the fix code (patch digests, the
//! patch's base commit) and the GitHub client (shas in URLs), so none of them reaches into
//! another for it.

use sha2::{Digest, Sha256};

/// `bytes` as lowercase hex, two digits per byte (a digest's usual spelling).
pub fn lower_hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Lowercase hex SHA-256 of `bytes` (64 characters).
pub fn sha256_hex(bytes: &[u8]) -> String {
    lower_hex(&Sha256::digest(bytes))
}

/// Whether `sha` is a git commit id: exactly 40 (SHA-1) or 64 (SHA-256) hex digits, either
/// case, nothing around them, so it can go into a URL or a git command line.
pub fn is_commit_sha(sha: &str) -> bool {
    (sha.len() == 40 || sha.len() == 64) && sha.bytes().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_sha256() {
        assert_eq!(lower_hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(lower_hex(&[]), "");
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn commit_ids() {
        assert!(is_commit_sha(&"a".repeat(40)));
        assert!(is_commit_sha(&"A".repeat(64)));
        for bad in [
            "",
            "abc",
            &"a".repeat(41),
            &format!("{} ", "a".repeat(40)),
            &"g".repeat(40),
        ] {
            assert!(!is_commit_sha(bad), "{bad:?}");
        }
    }
}
