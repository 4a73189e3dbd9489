//! The Portcullis server: configuration, wiring, and the `serve` / `migrate` commands.

pub mod app;
pub mod config;
pub mod mail;
pub mod telemetry;

pub use app::{ConfiguredKeys, Overrides, Running, configured_keys, start};
pub use config::Config;
