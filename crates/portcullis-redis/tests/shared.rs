//! What only a shared store shows, on a real Redis (`REDIS_URL`): two nodes share one budget,
//! keys keep no login name and expire, and a node whose Redis goes away falls back to its own
//! limits and comes back when Redis does.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use portcullis_domain::limits::{Limit, Quota, RateDecision, RateLimiter};
use portcullis_domain::{Clock, SystemClock};
use portcullis_ratelimit::{GovernorLimiter, LimiterSettings};
use portcullis_redis::{RedisLimiter, RedisSettings};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};

fn redis_url() -> String {
    std::env::var("REDIS_URL").expect("REDIS_URL must point at a Redis server (scripts/test.sh sets it)")
}

fn login_quota(count: u32) -> Vec<(Limit, Quota)> {
    vec![(Limit::Login, Quota::new(count, Duration::from_secs(900)))]
}

async fn node(url: String, prefix: &str, count: u32) -> RedisLimiter {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut settings = RedisSettings::new(url.into(), vec![7; 32]);
    settings.prefix = prefix.to_owned();
    settings.timeout = Duration::from_millis(200);
    let fallback = Arc::new(GovernorLimiter::new(login_quota(count), clock.clone()));
    RedisLimiter::connect(
        settings,
        login_quota(count),
        &LimiterSettings::default(),
        clock,
        fallback,
    )
    .await
    .unwrap()
}

fn prefix() -> String {
    format!("test:{}", uuid::Uuid::now_v7().simple())
}

#[tokio::test]
async fn two_nodes_share_one_budget() {
    let prefix = prefix();
    let a = node(redis_url(), &prefix, 5).await;
    let b = node(redis_url(), &prefix, 5).await;
    let mut allowed = 0;
    for i in 0..10 {
        let node = if i % 2 == 0 { &a } else { &b };
        allowed += usize::from(node.hit(Limit::Login, "198.51.100.7").await.is_allowed());
    }
    assert_eq!(allowed, 5, "five in all, not five per node");
    let RateDecision::Limited { retry_after, .. } = b.hit(Limit::Login, "198.51.100.7").await else {
        panic!("refused on either node");
    };
    assert!(retry_after > Duration::from_secs(170) && retry_after <= Duration::from_secs(180));
}

#[tokio::test]
async fn keys_hold_no_login_name_and_expire_when_fresh_again() {
    let prefix = prefix();
    let a = node(redis_url(), &prefix, 5).await;
    a.hit(Limit::Login, "ada@example.com").await;
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with(&format!("{prefix}:{{login:")), "{keys:?}");
    assert!(!keys[0].contains("ada"), "{keys:?}");
    let ttl: i64 = redis::cmd("PTTL").arg(&keys[0]).query_async(&mut conn).await.unwrap();
    // One event of five per 900 s: fresh again after 180 s (plus a second of slack).
    assert!((170_000..=181_000).contains(&ttl), "ttl {ttl} ms");
}

/// A TCP relay in front of Redis that can be cut and restored, so the test can take "Redis"
/// away without touching the server other tests use.
struct Relay {
    addr: std::net::SocketAddr,
    open: Arc<AtomicBool>,
}

impl Relay {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let gate = open.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !gate.load(Ordering::SeqCst) {
                    let _ = inbound.shutdown().await;
                    continue;
                }
                let target = target.clone();
                let gate = gate.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let relay = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
                    let cut = async {
                        while gate.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! { _ = relay => {}, () = cut => {} }
                });
            }
        });
        Self { addr, open }
    }

    fn set_open(&self, open: bool) {
        self.open.store(open, Ordering::SeqCst);
    }
}

/// `host:port` of the Redis in `REDIS_URL`.
fn redis_addr() -> String {
    let url = redis_url();
    let rest = url.split("://").nth(1).unwrap();
    let host = rest.rsplit('@').next().unwrap().split('/').next().unwrap();
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:6379")
    }
}

#[tokio::test]
async fn a_node_falls_back_to_its_own_limits_while_redis_is_away_and_comes_back() {
    let relay = Relay::start(redis_addr()).await;
    let via_relay = redis_url().replacen(&redis_addr(), &relay.addr.to_string(), 1);
    let prefix = prefix();
    let a = node(via_relay, &prefix, 3).await;
    let b = node(redis_url(), &prefix, 3).await;
    // Shared: two here and one there use up the budget of three.
    assert!(a.hit(Limit::Login, "k").await.is_allowed());
    assert!(a.hit(Limit::Login, "k").await.is_allowed());
    assert!(b.hit(Limit::Login, "k").await.is_allowed());
    assert!(!a.hit(Limit::Login, "k").await.is_allowed());

    // "other" is used up on the shared store...
    for _ in 0..3 {
        assert!(b.hit(Limit::Login, "other").await.is_allowed());
    }
    // ...but Redis goes away for node A: it answers from its own counts (three fresh ones,
    // then refusals), never an error and never unlimited.
    relay.set_open(false);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let decisions: Vec<bool> = {
        let mut d = Vec::new();
        for _ in 0..5 {
            d.push(a.hit(Limit::Login, "other").await.is_allowed());
        }
        d
    };
    assert_eq!(decisions, [true, true, true, false, false]);

    // Redis comes back: within a few probes node A shares the budget again, and sees that "k"
    // is used up on the shared store.
    relay.set_open(true);
    assert!(shares_with(&a, &b, 1).await, "node A went back to the shared store");
    assert!(
        !a.hit(Limit::Login, "k").await.is_allowed(),
        "and the shared count held meanwhile"
    );
}

#[tokio::test]
async fn a_node_that_starts_without_redis_serves_on_its_own_and_connects_later() {
    let relay = Relay::start(redis_addr()).await;
    relay.set_open(false);
    let via_relay = redis_url().replacen(&redis_addr(), &relay.addr.to_string(), 1);
    let prefix = prefix();
    let a = node(via_relay, &prefix, 2).await;
    assert!(a.hit(Limit::Login, "k").await.is_allowed());
    assert!(a.hit(Limit::Login, "k").await.is_allowed());
    assert!(!a.hit(Limit::Login, "k").await.is_allowed(), "its own limits hold");
    relay.set_open(true);
    let b = node(redis_url(), &prefix, 2).await;
    assert!(
        shares_with(&a, &b, 0).await,
        "node A connected once Redis was reachable"
    );
}

/// Whether, within 10 s, `a` sees `b`'s count: on a fresh key used once by `b`, `a`'s next
/// event leaves `remaining` (a quota of `remaining + 2`).
async fn shares_with(a: &RedisLimiter, b: &RedisLimiter, remaining: u32) -> bool {
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let probe = format!("probe-{}", uuid::Uuid::now_v7().simple());
        b.hit(Limit::Login, &probe).await;
        if a.hit(Limit::Login, &probe).await
            == (RateDecision::Allowed {
                limit: remaining + 2,
                remaining,
            })
        {
            return true;
        }
    }
    false
}
