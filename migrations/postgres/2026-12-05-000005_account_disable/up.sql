-- Operators disable accounts (support, abuse, a compromised account). A disabled account keeps
-- every row; its sessions are revoked and none of them counts as live while it is disabled.
ALTER TABLE accounts
    ADD COLUMN disabled_at timestamptz,
    ADD COLUMN disabled_reason text;

-- Admin search pages a tenant's accounts in id order, optionally by address or username prefix.
CREATE INDEX accounts_email_prefix ON accounts (tenant_id, email_normalized text_pattern_ops);
CREATE INDEX accounts_username_prefix ON accounts (tenant_id, username_normalized text_pattern_ops)
    WHERE username_normalized IS NOT NULL;
