//! The use cases, each one function that composes the domain's pure rules
//! with the database writes they call for, in one transaction: the intake of
//! a registration request, and a decision with the notifications it causes.
//! The HTTP layers call these; nothing here knows about HTTP.

pub mod decision;
pub mod intake;
pub mod triage;
