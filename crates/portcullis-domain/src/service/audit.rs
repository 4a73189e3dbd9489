//! Making audit events, and appending those that go with no other change.

use serde_json::Value;

use crate::model::{AuditEvent, ClientInfo, EventType, Subject};
use crate::service::base::{AuthService, InfraError};
use crate::service::mint::MAX_USER_AGENT_CHARS;

impl AuthService {
    /// An event of `kind` about `subject`, from `client`, now.
    pub(crate) fn audit_event(
        &self,
        kind: EventType,
        subject: Subject,
        client: &ClientInfo,
        details: Value,
    ) -> AuditEvent {
        AuditEvent {
            id: self.new_id(),
            kind,
            tenant_id: subject.tenant,
            user_id: subject.user,
            session_id: subject.session,
            ip: client.ip.map(|ip| ip.to_string()),
            user_agent: client
                .user_agent
                .as_ref()
                .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect()),
            request_id: client.request_id.clone(),
            at: self.deps.clock.now(),
            details,
        }
    }

    /// Appends an event that records a decision alone (no change goes with it). A failure
    /// fails the request: an event is never silently lost.
    pub(crate) async fn record(&self, event: AuditEvent) -> Result<(), InfraError> {
        self.deps.store.append_events(std::slice::from_ref(&event)).await?;
        Ok(())
    }
}
