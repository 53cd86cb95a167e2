//! `ci-remedy-bench`: generates a GitHub-Actions-style raw log and measures how fast the
//! evidence scan reads it, and its peak memory.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use ci_remedy::classify::{analyze, synth, AnalyzeOptions, RulePack};
use ci_remedy::cli::{self, exit, print_error, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use ci_remedy::logs::source::resolve;
use clap::Parser;
use nix::sys::resource::{getrusage, UsageWho};

/// Benchmarks failure-evidence extraction on a generated log.
///
/// Writes a deterministic raw GitHub Actions log of --size bytes to a temporary file (mostly
/// ordinary build and test output, a rare failure block, a failing step at the end), then
/// either runs `self-heal-prepare --log FILE --out TMPDIR` (the binary next to this one) as a
/// child process, or with --in-process times the library's `analyze` directly. Prints
/// throughput in MiB/s (file size / wall time of the scan) and peak RSS (getrusage maxrss of
/// the child, or of this process). Build with --release to measure.
#[derive(Parser, Debug)]
#[command(version, after_help = ci_remedy::cli::EXIT_CODES_HELP)]
struct Args {
    /// Log size: bytes, or with a unit (KiB, MiB, GiB, KB, MB, GB).
    #[arg(long, default_value = "1GiB")]
    size: String,
    /// Generator seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Time `analyze` in this process instead of running self-heal-prepare.
    #[arg(long)]
    in_process: bool,
    /// Also time each part alone (read, read + SHA-256, read + newline count, read + keyword
    /// prefilter) over the same file: what bounds the throughput.
    #[arg(long)]
    components: bool,
    /// Benchmark this existing log instead of generating one.
    #[arg(long)]
    log: Option<PathBuf>,
    /// Write the generated log here (kept) instead of a temporary file.
    #[arg(long)]
    output: Option<PathBuf>,
    /// The self-heal-prepare binary (default: next to this executable).
    #[arg(long)]
    prepare: Option<PathBuf>,
}

fn parse_size(s: &str) -> Option<u64> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return None,
    };
    n.checked_mul(mult)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

fn main() -> ExitCode {
    let args: Args = match cli::parse_args() {
        Ok(a) => a,
        Err(code) => return code,
    };
    match run(&args) {
        Ok(()) => exit(EXIT_OK),
        Err(e) => {
            print_error(&e, None);
            exit(EXIT_FAILED)
        }
    }
}

fn run(args: &Args) -> anyhow::Result<()> {
    let Some(size) = parse_size(&args.size) else {
        print_error(
            &format!("invalid --size {:?}", args.size),
            Some("use bytes or a unit: 256MiB, 1GiB"),
        );
        std::process::exit(i32::from(EXIT_USAGE));
    };
    let dir = tempfile::tempdir()?;
    let log_path = match &args.log {
        Some(p) => p.clone(),
        None => {
            let path = args
                .output
                .clone()
                .unwrap_or_else(|| dir.path().join("bench.log"));
            let t = Instant::now();
            let f = std::fs::File::create(&path)?;
            let mut w = BufWriter::with_capacity(1 << 20, f);
            let (bytes, lines) = synth::generate(&mut w, size, args.seed)?;
            w.flush()?;
            ci_remedy::outln!(
                "generated {} ({:.0} MiB, {} lines, seed {}) in {:.2} s",
                path.display(),
                mib(bytes),
                lines,
                args.seed,
                t.elapsed().as_secs_f64()
            );
            path
        }
    };
    let bytes = std::fs::metadata(&log_path)?.len();
    // Warm the page cache so the figure is the scanner's, not the disk's.
    {
        let mut f = std::fs::File::open(&log_path)?;
        std::io::copy(&mut f, &mut std::io::sink())?;
    }
    if args.components {
        let pack = RulePack::builtin()?;
        for c in ci_remedy::classify::bench::components(&log_path, &pack)? {
            ci_remedy::outln!(
                "component {:<26} {:.3} s = {:>5.0} MiB/s (count {})",
                c.name,
                c.secs,
                mib(bytes) / c.secs,
                c.count
            );
        }
    }
    if args.in_process {
        let pack = RulePack::builtin()?;
        let logs = resolve(&[log_path.to_string_lossy().into_owned()])?;
        let t = Instant::now();
        let mut a = analyze(&pack, &logs, &[], &AnalyzeOptions::default());
        if !a.errors.is_empty() {
            return Err(a.errors.swap_remove(0).into());
        }
        let secs = t.elapsed().as_secs_f64();
        let rss = getrusage(UsageWho::RUSAGE_SELF)?.max_rss();
        ci_remedy::outln!(
            "in-process analyze: {:.0} MiB in {:.3} s = {:.0} MiB/s; peak RSS {:.1} MiB; {} lines, {} findings, category {}",
            mib(bytes),
            secs,
            mib(bytes) / secs,
            rss as f64 / 1024.0,
            a.logs.first().map_or(0, |l| l.lines),
            a.findings.len(),
            a.classification.category.as_str()
        );
    } else {
        let prepare = match &args.prepare {
            Some(p) => p.clone(),
            None => std::env::current_exe()?.with_file_name("self-heal-prepare"),
        };
        let out = dir.path().join("out");
        std::fs::create_dir_all(&out)?;
        let t = Instant::now();
        let status = Command::new(&prepare)
            .arg("--log")
            .arg(&log_path)
            .arg("--out")
            .arg(&out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .map_err(|e| anyhow::anyhow!("cannot run {}: {e}", prepare.display()))?;
        let secs = t.elapsed().as_secs_f64();
        let rss = getrusage(UsageWho::RUSAGE_CHILDREN)?.max_rss();
        ci_remedy::outln!(
            "self-heal-prepare ({}): exit {}, {:.0} MiB in {:.3} s = {:.0} MiB/s; peak RSS {:.1} MiB",
            prepare.display(),
            status.code().map_or("signal".to_string(), |c| c.to_string()),
            mib(bytes),
            secs,
            mib(bytes) / secs,
            rss as f64 / 1024.0
        );
    }
    Ok(())
}
