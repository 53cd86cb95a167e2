//! Malformed instructions and inputs: clear errors, an empty patch with metadata, no panic.

use crate::fix_support;

use ci_remedy::artifact::{Category, FixInput, GuardDecision};
use fix_support::*;
use serde_json::json;

fn many_edits(n: usize) -> Vec<u8> {
    let edits: Vec<_> = (0..n)
        .map(|i| json!({"op": "create", "path": format!("src/f{i}.js"), "content": "x\n"}))
        .collect();
    serde_json::to_vec(&json!([{"summary": "many", "edits": edits}])).expect("json")
}

fn malformed_instruction_files() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    vec![
        ("truncated", br#"[{"summary": "x", "edits": [{"op": "crea"#.to_vec(), "not a list of instructions"),
        ("wrong type", br#"[{"summary": "x", "edits": "rm -rf /"}]"#.to_vec(), "invalid type"),
        ("wrong op", br#"[{"summary": "x", "edits": [{"op": "chmod", "path": "a"}]}]"#.to_vec(), "unknown variant"),
        ("unknown field", br#"[{"summary": "x", "edits": [], "run": "curl evil"}]"#.to_vec(), "unknown field"),
        ("negative count", br#"[{"summary": "x", "edits": [{"op": "replace", "path": "a", "find": "a", "replace": "b", "count": -1}]}]"#.to_vec(), "invalid value"),
        ("invalid utf-8", b"[{\"summary\": \"caf\xe9\", \"edits\": []}]".to_vec(), "UTF-8"),
        ("binary", vec![0u8, 159, 146, 150, 255, 0, 1, 2], "UTF-8"),
        ("empty", Vec::new(), "not a list of instructions"),
        ("object not list", br#"{"summary": "x", "edits": []}"#.to_vec(), "not a list of instructions"),
        ("huge summary", serde_json::to_vec(&json!([{"summary": "s".repeat(5000), "edits": []}])).expect("json"), "summary is 5000 bytes"),
        ("huge content", serde_json::to_vec(&json!([{"summary": "x", "edits": [{"op": "create", "path": "a.txt", "content": "a".repeat(2 * 1024 * 1024)}]}])).expect("json"), "content is 2097152 bytes"),
        ("thousands of edits", many_edits(3000), "3000 edits"),
        ("deep nesting", "[".repeat(100_000).into_bytes(), "not a list of instructions"),
    ]
}

#[test]
fn prepare_and_apply_reject_malformed_instruction_files() {
    let sb = sandbox(Some("import-case"));
    let log = sb.root().join("jest.log");
    std::fs::copy(format!("{FIXTURES}/import-case.log"), &log).expect("log");
    write_json(
        &sb.out().join("self-heal/context.json"),
        &context(
            Category::CompileError,
            &log,
            11,
            11,
            "Cannot find module './Util' from 'src/app.js'",
        ),
    );
    let before = snapshot(&sb.repo(), &[]);
    for (name, bytes, why) in malformed_instruction_files() {
        let file = sb.root().join("instructions.json");
        std::fs::write(&file, &bytes).expect("write");
        let o = hermetic(PREPARE, sb.root())
            .args([
                "--out",
                "out",
                "--repo",
                "repo",
                "--instructions",
                "instructions.json",
            ])
            .output()
            .expect("prepare");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {stderr}");
        assert!(
            stderr.contains("error: invalid instructions in instructions.json"),
            "{name}: {stderr}"
        );
        assert!(stderr.contains(why), "{name}: expected {why:?} in {stderr}");
        assert!(stderr.contains("\nhelp: "), "{name}: {stderr}");
        let input: FixInput =
            ci_remedy::artifact::read_json(&sb.out().join("fix-agent/input.json")).expect("input");
        assert!(input.error.is_some(), "{name}");
        let o = hermetic(APPLY, sb.root())
            .args(["--out", "out", "--repo", "repo"])
            .output()
            .expect("apply");
        assert_eq!(o.status.code(), Some(1), "{name}");
        let m = read_metadata(&sb.out());
        assert_eq!(m.guardrails.decision, GuardDecision::Rejected, "{name}");
        assert!(
            m.error
                .as_deref()
                .is_some_and(|e| e.contains("invalid instructions")),
            "{name}: {:?}",
            m.error
        );
        assert_eq!(read_patch(&sb.out()), "", "{name}");
        assert_eq!(before, snapshot(&sb.repo(), &[]), "{name}");
    }
}

#[test]
fn apply_rejects_malformed_inputs_with_an_empty_patch() {
    let sb = sandbox(Some("import-case"));
    let valid = serde_json::to_value(input(vec![ins("x", json!([]))])).expect("json");
    let mut wrong_schema = valid.clone();
    wrong_schema["schema"] = json!("ci-remedy/other/v9");
    let mut wrong_types = valid.clone();
    wrong_types["instructions"] = json!([{"summary": 3, "edits": {}}]);
    let mut thousands = valid.clone();
    thousands["instructions"] = serde_json::from_slice(&many_edits(2000)).expect("json");
    let cases: Vec<(&str, Option<Vec<u8>>, &str)> = vec![
        ("missing", None, "cannot read"),
        (
            "truncated",
            Some(serde_json::to_vec(&valid).expect("json")[..40].to_vec()),
            "not a valid artifact",
        ),
        (
            "invalid utf-8",
            Some(b"{\"schema\": \"\xff\xfe\"}".to_vec()),
            "not a valid artifact",
        ),
        (
            "binary",
            Some(vec![0, 1, 2, 3, 255]),
            "not a valid artifact",
        ),
        (
            "wrong schema",
            Some(serde_json::to_vec(&wrong_schema).expect("json")),
            "ci-remedy/other/v9",
        ),
        (
            "wrong types",
            Some(serde_json::to_vec(&wrong_types).expect("json")),
            "not a valid artifact",
        ),
        (
            "thousands of edits",
            Some(serde_json::to_vec(&thousands).expect("json")),
            "2000 edits",
        ),
    ];
    for (name, bytes, why) in cases {
        let path = sb.out().join("fix-agent/input.json");
        let _ = std::fs::remove_file(&path);
        if let Some(b) = &bytes {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, b).expect("write");
        }
        let o = hermetic(APPLY, sb.root())
            .args(["--out", "out", "--repo", "repo"])
            .output()
            .expect("apply");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains("\nhelp: "),
            "{name}: {stderr}"
        );
        let m = read_metadata(&sb.out());
        assert!(
            m.error.as_deref().is_some_and(|e| e.contains(why)),
            "{name}: {:?}",
            m.error
        );
        assert_eq!(
            m.guardrails.refused.last().map(|r| r.code.as_str()),
            Some("invalid_input")
        );
        assert_eq!(read_patch(&sb.out()), "");
        assert_eq!(m.patch_sha256, ci_remedy::fix::sha256_hex(b""));
    }
}

#[test]
fn missing_context_policy_errors_and_usage() {
    let sb = sandbox(Some("import-case"));
    let o = hermetic(PREPARE, sb.root())
        .args(["--out", "out", "--repo", "repo"])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("error: cannot read") && stderr.contains("context.json"),
        "{stderr}"
    );
    let input: FixInput =
        ci_remedy::artifact::read_json(&sb.out().join("fix-agent/input.json")).expect("input");
    assert!(input.error.is_some() && input.instructions.is_empty());

    std::fs::write(sb.root().join("p.yml"), "fix-agent:\n  max-file: 3\n").expect("w");
    for bin in [PREPARE, APPLY] {
        let o = hermetic(bin, sb.root())
            .args(["--out", "out", "--policy", "p.yml"])
            .output()
            .expect("run");
        assert_eq!(o.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            stderr.contains("p.yml line 2") && stderr.contains("max-file"),
            "{stderr}"
        );
        let o = hermetic(bin, sb.root())
            .arg("--bogus")
            .output()
            .expect("run");
        assert_eq!(o.status.code(), Some(2));
        let o = hermetic(bin, sb.root())
            .arg("--help")
            .output()
            .expect("run");
        assert_eq!(o.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&o.stdout).contains("Exit codes:"));
    }
}
