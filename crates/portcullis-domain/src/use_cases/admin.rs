//! Operators: admin keys (checking one presented to the API), token introspection for other
//! services that need revocation at once, and reading tenants with their plans and nodes.
use crate::admin_key::{AdminKey, IntrospectedToken, Introspection, admin_key_hash};
use crate::ids::TenantId;
use serde_json::{Map, Value};

use crate::model::{Customer, InvalidField, NewNode, Node, Plan, TenantRecord, TenantSettings};
use crate::ports::TenantWriteError;
use crate::refresh::RefreshToken;
use crate::service::base::{AuthService, InfraError};

/// Most items of one admin page.
pub const MAX_PAGE: u32 = 200;

/// Failures of the operators' writes.
#[derive(Debug, thiserror::Error)]
pub enum AdminWriteError {
    /// 422 with these fields.
    #[error("invalid fields")]
    Invalid(Vec<InvalidField>),
    /// 409: the tenant's slug, or the node's name in its tenant, is taken.
    #[error("taken")]
    Taken,
    /// 404: the tenant is gone.
    #[error("unknown tenant")]
    UnknownTenant,
    /// Infrastructure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<TenantWriteError> for AdminWriteError {
    fn from(e: TenantWriteError) -> Self {
        match e {
            TenantWriteError::Taken => Self::Taken,
            TenantWriteError::UnknownTenant => Self::UnknownTenant,
            TenantWriteError::Store(e) => Self::Infra(e.into()),
        }
    }
}

/// Failures of [`AuthService::authenticate_admin`].
#[derive(Debug, thiserror::Error)]
pub enum AdminAuthError {
    /// 401: not one of our keys, or revoked.
    #[error("invalid admin key")]
    InvalidKey,
    /// Infrastructure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl AuthService {
    /// Every tenant, by slug.
    pub async fn tenant_records(&self) -> Result<Vec<TenantRecord>, InfraError> {
        Ok(self.deps.store.tenants().await?)
    }

    /// The tenant with this slug.
    pub async fn tenant_record(&self, slug: &str) -> Result<Option<TenantRecord>, InfraError> {
        Ok(self.deps.store.tenant_record(slug).await?)
    }

    /// Every plan of the tenant, active or not.
    pub async fn tenant_plans(&self, tenant: TenantId) -> Result<Vec<Plan>, InfraError> {
        Ok(self.deps.store.plans(tenant).await?)
    }

    /// The tenant's nodes with the slots each holds now.
    pub async fn tenant_nodes(&self, tenant: TenantId) -> Result<Vec<Node>, InfraError> {
        Ok(self.deps.store.nodes(tenant, self.deps.clock.now()).await?)
    }

    /// Creates a tenant with the settings of `settings` (a JSON object of
    /// [`TenantSettings`] keys); every setting it leaves out comes from the global
    /// configuration.
    pub async fn create_tenant(
        &self,
        slug: &str,
        name: &str,
        settings: &Map<String, Value>,
    ) -> Result<TenantRecord, AdminWriteError> {
        let id = TenantId::from_uuid(self.new_id());
        let settings = TenantSettings::default()
            .patched(settings)
            .map_err(|e| AdminWriteError::Invalid(vec![e]))?;
        let record =
            TenantRecord::checked(id, slug, name, settings, self.deps.clock.now()).map_err(AdminWriteError::Invalid)?;
        self.deps.store.create_tenant(&record).await?;
        tracing::info!(tenant_id = %record.tenant.id, slug = %record.tenant.slug, "tenant created");
        Ok(record)
    }

    /// Creates or replaces a plan of the tenant.
    pub async fn put_plan(&self, tenant: TenantId, plan: Plan) -> Result<Plan, AdminWriteError> {
        plan.validate().map_err(AdminWriteError::Invalid)?;
        self.deps.store.put_plan(tenant, &plan, self.deps.clock.now()).await?;
        tracing::info!(tenant_id = %tenant, plan = %plan.name, "plan saved");
        Ok(plan)
    }

    /// Adds a node to the tenant (`id` is minted here).
    pub async fn add_node(&self, tenant: TenantId, mut node: NewNode) -> Result<Node, AdminWriteError> {
        node.id = self.new_id();
        node.validate().map_err(AdminWriteError::Invalid)?;
        let added = self.deps.store.add_node(tenant, &node, self.deps.clock.now()).await?;
        tracing::info!(tenant_id = %tenant, node_id = %added.id, "node added");
        Ok(added)
    }

    /// Changes a tenant's name (`None` keeps it) and settings by a JSON merge patch (see
    /// [`TenantSettings::patched`]: a key set to `null` falls back to the global setting). The
    /// change applies on this node at once, on others within
    /// [`BRAND_CACHE_SECS`](crate::BRAND_CACHE_SECS).
    pub async fn update_tenant(
        &self,
        current: &TenantRecord,
        name: Option<&str>,
        settings: &Map<String, Value>,
    ) -> Result<TenantRecord, AdminWriteError> {
        let settings = current
            .settings
            .patched(settings)
            .map_err(|e| AdminWriteError::Invalid(vec![e]))?;
        let name = name.unwrap_or(&current.name);
        let t = &current.tenant;
        let record = TenantRecord::checked(t.id, &t.slug, name, settings, current.created_at)
            .map_err(AdminWriteError::Invalid)?;
        if !self
            .deps
            .store
            .replace_tenant(&record)
            .await
            .map_err(InfraError::from)?
        {
            return Err(AdminWriteError::UnknownTenant);
        }
        self.forget_brand(t.id);
        tracing::info!(tenant_id = %t.id, "tenant updated");
        Ok(record)
    }

    /// Deletes a plan; whether there was one.
    pub async fn delete_plan(&self, tenant: TenantId, name: &str) -> Result<bool, InfraError> {
        let deleted = self.deps.store.delete_plan(tenant, name).await?;
        tracing::info!(tenant_id = %tenant, plan = %name, deleted, "plan deleted");
        Ok(deleted)
    }

    /// Changes a node: `patch` gets the node as it is and returns it as it should be. `None`
    /// when the tenant has no node `id`.
    pub async fn update_node(
        &self,
        tenant: TenantId,
        id: uuid::Uuid,
        patch: impl FnOnce(NewNode) -> NewNode + Send,
    ) -> Result<Option<Node>, AdminWriteError> {
        let now = self.deps.clock.now();
        let nodes = self.deps.store.nodes(tenant, now).await.map_err(InfraError::from)?;
        let Some(current) = nodes.into_iter().find(|n| n.id == id) else {
            return Ok(None);
        };
        let node = patch(NewNode {
            id,
            name: current.name,
            domain: current.domain,
            capacity: current.capacity,
            enabled: current.enabled,
        });
        node.validate().map_err(AdminWriteError::Invalid)?;
        let updated = self.deps.store.replace_node(tenant, &node, now).await?;
        tracing::info!(tenant_id = %tenant, node_id = %id, "node updated");
        Ok(updated)
    }

    /// A page of the tenant's customers after `after`, and the cursor of the next page.
    pub async fn customers_page(
        &self,
        tenant: TenantId,
        after: Option<uuid::Uuid>,
        limit: u32,
    ) -> Result<(Vec<Customer>, Option<uuid::Uuid>), InfraError> {
        let limit = limit.clamp(1, MAX_PAGE);
        // One more than asked tells whether another page follows.
        let mut page = self.deps.store.customers(tenant, after, limit + 1).await?;
        let more = page.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        page.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next = if more { page.last().map(|c| c.id) } else { None };
        Ok((page, next))
    }

    /// The live admin key `presented` is.
    pub async fn authenticate_admin(&self, presented: &str) -> Result<AdminKey, AdminAuthError> {
        let Some(hash) = admin_key_hash(presented) else {
            return Err(AdminAuthError::InvalidKey);
        };
        match self.deps.store.live_admin_key(&hash).await.map_err(InfraError::from)? {
            Some(key) => Ok(key),
            None => {
                tracing::info!(outcome = "invalid_admin_key", "admin key refused");
                Err(AdminAuthError::InvalidKey)
            }
        }
    }

    /// `POST /v1/auth/introspect`: whether `token` (an access or a refresh token) is live now,
    /// and whose. Anything dead, unknown, or of a tenant `key` does not reach is inactive, with
    /// nothing more said.
    pub async fn introspect(&self, key: &AdminKey, token: &str) -> Result<Introspection, InfraError> {
        let now = self.deps.clock.now();
        let token = token.trim();
        let found = if let Some(refresh) = RefreshToken::parse(token) {
            self.deps
                .store
                .session_of_refresh_token(&refresh.hash())
                .await?
                .filter(|s| s.is_live(now))
                .map(|s| IntrospectedToken {
                    sub: s.user_id,
                    sid: s.id,
                    tid: s.tenant_id,
                    exp: s.expires_at.timestamp(),
                    amr: s.amr,
                })
        } else if let Ok(claims) = self.deps.keys.verify(&self.deps.policy, token, now) {
            self.deps
                .store
                .session(claims.tid, claims.sid)
                .await?
                .filter(|s| s.user_id == claims.sub && s.is_live(now))
                .map(|_| IntrospectedToken {
                    sub: claims.sub,
                    sid: claims.sid,
                    tid: claims.tid,
                    exp: claims.exp,
                    amr: claims.amr,
                })
        } else {
            None
        };
        let details = found.filter(|t| key.reaches(t.tid));
        tracing::info!(admin_key_id = %key.id, active = details.is_some(), "token introspected");
        Ok(Introspection {
            active: details.is_some(),
            details,
        })
    }
}
