//! Tenants, plans, nodes and customer signup in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_domain::model::{
    Customer, NewNode, Node, Plan, SignupOutcome, SignupPlan, SignupTarget, SignupWrite, TenantRecord, TenantSettings,
};
use portcullis_domain::{Email, SignupStore, StoreError, TenantId, TenantStore, TenantWriteError, UserId};

use crate::MemoryStore;
use crate::state::{AccountRow, NodeRow, State};

impl State {
    /// The tenant's nodes with how many customers each holds at `now`.
    fn nodes_of(&self, tenant: TenantId, now: DateTime<Utc>) -> Vec<Node> {
        let mut nodes: Vec<Node> = self
            .nodes
            .iter()
            .filter(|n| n.tenant == tenant)
            .map(|n| Node {
                id: n.id,
                name: n.name.clone(),
                domain: n.domain.clone(),
                capacity: n.capacity,
                enabled: n.enabled,
                used: self.slots_used(n.id, now),
            })
            .collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        nodes
    }

    /// Customers holding a slot of `node` at `now`: verified ones, and unverified ones whose
    /// hold is alive.
    fn slots_used(&self, node: uuid::Uuid, now: DateTime<Utc>) -> u32 {
        let n = self
            .customers
            .iter()
            .filter(|c| c.node_id == node && (c.verified_at.is_some() || c.held_until > now))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Confirms the account's customer if its hold is still alive at `now`.
    pub(crate) fn confirm_customer(&mut self, tenant: TenantId, user: UserId, now: DateTime<Utc>) {
        for c in &mut self.customers {
            if c.tenant_id == tenant && c.owner == user && c.verified_at.is_none() && c.held_until > now {
                c.verified_at = Some(now);
            }
        }
    }

    fn write_signup(&mut self, tenant: TenantId, email: &Email, plan: &SignupPlan, now: DateTime<Utc>) {
        let SignupWrite::Hold {
            new_account,
            secret,
            mail,
        } = &plan.write
        else {
            if let SignupWrite::Notice(Some(notice)) = &plan.write {
                self.enqueue(notice, now);
            }
            return;
        };
        let owner = match self.by_email(tenant, email) {
            Some(row) => row.id,
            None => {
                self.accounts.push(AccountRow {
                    id: *new_account,
                    tenant,
                    email: email.clone(),
                    email_verified: false,
                    username: None,
                    password: None,
                    mfa_enabled: false,
                    created_at: now,
                    disabled_at: None,
                    disabled_reason: None,
                    avatar_version: None,
                });
                *new_account
            }
        };
        self.customers.retain(|c| !(c.tenant_id == tenant && c.owner == owner));
        self.customers.push(Customer {
            owner,
            ..plan.customer.clone()
        });
        self.upsert_secret(secret);
        if let Some(mail) = mail {
            self.enqueue(mail, now);
        }
    }
}

#[async_trait]
impl TenantStore for MemoryStore {
    async fn create_tenant(&self, tenant: &TenantRecord) -> Result<(), TenantWriteError> {
        let mut state = self.lock().await?;
        if state
            .tenants
            .iter()
            .any(|t| t.slug == tenant.tenant.slug || t.id == tenant.tenant.id)
        {
            return Err(TenantWriteError::Taken);
        }
        state.tenants.push(tenant.tenant.clone());
        state.tenant_records.push(tenant.clone());
        Ok(())
    }

    async fn replace_tenant(&self, tenant: &TenantRecord) -> Result<bool, StoreError> {
        let mut state = self.lock().await?;
        let Some(current) = state.tenant(tenant.tenant.id).cloned() else {
            return Ok(false);
        };
        let record = TenantRecord {
            tenant: current,
            ..tenant.clone()
        };
        state.tenant_records.retain(|r| r.tenant.id != record.tenant.id);
        state.tenant_records.push(record);
        Ok(true)
    }

    async fn delete_plan(&self, tenant: TenantId, name: &str) -> Result<bool, StoreError> {
        let mut state = self.lock().await?;
        let before = state.plans.len();
        state.plans.retain(|(t, p)| !(*t == tenant && p.name == name));
        Ok(state.plans.len() < before)
    }

    async fn replace_node(
        &self,
        tenant: TenantId,
        node: &NewNode,
        now: DateTime<Utc>,
    ) -> Result<Option<Node>, TenantWriteError> {
        let mut state = self.lock().await?;
        if state
            .nodes
            .iter()
            .any(|n| n.tenant == tenant && n.name == node.name && n.id != node.id)
        {
            return Err(TenantWriteError::Taken);
        }
        let Some(row) = state.nodes.iter_mut().find(|n| n.tenant == tenant && n.id == node.id) else {
            return Ok(None);
        };
        row.name = node.name.clone();
        row.domain = node.domain.clone();
        row.capacity = node.capacity;
        row.enabled = node.enabled;
        Ok(state.nodes_of(tenant, now).into_iter().find(|n| n.id == node.id))
    }

    async fn tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        let state = self.lock().await?;
        let mut all: Vec<TenantRecord> = state.tenants.iter().map(|t| state.record_of(t)).collect();
        all.sort_by(|a, b| a.tenant.slug.cmp(&b.tenant.slug));
        Ok(all)
    }

    async fn tenant_record(&self, slug: &str) -> Result<Option<TenantRecord>, StoreError> {
        let state = self.lock().await?;
        Ok(state
            .tenants
            .iter()
            .find(|t| t.slug == slug)
            .map(|t| state.record_of(t)))
    }

    async fn tenant_settings(&self, tenant: TenantId) -> Result<Option<TenantSettings>, StoreError> {
        let state = self.lock().await?;
        Ok(state.tenant(tenant).map(|t| state.record_of(t).settings))
    }

    async fn put_plan(&self, tenant: TenantId, plan: &Plan, _now: DateTime<Utc>) -> Result<(), TenantWriteError> {
        let mut state = self.lock().await?;
        if state.tenant(tenant).is_none() {
            return Err(TenantWriteError::UnknownTenant);
        }
        state.plans.retain(|(t, p)| !(*t == tenant && p.name == plan.name));
        state.plans.push((tenant, plan.clone()));
        Ok(())
    }

    async fn plans(&self, tenant: TenantId) -> Result<Vec<Plan>, StoreError> {
        let state = self.lock().await?;
        let mut plans: Vec<Plan> = state
            .plans
            .iter()
            .filter(|(t, _)| *t == tenant)
            .map(|(_, p)| p.clone())
            .collect();
        plans.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(plans)
    }

    async fn add_node(&self, tenant: TenantId, node: &NewNode, now: DateTime<Utc>) -> Result<Node, TenantWriteError> {
        let mut state = self.lock().await?;
        if state.tenant(tenant).is_none() {
            return Err(TenantWriteError::UnknownTenant);
        }
        if state.nodes.iter().any(|n| n.tenant == tenant && n.name == node.name) {
            return Err(TenantWriteError::Taken);
        }
        state.nodes.push(NodeRow {
            id: node.id,
            tenant,
            name: node.name.clone(),
            domain: node.domain.clone(),
            capacity: node.capacity,
            enabled: node.enabled,
        });
        state
            .nodes_of(tenant, now)
            .into_iter()
            .find(|n| n.id == node.id)
            .ok_or_else(|| TenantWriteError::Store(StoreError::Internal("the node just added is gone".into())))
    }

    async fn nodes(&self, tenant: TenantId, now: DateTime<Utc>) -> Result<Vec<Node>, StoreError> {
        Ok(self.lock().await?.nodes_of(tenant, now))
    }
}

#[async_trait]
impl SignupStore for MemoryStore {
    async fn sign_up(
        &self,
        tenant: TenantId,
        email: &Email,
        now: DateTime<Utc>,
        decide: &(dyn for<'a> Fn(Option<&'a SignupTarget>, &'a Node) -> SignupPlan + Send + Sync),
    ) -> Result<SignupOutcome, StoreError> {
        let mut state = self.lock().await?;
        let enabled: Vec<Node> = state.nodes_of(tenant, now).into_iter().filter(|n| n.enabled).collect();
        // Most free first; ties by name (the list is sorted by name, and max_by_key keeps the
        // last of equals, so search from the end).
        let Some(node) = enabled
            .iter()
            .rev()
            .filter(|n| n.free() > 0)
            .max_by_key(|n| n.free())
            .cloned()
        else {
            let node_ids: Vec<uuid::Uuid> = enabled.iter().map(|n| n.id).collect();
            let next_free = state
                .customers
                .iter()
                .filter(|c| node_ids.contains(&c.node_id) && c.verified_at.is_none() && c.held_until > now)
                .map(|c| c.held_until)
                .min();
            return Ok(SignupOutcome::NoCapacity { next_free });
        };
        let target = state.by_email(tenant, email).map(|row| SignupTarget {
            account: state.account_of(row),
            customer: state
                .customers
                .iter()
                .find(|c| c.tenant_id == tenant && c.owner == row.id)
                .cloned(),
        });
        let plan = decide(target.as_ref(), &node);
        state.write_signup(tenant, email, &plan, now);
        Ok(SignupOutcome::Written(plan))
    }

    async fn customers(
        &self,
        tenant: TenantId,
        after: Option<uuid::Uuid>,
        limit: u32,
    ) -> Result<Vec<Customer>, StoreError> {
        let state = self.lock().await?;
        let mut page: Vec<Customer> = state
            .customers
            .iter()
            .filter(|c| c.tenant_id == tenant && after.is_none_or(|a| c.id > a))
            .cloned()
            .collect();
        page.sort_by_key(|c| c.id);
        page.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(page)
    }

    async fn customer_of(&self, tenant: TenantId, user: UserId) -> Result<Option<Customer>, StoreError> {
        let state = self.lock().await?;
        Ok(state
            .customers
            .iter()
            .find(|c| c.tenant_id == tenant && c.owner == user)
            .cloned())
    }
}
