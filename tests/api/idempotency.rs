//! registrationRequestId is an idempotency key with no expiry.

use mpp_registrar::protocol::paths;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_replay_gets_the_stored_answer_with_a_fresh_signature() {
    let app = spawn_app().await;
    let body = online_request(&unique("REQ"), &unique("M"));
    let first = app.register(&body).await;
    // Past the window in which identical answers share one signature.
    tokio::time::sleep(std::time::Duration::from_millis(60)).await;
    let second = app.register(&body).await;
    assert_eq!(first.body, second.body);
    assert_ne!(
        first.response_time(),
        second.response_time(),
        "each answer is signed afresh"
    );

    // Same meaning, other bytes: keys reordered, whitespace, an explicit null.
    let mut reordered: Vec<(String, serde_json::Value)> =
        body.as_object().unwrap().clone().into_iter().collect();
    reordered.reverse();
    let mut text = String::from("{\n");
    for (i, (k, v)) in reordered.iter().enumerate() {
        text.push_str(&format!(
            "{}  {:?} : {}",
            if i > 0 { ",\n" } else { "" },
            k,
            v
        ));
    }
    text.push_str(",\n \"logoAbsent\": null }");
    let third = app
        .send(app.call(paths::REGISTRATION, text.into_bytes()))
        .await;
    assert_eq!(third.body, first.body);

    let mut conn = app.db.connect();
    assert_eq!(
        query_count(&mut conn, "SELECT count(*) FROM registrations"),
        1
    );
}

#[tokio::test]
async fn a_changed_body_under_a_used_id_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let id = unique("REQ");
    let body = online_request(&id, &unique("M"));
    app.register(&body).await;
    let mut changed = body.clone();
    changed["merchantInfo"]["merchantMCC"] = json!("5999");
    let r = app.register(&changed).await;
    assert_eq!(
        (r.code().as_str(), r.status_letter().as_str()),
        ("REPEAT_REQ_INCONSISTENT", "F")
    );
    let mut conn = app.db.connect();
    let mcc = query_strings(
        &mut conn,
        &format!(
            "SELECT merchant_mcc AS v FROM registrations WHERE registration_request_id = '{id}'"
        ),
    );
    assert_eq!(mcc, vec!["5812"]);
    // The original still replays.
    assert_eq!(app.register(&body).await.code(), "REGISTRATION_IN_PROCESS");
}

#[tokio::test]
async fn the_answer_stays_the_same_after_a_reviewer_decided() {
    let app = spawn_app().await;
    let id = unique("REQ");
    let body = online_request(&id, &unique("M"));
    let first = app.register(&body).await;
    let mut conn = app.db.connect();
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE registrations SET status = 'APPROVED', decided_at = now(), decided_by = 'alice'
              WHERE registration_request_id = '{id}'"
        )),
        &mut conn,
    )
    .unwrap();
    let again = app.register(&body).await;
    assert_eq!(again.body, first.body);
    assert_eq!(again.code(), "REGISTRATION_IN_PROCESS");
}

#[tokio::test]
async fn refusals_do_not_bind_the_id() {
    let app = spawn_app().await;
    let id = unique("REQ");
    let mut broken = online_request(&id, &unique("M"));
    broken["merchantInfo"]["merchantMCC"] = json!("");
    assert_eq!(app.register(&broken).await.code(), "PARAM_ILLEGAL");
    let fixed = online_request(&id, &unique("M"));
    assert_eq!(app.register(&fixed).await.code(), "REGISTRATION_IN_PROCESS");
}

#[tokio::test]
async fn concurrent_duplicates_make_one_row_and_one_answer() {
    let app = spawn_app().await;
    let body = online_request(&unique("REQ"), &unique("M"));
    let answers = futures_util::future::join_all((0..24).map(|_| app.register(&body))).await;
    let first = &answers[0].body;
    for a in &answers {
        assert_eq!(a.code(), "REGISTRATION_IN_PROCESS");
        assert_eq!(&a.body, first);
    }
    let mut conn = app.db.connect();
    assert_eq!(
        query_count(&mut conn, "SELECT count(*) FROM registrations"),
        1
    );
}

#[tokio::test]
async fn registrations_survive_a_restart() {
    let app = spawn_app().await;
    let body = online_request(&unique("REQ"), &unique("M"));
    let before = app.register(&body).await;
    let db = app.stop().await;
    let app = spawn_app_with(db, |_| {}).await;
    let after = app.register(&body).await;
    assert_eq!(after.body, before.body);
    let mut changed = body.clone();
    changed["merchantInfo"]["merchantMCC"] = json!("5999");
    assert_eq!(
        app.register(&changed).await.code(),
        "REPEAT_REQ_INCONSISTENT"
    );
}
