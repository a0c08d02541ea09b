//! `registration`: reads and validates one request, hands it to the intake
//! workflow (see `workflow::intake`), and answers what it bound.

use actix_web::web::Bytes;

use super::ApsContext;
use super::error::{ApsError, Reply};
use crate::db;
use crate::domain::registration::{flag_invisible_characters, readable_request_id, validate};
use crate::domain::rules::ActionKind;
use crate::metrics::RuleLabel;
use crate::protocol::canonical;
use crate::protocol::registration::{RegistrationRequest, parse_body};
use crate::protocol::result::ResultCode;
use crate::workflow::intake::{Answer, Candidate, Intake, intake};
use crate::workflow::triage::RuleDecision;

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
        triage: ctx.triage.clone(),
        groups: ctx.intake_groups.clone(),
    };
    let policy = ctx.notify_policy.clone();
    let outcome = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        intake(conn, &candidate, &policy)
    })
    .await?;
    match outcome {
        Intake::Bound(Answer { code, body }, rule) => {
            // A decision at intake may have queued notifications (a rule's
            // rejection is answered REGISTRATION_IN_PROCESS). A wake costs the
            // notifier a query, so a registration left for review makes none.
            let rejected = rule
                .as_ref()
                .is_some_and(|d| d.action == ActionKind::Reject);
            if code == ResultCode::Success || rejected {
                ctx.notifier_wake.notify_one();
            }
            if let Some(RuleDecision { rule, action }) = rule {
                ctx.metrics
                    .rule_decisions
                    .get_or_create(&RuleLabel {
                        rule: rule.clone(),
                        action: action.as_str().to_owned(),
                    })
                    .inc();
                // On the request's own log line: a line more per registration
                // would cost a tenth of the throughput.
                let span = tracing::Span::current();
                span.record("triage_rule", rule.as_str());
                span.record("triage_action", action.as_str());
            }
            Ok(Reply { code, body })
        }
        Intake::Repeat {
            answer: Answer { code, body },
            differing,
        } => {
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
            Ok(Reply { code, body })
        }
        // Only an invalid body leaves its id unbound.
        Intake::Unbound => Err(refusal.unwrap_or(ApsError::BodyUnreadable)),
    }
}
