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

/// Checks a `notifyRegistrationStatus` body (wallet → Alipay+) against the
/// protocol reference, as a strict receiver would: one JSON object naming no
/// member twice and no member the reference does not list; strings only;
/// the ids present, not blank, at most 64 characters (A5); a status of
/// APPROVED, REJECTED or CANCELLED (A8); `rejectionReason` required with
/// REJECTED, refused with APPROVED, at most 1024 characters. `null` counts
/// as absent. The error names the field and the problem.
pub fn check_status_notification(body: &[u8]) -> Result<(), String> {
    use serde_json::Value;

    fn members<'a>(
        value: &'a Value,
        path: &str,
        allowed: &[&str],
    ) -> Result<&'a serde_json::Map<String, Value>, String> {
        let map = value
            .as_object()
            .ok_or_else(|| format!("{path}: must be a JSON object"))?;
        match map.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(unexpected) => Err(format!("{path}: unexpected member {unexpected:?}")),
            None => Ok(map),
        }
    }
    fn text<'a>(
        map: &'a serde_json::Map<String, Value>,
        path: &str,
        name: &str,
        max: usize,
    ) -> Result<Option<&'a str>, String> {
        match map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => {
                Err(format!("{path}{name}: must not be empty"))
            }
            Some(Value::String(s)) if s.chars().count() > max => {
                Err(format!("{path}{name}: longer than {max} characters"))
            }
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(format!("{path}{name}: must be a string")),
        }
    }

    let super::json::Strict(value) = serde_json::from_slice(body)
        .map_err(|e| format!("body: not one JSON object naming each member once ({e})"))?;
    let top = members(
        &value,
        "body",
        &[
            "referenceMerchantId",
            "registrationRequestId",
            "registrationResult",
        ],
    )?;
    for (id, max) in [
        ("referenceMerchantId", super::limits::MERCHANT_ID),
        ("registrationRequestId", super::limits::REQUEST_ID),
    ] {
        text(top, "", id, max)?.ok_or_else(|| format!("{id}: missing"))?;
    }
    let result = match top.get("registrationResult") {
        None | Some(Value::Null) => return Err("registrationResult: missing".into()),
        Some(result) => members(
            result,
            "registrationResult",
            &["registrationStatus", "rejectionReason"],
        )?,
    };
    let status = text(
        result,
        "registrationResult.",
        "registrationStatus",
        super::limits::REGISTRATION_STATUS,
    )?
    .ok_or("registrationResult.registrationStatus: missing")?;
    let reason = text(
        result,
        "registrationResult.",
        "rejectionReason",
        super::limits::REJECTION_REASON,
    )?;
    match (status, reason) {
        ("REJECTED", None) => {
            Err("registrationResult.rejectionReason: required with REJECTED".into())
        }
        ("APPROVED", Some(_)) => {
            Err("registrationResult.rejectionReason: not allowed with APPROVED".into())
        }
        ("APPROVED" | "REJECTED" | "CANCELLED", _) => Ok(()),
        (other, _) => Err(format!(
            "registrationResult.registrationStatus: {other:?} is not APPROVED, REJECTED or CANCELLED"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_samples_conform_and_deviations_are_named() {
        for sample in [
            r#"{"referenceMerchantId":"M","registrationRequestId":"R","registrationResult":{"registrationStatus":"APPROVED"}}"#,
            r#"{"referenceMerchantId":"M","registrationRequestId":"R","registrationResult":{"registrationStatus":"REJECTED","rejectionReason":"why"}}"#,
            r#"{"referenceMerchantId":"M","registrationRequestId":"R","registrationResult":{"registrationStatus":"CANCELLED"}}"#,
        ] {
            assert_eq!(
                check_status_notification(sample.as_bytes()),
                Ok(()),
                "{sample}"
            );
        }
        let refused = [
            (r#"[]"#, "body"),
            (
                r#"{"referenceMerchantId":"M","referenceMerchantId":"M"}"#,
                "body",
            ),
            (
                r#"{"registrationRequestId":"R","registrationResult":{"registrationStatus":"APPROVED"}}"#,
                "referenceMerchantId",
            ),
            (
                r#"{"referenceMerchantId":" ","registrationRequestId":"R","registrationResult":{"registrationStatus":"APPROVED"}}"#,
                "referenceMerchantId",
            ),
            (
                r#"{"referenceMerchantId":1,"registrationRequestId":"R","registrationResult":{"registrationStatus":"APPROVED"}}"#,
                "referenceMerchantId",
            ),
            (
                r#"{"referenceMerchantId":"M","registrationRequestId":"R","registrationResult":{"registrationStatus":"PENDING"}}"#,
                "registrationResult.registrationStatus",
            ),
            (
                r#"{"referenceMerchantId":"M","registrationRequestId":"R","registrationResult":{"registrationStatus":"REJECTED"}}"#,
                "registrationResult.rejectionReason",
            ),
            (
                r#"{"referenceMerchantId":"M","registrationRequestId":"R","registrationResult":{"registrationStatus":"APPROVED","rejectionReason":"x"}}"#,
                "registrationResult.rejectionReason",
            ),
            (
                r#"{"referenceMerchantId":"M","registrationRequestId":"R","registrationResult":{"registrationStatus":"APPROVED"},"productCodes":[]}"#,
                "body",
            ),
            (
                r#"{"referenceMerchantId":"M","registrationRequestId":"R","registrationResult":{"registrationStatus":"APPROVED","rejectReasons":"x"}}"#,
                "registrationResult",
            ),
            (
                r#"{"referenceMerchantId":"M","registrationRequestId":"R"}"#,
                "registrationResult",
            ),
        ];
        for (body, field) in refused {
            let problem = check_status_notification(body.as_bytes()).unwrap_err();
            assert!(problem.starts_with(field), "{body}: {problem}");
        }
        let long = format!(
            r#"{{"referenceMerchantId":"M","registrationRequestId":"R","registrationResult":{{"registrationStatus":"REJECTED","rejectionReason":"{}"}}}}"#,
            "x".repeat(1025)
        );
        assert!(check_status_notification(long.as_bytes()).is_err());
    }

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
