// Mirrors migrations/sqlite, column for column with the PostgreSQL schema; SQL types as in
// `crate::sql`. Kept by hand; the storage tests fail if it drifts.

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::Db;
use crate::sql::{TextArray, Uuid};

    tenants (id) {
        id -> Uuid,
        slug -> Text,
        name -> Text,
        created_at -> TimestamptzSqlite,
        settings -> Json,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::{TextArray, Uuid};

    admin_keys (id) {
        id -> Uuid,
        name -> Text,
        key_hash -> Binary,
        tenant_id -> Nullable<Uuid>,
        introspect_only -> Bool,
        created_at -> TimestamptzSqlite,
        revoked_at -> Nullable<TimestamptzSqlite>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::{TextArray, Uuid};

    plans (tenant_id, name) {
        tenant_id -> Uuid,
        name -> Text,
        description -> Text,
        price -> Text,
        features -> TextArray,
        active -> Bool,
        created_at -> TimestamptzSqlite,
        updated_at -> TimestamptzSqlite,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::{TextArray, Uuid};

    nodes (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        name -> Text,
        domain -> Nullable<Text>,
        capacity -> Integer,
        enabled -> Bool,
        created_at -> TimestamptzSqlite,
        updated_at -> TimestamptzSqlite,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::{TextArray, Uuid};

    customers (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        user_id -> Uuid,
        node_id -> Uuid,
        company_name -> Text,
        plan -> Text,
        site_url -> Text,
        created_at -> TimestamptzSqlite,
        held_until -> TimestamptzSqlite,
        verified_at -> Nullable<TimestamptzSqlite>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::{TextArray, Uuid};

    accounts (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        email -> Text,
        email_normalized -> Text,
        email_verified -> Bool,
        username -> Nullable<Text>,
        username_normalized -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        created_at -> TimestamptzSqlite,
        updated_at -> TimestamptzSqlite,
        mfa_enabled -> Bool,
        password_nfkc -> Bool,
        disabled_at -> Nullable<TimestamptzSqlite>,
        disabled_reason -> Nullable<Text>,
        avatar_version -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::{TextArray, Uuid};

    sessions (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        user_id -> Uuid,
        amr -> TextArray,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        created_at -> TimestamptzSqlite,
        last_used_at -> TimestamptzSqlite,
        expires_at -> TimestamptzSqlite,
        revoked_at -> Nullable<TimestamptzSqlite>,
        revoked_reason -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::{TextArray, Uuid};

    refresh_tokens (token_hash) {
        token_hash -> Binary,
        session_id -> Uuid,
        generation -> BigInt,
        created_at -> TimestamptzSqlite,
        superseded_at -> Nullable<TimestamptzSqlite>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::{TextArray, Uuid};

    server_secrets (name) {
        name -> Text,
        secret -> Binary,
        created_at -> TimestamptzSqlite,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::{TextArray, Uuid};

    blobs (key) {
        key -> Text,
        content_type -> Text,
        bytes -> Binary,
        updated_at -> TimestamptzSqlite,
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
    use diesel::sql_types::*;
    use crate::sql::{TextArray, Uuid};

    audit_events (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        event_type -> Text,
        user_id -> Nullable<Uuid>,
        session_id -> Nullable<Uuid>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        request_id -> Nullable<Text>,
        at -> TimestamptzSqlite,
        details -> Json,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::{TextArray, Uuid};

    known_networks (tenant_id, user_id, network) {
        tenant_id -> Uuid,
        user_id -> Uuid,
        network -> Text,
        first_seen -> TimestamptzSqlite,
        last_seen -> TimestamptzSqlite,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::{TextArray, Uuid};

    mfa_totp (tenant_id, user_id) {
        tenant_id -> Uuid,
        user_id -> Uuid,
        secret_encrypted -> Binary,
        enabled_at -> Nullable<TimestamptzSqlite>,
        last_step -> Nullable<BigInt>,
        failed_attempts -> Integer,
        locked_until -> Nullable<TimestamptzSqlite>,
        created_at -> TimestamptzSqlite,
        locks_in_a_row -> Integer,
        lock_notified -> Bool,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::{TextArray, Uuid};

    mfa_recovery_codes (tenant_id, user_id, code_hash) {
        tenant_id -> Uuid,
        user_id -> Uuid,
        code_hash -> Binary,
        created_at -> TimestamptzSqlite,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::{TextArray, Uuid};

    mail_outbox (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        recipient -> Text,
        kind -> Text,
        subject -> Text,
        body_text -> Nullable<Text>,
        body_html -> Nullable<Text>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> TimestamptzSqlite,
        leased_until -> Nullable<TimestamptzSqlite>,
        last_error -> Nullable<Text>,
        created_at -> TimestamptzSqlite,
        sent_at -> Nullable<TimestamptzSqlite>,
        failed_at -> Nullable<TimestamptzSqlite>,
        sender -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::{TextArray, Uuid};

    one_time_secrets (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        user_id -> Uuid,
        purpose -> Text,
        scope -> Text,
        token_hash -> Binary,
        code_hash -> Binary,
        token_expires_at -> TimestamptzSqlite,
        code_expires_at -> TimestamptzSqlite,
        failed_code_attempts -> Integer,
        new_email -> Nullable<Text>,
        new_email_normalized -> Nullable<Text>,
        created_at -> TimestamptzSqlite,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::{TextArray, Uuid};

    mail_requests (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        purpose -> Text,
        email -> Text,
        email_normalized -> Text,
        requested_at -> TimestamptzSqlite,
        network -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::{TextArray, Uuid};

    registrations (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        user_id -> Uuid,
        password_hash -> Text,
        username -> Nullable<Text>,
        username_normalized -> Nullable<Text>,
        network -> Nullable<Text>,
        created_at -> TimestamptzSqlite,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::{TextArray, Uuid};

    registration_requests (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        email -> Text,
        email_normalized -> Text,
        password_hash -> Text,
        username -> Nullable<Text>,
        network -> Nullable<Text>,
        mail_allowed -> Bool,
        requested_at -> TimestamptzSqlite,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql::{TextArray, Uuid};

    code_attempts (tenant_id, user_id, purpose) {
        tenant_id -> Uuid,
        user_id -> Uuid,
        purpose -> Text,
        failures -> Integer,
        last_failure_at -> TimestamptzSqlite,
    }
}
