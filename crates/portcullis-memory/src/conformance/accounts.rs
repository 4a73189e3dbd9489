//! Accounts: uniqueness, first sessions, usernames and password hashes.

use portcullis_domain::{AccountConflict, InsertAccountError, SetUsernameError, Storage, TenantId, UserId};
use uuid::Uuid;

use super::fixtures::{email, new_account, new_session, t0, username};

/// Addresses and usernames are unique per tenant, whatever their case; a missing tenant is
/// named as such.
pub async fn accounts_are_unique_per_tenant_by_email_and_username<S: Storage + Clone + 'static>(store: &S) {
    let mut first = new_account("ada@example.com");
    first.username = Some(username("ada"));
    let ada = store.insert_account(first, None).await.expect("first account");
    assert!(ada.email_verified);
    assert_eq!(ada.tenant.slug, "default", "the account carries its tenant");

    let again = store.insert_account(new_account("ADA@example.com"), None).await;
    assert!(
        matches!(again, Err(InsertAccountError::Conflict(AccountConflict::EmailTaken))),
        "{again:?}"
    );
    let mut same_name = new_account("other@example.com");
    same_name.username = Some(username("ADA"));
    let again = store.insert_account(same_name, None).await;
    assert!(
        matches!(again, Err(InsertAccountError::Conflict(AccountConflict::UsernameTaken))),
        "{again:?}"
    );
    let mut elsewhere = new_account("ada@example.com");
    elsewhere.tenant_id = TenantId::from_uuid(Uuid::now_v7());
    let again = store.insert_account(elsewhere, None).await;
    assert!(
        matches!(again, Err(InsertAccountError::Conflict(AccountConflict::UnknownTenant))),
        "{again:?}"
    );

    let by_email = store
        .credentials_by_email(TenantId::DEFAULT, &email("Ada@Example.com"))
        .await
        .expect("lookup")
        .expect("found by address, case aside");
    assert_eq!(by_email.account.id, ada.id);
    assert_eq!(by_email.password.expect("a password").phc, "$test$ada@example.com");
    let by_name = store
        .credentials_by_username(TenantId::DEFAULT, &username("ADA"))
        .await
        .expect("lookup")
        .expect("found by username, case aside");
    assert_eq!(by_name.account.id, ada.id);
    assert!(
        store
            .account(TenantId::DEFAULT, UserId::from_uuid(Uuid::now_v7()))
            .await
            .expect("lookup")
            .is_none()
    );
    assert_eq!(
        store.tenant_by_slug("default").await.expect("tenant").map(|t| t.id),
        Some(TenantId::DEFAULT)
    );
    assert!(store.tenant_by_slug("nobody").await.expect("tenant").is_none());
}

/// An account's first session is written with it, and a refused account writes none.
pub async fn an_account_and_its_first_session_are_stored_together<S: Storage + Clone + 'static>(store: &S) {
    let account = new_account("grace@example.com");
    let first = new_session(account.id, t0());
    let id = first.session.id;
    store
        .insert_account(account.clone(), Some(first))
        .await
        .expect("account with session");
    let stored = store
        .session(TenantId::DEFAULT, id)
        .await
        .expect("session")
        .expect("stored");
    assert_eq!(stored.user_id, account.id);

    let mut twin = new_account("grace@example.com");
    twin.id = UserId::from_uuid(Uuid::now_v7());
    let refused = new_session(twin.id, t0());
    let refused_id = refused.session.id;
    assert!(store.insert_account(twin, Some(refused)).await.is_err());
    assert!(
        store
            .session(TenantId::DEFAULT, refused_id)
            .await
            .expect("session")
            .is_none(),
        "a refused account leaves no session behind"
    );
}

/// A username is set unless another account holds it; a password hash is replaced only while
/// it is still the one expected.
pub async fn usernames_and_password_hashes_change_only_as_asked<S: Storage + Clone + 'static>(store: &S) {
    let mut holder = new_account("holder@example.com");
    holder.username = Some(username("taken"));
    store.insert_account(holder, None).await.expect("holder");
    let me = store
        .insert_account(new_account("me@example.com"), None)
        .await
        .expect("me");

    let taken = store
        .set_username(TenantId::DEFAULT, me.id, &username("TAKEN"), t0())
        .await;
    assert!(matches!(taken, Err(SetUsernameError::Taken)), "{taken:?}");
    let set = store
        .set_username(TenantId::DEFAULT, me.id, &username("free"), t0())
        .await
        .expect("a free name");
    assert_eq!(set.username.map(|u| u.normalized().to_owned()), Some("free".to_owned()));
    let nobody = store
        .set_username(
            TenantId::DEFAULT,
            UserId::from_uuid(Uuid::now_v7()),
            &username("x"),
            t0(),
        )
        .await;
    assert!(matches!(nobody, Err(SetUsernameError::NoAccount)), "{nobody:?}");

    assert!(
        !store
            .replace_password_hash(TenantId::DEFAULT, me.id, "$not$current", "$new$")
            .await
            .expect("replace")
    );
    assert!(
        store
            .replace_password_hash(TenantId::DEFAULT, me.id, "$test$me@example.com", "$new$")
            .await
            .expect("replace")
    );
    let creds = store
        .credentials(TenantId::DEFAULT, me.id)
        .await
        .expect("credentials")
        .expect("account");
    let stored = creds.password.expect("password");
    assert_eq!(stored.phc, "$new$");
    assert!(stored.normalized, "a replaced hash is of the normalised password");
}
