//! Registration: approval modes, what is stored, and every validation family.

use mpp_registrar::protocol::paths;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn manual_mode_stores_pending_and_answers_in_process() {
    let app = spawn_app().await;
    let id = unique("REQ");
    let body = online_request(&id, "2188120000190001");
    let raw = serde_json::to_vec_pretty(&body).unwrap();
    let r = app.send(app.call(paths::REGISTRATION, raw.clone())).await;
    assert_eq!(
        r.json(),
        json!({"result": {"resultCode": "REGISTRATION_IN_PROCESS", "resultStatus": "U",
                          "resultMessage": "Registration received; review in progress."}})
    );

    let mut conn = app.db.connect();
    let row = query_strings(
        &mut conn,
        &format!(
            "SELECT concat_ws('|', status, reference_merchant_id, coalesce(reference_store_id, '-'),
                    array_to_string(product_codes, ','), merchant_name, merchant_mcc, region, client_id,
                    coalesce(decided_by, '-')) AS v
               FROM ops.registrations WHERE registration_request_id = '{id}'"
        ),
    );
    assert_eq!(
        row,
        vec![
            "PENDING|2188120000190001|-|CASHIER_PAYMENT,AGREEMENT_PAYMENT|Example Tea House|5812|HK|TEST_5X00000000000000|-"
        ]
    );
    let stored = query_strings(
        &mut conn,
        &format!("SELECT raw_request AS v FROM requests WHERE registration_request_id = '{id}'"),
    );
    assert_eq!(
        stored[0].as_bytes(),
        raw.as_slice(),
        "the raw request is kept exactly as received"
    );
}

#[tokio::test]
async fn auto_mode_stores_approved_and_answers_success() {
    let app = spawn_app_with(TestDb::new(), |s| {
        s.approval_mode = mpp_registrar::domain::ApprovalMode::Auto
    })
    .await;
    let id = unique("REQ");
    let r = app.register(&online_request(&id, &unique("M"))).await;
    assert_eq!(
        (r.code().as_str(), r.status_letter().as_str()),
        ("SUCCESS", "S")
    );
    let mut conn = app.db.connect();
    let row = query_strings(
        &mut conn,
        &format!(
            "SELECT status || '|' || decided_by || '|' || (decided_at IS NOT NULL) AS v
               FROM ops.registrations WHERE registration_request_id = '{id}'"
        ),
    );
    assert_eq!(row, vec!["APPROVED|auto|true"]);
}

#[tokio::test]
async fn in_store_registrations_carry_the_store() {
    let app = spawn_app().await;
    let id = unique("REQ");
    let r = app.register(&instore_request(&id, "M-1", "S-1")).await;
    assert_eq!(r.code(), "REGISTRATION_IN_PROCESS");
    let mut conn = app.db.connect();
    let store = query_strings(
        &mut conn,
        &format!(
            "SELECT reference_store_id || '|' || merchant_name AS v FROM ops.registrations WHERE registration_request_id = '{id}'"
        ),
    );
    assert_eq!(store, vec!["S-1|Example Tea House - Central"]);
}

/// What a case does to a valid request.
type Mutation = Box<dyn Fn(&mut Value)>;

/// A mutation of a valid request and the field path its refusal must name.
fn refusals() -> Vec<(&'static str, Mutation, &'static str)> {
    vec![
        (
            "missing request id",
            Box::new(|b| {
                b.as_object_mut().unwrap().remove("registrationRequestId");
            }),
            "registrationRequestId",
        ),
        (
            "null request id",
            Box::new(|b| b["registrationRequestId"] = Value::Null),
            "registrationRequestId",
        ),
        (
            "empty request id",
            Box::new(|b| b["registrationRequestId"] = json!("")),
            "registrationRequestId",
        ),
        (
            "request id too long",
            Box::new(|b| b["registrationRequestId"] = json!("9".repeat(65))),
            "registrationRequestId",
        ),
        (
            "numeric request id",
            Box::new(|b| b["registrationRequestId"] = json!(12345)),
            "registrationRequestId",
        ),
        (
            "no product codes",
            Box::new(|b| b["productCodes"] = json!([])),
            "productCodes",
        ),
        (
            "unknown product code",
            Box::new(|b| b["productCodes"] = json!(["CASHIER_PAYMENT", "PAY_LATER"])),
            "productCodes[1]",
        ),
        (
            "product codes not an array",
            Box::new(|b| b["productCodes"] = json!("CASHIER_PAYMENT")),
            "productCodes",
        ),
        (
            "missing merchantInfo",
            Box::new(|b| {
                b.as_object_mut().unwrap().remove("merchantInfo");
            }),
            "merchantInfo",
        ),
        (
            "missing merchant id",
            Box::new(|b| b["merchantInfo"]["referenceMerchantId"] = Value::Null),
            "merchantInfo.referenceMerchantId",
        ),
        (
            "merchant id too long",
            Box::new(|b| b["merchantInfo"]["referenceMerchantId"] = json!("m".repeat(65))),
            "merchantInfo.referenceMerchantId",
        ),
        (
            "missing MCC",
            Box::new(|b| {
                b["merchantInfo"]
                    .as_object_mut()
                    .unwrap()
                    .remove("merchantMCC");
            }),
            "merchantInfo.merchantMCC",
        ),
        (
            "boolean MCC",
            Box::new(|b| b["merchantInfo"]["merchantMCC"] = json!(true)),
            "merchantInfo.merchantMCC",
        ),
        (
            "display name needed for cashier",
            Box::new(|b| {
                b["merchantInfo"]
                    .as_object_mut()
                    .unwrap()
                    .remove("merchantDisplayName");
            }),
            "merchantInfo.merchantDisplayName",
        ),
        (
            "logo without a name",
            Box::new(|b| {
                b["merchantInfo"]["logo"]
                    .as_object_mut()
                    .unwrap()
                    .remove("logoName");
            }),
            "merchantInfo.logo.logoName",
        ),
        (
            "website without url",
            Box::new(|b| b["merchantInfo"]["websites"] = json!([{"name": "x"}])),
            "merchantInfo.websites[0].url",
        ),
        (
            "three-letter region",
            Box::new(|b| b["merchantInfo"]["merchantAddress"]["region"] = json!("HKG")),
            "merchantInfo.merchantAddress.region",
        ),
        (
            "city too long",
            Box::new(|b| b["merchantInfo"]["merchantAddress"]["city"] = json!("c".repeat(33))),
            "merchantInfo.merchantAddress.city",
        ),
        (
            "missing registrationDetail",
            Box::new(|b| {
                b["merchantInfo"]
                    .as_object_mut()
                    .unwrap()
                    .remove("registrationDetail");
            }),
            "merchantInfo.registrationDetail",
        ),
        (
            "missing legal name",
            Box::new(|b| b["merchantInfo"]["registrationDetail"]["legalName"] = json!(" ")),
            "merchantInfo.registrationDetail.legalName",
        ),
        (
            "missing registration type",
            Box::new(|b| {
                b["merchantInfo"]["registrationDetail"]
                    .as_object_mut()
                    .unwrap()
                    .remove("registrationType");
            }),
            "merchantInfo.registrationDetail.registrationType",
        ),
        (
            "missing registration number",
            Box::new(|b| {
                b["merchantInfo"]["registrationDetail"]
                    .as_object_mut()
                    .unwrap()
                    .remove("registrationNo");
            }),
            "merchantInfo.registrationDetail.registrationNo",
        ),
        (
            "numeric registration number",
            Box::new(|b| {
                b["merchantInfo"]["registrationDetail"]["registrationNo"] = json!(12345678)
            }),
            "merchantInfo.registrationDetail.registrationNo",
        ),
        (
            "contact without type",
            Box::new(|b| {
                b["merchantInfo"]["registrationDetail"]["contactInfo"] = json!([{"contactNo": "1"}])
            }),
            "merchantInfo.registrationDetail.contactInfo[0].contactType",
        ),
        (
            "attachment without file",
            Box::new(|b| {
                b["merchantInfo"]["registrationDetail"]["attachments"] =
                    json!([{"attachmentType": "LOGO"}])
            }),
            "merchantInfo.registrationDetail.attachments[0].file",
        ),
        (
            "in-store without storeInfo",
            Box::new(|b| b["productCodes"] = json!(["IN_STORE_PAYMENT"])),
            "storeInfo",
        ),
        (
            "store id too long",
            Box::new(|b| b["storeInfo"] = json!({"referenceStoreId": "s".repeat(33)})),
            "storeInfo.referenceStoreId",
        ),
        (
            "notify URL spellings disagree",
            Box::new(|b| {
                b["registrationNotifyUrl"] = json!("https://merchant.example/n");
                b["registrationNotifyURL"] = json!("https://other.example/n");
            }),
            "registrationNotifyUrl",
        ),
        (
            "passThroughInfo too long",
            Box::new(|b| b["passThroughInfo"] = json!("p".repeat(20001))),
            "passThroughInfo",
        ),
        (
            "control characters",
            Box::new(|b| b["merchantInfo"]["merchantDisplayName"] = json!("Tea\u{7}House")),
            "merchantInfo.merchantDisplayName",
        ),
    ]
}

#[tokio::test]
async fn every_validation_family_is_refused_with_the_field_path() {
    let app = spawn_app().await;
    for (what, mutate, path) in refusals() {
        let mut body = online_request(&unique("REQ"), &unique("M"));
        mutate(&mut body);
        let r = app.register(&body).await;
        assert_eq!(
            (r.code().as_str(), r.status_letter().as_str()),
            ("PARAM_ILLEGAL", "F"),
            "{what}"
        );
        assert!(
            r.message().starts_with(&format!("{path}: ")),
            "{what}: message {:?} should name {path}",
            r.message()
        );
    }
    let mut conn = app.db.connect();
    assert_eq!(
        query_count(&mut conn, "SELECT count(*) FROM registrations"),
        0,
        "refusals store nothing"
    );
}

#[tokio::test]
async fn lenient_fields_are_accepted_and_flagged_for_the_reviewer() {
    let app = spawn_app().await;
    let id = unique("REQ");
    let mut body = online_request(&id, &unique("M"));
    body["merchantInfo"]["registrationDetail"]["businessType"] = json!("PARTNERSHIP");
    body["merchantInfo"]["registrationDetail"]["contactInfo"] =
        json!({"contactNo": "ops@example.com", "contactType": "EMAIL"});
    body["somethingNew"] = json!({"kept": "yes"});
    body["merchantInfo"]["logo"]["logoUrl"] = json!("www.example.com");
    body["registrationNotifyUrl"] = Value::Null;
    let r = app.register(&body).await;
    assert_eq!(r.code(), "REGISTRATION_IN_PROCESS");
    let mut conn = app.db.connect();
    let flags = query_strings(
        &mut conn,
        &format!(
            "SELECT array_to_string(review_flags, ';') AS v FROM registrations WHERE registration_request_id = '{id}'"
        ),
    );
    assert!(flags[0].contains("businessType"), "{flags:?}");
    let kept = query_strings(
        &mut conn,
        &format!(
            "SELECT raw_request::jsonb #>> '{{somethingNew,kept}}' AS v FROM requests WHERE registration_request_id = '{id}'"
        ),
    );
    assert_eq!(
        kept,
        vec!["yes"],
        "unknown fields are kept in the stored request"
    );
}

#[tokio::test]
async fn registrations_arriving_together_share_one_insert_and_each_keeps_its_own_row() {
    // Accepted registrations that arrive together are inserted in one
    // statement (members of one group share the transaction's received_at).
    // Each still gets its own binding, answer, audit entry and count, and a
    // group holding two requests for one key falls back to inserting alone.
    let app = spawn_app().await;
    let mut largest_group = 0;
    for round in 0..5 {
        let mut bodies: Vec<Value> = (0..32)
            .map(|i| online_request(&format!("G{round}-{i:02}"), &format!("GM{round}-{i:02}")))
            .collect();
        // Two more for one merchant's key: one is admitted, the other waits its turn.
        bodies.push(online_request(
            &format!("G{round}-K1"),
            &format!("GK{round}"),
        ));
        bodies.push(online_request(
            &format!("G{round}-K2"),
            &format!("GK{round}"),
        ));
        let answers = futures_util::future::join_all(bodies.iter().map(|b| app.register(b))).await;
        let codes: Vec<String> = answers.iter().map(|a| a.code()).collect();
        assert!(
            codes[..32].iter().all(|c| c == "REGISTRATION_IN_PROCESS"),
            "{codes:?}"
        );
        let mut key_codes = codes[32..].to_vec();
        key_codes.sort();
        assert_eq!(
            key_codes,
            ["REGISTRATION_IN_PROCESS", "REGISTRATION_UNDER_REVIEW"]
        );
        // Each id is bound to its own answer: a replay gets the same bytes.
        for (body, first) in bodies.iter().zip(&answers) {
            assert_eq!(app.register(body).await.body, first.body);
        }
        largest_group = query_count(
            &mut app.db.connect(),
            &format!(
                "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM registrations
                  WHERE registration_request_id LIKE 'G{round}-%' GROUP BY received_at) g"
            ),
        );
        if largest_group > 1 {
            break;
        }
    }
    assert!(
        largest_group > 1,
        "no two registrations shared an insert in five bursts"
    );
    let totals = query_strings(
        &mut app.db.connect(),
        "SELECT (SELECT count(*) FROM registrations) || '|' ||
                (SELECT count(*) FROM requests r JOIN registrations g USING (registration_request_id)) || '|' ||
                (SELECT count(*) FROM audit_log WHERE action = 'registration.received') || '|' ||
                (SELECT sum(n) FROM registration_counts) || '|' ||
                (SELECT count(DISTINCT registration_request_id) FROM audit_log WHERE action = 'registration.received') AS v",
    );
    let n = query_count(&mut app.db.connect(), "SELECT count(*) FROM registrations");
    assert_eq!(totals, [format!("{n}|{n}|{n}|{n}|{n}")]);
}

#[tokio::test]
async fn a_grouped_lookup_finds_for_each_request_what_it_finds_alone() {
    use mpp_registrar::db::requests::{LookupRequest, RequestKeys, lookup};
    use mpp_registrar::protocol::registration::ProductCode;

    let app = spawn_app().await;
    registered(&app, &online_request("L-PENDING", "LM-1")).await;
    registered(&app, &online_request("L-APPROVED", "LM-2")).await;
    query_strings(
        &mut app.db.connect(),
        "UPDATE registrations SET status = 'APPROVED', decided_at = now(), decided_by = 'test'
          WHERE registration_request_id = 'L-APPROVED' RETURNING 'x' AS v",
    );
    let keys = |merchant: &str| {
        Some(RequestKeys {
            reference_merchant_id: merchant.to_owned(),
            reference_store_id: None,
            products: vec![ProductCode::CashierPayment, ProductCode::AgreementPayment],
        })
    };
    let requests = [
        // Bound: answered from its binding (and counted as a repeat).
        LookupRequest {
            request_id: "L-PENDING".into(),
            keys: keys("LM-1"),
        },
        // Free, with a PENDING registration on one of its keys.
        LookupRequest {
            request_id: "L-NEW-1".into(),
            keys: keys("LM-1"),
        },
        // Free, an update of an approved merchant.
        LookupRequest {
            request_id: "L-NEW-2".into(),
            keys: keys("LM-2"),
        },
        // Free, nothing known; and an invalid request (no keys).
        LookupRequest {
            request_id: "L-NEW-3".into(),
            keys: keys("LM-3"),
        },
        LookupRequest {
            request_id: "L-NEW-4".into(),
            keys: None,
        },
    ];
    let mut conn = app.db.connect();
    let together = lookup(&mut conn, &requests).unwrap();
    let alone: Vec<_> = requests
        .iter()
        .map(|r| {
            lookup(&mut conn, std::slice::from_ref(r))
                .unwrap()
                .remove(0)
        })
        .collect();
    assert_eq!(format!("{together:?}"), format!("{alone:?}"));
    let shown: Vec<String> = together.iter().map(|l| format!("{l:?}")).collect();
    assert!(shown[0].starts_with("Bound("), "{}", shown[0]);
    assert!(
        shown[1].contains("Pending") && shown[1].contains("L-PENDING"),
        "{}",
        shown[1]
    );
    assert!(
        shown[2].contains("InForce") && shown[2].contains("LM-2"),
        "{}",
        shown[2]
    );
    assert_eq!(&shown[3..], ["Free([])", "Free([])"]);
    // The bound id was counted once per lookup: the group's and its own.
    assert_eq!(
        query_count(
            &mut conn,
            "SELECT repeats FROM request_repeats WHERE registration_request_id = 'L-PENDING'"
        ),
        2
    );
}
