//! Registrations on SQLite: requests recorded by `register`, fulfilled by the mail worker
//! into accounts and per-registration rows, and activated when one of their secrets is
//! redeemed.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use portcullis_domain::{
    Account, AccountConflict, Email, InsertAccountError, MAX_PENDING_REGISTRATIONS, RegistrationPlan,
    RegistrationRequest, RegistrationStore, StoreError, TenantId, Username,
};
use uuid::Uuid;

use crate::error::{is_foreign_key_violation, query_error, unique_violation};
use crate::pool::SqliteConn;
use crate::pool::SqliteStore;
use crate::queries::enqueue_on;
use crate::queries::load_account;
use crate::queries::remember_network;
use crate::schema::{accounts, known_networks, one_time_secrets, registration_requests, registrations};
use crate::sql::Db;

#[derive(Queryable, Selectable)]
#[diesel(table_name = registration_requests, check_for_backend(diesel::sqlite::Sqlite))]
struct RequestRow {
    id: Uuid,
    tenant_id: Uuid,
    email: String,
    password_hash: String,
    username: Option<String>,
    network: Option<String>,
    mail_allowed: bool,
    requested_at: DateTime<Utc>,
}

impl From<RequestRow> for RegistrationRequest {
    fn from(r: RequestRow) -> Self {
        Self {
            id: r.id,
            tenant_id: TenantId::from_uuid(r.tenant_id),
            email: Email::from_stored(r.email),
            password_hash: r.password_hash,
            username: r.username.map(Username::from_stored),
            network: r.network,
            mail_allowed: r.mail_allowed,
            requested_at: r.requested_at,
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = registrations, check_for_backend(diesel::sqlite::Sqlite))]
struct RegistrationRow {
    password_hash: String,
    username: Option<String>,
    username_normalized: Option<String>,
    network: Option<String>,
}

/// The tenant's account with this address, locked for the rest of the transaction.
pub(crate) async fn lock_account_by_email(
    conn: &mut SqliteConn,
    tenant: Uuid,
    email: &Email,
) -> QueryResult<Option<Account>> {
    let id = accounts::table
        .filter(accounts::tenant_id.eq(tenant.db()))
        .filter(accounts::email_normalized.eq(email.normalized()))
        .select(accounts::id)
        .first::<Uuid>(conn)
        .await
        .optional()?;
    match id {
        Some(id) => load_account(conn, tenant, id).await.map(Some),
        None => Ok(None),
    }
}

/// The account's registrations, oldest first: each one's id and the network it came from.
pub(crate) async fn registrations_of(
    conn: &mut SqliteConn,
    tenant: Uuid,
    user: Uuid,
) -> QueryResult<Vec<(Uuid, Option<String>)>> {
    registrations::table
        .filter(registrations::tenant_id.eq(tenant.db()))
        .filter(registrations::user_id.eq(user.db()))
        .order((registrations::created_at.asc(), registrations::id.asc()))
        .select((registrations::id, registrations::network))
        .load(conn)
        .await
}

/// Activates the registration `scope` names (if it is one of the account's): its password, its
/// username if no other account holds it, its network as the only known one; with none, the
/// account is left without a password. Every registration of the account is then deleted.
pub(crate) async fn activate_registration(
    conn: &mut SqliteConn,
    tenant: Uuid,
    user: Uuid,
    scope: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let chosen = match Uuid::parse_str(scope) {
        Ok(id) => registrations::table
            .filter(registrations::id.eq(id.db()))
            .filter(registrations::tenant_id.eq(tenant.db()))
            .filter(registrations::user_id.eq(user.db()))
            .select(RegistrationRow::as_select())
            .first(conn)
            .await
            .optional()?,
        Err(_) => None,
    };
    let account = accounts::table
        .filter(accounts::tenant_id.eq(tenant.db()))
        .filter(accounts::id.eq(user.db()));
    diesel::update(account)
        .set((
            accounts::email_verified.eq(true),
            accounts::password_hash.eq(chosen.as_ref().map(|r| r.password_hash.as_str())),
            accounts::password_nfkc.eq(true),
            accounts::username.eq(None::<String>),
            accounts::username_normalized.eq(None::<String>),
            accounts::updated_at.eq(now),
        ))
        .execute(conn)
        .await?;
    if let Some(RegistrationRow {
        username: Some(name),
        username_normalized: Some(key),
        ..
    }) = &chosen
    {
        // In a savepoint: another account may have taken the name since it was asked for,
        // and then the account simply has none yet.
        let claimed = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                diesel::update(account)
                    .set((accounts::username.eq(name), accounts::username_normalized.eq(key)))
                    .execute(conn)
                    .await
            })
            .await;
        match claimed {
            Err(e) if unique_violation(&e).is_some() => {
                tracing::info!(user_id = %user, "the username of the verified registration was taken meanwhile");
            }
            other => drop(other?),
        }
    }
    diesel::delete(
        known_networks::table
            .filter(known_networks::tenant_id.eq(tenant.db()))
            .filter(known_networks::user_id.eq(user.db())),
    )
    .execute(conn)
    .await?;
    if let Some(network) = chosen.as_ref().and_then(|r| r.network.as_deref()) {
        remember_network(conn, tenant, user, network, now).await?;
    }
    forget_registrations(conn, tenant, user).await
}

/// Deletes every registration of the account.
pub(crate) async fn forget_registrations(conn: &mut SqliteConn, tenant: Uuid, user: Uuid) -> QueryResult<()> {
    diesel::delete(
        registrations::table
            .filter(registrations::tenant_id.eq(tenant.db()))
            .filter(registrations::user_id.eq(user.db())),
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Stores the registration of `request` for the unverified account `user`, keeping the newest
/// [`MAX_PENDING_REGISTRATIONS`]: older ones go, with their secrets.
async fn store_registration(conn: &mut SqliteConn, request: &RegistrationRequest, user: Uuid) -> QueryResult<()> {
    let tenant = request.tenant_id.as_uuid();
    diesel::insert_into(registrations::table)
        .values((
            registrations::id.eq(request.id.db()),
            registrations::tenant_id.eq(tenant.db()),
            registrations::user_id.eq(user.db()),
            registrations::password_hash.eq(&request.password_hash),
            registrations::username.eq(request.username.as_ref().map(Username::as_str)),
            registrations::username_normalized.eq(request.username.as_ref().map(Username::normalized)),
            registrations::network.eq(&request.network),
            registrations::created_at.eq(request.requested_at),
        ))
        .execute(conn)
        .await?;
    let ids: Vec<Uuid> = registrations_of(conn, tenant, user)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let excess = ids.len().saturating_sub(MAX_PENDING_REGISTRATIONS);
    if excess > 0 {
        let old = &ids[..excess];
        let scopes: Vec<String> = old.iter().map(ToString::to_string).collect();
        diesel::delete(
            one_time_secrets::table
                .filter(one_time_secrets::tenant_id.eq(tenant.db()))
                .filter(one_time_secrets::user_id.eq(user.db()))
                .filter(one_time_secrets::purpose.eq("verify_email"))
                .filter(one_time_secrets::scope.eq_any(scopes)),
        )
        .execute(conn)
        .await?;
        diesel::delete(
            registrations::table.filter(registrations::id.eq_any(old.iter().map(Db::db).collect::<Vec<_>>())),
        )
        .execute(conn)
        .await?;
    }
    // The password a login is checked against before verification: the newest registration's.
    diesel::update(
        accounts::table
            .filter(accounts::tenant_id.eq(tenant.db()))
            .filter(accounts::id.eq(user.db())),
    )
    .set((
        accounts::password_hash.eq(&request.password_hash),
        accounts::password_nfkc.eq(true),
        accounts::updated_at.eq(request.requested_at),
    ))
    .execute(conn)
    .await
    .map(drop)
}

#[async_trait]
impl RegistrationStore for SqliteStore {
    async fn username_taken(&self, tenant: TenantId, username: &Username) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        diesel::select(diesel::dsl::exists(
            accounts::table
                .filter(accounts::tenant_id.eq(tenant.db()))
                .filter(accounts::username_normalized.eq(username.normalized())),
        ))
        .get_result(&mut conn)
        .await
        .map_err(query_error)
    }

    async fn request_registration(&self, request: &RegistrationRequest) -> Result<(), InsertAccountError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(registration_requests::table)
            .values((
                registration_requests::id.eq(request.id.db()),
                registration_requests::tenant_id.eq(request.tenant_id.db()),
                registration_requests::email.eq(request.email.as_str()),
                registration_requests::email_normalized.eq(request.email.normalized()),
                registration_requests::password_hash.eq(&request.password_hash),
                registration_requests::username.eq(request.username.as_ref().map(Username::as_str)),
                registration_requests::network.eq(&request.network),
                registration_requests::mail_allowed.eq(request.mail_allowed),
                registration_requests::requested_at.eq(request.requested_at),
            ))
            .execute(&mut conn)
            .await
            .map_err(|e| {
                if is_foreign_key_violation(&e) {
                    InsertAccountError::Conflict(AccountConflict::UnknownTenant)
                } else {
                    InsertAccountError::Store(query_error(e))
                }
            })?;
        Ok(())
    }

    async fn fulfil_registration(
        &self,
        plan: &(dyn for<'a, 'b> Fn(&'a RegistrationRequest, Option<&'b Account>) -> RegistrationPlan + Send + Sync),
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            // One port call at a time (one connection): no other worker takes this request.
            let Some(row) = registration_requests::table
                .order((
                    registration_requests::requested_at.asc(),
                    registration_requests::id.asc(),
                ))
                .select(RequestRow::as_select())
                .first::<RequestRow>(conn)
                .await
                .optional()?
            else {
                return Ok(false);
            };
            diesel::delete(registration_requests::table.find(row.id.db()))
                .execute(conn)
                .await?;
            let request = RegistrationRequest::from(row);
            let tenant = request.tenant_id.as_uuid();
            let account = lock_account_by_email(conn, tenant, &request.email).await?;
            match plan(&request, account.as_ref()) {
                RegistrationPlan::Notify(notice) => {
                    if let Some(notice) = notice {
                        enqueue_on(conn, &notice, request.requested_at).await?;
                    }
                }
                RegistrationPlan::Register {
                    new_account,
                    verification,
                    created,
                } => {
                    let user = match &account {
                        Some(existing) => existing.id.as_uuid(),
                        None => {
                            // A concurrent fulfilment of another request for the same new address
                            // makes this insert fail; the transaction rolls back, the request
                            // stays, and the next pass finds the account.
                            diesel::insert_into(accounts::table)
                                .values((
                                    accounts::id.eq(new_account.db()),
                                    accounts::tenant_id.eq(tenant.db()),
                                    accounts::email.eq(request.email.as_str()),
                                    accounts::email_normalized.eq(request.email.normalized()),
                                    accounts::email_verified.eq(false),
                                    accounts::password_hash.eq(&request.password_hash),
                                    accounts::password_nfkc.eq(true),
                                    accounts::created_at.eq(request.requested_at),
                                    accounts::updated_at.eq(request.requested_at),
                                ))
                                .execute(conn)
                                .await?;
                            crate::audit::insert_events(conn, &created).await?;
                            new_account.as_uuid()
                        }
                    };
                    store_registration(conn, &request, user).await?;
                    if let Some((secret, mail)) = verification {
                        crate::queries::upsert_secret(conn, &secret).await?;
                        enqueue_on(conn, &mail, request.requested_at).await?;
                    }
                }
            }
            Ok(true)
        })
        .await
        .map_err(query_error)
    }
}
