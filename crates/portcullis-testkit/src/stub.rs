//! The thread and actix system a local HTTP stub runs on.

use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};

/// Runs the server `start` builds (and listens with) on a thread of its own, with its own actix
/// system, and returns its handle once it listens. `name` names the stub in errors.
pub(crate) fn serve(
    name: &str,
    start: impl FnOnce() -> std::io::Result<Server> + Send + 'static,
) -> std::io::Result<ServerHandle> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            match start() {
                Ok(server) => {
                    let _ = tx.send(Ok(server.handle()));
                    let _ = server.await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        });
    });
    rx.recv_timeout(Duration::from_secs(10))
        .map_err(|_| std::io::Error::other(format!("the {name} stub did not start")))?
}
