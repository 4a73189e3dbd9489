//! Telling operators that password hashing is at capacity, without a log line per refusal.

/// Refusals for hashing capacity since the last warning, and when that was (seconds since the
/// epoch).
static BUSY_SINCE_WARNING: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static LAST_BUSY_WARNING: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A WARN line when password hashing refuses work, at most one every ten seconds with the count
/// since the last, so a flood of 503s does not become a flood of log lines (each request's
/// access line still says `error=server_busy`).
pub(crate) fn warn_at_capacity() {
    use std::sync::atomic::Ordering;
    let refused = BUSY_SINCE_WARNING.fetch_add(1, Ordering::Relaxed) + 1;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST_BUSY_WARNING.load(Ordering::Relaxed);
    if now >= last + 10
        && LAST_BUSY_WARNING
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        BUSY_SINCE_WARNING.fetch_sub(refused, Ordering::Relaxed);
        tracing::warn!(
            refused,
            "password hashing at capacity: requests refused with 503 server_busy"
        );
    }
}
