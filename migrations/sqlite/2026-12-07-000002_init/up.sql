-- The whole schema of migrations/postgres as of 2026-12-07, for SQLite (STRICT tables).
-- Representation: uuid = 16-byte BLOB (same order as PostgreSQL's uuid), timestamptz = TEXT as
-- diesel writes DateTime<Utc> (UTC, so text order is time order), boolean = INTEGER 0/1,
-- text[] and jsonb = TEXT holding JSON. Constraints keep their PostgreSQL names, which the
-- adapter maps to domain errors.

CREATE TABLE tenants (
    id          BLOB PRIMARY KEY CHECK (length(id) = 16),
    slug        TEXT NOT NULL UNIQUE CHECK (length(slug) BETWEEN 1 AND 100),
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  TEXT NOT NULL,
    settings    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings) AND json_type(settings) = 'object')
) STRICT;
INSERT INTO tenants (id, slug, name, created_at)
VALUES (zeroblob(16), 'default', 'Default', strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'));

CREATE TABLE accounts (
    id                  BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id           BLOB NOT NULL REFERENCES tenants (id),
    email               TEXT NOT NULL CHECK (length(email) <= 254),
    email_normalized    TEXT NOT NULL,
    email_verified      INTEGER NOT NULL DEFAULT 0,
    username            TEXT CHECK (length(username) <= 128),
    username_normalized TEXT,
    password_hash       TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    mfa_enabled         INTEGER NOT NULL DEFAULT 0,
    password_nfkc       INTEGER NOT NULL DEFAULT 1,
    disabled_at         TEXT,
    disabled_reason     TEXT,
    avatar_version      TEXT CHECK (avatar_version IS NULL OR (length(avatar_version) = 49
                            AND avatar_version GLOB '[0-9a-f]*-[0-9a-f]*'
                            AND substr(avatar_version, 33, 1) = '-'
                            AND NOT substr(avatar_version, 1, 32) GLOB '*[^0-9a-f]*'
                            AND NOT substr(avatar_version, 34) GLOB '*[^0-9a-f]*')),
    CONSTRAINT accounts_tenant_id_key UNIQUE (tenant_id, id),
    CONSTRAINT accounts_tenant_email_key UNIQUE (tenant_id, email_normalized),
    CONSTRAINT accounts_tenant_username_key UNIQUE (tenant_id, username_normalized),
    CHECK ((username IS NULL) = (username_normalized IS NULL))
) STRICT;
-- Prefix search (LIKE 'x%') uses these only with case_sensitive_like on, which every
-- connection sets.
CREATE INDEX accounts_email_prefix ON accounts (tenant_id, email_normalized);
CREATE INDEX accounts_username_prefix ON accounts (tenant_id, username_normalized)
    WHERE username_normalized IS NOT NULL;

CREATE TABLE sessions (
    id              BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id       BLOB NOT NULL,
    user_id         BLOB NOT NULL,
    amr             TEXT NOT NULL CHECK (json_valid(amr) AND json_type(amr) = 'array'),
    ip              TEXT,
    user_agent      TEXT,
    created_at      TEXT NOT NULL,
    last_used_at    TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    revoked_at      TEXT,
    revoked_reason  TEXT,
    FOREIGN KEY (tenant_id, user_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX sessions_live_by_user ON sessions (tenant_id, user_id) WHERE revoked_at IS NULL;
CREATE INDEX sessions_by_user ON sessions (tenant_id, user_id);

CREATE TABLE refresh_tokens (
    token_hash      BLOB PRIMARY KEY CHECK (length(token_hash) = 32),
    session_id      BLOB NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    generation      INTEGER NOT NULL CHECK (generation >= 0),
    created_at      TEXT NOT NULL,
    superseded_at   TEXT
) STRICT;
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
CREATE UNIQUE INDEX refresh_tokens_one_head ON refresh_tokens (session_id) WHERE superseded_at IS NULL;

CREATE TABLE server_secrets (
    name        TEXT PRIMARY KEY,
    secret      BLOB NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'))
) STRICT;

CREATE TABLE mail_outbox (
    id               BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id        BLOB NOT NULL REFERENCES tenants (id),
    recipient        TEXT NOT NULL,
    kind             TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body_text        TEXT,
    body_html        TEXT,
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  TEXT NOT NULL,
    leased_until     TEXT,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    sent_at          TEXT,
    failed_at        TEXT,
    sender           TEXT,
    CHECK (status = 'pending' OR (body_text IS NULL AND body_html IS NULL))
) STRICT;
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE status = 'pending';

CREATE TABLE one_time_secrets (
    id                    BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id             BLOB NOT NULL,
    user_id               BLOB NOT NULL,
    purpose               TEXT NOT NULL CHECK (purpose IN
        ('verify_email', 'change_email', 'reset_password', 'authorize_ip', 'signup', 'login_code')),
    scope                 TEXT NOT NULL DEFAULT '',
    token_hash            BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    code_hash             BLOB NOT NULL CHECK (length(code_hash) = 32),
    token_expires_at      TEXT NOT NULL,
    code_expires_at       TEXT NOT NULL,
    failed_code_attempts  INTEGER NOT NULL DEFAULT 0 CHECK (failed_code_attempts >= 0),
    new_email             TEXT CHECK (length(new_email) <= 254),
    new_email_normalized  TEXT,
    created_at            TEXT NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT one_time_secrets_one_live UNIQUE (tenant_id, user_id, purpose, scope),
    CHECK ((purpose = 'change_email') = (new_email IS NOT NULL)),
    CHECK ((new_email IS NULL) = (new_email_normalized IS NULL))
) STRICT;
CREATE INDEX one_time_secrets_expiry ON one_time_secrets (token_expires_at);
CREATE INDEX one_time_secrets_by_new_email ON one_time_secrets (tenant_id, new_email_normalized)
    WHERE new_email_normalized IS NOT NULL;

CREATE TABLE mail_requests (
    id                BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id         BLOB NOT NULL REFERENCES tenants (id),
    purpose           TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password', 'login_code')),
    email             TEXT NOT NULL CHECK (length(email) <= 254),
    email_normalized  TEXT NOT NULL,
    requested_at      TEXT NOT NULL,
    network           TEXT CHECK (length(network) <= 64)
) STRICT;
CREATE INDEX mail_requests_by_time ON mail_requests (requested_at);

CREATE TABLE mfa_totp (
    tenant_id          BLOB NOT NULL,
    user_id            BLOB NOT NULL,
    secret_encrypted   BLOB NOT NULL,
    enabled_at         TEXT,
    last_step          INTEGER,
    failed_attempts    INTEGER NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_until       TEXT,
    created_at         TEXT NOT NULL,
    locks_in_a_row     INTEGER NOT NULL DEFAULT 0 CHECK (locks_in_a_row >= 0),
    lock_notified      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE mfa_recovery_codes (
    tenant_id   BLOB NOT NULL,
    user_id     BLOB NOT NULL,
    code_hash   BLOB NOT NULL CHECK (length(code_hash) = 32),
    created_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, code_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE known_networks (
    tenant_id   BLOB NOT NULL,
    user_id     BLOB NOT NULL,
    network     TEXT NOT NULL CHECK (length(network) <= 64),
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, network),
    FOREIGN KEY (tenant_id, user_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE registrations (
    id                   BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id            BLOB NOT NULL,
    user_id              BLOB NOT NULL,
    password_hash        TEXT NOT NULL,
    username             TEXT CHECK (length(username) <= 128),
    username_normalized  TEXT,
    network              TEXT CHECK (length(network) <= 64),
    created_at           TEXT NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE,
    CHECK ((username IS NULL) = (username_normalized IS NULL))
) STRICT;
CREATE INDEX registrations_by_account ON registrations (tenant_id, user_id, created_at);

CREATE TABLE registration_requests (
    id                   BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id            BLOB NOT NULL REFERENCES tenants (id),
    email                TEXT NOT NULL CHECK (length(email) <= 254),
    email_normalized     TEXT NOT NULL,
    password_hash        TEXT NOT NULL,
    username             TEXT CHECK (length(username) <= 128),
    network              TEXT CHECK (length(network) <= 64),
    mail_allowed         INTEGER NOT NULL,
    requested_at         TEXT NOT NULL
) STRICT;
CREATE INDEX registration_requests_by_time ON registration_requests (requested_at);

CREATE TABLE code_attempts (
    tenant_id        BLOB NOT NULL,
    user_id          BLOB NOT NULL,
    purpose          TEXT NOT NULL CHECK (purpose IN
        ('verify_email', 'change_email', 'reset_password', 'authorize_ip', 'signup', 'login_code')),
    failures         INTEGER NOT NULL CHECK (failures >= 0),
    last_failure_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, purpose),
    FOREIGN KEY (tenant_id, user_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE plans (
    tenant_id    BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    description  TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
    price        TEXT NOT NULL DEFAULT '' CHECK (length(price) <= 100),
    features     TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(features) AND json_type(features) = 'array'),
    active       INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name)
) STRICT;

CREATE TABLE nodes (
    id          BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id   BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    domain      TEXT CHECK (length(domain) BETWEEN 1 AND 253),
    capacity    INTEGER NOT NULL CHECK (capacity >= 0),
    enabled     INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    CONSTRAINT nodes_tenant_id_key UNIQUE (tenant_id, id),
    CONSTRAINT nodes_tenant_name_key UNIQUE (tenant_id, name)
) STRICT;

CREATE TABLE customers (
    id            BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id     BLOB NOT NULL,
    user_id       BLOB NOT NULL,
    node_id       BLOB NOT NULL,
    company_name  TEXT NOT NULL CHECK (length(company_name) BETWEEN 1 AND 200),
    plan          TEXT NOT NULL CHECK (length(plan) BETWEEN 1 AND 50),
    site_url      TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    held_until    TEXT NOT NULL,
    verified_at   TEXT,
    CONSTRAINT customers_owner_key UNIQUE (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, node_id) REFERENCES nodes (tenant_id, id)
) STRICT;
CREATE INDEX customers_by_node ON customers (node_id);
CREATE INDEX customers_by_tenant ON customers (tenant_id, id);

CREATE TABLE admin_keys (
    id               BLOB PRIMARY KEY CHECK (length(id) = 16),
    name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    key_hash         BLOB NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    tenant_id        BLOB REFERENCES tenants (id) ON DELETE CASCADE,
    introspect_only  INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    revoked_at       TEXT
) STRICT;

CREATE TABLE audit_events (
    id          BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id   BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    event_type  TEXT NOT NULL,
    user_id     BLOB,
    session_id  BLOB,
    ip          TEXT,
    user_agent  TEXT,
    request_id  TEXT,
    at          TEXT NOT NULL,
    details     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details))
) STRICT;
CREATE INDEX audit_events_tenant ON audit_events (tenant_id, id DESC);
CREATE INDEX audit_events_user ON audit_events (tenant_id, user_id, id DESC) WHERE user_id IS NOT NULL;
CREATE INDEX audit_events_at ON audit_events (at);

CREATE TABLE blobs (
    key          TEXT PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 200),
    content_type TEXT NOT NULL,
    bytes        BLOB NOT NULL,
    updated_at   TEXT NOT NULL
) STRICT;

-- An account's avatars go with it (its id in hyphenated text, as in the blob keys).
CREATE TRIGGER accounts_drop_avatars AFTER DELETE ON accounts FOR EACH ROW
BEGIN
    DELETE FROM blobs WHERE key LIKE 'avatars/' || lower(
        substr(hex(OLD.id), 1, 8) || '-' || substr(hex(OLD.id), 9, 4) || '-' ||
        substr(hex(OLD.id), 13, 4) || '-' || substr(hex(OLD.id), 17, 4) || '-' ||
        substr(hex(OLD.id), 21, 12)) || '/%';
END;
