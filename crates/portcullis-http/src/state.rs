//! What every handler shares.

use std::sync::Arc;

use ipnet::IpNet;
use portcullis_domain::{AuthService, PasswordPolicy, RateLimiter, UsernamePolicy};

/// Shared, immutable application state, built once by the composition root and shared by every
/// worker (so are the limiter's counters).
#[derive(Debug, Clone)]
pub struct AppState {
    /// The use cases.
    pub auth: AuthService,
    /// Password rules.
    pub passwords: PasswordPolicy,
    /// Username rules.
    pub usernames: UsernamePolicy,
    /// Largest accepted request body in bytes.
    pub body_limit: usize,
    /// Per-client request limits.
    pub limiter: Arc<dyn RateLimiter>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Captcha requirement; `None` when no provider is enabled.
    pub captcha: Option<crate::captcha::CaptchaGate>,
    /// The base of the absolute URLs handed out (`avatar_url`), without a trailing `/`.
    pub public_url: String,
    /// Avatar uploads: their limits, and the places for bodies being read.
    pub avatar_uploads: AvatarUploads,
    /// What `GET /metrics` answers with, and where; `None`: that path is 404 (metrics off).
    pub metrics: Option<MetricsEndpoint>,
    /// Set when the node is about to stop: readiness answers 503 from then on.
    pub draining: Draining,
}

/// Whether the node is draining before it stops (shared by every worker and the signal
/// handler).
#[derive(Debug, Clone, Default)]
pub struct Draining(Arc<std::sync::atomic::AtomicBool>);

impl Draining {
    /// From now on the node is not ready: load balancers take it out while it still serves.
    pub fn start(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether [`start`](Self::start) was called.
    pub fn is_draining(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// `GET /metrics`: the text, and the one local address it is served on (`None`: every
/// address this server listens on).
#[derive(Debug, Clone)]
pub struct MetricsEndpoint {
    /// Renders the metrics.
    pub text: MetricsText,
    /// The listener that alone serves them (and nothing else), if any.
    pub only_on: Option<std::net::SocketAddr>,
    /// On the service's own listener: the client networks that may read them (the client's
    /// address as resolved through `trusted_proxies`); others get 404.
    pub allowed: Vec<ipnet::IpNet>,
}

/// Renders the current metrics in the Prometheus text format.
#[derive(Clone)]
pub struct MetricsText(std::sync::Arc<dyn Fn() -> String + Send + Sync>);

impl MetricsText {
    /// Rendered by `render`.
    pub fn new(render: impl Fn() -> String + Send + Sync + 'static) -> Self {
        Self(std::sync::Arc::new(render))
    }

    /// The metrics now.
    pub fn render(&self) -> String {
        (self.0)()
    }
}

impl std::fmt::Debug for MetricsText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsText")
    }
}

/// What bounds avatar uploads in the HTTP layer: the size of one, how long reading one may take,
/// and how many bodies may be read at once (so bodies in memory are at most `places × limit`).
#[derive(Debug, Clone)]
pub struct AvatarUploads {
    /// Largest upload in bytes.
    pub limit: usize,
    /// How long reading a body may take.
    pub read_timeout: std::time::Duration,
    /// Places for bodies being read.
    pub places: std::sync::Arc<tokio::sync::Semaphore>,
}

impl AvatarUploads {
    /// Bounds of `limit` bytes, `read_timeout`, and `concurrent` bodies at once.
    pub fn new(limit: usize, read_timeout: std::time::Duration, concurrent: usize) -> Self {
        Self {
            limit,
            read_timeout,
            places: std::sync::Arc::new(tokio::sync::Semaphore::new(concurrent.max(1))),
        }
    }
}
