//! The intake of one registration request (resolutions A2 and A3).
//!
//! A `registrationRequestId` that got a business answer (accepted, or
//! refused as under review or a repeat) is bound to that answer for good:
//! every later request with the id gets it again, whatever its body and
//! whatever happened since. A free id is validated, admitted or refused by
//! registration key, and bound, atomically on the id: the primary key of
//! `requests` is the idempotency lock. Refusals before business processing
//! (transport, signature, `PARAM_ILLEGAL`, `UNKNOWN_EXCEPTION`) bind nothing.

use std::sync::Arc;

use diesel::Connection as _;
use diesel::pg::PgConnection;
use diesel::result::Error as DieselError;
use serde_json::Value;

use crate::db::intake_groups::IntakeGroups;
use crate::db::registrations::NewRegistration;
use crate::db::requests::{
    self, Accepted, Lookup, LookupRequest, NewRequest, RequestKeys, StoredAnswer,
};
use crate::db::{DbError, notifications, screening};
use crate::domain::admission::{Admission, Evidence, admit};
use crate::domain::changes::{content_changes, differing_paths};
use crate::domain::notification::{
    DecidedRegistration, NotifyPolicy, notifications_for, recipients,
};
use crate::domain::registration::Registration;
use crate::domain::status::RegistrationStatus;
use crate::protocol::result::{ResultBody, ResultCode};
use crate::workflow::triage::{Route, RuleDecision, Triage};

/// The answer to send: its result code and its body, exactly as bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub code: ResultCode,
    pub body: Vec<u8>,
}

/// Rounds of lookup and insert before giving up: each round after the first
/// follows a concurrent request that bound the id or took a key first, and
/// sees what it committed.
const INTAKE_ROUNDS: usize = 4;

/// How the intake of one request ended.
pub enum Intake {
    /// The id was free and is now bound to this answer; the rule that
    /// decided, if one did.
    Bound(Answer, Option<RuleDecision>),
    /// The id was bound: its stored answer, and the field paths where this
    /// repeat's body differs from the bound one (empty for a true repeat).
    Repeat {
        answer: Answer,
        differing: Vec<String>,
    },
    /// The id is free and the body is invalid: nothing was bound.
    Unbound,
}

/// A request as the intake sees it.
pub struct Candidate {
    pub request_id: String,
    pub client_id: String,
    pub body: Value,
    pub raw_request: String,
    pub fingerprint: Vec<u8>,
    /// `None` when the body is invalid (only a bound id can answer it then).
    pub registration: Option<Registration>,
    /// The rules and lists in force.
    pub triage: Arc<Triage>,
    /// Where the lookup runs, and a registration accepted without more to
    /// write is inserted: with the requests that arrive at the same moment.
    pub groups: Arc<IntakeGroups>,
}

/// Looks the id up, and admits and binds a free one, until what it saw
/// holds (a concurrent request may bind the id or take a key in between).
pub fn intake(
    conn: &mut PgConnection,
    c: &Candidate,
    policy: &NotifyPolicy,
) -> Result<Intake, DbError> {
    let looked_up = LookupRequest {
        request_id: c.request_id.clone(),
        keys: c.registration.as_ref().map(|r| RequestKeys {
            reference_merchant_id: r.reference_merchant_id.clone(),
            reference_store_id: r.reference_store_id.clone(),
            products: r.product_codes.clone(),
        }),
    };
    for _ in 0..INTAKE_ROUNDS {
        let evidence = match c.groups.lookups.run(conn, looked_up.clone())? {
            Lookup::Bound(stored) => return repeat(conn, c, stored),
            Lookup::Free(evidence) => evidence,
        };
        let Some(registration) = &c.registration else {
            return Ok(Intake::Unbound);
        };
        let refused = match admit(&c.body, &registration.product_codes, &evidence) {
            Admission::UnderReview => ResultCode::RegistrationUnderReview,
            Admission::RepeatRegistration => ResultCode::RepeatRegistration,
            Admission::Admit => {
                match accept(conn, c, registration, &evidence, policy)? {
                    (Accepted::Stored(_), answer, rule) => return Ok(Intake::Bound(answer, rule)),
                    // Someone else got there first: look again at what they committed.
                    (Accepted::IdTaken | Accepted::KeyTaken, _, _) => continue,
                }
            }
        };
        let (binding, answer) = c.binding(registration, refused);
        if requests::insert_refused(conn, &binding)? {
            return Ok(Intake::Bound(answer, None));
        }
    }
    Err(DbError::Worker(format!(
        "the intake did not settle in {INTAKE_ROUNDS} rounds of concurrent changes"
    )))
}

/// Binds and stores an admitted registration, as triage routes it: one
/// approved or rejected at once is also decided, and its notifications are
/// written in the same transaction, with its list hits.
fn accept(
    conn: &mut PgConnection,
    c: &Candidate,
    r: &Registration,
    evidence: &[Evidence],
    policy: &NotifyPolicy,
) -> Result<(Accepted, Answer, Option<RuleDecision>), DbError> {
    let is_update = in_force_body(evidence).is_some();
    // Only rules look at what an update changes: without them, no diff.
    let changed = match in_force_body(evidence) {
        Some(raw) if c.triage.policy().is_some() => {
            let before = serde_json::from_str(raw).unwrap_or(Value::Null);
            Some(
                content_changes(&before, &c.body)
                    .into_iter()
                    .map(|change| change.path)
                    .collect(),
            )
        }
        Some(_) => Some(Vec::new()),
        None => None,
    };
    let triaged = c.triage.triage(conn, r, changed)?;
    let (status, code, reason, reject_code) = match &triaged.route {
        Route::Review => (
            RegistrationStatus::Pending,
            ResultCode::RegistrationInProcess,
            None,
            None,
        ),
        Route::Approve => (
            RegistrationStatus::Approved,
            ResultCode::Success,
            None,
            None,
        ),
        // Alipay+ hears of a rejection by notification, as of a reviewer's.
        Route::Reject { code, reason } => (
            RegistrationStatus::Rejected,
            ResultCode::RegistrationInProcess,
            Some(reason.clone()),
            Some(*code),
        ),
    };
    let decided_at = (status != RegistrationStatus::Pending).then(chrono::Utc::now);
    let (binding, answer) = c.binding(r, code);
    let mut review_flags = r.review_flags.clone();
    review_flags.extend(triaged.added_flags.iter().cloned());
    let registration = NewRegistration {
        status,
        product_codes: r
            .product_codes
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect(),
        merchant_name: r.merchant_name.clone(),
        legal_name: r.legal_name.clone(),
        merchant_mcc: r.merchant_mcc.clone(),
        region: r.region.clone(),
        registration_notify_url: r.registration_notify_url.clone(),
        review_flags,
        decided_at,
        decided_by: triaged.decided_by.clone(),
        reason: reason.clone(),
        reject_code: reject_code.map(|c| c.as_str().to_owned()),
        search_text: r.search_text.clone(),
        is_update,
        triage_rule: triaged.rule.as_ref().map(|d| d.rule.clone()),
        triage_action: triaged.rule.as_ref().map(|d| d.action.as_str().to_owned()),
        rules_version: triaged.rules_version.clone(),
    };
    let outgoing = if status == RegistrationStatus::Pending {
        Vec::new()
    } else {
        let decided = DecidedRegistration {
            registration_request_id: &c.request_id,
            reference_merchant_id: &r.reference_merchant_id,
            status,
            reason: reason.as_deref(),
            reject_code,
        };
        notifications_for(
            &decided,
            recipients(code, r.registration_notify_url.as_deref()),
            policy,
        )
    };
    let rule = triaged.rule.clone();
    if outgoing.is_empty() && triaged.hits.is_empty() {
        // The common case: one statement, no transaction around it, shared
        // with the registrations accepted at the same moment.
        return Ok((
            c.groups.inserts.run(conn, (binding, registration))?,
            answer,
            rule,
        ));
    }
    let mut accepted = Accepted::IdTaken;
    let committed = conn.transaction(|conn| {
        accepted = requests::insert_accepted(conn, &binding, &registration)?;
        let Accepted::Stored(id) = accepted else {
            return Err(DieselError::RollbackTransaction);
        };
        if !triaged.hits.is_empty() {
            screening::insert_hits(conn, id, status, &triaged.hits, &triaged.dismissals)?;
        }
        notifications::insert_outgoing(conn, id, &c.request_id, &outgoing)
    });
    match committed {
        Ok(_) | Err(DieselError::RollbackTransaction) => Ok((accepted, answer, rule)),
        Err(e) => Err(e.into()),
    }
}

/// The stored body of the request whose approval is in force for one of
/// the keys, when there is one: the request is an update of it.
fn in_force_body(evidence: &[Evidence]) -> Option<&str> {
    evidence.iter().find_map(|e| match e {
        Evidence::InForce { raw_request, .. } => Some(raw_request.as_str()),
        Evidence::Pending { .. } => None,
    })
}

/// A bound id answers with what it was bound to. A body that differs from
/// the bound one changes nothing and is recorded where people will see it.
fn repeat(conn: &mut PgConnection, c: &Candidate, stored: StoredAnswer) -> Result<Intake, DbError> {
    let code = stored.result_code;
    let answer = Answer {
        code,
        body: stored.response_body.into_bytes(),
    };
    if stored.request_fingerprint == c.fingerprint {
        return Ok(Intake::Repeat {
            answer,
            differing: Vec::new(),
        });
    }
    let original = requests::find_raw_request(conn, &c.request_id)?
        .and_then(|raw| serde_json::from_str::<Value>(&raw).ok())
        .unwrap_or(Value::Null);
    let mut differing = differing_paths(&original, &c.body);
    if differing.is_empty() {
        // Fingerprints differ, so the bodies do; say so even without a path.
        differing.push("body".to_owned());
    }
    requests::record_mismatch(conn, &c.request_id, &differing)?;
    Ok(Intake::Repeat { answer, differing })
}

impl Candidate {
    /// The binding of this (valid) request to the answer `code`, and that answer.
    fn binding(&self, r: &Registration, code: ResultCode) -> (NewRequest, Answer) {
        let body = ResultBody::new(code, code.default_message()).to_bytes();
        let binding = NewRequest {
            registration_request_id: self.request_id.clone(),
            client_id: self.client_id.clone(),
            reference_merchant_id: r.reference_merchant_id.clone(),
            reference_store_id: r.reference_store_id.clone(),
            raw_request: self.raw_request.clone(),
            request_fingerprint: self.fingerprint.clone(),
            result_code: code,
            // The answer body is JSON of our own making: UTF-8.
            response_body: String::from_utf8_lossy(&body).into_owned(),
        };
        (binding, Answer { code, body })
    }
}
