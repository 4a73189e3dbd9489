//! Logging set-up. Log lines never carry a password, token or `Authorization` value: handlers
//! and use cases log ids and outcomes only.

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Targets that log secrets below INFO (statement parameters; SMTP lines with bodies and AUTH),
/// capped at INFO.
const DRIVER_CAPS: &[&str] = &["tokio_postgres=info", "postgres_protocol=info", "lettre=info"];

/// Installs the global subscriber (once; later calls are no-ops).
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.filter));
    // The PostgreSQL driver logs every statement with its parameters at DEBUG: password hashes,
    // emails and the generated keys. Whatever RUST_LOG or log.filter say, it stays at INFO.
    let filter = DRIVER_CAPS.iter().fold(filter, |f, cap| match cap.parse() {
        Ok(directive) => f.add_directive(directive),
        Err(_) => f,
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in files and log collectors.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match config.format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
