//! Row types and their translation into domain types.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use portcullis_domain::{
    Account, AccountCredentials, Email, Session, SessionId, StoredPassword, Tenant, TenantId, UserId, Username,
};
use uuid::Uuid;

use crate::schema::{accounts, sessions, tenants};

#[derive(Queryable, Selectable)]
#[diesel(table_name = tenants, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct TenantRow {
    pub id: Uuid,
    pub slug: String,
}

impl From<TenantRow> for Tenant {
    fn from(r: TenantRow) -> Self {
        Self {
            id: TenantId::from_uuid(r.id),
            slug: r.slug,
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = accounts, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct AccountRow {
    pub id: Uuid,
    pub email: String,
    pub email_verified: bool,
    pub username: Option<String>,
    pub password_hash: Option<String>,
    pub created_at: DateTime<Utc>,
    pub mfa_enabled: bool,
    pub password_nfkc: bool,
    pub disabled_at: Option<DateTime<Utc>>,
    pub avatar_version: Option<String>,
}

impl AccountRow {
    pub fn into_account(self, tenant: TenantRow) -> AccountCredentials {
        AccountCredentials {
            account: Account {
                id: UserId::from_uuid(self.id),
                tenant: tenant.into(),
                email: Email::from_stored(self.email),
                email_verified: self.email_verified,
                username: self.username.map(Username::from_stored),
                mfa_enabled: self.mfa_enabled,
                avatar_version: self.avatar_version,
                created_at: self.created_at,
                disabled: self.disabled_at.is_some(),
            },
            password: self.password_hash.map(|phc| StoredPassword {
                phc,
                normalized: self.password_nfkc,
            }),
        }
    }
}

/// A new account's row (everything but the defaults).
#[derive(Insertable)]
#[diesel(table_name = accounts, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct NewAccountRow<'a> {
    #[diesel(serialize_as = crate::sql::Id)]
    pub id: Uuid,
    #[diesel(serialize_as = crate::sql::Id)]
    pub tenant_id: Uuid,
    pub email: &'a str,
    pub email_normalized: &'a str,
    pub email_verified: bool,
    pub username: Option<&'a str>,
    pub username_normalized: Option<&'a str>,
    pub password_hash: &'a str,
    pub password_nfkc: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl<'a> From<&'a portcullis_domain::NewAccount> for NewAccountRow<'a> {
    fn from(a: &'a portcullis_domain::NewAccount) -> Self {
        Self {
            id: a.id.as_uuid(),
            tenant_id: a.tenant_id.as_uuid(),
            email: a.email.as_str(),
            email_normalized: a.email.normalized(),
            email_verified: a.email_verified,
            username: a.username.as_ref().map(Username::as_str),
            username_normalized: a.username.as_ref().map(Username::normalized),
            password_hash: &a.password_hash,
            // Every hash made now is of the normalised password.
            password_nfkc: true,
            created_at: a.created_at,
            updated_at: a.created_at,
        }
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct SessionRow {
    #[diesel(serialize_as = crate::sql::Id)]
    pub id: Uuid,
    #[diesel(serialize_as = crate::sql::Id)]
    pub tenant_id: Uuid,
    #[diesel(serialize_as = crate::sql::Id)]
    pub user_id: Uuid,
    #[diesel(serialize_as = crate::sql::Strings)]
    pub amr: Vec<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<SessionRow> for Session {
    fn from(r: SessionRow) -> Self {
        Self {
            id: SessionId::from_uuid(r.id),
            tenant_id: TenantId::from_uuid(r.tenant_id),
            user_id: UserId::from_uuid(r.user_id),
            amr: r.amr,
            // Written from an IpAddr; an unparsable value can only come from outside the service.
            ip: r.ip.and_then(|ip| ip.parse::<IpAddr>().ok()),
            user_agent: r.user_agent,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
        }
    }
}

impl From<&Session> for SessionRow {
    fn from(s: &Session) -> Self {
        Self {
            id: s.id.as_uuid(),
            tenant_id: s.tenant_id.as_uuid(),
            user_id: s.user_id.as_uuid(),
            amr: s.amr.clone(),
            ip: s.ip.map(|ip| ip.to_string()),
            user_agent: s.user_agent.clone(),
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at,
            revoked_at: s.revoked_at,
        }
    }
}
