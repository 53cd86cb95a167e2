//! `ci-remedy-schemas`: writes the JSON Schemas of every artifact and of the policy file, or
//! checks that the committed ones are current.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use ci_remedy::artifact::{self, write_atomic};
use ci_remedy::cli::{self, EXIT_FAILED, EXIT_OK};
use schemars::{schema_for, JsonSchema};

/// Write (or check) the JSON Schemas generated from the artifact and policy types.
#[derive(Parser, Debug)]
#[command(
    name = "ci-remedy-schemas",
    version,
    after_help = "Exit codes:\n  0  written, or (with --check) every file is current\n  1  a file could not be written, or (with --check) a file is missing or stale"
)]
struct Args {
    /// The directory holding the schemas.
    #[arg(long, value_name = "DIR", default_value = "schemas")]
    dir: PathBuf,
    /// Only compare; change nothing.
    #[arg(long)]
    check: bool,
}

fn schema<T: JsonSchema>() -> serde_json::Value {
    serde_json::to_value(schema_for!(T)).unwrap_or(serde_json::Value::Null)
}

/// Every schema, as (file name under `schemas/`, JSON Schema draft 2020-12 from schemars): each
/// `ci-remedy/<name>/v1` artifact, the policy file, and the Developer-Agent's wire types. The
/// collection lives here, on top of the layers, so no library module has to know them all.
fn all() -> Vec<(&'static str, serde_json::Value)> {
    let mut all = vec![
        ("context.schema.json", schema::<artifact::Context>()),
        ("decision.schema.json", schema::<artifact::Decision>()),
        (
            "self-heal-report.schema.json",
            schema::<artifact::HealReport>(),
        ),
        (
            "developer-agent-answer.schema.json",
            schema::<artifact::DeveloperAgentAnswer>(),
        ),
        (
            "fix-instructions.schema.json",
            serde_json::to_value(ci_remedy::fix::instructions_schema()).unwrap_or_default(),
        ),
        ("fix-input.schema.json", schema::<artifact::FixInput>()),
        (
            "fix-metadata.schema.json",
            schema::<artifact::FixMetadata>(),
        ),
        (
            "fix-pr-result.schema.json",
            schema::<ci_remedy::github::api::fix_pr::PrResult>(),
        ),
        (
            "policy.schema.json",
            schema::<ci_remedy::policy::PolicyFile>(),
        ),
        (
            "notify.schema.json",
            schema::<ci_remedy::notify::NotifyStatus>(),
        ),
        (
            "notify-state.schema.json",
            schema::<ci_remedy::notify::SentState>(),
        ),
        (
            "notification.schema.json",
            schema::<ci_remedy::notify::Message>(),
        ),
        (
            "dashboard.schema.json",
            schema::<ci_remedy::dashboard::Dashboard>(),
        ),
        (
            "smoke-report.schema.json",
            schema::<artifact::SmokeReport>(),
        ),
        (
            "smoke-checks.schema.json",
            schema::<ci_remedy::smoke::checks::RawChecks>(),
        ),
    ];
    all.extend(ci_remedy::agent::schemas());
    all
}

/// The bytes written for a schema: pretty JSON with a trailing newline.
fn render(value: &serde_json::Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut stale = Vec::new();
    for (name, value) in all() {
        let path = args.dir.join(name);
        let bytes = render(&value);
        if args.check {
            if std::fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
                stale.push(path.display().to_string());
            }
        } else if let Err(e) = write_atomic(&path, &bytes) {
            cli::print_error(&e, None);
            return cli::exit(EXIT_FAILED);
        } else {
            ci_remedy::outln!("wrote {}", path.display());
        }
    }
    if !stale.is_empty() {
        cli::print_error(
            &format!("JSON Schemas out of date: {}", stale.join(", ")),
            Some("run `cargo run --bin ci-remedy-schemas` and commit the result"),
        );
        return cli::exit(EXIT_FAILED);
    }
    cli::exit(EXIT_OK)
}
