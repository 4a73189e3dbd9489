-- Operators' API keys: only the SHA-256 of each key (256 random bits) is kept.
CREATE TABLE admin_keys (
    id               uuid PRIMARY KEY,
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    key_hash         bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    tenant_id        uuid REFERENCES tenants (id) ON DELETE CASCADE,
    introspect_only  boolean NOT NULL,
    created_at       timestamptz NOT NULL,
    revoked_at       timestamptz
);
