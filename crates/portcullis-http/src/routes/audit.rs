//! Reading the audit trail: `GET /v1/account/events` (the caller's own) and
//! `GET /v1/admin/tenants/{slug}/events` (a tenant's, for operators).

use actix_web::HttpResponse;
use actix_web::web::{Data, Path, Query};
use chrono::{DateTime, Utc};
use portcullis_domain::model::{AuditEvent, EventQuery, EventType};
use portcullis_domain::{TenantId, UserId};
use serde_json::{Value, json};

use super::admin::{cursor, page, reached};
use super::shared::Result;
use crate::dto::EventSearch;
use crate::error::{ApiError, FieldDetail};
use crate::extract::{Admin, Authenticated};
use crate::state::AppState;

fn invalid(field: &'static str, message: &str) -> ApiError {
    ApiError::validation(vec![FieldDetail {
        field,
        code: "invalid",
        message: message.to_owned(),
    }])
}

fn time(field: &'static str, given: Option<&str>) -> Result<Option<DateTime<Utc>>> {
    given
        .filter(|t| !t.is_empty())
        .map(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| invalid(field, &format!("{field} must be an RFC 3339 time")))
        })
        .transpose()
}

/// The query of `search` for `tenant`, with the user `user` names (a query parameter for
/// operators, the caller for `/v1/account/events`).
fn query(tenant: TenantId, user: Option<UserId>, search: &EventSearch) -> Result<EventQuery> {
    let types = match search.r#type.as_deref().filter(|t| !t.is_empty()) {
        None => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|name| EventType::from_name(name.trim()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| invalid("type", "type must be event types, separated by commas"))?,
    };
    Ok(EventQuery {
        tenant,
        user,
        types,
        since: time("since", search.since.as_deref())?,
        until: time("until", search.until.as_deref())?,
        before: cursor(search.cursor.as_deref())?,
        limit: search.limit.unwrap_or(50),
    })
}

/// What an operator noted (the reason, the admin key's name) stays out of the owner's view.
fn owner_view(e: &AuditEvent) -> Value {
    let mut view = event_view(e);
    if let Some(details) = view["details"].as_object_mut()
        && details.get("actor").is_some_and(|a| a != "user")
    {
        details.remove("actor");
        details.remove("reason");
    }
    view
}

fn event_view(e: &AuditEvent) -> Value {
    json!({
        "id": e.id,
        "type": e.kind.name(),
        "tenant_id": e.tenant_id,
        "user_id": e.user_id,
        "session_id": e.session_id,
        "ip": e.ip,
        "user_agent": e.user_agent,
        "request_id": e.request_id,
        "at": e.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "details": e.details,
    })
}

async fn answer(state: &AppState, query: EventQuery, view: fn(&AuditEvent) -> Value) -> Result<HttpResponse> {
    let found = state.auth.audit_events(query).await?;
    let items: Vec<Value> = found.items.iter().map(view).collect();
    Ok(page(&items, found.next))
}

/// `GET /v1/account/events`: the caller's own events, newest first.
pub async fn my_events(
    state: Data<AppState>,
    caller: Authenticated,
    search: Query<EventSearch>,
) -> Result<HttpResponse> {
    let claims = &caller.0.claims;
    answer(&state, query(claims.tid, Some(claims.sub), &search)?, owner_view).await
}

/// `GET /v1/admin/tenants/{slug}/events`: the tenant's events, newest first; `user_id`?
pub async fn tenant_events(
    state: Data<AppState>,
    Admin(key): Admin,
    slug: Path<String>,
    search: Query<EventSearch>,
) -> Result<HttpResponse> {
    let t = reached(&state, &key, &slug).await?;
    let user = match search.user_id.as_deref().filter(|u| !u.is_empty()) {
        None => None,
        Some(u) => Some(UserId::from_uuid(
            uuid::Uuid::parse_str(u).map_err(|_| invalid("user_id", "user_id must be a user's id"))?,
        )),
    };
    answer(&state, query(t.tenant.id, user, &search)?, event_view).await
}
