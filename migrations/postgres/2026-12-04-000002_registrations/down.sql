ALTER TABLE mail_requests DROP COLUMN network;
DROP TABLE registration_requests;
DROP TABLE registrations;
UPDATE accounts SET password_hash = '' WHERE password_hash IS NULL;
ALTER TABLE accounts ALTER COLUMN password_hash SET NOT NULL;
