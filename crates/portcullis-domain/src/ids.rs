//! Typed identifiers. Every account and session is scoped by a [`TenantId`].

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps a UUID read from storage or a token.
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

id_type!(
    /// A tenant. The built-in tenant is [`TenantId::DEFAULT`].
    ///
    /// ```
    /// use portcullis_domain::TenantId;
    /// assert_eq!(TenantId::DEFAULT.to_string(), "00000000-0000-0000-0000-000000000000");
    /// ```
    TenantId
);
id_type!(
    /// A user account, unique across tenants.
    UserId
);
id_type!(
    /// A login session (one refresh-token chain).
    SessionId
);

impl TenantId {
    /// The built-in `default` tenant, created by the first migration.
    pub const DEFAULT: Self = Self(Uuid::nil());
    /// Slug of the built-in tenant.
    pub const DEFAULT_SLUG: &'static str = "default";
}
