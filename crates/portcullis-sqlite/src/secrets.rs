//! One-time secrets and the account changes they unlock. Each port method is one
//! transaction, and the mail it names is enqueued in that transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use portcullis_domain::one_time::Purpose;
use portcullis_domain::{
    NewOneTimeSecret, OneTimeStore, OutgoingMail, PasswordChange, Purged, RedeemOutcome, SecretLookup, StoreError,
    StoredSecret, Verdict,
};
use uuid::Uuid;

use crate::error::query_error;
use crate::pool::SqliteStore;
use crate::queries::{enqueue_on, load_account, upsert_secret};
use crate::redemption::{
    TxError, apply, count_wrong_codes, forget_secrets, lock_candidates, revoke_all, tx_store_error,
};
use crate::schema::{accounts, code_attempts, one_time_secrets};
use crate::sql::Db;

#[async_trait]
impl OneTimeStore for SqliteStore {
    async fn issue_secret_unless_live(
        &self,
        secret: NewOneTimeSecret,
        mail: &OutgoingMail,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let (tenant, user) = (secret.tenant_id.as_uuid(), secret.user_id.as_uuid());
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            use one_time_secrets as s;
            // The account row serialises issuers (the lock order of every flow: account, then
            // its secrets), so two sign-ins from two new networks cannot both keep a secret.
            accounts::table
                .filter(accounts::tenant_id.eq(tenant.db()))
                .filter(accounts::id.eq(user.db()))
                .select(accounts::id)
                .first::<Uuid>(conn)
                .await?;
            let live: Vec<(String, i32, DateTime<Utc>, DateTime<Utc>)> = s::table
                .filter(s::tenant_id.eq(tenant.db()))
                .filter(s::user_id.eq(user.db()))
                .filter(s::purpose.eq(secret.purpose.name()))
                .select((
                    s::scope,
                    s::failed_code_attempts,
                    s::token_expires_at,
                    s::code_expires_at,
                ))
                .load(conn)
                .await?;
            // While this scope's link lives, no second mail.
            if live
                .iter()
                .any(|(scope, _, token_expires, _)| *scope == secret.scope && *token_expires > now)
            {
                return Ok(false);
            }
            let carried = live
                .iter()
                .filter(|(_, _, _, code_expires)| *code_expires > now)
                .map(|(_, failed, _, _)| *failed)
                .max()
                .unwrap_or(0);
            diesel::delete(
                s::table
                    .filter(s::tenant_id.eq(tenant.db()))
                    .filter(s::user_id.eq(user.db()))
                    .filter(s::purpose.eq(secret.purpose.name())),
            )
            .execute(conn)
            .await?;
            upsert_secret(conn, &secret).await?;
            if carried > 0 {
                diesel::update(s::table.find(secret.id.db()))
                    .set(s::failed_code_attempts.eq(carried))
                    .execute(conn)
                    .await?;
            }
            enqueue_on(conn, mail, now).await?;
            Ok(true)
        })
        .await
        .map_err(query_error)
    }

    async fn issue_secret(
        &self,
        secret: NewOneTimeSecret,
        mails: &[OutgoingMail],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            upsert_secret(conn, &secret).await?;
            for mail in mails {
                enqueue_on(conn, mail, now).await?;
            }
            Ok(())
        })
        .await
        .map_err(query_error)
    }

    async fn redeem_secret(
        &self,
        lookup: &SecretLookup,
        purposes: &[Purpose],
        now: DateTime<Utc>,
        judge: &(dyn for<'a> Fn(&'a [StoredSecret]) -> Verdict + Send + Sync),
    ) -> Result<RedeemOutcome, StoreError> {
        let names: Vec<&str> = purposes.iter().map(|p| p.name()).collect();
        let mut conn = self.conn().await?;
        let result = conn
            .transaction::<_, TxError, _>(async |conn| {
                let mut candidates = lock_candidates(conn, lookup, &names, now).await?;
                let wrong: Vec<&StoredSecret> = match judge(&candidates) {
                    Verdict::Accept {
                        index,
                        redemption,
                        events,
                    } if index < candidates.len() => {
                        let secret = candidates.swap_remove(index);
                        apply(conn, &secret, &redemption, now).await?;
                        crate::audit::insert_events(conn, &events).await?;
                        let account =
                            load_account(conn, secret.account.tenant.id.as_uuid(), secret.account.id.as_uuid()).await?;
                        return Ok(RedeemOutcome::Redeemed {
                            secret,
                            account,
                            redemption,
                        });
                    }
                    Verdict::Accept { .. } => Vec::new(),
                    Verdict::Refuse { wrong } => wrong.into_iter().filter_map(|i| candidates.get(i)).collect(),
                };
                if !wrong.is_empty() {
                    let keys: Vec<(Uuid, Uuid, Purpose)> = wrong
                        .iter()
                        .map(|c| (c.account.tenant.id.as_uuid(), c.account.id.as_uuid(), c.purpose))
                        .collect();
                    count_wrong_codes(conn, &keys, now).await?;
                    let wrong: Vec<Uuid> = wrong.iter().map(|c| c.id).collect();
                    diesel::update(
                        one_time_secrets::table
                            .filter(one_time_secrets::id.eq_any(&wrong.iter().map(Db::db).collect::<Vec<_>>())),
                    )
                    .set(one_time_secrets::failed_code_attempts.eq(one_time_secrets::failed_code_attempts + 1))
                    .execute(conn)
                    .await?;
                }
                Ok(RedeemOutcome::Refused)
            })
            .await;
        match result {
            Ok(outcome) => Ok(outcome),
            Err(TxError::EmailTaken) => Ok(RedeemOutcome::EmailTaken),
            Err(e) => Err(tx_store_error(e)),
        }
    }

    async fn change_password(&self, change: &PasswordChange, now: DateTime<Utc>) -> Result<Option<u64>, StoreError> {
        let (tenant, user) = (change.tenant.as_uuid(), change.user.as_uuid());
        let (expected, new_hash, keep, notice) = (&change.expected, &change.new_hash, change.keep, &change.notice);
        let mut conn = self.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            // IS NOT DISTINCT FROM: a missing password is expected as NULL.
            let replaced = diesel::update(
                accounts::table
                    .filter(accounts::tenant_id.eq(tenant.db()))
                    .filter(accounts::id.eq(user.db()))
                    .filter(accounts::password_hash.is(expected.as_deref())),
            )
            .set((
                accounts::password_hash.eq(new_hash),
                accounts::password_nfkc.eq(true),
                accounts::updated_at.eq(now),
            ))
            .execute(conn)
            .await?;
            if replaced == 0 {
                return Ok(None);
            }
            let revoked = revoke_all(conn, tenant, user, keep, now, "password_changed").await?;
            forget_secrets(
                conn,
                tenant,
                user,
                &[
                    Purpose::ResetPassword,
                    Purpose::ChangeEmail,
                    Purpose::AuthorizeIp,
                    Purpose::LoginCode,
                ],
            )
            .await?;
            enqueue_on(conn, notice, now).await?;
            crate::audit::insert_events(conn, &change.events).await?;
            Ok(Some(revoked))
        })
        .await
        .map_err(query_error)
    }

    async fn purge(&self, now: DateTime<Utc>, stale_before: DateTime<Utc>) -> Result<Purged, StoreError> {
        use crate::schema::{customers, registrations};
        let mut conn = self.conn().await?;
        let secrets = diesel::delete(
            one_time_secrets::table
                .filter(one_time_secrets::token_expires_at.lt(now))
                .filter(one_time_secrets::code_expires_at.lt(now)),
        )
        .execute(&mut conn)
        .await
        .map_err(query_error)?;
        // Registrations, secrets and sessions go with their account (cascade).
        let recent = registrations::table
            .filter(registrations::created_at.ge(stale_before))
            .select(registrations::user_id);
        // A signup asked for again lately keeps its account.
        let held = customers::table
            .filter(customers::held_until.ge(stale_before))
            .select(customers::user_id);
        let accounts = diesel::delete(
            accounts::table
                .filter(accounts::email_verified.eq(false))
                .filter(accounts::created_at.lt(stale_before))
                .filter(accounts::id.ne_all(recent))
                .filter(accounts::id.ne_all(held)),
        )
        .returning(accounts::id)
        .get_results::<Uuid>(&mut conn)
        .await
        .map_err(query_error)?;
        // A customer never verified whose hold ended long ago (its owner verified some other
        // way, too late) holds nothing and goes.
        diesel::delete(
            customers::table
                .filter(customers::verified_at.is_null())
                .filter(customers::held_until.lt(stale_before)),
        )
        .execute(&mut conn)
        .await
        .map_err(query_error)?;
        diesel::delete(code_attempts::table.filter(code_attempts::last_failure_at.lt(stale_before)))
            .execute(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(Purged {
            secrets: u64::try_from(secrets).unwrap_or(u64::MAX),
            unverified_accounts: accounts.into_iter().map(portcullis_domain::UserId::from_uuid).collect(),
        })
    }
}
