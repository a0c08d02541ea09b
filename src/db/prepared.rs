//! Hand-written SQL that PostgreSQL parses and plans once per connection.
//!
//! diesel's `sql_query` is never kept in the prepared-statement cache, so a
//! statement it sends is parsed and planned on every call. The few
//! statements of the hot paths that diesel's DSL cannot express (a CTE that
//! inserts into two tables, a lookup that unions several partial indexes) go
//! through [`Prepared`] instead: fixed SQL text, so diesel caches it by that
//! text like any statement of its own.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, Bool, Bytea, Nullable, Text, Timestamptz, Untyped};
use diesel::{QueryResult, RunQueryDsl};

use crate::domain::status::RegistrationStatus;
use crate::protocol::result::ResultCode;

/// One value bound to a `?` of the SQL text.
#[derive(Debug, Clone, Copy)]
pub enum Bind<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Bool(bool),
    Bytes(&'a [u8]),
    Texts(&'a [String]),
    OptTime(Option<DateTime<Utc>>),
    Status(RegistrationStatus),
    Code(ResultCode),
}

/// A statement whose `?` marks are filled, in order, by `binds`. The text
/// must be a constant (it is the cache key) and hold no other `?`.
#[derive(Debug, Clone)]
pub struct Prepared<'a> {
    sql: &'static str,
    binds: Vec<Bind<'a>>,
}

impl<'a> Prepared<'a> {
    pub fn new(sql: &'static str, binds: Vec<Bind<'a>>) -> Prepared<'a> {
        debug_assert_eq!(sql.matches('?').count(), binds.len(), "one bind per `?`");
        Prepared { sql, binds }
    }
}

impl QueryFragment<Pg> for Prepared<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let mut parts = self.sql.split('?');
        out.push_sql(parts.next().unwrap_or_default());
        for (bind, part) in self.binds.iter().zip(parts) {
            match bind {
                Bind::Text(v) => out.push_bind_param::<Text, str>(v)?,
                Bind::OptText(v) => out.push_bind_param::<Nullable<Text>, _>(v)?,
                Bind::Bool(v) => out.push_bind_param::<Bool, _>(v)?,
                Bind::Bytes(v) => out.push_bind_param::<Bytea, [u8]>(v)?,
                Bind::Texts(v) => out.push_bind_param::<Array<Text>, [String]>(v)?,
                Bind::OptTime(v) => out.push_bind_param::<Nullable<Timestamptz>, _>(v)?,
                Bind::Status(v) => out.push_bind_param::<Text, _>(v)?,
                Bind::Code(v) => out.push_bind_param::<Text, _>(v)?,
            }
            out.push_sql(part);
        }
        Ok(())
    }
}

impl QueryId for Prepared<'_> {
    type QueryId = ();
    // No static id: the cache is keyed by the SQL text and the bind types.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Prepared<'_> {
    type SqlType = Untyped;
}

impl<Conn> RunQueryDsl<Conn> for Prepared<'_> {}
