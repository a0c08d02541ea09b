//! The reviewers' working state beside a registration: claims, decisions
//! proposed under four eyes, and internal notes.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;

use super::audit::{self, NewAuditEntry, action};
use super::schema::{registrations, review_claims, review_notes, review_proposals};
use crate::domain::review::{Decision, RejectCode};
use crate::domain::status::RegistrationStatus;

/// A live claim: who holds it and until when.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Claim {
    pub reviewer: String,
    pub expires_at: DateTime<Utc>,
}

/// How a claim attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The caller holds it now (newly, or renewed).
    Claimed,
    /// Someone else holds a live claim.
    HeldBy(Claim),
    /// Only PENDING registrations are claimed.
    NotPending,
}

/// Whether a claim may replace another reviewer's live one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takeover {
    No,
    Yes,
}

/// The live claim on a registration, if any.
pub fn live_claim(conn: &mut PgConnection, registration_id: i64) -> QueryResult<Option<Claim>> {
    use review_claims::dsl as c;
    c::review_claims
        .filter(c::registration_id.eq(registration_id))
        .filter(c::expires_at.gt(diesel::dsl::now))
        .select((c::reviewer, c::expires_at))
        .first(conn)
        .optional()
}

/// Live claims on the given registrations.
pub fn live_claims(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    use review_claims::dsl as c;
    c::review_claims
        .filter(c::registration_id.eq_any(ids))
        .filter(c::expires_at.gt(diesel::dsl::now))
        .select((c::registration_id, c::reviewer))
        .load(conn)
}

/// Claims a PENDING registration for `reviewer` for `ttl`: a free or
/// expired claim is taken, one's own is renewed, another's live claim only
/// with `Takeover::Yes` (audited, naming whose it was).
pub fn claim(
    conn: &mut PgConnection,
    registration_id: i64,
    reviewer: &str,
    ttl: std::time::Duration,
    takeover: Takeover,
) -> QueryResult<ClaimOutcome> {
    use review_claims::dsl as c;
    conn.transaction(|conn| {
        let row: Option<(String, RegistrationStatus)> = registrations::table
            .find(registration_id)
            .select((
                registrations::registration_request_id,
                registrations::status,
            ))
            .for_share()
            .first(conn)
            .optional()?;
        let Some((request_id, RegistrationStatus::Pending)) = row else {
            return Ok(ClaimOutcome::NotPending);
        };
        let previous: Option<Claim> = c::review_claims
            .find(registration_id)
            .select((c::reviewer, c::expires_at))
            .for_update()
            .first(conn)
            .optional()?;
        let now = Utc::now();
        let held_by_other = previous
            .as_ref()
            .filter(|p| p.expires_at > now && p.reviewer != reviewer);
        if let (Some(p), Takeover::No) = (held_by_other, takeover) {
            return Ok(ClaimOutcome::HeldBy(p.clone()));
        }
        let expires_at =
            now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(30));
        diesel::insert_into(c::review_claims)
            .values((
                c::registration_id.eq(registration_id),
                c::reviewer.eq(reviewer),
                c::claimed_at.eq(now),
                c::expires_at.eq(expires_at),
            ))
            .on_conflict(c::registration_id)
            .do_update()
            .set((
                c::reviewer.eq(reviewer),
                c::claimed_at.eq(now),
                c::expires_at.eq(expires_at),
            ))
            .execute(conn)?;
        let detail = held_by_other.map(|p| format!("taken over from {}", p.reviewer));
        audit::insert_entry(
            conn,
            &NewAuditEntry {
                actor: reviewer,
                action: if detail.is_some() {
                    action::CLAIM_TAKEN_OVER
                } else {
                    action::CLAIMED
                },
                registration_request_id: Some(&request_id),
                detail: detail.as_deref(),
                address: None,
            },
        )?;
        Ok(ClaimOutcome::Claimed)
    })
}

/// Ends the claim on a decided registration (inside the decision's transaction).
pub fn release(conn: &mut PgConnection, registration_id: i64) -> QueryResult<()> {
    use review_claims::dsl as c;
    diesel::delete(c::review_claims.filter(c::registration_id.eq(registration_id)))
        .execute(conn)?;
    Ok(())
}

/// A decision waiting for a second reviewer.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = review_proposals)]
pub struct Proposal {
    pub id: i64,
    pub decision: RegistrationStatus,
    pub reason: Option<String>,
    pub reject_code: Option<RejectCode>,
    pub proposed_by: String,
    pub proposed_at: DateTime<Utc>,
}

impl Proposal {
    pub fn decision(&self) -> Option<Decision> {
        Decision::from_parts(self.decision, self.reason.clone(), self.reject_code)
    }
}

/// The open proposal on a registration, if any.
pub fn open_proposal(
    conn: &mut PgConnection,
    registration_id: i64,
) -> QueryResult<Option<Proposal>> {
    use review_proposals::dsl as p;
    p::review_proposals
        .filter(p::registration_id.eq(registration_id))
        .filter(p::state.eq("open"))
        .select(Proposal::as_select())
        .first(conn)
        .optional()
}

/// Registrations among `ids` with an open proposal, and who proposed it.
pub fn open_proposals(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    use review_proposals::dsl as p;
    p::review_proposals
        .filter(p::registration_id.eq_any(ids))
        .filter(p::state.eq("open"))
        .select((p::registration_id, p::proposed_by))
        .load(conn)
}

/// Records `decision` as proposed by `reviewer`. `false` when another
/// proposal is open already (the unique index decides a race).
pub fn propose(
    conn: &mut PgConnection,
    registration_id: i64,
    request_id: &str,
    decision: &Decision,
    reviewer: &str,
) -> QueryResult<bool> {
    use review_proposals::dsl as p;
    let inserted = diesel::insert_into(p::review_proposals)
        .values((
            p::registration_id.eq(registration_id),
            p::decision.eq(decision.target()),
            p::reason.eq(decision.reason()),
            p::reject_code.eq(decision.reject_code()),
            p::proposed_by.eq(reviewer),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    if inserted == 0 {
        return Ok(false);
    }
    let detail = describe(decision);
    audit::insert_entry(
        conn,
        &NewAuditEntry {
            actor: reviewer,
            action: action::DECISION_PROPOSED,
            registration_request_id: Some(request_id),
            detail: Some(&detail),
            address: None,
        },
    )?;
    Ok(true)
}

/// Closes an open proposal as approved or sent back by `reviewer`, who the
/// database insists is not its proposer. `false` when it was not open.
pub fn close_proposal(
    conn: &mut PgConnection,
    proposal_id: i64,
    request_id: &str,
    reviewer: &str,
    approved: bool,
    note: Option<&str>,
) -> QueryResult<bool> {
    use review_proposals::dsl as p;
    let proposer: Option<String> = diesel::update(
        p::review_proposals
            .filter(p::id.eq(proposal_id))
            .filter(p::state.eq("open")),
    )
    .set((
        p::state.eq(if approved { "approved" } else { "sent_back" }),
        p::closed_by.eq(reviewer),
        p::closed_at.eq(diesel::dsl::now),
        p::closing_note.eq(note),
    ))
    .returning(p::proposed_by)
    .get_result(conn)
    .optional()?;
    let Some(proposer) = proposer else {
        return Ok(false);
    };
    let detail = match note {
        Some(n) => format!("proposed by {proposer}: {n}"),
        None => format!("proposed by {proposer}"),
    };
    audit::insert_entry(
        conn,
        &NewAuditEntry {
            actor: reviewer,
            action: if approved {
                action::PROPOSAL_APPROVED
            } else {
                action::PROPOSAL_SENT_BACK
            },
            registration_request_id: Some(request_id),
            detail: Some(&detail),
            address: None,
        },
    )?;
    Ok(true)
}

/// A decision in words, for the audit trail.
pub fn describe(decision: &Decision) -> String {
    match (decision.reject_code(), decision.reason()) {
        (Some(code), Some(reason)) => {
            format!("{} ({}): {reason}", decision.target(), code.as_str())
        }
        (None, Some(reason)) => format!("{}: {reason}", decision.target()),
        (_, None) => decision.target().as_str().to_owned(),
    }
}

/// A proposal in words, for the detail page.
pub fn describe_proposal(p: &Proposal) -> String {
    match p.decision() {
        Some(d) => describe(&d),
        None => p.decision.as_str().to_owned(),
    }
}

/// An internal note.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = review_notes)]
pub struct Note {
    pub author: String,
    pub at: DateTime<Utc>,
    pub body: String,
}

pub fn add_note(
    conn: &mut PgConnection,
    registration_id: i64,
    author: &str,
    body: &str,
) -> QueryResult<()> {
    use review_notes::dsl as n;
    diesel::insert_into(n::review_notes)
        .values((
            n::registration_id.eq(registration_id),
            n::author.eq(author),
            n::body.eq(body),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn notes_for(conn: &mut PgConnection, registration_id: i64) -> QueryResult<Vec<Note>> {
    use review_notes::dsl as n;
    n::review_notes
        .filter(n::registration_id.eq(registration_id))
        .order(n::id.asc())
        .select(Note::as_select())
        .load(conn)
}
