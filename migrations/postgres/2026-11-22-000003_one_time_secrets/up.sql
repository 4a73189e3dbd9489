-- One-time secrets of mail flows: a link token and a 6-digit code minted together, stored only
-- as hashes (SHA-256 of the token; HMAC of the code under a server key, bound to account and
-- purpose). One live secret per account, purpose and scope: issuing a new one replaces the old
-- row, so the older secret dies. A redeemed secret is deleted.
CREATE TABLE one_time_secrets (
    id                    uuid PRIMARY KEY,
    tenant_id             uuid NOT NULL,
    user_id               uuid NOT NULL,
    purpose               text NOT NULL
        CHECK (purpose IN ('verify_email', 'change_email', 'reset_password', 'authorize_ip')),
    -- '' for most purposes; the client network for IP authorization (one secret per network).
    scope                 text NOT NULL DEFAULT '',
    token_hash            bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    code_hash             bytea NOT NULL CHECK (length(code_hash) = 32),
    token_expires_at      timestamptz NOT NULL,
    code_expires_at       timestamptz NOT NULL,
    failed_code_attempts  integer NOT NULL DEFAULT 0 CHECK (failed_code_attempts >= 0),
    -- The address an email change moves to.
    new_email             text CHECK (length(new_email) <= 254),
    new_email_normalized  text,
    created_at            timestamptz NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT one_time_secrets_one_live UNIQUE (tenant_id, user_id, purpose, scope),
    CHECK ((purpose = 'change_email') = (new_email IS NOT NULL)),
    CHECK ((new_email IS NULL) = (new_email_normalized IS NULL))
);
-- The mail worker deletes secrets whose link and code have both expired.
CREATE INDEX one_time_secrets_expiry ON one_time_secrets (token_expires_at);
-- Codes of an email change are entered with the new address.
CREATE INDEX one_time_secrets_by_new_email ON one_time_secrets (tenant_id, new_email_normalized)
    WHERE new_email_normalized IS NOT NULL;

-- Requests for a mail whose sending depends on whether an account exists (password reset,
-- verification resend). The endpoint only records the request, so its answer and its timing
-- are the same for every address; the mail worker decides and mints the secret later.
CREATE TABLE mail_requests (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    purpose           text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    email             text NOT NULL CHECK (length(email) <= 254),
    email_normalized  text NOT NULL,
    requested_at      timestamptz NOT NULL
);
CREATE INDEX mail_requests_by_time ON mail_requests (requested_at);
