//! The notifier: decisions reach Alipay+ and the merchant, signed, on the
//! retry schedule, through timeouts, crashes and several instances.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use mpp_registrar::config::Settings;
use mpp_registrar::protocol::result::ResultCode;
use mpp_registrar::protocol::signature::{SignatureHeader, string_to_sign};
use mpp_registrar::simulate::gateway::{Answer, Behaviour, Gateway};
use serde_json::json;

use crate::helpers::*;
use crate::stubs::{MerchantEndpoint, Reply, gateway};

fn with_gateway(gateway: &Gateway) -> impl FnOnce(&mut Settings) + use<> {
    let url = url::Url::parse(&gateway.url()).unwrap();
    move |s: &mut Settings| s.notify.alipay_gateway_url = Some(url)
}

fn script(answers: &[Answer]) -> Behaviour {
    Behaviour {
        script: VecDeque::from(answers.to_vec()),
        ..Behaviour::default()
    }
}

/// Polls ops.notifications until `sql` (a boolean query) holds.
async fn wait_until(app: &TestApp, sql: &str, limit: Duration) {
    let started = Instant::now();
    loop {
        if query_strings(&mut app.db.connect(), &format!("SELECT ({sql})::text AS v"))[0] == "true"
        {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "not within {limit:?}: {sql}\n{:?}",
            notification_rows(app)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn notification_rows(app: &TestApp) -> Vec<String> {
    query_strings(
        &mut app.db.connect(),
        "SELECT concat_ws('|', registration_request_id, target, status, attempts, coalesce(last_error, '-')) AS v
           FROM ops.notifications ORDER BY registration_request_id, target",
    )
}

async fn decide(
    app: &TestApp,
    client: &AdminClient,
    csrf: &str,
    id: i64,
    decision: &str,
    reason: Option<&str>,
) {
    let mut form = vec![("csrf", csrf), ("decision", decision), ("confirm", "1")];
    if let Some(r) = reason {
        form.push(("reason", r));
    }
    if decision == "reject" {
        form.push(("reject_code", "MISSING_OR_INCORRECT_INFO"));
    }
    let page = client
        .post(&format!("/admin/registrations/{id}/decision"), &form)
        .await;
    assert!(page.location.unwrap().ends_with("flash=decided"));
    let _ = app;
}

/// A server pointed at `gw`, and one online registration approved through
/// the admin pages by `username` (signed in with `role`): its notification is
/// on its way. Returns the app, the signed-in reviewer, their CSRF token and
/// the registration's request id.
async fn one_approved(
    gw: &Gateway,
    username: &str,
    role: &str,
) -> (TestApp, AdminClient, String, String) {
    let app = spawn_app_with(TestDb::new(), with_gateway(gw)).await;
    let request_id = unique("REQ");
    let id = registered(&app, &online_request(&request_id, &unique("M"))).await;
    let (admin, csrf) = AdminClient::signed_in(&app, username, role).await;
    decide(&app, &admin, &csrf, id, "approve", None).await;
    (app, admin, csrf, request_id)
}

#[tokio::test]
async fn an_approval_reaches_alipay_signed_and_verifiable() {
    let gw = gateway(Behaviour::default());
    let app = spawn_app_with(TestDb::new(), with_gateway(&gw)).await;
    let request_id = unique("REQ");
    let merchant_id = unique("M");
    let id = registered(&app, &online_request(&request_id, &merchant_id)).await;
    let (admin, csrf) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    let decided_at = Instant::now();
    decide(&app, &admin, &csrf, id, "approve", None).await;
    wait_until(
        &app,
        "SELECT bool_and(status = 'delivered') FROM ops.notifications WHERE target = 'alipay'",
        Duration::from_secs(5),
    )
    .await;
    let latency = decided_at.elapsed();
    let received = gw.received();
    assert_eq!(received.len(), 1);
    assert!(
        received[0].signature_valid,
        "the gateway verified our signature"
    );
    let body: serde_json::Value = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(
        body,
        json!({"referenceMerchantId": merchant_id, "registrationRequestId": request_id,
               "registrationResult": {"registrationStatus": "APPROVED"}})
    );
    assert!(
        latency < Duration::from_secs(2),
        "first attempt leaves at once, took {latency:?}"
    );
    // The page shows the delivery, and the attempt is on record.
    let page = admin.get(&format!("/admin/registrations/{id}")).await;
    assert!(
        page.html.contains("alipay: delivered after 1 attempt(s)"),
        "{}",
        page.html
    );
    let attempts = query_count(
        &mut app.db.connect(),
        "SELECT count(*) FROM notification_attempts WHERE http_status = 200 AND result_code = 'SUCCESS' AND outcome = 'delivered'",
    );
    assert_eq!(attempts, 1);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("mpp_notifications_delivered_total{target=\"alipay\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn rejections_and_cancellations_carry_what_the_reviewer_said() {
    let gw = gateway(Behaviour::default());
    let app = spawn_app_with(TestDb::new(), with_gateway(&gw)).await;
    let (admin, csrf) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    let r = registered(&app, &online_request("REQ-R", &unique("M"))).await;
    let c = registered(&app, &online_request("REQ-C", &unique("M"))).await;
    decide(
        &app,
        &admin,
        &csrf,
        r,
        "reject",
        Some("Licence number unknown"),
    )
    .await;
    decide(&app, &admin, &csrf, c, "cancel", None).await;
    wait_until(
        &app,
        "SELECT count(*) = 2 FROM ops.notifications WHERE status = 'delivered'",
        Duration::from_secs(5),
    )
    .await;
    let mut bodies: Vec<serde_json::Value> = gw
        .received()
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    bodies.sort_by_key(|b| b["registrationRequestId"].as_str().unwrap().to_owned());
    assert_eq!(
        bodies[0]["registrationResult"],
        json!({"registrationStatus": "CANCELLED"})
    );
    assert_eq!(
        bodies[1]["registrationResult"],
        json!({"registrationStatus": "REJECTED", "rejectionReason": "Licence number unknown"})
    );
}

#[tokio::test]
async fn an_unknown_answer_is_retried_after_the_gap_with_the_same_body() {
    let gw = gateway(script(&[Answer::Unknown, Answer::Success]));
    let (app, _, _, _) = one_approved(&gw, "alice", "reviewer").await;
    wait_until(
        &app,
        "SELECT bool_and(status = 'delivered') FROM ops.notifications",
        Duration::from_secs(5),
    )
    .await;
    let received = gw.received();
    assert_eq!(received.len(), 2);
    assert_eq!(
        received[0].body, received[1].body,
        "byte-identical body on every attempt"
    );
    let outcomes = query_strings(
        &mut app.db.connect(),
        "SELECT outcome || '|' || coalesce(result_code, '-') AS v FROM notification_attempts ORDER BY attempt",
    );
    assert_eq!(outcomes, ["retry|UNKNOWN_EXCEPTION", "delivered|SUCCESS"]);
    let gap = query_strings(
        &mut app.db.connect(),
        "SELECT (max(started_at) - min(started_at) >= interval '300 milliseconds')::text AS v FROM notification_attempts",
    );
    assert_eq!(gap, ["true"], "the retry waited for its gap");
}

#[tokio::test]
async fn a_final_refusal_is_not_retried_and_is_marked() {
    let gw = gateway(script(&[Answer::Fail(
        ResultCode::AbnormalRegistrationStatus,
    )]));
    let (app, admin, csrf, _) = one_approved(&gw, "root", "admin").await;
    wait_until(
        &app,
        "SELECT bool_and(status = 'failed') FROM ops.notifications",
        Duration::from_secs(5),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(gw.received().len(), 1, "no retry after F");
    let queue = admin.get("/admin").await;
    assert!(
        queue.html.contains("1 notification(s) failed"),
        "the queue page marks it"
    );
    let list = admin.get("/admin/notifications").await;
    assert!(list.html.contains("ABNORMAL_REGISTRATION_STATUS"));

    // Re-drive from the admin pages: delivered this time, and audited.
    let page = admin
        .post(
            "/admin/notifications/retry",
            &[("csrf", &csrf), ("status", "failed"), ("target", "")],
        )
        .await;
    assert_eq!(page.status, 303);
    wait_until(
        &app,
        "SELECT bool_and(status = 'delivered') FROM ops.notifications",
        Duration::from_secs(5),
    )
    .await;
    let audit = query_strings(
        &mut app.db.connect(),
        "SELECT actor || '|' || action AS v FROM ops.audit_log WHERE action = 'notification.redriven'",
    );
    assert_eq!(audit, ["root|notification.redriven"]);
}

#[tokio::test]
async fn timeouts_garbage_and_unsigned_answers_are_retried_until_the_gaps_run_out() {
    let gw = gateway(script(&[
        Answer::Slow(Duration::from_secs(4)),
        Answer::Garbage,
        Answer::Unsigned,
    ]));
    let (app, _, _, _) = one_approved(&gw, "alice", "reviewer").await;
    wait_until(
        &app,
        "SELECT bool_and(status = 'dead') FROM ops.notifications",
        Duration::from_secs(15),
    )
    .await;
    let attempts = query_strings(
        &mut app.db.connect(),
        "SELECT attempt || '|' || outcome || '|' || coalesce(error, '-') AS v FROM notification_attempts ORDER BY attempt",
    );
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    assert!(attempts[0].starts_with("1|retry|timed out"), "{attempts:?}");
    assert!(
        attempts[1].starts_with("2|retry|answer unsigned"),
        "{attempts:?}"
    );
    assert!(
        attempts[2].starts_with("3|dead|answer unsigned"),
        "an unsigned S is not delivery: {attempts:?}"
    );
}

#[tokio::test]
async fn cli_redrive_delivers_dead_notifications() {
    let gw = gateway(script(&[Answer::Unknown, Answer::Unknown, Answer::Unknown]));
    let (app, _, _, request_id) = one_approved(&gw, "alice", "reviewer").await;
    wait_until(
        &app,
        "SELECT bool_and(status = 'dead') FROM ops.notifications",
        Duration::from_secs(5),
    )
    .await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mpp-registrar"))
        .args([
            "notifications",
            "retry",
            "--registration-request-id",
            &request_id,
        ])
        .env("DATABASE_URL", &app.db.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 notification(s) queued again"));
    wait_until(
        &app,
        "SELECT bool_and(status = 'delivered') FROM ops.notifications",
        Duration::from_secs(5),
    )
    .await;
    let audit = query_count(
        &mut app.db.connect(),
        "SELECT count(*) FROM ops.audit_log WHERE actor = 'cli' AND action = 'notification.redriven'",
    );
    assert_eq!(audit, 1);
}

#[tokio::test]
async fn a_worker_that_dies_after_claiming_leaves_the_row_to_another_after_its_lease() {
    let gw = gateway(Behaviour::default());
    let gw_url = url::Url::parse(&gw.url()).unwrap();
    // An instance with no workers records the decision; we play a worker that claims and dies.
    let quiet = spawn_app_with(TestDb::new(), |s| {
        s.notify.workers_enabled = false;
        s.notify.alipay_gateway_url = Some(gw_url.clone());
    })
    .await;
    let id = registered(&quiet, &online_request(&unique("REQ"), &unique("M"))).await;
    let (admin, csrf) = AdminClient::signed_in(&quiet, "alice", "reviewer").await;
    decide(&quiet, &admin, &csrf, id, "approve", None).await;
    let claimed = mpp_registrar::db::notifications::claim_due(
        &mut quiet.db.connect(),
        10,
        Duration::from_secs(2),
        true,
    )
    .unwrap();
    assert_eq!(claimed.len(), 1);
    let db = quiet.stop().await;

    let worker = spawn_app_with(db, |s| s.notify.alipay_gateway_url = Some(gw_url)).await;
    let started = Instant::now();
    wait_until(
        &worker,
        "SELECT bool_and(status = 'delivered') FROM ops.notifications",
        Duration::from_secs(10),
    )
    .await;
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "not before the lease ran out"
    );
    assert_eq!(gw.received().len(), 1);
    let attempts = query_strings(
        &mut worker.db.connect(),
        "SELECT attempts::text AS v FROM notifications",
    );
    assert_eq!(
        attempts,
        ["2"],
        "the dead worker's claim counted as attempt 1"
    );
}

#[tokio::test]
async fn two_instances_deliver_each_notification_once() {
    let gw = gateway(Behaviour::default());
    let gw_url = url::Url::parse(&gw.url()).unwrap();
    let a = spawn_app_with(TestDb::new(), |s| {
        s.notify.alipay_gateway_url = Some(gw_url.clone())
    })
    .await;
    let b = spawn_app_with(a.db.shared(), |s| {
        s.notify.alipay_gateway_url = Some(gw_url)
    })
    .await;
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(
            registered(
                &a,
                &online_request(&format!("REQ-{i:02}"), &format!("M-{i:02}")),
            )
            .await,
        );
    }
    let (alice, alice_csrf) = AdminClient::signed_in(&a, "alice", "reviewer").await;
    let bob = AdminClient::new(&b);
    create_user(&b.db, "bob", "correct horse battery staple", "reviewer");
    bob.sign_in("bob", "correct horse battery staple").await;
    let bob_csrf = bob.get("/admin").await.csrf();
    for (i, id) in ids.iter().enumerate() {
        if i % 2 == 0 {
            decide(&a, &alice, &alice_csrf, *id, "approve", None).await;
        } else {
            decide(&b, &bob, &bob_csrf, *id, "approve", None).await;
        }
    }
    wait_until(
        &a,
        "SELECT count(*) = 30 FROM ops.notifications WHERE status = 'delivered'",
        Duration::from_secs(10),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = gw.received();
    let mut distinct: Vec<_> = received
        .iter()
        .map(|r| r.registration_request_id.clone())
        .collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!((received.len(), distinct.len()), (30, 30));
    std::mem::forget(b.db);
}

#[tokio::test]
async fn while_the_gateway_is_unset_alipay_notifications_wait() {
    let app = spawn_app().await;
    let id = registered(&app, &online_request(&unique("REQ"), &unique("M"))).await;
    let (admin, csrf) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    decide(&app, &admin, &csrf, id, "approve", None).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(notification_rows(&app).len(), 1);
    assert!(
        notification_rows(&app)[0].contains("|alipay|pending|0|"),
        "{:?}",
        notification_rows(&app)
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("mpp_notification_queue{target=\"alipay\",status=\"pending\"} 1"),
        "{metrics}"
    );
}

fn merchant_request(request_id: &str, url: &str) -> serde_json::Value {
    let mut body = online_request(request_id, &unique("M"));
    body["registrationNotifyUrl"] = json!(url);
    body
}

#[tokio::test]
async fn the_merchant_receives_a_signed_notification_at_its_url() {
    let gw = gateway(Behaviour::default());
    let endpoint = MerchantEndpoint::start(vec![Reply::Status(503), Reply::Ack]).await;
    let app = spawn_app_with(TestDb::new(), with_gateway(&gw)).await;
    let request_id = unique("REQ");
    let body = merchant_request(&request_id, &endpoint.url("localhost"));
    let merchant_id = body["merchantInfo"]["referenceMerchantId"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = registered(&app, &body).await;
    let (admin, csrf) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    decide(
        &app,
        &admin,
        &csrf,
        id,
        "reject",
        Some("The licence has expired."),
    )
    .await;
    wait_until(
        &app,
        "SELECT count(*) = 2 FROM ops.notifications WHERE status = 'delivered'",
        Duration::from_secs(5),
    )
    .await;

    let seen = endpoint.seen();
    assert_eq!(seen.len(), 2, "a 503 is retried");
    assert_eq!(seen[0].body, seen[1].body);
    let last = &seen[1];
    assert_eq!(last.path, "/merchant/notify?shop=1");
    let sent: serde_json::Value = serde_json::from_slice(&last.body).unwrap();
    assert_eq!(
        sent,
        json!({"notifyType": "REGISTRATION_RESULT", "referenceMerchantId": merchant_id, "registrationRequestId": request_id,
               "registrationStatus": "FAILED", "reasonCode": "MISSING_OR_INCORRECT_INFO", "reasonMessage": "The licence has expired."})
    );
    assert_eq!(last.header("client-id"), Some(CLIENT_ID));
    let signature = SignatureHeader::parse(last.header("signature").unwrap()).unwrap();
    let message = string_to_sign(
        "POST",
        &last.path,
        CLIENT_ID,
        last.header("request-time").unwrap(),
        &last.body,
    );
    assert!(
        keys().mpp.verify(&message, &signature.signature),
        "signed with our key over the URL's path and query"
    );
}

#[tokio::test]
async fn auto_approval_notifies_only_the_merchant() {
    let gw = gateway(Behaviour::default());
    let endpoint = MerchantEndpoint::start(vec![]).await;
    let app = spawn_app_with(TestDb::new(), |s| {
        s.approval_mode = mpp_registrar::domain::ApprovalMode::Auto;
        s.notify.alipay_gateway_url = Some(url::Url::parse(&gw.url()).unwrap());
    })
    .await;
    let r = app
        .register(&merchant_request(
            &unique("REQ"),
            &endpoint.url("127.0.0.1"),
        ))
        .await;
    assert_eq!(r.code(), "SUCCESS");
    wait_until(&app, "SELECT count(*) = 1 AND bool_and(status = 'delivered' AND target = 'merchant') FROM ops.notifications", Duration::from_secs(5)).await;
    assert!(gw.received().is_empty(), "Alipay+ already heard SUCCESS");
    let sent: serde_json::Value = serde_json::from_slice(&endpoint.seen()[0].body).unwrap();
    assert_eq!(sent["registrationStatus"], "SUCCESSFUL");
}

#[tokio::test]
async fn merchant_urls_on_private_addresses_are_refused() {
    let endpoint = MerchantEndpoint::start(vec![]).await;
    let app = spawn_app_with(TestDb::new(), |s| s.notify.allow_private_targets = false).await;
    let (admin, csrf) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    for host in ["127.0.0.1", "localhost", "[::1]"] {
        let id = registered(&app, &merchant_request(&unique("REQ"), &endpoint.url(host))).await;
        decide(&app, &admin, &csrf, id, "approve", None).await;
    }
    // Private, link-local (the cloud metadata address), unique-local: refused
    // from the URL itself, before any lookup or connection.
    for url in [
        "https://10.1.2.3/notify",
        "https://192.168.0.10/notify",
        "https://172.16.5.5/notify",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fe80::1]/notify",
        "https://[fd00::1]/notify",
        "https://[::ffff:127.0.0.1]/notify",
        "https://0.0.0.0/notify",
    ] {
        let id = registered(&app, &merchant_request(&unique("REQ"), url)).await;
        decide(&app, &admin, &csrf, id, "approve", None).await;
    }
    let id = registered(
        &app,
        &merchant_request(&unique("REQ"), "http://merchant.example/notify"),
    )
    .await;
    decide(&app, &admin, &csrf, id, "approve", None).await;
    wait_until(&app, "SELECT count(*) = 12 FROM ops.notifications WHERE target = 'merchant' AND status IN ('dead', 'failed')", Duration::from_secs(10)).await;
    assert!(
        endpoint.seen().is_empty(),
        "nothing reached the private address"
    );
    let errors = query_strings(
        &mut app.db.connect(),
        "SELECT DISTINCT last_error AS v FROM ops.notifications WHERE target = 'merchant' ORDER BY 1",
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("not an address merchant notifications may go to")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("resolves to no address merchant notifications may go to")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("not an https URL")),
        "{errors:?}"
    );
}

/// IPv6 forms that lead to IPv4 addresses through gateways (NAT64, 6to4),
/// and reserved IPv6 ranges, are refused from the URL itself: no lookup, no
/// connection, and `last_error` names the range.
#[tokio::test]
async fn ipv6_forms_that_embed_ipv4_addresses_are_refused_with_the_range_named() {
    let app = spawn_app_with(TestDb::new(), |s| s.notify.allow_private_targets = false).await;
    let (admin, csrf) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    let cases = [
        ("64:ff9b::a00:1", "NAT64 (64:ff9b::/96)"),
        ("64:ff9b:1::a00:1", "local NAT64 (64:ff9b:1::/48)"),
        ("2002:a00:1::1", "6to4 (2002::/16)"),
        ("fec0::1", "site-local (fec0::/10)"),
        ("100::1", "discard-only (100::/64)"),
        ("::ffff:0:a00:1", "IPv4-translated (::ffff:0:0:0/96)"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo (2001::/32)"),
    ];
    for (ip, _) in cases {
        let url = format!("https://[{ip}]/notify");
        let id = registered(&app, &merchant_request(&unique("REQ"), &url)).await;
        decide(&app, &admin, &csrf, id, "approve", None).await;
    }
    wait_until(
        &app,
        &format!(
            "SELECT count(*) = {} FROM ops.notifications WHERE target = 'merchant' AND last_error IS NOT NULL",
            cases.len()
        ),
        Duration::from_secs(10),
    )
    .await;
    let errors = query_strings(
        &mut app.db.connect(),
        "SELECT last_error AS v FROM ops.notifications WHERE target = 'merchant'",
    );
    for (ip, range) in cases {
        let expected = format!("{ip} is not an address merchant notifications may go to: {range}");
        assert!(errors.contains(&expected), "{expected} not in {errors:?}");
    }
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let elsewhere = MerchantEndpoint::start(vec![]).await;
    let endpoint =
        MerchantEndpoint::start(vec![Reply::Redirect(elsewhere.url("127.0.0.1")); 5]).await;
    let app = spawn_app().await;
    let id = registered(
        &app,
        &merchant_request(&unique("REQ"), &endpoint.url("127.0.0.1")),
    )
    .await;
    let (admin, csrf) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    decide(&app, &admin, &csrf, id, "approve", None).await;
    wait_until(
        &app,
        "SELECT bool_and(status = 'dead') FROM ops.notifications WHERE target = 'merchant'",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(endpoint.seen().len(), 3);
    assert!(
        elsewhere.seen().is_empty(),
        "the redirect target was never contacted"
    );
}

#[tokio::test]
async fn stopping_the_server_finishes_attempts_in_flight() {
    let gw = gateway(script(&[Answer::Slow(Duration::from_millis(1500))]));
    let (app, _, _, _) = one_approved(&gw, "alice", "reviewer").await;
    let started = Instant::now();
    while gw.received().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The attempt is in flight (the gateway answers after 1.5 s); stop now.
    let db = app.stop().await;
    let rows = query_strings(
        &mut db.connect(),
        "SELECT status || '|' || attempts AS v FROM ops.notifications",
    );
    assert_eq!(
        rows,
        ["delivered|1"],
        "the attempt in flight was finished and recorded before the stop completed"
    );
}

/// The stand-in holds our notifications to the protocol reference: a body
/// that does not conform is answered `PARAM_ILLEGAL`, naming the problem (and
/// every test's stand-in fails the test when it saw one).
#[tokio::test]
async fn the_alipay_stand_in_refuses_a_notification_that_does_not_conform() {
    let gw = crate::stubs::unchecked_gateway(Behaviour::default());
    let signer =
        mpp_registrar::protocol::keys::read_signer(&fixture_path("keys/mpp_private_key.pem"), "1")
            .unwrap();
    let send = |body: serde_json::Value| {
        let body = serde_json::to_vec(&body).unwrap();
        let time = mpp_registrar::protocol::now_timestamp();
        let path = mpp_registrar::protocol::paths::NOTIFY_REGISTRATION_STATUS;
        let signature = signer
            .header_for(&string_to_sign("POST", path, CLIENT_ID, &time, &body))
            .unwrap();
        let request = reqwest::Client::new()
            .post(format!("{}{path}", gw.url()))
            .header("Client-Id", CLIENT_ID)
            .header("Request-Time", time)
            .header("Signature", signature)
            .header("Content-Type", "application/json; charset=UTF-8")
            .body(body);
        async move {
            request
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let pending = send(
        json!({"referenceMerchantId": "M", "registrationRequestId": "R",
        "registrationResult": {"registrationStatus": "PENDING"}}),
    )
    .await;
    assert_eq!(pending["result"]["resultCode"], "PARAM_ILLEGAL");
    assert_eq!(pending["result"]["resultStatus"], "F");
    assert!(
        pending["result"]["resultMessage"]
            .as_str()
            .unwrap()
            .starts_with("registrationResult.registrationStatus"),
        "{pending}"
    );
    let extra = send(json!({"referenceMerchantId": "M", "registrationRequestId": "R",
        "registrationResult": {"registrationStatus": "APPROVED"}, "productCodes": ["CASHIER_PAYMENT"]}))
    .await;
    assert_eq!(extra["result"]["resultCode"], "PARAM_ILLEGAL");
    let fine = send(
        json!({"referenceMerchantId": "M", "registrationRequestId": "R",
        "registrationResult": {"registrationStatus": "REJECTED", "rejectionReason": "No."}}),
    )
    .await;
    assert_eq!(fine["result"]["resultCode"], "SUCCESS");
    let problems: Vec<Option<String>> = gw.received().into_iter().map(|r| r.problem).collect();
    assert!(problems[0].is_some() && problems[1].is_some() && problems[2].is_none());
}

#[tokio::test]
async fn a_backlog_is_recorded_attempt_by_attempt_whatever_the_batch() {
    // Attempts that finish together are recorded in one statement; each still
    // gets its own attempt row and its own outcome, fenced by its number.
    let refusals = 12;
    let gw = gateway(script(&vec![
        Answer::Fail(
            ResultCode::AbnormalRegistrationStatus
        );
        refusals
    ]));
    let app = spawn_app_with(TestDb::new(), |s| s.notify.alipay_gateway_url = None).await;
    for i in 0..120 {
        registered(
            &app,
            &online_request(&format!("REQ-{i:03}"), &format!("M-{i:03}")),
        )
        .await;
    }
    // The whole backlog comes due at once, as after an outage of the gateway.
    diesel::connection::SimpleConnection::batch_execute(
        &mut app.db.connect(),
        "UPDATE registrations SET status = 'APPROVED', decided_at = now(), decided_by = 'test';
         INSERT INTO notifications (registration_id, registration_request_id, target, url, body)
         SELECT id, registration_request_id, 'alipay', '/aps/api/v1/merchants/notifyRegistrationStatus',
                json_build_object('referenceMerchantId', reference_merchant_id,
                    'registrationRequestId', registration_request_id,
                    'registrationResult', json_build_object('registrationStatus', 'APPROVED'))::text
           FROM registrations",
    )
    .unwrap();
    let gw_url = url::Url::parse(&gw.url()).unwrap();
    let worker = spawn_app_with(app.db.shared(), |s| {
        s.notify.alipay_gateway_url = Some(gw_url)
    })
    .await;
    wait_until(
        &app,
        "SELECT bool_and(status IN ('delivered', 'failed')) FROM ops.notifications",
        Duration::from_secs(20),
    )
    .await;
    let by_outcome = query_strings(
        &mut app.db.connect(),
        "SELECT concat_ws('|', n.status, a.outcome, a.attempt, count(*)) AS v
           FROM notifications n JOIN notification_attempts a ON a.notification_id = n.id
          WHERE n.last_result_code IS NOT DISTINCT FROM a.result_code
            AND n.last_http_status IS NOT DISTINCT FROM a.http_status
          GROUP BY n.status, a.outcome, a.attempt ORDER BY 1",
    );
    assert_eq!(
        by_outcome,
        [
            "delivered|delivered|1|108".to_owned(),
            format!("failed|failed|1|{refusals}")
        ]
    );
    let totals = query_strings(
        &mut app.db.connect(),
        "SELECT (SELECT count(*) FROM notification_attempts) || '|' ||
                (SELECT sum(attempts) FROM notifications) || '|' ||
                (SELECT count(*) FROM notifications WHERE (status = 'delivered') = (delivered_at IS NOT NULL)) AS v",
    );
    assert_eq!(totals, ["120|120|120"]);
    assert_eq!(gw.received().len(), 120);
    std::mem::forget(worker.db);
}
