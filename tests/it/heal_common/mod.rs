//! Shared helpers for the self-heal integration tests: hermetic commands, contexts, policies.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use ci_remedy::artifact::{
    Category, Classification, ClassificationSource, Context, DeveloperAgent, DeveloperAgentAnswer,
    DeveloperAgentStatus, Escalation, FailedTest, Finding, HealReport, LogFormat, LogInfo, Outcome,
    Redactions, RerunMode, RunInfo, SelfHealPlan, Tests, ToolInfo, CONTEXT_SCHEMA,
    HEAL_REPORT_SCHEMA,
};

/// [`crate::common::bin`] for binary `exe`, run in `cwd`.
pub fn hermetic(exe: &str, cwd: &Path) -> Command {
    let mut cmd = crate::common::bin(exe);
    cmd.current_dir(cwd);
    cmd
}

pub fn decide_cmd(cwd: &Path) -> Command {
    hermetic(env!("CARGO_BIN_EXE_self-heal-decide"), cwd)
}

pub fn execute_cmd(cwd: &Path) -> Command {
    hermetic(env!("CARGO_BIN_EXE_self-heal-execute"), cwd)
}

/// A test directory: `root/repo` is the repository root, `root/out` the output directory.
pub struct Setup {
    pub dir: tempfile::TempDir,
}

impl Setup {
    pub fn new() -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("repo")).expect("mkdir repo");
        std::fs::create_dir_all(dir.path().join("out/self-heal")).expect("mkdir out");
        Setup { dir }
    }
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    pub fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }
    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }
    pub fn policy(&self) -> PathBuf {
        self.dir.path().join("policy.yml")
    }
    pub fn write_policy(&self, yaml: &str) {
        std::fs::write(self.policy(), yaml).expect("write policy");
    }
    pub fn write_context(&self, ctx: &Context) {
        let text = serde_json::to_string_pretty(ctx).expect("serialize");
        std::fs::write(self.out().join("self-heal/context.json"), text).expect("write context");
    }
    pub fn decision(&self) -> ci_remedy::artifact::Decision {
        let text =
            std::fs::read_to_string(self.out().join("self-heal/decision.json")).expect("decision");
        serde_json::from_str(&text).expect("valid decision")
    }
    pub fn report(&self, run_id: &str) -> ci_remedy::artifact::HealReport {
        let text =
            std::fs::read_to_string(self.out().join(format!("self-heal/report-{run_id}.json")))
                .expect("report");
        serde_json::from_str(&text).expect("valid report")
    }
    /// Runs self-heal-decide with `--out`, `--policy` and extra args.
    pub fn decide(&self, extra: &[&str]) -> std::process::Output {
        let mut cmd = decide_cmd(self.root());
        cmd.arg("--out")
            .arg(self.out())
            .arg("--policy")
            .arg(self.policy())
            .args(extra);
        cmd.output().expect("run decide")
    }
    /// Runs self-heal-execute with `--out`, `--policy`, `--repo-root`, the given environment.
    pub fn execute(&self, env: &[(&str, &str)]) -> std::process::Output {
        let mut cmd = execute_cmd(self.root());
        cmd.arg("--out")
            .arg(self.out())
            .arg("--policy")
            .arg(self.policy())
            .arg("--repo-root")
            .arg(self.repo())
            .envs(env.iter().copied());
        cmd.output().expect("run execute")
    }
}

pub fn local_run() -> RunInfo {
    RunInfo::from_lookup(|_| None)
}

/// A self-heal report of an earlier run `run_id` of workflow `e2e` in `o/r` at `sha`, with
/// this outcome (what the attempts gate counts).
pub fn prior_report(run_id: &str, sha: &str, outcome: Outcome) -> HealReport {
    HealReport {
        schema: HEAL_REPORT_SCHEMA.into(),
        tool: ToolInfo::new("self-heal-execute"),
        run: RunInfo::from_lookup(|k| match k {
            "GITHUB_REPOSITORY" => Some("o/r".into()),
            "GITHUB_WORKFLOW" => Some("e2e".into()),
            "GITHUB_SHA" => Some(sha.into()),
            "GITHUB_RUN_ID" => Some(run_id.into()),
            _ => None,
        }),
        category: Category::Network,
        attempt: 1,
        actions: vec![],
        rerun: None,
        github_rerun: None,
        outcome,
        escalate_to: Escalation::Human,
        detail: String::new(),
        error: None,
    }
}

pub fn finding(category: Category, line: u64) -> Finding {
    Finding {
        rule: "test-rule".into(),
        category,
        log: "job.log".into(),
        line_start: line,
        line_end: line,
        rank: 1,
        score: 1.0,
        excerpt: "error".into(),
        file: None,
        file_line: None,
        step: None,
    }
}

pub fn failed_test(name: &str, id: Option<&str>) -> FailedTest {
    FailedTest {
        name: name.into(),
        id: id.map(str::to_string),
        file: None,
        line: None,
        message: None,
        report: "junit.xml".into(),
    }
}

/// A context classified as `category` with `confidence`, one finding, and the given failed tests.
pub fn context(category: Category, confidence: f64, failed: Vec<FailedTest>) -> Context {
    Context {
        schema: CONTEXT_SCHEMA.into(),
        tool: ToolInfo::new("self-heal-prepare"),
        run: local_run(),
        logs: vec![LogInfo {
            path: "job.log".into(),
            bytes: 10,
            lines: 1,
            sha256: "0".repeat(64),
            format: LogFormat::Plain,
        }],
        tests: Tests {
            reports: vec!["junit.xml".into()],
            failed,
            ..Tests::default()
        },
        findings: vec![finding(category, 1)],
        classification: Classification {
            category,
            kind: category.kind(),
            confidence,
            source: ClassificationSource::Rules,
            evidence: vec![0],
            summary: "test".into(),
        },
        developer_agent: DeveloperAgent {
            status: DeveloperAgentStatus::NotProvided,
            detail: None,
            answer: None,
        },
        redactions: Redactions::default(),
        baseline: None,
        error: None,
    }
}

/// Adds a valid Developer-Agent answer with this plan.
pub fn with_plan(mut ctx: Context, actions: &[&str], rerun: Option<RerunMode>) -> Context {
    let answer: DeveloperAgentAnswer = serde_json::from_value(serde_json::json!({
        "classification": {"category": ctx.classification.category, "confidence": ctx.classification.confidence},
    }))
    .expect("answer");
    ctx.developer_agent = DeveloperAgent {
        status: DeveloperAgentStatus::Valid,
        detail: None,
        answer: Some(DeveloperAgentAnswer {
            self_heal_plan: SelfHealPlan {
                actions: actions.iter().map(|s| s.to_string()).collect(),
                rerun,
            },
            ..answer
        }),
    };
    ctx
}

pub fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// No stdout line may be a workflow command.
pub fn assert_no_workflow_commands(text: &str) {
    for line in text.lines() {
        let t = line.trim_start();
        assert!(
            !t.starts_with("::") && !t.starts_with("##["),
            "workflow command on stdout: {line:?}"
        );
    }
}
