// Mirrors migrations/postgres. Kept by hand; the storage tests fail if it drifts.

diesel::table! {
    tenants (id) {
        id -> Uuid,
        slug -> Text,
        name -> Text,
        created_at -> Timestamptz,
        settings -> Jsonb,
    }
}

diesel::table! {
    admin_keys (id) {
        id -> Uuid,
        name -> Text,
        key_hash -> Bytea,
        tenant_id -> Nullable<Uuid>,
        introspect_only -> Bool,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    plans (tenant_id, name) {
        tenant_id -> Uuid,
        name -> Text,
        description -> Text,
        price -> Text,
        features -> Array<Text>,
        active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    nodes (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        name -> Text,
        domain -> Nullable<Text>,
        capacity -> Int4,
        enabled -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    customers (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        user_id -> Uuid,
        node_id -> Uuid,
        company_name -> Text,
        plan -> Text,
        site_url -> Text,
        created_at -> Timestamptz,
        held_until -> Timestamptz,
        verified_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    accounts (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        email -> Text,
        email_normalized -> Text,
        email_verified -> Bool,
        username -> Nullable<Text>,
        username_normalized -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        mfa_enabled -> Bool,
        password_nfkc -> Bool,
        disabled_at -> Nullable<Timestamptz>,
        disabled_reason -> Nullable<Text>,
        avatar_version -> Nullable<Text>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        user_id -> Uuid,
        amr -> Array<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        created_at -> Timestamptz,
        last_used_at -> Timestamptz,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        revoked_reason -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Bytea,
        session_id -> Uuid,
        generation -> Int8,
        created_at -> Timestamptz,
        superseded_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    server_secrets (name) {
        name -> Text,
        secret -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    blobs (key) {
        key -> Text,
        content_type -> Text,
        bytes -> Bytea,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(accounts -> tenants (tenant_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    accounts,
    sessions,
    refresh_tokens,
    server_secrets,
    mail_outbox,
    one_time_secrets,
    mail_requests,
    mfa_totp,
    mfa_recovery_codes,
    known_networks,
    registrations,
    registration_requests,
    code_attempts,
    plans,
    nodes,
    customers,
    admin_keys,
    audit_events
);

diesel::table! {
    audit_events (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        event_type -> Text,
        user_id -> Nullable<Uuid>,
        session_id -> Nullable<Uuid>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        request_id -> Nullable<Text>,
        at -> Timestamptz,
        details -> Jsonb,
    }
}

diesel::table! {
    known_networks (tenant_id, user_id, network) {
        tenant_id -> Uuid,
        user_id -> Uuid,
        network -> Text,
        first_seen -> Timestamptz,
        last_seen -> Timestamptz,
    }
}

diesel::table! {
    mfa_totp (tenant_id, user_id) {
        tenant_id -> Uuid,
        user_id -> Uuid,
        secret_encrypted -> Bytea,
        enabled_at -> Nullable<Timestamptz>,
        last_step -> Nullable<Int8>,
        failed_attempts -> Int4,
        locked_until -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        locks_in_a_row -> Integer,
        lock_notified -> Bool,
    }
}

diesel::table! {
    mfa_recovery_codes (tenant_id, user_id, code_hash) {
        tenant_id -> Uuid,
        user_id -> Uuid,
        code_hash -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        recipient -> Text,
        kind -> Text,
        subject -> Text,
        body_text -> Nullable<Text>,
        body_html -> Nullable<Text>,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        leased_until -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
        failed_at -> Nullable<Timestamptz>,
        sender -> Nullable<Text>,
    }
}

diesel::table! {
    one_time_secrets (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        user_id -> Uuid,
        purpose -> Text,
        scope -> Text,
        token_hash -> Bytea,
        code_hash -> Bytea,
        token_expires_at -> Timestamptz,
        code_expires_at -> Timestamptz,
        failed_code_attempts -> Int4,
        new_email -> Nullable<Text>,
        new_email_normalized -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    mail_requests (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        purpose -> Text,
        email -> Text,
        email_normalized -> Text,
        requested_at -> Timestamptz,
        network -> Nullable<Text>,
    }
}

diesel::table! {
    registrations (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        user_id -> Uuid,
        password_hash -> Text,
        username -> Nullable<Text>,
        username_normalized -> Nullable<Text>,
        network -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    registration_requests (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        email -> Text,
        email_normalized -> Text,
        password_hash -> Text,
        username -> Nullable<Text>,
        network -> Nullable<Text>,
        mail_allowed -> Bool,
        requested_at -> Timestamptz,
    }
}

diesel::table! {
    code_attempts (tenant_id, user_id, purpose) {
        tenant_id -> Uuid,
        user_id -> Uuid,
        purpose -> Text,
        failures -> Integer,
        last_failure_at -> Timestamptz,
    }
}
