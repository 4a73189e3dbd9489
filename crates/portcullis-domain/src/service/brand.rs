//! What is in force for each tenant ([`Brand`]): its settings over the global configuration,
//! read from storage and kept for a few seconds, so the hot paths (login reads the new-IP and
//! verification policies) cost no extra trip to the database.

use std::collections::HashMap;
use std::sync::Arc;

use crate::ids::TenantId;
use crate::model::{Brand, TenantSettings};
use crate::service::base::{AuthService, InfraError};

/// Every tenant's brand, read at once (see [`AuthService::brand_book`]).
pub(crate) struct BrandBook {
    brands: HashMap<TenantId, Arc<Brand>>,
    global: Arc<Brand>,
}

impl BrandBook {
    /// The tenant's brand. A tenant made after the book was read (a window of milliseconds
    /// before a worker's claim) gets the global one.
    pub(crate) fn get(&self, tenant: TenantId) -> Arc<Brand> {
        self.brands.get(&tenant).cloned().unwrap_or_else(|| {
            tracing::warn!(tenant_id = %tenant, "tenant newer than the worker's view of tenants: mail in the global brand");
            Arc::new(Brand {
                tenant,
                ..(*self.global).clone()
            })
        })
    }
}

impl AuthService {
    /// What is in force for `tenant`. An unknown tenant (none is, once resolved) gets the
    /// global brand.
    pub async fn brand(&self, tenant: TenantId) -> Result<Arc<Brand>, InfraError> {
        let now = self.deps.clock.now();
        if let Some(brand) = self.brands.fresh(tenant, now) {
            return Ok(brand);
        }
        let mark = self.brands.mark();
        let settings = self
            .deps
            .store
            .tenant_settings(tenant)
            .await?
            .unwrap_or_else(TenantSettings::default);
        let brand = Arc::new(Brand::resolve(tenant, &self.global, &settings));
        self.brands.keep(brand.clone(), now, mark);
        Ok(brand)
    }

    /// Every tenant's brand as storage has it now, for work that renders mail while storage
    /// holds a transaction (the mail worker's fulfilments), where no lookup may run. One read
    /// of the tenants per pass of the worker.
    pub(crate) async fn brand_book(&self) -> Result<BrandBook, InfraError> {
        let now = self.deps.clock.now();
        let mark = self.brands.mark();
        let tenants = self.deps.store.tenants().await?;
        let brands = tenants
            .into_iter()
            .map(|t| {
                let brand = Arc::new(Brand::resolve(t.tenant.id, &self.global, &t.settings));
                self.brands.keep(brand.clone(), now, mark);
                (t.tenant.id, brand)
            })
            .collect();
        Ok(BrandBook {
            brands,
            global: self.global.clone(),
        })
    }

    /// Drops what this node keeps of `tenant`'s settings, after it changed them.
    pub(crate) fn forget_brand(&self, tenant: TenantId) {
        self.brands.forget(tenant);
    }
}
