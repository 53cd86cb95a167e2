//! The Cloud-Agent / Developer-Agent exchange (issue 7): CI ships redacted log tails to a
//! classification service and gets back a [`crate::artifact::DeveloperAgentAnswer`].
//!
//! - [`payload`]: the wire types ([`payload::LogsPayload`], the Cloud-Agent envelope, error
//!   bodies) and strict payload validation with field names.
//! - [`ship`]: the client side (`ci-logs-ship`): payload building, posting, answer
//!   validation, the status artifact.
//! - [`repository`]: the payload's optional repository section: collected by the client
//!   (file listing + the files the fix recipes read), rebuilt by the server in a temporary
//!   directory to run the recipes for the answer's `fix_agent_instructions`.
//! - [`server`]: the `developer-agent` HTTP server (axum): both endpoints, token checks, limits.
//! - [`model`]: the server's language model, asked when the recipes propose nothing.
//! - [`listen`]: its accept loop (hyper): header and idle timeouts, the connection bound.
//! - [`store`]: payload storage under `<data-dir>/logs/<run_id>/`.
//!
//! The JSON Schemas of the payload, the answers and the status artifact come from
//! [`schemas`]; the documentation is docs/developer-agent.md.

pub mod listen;
pub mod model;
pub mod payload;
pub mod repository;
pub mod server;
pub mod ship;
pub mod store;

use schemars::{schema_for, JsonSchema};

fn schema<T: JsonSchema>() -> serde_json::Value {
    serde_json::to_value(schema_for!(T)).unwrap_or(serde_json::Value::Null)
}

/// The JSON Schemas of this module's wire types, as (file name under `schemas/`, schema):
/// `ci-logs-payload.schema.json` (the body of `POST /api/ci/logs` and `POST /process-logs`),
/// `cloud-agent-answer.schema.json` (the answer of `/api/ci/logs`; `/process-logs` answers the
/// bare `developer-agent-answer.schema.json`), `agent-error.schema.json` (error bodies) and
/// `ci-logs-ship-status.schema.json` (`agent/ship-status.json`).
pub fn schemas() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        (
            "ci-logs-payload.schema.json",
            schema::<payload::LogsPayload>(),
        ),
        (
            "cloud-agent-answer.schema.json",
            schema::<payload::CloudAgentEnvelope>(),
        ),
        ("agent-error.schema.json", schema::<payload::ErrorBody>()),
        (
            "ci-logs-ship-status.schema.json",
            schema::<ship::ShipStatus>(),
        ),
    ]
}
