//! The wallet's rules: validating registrations, admitting them, and the review
//! state machine. Pure code: no HTTP framework and no database in here.

pub mod admission;
pub mod changes;
pub mod inquiry;
pub mod notification;
pub mod registration;
pub mod review;
pub mod rules;
pub mod screening;
pub mod sign_in;
pub mod status;
pub mod text;
pub mod two_factor;
pub mod user;

/// How a valid new registration is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ApprovalMode {
    /// A reviewer decides: store PENDING, answer `REGISTRATION_IN_PROCESS`.
    Manual,
    /// Approve synchronously: store APPROVED, answer `SUCCESS`.
    Auto,
}

/// The `decided_by` of registrations approved in `auto` mode.
pub const AUTO_REVIEWER: &str = "auto";
