//! inquiryRegistrationStatus: by request, by merchant (and store), and every refusal.

use mpp_registrar::protocol::paths;
use serde_json::{Value, json};

use crate::helpers::*;

fn sample(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(fixture_path(&format!("samples/{name}"))).unwrap())
        .unwrap()
}

async fn inquire(app: &TestApp, path: &str, query: Value) -> ApsResponse {
    app.send(app.call(path, serde_json::to_vec(&query).unwrap()))
        .await
}

fn decide_sql(app: &TestApp, request_id: &str, status: &str, reason: Option<&str>) {
    crate::helpers::decide_sql(&app.db, request_id, status, reason);
}

#[tokio::test]
async fn by_request_id_each_state_is_shaped_as_documented() {
    let app = spawn_app().await;
    app.register(&instore_request("REQ-P", "M-P", "340001"))
        .await;
    let r = inquire(
        &app,
        paths::INQUIRY,
        json!({"registrationRequestId": "REQ-P"}),
    )
    .await;
    assert_eq!(r.json(), sample("inquiry-response-pending.json"));

    app.register(&online_request("REQ-A", "M-A")).await;
    decide_sql(&app, "REQ-A", "APPROVED", None);
    let r = inquire(
        &app,
        paths::INQUIRY,
        json!({"registrationRequestId": "REQ-A", "referenceMerchantId": "M-A"}),
    )
    .await;
    assert_eq!(r.json(), sample("inquiry-response-approved-completed.json"));

    app.register(&instore_request("REQ-R", "M-R", "340001"))
        .await;
    decide_sql(
        &app,
        "REQ-R",
        "REJECTED",
        Some("Store address could not be verified."),
    );
    let r = inquire(
        &app,
        paths::INQUIRY_ANTOM,
        json!({"registrationRequestId": "REQ-R"}),
    )
    .await;
    assert_eq!(
        r.json(),
        sample("inquiry-response-rejected.json"),
        "the /ams alias answers the same"
    );

    app.register(&online_request("REQ-C", "M-C")).await;
    decide_sql(&app, "REQ-C", "CANCELLED", Some("duplicate"));
    let r = inquire(
        &app,
        paths::INQUIRY,
        json!({"registrationRequestId": "REQ-C"}),
    )
    .await;
    assert_eq!(
        r.json()["pspRegistrationResultList"][0]["registrationResult"],
        json!({"registrationStatus": "CANCELLED"})
    );
    assert_eq!(
        r.json()["registrationResult"]["registrationStatus"],
        "COMPLETED"
    );
}

#[tokio::test]
async fn by_merchant_the_latest_registration_of_each_key_is_reported() {
    let app = spawn_app().await;
    app.register(&online_request("REQ-1", "2188120000190001"))
        .await;
    decide_sql(&app, "REQ-1", "APPROVED", None);
    app.register(&instore_request("REQ-2", "2188120000190001", "340001"))
        .await;
    let r = inquire(
        &app,
        paths::INQUIRY,
        json!({"referenceMerchantId": "2188120000190001"}),
    )
    .await;
    assert_eq!(r.json(), sample("inquiry-response-mixed.json"));

    let store = inquire(
        &app,
        paths::INQUIRY,
        sample("inquiry-request-by-merchant-store.json"),
    )
    .await;
    assert_eq!(store.json(), sample("inquiry-response-pending.json"));

    // An update supersedes the earlier registration of the same key.
    let mut update = online_request("REQ-3", "2188120000190001");
    update["merchantInfo"]["merchantMCC"] = json!("5999");
    update["productCodes"] = json!(["AGREEMENT_PAYMENT"]);
    app.register(&update).await;
    let r = inquire(
        &app,
        paths::INQUIRY,
        json!({"referenceMerchantId": "2188120000190001"}),
    )
    .await;
    let list: Vec<(Value, Value)> = r.json()["pspRegistrationResultList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["productCodes"].clone(),
                e["registrationResult"]["registrationStatus"].clone(),
            )
        })
        .collect();
    assert_eq!(
        list,
        [
            (json!(["CASHIER_PAYMENT"]), json!("APPROVED")),
            (json!(["IN_STORE_PAYMENT"]), json!("PENDING")),
            (json!(["AGREEMENT_PAYMENT"]), json!("PENDING")),
        ]
    );
}

#[tokio::test]
async fn a_store_named_by_an_online_request_is_no_in_store_key() {
    let app = spawn_app().await;
    let merchant = unique("M");
    let online = unique("REQ");
    let mut body = online_request(&online, &merchant);
    body["storeInfo"] = json!({"referenceStoreId": "S1", "storeName": "Central"});
    app.register(&body).await;
    decide_sql(&app, &online, "APPROVED", None);
    // Another online request naming a store is the same two keys: a repeat.
    let mut elsewhere = online_request(&unique("REQ"), &merchant);
    elsewhere["storeInfo"] = json!({"referenceStoreId": "S2", "storeName": "Central"});
    assert_eq!(app.register(&elsewhere).await.code(), "REPEAT_REGISTRATION");
    app.register(&instore_request(&unique("REQ"), &merchant, "S1"))
        .await;

    let by_merchant = inquire(
        &app,
        paths::INQUIRY,
        json!({"referenceMerchantId": merchant}),
    )
    .await;
    let list = by_merchant.json()["pspRegistrationResultList"].clone();
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
    // The store's own query reports its in-store key only.
    let by_store = inquire(
        &app,
        paths::INQUIRY,
        json!({"referenceMerchantId": merchant, "referenceStoreId": "S1"}),
    )
    .await;
    let list = by_store.json()["pspRegistrationResultList"].clone();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["productCodes"], json!(["IN_STORE_PAYMENT"]));
    let none = inquire(
        &app,
        paths::INQUIRY,
        json!({"referenceMerchantId": merchant, "referenceStoreId": "S2"}),
    )
    .await;
    assert_eq!(none.code(), "RECORD_NOT_FOUND");
}

#[tokio::test]
async fn refusals_name_what_is_wrong() {
    let app = spawn_app().await;
    app.register(&online_request("REQ-1", "M-1")).await;
    let cases = [
        (json!({}), "PARAM_ILLEGAL"),
        (json!({"referenceStoreId": "340001"}), "PARAM_ILLEGAL"),
        (json!({"registrationRequestId": ""}), "PARAM_ILLEGAL"),
        (json!({"registrationRequestId": 42}), "PARAM_ILLEGAL"),
        (
            json!({"referenceMerchantId": "m".repeat(65)}),
            "PARAM_ILLEGAL",
        ),
        (
            json!({"registrationRequestId": "REQ-1", "referenceMerchantId": "M-2"}),
            "REPEAT_REQ_INCONSISTENT",
        ),
        (
            json!({"registrationRequestId": "REQ-1", "referenceStoreId": "S-9"}),
            "REPEAT_REQ_INCONSISTENT",
        ),
        (
            json!({"registrationRequestId": "REQ-404"}),
            "RECORD_NOT_FOUND",
        ),
        (json!({"referenceMerchantId": "M-404"}), "RECORD_NOT_FOUND"),
        (
            json!({"referenceMerchantId": "M-1", "referenceStoreId": "S-404"}),
            "RECORD_NOT_FOUND",
        ),
    ];
    for (query, code) in cases {
        let r = inquire(&app, paths::INQUIRY, query.clone()).await;
        assert_eq!(
            (r.code().as_str(), r.status_letter().as_str()),
            (code, "F"),
            "{query}"
        );
        assert!(r.json().get("pspRegistrationResultList").is_none());
    }
    let r = inquire(&app, paths::INQUIRY, json!({})).await;
    assert!(
        r.message()
            .contains("either registrationRequestId or referenceMerchantId"),
        "{}",
        r.message()
    );
    // A refused registration created nothing to report.
    let mut broken = online_request("REQ-BAD", "M-BAD");
    broken["merchantInfo"]["merchantMCC"] = json!("");
    assert_eq!(app.register(&broken).await.code(), "PARAM_ILLEGAL");
    assert_eq!(
        inquire(
            &app,
            paths::INQUIRY,
            json!({"registrationRequestId": "REQ-BAD"})
        )
        .await
        .code(),
        "RECORD_NOT_FOUND"
    );
}

#[tokio::test]
async fn inquiries_go_through_the_same_transport_checks() {
    let app = spawn_app().await;
    let mut call = app.call(paths::INQUIRY, br#"{"registrationRequestId":"x"}"#.to_vec());
    call.signature = Sig::Header("algorithm=RSA256,keyVersion=1,signature=AAAA".into());
    assert_eq!(app.send(call).await.code(), "INVALID_SIGNATURE");
    let mut call = app.call(
        paths::INQUIRY_ANTOM,
        br#"{"registrationRequestId":"x"}"#.to_vec(),
    );
    call.method = reqwest::Method::GET;
    assert_eq!(app.send(call).await.code(), "METHOD_NOT_SUPPORTED");
}
