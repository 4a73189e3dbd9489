ALTER TABLE mfa_totp DROP COLUMN lock_notified;
ALTER TABLE mfa_totp DROP COLUMN locks_in_a_row;
