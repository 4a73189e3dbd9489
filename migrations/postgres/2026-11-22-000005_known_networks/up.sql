-- Networks an account has signed in from (an IPv4 address, or an IPv6 /64): the new-IP login
-- policy notifies about or asks to authorize sign-ins from any other.
CREATE TABLE known_networks (
    tenant_id   uuid NOT NULL,
    user_id     uuid NOT NULL,
    network     text NOT NULL CHECK (length(network) <= 64),
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id, network),
    FOREIGN KEY (tenant_id, user_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE
);
