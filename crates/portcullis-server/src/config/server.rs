//! Sections of how the process runs: `server`, `database`, `log`.

use std::net::SocketAddr;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::common::{ConfigError, Problems};

/// `[server]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Listen address (default `127.0.0.1:8080`).
    pub bind: SocketAddr,
    /// HTTP worker threads; 0 = one per core.
    pub workers: usize,
    /// Seconds to let in-flight requests finish on shutdown.
    pub shutdown_timeout_secs: u64,
    /// Seconds between SIGTERM and the server no longer accepting connections, during which
    /// `/health/ready` answers 503 while every other request is still served, so a load
    /// balancer stops sending new requests before the node goes away.
    pub shutdown_drain_secs: u64,
    /// Largest request body in bytes.
    pub body_limit_bytes: usize,
    /// Proxies (CIDRs or single addresses) whose `X-Forwarded-For` names the client. Empty:
    /// the socket peer is always the client.
    pub trusted_proxies: Vec<String>,
    /// Longest request path and query in bytes (414 beyond).
    pub max_uri_bytes: usize,
    /// Most request header bytes, names and values together (431 beyond).
    pub max_header_bytes: usize,
    /// Most request headers (431 beyond).
    pub max_headers: usize,
    /// Origins (`https://app.example.com`, exactly as a browser sends them: scheme, host and
    /// a port other than the scheme's default) whose pages may call the API. Empty: no CORS
    /// headers at all, so only same-origin pages and non-browser clients can call it.
    pub cors_allowed_origins: Vec<String>,
    /// How long a browser may reuse a preflight's answer (`Access-Control-Max-Age`), seconds.
    pub cors_max_age_secs: u64,
    /// `production` (the default) or `development` (what `scripts/run.sh` uses): the defaults
    /// that differ between a deployment and a laptop.
    pub profile: Profile,
    /// The URL clients reach this service at (`https://auth.example.com`, or with a path
    /// prefix), for the absolute URLs it hands out (`avatar_url`). Unset: `http://` + `bind`.
    pub public_url: Option<String>,
    /// Refuse to start when a signing or MFA key would be generated (rather than read from the
    /// configuration). Unset: on in `production`, off in `development`.
    pub require_configured_keys: Option<bool>,
}

/// Where the service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// A deployment: fail-safe defaults.
    #[default]
    Production,
    /// A developer's machine or a test: keys may be generated and kept in the database.
    Development,
}

impl ServerConfig {
    /// The public base URL, without a trailing `/`.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.bind),
        }
    }

    /// Whether a missing signing or MFA key refuses the start.
    pub fn requires_configured_keys(&self) -> bool {
        self.require_configured_keys
            .unwrap_or(self.profile == Profile::Production)
    }
}

impl ServerConfig {
    /// `trusted_proxies` parsed; a bare address is a /32 or /128.
    pub fn trusted_proxies(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map(|net| unmapped(net).trunc())
                    .map_err(|_| {
                        ConfigError(format!(
                            "server.trusted_proxies: {entry:?} is not a CIDR (10.0.0.0/8) or an address"
                        ))
                    })
            })
            .collect()
    }
}

/// An IPv4-mapped IPv6 net (`::ffff:10.0.0.0/104`) as the IPv4 net it means: peers are compared
/// in their IPv4 form, so the mapped form would never match anyone.
fn unmapped(net: ipnet::IpNet) -> ipnet::IpNet {
    match net {
        ipnet::IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).map_or(net, ipnet::IpNet::V4),
            None => net,
        },
        other => other,
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            workers: 0,
            shutdown_timeout_secs: 30,
            shutdown_drain_secs: 5,
            body_limit_bytes: 64 * 1024,
            trusted_proxies: Vec::new(),
            max_uri_bytes: 4096,
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            cors_allowed_origins: Vec::new(),
            cors_max_age_secs: 600,
            profile: Profile::Production,
            public_url: None,
            require_configured_keys: None,
        }
    }
}

/// `[database]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://…` (PostgreSQL: several nodes) or `sqlite://PATH` (SQLite: one node); also
    /// read from `DATABASE_URL`. Unset: SQLite at `sqlite_path`.
    pub url: Option<SecretString>,
    /// The SQLite file used when `url` is unset (created with its directory on first start).
    pub sqlite_path: std::path::PathBuf,
    /// A file holding `url` (it carries the database password).
    pub url_file: Option<std::path::PathBuf>,
    /// Pool size.
    pub max_connections: usize,
    /// Wait for a free connection before answering 503, in ms.
    pub acquire_timeout_ms: u64,
    /// Connection set-up limit, in ms.
    pub connect_timeout_ms: u64,
    /// `statement_timeout` of every connection, in ms.
    pub statement_timeout_ms: u64,
    /// Apply pending migrations at start-up (under an advisory lock).
    pub migrate_on_start: bool,
    /// Keep session liveness in memory, invalidated by the database's notifications (one
    /// more connection per process, outside the pool); off reads it on every request.
    pub liveness_cache: bool,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            url_file: None,
            sqlite_path: std::path::PathBuf::from(".data/portcullis.db"),
            max_connections: 16,
            acquire_timeout_ms: 2_000,
            connect_timeout_ms: 5_000,
            statement_timeout_ms: 5_000,
            migrate_on_start: true,
            liveness_cache: true,
        }
    }
}

/// `[log]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// `tracing` filter, e.g. `info` or `portcullis=debug,info`. `RUST_LOG` wins when set.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info".into(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable.
    Text,
    /// One JSON object per line.
    Json,
}

impl ServerConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Problems::default();
        if self.body_limit_bytes < 1024 {
            problems.push("server.body_limit_bytes must be at least 1024");
        }
        if self.shutdown_drain_secs > 300 {
            problems.push("server.shutdown_drain_secs must be at most 300");
        }
        problems.add(self.trusted_proxies());
        if let Some(url) = &self.public_url {
            match url::Url::parse(url) {
                Ok(u)
                    if matches!(u.scheme(), "http" | "https")
                        && u.host_str().is_some_and(|h| !h.is_empty())
                        && u.query().is_none()
                        && u.fragment().is_none()
                        && u.username().is_empty() => {}
                _ => problems.push(format!(
                    "server.public_url {url:?} must be an http(s) URL without query or fragment, \
                     such as https://auth.example.com"
                )),
            }
        }
        for origin in &self.cors_allowed_origins {
            problems.add(check_origin(origin));
        }
        if self.cors_max_age_secs > 86_400 {
            problems.push("server.cors_max_age_secs must be at most 86400 (browsers cap it lower anyway)");
        }
        let sv = self;
        if !(256..=16 * 1024).contains(&sv.max_uri_bytes)
            || !(1024..=64 * 1024).contains(&sv.max_header_bytes)
            || !(8..=90).contains(&sv.max_headers)
        {
            problems.push(
                "server: max_uri_bytes must be 256 to 16384, max_header_bytes 1024 to 65536, max_headers 8 to 90",
            );
        }
        problems.into_result()
    }
}

impl DatabaseConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Problems::default();
        if self.max_connections == 0 {
            problems.push("database.max_connections must be at least 1");
        }
        // Checked without ever quoting it: it carries the database password.
        match self.url.as_ref().filter(|u| !u.expose_secret().is_empty()) {
            None if self.sqlite_path.as_os_str().is_empty() => {
                problems.push("database.sqlite_path must name a file when database.url is unset");
            }
            None => {}
            Some(url)
                if url.expose_secret().starts_with("sqlite:")
                    && portcullis_sqlite::path_of(url.expose_secret()).is_empty() =>
            {
                problems.push("database.url must be sqlite://PATH (or sqlite://:memory:)");
            }
            Some(url) if url.expose_secret().starts_with("sqlite:") => {}
            Some(url) => match url::Url::parse(url.expose_secret()) {
                Ok(u)
                    if matches!(u.scheme(), "postgres" | "postgresql")
                        && u.host_str().is_some_and(|h| !h.is_empty()) => {}
                Ok(_) => {
                    problems.push("database.url must be postgres://user:password@host:port/database or sqlite://PATH")
                }
                Err(e) => problems.push(format!(
                    "database.url does not parse ({e}); it must be postgres://user:password@host:port/database"
                )),
            },
        }
        problems.into_result()
    }
}

/// An origin as a browser sends it in `Origin`: `scheme://host[:port]`, lower case, no path,
/// no default port. Anything else would never match, so it is refused rather than ignored.
fn check_origin(origin: &str) -> Result<(), ConfigError> {
    let bad = |why: &str| {
        Err(ConfigError(format!(
            "server.cors_allowed_origins: {origin:?} {why}; write it as a browser sends it, e.g. https://app.example.com"
        )))
    };
    if origin == "*" || origin == "null" {
        return bad("would let any page act for a signed-in user");
    }
    let Ok(url) = url::Url::parse(origin) else {
        return bad("is not a URL");
    };
    if !matches!(url.scheme(), "http" | "https") {
        return bad("is not http or https");
    }
    if url.origin().ascii_serialization() != origin {
        return bad("is not an origin (a path, a trailing slash, upper case or a default port)");
    }
    Ok(())
}

impl LogConfig {
    /// Checks the filter as the logger will read it: a typo is an error, not a silent logger.
    pub fn validate(&self) -> Result<(), ConfigError> {
        // A bare word is a level, or it is taken as a target to log everything of, so `infoo`
        // would parse and then log nothing: refuse words that are neither a level nor
        // `target=level`.
        const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
        for directive in self.filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            if !directive.contains('=')
                && !directive.contains('[')
                && !LEVELS.contains(&directive.to_ascii_lowercase().as_str())
            {
                return Err(ConfigError(format!(
                    "log.filter: {directive:?} is neither a level (trace, debug, info, warn, error, off) nor target=level"
                )));
            }
        }
        tracing_subscriber::EnvFilter::builder()
            .parse(&self.filter)
            .map(drop)
            .map_err(|e| {
                ConfigError(format!(
                    "log.filter {:?} is not a filter ({e}); e.g. info or portcullis=debug,info",
                    self.filter
                ))
            })
    }
}
