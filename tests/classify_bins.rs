//! The eval and bench binaries, run for real with a hermetic environment.

use std::path::PathBuf;
use std::process::Command;

fn hermetic(bin: &str) -> Command {
    let mut c = Command::new(bin);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("GITHUB_")
            || k.starts_with("RUNNER_")
            || k.starts_with("ACTIONS_")
            || k == "CI"
        {
            c.env_remove(&k);
        }
    }
    c
}

#[test]
fn eval_prints_per_case_figures_and_means_on_any_folder() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/cidiff");
    for case in ["cv_45", "spork_441"] {
        let to = dir.path().join(case);
        std::fs::create_dir_all(&to).expect("mkdir");
        for f in ["fail.log", "pass.log", "groundtruth"] {
            std::fs::copy(root.join(case).join(f), to.join(f)).expect("copy");
        }
    }
    let out = hermetic(env!("CARGO_BIN_EXE_ci-remedy-eval"))
        .arg(dir.path())
        .arg("--json")
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["cases"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["all"]["cases"], 2);
    assert_eq!(v["dev"]["cases"], 1);
    let spork = &v["cases"][1];
    assert_eq!(spork["name"], "spork_441");
    assert_eq!(spork["full"], true);
    let text = hermetic(env!("CARGO_BIN_EXE_ci-remedy-eval"))
        .arg(dir.path())
        .arg("--baseline")
        .output()
        .expect("runs");
    let s = String::from_utf8_lossy(&text.stdout);
    assert!(
        s.contains("baseline: pass.log") && s.contains("check half"),
        "{s}"
    );
    let missing = hermetic(env!("CARGO_BIN_EXE_ci-remedy-eval"))
        .arg(dir.path().join("nope"))
        .output()
        .expect("runs");
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).starts_with("error: "));
}

#[test]
fn bench_measures_a_small_generated_log_in_process() {
    let out = hermetic(env!("CARGO_BIN_EXE_ci-remedy-bench"))
        .args(["--in-process", "--size", "2MiB"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("MiB/s") && s.contains("peak RSS"), "{s}");
    let bad = hermetic(env!("CARGO_BIN_EXE_ci-remedy-bench"))
        .args(["--size", "lots"])
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
}
