//! "Same registrationRequestId, same result" (seed 001, resolution A2): an id
//! that got a business answer keeps it for good, whatever its repeats carry
//! and whatever happened since; refusals before business processing bind
//! nothing.

use mpp_registrar::protocol::paths;
use serde_json::json;

use crate::helpers::*;

fn request_row(app: &TestApp, id: &str) -> Vec<String> {
    query_strings(
        &mut app.db.connect(),
        &format!(
            "SELECT concat_ws('|', result_code, repeats, mismatched_repeats, reference_merchant_id) AS v
               FROM ops.requests WHERE registration_request_id = '{id}'"
        ),
    )
}

#[tokio::test]
async fn a_replay_gets_the_stored_answer_with_a_fresh_signature() {
    let app = spawn_app().await;
    let id = unique("REQ");
    let merchant = unique("M");
    let body = online_request(&id, &merchant);
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
    assert_eq!(
        request_row(&app, &id),
        [format!("REGISTRATION_IN_PROCESS|2|0|{merchant}")]
    );
}

#[tokio::test]
async fn a_changed_body_gets_the_bound_answer_changes_nothing_and_is_recorded() {
    let app = spawn_app().await;
    let id = unique("REQ");
    let body = online_request(&id, &unique("M"));
    let first = app.register(&body).await;
    let mut changed = body.clone();
    changed["merchantInfo"]["merchantMCC"] = json!("5999");
    changed["merchantInfo"]["merchantDisplayName"] = json!("Entirely Other Shop");
    let r = app.register(&changed).await;
    assert_eq!(r.body, first.body, "never REPEAT_REQ_INCONSISTENT");
    assert_eq!(
        (r.code().as_str(), r.status_letter().as_str()),
        ("REGISTRATION_IN_PROCESS", "U")
    );

    let mut conn = app.db.connect();
    let stored = query_strings(
        &mut conn,
        &format!(
            "SELECT merchant_mcc || '|' || merchant_name AS v FROM ops.registrations WHERE registration_request_id = '{id}'"
        ),
    );
    assert_eq!(stored, ["5812|Example Tea House"], "nothing changed");
    assert_eq!(
        query_count(&mut conn, "SELECT count(*) FROM registrations"),
        1
    );
    assert_eq!(
        request_row(&app, &id)[0],
        format!(
            "REGISTRATION_IN_PROCESS|1|1|{}",
            body["merchantInfo"]["referenceMerchantId"]
                .as_str()
                .unwrap()
        )
    );
    let audit = query_strings(
        &mut conn,
        &format!(
            "SELECT concat_ws('|', actor, action, detail) AS v FROM ops.audit_log
              WHERE registration_request_id = '{id}' AND action = 'registration.repeat_mismatched'"
        ),
    );
    assert_eq!(
        audit,
        [
            "alipay+|registration.repeat_mismatched|differing fields: merchantInfo.merchantDisplayName, merchantInfo.merchantMCC"
        ]
    );

    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("mpp_registration_repeat_mismatches_total 1"),
        "{metrics}"
    );

    // The reviewer sees it on the registration's page: paths, never values.
    let row_id: i64 = query_strings(
        &mut conn,
        &format!("SELECT id::text AS v FROM registrations WHERE registration_request_id = '{id}'"),
    )[0]
    .parse()
    .unwrap();
    let (admin, _) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    let page = admin.get(&format!("/admin/registrations/{row_id}")).await;
    let notice = page
        .html
        .split("id=\"mismatched-repeats\"")
        .nth(1)
        .and_then(|rest| rest.split("</div>").next())
        .expect("a notice of the mismatched repeat");
    assert!(notice.contains("merchantInfo.merchantMCC"), "{notice}");
    assert!(
        notice.contains("merchantInfo.merchantDisplayName"),
        "{notice}"
    );
    assert!(!notice.contains("5999") && !notice.contains("Entirely Other Shop"));

    // The original still replays, and counts as a plain repeat.
    assert_eq!(app.register(&body).await.body, first.body);
}

#[tokio::test]
async fn a_bound_id_answers_even_a_repeat_that_would_be_refused_as_invalid() {
    let app = spawn_app().await;
    let id = unique("REQ");
    let body = online_request(&id, &unique("M"));
    let first = app.register(&body).await;
    let mut broken = body.clone();
    broken["merchantInfo"]["merchantMCC"] = json!("");
    let r = app.register(&broken).await;
    assert_eq!(r.body, first.body);
    assert!(request_row(&app, &id)[0].starts_with("REGISTRATION_IN_PROCESS|1|1|"));
    // An invalid body under a free id is refused and binds nothing.
    let mut free = online_request(&unique("REQ"), &unique("M"));
    free["merchantInfo"]["merchantMCC"] = json!("");
    assert_eq!(app.register(&free).await.code(), "PARAM_ILLEGAL");
}

#[tokio::test]
async fn the_answer_stays_the_same_after_a_reviewer_decided() {
    let app = spawn_app().await;
    let id = unique("REQ");
    let body = online_request(&id, &unique("M"));
    let first = app.register(&body).await;
    decide_sql(&app.db, &id, "APPROVED", None);
    let again = app.register(&body).await;
    assert_eq!(again.body, first.body);
    assert_eq!(again.code(), "REGISTRATION_IN_PROCESS");
}

#[tokio::test]
async fn an_under_review_refusal_binds_its_id_whatever_the_earlier_registration_became() {
    for decision in ["APPROVED", "REJECTED", "CANCELLED"] {
        let app = spawn_app().await;
        let merchant = unique("M");
        let (r1, r2) = (unique("REQ"), unique("REQ"));
        assert_eq!(
            app.register(&online_request(&r1, &merchant)).await.code(),
            "REGISTRATION_IN_PROCESS"
        );
        let refused = app.register(&online_request(&r2, &merchant)).await;
        assert_eq!(
            (refused.code().as_str(), refused.status_letter().as_str()),
            ("REGISTRATION_UNDER_REVIEW", "F")
        );
        let reason = (decision == "REJECTED").then_some("not eligible");
        decide_sql(&app.db, &r1, decision, reason);
        let again = app.register(&online_request(&r2, &merchant)).await;
        assert_eq!(again.body, refused.body, "after {decision}");
        let mut conn = app.db.connect();
        assert_eq!(
            query_count(
                &mut conn,
                &format!(
                    "SELECT count(*) FROM ops.registrations WHERE registration_request_id = '{r2}'"
                )
            ),
            0,
            "a refused request is no registration"
        );
        assert_eq!(
            request_row(&app, &r2),
            [format!("REGISTRATION_UNDER_REVIEW|1|0|{merchant}")]
        );
        // A new id for the same merchant is judged afresh.
        let fresh = app
            .register(&online_request(&unique("REQ"), &merchant))
            .await;
        let expected = match decision {
            "APPROVED" => "REPEAT_REGISTRATION",
            _ => "REGISTRATION_IN_PROCESS",
        };
        assert_eq!(fresh.code(), expected, "after {decision}");
    }
}

#[tokio::test]
async fn a_repeat_registration_refusal_binds_its_id_through_later_updates() {
    let app = spawn_app().await;
    let merchant = unique("M");
    let first = unique("REQ");
    app.register(&online_request(&first, &merchant)).await;
    decide_sql(&app.db, &first, "APPROVED", None);
    let repeat_id = unique("REQ");
    let repeat = app.register(&online_request(&repeat_id, &merchant)).await;
    assert_eq!(repeat.code(), "REPEAT_REGISTRATION");

    // The merchant's data changes and the change is approved: the same body
    // under a new id would now be an update, but the bound id keeps its answer.
    let update = unique("REQ");
    let mut changed = online_request(&update, &merchant);
    changed["merchantInfo"]["merchantDisplayName"] = json!("Example Tea House (new name)");
    assert_eq!(
        app.register(&changed).await.code(),
        "REGISTRATION_IN_PROCESS"
    );
    decide_sql(&app.db, &update, "APPROVED", None);
    assert_eq!(
        app.register(&online_request(&unique("REQ"), &merchant))
            .await
            .code(),
        "REGISTRATION_IN_PROCESS"
    );
    let again = app.register(&online_request(&repeat_id, &merchant)).await;
    assert_eq!(again.body, repeat.body);
}

#[tokio::test]
async fn refusals_before_business_processing_do_not_bind_the_id() {
    let app = spawn_app().await;
    let id = unique("REQ");
    let merchant = unique("M");
    let fixed = online_request(&id, &merchant);

    let mut broken = fixed.clone();
    broken["merchantInfo"]["merchantMCC"] = json!("");
    assert_eq!(app.register(&broken).await.code(), "PARAM_ILLEGAL");

    let mut unsigned = app.call(paths::REGISTRATION, serde_json::to_vec(&fixed).unwrap());
    unsigned.signature = Sig::Header("algorithm=RSA256,keyVersion=1,signature=AAAA".into());
    assert_eq!(app.send(unsigned).await.code(), "INVALID_SIGNATURE");

    // The database away: U, nothing bound; back: the same id is accepted.
    app.db.make_unreachable();
    let unknown = app.register(&fixed).await;
    assert_eq!(
        (unknown.code().as_str(), unknown.status_letter().as_str()),
        ("UNKNOWN_EXCEPTION", "U")
    );
    app.db.make_reachable();
    let mut accepted = None;
    for _ in 0..50 {
        let r = app.register(&fixed).await;
        if r.code() != "UNKNOWN_EXCEPTION" {
            accepted = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        accepted.map(|r| r.code()).as_deref(),
        Some("REGISTRATION_IN_PROCESS")
    );
    assert_eq!(
        request_row(&app, &id),
        [format!("REGISTRATION_IN_PROCESS|0|0|{merchant}")]
    );
}

#[tokio::test]
async fn concurrent_first_requests_with_one_id_make_one_binding_and_one_answer() {
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
    assert_eq!(
        query_count(&mut conn, "SELECT sum(repeats) FROM ops.requests"),
        23
    );

    // The same for an id that is refused: one binding, one answer.
    let merchant = body["merchantInfo"]["referenceMerchantId"]
        .as_str()
        .unwrap();
    let held = online_request(&unique("REQ"), merchant);
    let answers = futures_util::future::join_all((0..24).map(|_| app.register(&held))).await;
    assert!(
        codes(&answers)
            .iter()
            .all(|c| c == "REGISTRATION_UNDER_REVIEW"),
        "{:?}",
        codes(&answers)
    );
    assert_eq!(query_count(&mut conn, "SELECT count(*) FROM requests"), 2);
}

#[tokio::test]
async fn bindings_survive_a_restart() {
    let app = spawn_app().await;
    let merchant = unique("M");
    let body = online_request(&unique("REQ"), &merchant);
    let before = app.register(&body).await;
    let held = online_request(&unique("REQ"), &merchant);
    let refused = app.register(&held).await;
    let db = app.stop().await;
    let app = spawn_app_with(db, |_| {}).await;
    assert_eq!(app.register(&body).await.body, before.body);
    assert_eq!(app.register(&held).await.body, refused.body);
    let mut changed = body.clone();
    changed["merchantInfo"]["merchantMCC"] = json!("5999");
    assert_eq!(app.register(&changed).await.body, before.body);
}
