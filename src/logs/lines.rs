//! Reading a log stream as lines, in big chunks, with bounded memory: the one read loop behind
//! the scanner and the baseline.
//!
//! [`LineReader`] fills a buffer of [`BUF_CAP`] bytes in reads of at most [`READ_CHUNK`] bytes,
//! guesses the log's format from at least the first 64 KiB (or the whole stream when shorter),
//! and hands out [`Piece`]s: runs of complete lines (so a caller can search many lines at once),
//! the head of a line longer than [`MAX_LINE`] (the rest of that line is skipped), and a last
//! line without a newline. Line numbers are the caller's to count: every `\n` of a
//! [`Piece::Lines`] ends one line, and the other pieces are one line each.

use std::io::{ErrorKind, Read};

use crate::artifact::LogFormat;
use crate::logs::format::detect_format;

/// Size of the read buffer in bytes.
pub const BUF_CAP: usize = 4 << 20;
/// The most bytes asked of one `read` call: small enough that the freshly read bytes are still
/// in the CPU's L2 cache when they are hashed and scanned (measured: 256 KiB reads make the
/// read + SHA-256 + scan pass about 10 % faster than 4 MiB reads on the bench machine).
pub const READ_CHUNK: usize = 256 << 10;
/// The longest line examined, in bytes; the rest of a longer line is skipped (still counted).
pub const MAX_LINE: usize = 64 << 10;
/// Bytes read before the format is guessed (unless the stream is shorter).
const DETECT_BYTES: usize = 64 << 10;

/// One `read` call, retried when it is interrupted (`ErrorKind::Interrupted`).
///
/// Returns the number of bytes read, 0 at the end of the stream (or for an empty `out`).
/// Errors: any other I/O error of `r`.
pub fn read_some<R: Read + ?Sized>(r: &mut R, out: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match r.read(out) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The end of a stream, from [`read_last_bytes`].
#[derive(Debug)]
pub struct StreamTail {
    /// The last bytes read (at most the `keep` asked for).
    pub bytes: Vec<u8>,
    /// Bytes read in all.
    pub total: u64,
    /// `\n` bytes in what was dropped before [`StreamTail::bytes`].
    pub newlines_before: u64,
    /// The byte just before [`StreamTail::bytes`], when something was dropped (says whether
    /// `bytes` starts a line).
    pub byte_before: Option<u8>,
    /// The read error that ended the stream early, if any; what was read before it is kept.
    pub error: Option<std::io::Error>,
}

/// Reads `r` to its end (or its first error) keeping only its last `keep` bytes: memory stays
/// under `2 × keep` + 64 KiB bytes whatever the stream's length.
pub fn read_last_bytes<R: Read + ?Sized>(r: &mut R, keep: usize) -> StreamTail {
    let mut t = StreamTail {
        bytes: Vec::new(),
        total: 0,
        newlines_before: 0,
        byte_before: None,
        error: None,
    };
    let mut chunk = vec![0u8; 64 << 10];
    let drop_front = |t: &mut StreamTail| {
        let cut = t.bytes.len().saturating_sub(keep);
        if cut > 0 {
            t.newlines_before += memchr::memchr_iter(b'\n', &t.bytes[..cut]).count() as u64;
            t.byte_before = Some(t.bytes[cut - 1]);
            t.bytes.drain(..cut);
        }
    };
    loop {
        match read_some(r, &mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                t.total += n as u64;
                t.bytes.extend_from_slice(&chunk[..n]);
            }
            Err(e) => {
                t.error = Some(e);
                break;
            }
        }
        if t.bytes.len() >= keep.saturating_mul(2).max(chunk.len()) {
            drop_front(&mut t);
        }
    }
    drop_front(&mut t);
    t
}

/// The head of a raw line that is looked at: its first [`MAX_LINE`] bytes, cut before a token
/// the cut would split ([`crate::text::token_safe_prefix`]; the text may reach an artifact).
pub fn line_head(raw: &[u8]) -> &[u8] {
    crate::text::token_safe_prefix(raw, MAX_LINE)
}

/// A part of the stream, as byte offsets into [`LineReader::buf`] (valid until the next call
/// of [`LineReader::next_piece`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    /// Complete lines: `buf[start..end]`, each ending with `\n` (the last byte is one). Lines
    /// that start at or after `floor` are also in the buffer before `start`, for look-back.
    Lines {
        /// First byte of the first line.
        start: usize,
        /// One past the last `\n`.
        end: usize,
        /// The earliest line start before `start` that is still in the buffer.
        floor: usize,
    },
    /// The head of a line longer than [`MAX_LINE`]: `buf[start..end]` holds its first
    /// `MAX_LINE + 1` bytes (one more than is looked at, so that [`line_head`] sees whether
    /// its cut splits a token). The rest of the line is skipped. No look-back.
    LongHead {
        /// First byte of the line.
        start: usize,
        /// One past the last byte given.
        end: usize,
    },
    /// The last line, without a newline: `buf[start..end]`, with look-back to `floor`.
    Last {
        /// First byte of the line.
        start: usize,
        /// End of the stream.
        end: usize,
        /// As for [`Piece::Lines`].
        floor: usize,
    },
}

/// Streams a log as [`Piece`]s (see the module docs). Memory: [`BUF_CAP`] bytes.
#[derive(Debug)]
pub struct LineReader<R> {
    r: R,
    buf: Vec<u8>,
    /// Bytes of `buf` in use.
    len: usize,
    /// First byte not yet handed out.
    pos: usize,
    /// Lines starting before this offset are gone (see [`Piece::Lines`]).
    floor: usize,
    /// Bytes of complete lines kept before `pos` when the buffer is compacted.
    history: usize,
    /// Inside an over-long line whose head was handed out.
    skipping: bool,
    eof: bool,
    total: u64,
    format: LogFormat,
}

impl<R: Read> LineReader<R> {
    /// Starts reading `r`: reads at least 64 KiB (or to the end) and guesses the format from
    /// the first 50 lines. `history` is how many bytes of complete lines before the current
    /// position stay available for look-back (at most a quarter of [`BUF_CAP`]).
    ///
    /// Errors: a read error of `r`.
    pub fn new(r: R, history: usize) -> std::io::Result<LineReader<R>> {
        let mut lr = LineReader {
            r,
            buf: vec![0u8; BUF_CAP],
            len: 0,
            pos: 0,
            floor: 0,
            history: history.min(BUF_CAP / 4),
            skipping: false,
            eof: false,
            total: 0,
            format: LogFormat::Plain,
        };
        while lr.len < DETECT_BYTES && !lr.eof {
            lr.fill()?;
        }
        lr.format = detect_format(lr.buf[..lr.len].split(|b| *b == b'\n').take(50));
        Ok(lr)
    }

    /// The format guessed from the first lines.
    pub fn format(&self) -> LogFormat {
        self.format
    }

    /// Bytes read from the stream so far (all of them once [`LineReader::next_piece`] has
    /// returned `None`).
    pub fn bytes(&self) -> u64 {
        self.total
    }

    /// The buffer the pieces point into.
    pub fn buf(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The next piece, or `None` at the end of the stream.
    ///
    /// Errors: a read error of `r` (the pieces handed out before it are still valid lines).
    pub fn next_piece(&mut self) -> std::io::Result<Option<Piece>> {
        loop {
            if self.skipping {
                match memchr::memchr(b'\n', &self.buf[self.pos..self.len]) {
                    Some(i) => {
                        self.pos += i + 1;
                        self.skipping = false;
                        self.floor = self.pos;
                    }
                    None => self.pos = self.len,
                }
            }
            if !self.skipping {
                let (pos, len) = (self.pos, self.len);
                if let Some(last) = memchr::memrchr(b'\n', &self.buf[pos..len]) {
                    let end = pos + last + 1;
                    self.pos = end;
                    return Ok(Some(Piece::Lines {
                        start: pos,
                        end,
                        floor: self.floor,
                    }));
                }
                if len - pos > MAX_LINE {
                    self.pos += MAX_LINE;
                    self.skipping = true;
                    return Ok(Some(Piece::LongHead {
                        start: pos,
                        end: pos + MAX_LINE + 1,
                    }));
                }
            }
            if self.eof {
                if !self.skipping && self.pos < self.len {
                    let start = self.pos;
                    self.pos = self.len;
                    return Ok(Some(Piece::Last {
                        start,
                        end: self.len,
                        floor: self.floor,
                    }));
                }
                return Ok(None);
            }
            self.compact();
            self.fill()?;
        }
    }

    /// Moves the partial line (and up to `history` bytes of whole lines before it) to the
    /// front when the buffer is full or half consumed.
    fn compact(&mut self) {
        if self.len < self.buf.len() && self.pos <= BUF_CAP / 2 {
            return;
        }
        let keep_from = if self.skipping {
            self.pos
        } else {
            let h = self.pos.saturating_sub(self.history).max(self.floor);
            if h == self.floor {
                h
            } else {
                // History starts at a line start.
                memchr::memchr(b'\n', &self.buf[h..self.pos]).map_or(self.pos, |i| h + i + 1)
            }
        };
        self.buf.copy_within(keep_from..self.len, 0);
        self.len -= keep_from;
        self.pos -= keep_from;
        self.floor = self.floor.saturating_sub(keep_from);
    }

    /// One read of at most [`READ_CHUNK`] bytes into the free space.
    fn fill(&mut self) -> std::io::Result<()> {
        let to = (self.len + READ_CHUNK).min(self.buf.len());
        let n = read_some(&mut self.r, &mut self.buf[self.len..to])?;
        if n == 0 {
            self.eof = true;
        }
        self.len += n;
        self.total += n as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_bytes_of_a_stream_with_what_came_before() {
        let text: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        for keep in [0usize, 1, 7, 65_536, 300_000, text.len(), text.len() + 5] {
            let t = read_last_bytes(&mut text.as_slice(), keep);
            let start = text.len().saturating_sub(keep);
            assert_eq!(t.bytes, &text[start..], "keep {keep}");
            assert_eq!(t.total, text.len() as u64);
            let nl = memchr::memchr_iter(b'\n', &text[..start]).count() as u64;
            assert_eq!(t.newlines_before, nl, "keep {keep}");
            assert_eq!(t.byte_before, start.checked_sub(1).map(|i| text[i]));
            assert!(t.error.is_none());
        }
    }

    /// Every line the pieces describe, with the over-long ones cut to their head.
    fn lines_of(bytes: &[u8]) -> (Vec<Vec<u8>>, u64) {
        let mut lr = LineReader::new(bytes, 0).expect("reads");
        let mut out = Vec::new();
        while let Some(p) = lr.next_piece().expect("reads") {
            let buf = lr.buf();
            match p {
                Piece::Lines { start, end, .. } => out.extend(
                    buf[start..end - 1]
                        .split(|b| *b == b'\n')
                        .map(|l| line_head(l).to_vec()),
                ),
                Piece::LongHead { start, end } | Piece::Last { start, end, .. } => {
                    out.push(line_head(&buf[start..end]).to_vec())
                }
            }
        }
        (out, lr.bytes())
    }

    #[test]
    fn pieces_cover_every_line_once() {
        let (lines, total) = lines_of(b"a\n\nb\nlast");
        assert_eq!(lines, [&b"a"[..], b"", b"b", b"last"]);
        assert_eq!(total, 9);
        let (lines, _) = lines_of(b"");
        assert!(lines.is_empty());
    }

    #[test]
    fn long_lines_are_cut_and_chunk_boundaries_do_not_matter() {
        let long = "y ".repeat(MAX_LINE); // 2 * MAX_LINE bytes
        let mut text = String::new();
        for i in 0..40_000 {
            text.push_str(&format!("line {i}\n"));
            if i == 30_000 {
                text.push_str(&long);
                text.push('\n');
            }
        }
        text.push_str(&long);
        let (lines, total) = lines_of(text.as_bytes());
        assert_eq!(total, text.len() as u64);
        assert_eq!(lines.len(), 40_002);
        assert_eq!(lines[30_001].len(), MAX_LINE);
        assert_eq!(lines[30_002], b"line 30001");
        assert_eq!(lines[40_001].len(), MAX_LINE);
    }

    #[test]
    fn interrupted_reads_are_retried() {
        struct Flaky(bool, &'static [u8]);
        impl Read for Flaky {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                self.0 = !self.0;
                if self.0 {
                    return Err(ErrorKind::Interrupted.into());
                }
                let n = self.1.len().min(out.len()).min(3);
                out[..n].copy_from_slice(&self.1[..n]);
                self.1 = &self.1[n..];
                Ok(n)
            }
        }
        let mut lr = LineReader::new(Flaky(false, b"one\ntwo\n"), 0).expect("reads");
        assert_eq!(
            lr.next_piece().expect("reads"),
            Some(Piece::Lines {
                start: 0,
                end: 8,
                floor: 0
            })
        );
        assert_eq!(lr.next_piece().expect("reads"), None);
    }
}
