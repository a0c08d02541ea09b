//! Admission by registration key (resolution A3): a key is the merchant and
//! a product code, plus the store for IN_STORE_PAYMENT only. A PENDING key
//! holds a request back; identical data on every approved key is a repeat;
//! anything else is a new registration or an update.

use mpp_registrar::protocol::paths;
use serde_json::json;

use crate::helpers::*;

fn with_products(mut body: serde_json::Value, codes: &[&str]) -> serde_json::Value {
    body["productCodes"] = json!(codes);
    body
}

fn with_store(mut body: serde_json::Value, store: &str) -> serde_json::Value {
    body["storeInfo"] = json!({"referenceStoreId": store, "storeName": "Central", "storeMCC": "5812",
                               "storeAddress": {"region": "HK"}});
    body
}

#[tokio::test]
async fn a_pending_online_request_holds_back_the_merchants_next_whatever_store_it_names() {
    let app = spawn_app().await;
    let merchant = unique("M");
    let both = ["CASHIER_PAYMENT", "AGREEMENT_PAYMENT"];
    let requests = [
        with_products(online_request(&unique("REQ"), &merchant), &both),
        with_store(
            with_products(online_request(&unique("REQ"), &merchant), &both),
            "S1",
        ),
        with_store(
            with_products(online_request(&unique("REQ"), &merchant), &both),
            "S2",
        ),
    ];
    let mut answers = Vec::new();
    for body in &requests {
        answers.push(app.register(body).await);
    }
    assert_eq!(
        codes(&answers),
        [
            "REGISTRATION_IN_PROCESS",
            "REGISTRATION_UNDER_REVIEW",
            "REGISTRATION_UNDER_REVIEW"
        ]
    );
    assert_eq!(answers[1].status_letter(), "F");
    // The merchant inquiry speaks once for each key.
    let r = app
        .send(app.call(
            paths::INQUIRY,
            serde_json::to_vec(&json!({"referenceMerchantId": merchant})).unwrap(),
        ))
        .await;
    let list = r.json()["pspRegistrationResultList"].clone();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["productCodes"], json!(both));
}

#[tokio::test]
async fn each_product_is_a_key_of_its_own() {
    let app = spawn_app().await;
    let merchant = unique("M");
    let register = |codes: &'static [&'static str]| {
        let body = with_products(online_request(&unique("REQ"), &merchant), codes);
        let app = &app;
        async move { app.register(&body).await.code() }
    };
    assert_eq!(
        register(&["CASHIER_PAYMENT"]).await,
        "REGISTRATION_IN_PROCESS"
    );
    // A PENDING CASHIER_PAYMENT does not hold back AGREEMENT_PAYMENT alone...
    assert_eq!(
        register(&["AGREEMENT_PAYMENT"]).await,
        "REGISTRATION_IN_PROCESS"
    );
    // ...but any request touching a pending key waits, as a whole.
    assert_eq!(
        register(&["CASHIER_PAYMENT", "AGREEMENT_PAYMENT"]).await,
        "REGISTRATION_UNDER_REVIEW"
    );
    assert_eq!(
        register(&["AGREEMENT_PAYMENT"]).await,
        "REGISTRATION_UNDER_REVIEW"
    );
    // In-store payment is keyed by store.
    let in_store = |store: &str| instore_request(&unique("REQ"), &merchant, store);
    assert_eq!(
        app.register(&in_store("S1")).await.code(),
        "REGISTRATION_IN_PROCESS"
    );
    assert_eq!(
        app.register(&in_store("S2")).await.code(),
        "REGISTRATION_IN_PROCESS"
    );
    assert_eq!(
        app.register(&in_store("S1")).await.code(),
        "REGISTRATION_UNDER_REVIEW"
    );
    assert_eq!(
        query_count(
            &mut app.db.connect(),
            &format!(
                "SELECT count(*) FROM ops.pending_reviews WHERE reference_merchant_id = '{merchant}'"
            )
        ),
        4
    );
}

#[tokio::test]
async fn concurrent_requests_for_one_key_leave_one_pending() {
    let app = spawn_app().await;
    let merchant = unique("M");
    let bodies: Vec<_> = (0..12)
        .map(|i| {
            let body = online_request(&unique("REQ"), &merchant);
            // Whatever store they name, they share the online keys.
            if i % 2 == 0 {
                with_store(body, &format!("S{i}"))
            } else {
                body
            }
        })
        .collect();
    let answers = futures_util::future::join_all(bodies.iter().map(|b| app.register(b))).await;
    let accepted = answers
        .iter()
        .filter(|a| a.code() == "REGISTRATION_IN_PROCESS")
        .count();
    let held = answers
        .iter()
        .filter(|a| a.code() == "REGISTRATION_UNDER_REVIEW")
        .count();
    assert_eq!((accepted, held), (1, 11));
}

#[tokio::test]
async fn identical_data_on_every_approved_key_is_a_repeat_and_anything_else_an_update() {
    let app = spawn_app().await;
    let merchant = unique("M");
    let first = unique("REQ");
    app.register(&online_request(&first, &merchant)).await;
    decide_sql(&app.db, &first, "APPROVED", None);

    let r = app
        .register(&online_request(&unique("REQ"), &merchant))
        .await;
    assert_eq!(
        (r.code().as_str(), r.status_letter().as_str()),
        ("REPEAT_REGISTRATION", "F")
    );
    // A subset of the approved keys, another notify URL, another store id on
    // an online request: still nothing new to register.
    let mut variants = vec![with_products(
        online_request(&unique("REQ"), &merchant),
        &["AGREEMENT_PAYMENT"],
    )];
    let mut other_url = online_request(&unique("REQ"), &merchant);
    other_url["registrationNotifyUrl"] = json!("https://elsewhere.example/notify");
    variants.push(other_url);
    variants.push(with_store(online_request(&unique("REQ"), &merchant), "S9"));
    for body in &variants {
        assert_eq!(
            app.register(body).await.code(),
            "REPEAT_REGISTRATION",
            "{body}"
        );
    }

    // Changed merchant data is an update.
    let mut update = online_request(&unique("REQ"), &merchant);
    update["merchantInfo"]["merchantDisplayName"] = json!("Example Tea House (new name)");
    assert_eq!(
        app.register(&update).await.code(),
        "REGISTRATION_IN_PROCESS"
    );

    // A key not registered before, next to approved ones, is an update too.
    let other = unique("M");
    let cashier = unique("REQ");
    app.register(&with_products(
        online_request(&cashier, &other),
        &["CASHIER_PAYMENT"],
    ))
    .await;
    decide_sql(&app.db, &cashier, "APPROVED", None);
    assert_eq!(
        app.register(&online_request(&unique("REQ"), &other))
            .await
            .code(),
        "REGISTRATION_IN_PROCESS"
    );
}

#[tokio::test]
async fn the_latest_approval_of_a_key_is_the_one_in_force() {
    let app = spawn_app().await;
    let merchant = unique("M");
    let original = online_request(&unique("REQ"), &merchant);
    let first = original["registrationRequestId"]
        .as_str()
        .unwrap()
        .to_owned();
    app.register(&original).await;
    decide_sql(&app.db, &first, "APPROVED", None);
    let mut renamed = online_request(&unique("REQ"), &merchant);
    renamed["merchantInfo"]["merchantDisplayName"] = json!("Renamed");
    let second = renamed["registrationRequestId"]
        .as_str()
        .unwrap()
        .to_owned();
    app.register(&renamed).await;
    decide_sql(&app.db, &second, "APPROVED", None);
    // The old data is a change of what is in force now; the new data a repeat.
    assert_eq!(
        app.register(&online_request(&unique("REQ"), &merchant))
            .await
            .code(),
        "REGISTRATION_IN_PROCESS"
    );
    let mut again = renamed.clone();
    again["registrationRequestId"] = json!(unique("REQ"));
    decide_sql(
        &app.db,
        &query_strings(
            &mut app.db.connect(),
            &format!(
                "SELECT registration_request_id AS v FROM ops.pending_reviews WHERE reference_merchant_id = '{merchant}'"
            ),
        )[0],
        "REJECTED",
        Some("not now"),
    );
    assert_eq!(app.register(&again).await.code(), "REPEAT_REGISTRATION");
}

#[tokio::test]
async fn rejected_and_cancelled_registrations_do_not_block() {
    let app = spawn_app().await;
    let merchant = unique("M");
    let first = unique("REQ");
    app.register(&online_request(&first, &merchant)).await;
    decide_sql(&app.db, &first, "REJECTED", Some("not eligible"));
    let second = unique("REQ");
    assert_eq!(
        app.register(&online_request(&second, &merchant))
            .await
            .code(),
        "REGISTRATION_IN_PROCESS"
    );
    decide_sql(&app.db, &second, "CANCELLED", None);
    assert_eq!(
        app.register(&online_request(&unique("REQ"), &merchant))
            .await
            .code(),
        "REGISTRATION_IN_PROCESS"
    );
}
