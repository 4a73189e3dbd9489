DROP INDEX accounts_username_prefix;
DROP INDEX accounts_email_prefix;
ALTER TABLE accounts DROP COLUMN disabled_reason, DROP COLUMN disabled_at;
