//! Reading the audit trail: a user's own events, a tenant's for operators.

use crate::model::{AuditEvent, EventQuery};
use crate::service::base::{AuthService, InfraError};
use crate::use_cases::admin::MAX_PAGE;

/// One page of events, newest first.
#[derive(Debug, Clone)]
pub struct EventPage {
    /// The events.
    pub items: Vec<AuditEvent>,
    /// The cursor of the next (older) page, if there is one.
    pub next: Option<uuid::Uuid>,
}

impl AuthService {
    /// The events `query` selects, newest first, `query.limit` (1 to [`MAX_PAGE`]) at a time.
    /// The caller sets the tenant (and the user, for a user's own events).
    pub async fn audit_events(&self, mut query: EventQuery) -> Result<EventPage, InfraError> {
        let limit = query.limit.clamp(1, MAX_PAGE);
        query.limit = limit + 1;
        let mut items = self.deps.store.events(&query).await?;
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next = more.then(|| items.last().map(|e| e.id)).flatten();
        Ok(EventPage { items, next })
    }
}
