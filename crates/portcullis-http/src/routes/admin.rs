//! Operators' endpoints, behind an admin key: token introspection, and reading tenants with
//! their plans and nodes. A tenant-bound key sees only its tenant (404 for the others); an
//! introspect-only key only introspects.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::Query;
use actix_web::web::{Data, Path};
use portcullis_domain::admin_key::AdminKey;
use portcullis_domain::model::TenantRecord;
use portcullis_domain::model::{InvalidField, NewNode, Node, Plan};
use portcullis_domain::{AdminAuthError, AdminWriteError};
use serde_json::{Value, json};

use super::shared::{Result, ok};
use crate::command::{Command, Valid};
use crate::dto::{IntrospectRequest, NodeRequest, PageQuery, PlanRequest, TenantPatch, TenantRequest, Validator};
use crate::error::{ApiError, FieldDetail, field_detail, tenant_not_found};
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

fn write_error(e: AdminWriteError, taken: &'static str) -> ApiError {
    match e {
        AdminWriteError::Invalid(fields) => ApiError::validation(fields.into_iter().map(detail).collect()),
        AdminWriteError::Taken => ApiError::new(StatusCode::CONFLICT, taken, "The name is taken."),
        AdminWriteError::UnknownTenant => tenant_not_found(),
        AdminWriteError::Infra(e) => e.into(),
    }
}

fn detail(e: InvalidField) -> FieldDetail {
    field_detail(e.field, e.error, Some(e.rule))
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

fn plan_view(p: &Plan) -> Value {
    json!({
        "name": p.name, "description": p.description, "price": p.price,
        "features": p.features, "active": p.active,
    })
}

fn node_view(n: &Node) -> Value {
    json!({
        "id": n.id, "name": n.name, "domain": n.domain, "capacity": n.capacity,
        "enabled": n.enabled, "used": n.used,
    })
}

pub(crate) fn page(items: &[Value], next: Option<uuid::Uuid>) -> HttpResponse {
    ok(StatusCode::OK, json!({ "items": items, "next_cursor": next }))
}

fn tenant_view(t: &TenantRecord) -> Value {
    json!({
        "id": t.tenant.id,
        "slug": t.tenant.slug,
        "name": t.name,
        "settings": t.settings.to_json(),
        "created_at": t.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// The position a page's `cursor` names (the id of the last item of the page before); 422 for
/// one this API did not give.
pub(crate) fn cursor(given: Option<&str>) -> Result<Option<uuid::Uuid>> {
    match given.filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) => uuid::Uuid::parse_str(c).map(Some).map_err(|_| {
            ApiError::validation(vec![FieldDetail {
                field: "cursor",
                code: "invalid",
                message: "cursor is not one this API gave".into(),
            }])
        }),
    }
}

/// The tenant `slug` names, if `key` reaches it (404 otherwise, as for an unknown one).
pub(crate) async fn reached(state: &AppState, key: &AdminKey, slug: &str) -> Result<TenantRecord> {
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
    Ok(page(&items, None))
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
        .map(plan_view)
        .collect();
    Ok(page(&items, None))
}

/// `GET /v1/admin/tenants/{slug}/nodes`: every node with its `used` slots.
pub async fn list_nodes(state: Data<AppState>, Admin(key): Admin, slug: Path<String>) -> Result<HttpResponse> {
    let t = reached(&state, &key, &slug).await?;
    let items: Vec<Value> = state
        .auth
        .tenant_nodes(t.tenant.id)
        .await?
        .iter()
        .map(node_view)
        .collect();
    Ok(page(&items, None))
}

/// `POST /v1/admin/tenants` (a key bound to no tenant): 201 tenant; 409 `slug_taken`.
pub async fn create_tenant(
    state: Data<AppState>,
    Admin(key): Admin,
    body: crate::body::Body<TenantRequest>,
) -> Result<HttpResponse> {
    full(&key)?;
    if key.tenant.is_some() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "A key bound to a tenant cannot create tenants.",
        ));
    }
    let body = body.0;
    let mut v = Validator::default();
    let slug = v.require("slug", body.slug.as_deref()).map(str::trim);
    let name = v.require("name", body.name.as_deref());
    v.finish()?;
    let mut settings = body.settings.unwrap_or_default();
    if let Some(template) = body.site_url_template {
        settings.insert("site_url_template".into(), template.into());
    }
    let created = state
        .auth
        .create_tenant(slug.unwrap_or_default(), name.unwrap_or_default(), &settings)
        .await
        .map_err(|e| write_error(e, "slug_taken"))?;
    Ok(ok(StatusCode::CREATED, tenant_view(&created)))
}

/// `PUT /v1/admin/tenants/{slug}/plans/{name}`: creates or replaces the plan; 200 plan.
pub async fn put_plan(
    state: Data<AppState>,
    Admin(key): Admin,
    path: Path<(String, String)>,
    body: crate::body::Body<PlanRequest>,
) -> Result<HttpResponse> {
    let (slug, name) = path.into_inner();
    let t = reached(&state, &key, &slug).await?;
    let body = body.0;
    let plan = Plan {
        name: name.trim().to_owned(),
        description: body.description.unwrap_or_default(),
        price: body.price.unwrap_or_default(),
        features: body.features.unwrap_or_default(),
        active: body.active.unwrap_or(true),
    };
    let saved = state
        .auth
        .put_plan(t.tenant.id, plan)
        .await
        .map_err(|e| write_error(e, "name_taken"))?;
    Ok(ok(StatusCode::OK, plan_view(&saved)))
}

/// `POST /v1/admin/tenants/{slug}/nodes`: 201 node; 409 `name_taken`.
pub async fn add_node(
    state: Data<AppState>,
    Admin(key): Admin,
    slug: Path<String>,
    body: crate::body::Body<NodeRequest>,
) -> Result<HttpResponse> {
    let t = reached(&state, &key, &slug).await?;
    let body = body.0;
    let mut v = Validator::default();
    let name = v.require("name", body.name.as_deref()).map(|n| n.trim().to_owned());
    if body.capacity.is_none() {
        v.push(field_detail(
            "capacity",
            portcullis_domain::FieldError::Required,
            Some("capacity is required".into()),
        ));
    }
    v.finish()?;
    let node = NewNode {
        id: uuid::Uuid::nil(),
        name: name.unwrap_or_default(),
        domain: body
            .domain
            .map(|d| d.trim().to_ascii_lowercase())
            .filter(|d| !d.is_empty()),
        capacity: body.capacity.unwrap_or_default(),
        enabled: body.enabled.unwrap_or(true),
    };
    let added = state
        .auth
        .add_node(t.tenant.id, node)
        .await
        .map_err(|e| write_error(e, "name_taken"))?;
    Ok(ok(StatusCode::CREATED, node_view(&added)))
}

/// `GET /v1/admin/tenants/{slug}/customers?cursor&limit`: a page of customers, oldest first
/// (`limit` 1–200, default 50; `next_cursor` is `null` on the last page).
pub async fn list_customers(
    state: Data<AppState>,
    Admin(key): Admin,
    slug: Path<String>,
    query: Query<PageQuery>,
) -> Result<HttpResponse> {
    let t = reached(&state, &key, &slug).await?;
    let after = cursor(query.cursor.as_deref())?;
    let (customers, next) = state
        .auth
        .customers_page(t.tenant.id, after, query.limit.unwrap_or(50))
        .await?;
    let items: Vec<Value> = customers
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "owner_id": c.owner,
                "company_name": c.company_name,
                "plan": c.plan,
                "node_id": c.node_id,
                "site_url": c.site_url,
                "verified": c.verified_at.is_some(),
                "created_at": c.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            })
        })
        .collect();
    Ok(page(&items, next))
}

/// `PATCH /v1/admin/tenants/{slug}`: `name`, and `settings` as a merge patch; 200 tenant.
pub async fn update_tenant(
    state: Data<AppState>,
    Admin(key): Admin,
    slug: Path<String>,
    body: crate::body::Body<TenantPatch>,
) -> Result<HttpResponse> {
    let current = reached(&state, &key, &slug).await?;
    let body = body.0;
    let settings = body.settings.unwrap_or_default();
    // The sender goes out through the operator's relay (and its DKIM keys): only a key that
    // reaches every tenant may choose it.
    if key.tenant.is_some() && settings.contains_key("mail_from") {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "A key bound to a tenant cannot change its mail sender.",
        ));
    }
    let updated = state
        .auth
        .update_tenant(&current, body.name.as_deref(), &settings)
        .await
        .map_err(|e| write_error(e, "slug_taken"))?;
    Ok(ok(StatusCode::OK, tenant_view(&updated)))
}

/// `DELETE /v1/admin/tenants/{slug}/plans/{name}`: 204; 404 `plan_not_found`.
pub async fn delete_plan(
    state: Data<AppState>,
    Admin(key): Admin,
    path: Path<(String, String)>,
) -> Result<HttpResponse> {
    let (slug, name) = path.into_inner();
    let t = reached(&state, &key, &slug).await?;
    if !state.auth.delete_plan(t.tenant.id, &name).await? {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "plan_not_found", "No such plan."));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `PATCH /v1/admin/tenants/{slug}/nodes/{id}`: `name`, `capacity`, `domain`, `enabled`; 200
/// node; 404 `node_not_found`; 409 `name_taken`.
pub async fn update_node(
    state: Data<AppState>,
    Admin(key): Admin,
    path: Path<(String, String)>,
    body: crate::body::Body<NodeRequest>,
) -> Result<HttpResponse> {
    let (slug, id) = path.into_inner();
    let t = reached(&state, &key, &slug).await?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "node_not_found", "No such node.");
    let id = uuid::Uuid::parse_str(&id).map_err(|_| not_found())?;
    let body = body.0;
    let patch = move |mut node: NewNode| {
        if let Some(name) = body.name {
            node.name = name.trim().to_owned();
        }
        if let Some(domain) = body.domain {
            let domain = domain.trim().to_ascii_lowercase();
            node.domain = (!domain.is_empty()).then_some(domain);
        }
        node.capacity = body.capacity.unwrap_or(node.capacity);
        node.enabled = body.enabled.unwrap_or(node.enabled);
        node
    };
    let updated = state
        .auth
        .update_node(t.tenant.id, id, patch)
        .await
        .map_err(|e| write_error(e, "name_taken"))?
        .ok_or_else(not_found)?;
    Ok(ok(StatusCode::OK, node_view(&updated)))
}
