//! The caller's sessions: list, delete one, revoke several.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::Data;
use portcullis_domain::{RevokeRequest, SessionId};
use serde_json::json;

use super::shared::{Result, no_content, ok};
use crate::command::{Command, Signed};
use crate::dto::{RevokeSessionsRequest, SessionListItem, Validator};
use crate::error::ApiError;
use crate::extract::Authenticated;
use crate::state::AppState;

/// Most session ids or refresh tokens one revoke request may name.
pub(crate) const MAX_REVOKE_ITEMS: usize = 100;

/// `GET /v1/account/sessions`: the caller's live sessions, most recently used first.
pub async fn list_sessions(state: Data<AppState>, caller: Authenticated) -> Result<HttpResponse> {
    let sessions = state.auth.sessions(&caller.0).await?;
    let current = caller.0.session.id;
    let items: Vec<SessionListItem> = sessions.iter().map(|s| SessionListItem::new(s, current)).collect();
    Ok(ok(StatusCode::OK, items))
}

pub(crate) fn no_such_session() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such session.")
}

/// `DELETE /v1/account/sessions/{id}`: 404 unless it is one of the caller's live sessions.
pub async fn delete_session(
    state: Data<AppState>,
    caller: Authenticated,
    id: actix_web::web::Path<String>,
) -> Result<HttpResponse> {
    let id = uuid::Uuid::parse_str(&id).map_err(|_| no_such_session())?;
    if state
        .auth
        .revoke_own_session(&caller.0, SessionId::from_uuid(id))
        .await?
    {
        Ok(no_content())
    } else {
        Err(no_such_session())
    }
}

impl Command for RevokeRequest {
    type Body = RevokeSessionsRequest;

    fn parse(body: RevokeSessionsRequest, _state: &AppState, v: &mut Validator) -> Option<Self> {
        let ids = body.session_ids.unwrap_or_default();
        let tokens = body.refresh_tokens.unwrap_or_default();
        let all = body.all.unwrap_or(false);
        let before = v.len();
        for (field, len) in [("session_ids", ids.len()), ("refresh_tokens", tokens.len())] {
            if len > MAX_REVOKE_ITEMS {
                v.push(crate::error::FieldDetail {
                    field,
                    code: "too_long",
                    message: format!("{field} may name at most {MAX_REVOKE_ITEMS} items"),
                });
            }
        }
        let session_ids: Vec<SessionId> = ids
            .iter()
            .filter_map(|id| uuid::Uuid::parse_str(id.trim()).ok().map(SessionId::from_uuid))
            .collect();
        if session_ids.len() != ids.len() {
            v.push(crate::error::FieldDetail {
                field: "session_ids",
                code: "invalid",
                message: "session_ids must be session ids (UUIDs)".into(),
            });
        }
        if !all && ids.is_empty() && tokens.is_empty() {
            v.push(crate::error::FieldDetail {
                field: "all",
                code: "required",
                message: "give all, session_ids or refresh_tokens".into(),
            });
        }
        (v.len() == before).then(|| Self {
            all,
            exclude_current: body.exclude_current.unwrap_or(false),
            session_ids,
            refresh_tokens: tokens,
        })
    }
}

/// `POST /v1/account/sessions/revoke`: ends the sessions named (all, by id, or by refresh
/// token), never another user's.
pub async fn revoke_sessions(
    state: Data<AppState>,
    Signed(caller, request): Signed<RevokeRequest>,
) -> Result<HttpResponse> {
    let revoked = state.auth.revoke_own_sessions(&caller.0, &request).await?;
    Ok(ok(StatusCode::OK, json!({ "revoked": revoked })))
}
