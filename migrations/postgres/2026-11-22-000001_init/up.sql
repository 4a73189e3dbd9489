-- Tenants. Every account and session is scoped to one; the built-in `default` tenant has the nil id.
CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL UNIQUE CHECK (length(slug) BETWEEN 1 AND 100),
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO tenants (id, slug, name) VALUES ('00000000-0000-0000-0000-000000000000', 'default', 'Default');

CREATE TABLE accounts (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL REFERENCES tenants (id),
    email               text NOT NULL CHECK (length(email) <= 254),
    -- Lower-cased email and username: uniqueness is case-insensitive, per tenant.
    email_normalized    text NOT NULL,
    email_verified      boolean NOT NULL DEFAULT false,
    username            text CHECK (length(username) <= 128),
    username_normalized text,
    password_hash       text NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    -- Lets sessions reference (tenant, account), so a session can never cross tenants.
    CONSTRAINT accounts_tenant_id_key UNIQUE (tenant_id, id),
    CONSTRAINT accounts_tenant_email_key UNIQUE (tenant_id, email_normalized),
    CONSTRAINT accounts_tenant_username_key UNIQUE (tenant_id, username_normalized),
    CHECK ((username IS NULL) = (username_normalized IS NULL))
);

CREATE TABLE sessions (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    user_id         uuid NOT NULL,
    amr             text[] NOT NULL,
    ip              text,
    user_agent      text,
    created_at      timestamptz NOT NULL,
    last_used_at    timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    revoked_reason  text,
    FOREIGN KEY (tenant_id, user_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_live_by_user ON sessions (tenant_id, user_id) WHERE revoked_at IS NULL;

-- Refresh tokens of a session's chain, by SHA-256 of the token (never the token). The last few
-- superseded ones are kept so that a replayed one is recognised as reuse rather than garbage;
-- older ones are pruned on rotation, so a chain's rows stay bounded however often it refreshes.
CREATE TABLE refresh_tokens (
    token_hash      bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    session_id      uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    generation      bigint NOT NULL CHECK (generation >= 0),
    created_at      timestamptz NOT NULL,
    superseded_at   timestamptz
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
-- A session's chain has exactly one head: a fork is impossible at the storage level.
CREATE UNIQUE INDEX refresh_tokens_one_head ON refresh_tokens (session_id) WHERE superseded_at IS NULL;

-- Secrets every node must share when none is configured (generated signing key, refresh key).
CREATE TABLE server_secrets (
    name        text PRIMARY KEY,
    secret      bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
