//! Reading a log stream as lines, in big chunks, with bounded memory: the one read loop behind
//! the scanner and the baseline.
//!
//! [`LineReader`] takes the stream as [`Chunks`] (reads of at most [`READ_CHUNK`] bytes, on
//! this thread or read ahead on another), keeps the chunk's bytes where they were read (only a
//! partial line and some look-back history are copied from one chunk to the next), guesses the
//! log's format from at least the first 64 KiB (or the whole stream when shorter), and hands
//! out [`Piece`]s: runs of complete lines (so a caller can search many lines at once), the head
//! of a line longer than [`MAX_LINE`] (the rest of that line is skipped), and a last line
//! without a newline. Line numbers are the caller's to count: every `\n` of a
//! [`Piece::Lines`] ends one line, and the other pieces are one line each.

use std::io::{ErrorKind, Read};

use crate::artifact::LogFormat;
use crate::logs::format::detect_format;

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

/// Streams a log as [`Piece`]s (see the module docs). Memory: the current chunk plus what is
/// carried over from the previous one (at most [`CHUNK_ROOM`] bytes, copied into the new
/// chunk's room; the new bytes themselves are never copied).
#[derive(Debug)]
pub struct LineReader<C> {
    chunks: C,
    /// The current chunk; offsets below are into it. Bytes before `floor` are not the stream's.
    buf: Vec<u8>,
    /// First byte not yet handed out.
    pos: usize,
    /// Lines starting before this offset are gone (see [`Piece::Lines`]).
    floor: usize,
    /// Bytes of complete lines kept before `pos` when the next chunk comes.
    history: usize,
    /// Inside an over-long line whose head was handed out.
    skipping: bool,
    eof: bool,
    total: u64,
    format: LogFormat,
}

impl<R: Read> LineReader<ReadChunks<R>> {
    /// A reader of `r` on this thread ([`ReadChunks`]); see [`LineReader::new`].
    ///
    /// Errors: a read error of `r`.
    pub fn from_read(r: R, history: usize) -> std::io::Result<LineReader<ReadChunks<R>>> {
        LineReader::new(ReadChunks::new(r), history)
    }
}

impl<C: Chunks> LineReader<C> {
    /// Starts reading `chunks`: reads at least 64 KiB (or to the end) and guesses the format
    /// from the first 50 lines. `history` is how many bytes of complete lines before the
    /// current position stay available for look-back (at most [`MAX_HISTORY`]).
    ///
    /// Errors: a read error of the stream.
    pub fn new(chunks: C, history: usize) -> std::io::Result<LineReader<C>> {
        let mut lr = LineReader {
            chunks,
            buf: Vec::new(),
            pos: 0,
            floor: 0,
            history: history.min(MAX_HISTORY),
            skipping: false,
            eof: false,
            total: 0,
            format: LogFormat::Plain,
        };
        // Nothing is handed out yet: the stream's bytes so far are `buf[pos..]`.
        while lr.buf.len() - lr.pos < DETECT_BYTES && !lr.eof {
            lr.fill()?;
        }
        lr.format = detect_format(lr.buf[lr.pos..].split(|b| *b == b'\n').take(50));
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
        &self.buf
    }

    /// The next piece, or `None` at the end of the stream.
    ///
    /// Errors: a read error of the stream (the pieces handed out before it are still valid
    /// lines).
    pub fn next_piece(&mut self) -> std::io::Result<Option<Piece>> {
        loop {
            let len = self.buf.len();
            if self.skipping {
                match memchr::memchr(b'\n', &self.buf[self.pos..]) {
                    Some(i) => {
                        self.pos += i + 1;
                        self.skipping = false;
                        self.floor = self.pos;
                    }
                    None => self.pos = len,
                }
            }
            if !self.skipping {
                let pos = self.pos;
                if let Some(last) = memchr::memrchr(b'\n', &self.buf[pos..]) {
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
                if !self.skipping && self.pos < len {
                    let start = self.pos;
                    self.pos = len;
                    return Ok(Some(Piece::Last {
                        start,
                        end: len,
                        floor: self.floor,
                    }));
                }
                return Ok(None);
            }
            self.fill()?;
        }
    }

    /// Where the bytes carried over to the next chunk start: the partial line at `pos`, and
    /// up to `history` bytes of whole lines before it (none while skipping an over-long line).
    fn keep_from(&self) -> usize {
        if self.skipping {
            return self.pos;
        }
        let h = self.pos.saturating_sub(self.history).max(self.floor);
        if h == self.floor {
            h
        } else {
            // History starts at a line start.
            memchr::memchr(b'\n', &self.buf[h..self.pos]).map_or(self.pos, |i| h + i + 1)
        }
    }

    /// Takes the next chunk and makes it the buffer, with the carried-over bytes copied into
    /// its room (or, when they do not fit there, appends the chunk's bytes to the buffer).
    fn fill(&mut self) -> std::io::Result<()> {
        let Some(chunk) = self.chunks.next_chunk()? else {
            self.eof = true;
            return Ok(());
        };
        let Chunk { buf: mut next, at } = chunk;
        let at = at.min(next.len());
        self.total += (next.len() - at) as u64;
        let keep_from = self.keep_from();
        let kept = self.buf.len() - keep_from;
        let base = if kept <= at {
            let base = at - kept;
            next[base..at].copy_from_slice(&self.buf[keep_from..]);
            let done = std::mem::replace(&mut self.buf, next);
            if done.capacity() > 0 {
                self.chunks.recycle(done);
            }
            base
        } else {
            self.buf.drain(..keep_from);
            self.buf.extend_from_slice(&next[at..]);
            self.chunks.recycle(next);
            0
        };
        // Offsets at or after `keep_from` move to `base`; `floor` is never below `keep_from`.
        self.pos = self.pos - keep_from + base;
        self.floor = self.floor.max(keep_from) - keep_from + base;
        Ok(())
    }
}

/// The stream, chunk by chunk, as a [`LineReader`] takes it: [`ReadChunks`] for any
/// [`Read`], or a reader that reads ahead on another thread.
pub trait Chunks {
    /// The stream's next bytes, or `None` at its end. A chunk may be empty.
    ///
    /// Errors: the stream's read error (the chunks handed out before it stay valid).
    fn next_chunk(&mut self) -> std::io::Result<Option<Chunk>>;

    /// Gives back the buffer of a chunk that is done with, for reuse (it may be dropped).
    fn recycle(&mut self, buf: Vec<u8>);
}

impl<C: Chunks + ?Sized> Chunks for &mut C {
    fn next_chunk(&mut self) -> std::io::Result<Option<Chunk>> {
        (**self).next_chunk()
    }

    fn recycle(&mut self, buf: Vec<u8>) {
        (**self).recycle(buf)
    }
}

/// Bytes of the stream in a buffer with free room in front of them: `buf[at..]` are the bytes,
/// `buf[..at]` is room (any content) where a [`LineReader`] puts the bytes it carries over from
/// the previous chunk, so the new bytes are never copied.
#[derive(Debug)]
pub struct Chunk {
    /// The room and the bytes.
    pub buf: Vec<u8>,
    /// Where the bytes start (0-based); [`CHUNK_ROOM`] for chunks from [`read_chunk`].
    pub at: usize,
}

/// The most bytes of whole lines a [`LineReader`] keeps before the current position for
/// look-back.
pub const MAX_HISTORY: usize = 64 << 10;
/// Room in front of the bytes of a chunk from [`read_chunk`]: what a [`LineReader`] carries
/// from one chunk to the next fits (at most [`MAX_HISTORY`] bytes of history and a partial
/// line of at most [`MAX_LINE`] bytes).
pub const CHUNK_ROOM: usize = MAX_HISTORY + MAX_LINE + 1;

/// Reads the next chunk of `r` into `buf` (resized to [`CHUNK_ROOM`] + [`READ_CHUNK`] bytes):
/// one [`read_some`] of at most [`READ_CHUNK`] bytes after [`CHUNK_ROOM`] bytes of room.
/// Returns `None` at the end of the stream.
///
/// Errors: a read error of `r` (other than `Interrupted`, which is retried).
pub fn read_chunk<R: Read + ?Sized>(r: &mut R, mut buf: Vec<u8>) -> std::io::Result<Option<Chunk>> {
    buf.resize(CHUNK_ROOM + READ_CHUNK, 0);
    let n = read_some(r, &mut buf[CHUNK_ROOM..])?;
    if n == 0 {
        return Ok(None);
    }
    buf.truncate(CHUNK_ROOM + n);
    Ok(Some(Chunk {
        buf,
        at: CHUNK_ROOM,
    }))
}

/// Any [`Read`] as [`Chunks`] ([`read_chunk`] calls, on this thread, reusing one spare buffer).
#[derive(Debug)]
pub struct ReadChunks<R> {
    r: R,
    spare: Vec<u8>,
}

impl<R: Read> ReadChunks<R> {
    /// Wraps `r`.
    pub fn new(r: R) -> ReadChunks<R> {
        ReadChunks {
            r,
            spare: Vec::new(),
        }
    }
}

impl<R: Read> Chunks for ReadChunks<R> {
    fn next_chunk(&mut self) -> std::io::Result<Option<Chunk>> {
        read_chunk(&mut self.r, std::mem::take(&mut self.spare))
    }

    fn recycle(&mut self, buf: Vec<u8>) {
        if buf.capacity() > self.spare.capacity() {
            self.spare = buf;
        }
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
        let mut lr = LineReader::from_read(bytes, 0).expect("reads");
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
        let mut lr = LineReader::from_read(Flaky(false, b"one\ntwo\n"), 0).expect("reads");
        match lr.next_piece().expect("reads") {
            Some(Piece::Lines { start, end, floor }) => {
                assert_eq!(&lr.buf()[start..end], b"one\ntwo\n");
                assert_eq!(floor, start);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(lr.next_piece().expect("reads"), None);
        assert_eq!(lr.bytes(), 8);
    }

    /// Chunks of given sizes, with little or no room in front, from a byte string.
    struct Given<'a> {
        text: &'a [u8],
        sizes: Vec<usize>,
        room: usize,
        recycled: usize,
    }

    impl Chunks for Given<'_> {
        fn next_chunk(&mut self) -> std::io::Result<Option<Chunk>> {
            if self.text.is_empty() {
                return Ok(None);
            }
            let n = self.sizes[self.recycled % self.sizes.len()].min(self.text.len());
            let mut buf = vec![b'#'; self.room];
            buf.extend_from_slice(&self.text[..n]);
            self.text = &self.text[n..];
            Ok(Some(Chunk { buf, at: self.room }))
        }

        fn recycle(&mut self, _buf: Vec<u8>) {
            self.recycled += 1;
        }
    }

    #[test]
    fn look_back_history_survives_chunks_with_and_without_room() {
        let text: Vec<u8> = (0..30_000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        // Room enough for what is carried over (the chunk is used in place), and none (the
        // chunk is appended); chunk sizes that cut lines anywhere, empty chunks included.
        for room in [CHUNK_ROOM, 0, 5] {
            let chunks = Given {
                text: &text,
                sizes: vec![1, 4096, 0, 777, 100_000, 13],
                room,
                recycled: 0,
            };
            let mut lr = LineReader::new(chunks, 200).expect("reads");
            let mut seen = Vec::new();
            while let Some(p) = lr.next_piece().expect("reads") {
                let Piece::Lines { start, end, floor } = p else {
                    panic!("only whole lines: {p:?}");
                };
                let buf = lr.buf();
                // What lies before `start`, down to `floor`, is the stream's own bytes: the
                // end of what was handed out, whole lines, at least the history asked for
                // (or all of it).
                assert!(floor <= start);
                let back = &buf[floor..start];
                assert!(seen.ends_with(back), "room {room}");
                let cut = seen.len() - back.len();
                assert!(cut == 0 || seen[cut - 1] == b'\n', "room {room}");
                // Lines are at most 11 bytes: history starts at the first line start after
                // `pos - 200`.
                assert!(back.len() + 11 >= 200.min(seen.len()), "room {room}");
                seen.extend_from_slice(&buf[start..end]);
            }
            assert_eq!(seen, text, "room {room}");
            assert_eq!(lr.bytes(), text.len() as u64);
        }
    }

    /// Lines of `text` as a plain split would give them, each cut to its head.
    fn expected_lines(text: &[u8]) -> Vec<Vec<u8>> {
        if text.is_empty() {
            return Vec::new();
        }
        let body = text.strip_suffix(b"\n").unwrap_or(text);
        body.split(|b| *b == b'\n')
            .map(|l| line_head(l).to_vec())
            .collect()
    }

    /// Every line the pieces describe (heads of over-long lines), for any chunking.
    fn lines_in_chunks(
        text: &[u8],
        sizes: Vec<usize>,
        room: usize,
        history: usize,
    ) -> (Vec<Vec<u8>>, u64) {
        let chunks = Given {
            text,
            sizes,
            room,
            recycled: 0,
        };
        let mut lr = LineReader::new(chunks, history).expect("reads");
        let mut out = Vec::new();
        while let Some(p) = lr.next_piece().expect("reads") {
            let buf = lr.buf();
            match p {
                Piece::Lines { start, end, floor } => {
                    assert!(floor <= start && start < end && buf[end - 1] == b'\n');
                    out.extend(
                        buf[start..end - 1]
                            .split(|b| *b == b'\n')
                            .map(|l| line_head(l).to_vec()),
                    )
                }
                Piece::LongHead { start, end } => {
                    assert_eq!(end - start, MAX_LINE + 1);
                    out.push(line_head(&buf[start..end]).to_vec())
                }
                Piece::Last { start, end, .. } => {
                    assert!(!buf[start..end].contains(&b'\n'));
                    out.push(line_head(&buf[start..end]).to_vec())
                }
            }
        }
        (out, lr.bytes())
    }

    /// Log-like bytes: short lines, empty lines, CR, invalid UTF-8, and now and then a line
    /// longer than [`MAX_LINE`].
    fn log_bytes() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let line = prop_oneof![
            8 => proptest::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 0..40),
            1 => (MAX_LINE - 2..MAX_LINE + 70).prop_map(|n| vec![b'x'; n]),
            1 => Just(b"\r".to_vec()),
        ];
        (proptest::collection::vec(line, 0..60), any::<bool>()).prop_map(|(lines, end_nl)| {
            let mut out = lines.join(&b'\n');
            if end_nl && !out.is_empty() {
                out.push(b'\n');
            }
            out
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever the bytes and however the stream is cut into chunks (empty ones included,
        /// with and without room in front), the pieces give every line exactly once, in
        /// order, cut to its head, and count every byte.
        #[test]
        fn pieces_are_the_lines_for_any_chunking(
            text in log_bytes(),
            sizes in proptest::collection::vec(0usize..300_000, 1..6),
            room in proptest::sample::select(vec![0usize, 3, CHUNK_ROOM]),
            history in 0usize..4096,
        ) {
            let sizes = if sizes.iter().all(|s| *s == 0) { vec![1] } else { sizes };
            let (lines, total) = lines_in_chunks(&text, sizes, room, history);
            proptest::prop_assert_eq!(total, text.len() as u64);
            proptest::prop_assert_eq!(lines, expected_lines(&text));
        }

        /// The tail of any stream is its last `keep` bytes, with the newlines before counted.
        #[test]
        fn the_tail_is_the_last_bytes(text in log_bytes(), keep in 0usize..200_000) {
            let t = read_last_bytes(&mut text.as_slice(), keep);
            let start = text.len().saturating_sub(keep);
            proptest::prop_assert_eq!(&t.bytes[..], &text[start..]);
            proptest::prop_assert_eq!(t.total, text.len() as u64);
            proptest::prop_assert_eq!(t.newlines_before, memchr::memchr_iter(b'\n', &text[..start]).count() as u64);
        }
    }
}
