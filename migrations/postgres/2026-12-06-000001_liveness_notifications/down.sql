DROP TRIGGER accounts_liveness_truncate ON accounts;
DROP TRIGGER accounts_liveness_delete ON accounts;
DROP TRIGGER accounts_liveness_update ON accounts;
DROP TRIGGER sessions_liveness_truncate ON sessions;
DROP TRIGGER sessions_liveness_delete ON sessions;
DROP TRIGGER sessions_liveness_update ON sessions;
DROP FUNCTION portcullis_notify_all_changed();
DROP FUNCTION portcullis_notify_account_changed();
DROP FUNCTION portcullis_notify_session_ended();
