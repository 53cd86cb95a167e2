//! Path rules for edits: what git itself refuses (`verify_path` in read-cache.c, the NTFS and
//! HFS `.git` aliases, `path_is_beyond_symlink` in apply.c), plus characters that would need
//! quoting in a diff header, and file-system checks on the real working tree.

use std::path::Path;

/// A refused path: a stable code and a one-sentence reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRefusal {
    /// Machine-readable code (`absolute_path`, `path_traversal`, `git_dir` …).
    pub code: &'static str,
    /// Why.
    pub reason: String,
}

fn refuse(code: &'static str, reason: impl Into<String>) -> PathRefusal {
    PathRefusal {
        code,
        reason: reason.into(),
    }
}

/// Longest accepted path in bytes.
pub const MAX_PATH_BYTES: usize = 1024;
/// Longest accepted path component in bytes.
pub const MAX_COMPONENT_BYTES: usize = 255;
/// Deepest accepted path.
pub const MAX_DEPTH: usize = 32;

pub use crate::text::is_invisible_or_bidi;

/// Checks that `path` is a relative, normalised, `/`-separated path inside the repository
/// that git would accept and that cannot alias `.git` on NTFS or HFS+. Returns the path
/// unchanged when it is acceptable.
///
/// Refused: empty, absolute (`/x`), drive (`C:`), backslashes, NUL and control characters,
/// invisible or bidirectional characters, `"`, spaces, `//`, trailing `/`, `.` and `..`
/// components, any `.git` component in any letter case and its aliases (`.git.`, `.git `,
/// `git~1`, `.g\u{200c}it`), `.gitmodules` and `.gitattributes`, Windows device names,
/// components ending in a dot or space, and overlong paths (bytes, component bytes, depth).
pub fn verify_path(path: &str) -> Result<&str, PathRefusal> {
    if path.is_empty() {
        return Err(refuse("invalid_path", "the path is empty"));
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(refuse(
            "invalid_path",
            format!(
                "the path is {} bytes, more than {MAX_PATH_BYTES}",
                path.len()
            ),
        ));
    }
    if path.contains('\0') {
        return Err(refuse("control_character", "the path contains a NUL byte"));
    }
    if path.chars().any(char::is_control) {
        return Err(refuse(
            "control_character",
            "the path contains a control character",
        ));
    }
    if path.chars().any(is_invisible_or_bidi) {
        return Err(refuse(
            "invisible_character",
            "the path contains an invisible or bidirectional character",
        ));
    }
    if path.contains('\\') {
        return Err(refuse(
            "backslash",
            "the path contains a backslash (paths are `/`-separated)",
        ));
    }
    if path.starts_with('/') {
        return Err(refuse("absolute_path", "the path is absolute"));
    }
    let b = path.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return Err(refuse(
            "absolute_path",
            "the path starts with a drive letter",
        ));
    }
    if path.contains(':') {
        return Err(refuse(
            "unusual_character",
            "the path contains `:` (drive letters and NTFS streams)",
        ));
    }
    if path.contains("//") {
        return Err(refuse(
            "invalid_path",
            "the path contains an empty component (`//`)",
        ));
    }
    if path.ends_with('/') {
        return Err(refuse("directory", "the path ends with `/` (a directory)"));
    }
    let components: Vec<&str> = path.split('/').collect();
    if components.len() > MAX_DEPTH {
        return Err(refuse(
            "invalid_path",
            format!("the path is deeper than {MAX_DEPTH} components"),
        ));
    }
    for c in &components {
        check_component(c)?;
    }
    if path.contains('"') || path.contains(' ') {
        return Err(refuse(
            "unusual_character",
            "the path contains a quote or a space, which diff headers would have to quote",
        ));
    }
    Ok(path)
}

fn check_component(c: &str) -> Result<(), PathRefusal> {
    if c == "." || c == ".." {
        return Err(refuse(
            "path_traversal",
            format!("the path has a `{c}` component"),
        ));
    }
    if c.len() > MAX_COMPONENT_BYTES {
        return Err(refuse(
            "invalid_path",
            format!("a component is longer than {MAX_COMPONENT_BYTES} bytes"),
        ));
    }
    // NTFS drops trailing dots and spaces: `.git.` and `.git ` are `.git`.
    let trimmed = c.trim_end_matches(['.', ' ']);
    let lower = trimmed.to_ascii_lowercase();
    if lower == ".git" || lower == "git~1" || lower.starts_with(".git::") {
        return Err(refuse(
            "git_dir",
            format!("the path has a `.git` component or an alias of it ({c:?})"),
        ));
    }
    if lower == ".gitmodules" || lower == "gitmod~1" {
        return Err(refuse(
            "submodule",
            "the path is `.gitmodules` (submodule configuration)",
        ));
    }
    if lower == ".gitattributes" {
        return Err(refuse(
            "git_dir",
            "the path is `.gitattributes`, which changes how git filters and diffs files",
        ));
    }
    if c.ends_with('.') || c.ends_with(' ') {
        return Err(refuse(
            "invalid_path",
            format!("the component {c:?} ends with a dot or a space (NTFS aliases)"),
        ));
    }
    let stem = lower.split('.').next().unwrap_or("");
    let device = matches!(stem, "con" | "prn" | "aux" | "nul")
        || ((stem.starts_with("com") || stem.starts_with("lpt"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit());
    if device {
        return Err(refuse(
            "invalid_path",
            format!("the component {c:?} is a Windows device name"),
        ));
    }
    Ok(())
}

/// What a path is in the real working tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDisk {
    /// Nothing is there.
    Missing,
    /// A regular file with its permission bits (`0o755` when executable, else `0o644`).
    File {
        /// Permission mode as git records it (0o644 or 0o755).
        mode: u32,
        /// Size in bytes.
        bytes: u64,
    },
}

/// Checks the working tree under `repo` for `path` (already [`verify_path`]-ed): no component
/// before the last may be a symlink, a non-directory or a nested repository (a submodule:
/// a directory holding `.git`); the last must be missing or a regular, singly-linked file
/// (not a symlink, directory, device or hard link that could reach outside the repository).
pub fn check_on_disk(repo: &Path, path: &str) -> Result<OnDisk, PathRefusal> {
    let components: Vec<&str> = path.split('/').collect();
    let mut cur = repo.to_path_buf();
    for (i, c) in components.iter().enumerate() {
        cur.push(c);
        let last = i + 1 == components.len();
        let meta = match std::fs::symlink_metadata(&cur) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(OnDisk::Missing),
            Err(e) => {
                return Err(refuse(
                    "io_error",
                    format!("cannot inspect {}: {e}", components[..=i].join("/")),
                ))
            }
        };
        let shown = components[..=i].join("/");
        let ft = meta.file_type();
        if ft.is_symlink() {
            return Err(refuse(
                "symlink",
                format!("`{shown}` is a symbolic link; edits never write through links"),
            ));
        }
        if !last {
            if !ft.is_dir() {
                return Err(refuse(
                    "not_a_directory",
                    format!("`{shown}` is not a directory"),
                ));
            }
            if cur.join(".git").symlink_metadata().is_ok() {
                return Err(refuse(
                    "submodule",
                    format!("`{shown}` is a submodule or nested repository"),
                ));
            }
            continue;
        }
        if ft.is_dir() {
            return Err(refuse("directory", format!("`{shown}` is a directory")));
        }
        if !ft.is_file() {
            return Err(refuse(
                "file_type",
                format!("`{shown}` is not a regular file"),
            ));
        }
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() > 1 {
            return Err(refuse(
                "hard_link",
                format!("`{shown}` has {} hard links; writing it could change a file outside the repository", meta.nlink()),
            ));
        }
        let mode = if meta.mode() & 0o111 != 0 {
            0o755
        } else {
            0o644
        };
        return Ok(OnDisk::File {
            mode,
            bytes: meta.len(),
        });
    }
    Ok(OnDisk::Missing)
}

/// Submodule paths listed in `<repo>/.gitmodules` (`path = …` lines), for refusing edits under
/// a submodule that is not checked out.
pub fn submodule_paths(repo: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(repo.join(".gitmodules")) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix("path")?.trim_start();
            let v = rest.strip_prefix('=')?.trim();
            (!v.is_empty()).then(|| v.trim_end_matches('/').to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_rules() {
        for ok in [
            "src/a.ts",
            "a",
            ".dockerignore",
            ".github/ci-remedy.yml",
            "dir/.gitignore",
            "données/é.txt",
            "x.git/y",
            ".gitx",
        ] {
            assert_eq!(verify_path(ok), Ok(ok), "{ok}");
        }
        for (bad, code) in [
            ("", "invalid_path"),
            ("/etc/passwd", "absolute_path"),
            ("C:/x", "absolute_path"),
            ("c:x", "absolute_path"),
            ("a\\b", "backslash"),
            ("../x", "path_traversal"),
            ("a/../../x", "path_traversal"),
            ("./a", "path_traversal"),
            ("a//b", "invalid_path"),
            ("a/", "directory"),
            (".git/config", "git_dir"),
            (".GIT/hooks/pre-commit", "git_dir"),
            ("sub/.Git/x", "git_dir"),
            (".git./config", "git_dir"),
            (".git /config", "git_dir"),
            ("GIT~1/config", "git_dir"),
            (".g\u{200c}it/config", "invisible_character"),
            (".gitmodules", "submodule"),
            ("a\0b", "control_character"),
            ("a\nb", "control_character"),
            ("a\u{202e}b", "invisible_character"),
            ("a b", "unusual_character"),
            ("a\"b", "unusual_character"),
            ("file.txt:stream", "unusual_character"),
            ("dir./x", "invalid_path"),
            ("nul.txt", "invalid_path"),
            ("COM1", "invalid_path"),
        ] {
            match verify_path(bad) {
                Err(r) => assert_eq!(r.code, code, "{bad:?}: {}", r.reason),
                Ok(_) => panic!("{bad:?} accepted"),
            }
        }
        let long = "a/".repeat(40) + "b";
        assert!(verify_path(&long).is_err());
    }
}
