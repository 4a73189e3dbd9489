//! Customer signup on SQLite.
//!
//! A signup counts the tenant's nodes' customers and places itself in one transaction; port
//! calls run one at a time on the store's one connection, so signups are placed one at a time
//! and two never take the same last slot.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use portcullis_domain::model::{Customer, Node, SignupOutcome, SignupPlan, SignupTarget, SignupWrite};
use portcullis_domain::{Email, SignupStore, StoreError, TenantId, UserId};
use uuid::Uuid;

use crate::error::{query_error, unique_violation};
use crate::pool::SqliteConn;
use crate::pool::SqliteStore;
use crate::queries::{enqueue_on, upsert_secret};
use crate::registration::lock_account_by_email;
use crate::schema::{accounts, customers, nodes};
use crate::sql::Db;
use crate::tenants::{CustomerRow, NodeRow, with_usage};

/// Marks the account's customer verified if its hold is still alive at `now`.
pub(crate) async fn confirm_customer(
    conn: &mut SqliteConn,
    tenant: Uuid,
    user: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(
        customers::table
            .filter(customers::tenant_id.eq(tenant.db()))
            .filter(customers::user_id.eq(user.db()))
            .filter(customers::verified_at.is_null())
            .filter(customers::held_until.gt(now)),
    )
    .set(customers::verified_at.eq(now))
    .execute(conn)
    .await
    .map(drop)
}

async fn write_signup(
    conn: &mut SqliteConn,
    tenant: Uuid,
    email: &Email,
    found: Option<&SignupTarget>,
    plan: &SignupPlan,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let (new_account, secret, mail) = match &plan.write {
        SignupWrite::Notice(notice) => {
            if let Some(notice) = notice {
                enqueue_on(conn, notice, now).await?;
            }
            return Ok(());
        }
        SignupWrite::Hold {
            new_account,
            secret,
            mail,
        } => (new_account, secret, mail),
    };
    let owner = match found {
        Some(t) => t.account.id.as_uuid(),
        None => {
            diesel::insert_into(accounts::table)
                .values((
                    accounts::id.eq(new_account.db()),
                    accounts::tenant_id.eq(tenant.db()),
                    accounts::email.eq(email.as_str()),
                    accounts::email_normalized.eq(email.normalized()),
                    accounts::email_verified.eq(false),
                    accounts::password_hash.eq(None::<String>),
                    accounts::password_nfkc.eq(true),
                    accounts::created_at.eq(now),
                    accounts::updated_at.eq(now),
                ))
                .execute(conn)
                .await?;
            new_account.as_uuid()
        }
    };
    let c = &plan.customer;
    let values = (
        customers::id.eq(c.id.db()),
        customers::tenant_id.eq(tenant.db()),
        customers::user_id.eq(owner.db()),
        customers::node_id.eq(c.node_id.db()),
        customers::company_name.eq(&c.company_name),
        customers::plan.eq(&c.plan),
        customers::site_url.eq(&c.site_url),
        customers::created_at.eq(c.created_at),
        customers::held_until.eq(c.held_until),
        customers::verified_at.eq(None::<DateTime<Utc>>),
    );
    // One customer per owner: an unverified one asking again replaces its earlier one.
    diesel::delete(
        customers::table
            .filter(customers::tenant_id.eq(tenant.db()))
            .filter(customers::user_id.eq(owner.db())),
    )
    .execute(conn)
    .await?;
    diesel::insert_into(customers::table)
        .values(values)
        .execute(conn)
        .await?;
    upsert_secret(conn, secret).await?;
    if let Some(mail) = mail {
        enqueue_on(conn, mail, now).await?;
    }
    Ok(())
}

/// One attempt at a signup, in its own transaction (see [`SignupStore::sign_up`]).
async fn place(
    conn: &mut SqliteConn,
    tenant: Uuid,
    email: &Email,
    now: DateTime<Utc>,
    decide: &(dyn for<'a> Fn(Option<&'a SignupTarget>, &'a Node) -> SignupPlan + Send + Sync),
) -> QueryResult<SignupOutcome> {
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        // The lock that serializes the tenant's signups: counts below see every signup
        // placed before it.
        let rows = nodes::table
            .filter(nodes::tenant_id.eq(tenant.db()))
            .filter(nodes::enabled.eq(true))
            .order(nodes::name.asc())
            .select(NodeRow::as_select())
            .load(conn)
            .await?;
        let mut enabled = with_usage(conn, rows, now).await?;
        // Ties go by name, compared as bytes whatever the database's collation.
        enabled.sort_by(|a, b| a.name.cmp(&b.name));
        let best = enabled
            .iter()
            .filter(|n| n.free() > 0)
            .fold(None::<&Node>, |best, n| match best {
                Some(b) if b.free() >= n.free() => Some(b),
                _ => Some(n),
            })
            .cloned();
        let Some(node) = best else {
            let ids: Vec<Uuid> = enabled.iter().map(|n| n.id).collect();
            let next_free = customers::table
                .filter(customers::node_id.eq_any(ids.iter().map(Db::db).collect::<Vec<_>>()))
                .filter(customers::verified_at.is_null())
                .filter(customers::held_until.gt(now))
                .select(customers::held_until)
                .order(customers::held_until)
                .first::<DateTime<Utc>>(conn)
                .await
                .optional()?;
            return Ok(SignupOutcome::NoCapacity { next_free });
        };
        let target = match lock_account_by_email(conn, tenant, email).await? {
            Some(account) => {
                let customer = customers::table
                    .filter(customers::tenant_id.eq(tenant.db()))
                    .filter(customers::user_id.eq(account.id.db()))
                    .select(CustomerRow::as_select())
                    .first(conn)
                    .await
                    .optional()?
                    .map(Customer::from);
                Some(SignupTarget { account, customer })
            }
            None => None,
        };
        let plan = decide(target.as_ref(), &node);
        write_signup(conn, tenant, email, target.as_ref(), &plan, now).await?;
        Ok(SignupOutcome::Written(plan))
    })
    .await
}

#[async_trait]
impl SignupStore for SqliteStore {
    async fn sign_up(
        &self,
        tenant: TenantId,
        email: &Email,
        now: DateTime<Utc>,
        decide: &(dyn for<'a> Fn(Option<&'a SignupTarget>, &'a Node) -> SignupPlan + Send + Sync),
    ) -> Result<SignupOutcome, StoreError> {
        let tenant = tenant.as_uuid();
        let mut conn = self.conn().await?;
        // A registration (which takes no node lock) may create the address's account between
        // the lookup and the insert; the signup then starts over and finds it.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let placed = place(&mut conn, tenant, email, now, decide).await;
            match placed {
                Err(e) if attempts < 3 && unique_violation(&e) == Some("accounts_tenant_email_key") => {}
                other => return other.map_err(query_error),
            }
        }
    }

    async fn customers(&self, tenant: TenantId, after: Option<Uuid>, limit: u32) -> Result<Vec<Customer>, StoreError> {
        let mut conn = self.conn().await?;
        let mut query = customers::table
            .filter(customers::tenant_id.eq(tenant.db()))
            .order(customers::id.asc())
            .limit(i64::from(limit))
            .select(CustomerRow::as_select())
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(customers::id.gt(after.db()));
        }
        let rows = query.load(&mut conn).await.map_err(query_error)?;
        Ok(rows.into_iter().map(Customer::from).collect())
    }

    async fn customer_of(&self, tenant: TenantId, user: UserId) -> Result<Option<Customer>, StoreError> {
        let mut conn = self.conn().await?;
        let row = customers::table
            .filter(customers::tenant_id.eq(tenant.db()))
            .filter(customers::user_id.eq(user.db()))
            .select(CustomerRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(query_error)?;
        Ok(row.map(Customer::from))
    }
}
