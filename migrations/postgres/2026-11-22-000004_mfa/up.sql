-- Second factor: one TOTP secret per account, encrypted at rest (XChaCha20-Poly1305 under a
-- configured key, bound to the account), and single-use recovery codes stored as keyed hashes.
ALTER TABLE accounts ADD COLUMN mfa_enabled boolean NOT NULL DEFAULT false;

CREATE TABLE mfa_totp (
    tenant_id          uuid NOT NULL,
    user_id            uuid NOT NULL,
    -- nonce || ciphertext || tag
    secret_encrypted   bytea NOT NULL,
    -- NULL until the first valid code activates it.
    enabled_at         timestamptz,
    -- The last time step accepted: a step is never accepted twice.
    last_step          bigint,
    failed_attempts    integer NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_until       timestamptz,
    created_at         timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE mfa_recovery_codes (
    tenant_id   uuid NOT NULL,
    user_id     uuid NOT NULL,
    code_hash   bytea NOT NULL CHECK (length(code_hash) = 32),
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id, code_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE
);
