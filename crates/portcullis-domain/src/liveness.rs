//! Session liveness remembered between requests, so an endpoint that needs only "is this
//! session still live" skips its trip to storage; and, beside it, the account as read with the
//! session, so an endpoint that answers with the caller's account (`GET /v1/account`) skips it
//! too.
//!
//! It is only as good as its invalidation, so it is used only while something tells it, at
//! once, about every session that ends and every account that changes (disabled, erased, or any
//! field the account shows: email, verification, username, second factor, avatar), on every
//! node and from every process (the PostgreSQL adapter's `LISTEN` on notifications its
//! triggers raise inside the revoking transaction). Until such a feed says
//! [`connected`](SessionLiveness::connected), and from the moment it says
//! [`disconnected`](SessionLiveness::disconnected), every look-up misses and nothing is kept:
//! liveness is read from storage as if there were no cache.
//!
//! A read that started before an invalidation is not kept (each invalidation moves a
//! generation on, and [`remember`](SessionLiveness::remember) refuses a read from an older
//! one), so a slow read cannot put back what a notification removed. Entries are kept at most
//! `max_age` (a bound on what a lost notification could cost) and never past the session's own
//! expiry; the map is bounded, and emptied when full.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::ids::{SessionId, TenantId, UserId};
use crate::model::{Account, Session};

/// Sessions kept, at most.
pub const DEFAULT_CAPACITY: usize = 16_384;

/// How long an entry is trusted, at most, without a new read.
pub const DEFAULT_MAX_AGE: chrono::Duration = chrono::Duration::seconds(30);

/// A live session as read (with its account when it was read too), and when.
#[derive(Debug, Clone)]
struct Entry {
    session: Session,
    account: Option<Account>,
    read_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct State {
    online: bool,
    generation: u64,
    entries: HashMap<SessionId, Entry>,
}

/// Taken before a read from storage; [`SessionLiveness::remember`] keeps the read only if no
/// invalidation happened since (and the feed was up when it was taken).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadTicket(Option<u64>);

/// What [`SessionLiveness::lookup`] found.
#[derive(Debug)]
pub enum Lookup {
    /// A live session of this user and tenant, kept from an earlier read.
    Live(Session),
    /// Read it from storage; pass the ticket to [`SessionLiveness::remember`].
    Miss(ReadTicket),
}

/// What [`SessionLiveness::lookup_with_account`] found.
#[derive(Debug)]
pub enum AccountLookup {
    /// A live session of this user and tenant and its enabled account, kept from an earlier
    /// read.
    Live(Session, Box<Account>),
    /// Read both from storage; pass the ticket to [`SessionLiveness::remember_with_account`].
    Miss(ReadTicket),
}

/// The cache. Shared (behind an `Arc`) by the service and the feed that invalidates it.
#[derive(Debug)]
pub struct SessionLiveness {
    state: Mutex<State>,
    capacity: usize,
    max_age: chrono::Duration,
}

impl Default for SessionLiveness {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY, DEFAULT_MAX_AGE)
    }
}

impl SessionLiveness {
    /// An empty cache, bypassed until a feed connects.
    pub fn new(capacity: usize, max_age: chrono::Duration) -> Self {
        Self {
            state: Mutex::new(State::default()),
            capacity,
            max_age,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every write leaves the map consistent; a panic elsewhere must not stop the service.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Invalidates under the lock: moves the generation on, then applies `f`.
    fn invalidate(&self, f: impl FnOnce(&mut State)) {
        let mut state = self.lock();
        state.generation = state.generation.wrapping_add(1);
        f(&mut state);
    }

    /// The feed is listening: start from nothing and keep what is read from now on.
    pub fn connected(&self) {
        self.invalidate(|s| {
            s.entries.clear();
            s.online = true;
        });
    }

    /// The feed is down (or never came up): forget everything and keep nothing until it
    /// connects again.
    pub fn disconnected(&self) {
        self.invalidate(|s| {
            s.entries.clear();
            s.online = false;
        });
    }

    /// Whether look-ups can hit (a feed is connected).
    pub fn is_online(&self) -> bool {
        self.lock().online
    }

    /// Session `id` ended (revoked, deleted or shortened).
    pub fn session_ended(&self, id: SessionId) {
        self.invalidate(|s| {
            s.entries.remove(&id);
        });
    }

    /// Session `id` changed in a way its user sees (`last_used_at` after a refresh): the next
    /// read goes to storage.
    pub fn session_changed(&self, id: SessionId) {
        self.session_ended(id);
    }

    /// The account changed (disabled, erased, password, second factor, or anything it shows):
    /// forgets all of its sessions and the account kept with them.
    pub fn account_changed(&self, tenant: TenantId, user: UserId) {
        self.invalidate(|s| {
            s.entries
                .retain(|_, e| e.session.tenant_id != tenant || e.session.user_id != user);
        });
    }

    /// Forgets everything (a notification that could not be read, a truncated table).
    pub fn forget_all(&self) {
        self.invalidate(|s| s.entries.clear());
    }

    /// The session `id` of `user` in `tenant` if it was read live earlier, is still live at `now`,
    /// and the read is recent enough; otherwise a ticket for reading it.
    pub fn lookup(&self, tenant: TenantId, id: SessionId, user: UserId, now: DateTime<Utc>) -> Lookup {
        match self.find(tenant, id, user, now, |e| Some(e.session.clone())) {
            Ok(session) => Lookup::Live(session),
            Err(ticket) => Lookup::Miss(ticket),
        }
    }

    /// [`lookup`](Self::lookup), hitting only when the account was kept with the session.
    pub fn lookup_with_account(
        &self,
        tenant: TenantId,
        id: SessionId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> AccountLookup {
        let found = self.find(tenant, id, user, now, |e| {
            e.account.as_ref().map(|a| (e.session.clone(), a.clone()))
        });
        match found {
            Ok((session, account)) => AccountLookup::Live(session, Box::new(account)),
            Err(ticket) => AccountLookup::Miss(ticket),
        }
    }

    /// What `take` makes of a usable entry for session `id`, or a ticket for reading it.
    fn find<T>(
        &self,
        tenant: TenantId,
        id: SessionId,
        user: UserId,
        now: DateTime<Utc>,
        take: impl FnOnce(&Entry) -> Option<T>,
    ) -> Result<T, ReadTicket> {
        let state = self.lock();
        if !state.online {
            return Err(ReadTicket(None));
        }
        state
            .entries
            .get(&id)
            .filter(|e| {
                e.session.tenant_id == tenant
                    && e.session.user_id == user
                    && e.session.is_live(now)
                    && now < e.read_at + self.max_age
            })
            .and_then(take)
            .ok_or(ReadTicket(Some(state.generation)))
    }

    /// Keeps `session`, read from storage at `now` after `ticket` was taken, if it is live and
    /// nothing was invalidated meanwhile.
    pub fn remember(&self, ticket: ReadTicket, session: &Session, now: DateTime<Utc>) {
        self.keep(ticket, session, None, now);
    }

    /// [`remember`](Self::remember), with the session's account read in the same trip (kept
    /// only if it belongs to the session and is enabled).
    pub fn remember_with_account(&self, ticket: ReadTicket, session: &Session, account: &Account, now: DateTime<Utc>) {
        if account.id != session.user_id || account.tenant.id != session.tenant_id || account.disabled {
            return;
        }
        self.keep(ticket, session, Some(account.clone()), now);
    }

    fn keep(&self, ticket: ReadTicket, session: &Session, account: Option<Account>, now: DateTime<Utc>) {
        let mut state = self.lock();
        if !state.online || ticket.0 != Some(state.generation) || !session.is_live(now) {
            return;
        }
        if state.entries.len() >= self.capacity {
            let max_age = self.max_age;
            state
                .entries
                .retain(|_, e| e.session.is_live(now) && now < e.read_at + max_age);
            if state.entries.len() >= self.capacity {
                state.entries.clear();
            }
        }
        state.entries.insert(
            session.id,
            Entry {
                session: session.clone(),
                account,
                read_at: now,
            },
        );
    }

    /// Sessions kept.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).expect("in range")
    }

    fn session(user: UserId, expires: i64) -> Session {
        Session {
            id: SessionId::from_uuid(uuid::Uuid::now_v7()),
            tenant_id: TenantId::DEFAULT,
            user_id: user,
            amr: vec!["pwd".into()],
            ip: None,
            user_agent: None,
            created_at: at(0),
            last_used_at: at(0),
            expires_at: at(expires),
            revoked_at: None,
        }
    }

    fn user() -> UserId {
        UserId::from_uuid(uuid::Uuid::now_v7())
    }

    fn read(cache: &SessionLiveness, s: &Session, now: DateTime<Utc>) -> Option<Session> {
        match cache.lookup(s.tenant_id, s.id, s.user_id, now) {
            Lookup::Live(s) => Some(s),
            Lookup::Miss(_) => None,
        }
    }

    fn keep(cache: &SessionLiveness, s: &Session, now: DateTime<Utc>) {
        let Lookup::Miss(ticket) = cache.lookup(s.tenant_id, s.id, s.user_id, now) else {
            panic!("expected a miss");
        };
        cache.remember(ticket, s, now);
    }

    #[test]
    fn nothing_is_kept_or_found_until_a_feed_connects() {
        let cache = SessionLiveness::default();
        let s = session(user(), 3600);
        keep(&cache, &s, at(1));
        assert!(read(&cache, &s, at(2)).is_none());
        assert!(cache.is_empty());
        cache.connected();
        keep(&cache, &s, at(1));
        assert_eq!(read(&cache, &s, at(2)).map(|k| k.id), Some(s.id));
    }

    #[test]
    fn a_hit_needs_the_same_user_and_tenant_a_live_session_and_a_recent_read() {
        let cache = SessionLiveness::new(16, chrono::Duration::seconds(30));
        cache.connected();
        let s = session(user(), 100);
        keep(&cache, &s, at(0));
        assert!(
            matches!(cache.lookup(s.tenant_id, s.id, user(), at(1)), Lookup::Miss(_)),
            "another user"
        );
        let other_tenant = TenantId::from_uuid(uuid::Uuid::now_v7());
        assert!(matches!(
            cache.lookup(other_tenant, s.id, s.user_id, at(1)),
            Lookup::Miss(_)
        ));
        assert!(read(&cache, &s, at(29)).is_some());
        assert!(read(&cache, &s, at(30)).is_none(), "read too long ago");
        let short = session(s.user_id, 10);
        keep(&cache, &short, at(0));
        assert!(read(&cache, &short, at(10)).is_none(), "expired");
    }

    #[test]
    fn invalidations_remove_what_they_name() {
        let cache = SessionLiveness::default();
        cache.connected();
        let (alice, bob) = (user(), user());
        let (a1, a2, b1) = (session(alice, 3600), session(alice, 3600), session(bob, 3600));
        for s in [&a1, &a2, &b1] {
            keep(&cache, s, at(0));
        }
        cache.session_ended(a1.id);
        assert!(read(&cache, &a1, at(1)).is_none());
        assert!(read(&cache, &a2, at(1)).is_some());
        cache.account_changed(TenantId::DEFAULT, alice);
        assert!(read(&cache, &a2, at(1)).is_none());
        assert!(read(&cache, &b1, at(1)).is_some());
        cache.forget_all();
        assert!(cache.is_empty());
        keep(&cache, &b1, at(1));
        cache.disconnected();
        assert!(read(&cache, &b1, at(2)).is_none() && cache.is_empty());
    }

    #[test]
    fn a_read_that_raced_an_invalidation_is_not_kept() {
        let cache = SessionLiveness::default();
        cache.connected();
        let s = session(user(), 3600);
        let Lookup::Miss(ticket) = cache.lookup(s.tenant_id, s.id, s.user_id, at(0)) else {
            panic!("expected a miss");
        };
        // The session ends (and is notified) while its read is in flight.
        cache.session_ended(s.id);
        cache.remember(ticket, &s, at(0));
        assert!(read(&cache, &s, at(1)).is_none());
        // A feed that dropped and came back also voids reads taken before.
        let Lookup::Miss(ticket) = cache.lookup(s.tenant_id, s.id, s.user_id, at(0)) else {
            panic!("expected a miss");
        };
        cache.disconnected();
        cache.connected();
        cache.remember(ticket, &s, at(0));
        assert!(cache.is_empty());
    }

    fn account_of(s: &Session) -> Account {
        Account {
            id: s.user_id,
            tenant: crate::model::Tenant {
                id: s.tenant_id,
                slug: "default".into(),
            },
            email: crate::Email::parse("ada@example.com").expect("valid"),
            email_verified: true,
            username: None,
            mfa_enabled: false,
            avatar_version: None,
            created_at: at(0),
            disabled: false,
        }
    }

    fn read_account(cache: &SessionLiveness, s: &Session, now: DateTime<Utc>) -> Option<Account> {
        match cache.lookup_with_account(s.tenant_id, s.id, s.user_id, now) {
            AccountLookup::Live(_, a) => Some(*a),
            AccountLookup::Miss(_) => None,
        }
    }

    #[test]
    fn the_account_is_kept_only_when_read_with_its_session_and_goes_with_it() {
        let cache = SessionLiveness::default();
        cache.connected();
        let s = session(user(), 3600);
        keep(&cache, &s, at(0));
        assert!(read(&cache, &s, at(1)).is_some());
        assert!(read_account(&cache, &s, at(1)).is_none(), "liveness alone");
        let AccountLookup::Miss(ticket) = cache.lookup_with_account(s.tenant_id, s.id, s.user_id, at(1)) else {
            panic!("expected a miss");
        };
        let mut stranger = account_of(&s);
        stranger.id = user();
        cache.remember_with_account(ticket, &s, &stranger, at(1));
        assert!(read_account(&cache, &s, at(2)).is_none(), "another user's account");
        let mut disabled = account_of(&s);
        disabled.disabled = true;
        cache.remember_with_account(ticket, &s, &disabled, at(1));
        assert!(read_account(&cache, &s, at(2)).is_none(), "a disabled account");
        cache.remember_with_account(ticket, &s, &account_of(&s), at(1));
        assert_eq!(read_account(&cache, &s, at(2)), Some(account_of(&s)));
        assert!(read(&cache, &s, at(2)).is_some(), "liveness from the same entry");
        assert!(read_account(&cache, &s, at(31)).is_none(), "read too long ago");
        cache.account_changed(s.tenant_id, s.user_id);
        assert!(read_account(&cache, &s, at(3)).is_none() && cache.is_empty());
    }

    #[test]
    fn it_stays_within_its_capacity() {
        let cache = SessionLiveness::new(3, chrono::Duration::seconds(30));
        cache.connected();
        let u = user();
        let old = session(u, 3600);
        keep(&cache, &old, at(0));
        for _ in 0..2 {
            keep(&cache, &session(u, 3600), at(20));
        }
        // Full: the read from 40 s ago goes, the others stay.
        let next = session(u, 3600);
        keep(&cache, &next, at(40));
        assert_eq!(cache.len(), 3);
        // Full of fresh ones: everything goes, the new one is kept.
        let last = session(u, 3600);
        keep(&cache, &last, at(41));
        assert_eq!(cache.len(), 1);
        assert!(read(&cache, &last, at(42)).is_some());
    }
}
