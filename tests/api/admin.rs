//! The reviewers' admin pages: sign-in, sessions, CSRF, the queue, the detail
//! page and decisions.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::*;

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn anonymous_visitors_are_sent_to_sign_in_everywhere() {
    let app = spawn_app().await;
    let id = registered(&app, &online_request(&unique("REQ"), &unique("M"))).await;
    let client = AdminClient::new(&app);
    for path in [
        "/admin",
        "/admin/",
        &format!("/admin/registrations/{id}"),
        "/admin/users",
        "/admin/notifications",
        "/admin/audit",
        "/admin/export.csv",
        "/admin/audit/export.csv",
        "/admin/account",
        "/admin/rules",
        "/admin/nothing/here",
    ] {
        let page = client.get(path).await;
        assert_eq!(
            (page.status, page.location.as_deref()),
            (303, Some("/admin/login")),
            "GET {path}"
        );
    }
    for path in [
        &format!("/admin/registrations/{id}/decision"),
        &format!("/admin/registrations/{id}/claim"),
        &format!("/admin/registrations/{id}/proposal"),
        &format!("/admin/registrations/{id}/notes"),
        &format!("/admin/registrations/{id}/hits/1/dismiss"),
        "/admin/review-next",
        "/admin/logout",
        "/admin/users/x/disable",
        "/admin/users/x/enable",
        "/admin/notifications/retry",
        "/admin/nothing/here",
    ] {
        let page = client
            .post(
                path,
                &[("csrf", "x"), ("decision", "approve"), ("confirm", "1")],
            )
            .await;
        assert_eq!(
            (page.status, page.location.as_deref()),
            (303, Some("/admin/login")),
            "POST {path}"
        );
    }
    let login = client.get("/admin/login").await;
    assert_eq!(login.status, 200);
    for text in [
        ">Username</label>",
        ">Password</label>",
        ">Sign in</button>",
    ] {
        assert!(login.html.contains(text), "{text}");
    }
    let mut conn = app.db.connect();
    assert_eq!(
        query_count(
            &mut conn,
            "SELECT count(*) FROM registrations WHERE status <> 'PENDING'"
        ),
        0
    );
}

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_session_and_sign_out_destroys_it() {
    let app = spawn_app().await;
    create_user(&app.db, "alice", PASSWORD, "reviewer");
    let client = AdminClient::new(&app);
    let page = client.sign_in("alice", PASSWORD).await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/admin"))
    );
    let cookie = page
        .set_cookies
        .iter()
        .find(|c| c.starts_with("mpp_session="))
        .expect("session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "not Secure unless configured: {cookie}"
    );
    let session_value = cookie.split(';').next().unwrap().to_owned();

    let queue = client.get("/admin").await;
    assert_eq!(queue.status, 200);
    assert!(queue.html.contains("Signed in as alice"));

    let out = client
        .post("/admin/logout", &[("csrf", &queue.csrf())])
        .await;
    assert_eq!(
        (out.status, out.location.as_deref()),
        (303, Some("/admin/login"))
    );
    // The old cookie no longer opens anything, even if a browser kept it.
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = replay
        .get(format!("{}/admin", app.address))
        .header("Cookie", &session_value)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let actions = query_strings(
        &mut app.db.connect(),
        "SELECT action AS v FROM ops.audit_log WHERE actor = 'alice' ORDER BY at, action",
    );
    assert_eq!(
        actions,
        ["user.mfa_enrolled", "user.signed_in", "user.signed_out"]
    );
}

#[tokio::test]
async fn a_session_id_from_before_sign_in_is_not_kept() {
    let app = spawn_app().await;
    create_user(&app.db, "alice", PASSWORD, "reviewer");
    let client = AdminClient::new(&app);
    let first = client.sign_in("alice", PASSWORD).await;
    let first_cookie = first
        .set_cookies
        .iter()
        .find(|c| c.starts_with("mpp_session="))
        .unwrap()
        .clone();
    // Signing in again (e.g. with a session an attacker planted) gives a new id and ends the old one.
    let second = client.sign_in("alice", PASSWORD).await;
    let second_cookie = second
        .set_cookies
        .iter()
        .find(|c| c.starts_with("mpp_session="))
        .unwrap()
        .clone();
    assert_ne!(
        first_cookie.split(';').next(),
        second_cookie.split(';').next()
    );
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let old = first_cookie.split(';').next().unwrap();
    let r = plain
        .get(format!("{}/admin", app.address))
        .header("Cookie", old)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "the pre-sign-in session is gone");
    // A made-up session id is never accepted.
    let r = plain
        .get(format!("{}/admin", app.address))
        .header("Cookie", "mpp_session=chosen-by-attacker")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn wrong_passwords_and_unknown_users_fail_alike_and_are_throttled() {
    let app = spawn_app().await;
    create_user(&app.db, "alice", PASSWORD, "reviewer");
    let client = AdminClient::new(&app);

    // The first password check of a process pays for warming up (memory,
    // connections); do it before anything is timed.
    create_user(&app.db, "warmup", PASSWORD, "reviewer");
    assert_eq!(
        client.sign_in("warmup", "not the password").await.status,
        401
    );

    let time = |started: Instant| started.elapsed();
    let started = Instant::now();
    let wrong = client.sign_in("alice", "not the password").await;
    let wrong_took = time(started);
    let started = Instant::now();
    let unknown = client.sign_in("mallory", "not the password").await;
    let unknown_took = time(started);
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert!(
        wrong.html.contains("Wrong username or password.")
            && unknown.html.contains("Wrong username or password.")
    );
    // Both pay for a password hash check: the unknown user is not answered early.
    assert!(
        unknown_took * 3 > wrong_took,
        "unknown {unknown_took:?} vs wrong {wrong_took:?}"
    );

    for _ in 0..4 {
        assert_eq!(client.sign_in("alice", "guess").await.status, 401);
    }
    let throttled = client.sign_in("alice", PASSWORD).await;
    assert_eq!(
        throttled.status, 429,
        "the right password does not help once throttled"
    );
    assert!(throttled.html.contains("Too many failed sign-ins"));
    let failures = query_count(
        &mut app.db.connect(),
        "SELECT count(*) FROM ops.audit_log WHERE action = 'user.sign_in_failed'",
    );
    assert_eq!(failures, 8, "the warm-up, the two timed and five guesses");
}

#[tokio::test]
async fn many_failures_from_one_address_are_throttled_across_usernames() {
    let app = spawn_app().await;
    create_user(&app.db, "alice", PASSWORD, "reviewer");
    let client = AdminClient::new(&app);
    for i in 0..20 {
        assert_eq!(client.sign_in(&format!("guess{i}"), "x").await.status, 401);
    }
    assert_eq!(client.sign_in("alice", PASSWORD).await.status, 429);
}

#[tokio::test]
async fn forms_need_the_csrf_token_and_our_origin() {
    let app = spawn_app().await;
    let id = registered(&app, &online_request(&unique("REQ"), &unique("M"))).await;
    let (client, csrf) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    let path = format!("/admin/registrations/{id}/decision");
    let missing = client
        .post(&path, &[("decision", "approve"), ("confirm", "1")])
        .await;
    let wrong = client
        .post(
            &path,
            &[
                ("csrf", "forged"),
                ("decision", "approve"),
                ("confirm", "1"),
            ],
        )
        .await;
    let foreign = client
        .post_with_headers(
            &path,
            &[("csrf", &csrf), ("decision", "approve"), ("confirm", "1")],
            &[("Origin", "https://evil.example")],
        )
        .await;
    let no_origin = client
        .post_with_headers(
            &path,
            &[("csrf", &csrf), ("decision", "approve"), ("confirm", "1")],
            &[],
        )
        .await;
    for page in [&missing, &wrong, &foreign, &no_origin] {
        assert_eq!(page.status, 403);
    }
    assert_eq!(
        query_count(
            &mut app.db.connect(),
            "SELECT count(*) FROM registrations WHERE status = 'PENDING'"
        ),
        1
    );
    // The login form is protected too.
    let login = AdminClient::new(&app);
    let page = login
        .post(
            "/admin/login",
            &[("csrf", "x"), ("username", "alice"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, 403);
    // The console's other forms ask the same.
    for (path, form) in [
        (
            format!("/admin/registrations/{id}/claim"),
            vec![("takeover", "1")],
        ),
        (
            format!("/admin/registrations/{id}/notes"),
            vec![("note", "hello")],
        ),
        (
            format!("/admin/registrations/{id}/proposal"),
            vec![("proposal", "1"), ("action", "approve")],
        ),
        ("/admin/review-next".to_owned(), vec![]),
    ] {
        let mut forged = form.clone();
        forged.push(("csrf", "forged"));
        assert_eq!(client.post(&path, &forged).await.status, 403, "{path}");
        let mut foreign = form.clone();
        foreign.push(("csrf", &csrf));
        let page = client
            .post_with_headers(&path, &foreign, &[("Origin", "https://evil.example")])
            .await;
        assert_eq!(page.status, 403, "{path}");
    }
    assert_eq!(
        query_count(&mut app.db.connect(), "SELECT count(*) FROM review_claims"),
        0
    );
    // With both, it works.
    let ok = client
        .post(
            &path,
            &[("csrf", &csrf), ("decision", "approve"), ("confirm", "1")],
        )
        .await;
    assert_eq!(ok.status, 303);
}

#[tokio::test]
async fn the_queue_lists_pending_work_oldest_first_with_filters_search_and_pages() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..55 {
        let mut body = online_request(&format!("REQ-{i:03}"), &format!("M-{i:03}"));
        body["merchantInfo"]["merchantDisplayName"] = json!(format!("Shop {i:03}"));
        if i % 5 == 0 {
            body["productCodes"] = json!(["IN_STORE_PAYMENT"]);
            body["storeInfo"] = json!({"referenceStoreId": "S1", "storeName": format!("Shop {i:03}"), "storeMCC": "5812", "storeAddress": {"region": "HK"}});
            body["merchantInfo"]
                .as_object_mut()
                .unwrap()
                .remove("merchantDisplayName");
        }
        ids.push(registered(&app, &body).await);
    }
    let (client, _) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    let page = client.get("/admin").await;
    assert!(page.html.contains("PENDING: 55"), "counts per status");
    let first = page.html.find("REQ-000").unwrap();
    let second = page.html.find("REQ-001").unwrap();
    assert!(first < second, "oldest first");
    assert!(!page.html.contains("REQ-050"), "50 per page");
    let next = page
        .html
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|h| h.contains("after="))
        .unwrap();
    let page2 = client
        .get(&next.replace("&amp;", "&").replace("&#38;", "&"))
        .await;
    assert!(
        page2.html.contains("REQ-050")
            && page2.html.contains("REQ-054")
            && !page2.html.contains("REQ-049")
    );

    let in_store = client
        .get("/admin?status=PENDING&product=IN_STORE_PAYMENT")
        .await;
    assert!(in_store.html.contains("REQ-005") && !in_store.html.contains("REQ-006"));
    for q in ["REQ-007", "M-007", "shop 007"] {
        let found = client
            .get(&format!("/admin?status=ALL&q={}", q.replace(' ', "+")))
            .await;
        assert!(
            found.html.contains("REQ-007") && !found.html.contains("REQ-008"),
            "search {q}"
        );
    }
    let nothing = client.get("/admin?status=ALL&q=%25").await;
    assert!(
        nothing.html.contains("Nothing here."),
        "LIKE wildcards are literal"
    );
    assert_eq!(client.get("/admin?status=BOGUS").await.status, 400);
}

#[tokio::test]
async fn merchant_text_is_shown_as_text_never_as_markup() {
    let app = spawn_app().await;
    let payload = "<script>alert(1)</script>";
    let mut body = online_request(&unique("REQ"), "<img src=x onerror=alert(2)>");
    body["merchantInfo"]["merchantDisplayName"] = json!(payload);
    body["merchantInfo"]["registrationDetail"]["legalName"] = json!("\"><svg onload=alert(3)>");
    let id = registered(&app, &body).await;
    let (client, _) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    for path in ["/admin".to_owned(), format!("/admin/registrations/{id}")] {
        let page = client.get(&path).await;
        assert!(
            !page.html.contains("<script>alert")
                && !page.html.contains("<img src=x")
                && !page.html.contains("<svg"),
            "{path}"
        );
        assert!(
            page.html
                .contains("&#60;script&#62;alert(1)&#60;/script&#62;")
                || page.html.contains("&lt;script&gt;"),
            "{path}"
        );
    }
}

/// Every string the request carries, one at a time, set to markup: whatever
/// validation accepts is shown on the queue and detail pages as text.
#[tokio::test]
async fn markup_in_any_merchant_field_renders_inert() {
    fn leaves(value: &Value, at: String, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    leaves(v, format!("{at}/{k}"), out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    leaves(v, format!("{at}/{i}"), out);
                }
            }
            Value::String(_) => out.push(at),
            _ => {}
        }
    }
    let app = spawn_app().await;
    let (client, csrf) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    let mut pointers = Vec::new();
    leaves(
        &instore_request("REQ", "M", "S"),
        String::new(),
        &mut pointers,
    );
    let mut shown = 0;
    for (n, pointer) in pointers.iter().enumerate() {
        let mut body = instore_request(&unique("REQ"), &unique("M"), &unique("S"));
        let payload = format!("<img src=x onerror=alert({n})>");
        *body.pointer_mut(pointer).unwrap() = json!(payload);
        let answer = app.register(&body).await;
        if answer.code() != "REGISTRATION_IN_PROCESS" {
            continue;
        }
        shown += 1;
        let id = query_strings(
            &mut app.db.connect(),
            "SELECT max(id)::text AS v FROM registrations",
        )
        .remove(0);
        for path in [
            format!("/admin/registrations/{id}"),
            "/admin?status=ALL".to_owned(),
            "/admin?q=img".to_owned(),
        ] {
            let page = client.get(&path).await;
            assert!(
                !page.html.contains("<img src=x"),
                "{pointer} on {path} is markup"
            );
        }
        // The confirmation step shows merchant text (and the reason) too.
        let confirm = client
            .post(
                &format!("/admin/registrations/{id}/decision"),
                &[
                    ("csrf", &csrf),
                    ("decision", "reject"),
                    ("reason", &payload),
                    ("reject_code", "REGISTRATION_FAILED"),
                ],
            )
            .await;
        assert!(
            !confirm.html.contains("<img src=x"),
            "{pointer} on the confirmation"
        );
    }
    assert!(shown > 10, "only {shown} fields took markup");
}

#[tokio::test]
async fn the_detail_page_shows_the_request_history_changes_and_audit_trail() {
    let app = spawn_app().await;
    let merchant = unique("M");
    let first_id = unique("REQ");
    let first = registered(&app, &online_request(&first_id, &merchant)).await;
    let (client, csrf) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    client
        .post(
            &format!("/admin/registrations/{first}/decision"),
            &[("csrf", &csrf), ("decision", "approve"), ("confirm", "1")],
        )
        .await;

    let mut update = online_request(&unique("REQ"), &merchant);
    update["merchantInfo"]["merchantMCC"] = json!("5999");
    let second = registered(&app, &update).await;
    let page = client.get(&format!("/admin/registrations/{second}")).await;
    for text in [
        "Example Tea House Limited",
        "99 Queen&#39;s Road Central",
        "ops@example.com",
        "https://shop.example.com",
        "br-12345678.pdf",
        "acqpBatchNo",
        "CASHIER_PAYMENT, AGREEMENT_PAYMENT",
        ">Approve</button>",
        ">Reject</button>",
        ">Cancel registration</button>",
        "<label for=\"reason\">Reason</label>",
        "registration.received",
    ] {
        let variant = text.replace("&#39;", "&#x27;");
        assert!(
            page.html.contains(text) || page.html.contains(&variant),
            "missing {text}"
        );
    }
    assert!(
        page.html.contains(&first_id),
        "earlier registrations are listed"
    );
    assert!(
        page.html.contains("merchantInfo.merchantMCC") && page.html.contains("5999"),
        "the change is shown"
    );
}

#[tokio::test]
async fn approve_reject_and_cancel_record_the_decision_and_its_audit() {
    let app = spawn_app().await;
    let a = registered(&app, &online_request("REQ-A", &unique("M"))).await;
    let r = registered(&app, &online_request("REQ-R", &unique("M"))).await;
    let c = registered(&app, &online_request("REQ-C", &unique("M"))).await;
    let (client, csrf) = AdminClient::signed_in(&app, "alice", "reviewer").await;

    let page = client
        .post(
            &format!("/admin/registrations/{a}/decision"),
            &[("csrf", &csrf), ("decision", "approve"), ("confirm", "1")],
        )
        .await;
    assert_eq!(
        page.location.as_deref(),
        Some(format!("/admin/registrations/{a}?flash=decided").as_str())
    );
    let shown = client.get(page.location.as_deref().unwrap()).await;
    assert!(shown.html.contains("Decision recorded: APPROVED by alice"));
    assert!(shown.html.contains("id=\"status\">APPROVED<"));
    assert!(
        !shown.html.contains(">Approve</button>"),
        "no decision form once decided"
    );

    let no_reason = client
        .post(
            &format!("/admin/registrations/{r}/decision"),
            &[
                ("csrf", &csrf),
                ("decision", "reject"),
                ("reason", " "),
                ("reject_code", "REJECT_FOR_RISK"),
            ],
        )
        .await;
    assert!(
        no_reason
            .location
            .unwrap()
            .ends_with("flash=reason_required")
    );
    let too_long = "x".repeat(1025);
    let long = client
        .post(
            &format!("/admin/registrations/{r}/decision"),
            &[
                ("csrf", &csrf),
                ("decision", "reject"),
                ("reason", &too_long),
                ("reject_code", "REJECT_FOR_RISK"),
            ],
        )
        .await;
    assert!(long.location.unwrap().ends_with("flash=reason_too_long"));
    client
        .post(
            &format!("/admin/registrations/{r}/decision"),
            &[
                ("csrf", &csrf),
                ("decision", "reject"),
                ("reason", "licence expired"),
                ("reject_code", "REJECT_FOR_RISK"),
                ("template", "Business registration could not be verified"),
                ("confirm", "1"),
            ],
        )
        .await;
    client
        .post(
            &format!("/admin/registrations/{c}/decision"),
            &[("csrf", &csrf), ("decision", "cancel"), ("confirm", "1")],
        )
        .await;

    let mut conn = app.db.connect();
    let rows = query_strings(
        &mut conn,
        "SELECT registration_request_id || '|' || status || '|' || decided_by || '|' || coalesce(reason, '-') AS v
           FROM ops.registrations ORDER BY registration_request_id",
    );
    assert_eq!(
        rows,
        [
            "REQ-A|APPROVED|alice|-",
            "REQ-C|CANCELLED|alice|-",
            "REQ-R|REJECTED|alice|Business registration could not be verified: licence expired",
        ]
    );
    let code = query_strings(
        &mut conn,
        "SELECT reject_code AS v FROM registrations WHERE registration_request_id = 'REQ-R'",
    );
    assert_eq!(code, ["REJECT_FOR_RISK"]);
    let audit = query_strings(
        &mut conn,
        "SELECT registration_request_id || '|' || actor || '|' || action || '|' || from_status || '|' || to_status AS v
           FROM ops.audit_log WHERE from_status IS NOT NULL ORDER BY registration_request_id",
    );
    assert_eq!(
        audit,
        [
            "REQ-A|alice|registration.approved|PENDING|APPROVED",
            "REQ-C|alice|registration.cancelled|PENDING|CANCELLED",
            "REQ-R|alice|registration.rejected|PENDING|REJECTED",
        ]
    );

    // Deciding again is refused with who decided what and when; nothing changes.
    let again = client
        .post(
            &format!("/admin/registrations/{r}/decision"),
            &[("csrf", &csrf), ("decision", "approve"), ("confirm", "1")],
        )
        .await;
    let shown = client.get(again.location.as_deref().unwrap()).await;
    assert!(
        shown
            .html
            .contains("no longer PENDING: it was already REJECTED by alice at"),
        "{}",
        shown.html
    );
    assert_eq!(
        query_count(
            &mut conn,
            "SELECT count(*) FROM registrations WHERE status = 'REJECTED'"
        ),
        1
    );
}

#[tokio::test]
async fn of_two_reviewers_deciding_at_once_exactly_one_wins() {
    let app = spawn_app().await;
    let id = registered(&app, &online_request(&unique("REQ"), &unique("M"))).await;
    let (alice, alice_csrf) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    let (bob, bob_csrf) = AdminClient::signed_in(&app, "bob", "reviewer").await;
    let path = format!("/admin/registrations/{id}/decision");
    let alice_form = [
        ("csrf", alice_csrf.as_str()),
        ("decision", "approve"),
        ("confirm", "1"),
    ];
    let bob_form = [
        ("csrf", bob_csrf.as_str()),
        ("decision", "reject"),
        ("reason", "no"),
        ("reject_code", "REGISTRATION_FAILED"),
        ("confirm", "1"),
    ];
    let mut attempts = Vec::new();
    for _ in 0..6 {
        attempts.push(alice.post(&path, &alice_form[..]));
        attempts.push(bob.post(&path, &bob_form[..]));
    }
    let pages = futures_util::future::join_all(attempts).await;
    let won = pages
        .iter()
        .filter(|p| {
            p.location
                .as_deref()
                .is_some_and(|l| l.ends_with("flash=decided"))
        })
        .count();
    let lost = pages
        .iter()
        .filter(|p| {
            p.location
                .as_deref()
                .is_some_and(|l| l.ends_with("flash=already_decided"))
        })
        .count();
    assert_eq!((won, lost), (1, 11));
    let decisions = query_count(
        &mut app.db.connect(),
        "SELECT count(*) FROM ops.audit_log WHERE from_status = 'PENDING'",
    );
    assert_eq!(decisions, 1);
}

#[tokio::test]
async fn admins_manage_users_and_reviewers_cannot() {
    let app = spawn_app().await;
    let (admin, admin_csrf) = AdminClient::signed_in(&app, "root", "admin").await;
    let (reviewer, reviewer_csrf) = AdminClient::signed_in(&app, "carol", "reviewer").await;
    assert_eq!(reviewer.get("/admin/users").await.status, 403);
    assert_eq!(
        reviewer
            .post("/admin/users/root/disable", &[("csrf", &reviewer_csrf)])
            .await
            .status,
        403
    );

    let users = admin.get("/admin/users").await;
    assert!(users.html.contains("carol") && users.html.contains("reviewer"));
    let disabled = admin
        .post("/admin/users/carol/disable", &[("csrf", &admin_csrf)])
        .await;
    assert_eq!(disabled.status, 303);
    assert_eq!(
        reviewer.get("/admin").await.status,
        303,
        "a disabled user's session ends"
    );
    assert_eq!(
        reviewer.sign_in("carol", PASSWORD).await.status,
        401,
        "and cannot sign in"
    );
    admin
        .post("/admin/users/carol/enable", &[("csrf", &admin_csrf)])
        .await;
    assert_eq!(reviewer.sign_in("carol", PASSWORD).await.status, 303);
    assert_eq!(
        admin
            .post("/admin/users/root/disable", &[("csrf", &admin_csrf)])
            .await
            .status,
        400,
        "not yourself"
    );
    let actions = query_strings(
        &mut app.db.connect(),
        "SELECT action AS v FROM ops.audit_log WHERE actor = 'root' AND action LIKE 'user.%abled'",
    );
    assert_eq!(actions, ["user.disabled", "user.enabled"]);
}

#[tokio::test]
async fn idle_sessions_expire() {
    let app = spawn_app().await;
    let (client, _) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    diesel::RunQueryDsl::execute(
        diesel::sql_query("UPDATE sessions SET last_seen_at = now() - interval '31 minutes'"),
        &mut app.db.connect(),
    )
    .unwrap();
    assert_eq!(client.get("/admin").await.status, 303);
    let _ = Duration::ZERO;
}

#[tokio::test]
async fn pages_are_self_contained_and_the_policy_admits_only_their_own_style() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let app = spawn_app().await;
    let response = reqwest::get(format!("{}/admin/login", app.address))
        .await
        .unwrap();
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = response.text().await.unwrap();
    let style = html
        .split("<style>")
        .nth(1)
        .and_then(|s| s.split("</style>").next())
        .unwrap();
    let hash =
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(style.as_bytes()));
    assert!(csp.contains(&format!("style-src 'sha256-{hash}'")), "{csp}");
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "no scripts at all: {csp}"
    );
    assert!(
        !html.contains("<script") && !html.contains("http://") && !html.contains("https://"),
        "no external assets"
    );
}
