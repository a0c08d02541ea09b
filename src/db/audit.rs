//! The append-only audit log. Registration events are written by database
//! triggers; reviewer and user events are written here.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;

use super::schema::audit_log;
use crate::domain::status::RegistrationStatus;

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
    pub const USER_UNLOCKED: &str = "user.unlocked";
    pub const USER_ROLE_CHANGED: &str = "user.role_changed";
    pub const USER_PASSWORD_CHANGED: &str = "user.password_changed";
    pub const MFA_ENROLLED: &str = "user.mfa_enrolled";
    pub const MFA_RESET: &str = "user.mfa_reset";
    pub const RECOVERY_CODE_USED: &str = "user.recovery_code_used";
    pub const SESSIONS_ENDED: &str = "user.sessions_ended";
    pub const SSO_SIGNED_IN: &str = "user.sso_signed_in";
    pub const SSO_REFUSED: &str = "user.sso_refused";
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
    pub from_status: Option<RegistrationStatus>,
    pub to_status: Option<RegistrationStatus>,
    pub detail: Option<String>,
}

pub fn insert_entry(conn: &mut PgConnection, entry: &NewAuditEntry<'_>) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values(entry)
        .execute(conn)?;
    Ok(())
}

/// A user-management event by `actor` from `address`: the common case of
/// [`insert_entry`].
pub fn record_user_event(
    conn: &mut PgConnection,
    actor: &str,
    action: &str,
    detail: &str,
    address: &str,
) -> QueryResult<()> {
    insert_entry(
        conn,
        &NewAuditEntry {
            actor,
            action,
            detail: Some(detail),
            address: Some(address),
            ..Default::default()
        },
    )
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
