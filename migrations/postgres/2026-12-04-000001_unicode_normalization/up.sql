-- Email addresses and usernames are now unique and looked up by a Unicode key (NFKC, case
-- folding, NFKC: see `identity_key` in the domain), so look-alikes such as the KELVIN SIGN and
-- `K` are one name. SQL cannot compute that key; `portcullis migrate` (and a start with
-- `database.migrate_on_start`) recomputes the keys of existing rows right after applying this
-- migration. Keys of ASCII text do not change.
SELECT 1;
