//! The `classify` section of the policy. (Skeleton: to be completed.)

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::KeyError;

/// Classification settings as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClassifyRaw {}

/// Classification settings, validated.
#[derive(Debug, Clone, Default)]
pub struct ClassifyPolicy {}

impl ClassifyRaw {
    /// Validates this section.
    pub fn validate(self) -> Result<ClassifyPolicy, KeyError> {
        Ok(ClassifyPolicy {})
    }
}
