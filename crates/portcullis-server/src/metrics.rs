//! The process's metrics: the Prometheus recorder behind the `metrics` facade that every crate
//! records through, the gauges read from storage, and where `GET /metrics` is served.
//!
//! One recorder per process: servers started in the same process (tests, an embedding
//! service) share it, and their counts add up.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use crate::database::Database;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use portcullis_http::MetricsText;

use crate::config::MetricsConfig;

/// Upper bounds, in seconds, of the buckets of every `_seconds` histogram.
const BUCKETS: [f64; 14] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often the recorder folds the samples histograms buffered into their buckets: the
/// buffer grows with the request rate in between (at 75 000 requests/s, 10 s of samples were
/// 12 MB), so often.
const UPKEEP_EVERY: Duration = Duration::from_secs(1);

/// How often the gauges read from storage (the outbox) are refreshed, in upkeeps.
const SAMPLE_EVERY_UPKEEPS: u32 = 10;

/// Mails handled by the delivery worker, by `result` (`sent`, `retry`, `failed`).
pub const MAILS: &str = "portcullis_mails_total";

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder, installed the first time it is asked for; `None` if another
/// recorder was installed first (by an application that embeds Portcullis), and then
/// `/metrics` is not served.
fn recorder() -> Option<PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let installed = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &BUCKETS)
                .and_then(PrometheusBuilder::install_recorder);
            match installed {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed; /metrics is not served");
                    None
                }
            }
        })
        .clone()
}

/// Starts metrics as configured: what `GET /metrics` renders (`None` when metrics are off,
/// or another recorder was installed first).
pub fn start(config: &MetricsConfig, store: &Arc<Database>) -> Option<MetricsText> {
    if !config.enabled {
        return None;
    }
    let handle = recorder()?;
    spawn_sampler(handle.clone(), Arc::downgrade(store));
    let pool = Arc::downgrade(store);
    Some(MetricsText::new(move || {
        if let Some(store) = pool.upgrade() {
            record_pool(&store);
        }
        handle.render()
    }))
}

/// Keeps the recorder's histograms drained (every [`UPKEEP_EVERY`]) and refreshes the storage
/// gauges now and every [`SAMPLE_EVERY_UPKEEPS`] upkeeps, until the store is gone.
fn spawn_sampler(handle: PrometheusHandle, store: Weak<Database>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPKEEP_EVERY);
        for n in 0_u32.. {
            tick.tick().await;
            let Some(store) = store.upgrade() else { return };
            handle.run_upkeep();
            if n % SAMPLE_EVERY_UPKEEPS != 0 {
                continue;
            }
            // Bounded, so a hung read cannot stop the upkeep (the buffers would grow).
            match tokio::time::timeout(UPKEEP_EVERY, store.outbox_backlog()).await {
                Err(_) => tracing::debug!("reading the outbox backlog for metrics timed out"),
                Ok(Ok((pending, oldest))) => {
                    #[allow(clippy::cast_precision_loss)]
                    metrics::gauge!("portcullis_outbox_pending").set(pending as f64);
                    let age = oldest.map_or(0.0, |at| {
                        (chrono::Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0
                    });
                    metrics::gauge!("portcullis_outbox_oldest_pending_seconds").set(age);
                }
                Ok(Err(e)) => tracing::debug!(error = %e, "reading the outbox backlog for metrics failed"),
            }
        }
    });
}

#[allow(clippy::cast_precision_loss)]
fn record_pool(store: &Database) {
    let (max, open, idle, waiting) = store.pool_status();
    metrics::gauge!("portcullis_db_pool_connections", "state" => "in_use").set(open.saturating_sub(idle) as f64);
    metrics::gauge!("portcullis_db_pool_connections", "state" => "idle").set(idle as f64);
    metrics::gauge!("portcullis_db_pool_max_connections").set(max as f64);
    metrics::gauge!("portcullis_db_pool_waiting").set(waiting as f64);
}

/// Records what one delivery pass did.
pub fn record_delivery(report: &portcullis_domain::DeliveryReport) {
    for (result, n) in [
        ("sent", report.sent),
        ("retry", report.retried),
        ("failed", report.failed),
    ] {
        if n > 0 {
            metrics::counter!(MAILS, "result" => result).increment(u64::from(n));
        }
    }
}

/// HELP lines for every series.
fn describe() {
    use portcullis_argon2::metrics_names as hashing;
    use portcullis_http::metrics as http;
    metrics::describe_counter!(
        http::HTTP_REQUESTS,
        "Requests answered, by route template, method and status."
    );
    metrics::describe_histogram!(
        http::HTTP_DURATION,
        metrics::Unit::Seconds,
        "Time to answer a request, by route template and method."
    );
    metrics::describe_counter!(http::LOGINS, "Logins (password or mailed code), by outcome.");
    metrics::describe_gauge!(hashing::HASHES_IN_FLIGHT, "Password hashes admitted and not finished.");
    metrics::describe_counter!(
        hashing::HASHES_REJECTED,
        "Password hashes refused for want of room (503 server_busy)."
    );
    metrics::describe_histogram!(
        hashing::HASH_DURATION,
        metrics::Unit::Seconds,
        "Time argon2 took for one hash or verification."
    );
    metrics::describe_counter!(
        portcullis_ratelimit::RATE_LIMITED,
        "Requests refused by a rate limit, by limit."
    );
    metrics::describe_counter!(
        MAILS,
        "Mails handled by the delivery worker, by result (sent, retry, failed)."
    );
    metrics::describe_gauge!("portcullis_outbox_pending", "Mails waiting in the outbox.");
    metrics::describe_gauge!(
        "portcullis_outbox_oldest_pending_seconds",
        metrics::Unit::Seconds,
        "Age of the oldest mail waiting in the outbox (0 when none)."
    );
    metrics::describe_gauge!(
        "portcullis_db_pool_connections",
        "Pooled database connections, by state."
    );
    metrics::describe_gauge!("portcullis_db_pool_max_connections", "Connections the pool may open.");
    metrics::describe_gauge!(
        "portcullis_db_pool_waiting",
        "Requests waiting for a pooled connection."
    );
    metrics::describe_histogram!(
        portcullis_postgres::POOL_WAIT,
        metrics::Unit::Seconds,
        "Time a request waited for a pooled connection."
    );
}
