-- Outgoing mail, written in the same transaction as the change that causes it and delivered by
-- background workers on any node. Bodies hold one-time links and codes: they are cleared as soon
-- as the mail is sent or given up.
CREATE TABLE mail_outbox (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    recipient        text NOT NULL,
    kind             text NOT NULL,
    subject          text NOT NULL,
    body_text        text,
    body_html        text,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  timestamptz NOT NULL,
    -- A worker's claim: nobody else takes the mail before this passes.
    leased_until     timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL,
    sent_at          timestamptz,
    failed_at        timestamptz,
    CHECK (status = 'pending' OR (body_text IS NULL AND body_html IS NULL))
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE status = 'pending';
