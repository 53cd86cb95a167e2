//! Reading a log ahead on a helper thread while its SHA-256 is computed there, and a reader
//! that hashes what passes through it. The scanner ([`crate::classify`]) takes the chunks
//! through [`Chunks`]; the bytes stay in the buffers the thread read them into, and the buffers
//! come back for reuse, so at most [`READ_BUFFERS`] chunks ([`read_chunk`]'s, about
//! [`super::lines::READ_CHUNK`] bytes each) exist at once whatever the log's size.

use std::io::Read;

use sha2::{Digest, Sha256};

use super::lines::{read_chunk, Chunk, Chunks};
use crate::digest::lower_hex;

/// Chunk buffers ([`read_chunk`]'s) the reader thread may have out at once.
pub const READ_BUFFERS: usize = 16;
/// Used buffers go back to the reader thread this many at a time: the thread, once it has
/// none, sleeps until a batch comes, so it is woken once per batch rather than per chunk
/// (waking a thread costs tens of µs on the bench VM).
pub const RETURN_BATCH: usize = READ_BUFFERS / 2;

/// A stream read on a scoped helper thread, which also computes its SHA-256: the scanner
/// takes the chunks as [`Chunks`] (the bytes stay where the thread read them), and their
/// buffers go back to the thread for reuse (at most [`READ_BUFFERS`] exist). A read error
/// reaches the scanner at the point of the stream where it happened.
pub struct ReadAhead<'scope> {
    chunks: std::sync::mpsc::Receiver<std::io::Result<Chunk>>,
    spare: std::sync::mpsc::Sender<Vec<Vec<u8>>>,
    /// Used buffers not yet sent back (fewer than [`RETURN_BATCH`]).
    used: Vec<Vec<u8>>,
    /// The digest (lowercase hex) and the number of bytes read; `None` when a read failed
    /// (the error went to the scanner with the chunks).
    handle: std::thread::ScopedJoinHandle<'scope, Option<(String, u64)>>,
}

impl<'scope> ReadAhead<'scope> {
    /// Starts the thread, which takes the stream out of `slot`. `None` when the thread cannot
    /// be spawned (the stream is then still in `slot`).
    pub fn start<'env, R: Read + Send>(
        sc: &'scope std::thread::Scope<'scope, 'env>,
        slot: &'env std::sync::Mutex<Option<R>>,
    ) -> Option<ReadAhead<'scope>> {
        let (tx, chunks) = std::sync::mpsc::channel::<std::io::Result<Chunk>>();
        let (spare, spare_rx) = std::sync::mpsc::channel::<Vec<Vec<u8>>>();
        let handle = std::thread::Builder::new()
            .name("ci-remedy-read".into())
            .spawn_scoped(sc, move || {
                let Some(mut r) = slot.lock().ok().and_then(|mut s| s.take()) else {
                    let _ = tx.send(Err(std::io::Error::other("the log reader was lost")));
                    return None;
                };
                let mut h = Sha256::new();
                let mut total = 0u64;
                let mut pool: Vec<Vec<u8>> = Vec::new();
                let mut made = 0;
                loop {
                    let buf = match pool.pop() {
                        Some(c) => c,
                        None if made < READ_BUFFERS => {
                            made += 1;
                            Vec::new()
                        }
                        None => match spare_rx.recv() {
                            Ok(batch) => {
                                pool = batch;
                                match pool.pop() {
                                    Some(c) => c,
                                    None => continue,
                                }
                            }
                            Err(_) => break, // the scanner stopped
                        },
                    };
                    match read_chunk(&mut r, buf) {
                        Ok(None) => break,
                        Ok(Some(chunk)) => {
                            let bytes = &chunk.buf[chunk.at..];
                            h.update(bytes);
                            total += bytes.len() as u64;
                            if tx.send(Ok(chunk)).is_err() {
                                break; // the scanner stopped
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return None;
                        }
                    }
                }
                Some((lower_hex(&h.finalize()), total))
            })
            .ok()?;
        Some(ReadAhead {
            chunks,
            spare,
            used: Vec::with_capacity(RETURN_BATCH),
            handle,
        })
    }

    /// Stops the thread. Returns the digest (lowercase hex) and the bytes read. Errors: a read
    /// failed (the scanner got the error itself), or the thread died.
    pub fn finish(self) -> std::io::Result<(String, u64)> {
        let ReadAhead {
            chunks,
            spare,
            handle,
            ..
        } = self;
        drop(chunks);
        drop(spare);
        match handle.join() {
            Ok(Some(done)) => Ok(done),
            Ok(None) => Err(std::io::Error::other("reading the log failed")),
            Err(_) => Err(std::io::Error::other("the read thread stopped early")),
        }
    }
}

impl Chunks for ReadAhead<'_> {
    fn next_chunk(&mut self) -> std::io::Result<Option<Chunk>> {
        match self.chunks.recv() {
            Ok(Ok(chunk)) => Ok(Some(chunk)),
            Ok(Err(e)) => Err(e),
            Err(_) => Ok(None), // the thread finished: end of stream
        }
    }

    fn recycle(&mut self, buf: Vec<u8>) {
        self.used.push(buf);
        if self.used.len() >= RETURN_BATCH {
            // The thread may be gone (end of stream); then the buffers are dropped.
            let _ = self.spare.send(std::mem::take(&mut self.used));
        }
    }
}

/// A reader that feeds every byte it reads to a SHA-256 digest (the inline fallback of
/// [`ReadAhead`], and the dashboard's check that a log is the one the context names).
pub struct HashingReader<'d, R> {
    inner: R,
    digest: &'d mut Sha256,
}

impl<'d, R> HashingReader<'d, R> {
    /// Wraps `inner`; `digest` sees the bytes in the order they are read.
    pub fn new(inner: R, digest: &'d mut Sha256) -> Self {
        HashingReader { inner, digest }
    }
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digest.update(&buf[..n]);
        Ok(n)
    }
}
