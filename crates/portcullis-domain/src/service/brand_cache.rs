//! Tenants' brands as this node last read them, kept for [`BRAND_CACHE_SECS`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

use crate::ids::TenantId;
use crate::model::Brand;

/// How long a node keeps a tenant's settings before reading them again. A change made on this
/// node applies at once; one made elsewhere (another node, the CLI) within this time.
pub const BRAND_CACHE_SECS: i64 = 5;

/// A tenant's brand and when it was read.
type Kept = (Arc<Brand>, DateTime<Utc>);

#[derive(Debug, Default)]
struct Entries {
    kept: HashMap<TenantId, Kept>,
    /// Every change made on this node; a read that began before one is not kept.
    changes: u64,
}

/// Tenants' brands as last read, with when.
#[derive(Debug, Default)]
pub(crate) struct BrandCache {
    entries: Mutex<Entries>,
}

impl BrandCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn fresh(&self, tenant: TenantId, now: DateTime<Utc>) -> Option<Arc<Brand>> {
        let entries = self.entries();
        let (brand, read_at) = entries.kept.get(&tenant)?;
        let age = now - *read_at;
        (age >= Duration::zero() && age < Duration::seconds(BRAND_CACHE_SECS)).then(|| brand.clone())
    }

    /// A mark to take before reading settings from storage, for [`BrandCache::keep`].
    pub(crate) fn mark(&self) -> u64 {
        self.entries().changes
    }

    /// Keeps what a read begun at `mark` found, unless this node changed a tenant since (the
    /// read may predate the change; the next one will see it).
    pub(crate) fn keep(&self, brand: Arc<Brand>, now: DateTime<Utc>, mark: u64) {
        let mut entries = self.entries();
        if entries.changes == mark {
            entries.kept.insert(brand.tenant, (brand, now));
        }
    }

    pub(crate) fn forget(&self, tenant: TenantId) {
        let mut entries = self.entries();
        entries.changes += 1;
        entries.kept.remove(&tenant);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_began_before_a_change_is_not_kept() {
        let cache = BrandCache::default();
        let brand = Arc::new(Brand {
            tenant: TenantId::DEFAULT,
            mail: crate::templates::MailBranding {
                product: "P".into(),
                verify_email_url: "https://a.example/{token}".into(),
                change_email_url: "https://a.example/{token}".into(),
                reset_password_url: "https://a.example/{token}".into(),
                authorize_ip_url: "https://a.example/{token}".into(),
            },
            mail_from: None,
            site_url_template: "https://{customer_id}.x".into(),
            totp_issuer: "P".into(),
            require_email_verification: true,
            new_ip_policy: crate::network::NewIpPolicy::Off,
        });
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let before = cache.mark();
        cache.forget(TenantId::DEFAULT);
        cache.keep(brand.clone(), now, before);
        assert!(cache.fresh(TenantId::DEFAULT, now).is_none(), "stale read dropped");
        cache.keep(brand, now, cache.mark());
        assert!(cache.fresh(TenantId::DEFAULT, now).is_some());
        assert!(
            cache
                .fresh(TenantId::DEFAULT, now + Duration::seconds(BRAND_CACHE_SECS))
                .is_none()
        );
    }
}
