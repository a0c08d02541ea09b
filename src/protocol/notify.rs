//! Wire types of the notifications we send: `notifyRegistrationStatus` to
//! Alipay+ and the Antom-shaped `notifyRegistration` to the merchant, and the
//! `result` of the answers we get back.

use serde::{Deserialize, Serialize};

/// The body of `notifyRegistrationStatus` (wallet → Alipay+).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationStatusNotification {
    pub reference_merchant_id: String,
    pub registration_request_id: String,
    pub registration_result: RegistrationResult,
}

/// The per-MPP `registrationResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationResult {
    pub registration_status: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "rejectReasons"
    )]
    pub rejection_reason: Option<String>,
}

/// The body of `notifyRegistration` (wallet → merchant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MerchantNotification {
    pub notify_type: String,
    pub reference_merchant_id: String,
    pub registration_request_id: String,
    pub registration_status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_message: Option<String>,
}

pub const NOTIFY_TYPE_REGISTRATION_RESULT: &str = "REGISTRATION_RESULT";

/// The `result` of a peer's answer, read leniently: any shape that is not a
/// JSON object with `result.resultStatus` reads as `None`.
pub fn read_result(body: &[u8]) -> Option<super::result::ApsResult> {
    #[derive(Deserialize)]
    struct Envelope {
        result: super::result::ApsResult,
    }
    serde_json::from_slice::<Envelope>(body)
        .ok()
        .map(|e| e.result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_match_the_documented_samples() {
        let approved = RegistrationStatusNotification {
            reference_merchant_id: "2188120000190001".into(),
            registration_request_id: "2024052811058602000006001420001".into(),
            registration_result: RegistrationResult {
                registration_status: "APPROVED".into(),
                rejection_reason: None,
            },
        };
        assert_eq!(
            serde_json::to_value(&approved).unwrap(),
            serde_json::json!({"referenceMerchantId": "2188120000190001",
                "registrationRequestId": "2024052811058602000006001420001",
                "registrationResult": {"registrationStatus": "APPROVED"}})
        );
        let legacy: RegistrationResult =
            serde_json::from_str(r#"{"registrationStatus":"REJECTED","rejectReasons":"x"}"#)
                .unwrap();
        assert_eq!(legacy.rejection_reason.as_deref(), Some("x"));
    }

    #[test]
    fn results_are_read_leniently() {
        assert_eq!(
            read_result(br#"{"result":{"resultCode":"SUCCESS","resultStatus":"S"}}"#)
                .map(|r| r.result_status),
            Some("S".into())
        );
        assert!(read_result(b"<html>").is_none());
        assert!(read_result(br#"{"result":"S"}"#).is_none());
    }
}
