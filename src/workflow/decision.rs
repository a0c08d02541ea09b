//! A reviewer's (or the CLI's) decision on a registration.

use diesel::Connection as _;
use diesel::pg::PgConnection;
use diesel::result::QueryResult;

use crate::db::review::{self, RegistrationRow};
use crate::db::{notifications, requests};
use crate::domain::notification::{
    DecidedRegistration, NotifyPolicy, notifications_for, recipients,
};
use crate::domain::review::{Decision, may_become};

/// How a decision ended.
#[derive(Debug, Clone)]
pub enum DecideOutcome {
    Decided(RegistrationRow),
    /// Someone decided first: what they decided, who and when.
    AlreadyDecided(RegistrationRow),
    NotFound,
}

/// Decides registration `id` and writes the notifications the decision
/// causes, in one transaction: both commit, or neither. The row changes
/// only from a state the state machine lets reach the decision's target.
pub fn decide(
    conn: &mut PgConnection,
    id: i64,
    decision: &Decision,
    reviewer: &str,
    policy: &NotifyPolicy,
) -> QueryResult<DecideOutcome> {
    conn.transaction(|conn| {
        let from = may_become(decision.target());
        let Some(row) = review::apply_decision(conn, id, decision, reviewer, &from)? else {
            return Ok(match review::find_registration(conn, id)? {
                Some(current) => DecideOutcome::AlreadyDecided(current),
                None => DecideOutcome::NotFound,
            });
        };
        let decided = DecidedRegistration {
            registration_request_id: &row.registration_request_id,
            reference_merchant_id: &row.reference_merchant_id,
            status: decision.target(),
            reason: decision.reason(),
            reject_code: decision.reject_code(),
        };
        let answered = requests::answered_code(conn, &row.registration_request_id)?;
        let to = recipients(answered, row.registration_notify_url.as_deref());
        let outgoing = notifications_for(&decided, to, policy);
        notifications::insert_outgoing(conn, row.id, &row.registration_request_id, &outgoing)?;
        tracing::info!(
            registration_request_id = %row.registration_request_id,
            status = %decision.target(),
            decided_by = reviewer,
            notifications = outgoing.len(),
            "decided"
        );
        Ok(DecideOutcome::Decided(row))
    })
}
