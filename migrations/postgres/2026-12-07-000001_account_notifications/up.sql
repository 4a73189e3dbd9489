-- The liveness cache also keeps each session's account (for `GET /v1/account`), so every change
-- of what an account shows must reach every node: the notice now fires on any of those columns,
-- not only on `disabled_at`. Payload unchanged (`u:<tenant id>:<user id>`). Password-hash
-- rehashes, `updated_at` touches and normalization keys still raise nothing.

DROP TRIGGER accounts_liveness_update ON accounts;
CREATE TRIGGER accounts_liveness_update AFTER UPDATE ON accounts FOR EACH ROW
    WHEN (OLD.disabled_at IS DISTINCT FROM NEW.disabled_at
          OR OLD.email IS DISTINCT FROM NEW.email
          OR OLD.email_verified IS DISTINCT FROM NEW.email_verified
          OR OLD.username IS DISTINCT FROM NEW.username
          OR OLD.mfa_enabled IS DISTINCT FROM NEW.mfa_enabled
          OR OLD.avatar_version IS DISTINCT FROM NEW.avatar_version
          OR OLD.created_at IS DISTINCT FROM NEW.created_at
          OR NEW.id <> OLD.id
          OR NEW.tenant_id <> OLD.tenant_id)
    EXECUTE FUNCTION portcullis_notify_account_changed();
