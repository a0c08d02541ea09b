//! One registration under review per merchant (and store); identical
//! re-registrations of an approved merchant are repeats; changes are updates.

use serde_json::json;

use crate::helpers::*;

fn decide(app: &TestApp, request_id: &str, status: &str) {
    let mut conn = app.db.connect();
    let reason = if status == "REJECTED" {
        "'not eligible'"
    } else {
        "NULL"
    };
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE registrations SET status = '{status}', decided_at = now(), decided_by = 'alice', reason = {reason}
              WHERE registration_request_id = '{request_id}'"
        )),
        &mut conn,
    )
    .unwrap();
}

#[tokio::test]
async fn a_pending_registration_puts_new_requests_of_the_merchant_on_hold() {
    let app = spawn_app().await;
    let merchant = unique("M");
    assert_eq!(
        app.register(&online_request(&unique("REQ"), &merchant))
            .await
            .code(),
        "REGISTRATION_IN_PROCESS"
    );
    let r = app
        .register(&online_request(&unique("REQ"), &merchant))
        .await;
    assert_eq!(
        (r.code().as_str(), r.status_letter().as_str()),
        ("REGISTRATION_UNDER_REVIEW", "F")
    );
    // Another store of the same merchant is another registration key.
    assert_eq!(
        app.register(&instore_request(&unique("REQ"), &merchant, "S1"))
            .await
            .code(),
        "REGISTRATION_IN_PROCESS"
    );
    assert_eq!(
        app.register(&instore_request(&unique("REQ"), &merchant, "S1"))
            .await
            .code(),
        "REGISTRATION_UNDER_REVIEW"
    );
}

#[tokio::test]
async fn concurrent_requests_for_one_merchant_leave_one_pending() {
    let app = spawn_app().await;
    let merchant = unique("M");
    let bodies: Vec<_> = (0..12)
        .map(|_| online_request(&unique("REQ"), &merchant))
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
async fn identical_data_of_an_approved_merchant_is_a_repeat_and_a_change_is_an_update() {
    let app = spawn_app().await;
    let merchant = unique("M");
    let first = unique("REQ");
    app.register(&online_request(&first, &merchant)).await;
    decide(&app, &first, "APPROVED");

    let r = app
        .register(&online_request(&unique("REQ"), &merchant))
        .await;
    assert_eq!(
        (r.code().as_str(), r.status_letter().as_str()),
        ("REPEAT_REGISTRATION", "F")
    );

    // Only merchant data and products count: another notify URL is still a repeat.
    let mut other_url = online_request(&unique("REQ"), &merchant);
    other_url["registrationNotifyUrl"] = json!("https://elsewhere.example/notify");
    assert_eq!(app.register(&other_url).await.code(), "REPEAT_REGISTRATION");

    let mut update = online_request(&unique("REQ"), &merchant);
    update["merchantInfo"]["merchantDisplayName"] = json!("Example Tea House (new name)");
    assert_eq!(
        app.register(&update).await.code(),
        "REGISTRATION_IN_PROCESS"
    );

    let mut more_products = online_request(&unique("REQ"), &unique("M"));
    more_products["productCodes"] = json!(["CASHIER_PAYMENT"]);
    assert_eq!(
        app.register(&more_products).await.code(),
        "REGISTRATION_IN_PROCESS"
    );
}

#[tokio::test]
async fn rejected_and_cancelled_registrations_do_not_block() {
    let app = spawn_app().await;
    let merchant = unique("M");
    let first = unique("REQ");
    app.register(&online_request(&first, &merchant)).await;
    decide(&app, &first, "REJECTED");
    let second = unique("REQ");
    assert_eq!(
        app.register(&online_request(&second, &merchant))
            .await
            .code(),
        "REGISTRATION_IN_PROCESS"
    );
    decide(&app, &second, "CANCELLED");
    assert_eq!(
        app.register(&online_request(&unique("REQ"), &merchant))
            .await
            .code(),
        "REGISTRATION_IN_PROCESS"
    );
}
