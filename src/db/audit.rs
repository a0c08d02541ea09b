//! The append-only audit log. Registration events are written by database
//! triggers; reviewer and user events are written here.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;

use super::schema::audit_log;

/// The actor of events that Alipay+'s requests cause.
pub const ALIPAY_ACTOR: &str = "alipay+";

/// What an audit row records, by action name.
pub mod action {
    /// A repeat of a bound registrationRequestId whose body differed.
    pub const REPEAT_MISMATCHED: &str = "registration.repeat_mismatched";
    pub const SIGNED_IN: &str = "user.signed_in";
    pub const SIGN_IN_FAILED: &str = "user.sign_in_failed";
    pub const SIGNED_OUT: &str = "user.signed_out";
    pub const USER_CREATED: &str = "user.created";
    pub const USER_DISABLED: &str = "user.disabled";
    pub const USER_ENABLED: &str = "user.enabled";
    pub const NOTIFICATION_REDRIVEN: &str = "notification.redriven";
}

#[derive(Debug, Clone, Default, Insertable)]
#[diesel(table_name = audit_log)]
// NULL rather than DEFAULT for None: one SQL text, so one cached prepared statement.
#[diesel(treat_none_as_default_value = false)]
pub struct NewAuditEntry<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub registration_request_id: Option<&'a str>,
    pub detail: Option<&'a str>,
    pub address: Option<&'a str>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub detail: Option<String>,
}

pub fn insert_entry(conn: &mut PgConnection, entry: &NewAuditEntry<'_>) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values(entry)
        .execute(conn)?;
    Ok(())
}

/// The trail of one registration, oldest first.
pub fn find_for_registration(
    conn: &mut PgConnection,
    request_id: &str,
) -> QueryResult<Vec<AuditEntry>> {
    audit_log::table
        .filter(audit_log::registration_request_id.eq(request_id))
        .order(audit_log::id.asc())
        .select(AuditEntry::as_select())
        .load(conn)
}

/// Failed sign-ins for a username and from an address since `since`.
pub fn count_failed_sign_ins(
    conn: &mut PgConnection,
    username: &str,
    address: &str,
    since: DateTime<Utc>,
) -> QueryResult<(i64, i64)> {
    use audit_log::dsl as a;
    let by_user = a::audit_log
        .filter(
            a::action
                .eq(action::SIGN_IN_FAILED)
                .and(a::actor.eq(username))
                .and(a::at.gt(since)),
        )
        .count()
        .get_result(conn)?;
    let by_address = a::audit_log
        .filter(
            a::action
                .eq(action::SIGN_IN_FAILED)
                .and(a::address.eq(address))
                .and(a::at.gt(since)),
        )
        .count()
        .get_result(conn)?;
    Ok((by_user, by_address))
}
