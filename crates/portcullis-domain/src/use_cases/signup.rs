//! Customer signup (the hosting-company flow): a company name and an address make a customer
//! placed on one of the tenant's shared nodes, owned by a password-less account; a mailed code
//! verifies the address and opens the first session.
use std::time::Duration;

use crate::identity::Email;
use crate::ids::{SessionId, UserId};
use crate::model::{
    Account, Brand, ClientInfo, Customer, MailKind, Node, Plan, Redemption, SignupOutcome, SignupPlan, SignupTarget,
    SignupWrite, StoredSecret, Tenant, TokenPair, site_url,
};
use crate::one_time::Purpose;
use crate::refresh::RefreshToken;
use crate::service::base::{AuthService, InfraError};
use crate::service::mint::SecretMail;
use crate::service::redeem::{AMR_EMAIL, OneTimeError, Presented};
use crate::templates::MailVars;

/// The plan a signup gets when it names none.
pub const DEFAULT_PLAN: &str = "starter";

/// A signup that passed edge validation.
#[derive(Debug, Clone)]
pub struct Signup {
    /// The tenant, already resolved.
    pub tenant: Tenant,
    /// The owner's address.
    pub email: Email,
    /// Company name (1–200 characters, trimmed).
    pub company_name: String,
    /// Plan name.
    pub plan: String,
}

/// What a signup answers: the same shape whether or not the address has an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedUp {
    /// The customer's id (a random one, never stored, for an address with a verified account).
    pub customer_id: uuid::Uuid,
    /// Its site.
    pub site_url: String,
}

/// Failures of [`AuthService::sign_up`].
#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    /// 422 on `plan`: not one of the tenant's active plans.
    #[error("unknown plan")]
    UnknownPlan,
    /// 503 `no_capacity`: no enabled node has a free slot; `retry_after` is when the earliest
    /// unverified hold ends, if one does.
    #[error("no capacity")]
    NoCapacity {
        /// When to try again, if known.
        retry_after: Option<Duration>,
    },
    /// Infrastructure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// A verified signup: the account, its first session and its customer.
#[derive(Debug)]
pub struct CustomerSession {
    /// The owner account, now verified.
    pub account: Account,
    /// Its first token pair.
    pub pair: TokenPair,
    /// Its customer.
    pub customer: Customer,
}

impl AuthService {
    /// The tenant's active plans, as signup offers them.
    pub async fn signup_plans(&self, tenant: &Tenant) -> Result<Vec<Plan>, InfraError> {
        let mut plans = self.deps.store.plans(tenant.id).await?;
        plans.retain(|p| p.active);
        Ok(plans)
    }

    /// Signs a customer up: places it on the tenant's node with the most free slots and mails
    /// its owner a code (see [`SignupStore::sign_up`](crate::ports::SignupStore::sign_up)).
    /// Capacity is checked before the address is looked at, so the answer never tells whether
    /// it is known: an address with a verified account gets the same answer (with a random
    /// customer id, nothing kept) and a notice instead of a code. An unverified signup asking
    /// again gets a new customer (replacing its earlier one) and a fresh code. Over the
    /// address's mail limit nothing is written (the answer is the same).
    pub async fn sign_up(&self, signup: Signup) -> Result<SignedUp, SignupError> {
        let tenant = &signup.tenant;
        let plans = self.deps.store.plans(tenant.id).await.map_err(InfraError::from)?;
        if !plans.iter().any(|p| p.active && p.name == signup.plan) {
            return Err(SignupError::UnknownPlan);
        }
        let brand = self.brand(tenant.id).await?;
        // A code and a notice both go to the address given: one check covers either, and counts
        // at once (checking and counting in one step, so parallel signups cannot all pass). A
        // signup then refused for capacity has used the address's minute all the same.
        let mail_allowed = self.may_mail(tenant.id, &signup.email).await;
        let now = self.deps.clock.now();
        let decide =
            |target: Option<&SignupTarget>, node: &Node| self.signup_plan(&signup, &brand, mail_allowed, target, node);
        let outcome = self
            .deps
            .store
            .sign_up(tenant.id, &signup.email, now, &decide)
            .await
            .map_err(InfraError::from)?;
        match outcome {
            SignupOutcome::NoCapacity { next_free } => {
                let retry_after = next_free.and_then(|at| (at - now).to_std().ok());
                tracing::info!(tenant_id = %tenant.id, "signup refused: no node has a free slot");
                Err(SignupError::NoCapacity { retry_after })
            }
            SignupOutcome::Written(plan) => {
                tracing::info!(tenant_id = %tenant.id, customer_id = %plan.customer.id, node_id = %plan.customer.node_id, mailed = mail_allowed, "signup answered");
                Ok(SignedUp {
                    customer_id: plan.customer.id,
                    site_url: plan.customer.site_url,
                })
            }
        }
    }

    fn signup_plan(
        &self,
        signup: &Signup,
        brand: &Brand,
        mail_allowed: bool,
        target: Option<&SignupTarget>,
        node: &Node,
    ) -> SignupPlan {
        let now = self.deps.clock.now();
        let tenant = &signup.tenant;
        // Every answer names a new customer, placed anew (an unverified one asking again
        // replaces its earlier one): were a held customer kept, two answers with one id would
        // tell an unverified address from a verified one, whose answers are random each time.
        let id = self.new_id();
        let url = site_url(
            &brand.site_url_template,
            &id.to_string(),
            node.domain_or_name(),
            &node.name,
            &tenant.slug,
        );
        let mut customer = Customer {
            id,
            tenant_id: tenant.id,
            owner: target.map_or_else(|| UserId::from_uuid(self.new_id()), |t| t.account.id),
            node_id: node.id,
            company_name: signup.company_name.clone(),
            plan: signup.plan.clone(),
            site_url: url,
            created_at: now,
            held_until: now,
            verified_at: None,
        };
        if !mail_allowed || target.is_some_and(|t| t.account.disabled) {
            // Over the address's mail limit: write nothing, so a code mailed before stays the
            // live one (a resubmission by anyone must not replace it with one nobody gets). A
            // disabled account's address gets nothing either (the answer is the same).
            return SignupPlan {
                customer,
                write: SignupWrite::Notice(None),
            };
        }
        if let Some(owner) = target.map(|t| &t.account).filter(|a| a.email_verified) {
            let notice = self.outgoing(
                brand,
                &owner.email,
                MailKind::ExistingAccountNotice,
                &MailVars::default(),
            );
            return SignupPlan {
                customer,
                write: SignupWrite::Notice(Some(notice)),
            };
        }
        let to = target.map_or(&signup.email, |t| &t.account.email);
        let (secret, mail) = self.secret_mail(SecretMail {
            brand,
            user: customer.owner,
            purpose: Purpose::Signup,
            to,
            kind: MailKind::SignupCode,
            scope: String::new(),
            new_email: None,
            ip: None,
        });
        // The slot is held exactly as long as the code lives.
        customer.held_until = secret.code_expires_at;
        SignupPlan {
            write: SignupWrite::Hold {
                new_account: customer.owner,
                secret,
                mail: Some(mail),
            },
            customer,
        }
    }

    /// `signup/verify`: the mailed code proves the address; the account is verified, its
    /// customer confirmed and its first session opened (`amr` `["email"]`).
    pub async fn verify_signup(
        &self,
        presented: &Presented,
        client: &ClientInfo,
    ) -> Result<CustomerSession, OneTimeError> {
        let refresh = RefreshToken::generate(&*self.deps.rng);
        let session_id = SessionId::from_uuid(self.new_id());
        let redeem = |stored: &StoredSecret| {
            let a = &stored.account;
            // Verified meanwhile (a reset, a link): the code proves nothing new.
            (!a.email_verified).then(|| Redemption::VerifyEmail {
                session: self.session_for(session_id, a.tenant.id, a.id, vec![AMR_EMAIL.into()], client, &refresh),
            })
        };
        let (_, account, redemption) = self.redeem(presented, &[Purpose::Signup], client, &redeem).await?;
        let Redemption::VerifyEmail { session } = redemption else {
            return Err(InfraError::Internal("a signup code redeemed as something else".into()).into());
        };
        let customer = self
            .deps
            .store
            .customer_of(account.tenant.id, account.id)
            .await
            .map_err(InfraError::from)?
            .filter(|c| c.verified_at.is_some())
            .ok_or_else(|| InfraError::Internal("a verified signup without its customer".into()))?;
        tracing::info!(user_id = %account.id, customer_id = %customer.id, "signup verified");
        let pair = self.pair(session.session, refresh)?;
        Ok(CustomerSession {
            account,
            pair,
            customer,
        })
    }
}
