//! Tenants, plans, nodes, and customer signup's placement.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use portcullis_domain::model::{
    Customer, NewNode, Node, Plan, Redemption, SignupOutcome, SignupPlan, SignupTarget, SignupWrite, TenantRecord,
    TenantSettings, Verdict,
};
use portcullis_domain::{Email, Purpose, SecretLookup, Storage, Tenant, TenantId, TenantWriteError, UserId};
use uuid::Uuid;

use super::fixtures::{email, mail, new_account, new_session, secret, secs, t0};

/// A tenant `slug` stored with its record.
async fn tenant<S: Storage>(store: &S, slug: &str) -> TenantId {
    let id = TenantId::from_uuid(Uuid::now_v7());
    let record = TenantRecord {
        tenant: Tenant {
            id,
            slug: slug.to_owned(),
        },
        name: format!("{slug} hosting"),
        settings: TenantSettings {
            site_url_template: Some("https://{customer_id}.{domain}".to_owned()),
            product_name: Some(format!("{slug} hosting")),
            mail_from: Some(format!("{slug} <no-reply@{slug}.example>")),
            require_email_verification: Some(false),
            new_ip_policy: Some(portcullis_domain::network::NewIpPolicy::Require),
            ..TenantSettings::default()
        },
        created_at: t0(),
    };
    store.create_tenant(&record).await.expect("create tenant");
    id
}

async fn node<S: Storage>(store: &S, tenant: TenantId, name: &str, capacity: u32) -> Node {
    let new = NewNode {
        id: Uuid::now_v7(),
        name: name.to_owned(),
        domain: Some(format!("{name}.example.net")),
        capacity,
        enabled: true,
    };
    store.add_node(tenant, &new, t0()).await.expect("add node")
}

/// What the domain decides for a signup: a hold for an unverified or new address (its code
/// dies, and its hold ends, 15 minutes after `now`), a notice for a verified one.
fn decide(tenant: TenantId, now: DateTime<Utc>) -> impl Fn(Option<&SignupTarget>, &Node) -> SignupPlan + Send + Sync {
    move |target, node| {
        let owner = target.map_or_else(|| UserId::from_uuid(Uuid::now_v7()), |t| t.account.id);
        let mut code = secret(owner, Purpose::Signup, "", now);
        code.tenant_id = tenant;
        let customer = Customer {
            id: Uuid::now_v7(),
            tenant_id: tenant,
            owner,
            node_id: node.id,
            company_name: "Acme".to_owned(),
            plan: "starter".to_owned(),
            site_url: format!("https://x.{}", node.domain_or_name()),
            created_at: now,
            held_until: code.code_expires_at,
            verified_at: None,
        };
        let write = match target {
            Some(t) if t.account.email_verified => SignupWrite::Notice(Some(mail(t.account.email.as_str()))),
            _ => SignupWrite::Hold {
                new_account: owner,
                secret: code,
                mail: Some(mail("signup@example.com")),
            },
        };
        SignupPlan { customer, write }
    }
}

async fn sign_up<S: Storage>(store: &S, tenant: TenantId, address: &str, now: DateTime<Utc>) -> SignupOutcome {
    store
        .sign_up(tenant, &email(address), now, &decide(tenant, now))
        .await
        .expect("sign up")
}

fn written(outcome: SignupOutcome) -> SignupPlan {
    match outcome {
        SignupOutcome::Written(plan) => plan,
        SignupOutcome::NoCapacity { .. } => panic!("expected a placement, got no capacity"),
    }
}

async fn queued_mails<S: Storage>(store: &S) -> usize {
    store
        .claim_due(t0() + chrono::Duration::days(365), secs(60), 1000)
        .await
        .expect("claim")
        .len()
}

/// Tenants, plans and nodes are stored as given and scoped to their tenant; slugs and node
/// names are unique.
pub async fn tenants_plans_and_nodes_are_kept_per_tenant<S: Storage + Clone + 'static>(store: &S) {
    let acme = tenant(store, "acme").await;
    let again = TenantRecord {
        tenant: Tenant {
            id: TenantId::from_uuid(Uuid::now_v7()),
            slug: "acme".to_owned(),
        },
        name: "Other".to_owned(),
        settings: TenantSettings::default(),
        created_at: t0(),
    };
    assert!(matches!(
        store.create_tenant(&again).await,
        Err(TenantWriteError::Taken)
    ));
    let record = store.tenant_record("acme").await.expect("read").expect("acme exists");
    assert_eq!(record.name, "acme hosting");
    assert_eq!(
        record.settings.site_url_template.as_deref(),
        Some("https://{customer_id}.{domain}")
    );
    // Every setting survives storage, and reads back by id as by slug.
    let by_id = store.tenant_settings(acme).await.expect("read").expect("acme exists");
    assert_eq!(by_id, record.settings);
    assert_eq!(by_id.mail_from.as_deref(), Some("acme <no-reply@acme.example>"));
    assert_eq!(by_id.require_email_verification, Some(false));
    assert_eq!(
        by_id.new_ip_policy,
        Some(portcullis_domain::network::NewIpPolicy::Require)
    );
    let unknown = TenantId::from_uuid(Uuid::now_v7());
    assert_eq!(store.tenant_settings(unknown).await.expect("read"), None);
    assert_eq!(
        store.tenant_settings(TenantId::DEFAULT).await.expect("read"),
        Some(TenantSettings::default()),
        "the built-in tenant sets nothing"
    );
    let slugs: Vec<String> = store
        .tenants()
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.tenant.slug)
        .collect();
    assert_eq!(slugs, ["acme", "default"]);

    let mut plan = Plan {
        name: "starter".to_owned(),
        description: "One site".to_owned(),
        price: "€5/mo".to_owned(),
        features: vec!["1 site".to_owned(), "SSL".to_owned()],
        active: true,
    };
    store.put_plan(acme, &plan, t0()).await.expect("plan");
    plan.active = false;
    plan.price = "€6/mo".to_owned();
    store.put_plan(acme, &plan, t0()).await.expect("replace plan");
    assert_eq!(store.plans(acme).await.expect("plans"), vec![plan.clone()]);
    assert!(store.plans(TenantId::DEFAULT).await.expect("plans").is_empty());
    let nowhere = TenantId::from_uuid(Uuid::now_v7());
    assert!(matches!(
        store.put_plan(nowhere, &plan, t0()).await,
        Err(TenantWriteError::UnknownTenant)
    ));

    let eu = node(store, acme, "eu1", 3).await;
    assert_eq!((eu.capacity, eu.used, eu.enabled), (3, 0, true));
    let twin = NewNode {
        id: Uuid::now_v7(),
        name: "eu1".to_owned(),
        domain: None,
        capacity: 1,
        enabled: true,
    };
    assert!(matches!(
        store.add_node(acme, &twin, t0()).await,
        Err(TenantWriteError::Taken)
    ));
    // Another tenant may use the name.
    store
        .add_node(TenantId::DEFAULT, &twin, t0())
        .await
        .expect("same name elsewhere");
    assert_eq!(store.nodes(acme, t0()).await.expect("nodes"), vec![eu.clone()]);

    // Changes: a tenant's name and settings, a node, a plan's removal.
    let mut renamed = record.clone();
    renamed.name = "Acme Ltd".to_owned();
    renamed.settings = TenantSettings::default();
    assert!(store.replace_tenant(&renamed).await.expect("replace"));
    assert_eq!(store.tenant_record("acme").await.expect("read"), Some(renamed));
    let changed = NewNode {
        id: eu.id,
        name: "eu-west".to_owned(),
        domain: None,
        capacity: 7,
        enabled: false,
    };
    let node = store
        .replace_node(acme, &changed, t0())
        .await
        .expect("node")
        .expect("exists");
    assert_eq!(
        (node.name.as_str(), node.capacity, node.enabled, node.domain),
        ("eu-west", 7, false, None)
    );
    let elsewhere = store
        .replace_node(TenantId::DEFAULT, &changed, t0())
        .await
        .expect("node");
    assert!(elsewhere.is_none(), "another tenant's node is not found");
    let other = NewNode {
        id: Uuid::now_v7(),
        name: "eu2".to_owned(),
        ..changed.clone()
    };
    store.add_node(acme, &other, t0()).await.expect("eu2");
    assert!(matches!(
        store
            .replace_node(
                acme,
                &NewNode {
                    name: "eu2".to_owned(),
                    ..changed
                },
                t0()
            )
            .await,
        Err(TenantWriteError::Taken)
    ));
    assert!(store.delete_plan(acme, "starter").await.expect("delete"));
    assert!(!store.delete_plan(acme, "starter").await.expect("again"));
    assert!(store.plans(acme).await.expect("plans").is_empty());
}

/// Signup places on the node with the most free slots, holds the slot until the code dies,
/// answers "no capacity" (with when the first hold ends) and writes nothing when none is
/// free, and frees an expired hold's slot.
pub async fn signup_places_on_the_freest_node_and_holds_the_slot<S: Storage + Clone + 'static>(store: &S) {
    let acme = tenant(store, "acme").await;
    let small = node(store, acme, "a-small", 1).await;
    let big = node(store, acme, "b-big", 2).await;
    let first = written(sign_up(store, acme, "one@example.com", t0()).await);
    assert_eq!(first.customer.node_id, big.id, "the node with the most free slots");
    let owner = first.customer.owner;
    let account = store.account(acme, owner).await.expect("read").expect("owner made");
    assert!(!account.email_verified);
    let creds = store.credentials(acme, owner).await.expect("read").expect("creds");
    assert!(creds.password.is_none(), "a signup's account has no password");
    let stored = store
        .customer_of(acme, owner)
        .await
        .expect("read")
        .expect("customer kept");
    assert_eq!(stored.id, first.customer.id);
    assert_eq!(stored.verified_at, None);

    // One free slot on each: ties go by name.
    let second = written(sign_up(store, acme, "two@example.com", t0() + secs(1)).await);
    assert_eq!(second.customer.node_id, small.id);
    written(sign_up(store, acme, "three@example.com", t0() + secs(2)).await);
    let mails = queued_mails(store).await;
    assert_eq!(mails, 3);

    let full = sign_up(store, acme, "four@example.com", t0() + secs(3)).await;
    let SignupOutcome::NoCapacity { next_free } = full else {
        panic!("expected no capacity");
    };
    assert_eq!(next_free, Some(first.customer.held_until), "the first hold ends first");
    assert!(
        store
            .credentials_by_email(acme, &email("four@example.com"))
            .await
            .expect("read")
            .is_none(),
        "nothing is kept without capacity"
    );
    assert_eq!(queued_mails(store).await, 0, "and nothing is mailed");
    let used: Vec<u32> = store
        .nodes(acme, t0() + secs(3))
        .await
        .expect("nodes")
        .iter()
        .map(|n| n.used)
        .collect();
    assert_eq!(used, [1, 2]);

    // The first hold ends: its slot is free again.
    let later = first.customer.held_until;
    let used: Vec<u32> = store
        .nodes(acme, later)
        .await
        .expect("nodes")
        .iter()
        .map(|n| n.used)
        .collect();
    assert_eq!(used, [1, 1]);
    let fourth = written(sign_up(store, acme, "four@example.com", later).await);
    assert_eq!(fourth.customer.node_id, big.id);

    // Paged by id, after a cursor, within the tenant.
    let all = store.customers(acme, None, 100).await.expect("customers");
    assert_eq!(all.len(), 4, "held and expired ones alike, until the purge");
    let mut ids: Vec<Uuid> = all.iter().map(|c| c.id).collect();
    ids.sort();
    assert_eq!(all.iter().map(|c| c.id).collect::<Vec<_>>(), ids);
    let first_two = store.customers(acme, None, 2).await.expect("page");
    let rest = store.customers(acme, Some(first_two[1].id), 10).await.expect("page");
    assert_eq!(first_two.len() + rest.len(), 4);
    assert_eq!(rest[0].id, ids[2]);
    assert!(
        store
            .customers(TenantId::DEFAULT, None, 10)
            .await
            .expect("page")
            .is_empty()
    );
}

/// Ten signups racing for one last slot: exactly one gets it.
pub async fn concurrent_signups_take_the_last_slot_once<S: Storage + Clone + 'static>(store: &S) {
    let acme = tenant(store, "acme").await;
    node(store, acme, "eu1", 1).await;
    let store = Arc::new(store.clone());
    let racers: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let address = format!("racer{i}@example.com");
                sign_up(&*store, acme, &address, t0()).await
            })
        })
        .collect();
    let mut placed = 0;
    for racer in racers {
        if let SignupOutcome::Written(_) = racer.await.expect("join") {
            placed += 1;
        }
    }
    assert_eq!(placed, 1);
    assert_eq!(store.nodes(acme, t0()).await.expect("nodes")[0].used, 1);
}

/// An address with a verified account gets its notice and nothing else is kept; an unverified
/// signup asking again keeps one customer; verifying confirms it for good; a purge removes an
/// unverified signup's account once it is stale, and keeps a verified customer.
pub async fn signup_of_a_known_address_keeps_nothing_and_verification_confirms<S: Storage + Clone + 'static>(
    store: &S,
) {
    let acme = tenant(store, "acme").await;
    node(store, acme, "eu1", 5).await;
    let mut known = new_account("known@example.com");
    known.tenant_id = acme;
    let known = store.insert_account(known, None).await.expect("known");
    let notice = written(sign_up(store, acme, "known@example.com", t0()).await);
    assert!(matches!(notice.write, SignupWrite::Notice(Some(_))));
    assert!(store.customer_of(acme, known.id).await.expect("read").is_none());
    assert_eq!(store.nodes(acme, t0()).await.expect("nodes")[0].used, 0);
    assert_eq!(queued_mails(store).await, 1, "the notice");

    let first = written(sign_up(store, acme, "new@example.com", t0()).await);
    let again = written(sign_up(store, acme, "new@example.com", t0() + secs(60)).await);
    let owner = first.customer.owner;
    assert_eq!(again.customer.owner, owner, "the same account");
    let kept = store.customer_of(acme, owner).await.expect("read").expect("customer");
    assert_eq!(kept.id, again.customer.id, "one customer per owner, the newest");
    assert_eq!(store.nodes(acme, t0() + secs(60)).await.expect("nodes")[0].used, 1);

    // The code is presented: the account is verified and the customer confirmed.
    let now = t0() + secs(120);
    let session = new_session(owner, now);
    let session = portcullis_domain::NewSession {
        session: portcullis_domain::Session {
            tenant_id: acme,
            ip: Some("198.51.100.7".parse().expect("ip")),
            ..session.session
        },
        events: Vec::new(),
        ..session
    };
    let judge = move |candidates: &[portcullis_domain::StoredSecret]| match candidates
        .iter()
        .position(|c| c.purpose == Purpose::Signup)
    {
        Some(index) => Verdict::Accept {
            index,
            events: Vec::new(),
            redemption: Redemption::VerifyEmail {
                session: session.clone(),
            },
        },
        None => Verdict::Refuse { wrong: Vec::new() },
    };
    let lookup = SecretLookup::Email(acme, Email::parse("new@example.com").expect("email"));
    let outcome = store
        .redeem_secret(&lookup, &[Purpose::Signup], now, &judge)
        .await
        .expect("redeem");
    assert!(matches!(outcome, portcullis_domain::RedeemOutcome::Redeemed { .. }));
    let confirmed = store.customer_of(acme, owner).await.expect("read").expect("customer");
    assert_eq!(confirmed.verified_at, Some(now));
    assert!(
        store
            .account(acme, owner)
            .await
            .expect("read")
            .expect("a")
            .email_verified
    );
    assert!(
        store.is_known_network(acme, owner, "198.51.100.7").await.expect("read"),
        "the network the address was proved from is known"
    );
    // Confirmed customers keep their slot after the hold's time.
    assert_eq!(
        store.nodes(acme, now + chrono::Duration::days(1)).await.expect("n")[0].used,
        1
    );

    // An unverified signup goes with the purge once stale; the verified one stays.
    let stale = written(sign_up(store, acme, "stale@example.com", t0()).await);
    let much_later = t0() + chrono::Duration::days(8);
    store
        .purge(much_later, much_later - chrono::Duration::days(7))
        .await
        .expect("purge");
    assert!(store.account(acme, stale.customer.owner).await.expect("read").is_none());
    assert!(
        store
            .customer_of(acme, stale.customer.owner)
            .await
            .expect("read")
            .is_none()
    );
    assert!(store.customer_of(acme, owner).await.expect("read").is_some());
}
