//! Bodies and queries of the operators' endpoints.

use serde::Deserialize;

/// `POST /v1/auth/introspect`.
// No Debug: it carries a token.
#[derive(Default, Deserialize)]
pub struct IntrospectRequest {
    pub token: Option<String>,
}

/// `POST /v1/admin/tenants`: `site_url_template` at the top (forms) or under `settings` (JSON).
#[derive(Debug, Default, Deserialize)]
pub struct TenantRequest {
    pub slug: Option<String>,
    pub name: Option<String>,
    pub site_url_template: Option<String>,
    pub settings: Option<TenantSettingsRequest>,
}

/// The `settings` of a [`TenantRequest`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSettingsRequest {
    pub site_url_template: Option<String>,
}

/// `PATCH /v1/admin/tenants/{slug}`: what is given changes; `site_url_template: null` under
/// `settings` goes back to the global template.
#[derive(Debug, Default, Deserialize)]
pub struct TenantPatch {
    pub name: Option<String>,
    pub settings: Option<TenantSettingsPatch>,
}

/// The `settings` of a [`TenantPatch`]: an absent key keeps it, `null` clears it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSettingsPatch {
    #[serde(default, deserialize_with = "present")]
    pub site_url_template: Option<Option<String>>,
}

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `PUT /v1/admin/tenants/{slug}/plans/{name}`.
#[derive(Debug, Default, Deserialize)]
pub struct PlanRequest {
    pub description: Option<String>,
    pub price: Option<String>,
    pub features: Option<Vec<String>>,
    pub active: Option<bool>,
}

/// `POST /v1/admin/tenants/{slug}/nodes`.
#[derive(Debug, Default, Deserialize)]
pub struct NodeRequest {
    pub name: Option<String>,
    pub capacity: Option<u32>,
    pub domain: Option<String>,
    pub enabled: Option<bool>,
}

/// The query of a cursor page.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}
