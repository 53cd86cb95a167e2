//! Running the policy's validation command on the patched tree: an argv (never a shell
//! string), in its own process group, killed as a group at the timeout.

use std::path::Path;
use std::time::Duration;

use crate::artifact::{Validation, ValidationStatus};
use crate::process::{run_bounded, CommandRun};

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

/// Runs `argv` in `cwd` with `timeout` through the same bounded runner self-heal uses
/// ([`crate::process::run_bounded`]): its own process group, killed as a group at the
/// timeout, standard input empty, the last [`OUTPUT_TAIL_BYTES`] of combined output kept and
/// redacted. The environment is this process's minus [`REMOVED_ENV`].
pub fn run(argv: &[String], cwd: &Path, timeout: Duration) -> Validation {
    run_without(argv, cwd, timeout, &[])
}

/// [`run`], also removing the variables `also_removed` names (the model's API key variable,
/// `fix-agent.model.api-key-env`: code a model just wrote must not see the key).
pub fn run_without(
    argv: &[String],
    cwd: &Path,
    timeout: Duration,
    also_removed: &[&str],
) -> Validation {
    if argv.is_empty() {
        return Validation::skipped("no validation command in the policy");
    }
    let env: Vec<(String, std::ffi::OsString)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v)))
        .filter(|(k, _)| !REMOVED_ENV.contains(&k.as_str()) && !also_removed.contains(&k.as_str()))
        .collect();
    let spec = CommandRun {
        argv: argv.to_vec(),
        cwd: cwd.to_path_buf(),
        env,
        timeout,
        tail_bytes: OUTPUT_TAIL_BYTES as usize,
    };
    let mut v = Validation {
        status: ValidationStatus::Failed,
        command: argv.to_vec(),
        exit_code: None,
        duration_ms: 0,
        detail: None,
        output_tail: String::new(),
    };
    match run_bounded(&spec) {
        Err(e) => v.detail = Some(e.to_string()),
        Ok(out) => {
            v.exit_code = out.exit_code;
            v.duration_ms = out.duration_ms;
            v.output_tail = out.redacted_tail(OUTPUT_TAIL_BYTES as usize);
            if out.timed_out {
                v.status = ValidationStatus::TimedOut;
                v.detail = Some(format!(
                    "killed after {} ms (fix-agent.validation.timeout)",
                    timeout.as_millis()
                ));
            } else if out.exit_code == Some(0) {
                v.status = ValidationStatus::Passed;
            } else if out.exit_code.is_none() {
                v.detail = Some("terminated by a signal".into());
            }
        }
    }
    v
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
        let t = std::time::Instant::now();
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
    fn a_token_cut_by_the_tail_start_is_redacted() {
        let dir = tempfile::tempdir().expect("tempdir");
        // The kept 4 KiB start 8 bytes before the token's end.
        let script = format!(
            "printf 'ghp_abcdefghijklmnopqrstuvwxyz0123456789\\n'; head -c {} /dev/zero | tr '\\0' x",
            OUTPUT_TAIL_BYTES - 9
        );
        let v = run(
            &["sh".to_string(), "-c".to_string(), script],
            dir.path(),
            Duration::from_secs(10),
        );
        assert_eq!(v.status, ValidationStatus::Passed, "{v:?}");
        assert!(v.output_tail.len() <= OUTPUT_TAIL_BYTES as usize);
        assert!(
            !v.output_tail.contains("23456789"),
            "the token's end leaked: {:?}",
            v.output_tail.chars().take(40).collect::<String>()
        );
    }

    #[test]
    fn hostile_ids_are_not_options() {
        use crate::artifact::check_test_id;
        assert!(check_test_id("tests/a.spec.ts:12").is_ok());
        assert!(check_test_id("tests/test_x.py::test_y[a-b]").is_ok());
        assert!(
            check_test_id("x; touch pwned").is_ok(),
            "argv, never a shell"
        );
        for bad in [
            "",
            "--config=evil.js",
            "-x",
            "@args.txt",
            "+x",
            "a\nb",
            "a\0b",
            &"a".repeat(513),
        ] {
            assert!(check_test_id(bad).is_err(), "{bad:?}");
        }
    }
}
