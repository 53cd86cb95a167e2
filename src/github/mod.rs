//! The GitHub Actions environment (`GITHUB_*` variables) and workflow commands (outputs, job
//! summary, annotations), escaped so untrusted text can never become a command.

pub mod api;
pub mod commands;
pub mod env;
pub mod summary;
