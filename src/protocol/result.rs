//! Result codes with their documented S/F/U letters, and the `result` object.

use serde::{Deserialize, Serialize};

/// `resultStatus`: S succeeded, F failed (do not retry as is), U unknown (retry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum ResultStatus {
    S,
    F,
    U,
}

impl ResultStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ResultStatus::S => "S",
            ResultStatus::F => "F",
            ResultStatus::U => "U",
        }
    }

    /// `None` for a letter the protocol does not define.
    pub fn parse(s: &str) -> Option<ResultStatus> {
        [ResultStatus::S, ResultStatus::F, ResultStatus::U]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// Every result code this server emits or understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResultCode {
    Success,
    RegistrationInProcess,
    RegistrationUnderReview,
    RepeatRegistration,
    ParamIllegal,
    ProcessFail,
    AccessDenied,
    InvalidClient,
    InvalidSignature,
    KeyNotFound,
    MediaTypeNotAcceptable,
    MethodNotSupported,
    NoInterfaceDef,
    RequestTrafficExceedLimit,
    UnknownException,
    RecordNotFound,
    RepeatReqInconsistent,
    AbnormalRegistrationStatus,
}

impl ResultCode {
    pub const ALL: [ResultCode; 18] = [
        ResultCode::Success,
        ResultCode::RegistrationInProcess,
        ResultCode::RegistrationUnderReview,
        ResultCode::RepeatRegistration,
        ResultCode::ParamIllegal,
        ResultCode::ProcessFail,
        ResultCode::AccessDenied,
        ResultCode::InvalidClient,
        ResultCode::InvalidSignature,
        ResultCode::KeyNotFound,
        ResultCode::MediaTypeNotAcceptable,
        ResultCode::MethodNotSupported,
        ResultCode::NoInterfaceDef,
        ResultCode::RequestTrafficExceedLimit,
        ResultCode::UnknownException,
        ResultCode::RecordNotFound,
        ResultCode::RepeatReqInconsistent,
        ResultCode::AbnormalRegistrationStatus,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResultCode::Success => "SUCCESS",
            ResultCode::RegistrationInProcess => "REGISTRATION_IN_PROCESS",
            ResultCode::RegistrationUnderReview => "REGISTRATION_UNDER_REVIEW",
            ResultCode::RepeatRegistration => "REPEAT_REGISTRATION",
            ResultCode::ParamIllegal => "PARAM_ILLEGAL",
            ResultCode::ProcessFail => "PROCESS_FAIL",
            ResultCode::AccessDenied => "ACCESS_DENIED",
            ResultCode::InvalidClient => "INVALID_CLIENT",
            ResultCode::InvalidSignature => "INVALID_SIGNATURE",
            ResultCode::KeyNotFound => "KEY_NOT_FOUND",
            ResultCode::MediaTypeNotAcceptable => "MEDIA_TYPE_NOT_ACCEPTABLE",
            ResultCode::MethodNotSupported => "METHOD_NOT_SUPPORTED",
            ResultCode::NoInterfaceDef => "NO_INTERFACE_DEF",
            ResultCode::RequestTrafficExceedLimit => "REQUEST_TRAFFIC_EXCEED_LIMIT",
            ResultCode::UnknownException => "UNKNOWN_EXCEPTION",
            ResultCode::RecordNotFound => "RECORD_NOT_FOUND",
            ResultCode::RepeatReqInconsistent => "REPEAT_REQ_INCONSISTENT",
            ResultCode::AbnormalRegistrationStatus => "ABNORMAL_REGISTRATION_STATUS",
        }
    }

    /// Parses a code received from a peer. The legacy spelling
    /// `REGISTRATION_STATUS_ABNORMAL` means the same as `ABNORMAL_REGISTRATION_STATUS` (A11).
    pub fn parse(code: &str) -> Option<ResultCode> {
        if code == "REGISTRATION_STATUS_ABNORMAL" {
            return Some(ResultCode::AbnormalRegistrationStatus);
        }
        ResultCode::ALL.into_iter().find(|c| c.as_str() == code)
    }

    /// The letter we send with this code. `REQUEST_TRAFFIC_EXCEED_LIMIT` is always U (A10).
    pub fn status(self) -> ResultStatus {
        match self {
            ResultCode::Success => ResultStatus::S,
            ResultCode::RegistrationInProcess
            | ResultCode::RequestTrafficExceedLimit
            | ResultCode::UnknownException => ResultStatus::U,
            ResultCode::RegistrationUnderReview
            | ResultCode::RepeatRegistration
            | ResultCode::ParamIllegal
            | ResultCode::ProcessFail
            | ResultCode::AccessDenied
            | ResultCode::InvalidClient
            | ResultCode::InvalidSignature
            | ResultCode::KeyNotFound
            | ResultCode::MediaTypeNotAcceptable
            | ResultCode::MethodNotSupported
            | ResultCode::NoInterfaceDef
            | ResultCode::RecordNotFound
            | ResultCode::RepeatReqInconsistent
            | ResultCode::AbnormalRegistrationStatus => ResultStatus::F,
        }
    }

    /// The message we send when nothing more specific is known.
    pub fn default_message(self) -> &'static str {
        match self {
            ResultCode::Success => "success",
            ResultCode::RegistrationInProcess => "Registration received; review in progress.",
            ResultCode::RegistrationUnderReview => {
                "An earlier registration for this merchant is still under review."
            }
            ResultCode::RepeatRegistration => {
                "The merchant is already registered with identical data."
            }
            ResultCode::ParamIllegal => "Illegal parameters.",
            ResultCode::ProcessFail => "Request could not be processed.",
            ResultCode::AccessDenied => "Client not allowed to call this API.",
            ResultCode::InvalidClient => "Unknown Client-Id.",
            ResultCode::InvalidSignature => "Request signature verification failed.",
            ResultCode::KeyNotFound => "No key for this Client-Id and keyVersion.",
            ResultCode::MediaTypeNotAcceptable => {
                "Content-Type must be application/json; charset=UTF-8."
            }
            ResultCode::MethodNotSupported => "Only POST is supported.",
            ResultCode::NoInterfaceDef => "No API is defined at this path.",
            ResultCode::RequestTrafficExceedLimit => "Too many requests; retry later.",
            ResultCode::UnknownException => "Internal error; retry later.",
            ResultCode::RecordNotFound => "No registration found for the given identifiers.",
            ResultCode::RepeatReqInconsistent => {
                "The registrationRequestId was already used with a different request."
            }
            ResultCode::AbnormalRegistrationStatus => "Registration status abnormal.",
        }
    }
}

impl std::fmt::Display for ResultCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `result` object, as it travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApsResult {
    #[schemars(length(max = 64))]
    pub result_code: String,
    #[schemars(regex(pattern = "^[SFU]$"))]
    pub result_status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub result_message: Option<String>,
}

/// The longest `resultMessage` the protocol allows.
pub const MAX_RESULT_MESSAGE_CHARS: usize = 256;

impl ApsResult {
    pub fn new(code: ResultCode, message: &str) -> Self {
        ApsResult {
            result_code: code.as_str().to_owned(),
            result_status: code.status().as_str().to_owned(),
            result_message: Some(truncate_chars(message, MAX_RESULT_MESSAGE_CHARS)),
        }
    }
}

/// A response body that carries only `result` (and, for registration, an
/// optional `passThroughInfo`).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResultBody {
    pub result: ApsResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_through_info: Option<String>,
}

impl ResultBody {
    pub fn new(code: ResultCode, message: &str) -> Self {
        ResultBody {
            result: ApsResult::new(code, message),
            pass_through_info: None,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain strings into a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((idx, _)) => s[..idx].to_owned(),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_name() {
        for code in ResultCode::ALL {
            assert_eq!(ResultCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(
            ResultCode::parse("REGISTRATION_STATUS_ABNORMAL"),
            Some(ResultCode::AbnormalRegistrationStatus)
        );
    }

    #[test]
    fn body_serialises_in_documented_field_order() {
        let body = ResultBody::new(ResultCode::RegistrationInProcess, "x");
        assert_eq!(
            String::from_utf8(body.to_bytes()).unwrap_or_default(),
            r#"{"result":{"resultCode":"REGISTRATION_IN_PROCESS","resultStatus":"U","resultMessage":"x"}}"#
        );
    }

    #[test]
    fn long_messages_are_cut_to_256_characters() {
        let long = "é".repeat(300);
        let r = ApsResult::new(ResultCode::ParamIllegal, &long);
        assert_eq!(r.result_message.map(|m| m.chars().count()), Some(256));
    }
}
