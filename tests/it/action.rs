//! Runs `action.yml`'s composite steps the way the Actions runner would, without GitHub:
//! inputs with their defaults, `${{ inputs.* }}` / `${{ steps.*.outputs.* }}` expressions in
//! `env:`, one `GITHUB_OUTPUT` file per step, `GITHUB_ACTION_PATH`, `GITHUB_STEP_SUMMARY`,
//! `GITHUB_WORKSPACE`, `bash -e` for `run:`. The binaries built for the tests are used through
//! the documented `bin-dir` input.

use crate::common;
use crate::github_common;
use crate::heal_common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ci_remedy::artifact::{Decision, Gate, Outcome};
use common::{bin, fixture, parse_outputs, root};
use github_common::{zip_of, Resp, Server};
use serde_json::json;

fn bin_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_self-heal-prepare"))
        .parent()
        .expect("bin dir")
        .to_path_buf()
}

/// Evaluates the only expression forms the action may use in `env:` and `outputs:`.
fn eval(
    text: &str,
    inputs: &BTreeMap<String, String>,
    steps: &BTreeMap<String, BTreeMap<String, String>>,
) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("closed expression") + start;
        let expr = rest[start + 3..end].trim();
        let value = if let Some(name) = expr.strip_prefix("inputs.") {
            inputs.get(name).cloned().unwrap_or_default()
        } else if let Some(path) = expr.strip_prefix("steps.") {
            let (id, output) = path
                .split_once(".outputs.")
                .expect("steps.<id>.outputs.<name>");
            steps
                .get(id)
                .and_then(|o| o.get(output))
                .cloned()
                .unwrap_or_default()
        } else if expr == "github.token" {
            String::new()
        } else {
            panic!("unsupported expression in action.yml: {expr}");
        };
        out.push_str(&value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

struct ActionRun {
    outputs: BTreeMap<String, String>,
    summary: String,
    logs: String,
}

fn run_action(workspace: &Path, given: &[(&str, &str)]) -> ActionRun {
    run_action_with_env(workspace, given, &[])
}

/// As [`run_action`], with `env` added to (or replacing) the runner's variables of every step.
fn run_action_with_env(
    workspace: &Path,
    given: &[(&str, &str)],
    env: &[(&str, &str)],
) -> ActionRun {
    let text = std::fs::read_to_string(root().join("action.yml")).expect("action.yml");
    let action: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("valid YAML");
    let mut inputs = BTreeMap::new();
    for (name, spec) in action["inputs"].as_mapping().expect("inputs") {
        let name = name.as_str().expect("input name").to_string();
        let default = spec["default"].as_str().unwrap_or("").to_string();
        inputs.insert(name, default);
    }
    for (k, v) in given {
        assert!(inputs.contains_key(*k), "action.yml has no input {k}");
        inputs.insert(k.to_string(), v.to_string());
    }
    assert_eq!(action["runs"]["using"].as_str(), Some("composite"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let summary = tmp.path().join("summary.md");
    let mut steps: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut logs = String::new();
    for (i, step) in action["runs"]["steps"]
        .as_sequence()
        .expect("steps")
        .iter()
        .enumerate()
    {
        let script = step["run"].as_str().expect("run step");
        assert!(
            !script.contains("${{"),
            "expressions must reach scripts through env:, found one in run: {script}"
        );
        assert_eq!(step["shell"].as_str(), Some("bash"));
        let output_file = tmp.path().join(format!("output-{i}"));
        std::fs::write(&output_file, "").expect("output file");
        let mut cmd = bin("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
            .current_dir(workspace)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTION_PATH", root())
            .env("GITHUB_WORKSPACE", workspace)
            .env("GITHUB_OUTPUT", &output_file)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_RUN_ID", "4242")
            .env("GITHUB_RUN_ATTEMPT", "1")
            .env("GITHUB_EVENT_NAME", "workflow_dispatch")
            .env("GITHUB_REPOSITORY", "octo/app")
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", "X64")
            .env("RUNNER_TEMP", tmp.path())
            .envs(env.iter().copied());
        if let Some(env) = step["env"].as_mapping() {
            for (k, v) in env {
                let v = v.as_str().expect("env value");
                cmd.env(k.as_str().expect("env name"), eval(v, &inputs, &steps));
            }
        }
        let out = cmd.output().expect("run step");
        logs.push_str(&String::from_utf8_lossy(&out.stdout));
        logs.push_str(&String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "step {i} failed:\n{logs}");
        if let Some(id) = step["id"].as_str() {
            let outputs = parse_outputs(&std::fs::read_to_string(&output_file).expect("read"));
            steps.insert(id.to_string(), outputs.into_iter().collect());
        }
    }
    let mut outputs = BTreeMap::new();
    for (name, spec) in action["outputs"].as_mapping().expect("outputs") {
        let value = eval(spec["value"].as_str().expect("value"), &inputs, &steps);
        outputs.insert(name.as_str().expect("name").to_string(), value);
    }
    ActionRun {
        outputs,
        summary: std::fs::read_to_string(&summary).unwrap_or_default(),
        logs,
    }
}

fn workspace_with_log() -> tempfile::TempDir {
    let ws = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(ws.path().join("logs")).expect("mkdir");
    std::fs::copy(
        fixture("cidiff/cv_45/fail.log"),
        ws.path().join("logs/build.log"),
    )
    .expect("copy log");
    ws
}

#[test]
fn self_heal_mode_runs_prepare_decide_execute_and_sets_outputs() {
    let ws = workspace_with_log();
    let bins = bin_dir();
    let run = run_action(
        ws.path(),
        &[
            ("mode", "self-heal"),
            ("logs", "logs/\n  \n"),
            ("out", "ci-remedy"),
            ("bin-dir", bins.to_str().expect("utf8")),
        ],
    );
    assert!(
        run.logs.contains("using the binaries in the bin-dir input"),
        "{}",
        run.logs
    );
    assert_eq!(run.outputs["category"], "build_config", "{}", run.logs);
    assert_eq!(run.outputs["self-heal-allowed"], "false");
    assert_eq!(run.outputs["self-heal-outcome"], "skipped");
    for f in ["context.json", "decision.json", "report-4242.json"] {
        assert!(
            ws.path().join("ci-remedy/self-heal").join(f).is_file(),
            "{f} missing:\n{}",
            run.logs
        );
    }
    assert!(run.summary.contains("ci-remedy"), "{}", run.summary);
    // `baseline: auto` is the default and best effort: without a token the context says why
    // no baseline was used, and the step still succeeds.
    let ctx: serde_json::Value = serde_json::from_slice(
        &std::fs::read(ws.path().join("ci-remedy/self-heal/context.json")).expect("context"),
    )
    .expect("json");
    assert_eq!(ctx["baseline"]["source"], "api", "{}", ctx["baseline"]);
    assert_eq!(ctx["baseline"]["used"], false);
    assert!(
        ctx["baseline"]["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("no baseline: no GitHub token")),
        "{}",
        ctx["baseline"]
    );
    // history-from-api is on by default and best effort: without a token, only the run
    // attempt counts, the gate says so, and the step still succeeds.
    let g = attempts_gate(&ws.path().join("ci-remedy"));
    assert!(g.passed, "{}", g.detail);
    assert!(
        g.detail.contains("GitHub API unavailable")
            && g.detail.contains("only the run attempt counts"),
        "{}",
        g.detail
    );
    assert!(
        run.logs
            .contains("earlier self-heal attempts in other runs were not counted"),
        "{}",
        run.logs
    );
}

fn attempts_gate(out: &Path) -> Gate {
    let d: Decision =
        serde_json::from_value(common::read_json(&out.join("self-heal/decision.json")))
            .expect("decision");
    d.gates
        .into_iter()
        .find(|g| g.name == "attempts")
        .expect("attempts gate")
}

#[test]
fn history_from_api_counts_earlier_dispatched_runs_so_max_attempts_holds() {
    let ws = workspace_with_log();
    let bins = bin_dir();
    let sha = "ab".repeat(20);
    let h = sha.clone();
    // Two earlier runs of this workflow for this commit, each with a self-heal report.
    let server = Server::start(move |r, base| match r.route() {
        "/repos/o/r/actions/runs/4242" => {
            Resp::json(200, json!({"id": 4242, "workflow_id": 42, "head_sha": h}))
        }
        "/repos/o/r/actions/workflows/42/runs" => Resp::json(
            200,
            json!({"total_count": 3, "workflow_runs": [
                {"id": 4242, "head_sha": h}, {"id": 401, "head_sha": h}, {"id": 402, "head_sha": h}
            ]}),
        ),
        "/repos/o/r/actions/runs/401/artifacts" | "/repos/o/r/actions/runs/402/artifacts" => {
            let run = r.route().split('/').nth(6).unwrap_or("0").to_string();
            Resp::json(
                200,
                json!({"total_count": 1, "artifacts": [
                    {"id": run.parse::<u64>().unwrap_or(0), "name": "self-heal-report", "size_in_bytes": 10, "expired": false}
                ]}),
            )
        }
        "/repos/o/r/actions/artifacts/401/zip" | "/repos/o/r/actions/artifacts/402/zip" => {
            let id = r.route().split('/').nth(6).unwrap_or("0").to_string();
            Resp::json(302, json!({})).with("location", &format!("{base}/dl/{id}"))
        }
        "/dl/401" | "/dl/402" => {
            let id = r.route().trim_start_matches("/dl/").to_string();
            let report = heal_common::prior_report(&id, &h, Outcome::StillFailing);
            Resp::bytes(
                200,
                zip_of(&[(
                    &format!("report-{id}.json"),
                    &serde_json::to_vec(&report).expect("json"),
                )]),
            )
        }
        _ => Resp::not_found(),
    });
    let env = [
        ("GITHUB_API_URL", server.url.as_str()),
        ("GITHUB_REPOSITORY", "o/r"),
        ("GITHUB_WORKFLOW", "e2e"),
        ("GITHUB_SHA", sha.as_str()),
        ("CI_REMEDY_GITHUB_RETRY_BUDGET", "3s"),
        ("CI_REMEDY_GITHUB_TIMEOUT", "5s"),
    ];
    let inputs = |history: &'static str| {
        [
            ("mode", "self-heal"),
            ("logs", "logs/"),
            ("out", "ci-remedy"),
            ("github-token", "test-token-123"),
            ("history-from-api", history),
            // This test counts the history requests alone.
            ("baseline", "none"),
            ("bin-dir", bins.to_str().expect("utf8")),
        ]
    };

    // Off: only the run attempt counts, and the API is not asked.
    run_action_with_env(ws.path(), &inputs("false"), &env);
    let g = attempts_gate(&ws.path().join("ci-remedy"));
    assert!(
        g.passed && g.detail.contains("no --history given"),
        "{}",
        g.detail
    );
    assert!(server.requests().is_empty());

    // On: the two earlier runs count, so this is attempt 3 of max-attempts 2.
    let run = run_action_with_env(ws.path(), &inputs("true"), &env);
    let g = attempts_gate(&ws.path().join("ci-remedy"));
    assert!(!g.passed, "{}\n{}", g.detail, run.logs);
    assert!(
        g.detail.starts_with("attempt 3 ") && g.detail.contains("GitHub API"),
        "{}",
        g.detail
    );
    assert_eq!(run.outputs["self-heal-allowed"], "false");
    let reqs = server.requests();
    assert_eq!(
        reqs[0].header("authorization"),
        Some("Bearer test-token-123"),
        "the github-token input reaches the API"
    );
    assert!(
        !run.logs.contains("test-token-123"),
        "the token was printed"
    );
}

#[test]
fn hostile_inputs_are_refused_or_stay_data() {
    let ws = workspace_with_log();
    let bins = bin_dir();
    // A mode outside the enum is refused by the script (and the step fails: a usage error).
    let text = std::fs::read_to_string(root().join("scripts/action/run.sh")).expect("run.sh");
    let out = bin("bash")
        .arg("-c")
        .arg(&text)
        .current_dir(ws.path())
        .env("CI_REMEDY_BIN", &bins)
        .env("INPUT_MODE", "self-heal; touch pwned")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(!ws.path().join("pwned").exists());
    // So is a history-from-api value other than true or false.
    let out = bin("bash")
        .arg("-c")
        .arg(&text)
        .current_dir(ws.path())
        .env("CI_REMEDY_BIN", &bins)
        .env("INPUT_MODE", "decide")
        .env("INPUT_HISTORY_FROM_API", "true --history=/etc")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("history-from-api must be true or false"));
    // A log path that looks like an option or a command is only a path.
    let run = run_action(
        ws.path(),
        &[
            ("mode", "prepare"),
            ("logs", "--list-rules\n$(touch pwned2)\nlogs/build.log"),
            ("out", "o"),
            ("bin-dir", bins.to_str().expect("utf8")),
        ],
    );
    assert!(!ws.path().join("pwned2").exists());
    assert!(run.logs.contains("--list-rules"), "{}", run.logs);
    let ctx = common::read_json(&ws.path().join("o/self-heal/context.json"));
    assert!(ctx["error"]
        .as_str()
        .expect("error")
        .contains("--list-rules"));
    assert_eq!(ctx["logs"].as_array().expect("logs").len(), 1);
}

#[test]
fn the_docs_document_every_input_and_output() {
    let docs = std::fs::read_to_string(root().join("docs/action.md")).expect("docs/action.md");
    let text = std::fs::read_to_string(root().join("action.yml")).expect("action.yml");
    let action: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("valid YAML");
    for section in ["inputs", "outputs"] {
        for (name, _) in action[section].as_mapping().expect(section) {
            let name = name.as_str().expect("name");
            assert!(
                docs.contains(&format!("| `{name}` |")),
                "docs/action.md has no table row for the action {section} `{name}`"
            );
        }
    }
}

#[test]
fn fail_on_error_turns_a_failed_step_into_a_failed_job() {
    let ws = workspace_with_log();
    let text = std::fs::read_to_string(root().join("scripts/action/run.sh")).expect("run.sh");
    for (fail_on_error, code) in [("false", 0), ("true", 1)] {
        let out = bin("bash")
            .arg("-c")
            .arg(&text)
            .current_dir(ws.path())
            .env("CI_REMEDY_BIN", bin_dir())
            .env("INPUT_MODE", "prepare")
            .env("INPUT_LOGS", "missing.log")
            .env("INPUT_OUT", "o")
            .env("INPUT_FAIL_ON_ERROR", fail_on_error)
            .output()
            .expect("run");
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        // Either way the step wrote its artifact and said what went wrong.
        assert!(ws.path().join("o/self-heal/context.json").is_file());
        assert!(String::from_utf8_lossy(&out.stdout)
            .contains("::warning title=ci-remedy::self-heal-prepare exited with code 1"));
    }
}

#[test]
fn smoke_mode_validates_with_the_checks_file_and_sets_outputs() {
    let svc = crate::smoke_support::start();
    let ws = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(ws.path().join(".github")).expect("mkdir");
    std::fs::write(
        ws.path().join(".github/ci-remedy-smoke.yml"),
        "hosts: [127.0.0.1]\nvariables: [APP_URL]\nchecks:\n  - name: broken\n    request: { url: '${APP_URL}/error' }\n",
    )
    .expect("checks");
    let bins = bin_dir();
    let run = run_action_with_env(
        ws.path(),
        &[
            ("mode", "smoke"),
            ("out", "ci-remedy"),
            ("bin-dir", bins.to_str().expect("utf8")),
        ],
        &[("APP_URL", &svc.base)],
    );
    assert_eq!(
        run.outputs["smoke-report"], "ci-remedy/smoke/report-4242.json",
        "{}",
        run.logs
    );
    assert_eq!(run.outputs["smoke-escalate"], "false");
    assert!(
        run.summary.contains("## ci-smoke: failed"),
        "{}",
        run.summary
    );
    assert!(
        run.logs
            .contains("::error title=smoke check broken::status: expected 2xx, got 500"),
        "{}",
        run.logs
    );
    let r = common::read_json(&ws.path().join("ci-remedy/smoke/report-4242.json"));
    assert_eq!(r["outcome"], "failed");
}
