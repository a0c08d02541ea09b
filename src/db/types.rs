//! How the typed states cross the database boundary: each is a `text` column
//! with a CHECK constraint listing its values, and reads and writes as its
//! enum. A value the enum does not know fails the query instead of falling
//! into a default.

use std::io::Write as _;

use diesel::deserialize::{self, FromSql};
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;

use crate::domain::notification::{AttemptOutcome, NotificationState, Target};
use crate::domain::review::RejectCode;
use crate::domain::status::RegistrationStatus;
use crate::domain::user::Role;
use crate::protocol::result::ResultCode;

/// `ToSql`/`FromSql` through the type's own `as_str` and `parse`, so the
/// stored spelling is written in one place.
macro_rules! stored_as_text {
    ($($ty:ident),* $(,)?) => {$(
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
