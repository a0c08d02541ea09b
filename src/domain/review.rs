//! The review state machine: PENDING → APPROVED | REJECTED | CANCELLED, the
//! three final. The database enforces the same rule with a trigger; this is
//! the rule the application asks first, with the reasons it needs.

use super::status::RegistrationStatus;

/// The longest reason a reviewer may give (Alipay+'s `rejectionReason` limit).
pub const MAX_REASON_CHARS: usize = 1024;

/// Why a merchant was rejected, as the merchant notification reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectCode {
    MissingOrIncorrectInfo,
    RejectForRisk,
    /// Any other reason (the merchant's `REGISTRATION_FAILED`).
    Other,
}

impl RejectCode {
    pub const ALL: [RejectCode; 3] = [
        RejectCode::MissingOrIncorrectInfo,
        RejectCode::RejectForRisk,
        RejectCode::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::MissingOrIncorrectInfo => "MISSING_OR_INCORRECT_INFO",
            RejectCode::RejectForRisk => "REJECT_FOR_RISK",
            RejectCode::Other => "REGISTRATION_FAILED",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RejectCode::MissingOrIncorrectInfo => "Missing or incorrect information",
            RejectCode::RejectForRisk => "Rejected for risk",
            RejectCode::Other => "Other",
        }
    }

    pub fn parse(s: &str) -> Option<RejectCode> {
        RejectCode::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// The longest internal note.
pub const MAX_NOTE_CHARS: usize = 4000;

/// An internal note as typed, trimmed; `None` when it is empty, too long or
/// holds control characters other than line breaks and tabs.
pub fn valid_note(text: &str) -> Option<&str> {
    let text = text.trim();
    let ok = !text.is_empty()
        && text.chars().count() <= MAX_NOTE_CHARS
        && !text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t');
    ok.then_some(text)
}

/// The review flag a `four_eyes` triage rule adds: every decision on the
/// registration needs a second reviewer, whatever `MPP_FOUR_EYES` says.
pub const FOUR_EYES_FLAG: &str = "four_eyes";

/// A review flag's name: its text before the first ": " (the rest says why).
pub fn flag_name(flag: &str) -> &str {
    flag.split_once(": ").map_or(flag, |(name, _)| name)
}

/// `MPP_FOUR_EYES`: which decisions need a second reviewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FourEyes {
    /// One reviewer decides.
    #[default]
    Off,
    /// Registrations with review flags, and every rejection for risk.
    Risk,
    /// Every decision.
    All,
}

impl FourEyes {
    /// Whether `decision` on a registration with these review flags is only
    /// proposed by the first reviewer, for a second to approve.
    pub fn applies(self, decision: &Decision, review_flags: &[String]) -> bool {
        self.applies_to_any_decision(review_flags)
            || (self == FourEyes::Risk && decision.reject_code() == Some(RejectCode::RejectForRisk))
    }

    /// Whether every decision on a registration with these review flags
    /// needs a second reviewer, whatever it is.
    pub fn applies_to_any_decision(self, review_flags: &[String]) -> bool {
        if review_flags.iter().any(|f| flag_name(f) == FOUR_EYES_FLAG) {
            return true;
        }
        match self {
            FourEyes::Off => false,
            FourEyes::All => true,
            FourEyes::Risk => !review_flags.is_empty(),
        }
    }
}

/// What a reviewer decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject { code: RejectCode, reason: String },
    Cancel { reason: Option<String> },
}

impl Decision {
    /// Builds a decision from a form: the action, the reason text, and the
    /// rejection category. Reject needs a reason and a category (there is no
    /// default: a reviewer names it); Cancel's reason is optional.
    pub fn from_form(
        action: &str,
        reason: Option<&str>,
        code: Option<&str>,
    ) -> Result<Decision, DecisionError> {
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if let Some(r) = reason {
            if r.chars().count() > MAX_REASON_CHARS {
                return Err(DecisionError::ReasonTooLong);
            }
            if r.chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
            {
                return Err(DecisionError::ReasonHasControlCharacters);
            }
        }
        match action {
            "approve" => Ok(Decision::Approve),
            "reject" => {
                let code = code
                    .and_then(RejectCode::parse)
                    .ok_or(DecisionError::CategoryRequired)?;
                let reason = reason.ok_or(DecisionError::ReasonRequired)?.to_owned();
                Ok(Decision::Reject { code, reason })
            }
            "cancel" => Ok(Decision::Cancel {
                reason: reason.map(str::to_owned),
            }),
            _ => Err(DecisionError::UnknownAction),
        }
    }

    /// The decision a stored proposal stands for.
    pub fn from_parts(
        target: RegistrationStatus,
        reason: Option<String>,
        code: Option<RejectCode>,
    ) -> Option<Decision> {
        Some(match target {
            RegistrationStatus::Approved => Decision::Approve,
            RegistrationStatus::Rejected => Decision::Reject {
                code: code?,
                reason: reason?,
            },
            RegistrationStatus::Cancelled => Decision::Cancel { reason },
            RegistrationStatus::Pending => return None,
        })
    }

    pub fn target(&self) -> RegistrationStatus {
        match self {
            Decision::Approve => RegistrationStatus::Approved,
            Decision::Reject { .. } => RegistrationStatus::Rejected,
            Decision::Cancel { .. } => RegistrationStatus::Cancelled,
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Decision::Approve => None,
            Decision::Reject { reason, .. } => Some(reason),
            Decision::Cancel { reason } => reason.as_deref(),
        }
    }

    pub fn reject_code(&self) -> Option<RejectCode> {
        match self {
            Decision::Reject { code, .. } => Some(*code),
            Decision::Approve | Decision::Cancel { .. } => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    #[error("a rejection needs a reason")]
    ReasonRequired,
    #[error("a rejection needs a category")]
    CategoryRequired,
    #[error("the reason is longer than 1024 characters")]
    ReasonTooLong,
    #[error("the reason contains control characters")]
    ReasonHasControlCharacters,
    #[error("unknown decision")]
    UnknownAction,
}

/// The one transition rule: only PENDING may change, and only to a final state.
pub fn transition(
    from: RegistrationStatus,
    to: RegistrationStatus,
) -> Result<RegistrationStatus, IllegalTransition> {
    use RegistrationStatus::*;
    match (from, to) {
        (Pending, Approved | Rejected | Cancelled) => Ok(to),
        (Pending, Pending) | (Approved | Rejected | Cancelled, _) => {
            Err(IllegalTransition { from, to })
        }
    }
}

/// The states from which `to` may be reached: what a guarded write lets
/// change (for a decision: PENDING only).
pub fn may_become(to: RegistrationStatus) -> Vec<RegistrationStatus> {
    RegistrationStatus::ALL
        .into_iter()
        .filter(|from| transition(*from, to).is_ok())
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{from} cannot become {to}")]
pub struct IllegalTransition {
    pub from: RegistrationStatus,
    pub to: RegistrationStatus,
}

#[cfg(test)]
mod tests {
    use super::*;
    use RegistrationStatus::*;

    #[test]
    fn transition_table_is_exhaustive() {
        for from in RegistrationStatus::ALL {
            for to in RegistrationStatus::ALL {
                let allowed = from == Pending && to != Pending;
                assert_eq!(transition(from, to).is_ok(), allowed, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn only_pending_may_become_a_final_state() {
        for to in [Approved, Rejected, Cancelled] {
            assert_eq!(may_become(to), [Pending]);
        }
        assert!(may_become(Pending).is_empty());
    }

    #[test]
    fn reject_needs_a_reason_and_cancel_does_not() {
        assert_eq!(
            Decision::from_form("reject", Some("  "), Some("REGISTRATION_FAILED")),
            Err(DecisionError::ReasonRequired)
        );
        // The category has no default: a reviewer must name it.
        assert_eq!(
            Decision::from_form("reject", Some("no licence"), None),
            Err(DecisionError::CategoryRequired)
        );
        assert_eq!(
            Decision::from_form("reject", Some("no licence"), Some("")),
            Err(DecisionError::CategoryRequired)
        );
        assert_eq!(
            Decision::from_form("reject", Some("no licence"), Some("REJECT_FOR_RISK")),
            Ok(Decision::Reject {
                code: RejectCode::RejectForRisk,
                reason: "no licence".into()
            })
        );
        assert_eq!(
            Decision::from_form("cancel", None, None),
            Ok(Decision::Cancel { reason: None })
        );
        assert_eq!(
            Decision::from_form("approve", Some("ignored"), None),
            Ok(Decision::Approve)
        );
        assert_eq!(
            Decision::from_form("delete", None, None),
            Err(DecisionError::UnknownAction)
        );
    }

    #[test]
    fn four_eyes_applies_by_policy() {
        let risk = Decision::Reject {
            code: RejectCode::RejectForRisk,
            reason: "r".into(),
        };
        let flags = vec!["storeInfo.storeName: missing".to_owned()];
        assert!(!FourEyes::Off.applies(&risk, &flags));
        assert!(FourEyes::All.applies(&Decision::Approve, &[]));
        assert!(FourEyes::Risk.applies(&risk, &[]));
        assert!(FourEyes::Risk.applies(&Decision::Approve, &flags));
        assert!(!FourEyes::Risk.applies(&Decision::Approve, &[]));
        assert!(!FourEyes::Risk.applies(&Decision::Cancel { reason: None }, &[]));
    }

    #[test]
    fn reasons_are_bounded() {
        let long = "é".repeat(1025);
        assert_eq!(
            Decision::from_form("reject", Some(&long), None),
            Err(DecisionError::ReasonTooLong)
        );
        assert!(
            Decision::from_form("reject", Some(&"é".repeat(1024)), Some("REJECT_FOR_RISK")).is_ok()
        );
        assert_eq!(
            Decision::from_form("cancel", Some("a\u{0}b"), None),
            Err(DecisionError::ReasonHasControlCharacters)
        );
    }
}
