//! Two-factor sign-in (TOTP): enrolment at the first sign-in, a code at
//! every later one, each code and recovery code good once, wrong codes
//! throttled like passwords, no session before the second step, and reset.

use crate::helpers::*;

const PASSWORD: &str = "correct horse battery staple";

/// Password accepted: the answer is the way to the second step, not a session.
async fn past_the_password(app: &TestApp, username: &str) -> AdminClient {
    let client = AdminClient::new(app);
    let first = client.password_step(username, PASSWORD).await;
    assert_eq!(
        (first.status, first.location.as_deref()),
        (303, Some("/admin/login/two-factor")),
        "{}",
        first.html
    );
    assert!(
        !first
            .set_cookies
            .iter()
            .any(|c| c.starts_with("mpp_session="))
    );
    client
}

async fn submit_code(client: &AdminClient, code: &str) -> Page {
    let page = client.get("/admin/login/two-factor").await;
    client
        .post(
            "/admin/login/two-factor",
            &[("csrf", &page.csrf()), ("code", code)],
        )
        .await
}

#[tokio::test]
async fn the_first_sign_in_enrols_and_later_ones_ask_for_a_code_good_once() {
    let app = spawn_app().await;
    create_user(&app.db, "alice", PASSWORD, "reviewer");
    let client = past_the_password(&app, "alice").await;
    // Between the factors no admin page answers.
    let queue = client.get("/admin").await;
    assert_eq!(queue.location.as_deref(), Some("/admin/login"));

    let enrol = client.get("/admin/login/two-factor").await;
    for expected in [
        "Set up two-factor authentication",
        "<svg",
        "data-totp-secret",
        "Authentication code",
        ">Verify<",
    ] {
        assert!(enrol.html.contains(expected), "{expected}: {}", enrol.html);
    }
    assert!(!enrol.html.contains("<script") && !enrol.html.contains("src=\"http"));
    let secret = totp_secret_on(&enrol.html).unwrap();
    let wrong = submit_code(&client, "000000").await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.html.contains("not right"));
    let step = now_step();
    let done = submit_code(&client, &code_for(&secret, step)).await;
    assert_eq!(done.status, 200, "{}", done.html);
    let codes: Vec<String> = done
        .html
        .split("data-recovery-code>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    assert_eq!(client.get("/admin").await.status, 200);

    // Stored sealed: neither the key nor its base32 form is in the row.
    let stored = query_strings(
        &mut app.db.connect(),
        "SELECT encode(totp_secret, 'hex') AS v FROM users WHERE username = 'alice'",
    );
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!stored[0].contains(&hex) && stored[0].len() > hex.len());

    // Later: the verify page, and a code of a step not used yet.
    let later = past_the_password(&app, "alice").await;
    let page = later.get("/admin/login/two-factor").await;
    assert!(page.html.contains("Authentication code") && !page.html.contains("data-totp-secret"));
    let used = code_for(&secret, step);
    let replay = submit_code(&later, &used).await;
    assert_eq!(replay.status, 401, "the enrolment's code is spent");
    let fresh = code_for(&secret, step + 1);
    let signed = submit_code(&later, &fresh).await;
    assert_eq!(
        signed.location.as_deref(),
        Some("/admin"),
        "{}",
        signed.html
    );
    // The same code a second time, from another browser, within its window.
    let again = past_the_password(&app, "alice").await;
    assert_eq!(submit_code(&again, &fresh).await.status, 401);

    // A recovery code works in the same field, once.
    let rescued = submit_code(&again, &codes[3].to_uppercase()).await;
    assert_eq!(rescued.location.as_deref(), Some("/admin"));
    let twice = past_the_password(&app, "alice").await;
    assert_eq!(submit_code(&twice, &codes[3]).await.status, 401);

    let actions = query_strings(
        &mut app.db.connect(),
        "SELECT action AS v FROM ops.audit_log WHERE actor = 'alice' ORDER BY at, action",
    );
    assert!(actions.contains(&"user.mfa_enrolled".to_owned()));
    assert!(actions.contains(&"user.recovery_code_used".to_owned()));
    assert_eq!(actions.iter().filter(|a| *a == "user.signed_in").count(), 3);
}

#[tokio::test]
async fn wrong_codes_are_throttled_like_passwords() {
    let app = spawn_app().await;
    create_user(&app.db, "bob", PASSWORD, "reviewer");
    let enrolled = AdminClient::new(&app);
    assert_eq!(enrolled.sign_in("bob", PASSWORD).await.status, 303);
    let client = past_the_password(&app, "bob").await;
    for _ in 0..4 {
        assert_eq!(submit_code(&client, "123456").await.status, 401);
    }
    // Four wrong codes and one good password make five attempts; a fifth
    // wrong code reaches the limit, and then even a right code is refused.
    assert_eq!(submit_code(&client, "123456").await.status, 401);
    let right = next_code(&app.address, "bob").await;
    let refused = submit_code(&client, &right).await;
    assert_eq!(refused.status, 429, "{}", refused.html);
}

#[tokio::test]
async fn with_two_factor_off_the_password_alone_signs_in() {
    let app = spawn_app_with(TestDb::new(), |s| {
        s.admin.mfa = mpp_registrar::domain::two_factor::Mfa::Off
    })
    .await;
    create_user(&app.db, "carol", PASSWORD, "reviewer");
    let client = AdminClient::new(&app);
    let page = client.password_step("carol", PASSWORD).await;
    assert_eq!(page.location.as_deref(), Some("/admin"));
}

#[tokio::test]
async fn an_admin_resets_two_factor_and_the_account_enrols_again() {
    let app = spawn_app().await;
    let (admin, csrf) = AdminClient::signed_in(&app, "root", "admin").await;
    create_user(&app.db, "dave", PASSWORD, "reviewer");
    let dave = AdminClient::new(&app);
    assert_eq!(dave.sign_in("dave", PASSWORD).await.status, 303);
    let users = admin.get("/admin/users").await;
    assert!(users.html.contains("Reset two-factor"));
    let reset = admin
        .post("/admin/users/dave/reset-two-factor", &[("csrf", &csrf)])
        .await;
    assert_eq!(reset.location.as_deref(), Some("/admin/users?flash=reset"));
    // Dave's session is over, and the next sign-in enrols anew.
    assert_eq!(dave.get("/admin").await.status, 303);
    let again = past_the_password(&app, "dave").await;
    let page = again.get("/admin/login/two-factor").await;
    assert!(page.html.contains("Set up two-factor authentication"));
    let audit = query_strings(
        &mut app.db.connect(),
        "SELECT actor || '|' || action AS v FROM ops.audit_log WHERE action = 'user.mfa_reset'",
    );
    assert_eq!(audit, ["root|user.mfa_reset"]);
}
