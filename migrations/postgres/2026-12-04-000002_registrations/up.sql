-- Registrations of an address that nobody has verified yet. Each keeps its own password hash,
-- username and network, and is bound to its own verification secret (`one_time_secrets.scope`
-- holds the registration's id): verifying through a secret activates that registration's
-- password, username and network, and nothing of the others. Someone who registers another
-- person's address first therefore gets nothing when the owner later registers and verifies.
CREATE TABLE registrations (
    id                   uuid PRIMARY KEY,
    tenant_id            uuid NOT NULL,
    user_id              uuid NOT NULL,
    password_hash        text NOT NULL,
    username             text CHECK (length(username) <= 128),
    username_normalized  text,
    network              text CHECK (length(network) <= 64),
    created_at           timestamptz NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE,
    CHECK ((username IS NULL) = (username_normalized IS NULL))
);
CREATE INDEX registrations_by_account ON registrations (tenant_id, user_id, created_at);

-- Register only records a request (after hashing the password) and answers, so its answer and
-- its timing are the same for a new and an existing address; the mail worker turns the request
-- into an account or a registration, or a notice to the owner of a verified address.
CREATE TABLE registration_requests (
    id                   uuid PRIMARY KEY,
    tenant_id            uuid NOT NULL REFERENCES tenants (id),
    email                text NOT NULL CHECK (length(email) <= 254),
    email_normalized     text NOT NULL,
    password_hash        text NOT NULL,
    username             text CHECK (length(username) <= 128),
    network              text CHECK (length(network) <= 64),
    -- Whether the address's mail budget let a mail go when the request was made.
    mail_allowed         boolean NOT NULL,
    requested_at         timestamptz NOT NULL
);
CREATE INDEX registration_requests_by_time ON registration_requests (requested_at);

-- A resend renews the verification of the registration made from the network it comes from,
-- and of no other.
ALTER TABLE mail_requests ADD COLUMN network text CHECK (length(network) <= 64);

-- An account verified through a secret no registration backs (a resend from a network that made
-- none) has no password until one is set (from a fresh session, or with a reset).
ALTER TABLE accounts ALTER COLUMN password_hash DROP NOT NULL;

-- The unverified accounts of earlier versions: one registration each, from the account row.
-- Their usernames move to the registration (a username is claimed when the address is
-- verified), and their registration network stops being known until then.
INSERT INTO registrations (id, tenant_id, user_id, password_hash, username, username_normalized, network, created_at)
SELECT a.id, a.tenant_id, a.id, a.password_hash, a.username, a.username_normalized,
       (SELECT k.network FROM known_networks k
         WHERE k.tenant_id = a.tenant_id AND k.user_id = a.id ORDER BY k.first_seen LIMIT 1),
       a.created_at
FROM accounts a
WHERE NOT a.email_verified AND a.password_hash IS NOT NULL;
UPDATE one_time_secrets s SET scope = s.user_id::text
WHERE s.purpose = 'verify_email' AND s.scope = ''
  AND EXISTS (SELECT 1 FROM registrations r WHERE r.id = s.user_id);
UPDATE accounts SET username = NULL, username_normalized = NULL WHERE NOT email_verified;
DELETE FROM known_networks k USING accounts a
WHERE a.tenant_id = k.tenant_id AND a.id = k.user_id AND NOT a.email_verified;
