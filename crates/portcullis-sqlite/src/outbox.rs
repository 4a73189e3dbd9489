//! The mail outbox on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Integer, TimestamptzSqlite};
use diesel_async::{AsyncConnection, RunQueryDsl};
use portcullis_domain::{ClaimedMail, MailKind, OutboxStore, OutgoingMail};
use portcullis_domain::{StoreError, TenantId};
use uuid::Uuid;

use crate::error::query_error;
use crate::pool::SqliteStore;
use crate::queries::enqueue_on;
use crate::schema::mail_outbox;
use crate::sql::Db;

/// Longest error text kept with a mail.
const MAX_ERROR_CHARS: usize = 1000;

#[derive(QueryableByName)]
struct ClaimedRow {
    #[diesel(sql_type = crate::sql::Uuid)]
    id: Uuid,
    #[diesel(sql_type = crate::sql::Uuid)]
    tenant_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    recipient: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    sender: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    kind: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    subject: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    body_text: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    body_html: Option<String>,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = TimestamptzSqlite)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = TimestamptzSqlite)]
    leased_until: DateTime<Utc>,
}

fn clip(error: &str) -> String {
    error.chars().take(MAX_ERROR_CHARS).collect()
}

/// The mails still to send: how many, and when the oldest was enqueued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxBacklog {
    /// Pending mails (due now or later, leased or not).
    pub pending: u64,
    /// When the oldest of them was enqueued.
    pub oldest: Option<DateTime<Utc>>,
}

#[derive(QueryableByName)]
struct BacklogRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pending: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<TimestamptzSqlite>)]
    oldest: Option<DateTime<Utc>>,
}

impl SqliteStore {
    /// Mail asked for and not yet tried once: queued registration and mail requests, and
    /// outbox mails never attempted or being sent now. Zero when every mail asked for so far
    /// has had its first delivery attempt (what test harnesses wait for).
    pub async fn mail_in_flight(&self) -> Result<u64, StoreError> {
        #[derive(QueryableByName)]
        struct InFlight {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            pending: i64,
        }
        let mut conn = self.conn().await?;
        let row: InFlight = diesel::sql_query(
            "SELECT (SELECT count(*) FROM mail_requests) \
                  + (SELECT count(*) FROM registration_requests) \
                  + (SELECT count(*) FROM mail_outbox WHERE status = 'pending' \
                      AND (attempts = 0 OR leased_until IS NOT NULL)) AS pending",
        )
        .get_result(&mut conn)
        .await
        .map_err(query_error)?;
        Ok(u64::try_from(row.pending).unwrap_or(0))
    }

    /// The outbox's backlog, for metrics (one indexed read of the pending rows).
    pub async fn outbox_backlog(&self) -> Result<OutboxBacklog, StoreError> {
        let mut conn = self.conn().await?;
        let row: BacklogRow = diesel::sql_query(
            "SELECT count(*) AS pending, min(created_at) AS oldest FROM mail_outbox WHERE status = 'pending'",
        )
        .get_result(&mut conn)
        .await
        .map_err(query_error)?;
        Ok(OutboxBacklog {
            pending: u64::try_from(row.pending).unwrap_or(0),
            oldest: row.oldest,
        })
    }
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn enqueue(&self, mail: &OutgoingMail, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        enqueue_on(&mut conn, mail, now).await.map_err(query_error)
    }

    async fn claim_due(&self, now: DateTime<Utc>, lease: Duration, limit: u32) -> Result<Vec<ClaimedMail>, StoreError> {
        let mut conn = self.conn().await?;
        // One statement under the write lock: no other worker can take the same rows, and the
        // lease keeps a claimed mail away from them until it is marked or the lease ends.
        // Leases are set and compared on this node's clock (SQLite serves one node).
        let clock = Utc::now();
        let rows = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                diesel::sql_query(
                    "UPDATE mail_outbox SET leased_until = ? \
                     WHERE id IN (SELECT id FROM mail_outbox \
                                  WHERE status = 'pending' AND next_attempt_at <= ? \
                                    AND (leased_until IS NULL OR leased_until <= ?) \
                                  ORDER BY next_attempt_at, id LIMIT ?) \
                     RETURNING id, tenant_id, recipient, sender, kind, subject, body_text, body_html, attempts, \
                               created_at, leased_until",
                )
                .bind::<TimestamptzSqlite, _>(clock + lease)
                .bind::<TimestamptzSqlite, _>(now)
                .bind::<TimestamptzSqlite, _>(clock)
                .bind::<Integer, _>(i32::try_from(limit).unwrap_or(i32::MAX))
                .load::<ClaimedRow>(conn)
                .await
            })
            .await
            .map_err(query_error)?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(kind) = MailKind::from_name(&row.kind) else {
                // Written by a newer version of the service; leave it for that version's workers.
                tracing::warn!(mail_id = %row.id, kind = row.kind, "outbox mail of an unknown kind skipped");
                continue;
            };
            claimed.push(ClaimedMail {
                mail: OutgoingMail {
                    id: row.id,
                    tenant_id: TenantId::from_uuid(row.tenant_id),
                    to: row.recipient,
                    from: row.sender,
                    kind,
                    subject: row.subject,
                    text: row.body_text.unwrap_or_default(),
                    html: row.body_html.unwrap_or_default(),
                },
                attempts: u32::try_from(row.attempts).unwrap_or(0),
                created_at: row.created_at,
                leased_until: row.leased_until,
            });
        }
        Ok(claimed)
    }

    async fn mark_sent(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.end_attempt(
            id,
            AttemptEnd {
                status: Some("sent"),
                sent_at: Some(now),
                ..AttemptEnd::done()
            },
        )
        .await
    }

    async fn mark_retry(&self, id: Uuid, next_attempt_at: DateTime<Utc>, error: &str) -> Result<(), StoreError> {
        self.end_attempt(
            id,
            AttemptEnd {
                next_attempt_at: Some(next_attempt_at),
                last_error: Some(clip(error)),
                ..AttemptEnd::pending()
            },
        )
        .await
    }

    async fn mark_failed(&self, id: Uuid, now: DateTime<Utc>, error: &str) -> Result<(), StoreError> {
        let end = AttemptEnd {
            status: Some("failed"),
            failed_at: Some(now),
            last_error: Some(clip(error)),
            ..AttemptEnd::done()
        };
        self.end_attempt(id, end).await
    }

    async fn release(&self, claims: &[(Uuid, DateTime<Utc>)]) -> Result<u64, StoreError> {
        if claims.is_empty() {
            return Ok(0);
        }
        let mut conn = self.conn().await?;
        // Only a lease that is still exactly the one claimed: one that lapsed and was taken by
        // another worker has another end.
        let released = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                let mut released = 0;
                for (id, leased_until) in claims {
                    released += diesel::update(
                        mail_outbox::table
                            .find(id.db())
                            .filter(mail_outbox::leased_until.eq(leased_until))
                            .filter(mail_outbox::status.eq("pending")),
                    )
                    .set(mail_outbox::leased_until.eq(None::<DateTime<Utc>>))
                    .execute(conn)
                    .await?;
                }
                Ok(released)
            })
            .await
            .map_err(query_error)?;
        Ok(u64::try_from(released).unwrap_or(0))
    }
}

/// How a delivery attempt leaves a pending mail: the columns it sets (`None` leaves one as it
/// is). Every attempt counts and gives up the lease.
#[derive(AsChangeset)]
#[diesel(table_name = mail_outbox)]
struct AttemptEnd {
    status: Option<&'static str>,
    sent_at: Option<DateTime<Utc>>,
    failed_at: Option<DateTime<Utc>>,
    next_attempt_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    leased_until: Option<Option<DateTime<Utc>>>,
    body_text: Option<Option<String>>,
    body_html: Option<Option<String>>,
}

impl AttemptEnd {
    /// The mail stays pending, for another attempt.
    fn pending() -> Self {
        Self {
            status: None,
            sent_at: None,
            failed_at: None,
            next_attempt_at: None,
            last_error: None,
            leased_until: Some(None),
            body_text: None,
            body_html: None,
        }
    }

    /// The mail is done with (sent or given up): its bodies are no longer kept.
    fn done() -> Self {
        Self {
            body_text: Some(None),
            body_html: Some(None),
            ..Self::pending()
        }
    }
}

impl SqliteStore {
    /// Ends the current attempt on a mail that is still pending (a mail another worker finished
    /// meanwhile is left alone).
    async fn end_attempt(&self, id: Uuid, end: AttemptEnd) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::update(
            mail_outbox::table
                .find(id.db())
                .filter(mail_outbox::status.eq("pending")),
        )
        .set((end, mail_outbox::attempts.eq(mail_outbox::attempts + 1)))
        .execute(&mut conn)
        .await
        .map(drop)
        .map_err(query_error)
    }
}
