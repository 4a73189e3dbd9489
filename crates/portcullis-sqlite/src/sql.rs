//! The SQL types PostgreSQL has and SQLite lacks, as this adapter stores them: a UUID as its 16
//! bytes (so byte order is the UUID's order, as in PostgreSQL), and a list of text as a JSON
//! array in TEXT.

use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{Binary, Text};
use diesel::sqlite::{Sqlite, SqliteValue};

/// A UUID, stored as a 16-byte BLOB.
#[derive(Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId)]
#[diesel(sqlite_type(name = "Binary"))]
pub struct Uuid;

/// A list of text, stored as a JSON array in TEXT.
#[derive(Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId)]
#[diesel(sqlite_type(name = "Text"))]
pub struct TextArray;

impl ToSql<Uuid, Sqlite> for uuid::Uuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        <[u8] as ToSql<Binary, Sqlite>>::to_sql(self.as_bytes().as_slice(), out)
    }
}

impl FromSql<Uuid, Sqlite> for uuid::Uuid {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let bytes = <Vec<u8> as FromSql<Binary, Sqlite>>::from_sql(value)?;
        Ok(uuid::Uuid::from_slice(&bytes)?)
    }
}

impl FromSql<TextArray, Sqlite> for Vec<String> {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, Sqlite>>::from_sql(value)?;
        Ok(serde_json::from_str(&text)?)
    }
}

/// A UUID to bind as [`Uuid`]: diesel's coherence rules let this crate read `uuid::Uuid` from
/// its SQL type but not bind it as one, so binds go through this (`Id(x)` or [`Db::db`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, diesel::expression::AsExpression)]
#[diesel(sql_type = Uuid)]
pub(crate) struct Id(pub uuid::Uuid);

impl From<uuid::Uuid> for Id {
    fn from(id: uuid::Uuid) -> Self {
        Self(id)
    }
}

impl ToSql<Uuid, Sqlite> for Id {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        <uuid::Uuid as ToSql<Uuid, Sqlite>>::to_sql(&self.0, out)
    }
}

/// An optional UUID to bind as `Nullable<Uuid>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OptId(pub Option<uuid::Uuid>);

impl From<Option<uuid::Uuid>> for OptId {
    fn from(id: Option<uuid::Uuid>) -> Self {
        Self(id)
    }
}

impl diesel::expression::AsExpression<diesel::sql_types::Nullable<Uuid>> for OptId {
    type Expression = diesel::internal::derives::as_expression::Bound<diesel::sql_types::Nullable<Uuid>, Self>;
    fn as_expression(self) -> Self::Expression {
        diesel::internal::derives::as_expression::Bound::new(self)
    }
}

impl ToSql<diesel::sql_types::Nullable<Uuid>, Sqlite> for OptId {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        match &self.0 {
            Some(id) => <uuid::Uuid as ToSql<Uuid, Sqlite>>::to_sql(id, out),
            None => Ok(IsNull::Yes),
        }
    }
}

/// The bindable form of an id.
pub(crate) trait Db {
    /// This id, to compare or store in a UUID column.
    fn db(&self) -> Id;
}

impl Db for uuid::Uuid {
    fn db(&self) -> Id {
        Id(*self)
    }
}

macro_rules! db_ids {
    ($($t:ty),*) => {$(
        impl Db for $t {
            fn db(&self) -> Id {
                Id(self.as_uuid())
            }
        }
    )*};
}

db_ids!(
    portcullis_domain::TenantId,
    portcullis_domain::UserId,
    portcullis_domain::SessionId
);

/// A list of text to bind as [`TextArray`].
#[derive(Debug, Clone, PartialEq, Eq, diesel::expression::AsExpression)]
#[diesel(sql_type = TextArray)]
pub(crate) struct Strings(pub Vec<String>);

impl From<Vec<String>> for Strings {
    fn from(list: Vec<String>) -> Self {
        Self(list)
    }
}

impl ToSql<TextArray, Sqlite> for Strings {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(serde_json::to_string(&self.0)?);
        Ok(IsNull::No)
    }
}
