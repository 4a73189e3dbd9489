//! Can one account starve everyone else's login? One signed-in account hammers a
//! re-authenticating endpoint (`POST /v1/account/mfa/totp/disable` with its right password: one
//! argon2 hash per request) from many connections at once, while a stranger logs in now and
//! then. This prints the stranger's login latency and failures, idle and under the hammering.
//!
//! Per-account limits are off (the testkit default), so what is measured is the hashing queue
//! itself, not the limits that would normally cut the hammering off.
//!
//! ```sh
//! DATABASE_URL=postgres://… cargo bench -p portcullis-e2e --bench hash_fairness
//! ```
//!
//! `PORTCULLIS_BENCH_SAMPLES` sets the stranger's logins per phase (default 40) and
//! `PORTCULLIS_BENCH_HAMMERS` the hammering connections (default 48). Under `cargo test` it runs
//! a few of each, to show it still works.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use portcullis_testkit::TestApp;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

struct Phase {
    latencies: Vec<Duration>,
    refused: usize,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn report(name: &str, phase: &Phase) {
    let mut l = phase.latencies.clone();
    l.sort();
    let at = |q: f64| {
        l.get(((l.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .map_or(f64::NAN, ms)
    };
    println!(
        "{name:<28} logins ok {:>3}   refused {:>3}   p50 {:8.1} ms   p90 {:8.1} ms   max {:8.1} ms",
        phase.latencies.len(),
        phase.refused,
        at(0.5),
        at(0.9),
        at(1.0),
    );
}

async fn stranger_logins(http: &reqwest::Client, app: &TestApp, n: usize) -> Phase {
    let mut phase = Phase {
        latencies: Vec::new(),
        refused: 0,
    };
    for _ in 0..n {
        let started = Instant::now();
        let res = http
            .post(app.url("/v1/auth/login"))
            .json(&json!({ "login": "stranger@example.com", "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let _ = res.bytes().await;
        if status == 200 {
            phase.latencies.push(started.elapsed());
        } else {
            phase.refused += 1;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    phase
}

async fn signed_up(http: &reqwest::Client, app: &TestApp, email: &str) -> Value {
    let res = http
        .post(app.url("/v1/auth/register"))
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let mail = app.nth_mail_to(email, 1).await.unwrap();
    let res = http
        .post(app.url("/v1/auth/verify-email"))
        .json(&json!({ "token": mail.token().unwrap() }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["data"].clone()
}

#[tokio::main]
async fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let (samples, hammers) = if measuring {
        (
            env_or("PORTCULLIS_BENCH_SAMPLES", 40),
            env_or("PORTCULLIS_BENCH_HAMMERS", 48),
        )
    } else {
        (3, 4)
    };
    let defaults = portcullis_server::Config::default().passwords;
    let app = TestApp::builder()
        .database_from_env()
        .configure(|c| {
            // Production hashing and queue sizes.
            c.passwords = portcullis_server::Config::default().passwords;
            c.server.workers = 2;
        })
        .spawn()
        .await
        .expect("spawn app (is DATABASE_URL set?)");
    let http = reqwest::Client::builder().pool_max_idle_per_host(256).build().unwrap();
    let hammer = signed_up(&http, &app, "hammer@example.com").await;
    signed_up(&http, &app, "stranger@example.com").await;
    let token = hammer["access_token"].as_str().unwrap().to_owned();

    println!(
        "argon2id m={} t={} p={}, {} hashing threads, queue {}; {hammers} hammering connections",
        defaults.argon2_m_cost_kib,
        defaults.argon2_t_cost,
        defaults.argon2_p_cost,
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        defaults
            .hashing_queue
            .map_or_else(|| "8 per thread".to_owned(), |q| q.to_string()),
    );
    let idle = stranger_logins(&http, &app, samples).await;

    let stop = Arc::new(AtomicBool::new(false));
    let (served, busy) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let url = app.url("/v1/account/mfa/totp/disable");
    let tasks: Vec<_> = (0..hammers)
        .map(|_| {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            let (stop, served, busy) = (stop.clone(), served.clone(), busy.clone());
            tokio::spawn(async move {
                let body = json!({ "current_password": PASSWORD, "code": "000000" });
                while !stop.load(Ordering::Relaxed) {
                    let Ok(res) = http.post(&url).bearer_auth(&token).json(&body).send().await else {
                        continue;
                    };
                    let status = res.status();
                    let _ = res.bytes().await;
                    if status == 503 { &busy } else { &served }.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Let the hammering fill the queue first.
    tokio::time::sleep(Duration::from_millis(if measuring { 1500 } else { 200 })).await;
    let started = Instant::now();
    let loaded = stranger_logins(&http, &app, samples).await;
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }

    report("stranger, idle", &idle);
    report("stranger, while hammered", &loaded);
    println!(
        "hammering account: {:.0} requests/s served, {:.0}/s refused with 503",
        served.load(Ordering::Relaxed) as f64 / elapsed,
        busy.load(Ordering::Relaxed) as f64 / elapsed,
    );
}
