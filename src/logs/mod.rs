//! Finding and reading CI logs.
//!
//! - [`source`]: `--log` specs (file, directory, glob, GitHub log zip) to [`source::LogSource`]s
//!   that open as streams.
//! - [`lines`]: the chunked line reader behind the scanner and the baseline (bounded memory,
//!   over-long lines cut to their head), and `read_some`.
//! - [`format`]: per-line cleaning (GitHub timestamps, `gh run view` prefixes, ANSI codes) that
//!   keeps original line numbers.
//! - [`redact`]: secret redaction that keeps line structure.

pub mod format;
pub mod lines;
pub mod location;
pub mod read_ahead;
pub mod redact;
pub mod source;
