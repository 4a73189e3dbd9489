//! The failure every storage call may return.

/// Failures every storage call may return.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or no connection is free in time (503).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else (500). The text is for logs only.
    #[error("storage failure: {0}")]
    Internal(String),
}
