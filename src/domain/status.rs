//! Registration review states. PENDING is the only state that can change; the
//! other three are final.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegistrationStatus {
    Pending,
    Approved,
    Rejected,
    Cancelled,
}

impl RegistrationStatus {
    pub const ALL: [RegistrationStatus; 4] = [
        RegistrationStatus::Pending,
        RegistrationStatus::Approved,
        RegistrationStatus::Rejected,
        RegistrationStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationStatus::Pending => "PENDING",
            RegistrationStatus::Approved => "APPROVED",
            RegistrationStatus::Rejected => "REJECTED",
            RegistrationStatus::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(s: &str) -> Option<RegistrationStatus> {
        RegistrationStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        match self {
            RegistrationStatus::Pending => false,
            RegistrationStatus::Approved
            | RegistrationStatus::Rejected
            | RegistrationStatus::Cancelled => true,
        }
    }
}

impl std::fmt::Display for RegistrationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
