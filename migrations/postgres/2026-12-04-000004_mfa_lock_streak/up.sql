-- Locks of the second factor in a row (without a right code between them), and whether the
-- owner was told that they keep coming: the second lock in a row mails the owner, once, until a
-- right code ends the streak.
ALTER TABLE mfa_totp ADD COLUMN locks_in_a_row integer NOT NULL DEFAULT 0 CHECK (locks_in_a_row >= 0);
ALTER TABLE mfa_totp ADD COLUMN lock_notified boolean NOT NULL DEFAULT false;
