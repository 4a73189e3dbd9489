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

/// Tenants' brands as last read, with when.
#[derive(Debug, Default)]
pub(crate) struct BrandCache {
    entries: Mutex<HashMap<TenantId, Kept>>,
}

impl BrandCache {
    pub(crate) fn fresh(&self, tenant: TenantId, now: DateTime<Utc>) -> Option<Arc<Brand>> {
        let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (brand, read_at) = entries.get(&tenant)?;
        let age = now - *read_at;
        (age >= Duration::zero() && age < Duration::seconds(BRAND_CACHE_SECS)).then(|| brand.clone())
    }

    pub(crate) fn keep(&self, brand: Arc<Brand>, now: DateTime<Utc>) {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.insert(brand.tenant, (brand, now));
    }

    pub(crate) fn forget(&self, tenant: TenantId) {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.remove(&tenant);
    }
}
