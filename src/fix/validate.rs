//! Running the policy's validation command on the patched tree: an argv (never a shell
//! string), in its own process group, killed as a group at the timeout.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::artifact::{Validation, ValidationStatus};

/// The most output kept, from the end: 4 KiB.
pub const OUTPUT_TAIL_BYTES: u64 = 4096;

/// Environment variables the validation command never sees: tokens, and the files through
/// which a step could set outputs, environment or path for later steps.
pub const REMOVED_ENV: &[&str] = &[
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "ACTIONS_RUNTIME_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_CACHE_URL",
    "ACTIONS_RESULTS_URL",
    "AGENT_TOKEN",
    "DEVELOPER_AGENT_TOKEN",
    "GITHUB_OUTPUT",
    "GITHUB_ENV",
    "GITHUB_PATH",
    "GITHUB_STATE",
    "GITHUB_STEP_SUMMARY",
];

/// Test ids that can be passed as arguments: not empty, at most 512 bytes, no control
/// characters, and not starting with `-` (an id must not become an option of the runner).
pub fn usable_test_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 512 && !id.starts_with('-') && !id.chars().any(char::is_control)
}

/// Runs `argv` in `cwd` with `timeout`. Standard input is empty; standard output and error go
/// to one temporary file whose last [`OUTPUT_TAIL_BYTES`] are kept. At the timeout the whole
/// process group gets SIGKILL; after a normal exit, leftover group members get it too.
pub fn run(argv: &[String], cwd: &Path, timeout: Duration) -> Validation {
    let started = Instant::now();
    let mut v = Validation {
        status: ValidationStatus::Failed,
        command: argv.to_vec(),
        exit_code: None,
        duration_ms: 0,
        detail: None,
        output_tail: String::new(),
    };
    let Some((program, args)) = argv.split_first() else {
        return Validation::skipped("no validation command in the policy");
    };
    let out = match tempfile::tempfile() {
        Ok(f) => f,
        Err(e) => {
            v.detail = Some(format!("cannot create a temporary file: {e}"));
            return v;
        }
    };
    let (stdout, stderr) = match (out.try_clone(), out.try_clone()) {
        (Ok(a), Ok(b)) => (a, b),
        _ => {
            v.detail = Some("cannot duplicate the output file".into());
            return v;
        }
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .process_group(0);
    for k in REMOVED_ENV {
        cmd.env_remove(k);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            v.detail = Some(format!("cannot start {program:?}: {e}"));
            v.duration_ms = elapsed_ms(started);
            return v;
        }
    };
    let pgid = i32::try_from(child.id())
        .ok()
        .map(nix::unistd::Pid::from_raw);
    let kill_group = || {
        if let Some(p) = pgid {
            let _ = nix::sys::signal::killpg(p, nix::sys::signal::Signal::SIGKILL);
        }
    };
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) => {}
            Err(e) => {
                v.detail = Some(format!("cannot wait for the command: {e}"));
                kill_group();
                let _ = child.wait();
                break None;
            }
        }
        if started.elapsed() >= timeout {
            kill_group();
            let _ = child.wait();
            v.status = ValidationStatus::TimedOut;
            v.detail = Some(format!(
                "killed after {} ms (fix-agent.validation.timeout)",
                timeout.as_millis()
            ));
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    kill_group();
    v.duration_ms = elapsed_ms(started);
    if let Some(s) = status {
        v.exit_code = s.code();
        v.status = if s.success() {
            ValidationStatus::Passed
        } else {
            ValidationStatus::Failed
        };
        if s.code().is_none() {
            v.detail = Some("terminated by a signal".into());
        }
    }
    v.output_tail = tail(out);
    v
}

fn elapsed_ms(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn tail(mut f: std::fs::File) -> String {
    let len = f.seek(SeekFrom::End(0)).unwrap_or(0);
    let start = len.saturating_sub(OUTPUT_TAIL_BYTES);
    if f.seek(SeekFrom::Start(start)).is_err() {
        return String::new();
    }
    let mut buf = Vec::new();
    let _ = f.take(OUTPUT_TAIL_BYTES).read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_fails_and_times_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sh = |s: &str| vec!["sh".to_string(), "-c".to_string(), s.to_string()];
        let ok = run(&sh("echo hello"), dir.path(), Duration::from_secs(5));
        assert_eq!(ok.status, ValidationStatus::Passed);
        assert_eq!(ok.output_tail, "hello\n");
        let bad = run(&sh("exit 3"), dir.path(), Duration::from_secs(5));
        assert_eq!(
            (bad.status, bad.exit_code),
            (ValidationStatus::Failed, Some(3))
        );
        let t = Instant::now();
        // The grandchild `sleep` must die with the group, or the wait would hang on it.
        let slow = run(
            &sh("sleep 30 & sleep 30"),
            dir.path(),
            Duration::from_millis(300),
        );
        assert_eq!(slow.status, ValidationStatus::TimedOut);
        assert!(t.elapsed() < Duration::from_secs(5));
        let missing = run(
            &["/nonexistent/prog".to_string()],
            dir.path(),
            Duration::from_secs(1),
        );
        assert_eq!(missing.status, ValidationStatus::Failed);
        assert!(missing.detail.expect("detail").contains("cannot start"));
    }

    #[test]
    fn hostile_ids_are_not_options() {
        assert!(usable_test_id("tests/a.spec.ts:12"));
        assert!(usable_test_id("x; touch pwned"));
        assert!(!usable_test_id("--config=evil.js"));
        assert!(!usable_test_id("a\nb"));
    }
}
