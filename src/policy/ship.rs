//! The `ship` section of the policy: what `ci-logs-ship` sends to the Cloud-Agent.
//!
//! ```yaml
//! ship:
//!   max-log-bytes: 1048576   # the tail of each log that is sent, in bytes
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::KeyError;

/// The default tail of each log that is sent: 1 MiB.
pub const DEFAULT_MAX_LOG_BYTES: u64 = 1024 * 1024;
/// The largest `max-log-bytes` accepted: 16 MiB.
pub const MAX_MAX_LOG_BYTES: u64 = 16 * 1024 * 1024;

/// Shipping settings as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ShipRaw {
    /// The tail of each log that is sent, in bytes (1 KiB ..= 16 MiB; default 1 MiB). A longer
    /// log is cut at a line start inside that tail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_log_bytes: Option<u64>,
}

/// Shipping settings, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipPolicy {
    /// The tail of each log that is sent, in bytes.
    pub max_log_bytes: u64,
}

impl Default for ShipPolicy {
    fn default() -> Self {
        ShipPolicy {
            max_log_bytes: DEFAULT_MAX_LOG_BYTES,
        }
    }
}

impl ShipRaw {
    /// Validates this section. Errors name `ship.max-log-bytes`.
    pub fn validate(self) -> Result<ShipPolicy, KeyError> {
        let max_log_bytes = self.max_log_bytes.unwrap_or(DEFAULT_MAX_LOG_BYTES);
        if !(1024..=MAX_MAX_LOG_BYTES).contains(&max_log_bytes) {
            return Err(KeyError::new(
                "ship.max-log-bytes",
                format!("{max_log_bytes} is outside 1024..={MAX_MAX_LOG_BYTES} bytes"),
            ));
        }
        Ok(ShipPolicy { max_log_bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_is_bounded() {
        assert_eq!(ShipRaw::default().validate(), Ok(ShipPolicy::default()));
        let err = ShipRaw {
            max_log_bytes: Some(10),
        }
        .validate()
        .expect_err("too small");
        assert_eq!(err.key, "ship.max-log-bytes");
    }
}
