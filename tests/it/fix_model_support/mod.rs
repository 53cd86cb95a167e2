//! A fake model provider on 127.0.0.1 for the fix-agent model tests: it speaks the OpenAI
//! Chat Completions and the Anthropic Messages shapes (the routing is the loopback server of
//! `github_common`), answers from a script of recorded answers (one per request, in order),
//! and records every request. Plus the fixture cases of `fixtures/fix-cases/`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::fix_support::{self, Sandbox};
use crate::github_common::{Req, Resp, Server};

pub const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/fix-cases");
/// A recognisable fake key: every output and artifact is grepped for it.
pub const FAKE_KEY: &str = "sk-test-FAKEKEY-0123456789abcdef";
pub const KEY_ENV: &str = "CI_REMEDY_TEST_MODEL_KEY";
pub const SELF_HEAL_PREPARE: &str = env!("CARGO_BIN_EXE_self-heal-prepare");

/// One scripted answer.
#[derive(Clone)]
pub enum Script {
    /// HTTP 200 with this body.
    Ok(Value),
    /// This status, body and extra headers.
    Status(u16, Value, Vec<(String, String)>),
    /// Wait this long, then answer 200 with the body (a timeout test).
    Slow(Duration, Value),
}

/// The API shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Openai,
    Anthropic,
}

impl Shape {
    pub fn name(self) -> &'static str {
        match self {
            Shape::Openai => "openai",
            Shape::Anthropic => "anthropic",
        }
    }
}

/// Starts the fake provider. Requests beyond the script get HTTP 500.
pub fn provider(script: Vec<Script>) -> Server {
    let n = Arc::new(AtomicUsize::new(0));
    Server::start(move |_req: &Req, _base: &str| {
        let i = n.fetch_add(1, Ordering::SeqCst);
        match script.get(i).cloned() {
            Some(Script::Ok(v)) => Resp::json(200, v),
            Some(Script::Status(s, v, headers)) => {
                let mut r = Resp::json(s, v);
                for (k, val) in headers {
                    r = r.with(&k, &val);
                }
                r
            }
            Some(Script::Slow(d, v)) => {
                std::thread::sleep(d);
                Resp::json(200, v)
            }
            None => Resp::json(500, json!({"error": {"message": "script exhausted"}})),
        }
    })
}

/// A Chat Completions answer whose message content is `content`.
pub fn openai_answer(content: &str) -> Value {
    json!({
        "id": "chatcmpl-test", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050},
    })
}

/// A Chat Completions refusal.
pub fn openai_refusal(text: &str) -> Value {
    json!({
        "id": "chatcmpl-test", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "refusal": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 10},
    })
}

/// A Messages answer calling the tool with `input`.
pub fn anthropic_tool(input: Value) -> Value {
    json!({
        "id": "msg_test", "type": "message", "role": "assistant", "model": "m",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "propose_fix", "input": input}],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 1200, "output_tokens": 60},
    })
}

/// A Messages answer with text only (`stop_reason` given).
pub fn anthropic_text(text: &str, stop: &str) -> Value {
    json!({
        "id": "msg_test", "type": "message", "role": "assistant", "model": "m",
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop,
        "usage": {"input_tokens": 1200, "output_tokens": 20},
    })
}

/// The answer in `shape` carrying `answer` (the structured output object).
pub fn answer(shape: Shape, answer: &Value) -> Value {
    match shape {
        Shape::Openai => openai_answer(&answer.to_string()),
        Shape::Anthropic => anthropic_tool(answer.clone()),
    }
}

/// The recorded answer of case `name` for `shape`.
pub fn recorded(name: &str, shape: Shape) -> Value {
    let p = Path::new(CASES)
        .join(name)
        .join(format!("answers/{}.json", shape.name()));
    serde_json::from_slice(&std::fs::read(&p).expect("recorded answer")).expect("json")
}

/// A case copied to a sandbox: the repository committed, its log next to it.
pub struct Case {
    pub sb: Sandbox,
    pub name: String,
}

impl Case {
    pub fn repo(&self) -> PathBuf {
        self.sb.repo()
    }
    pub fn out(&self) -> PathBuf {
        self.sb.out()
    }
    pub fn log(&self) -> PathBuf {
        self.sb.root().join("fail.log")
    }
    pub fn policy(&self) -> PathBuf {
        self.sb.root().join("policy.yml")
    }
}

fn copy_tree(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.expect("walk");
        let dest = to.join(e.path().strip_prefix(from).expect("rel"));
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest).expect("mkdir");
        } else {
            std::fs::copy(e.path(), &dest).expect("copy");
        }
    }
}

/// Copies `fixtures/fix-cases/<name>` into a sandbox (`repo/` committed with git, the log
/// and the policy beside it), adding `model_yaml` (the `model:` mapping, indented 4) to the
/// case's `fix-agent:` policy.
pub fn case(name: &str, model_yaml: &str) -> Case {
    let sb = fix_support::sandbox(None);
    let src = Path::new(CASES).join(name);
    copy_tree(&src.join("repo"), &sb.repo());
    fix_support::commit_all(&sb.repo());
    std::fs::copy(src.join("fail.log"), sb.root().join("fail.log")).expect("log");
    let mut policy = std::fs::read_to_string(src.join("policy.yml")).expect("policy");
    policy.push_str(model_yaml);
    std::fs::write(sb.root().join("policy.yml"), policy).expect("policy");
    Case {
        sb,
        name: name.into(),
    }
}

/// The `model:` block for `shape` against `server`.
pub fn model_yaml(shape: Shape, server: &Server, extra: &str) -> String {
    let base = match shape {
        Shape::Openai => format!("{}/v1", server.url),
        Shape::Anthropic => server.url.clone(),
    };
    format!(
        "  model:\n    provider: {}\n    model: test-model\n    base-url: \"{base}\"\n    api-key-env: {KEY_ENV}\n    price-per-mtok: {{input: 1.0, output: 2.0}}\n{extra}",
        shape.name()
    )
}

/// Output of one step.
pub struct Step {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

fn run(mut cmd: std::process::Command) -> Step {
    let o = cmd.output().expect("runs");
    Step {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// self-heal-prepare on the case's log, then fix-agent-prepare (with the fake key in the
/// environment when `with_key`), then fix-agent-apply; all hermetic.
pub fn pipeline(c: &Case, with_key: bool) -> Vec<Step> {
    let root = c.sb.root();
    let mut steps = Vec::new();
    let mut heal = fix_support::hermetic(SELF_HEAL_PREPARE, root);
    heal.arg("--out").arg(c.out()).arg("--log").arg(c.log());
    steps.push(run(heal));
    for bin in [fix_support::PREPARE, fix_support::APPLY] {
        let mut cmd = fix_support::hermetic(bin, root);
        cmd.arg("--out")
            .arg(c.out())
            .arg("--repo")
            .arg(c.repo())
            .arg("--policy")
            .arg(c.policy());
        if with_key {
            cmd.env(KEY_ENV, FAKE_KEY);
        }
        steps.push(run(cmd));
    }
    steps
}

/// Every file under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            std::fs::read(e.path())
                .map(|b| String::from_utf8_lossy(&b).contains(needle))
                .unwrap_or(false)
        })
        .map(|e| e.path().to_path_buf())
        .collect()
}
