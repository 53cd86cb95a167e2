//! Finding and reading CI logs.
//!
//! - [`source`]: `--log` specs (file, directory, glob, GitHub log zip) to [`source::LogSource`]s
//!   that open as streams.
//! - [`format`]: per-line cleaning (GitHub timestamps, `gh run view` prefixes, ANSI codes) that
//!   keeps original line numbers.
//! - [`redact`]: secret redaction that keeps line structure.

pub mod format;
pub mod redact;
pub mod source;
