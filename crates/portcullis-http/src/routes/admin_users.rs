//! Operators' user endpoints, behind an admin key that reaches the tenant: find accounts, read
//! one, disable or enable it, end its sessions.

use actix_web::http::StatusCode;
use actix_web::web::{Data, Path, Query};
use actix_web::{HttpRequest, HttpResponse};
use portcullis_domain::model::AccountOverview;
use portcullis_domain::{Actor, TenantId, UserAdminError, UserId};
use serde_json::{Value, json};

use super::admin::{cursor, page, reached};
use super::shared::{Result, ok};
use crate::dto::{DisableRequest, UserSearch, UserView};
use crate::error::{ApiError, field_detail};
use crate::extract::{Admin, client_info};
use crate::state::AppState;

impl From<UserAdminError> for ApiError {
    fn from(e: UserAdminError) -> Self {
        match e {
            UserAdminError::Invalid(f) => Self::validation(vec![field_detail(f.field, f.error, Some(f.rule))]),
            UserAdminError::Infra(e) => e.into(),
        }
    }
}

fn user_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "user_not_found", "No such user in this tenant.")
}

fn rfc3339(at: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    at.map_or(Value::Null, |t| {
        json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    })
}

/// The user object with what operators see besides.
fn overview_view(o: &AccountOverview, base: &str) -> Value {
    let mut view = json!(UserView::new(&o.account, base));
    view["disabled"] = json!(o.account.disabled);
    view["disabled_at"] = rfc3339(o.disabled_at);
    view["disabled_reason"] = json!(o.disabled_reason);
    view["last_login_at"] = rfc3339(o.last_login_at);
    view["session_count"] = json!(o.live_sessions);
    view
}

/// The operator behind an admin key, as the audit trail names it.
fn actor(key: &Admin, req: &HttpRequest) -> Actor {
    Actor {
        name: format!("key:{}", key.0.name),
        client: client_info(req),
    }
}

/// The tenant and user a path names, if the key reaches the tenant (404 otherwise). An id that
/// is not a UUID is no user.
async fn target(state: &AppState, key: &Admin, path: &(String, String)) -> Result<(TenantId, UserId)> {
    let tenant = reached(state, &key.0, &path.0).await?.tenant.id;
    let user = uuid::Uuid::parse_str(&path.1).map_err(|_| user_not_found())?;
    Ok((tenant, UserId::from_uuid(user)))
}

/// `GET /v1/admin/tenants/{slug}/users`: accounts oldest first, `query` an address or username
/// prefix.
pub async fn list_users(
    state: Data<AppState>,
    key: Admin,
    slug: Path<String>,
    query: Query<UserSearch>,
) -> Result<HttpResponse> {
    let t = reached(&state, &key.0, &slug).await?;
    let after = cursor(query.cursor.as_deref())?.map(UserId::from_uuid);
    let found = state
        .auth
        .find_users(t.tenant.id, query.query.as_deref(), after, query.limit.unwrap_or(50))
        .await?;
    let items: Vec<Value> = found
        .items
        .iter()
        .map(|a| {
            let mut view = json!(UserView::new(a, &state.public_url));
            view["disabled"] = json!(a.disabled);
            view
        })
        .collect();
    Ok(page(&items, found.next.map(|id| id.as_uuid())))
}

/// `GET /v1/admin/tenants/{slug}/users/{id}`.
pub async fn show_user(state: Data<AppState>, key: Admin, path: Path<(String, String)>) -> Result<HttpResponse> {
    let (tenant, user) = target(&state, &key, &path).await?;
    let found = state
        .auth
        .user_overview(tenant, user)
        .await?
        .ok_or_else(user_not_found)?;
    Ok(ok(StatusCode::OK, overview_view(&found, &state.public_url)))
}

/// `POST /v1/admin/tenants/{slug}/users/{id}/disable`: `reason`?; every session ends at once.
pub async fn disable_user(
    state: Data<AppState>,
    req: HttpRequest,
    key: Admin,
    path: Path<(String, String)>,
    body: crate::body::Body<DisableRequest>,
) -> Result<HttpResponse> {
    let (tenant, user) = target(&state, &key, &path).await?;
    let done = state
        .auth
        .disable_user(tenant, user, body.0.reason.as_deref(), &actor(&key, &req))
        .await?
        .ok_or_else(user_not_found)?;
    Ok(ok(StatusCode::OK, overview_view(&done, &state.public_url)))
}

/// `POST /v1/admin/tenants/{slug}/users/{id}/enable`.
pub async fn enable_user(
    state: Data<AppState>,
    req: HttpRequest,
    key: Admin,
    path: Path<(String, String)>,
) -> Result<HttpResponse> {
    let (tenant, user) = target(&state, &key, &path).await?;
    let done = state
        .auth
        .enable_user(tenant, user, &actor(&key, &req))
        .await?
        .ok_or_else(user_not_found)?;
    Ok(ok(StatusCode::OK, overview_view(&done, &state.public_url)))
}

/// `POST /v1/admin/tenants/{slug}/users/{id}/sessions/revoke`: `{revoked: n}`.
pub async fn revoke_user_sessions(
    state: Data<AppState>,
    req: HttpRequest,
    key: Admin,
    path: Path<(String, String)>,
) -> Result<HttpResponse> {
    let (tenant, user) = target(&state, &key, &path).await?;
    let revoked = state
        .auth
        .revoke_user_sessions(tenant, user, &actor(&key, &req))
        .await?
        .ok_or_else(user_not_found)?;
    Ok(ok(StatusCode::OK, json!({ "revoked": revoked })))
}

/// `DELETE /v1/admin/tenants/{slug}/users/{id}`: erases the account; 204. Its audit events stay
/// under a pseudonym.
pub async fn erase_user(
    state: Data<AppState>,
    req: HttpRequest,
    key: Admin,
    path: Path<(String, String)>,
) -> Result<HttpResponse> {
    let (tenant, user) = target(&state, &key, &path).await?;
    if !state.auth.erase_user(tenant, user, &actor(&key, &req)).await? {
        return Err(user_not_found());
    }
    Ok(super::shared::no_content())
}
