//! The Portcullis server: configuration, wiring, the `serve` / `migrate` commands and the
//! operators' commands (`operator`).

pub mod app;
pub mod config;
pub mod mail;
pub mod operator;
pub mod operator_users;
pub mod telemetry;

pub use app::{ConfiguredKeys, Overrides, Running, configured_keys, start};
pub use config::Config;
