//! Does the answer's timing tell whether an account exists? For each endpoint whose answer must
//! not (login, register, resend, forgot), this sends interleaved requests for an address that
//! has an account and one that has none, and prints both medians.
//!
//! Runs against a real app with production argon2 parameters on the PostgreSQL server named by
//! `DATABASE_URL` (like the tests):
//!
//! ```sh
//! DATABASE_URL=postgres://… cargo bench -p portcullis-e2e --bench enumeration
//! ```
//!
//! `PORTCULLIS_BENCH_SAMPLES` sets the requests per side (default 51). Under `cargo test` it
//! runs three per side, to show it still works.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use portcullis_testkit::TestApp;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

struct Case {
    name: &'static str,
    path: &'static str,
    /// Body for the address with an account, and for the one without; `i` numbers the sample.
    bodies: fn(usize) -> (Value, Value),
}

fn stats(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = ms(samples[samples.len() / 2]);
    let p90 = ms(samples[(samples.len() * 9 / 10).min(samples.len() - 1)]);
    (median, p90)
}

#[tokio::main]
async fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let samples: usize = if measuring {
        std::env::var("PORTCULLIS_BENCH_SAMPLES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(51)
    } else {
        3
    };
    let app = TestApp::builder()
        .database_from_env()
        .configure(|c| {
            // Production hashing: the dummy hash must cost what a real one does.
            let defaults = portcullis_server::Config::default().passwords;
            c.passwords.argon2_m_cost_kib = defaults.argon2_m_cost_kib;
            c.passwords.argon2_t_cost = defaults.argon2_t_cost;
            c.passwords.hashing_threads = defaults.hashing_threads;
        })
        .spawn()
        .await
        .expect("spawn app (is DATABASE_URL set?)");
    let http = reqwest::Client::new();
    let post = async |path: &str, body: &Value| {
        let started = Instant::now();
        let res = http.post(app.url(path)).json(body).send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (started.elapsed(), status, text)
    };

    // One verified account, one that never verified.
    let (_, status, _) = post(
        "/v1/auth/register",
        &json!({ "email": "verified@example.com", "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, 202);
    let mail = app.nth_mail_to("verified@example.com", 1).await.unwrap();
    let (_, status, _) = post("/v1/auth/verify-email", &json!({ "token": mail.token().unwrap() })).await;
    assert_eq!(status, 200);
    post(
        "/v1/auth/register",
        &json!({ "email": "pending@example.com", "password": PASSWORD }),
    )
    .await;

    let cases = [
        Case {
            name: "login: wrong password vs unknown account",
            path: "/v1/auth/login",
            bodies: |_| {
                (
                    json!({ "login": "verified@example.com", "password": "not the password" }),
                    json!({ "login": "nobody@example.com", "password": "not the password" }),
                )
            },
        },
        Case {
            name: "register: existing vs new address",
            path: "/v1/auth/register",
            bodies: |i| {
                (
                    json!({ "email": "verified@example.com", "password": PASSWORD }),
                    json!({ "email": format!("new-{i}@example.com"), "password": PASSWORD }),
                )
            },
        },
        Case {
            name: "verify-email/resend: unverified account vs none",
            path: "/v1/auth/verify-email/resend",
            bodies: |_| {
                (
                    json!({ "email": "pending@example.com" }),
                    json!({ "email": "nobody@example.com" }),
                )
            },
        },
        Case {
            name: "password/forgot: account vs none",
            path: "/v1/auth/password/forgot",
            bodies: |_| {
                (
                    json!({ "email": "verified@example.com" }),
                    json!({ "email": "nobody@example.com" }),
                )
            },
        },
    ];

    println!("{samples} interleaved requests per side, production argon2 parameters");
    for case in cases {
        let (mut with, mut without) = (Vec::new(), Vec::new());
        for i in 0..samples + 3 {
            let (a, b) = (case.bodies)(i);
            // Alternate which side goes first, so drift hits both alike.
            let order = if i % 2 == 0 {
                [(true, a), (false, b)]
            } else {
                [(false, b), (true, a)]
            };
            for (has_account, body) in order {
                let (elapsed, status, text) = post(case.path, &body).await;
                assert!(status.is_client_error() || status.is_success(), "{status} {text}");
                // The first three per side warm up connections and caches.
                if i >= 3 {
                    if has_account { &mut with } else { &mut without }.push(elapsed);
                }
            }
        }
        let ((m_with, p_with), (m_without, p_without)) = (stats(with), stats(without));
        println!(
            "{:<50} account: median {m_with:7.2} ms (p90 {p_with:7.2})   none: median {m_without:7.2} ms (p90 {p_without:7.2})   difference {:+.2} ms",
            case.name,
            m_with - m_without
        );
    }
}
