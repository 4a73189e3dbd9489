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
    /// Without `bind`: the client networks that may read it on the service's address (as
    /// resolved through `server.trusted_proxies`). Default: loopback and private networks.
    pub allowed_networks: Vec<ipnet::IpNet>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            bind: None,
            allowed_networks: [
                "127.0.0.0/8",
                "::1/128",
                "10.0.0.0/8",
                "172.16.0.0/12",
                "192.168.0.0/16",
                "fc00::/7",
            ]
            .iter()
            .filter_map(|net| net.parse().ok())
            .collect(),
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
