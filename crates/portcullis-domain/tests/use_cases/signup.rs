//! Customer signup: plans offered, placement and capacity, holds, notices, and verification.

use chrono::Duration;
use portcullis_domain::model::{NewNode, Plan};
use portcullis_domain::{MailKind, OneTimeError, Signup, SignupError, SignupStore, TenantStore};

use crate::world::{HOME, PASSWORD, Setup, World};

const OWNER: &str = "owner@widgets.example";

fn plan(name: &str, active: bool) -> Plan {
    Plan {
        name: name.to_owned(),
        description: format!("The {name} plan"),
        price: "€5/mo".to_owned(),
        features: vec!["1 site".to_owned()],
        active,
    }
}

/// A world whose tenant offers `starter` (and an inactive `legacy`) on one node of `capacity`.
async fn shop(capacity: u32) -> World {
    // Signup does not depend on `require_email_verification`; off, `signed_up` makes a
    // verified account directly.
    let w = World::with(Setup::default());
    let now = w.clock_now();
    for p in [plan("starter", true), plan("legacy", false)] {
        w.store.put_plan(w.tenant.id, &p, now).await.unwrap();
    }
    let node = NewNode {
        id: uuid::Uuid::now_v7(),
        name: "eu1".to_owned(),
        domain: Some("eu1.example.net".to_owned()),
        capacity,
        enabled: true,
    };
    w.store.add_node(w.tenant.id, &node, now).await.unwrap();
    w
}

fn signup(w: &World, email: &str, plan: &str) -> Signup {
    Signup {
        tenant: w.tenant.clone(),
        email: World::email(email),
        company_name: "Widgets Ltd".to_owned(),
        plan: plan.to_owned(),
    }
}

fn code_in(mail: &portcullis_domain::OutgoingMail) -> String {
    assert_eq!(mail.kind, MailKind::SignupCode);
    assert!(!mail.text.contains("pcl_"), "a code only, no link");
    mail.text
        .split(|c: char| !c.is_ascii_digit())
        .find(|s| s.len() == 6)
        .expect("a code")
        .to_owned()
}

#[tokio::test]
async fn only_active_plans_are_offered_and_taken() {
    let w = shop(5).await;
    let offered = w.auth.signup_plans(&w.tenant).await.unwrap();
    assert_eq!(offered, vec![plan("starter", true)]);
    for name in ["legacy", "enterprise"] {
        let refused = w.auth.sign_up(signup(&w, OWNER, name)).await;
        assert!(matches!(refused, Err(SignupError::UnknownPlan)), "{name}");
    }
    assert!(w.mails().await.is_empty());
}

#[tokio::test]
async fn a_signup_is_held_mailed_a_code_and_verified_into_a_session_and_a_customer() {
    let w = shop(5).await;
    let done = w.auth.sign_up(signup(&w, OWNER, "starter")).await.unwrap();
    assert_eq!(done.site_url, format!("https://{}.eu1.example.net", done.customer_id));
    let code = code_in(&w.last_mail_to(OWNER).await);
    let verified = w
        .auth
        .verify_signup(&w.code(OWNER, &code), &World::from(HOME))
        .await
        .unwrap();
    assert_eq!(verified.customer.id, done.customer_id);
    assert!(verified.customer.verified_at.is_some());
    assert!(verified.account.email_verified);
    let principal = w.principal(&verified.pair).await;
    assert_eq!(principal.claims.amr, vec!["email".to_owned()]);
    // Single use; a password login finds no password.
    let again = w.auth.verify_signup(&w.code(OWNER, &code), &World::from(HOME)).await;
    assert!(matches!(again, Err(OneTimeError::InvalidOrExpired)));
    assert!(w.login(OWNER, PASSWORD, None, HOME).await.is_err());
}

#[tokio::test]
async fn a_full_node_refuses_with_when_the_first_hold_ends_and_an_expired_hold_frees_it() {
    let w = shop(1).await;
    w.auth.sign_up(signup(&w, OWNER, "starter")).await.unwrap();
    w.advance(Duration::minutes(5));
    let full = w.auth.sign_up(signup(&w, "late@example.com", "starter")).await;
    let Err(SignupError::NoCapacity {
        retry_after: Some(wait),
    }) = full
    else {
        panic!("expected no capacity, got {full:?}");
    };
    assert_eq!(
        wait.as_secs(),
        10 * 60,
        "the hold lasts as long as the code: 15 minutes"
    );
    assert_eq!(w.mails().await.len(), 1, "no mail without a slot");
    w.advance(Duration::minutes(10));
    w.auth.sign_up(signup(&w, "late@example.com", "starter")).await.unwrap();
    // The first signup's code died with its hold.
    let first = code_in(&w.last_mail_to(OWNER).await);
    let late = w.auth.verify_signup(&w.code(OWNER, &first), &World::from(HOME)).await;
    assert!(matches!(late, Err(OneTimeError::InvalidOrExpired)));
}

#[tokio::test]
async fn a_verified_address_gets_a_notice_and_a_random_id() {
    let w = shop(5).await;
    let (account, _) = w.signed_up(OWNER).await;
    let before = w.mails().await.len();
    let answer = w.auth.sign_up(signup(&w, OWNER, "starter")).await.unwrap();
    let mails = w.mails().await;
    assert_eq!(mails.len(), before + 1);
    assert_eq!(mails.last().unwrap().kind, MailKind::ExistingAccountNotice);
    assert!(w.store.customer_of(w.tenant.id, account.id).await.unwrap().is_none());
    assert!(answer.site_url.contains(&answer.customer_id.to_string()));
}

#[tokio::test]
async fn asking_again_replaces_the_customer_and_the_code() {
    let w = shop(1).await;
    w.auth.sign_up(signup(&w, OWNER, "starter")).await.unwrap();
    w.advance(Duration::minutes(1));
    // The only slot is this signup's own: capacity is counted before the address, so asking
    // again with every slot taken is refused like anyone else.
    let again = w.auth.sign_up(signup(&w, OWNER, "starter")).await;
    assert!(matches!(again, Err(SignupError::NoCapacity { .. })));
    let w = shop(2).await;
    let first_id = w.auth.sign_up(signup(&w, OWNER, "starter")).await.unwrap().customer_id;
    let old_code = code_in(&w.last_mail_to(OWNER).await);
    w.advance(Duration::minutes(1));
    let second = w.auth.sign_up(signup(&w, OWNER, "starter")).await.unwrap();
    assert_ne!(second.customer_id, first_id, "a new customer, so ids tell nothing");
    let fresh = code_in(&w.last_mail_to(OWNER).await);
    if fresh != old_code {
        let stale = w
            .auth
            .verify_signup(&w.code(OWNER, &old_code), &World::from(HOME))
            .await;
        assert!(matches!(stale, Err(OneTimeError::InvalidOrExpired)));
    }
    w.auth
        .verify_signup(&w.code(OWNER, &fresh), &World::from(HOME))
        .await
        .unwrap();
}

#[tokio::test]
async fn over_the_mail_limit_a_resubmission_writes_nothing_and_the_mailed_code_stays_live() {
    use portcullis_domain::{Limit, Quota};
    let w = World::with(Setup {
        quotas: vec![(Limit::MailPerMinute, Quota::new(1, std::time::Duration::from_secs(60)))],
        ..Setup::default()
    });
    let now = w.clock_now();
    w.store
        .put_plan(w.tenant.id, &plan("starter", true), now)
        .await
        .unwrap();
    let node = NewNode {
        id: uuid::Uuid::now_v7(),
        name: "eu1".to_owned(),
        domain: None,
        capacity: 5,
        enabled: true,
    };
    w.store.add_node(w.tenant.id, &node, now).await.unwrap();
    w.auth.sign_up(signup(&w, OWNER, "starter")).await.unwrap();
    let code = code_in(&w.last_mail_to(OWNER).await);
    // Someone submits the address again within the minute: same kind of answer, no mail,
    // nothing replaced.
    w.auth.sign_up(signup(&w, OWNER, "starter")).await.unwrap();
    assert_eq!(w.mails().await.iter().filter(|m| m.to == OWNER).count(), 1);
    w.auth
        .verify_signup(&w.code(OWNER, &code), &World::from(HOME))
        .await
        .unwrap();
}
