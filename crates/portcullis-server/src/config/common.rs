//! What every section shares: its error, and seconds as a duration.

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

/// The problems one section's check finds: every one of them, not only the first.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<String>);

impl Problems {
    /// Records a problem.
    pub(crate) fn push(&mut self, message: impl Into<String>) {
        self.0.push(message.into());
    }

    /// Records the problem of a check that failed.
    pub(crate) fn add<T>(&mut self, checked: Result<T, ConfigError>) {
        if let Err(e) = checked {
            self.0.push(e.0);
        }
    }

    /// Every problem, one per line; `Ok` when there were none.
    pub(crate) fn into_result(self) -> Result<(), ConfigError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(self.0.join("\n")))
        }
    }
}

/// A validated count of seconds as a duration (validation keeps every setting far below the
/// range where this could saturate).
pub fn seconds(secs: u64) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1000))
}
