//! The API description: served, generated from the wire types, and every
//! shared sample of a message we receive or send validates against it.

use serde_json::{Value, json};

use crate::helpers::*;

fn validator(doc: &Value, schema: &str) -> jsonschema::Validator {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{schema}"),
        "components": doc["components"],
    });
    jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("{schema}: {e}"))
}

/// Which schema each sample is an instance of (the Alipay+ → acquirer samples are not ours).
fn schema_of(sample: &str) -> Option<&'static str> {
    Some(match sample {
        s if s.starts_with("registration-request-") => "RegistrationRequest",
        s if s.starts_with("registration-response-") => "ResultBody",
        s if s.starts_with("inquiry-request-") => "InquiryRequest",
        s if s.starts_with("inquiry-response-") => "InquiryResponse",
        s if s.starts_with("nrs-mpp-request-") => "RegistrationStatusNotification",
        s if s.starts_with("nrs-mpp-response-") => "ResultBody",
        "notify-registration-ack.json" => "ResultBody",
        s if s.starts_with("notify-registration-") => "MerchantNotification",
        _ => return None,
    })
}

#[tokio::test]
async fn the_shared_samples_validate_against_the_served_description() {
    let app = spawn_app().await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/aps/api/v1/merchants/registration",
        "/aps/api/v1/merchants/inquiryRegistrationStatus",
        "/ams/api/v1/merchants/inquiryRegistrationStatus",
    ] {
        assert!(doc["paths"][path]["post"].is_object(), "{path}");
    }
    let mut checked = 0;
    for entry in std::fs::read_dir(fixture_path("samples")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !name.ends_with(".json") {
            continue;
        }
        let Some(schema) = schema_of(&name) else {
            continue;
        };
        let sample: Value = serde_json::from_slice(
            &std::fs::read(fixture_path(&format!("samples/{name}"))).unwrap(),
        )
        .unwrap();
        let v = validator(&doc, schema);
        let errors: Vec<String> = v.iter_errors(&sample).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{name} against {schema}: {errors:?}");
        checked += 1;
    }
    assert!(checked >= 20, "{checked} samples checked");
}

#[tokio::test]
async fn the_description_refuses_what_the_server_refuses() {
    let app = spawn_app().await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let v = validator(&doc, "RegistrationRequest");
    let good = online_request("REQ-1", "M-1");
    assert!(v.is_valid(&good));
    let mut number = good.clone();
    number["merchantInfo"]["registrationDetail"]["registrationNo"] = json!(12345678);
    let mut missing = good.clone();
    missing["merchantInfo"]
        .as_object_mut()
        .unwrap()
        .remove("merchantMCC");
    let mut bad_code = good.clone();
    bad_code["productCodes"] = json!(["PAY_LATER"]);
    let mut too_long = good.clone();
    too_long["registrationRequestId"] = json!("x".repeat(65));
    for (what, body) in [
        ("number", number),
        ("missing", missing),
        ("product code", bad_code),
        ("length", too_long),
    ] {
        assert!(!v.is_valid(&body), "{what}");
    }
}
