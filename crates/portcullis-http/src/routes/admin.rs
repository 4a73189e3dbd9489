//! Operators' endpoints, behind an admin key: token introspection, and reading tenants with
//! their plans and nodes. A tenant-bound key sees only its tenant (404 for the others); an
//! introspect-only key only introspects.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{Data, Path};
use portcullis_domain::AdminAuthError;
use portcullis_domain::admin_key::AdminKey;
use portcullis_domain::model::TenantRecord;
use serde_json::{Value, json};

use super::shared::{Result, ok};
use crate::command::{Command, Valid};
use crate::dto::{IntrospectRequest, Validator};
use crate::error::{ApiError, tenant_not_found};
use crate::extract::Admin;
use crate::state::AppState;

impl From<AdminAuthError> for ApiError {
    fn from(e: AdminAuthError) -> Self {
        match e {
            AdminAuthError::InvalidKey => Self::bearer("invalid_token", "The admin key is invalid or revoked."),
            AdminAuthError::Infra(e) => e.into(),
        }
    }
}

/// The token to introspect.
pub struct IntrospectCommand(String);

impl Command for IntrospectCommand {
    type Body = IntrospectRequest;

    fn parse(body: IntrospectRequest, _state: &AppState, v: &mut Validator) -> Option<Self> {
        // A blank token is a missing one.
        let given = body.token.as_deref().map(str::trim).filter(|t| !t.is_empty());
        v.require("token", given).map(|t| Self(t.to_owned()))
    }
}

/// `POST /v1/auth/introspect`: RFC 7662's answer, `{active: false}` for anything dead or unknown.
pub async fn introspect(
    state: Data<AppState>,
    Admin(key): Admin,
    Valid(cmd): Valid<IntrospectCommand>,
) -> Result<HttpResponse> {
    let found = state.auth.introspect(&key, &cmd.0).await?;
    let body = match found.details {
        Some(t) => json!({
            "active": true,
            "sub": t.sub,
            "sid": t.sid,
            "tid": t.tid,
            "exp": t.exp,
            "amr": t.amr,
        }),
        None => json!({ "active": false }),
    };
    Ok(ok(StatusCode::OK, body))
}

/// Refuses an introspect-only key.
fn full(key: &AdminKey) -> Result<()> {
    if key.introspect_only {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "This admin key may only introspect tokens.",
        ));
    }
    Ok(())
}

fn tenant_view(t: &TenantRecord) -> Value {
    json!({
        "id": t.tenant.id,
        "slug": t.tenant.slug,
        "name": t.name,
        "settings": { "site_url_template": t.settings.site_url_template },
        "created_at": t.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// The tenant `slug` names, if `key` reaches it (404 otherwise, as for an unknown one).
async fn reached(state: &AppState, key: &AdminKey, slug: &str) -> Result<TenantRecord> {
    full(key)?;
    state
        .auth
        .tenant_record(slug)
        .await?
        .filter(|t| key.reaches(t.tenant.id))
        .ok_or_else(tenant_not_found)
}

/// `GET /v1/admin/tenants`: the tenants the key reaches, as one page.
pub async fn list_tenants(state: Data<AppState>, Admin(key): Admin) -> Result<HttpResponse> {
    full(&key)?;
    let items: Vec<Value> = state
        .auth
        .tenant_records()
        .await?
        .iter()
        .filter(|t| key.reaches(t.tenant.id))
        .map(tenant_view)
        .collect();
    Ok(ok(StatusCode::OK, json!({ "items": items, "next_cursor": null })))
}

/// `GET /v1/admin/tenants/{slug}`.
pub async fn show_tenant(state: Data<AppState>, Admin(key): Admin, slug: Path<String>) -> Result<HttpResponse> {
    let t = reached(&state, &key, &slug).await?;
    Ok(ok(StatusCode::OK, tenant_view(&t)))
}

/// `GET /v1/admin/tenants/{slug}/plans`: every plan, active or not.
pub async fn list_plans(state: Data<AppState>, Admin(key): Admin, slug: Path<String>) -> Result<HttpResponse> {
    let t = reached(&state, &key, &slug).await?;
    let items: Vec<Value> = state
        .auth
        .tenant_plans(t.tenant.id)
        .await?
        .iter()
        .map(|p| {
            json!({
                "name": p.name, "description": p.description, "price": p.price,
                "features": p.features, "active": p.active,
            })
        })
        .collect();
    Ok(ok(StatusCode::OK, json!({ "items": items, "next_cursor": null })))
}

/// `GET /v1/admin/tenants/{slug}/nodes`: every node with its `used` slots.
pub async fn list_nodes(state: Data<AppState>, Admin(key): Admin, slug: Path<String>) -> Result<HttpResponse> {
    let t = reached(&state, &key, &slug).await?;
    let items: Vec<Value> = state
        .auth
        .tenant_nodes(t.tenant.id)
        .await?
        .iter()
        .map(|n| {
            json!({
                "id": n.id, "name": n.name, "domain": n.domain, "capacity": n.capacity,
                "enabled": n.enabled, "used": n.used,
            })
        })
        .collect();
    Ok(ok(StatusCode::OK, json!({ "items": items, "next_cursor": null })))
}
