//! Avatars: a signed-in user sets or removes their picture; anyone reads a user's current one.

use crate::avatars::{new_version, tag_of};
use crate::ids::UserId;
use crate::limits::Limit;
use crate::model::Principal;
use crate::ports::{AvatarWrite, Blob, ImageRejection, NewAvatar};
use crate::random::random_array;
use crate::service::base::{AuthService, InfraError};
use crate::service::budgets::OverBudget;

/// Failures of [`AuthService::set_avatar`].
#[derive(Debug, thiserror::Error)]
pub enum AvatarError {
    /// 422 `invalid_image` (or 503 when the image workers are saturated).
    #[error(transparent)]
    Image(#[from] ImageRejection),
    /// 401: the account behind the token is gone.
    #[error("no such account")]
    NoAccount,
    /// 429 `rate_limited`: too many uploads for this account lately.
    #[error(transparent)]
    OverBudget(#[from] OverBudget),
    /// Infrastructure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// One upload let through the account's limit ([`AuthService::begin_avatar_upload`]); spent by
/// [`AuthService::finish_avatar_upload`].
#[derive(Debug)]
pub struct AvatarUpload {
    _counted: (),
}

/// What [`AuthService::avatar`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AvatarRead {
    /// No such account, a disabled one, or one without an avatar.
    Missing,
    /// The caller already has the current version.
    Unchanged {
        /// The current version.
        version: String,
    },
    /// The current avatar.
    Image {
        /// Its version.
        version: String,
        /// Its bytes and media type.
        blob: Blob,
    },
}

impl AuthService {
    /// Makes `upload` the caller's avatar: [`Self::begin_avatar_upload`], then
    /// [`Self::finish_avatar_upload`].
    pub async fn set_avatar(&self, principal: &Principal, upload: Vec<u8>) -> Result<String, AvatarError> {
        let admitted = self.begin_avatar_upload(principal).await?;
        self.finish_avatar_upload(principal, admitted, upload).await
    }

    /// Counts an upload against the account's limit, before its body is read.
    pub async fn begin_avatar_upload(&self, principal: &Principal) -> Result<AvatarUpload, AvatarError> {
        self.account_request(Limit::AvatarUpload, principal).await?;
        Ok(AvatarUpload { _counted: () })
    }

    /// Makes `upload` the caller's avatar (decoded and re-encoded by the image port, within its
    /// limits) and returns its version.
    pub async fn finish_avatar_upload(
        &self,
        principal: &Principal,
        _admitted: AvatarUpload,
        upload: Vec<u8>,
    ) -> Result<String, AvatarError> {
        let image = self.deps.images.avatar(upload).await?;
        let avatar = NewAvatar {
            version: new_version(&image.bytes, random_array::<8>(&*self.deps.rng)),
            content_type: image.format.content_type().to_owned(),
            bytes: image.bytes,
        };
        let (tenant, user) = (principal.claims.tid, principal.claims.sub);
        let written = self.deps.avatars.set_avatar(tenant, user, &avatar).await;
        self.account_changed(tenant, user);
        match written.map_err(InfraError::from)? {
            AvatarWrite::NoAccount => Err(AvatarError::NoAccount),
            AvatarWrite::Stored { .. } => {
                tracing::info!(user_id = %user, version = %avatar.version, source = ?image.source, "avatar set");
                Ok(avatar.version)
            }
        }
    }

    /// Removes the caller's avatar, if they have one.
    pub async fn remove_avatar(&self, principal: &Principal) -> Result<(), InfraError> {
        let (tenant, user) = (principal.claims.tid, principal.claims.sub);
        let removed = self.deps.avatars.remove_avatar(tenant, user).await;
        self.account_changed(tenant, user);
        if removed?.is_some() {
            tracing::info!(user_id = %user, "avatar removed");
        }
        Ok(())
    }

    /// `user`'s current avatar, for anyone: [`AvatarRead::Unchanged`] when `known` (the
    /// content tags the caller holds: its `If-None-Match`) has the current one's or `*`,
    /// without reading the bytes. One read of storage either way, unless the caller's tags are
    /// stale.
    pub async fn avatar(&self, user: UserId, known: &[&str]) -> Result<AvatarRead, InfraError> {
        let avatars = &self.deps.avatars;
        if !known.is_empty() {
            let Some(version) = avatars.current_avatar(user).await? else {
                return Ok(AvatarRead::Missing);
            };
            if known.iter().any(|k| *k == "*" || *k == tag_of(&version)) {
                return Ok(AvatarRead::Unchanged { version });
            }
        }
        Ok(match avatars.avatar(user).await? {
            Some((version, blob)) => AvatarRead::Image { version, blob },
            None => AvatarRead::Missing,
        })
    }
}
