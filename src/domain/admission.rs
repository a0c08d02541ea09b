//! Whether a new registration request for a merchant is admitted (resolution
//! A3, simplified to one registration key per merchant and store):
//! a PENDING registration blocks new ones; an identical copy of the merchant's
//! current APPROVED registration is a repeat; anything else is admitted as a
//! new registration or an update.

use chrono::{DateTime, Utc};

use super::status::RegistrationStatus;

/// What the database knows about one of the merchant's earlier registrations.
#[derive(Debug, Clone)]
pub struct PriorRegistration {
    pub status: RegistrationStatus,
    pub content_fingerprint: Vec<u8>,
    pub decided_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admit,
    UnderReview,
    RepeatRegistration,
}

/// Decides on a request whose merchant data and products fingerprint to
/// `content_fingerprint`, given the merchant's earlier registrations.
pub fn admit(content_fingerprint: &[u8], prior: &[PriorRegistration]) -> Admission {
    if prior
        .iter()
        .any(|p| p.status == RegistrationStatus::Pending)
    {
        return Admission::UnderReview;
    }
    let current_approved = prior
        .iter()
        .filter(|p| p.status == RegistrationStatus::Approved)
        .max_by_key(|p| p.decided_at);
    match current_approved {
        Some(current) if current.content_fingerprint == content_fingerprint => {
            Admission::RepeatRegistration
        }
        _ => Admission::Admit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn prior(status: RegistrationStatus, fp: u8, decided_secs: Option<i64>) -> PriorRegistration {
        PriorRegistration {
            status,
            content_fingerprint: vec![fp],
            decided_at: decided_secs.and_then(|s| Utc.timestamp_opt(s, 0).single()),
        }
    }

    #[test]
    fn a_new_merchant_is_admitted() {
        assert_eq!(admit(&[1], &[]), Admission::Admit);
    }

    #[test]
    fn a_pending_registration_blocks_the_merchant() {
        let p = [prior(RegistrationStatus::Pending, 9, None)];
        assert_eq!(admit(&[1], &p), Admission::UnderReview);
    }

    #[test]
    fn identical_to_current_approved_is_a_repeat_but_a_change_is_an_update() {
        let p = [
            prior(RegistrationStatus::Approved, 1, Some(10)),
            prior(RegistrationStatus::Approved, 2, Some(20)),
        ];
        assert_eq!(admit(&[2], &p), Admission::RepeatRegistration);
        // Same as an older, superseded approval: that is a change of the current one.
        assert_eq!(admit(&[1], &p), Admission::Admit);
    }

    #[test]
    fn rejected_and_cancelled_do_not_block() {
        let p = [
            prior(RegistrationStatus::Rejected, 1, Some(1)),
            prior(RegistrationStatus::Cancelled, 1, Some(2)),
        ];
        assert_eq!(admit(&[1], &p), Admission::Admit);
    }
}
