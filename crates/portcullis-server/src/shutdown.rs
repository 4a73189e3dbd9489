//! How the server stops on a signal.
//!
//! - SIGTERM (what orchestrators and supervisors send): readiness turns false at once, the node
//!   keeps serving for `server.shutdown_drain_secs` so load balancers take it out first, then
//!   it stops accepting and gives in-flight requests `server.shutdown_timeout_secs`. A second
//!   SIGTERM during the drain ends the drain early.
//! - SIGINT (Ctrl-C) and SIGQUIT: workers stop at once, without waiting for requests, at any
//!   point, a drain or a graceful stop included; once the server has stopped (the mail worker
//!   finishing its mail), they end the process.

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
        let forced = tokio::select! {
            _ = term.recv() => {
                draining.start();
                tracing::info!(drain_secs = drain.as_secs(), "SIGTERM: not ready any more; stopping after the drain");
                let forced = tokio::select! {
                    () = tokio::time::sleep(drain) => false,
                    _ = term.recv() => false,
                    _ = int.recv() => true,
                    _ = quit.recv() => true,
                };
                if forced {
                    true
                } else {
                    tracing::info!("stopping: no new connections; in-flight requests finish");
                    let graceful = handle.stop(true);
                    tokio::select! {
                        () = graceful => false,
                        _ = int.recv() => true,
                        _ = quit.recv() => true,
                    }
                }
            }
            _ = int.recv() => true,
            _ = quit.recv() => true,
        };
        if forced {
            handle.stop(false).await;
        }
        // The server has stopped; the process may still be finishing its mail. Another SIGINT
        // or SIGQUIT ends it now.
        tokio::select! {
            _ = int.recv() => {}
            _ = quit.recv() => {}
        }
        tracing::warn!("stopping at once: a second signal");
        std::process::exit(130);
    });
    Ok(())
}
