//! How the typed states cross the database boundary: each is a `text` column
//! with a CHECK constraint listing its values, and reads and writes as its
//! enum. A value the enum does not know fails the query instead of falling
//! into a default. The impls live here, so the domain and protocol types
//! stay free of diesel.

use std::io::Write as _;

use diesel::deserialize::{self, FromSql, Queryable};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{Nullable, Text};

use crate::domain::notification::{AttemptOutcome, NotificationState, Target};
use crate::domain::review::RejectCode;
use crate::domain::status::RegistrationStatus;
use crate::domain::user::Role;
use crate::protocol::result::ResultCode;

/// `ToSql`/`FromSql` through the type's own `as_str` and `parse`, so the
/// stored spelling is written in one place; as an expression (in a filter or
/// an insert) the value is bound as that spelling.
macro_rules! stored_as_text {
    ($($ty:ident),* $(,)?) => {$(
        impl AsExpression<Text> for $ty {
            type Expression = <&'static str as AsExpression<Text>>::Expression;
            fn as_expression(self) -> Self::Expression {
                AsExpression::<Text>::as_expression(self.as_str())
            }
        }

        impl<'a> AsExpression<Text> for &'a $ty {
            type Expression = <&'a str as AsExpression<Text>>::Expression;
            fn as_expression(self) -> Self::Expression {
                AsExpression::<Text>::as_expression(self.as_str())
            }
        }

        impl AsExpression<Nullable<Text>> for $ty {
            type Expression = <&'static str as AsExpression<Nullable<Text>>>::Expression;
            fn as_expression(self) -> Self::Expression {
                AsExpression::<Nullable<Text>>::as_expression(self.as_str())
            }
        }

        impl Queryable<Text, Pg> for $ty {
            type Row = Self;
            fn build(row: Self) -> deserialize::Result<Self> {
                Ok(row)
            }
        }

        impl ToSql<Text, Pg> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                out.write_all(self.as_str().as_bytes())?;
                Ok(IsNull::No)
            }
        }

        impl FromSql<Text, Pg> for $ty {
            fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
                let text = std::str::from_utf8(value.as_bytes())?;
                $ty::parse(text)
                    .ok_or_else(|| format!("{text:?} is no {}", stringify!($ty)).into())
            }
        }
    )*};
}

stored_as_text!(
    RegistrationStatus,
    NotificationState,
    AttemptOutcome,
    Target,
    Role,
    ResultCode,
    RejectCode,
);
