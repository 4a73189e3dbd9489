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
    pub avatar_uploads: crate::AvatarUploads,
}
