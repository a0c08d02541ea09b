//! The Alipay+ wire protocol: message shapes, result codes, canonical JSON and
//! RSA256 signatures. Nothing here knows about HTTP frameworks or storage.

pub mod canonical;
pub mod inquiry;
pub mod json;
pub mod keys;
pub mod limits;
pub mod notify;
pub mod registration;
pub mod result;
pub mod signature;
pub mod time;

pub use time::now_timestamp;

/// Paths of the APIs this server answers.
pub mod paths {
    pub const REGISTRATION: &str = "/aps/api/v1/merchants/registration";
    pub const INQUIRY: &str = "/aps/api/v1/merchants/inquiryRegistrationStatus";
    pub const INQUIRY_ANTOM: &str = "/ams/api/v1/merchants/inquiryRegistrationStatus";
    pub const NOTIFY_REGISTRATION_STATUS: &str = "/aps/api/v1/merchants/notifyRegistrationStatus";
}
