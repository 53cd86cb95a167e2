//! Running one command with a time limit that kills its whole process group, a cleared
//! environment, stdin from `/dev/null`, and a bounded tail of its combined output.
//!
//! Unix only: the child becomes the leader of a new process group
//! (`CommandExt::process_group(0)`); on timeout the group gets `SIGTERM`, then `SIGKILL` after
//! [`KILL_GRACE`]. stdout and stderr are read by two threads into one ring buffer, so their
//! interleaving is approximate; memory stays bounded whatever the command prints.
//!
//! The output is untrusted and may hold secrets: [`RunOutput::redacted_tail`] is the one way
//! to turn it into text (UTF-8, redacted, at most the requested bytes).
//!
//! A command that exits in time is not followed further: processes it left running in the
//! background (an action may start a service) are not killed, and their output is read only
//! for [`DRAIN_GRACE`] after the exit.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::artifact::Redactions;
use crate::logs::redact::Redactor;

/// Time between `SIGTERM` and `SIGKILL` on timeout.
pub const KILL_GRACE: Duration = Duration::from_secs(2);
/// How long output is still read after the command exited (background processes it left
/// behind may keep the pipes open; their later output is not waited for).
pub const DRAIN_GRACE: Duration = Duration::from_millis(500);
/// How often the child is polled.
const POLL: Duration = Duration::from_millis(10);
/// Extra bytes kept before the requested tail, so redaction still recognises a secret that
/// the tail's start cuts through; [`RunOutput::redacted_tail`] trims them off afterwards.
pub const REDACTION_MARGIN: usize = 512;

/// What to run.
#[derive(Debug, Clone)]
pub struct CommandRun {
    /// Program and arguments; never interpreted by a shell here.
    pub argv: Vec<String>,
    /// The working directory.
    pub cwd: PathBuf,
    /// The complete environment of the child (it starts empty).
    pub env: Vec<(String, OsString)>,
    /// Time limit.
    pub timeout: Duration,
    /// How many bytes of the output's end to keep (plus [`REDACTION_MARGIN`] for redaction).
    pub tail_bytes: usize,
}

/// How it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutput {
    /// The exit code; `None` when a signal ended it.
    pub exit_code: Option<i32>,
    /// Whether the time limit expired and the process group was killed.
    pub timed_out: bool,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// The last `tail_bytes` + [`REDACTION_MARGIN`] bytes of combined stdout and stderr, raw
    /// and unredacted: use [`RunOutput::redacted_tail`] for text.
    pub tail: Vec<u8>,
}

impl RunOutput {
    /// The output's end as text of at most `cap` bytes (pass the [`CommandRun::tail_bytes`] it
    /// ran with): the whole kept tail, margin included, is decoded (a UTF-8 character split at
    /// its start is dropped, invalid bytes become U+FFFD) and redacted with the built-in
    /// rules, then cut to its last `cap` bytes at a character boundary.
    pub fn redacted_tail(&self, cap: usize) -> String {
        let bytes = &self.tail;
        let skip = bytes
            .iter()
            .take(3)
            .take_while(|b| (**b & 0xC0) == 0x80)
            .count();
        let text = String::from_utf8_lossy(&bytes[skip..]);
        let redacted = Redactor::builtin().redact(&text, &mut Redactions::default());
        if redacted.len() <= cap {
            return redacted;
        }
        let mut start = redacted.len() - cap;
        while !redacted.is_char_boundary(start) {
            start += 1;
        }
        redacted[start..].to_string()
    }
}

/// A byte ring keeping the last `cap` bytes written.
#[derive(Debug)]
pub struct TailBuffer {
    buf: VecDeque<u8>,
    cap: usize,
}

impl TailBuffer {
    /// An empty ring keeping at most `cap` bytes.
    pub fn new(cap: usize) -> Self {
        TailBuffer {
            buf: VecDeque::with_capacity(cap.min(64 * 1024)),
            cap,
        }
    }

    /// Appends bytes, dropping the oldest beyond `cap`.
    pub fn push(&mut self, data: &[u8]) {
        let data = if data.len() > self.cap {
            &data[data.len() - self.cap..]
        } else {
            data
        };
        let overflow = (self.buf.len() + data.len()).saturating_sub(self.cap);
        self.buf.drain(..overflow);
        self.buf.extend(data);
    }

    /// The kept bytes.
    pub fn bytes(&self) -> Vec<u8> {
        self.buf.iter().copied().collect()
    }
}

/// Why a command could not run.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The argv list is empty.
    #[error("empty command")]
    EmptyCommand,
    /// The program could not be started.
    #[error("cannot start {program:?} in {cwd}: {source}")]
    Spawn {
        /// argv[0].
        program: String,
        /// The working directory.
        cwd: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Waiting for it failed.
    #[error("cannot wait for {program:?}: {source}")]
    Wait {
        /// argv[0].
        program: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Runs `spec` to completion or timeout. Errors only when the command cannot be started or
/// waited for; a non-zero exit or a timeout is a normal [`RunOutput`].
pub fn run_bounded(spec: &CommandRun) -> Result<RunOutput, ProcessError> {
    let (program, args) = spec.argv.split_first().ok_or(ProcessError::EmptyCommand)?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(&spec.cwd)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|source| ProcessError::Spawn {
        program: program.clone(),
        cwd: spec.cwd.clone(),
        source,
    })?;

    let ring = Arc::new(Mutex::new(TailBuffer::new(
        spec.tail_bytes.saturating_add(REDACTION_MARGIN),
    )));
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let mut readers = 0;
    if let Some(out) = child.stdout.take() {
        spawn_reader(out, Arc::clone(&ring), done_tx.clone());
        readers += 1;
    }
    if let Some(err) = child.stderr.take() {
        spawn_reader(err, Arc::clone(&ring), done_tx.clone());
        readers += 1;
    }
    drop(done_tx);

    // A timeout too long for the clock to represent means no deadline (policy timeouts are
    // capped at 24 h, but this runner must not panic on any `Duration`).
    let deadline = start.checked_add(spec.timeout);
    let wait_err = |source| ProcessError::Wait {
        program: program.clone(),
        source,
    };
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(wait_err)? {
            break status;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            timed_out = true;
            break kill_group(&mut child).map_err(wait_err)?;
        }
        std::thread::sleep(POLL);
    };
    let duration_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);

    // Collect what the readers have; do not wait for processes that escaped or outlived it.
    let drain_deadline = Instant::now() + DRAIN_GRACE;
    for _ in 0..readers {
        let left = drain_deadline.saturating_duration_since(Instant::now());
        if done_rx.recv_timeout(left).is_err() {
            break;
        }
    }
    let tail = match ring.lock() {
        Ok(r) => r.bytes(),
        Err(poisoned) => poisoned.into_inner().bytes(),
    };
    Ok(RunOutput {
        exit_code: status.code(),
        timed_out,
        duration_ms,
        tail,
    })
}

fn spawn_reader(
    mut src: impl Read + Send + 'static,
    ring: Arc<Mutex<TailBuffer>>,
    done: mpsc::Sender<()>,
) {
    std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        loop {
            match src.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => match ring.lock() {
                    Ok(mut r) => r.push(&chunk[..n]),
                    Err(_) => break,
                },
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = done.send(());
    });
}

/// SIGTERM to the group, then SIGKILL after [`KILL_GRACE`]; returns the leader's status.
fn kill_group(child: &mut Child) -> std::io::Result<std::process::ExitStatus> {
    let pgid = i32::try_from(child.id()).map(Pid::from_raw).ok();
    if let Some(pg) = pgid {
        // ESRCH (the group is already gone) is fine.
        let _ = killpg(pg, Signal::SIGTERM);
    }
    let grace_end = Instant::now() + KILL_GRACE;
    while Instant::now() < grace_end {
        if child.try_wait()?.is_some() {
            break;
        }
        std::thread::sleep(POLL);
    }
    // Members other than the leader may ignore SIGTERM; the group id stays valid while any
    // member lives.
    if let Some(pg) = pgid {
        let _ = killpg(pg, Signal::SIGKILL);
    }
    child.wait()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_buffer_keeps_the_last_bytes() {
        let mut t = TailBuffer::new(5);
        t.push(b"abc");
        t.push(b"defg");
        assert_eq!(t.bytes(), b"cdefg");
        t.push(b"0123456789");
        assert_eq!(t.bytes(), b"56789");
    }

    fn spec(argv: &[&str], timeout: Duration) -> CommandRun {
        CommandRun {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            cwd: PathBuf::from("."),
            env: vec![("PATH".into(), std::env::var_os("PATH").unwrap_or_default())],
            timeout,
            tail_bytes: 16,
        }
    }

    #[test]
    fn exit_code_and_tail() {
        let out = run_bounded(&spec(
            &[
                "sh",
                "-c",
                "echo hello-world-long-line; echo err >&2; exit 3",
            ],
            Duration::from_secs(10),
        ))
        .expect("runs");
        assert_eq!(out.exit_code, Some(3));
        assert!(!out.timed_out);
        // Both streams, whole (the margin keeps more than the 16 bytes asked for); their
        // interleaving is not fixed.
        assert_eq!(out.tail.len(), 22 + 4);
        assert_eq!(out.redacted_tail(16).len(), 16);
    }

    fn output(tail: &[u8]) -> RunOutput {
        RunOutput {
            exit_code: Some(0),
            timed_out: false,
            duration_ms: 0,
            tail: tail.to_vec(),
        }
    }

    #[test]
    fn redacted_tail_is_bounded_and_valid_utf8() {
        let s = "ééééé".as_bytes(); // 10 bytes
        assert_eq!(output(&s[1..]).redacted_tail(4), "éé");
        let t = output(&[0xff; 10]).redacted_tail(7);
        assert!(t.len() <= 7, "{t:?}");
    }

    #[test]
    fn a_secret_cut_by_the_tail_start_is_still_redacted() {
        // The last 16 bytes start inside the token: redacting only those would not recognise
        // it and would publish its end.
        let token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
        let out = run_bounded(&spec(
            &[
                "sh",
                "-c",
                &format!("echo 'token {token}'; echo 0123456789"),
            ],
            Duration::from_secs(10),
        ))
        .expect("runs");
        let tail = out.redacted_tail(16);
        assert!(tail.len() <= 16, "{tail:?}");
        assert!(tail.ends_with("]\n0123456789\n"), "{tail:?}");
        assert!(
            !tail.contains("6789\n0"),
            "the token's end leaked: {tail:?}"
        );
    }

    #[test]
    fn a_timeout_beyond_the_clock_is_no_deadline_not_a_panic() {
        for timeout in [Duration::from_secs(u64::MAX), Duration::MAX] {
            let out = run_bounded(&spec(&["sh", "-c", "exit 4"], timeout)).expect("runs");
            assert_eq!(out.exit_code, Some(4));
            assert!(!out.timed_out);
        }
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let err = run_bounded(&spec(&["/nonexistent/program"], Duration::from_secs(1)))
            .expect_err("spawn");
        assert!(err.to_string().contains("/nonexistent/program"), "{err}");
    }
}
