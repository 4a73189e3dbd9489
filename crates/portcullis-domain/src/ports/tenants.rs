//! Tenants with their plans and nodes (operators' side), and customer signup.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::identity::Email;
use crate::ids::{TenantId, UserId};
use crate::model::{
    Customer, NewNode, Node, Plan, SignupOutcome, SignupPlan, SignupTarget, TenantRecord, TenantSettings,
};
use crate::ports::StoreError;

/// Failures of the operators' writes.
#[derive(Debug, thiserror::Error)]
pub enum TenantWriteError {
    /// The slug (of a tenant) or the name (of a node) is taken.
    #[error("taken")]
    Taken,
    /// The tenant does not exist.
    #[error("unknown tenant")]
    UnknownTenant,
    /// Infrastructure failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Tenants, plans and nodes, as operators manage them.
#[async_trait]
pub trait TenantStore: Send + Sync {
    /// Stores a new tenant. A taken slug is [`TenantWriteError::Taken`].
    async fn create_tenant(&self, tenant: &TenantRecord) -> Result<(), TenantWriteError>;

    /// Replaces the name and settings of the tenant with `tenant.tenant.id`; whether it exists.
    async fn replace_tenant(&self, tenant: &TenantRecord) -> Result<bool, StoreError>;

    /// Deletes the tenant's plan of this name; whether there was one. Customers keep the name.
    async fn delete_plan(&self, tenant: TenantId, name: &str) -> Result<bool, StoreError>;

    /// Replaces the name, domain, capacity and enabled flag of the tenant's node `node.id`;
    /// `None` when the tenant has no such node. A name another node of the tenant has is
    /// [`TenantWriteError::Taken`].
    async fn replace_node(
        &self,
        tenant: TenantId,
        node: &NewNode,
        now: DateTime<Utc>,
    ) -> Result<Option<Node>, TenantWriteError>;

    /// Every tenant, by slug.
    async fn tenants(&self) -> Result<Vec<TenantRecord>, StoreError>;

    /// The tenant with this slug, with its settings.
    async fn tenant_record(&self, slug: &str) -> Result<Option<TenantRecord>, StoreError>;

    /// The settings of the tenant with this id; `None` when there is no such tenant.
    async fn tenant_settings(&self, tenant: TenantId) -> Result<Option<TenantSettings>, StoreError>;

    /// Creates or replaces the tenant's plan of this name.
    async fn put_plan(&self, tenant: TenantId, plan: &Plan, now: DateTime<Utc>) -> Result<(), TenantWriteError>;

    /// The tenant's plans (active or not), by name.
    async fn plans(&self, tenant: TenantId) -> Result<Vec<Plan>, StoreError>;

    /// Adds a node. A name the tenant already uses is [`TenantWriteError::Taken`].
    async fn add_node(&self, tenant: TenantId, node: &NewNode, now: DateTime<Utc>) -> Result<Node, TenantWriteError>;

    /// The tenant's nodes with how many customers each holds at `now`, by name.
    async fn nodes(&self, tenant: TenantId, now: DateTime<Utc>) -> Result<Vec<Node>, StoreError>;
}

/// Customer signup.
#[async_trait]
pub trait SignupStore: Send + Sync {
    /// In one transaction: places a signup on the tenant's enabled node with the most free
    /// slots at `now` (capacity less verified customers and unverified ones whose hold is
    /// alive; ties by name), and, only if there is one, looks up the tenant's account with
    /// `email` (with its customer), asks `decide`, and writes what it returns (see
    /// [`SignupWrite`](crate::model::SignupWrite)). Two signups racing for the last slot never
    /// both get it: the second sees no capacity. With none free, nothing is read about the
    /// address and nothing is written.
    async fn sign_up(
        &self,
        tenant: TenantId,
        email: &Email,
        now: DateTime<Utc>,
        decide: &(dyn for<'a> Fn(Option<&'a SignupTarget>, &'a Node) -> SignupPlan + Send + Sync),
    ) -> Result<SignupOutcome, StoreError>;

    /// Up to `limit` of the tenant's customers (verified or still held), by id (ids are UUID
    /// v7, so oldest first), after `after` when given.
    async fn customers(
        &self,
        tenant: TenantId,
        after: Option<uuid::Uuid>,
        limit: u32,
    ) -> Result<Vec<Customer>, StoreError>;

    /// The customer `user` owns.
    async fn customer_of(&self, tenant: TenantId, user: UserId) -> Result<Option<Customer>, StoreError>;
}
