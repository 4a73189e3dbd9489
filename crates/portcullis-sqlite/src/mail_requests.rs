//! Deferred mail requests (verification resend, password reset), fulfilled by the mail worker.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use portcullis_domain::one_time::Purpose;
use portcullis_domain::{Email, Fulfilling, MailRequest, MailRequestStore, MailTarget, StoreError, TenantId};
use uuid::Uuid;

use crate::error::query_error;
use crate::pool::SqliteStore;
use crate::queries::{account_with_tenant, enqueue_on, upsert_secret};
use crate::rows::{AccountRow, TenantRow};
use crate::schema::{accounts, mail_requests, tenants};
use crate::sql::Db;

#[derive(Queryable, Selectable)]
#[diesel(table_name = mail_requests, check_for_backend(diesel::sqlite::Sqlite))]
struct MailRequestRow {
    id: Uuid,
    tenant_id: Uuid,
    purpose: String,
    email: String,
    requested_at: DateTime<Utc>,
    network: Option<String>,
}

#[async_trait]
impl MailRequestStore for SqliteStore {
    async fn request_mail(&self, request: &MailRequest) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(mail_requests::table)
            .values((
                mail_requests::id.eq(request.id.db()),
                mail_requests::tenant_id.eq(request.tenant_id.db()),
                mail_requests::purpose.eq(request.purpose.name()),
                mail_requests::email.eq(request.email.as_str()),
                mail_requests::email_normalized.eq(request.email.normalized()),
                mail_requests::network.eq(&request.network),
                mail_requests::requested_at.eq(request.requested_at),
            ))
            .execute(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(())
    }

    async fn fulfil_mail_request(
        &self,
        fulfil: &(dyn for<'a, 'b> Fn(&'a MailRequest, Option<&'b MailTarget>) -> Fulfilling + Send + Sync),
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            // One port call at a time (one connection): no other worker takes this request.
            let Some(row) = mail_requests::table
                .order(mail_requests::requested_at.asc())
                .select(MailRequestRow::as_select())
                .first::<MailRequestRow>(conn)
                .await
                .optional()?
            else {
                return Ok(false);
            };
            diesel::delete(mail_requests::table.find(row.id.db()))
                .execute(conn)
                .await?;
            let Some(purpose) = Purpose::from_name(&row.purpose) else {
                tracing::error!(mail_request_id = %row.id, "mail request with an unknown purpose dropped");
                return Ok(true);
            };
            let request = MailRequest {
                id: row.id,
                tenant_id: TenantId::from_uuid(row.tenant_id),
                purpose,
                email: Email::from_stored(row.email),
                network: row.network,
                requested_at: row.requested_at,
            };
            let account = accounts::table
                .inner_join(tenants::table)
                .filter(accounts::tenant_id.eq(row.tenant_id.db()))
                .filter(accounts::email_normalized.eq(request.email.normalized()))
                .select(account_with_tenant())
                .first::<(AccountRow, TenantRow)>(conn)
                .await
                .optional()?
                .map(|(a, t)| a.into_account(t).account);
            let target = match account {
                Some(account) => {
                    let registrations = if account.email_verified {
                        Vec::new()
                    } else {
                        crate::registration::registrations_of(conn, row.tenant_id, account.id.as_uuid()).await?
                    };
                    Some(MailTarget { account, registrations })
                }
                None => None,
            };
            if let Some((secret, mail)) = fulfil(&request, target.as_ref()).await {
                upsert_secret(conn, &secret).await?;
                enqueue_on(conn, &mail, secret.created_at).await?;
            }
            Ok(true)
        })
        .await
        .map_err(query_error)
    }
}
