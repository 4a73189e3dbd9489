DROP TABLE mfa_recovery_codes;
DROP TABLE mfa_totp;
ALTER TABLE accounts DROP COLUMN mfa_enabled;
