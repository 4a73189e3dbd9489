//! How the server stops on a signal.
//!
//! - SIGTERM (what orchestrators and supervisors send): readiness turns false at once, the node
//!   keeps serving for `server.shutdown_drain_secs` so load balancers take it out first, then
//!   it stops accepting and gives in-flight requests `server.shutdown_timeout_secs`. A second
//!   SIGTERM, or a SIGINT, during the drain ends the drain early.
//! - SIGINT (Ctrl-C) and SIGQUIT: workers stop at once, without waiting for requests.

use std::time::Duration;

use actix_web::dev::ServerHandle;
use portcullis_http::Draining;
use tokio::signal::unix::{SignalKind, signal};

/// Stops `handle` on the first of SIGTERM, SIGINT or SIGQUIT, as the module says.
pub fn on_signals(handle: ServerHandle, draining: Draining, drain: Duration) -> std::io::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut quit = signal(SignalKind::quit())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {
                draining.start();
                tracing::info!(drain_secs = drain.as_secs(), "SIGTERM: not ready any more; stopping after the drain");
                tokio::select! {
                    () = tokio::time::sleep(drain) => {}
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
                tracing::info!("stopping: no new connections; in-flight requests finish");
                handle.stop(true).await;
            }
            _ = int.recv() => handle.stop(false).await,
            _ = quit.recv() => handle.stop(false).await,
        }
    });
    Ok(())
}
