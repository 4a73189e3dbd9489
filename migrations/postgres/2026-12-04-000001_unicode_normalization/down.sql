ALTER TABLE accounts DROP COLUMN password_nfkc;
