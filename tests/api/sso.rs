//! Single sign-on against a real OpenID Provider (node oidc-provider, started
//! here): groups give roles at every sign-in, people in no group are refused
//! and audited, SSO accounts skip our TOTP, an account disabled here stays
//! out, groups found only in UserInfo count, and password sign-in can be off.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use mpp_registrar::config::SsoSettings;

use crate::helpers::*;
use crate::processes::{Killed, free_port};

pub struct Provider {
    _child: Killed,
    /// Kept open: a provider writing to a closed pipe would die of it.
    _stdout: BufReader<std::process::ChildStdout>,
    issuer: String,
}

/// Starts the provider for an app at `app_port`; `None` (skip) when Node.js
/// or the provider package is missing outside CI.
fn provider(app_port: u16, mode: Option<&str>) -> Option<Provider> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
    let ready = dir.join("node_modules/oidc-provider").exists()
        && Command::new("node").arg("--version").output().is_ok();
    if !ready {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs Node.js and `npm ci --prefix tests/oidc` (.ci/run does both)"
        );
        eprintln!("skipped: run `npm ci --prefix tests/oidc` to test single sign-on");
        return None;
    }
    let port = free_port();
    let mut child = Command::new("node")
        .arg("provider.mjs")
        .arg(port.to_string())
        .arg(format!("http://127.0.0.1:{app_port}/admin/oidc/callback"))
        .args(mode)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    Some(Provider {
        _child: Killed(child),
        _stdout: stdout,
        issuer: format!("http://127.0.0.1:{port}"),
    })
}

/// The app with SSO on, and its provider.
pub async fn app_with_sso(
    mode: Option<&str>,
    change: impl FnOnce(&mut mpp_registrar::config::Settings),
) -> Option<(TestApp, Provider)> {
    let port = free_port();
    let provider = provider(port, mode)?;
    let secret_file = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("oidc-secret-{}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&secret_file, "suite-client-secret-not-for-production").unwrap();
    let issuer = provider.issuer.clone();
    let app = spawn_app_with(TestDb::new(), move |s| {
        s.listen = format!("127.0.0.1:{port}");
        s.admin.sso = Some(SsoSettings {
            issuer,
            client_id: "mpp-registrar".into(),
            client_secret: std::fs::read_to_string(&secret_file).unwrap(),
            public_url: format!("http://127.0.0.1:{port}"),
            groups_claim: "groups".into(),
            admin_groups: vec!["mpp-admins".into()],
            reviewer_groups: vec!["mpp-reviewers".into()],
        });
        change(s);
    })
    .await;
    Some((app, provider))
}

/// Signs in as `login` at the provider (its development login and consent
/// pages), and returns our callback's answer.
async fn sso_sign_in(client: &AdminClient, login: &str) -> Page {
    let start = client.get("/admin/oidc/start").await;
    let mut next = start.location.expect("off to the provider");
    let callback = format!("{}/admin/oidc/callback", client.base);
    for _ in 0..12 {
        if next.starts_with(&callback) {
            return client.get(&next[client.base.len()..]).await;
        }
        let r = client.http.get(&next).send().await.unwrap();
        let here = next.clone();
        if let Some(to) = r.headers().get("location") {
            next = absolute(&here, to.to_str().unwrap());
            continue;
        }
        let html = r.text().await.unwrap();
        let action = html
            .split("action=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("a provider form")
            .to_owned();
        let prompt = hidden_value(&html, "prompt").unwrap_or_default();
        let form: Vec<(&str, &str)> = match prompt.as_str() {
            "login" => vec![("prompt", "login"), ("login", login), ("password", "any")],
            _ => vec![("prompt", prompt.as_str())],
        };
        let r = client.http.post(&action).form(&form).send().await.unwrap();
        next = absolute(
            &action,
            r.headers()
                .get("location")
                .expect("the provider moves on")
                .to_str()
                .unwrap(),
        );
    }
    panic!("the provider never sent the browser back");
}

fn absolute(base: &str, location: &str) -> String {
    url::Url::parse(base)
        .unwrap()
        .join(location)
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn groups_give_roles_people_in_none_are_refused_and_our_totp_is_not_asked() {
    let Some((app, _provider)) = app_with_sso(None, |_| {}).await else {
        return;
    };
    let login = AdminClient::new(&app).get("/admin/login").await;
    assert!(login.html.contains("Sign in with SSO"));

    let ana = AdminClient::new(&app);
    let page = sso_sign_in(&ana, "ana").await;
    assert_eq!(page.location.as_deref(), Some("/admin"), "{}", page.html);
    assert_eq!(ana.get("/admin/users").await.status, 200, "ana is an admin");

    let ben = AdminClient::new(&app);
    assert_eq!(
        sso_sign_in(&ben, "ben").await.location.as_deref(),
        Some("/admin")
    );
    assert!(ben.get("/admin").await.html.contains("Signed in as ben"));
    assert_eq!(ben.get("/admin/users").await.status, 403, "ben reviews");
    // Again: the same account, by issuer and subject.
    let again = AdminClient::new(&app);
    assert_eq!(
        sso_sign_in(&again, "ben").await.location.as_deref(),
        Some("/admin")
    );

    let cid = AdminClient::new(&app);
    let refused = sso_sign_in(&cid, "cid").await;
    assert_eq!(refused.status, 403);
    assert!(refused.html.contains("no access"), "{}", refused.html);
    assert_eq!(cid.get("/admin").await.status, 303);

    let mut conn = app.db.connect();
    let accounts = query_strings(
        &mut conn,
        "SELECT username || '|' || role || '|' || (sso_issuer IS NOT NULL) || '|' || (totp_enrolled_at IS NULL) AS v
           FROM users ORDER BY username",
    );
    assert_eq!(accounts, ["ana|admin|true|true", "ben|reviewer|true|true"]);
    let audit = query_strings(
        &mut conn,
        "SELECT actor || '|' || action AS v FROM ops.audit_log
          WHERE action IN ('user.sso_signed_in', 'user.sso_refused') ORDER BY at, actor",
    );
    assert_eq!(
        audit,
        [
            "ana|user.sso_signed_in",
            "ben|user.sso_signed_in",
            "ben|user.sso_signed_in",
            "cid|user.sso_refused",
        ]
    );

    // Disabled here, ben stays out whatever the provider says.
    let admin_csrf = ana.get("/admin/users").await.csrf();
    let disabled = ana
        .post("/admin/users/ben/disable", &[("csrf", &admin_csrf)])
        .await;
    assert_eq!(disabled.status, 303);
    assert_eq!(
        again.get("/admin").await.status,
        303,
        "ben's sessions ended"
    );
    let out = sso_sign_in(&AdminClient::new(&app), "ben").await;
    assert_eq!(out.status, 403);
}

#[tokio::test]
async fn groups_only_in_userinfo_count() {
    let Some((app, _provider)) = app_with_sso(Some("userinfo-only"), |_| {}).await else {
        return;
    };
    let ben = AdminClient::new(&app);
    let page = sso_sign_in(&ben, "ben").await;
    assert_eq!(page.location.as_deref(), Some("/admin"), "{}", page.html);
    assert!(ben.get("/admin").await.html.contains("Signed in as ben"));
}

#[tokio::test]
async fn a_callback_that_did_not_start_here_is_refused() {
    let Some((app, _provider)) = app_with_sso(None, |_| {}).await else {
        return;
    };
    let client = AdminClient::new(&app);
    let page = client.get("/admin/oidc/callback?code=x&state=y").await;
    assert_eq!(page.status, 400);
    // Started here, but the state that comes back is not ours.
    client.get("/admin/oidc/start").await;
    let forged = client.get("/admin/oidc/callback?code=x&state=forged").await;
    assert_eq!(forged.status, 403);
    assert_eq!(client.get("/admin").await.status, 303);
}

#[tokio::test]
async fn with_password_sign_in_off_only_sso_signs_in() {
    let Some((app, _provider)) = app_with_sso(None, |s| s.admin.password_sign_in = false).await
    else {
        return;
    };
    create_user(&app.db, "alice", "correct horse battery staple", "reviewer");
    let client = AdminClient::new(&app);
    let login = client.get("/admin/login").await;
    assert!(login.html.contains("Sign in with SSO"));
    assert!(!login.html.contains("name=\"password\""));
    let post = client
        .post(
            "/admin/login",
            &[
                ("csrf", "x"),
                ("username", "alice"),
                ("password", "correct horse battery staple"),
            ],
        )
        .await;
    assert_eq!(post.status, 403);
}
