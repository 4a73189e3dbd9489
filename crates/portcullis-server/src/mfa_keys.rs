//! Sealing TOTP secrets again after an MFA key rotation: the background job of a node that
//! lists previous keys, and what `portcullis mfa-keys status | reseal` runs.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use portcullis_domain::use_cases::mfa_keys::reseal_totp_secrets;
use portcullis_domain::{MfaKeyring, ResealReport, SecureRandom, Storage};

/// `portcullis mfa-keys …`.
#[derive(Debug, clap::Subcommand)]
pub enum MfaKeysCommand {
    /// Count TOTP secrets by the key that sealed them; change nothing. Exit status 1 while some
    /// are still under a previous key.
    Status,
    /// Seal every secret under a previous key again under `mfa.encryption_key` now (the
    /// serving nodes also do it in the background).
    Reseal,
}

/// One pass, and its outcome recorded.
async fn pass(
    store: &dyn Storage,
    keys: &MfaKeyring,
    rng: &dyn SecureRandom,
    count_only: bool,
) -> anyhow::Result<ResealReport> {
    let report = reseal_totp_secrets(store, keys, rng, count_only).await?;
    crate::keys::record_reseal(store, keys, &report).await?;
    Ok(report)
}

/// Runs `command` with `keys`; `Ok(false)` when secrets are left under a previous key.
pub async fn execute(
    store: &dyn Storage,
    keys: &MfaKeyring,
    rng: &dyn SecureRandom,
    command: &MfaKeysCommand,
    out: &mut dyn Write,
) -> anyhow::Result<bool> {
    let count_only = matches!(command, MfaKeysCommand::Status);
    let r = pass(store, keys, rng, count_only).await?;
    writeln!(
        out,
        "current key: {}\nnext key: {}\n{}previous keys: {}\nunreadable (no configured key opens them): {}",
        r.current,
        r.next,
        if count_only {
            String::new()
        } else {
            format!("sealed again now: {}\n", r.resealed)
        },
        r.previous,
        r.unreadable
    )?;
    if r.done() {
        writeln!(
            out,
            "none left under a previous key: mfa.previous_encryption_key_files may be emptied"
        )?;
    }
    Ok(r.done())
}

/// Re-seals in the background while this node lists previous keys: a pass right away, then
/// every `interval`, for as long as the process runs (a late secret sealed by a node not yet
/// restarted with the new key is caught by the next pass). A failed pass is logged and retried
/// at the next interval.
pub fn spawn(store: Arc<dyn Storage>, keys: MfaKeyring, rng: Arc<dyn SecureRandom>, interval: Duration) {
    if keys.previous_keys.is_empty() {
        return;
    }
    tokio::spawn(async move {
        loop {
            match pass(&*store, &keys, &*rng, false).await {
                Ok(report) if !report.done() => tracing::info!(
                    left = report.previous,
                    "TOTP secrets still under a previous MFA key; the next pass retries them"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(
                    error = format!("{e:#}"),
                    "re-sealing TOTP secrets failed; retrying later"
                ),
            }
            tokio::time::sleep(interval).await;
        }
    });
}
