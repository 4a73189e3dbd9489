//! Which Prometheus library records a request cheaper: `metrics` with
//! `metrics-exporter-prometheus` (what `metrics.rs` uses) or the `prometheus` crate. Each
//! records what the observe middleware records per request (a counter by route, method and
//! status, and a latency histogram by route and method) over the same 40 series, and renders
//! the text a scrape reads.
//!
//! `cargo bench -p portcullis-http --bench metrics_crates`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use metrics_exporter_prometheus::PrometheusBuilder;

const ROUTES: [&str; 10] = [
    "/v1/auth/login",
    "/v1/auth/register",
    "/v1/auth/refresh",
    "/v1/account",
    "/v1/auth/session",
    "/v1/account/sessions",
    "/v1/users/{id}/avatar",
    "/health/ready",
    "/metrics",
    "unmatched",
];
const STATUSES: [u16; 4] = [200, 401, 404, 429];
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 10.0,
];

fn with_metrics_crate(c: &mut Criterion) {
    let recorder = PrometheusBuilder::new()
        .set_buckets(&BUCKETS)
        .expect("buckets")
        .build_recorder();
    let handle = recorder.handle();
    let mut i = 0usize;
    metrics::with_local_recorder(&recorder, || {
        c.bench_function("metrics crate: one request recorded", |b| {
            b.iter(|| {
                i = i.wrapping_add(1);
                let route = ROUTES[i % ROUTES.len()];
                let status = STATUSES[i % STATUSES.len()];
                metrics::histogram!("portcullis_http_request_duration_seconds", "route" => route.to_owned(), "method" => "POST")
                    .record(black_box(0.003));
                metrics::counter!("portcullis_http_requests_total", "route" => route.to_owned(), "method" => "POST", "status" => status.to_string())
                    .increment(1);
            });
        });
    });
    // The same, with each series' handles made once and kept by route, method and status: what
    // is left per request is a map lookup, an atomic add and a bucket push.
    let mut i = 0usize;
    let series = std::sync::RwLock::new(std::collections::HashMap::<
        String,
        std::collections::HashMap<(&'static str, u16), (metrics::Counter, metrics::Histogram)>,
    >::new());
    metrics::with_local_recorder(&recorder, || {
        c.bench_function("metrics crate, handles kept: one request recorded", |b| {
            b.iter(|| {
                i = i.wrapping_add(1);
                let route = ROUTES[i % ROUTES.len()].to_owned();
                let status = STATUSES[i % STATUSES.len()];
                let known = series
                    .read()
                    .expect("lock")
                    .get(route.as_str())
                    .and_then(|m| m.get(&("POST", status)).cloned());
                let (count, time) = known.unwrap_or_else(|| {
                    let made = (
                        metrics::counter!("portcullis_http_requests_total", "route" => route.clone(), "method" => "POST", "status" => status.to_string()),
                        metrics::histogram!("portcullis_http_request_duration_seconds", "route" => route.clone(), "method" => "POST"),
                    );
                    series
                        .write()
                        .expect("lock")
                        .entry(route.clone())
                        .or_default()
                        .insert(("POST", status), made.clone());
                    made
                });
                time.record(black_box(0.003));
                count.increment(1);
            });
        });
    });
    c.bench_function("metrics crate: render 40 series", |b| {
        b.iter(|| {
            handle.run_upkeep();
            black_box(handle.render().len())
        });
    });
}

fn with_prometheus_crate(c: &mut Criterion) {
    use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};
    let registry = Registry::new();
    let requests = IntCounterVec::new(
        Opts::new("portcullis_http_requests_total", "Requests answered."),
        &["route", "method", "status"],
    )
    .expect("counter");
    let duration = HistogramVec::new(
        HistogramOpts::new("portcullis_http_request_duration_seconds", "Time to answer.").buckets(BUCKETS.to_vec()),
        &["route", "method"],
    )
    .expect("histogram");
    registry.register(Box::new(requests.clone())).expect("register");
    registry.register(Box::new(duration.clone())).expect("register");
    let mut i = 0usize;
    c.bench_function("prometheus crate: one request recorded", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let route = ROUTES[i % ROUTES.len()];
            let status = STATUSES[i % STATUSES.len()].to_string();
            duration.with_label_values(&[route, "POST"]).observe(black_box(0.003));
            requests.with_label_values(&[route, "POST", &status]).inc();
        });
    });
    c.bench_function("prometheus crate: render 40 series", |b| {
        b.iter(|| {
            let text = TextEncoder::new().encode_to_string(&registry.gather()).expect("encode");
            black_box(text.len())
        });
    });
}

criterion_group!(benches, with_metrics_crate, with_prometheus_crate);
criterion_main!(benches);
