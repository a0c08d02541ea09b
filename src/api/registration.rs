//! `registration`: validate, then admit, replay or refuse, atomically on the
//! request id (the unique index is the idempotency lock).

use actix_web::web::Bytes;
use diesel::pg::PgConnection;

use super::ApsContext;
use super::aps::{ApsError, Reply};
use diesel::Connection as _;

use crate::db::notifications;
use crate::db::registrations::{self as store, NewRegistration, StoredAnswer};
use crate::db::{self, DbError};
use crate::domain::admission::{Admission, admit};
use crate::domain::notification::{DecidedRegistration, NotifyPolicy};
use crate::domain::registration::{content_fingerprint, validate};
use crate::domain::status::RegistrationStatus;
use crate::domain::{AUTO_REVIEWER, ApprovalMode};
use crate::protocol::canonical;
use crate::protocol::registration::{RegistrationRequest, parse_body};
use crate::protocol::result::{ResultBody, ResultCode};

/// How the intake of one request ended.
enum Intake {
    /// Stored now, or stored earlier with the same body: answer what is stored.
    Answer(StoredAnswer),
    Inconsistent,
    UnderReview,
    Repeat,
}

pub async fn register(ctx: &ApsContext, body: Bytes) -> Result<Reply, ApsError> {
    let value = parse_body(&body)?;
    let registration = validate(&RegistrationRequest::from_value(&value)?)?;
    tracing::Span::current().record(
        "registration_request_id",
        registration.registration_request_id.as_str(),
    );

    let (status, code, decided_at, decided_by) = match ctx.approval_mode {
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
    let answer = ResultBody::new(code, code.default_message());
    let new = NewRegistration {
        request_fingerprint: canonical::fingerprint(&value).to_vec(),
        content_fingerprint: content_fingerprint(&value, &registration.product_codes).to_vec(),
        registration_request_id: registration.registration_request_id,
        client_id: ctx.client_id.clone(),
        status: status.as_str().to_owned(),
        reference_merchant_id: registration.reference_merchant_id,
        reference_store_id: registration.reference_store_id,
        product_codes: registration
            .product_codes
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect(),
        merchant_name: registration.merchant_name,
        legal_name: registration.legal_name,
        merchant_mcc: registration.merchant_mcc,
        region: registration.region,
        registration_notify_url: registration.registration_notify_url,
        review_flags: registration.review_flags,
        // parse_body accepted these bytes as JSON, so they are UTF-8.
        raw_request: String::from_utf8_lossy(&body).into_owned(),
        result_code: code.as_str().to_owned(),
        response_body: String::from_utf8_lossy(&answer.to_bytes()).into_owned(),
        decided_at,
        decided_by,
    };

    let policy = ctx.notify_policy.clone();
    let outcome = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        intake(conn, &new, &policy)
    })
    .await?;
    if matches!(outcome, Intake::Answer(_)) && ctx.approval_mode == ApprovalMode::Auto {
        ctx.notifier_wake.notify_one();
    }
    match outcome {
        Intake::Answer(stored) => {
            let code = ResultCode::parse(&stored.result_code).ok_or_else(|| {
                DbError::Worker(format!(
                    "stored result code {:?} is not one we answer",
                    stored.result_code
                ))
            })?;
            Ok(Reply {
                code,
                body: stored.response_body.into_bytes(),
            })
        }
        Intake::Inconsistent => Err(ApsError::RequestInconsistent),
        Intake::UnderReview => Err(ApsError::UnderReview),
        Intake::Repeat => Err(ApsError::RepeatRegistration),
    }
}

/// One round trip to learn what is known, at most one insert, and one more
/// read only when a concurrent request won the race for the same key.
fn intake(
    conn: &mut PgConnection,
    new: &NewRegistration,
    policy: &NotifyPolicy,
) -> Result<Intake, DbError> {
    let known = store::find_intake_context(conn, new)?;
    if let Some(existing) = known.existing {
        return Ok(replay_or_refuse(existing, &new.request_fingerprint));
    }
    match admit(&new.content_fingerprint, &known.prior) {
        Admission::UnderReview => return Ok(Intake::UnderReview),
        Admission::RepeatRegistration => return Ok(Intake::Repeat),
        Admission::Admit => {}
    }
    if insert(conn, new, policy)? {
        return Ok(Intake::Answer(StoredAnswer {
            registration_request_id: new.registration_request_id.clone(),
            request_fingerprint: new.request_fingerprint.clone(),
            result_code: new.result_code.clone(),
            response_body: new.response_body.clone(),
        }));
    }
    // The insert lost to a concurrent one: the same request id (a duplicate in
    // flight), or another request that made this merchant PENDING.
    Ok(
        match store::find_answer(conn, &new.registration_request_id)? {
            Some(existing) => replay_or_refuse(existing, &new.request_fingerprint),
            None => Intake::UnderReview,
        },
    )
}

/// Stores the registration. One approved at once (auto mode) is also decided:
/// the merchant's notification is written in the same transaction.
fn insert(
    conn: &mut PgConnection,
    new: &NewRegistration,
    policy: &NotifyPolicy,
) -> Result<bool, DbError> {
    let Some(url) = new
        .registration_notify_url
        .as_deref()
        .filter(|_| new.decided_at.is_some())
    else {
        return Ok(store::insert_registration(conn, new)?.is_some());
    };
    Ok(conn.transaction(|conn| {
        let Some(id) = store::insert_registration(conn, new)? else {
            return Ok::<_, diesel::result::Error>(false);
        };
        let facts = DecidedRegistration {
            registration_request_id: &new.registration_request_id,
            reference_merchant_id: &new.reference_merchant_id,
            status: RegistrationStatus::Approved,
            reason: None,
            reject_code: None,
        };
        notifications::enqueue_for_decision(conn, id, &facts, false, Some(url), policy)?;
        Ok(true)
    })?)
}

/// A request id is bound to the body it was accepted with, forever.
fn replay_or_refuse(existing: StoredAnswer, request_fingerprint: &[u8]) -> Intake {
    if existing.request_fingerprint == request_fingerprint {
        Intake::Answer(existing)
    } else {
        Intake::Inconsistent
    }
}
