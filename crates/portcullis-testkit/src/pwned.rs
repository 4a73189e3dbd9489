//! A local Pwned Passwords range API (`GET /range/{prefix}`), for tests of the breach check
//! without the internet. It knows the passwords it is started with, answers a prefix with the
//! suffixes of those that share it plus padding lines with a count of 0 (as the real service
//! does with `Add-Padding: true`), and records every prefix it is asked for.
//!
//! [`PwnedStub::set_mode`] makes it fail: answer 500, answer garbage, or answer too late.

use std::net::TcpListener;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use sha1::{Digest, Sha1};

/// How the stub answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PwnedMode {
    /// As the service does.
    Normal,
    /// 500.
    Down,
    /// 200 with an HTML page.
    Garbage,
    /// As the service does, but only after [`SLOW`].
    Slow,
}

/// How long [`PwnedMode::Slow`] waits.
pub const SLOW: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct State {
    /// Upper-case SHA-1 hex of each breached password, with its count.
    breached: Vec<(String, u64)>,
    mode: PwnedMode,
    asked: Vec<String>,
}

/// The running stub; stops when dropped.
#[derive(Debug)]
pub struct PwnedStub {
    base: String,
    state: Arc<Mutex<State>>,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for PwnedStub {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// The upper-case SHA-1 hex of a password, as the service keys it.
pub fn sha1_hex(password: &str) -> String {
    Sha1::digest(password.as_bytes())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

impl PwnedStub {
    /// Starts the stub on a free port of 127.0.0.1, knowing `breached` (password, times seen).
    pub fn start(breached: &[(&str, u64)]) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let base = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(Mutex::new(State {
            breached: breached.iter().map(|(p, n)| (sha1_hex(p), *n)).collect(),
            mode: PwnedMode::Normal,
            asked: Vec::new(),
        }));
        let data = web::Data::new(state.clone());
        let handle = crate::stub::serve("pwned", move || {
            Ok(HttpServer::new(move || {
                App::new()
                    .app_data(data.clone())
                    .route("/range/{prefix}", web::get().to(range))
            })
            .workers(1)
            .disable_signals()
            .shutdown_timeout(0)
            .listen(listener)?
            .run())
        })?;
        Ok(Self { base, state, handle })
    }

    /// The `pwned_range_url` to configure.
    pub fn range_url(&self) -> String {
        format!("{}/range/", self.base)
    }

    /// Changes how the stub answers from now on.
    pub fn set_mode(&self, mode: PwnedMode) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).mode = mode;
    }

    /// Every path segment it was asked for so far (what left the asking process).
    pub fn asked(&self) -> Vec<String> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).asked.clone()
    }
}

async fn range(prefix: web::Path<String>, state: web::Data<Arc<Mutex<State>>>) -> HttpResponse {
    let prefix = prefix.into_inner();
    let (mode, body) = {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        state.asked.push(prefix.clone());
        let mut lines: Vec<String> = state
            .breached
            .iter()
            .filter(|(hash, _)| hash.starts_with(&prefix.to_uppercase()))
            .map(|(hash, n)| format!("{}:{n}", &hash[5..]))
            .collect();
        // Padding: suffixes nobody has, with a count of 0.
        lines.extend((0..8).map(|i| format!("{:035X}:0", 0xABCD_0000_u64 + i)));
        (state.mode, lines.join("\r\n"))
    };
    match mode {
        PwnedMode::Normal => HttpResponse::Ok().content_type("text/plain").body(body),
        PwnedMode::Down => HttpResponse::InternalServerError().finish(),
        PwnedMode::Garbage => HttpResponse::Ok()
            .content_type("text/html")
            .body("<html>Just a moment</html>"),
        PwnedMode::Slow => {
            actix_web::rt::time::sleep(SLOW).await;
            HttpResponse::Ok().content_type("text/plain").body(body)
        }
    }
}
