//! The eval and bench binaries, run for real with a hermetic environment.

use std::path::PathBuf;
use std::process::Command;

fn hermetic(bin: &str) -> Command {
    crate::common::bin(bin)
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

/// Copies CiDiff cases into `to/<ecosystem>/<case>/`.
fn copy_cases(to: &std::path::Path, cases: &[(&str, &str)]) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/cidiff");
    for (eco, case) in cases {
        let dst = to.join(eco).join(case);
        std::fs::create_dir_all(&dst).expect("mkdir");
        for f in ["fail.log", "groundtruth"] {
            std::fs::copy(root.join(case).join(f), dst.join(f)).expect("copy");
        }
    }
}

fn eval_json(dir: &std::path::Path) -> serde_json::Value {
    let out = hermetic(env!("CARGO_BIN_EXE_ci-remedy-eval"))
        .arg(dir)
        .arg("--json")
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn eval_gives_figures_per_ecosystem_in_the_ecosystem_layout() {
    let dir = tempfile::tempdir().expect("tmp");
    let tree = dir.path().join("ecosystems");
    copy_cases(
        &tree,
        &[("a", "cv_45"), ("a", "spork_441"), ("b", "cidiff_11")],
    );
    // A case whose only E line lies past the end of its log: nothing can cover it.
    let unreachable = tree.join("b/zz-past-the-end");
    std::fs::create_dir_all(&unreachable).expect("mkdir");
    std::fs::copy(
        tree.join("a/spork_441/fail.log"),
        unreachable.join("fail.log"),
    )
    .expect("copy");
    std::fs::write(unreachable.join("groundtruth"), "DEFAULT\nE 999999\n").expect("write");
    std::fs::write(tree.join("README.md"), "not a case").expect("write");

    let v = eval_json(&tree);
    assert_eq!(v["layout"], "ecosystems");
    let ecos = v["ecosystems"].as_object().expect("ecosystems");
    assert_eq!(ecos.keys().collect::<Vec<_>>(), ["a", "b"]);
    let cases = v["cases"].as_array().expect("cases");
    let names: Vec<(String, String, String)> = cases
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (s("ecosystem"), s("name"), s("half"))
        })
        .collect();
    // The split is by name order within each ecosystem: b's first case is dev again.
    let expect = [
        ("a", "cv_45", "dev"),
        ("a", "spork_441", "check"),
        ("b", "cidiff_11", "dev"),
        ("b", "zz-past-the-end", "check"),
    ];
    assert_eq!(
        names,
        expect.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    );
    let past = &cases[3];
    assert_eq!(past["full"], false);
    assert_eq!(past["top1"], false);
    assert_eq!(past["recall"], 0.0);
    assert_eq!(v["all"]["cases"], 4);
    assert_eq!(v["dev"]["cases"], 2);
    assert_eq!(v["check"]["cases"], 2);
    assert_eq!(ecos["a"]["dev"]["cases"], 1);
    assert_eq!(ecos["b"]["check"]["cases"], 1);

    // Every summary is the mean/count of its own cases.
    let check = |summary: &serde_json::Value, pick: &dyn Fn(&serde_json::Value) -> bool| {
        let mine: Vec<&serde_json::Value> = cases.iter().filter(|c| pick(c)).collect();
        let n = mine.len();
        let count = |f: &dyn Fn(&serde_json::Value) -> bool| mine.iter().filter(|c| f(c)).count();
        let mean = |k: &str| mine.iter().filter_map(|c| c[k].as_f64()).sum::<f64>() / n as f64;
        assert_eq!(summary["cases"], n);
        assert_eq!(summary["top1"], count(&|c| c["top1"] == true));
        assert_eq!(summary["full"], count(&|c| c["full"] == true));
        assert_eq!(summary["unknown"], count(&|c| c["category"] == "unknown"));
        let close = |k: &str| (summary[k].as_f64().expect(k) - mean(k)).abs() < 1e-9;
        assert!(close("recall") && close("precision"), "{summary}");
        let share = summary["top1_share"].as_f64().expect("share");
        assert!((share - summary["top1"].as_f64().expect("n") / n as f64).abs() < 1e-9);
    };
    for (eco, h) in ecos {
        for half in ["dev", "check"] {
            check(&h[half], &|c| {
                c["ecosystem"] == eco.as_str() && c["half"] == half
            });
        }
        check(&h["all"], &|c| c["ecosystem"] == eco.as_str());
    }
    check(&v["all"], &|_| true);
    check(&v["dev"], &|c| c["half"] == "dev");
    check(&v["check"], &|c| c["half"] == "check");
    for c in cases {
        // Rank 1 is part of the top three.
        assert!(c["top1"] == false || c["full"] == true, "{c}");
    }

    // One ecosystem's folder is itself a folder in the CiDiff layout, scored the same way.
    let a = eval_json(&tree.join("a"));
    assert_eq!(a["layout"], "cases");
    for (i, c) in a["cases"].as_array().expect("cases").iter().enumerate() {
        for k in [
            "name",
            "half",
            "precision",
            "recall",
            "full",
            "top1",
            "category",
        ] {
            assert_eq!(c[k], cases[i][k], "{k} of {c}");
        }
    }

    let text = hermetic(env!("CARGO_BIN_EXE_ci-remedy-eval"))
        .arg(&tree)
        .output()
        .expect("runs");
    let s = String::from_utf8_lossy(&text.stdout);
    assert!(
        s.lines()
            .any(|l| l.starts_with("a ") && l.contains(" all "))
            && s.lines()
                .any(|l| l.starts_with("ALL ") && l.contains(" check "))
            && s.contains("top-1"),
        "{s}"
    );

    // A case folder without its groundtruth is an error, not a silently smaller corpus.
    std::fs::remove_file(unreachable.join("groundtruth")).expect("rm");
    let bad = hermetic(env!("CARGO_BIN_EXE_ci-remedy-eval"))
        .arg(&tree)
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.starts_with("error: ")
            && err.contains("zz-past-the-end")
            && err.contains("groundtruth"),
        "{err}"
    );
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
