//! The Developer-Agent answers with fix instructions from the built-in recipes: the real
//! `ci-logs-ship` sends the repository section, the real `developer-agent` rebuilds it in a
//! temporary directory and runs the recipes, and the answer goes through `self-heal-prepare`,
//! `fix-agent-prepare` and `fix-agent-apply` (the guard) to a patch `git apply` accepts.
//! Hostile repository sections are refused or ignored, and nothing is written outside the
//! server's data and temporary directories.

use crate::agent_support;
use crate::common;
use crate::fix_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use agent_support::{files_under, payload, Agent};
use ci_remedy::artifact::{FixInput, GuardDecision};
use common::read_json;
use fix_support::{
    commit_all, hermetic, prove_patch, read_metadata, read_patch, sandbox, snapshot, Sandbox,
    APPLY, FIXTURES, PREPARE,
};

const SHIP: &str = env!("CARGO_BIN_EXE_ci-logs-ship");
const HEAL_PREPARE: &str = env!("CARGO_BIN_EXE_self-heal-prepare");
const TOKEN: &str = "recipes-token-4d1e";

/// A sandbox with the fixture repository committed, its log copied next to it, and the real
/// `developer-agent` running with its data in `data/` and its TMPDIR in `tmp/`.
struct Setup {
    sb: Sandbox,
    agent: Agent,
}

impl Setup {
    fn new(fixture: &str) -> Setup {
        let sb = sandbox(Some(fixture));
        commit_all(&sb.repo());
        std::fs::copy(
            format!("{FIXTURES}/{fixture}.log"),
            sb.root().join("job.log"),
        )
        .expect("copy log");
        std::fs::create_dir_all(sb.root().join("tmp")).expect("mkdir tmp");
        let agent = start_agent(sb.root());
        Setup { sb, agent }
    }

    fn root(&self) -> &Path {
        self.sb.root()
    }

    /// Runs `ci-logs-ship --repo repo --log job.log --out out` (hermetic) and returns the
    /// status artifact.
    fn ship(&self, extra: &[&str]) -> serde_json::Value {
        let o = hermetic(SHIP, self.root())
            .env("AGENT_URL", &self.agent.url)
            .env("AGENT_TOKEN", TOKEN)
            .env("GITHUB_RUN_ID", "7007")
            .env("GITHUB_REPOSITORY", "o/r")
            .args(["--out", "out", "--repo", "repo", "--log", "job.log"])
            .args(extra)
            .output()
            .expect("run ci-logs-ship");
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{stdout}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!stdout.contains(TOKEN));
        let s = read_json(&self.sb.out().join("agent/ship-status.json"));
        assert_eq!(s["status"], "answered", "{s}");
        s
    }

    fn answer_path(&self) -> PathBuf {
        self.sb.out().join("agent/developer-agent-answer.json")
    }

    /// The single entry the server stored for run 7007.
    fn stored_entry(&self) -> PathBuf {
        let run = self.root().join("data/logs/7007");
        let entries: Vec<PathBuf> = std::fs::read_dir(&run)
            .expect("run dir")
            .map(|e| e.expect("entry").path())
            .collect();
        assert_eq!(entries.len(), 1, "{entries:?}");
        entries[0].clone()
    }

    /// `self-heal-prepare` with (or without) the answer, then `fix-agent-prepare`; returns the
    /// fix input.
    fn prepare(&self, answer: Option<&Path>, policy: Option<&Path>) -> FixInput {
        let mut c = hermetic(HEAL_PREPARE, self.root());
        c.args(["--out", "out", "--log", "job.log"]);
        if let Some(a) = answer {
            c.arg("--developer-agent-response").arg(a);
        }
        let o = c.output().expect("self-heal-prepare");
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        let mut c = hermetic(PREPARE, self.root());
        c.args(["--out", "out", "--repo", "repo"]);
        if let Some(p) = policy {
            c.arg("--policy").arg(p);
        }
        let o = c.output().expect("fix-agent-prepare");
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        ci_remedy::artifact::read_json(&self.sb.out().join("fix-agent/input.json")).expect("input")
    }

    fn apply(&self, policy: Option<&Path>) {
        let mut c = hermetic(APPLY, self.root());
        c.args(["--out", "out", "--repo", "repo"]);
        if let Some(p) = policy {
            c.arg("--policy").arg(p);
        }
        let o = c.output().expect("fix-agent-apply");
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// The server's temporary directory holds nothing once a request is answered.
    fn assert_tmp_empty(&self) {
        let left: Vec<_> = std::fs::read_dir(self.root().join("tmp"))
            .expect("tmp")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert!(left.is_empty(), "left in TMPDIR: {left:?}");
    }
}

fn start_agent(root: &Path) -> Agent {
    Agent::start(
        &[
            ("AGENT_TOKEN", TOKEN),
            ("TMPDIR", root.join("tmp").to_str().expect("utf8")),
        ],
        &[
            "--data-dir",
            root.join("data").to_str().expect("utf8"),
            "--request-timeout",
            "60s",
        ],
    )
}

/// The whole chain for one fixture: the answer carries the recipe's instruction, the local
/// recipe's identical one is dropped, the guard accepts it and `git apply --check` takes the
/// patch. Returns the setup for further checks.
fn end_to_end(fixture: &str, edited: &str, added_line: &str) -> Setup {
    let s = Setup::new(fixture);
    let status = s.ship(&[]);
    let sent = &status["repository"];
    assert!(sent["paths"].as_u64().expect("paths") >= 4, "{status}");
    assert!(
        sent["files"]
            .as_array()
            .expect("files")
            .iter()
            .any(|f| f == edited),
        "{status}"
    );

    // The answer: one instruction from the recipe, tagged developer-agent, within the limits.
    let answer = read_json(&s.answer_path());
    let parsed =
        ci_remedy::artifact::parse_answer(answer.to_string().as_bytes()).expect("valid answer");
    assert_eq!(
        parsed.fix_agent_instructions.len(),
        1,
        "{}",
        answer["fix_agent_instructions"]
    );
    let ins = &parsed.fix_agent_instructions[0];
    assert_eq!(ins.source.as_deref(), Some("developer-agent"));
    ci_remedy::fix::validate_instructions(&parsed.fix_agent_instructions).expect("limits");
    let edit = serde_json::to_value(&ins.edits[0]).expect("edit");
    assert_eq!(edit["path"], edited, "{edit}");
    assert!(
        edit["replacement"]
            .as_str()
            .expect("replacement")
            .contains(added_line),
        "{edit}"
    );

    // The server stored the section it worked from and what the recipes did; its temporary
    // tree is gone.
    let entry = s.stored_entry();
    let stored = read_json(&entry.join("payload.json"));
    let repo = &stored["repository"];
    let paths: Vec<&str> = repo["paths"]
        .as_array()
        .expect("paths")
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    assert!(paths.contains(&edited), "{paths:?}");
    assert!(!paths.iter().any(|p| p.starts_with(".git/")), "{paths:?}");
    let file = repo["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["path"] == edited)
        .expect("edited file sent");
    assert_eq!(
        file["content"].as_str().expect("content"),
        std::fs::read_to_string(s.sb.repo().join(edited)).expect("read")
    );
    let recipes = read_json(&entry.join("recipes.json"));
    assert_eq!(recipes["materialized"]["files"], paths.len(), "{recipes}");
    assert_eq!(recipes["instructions"].as_array().expect("list").len(), 1);
    s.assert_tmp_empty();

    // Without the answer the local recipe makes the same edits…
    let local = s.prepare(None, None);
    assert_eq!(local.instructions.len(), 1, "{:?}", local.notes);
    assert!(local.instructions[0]
        .source
        .as_deref()
        .is_some_and(|x| x.starts_with("recipe:")));
    assert_eq!(local.instructions[0].edits, ins.edits);
    // …so with it, the answer's instruction comes first and the recipe's duplicate is dropped.
    let merged = s.prepare(Some(&s.answer_path()), None);
    assert_eq!(merged.instructions.len(), 1, "{:?}", merged.instructions);
    assert_eq!(
        merged.instructions[0].source.as_deref(),
        Some("developer-agent")
    );
    assert_eq!(merged.instructions[0].edits, ins.edits);

    s.apply(None);
    let m = read_metadata(&s.sb.out());
    assert_eq!(
        m.guardrails.decision,
        GuardDecision::Accepted,
        "{:?}",
        m.guardrails
    );
    let patch = read_patch(&s.sb.out());
    assert!(
        patch
            .lines()
            .any(|l| l.starts_with('+') && !l.starts_with("+++") && l.contains(added_line)),
        "{patch}"
    );
    prove_patch(&s.sb.repo(), &s.sb.out().join("fix-agent/patch-local.diff"));
    s
}

#[test]
fn dockerignore_incident_fixed_from_the_developer_agent_answer() {
    let s = end_to_end(
        "dockerignore-incident",
        ".dockerignore",
        "!data/pricing.json",
    );
    let stderr = s.agent.stop();
    assert!(!stderr.contains(TOKEN), "{stderr}");
}

#[test]
fn import_case_fixed_from_the_developer_agent_answer() {
    end_to_end("import-case", "src/app.js", "require('./util')");
}

#[test]
fn answer_instructions_still_pass_the_guard() {
    let s = Setup::new("dockerignore-incident");
    s.ship(&[]);
    // A policy whose allowlist leaves .dockerignore out: the answer's instruction is refused.
    let policy = s.root().join("policy.yml");
    std::fs::write(&policy, "fix-agent:\n  allow: [\"src/**\"]\n").expect("policy");
    let input = s.prepare(Some(&s.answer_path()), Some(&policy));
    assert_eq!(
        input.instructions[0].source.as_deref(),
        Some("developer-agent")
    );
    s.apply(Some(&policy));
    let m = read_metadata(&s.sb.out());
    assert_eq!(m.guardrails.decision, GuardDecision::Rejected);
    assert!(
        m.guardrails
            .refused
            .iter()
            .any(|r| r.path == ".dockerignore" && r.code == "not_allowed"),
        "{:?}",
        m.guardrails.refused
    );
    assert_eq!(read_patch(&s.sb.out()), "");

    // An answer (from any service) naming a workflow file and exceeding the caps is refused
    // by the same guard.
    let mut answer = read_json(&s.answer_path());
    let big: String = (0..300).map(|i| format!("line {i}\n")).collect();
    answer["fix_agent_instructions"] = serde_json::json!([
        {"summary": "touch the workflow", "edits": [
            {"op": "create", "path": ".github/workflows/ci.yml", "content": "on: push\n"}]},
        {"summary": "a big file", "edits": [
            {"op": "create", "path": "src/big.js", "content": big}]}
    ]);
    let crafted = s.root().join("crafted-answer.json");
    std::fs::write(&crafted, answer.to_string()).expect("write");
    let input = s.prepare(Some(&crafted), None);
    assert_eq!(input.instructions.len(), 3, "{:?}", input.instructions);
    s.apply(None);
    let m = read_metadata(&s.sb.out());
    assert_eq!(m.guardrails.decision, GuardDecision::Rejected);
    let codes: Vec<(&str, &str)> = m
        .guardrails
        .refused
        .iter()
        .map(|r| (r.path.as_str(), r.code.as_str()))
        .collect();
    assert!(
        codes.contains(&(".github/workflows/ci.yml", "denied_builtin")),
        "{codes:?}"
    );
    assert!(
        codes.iter().any(|(_, c)| *c == "max_changed_lines"),
        "{codes:?}"
    );
    assert_eq!(read_patch(&s.sb.out()), "");
    assert!(!s.sb.repo().join(".github").exists());
}

#[test]
fn ship_repository_false_sends_no_repository_section() {
    let s = Setup::new("dockerignore-incident");
    let policy = s.root().join("policy.yml");
    std::fs::write(&policy, "version: 1\nship:\n  repository: false\n").expect("policy");
    let status = s.ship(&["--policy", policy.to_str().expect("utf8")]);
    assert!(status.get("repository").is_none(), "{status}");
    let sent = read_json(&s.sb.out().join("agent/payload.json"));
    assert!(sent.get("repository").is_none());
    let stored = read_json(&s.stored_entry().join("payload.json"));
    assert!(stored.get("repository").is_none(), "{stored}");
    assert!(!s.stored_entry().join("recipes.json").exists());
    let answer = read_json(&s.answer_path());
    assert_eq!(answer["fix_agent_instructions"], serde_json::json!([]));
    // No file of the checkout reached the server.
    for f in files_under(&s.root().join("data")) {
        let text = std::fs::read_to_string(s.root().join("data").join(&f)).expect("read");
        assert!(!text.contains("FROM node"), "{f}: {text}");
    }
}

fn post(agent: &Agent, body: &serde_json::Value) -> (u16, serde_json::Value) {
    let resp = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
        .post(format!("{}/process-logs", agent.url))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(serde_json::to_vec(body).expect("json"))
        .send()
        .expect("send");
    let status = resp.status().as_u16();
    let text = resp.text().expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

fn with_repo(repo: serde_json::Value) -> serde_json::Value {
    let mut p = payload(
        "66",
        "Error: Pricing file not found: /app/data/pricing.json\n",
    );
    p["repository"] = repo;
    p
}

fn fields(body: &serde_json::Value) -> Vec<String> {
    body["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn hostile_repository_sections_are_refused_or_ignored_and_nothing_escapes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("tmp")).expect("mkdir");
    std::fs::write(root.join("canary.txt"), "canary\n").expect("write");
    let agent = start_agent(root);
    let before = snapshot(root, &["data"]);
    let escape = format!("ci-remedy-escape-{}", std::process::id());

    let cases: Vec<(serde_json::Value, Vec<String>)> = vec![
        (
            serde_json::json!({"paths": [
                format!("../../{escape}"), format!("/{escape}"), "a/../../b", ".git/config",
                "a\\b", "ok.txt", "src/../../../x"]}),
            vec![
                "repository.paths[0]".into(),
                "repository.paths[1]".into(),
                "repository.paths[2]".into(),
                "repository.paths[3]".into(),
                "repository.paths[4]".into(),
                "repository.paths[6]".into(),
            ],
        ),
        (
            serde_json::json!({"files": [
                {"path": format!("../{escape}"), "content": "boom"},
                {"path": "../../canary.txt", "content": "overwritten"}]}),
            vec![
                "repository.files[0].path".into(),
                "repository.files[1].path".into(),
            ],
        ),
        (
            serde_json::json!({"files": [{"path": "big.txt", "content": "x".repeat(256 * 1024 + 1)}]}),
            vec!["repository.files[0].content".into()],
        ),
        (
            serde_json::json!({"paths": (0..100_000).map(|i| format!("f/{i}.txt")).collect::<Vec<_>>()}),
            vec!["repository.paths".into()],
        ),
        (
            serde_json::json!({"files": (0..33).map(|i| serde_json::json!({"path": format!("f{i}"), "content": ""})).collect::<Vec<_>>()}),
            vec!["repository.files".into()],
        ),
        (
            serde_json::json!("not an object"),
            vec!["repository".into()],
        ),
        (
            serde_json::json!({"paths": [1, "ok"], "files": [{"path": "a"}]}),
            vec![
                "repository.paths[0]".into(),
                "repository.files[0].content".into(),
            ],
        ),
    ];
    for (repo, expected) in cases {
        let (status, body) = post(&agent, &with_repo(repo));
        assert_eq!(status, 400, "{body}");
        assert_eq!(fields(&body), expected, "{body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    // 400s store nothing.
    assert!(files_under(&root.join("data")).is_empty());

    // A valid section with conflicting entries: the conflicts are ignored, the answer comes.
    let (status, body) = post(
        &agent,
        &with_repo(serde_json::json!({
            "paths": ["x", "x/y", "data/pricing.json", "src/a.js", "src/a.js/inner"],
            "files": [{"path": "Dockerfile", "content": "FROM node\nWORKDIR /app\nCOPY . .\n"},
                      {"path": ".dockerignore", "content": "data\n"}]
        })),
    );
    assert_eq!(status, 200, "{body}");
    // The recipe found the excluded file in the rebuilt tree.
    let ins = &body["fix_agent_instructions"];
    assert_eq!(ins.as_array().expect("list").len(), 1, "{body}");
    assert_eq!(ins[0]["source"], "developer-agent");
    let entry = files_under(&root.join("data"))
        .into_iter()
        .find(|f| f.ends_with("recipes.json"))
        .expect("recipes.json");
    let recipes = read_json(&root.join("data").join(entry));
    assert_eq!(recipes["materialized"]["files"], 5, "{recipes}");
    let ignored: Vec<&str> = recipes["materialized"]["ignored"]
        .as_array()
        .expect("ignored")
        .iter()
        .filter_map(|i| i["path"].as_str())
        .collect();
    assert_eq!(ignored, vec!["x/y", "src/a.js/inner"]);

    // The largest listing accepted is rebuilt and cleaned up within the request.
    let started = std::time::Instant::now();
    let (status, body) = post(
        &agent,
        &with_repo(serde_json::json!({
            "paths": (0..20_000).map(|i| format!("d{}/f{i}.txt", i % 100)).collect::<Vec<_>>()
        })),
    );
    assert_eq!(status, 200, "{body}");
    assert!(started.elapsed() < Duration::from_secs(60));
    let rebuilt: Vec<u64> = files_under(&root.join("data"))
        .into_iter()
        .filter(|f| f.ends_with("recipes.json"))
        .map(|f| {
            read_json(&root.join("data").join(f))["materialized"]["files"]
                .as_u64()
                .expect("files")
        })
        .collect();
    assert!(rebuilt.contains(&20_000), "{rebuilt:?}");

    // Nothing outside the data directory changed, TMPDIR is empty again, nothing escaped.
    assert_eq!(before, snapshot(root, &["data"]));
    let left: Vec<_> = std::fs::read_dir(root.join("tmp"))
        .expect("tmp")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    for p in [
        PathBuf::from("/").join(&escape),
        root.parent().expect("parent").join(&escape),
    ] {
        assert!(!p.exists(), "{}", p.display());
    }
    assert_eq!(
        std::fs::read_to_string(root.join("canary.txt")).expect("canary"),
        "canary\n"
    );
}

#[test]
fn without_a_usable_temporary_directory_the_answer_just_has_no_instructions() {
    // TMPDIR is where the tree is rebuilt: pointing it nowhere shows it is used, and that a
    // failure there costs only the instructions.
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = Agent::start(
        &[
            ("AGENT_TOKEN", TOKEN),
            ("TMPDIR", dir.path().join("missing").to_str().expect("utf8")),
        ],
        &[
            "--data-dir",
            dir.path().join("data").to_str().expect("utf8"),
        ],
    );
    let (status, body) = post(
        &agent,
        &with_repo(serde_json::json!({
            "paths": ["data/pricing.json"],
            "files": [{"path": "Dockerfile", "content": "FROM node\nWORKDIR /app\nCOPY . .\n"},
                      {"path": ".dockerignore", "content": "data\n"}]
        })),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["fix_agent_instructions"], serde_json::json!([]));
    assert!(body["classification"]["category"].is_string());
    let stderr = agent.stop();
    assert!(stderr.contains("the fix recipes did not run"), "{stderr}");
    assert!(!stderr.contains(TOKEN));
}
