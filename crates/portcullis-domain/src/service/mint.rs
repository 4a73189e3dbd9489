//! What the use cases make for the caller: sessions with their first refresh token, token pairs,
//! and mails (with a one-time secret, for the mail flows).
use crate::identity::Email;
use crate::ids::{SessionId, TenantId, UserId};
use crate::model::{
    Brand, ClientInfo, EventType, MailKind, NewOneTimeSecret, NewSession, OutgoingMail, Session, Subject, TokenPair,
};
use crate::one_time::Purpose;
use crate::refresh::RefreshToken;
use crate::service::base::{AuthService, InfraError};
use crate::templates::{MailVars, render};
use crate::token::TokenSubject;

/// Longest user agent kept with a session; the rest is cut.
pub const MAX_USER_AGENT_CHARS: usize = 512;

/// A one-time secret to mint, and the mail that carries it.
pub(crate) struct SecretMail<'a> {
    /// The tenant's brand: the secret's tenant, and how its mail looks.
    pub(crate) brand: &'a Brand,
    pub(crate) user: UserId,
    pub(crate) purpose: Purpose,
    /// Where the mail goes, and what it is.
    pub(crate) to: &'a Email,
    pub(crate) kind: MailKind,
    /// What the secret is bound to: a registration's id (signup), a network (IP
    /// authorization), or nothing.
    pub(crate) scope: String,
    /// The new address of an email change.
    pub(crate) new_email: Option<Email>,
    /// The client's IP, named in the mail (IP authorization).
    pub(crate) ip: Option<&'a str>,
}

impl AuthService {
    pub(crate) fn new_session(
        &self,
        tenant_id: TenantId,
        user_id: UserId,
        amr: Vec<String>,
        client: &ClientInfo,
    ) -> (NewSession, RefreshToken) {
        let refresh = RefreshToken::generate(&*self.deps.rng);
        let id = SessionId::from_uuid(self.new_id());
        (self.session_for(id, tenant_id, user_id, amr, client, &refresh), refresh)
    }

    /// A session with a given id and first refresh token (for sessions opened inside a storage
    /// transaction, whose account is only known there).
    pub(crate) fn session_for(
        &self,
        id: SessionId,
        tenant_id: TenantId,
        user_id: UserId,
        amr: Vec<String>,
        client: &ClientInfo,
        refresh: &RefreshToken,
    ) -> NewSession {
        let now = self.deps.clock.now();
        let session = Session {
            id,
            tenant_id,
            user_id,
            amr,
            ip: client.ip,
            user_agent: client
                .user_agent
                .as_ref()
                .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect()),
            created_at: now,
            last_used_at: now,
            expires_at: now + self.deps.policy.session_ttl,
            revoked_at: None,
        };
        let subject = Subject {
            tenant: tenant_id,
            user: Some(user_id),
            session: Some(id),
        };
        let opened = self.audit_event(
            EventType::LoginSucceeded,
            subject,
            client,
            serde_json::json!({ "amr": session.amr }),
        );
        NewSession {
            session,
            refresh_hash: refresh.hash(),
            events: vec![opened],
        }
    }

    pub(crate) fn pair(&self, session: Session, refresh_token: RefreshToken) -> Result<TokenPair, InfraError> {
        let subject = TokenSubject {
            user_id: session.user_id,
            session_id: session.id,
            tenant_id: session.tenant_id,
            amr: &session.amr,
        };
        let issued_at = self.deps.clock.now();
        let (access_token, access_expires_at) =
            self.deps
                .keys
                .issue(&self.deps.policy, &subject, issued_at, &*self.deps.rng)?;
        Ok(TokenPair {
            access_token,
            access_expires_at,
            expires_in: (access_expires_at - issued_at).num_seconds(),
            refresh_token,
            session,
        })
    }

    /// Renders a mail of `kind` to `to` in the tenant's `brand`.
    pub(crate) fn outgoing(&self, brand: &Brand, to: &Email, kind: MailKind, vars: &MailVars<'_>) -> OutgoingMail {
        let rendered = render(kind, &brand.mail, vars);
        OutgoingMail {
            id: self.new_id(),
            tenant_id: brand.tenant,
            to: to.as_str().to_owned(),
            from: brand.mail_from.clone(),
            kind,
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
        }
    }

    /// Mints a secret as `spec` says and renders the mail that carries it.
    pub(crate) fn secret_mail(&self, spec: SecretMail<'_>) -> (NewOneTimeSecret, OutgoingMail) {
        let now = self.deps.clock.now();
        let minted = self.deps.one_time.mint(spec.user, spec.purpose, now, &*self.deps.rng);
        let vars = MailVars {
            token: Some(&minted.token),
            code: Some(&minted.code),
            ip: spec.ip,
            ..MailVars::default()
        };
        let mail = self.outgoing(spec.brand, spec.to, spec.kind, &vars);
        let secret = NewOneTimeSecret {
            id: self.new_id(),
            tenant_id: spec.brand.tenant,
            user_id: spec.user,
            purpose: spec.purpose,
            scope: spec.scope,
            token_hash: minted.token_hash,
            code_hash: minted.code_hash,
            token_expires_at: minted.token_expires_at,
            code_expires_at: minted.code_expires_at,
            new_email: spec.new_email,
            created_at: now,
        };
        (secret, mail)
    }
}
