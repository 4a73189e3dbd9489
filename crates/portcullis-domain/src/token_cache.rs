//! Access tokens whose signature has been checked, so a client that sends the same token with
//! every request pays for one Ed25519 verification, not one per request (it is a quarter of the
//! CPU of an authenticated read). Only tokens that verified are kept, whole (a lookup compares
//! the entire token), with their claims; the time checks run again on every use; the session's
//! liveness is never cached here. Bounded: when full, expired entries go, and if it is still
//! full, everything goes.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::token::AccessClaims;

/// Checked tokens kept, at most.
pub(crate) const CAPACITY: usize = 4096;

/// Verified access tokens and their claims.
#[derive(Debug)]
pub(crate) struct VerifiedTokens {
    map: Mutex<HashMap<Box<str>, AccessClaims>>,
    capacity: usize,
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self::new(CAPACITY)
    }
}

/// Whether `claims` pass the time checks of a verification at `now` (seconds) with `leeway`.
fn in_time(claims: &AccessClaims, leeway: i64, now: i64) -> bool {
    claims.exp.saturating_add(leeway) > now && claims.iat.saturating_sub(leeway) <= now
}

impl VerifiedTokens {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, AccessClaims>> {
        // A panic mid-insert leaves at worst a missing entry: keep serving.
        self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The claims of `token` if it verified before and is still in time at `now`.
    pub(crate) fn get(&self, token: &str, leeway: i64, now: i64) -> Option<AccessClaims> {
        self.lock()
            .get(token)
            .filter(|claims| in_time(claims, leeway, now))
            .cloned()
    }

    /// Keeps `token`, which has just verified with `claims`.
    pub(crate) fn insert(&self, token: &str, claims: &AccessClaims, leeway: i64, now: i64) {
        let mut map = self.lock();
        if map.len() >= self.capacity {
            map.retain(|_, c| in_time(c, leeway, now));
            if map.len() >= self.capacity {
                map.clear();
            }
        }
        map.insert(token.into(), claims.clone());
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{SessionId, TenantId, UserId};

    fn claims(iat: i64, exp: i64) -> AccessClaims {
        AccessClaims {
            iss: "i".into(),
            aud: "a".into(),
            sub: UserId::from_uuid(uuid::Uuid::now_v7()),
            sid: SessionId::from_uuid(uuid::Uuid::now_v7()),
            tid: TenantId::DEFAULT,
            iat,
            exp,
            jti: "j".into(),
            amr: vec!["pwd".into()],
        }
    }

    #[test]
    fn a_kept_token_is_found_whole_and_only_while_in_time() {
        let cache = VerifiedTokens::new(8);
        let c = claims(1000, 1900);
        cache.insert("header.payload.signature", &c, 10, 1000);
        assert_eq!(
            cache.get("header.payload.signature", 10, 1500).map(|k| k.sid),
            Some(c.sid)
        );
        assert!(
            cache.get("header.payload.signaturX", 10, 1500).is_none(),
            "the whole token counts"
        );
        assert!(cache.get("header.payload", 10, 1500).is_none());
        assert!(
            cache.get("header.payload.signature", 10, 1909).is_some(),
            "within the leeway"
        );
        assert!(cache.get("header.payload.signature", 10, 1910).is_none(), "expired");
        assert!(
            cache.get("header.payload.signature", 10, 989).is_none(),
            "issued in the future"
        );
    }

    #[test]
    fn it_stays_within_its_capacity() {
        let cache = VerifiedTokens::new(4);
        for i in 0..4 {
            cache.insert(&format!("t{i}"), &claims(0, if i < 2 { 10 } else { 1000 }), 0, 0);
        }
        // Full: the two expired ones go, the live ones stay.
        cache.insert("t4", &claims(0, 1000), 0, 100);
        assert_eq!(cache.len(), 3);
        assert!(cache.get("t2", 0, 100).is_some() && cache.get("t0", 0, 100).is_none());
        // Full of live ones: everything goes, and the new one is kept.
        cache.insert("t5", &claims(0, 1000), 0, 100);
        cache.insert("t6", &claims(0, 1000), 0, 100);
        assert_eq!(cache.len(), 1);
        assert!(cache.get("t6", 0, 100).is_some());
    }
}
