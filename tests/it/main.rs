//! The integration tests: one test binary (`cargo test --test it`), one module per area.
//! Every test runs the real binaries (`CARGO_BIN_EXE_*`) with a hermetic environment
//! (`common::bin`), against real files, real git and HTTP servers on 127.0.0.1 (one stub
//! server, `common::http`).

mod agent_support;
mod common;
mod dashboard_support;
mod fix_model_support;
mod fix_support;
mod github_common;
mod heal_common;
mod smoke_support;

mod action;
mod agent_limits;
mod agent_model;
mod agent_recipes;
mod agent_server;
mod agent_ship;
mod architecture;
mod classify_bins;
mod classify_fixtures;
mod dashboard_browser;
mod dashboard_site;
mod dashboard_summary;
mod fix_attacks;
mod fix_chain;
mod fix_guard;
mod fix_malformed;
mod fix_model;
mod fix_udiff_props;
mod flaky;
mod github_baseline;
mod github_comment;
mod github_decide;
mod github_fetch;
mod github_history;
mod github_pr;
mod heal_decide;
mod heal_execute;
mod heal_github;
mod help;
mod inputs_redact;
mod inputs_reports;
mod inputs_sources;
mod notify_webhook;
mod pipeline;
mod prepare;
mod quarantine;
mod schemas;
mod smoke;
mod smoke_pipeline;
