//! A connection as this adapter drives it, and where a URL points.

use diesel::sqlite::SqliteConnection;
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use futures_util::FutureExt;

/// A connection, driven off the async executor (each statement runs on tokio's blocking pool).
pub(crate) type SqliteConn = SyncConnectionWrapper<SqliteConnection, Detached>;

/// Runs each statement on tokio's blocking pool. Unlike diesel-async's default, a statement
/// whose caller is dropped (a client that went away) is left to finish on its own rather than
/// waited for with `block_in_place`, which panics on the current-thread runtimes actix's
/// workers run on. The connection stays behind its mutex meanwhile, and a transaction cut
/// short marks it broken, so the pool closes it (rolling the transaction back).
#[derive(Debug)]
pub struct Detached(tokio::runtime::Handle);

impl diesel_async::sync_connection_wrapper::SpawnBlocking for Detached {
    fn spawn_blocking<'a, R>(
        &mut self,
        task: impl FnOnce() -> R + Send + 'static,
    ) -> futures_util::future::BoxFuture<'a, Result<R, Box<dyn std::error::Error + Send + Sync + 'static>>>
    where
        R: Send + 'static,
    {
        use futures_util::TryFutureExt as _;
        self.0.spawn_blocking(task).map_err(Box::from).boxed()
    }

    fn get_runtime() -> Self {
        Self(tokio::runtime::Handle::current())
    }
}

/// The file path (or `:memory:`) a `sqlite://` URL or bare path names.
pub fn path_of(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}
