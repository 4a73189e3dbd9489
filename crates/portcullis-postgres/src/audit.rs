//! The audit trail on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use portcullis_domain::model::{AuditEvent, EventQuery, EventType};
use portcullis_domain::{AuditStore, SessionId, StoreError, TenantId, UserId};
use uuid::Uuid;

use crate::error::query_error;
use crate::pool::PgStore;
use crate::schema::audit_events;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events, check_for_backend(diesel::pg::Pg))]
struct EventRow {
    id: Uuid,
    tenant_id: Uuid,
    event_type: String,
    user_id: Option<Uuid>,
    session_id: Option<Uuid>,
    ip: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
    at: DateTime<Utc>,
    details: serde_json::Value,
}

impl From<&AuditEvent> for EventRow {
    fn from(e: &AuditEvent) -> Self {
        Self {
            id: e.id,
            tenant_id: e.tenant_id.as_uuid(),
            event_type: e.kind.name().to_owned(),
            user_id: e.user_id.map(|u| u.as_uuid()),
            session_id: e.session_id.map(|s| s.as_uuid()),
            ip: e.ip.clone(),
            user_agent: e.user_agent.clone(),
            request_id: e.request_id.clone(),
            at: e.at,
            details: e.details.clone(),
        }
    }
}

impl EventRow {
    /// `None` for a type this version does not know (written by a newer one).
    fn into_event(self) -> Option<AuditEvent> {
        Some(AuditEvent {
            kind: EventType::from_name(&self.event_type)?,
            id: self.id,
            tenant_id: TenantId::from_uuid(self.tenant_id),
            user_id: self.user_id.map(UserId::from_uuid),
            session_id: self.session_id.map(SessionId::from_uuid),
            ip: self.ip,
            user_agent: self.user_agent,
            request_id: self.request_id,
            at: self.at,
            details: self.details,
        })
    }
}

/// Inserts `events` on `conn`, so callers can do it inside the transaction of the change they
/// record.
pub(crate) async fn insert_events(conn: &mut AsyncPgConnection, events: &[AuditEvent]) -> QueryResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let rows: Vec<EventRow> = events.iter().map(EventRow::from).collect();
    diesel::insert_into(audit_events::table)
        .values(&rows)
        .execute(conn)
        .await
        .map(drop)
}

#[async_trait]
impl AuditStore for PgStore {
    async fn append_events(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        insert_events(&mut conn, events).await.map_err(query_error)
    }

    async fn events(&self, query: &EventQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let mut conn = self.conn().await?;
        let mut select = audit_events::table
            .filter(audit_events::tenant_id.eq(query.tenant.as_uuid()))
            .into_boxed();
        if let Some(user) = query.user {
            select = select.filter(audit_events::user_id.eq(user.as_uuid()));
        }
        // Only types this version knows (a newer one may have written others), filtered before
        // the limit so a page is never cut short by rows it cannot show.
        let types: &[EventType] = if query.types.is_empty() {
            &EventType::ALL
        } else {
            &query.types
        };
        let names: Vec<&str> = types.iter().map(|t| t.name()).collect();
        select = select.filter(audit_events::event_type.eq_any(names));
        if let Some(since) = query.since {
            select = select.filter(audit_events::at.ge(since));
        }
        if let Some(until) = query.until {
            select = select.filter(audit_events::at.lt(until));
        }
        if let Some(before) = query.before {
            select = select.filter(audit_events::id.lt(before));
        }
        let rows = select
            .order(audit_events::id.desc())
            .limit(i64::from(query.limit))
            .select(EventRow::as_select())
            .load(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(rows.into_iter().filter_map(EventRow::into_event).collect())
    }

    async fn purge_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let n = diesel::delete(audit_events::table.filter(audit_events::at.lt(before)))
            .execute(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
