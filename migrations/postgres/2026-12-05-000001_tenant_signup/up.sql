-- Per-brand settings of a tenant (JSON object; keys left out fall back to the global config),
-- and a bounded display name.
ALTER TABLE tenants ADD COLUMN settings jsonb NOT NULL DEFAULT '{}'::jsonb
    CHECK (jsonb_typeof(settings) = 'object');
ALTER TABLE tenants ADD CONSTRAINT tenants_name_length CHECK (length(name) BETWEEN 1 AND 200);

-- Plans a tenant offers at signup. Price is display text ("€5/mo"), never computed with.
CREATE TABLE plans (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    description  text NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
    price        text NOT NULL DEFAULT '' CHECK (length(price) <= 100),
    features     text[] NOT NULL DEFAULT '{}',
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- Shared nodes customers are placed on. `capacity` counts customers: verified ones, and
-- unverified ones whose hold has not expired.
CREATE TABLE nodes (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    domain      text CHECK (length(domain) BETWEEN 1 AND 253),
    capacity    integer NOT NULL CHECK (capacity >= 0),
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT nodes_tenant_id_key UNIQUE (tenant_id, id),
    CONSTRAINT nodes_tenant_name_key UNIQUE (tenant_id, name)
);

-- Customers made by signup: one per owner account. Until the owner verifies the address the
-- customer only holds its slot until `held_until`; after that the slot is free again and the
-- purge of unverified accounts removes it.
CREATE TABLE customers (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL,
    user_id       uuid NOT NULL,
    node_id       uuid NOT NULL,
    company_name  text NOT NULL CHECK (length(company_name) BETWEEN 1 AND 200),
    plan          text NOT NULL CHECK (length(plan) BETWEEN 1 AND 50),
    site_url      text NOT NULL,
    created_at    timestamptz NOT NULL,
    held_until    timestamptz NOT NULL,
    verified_at   timestamptz,
    CONSTRAINT customers_owner_key UNIQUE (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, node_id) REFERENCES nodes (tenant_id, id)
);
CREATE INDEX customers_by_node ON customers (node_id);
CREATE INDEX customers_by_tenant ON customers (tenant_id, id);

-- Signup codes are one-time secrets of their own purpose.
ALTER TABLE one_time_secrets DROP CONSTRAINT one_time_secrets_purpose_check;
ALTER TABLE one_time_secrets ADD CONSTRAINT one_time_secrets_purpose_check
    CHECK (purpose IN ('verify_email', 'change_email', 'reset_password', 'authorize_ip', 'signup'));
ALTER TABLE code_attempts DROP CONSTRAINT code_attempts_purpose_check;
ALTER TABLE code_attempts ADD CONSTRAINT code_attempts_purpose_check
    CHECK (purpose IN ('verify_email', 'change_email', 'reset_password', 'authorize_ip', 'signup'));
