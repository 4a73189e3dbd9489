//! `[metrics]`: the Prometheus endpoint.

use std::net::SocketAddr;

use serde::Deserialize;

use super::common::ConfigError;

/// `[metrics]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `GET /metrics` (Prometheus text format).
    pub enabled: bool,
    /// Serve it on this address only (and not on `server.bind`), so it need not be public.
    pub bind: Option<SocketAddr>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            bind: None,
        }
    }
}

impl MetricsConfig {
    /// Checks the settings against the server's.
    pub fn validate(&self, server_bind: SocketAddr) -> Result<(), ConfigError> {
        match self.bind {
            Some(bind) if bind == server_bind && bind.port() != 0 => Err(ConfigError(format!(
                "metrics.bind must differ from server.bind ({bind})"
            ))),
            _ => Ok(()),
        }
    }
}
