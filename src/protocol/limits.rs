//! The longest value, in characters, of each text field of the wire
//! messages (seed 001 and the protocol reference). Written once here: the
//! validators enforce these and `/openapi.json` states them.

pub const REQUEST_ID: usize = 64;
pub const MERCHANT_ID: usize = 64;
pub const STORE_ID: usize = 32;
pub const URL: usize = 2048;
pub const PASS_THROUGH_INFO: usize = 20000;
pub const DISPLAY_NAME: usize = 64;
pub const MCC: usize = 32;
pub const LOGO_NAME: usize = 64;
pub const WEBSITE_NAME: usize = 256;
pub const WEBSITE_DESC: usize = 256;
pub const WEBSITE_TYPE: usize = 32;
pub const LEGAL_NAME: usize = 256;
pub const REGISTRATION_TYPE: usize = 64;
pub const REGISTRATION_NO: usize = 64;
pub const BUSINESS_TYPE: usize = 32;
pub const DATE: usize = 64;
pub const ATTACHMENT_TYPE: usize = 32;
pub const ATTACHMENT_FILE: usize = 1024;
pub const ATTACHMENT_NAME: usize = 128;
pub const FILE_KEY: usize = 256;
pub const CONTACT_NO: usize = 64;
pub const CONTACT_TYPE: usize = 32;
/// An ISO 3166-1 alpha-2 code: exactly this long.
pub const REGION: usize = 2;
pub const STATE: usize = 8;
pub const CITY: usize = 32;
pub const ADDRESS_LINE: usize = 256;
pub const ZIP_CODE: usize = 32;
pub const COUNTRY: usize = 64;
pub const ADDRESS_LABEL: usize = 64;
pub const STORE_NAME: usize = 256;
pub const CONTACT_FULL_NAME: usize = 128;
pub const IDENTIFICATION_ID: usize = 64;
pub const STORE_TERMINAL_ID: usize = 64;
pub const STORE_OPERATOR_ID: usize = 64;
pub const STORE_PHONE_NO: usize = 64;
/// `registrationStatus` in `notifyRegistrationStatus`.
pub const REGISTRATION_STATUS: usize = 32;
/// `rejectionReason` in `notifyRegistrationStatus`.
pub const REJECTION_REASON: usize = 1024;
