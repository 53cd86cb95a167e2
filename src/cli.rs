//! What every binary shares at its edge: exit codes and error presentation.
//!
//! Exit codes (DESIGN.md): 0 the step ran and wrote its artifact, whatever it decided;
//! 1 the step could not do its job (it still writes an artifact with an `error` field where it
//! can); 2 usage or policy-file error.

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::policy::Policy;

/// The step ran and wrote its artifact.
pub const EXIT_OK: u8 = 0;
/// The step could not do its job (I/O, invalid input).
pub const EXIT_FAILED: u8 = 1;
/// Usage or policy-file error.
pub const EXIT_USAGE: u8 = 2;

/// The exit-code section shared by every binary's `--help`.
pub const EXIT_CODES_HELP: &str = "Exit codes:\n  0  the step ran and wrote its artifact, whatever it decided\n  1  the step could not do its job (I/O, invalid input); an artifact with an `error` field is still written where possible\n  2  usage or policy-file error";

/// Prints `error: <what>` and, when given, `help: <help>` to stderr, each on one line with
/// control characters replaced so that no part of it can become a workflow command.
pub fn print_error(what: &dyn Display, help: Option<&str>) {
    write_stderr(format_args!("error: {}\n", one_line(&what.to_string())));
    if let Some(h) = help {
        write_stderr(format_args!("help: {}\n", one_line(h)));
    }
}

/// Prints a warning line to stderr, sanitised like [`print_error`].
pub fn print_warning(what: &dyn Display) {
    write_stderr(format_args!("warning: {}\n", one_line(&what.to_string())));
}

/// Writes to stdout without ever panicking (what `print!` does when stdout is closed):
/// a reader that went away (`self-heal-decide | head -1`, error kind `BrokenPipe`) is ignored,
/// since stdout is only the human summary and the artifacts are already written; any other
/// write error is reported once on stderr. The exit code stays the step's own. Use it through
/// [`out!`](crate::out) and [`outln!`](crate::outln).
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    static REPORTED: AtomicBool = AtomicBool::new(false);
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe && !REPORTED.swap(true, Ordering::Relaxed) {
            print_warning(&format!("cannot write to stdout: {e}"));
        }
    }
}

/// Writes to stderr, ignoring every write error (there is nowhere left to report one), so a
/// closed stderr never panics a binary. Use it through [`errln!`](crate::errln).
pub fn write_stderr(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// `print!` that never panics on a closed stdout ([`write_stdout`]).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::write_stdout(format_args!($($arg)*))
    };
}

/// `println!` that never panics on a closed stdout ([`write_stdout`]).
#[macro_export]
macro_rules! outln {
    () => {
        $crate::cli::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` that never panics on a closed stderr ([`write_stderr`]).
#[macro_export]
macro_rules! errln {
    () => {
        $crate::cli::write_stderr(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::write_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub use crate::text::one_line;

/// Turns an exit code constant into an [`ExitCode`].
pub fn exit(code: u8) -> ExitCode {
    ExitCode::from(code)
}

/// Parses the command line into `A`. `--help` and `--version` print and give
/// `Err(`[`EXIT_OK`]`)`; a usage error prints clap's message and gives `Err(`[`EXIT_USAGE`]`)`,
/// so `main` returns the code instead of clap exiting the process.
pub fn parse_args<A: clap::Parser>() -> Result<A, ExitCode> {
    A::try_parse().map_err(|e| {
        let _ = e.print();
        exit(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK })
    })
}

/// Loads the policy: `path`, else `.github/ci-remedy.yml` when it exists, else the built-in
/// defaults ([`Policy::load`]). On an error prints it with the `help:` line `help` and gives
/// `Err(`[`EXIT_USAGE`]`)`.
pub fn load_policy(path: Option<&Path>, help: &str) -> Result<Policy, ExitCode> {
    Policy::load(path).map_err(|e| {
        print_error(&e, Some(help));
        exit(EXIT_USAGE)
    })
}

/// [`load_policy`] with a relative `path` (and the default [`crate::policy::DEFAULT_POLICY_PATH`])
/// resolved against `root` instead of the working directory ([`Policy::load_in`]).
pub fn load_policy_in(root: &Path, path: Option<&Path>, help: &str) -> Result<Policy, ExitCode> {
    Policy::load_in(root, path).map_err(|e| {
        print_error(&e, Some(help));
        exit(EXIT_USAGE)
    })
}

/// `--repo` and `--policy` of the steps that work on a checkout (`fix-agent-prepare`,
/// `fix-agent-apply`).
#[derive(clap::Args, Debug, Clone)]
pub struct CheckoutArgs {
    /// The repository working tree.
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// The policy file (default .github/ci-remedy.yml; built-in defaults when absent).
    #[arg(long)]
    pub policy: Option<PathBuf>,
}
