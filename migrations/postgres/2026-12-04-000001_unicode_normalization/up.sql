-- Email addresses and usernames are now unique and looked up by a Unicode key (NFKC, case
-- folding, NFKC: see `identity_key` in the domain), so look-alikes such as the KELVIN SIGN and
-- `K` are one name. SQL cannot compute that key; `portcullis migrate` (and a start with
-- `database.migrate_on_start`) recomputes the keys of existing rows right after applying this
-- migration. Keys of ASCII text do not change.
--
-- Passwords are hashed in NFKC form from now on. Hashes made before were made from the input
-- as typed: they are marked, and only for them is the typed form tried at login (then the
-- hash is replaced by one of the normalised form).
ALTER TABLE accounts ADD COLUMN password_nfkc boolean NOT NULL DEFAULT false;
ALTER TABLE accounts ALTER COLUMN password_nfkc SET DEFAULT true;
