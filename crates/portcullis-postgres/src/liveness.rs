//! The feed of the session-liveness cache: one dedicated connection that `LISTEN`s on the
//! notifications the schema's triggers raise when a session ends or an account is changed or
//! erased (migrations `liveness_notifications` and `account_notifications`), and applies them
//! to the cache.
//!
//! The cache is used only while this connection is up: it is told
//! [`connected`](SessionLiveness::connected) once `LISTEN` has taken effect (so nothing
//! committed after that can be missed, and nothing read before is kept), and
//! [`disconnected`](SessionLiveness::disconnected) as soon as the connection fails, a health
//! check gets no answer in time, or a notification cannot be read. Then it reconnects, backing
//! off up to [`MAX_BACKOFF`].

use std::sync::Arc;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use portcullis_domain::liveness::SessionLiveness;
use portcullis_domain::{SessionId, TenantId, UserId};

/// The notification channel the triggers raise on.
pub const CHANNEL: &str = "portcullis_liveness";

/// The listening connection's `application_name` (to spot it in `pg_stat_activity`).
pub const APPLICATION_NAME: &str = "portcullis-liveness";

/// How often the idle connection is checked with a query.
const HEALTH_INTERVAL: Duration = Duration::from_secs(5);

/// How long a health check may take before the connection counts as lost.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);

/// Longest wait between reconnection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// What one notification asks the cache to forget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notice {
    Session(SessionId),
    Account(TenantId, UserId),
    All,
}

fn parse(payload: &str) -> Notice {
    let uuid = |s: &str| uuid::Uuid::parse_str(s).ok();
    if let Some(id) = payload.strip_prefix("s:").and_then(uuid) {
        return Notice::Session(SessionId::from_uuid(id));
    }
    if let Some((tenant, user)) = payload.strip_prefix("u:").and_then(|rest| rest.split_once(':'))
        && let (Some(tenant), Some(user)) = (uuid(tenant), uuid(user))
    {
        return Notice::Account(TenantId::from_uuid(tenant), UserId::from_uuid(user));
    }
    // `*`, or anything this build cannot read: forgetting everything is always safe.
    Notice::All
}

fn apply(cache: &SessionLiveness, notice: Notice) {
    match notice {
        Notice::Session(id) => cache.session_ended(id),
        Notice::Account(tenant, user) => cache.account_changed(tenant, user),
        Notice::All => cache.forget_all(),
    }
}

/// Starts the feed on the current Tokio runtime: it runs until the runtime stops.
pub fn spawn_liveness_feed(url: String, cache: Arc<SessionLiveness>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(250);
        loop {
            match listen(&url).await {
                Ok(mut conn) => {
                    backoff = Duration::from_millis(250);
                    cache.connected();
                    tracing::info!("session-liveness cache on: listening for revocations");
                    let reason = follow(&mut conn, &cache).await;
                    cache.disconnected();
                    tracing::warn!(%reason, "session-liveness cache off (liveness read from the database) until the listener reconnects");
                }
                Err(reason) => {
                    cache.disconnected();
                    tracing::warn!(%reason, retry_in_ms = backoff.as_millis(), "session-liveness listener cannot connect");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    })
}

/// A connection listening on [`CHANNEL`].
async fn listen(url: &str) -> Result<AsyncPgConnection, String> {
    let mut conn = match AsyncPgConnection::establish(url).await {
        Ok(conn) => conn,
        Err(e) => return Err(crate::diagnose::diagnose(url, &e).await),
    };
    diesel::sql_query(format!("SET application_name = '{APPLICATION_NAME}'"))
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    diesel::sql_query(format!("LISTEN {CHANNEL}"))
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    Ok(conn)
}

/// Applies notifications until the connection is lost; returns why it stopped.
async fn follow(conn: &mut AsyncPgConnection, cache: &SessionLiveness) -> String {
    loop {
        {
            let mut notices = std::pin::pin!(conn.notifications_stream());
            let deadline = tokio::time::sleep(HEALTH_INTERVAL);
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    next = notices.next() => match next {
                        Some(Ok(n)) => apply(cache, parse(&n.payload)),
                        Some(Err(e)) => return format!("notification stream failed: {e}"),
                        None => return "connection closed".to_owned(),
                    },
                    () = &mut deadline => break,
                }
            }
        }
        let check = diesel::sql_query("SELECT 1").execute(conn);
        match tokio::time::timeout(HEALTH_TIMEOUT, check).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return format!("health check failed: {e}"),
            Err(_) => return format!("health check unanswered after {HEALTH_TIMEOUT:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_name_what_to_forget_and_anything_else_forgets_everything() {
        let (t, u, s) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        assert_eq!(parse(&format!("s:{s}")), Notice::Session(SessionId::from_uuid(s)));
        assert_eq!(
            parse(&format!("u:{t}:{u}")),
            Notice::Account(TenantId::from_uuid(t), UserId::from_uuid(u))
        );
        assert_eq!(parse("*"), Notice::All);
        assert_eq!(parse("s:not-a-uuid"), Notice::All);
        assert_eq!(parse(&format!("u:{t}")), Notice::All);
        assert_eq!(parse("x:whatever"), Notice::All);
    }
}
