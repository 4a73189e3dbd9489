//! Bodies and queries of the operators' endpoints.

use serde::Deserialize;
use serde_json::{Map, Value};

/// `POST /v1/auth/introspect`.
// No Debug: it carries a token.
#[derive(Default, Deserialize, utoipa::ToSchema)]
pub struct IntrospectRequest {
    #[schema(required = true, value_type = String)]
    pub token: Option<String>,
}

/// `POST /v1/admin/tenants`: `settings` is an object of the tenant's settings (JSON); a form
/// can give `site_url_template` at the top.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct TenantRequest {
    pub slug: Option<String>,
    pub name: Option<String>,
    pub site_url_template: Option<String>,
    pub settings: Option<Map<String, Value>>,
}

/// `PATCH /v1/admin/tenants/{slug}`: what is given changes; `settings` is a JSON merge patch
/// (a key set to `null` goes back to the global setting).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct TenantPatch {
    pub name: Option<String>,
    pub settings: Option<Map<String, Value>>,
}

/// `PUT /v1/admin/tenants/{slug}/plans/{name}`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct PlanRequest {
    pub description: Option<String>,
    pub price: Option<String>,
    pub features: Option<Vec<String>>,
    pub active: Option<bool>,
}

/// `POST /v1/admin/tenants/{slug}/nodes`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct NodeRequest {
    pub name: Option<String>,
    pub capacity: Option<u32>,
    pub domain: Option<String>,
    pub enabled: Option<bool>,
}

/// `POST /v1/admin/tenants/{slug}/users/{id}/disable`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct DisableRequest {
    pub reason: Option<String>,
}

/// `GET /v1/admin/tenants/{slug}/users`: a cursor page, optionally of the accounts whose
/// address or username starts with `query`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserSearch {
    pub query: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// `GET /v1/account/events` and `GET /v1/admin/tenants/{slug}/events`: filters of a cursor
/// page of audit events (`user_id` for operators only).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventSearch {
    pub user_id: Option<String>,
    pub r#type: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// The query of a cursor page.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}
