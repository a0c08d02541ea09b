//! `registration`: the intake of one request (resolutions A2 and A3).
//!
//! A `registrationRequestId` that got a business answer (accepted, or
//! refused as under review or a repeat) is bound to that answer for good:
//! every later request with the id gets it again, whatever its body and
//! whatever happened since. A free id is validated, admitted or refused by
//! registration key, and bound, atomically on the id: the primary key of
//! `requests` is the idempotency lock. Refusals before business processing
//! (transport, signature, `PARAM_ILLEGAL`, `UNKNOWN_EXCEPTION`) bind nothing.

use actix_web::web::Bytes;
use diesel::Connection as _;
use diesel::pg::PgConnection;
use diesel::result::Error as DieselError;
use serde_json::Value;

use super::ApsContext;
use super::aps::{ApsError, Reply};
use crate::db::notifications;
use crate::db::registrations::NewRegistration;
use crate::db::requests::{self, Accepted, KeyLookup, Lookup, NewRequest, StoredAnswer};
use crate::db::{self, DbError};
use crate::domain::admission::{Admission, admit};
use crate::domain::changes::differing_paths;
use crate::domain::notification::{DecidedRegistration, NotifyPolicy};
use crate::domain::registration::{
    Registration, flag_invisible_characters, readable_request_id, validate,
};
use crate::domain::status::RegistrationStatus;
use crate::domain::{AUTO_REVIEWER, ApprovalMode};
use crate::protocol::canonical;
use crate::protocol::registration::{RegistrationRequest, parse_body};
use crate::protocol::result::{ResultBody, ResultCode};

/// Rounds of lookup and insert before giving up: each round after the first
/// follows a concurrent request that bound the id or took a key first, and
/// sees what it committed.
const INTAKE_ROUNDS: usize = 4;

/// How the intake of one request ended.
enum Intake {
    /// The id was free and is now bound to this answer.
    Bound(Reply),
    /// The id was bound: its stored answer, and the field paths where this
    /// repeat's body differs from the bound one (empty for a true repeat).
    Repeat {
        reply: Reply,
        differing: Vec<String>,
    },
    /// The id is free and the body is invalid: nothing was bound.
    Unbound,
}

/// A request as the intake sees it.
struct Candidate {
    request_id: String,
    client_id: String,
    body: Value,
    raw_request: String,
    fingerprint: Vec<u8>,
    /// `None` when the body is invalid (only a bound id can answer it then).
    registration: Option<Registration>,
    mode: ApprovalMode,
}

pub async fn register(ctx: &ApsContext, body: Bytes) -> Result<Reply, ApsError> {
    let value = parse_body(&body)?;
    let checked = RegistrationRequest::from_value(&value)
        .map_err(ApsError::from)
        .and_then(|r| validate(&r).map_err(ApsError::from));
    let (request_id, registration, refusal) = match (checked, readable_request_id(&value)) {
        (Ok(mut r), _) => {
            flag_invisible_characters(&mut r, &value);
            (r.registration_request_id.clone(), Some(r), None)
        }
        // A bound id is answered whatever its repeat carries: look it up before refusing.
        (Err(e), Some(id)) => (id.to_owned(), None, Some(e)),
        (Err(e), None) => return Err(e),
    };
    tracing::Span::current().record("registration_request_id", request_id.as_str());

    let candidate = Candidate {
        request_id: request_id.clone(),
        client_id: ctx.client_id.clone(),
        fingerprint: canonical::fingerprint(&value).to_vec(),
        body: value,
        // parse_body accepted these bytes as JSON, so they are UTF-8.
        raw_request: String::from_utf8_lossy(&body).into_owned(),
        registration,
        mode: ctx.approval_mode,
    };
    let policy = ctx.notify_policy.clone();
    let outcome = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        intake(conn, &candidate, &policy)
    })
    .await?;
    match outcome {
        Intake::Bound(reply) => {
            if reply.code == ResultCode::Success {
                ctx.notifier_wake.notify_one();
            }
            Ok(reply)
        }
        Intake::Repeat { reply, differing } => {
            ctx.metrics.registration_repeats.inc();
            if !differing.is_empty() {
                ctx.metrics.registration_repeat_mismatches.inc();
                // Field paths only: the values are merchant data.
                tracing::warn!(
                    registration_request_id = %request_id,
                    differing_fields = %differing.join(", "),
                    "repeat of a bound registrationRequestId with a different body: answered as bound, nothing changed"
                );
            }
            Ok(reply)
        }
        // Only an invalid body leaves its id unbound.
        Intake::Unbound => Err(refusal.unwrap_or(ApsError::BodyUnreadable)),
    }
}

fn intake(
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
            Admission::Admit => match accept(conn, c, registration, policy)? {
                (Accepted::Stored(_), reply) => return Ok(Intake::Bound(reply)),
                // Someone else got there first: look again at what they committed.
                (Accepted::IdTaken | Accepted::KeyTaken, _) => continue,
            },
        };
        let (binding, reply) = c.binding(registration, refused);
        if requests::insert_refused(conn, &binding)? {
            return Ok(Intake::Bound(reply));
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
    policy: &NotifyPolicy,
) -> Result<(Accepted, Reply), DbError> {
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
    let (binding, reply) = c.binding(r, code);
    let registration = NewRegistration {
        status: status.as_str(),
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
    };
    let merchant_url = r
        .registration_notify_url
        .as_deref()
        .filter(|_| status.is_final());
    let Some(url) = merchant_url else {
        return Ok((
            requests::insert_accepted(conn, &binding, &registration)?,
            reply,
        ));
    };
    let mut accepted = Accepted::IdTaken;
    let committed = conn.transaction(|conn| {
        accepted = requests::insert_accepted(conn, &binding, &registration)?;
        let Accepted::Stored(id) = accepted else {
            return Err(DieselError::RollbackTransaction);
        };
        let facts = DecidedRegistration {
            registration_request_id: &c.request_id,
            reference_merchant_id: &r.reference_merchant_id,
            status,
            reason: None,
            reject_code: None,
        };
        notifications::enqueue_for_decision(conn, id, &facts, false, Some(url), policy)
    });
    match committed {
        Ok(_) | Err(DieselError::RollbackTransaction) => Ok((accepted, reply)),
        Err(e) => Err(e.into()),
    }
}

/// A bound id answers with what it was bound to. A body that differs from
/// the bound one changes nothing and is recorded where people will see it.
fn repeat(conn: &mut PgConnection, c: &Candidate, stored: StoredAnswer) -> Result<Intake, DbError> {
    let code = ResultCode::parse(&stored.result_code).ok_or_else(|| {
        DbError::Worker(format!(
            "stored result code {:?} is not one we answer",
            stored.result_code
        ))
    })?;
    let reply = Reply {
        code,
        body: stored.response_body.into_bytes(),
    };
    if stored.request_fingerprint == c.fingerprint {
        return Ok(Intake::Repeat {
            reply,
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
    Ok(Intake::Repeat { reply, differing })
}

impl Candidate {
    /// The binding of this (valid) request to the answer `code`, and that answer.
    fn binding(&self, r: &Registration, code: ResultCode) -> (NewRequest, Reply) {
        let body = ResultBody::new(code, code.default_message()).to_bytes();
        let binding = NewRequest {
            registration_request_id: self.request_id.clone(),
            client_id: self.client_id.clone(),
            reference_merchant_id: r.reference_merchant_id.clone(),
            reference_store_id: r.reference_store_id.clone(),
            raw_request: self.raw_request.clone(),
            request_fingerprint: self.fingerprint.clone(),
            result_code: code.as_str().to_owned(),
            // The answer body is JSON of our own making: UTF-8.
            response_body: String::from_utf8_lossy(&body).into_owned(),
        };
        (binding, Reply { code, body })
    }
}
