//! The append-only audit log. Registration events are written by database
//! triggers; reviewer and user events are written here.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;

use super::schema::audit_log;
use crate::domain::status::RegistrationStatus;

/// The actor of events that Alipay+'s requests cause.
pub const ALIPAY_ACTOR: &str = "alipay+";

/// The actor of hits found when a new version of a list is loaded.
pub const SCREENING_ACTOR: &str = "screening";

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
    pub const CLAIMED: &str = "registration.claimed";
    pub const CLAIM_TAKEN_OVER: &str = "registration.claim_taken_over";
    pub const DECISION_PROPOSED: &str = "registration.decision_proposed";
    pub const PROPOSAL_APPROVED: &str = "registration.proposal_approved";
    pub const PROPOSAL_SENT_BACK: &str = "registration.proposal_sent_back";
    /// A new version of a screening list matched a stored registration.
    pub const LIST_HIT: &str = "registration.list_hit";
    /// A reviewer marked a list hit "Not a match".
    pub const HIT_DISMISSED: &str = "list_hit.dismissed";
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

/// The audit page's filter.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub registration_request_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub before: Option<DateTime<Utc>>,
}

/// An audit entry as the audit page and its export show it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub registration_request_id: Option<String>,
    pub from_status: Option<RegistrationStatus>,
    pub to_status: Option<RegistrationStatus>,
    pub detail: Option<String>,
    pub address: Option<String>,
}

fn audit_filtered(filter: &AuditFilter) -> audit_log::BoxedQuery<'static, diesel::pg::Pg> {
    use audit_log::dsl as a;
    let mut query = a::audit_log.into_boxed();
    if let Some(actor) = &filter.actor {
        query = query.filter(a::actor.eq(actor.clone()));
    }
    if let Some(action) = &filter.action {
        query = query.filter(a::action.eq(action.clone()));
    }
    if let Some(id) = &filter.registration_request_id {
        query = query.filter(a::registration_request_id.eq(id.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(a::at.ge(from));
    }
    if let Some(before) = filter.before {
        query = query.filter(a::at.lt(before));
    }
    query
}

/// A page of the audit log, newest first: entries older than `older_than`
/// (an id), or newer than `newer_than`. `more`: entries lie beyond the page
/// in the direction fetched.
pub fn list_page(
    conn: &mut PgConnection,
    filter: &AuditFilter,
    older_than: Option<i64>,
    newer_than: Option<i64>,
    limit: i64,
) -> QueryResult<(Vec<AuditRow>, bool)> {
    use audit_log::dsl as a;
    let mut query = audit_filtered(filter);
    if let Some(id) = older_than {
        query = query.filter(a::id.lt(id)).order(a::id.desc());
    } else if let Some(id) = newer_than {
        query = query.filter(a::id.gt(id)).order(a::id.asc());
    } else {
        query = query.order(a::id.desc());
    }
    let mut rows: Vec<AuditRow> = query
        .limit(limit + 1)
        .select(AuditRow::as_select())
        .load(conn)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    if newer_than.is_some() && older_than.is_none() {
        rows.reverse();
    }
    Ok((rows, more))
}

/// A batch of matching entries in id order after `after_id`, for exports.
pub fn export_batch(
    conn: &mut PgConnection,
    filter: &AuditFilter,
    after_id: i64,
    limit: i64,
) -> QueryResult<Vec<AuditRow>> {
    use audit_log::dsl as a;
    audit_filtered(filter)
        .filter(a::id.gt(after_id))
        .order(a::id.asc())
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)
}
