//! Operators: admin keys (checking one presented to the API), token introspection for other
//! services that need revocation at once, and reading tenants with their plans and nodes.
use crate::admin_key::{AdminKey, IntrospectedToken, Introspection, admin_key_hash};
use crate::ids::TenantId;
use crate::model::{Node, Plan, TenantRecord};
use crate::refresh::RefreshToken;
use crate::service::base::{AuthService, InfraError};

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
