//! Statements several ports run inside their own transactions: loading accounts, opening
//! sessions, remembering networks, storing secrets, enqueueing mail.
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;
use portcullis_domain::{Account, Email, NewOneTimeSecret, NewSession, OutgoingMail, TenantId};
use uuid::Uuid;

use crate::pool::SqliteConn;
use crate::rows::{AccountRow, SessionRow, TenantRow};
use crate::schema::{accounts, known_networks, mail_outbox, one_time_secrets, refresh_tokens, sessions, tenants};
use crate::sql::Db;

pub(crate) fn account_with_tenant() -> (
    diesel::helper_types::AsSelect<AccountRow, diesel::sqlite::Sqlite>,
    diesel::helper_types::AsSelect<TenantRow, diesel::sqlite::Sqlite>,
) {
    (AccountRow::as_select(), TenantRow::as_select())
}

/// Accounts of one tenant, joined with their tenant: every account look-up starts here, so none
/// can forget the tenant.
pub(crate) type AccountsOfTenant<'a> = diesel::helper_types::IntoBoxed<
    'a,
    diesel::helper_types::InnerJoin<accounts::table, tenants::table>,
    diesel::sqlite::Sqlite,
>;

pub(crate) fn accounts_of<'a>(tenant: TenantId) -> AccountsOfTenant<'a> {
    accounts::table
        .inner_join(tenants::table)
        .filter(accounts::tenant_id.eq(tenant.db()))
        .into_boxed()
}

pub(crate) async fn touch_session(conn: &mut SqliteConn, id: uuid::Uuid, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(sessions::table.find(id.db()))
        .set(sessions::last_used_at.eq(now))
        .execute(conn)
        .await
        .map(drop)
}

/// Records `network` as known to the account (or refreshes when it was last seen).
pub(crate) async fn remember_network(
    conn: &mut SqliteConn,
    tenant: uuid::Uuid,
    user: uuid::Uuid,
    network: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(known_networks::table)
        .values((
            known_networks::tenant_id.eq(tenant.db()),
            known_networks::user_id.eq(user.db()),
            known_networks::network.eq(network),
            known_networks::first_seen.eq(now),
            known_networks::last_seen.eq(now),
        ))
        .on_conflict((
            known_networks::tenant_id,
            known_networks::user_id,
            known_networks::network,
        ))
        .do_update()
        .set(known_networks::last_seen.eq(now))
        .execute(conn)
        .await
        .map(drop)
}

pub(crate) async fn insert_session_rows(conn: &mut SqliteConn, new: &NewSession) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(SessionRow::from(&new.session))
        .execute(conn)
        .await?;
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::token_hash.eq(&new.refresh_hash.0[..]),
            refresh_tokens::session_id.eq(new.session.id.db()),
            refresh_tokens::generation.eq(0),
            refresh_tokens::created_at.eq(new.session.created_at),
        ))
        .execute(conn)
        .await?;
    crate::audit::insert_events(conn, &new.events).await
}

pub(crate) async fn load_account(conn: &mut SqliteConn, tenant: Uuid, id: Uuid) -> QueryResult<Account> {
    accounts::table
        .inner_join(tenants::table)
        .filter(accounts::tenant_id.eq(tenant.db()))
        .filter(accounts::id.eq(id.db()))
        .select(account_with_tenant())
        .first::<(AccountRow, TenantRow)>(conn)
        .await
        .map(|(a, t)| a.into_account(t).account)
}

/// Stores `secret`, replacing the live one of its account, purpose and scope.
pub(crate) async fn upsert_secret(conn: &mut SqliteConn, secret: &NewOneTimeSecret) -> QueryResult<()> {
    use one_time_secrets as s;
    diesel::insert_into(s::table)
        .values((
            s::id.eq(secret.id.db()),
            s::tenant_id.eq(secret.tenant_id.db()),
            s::user_id.eq(secret.user_id.db()),
            s::purpose.eq(secret.purpose.name()),
            s::scope.eq(&secret.scope),
            s::token_hash.eq(&secret.token_hash.0[..]),
            s::code_hash.eq(&secret.code_hash.0[..]),
            s::token_expires_at.eq(secret.token_expires_at),
            s::code_expires_at.eq(secret.code_expires_at),
            s::new_email.eq(secret.new_email.as_ref().map(Email::as_str)),
            s::new_email_normalized.eq(secret.new_email.as_ref().map(Email::normalized)),
            s::created_at.eq(secret.created_at),
        ))
        .on_conflict((s::tenant_id, s::user_id, s::purpose, s::scope))
        .do_update()
        .set((
            s::id.eq(excluded(s::id)),
            s::token_hash.eq(excluded(s::token_hash)),
            s::code_hash.eq(excluded(s::code_hash)),
            s::token_expires_at.eq(excluded(s::token_expires_at)),
            s::code_expires_at.eq(excluded(s::code_expires_at)),
            // A new code does not buy new guesses: the count carries over while the code it
            // replaces was still alive, so asking again and again cannot reset it.
            s::failed_code_attempts.eq(diesel::dsl::sql::<diesel::sql_types::Integer>(
                "CASE WHEN one_time_secrets.code_expires_at > excluded.created_at \
                 THEN one_time_secrets.failed_code_attempts ELSE 0 END",
            )),
            s::new_email.eq(excluded(s::new_email)),
            s::new_email_normalized.eq(excluded(s::new_email_normalized)),
            s::created_at.eq(excluded(s::created_at)),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Inserts a mail into the outbox on `conn`, so callers can do it inside their own transaction.
pub(crate) async fn enqueue_on(conn: &mut SqliteConn, mail: &OutgoingMail, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::insert_into(mail_outbox::table)
        .values((
            mail_outbox::id.eq(mail.id.db()),
            mail_outbox::tenant_id.eq(mail.tenant_id.db()),
            mail_outbox::recipient.eq(&mail.to),
            mail_outbox::sender.eq(&mail.from),
            mail_outbox::kind.eq(mail.kind.name()),
            mail_outbox::subject.eq(&mail.subject),
            mail_outbox::body_text.eq(&mail.text),
            mail_outbox::body_html.eq(&mail.html),
            mail_outbox::next_attempt_at.eq(now),
            mail_outbox::created_at.eq(now),
        ))
        .execute(conn)
        .await
        .map(drop)
}
