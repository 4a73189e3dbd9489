//! A connection as this adapter drives it, and where a URL points.

use diesel::sqlite::SqliteConnection;
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use futures_util::FutureExt;

/// A connection, driven off the async executor (each statement runs on tokio's blocking pool).
pub(crate) type SqliteConn = SyncConnectionWrapper<SqliteConnection, Detached>;

/// Runs each statement on tokio's blocking pool. Unlike diesel-async's default, a statement
/// whose caller is dropped (a client that went away, a timeout) is left to finish on its own
/// rather than waited for with `block_in_place`, which panics on the current-thread runtimes
/// actix's workers run on. While such a statement still runs it holds the connection, so it
/// counts in [`InFlight`], and the pool closes a connection given back with statements in flight
/// instead of handing it out again (an open transaction then rolls back when the statement ends
/// and the connection closes).
#[derive(Debug)]
pub struct Detached {
    handle: tokio::runtime::Handle,
    in_flight: InFlight,
}

/// Statements running on the blocking pool, for the connection(s) that share it.
#[derive(Debug, Clone, Default)]
pub(crate) struct InFlight(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl InFlight {
    /// Whether a statement is running now.
    pub(crate) fn any(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst) > 0
    }
}

/// Counts one statement until it is dropped (it has run, or panicked).
struct Running(InFlight);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Detached {
    /// Statements spawned on the current runtime, counted in `in_flight`.
    pub(crate) fn counted(in_flight: InFlight) -> Self {
        Self {
            handle: tokio::runtime::Handle::current(),
            in_flight,
        }
    }
}

impl diesel_async::sync_connection_wrapper::SpawnBlocking for Detached {
    fn spawn_blocking<'a, R>(
        &mut self,
        task: impl FnOnce() -> R + Send + 'static,
    ) -> futures_util::future::BoxFuture<'a, Result<R, Box<dyn std::error::Error + Send + Sync + 'static>>>
    where
        R: Send + 'static,
    {
        use futures_util::TryFutureExt as _;
        self.in_flight.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let running = Running(self.in_flight.clone());
        self.handle
            .spawn_blocking(move || {
                let _running = running;
                task()
            })
            .map_err(Box::from)
            .boxed()
    }

    fn get_runtime() -> Self {
        Self::counted(InFlight::default())
    }
}

/// The file path (or `:memory:`) a `sqlite://` URL or bare path names.
pub fn path_of(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}
