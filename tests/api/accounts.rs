//! Accounts run from the admin pages: an admin creates a user who sets
//! their own password through a one-time link and then enrols two-factor;
//! roles change; every user changes their own password and signs other
//! sessions out. Every change is audited.

use crate::helpers::*;

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn a_created_user_sets_up_through_a_one_time_link_then_enrols_two_factor() {
    let app = spawn_app().await;
    let (admin, csrf) = AdminClient::signed_in(&app, "root", "admin").await;
    let page = admin
        .post(
            "/admin/users",
            &[("csrf", &csrf), ("username", "erin"), ("role", "reviewer")],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.html);
    let link = page
        .html
        .split("data-setup-link>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_owned();
    let path = link
        .split_once("/admin/setup/")
        .map(|(_, t)| format!("/admin/setup/{t}"))
        .unwrap();
    // Not signed in before the setup: the account has no usable password.
    let erin = AdminClient::new(&app);
    assert_eq!(erin.password_step("erin", PASSWORD).await.status, 401);

    let form = erin.get(&path).await;
    assert!(form.html.contains("Set up your account") && form.html.contains("erin"));
    let weak = erin
        .post(
            &path,
            &[
                ("csrf", &form.csrf()),
                ("password", "password1234"),
                ("repeat", "password1234"),
            ],
        )
        .await;
    assert_eq!(weak.status, 400);
    assert!(weak.html.contains("too easy to guess"), "{}", weak.html);
    let form = erin.get(&path).await;
    let chosen = "violet anchor meadow thunder";
    let set = erin
        .post(
            &path,
            &[
                ("csrf", &form.csrf()),
                ("password", chosen),
                ("repeat", chosen),
            ],
        )
        .await;
    assert_eq!(set.location.as_deref(), Some("/admin/login/two-factor"));
    let enrolled = erin.second_factor("erin").await;
    assert!(
        enrolled.html.contains("data-recovery-code"),
        "{}",
        enrolled.html
    );
    assert!(erin.get("/admin").await.html.contains("Signed in as erin"));
    // The link worked once.
    assert_eq!(AdminClient::new(&app).get(&path).await.status, 404);

    // The admin changes erin's role from the page.
    let changed = admin
        .post(
            "/admin/users/erin/role",
            &[("csrf", &csrf), ("role", "admin")],
        )
        .await;
    assert_eq!(changed.location.as_deref(), Some("/admin/users?flash=role"));
    let audit = query_strings(
        &mut app.db.connect(),
        "SELECT actor || '|' || action AS v FROM ops.audit_log
          WHERE action IN ('user.created', 'user.password_changed', 'user.mfa_enrolled', 'user.role_changed')
            AND (actor = 'erin' OR detail LIKE '%erin%') ORDER BY at, action",
    );
    assert_eq!(
        audit,
        [
            "root|user.created",
            "erin|user.password_changed",
            "erin|user.mfa_enrolled",
            "root|user.role_changed",
        ]
    );
}

#[tokio::test]
async fn a_user_changes_their_password_and_signs_other_sessions_out() {
    let app = spawn_app().await;
    let (laptop, csrf) = AdminClient::signed_in(&app, "fay", "reviewer").await;
    let phone = AdminClient::new(&app);
    assert_eq!(phone.sign_in("fay", PASSWORD).await.status, 303);
    let account = laptop.get("/admin/account").await;
    assert!(account.html.contains("this session"));
    assert_eq!(account.html.matches("<tr><td>").count(), 2, "two sessions");

    let new = "quiet harbour lantern cobalt";
    let wrong = laptop
        .post(
            "/admin/account/password",
            &[
                ("csrf", &csrf),
                ("current", "not it at all, no"),
                ("password", new),
                ("repeat", new),
            ],
        )
        .await;
    assert_eq!(
        wrong.location.as_deref(),
        Some("/admin/account?flash=wrong-current")
    );
    let changed = laptop
        .post(
            "/admin/account/password",
            &[
                ("csrf", &csrf),
                ("current", PASSWORD),
                ("password", new),
                ("repeat", new),
            ],
        )
        .await;
    assert_eq!(
        changed.location.as_deref(),
        Some("/admin/account?flash=password")
    );
    // This session stays; the phone's ended with the old password.
    assert_eq!(laptop.get("/admin").await.status, 200);
    assert_eq!(phone.get("/admin").await.status, 303);
    assert_eq!(phone.password_step("fay", PASSWORD).await.status, 401);
    assert_eq!(phone.sign_in("fay", new).await.status, 303);

    let ended = laptop
        .post(
            "/admin/account/sessions/sign-out-others",
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        ended.location.as_deref(),
        Some("/admin/account?flash=signed-out")
    );
    assert_eq!(phone.get("/admin").await.status, 303);
    assert_eq!(laptop.get("/admin").await.status, 200);
    let audit = query_strings(
        &mut app.db.connect(),
        "SELECT action AS v FROM ops.audit_log WHERE actor = 'fay'
          AND action IN ('user.password_changed', 'user.sessions_ended') ORDER BY at",
    );
    assert_eq!(audit, ["user.password_changed", "user.sessions_ended"]);
}
