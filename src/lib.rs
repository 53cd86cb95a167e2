//! ci-remedy: auditable CI failure triage for GitHub Actions.
//!
//! The pipeline (see `DESIGN.md` in the shared docs and the README) is a chain of small binaries
//! that read and write versioned JSON artifacts:
//!
//! - [`logs`]: find and read CI logs (files, directories, globs, GitHub log zips, `gh run view
//!   --log` output), strip timestamps and ANSI colour codes, redact secrets.
//! - [`classify`]: the rule pack, the streaming scanner and evidence ranking.
//! - [`reports`]: test reports (JUnit XML, Playwright JSON) to failed tests.
//! - [`policy`]: the repository's `.github/ci-remedy.yml`, validated once.
//! - [`heal`]: self-heal gates (decide) and named safe actions (execute).
//! - [`fix`]: fix-agent instructions, the guard, diffs, validation and PR text.
//! - [`github`]: the Actions environment and workflow commands.
//! - [`artifact`]: the JSON contracts and atomic writes.
//! - [`net`]: HTTP client policy (timeouts, retries, bearer tokens that never print).
//! - [`agent`]: the Cloud-Agent / Developer-Agent payload, client, server and storage.
//! - [`notify`]: escalation messages to Slack, Discord or a generic webhook.
//! - [`dashboard`]: `ci-dashboard`'s job summary, static site and `dashboard.json`.
//! - [`prepare`]: `self-heal-prepare`'s pipeline (collect, classify, redact).
//! - [`smoke`]: `ci-smoke`'s checks against a deployed service (health wait, expectations,
//!   server-sent events, baselines, log patterns).
//! - [`text`]: cutting text to a byte budget without splitting a character or a credential.
#![forbid(unsafe_code)]

pub mod agent;
pub mod artifact;
pub mod classify;
pub mod cli;
pub mod dashboard;
pub mod digest;
pub mod fix;
pub mod github;
pub mod heal;
pub mod logs;
pub mod net;
pub mod notify;
pub mod policy;
pub mod prepare;
pub mod process;
pub mod reports;
pub mod smoke;
pub mod text;

/// The crate version, as written into every artifact's `tool.version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
