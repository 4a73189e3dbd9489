//! The audit trail on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use portcullis_domain::model::{AuditEvent, EventQuery, EventType};
use portcullis_domain::{AuditStore, SessionId, StoreError, TenantId, UserId};
use uuid::Uuid;

use crate::error::query_error;
use crate::pool::SqliteConn;
use crate::pool::SqliteStore;
use crate::schema::audit_events;
use crate::sql::Db;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events, check_for_backend(diesel::sqlite::Sqlite))]
struct EventRow {
    #[diesel(serialize_as = crate::sql::Id)]
    id: Uuid,
    #[diesel(serialize_as = crate::sql::Id)]
    tenant_id: Uuid,
    event_type: String,
    #[diesel(serialize_as = crate::sql::OptId)]
    user_id: Option<Uuid>,
    #[diesel(serialize_as = crate::sql::OptId)]
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
pub(crate) async fn insert_events(conn: &mut SqliteConn, events: &[AuditEvent]) -> QueryResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    // One statement per row: SQLite's multi-row VALUES cannot leave a column to its default.
    for row in events.iter().map(EventRow::from) {
        diesel::insert_into(audit_events::table)
            .values(row)
            .execute(conn)
            .await?;
    }
    Ok(())
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_events(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        // One row per statement here, so all of them in one transaction: a batch is kept whole.
        conn.transaction::<_, diesel::result::Error, _>(async |conn| insert_events(conn, events).await)
            .await
            .map_err(query_error)
    }

    async fn events(&self, query: &EventQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let mut conn = self.conn().await?;
        let mut select = audit_events::table
            .filter(audit_events::tenant_id.eq(query.tenant.db()))
            .into_boxed();
        if let Some(user) = query.user {
            select = select.filter(audit_events::user_id.eq(user.db()));
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
            select = select.filter(audit_events::id.lt(before.db()));
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
