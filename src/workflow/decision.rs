//! A reviewer's (or the CLI's) decision on a registration.

use diesel::Connection as _;
use diesel::pg::PgConnection;
use diesel::result::QueryResult;

use crate::db::console::{self, Claim};
use crate::db::review::{self, RegistrationRow};
use crate::db::{notifications, requests};
use crate::domain::notification::{
    DecidedRegistration, NotifyPolicy, notifications_for, recipients,
};
use crate::domain::review::{Decision, FourEyes, may_become};
use crate::domain::status::RegistrationStatus;

/// How a decision ended.
#[derive(Debug, Clone)]
pub enum DecideOutcome {
    Decided(RegistrationRow),
    /// Four eyes: recorded as proposed; a second reviewer decides.
    Proposed,
    /// Someone decided first: what they decided, who and when.
    AlreadyDecided(RegistrationRow),
    /// Another reviewer holds a live claim on it.
    ClaimedBy(Claim),
    /// A proposed decision waits for a second reviewer: approve it or send it back first.
    ProposalOpen,
    /// The proposal acted on is no longer open (approved or sent back meanwhile).
    ProposalClosed,
    /// A proposal's own author cannot be its second reviewer.
    OwnProposal,
    /// The proposal went back; the registration is PENDING for a new decision.
    SentBack,
    NotFound,
}

/// A reviewer's Confirm on the console: refused while another reviewer
/// holds the claim or a proposal is open; recorded as a proposal where four
/// eyes apply; otherwise decided at once.
pub fn review(
    conn: &mut PgConnection,
    id: i64,
    decision: &Decision,
    reviewer: &str,
    four_eyes: FourEyes,
    policy: &NotifyPolicy,
) -> QueryResult<DecideOutcome> {
    conn.transaction(|conn| {
        let Some(row) = review::find_registration(conn, id)? else {
            return Ok(DecideOutcome::NotFound);
        };
        if row.status != RegistrationStatus::Pending {
            return Ok(DecideOutcome::AlreadyDecided(row));
        }
        if let Some(claim) = console::live_claim(conn, id)?
            && claim.reviewer != reviewer
        {
            return Ok(DecideOutcome::ClaimedBy(claim));
        }
        if console::open_proposal(conn, id)?.is_some() {
            return Ok(DecideOutcome::ProposalOpen);
        }
        if four_eyes.applies(decision, &row.review_flags) {
            if !console::propose(conn, id, &row.registration_request_id, decision, reviewer)? {
                return Ok(DecideOutcome::ProposalOpen);
            }
            // The second reviewer must be free to act: the proposer's claim ends here.
            console::release(conn, id)?;
            return Ok(DecideOutcome::Proposed);
        }
        decide(conn, id, decision, reviewer, policy)
    })
}

/// The second reviewer approves proposal `proposal_id`: the proposed
/// decision is made in their name (the database refuses the proposer's).
pub fn approve_proposal(
    conn: &mut PgConnection,
    id: i64,
    proposal_id: i64,
    reviewer: &str,
    policy: &NotifyPolicy,
) -> QueryResult<DecideOutcome> {
    conn.transaction(|conn| {
        let Some(proposal) = console::open_proposal(conn, id)?.filter(|p| p.id == proposal_id)
        else {
            return Ok(match review::find_registration(conn, id)? {
                None => DecideOutcome::NotFound,
                Some(row) if row.status != RegistrationStatus::Pending => {
                    DecideOutcome::AlreadyDecided(row)
                }
                Some(_) => DecideOutcome::ProposalClosed,
            });
        };
        if proposal.proposed_by == reviewer {
            return Ok(DecideOutcome::OwnProposal);
        }
        let Some(decision) = proposal.decision() else {
            return Ok(DecideOutcome::ProposalClosed);
        };
        let outcome = decide(conn, id, &decision, reviewer, policy)?;
        if let DecideOutcome::Decided(row) = &outcome {
            console::close_proposal(
                conn,
                proposal.id,
                &row.registration_request_id,
                reviewer,
                true,
                None,
            )?;
        }
        Ok(outcome)
    })
}

/// The second reviewer sends a proposal back, with a note: the registration
/// stays PENDING for anyone to decide anew.
pub fn send_back(
    conn: &mut PgConnection,
    id: i64,
    proposal_id: i64,
    reviewer: &str,
    note: &str,
) -> QueryResult<DecideOutcome> {
    conn.transaction(|conn| {
        let Some(row) = review::find_registration(conn, id)? else {
            return Ok(DecideOutcome::NotFound);
        };
        let Some(proposal) = console::open_proposal(conn, id)?.filter(|p| p.id == proposal_id)
        else {
            return Ok(DecideOutcome::ProposalClosed);
        };
        if proposal.proposed_by == reviewer {
            return Ok(DecideOutcome::OwnProposal);
        }
        console::close_proposal(
            conn,
            proposal.id,
            &row.registration_request_id,
            reviewer,
            false,
            Some(note),
        )?;
        Ok(DecideOutcome::SentBack)
    })
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
        console::release(conn, row.id)?;
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
