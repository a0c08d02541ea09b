//! The intake of one registration request (resolutions A2 and A3).
//!
//! A `registrationRequestId` that got a business answer (accepted, or
//! refused as under review or a repeat) is bound to that answer for good:
//! every later request with the id gets it again, whatever its body and
//! whatever happened since. A free id is validated, admitted or refused by
//! registration key, and bound, atomically on the id: the primary key of
//! `requests` is the idempotency lock. Refusals before business processing
//! (transport, signature, `PARAM_ILLEGAL`, `UNKNOWN_EXCEPTION`) bind nothing.

use diesel::Connection as _;
use diesel::pg::PgConnection;
use diesel::result::Error as DieselError;
use serde_json::Value;

use crate::db::registrations::NewRegistration;
use crate::db::requests::{self, Accepted, KeyLookup, Lookup, NewRequest, StoredAnswer};
use crate::db::{DbError, notifications};
use crate::domain::admission::{Admission, Evidence, admit};
use crate::domain::changes::differing_paths;
use crate::domain::notification::{
    DecidedRegistration, NotifyPolicy, notifications_for, recipients,
};
use crate::domain::registration::Registration;
use crate::domain::status::RegistrationStatus;
use crate::domain::{AUTO_REVIEWER, ApprovalMode};
use crate::protocol::result::{ResultBody, ResultCode};

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
    /// The id was free and is now bound to this answer.
    Bound(Answer),
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
    pub mode: ApprovalMode,
}

/// Looks the id up, and admits and binds a free one, until what it saw
/// holds (a concurrent request may bind the id or take a key in between).
pub fn intake(
    conn: &mut PgConnection,
    c: &Candidate,
    policy: &NotifyPolicy,
) -> Result<Intake, DbError> {
    let keys = c.registration.as_ref().map(|r| KeyLookup {
        reference_merchant_id: &r.reference_merchant_id,
        reference_store_id: r.reference_store_id.as_deref(),
        products: &r.product_codes,
    });
    for _ in 0..INTAKE_ROUNDS {
        let evidence = match requests::lookup(conn, &c.request_id, keys)? {
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
                match accept(conn, c, registration, is_update(&evidence), policy)? {
                    (Accepted::Stored(_), answer) => return Ok(Intake::Bound(answer)),
                    // Someone else got there first: look again at what they committed.
                    (Accepted::IdTaken | Accepted::KeyTaken, _) => continue,
                }
            }
        };
        let (binding, answer) = c.binding(registration, refused);
        if requests::insert_refused(conn, &binding)? {
            return Ok(Intake::Bound(answer));
        }
    }
    Err(DbError::Worker(format!(
        "the intake did not settle in {INTAKE_ROUNDS} rounds of concurrent changes"
    )))
}

/// Binds and stores an admitted registration. One approved at once (auto
/// mode) is also decided: the merchant's notification is written in the same
/// transaction.
fn accept(
    conn: &mut PgConnection,
    c: &Candidate,
    r: &Registration,
    is_update: bool,
    policy: &NotifyPolicy,
) -> Result<(Accepted, Answer), DbError> {
    let (status, code, decided_at, decided_by) = match c.mode {
        ApprovalMode::Manual => (
            RegistrationStatus::Pending,
            ResultCode::RegistrationInProcess,
            None,
            None,
        ),
        ApprovalMode::Auto => (
            RegistrationStatus::Approved,
            ResultCode::Success,
            Some(chrono::Utc::now()),
            Some(AUTO_REVIEWER.to_owned()),
        ),
    };
    let (binding, answer) = c.binding(r, code);
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
        review_flags: r.review_flags.clone(),
        decided_at,
        decided_by,
        search_text: r.search_text.clone(),
        is_update,
    };
    let decided = DecidedRegistration {
        registration_request_id: &c.request_id,
        reference_merchant_id: &r.reference_merchant_id,
        status,
        reason: None,
        reject_code: None,
    };
    // Decided at intake (auto mode): Alipay+ has its answer already; the
    // merchant may be told, in the same transaction.
    let outgoing = notifications_for(
        &decided,
        recipients(code, r.registration_notify_url.as_deref()),
        policy,
    );
    if outgoing.is_empty() {
        return Ok((
            requests::insert_accepted(conn, &binding, &registration)?,
            answer,
        ));
    }
    let mut accepted = Accepted::IdTaken;
    let committed = conn.transaction(|conn| {
        accepted = requests::insert_accepted(conn, &binding, &registration)?;
        let Accepted::Stored(id) = accepted else {
            return Err(DieselError::RollbackTransaction);
        };
        notifications::insert_outgoing(conn, id, &c.request_id, &outgoing)
    });
    match committed {
        Ok(_) | Err(DieselError::RollbackTransaction) => Ok((accepted, answer)),
        Err(e) => Err(e.into()),
    }
}

/// An admitted request is an update when one of its keys has a
/// registration in force; otherwise it registers a new merchant.
fn is_update(evidence: &[Evidence]) -> bool {
    evidence
        .iter()
        .any(|e| matches!(e, Evidence::InForce { .. }))
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
