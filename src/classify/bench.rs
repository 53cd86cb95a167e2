//! Cost of each part of a scan, measured alone on one file (for `ci-remedy-bench
//! --components`): what bounds the throughput of [`super::analyze`].
//!
//! Every part reads the whole file again in the scanner's read size, so run it on a file that
//! is in the page cache (the bench warms it first).

use std::fs::File;
use std::path::Path;
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::RulePack;
use crate::logs::lines::{read_some, READ_CHUNK};

/// One measured part.
#[derive(Debug, Clone)]
pub struct Component {
    /// What was timed (`read`, `read + sha256`, …).
    pub name: &'static str,
    /// Wall time of the pass over the whole file, in seconds.
    pub secs: f64,
    /// A count the pass produced (lines, candidate lines; 0 when none), so that the work
    /// cannot be optimised away and can be compared with a full scan.
    pub count: u64,
}

/// Times, over the file at `path`: a plain read pass (in [`READ_CHUNK`]
/// reads), read + SHA-256, read + newline count, and read + the rule pack's keyword prefilter
/// (candidate lines, found by the same lane walk as the scanner; a line cut by a read
/// boundary is not looked at, so the count can be a little lower than the scanner's).
///
/// Errors: the file cannot be opened or read.
pub fn components(path: &Path, pack: &RulePack) -> std::io::Result<Vec<Component>> {
    let pf = pack.compiled.prefilter.as_ref();
    let mut out = Vec::new();
    out.push(pass(path, "read", |_| 0)?);
    let mut h = Sha256::new();
    let mut c = pass(path, "read + sha256", |b| {
        h.update(b);
        0
    })?;
    c.count = u64::from(h.finalize()[0]);
    out.push(c);
    out.push(pass(path, "read + newline count", |b| {
        memchr::memchr_iter(b'\n', b).count() as u64
    })?);
    if let Some(pf) = pf {
        let mut hits = Vec::new();
        out.push(pass(path, "read + keyword prefilter", |b| {
            // Whole lines only, as the scanner passes them.
            let end = memchr::memrchr(b'\n', b).map_or(0, |i| i + 1);
            hits.clear();
            pf.line_hits(&b[..end], &mut hits);
            hits.len() as u64
        })?);
    }
    Ok(out)
}

fn pass(
    path: &Path,
    name: &'static str,
    mut f: impl FnMut(&[u8]) -> u64,
) -> std::io::Result<Component> {
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; READ_CHUNK];
    let mut count = 0u64;
    let t = Instant::now();
    loop {
        let n = read_some(&mut file, &mut buf)?;
        if n == 0 {
            break;
        }
        count += f(&buf[..n]);
    }
    Ok(Component {
        name,
        secs: t.elapsed().as_secs_f64(),
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_count_lines_and_candidates_of_a_small_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a.log");
        std::fs::write(&p, "ok\nnpm ERR! code ECONNRESET\nfine\nerror: x\n").expect("write");
        let pack = RulePack::builtin().expect("builtin");
        let c = components(&p, &pack).expect("measures");
        let by = |n: &str| c.iter().find(|x| x.name == n).map(|x| x.count);
        assert_eq!(by("read + newline count"), Some(4));
        assert_eq!(by("read + keyword prefilter"), Some(2));
        assert!(c.iter().all(|x| x.secs >= 0.0));
    }
}
