//! JSON Schemas generated from the contract types (schemars, draft 2020-12).
//!
//! `ci-remedy-schemas` writes them to `schemas/`; `ci-remedy-schemas --check` (run by the
//! tests) fails when the committed files drift from the types.

use schemars::{schema_for, JsonSchema};

fn schema<T: JsonSchema>() -> serde_json::Value {
    serde_json::to_value(schema_for!(T)).unwrap_or(serde_json::Value::Null)
}

/// Every schema: (file name, schema).
pub fn all() -> Vec<(&'static str, serde_json::Value)> {
    let mut all = vec![
        ("context.schema.json", schema::<super::Context>()),
        ("decision.schema.json", schema::<super::Decision>()),
        (
            "self-heal-report.schema.json",
            schema::<super::HealReport>(),
        ),
        (
            "developer-agent-answer.schema.json",
            schema::<super::DeveloperAgentAnswer>(),
        ),
        (
            "fix-instructions.schema.json",
            serde_json::to_value(crate::fix::instructions_schema()).unwrap_or_default(),
        ),
        ("fix-input.schema.json", schema::<super::FixInput>()),
        ("fix-metadata.schema.json", schema::<super::FixMetadata>()),
        ("policy.schema.json", schema::<crate::policy::PolicyFile>()),
    ];
    all.extend(crate::agent::schemas());
    all
}

/// The bytes written for a schema: pretty JSON with a trailing newline.
pub fn render(value: &serde_json::Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}
