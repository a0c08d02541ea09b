//! How an `/aps` request fails, and the one mapping from every failure to
//! the result code and message it is answered with.

use crate::db::DbError;
use crate::domain::registration::FieldError;
use crate::protocol::registration::WireError;
use crate::protocol::result::{ResultBody, ResultCode};
use crate::protocol::signature::SignatureHeaderError;
use crate::protocol::time::RequestTimeError;

/// An answer ready to sign: its result code (for logs) and the exact body bytes.
#[derive(Debug)]
pub struct Reply {
    pub code: ResultCode,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn new(code: ResultCode, message: &str) -> Reply {
        Reply {
            code,
            body: ResultBody::new(code, message).to_bytes(),
        }
    }
}

/// Every way an `/aps` request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApsError {
    #[error("method not supported")]
    MethodNotSupported,
    #[error("no interface at this path")]
    NoInterfaceDef,
    #[error("unacceptable Content-Type")]
    MediaTypeNotAcceptable,
    #[error("unknown or missing Client-Id")]
    InvalidClient,
    #[error("Request-Time: {0}")]
    RequestTime(RequestTimeError),
    #[error("bad Signature header: {0}")]
    BadSignatureHeader(#[from] SignatureHeaderError),
    #[error("no key for this keyVersion")]
    KeyNotFound,
    #[error("signature does not verify")]
    SignatureMismatch,
    #[error("body larger than {0} bytes")]
    BodyTooLarge(usize),
    #[error("body could not be read")]
    BodyUnreadable,
    #[error("{0}")]
    Param(FieldError),
    #[error("the ids of the query do not belong together")]
    IdsDoNotBelongTogether,
    #[error("no registration found")]
    RecordNotFound,
    #[error("database: {0}")]
    Database(#[from] DbError),
}

impl From<FieldError> for ApsError {
    fn from(e: FieldError) -> Self {
        ApsError::Param(e)
    }
}

impl From<WireError> for ApsError {
    fn from(e: WireError) -> Self {
        ApsError::Param(FieldError {
            path: e.path,
            problem: e.problem,
        })
    }
}

impl ApsError {
    /// The one place that decides which result code a failure gets.
    pub fn code(&self) -> ResultCode {
        match self {
            ApsError::MethodNotSupported => ResultCode::MethodNotSupported,
            ApsError::NoInterfaceDef => ResultCode::NoInterfaceDef,
            ApsError::MediaTypeNotAcceptable => ResultCode::MediaTypeNotAcceptable,
            ApsError::InvalidClient => ResultCode::InvalidClient,
            ApsError::RequestTime(_)
            | ApsError::BodyTooLarge(_)
            | ApsError::BodyUnreadable
            | ApsError::Param(_) => ResultCode::ParamIllegal,
            ApsError::BadSignatureHeader(_) | ApsError::SignatureMismatch => {
                ResultCode::InvalidSignature
            }
            ApsError::KeyNotFound => ResultCode::KeyNotFound,
            ApsError::IdsDoNotBelongTogether => ResultCode::RepeatReqInconsistent,
            ApsError::RecordNotFound => ResultCode::RecordNotFound,
            ApsError::Database(_) => ResultCode::UnknownException,
        }
    }

    /// What the caller is told. Never the cause of an internal error.
    fn message(&self) -> String {
        match self {
            ApsError::RequestTime(problem) => format!("Request-Time: {problem}"),
            ApsError::BodyTooLarge(limit) => format!("body: larger than {limit} bytes"),
            ApsError::BodyUnreadable => "body: could not be read completely".to_owned(),
            ApsError::Param(field) => field.to_string(),
            ApsError::IdsDoNotBelongTogether => {
                "registrationRequestId does not belong to the given referenceMerchantId/referenceStoreId.".to_owned()
            }
            ApsError::MethodNotSupported
            | ApsError::NoInterfaceDef
            | ApsError::MediaTypeNotAcceptable
            | ApsError::InvalidClient
            | ApsError::BadSignatureHeader(_)
            | ApsError::KeyNotFound
            | ApsError::SignatureMismatch
            | ApsError::RecordNotFound
            | ApsError::Database(_) => self.code().default_message().to_owned(),
        }
    }

    pub fn into_reply(self) -> Reply {
        match &self {
            ApsError::Database(cause) => tracing::error!(error = %cause, "database unavailable"),
            _ => tracing::info!(reason = %self, "refused"),
        }
        Reply::new(self.code(), &self.message())
    }
}
