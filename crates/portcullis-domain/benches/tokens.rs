//! Access-token issue and verify, and refresh-token minting: the per-request token costs.
//!
//! Run: `cargo bench -p portcullis-domain --bench tokens`

use std::hint::black_box;

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_domain::token::TokenSubject;
use portcullis_domain::{JwtKeys, OsRandom, RefreshToken, ServerKey, SessionId, TenantId, TokenPolicy, UserId};
use uuid::Uuid;

fn tokens(c: &mut Criterion) {
    let keys = JwtKeys::from_ed25519_seed(&[42u8; 32], &[]).expect("keys");
    let policy = TokenPolicy::default();
    let amr = vec!["pwd".to_owned()];
    let subject = TokenSubject {
        user_id: UserId::from_uuid(Uuid::now_v7()),
        session_id: SessionId::from_uuid(Uuid::now_v7()),
        tenant_id: TenantId::DEFAULT,
        amr: &amr,
    };
    let now = Utc::now();
    let (token, _) = keys.issue(&policy, &subject, now, &OsRandom).expect("issue");

    c.bench_function("access token issue (EdDSA)", |b| {
        b.iter(|| keys.issue(&policy, black_box(&subject), now, &OsRandom).expect("issue"))
    });
    c.bench_function("access token verify (EdDSA)", |b| {
        b.iter(|| keys.verify(&policy, black_box(&token), now).expect("verify"))
    });
    let refresh_key = ServerKey::new(vec![7u8; 32]).expect("key");
    let refresh = RefreshToken::generate(&OsRandom);
    c.bench_function("refresh token successor + hash", |b| {
        b.iter(|| black_box(&refresh).successor(&refresh_key).hash())
    });
}

criterion_group!(benches, tokens);
criterion_main!(benches);
