//! Rotating the key that encrypts TOTP secrets: once a node seals with a new key and lists the
//! old one as previous, every secret still sealed under a previous key is sealed again under
//! the new one, in the background, while both keys open secrets. When a pass finds nothing left
//! under a previous key, the previous keys can be dropped from the configuration.

use crate::model::SealedTotp;
use crate::ports::TotpResealStore;
use crate::random::SecureRandom;
use crate::service::base::{AuthService, InfraError};
use crate::totp::{MfaKeyring, SealedWith};

/// Secrets read per storage call.
const PAGE: usize = 500;

/// What a pass over the stored TOTP secrets found and did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ResealReport {
    /// Already sealed with the current key.
    pub current: u64,
    /// Sealed with the next key by a node that is a step ahead in a rotation (left alone).
    pub next: u64,
    /// Sealed with a previous key, now sealed with the current one.
    pub resealed: u64,
    /// Still sealed with a previous key: the pass only counted, or the secret changed while
    /// it ran (a new enrolment or a disable; the next pass looks again).
    pub previous: u64,
    /// Opened by no configured key: sealed with a key that is gone. Their owners cannot use
    /// the second factor until it is reset for them.
    pub unreadable: u64,
}

impl ResealReport {
    /// No secret is left under a previous key: the previous keys may be dropped.
    #[must_use]
    pub fn done(&self) -> bool {
        self.previous == 0
    }
}

impl AuthService {
    /// [`reseal_totp_secrets`] with this service's storage and keys.
    pub async fn reseal_totp_secrets(&self, count_only: bool) -> Result<ResealReport, InfraError> {
        reseal_totp_secrets(&*self.deps.store, &self.mfa().keys, &*self.deps.rng, count_only).await
    }
}

/// One pass over every stored TOTP secret (all tenants): each sealed with a previous key of
/// `keys` is sealed again with its current key, unless `count_only`. A secret that changes
/// while the pass runs is left for the next pass (it is replaced only if it is still the bytes
/// that were read), so a concurrent enrolment or disable is never undone.
///
/// A pending enrolment sealed again between enrolling and confirming gets `invalid_code` once
/// at confirmation (its stored secret moved on); the same code confirms on a retry.
pub async fn reseal_totp_secrets(
    store: &dyn TotpResealStore,
    keys: &MfaKeyring,
    rng: &dyn SecureRandom,
    count_only: bool,
) -> Result<ResealReport, InfraError> {
    let mut report = ResealReport::default();
    let mut after = None;
    loop {
        let page = store.sealed_totp_page(after, PAGE).await?;
        for stored in &page {
            reseal_one(store, keys, rng, stored, count_only, &mut report).await?;
        }
        match page.last() {
            Some(last) if page.len() == PAGE => after = Some((last.tenant, last.user)),
            _ => break,
        }
    }
    if report.resealed > 0 {
        tracing::info!(
            resealed = report.resealed,
            left_under_previous_keys = report.previous,
            "TOTP secrets sealed again under the current mfa.encryption_key"
        );
    }
    if report.unreadable > 0 {
        tracing::warn!(
            unreadable = report.unreadable,
            "TOTP secrets that no configured MFA key opens: their owners need their second factor reset"
        );
    }
    Ok(report)
}

async fn reseal_one(
    store: &dyn TotpResealStore,
    keys: &MfaKeyring,
    rng: &dyn SecureRandom,
    stored: &SealedTotp,
    count_only: bool,
    report: &mut ResealReport,
) -> Result<(), InfraError> {
    match keys.open_with(stored.tenant, stored.user, &stored.sealed) {
        None => report.unreadable += 1,
        Some((_, SealedWith::Current)) => report.current += 1,
        Some((_, SealedWith::Next)) => report.next += 1,
        Some((_, SealedWith::Previous)) if count_only => report.previous += 1,
        Some((secret, SealedWith::Previous)) => {
            let resealed = keys.seal(stored.tenant, stored.user, &secret, rng);
            if store
                .reseal_totp(stored.tenant, stored.user, &stored.sealed, &resealed)
                .await?
            {
                report.resealed += 1;
            } else {
                report.previous += 1;
            }
        }
    }
    Ok(())
}
