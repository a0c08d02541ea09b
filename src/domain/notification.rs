//! Notifications of a decision: who is told (Alipay+, the merchant), what
//! they are told, when attempts happen, and what an answer means.

use std::time::Duration;

use crate::protocol::notify::{
    MerchantNotification, NOTIFY_TYPE_REGISTRATION_RESULT, RegistrationResult,
    RegistrationStatusNotification,
};
use crate::protocol::result::{ResultCode, ResultStatus};

use super::review::RejectCode;
use super::status::RegistrationStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    Alipay,
    Merchant,
}

impl Target {
    pub const ALL: [Target; 2] = [Target::Alipay, Target::Merchant];

    pub fn as_str(self) -> &'static str {
        match self {
            Target::Alipay => "alipay",
            Target::Merchant => "merchant",
        }
    }

    pub fn parse(s: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Where a notification stands. `Pending` is the only state a worker acts
/// on; `Failed` and `Dead` wait for a person to re-drive them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationState {
    Pending,
    Delivered,
    /// Refused for good by the receiver, or never sendable (an unusable URL).
    Failed,
    /// Its retry schedule ran out.
    Dead,
}

impl NotificationState {
    pub const ALL: [NotificationState; 4] = [
        NotificationState::Pending,
        NotificationState::Delivered,
        NotificationState::Failed,
        NotificationState::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationState::Pending => "pending",
            NotificationState::Delivered => "delivered",
            NotificationState::Failed => "failed",
            NotificationState::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<NotificationState> {
        NotificationState::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Failed and dead notifications are the ones people re-drive.
    pub fn needs_a_person(self) -> bool {
        match self {
            NotificationState::Failed | NotificationState::Dead => true,
            NotificationState::Pending | NotificationState::Delivered => false,
        }
    }
}

/// How one attempt ended, as recorded with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptOutcome {
    Delivered,
    /// Not delivered; the next attempt is scheduled.
    Retry,
    /// A final refusal.
    Failed,
    /// Not delivered, and no gap is left in the schedule.
    Dead,
}

impl AttemptOutcome {
    pub const ALL: [AttemptOutcome; 4] = [
        AttemptOutcome::Delivered,
        AttemptOutcome::Retry,
        AttemptOutcome::Failed,
        AttemptOutcome::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Delivered => "delivered",
            AttemptOutcome::Retry => "retry",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<AttemptOutcome> {
        AttemptOutcome::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The notification's state once this outcome is applied.
    pub fn state(self) -> NotificationState {
        match self {
            AttemptOutcome::Delivered => NotificationState::Delivered,
            AttemptOutcome::Retry => NotificationState::Pending,
            AttemptOutcome::Failed => NotificationState::Failed,
            AttemptOutcome::Dead => NotificationState::Dead,
        }
    }
}

/// What an attempt's verdict comes to, given the target's schedule and the
/// attempts already made in this round: the outcome, and for a retry the gap
/// before the next attempt.
pub fn outcome_of(
    verdict: Verdict,
    schedule: &Schedule,
    round_attempts: u32,
) -> (AttemptOutcome, Option<Duration>) {
    match verdict {
        Verdict::Delivered => (AttemptOutcome::Delivered, None),
        Verdict::Failed => (AttemptOutcome::Failed, None),
        Verdict::Retry => match schedule.next_gap(round_attempts) {
            Some(gap) => (AttemptOutcome::Retry, Some(gap)),
            None => (AttemptOutcome::Dead, None),
        },
    }
}

macro_rules! display_as_str {
    ($($ty:ty),*) => {$(
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}

display_as_str!(Target, NotificationState, AttemptOutcome);

/// When attempts happen: the first after `initial_delay`, each retry after the
/// next gap; when the gaps run out the notification is dead.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schedule {
    pub initial_delay: Duration,
    pub retry_gaps: Vec<Duration>,
}

impl Schedule {
    /// `MPP_NOTIFY_RETRY_GAPS`: gaps after a first, immediate attempt.
    pub fn after_immediate_attempt(gaps: Vec<Duration>) -> Schedule {
        Schedule {
            initial_delay: Duration::ZERO,
            retry_gaps: gaps,
        }
    }

    /// `MPP_MERCHANT_NOTIFY_RETRY_GAPS`: Antom's list of send times, whose first
    /// entry is the delay of the first send (`0s,2m,...`: eight sends).
    pub fn from_send_gaps(gaps: &[Duration]) -> Schedule {
        match gaps.split_first() {
            Some((first, rest)) => Schedule {
                initial_delay: *first,
                retry_gaps: rest.to_vec(),
            },
            None => Schedule::default(),
        }
    }

    /// After `attempts_done` attempts of this round, the gap before the next one; `None`: no more.
    pub fn next_gap(&self, attempts_done: u32) -> Option<Duration> {
        let index = usize::try_from(attempts_done).ok()?.checked_sub(1)?;
        self.retry_gaps.get(index).copied()
    }
}

/// The facts of a decided registration that its notifications carry.
#[derive(Debug, Clone)]
pub struct DecidedRegistration<'a> {
    pub registration_request_id: &'a str,
    pub reference_merchant_id: &'a str,
    pub status: RegistrationStatus,
    pub reason: Option<&'a str>,
    pub reject_code: Option<RejectCode>,
}

/// The `rejectionReason` Alipay+ receives for a rejection with this reason:
/// the reviewer's text as written, cut to the field's limit.
pub fn rejection_reason_sent(reason: Option<&str>) -> String {
    truncate(
        reason.unwrap_or("Rejected by the wallet."),
        crate::protocol::limits::REJECTION_REASON,
    )
}

/// The body for Alipay+ (A8): APPROVED, REJECTED with its reason, or CANCELLED.
pub fn alipay_body(decided: &DecidedRegistration<'_>) -> Option<String> {
    let rejection_reason = match decided.status {
        RegistrationStatus::Pending => return None,
        RegistrationStatus::Rejected => Some(rejection_reason_sent(decided.reason)),
        RegistrationStatus::Approved | RegistrationStatus::Cancelled => None,
    };
    let body = RegistrationStatusNotification {
        reference_merchant_id: decided.reference_merchant_id.to_owned(),
        registration_request_id: decided.registration_request_id.to_owned(),
        registration_result: RegistrationResult {
            registration_status: decided.status.as_str().to_owned(),
            rejection_reason,
        },
    };
    serde_json::to_string(&body).ok()
}

/// The body for the merchant (A21): SUCCESSFUL, or FAILED with a reason code.
pub fn merchant_body(decided: &DecidedRegistration<'_>) -> Option<String> {
    let (status, code, message) = match decided.status {
        RegistrationStatus::Pending => return None,
        RegistrationStatus::Approved => ("SUCCESSFUL", None, None),
        RegistrationStatus::Rejected => {
            let code = decided
                .reject_code
                .unwrap_or(RejectCode::MissingOrIncorrectInfo);
            let message = match code {
                // Risk rules are not disclosed to the merchant.
                RejectCode::RejectForRisk => {
                    "The registration was declined by risk control.".to_owned()
                }
                RejectCode::MissingOrIncorrectInfo | RejectCode::Other => truncate(
                    decided
                        .reason
                        .unwrap_or("The registration data is incomplete or incorrect."),
                    256,
                ),
            };
            ("FAILED", Some(code.as_str()), Some(message))
        }
        RegistrationStatus::Cancelled => (
            "FAILED",
            Some("REGISTRATION_FAILED"),
            Some("Registration cancelled by the wallet.".to_owned()),
        ),
    };
    let body = MerchantNotification {
        notify_type: NOTIFY_TYPE_REGISTRATION_RESULT.to_owned(),
        reference_merchant_id: decided.reference_merchant_id.to_owned(),
        registration_request_id: decided.registration_request_id.to_owned(),
        registration_status: status.to_owned(),
        reason_code: code.map(str::to_owned),
        reason_message: message,
    };
    serde_json::to_string(&body).ok()
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// What an attempt's answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Try again after the next gap.
    Retry,
    /// A final refusal: no more attempts.
    Failed,
}

/// Alipay+'s answer, once its signature was checked (A9, A10, A11, A13):
/// only a verified S is delivery; U, rate limiting, and anything unverified
/// are retried; any other F is final.
pub fn judge_alipay_answer(
    verified: bool,
    result_status: Option<&str>,
    result_code: Option<&str>,
) -> Verdict {
    if !verified {
        return Verdict::Retry;
    }
    let code = result_code.and_then(ResultCode::parse);
    // A letter the protocol does not define is as unknown as U.
    match result_status.and_then(ResultStatus::parse) {
        Some(ResultStatus::S) => Verdict::Delivered,
        Some(ResultStatus::F) if code == Some(ResultCode::RequestTrafficExceedLimit) => {
            Verdict::Retry
        }
        Some(ResultStatus::F) => Verdict::Failed,
        Some(ResultStatus::U) | None => Verdict::Retry,
    }
}

/// The merchant's acknowledgement: HTTP 200 and `result.resultStatus` S.
pub fn judge_merchant_answer(http_ok: bool, result_status: Option<&str>) -> Verdict {
    if http_ok && result_status.and_then(ResultStatus::parse) == Some(ResultStatus::S) {
        Verdict::Delivered
    } else {
        Verdict::Retry
    }
}

/// The schedules of both targets.
#[derive(Debug, Clone, Default)]
pub struct NotifyPolicy {
    pub alipay: Schedule,
    pub merchant: Schedule,
}

impl NotifyPolicy {
    pub fn schedule(&self, target: Target) -> &Schedule {
        match target {
            Target::Alipay => &self.alipay,
            Target::Merchant => &self.merchant,
        }
    }
}

/// Why a merchant URL cannot be used at all (it is recorded as failed at once).
pub fn unusable_merchant_url(url: &str) -> Option<&'static str> {
    match url::Url::parse(url) {
        Ok(u) if u.scheme() == "https" && u.host().is_some() => None,
        Ok(_) => Some("registrationNotifyUrl is not an https URL"),
        Err(_) => Some("registrationNotifyUrl is not a URL"),
    }
}

/// Who hears of a decision (A8, A21). Alipay+ only when it was answered
/// `REGISTRATION_IN_PROCESS`: after `SUCCESS` (or a refusal) it already knows.
/// The merchant whenever it gave a `registrationNotifyUrl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipients<'a> {
    pub alipay: bool,
    pub merchant_url: Option<&'a str>,
}

pub fn recipients(answered: ResultCode, merchant_url: Option<&str>) -> Recipients<'_> {
    Recipients {
        alipay: answered == ResultCode::RegistrationInProcess,
        merchant_url,
    }
}

/// A notification to write with its decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing<'a> {
    pub target: Target,
    pub url: &'a str,
    pub body: String,
    /// `Pending`, or `Failed` at once when the URL can never be used.
    pub state: NotificationState,
    /// How long after the decision the first attempt is due.
    pub first_attempt_after: Duration,
    pub last_error: Option<&'static str>,
}

/// The notifications a decided registration causes, for its recipients.
pub fn notifications_for<'a>(
    decided: &DecidedRegistration<'_>,
    to: Recipients<'a>,
    policy: &NotifyPolicy,
) -> Vec<Outgoing<'a>> {
    let mut out = Vec::new();
    if to.alipay
        && let Some(body) = alipay_body(decided)
    {
        out.push(Outgoing {
            target: Target::Alipay,
            url: crate::protocol::paths::NOTIFY_REGISTRATION_STATUS,
            body,
            state: NotificationState::Pending,
            first_attempt_after: policy.alipay.initial_delay,
            last_error: None,
        });
    }
    if let Some(url) = to.merchant_url
        && let Some(body) = merchant_body(decided)
    {
        let unusable = unusable_merchant_url(url);
        out.push(Outgoing {
            target: Target::Merchant,
            url,
            body,
            state: match unusable {
                Some(_) => NotificationState::Failed,
                None => NotificationState::Pending,
            },
            first_attempt_after: policy.merchant.initial_delay,
            last_error: unusable,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decided(
        status: RegistrationStatus,
        reason: Option<&'static str>,
        code: Option<RejectCode>,
    ) -> DecidedRegistration<'static> {
        DecidedRegistration {
            registration_request_id: "R1",
            reference_merchant_id: "M1",
            status,
            reason,
            reject_code: code,
        }
    }

    #[test]
    fn alipay_bodies_follow_a8() {
        assert_eq!(
            alipay_body(&decided(RegistrationStatus::Approved, None, None)).unwrap(),
            r#"{"referenceMerchantId":"M1","registrationRequestId":"R1","registrationResult":{"registrationStatus":"APPROVED"}}"#
        );
        assert!(
            alipay_body(&decided(RegistrationStatus::Rejected, Some("bad"), None))
                .unwrap()
                .contains(r#""rejectionReason":"bad""#)
        );
        assert!(
            !alipay_body(&decided(RegistrationStatus::Cancelled, Some("dup"), None))
                .unwrap()
                .contains("rejectionReason")
        );
        assert!(alipay_body(&decided(RegistrationStatus::Pending, None, None)).is_none());
    }

    #[test]
    fn merchant_bodies_follow_a21() {
        let ok = merchant_body(&decided(RegistrationStatus::Approved, None, None)).unwrap();
        assert_eq!(
            ok,
            r#"{"notifyType":"REGISTRATION_RESULT","referenceMerchantId":"M1","registrationRequestId":"R1","registrationStatus":"SUCCESSFUL"}"#
        );
        let risk = merchant_body(&decided(
            RegistrationStatus::Rejected,
            Some("rule 17 hit"),
            Some(RejectCode::RejectForRisk),
        ))
        .unwrap();
        assert!(risk.contains("REJECT_FOR_RISK") && !risk.contains("rule 17"));
        let info = merchant_body(&decided(
            RegistrationStatus::Rejected,
            Some("no licence"),
            Some(RejectCode::MissingOrIncorrectInfo),
        ))
        .unwrap();
        assert!(
            info.contains(
                r#""reasonCode":"MISSING_OR_INCORRECT_INFO","reasonMessage":"no licence""#
            )
        );
        let cancelled = merchant_body(&decided(RegistrationStatus::Cancelled, None, None)).unwrap();
        assert!(
            cancelled
                .contains(r#""registrationStatus":"FAILED","reasonCode":"REGISTRATION_FAILED""#)
        );
    }

    #[test]
    fn schedules_count_attempts() {
        let s = Schedule::after_immediate_attempt(vec![
            Duration::from_secs(120),
            Duration::from_secs(600),
        ]);
        assert_eq!(s.initial_delay, Duration::ZERO);
        assert_eq!(s.next_gap(1), Some(Duration::from_secs(120)));
        assert_eq!(s.next_gap(2), Some(Duration::from_secs(600)));
        assert_eq!(s.next_gap(3), None);
        let m = Schedule::from_send_gaps(&[Duration::ZERO, Duration::from_secs(120)]);
        assert_eq!(
            (m.initial_delay, m.next_gap(1), m.next_gap(2)),
            (Duration::ZERO, Some(Duration::from_secs(120)), None)
        );
    }

    #[test]
    fn answers_are_judged_as_documented() {
        use Verdict::*;
        assert_eq!(
            judge_alipay_answer(true, Some("S"), Some("SUCCESS")),
            Delivered
        );
        assert_eq!(
            judge_alipay_answer(false, Some("S"), Some("SUCCESS")),
            Retry,
            "an unverified S is not delivery"
        );
        assert_eq!(
            judge_alipay_answer(true, Some("U"), Some("UNKNOWN_EXCEPTION")),
            Retry
        );
        assert_eq!(
            judge_alipay_answer(true, Some("F"), Some("REQUEST_TRAFFIC_EXCEED_LIMIT")),
            Retry
        );
        assert_eq!(
            judge_alipay_answer(true, Some("F"), Some("ABNORMAL_REGISTRATION_STATUS")),
            Failed
        );
        assert_eq!(
            judge_alipay_answer(true, Some("F"), Some("REGISTRATION_STATUS_ABNORMAL")),
            Failed
        );
        assert_eq!(judge_alipay_answer(true, Some("A"), None), Retry);
        assert_eq!(judge_alipay_answer(true, None, None), Retry);
        assert_eq!(judge_merchant_answer(true, Some("S")), Delivered);
        assert_eq!(judge_merchant_answer(false, Some("S")), Retry);
        assert_eq!(judge_merchant_answer(true, Some("F")), Retry);
    }

    fn approved() -> DecidedRegistration<'static> {
        decided(RegistrationStatus::Approved, None, None)
    }

    #[test]
    fn alipay_hears_of_a_decision_only_after_in_process() {
        let policy = NotifyPolicy::default();
        let targets = |answered, url| -> Vec<Target> {
            notifications_for(&approved(), recipients(answered, url), &policy)
                .iter()
                .map(|n| n.target)
                .collect()
        };
        assert_eq!(
            targets(ResultCode::RegistrationInProcess, None),
            [Target::Alipay]
        );
        assert_eq!(
            targets(
                ResultCode::RegistrationInProcess,
                Some("https://m.example/n")
            ),
            [Target::Alipay, Target::Merchant]
        );
        assert_eq!(
            targets(ResultCode::Success, Some("https://m.example/n")),
            [Target::Merchant]
        );
        assert!(targets(ResultCode::Success, None).is_empty());
    }

    #[test]
    fn an_unusable_merchant_url_is_failed_at_once_and_pending_has_no_notification() {
        let policy = NotifyPolicy {
            merchant: Schedule::from_send_gaps(&[Duration::from_secs(5)]),
            ..NotifyPolicy::default()
        };
        let out = notifications_for(
            &approved(),
            recipients(ResultCode::Success, Some("http://plain.example/n")),
            &policy,
        );
        assert_eq!(out[0].state, NotificationState::Failed);
        assert_eq!(out[0].first_attempt_after, Duration::from_secs(5));
        assert!(out[0].last_error.is_some());
        let pending = decided(RegistrationStatus::Pending, None, None);
        assert!(
            notifications_for(
                &pending,
                recipients(
                    ResultCode::RegistrationInProcess,
                    Some("https://m.example/n")
                ),
                &policy
            )
            .is_empty()
        );
    }

    #[test]
    fn an_attempt_outcome_follows_the_verdict_and_the_schedule() {
        let s = Schedule::after_immediate_attempt(vec![Duration::from_secs(1)]);
        assert_eq!(
            outcome_of(Verdict::Retry, &s, 1),
            (AttemptOutcome::Retry, Some(Duration::from_secs(1)))
        );
        assert_eq!(
            outcome_of(Verdict::Retry, &s, 2),
            (AttemptOutcome::Dead, None)
        );
        assert_eq!(
            outcome_of(Verdict::Failed, &s, 1),
            (AttemptOutcome::Failed, None)
        );
        assert_eq!(
            outcome_of(Verdict::Delivered, &s, 9),
            (AttemptOutcome::Delivered, None)
        );
        for outcome in AttemptOutcome::ALL {
            assert_eq!(AttemptOutcome::parse(outcome.as_str()), Some(outcome));
        }
        assert_eq!(AttemptOutcome::Retry.state(), NotificationState::Pending);
    }
}
