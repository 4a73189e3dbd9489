DROP TRIGGER accounts_liveness_update ON accounts;
CREATE TRIGGER accounts_liveness_update AFTER UPDATE ON accounts FOR EACH ROW
    WHEN (OLD.disabled_at IS DISTINCT FROM NEW.disabled_at
          OR NEW.id <> OLD.id
          OR NEW.tenant_id <> OLD.tenant_id)
    EXECUTE FUNCTION portcullis_notify_account_changed();
