//! What every handler shares.

use portcullis_domain::{AuthService, PasswordPolicy, UsernamePolicy};

/// Shared, immutable application state, built once by the composition root.
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
}
