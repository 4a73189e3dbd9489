//! Password hashing is a login's whole cost. These benchmarks compare the argon2 implementations we
//! could ship (RustCrypto `argon2` 0.5 and 0.6, and `argon2-rust`, the reference implementation
//! with run-time SIMD), each allocating per hash and reusing its memory, and measure the pool end
//! to end with each backend.
//!
//! Run: `cargo bench -p portcullis-argon2 --bench hashing`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

const M_KIB: u32 = 19_456;
const T: u32 = 2;
const P: u32 = 1;
const PASSWORD: &[u8] = b"correct horse battery staple";
const SALT: &[u8] = b"0123456789abcdef";

/// One crate version's argon2id, allocating its memory per hash and reusing one block.
macro_rules! crate_version {
    ($name:ident, $krate:ident, $label:literal) => {
        fn $name(c: &mut Criterion) {
            use $krate::{Algorithm, Argon2, Block, Params, Version};
            let params = Params::new(M_KIB, T, P, Some(32)).expect("params");
            let a2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
            let mut group = c.benchmark_group("argon2id m=19456 t=2 p=1");
            group.sample_size(30);
            group.bench_function(concat!($label, " allocating"), |b| {
                b.iter(|| {
                    let mut out = [0u8; 32];
                    a2.hash_password_into(black_box(PASSWORD), SALT, &mut out)
                        .expect("hash");
                    out
                })
            });
            let mut blocks = vec![Block::default(); M_KIB as usize];
            group.bench_function(concat!($label, " reused memory"), |b| {
                b.iter(|| {
                    let mut out = [0u8; 32];
                    a2.hash_password_into_with_memory(black_box(PASSWORD), SALT, &mut out, &mut blocks)
                        .expect("hash");
                    out
                })
            });
            group.finish();
        }
    };
}

/// `argon2-rust`: one-shot (allocating) and a parked arena (`Hasher`), as the pool uses it.
fn argon2_rust(c: &mut Criterion) {
    use argon2_rust::params::{Memory, TagLen};
    use argon2_rust::{Algorithm, Argon2, Params, Version};
    let params = Params::builder()
        .memory(Memory::kib(u64::from(M_KIB)))
        .passes(T)
        .lanes(P)
        .threads(1)
        .tag_len(TagLen::bytes(32))
        .build()
        .expect("params");
    let a2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut group = c.benchmark_group("argon2id m=19456 t=2 p=1");
    group.sample_size(30);
    group.bench_function("argon2-rust allocating", |b| {
        b.iter(|| {
            let mut out = [0u8; 32];
            a2.hash_into(black_box(PASSWORD), SALT, &mut out).expect("hash");
            out
        })
    });
    let mut hasher = a2.hasher();
    group.bench_function("argon2-rust reused memory", |b| {
        b.iter(|| {
            let mut out = [0u8; 32];
            hasher.hash_into(black_box(PASSWORD), SALT, &mut out).expect("hash");
            out
        })
    });
    group.finish();
    eprintln!(
        "argon2-rust compression backend on this CPU: {:?}",
        argon2_rust::detected_backend()
    );
}

crate_version!(argon2_05, argon2_05, "0.5");
crate_version!(argon2_06, argon2, "0.6");

/// The shipped hasher end to end: submit, queue, hash on a pool thread, answer. `threads`
/// concurrent callers keep every pool thread busy, so the figure is per-hash wall time under load.
fn pool(c: &mut Criterion) {
    use portcullis_argon2::Backend;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for backend in [Backend::Reference, Backend::RustCrypto] {
        pool_with(c, &runtime, backend);
    }
}

fn pool_with(c: &mut Criterion, runtime: &tokio::runtime::Runtime, backend: portcullis_argon2::Backend) {
    use std::sync::Arc;

    use portcullis_argon2::{Argon2Hasher, Argon2Settings};
    use portcullis_domain::{HashOwner, PasswordHasher, PasswordPolicy};

    let hasher = Arc::new(
        Argon2Hasher::start(Argon2Settings {
            backend,
            ..Argon2Settings::default()
        })
        .expect("hasher"),
    );
    let threads = hasher.settings().threads;
    let password = Arc::new(
        PasswordPolicy::default()
            .parse("correct horse battery staple")
            .expect("password"),
    );
    let stored = runtime
        .block_on(hasher.hash(&password, &HashOwner::client(None)))
        .expect("hash");
    let mut group = c.benchmark_group(format!("pool (default settings, {})", backend.name()));
    group.sample_size(20);
    group.bench_function(format!("verify x{threads} concurrent"), |b| {
        b.iter(|| {
            runtime.block_on(async {
                let calls = (0..threads).map(|i| {
                    let (hasher, password, stored) = (Arc::clone(&hasher), Arc::clone(&password), stored.clone());
                    let owner = HashOwner::client(Some(std::net::IpAddr::from([192, 0, 2, i as u8])));
                    tokio::spawn(async move { hasher.verify(&password, Some(&stored), &owner).await })
                });
                for call in calls.collect::<Vec<_>>() {
                    assert!(call.await.expect("join").expect("verify").matches);
                }
            })
        })
    });
    group.finish();
}

criterion_group!(versions, argon2_05, argon2_06, argon2_rust, pool);
criterion_main!(versions);
