//! The storage contract: what every adapter of the storage ports must do, as tests that run
//! against any [`Storage`]. The in-memory store passes them in this crate's tests, PostgreSQL
//! in `portcullis-postgres`'s; a new adapter (SQLite, say) passes the same before it is used.
//!
//! Run them for an adapter with [`storage_conformance!`](crate::storage_conformance), given an
//! async function that returns a fresh, empty store (with the built-in tenant) and a guard that
//! keeps it alive for the test:
//!
//! ```ignore
//! async fn fresh() -> (MyStore, MyGuard) { ... }
//! portcullis_memory::storage_conformance!(fresh);
//! ```
//!
//! Each test panics with what the adapter got wrong. They use the clock values they are given,
//! never the wall clock, except where the contract says the storage's own clock counts.

mod accounts;
mod admin;
mod audit;
pub mod avatars;
pub mod blobs;
mod fixtures;
mod mfa;
mod outbox;
mod registrations;
mod secrets;
mod sessions;
mod tenants;
mod users;

pub use accounts::*;
pub use admin::*;
pub use audit::*;
pub use mfa::*;
pub use outbox::*;
pub use registrations::*;
pub use secrets::*;
pub use sessions::*;
pub use tenants::*;
pub use users::*;

/// Defines one `#[tokio::test]` per contract test, each on a fresh store from `$fresh`.
#[macro_export]
macro_rules! storage_conformance {
    ($fresh:path) => {
        $crate::storage_conformance!(@each $fresh;
            accounts_are_unique_per_tenant_by_email_and_username,
            an_account_and_its_first_session_are_stored_together,
            usernames_and_password_hashes_change_only_as_asked,
            refresh_rotates_replays_and_detects_reuse,
            concurrent_refreshes_of_one_token_rotate_once,
            sessions_are_listed_and_revoked_only_for_their_owner,
            a_session_is_read_with_its_account,
            networks_become_known_with_a_session_from_them,
            a_secret_replaces_its_purpose_and_scope_and_keeps_wrong_tries,
            a_live_link_is_not_issued_twice,
            redemption_by_code_counts_wrong_tries_and_accepts_once,
            concurrent_redemptions_of_one_secret_accept_once,
            an_email_change_to_a_verified_address_is_refused,
            a_password_change_needs_the_expected_hash,
            purge_deletes_dead_secrets_and_stale_unverified_accounts,
            registrations_are_fulfilled_oldest_first_into_accounts,
            verification_activates_the_chosen_registration,
            mail_requests_are_fulfilled_with_their_target,
            totp_enrolment_activates_only_the_checked_secret,
            a_totp_step_is_accepted_once_under_concurrency,
            wrong_codes_lock_the_second_factor_and_replays_hand_back,
            recovery_codes_are_spent_once,
            disabling_the_second_factor_ends_other_sessions,
            totp_secrets_are_paged_and_resealed_only_if_unchanged,
            outbox_claims_never_overlap_and_leases_expire,
            outbox_outcomes_are_recorded,
            released_claims_are_claimable_at_once_and_only_under_their_own_lease,
            a_server_secret_is_created_once,
            a_secret_is_replaced_only_from_what_was_read,
            tenants_plans_and_nodes_are_kept_per_tenant,
            signup_places_on_the_freest_node_and_holds_the_slot,
            concurrent_signups_take_the_last_slot_once,
            signup_of_a_known_address_keeps_nothing_and_verification_confirms,
            admin_keys_are_found_by_hash_until_revoked,
            a_refresh_token_finds_its_session_only_as_the_chain_head,
            accounts_are_found_by_prefix_in_id_order,
            disabling_revokes_and_hides_every_session,
            audit_events_page_newest_first_and_filter,
            a_sessions_events_are_written_with_it_or_not_at_all,
            erasing_removes_the_account_and_pseudonymises_its_events,
        );
    };
    (@each $fresh:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let (store, _guard) = $fresh().await;
                $crate::conformance::$name(&store).await;
            }
        )*
    };
}
