//! Attacks found on the running server, each repeated here against the fix:
//! listeners, forwarded headers, the Origin check, session lifetime and
//! cookies, bad input in the admin pages, and sign-in throttling.

use std::time::{Duration, Instant};

use crate::helpers::*;

const PASSWORD: &str = "correct horse battery staple";

/// Signs in as if from `address` (behind a trusted proxy that appends it to
/// `X-Forwarded-For`, after whatever the client wrote there).
async fn sign_in_from(client: &AdminClient, username: &str, password: &str, address: &str) -> Page {
    let csrf = client.get("/admin/login").await.csrf();
    let forwarded = format!("6.6.6.6, {address}");
    let headers = [
        ("Origin", client.origin.as_str()),
        ("X-Forwarded-For", forwarded.as_str()),
    ];
    let first = client
        .post_with_headers(
            "/admin/login",
            &[
                ("csrf", &csrf),
                ("username", username),
                ("password", password),
            ],
            &headers,
        )
        .await;
    if first.location.as_deref() != Some("/admin/login/two-factor") {
        return first;
    }
    // The second step comes through the same proxy.
    client.second_factor_with(username, &headers).await
}

async fn status_of(url: String) -> u16 {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn with_an_admin_listener_the_back_office_is_served_only_there() {
    let app = spawn_app_with(TestDb::new(), |s| {
        s.admin_listen = Some("127.0.0.1:0".into())
    })
    .await;
    let back_office = app.admin_address.clone().unwrap();
    assert_eq!(
        app.register(&online_request(&unique("REQ"), &unique("M")))
            .await
            .code(),
        "REGISTRATION_IN_PROCESS"
    );
    for path in ["/admin/login", "/admin", "/metrics"] {
        assert_eq!(
            status_of(format!("{}{path}", app.address)).await,
            404,
            "{path} on MPP_LISTEN"
        );
    }
    assert_eq!(status_of(format!("{back_office}/admin/login")).await, 200);
    assert_eq!(status_of(format!("{back_office}/admin")).await, 303);
    assert_eq!(status_of(format!("{back_office}/metrics")).await, 200);
    assert_eq!(
        status_of(format!("{back_office}/aps/api/v1/merchants/registration")).await,
        404
    );
    for base in [&app.address, &back_office] {
        for probe in ["/healthz", "/readyz"] {
            assert_eq!(
                status_of(format!("{base}{probe}")).await,
                200,
                "{base}{probe}"
            );
        }
    }
    // And the pages work there.
    let client = AdminClient::for_address(&back_office);
    create_user(&app.db, "alice", PASSWORD, "reviewer");
    assert_eq!(client.sign_in("alice", PASSWORD).await.status, 303);
}

#[tokio::test]
async fn without_an_admin_listener_everything_is_on_one() {
    let app = spawn_app().await;
    for path in ["/admin/login", "/metrics", "/healthz", "/readyz"] {
        assert_eq!(
            status_of(format!("{}{path}", app.address)).await,
            200,
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_client_address_is_the_one_our_proxy_appended() {
    let app = spawn_app_with(TestDb::new(), |s| s.admin.trust_forwarded_for = true).await;
    create_user(&app.db, "alice", PASSWORD, "reviewer");
    let client = AdminClient::new(&app);
    assert_eq!(
        sign_in_from(&client, "alice", PASSWORD, "10.1.2.3")
            .await
            .status,
        303
    );
    let address = query_strings(
        &mut app.db.connect(),
        "SELECT address AS v FROM ops.audit_log WHERE action = 'user.signed_in'",
    );
    assert_eq!(address, ["10.1.2.3"], "not the 6.6.6.6 the client wrote");
}

#[tokio::test]
async fn the_origin_must_be_ours_in_scheme_and_host() {
    let app = spawn_app().await;
    create_user(&app.db, "alice", PASSWORD, "reviewer");
    let client = AdminClient::new(&app);
    let host = app.address.trim_start_matches("http://").to_owned();
    let attempts = [
        // A forged X-Forwarded-Host naming the attacker's origin is not ours
        // unless the proxy is trusted.
        vec![
            ("Origin", "http://evil.example".to_owned()),
            ("X-Forwarded-Host", "evil.example".to_owned()),
        ],
        // Same host, other scheme.
        vec![("Origin", format!("https://{host}"))],
        // Same host, other port.
        vec![("Origin", "http://127.0.0.1:1".to_owned())],
    ];
    for headers in attempts {
        let csrf = client.get("/admin/login").await.csrf();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = client
            .post_with_headers(
                "/admin/login",
                &[
                    ("csrf", &csrf),
                    ("username", "alice"),
                    ("password", PASSWORD),
                ],
                &headers,
            )
            .await;
        assert_eq!(page.status, 403, "{headers:?}: {}", page.html);
    }
    assert_eq!(client.sign_in("alice", PASSWORD).await.status, 303);
}

#[tokio::test]
async fn a_session_ends_at_its_maximum_age_however_busy() {
    let app = spawn_app_with(TestDb::new(), |s| {
        s.admin.session_max_age = Duration::from_secs(120)
    })
    .await;
    let (client, _) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    assert_eq!(client.get("/admin").await.status, 200);
    // Two minutes later (the clock moved back in the database instead).
    diesel::RunQueryDsl::execute(
        diesel::sql_query("UPDATE sessions SET created_at = created_at - interval '121 seconds'"),
        &mut app.db.connect(),
    )
    .unwrap();
    let page = client.get("/admin").await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/admin/login"))
    );
    assert_eq!(
        query_count(&mut app.db.connect(), "SELECT count(*) FROM sessions"),
        0
    );
}

#[tokio::test]
async fn over_tls_the_session_cookie_is_host_only_and_strict_transport_is_asked() {
    let app = spawn_app_with(TestDb::new(), |s| s.admin.secure_cookies = true).await;
    create_user(&app.db, "alice", PASSWORD, "reviewer");
    let mut client = AdminClient::new(&app);
    // Behind a TLS-terminating proxy the browser's origin is https.
    client.origin = client.origin.replacen("http://", "https://", 1);
    let form = client.get("/admin/login").await;
    let csrf = form.csrf();
    let page = client
        .post_with_headers(
            "/admin/login",
            &[
                ("csrf", &csrf),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
            &[("Origin", &client.origin)],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.html);
    // Between the factors only a challenge exists, under the same flags.
    let challenge = page
        .set_cookies
        .iter()
        .find(|c| c.starts_with("mpp_challenge="))
        .expect("a challenge cookie");
    for part in ["Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(challenge.contains(part), "{challenge} lacks {part}");
    }
    // A browser sends a Secure cookie over TLS only; here it is carried by hand.
    let carried = challenge.split(';').next().unwrap().to_owned();
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = plain
        .get(format!("{}/admin/login/two-factor", app.address))
        .header("Cookie", &carried)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let secret = totp_secret_on(&form).expect("the enrolment page");
    let done = plain
        .post(format!("{}/admin/login/two-factor", app.address))
        .header("Cookie", &carried)
        .header("Origin", &client.origin)
        .form(&[
            ("csrf", hidden_value(&form, "csrf").unwrap()),
            ("code", code_for(&secret, now_step())),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let set_cookies: Vec<String> = done
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let cookie = set_cookies
        .iter()
        .find(|c| c.starts_with("__Host-mpp_session="))
        .expect("a __Host- session cookie");
    for part in ["Secure", "HttpOnly", "Path=/", "SameSite=Strict"] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    let response = reqwest::get(format!("{}/admin/login", app.address))
        .await
        .unwrap();
    assert_eq!(
        response
            .headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=31536000")
    );
}

#[tokio::test]
async fn a_nul_byte_in_the_username_or_search_is_bad_input() {
    let app = spawn_app().await;
    let client = AdminClient::new(&app);
    let page = client.sign_in("ali\0ce", PASSWORD).await;
    assert_eq!(page.status, 400, "{}", page.html);
    assert!(!page.html.contains("Database unavailable"));
    let (client, _) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    let page = client.get("/admin?q=a%00b").await;
    assert_eq!(page.status, 400, "{}", page.html);
    assert!(!page.html.contains("Database unavailable"));
    let page = client.get("/admin?q=Example").await;
    assert_eq!(page.status, 200);
}

#[tokio::test]
async fn parallel_guesses_cannot_outrun_the_limit() {
    let app = spawn_app().await;
    create_user(&app.db, "alice", PASSWORD, "reviewer");
    let clients: Vec<AdminClient> = (0..40).map(|_| AdminClient::new(&app)).collect();
    let pages = futures_util::future::join_all(
        clients
            .iter()
            .map(|c| c.sign_in("alice", "a wrong guess, tried forty times at once")),
    )
    .await;
    let evaluated = pages.iter().filter(|p| p.status == 401).count();
    let refused = pages
        .iter()
        .filter(|p| p.status == 429 || p.status == 503)
        .count();
    assert_eq!(evaluated + refused, 40);
    assert!(evaluated <= 5, "{evaluated} guesses were checked");
    let checked = query_count(
        &mut app.db.connect(),
        "SELECT count(*) FROM sign_in_attempts WHERE username = 'alice'",
    );
    assert!(checked <= 5, "{checked} attempts recorded");
    assert_eq!(
        AdminClient::new(&app)
            .sign_in("alice", PASSWORD)
            .await
            .status,
        429,
        "the right password after them is refused too"
    );
}

#[tokio::test]
async fn failures_at_one_address_do_not_lock_the_user_out_at_another() {
    let app = spawn_app_with(TestDb::new(), |s| s.admin.trust_forwarded_for = true).await;
    create_user(&app.db, "alice", PASSWORD, "reviewer");
    let client = AdminClient::new(&app);
    for _ in 0..10 {
        let page = sign_in_from(&client, "alice", "guess", "127.0.0.5").await;
        assert!(matches!(page.status, 401 | 429), "{}", page.status);
    }
    assert_eq!(
        sign_in_from(&client, "alice", PASSWORD, "127.0.0.5")
            .await
            .status,
        429
    );
    // Refused tries are not failures: the window does not grow.
    assert_eq!(
        query_count(
            &mut app.db.connect(),
            "SELECT count(*) FROM sign_in_attempts WHERE address = '127.0.0.5'"
        ),
        5
    );
    let elsewhere = AdminClient::new(&app);
    assert_eq!(
        sign_in_from(&elsewhere, "alice", PASSWORD, "127.0.0.6")
            .await
            .status,
        303,
        "alice signs in from her own address at once"
    );
}

#[tokio::test]
async fn spraying_one_username_from_many_addresses_is_slowed_not_locked() {
    let app = spawn_app_with(TestDb::new(), |s| s.admin.trust_forwarded_for = true).await;
    create_user(&app.db, "alice", PASSWORD, "reviewer");
    // A hundred failures from a hundred addresses within the window.
    diesel::RunQueryDsl::execute(
        diesel::sql_query(
            "INSERT INTO sign_in_attempts (username, address, succeeded)
             SELECT 'alice', '10.9.0.' || g, false FROM generate_series(1, 100) g",
        ),
        &mut app.db.connect(),
    )
    .unwrap();
    let started = Instant::now();
    let page = sign_in_from(&AdminClient::new(&app), "alice", PASSWORD, "10.9.1.1").await;
    assert_eq!(page.status, 303, "the right password still gets in");
    assert!(started.elapsed() >= Duration::from_secs(3), "but slowly");
}

/// Peak resident memory of a process, in MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024.0
}

/// 256 anonymous sign-ins at concurrency 64, each from an address of its own
/// (so that no throttle spares the password check): argon2id runs at most
/// once per core at a time in memory it reuses, the rest wait briefly or are
/// turned away, and the API keeps answering.
#[tokio::test]
async fn a_burst_of_anonymous_sign_ins_costs_bounded_memory_and_spares_the_api() {
    use futures_util::StreamExt as _;
    let db = TestDb::new();
    let work = crate::processes::Workdir::new("burst");
    let server =
        crate::processes::Serve::start(&work, &db.url, &[("MPP_TRUST_FORWARDED_FOR", "true")])
            .await;
    let base = server.base.clone();
    let before = peak_rss_mib(server.pid());
    let burst = futures_util::stream::iter(0..256)
        .map(|i| {
            let base = base.clone();
            async move {
                let client = AdminClient::for_address(&base);
                let csrf = client.get("/admin/login").await.csrf();
                let address = format!("10.{}.{}.1", i / 200, i % 200);
                client
                    .post_with_headers(
                        "/admin/login",
                        &[
                            ("csrf", &csrf),
                            ("username", &format!("intruder{i}")),
                            ("password", "guess"),
                        ],
                        &[("Origin", &base), ("X-Forwarded-For", &address)],
                    )
                    .await
                    .status
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<u16>>();
    let peer = server.peer();
    let during = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let answer = peer
            .register(&online_request(&unique("REQ"), &unique("M")))
            .await;
        (answer.code(), started.elapsed())
    };
    let (statuses, (code, took)) = tokio::join!(burst, during);
    assert_eq!(code, "REGISTRATION_IN_PROCESS");
    assert!(
        took < Duration::from_secs(5),
        "the API took {took:?} during the burst"
    );
    assert!(
        statuses.iter().all(|s| matches!(s, 401 | 503)),
        "{statuses:?}"
    );
    let peak = peak_rss_mib(server.pid());
    assert!(peak < 200.0, "peak resident memory {peak:.0} MiB");
    eprintln!(
        "256 sign-ins at concurrency 64: {} checked and refused, {} turned away as busy; peak RSS {before:.0} → {peak:.0} MiB; a registration during the burst answered in {took:?}",
        statuses.iter().filter(|s| **s == 401).count(),
        statuses.iter().filter(|s| **s == 503).count(),
    );
}

/// Bidirectional overrides and zero-width characters are accepted (some
/// scripts need them) but flagged, and shown spelled out: "Safe Shop
/// \u{202e}gnp.exe\u{202c}" must not read as "Safe Shop exe.png".
#[tokio::test]
async fn invisible_characters_are_flagged_and_shown_spelled_out() {
    let app = spawn_app().await;
    let request_id = unique("REQ");
    let mut body = online_request(&request_id, &unique("M"));
    body["merchantInfo"]["merchantDisplayName"] =
        serde_json::json!("Safe Shop \u{202e}gnp.exe\u{202c}");
    body["merchantInfo"]["registrationDetail"]["legalName"] =
        serde_json::json!("Zero\u{200b}Width Ltd");
    let id = registered(&app, &body).await;
    let flags = query_strings(
        &mut app.db.connect(),
        &format!(
            "SELECT array_to_string(review_flags, ';') AS v FROM registrations WHERE id = {id}"
        ),
    );
    assert!(
        flags[0].contains(
            "invisible_characters: merchantInfo.merchantDisplayName, merchantInfo.registrationDetail.legalName"
        ),
        "{flags:?}"
    );
    let (client, _) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    for page in [
        client.get(&format!("/admin/registrations/{id}")).await,
        client.get("/admin").await,
    ] {
        assert!(
            page.html.contains("Safe Shop ⟨U+202E⟩gnp.exe⟨U+202C⟩"),
            "{}",
            page.html
        );
        assert!(!page.html.contains('\u{202e}') && !page.html.contains('\u{200b}'));
    }
}

/// Sessions past their idle or absolute lifetime are removed on a schedule
/// (the first sweep runs at start), not only when their cookie comes back.
#[tokio::test]
async fn expired_sessions_are_swept_without_a_visit() {
    let db = TestDb::new();
    create_user(&db, "sam", PASSWORD, "reviewer");
    diesel::RunQueryDsl::execute(
        diesel::sql_query(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at)
             SELECT decode(h, 'hex'), u.id, 'c', now() - c::interval, now() - s::interval
               FROM users u,
                    (VALUES ('01', '1 hour', '2 hours'),   -- idle too long
                            ('02', '13 hours', '1 minute'), -- past its maximum age
                            ('03', '1 hour', '1 minute')    -- live
                    ) AS v (h, c, s)
              WHERE u.username = 'sam'",
        ),
        &mut db.connect(),
    )
    .unwrap();
    let app = spawn_app_with(db, |_| {}).await;
    let started = std::time::Instant::now();
    loop {
        let left = query_strings(
            &mut app.db.connect(),
            "SELECT encode(id_hash, 'hex') AS v FROM sessions ORDER BY 1",
        );
        if left == ["03"] {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{left:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
