//! A JWKS server the tests control (keys, status, `Cache-Control`, delay) and count, and keys
//! that sign tokens as Portcullis does.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use portcullis_verifier::{ManualClock, Verifier, VerifierConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub const ISSUER: &str = "portcullis";
pub const AUDIENCE: &str = "portcullis";

/// An Ed25519 key as Portcullis holds one.
#[derive(Clone)]
pub struct TestKey {
    pub kid: String,
    pub encoding: EncodingKey,
    /// The public key, raw.
    pub public: [u8; 32],
}

impl TestKey {
    pub fn new(seed: u8, kid: &str) -> Self {
        let signing = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        // PKCS#8, as Portcullis's key files hold it (jsonwebtoken reads PEM only with `use_pem`).
        let der = signing.to_pkcs8_der().unwrap();
        let encoding = EncodingKey::from_ed_der(der.as_bytes());
        Self {
            kid: kid.to_owned(),
            encoding,
            public: signing.verifying_key().to_bytes(),
        }
    }

    /// The public JWK, as Portcullis publishes it.
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(self.public),
            "kid": self.kid, "alg": "EdDSA", "use": "sig",
        })
    }

    /// Portcullis's header: EdDSA, `at+jwt`, this key's `kid`.
    pub fn header(&self) -> Header {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some("at+jwt".into());
        header.kid = Some(self.kid.clone());
        header
    }

    pub fn sign(&self, header: &Header, claims: &Value) -> String {
        jsonwebtoken::encode(header, claims, &self.encoding).unwrap()
    }

    /// A valid token for `claims`.
    pub fn token(&self, claims: &Value) -> String {
        self.sign(&self.header(), claims)
    }
}

pub fn jwks(keys: &[&TestKey]) -> String {
    json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() }).to_string()
}

/// The claims Portcullis issues, at `now` (Unix seconds), valid 15 minutes.
pub fn claims_at(now: i64) -> Value {
    json!({
        "iss": ISSUER, "aud": AUDIENCE,
        "sub": "0196a4b0-0000-7000-8000-000000000001",
        "sid": "0196a4b0-0000-7000-8000-000000000002",
        "tid": "00000000-0000-0000-0000-000000000000",
        "iat": now, "exp": now + 900,
        "jti": "9b2f7c1e-5d4a-4e3b-8c2d-1f0e9a8b7c6d",
        "amr": ["pwd", "otp"],
    })
}

pub fn unix_now(clock: &ManualClock) -> i64 {
    use portcullis_verifier::Clock as _;
    clock
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

/// What the JWKS server answers.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub cache_control: Option<String>,
    pub delay: Duration,
}

/// A JWKS server on a free port of 127.0.0.1.
pub struct JwksServer {
    pub url: String,
    answer: Arc<Mutex<Answer>>,
    fetches: Arc<AtomicUsize>,
}

impl JwksServer {
    pub async fn start(body: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
        let answer = Arc::new(Mutex::new(Answer {
            status: 200,
            body,
            cache_control: Some("public, max-age=300".into()),
            delay: Duration::ZERO,
        }));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (a, f) = (answer.clone(), fetches.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (a, f) = (a.clone(), f.clone());
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    f.fetch_add(1, Ordering::SeqCst);
                    let answer = a.lock().unwrap().clone();
                    tokio::time::sleep(answer.delay).await;
                    let mut head = format!(
                        "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                        answer.status,
                        answer.body.len()
                    );
                    if let Some(cc) = &answer.cache_control {
                        head.push_str(&format!("cache-control: {cc}\r\n"));
                    }
                    head.push_str("\r\n");
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(answer.body.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self { url, answer, fetches }
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    pub fn serve(&self, body: String) {
        self.answer.lock().unwrap().body = body;
    }

    pub fn status(&self, status: u16) {
        self.answer.lock().unwrap().status = status;
    }

    pub fn cache_control(&self, value: Option<&str>) {
        self.answer.lock().unwrap().cache_control = value.map(str::to_owned);
    }

    pub fn delay(&self, delay: Duration) {
        self.answer.lock().unwrap().delay = delay;
    }

    /// A config for this server, pinned to Portcullis's defaults, on `clock`.
    pub fn config(&self, clock: &Arc<ManualClock>) -> VerifierConfig {
        VerifierConfig::new(self.url.clone(), ISSUER, AUDIENCE).clock(clock.clone())
    }

    pub fn verifier(&self, clock: &Arc<ManualClock>) -> Verifier {
        Verifier::new(self.config(clock)).unwrap()
    }
}
