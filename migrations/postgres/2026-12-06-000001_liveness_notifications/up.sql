-- Session-liveness notifications: every node caches which sessions are live and listens on
-- `portcullis_liveness` to forget them. These triggers raise the notice inside the transaction
-- that ends a session or disables/erases an account (PostgreSQL delivers it at commit, to every
-- listener), so revocations by any node, the CLI or hand-written SQL all count.
-- Payloads: `s:<session id>`, `u:<tenant id>:<user id>`, `*` (forget everything).

CREATE FUNCTION portcullis_notify_session_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('portcullis_liveness', 's:' || OLD.id::text);
    RETURN NULL;
END
$$;

CREATE FUNCTION portcullis_notify_account_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('portcullis_liveness', 'u:' || OLD.tenant_id::text || ':' || OLD.id::text);
    RETURN NULL;
END
$$;

CREATE FUNCTION portcullis_notify_all_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('portcullis_liveness', '*');
    RETURN NULL;
END
$$;

-- Only changes that can end a session: refreshes and `last_used_at` touches raise nothing.
CREATE TRIGGER sessions_liveness_update AFTER UPDATE ON sessions FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
          OR NEW.expires_at < OLD.expires_at
          OR NEW.user_id <> OLD.user_id
          OR NEW.tenant_id <> OLD.tenant_id
          OR NEW.id <> OLD.id)
    EXECUTE FUNCTION portcullis_notify_session_ended();
CREATE TRIGGER sessions_liveness_delete AFTER DELETE ON sessions FOR EACH ROW
    EXECUTE FUNCTION portcullis_notify_session_ended();
CREATE TRIGGER sessions_liveness_truncate AFTER TRUNCATE ON sessions FOR EACH STATEMENT
    EXECUTE FUNCTION portcullis_notify_all_changed();

CREATE TRIGGER accounts_liveness_update AFTER UPDATE ON accounts FOR EACH ROW
    WHEN (OLD.disabled_at IS DISTINCT FROM NEW.disabled_at
          OR NEW.id <> OLD.id
          OR NEW.tenant_id <> OLD.tenant_id)
    EXECUTE FUNCTION portcullis_notify_account_changed();
CREATE TRIGGER accounts_liveness_delete AFTER DELETE ON accounts FOR EACH ROW
    EXECUTE FUNCTION portcullis_notify_account_changed();
CREATE TRIGGER accounts_liveness_truncate AFTER TRUNCATE ON accounts FOR EACH STATEMENT
    EXECUTE FUNCTION portcullis_notify_all_changed();
