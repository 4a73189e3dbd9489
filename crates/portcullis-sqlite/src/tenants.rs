//! Tenants, plans and nodes on SQLite, and the rows of nodes and customers that signup
//! (`signup.rs`) shares.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use portcullis_domain::model::{Customer, NewNode, Node, Plan, TenantRecord, TenantSettings};
use portcullis_domain::{StoreError, Tenant, TenantId, TenantStore, TenantWriteError, UserId};
use uuid::Uuid;

use crate::error::{is_foreign_key_violation, query_error, unique_violation};
use crate::pool::SqliteConn;
use crate::pool::SqliteStore;
use crate::schema::{customers, nodes, plans, tenants};
use crate::sql::Db;

#[derive(Queryable, Selectable)]
#[diesel(table_name = tenants, check_for_backend(diesel::sqlite::Sqlite))]
struct TenantRecordRow {
    id: Uuid,
    slug: String,
    name: String,
    settings: serde_json::Value,
    created_at: DateTime<Utc>,
}

impl From<TenantRecordRow> for TenantRecord {
    fn from(r: TenantRecordRow) -> Self {
        Self {
            settings: TenantSettings::from_stored(&r.settings),
            tenant: Tenant {
                id: TenantId::from_uuid(r.id),
                slug: r.slug,
            },
            name: r.name,
            created_at: r.created_at,
        }
    }
}

fn settings_json(settings: &TenantSettings) -> serde_json::Value {
    serde_json::Value::Object(settings.to_json())
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = plans, check_for_backend(diesel::sqlite::Sqlite))]
struct PlanRow {
    name: String,
    description: String,
    price: String,
    features: Vec<String>,
    active: bool,
}

impl From<PlanRow> for Plan {
    fn from(r: PlanRow) -> Self {
        Self {
            name: r.name,
            description: r.description,
            price: r.price,
            features: r.features,
            active: r.active,
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = nodes, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct NodeRow {
    id: Uuid,
    name: String,
    domain: Option<String>,
    capacity: i32,
    enabled: bool,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = customers, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct CustomerRow {
    id: Uuid,
    tenant_id: Uuid,
    user_id: Uuid,
    node_id: Uuid,
    company_name: String,
    plan: String,
    site_url: String,
    created_at: DateTime<Utc>,
    held_until: DateTime<Utc>,
    verified_at: Option<DateTime<Utc>>,
}

impl From<CustomerRow> for Customer {
    fn from(r: CustomerRow) -> Self {
        Self {
            id: r.id,
            tenant_id: TenantId::from_uuid(r.tenant_id),
            owner: UserId::from_uuid(r.user_id),
            node_id: r.node_id,
            company_name: r.company_name,
            plan: r.plan,
            site_url: r.site_url,
            created_at: r.created_at,
            held_until: r.held_until,
            verified_at: r.verified_at,
        }
    }
}

/// The nodes (of `rows`) with how many customers each holds at `now`.
pub(crate) async fn with_usage(
    conn: &mut SqliteConn,
    rows: Vec<NodeRow>,
    now: DateTime<Utc>,
) -> QueryResult<Vec<Node>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let counts: Vec<(Uuid, i64)> = customers::table
        .filter(customers::node_id.eq_any(&ids.iter().map(Db::db).collect::<Vec<_>>()))
        // Holding a slot: verified, or unverified with its hold alive.
        .filter(customers::verified_at.is_not_null().or(customers::held_until.gt(now)))
        .group_by(customers::node_id)
        .select((customers::node_id, diesel::dsl::count_star()))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let used = counts.iter().find(|(id, _)| *id == r.id).map_or(0, |(_, n)| *n);
            Node {
                id: r.id,
                name: r.name,
                domain: r.domain,
                capacity: u32::try_from(r.capacity).unwrap_or(0),
                enabled: r.enabled,
                used: u32::try_from(used).unwrap_or(u32::MAX),
            }
        })
        .collect())
}

fn write_error(e: diesel::result::Error) -> TenantWriteError {
    if unique_violation(&e).is_some() {
        TenantWriteError::Taken
    } else if is_foreign_key_violation(&e) {
        TenantWriteError::UnknownTenant
    } else {
        TenantWriteError::Store(query_error(e))
    }
}

#[async_trait]
impl TenantStore for SqliteStore {
    async fn create_tenant(&self, tenant: &TenantRecord) -> Result<(), TenantWriteError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(tenants::table)
            .values((
                tenants::id.eq(tenant.tenant.id.db()),
                tenants::slug.eq(&tenant.tenant.slug),
                tenants::name.eq(&tenant.name),
                tenants::settings.eq(settings_json(&tenant.settings)),
                tenants::created_at.eq(tenant.created_at),
            ))
            .execute(&mut conn)
            .await
            .map(drop)
            .map_err(write_error)
    }

    async fn replace_tenant(&self, tenant: &TenantRecord) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let n = diesel::update(tenants::table.find(tenant.tenant.id.db()))
            .set((
                tenants::name.eq(&tenant.name),
                tenants::settings.eq(settings_json(&tenant.settings)),
            ))
            .execute(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(n == 1)
    }

    async fn delete_plan(&self, tenant: TenantId, name: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let n = diesel::delete(
            plans::table
                .filter(plans::tenant_id.eq(tenant.db()))
                .filter(plans::name.eq(name)),
        )
        .execute(&mut conn)
        .await
        .map_err(query_error)?;
        Ok(n == 1)
    }

    async fn replace_node(
        &self,
        tenant: TenantId,
        node: &NewNode,
        now: DateTime<Utc>,
    ) -> Result<Option<Node>, TenantWriteError> {
        let mut conn = self.conn().await?;
        let capacity = i32::try_from(node.capacity)
            .map_err(|_| TenantWriteError::Store(StoreError::Internal("node capacity out of range".into())))?;
        let n = diesel::update(
            nodes::table
                .filter(nodes::tenant_id.eq(tenant.db()))
                .filter(nodes::id.eq(node.id.db())),
        )
        .set((
            nodes::name.eq(&node.name),
            nodes::domain.eq(&node.domain),
            nodes::capacity.eq(capacity),
            nodes::enabled.eq(node.enabled),
            nodes::updated_at.eq(now),
        ))
        .execute(&mut conn)
        .await
        .map_err(write_error)?;
        if n == 0 {
            return Ok(None);
        }
        let row = nodes::table
            .find(node.id.db())
            .select(NodeRow::as_select())
            .first(&mut conn)
            .await
            .map_err(|e| TenantWriteError::Store(query_error(e)))?;
        let mut updated = with_usage(&mut conn, vec![row], now)
            .await
            .map_err(|e| TenantWriteError::Store(query_error(e)))?;
        Ok(updated.pop())
    }

    async fn tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = tenants::table
            .order(tenants::slug.asc())
            .select(TenantRecordRow::as_select())
            .load(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(rows.into_iter().map(TenantRecord::from).collect())
    }

    async fn tenant_record(&self, slug: &str) -> Result<Option<TenantRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let row = tenants::table
            .filter(tenants::slug.eq(slug))
            .select(TenantRecordRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(query_error)?;
        Ok(row.map(TenantRecord::from))
    }

    async fn tenant_settings(&self, tenant: TenantId) -> Result<Option<TenantSettings>, StoreError> {
        let mut conn = self.conn().await?;
        let stored: Option<serde_json::Value> = tenants::table
            .find(tenant.db())
            .select(tenants::settings)
            .first(&mut conn)
            .await
            .optional()
            .map_err(query_error)?;
        Ok(stored.as_ref().map(TenantSettings::from_stored))
    }

    async fn put_plan(&self, tenant: TenantId, plan: &Plan, now: DateTime<Utc>) -> Result<(), TenantWriteError> {
        let mut conn = self.conn().await?;
        let fields = || {
            (
                plans::description.eq(&plan.description),
                plans::price.eq(&plan.price),
                plans::features.eq(crate::sql::Strings(plan.features.clone())),
                plans::active.eq(plan.active),
                plans::updated_at.eq(now),
            )
        };
        diesel::insert_into(plans::table)
            .values((
                plans::tenant_id.eq(tenant.db()),
                plans::name.eq(&plan.name),
                plans::created_at.eq(now),
                fields(),
            ))
            .on_conflict((plans::tenant_id, plans::name))
            .do_update()
            .set(fields())
            .execute(&mut conn)
            .await
            .map(drop)
            .map_err(write_error)
    }

    async fn plans(&self, tenant: TenantId) -> Result<Vec<Plan>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = plans::table
            .filter(plans::tenant_id.eq(tenant.db()))
            .order(plans::name.asc())
            .select(PlanRow::as_select())
            .load(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(rows.into_iter().map(Plan::from).collect())
    }

    async fn add_node(&self, tenant: TenantId, node: &NewNode, now: DateTime<Utc>) -> Result<Node, TenantWriteError> {
        let mut conn = self.conn().await?;
        let capacity = i32::try_from(node.capacity)
            .map_err(|_| TenantWriteError::Store(StoreError::Internal("node capacity out of range".into())))?;
        diesel::insert_into(nodes::table)
            .values((
                nodes::id.eq(node.id.db()),
                nodes::tenant_id.eq(tenant.db()),
                nodes::name.eq(&node.name),
                nodes::domain.eq(&node.domain),
                nodes::capacity.eq(capacity),
                nodes::enabled.eq(node.enabled),
                nodes::created_at.eq(now),
                nodes::updated_at.eq(now),
            ))
            .execute(&mut conn)
            .await
            .map_err(write_error)?;
        Ok(Node {
            id: node.id,
            name: node.name.clone(),
            domain: node.domain.clone(),
            capacity: node.capacity,
            enabled: node.enabled,
            used: 0,
        })
    }

    async fn nodes(&self, tenant: TenantId, now: DateTime<Utc>) -> Result<Vec<Node>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = nodes::table
            .filter(nodes::tenant_id.eq(tenant.db()))
            .order(nodes::name.asc())
            .select(NodeRow::as_select())
            .load(&mut conn)
            .await
            .map_err(query_error)?;
        let mut nodes = with_usage(&mut conn, rows, now).await.map_err(query_error)?;
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(nodes)
    }
}
