-- Wrong codes per account and purpose, across every secret minted for it: a new secret (a new
-- network asking for IP authorization, a new reset) starts a fresh count of its own, but not of
-- this one. Once it reaches `one_time.max_code_attempts_total`, that purpose's codes are refused
-- (links still work) until a secret of the purpose is redeemed, the password is changed or
-- reset, or no wrong code has come for `retention.unverified_account_days`.
CREATE TABLE code_attempts (
    tenant_id        uuid NOT NULL,
    user_id          uuid NOT NULL,
    purpose          text NOT NULL
        CHECK (purpose IN ('verify_email', 'change_email', 'reset_password', 'authorize_ip')),
    failures         integer NOT NULL CHECK (failures >= 0),
    last_failure_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id, purpose),
    FOREIGN KEY (tenant_id, user_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE
);
