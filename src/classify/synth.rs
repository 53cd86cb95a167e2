//! A deterministic GitHub-Actions-style raw log generator, for the benchmark
//! (`ci-remedy-bench`).
//!
//! Every line starts with a runner timestamp (`2024-03-05T10:00:00.1234567Z `). The body is
//! mostly ordinary output (step groups, `npm ci`/Maven download lines, compiler progress,
//! passing tests, some ANSI-coloured lines, a few lines that mention `error` or `fail` without
//! being failures, which the literal prefilter must still look at), with a rare failure block
//! (a Jest assertion, a Java stack trace, an npm network error, a pytest failure) about once
//! every [`FAILURE_EVERY`] lines, and a failing step at the end. The same seed and size give
//! the same bytes.

use std::io::{self, Write};

/// About one failure block per this many lines.
pub const FAILURE_EVERY: u64 = 200_000;

/// splitmix64: small, fast, and stable across versions (unlike a library RNG's stream).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const WORDS: [&str; 24] = [
    "parser", "router", "cache", "session", "billing", "auth", "export", "search", "queue",
    "profile", "upload", "report", "checkout", "invoice", "settings", "users", "orders", "graph",
    "metrics", "notify", "schema", "storage", "tokens", "webhook",
];

const FAILURES: [&str; 4] = [
    "  ● checkout › applies the discount code\n\n    expect(received).toBe(expected) // Object.is equality\n\n    Expected: 90\n    Received: 100\n\n      12 |     const total = applyDiscount(cart, 'SAVE10');\n    > 13 |     expect(total).toBe(90);\n         |                   ^\n\n      at Object.<anonymous> (tests/checkout.test.js:13:19)\n",
    "[ERROR] Tests run: 4, Failures: 0, Errors: 1, Skipped: 0, Time elapsed: 0.2 s <<< FAILURE! - in com.example.OrderServiceTest\n[ERROR] com.example.OrderServiceTest.placesOrder  Time elapsed: 0.05 s  <<< ERROR!\njava.lang.IllegalStateException: inventory client not initialised\n\tat com.example.OrderService.place(OrderService.java:42)\n\tat com.example.OrderServiceTest.placesOrder(OrderServiceTest.java:27)\n",
    "npm ERR! code ECONNRESET\nnpm ERR! network aborted\nnpm ERR! network This is a problem related to network connectivity.\nnpm ERR! network In most cases you are behind a proxy or have bad network settings.\n",
    "____________________________ test_export_csv ____________________________\n\n    def test_export_csv():\n>       assert export('csv') == 'a,b'\nE       AssertionError: assert 'a;b' == 'a,b'\n\ntests/test_export.py:14: AssertionError\n",
];

/// Writes about `size` bytes of log to `out` (whole lines; the last line ends the run with a
/// failing step). Returns (bytes written, lines written).
pub fn generate<W: Write>(out: &mut W, size: u64, seed: u64) -> io::Result<(u64, u64)> {
    let mut rng = Rng(seed);
    let mut bytes = 0u64;
    let mut lines = 0u64;
    let mut clock_us: u64 = 0;
    let mut line = Vec::with_capacity(512);
    let mut body = String::with_capacity(512);
    let mut step = 0u32;
    let tail_reserve = 400u64;
    while bytes + tail_reserve < size {
        body.clear();
        let r = rng.below(10_000);
        let w = WORDS[rng.below(WORDS.len() as u64) as usize];
        let n = rng.below(1000);
        if lines % 50_000 == 0 {
            step += 1;
            body.push_str(&format!("##[group]Run npm run test:{w} -- --shard={step}"));
        } else if r < 3000 {
            body.push_str(&format!(
                "  \u{2713} {w} handles case {n} ({} ms)",
                rng.below(90) + 1
            ));
        } else if r < 4500 {
            body.push_str(&format!(
                "Downloaded from central: https://repo.maven.apache.org/maven2/org/example/{w}/{n}.{}/{w}-{n}.jar ({} kB at {} MB/s)",
                rng.below(9),
                rng.below(900) + 10,
                rng.below(40) + 1
            ));
        } else if r < 6000 {
            body.push_str(&format!(
                "[INFO] Compiling {} source files to /home/runner/work/app/app/{w}/target/classes",
                n + 1
            ));
        } else if r < 7000 {
            body.push_str(&format!(
                "\u{1b}[32mPASS\u{1b}[39m src/{w}/{w}{n}.test.ts (\u{1b}[33m{}.{} s\u{1b}[39m)",
                rng.below(9),
                rng.below(99)
            ));
        } else if r < 8000 {
            body.push_str(&format!(
                "npm http fetch GET 200 https://registry.npmjs.org/@scope%2f{w}-{n} {}ms (cache hit)",
                rng.below(300)
            ));
        } else if r < 8900 {
            body.push_str(&format!(
                "   Compiling {w}-{n} v0.{}.{} ({})",
                rng.below(20),
                rng.below(20),
                "registry+https://github.com/rust-lang/crates.io-index"
            ));
        } else if r < 9900 {
            body.push_str(&format!(
                "{w}: processed {n} records in {} ms, cache {} entries, {} bytes",
                rng.below(5000),
                rng.below(100000),
                rng.below(1 << 30)
            ));
        } else if r < 9990 {
            // Ordinary lines that mention failure words: candidates the regexes must reject.
            body.push_str(&format!(
                "Tests: {n} passed, 0 failed, {n} total; retry on error disabled for {w}"
            ));
        } else {
            body.push_str(&format!("warning: unused variable `{w}_{n}`"));
        }
        if rng.below(FAILURE_EVERY) == 0 {
            body.clear();
            body.push_str(FAILURES[rng.below(FAILURES.len() as u64) as usize]);
            body.pop();
        }
        for text in body.split('\n') {
            line.clear();
            clock_us += rng.below(2000);
            write_timestamp(&mut line, clock_us);
            line.extend_from_slice(text.as_bytes());
            line.push(b'\n');
            out.write_all(&line)?;
            bytes += line.len() as u64;
            lines += 1;
        }
    }
    for text in [
        "Test Suites: 1 failed, 211 passed, 212 total",
        "##[error]Process completed with exit code 1.",
        "Post job cleanup.",
        "Cleaning up orphan processes",
    ] {
        line.clear();
        clock_us += 1000;
        write_timestamp(&mut line, clock_us);
        line.extend_from_slice(text.as_bytes());
        line.push(b'\n');
        out.write_all(&line)?;
        bytes += line.len() as u64;
        lines += 1;
    }
    Ok((bytes, lines))
}

/// `2024-03-05THH:MM:SS.fffffffZ ` for a run-relative clock in microseconds.
fn write_timestamp(out: &mut Vec<u8>, us: u64) {
    let secs = us / 1_000_000;
    let frac = (us % 1_000_000) * 10;
    let (h, m, s) = ((10 + secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    let _ = write!(out, "2024-03-05T{h:02}:{m:02}:{s:02}.{frac:07}Z ");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::format::{detect_format, timestamp_prefix_len};

    #[test]
    fn deterministic_raw_github_log_of_the_requested_size() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        let (bytes, lines) = generate(&mut a, 200_000, 7).expect("writes");
        generate(&mut b, 200_000, 7).expect("writes");
        assert_eq!(a, b);
        assert_eq!(bytes as usize, a.len());
        assert!((199_000..=201_000).contains(&bytes), "{bytes}");
        assert_eq!(lines as usize, a.iter().filter(|c| **c == b'\n').count());
        assert!(a
            .split(|c| *c == b'\n')
            .filter(|l| !l.is_empty())
            .all(|l| timestamp_prefix_len(l).is_some()));
        assert_eq!(
            detect_format(a.split(|c| *c == b'\n').take(50)),
            crate::artifact::LogFormat::RawGithub
        );
        let mut c = Vec::new();
        generate(&mut c, 200_000, 8).expect("writes");
        assert_ne!(a, c);
    }
}
