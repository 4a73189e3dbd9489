//! In-memory adapters of every Portcullis storage port, for tests of the domain's use cases (no
//! database, no network) and for anyone who embeds the domain in a test of their own.
//!
//! [`MemoryStore`] implements every storage port ([`portcullis_domain::Storage`]) and the
//! outbox with the guarantees the ports document: each port method runs in one critical section
//! (the counterpart of a database transaction), so what the PostgreSQL adapter makes atomic with
//! row locks (refresh rotation, TOTP step reservation, redemption of a secret, fulfilment of a
//! request) is atomic here too. [`MemoryTransport`] records the mail it is handed, and
//! [`ListedPasswords`] screens new passwords against a given list.
//!
//! [`conformance`] is the contract every storage adapter must pass: the same tests run against
//! [`MemoryStore`] (in this crate's tests) and against PostgreSQL (in `portcullis-postgres`'s).
//!
//! Nothing here is durable or shared between processes: not for production.

mod accounts;
mod admin;
mod audit;
mod avatars;
mod blobs;
pub mod conformance;
mod mfa;
mod outbox;
mod screen;
mod secrets;
mod sessions;
mod state;
mod tenants;
mod transport;
mod users;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use portcullis_domain::{Clock, StoreError, SystemClock, Tenant, TenantId};
use tokio::sync::{Mutex, MutexGuard};

pub use blobs::MemoryBlobs;
pub use screen::ListedPasswords;
pub use state::MailStatus;
pub use transport::MemoryTransport;

use crate::state::State;

/// Every storage port, in memory.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
    /// The store's own clock, for outbox leases (the database's clock, in PostgreSQL).
    clock: Arc<dyn Clock>,
    /// While set, every port call fails as with a database that cannot be reached.
    down: Arc<AtomicBool>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store with the built-in tenant (`default`), as a migrated database has.
    pub fn new() -> Self {
        let state = State {
            tenants: vec![Tenant {
                id: TenantId::DEFAULT,
                slug: "default".to_owned(),
            }],
            ..State::default()
        };
        Self {
            state: Arc::new(Mutex::new(state)),
            clock: Arc::new(SystemClock),
            down: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Makes every port call fail with [`StoreError::Unavailable`] (`true`), as a database that
    /// cannot be reached does, or work again (`false`).
    pub fn set_unavailable(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// The tables, for one port call: its critical section.
    async fn lock(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("the in-memory store is set unavailable".into()));
        }
        Ok(self.state.lock().await)
    }

    /// The same store, keeping outbox leases on `clock`.
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Self { clock, ..self }
    }

    /// Adds a tenant (operators insert tenants by hand today).
    pub async fn add_tenant(&self, tenant: Tenant) {
        self.state.lock().await.tenants.push(tenant);
    }

    /// Deletes an account's row behind the service's back, leaving its sessions: an account
    /// that vanishes while a token for it is still in use.
    pub async fn remove_account(&self, tenant: TenantId, user: portcullis_domain::UserId) {
        self.state
            .lock()
            .await
            .accounts
            .retain(|a| !(a.tenant == tenant && a.id == user));
    }

    /// The outbox's mails with where each stands, oldest first.
    pub async fn outbox(&self) -> Vec<(portcullis_domain::OutgoingMail, MailStatus)> {
        let state = self.state.lock().await;
        state.outbox.iter().map(|row| (row.mail.clone(), row.status)).collect()
    }

    /// How many registration and mail requests wait for the worker.
    pub async fn pending_requests(&self) -> (usize, usize) {
        let state = self.state.lock().await;
        (state.registration_requests.len(), state.mail_requests.len())
    }

    /// Why a session was revoked, if it was.
    pub async fn revoked_reason(&self, session: portcullis_domain::SessionId) -> Option<&'static str> {
        let state = self.state.lock().await;
        state
            .sessions
            .iter()
            .find(|s| s.session.id == session)
            .and_then(|s| s.revoked_reason)
    }
}
