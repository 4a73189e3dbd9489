//! What a login flood costs: the release binary, started as operators run it, is sent logins from
//! many connections at once (limits off, so the hashing pool is what is measured), and this prints
//! the admitted login rate and latency, how fast the excess is refused (503 with `Retry-After`),
//! and the server's peak resident memory.
//!
//! ```sh
//! cargo build --release -p portcullis-server
//! DATABASE_URL=postgres://… cargo bench -p portcullis-e2e --bench login_flood
//! ```
//!
//! The server is pinned to CPU 0 with `taskset` when there is one (`PORTCULLIS_BENCH_PIN=0` leaves
//! it free). `PORTCULLIS_BENCH_CONNECTIONS` (default 200) and `PORTCULLIS_BENCH_SECS` (default 15)
//! set the flood; `PORTCULLIS_BIN` names another binary; other `PORTCULLIS_*` settings are passed
//! to the server (e.g. `PORTCULLIS_PASSWORDS__HASHING_QUEUE=2`). Under `cargo test` it floods the debug
//! binary briefly and checks every answer is a login or a quick 503.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use portcullis_postgres::scratch::ScratchDatabase;
use serde_json::json;
use tokio::sync::Mutex;

const PASSWORD: &str = "correct horse battery staple";
const EMAIL: &str = "flood@example.com";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
        .copied()
        .map_or(f64::NAN, ms)
}

/// Kills the server when the bench ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `VmHWM` (peak resident set) and `VmRSS` of a process, in MB.
fn memory_mb(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn binary(measuring: bool) -> std::path::PathBuf {
    if let Ok(bin) = std::env::var("PORTCULLIS_BIN") {
        return bin.into();
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target
        .join(if measuring { "release" } else { "debug" })
        .join("portcullis")
}

fn start(measuring: bool, db: &ScratchDatabase, port: u16, dir: &std::path::Path) -> Server {
    let bin = binary(measuring);
    assert!(
        bin.exists(),
        "{} is missing: cargo build {}-p portcullis-server",
        bin.display(),
        if measuring { "--release " } else { "" }
    );
    let pin = measuring && env_or("PORTCULLIS_BENCH_PIN", 1) == 1 && Command::new("taskset").arg("-V").output().is_ok();
    let mut command = if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    command
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db.url())
        .env("PORTCULLIS_SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("PORTCULLIS_SERVER__PROFILE", "development")
        .env("PORTCULLIS_REGISTRATION__REQUIRE_EMAIL_VERIFICATION", "false")
        .env("PORTCULLIS_LOGIN__NEW_IP_POLICY", "off")
        .env("PORTCULLIS_LIMITS__LOGIN_PER_IP", "off")
        .env("PORTCULLIS_LIMITS__REGISTER_PER_IP", "off")
        .env("PORTCULLIS_LIMITS__FAILED_LOGINS_PER_ACCOUNT", "off")
        .env("PORTCULLIS_MAIL__DIR", dir.join("mail"))
        .env("PORTCULLIS_LOG__FILTER", "warn")
        // Settings to try (PORTCULLIS_PASSWORDS__HASHING_QUEUE=2, say) pass through.
        .envs(std::env::vars().filter(|(k, _)| {
            k.starts_with("PORTCULLIS_") && !k.starts_with("PORTCULLIS_BENCH_") && k != "PORTCULLIS_BIN"
        }))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    Server(command.spawn().expect("start the server"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[derive(Default)]
struct Tally {
    ok: Vec<Duration>,
    busy: Vec<Duration>,
    busy_without_retry_after: usize,
    other: usize,
    first_other: Option<String>,
}

async fn login(http: &reqwest::Client, base: &str) -> Result<(u16, bool), reqwest::Error> {
    let res = http
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({ "email": EMAIL, "password": PASSWORD }))
        .send()
        .await?;
    let status = res.status().as_u16();
    let retry_after = res.headers().contains_key("retry-after");
    let _ = res.bytes().await?;
    Ok((status, retry_after))
}

#[tokio::main]
async fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let (connections, secs) = if measuring {
        (
            env_or("PORTCULLIS_BENCH_CONNECTIONS", 200),
            env_or("PORTCULLIS_BENCH_SECS", 15),
        )
    } else {
        (24, 2)
    };
    let admin = std::env::var("DATABASE_URL").expect("DATABASE_URL (an admin URL of a PostgreSQL server)");
    let db = ScratchDatabase::create(&admin).await.expect("scratch database");
    let dir = std::env::temp_dir().join(format!("portcullis-flood-{}", uuid::Uuid::now_v7()));
    let port = free_port();
    let server = start(measuring, &db, port, &dir);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let ready = Instant::now();
    while http
        .get(format!("{base}/health/ready"))
        .send()
        .await
        .map_or(true, |r| r.status() != 200)
    {
        assert!(
            ready.elapsed() < Duration::from_secs(60),
            "the server did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let res = http
        .post(format!("{base}/v1/auth/register"))
        .json(&json!({ "email": EMAIL, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "register: {}", res.status());

    // One login at a time: what a login costs on an idle server.
    let mut alone = Vec::new();
    for _ in 0..if measuring { 40 } else { 5 } {
        let started = Instant::now();
        assert_eq!(login(&http, &base).await.unwrap().0, 200);
        alone.push(started.elapsed());
    }
    alone.sort();
    let (idle_peak, _) = memory_mb(server.0.id());

    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (http, base, tally, stop) = (http.clone(), base.clone(), tally.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let outcome = login(&http, &base).await;
                    let took = started.elapsed();
                    let mut t = tally.lock().await;
                    match outcome {
                        Ok((200, _)) => t.ok.push(took),
                        Ok((503, retry_after)) => {
                            t.busy.push(took);
                            if !retry_after {
                                t.busy_without_retry_after += 1;
                            }
                        }
                        other => {
                            t.other += 1;
                            if t.first_other.is_none() {
                                t.first_other = Some(format!("{other:?}"));
                            }
                        }
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    let (peak, rss) = memory_mb(server.0.id());
    let mut t = std::mem::take(&mut *tally.lock().await);
    t.ok.sort();
    t.busy.sort();

    println!(
        "login alone: p50 {:.1} ms, p99 {:.1} ms ({} logins one at a time); peak RSS {idle_peak:.1} MB",
        quantile(&alone, 0.5),
        quantile(&alone, 0.99),
        alone.len()
    );
    println!("flood: {connections} connections for {secs} s");
    println!(
        "  admitted: {:7.1} logins/s  p50 {:7.1} ms  p99 {:7.1} ms  max {:7.1} ms  (p99 = {:.1}x a login alone)",
        t.ok.len() as f64 / secs as f64,
        quantile(&t.ok, 0.5),
        quantile(&t.ok, 0.99),
        quantile(&t.ok, 1.0),
        quantile(&t.ok, 0.99) / quantile(&alone, 0.5),
    );
    println!(
        "  refused:  {:7.1} 503s/s    p50 {:7.1} ms  p99 {:7.1} ms  max {:7.1} ms  ({} without Retry-After)",
        t.busy.len() as f64 / secs as f64,
        quantile(&t.busy, 0.5),
        quantile(&t.busy, 0.99),
        quantile(&t.busy, 1.0),
        t.busy_without_retry_after,
    );
    println!(
        "  other answers or errors: {}{}",
        t.other,
        t.first_other
            .as_deref()
            .map(|o| format!(" (first: {o})"))
            .unwrap_or_default()
    );
    println!("  server memory: peak RSS {peak:.1} MB, RSS now {rss:.1} MB");

    assert!(!t.ok.is_empty(), "no login was admitted during the flood");
    assert_eq!(t.other, 0, "every answer is a login or a 503");
    assert_eq!(t.busy_without_retry_after, 0, "every 503 says when to retry");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
