//! What the contract tests build their data from.

use chrono::{DateTime, Duration, TimeZone, Utc};
use portcullis_domain::model::{AuditEvent, EventQuery, EventType};
use portcullis_domain::{
    Email, MailKind, NewAccount, NewOneTimeSecret, NewSession, OutgoingMail, Purpose, Session, SessionId, TenantId,
    TokenHash, UserId, Username,
};
use uuid::Uuid;

/// A fixed point in time (microseconds, as databases keep them).
pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).single().unwrap_or_default()
}

pub(crate) fn secs(n: i64) -> Duration {
    Duration::seconds(n)
}

pub(crate) fn email(text: &str) -> Email {
    Email::parse(text).unwrap_or_else(|e| panic!("test address {text}: {e:?}"))
}

pub(crate) fn username(text: &str) -> Username {
    Username::from_stored(text.to_owned())
}

pub(crate) fn random_hash() -> TokenHash {
    use portcullis_domain::SecureRandom as _;
    let mut bytes = [0u8; 32];
    portcullis_domain::OsRandom.fill(&mut bytes);
    TokenHash(bytes)
}

pub(crate) fn new_account(address: &str) -> NewAccount {
    NewAccount {
        id: UserId::from_uuid(Uuid::now_v7()),
        tenant_id: TenantId::DEFAULT,
        email: email(address),
        email_verified: true,
        username: None,
        password_hash: format!("$test${address}"),
        created_at: t0(),
        network: None,
    }
}

pub(crate) fn new_session(user: UserId, created: DateTime<Utc>) -> NewSession {
    NewSession {
        session: Session {
            id: SessionId::from_uuid(Uuid::now_v7()),
            tenant_id: TenantId::DEFAULT,
            user_id: user,
            amr: vec!["pwd".to_owned()],
            ip: None,
            user_agent: None,
            created_at: created,
            last_used_at: created,
            expires_at: created + Duration::days(30),
            revoked_at: None,
        },
        refresh_hash: random_hash(),
        events: vec![event(EventType::LoginSucceeded, Some(user), created)],
    }
}

/// An audit event of the built-in tenant.
pub(crate) fn event(kind: EventType, user: Option<UserId>, at: DateTime<Utc>) -> AuditEvent {
    AuditEvent {
        id: Uuid::now_v7(),
        kind,
        tenant_id: TenantId::DEFAULT,
        user_id: user,
        session_id: None,
        ip: Some("203.0.113.9".to_owned()),
        user_agent: Some("tests".to_owned()),
        request_id: Some("req-1".to_owned()),
        at,
        details: serde_json::json!({ "reason": "test" }),
    }
}

pub(crate) fn mail(to: &str) -> OutgoingMail {
    OutgoingMail {
        id: Uuid::now_v7(),
        tenant_id: TenantId::DEFAULT,
        to: to.to_owned(),
        from: None,
        kind: MailKind::PasswordChangedNotice,
        subject: "subject".to_owned(),
        text: "text".to_owned(),
        html: "<p>html</p>".to_owned(),
    }
}

pub(crate) fn secret(user: UserId, purpose: Purpose, scope: &str, created: DateTime<Utc>) -> NewOneTimeSecret {
    NewOneTimeSecret {
        id: Uuid::now_v7(),
        tenant_id: TenantId::DEFAULT,
        user_id: user,
        purpose,
        scope: scope.to_owned(),
        token_hash: random_hash(),
        code_hash: random_hash(),
        token_expires_at: created + Duration::hours(24),
        code_expires_at: created + Duration::minutes(15),
        new_email: None,
        created_at: created,
    }
}

/// The built-in tenant's events, of `user` and of `types` (all when `None` and empty), up to 100.
pub(crate) fn events_query(user: Option<UserId>, types: Vec<EventType>) -> EventQuery {
    EventQuery {
        tenant: TenantId::DEFAULT,
        user,
        types,
        since: None,
        until: None,
        before: None,
        limit: 100,
    }
}

/// The `session.revoked` event of ending `n` of `user`'s sessions.
pub(crate) fn revoked(user: UserId) -> impl Fn(u64) -> AuditEvent + Send + Sync {
    move |n| {
        let mut e = event(EventType::SessionsRevoked, Some(user), t0());
        e.details = serde_json::json!({ "revoked_sessions": n });
        e
    }
}

/// The `refresh.reused` event of a session.
pub(crate) fn reused(session: &Session) -> AuditEvent {
    let mut e = event(EventType::RefreshReused, Some(session.user_id), t0());
    e.session_id = Some(session.id);
    e
}
