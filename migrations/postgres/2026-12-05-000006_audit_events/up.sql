-- The audit trail: append-only (the service inserts and, past the retention, deletes; it never
-- updates a row). user_id has no foreign key: events outlive the account they name.
CREATE TABLE audit_events (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    event_type text NOT NULL,
    user_id uuid,
    session_id uuid,
    ip text,
    user_agent text,
    request_id text,
    at timestamptz NOT NULL,
    details jsonb NOT NULL DEFAULT '{}'::jsonb
);

-- Pages newest first (ids are UUID v7, time-ordered), per tenant and per account.
CREATE INDEX audit_events_tenant ON audit_events (tenant_id, id DESC);
CREATE INDEX audit_events_user ON audit_events (tenant_id, user_id, id DESC) WHERE user_id IS NOT NULL;
-- The retention purge.
CREATE INDEX audit_events_at ON audit_events (at);
