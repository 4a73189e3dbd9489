//! A local captcha provider: one siteverify endpoint per provider
//! (`/{hcaptcha,recaptcha,turnstile}/siteverify`) speaking their form-in, JSON-out protocol,
//! recording every form it receives and answering by the token it is sent:
//!
//! | token | answer |
//! | --- | --- |
//! | `pass` | success (reCAPTCHA: score 0.9, action `login`) |
//! | `fail` (or anything unknown) | `success: false` with error codes |
//! | `low` | success with score 0.1 |
//! | `v2` | success without score or action (what a reCAPTCHA v2 key answers) |
//! | `noaction` | success with score 0.9 but no action |
//! | `slow` | success, but only after [`SLOW`] |
//! | `garbage` | 200 with an HTML page |
//! | `down` | 500 (with a body that would otherwise pass) |
//! | `redirect` | 307 to a route that would pass |
//! | `badsecret` | `success: false` with `invalid-input-secret` (what a wrong secret gets) |
//!
//! Point a provider's `verify_url` at [`SiteverifyStub::url`] to test captcha handling without
//! the internet.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// How long a `slow` token makes the stub wait.
pub const SLOW: Duration = Duration::from_secs(5);

/// One request the stub received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Request path (`/turnstile/siteverify`).
    pub path: String,
    /// Its `Content-Type`.
    pub content_type: String,
    /// The form fields, in order.
    pub fields: Vec<(String, String)>,
}

impl Received {
    /// The one value of `name`; panics if it was sent twice.
    pub fn field(&self, name: &str) -> Option<&str> {
        let mut values = self.fields.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let first = values.next();
        assert!(values.next().is_none(), "{name} sent twice");
        first
    }

    /// The field names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.fields.iter().map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        names
    }
}

type Log = Arc<Mutex<Vec<Received>>>;

/// The running stub, on its own thread with its own actix system; stops when dropped.
#[derive(Debug)]
pub struct SiteverifyStub {
    base: String,
    log: Log,
    connections: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for SiteverifyStub {
    fn drop(&mut self) {
        // The stop command is sent when `stop` is called; the returned future only waits for it.
        drop(self.handle.stop(false));
    }
}

impl SiteverifyStub {
    /// Starts the stub on a free port of 127.0.0.1.
    pub fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let base = format!("http://{}", listener.local_addr()?);
        let log = Log::default();
        let data = web::Data::new(log.clone());
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let handle = crate::stub::serve("siteverify", move || {
            Ok(HttpServer::new(move || {
                App::new()
                    .app_data(data.clone())
                    .route("/{provider}/siteverify", web::post().to(siteverify))
                    .route("/elsewhere", web::post().to(|| async { pass_body("recaptcha") }))
            })
            .on_connect(move |_, _| {
                counter.fetch_add(1, Ordering::SeqCst);
            })
            .workers(1)
            .disable_signals()
            .shutdown_timeout(0)
            .listen(listener)?
            .run())
        })?;
        Ok(Self {
            base,
            log,
            connections,
            handle,
        })
    }

    /// The siteverify URL of `provider` (`hcaptcha`, `recaptcha`, `turnstile`).
    pub fn url(&self, provider: &str) -> String {
        format!("{}/{provider}/siteverify", self.base)
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// TCP connections accepted so far (to see that a client reuses them).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// What a successful answer looks like for each provider (fields from their docs).
fn pass_body(provider: &str) -> HttpResponse {
    let body = match provider {
        "hcaptcha" => serde_json::json!({
            "success": true, "challenge_ts": "2025-01-01T00:00:00Z", "hostname": "auth.example.test", "credit": false,
        }),
        "recaptcha" => serde_json::json!({
            "success": true, "challenge_ts": "2025-01-01T00:00:00Z", "hostname": "auth.example.test",
            "score": 0.9, "action": "login",
        }),
        _ => serde_json::json!({
            "success": true, "challenge_ts": "2025-01-01T00:00:00.000Z", "hostname": "auth.example.test",
            "error-codes": [], "action": "login", "cdata": "",
        }),
    };
    HttpResponse::Ok().json(body)
}

async fn siteverify(
    req: HttpRequest,
    provider: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    log: web::Data<Log>,
) -> HttpResponse {
    let provider = provider.into_inner();
    let fields = form.into_inner();
    let token = fields
        .iter()
        .find(|(k, _)| k == "response")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    log.lock().unwrap_or_else(PoisonError::into_inner).push(Received {
        path: req.path().to_owned(),
        content_type: req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        fields,
    });
    match token.as_str() {
        "pass" => pass_body(&provider),
        "low" => HttpResponse::Ok().json(serde_json::json!({
            "success": true, "hostname": "auth.example.test", "score": 0.1, "action": "login",
        })),
        "noaction" => HttpResponse::Ok().json(serde_json::json!({
            "success": true, "hostname": "auth.example.test", "score": 0.9,
        })),
        "v2" => HttpResponse::Ok().json(serde_json::json!({
            "success": true, "challenge_ts": "2025-01-01T00:00:00Z", "hostname": "auth.example.test",
        })),
        "slow" => {
            actix_web::rt::time::sleep(SLOW).await;
            pass_body(&provider)
        }
        "garbage" => HttpResponse::Ok()
            .content_type("text/html")
            .body("<html><body>Just a moment...</body></html>"),
        "down" => HttpResponse::InternalServerError().json(serde_json::json!({"success": true})),
        "badsecret" => HttpResponse::Ok().json(serde_json::json!({
            "success": false, "error-codes": ["invalid-input-secret"],
        })),
        "redirect" => HttpResponse::TemporaryRedirect()
            .insert_header(("location", "/elsewhere"))
            .finish(),
        _ => {
            let codes = match provider.as_str() {
                "hcaptcha" => serde_json::json!(["invalid-input-response", "sitekey-secret-mismatch"]),
                "recaptcha" => serde_json::json!(["invalid-input-response", "timeout-or-duplicate"]),
                _ => serde_json::json!(["invalid-input-response"]),
            };
            HttpResponse::Ok().json(serde_json::json!({"success": false, "error-codes": codes, "hostname": ""}))
        }
    }
}
