//! Operators' admin keys: `pca_` + 256 random bits (base64url), shown once and stored only as
//! their SHA-256 (256 random bits cannot be searched for, so an unkeyed hash is enough).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::ids::TenantId;
use crate::model::Tenant;
use crate::random::{SecureRandom, random_array};
use crate::refresh::TokenHash;

/// Prefix of admin keys, so leaked ones are recognisable (and never taken for a user token).
pub const ADMIN_KEY_PREFIX: &str = "pca_";

/// A new key: the plaintext for the operator, once, and the hash for storage.
// No Debug: it carries the key.
#[allow(missing_debug_implementations)]
pub struct MintedAdminKey {
    /// `pca_…`.
    pub key: Zeroizing<String>,
    /// What storage keeps.
    pub hash: TokenHash,
}

/// Mints a key.
///
/// ```
/// use portcullis_domain::admin_key::{admin_key_hash, mint_admin_key};
/// let minted = mint_admin_key(&portcullis_domain::OsRandom);
/// assert!(minted.key.starts_with("pca_"));
/// assert_eq!(admin_key_hash(&minted.key), Some(minted.hash));
/// assert_eq!(admin_key_hash("pca_short"), None);
/// ```
pub fn mint_admin_key(rng: &dyn SecureRandom) -> MintedAdminKey {
    let raw = Zeroizing::new(random_array::<32>(rng));
    let key = Zeroizing::new(format!("{ADMIN_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(&raw[..])));
    let hash = TokenHash(Sha256::digest(key.as_bytes()).into());
    MintedAdminKey { key, hash }
}

/// The hash of a presented key; `None` when it cannot be one of ours.
pub fn admin_key_hash(presented: &str) -> Option<TokenHash> {
    let body = presented.strip_prefix(ADMIN_KEY_PREFIX)?;
    let decoded = URL_SAFE_NO_PAD.decode(body).ok()?;
    (decoded.len() == 32).then(|| TokenHash(Sha256::digest(presented.as_bytes()).into()))
}

/// An admin key as storage holds it (never its plaintext).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminKey {
    /// Its id.
    pub id: uuid::Uuid,
    /// What the operator called it.
    pub name: String,
    /// The one tenant it may act on; `None` for every tenant.
    pub tenant: Option<Tenant>,
    /// Whether it may only introspect tokens.
    pub introspect_only: bool,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl AdminKey {
    /// Whether it may act on `tenant`.
    pub fn reaches(&self, tenant: TenantId) -> bool {
        self.tenant.as_ref().is_none_or(|t| t.id == tenant)
    }
}

/// A key to store.
#[derive(Debug, Clone)]
pub struct NewAdminKey {
    /// Its id.
    pub id: uuid::Uuid,
    /// Its name.
    pub name: String,
    /// Its tenant, if bound to one.
    pub tenant: Option<TenantId>,
    /// Whether it may only introspect.
    pub introspect_only: bool,
    /// SHA-256 of the key.
    pub hash: TokenHash,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// What introspection says about a token (RFC 7662's shape): `active` and, when it is, whose
/// and until when.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Introspection {
    /// Whether the token is live: signed by us and unexpired (access) or the head of its chain
    /// (refresh), of a live session, in a tenant the key reaches.
    pub active: bool,
    /// The rest, only when active.
    pub details: Option<IntrospectedToken>,
}

/// The facts about an active token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntrospectedToken {
    /// The user.
    pub sub: crate::ids::UserId,
    /// The session.
    pub sid: crate::ids::SessionId,
    /// The tenant.
    pub tid: TenantId,
    /// When it expires (Unix seconds): the access token's `exp`, or the session's end for a
    /// refresh token.
    pub exp: i64,
    /// How the session was authenticated.
    pub amr: Vec<String>,
}
