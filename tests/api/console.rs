//! The reviewer console over HTTP: the confirmation step, evidence first,
//! the queue's columns, search, filters, orders and pages, claims, four
//! eyes, notes, the audit page, exports, every notification state and the
//! environment band.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;
use mpp_registrar::domain::review::FourEyes;

fn path_of(id: i64, action: &str) -> String {
    format!("/admin/registrations/{id}/{action}")
}

/// A request with its own names, registration number and website.
fn merchant(request_id: &str, merchant_id: &str, name: &str, legal: &str, reg_no: &str) -> Value {
    let mut body = online_request(request_id, merchant_id);
    body["merchantInfo"]["merchantDisplayName"] = json!(name);
    body["merchantInfo"]["registrationDetail"]["legalName"] = json!(legal);
    body["merchantInfo"]["registrationDetail"]["registrationNo"] = json!(reg_no);
    body["merchantInfo"]["websites"][0]["url"] =
        json!(format!("https://{}.example", merchant_id.to_lowercase()));
    body
}

/// Whether PostgreSQL refuses `sql`; the connection is back to its own role after.
fn refused(conn: &mut diesel::PgConnection, sql: &str) -> bool {
    use diesel::connection::SimpleConnection as _;
    let failed = conn.batch_execute(sql).is_err();
    conn.batch_execute("RESET ROLE").unwrap();
    failed
}

fn rows_in(html: &str) -> usize {
    html.split("<tbody>")
        .nth(1)
        .map(|body| body.split("</tbody>").next().unwrap_or_default())
        .map(|body| body.matches("<tr").count())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_decision_is_confirmed_after_the_page_says_what_will_happen() {
    let app = spawn_app().await;
    let mut body = online_request(&unique("REQ"), &unique("M"));
    body["registrationNotifyUrl"] = json!("https://merchant.example/notify");
    let id = registered(&app, &body).await;
    let (client, csrf) = AdminClient::signed_in(&app, "alice", "reviewer").await;

    // The detail page: the three buttons; the category has no default and is for Reject only.
    let page = client.get(&format!("/admin/registrations/{id}")).await;
    for text in [
        ">Approve</button>",
        ">Reject</button>",
        ">Cancel registration</button>",
        "<legend>Reject only</legend>",
        "<label for=\"reject_code\">Rejection category</label>",
        "<option value=\"\" selected>Choose a category…</option>",
        "<label for=\"note\">Internal note</label>",
        "sent to Alipay+ as written",
    ] {
        assert!(page.html.contains(text), "missing {text}");
    }
    for code in [
        "MISSING_OR_INCORRECT_INFO",
        "REJECT_FOR_RISK",
        "REGISTRATION_FAILED",
    ] {
        assert!(page.html.contains(&format!("<option value=\"{code}\">")));
    }

    // Reject, first press: a confirmation page; nothing changes.
    let reason = "The registration number <b>12345678</b> is not in the companies register.";
    let step = client
        .post(
            &path_of(id, "decision"),
            &[
                ("csrf", &csrf),
                ("decision", "reject"),
                ("reason", reason),
                ("reject_code", "MISSING_OR_INCORRECT_INFO"),
                ("note", "Checked the register on 30 Nov."),
            ],
        )
        .await;
    assert_eq!(step.status, 200);
    for text in [
        "Reject: please confirm",
        "New status: <span class=\"status REJECTED\">REJECTED</span>",
        "Alipay+ will be told: notifyRegistrationStatus with registrationStatus REJECTED.",
        "The merchant will be told at https://merchant.example/notify: FAILED (MISSING_OR_INCORRECT_INFO).",
        "The registration number &#60;b&#62;12345678&#60;/b&#62; is not in the companies register.</pre>",
        "Missing or incorrect information",
        "never sent anywhere",
        ">Confirm</button>",
        ">Back</a>",
    ] {
        assert!(step.html.contains(text), "missing {text}:\n{}", step.html);
    }
    assert_eq!(
        query_count(
            &mut app.db.connect(),
            "SELECT count(*) FROM registrations WHERE status = 'PENDING'"
        ),
        1,
        "the first press decides nothing"
    );

    // Confirm: decided, the note kept, the reason sent word for word.
    let done = client
        .post(
            &path_of(id, "decision"),
            &[
                ("csrf", &csrf),
                ("decision", "reject"),
                (
                    "reason",
                    &hidden_value(&step.html, "reason")
                        .unwrap()
                        .replace("&#60;", "<")
                        .replace("&#62;", ">"),
                ),
                ("reject_code", "MISSING_OR_INCORRECT_INFO"),
                ("note", "Checked the register on 30 Nov."),
                ("confirm", "1"),
            ],
        )
        .await;
    assert!(done.location.unwrap().ends_with("flash=decided"));
    let mut conn = app.db.connect();
    assert_eq!(
        query_strings(
            &mut conn,
            "SELECT body::jsonb #>> '{registrationResult,rejectionReason}' AS v FROM notifications WHERE target = 'alipay'"
        ),
        [reason]
    );
    assert_eq!(
        query_strings(
            &mut conn,
            "SELECT author || '|' || body AS v FROM ops.review_notes"
        ),
        ["alice|Checked the register on 30 Nov."]
    );
    let bodies = query_strings(&mut conn, "SELECT body AS v FROM notifications");
    assert!(
        bodies.iter().all(|b| !b.contains("Checked the register")),
        "the internal note is never sent"
    );
}

#[tokio::test]
async fn a_rejection_needs_a_category_chosen_by_the_reviewer() {
    let app = spawn_app().await;
    let id = registered(&app, &online_request(&unique("REQ"), &unique("M"))).await;
    let (client, csrf) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    // Without a category, the confirmation step asks for it (required, no default).
    let step = client
        .post(
            &path_of(id, "decision"),
            &[
                ("csrf", &csrf),
                ("decision", "reject"),
                ("reason", "No licence."),
            ],
        )
        .await;
    assert_eq!(step.status, 200);
    assert!(
        step.html
            .contains("<select id=\"reject_code\" name=\"reject_code\" required>")
    );
    assert!(
        step.html
            .contains("<option value=\"\" selected>Choose a category…</option>")
    );
    // Confirm without one is refused, and nothing changes.
    let refused = client
        .post(
            &path_of(id, "decision"),
            &[
                ("csrf", &csrf),
                ("decision", "reject"),
                ("reason", "No licence."),
                ("reject_code", ""),
                ("confirm", "1"),
            ],
        )
        .await;
    assert_eq!(refused.status, 200);
    assert!(refused.html.contains("Choose a rejection category."));
    assert_eq!(
        query_count(
            &mut app.db.connect(),
            "SELECT count(*) FROM registrations WHERE status = 'PENDING'"
        ),
        1
    );
    // "Other" is REGISTRATION_FAILED.
    let done = client
        .post(
            &path_of(id, "decision"),
            &[
                ("csrf", &csrf),
                ("decision", "reject"),
                ("reason", "No licence."),
                ("reject_code", "REGISTRATION_FAILED"),
                ("confirm", "1"),
            ],
        )
        .await;
    assert!(done.location.unwrap().ends_with("flash=decided"));
    assert_eq!(
        query_strings(
            &mut app.db.connect(),
            "SELECT status || '|' || reject_code AS v FROM registrations"
        ),
        ["REJECTED|REGISTRATION_FAILED"]
    );
    // Approve and cancel confirmations show no category.
    let other = registered(&app, &online_request(&unique("REQ"), &unique("M"))).await;
    for action in ["approve", "cancel"] {
        let step = client
            .post(
                &path_of(other, "decision"),
                &[("csrf", &csrf), ("decision", action)],
            )
            .await;
        assert_eq!(step.status, 200);
        assert!(!step.html.contains("Rejection category"), "{action}");
        assert!(step.html.contains(">Confirm</button>"));
    }
}

#[tokio::test]
async fn the_page_opens_with_the_kind_of_request_and_the_evidence_before_the_decision() {
    let app = spawn_app().await;
    let merchant_id = unique("M");
    let mut first = online_request(&unique("REQ"), &merchant_id);
    first["merchantInfo"]["websites"] = json!([
        {"name": "Shop", "url": "https://shop.example.com/a?b=1"},
        {"name": "Old", "url": "http://plain.example.com"},
        {"name": "Bad", "url": "javascript:alert(1)"}
    ]);
    let first_id = registered(&app, &first).await;
    let (client, csrf) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    let page = client
        .get(&format!("/admin/registrations/{first_id}"))
        .await;
    assert!(
        page.html
            .contains("<h2 class=\"kind-heading\">New merchant</h2>")
    );
    // Sections with human labels, the JSON path in small print.
    for text in [
        "<h2>Legal name</h2>",
        "<h2>Registration number</h2>",
        "<h2>Registered address</h2>",
        "<h2>Websites</h2>",
        "<h2>Contacts</h2>",
        "<h2>Attachments</h2>",
        "<h2>Pass-through information</h2>",
        "Registration number<small class=\"path\">merchantInfo.registrationDetail.registrationNo</small>",
        "<summary>Raw request</summary>",
    ] {
        assert!(page.html.contains(text), "missing {text}");
    }
    // Only https addresses are links, opening in a new tab without an opener.
    assert!(page.html.contains(
        "<a href=\"https://shop.example.com/a?b=1\" target=\"_blank\" rel=\"noopener noreferrer\">"
    ));
    assert!(!page.html.contains("href=\"http://plain.example.com"));
    assert!(!page.html.contains("href=\"javascript:"));
    // The evidence comes before the decision panel.
    let evidence = page.html.find("<h2>Registration number</h2>").unwrap();
    let decision = page.html.find(">Approve</button>").unwrap();
    assert!(evidence < decision);

    client
        .post(
            &path_of(first_id, "decision"),
            &[("csrf", &csrf), ("decision", "approve"), ("confirm", "1")],
        )
        .await;
    let mut update = first.clone();
    update["registrationRequestId"] = json!(unique("REQ"));
    update["merchantInfo"]["merchantMCC"] = json!("5999");
    update["merchantInfo"]["registrationDetail"]["registrationNo"] = json!("87654321");
    let second = registered(&app, &update).await;
    let page = client.get(&format!("/admin/registrations/{second}")).await;
    let heading = page
        .html
        .find("Update of an approved merchant: 2 changes")
        .expect("the update is named at the top");
    let change = page
        .html
        .find("merchantInfo.registrationDetail.registrationNo</code>")
        .unwrap();
    let evidence = page.html.find("<h2>Registration number</h2>").unwrap();
    assert!(
        heading < change && change < evidence,
        "the changes come first"
    );
    // The queue says so too.
    let queue = client.get("/admin?kind=update").await;
    assert_eq!(rows_in(&queue.html), 1);
    assert!(queue.html.contains("<td data-label=\"Kind\">Update</td>"));
}

#[tokio::test]
async fn search_finds_any_part_of_ids_names_numbers_and_websites_in_every_status() {
    let app = spawn_app().await;
    let dragon = registered(
        &app,
        &merchant(
            "REQ-DRAGON-1",
            "MDRAGON001",
            "Golden Dragon Kitchen",
            "Golden Dragon Catering Limited",
            "HK-5550123",
        ),
    )
    .await;
    registered(
        &app,
        &merchant(
            "REQ-JADE-2",
            "MJADE002",
            "金龍酒家",
            "金龍飲食有限公司",
            "HK-7770999",
        ),
    )
    .await;
    let mut store = instore_request("REQ-STORE-3", "MSTORE003", "STORE-XYZ-77");
    store["storeInfo"]["storeName"] = json!("Harbour Noodle Bar");
    registered(&app, &store).await;
    let (client, csrf) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    // Approved: still found by a search, which looks through every status.
    client
        .post(
            &path_of(dragon, "decision"),
            &[("csrf", &csrf), ("decision", "approve"), ("confirm", "1")],
        )
        .await;

    for (q, expected) in [
        ("dragon", "REQ-DRAGON-1"),
        ("DRAGON CATERING", "REQ-DRAGON-1"),
        ("金龍", "REQ-JADE-2"),
        ("飲食", "REQ-JADE-2"),
        ("7770999", "REQ-JADE-2"),
        ("mjade", "REQ-JADE-2"),
        ("mdragon001.example", "REQ-DRAGON-1"),
        ("xyz-77", "REQ-STORE-3"),
        ("noodle", "REQ-STORE-3"),
        ("REQ-STORE", "REQ-STORE-3"),
    ] {
        let page = client.get(&format!("/admin?q={}", urlencode(q))).await;
        assert_eq!(rows_in(&page.html), 1, "{q}:\n{}", page.html);
        assert!(page.html.contains(expected), "{q}");
        assert!(
            page.html
                .contains("searched <span id=\"searched\">every status</span>"),
            "{q}"
        );
    }
    // A chosen status narrows the search, and the page says so.
    let page = client.get("/admin?q=dragon&status=PENDING").await;
    assert_eq!(rows_in(&page.html), 0);
    assert!(
        page.html
            .contains("searched <span id=\"searched\">PENDING only</span>")
    );
    // LIKE's wildcards are text here.
    let page = client.get("/admin?q=%25").await;
    assert_eq!(rows_in(&page.html), 0);
    let page = client.get("/admin?q=_").await;
    assert_eq!(rows_in(&page.html), 0);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn the_queue_filters_sorts_counts_and_pages_both_ways() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..60 {
        let mut body = merchant(
            &format!("REQ-Q-{i:03}"),
            &format!("MQ{i:03}"),
            &format!("Shop {:03}", 59 - i),
            &format!("Shop {i:03} Limited"),
            &format!("R{i:06}"),
        );
        if i % 2 == 0 {
            body["merchantInfo"]["merchantAddress"]["region"] = json!("SG");
            body["merchantInfo"]["merchantMCC"] = json!("5411");
        }
        ids.push(registered(&app, &body).await);
    }
    let (client, _) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    let page = client.get("/admin").await;
    for column in [
        "Request ID",
        "Merchant ID",
        "Merchant name",
        "Legal name",
        "Region",
        "MCC",
        "Products",
        "Kind",
        "Review flags",
        "Received (UTC)",
        "Waiting",
        "Reviewer",
    ] {
        assert!(
            page.html.contains(&format!("<th>{column}</th>")),
            "{column}"
        );
    }
    assert!(
        page.html
            .contains("<strong id=\"total\">60 registrations</strong>")
    );
    assert_eq!(rows_in(&page.html), 50);
    assert!(
        !page.html.contains("Overdue</span>"),
        "none waits longer than 24h"
    );
    assert!(
        page.html.find("REQ-Q-000").unwrap() < page.html.find("REQ-Q-003").unwrap(),
        "waiting longest first"
    );
    // Next, then previous: back where we were.
    let next = page.html.split("rel=\"next\"").next().unwrap();
    let next_href = next
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let second = client.get(&next_href).await;
    assert_eq!(rows_in(&second.html), 10);
    assert!(!second.html.contains("rel=\"next\""));
    let prev = second.html.split("rel=\"prev\"").next().unwrap();
    let prev_href = prev
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let back = client.get(&prev_href).await;
    assert_eq!(rows_in(&back.html), 50);
    assert!(back.html.contains("REQ-Q-049") && !back.html.contains("REQ-Q-050"));

    // Filters, each a URL parameter.
    for (query, rows) in [
        ("region=SG", 30),
        ("mcc=5411", 30),
        ("region=SG&mcc=5812", 0),
        ("product=IN_STORE_PAYMENT", 0),
        ("product=CASHIER_PAYMENT&region=SG", 30),
        ("kind=new", 50),
        ("kind=update", 0),
        ("flagged=1", 0),
        ("status=APPROVED", 0),
        ("status=ALL&decided_by=alice", 0),
        ("from=2000-01-01&to=2000-01-02", 0),
        ("awaiting=second", 0),
    ] {
        let page = client.get(&format!("/admin?{query}")).await;
        assert_eq!(rows_in(&page.html), rows, "{query}");
    }
    let today = chrono::Utc::now().date_naive();
    let page = client
        .get(&format!("/admin?from={today}&to={today}&region=SG"))
        .await;
    assert!(
        page.html
            .contains("<strong id=\"total\">30 registrations</strong>"),
        "{}",
        page.html
    );
    // Orders.
    let by_name = client.get("/admin?sort=merchant").await;
    assert!(by_name.html.find("Shop 000").unwrap() < by_name.html.find("Shop 001").unwrap());
    let newest = client.get("/admin?sort=received").await;
    assert!(newest.html.find("REQ-Q-059").unwrap() < newest.html.find("REQ-Q-058").unwrap());
    // Bad parameters get a clear page, not a 500.
    for bad in [
        "sort=size",
        "kind=old",
        "from=yesterday",
        "status=LOST",
        "after=zzz",
    ] {
        assert_eq!(
            client.get(&format!("/admin?{bad}")).await.status,
            400,
            "{bad}"
        );
    }
    let _ = ids;
}

#[tokio::test]
async fn a_registration_waiting_longer_than_the_sla_is_overdue() {
    let app = spawn_app_with(TestDb::new(), |s| {
        s.admin.review_sla = Duration::from_secs(1);
    })
    .await;
    let old = registered(&app, &online_request("REQ-OLD", &unique("M"))).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    registered(&app, &online_request("REQ-NEW", &unique("M"))).await;
    let (client, _) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    let page = client.get("/admin").await;
    assert_eq!(
        page.html
            .matches("<span class=\"mark overdue\">Overdue</span>")
            .count(),
        1
    );
    let row = page.html.split("REQ-OLD").next().unwrap();
    assert!(
        row.rsplit("<tr")
            .next()
            .unwrap()
            .contains("class=\"overdue\"")
    );
    let detail = client.get(&format!("/admin/registrations/{old}")).await;
    assert!(
        detail
            .html
            .contains("<span class=\"mark overdue\">Overdue</span>")
    );
}

#[tokio::test]
async fn a_claim_keeps_a_registration_to_one_reviewer_until_taken_over() {
    let app = spawn_app().await;
    let older = registered(&app, &online_request("REQ-CLAIM-1", &unique("M"))).await;
    let newer = registered(&app, &online_request("REQ-CLAIM-2", &unique("M"))).await;
    let (alice, alice_csrf) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    let (bob, bob_csrf) = AdminClient::signed_in(&app, "bob", "reviewer").await;

    // Review next: the oldest unclaimed one.
    let next = alice
        .post("/admin/review-next", &[("csrf", &alice_csrf)])
        .await;
    assert_eq!(
        next.location.as_deref(),
        Some(format!("/admin/registrations/{older}?flash=claimed").as_str())
    );
    let bob_next = bob.post("/admin/review-next", &[("csrf", &bob_csrf)]).await;
    assert!(
        bob_next
            .location
            .unwrap()
            .starts_with(&format!("/admin/registrations/{newer}"))
    );
    let none = alice
        .post("/admin/review-next", &[("csrf", &alice_csrf)])
        .await;
    assert_eq!(
        none.location.as_deref(),
        Some("/admin?flash=nothing_to_review")
    );

    // Bob sees Alice's claim, cannot decide, and the queue shows who holds each.
    let page = bob.get(&format!("/admin/registrations/{older}")).await;
    assert!(page.html.contains("Being reviewed by alice until"));
    assert!(page.html.contains(">Take over</button>"));
    assert!(!page.html.contains(">Approve</button>"));
    let refused = bob
        .post(
            &path_of(older, "decision"),
            &[
                ("csrf", &bob_csrf),
                ("decision", "approve"),
                ("confirm", "1"),
            ],
        )
        .await;
    assert!(
        refused
            .location
            .unwrap()
            .ends_with("flash=claimed_by_other")
    );
    assert_eq!(
        query_count(
            &mut app.db.connect(),
            "SELECT count(*) FROM registrations WHERE status = 'PENDING'"
        ),
        2
    );
    let queue = bob.get("/admin").await;
    assert!(queue.html.contains("<span class=\"claim\">alice</span>"));
    assert!(queue.html.contains("<span class=\"claim\">bob</span>"));

    // Take over: audited, and then Bob decides.
    let taken = bob
        .post(
            &path_of(older, "claim"),
            &[("csrf", &bob_csrf), ("takeover", "1")],
        )
        .await;
    assert!(taken.location.unwrap().ends_with("flash=claimed"));
    let audit = query_strings(
        &mut app.db.connect(),
        "SELECT actor || '|' || action || '|' || coalesce(detail, '') AS v FROM ops.audit_log WHERE action LIKE 'registration.claim%' ORDER BY at",
    );
    assert_eq!(
        audit,
        [
            "alice|registration.claimed|",
            "bob|registration.claimed|",
            "bob|registration.claim_taken_over|taken over from alice"
        ]
    );
    let decided = bob
        .post(
            &path_of(older, "decision"),
            &[
                ("csrf", &bob_csrf),
                ("decision", "approve"),
                ("confirm", "1"),
            ],
        )
        .await;
    assert!(decided.location.unwrap().ends_with("flash=decided"));
    // A decision ends the claim; an expired claim stops nobody.
    assert_eq!(
        query_count(
            &mut app.db.connect(),
            "SELECT count(*) FROM review_claims WHERE registration_id = (SELECT id FROM registrations WHERE registration_request_id = 'REQ-CLAIM-1')"
        ),
        0
    );
    diesel::RunQueryDsl::execute(
        diesel::sql_query("UPDATE review_claims SET claimed_at = now() - interval '2 hours', expires_at = now() - interval '1 hour'"),
        &mut app.db.connect(),
    )
    .unwrap();
    let page = alice.get(&format!("/admin/registrations/{newer}")).await;
    assert!(page.html.contains("Nobody has claimed it."));
    let decided = alice
        .post(
            &path_of(newer, "decision"),
            &[
                ("csrf", &alice_csrf),
                ("decision", "cancel"),
                ("confirm", "1"),
            ],
        )
        .await;
    assert!(decided.location.unwrap().ends_with("flash=decided"));
}

async fn four_eyes_app(policy: FourEyes) -> TestApp {
    spawn_app_with(TestDb::new(), |s| s.admin.four_eyes = policy).await
}

#[tokio::test]
async fn with_four_eyes_a_second_reviewer_makes_the_decision() {
    let app = four_eyes_app(FourEyes::All).await;
    let id = registered(&app, &online_request("REQ-4E", &unique("M"))).await;
    let (alice, alice_csrf) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    let (bob, bob_csrf) = AdminClient::signed_in(&app, "bob", "reviewer").await;

    let step = alice
        .post(
            &path_of(id, "decision"),
            &[("csrf", &alice_csrf), ("decision", "approve")],
        )
        .await;
    assert!(step.html.contains("recorded as <em>proposed</em>"));
    let proposed = alice
        .post(
            &path_of(id, "decision"),
            &[
                ("csrf", &alice_csrf),
                ("decision", "approve"),
                ("confirm", "1"),
            ],
        )
        .await;
    assert!(proposed.location.unwrap().ends_with("flash=proposed"));
    let mut conn = app.db.connect();
    assert_eq!(
        query_strings(&mut conn, "SELECT status AS v FROM registrations"),
        ["PENDING"]
    );
    assert_eq!(
        query_count(&mut conn, "SELECT count(*) FROM notifications"),
        0,
        "nothing sent"
    );

    // The queue marks it and a filter finds it.
    let queue = bob.get("/admin?awaiting=second").await;
    assert_eq!(rows_in(&queue.html), 1);
    assert!(queue.html.contains("Awaiting second reviewer</span>"));

    // The proposer cannot be the second pair of eyes.
    let page = alice.get(&format!("/admin/registrations/{id}")).await;
    assert!(!page.html.contains(">Approve decision</button>"));
    let proposal = hidden_value(
        &bob.get(&format!("/admin/registrations/{id}")).await.html,
        "proposal",
    )
    .unwrap();
    let own = alice
        .post(
            &path_of(id, "proposal"),
            &[
                ("csrf", &alice_csrf),
                ("proposal", &proposal),
                ("action", "approve"),
            ],
        )
        .await;
    assert!(own.location.unwrap().ends_with("flash=own_proposal"));
    // Nor can anyone decide around the proposal.
    let around = bob
        .post(
            &path_of(id, "decision"),
            &[
                ("csrf", &bob_csrf),
                ("decision", "cancel"),
                ("confirm", "1"),
            ],
        )
        .await;
    assert!(around.location.unwrap().ends_with("flash=proposal_open"));

    // Bob approves the decision: it is made, both names are audited, Alipay+ is to be told.
    let page = bob.get(&format!("/admin/registrations/{id}")).await;
    assert!(page.html.contains("Proposed by <strong>alice</strong>"));
    let approved = bob
        .post(
            &path_of(id, "proposal"),
            &[
                ("csrf", &bob_csrf),
                ("proposal", &proposal),
                ("action", "approve"),
            ],
        )
        .await;
    assert!(approved.location.unwrap().ends_with("flash=decided"));
    assert_eq!(
        query_strings(
            &mut conn,
            "SELECT status || '|' || decided_by AS v FROM registrations"
        ),
        ["APPROVED|bob"]
    );
    let audit = query_strings(
        &mut conn,
        "SELECT actor || '|' || action || '|' || coalesce(detail, '') AS v FROM ops.audit_log
          WHERE action LIKE 'registration.%' AND action <> 'registration.received' ORDER BY at",
    );
    assert_eq!(
        audit,
        [
            "alice|registration.decision_proposed|APPROVED",
            "bob|registration.approved|",
            "bob|registration.proposal_approved|proposed by alice",
        ]
    );
    assert_eq!(
        query_count(
            &mut conn,
            "SELECT count(*) FROM notifications WHERE target = 'alipay'"
        ),
        1
    );
}

#[tokio::test]
async fn the_database_refuses_a_decision_confirmed_by_its_proposer() {
    let app = four_eyes_app(FourEyes::Risk).await;
    let id = registered(&app, &online_request("REQ-RISK", &unique("M"))).await;
    let (alice, csrf) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    // A rejection for risk is proposed, not made.
    let proposed = alice
        .post(
            &path_of(id, "decision"),
            &[
                ("csrf", &csrf),
                ("decision", "reject"),
                ("reason", "Listed by our risk team."),
                ("reject_code", "REJECT_FOR_RISK"),
                ("confirm", "1"),
            ],
        )
        .await;
    assert!(proposed.location.unwrap().ends_with("flash=proposed"));
    // Even writing SQL as the application's role, the proposer cannot confirm it.
    let mut conn = app.db.connect();
    for sql in [
        "SET ROLE mpp_app; UPDATE review_proposals SET state = 'approved', closed_by = 'alice', closed_at = now()",
        "SET ROLE mpp_app; UPDATE registrations SET status = 'REJECTED', decided_at = now(), decided_by = 'alice', reason = 'x', reject_code = 'REJECT_FOR_RISK'",
    ] {
        assert!(refused(&mut conn, sql), "{sql}");
    }
    assert_eq!(
        query_strings(&mut conn, "SELECT status AS v FROM registrations"),
        ["PENDING"]
    );

    // A second reviewer sends it back with a note: PENDING for a new decision.
    let (bob, bob_csrf) = AdminClient::signed_in(&app, "bob", "reviewer").await;
    let proposal = hidden_value(
        &bob.get(&format!("/admin/registrations/{id}")).await.html,
        "proposal",
    )
    .unwrap();
    let no_note = bob
        .post(
            &path_of(id, "proposal"),
            &[
                ("csrf", &bob_csrf),
                ("proposal", &proposal),
                ("action", "send_back"),
            ],
        )
        .await;
    assert!(no_note.location.unwrap().ends_with("flash=note_required"));
    let back = bob
        .post(
            &path_of(id, "proposal"),
            &[
                ("csrf", &bob_csrf),
                ("proposal", &proposal),
                ("action", "send_back"),
                ("note", "The listing is for another company."),
            ],
        )
        .await;
    assert!(back.location.unwrap().ends_with("flash=sent_back"));
    let audit = query_strings(
        &mut conn,
        "SELECT actor || '|' || action || '|' || coalesce(detail, '') AS v FROM ops.audit_log WHERE action LIKE '%proposal%'",
    );
    assert_eq!(
        audit,
        [
            "bob|registration.proposal_sent_back|proposed by alice: The listing is for another company."
        ]
    );
    // Without flags, approving needs no second reviewer under `risk`.
    let decided = bob
        .post(
            &path_of(id, "decision"),
            &[
                ("csrf", &bob_csrf),
                ("decision", "approve"),
                ("confirm", "1"),
            ],
        )
        .await;
    assert!(decided.location.unwrap().ends_with("flash=decided"));
}

#[tokio::test]
async fn notes_are_append_only_and_sit_in_the_trail_beside_every_event() {
    let app = spawn_app().await;
    let id = registered(&app, &online_request("REQ-NOTE", &unique("M"))).await;
    let (alice, csrf) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    let added = alice
        .post(
            &path_of(id, "notes"),
            &[
                ("csrf", &csrf),
                ("note", "Called the merchant: <b>awaiting</b> licence."),
            ],
        )
        .await;
    assert!(added.location.unwrap().ends_with("flash=noted"));
    let empty = alice
        .post(&path_of(id, "notes"), &[("csrf", &csrf), ("note", "  ")])
        .await;
    assert!(empty.location.unwrap().ends_with("flash=note_invalid"));
    let forged = alice
        .post(&path_of(id, "notes"), &[("csrf", "x"), ("note", "hi")])
        .await;
    assert_eq!(forged.status, 403);
    let page = alice.get(&format!("/admin/registrations/{id}")).await;
    let trail = page.html.split("id=\"trail\"").nth(1).unwrap();
    let received = trail.find("registration.received").unwrap();
    let note = trail
        .find("Called the merchant: &#60;b&#62;awaiting&#60;/b&#62; licence.")
        .unwrap();
    assert!(received < note, "in time order");
    assert!(trail.contains("<tr class=\"trail-note\">"));
    let mut conn = app.db.connect();
    for sql in [
        "SET ROLE mpp_app; UPDATE review_notes SET body = 'changed'",
        "SET ROLE mpp_app; DELETE FROM review_notes",
        "UPDATE review_notes SET body = 'changed'",
        "DELETE FROM review_notes",
    ] {
        assert!(refused(&mut conn, sql), "{sql}");
    }
    assert_eq!(
        query_count(&mut conn, "SELECT count(*) FROM review_notes"),
        1
    );
}

#[tokio::test]
async fn the_audit_page_is_for_admins_and_both_exports_stream_the_current_filter() {
    let app = spawn_app().await;
    for i in 0..30 {
        let mut body = merchant(
            &format!("REQ-X-{i:02}"),
            &format!("MX{i:02}"),
            &format!("Shop {i}"),
            &format!("Shop {i} Limited"),
            &format!("R{i}"),
        );
        if i == 7 {
            body["merchantInfo"]["merchantDisplayName"] =
                json!("=HYPERLINK(\"https://evil.example\")");
        }
        registered(&app, &body).await;
    }
    let (reviewer, _) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    let (admin, _) = AdminClient::signed_in(&app, "root", "admin").await;
    assert_eq!(reviewer.get("/admin/audit").await.status, 403);
    assert_eq!(reviewer.get("/admin/audit/export.csv").await.status, 403);
    let page = admin
        .get("/admin/audit?action=registration.received&registration=REQ-X-07")
        .await;
    assert_eq!(page.status, 200);
    assert_eq!(rows_in(&page.html), 1);
    assert!(page.html.contains("REQ-X-07"));
    let page = admin
        .get("/admin/audit?actor=root&action=user.signed_in")
        .await;
    assert_eq!(rows_in(&page.html), 1);

    // The queue's export: the current filter, CSV, formulas defused.
    let response = reviewer
        .http
        .get(format!("{}/admin/export.csv?q=shop%202", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/csv; charset=utf-8"
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("registration_request_id,reference_merchant_id,"));
    assert_eq!(lines.len(), 1 + 11, "Shop 2 and Shop 20-29:\n{csv}");
    let all = reviewer.get("/admin/export.csv?status=ALL").await.html;
    assert_eq!(all.lines().count(), 31);
    assert!(
        all.contains("\"'=HYPERLINK(\"\"https://evil.example\"\")\""),
        "{all}"
    );
    // The audit export.
    let audit = admin
        .get("/admin/audit/export.csv?action=registration.received")
        .await;
    assert_eq!(audit.status, 200);
    assert_eq!(audit.html.lines().count(), 31);
    assert!(
        audit
            .html
            .starts_with("at,actor,action,registration_request_id,")
    );
}

#[tokio::test]
async fn every_notification_state_is_listed_with_why_it_waits() {
    // No gateway: Alipay+ notifications wait, and the page says why.
    let app = spawn_app().await;
    let id = registered(&app, &online_request("REQ-N", &unique("M"))).await;
    let (admin, csrf) = AdminClient::signed_in(&app, "root", "admin").await;
    admin
        .post(
            &path_of(id, "decision"),
            &[("csrf", &csrf), ("decision", "approve"), ("confirm", "1")],
        )
        .await;
    let page = admin.get("/admin/notifications").await;
    assert!(
        page.html
            .contains("class=\"current\" aria-current=\"page\">Pending: 1</a>"),
        "{}",
        page.html
    );
    assert!(page.html.contains("Alipay+ gateway not configured"));
    assert!(page.html.contains("REQ-N"));
    for tab in ["Retrying: 0", "Failed: 0", "Dead: 0"] {
        assert!(page.html.contains(tab), "{tab}");
    }
    // Admins retry; reviewers read only.
    assert!(page.html.contains(">Retry</button>"));
    let (reviewer, reviewer_csrf) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    let page = reviewer.get("/admin/notifications?status=pending").await;
    assert!(page.html.contains("REQ-N"));
    assert!(!page.html.contains(">Retry</button>"));
    let notification = query_strings(
        &mut app.db.connect(),
        "SELECT id::text AS v FROM notifications",
    );
    let refused = reviewer
        .post(
            "/admin/notifications/retry",
            &[("csrf", &reviewer_csrf), ("id", &notification[0])],
        )
        .await;
    assert_eq!(refused.status, 403);
    // The menu links to it.
    assert!(
        page.html
            .contains("<a href=\"/admin/notifications\">Notifications</a>")
    );
}

#[tokio::test]
async fn the_environment_band_and_the_menu_are_on_every_page() {
    let app = spawn_app_with(TestDb::new(), |s| {
        s.admin.environment_label = Some("SANDBOX <test>".into());
    })
    .await;
    let band = "<div class=\"environment\" role=\"note\" aria-label=\"Environment\">SANDBOX &#60;test&#62;</div>";
    let anonymous = AdminClient::new(&app);
    assert!(anonymous.get("/admin/login").await.html.contains(band));
    let (client, _) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    for path in ["/admin", "/admin/notifications", "/admin/account"] {
        assert!(client.get(path).await.html.contains(band), "{path}");
    }
    // Error pages keep the band and the menu.
    for path in [
        "/admin/registrations/999999",
        "/admin/nowhere",
        "/admin/users",
        "/admin?sort=size",
    ] {
        let page = client.get(path).await;
        assert!(page.status >= 400, "{path}");
        assert!(page.html.contains(band), "{path}");
        assert!(
            page.html.contains("Signed in as alice"),
            "{path}: {}",
            page.html
        );
        assert!(
            page.html
                .contains("<a href=\"/admin/notifications\">Notifications</a>"),
            "{path}"
        );
    }
    // Times carry their zone.
    registered(&app, &online_request("REQ-T", &unique("M"))).await;
    assert!(
        client
            .get("/admin")
            .await
            .html
            .contains("<th>Received (UTC)</th>")
    );
    let page = client.get("/admin/registrations/1").await;
    assert!(page.html.contains(" UTC (waiting"), "{}", page.html);
}
