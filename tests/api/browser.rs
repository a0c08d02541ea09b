//! A real browser: headless Chromium, driven over WebDriver (chromedriver),
//! signs in, works the queue, approves one registration and rejects another,
//! and meets a script in merchant data that must stay inert.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::*;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find_program(candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(|p| p.to_string())
}

struct Driver {
    process: Child,
    http: reqwest::Client,
    base: String,
    session: String,
    _profile: std::path::PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Driver {
    async fn start(chromedriver: &str, chromium: &str) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let process = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("chromium-{}", uuid::Uuid::new_v4().simple()));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                         "--no-first-run", "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let mut driver = Driver {
            process,
            http,
            base,
            session: String::new(),
            _profile: profile,
        };
        let created = driver
            .call(reqwest::Method::POST, "/session", Some(caps))
            .await;
        driver.session = created["sessionId"]
            .as_str()
            .expect("a WebDriver session")
            .to_owned();
        driver
            .session_call(
                reqwest::Method::POST,
                "/timeouts",
                Some(json!({"implicit": 5000})),
            )
            .await;
        driver
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let response: Value = req
            .send()
            .await
            .expect("WebDriver answers")
            .json()
            .await
            .expect("WebDriver JSON");
        response["value"].clone()
    }

    async fn session_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    async fn goto(&self, url: &str) {
        self.session_call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn url(&self) -> String {
        self.session_call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn find(&self, xpath: &str) -> String {
        let found = self
            .session_call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "xpath", "value": xpath})),
            )
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {xpath}: {found}"))
            .to_owned()
    }

    /// The input a visible label names: proves the field is labelled.
    async fn field(&self, label: &str) -> String {
        self.find(&format!(
            "//*[@id=//label[normalize-space()='{label}']/@for]"
        ))
        .await
    }

    async fn type_into(&self, element: &str, text: &str) {
        self.session_call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    async fn click(&self, element: &str) {
        self.session_call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn click_button(&self, text: &str) {
        let button = self
            .find(&format!("//button[normalize-space()='{text}']"))
            .await;
        self.click(&button).await;
    }

    /// Waits (a form post navigates asynchronously) until `xpath`'s text contains `expected`.
    async fn wait_for_text(&self, xpath: &str, expected: &str) {
        let started = Instant::now();
        loop {
            let found = self
                .session_call(
                    reqwest::Method::POST,
                    "/element",
                    Some(json!({"using": "xpath", "value": xpath})),
                )
                .await;
            if let Some(element) = found[ELEMENT].as_str() {
                let text = self
                    .session_call(
                        reqwest::Method::GET,
                        &format!("/element/{element}/text"),
                        None,
                    )
                    .await;
                if text.as_str().is_some_and(|t| t.contains(expected)) {
                    return;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{xpath} never showed {expected:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn text(&self, xpath: &str) -> String {
        let element = self.find(xpath).await;
        self.session_call(
            reqwest::Method::GET,
            &format!("/element/{element}/text"),
            None,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Picks `value` in the select with id `id`.
    async fn select(&self, id: &str, value: &str) {
        let option = self
            .find(&format!("//select[@id='{id}']/option[@value='{value}']"))
            .await;
        self.click(&option).await;
    }

    /// Runs a script in the page (WebDriver's own channel: not subject to the page's CSP).
    async fn execute(&self, script: &str) -> Value {
        self.session_call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    async fn attribute(&self, element: &str, name: &str) -> String {
        self.session_call(
            reqwest::Method::GET,
            &format!("/element/{element}/attribute/{name}"),
            None,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// A viewport of `width`×`height` CSS pixels (1366×900: a reviewer's laptop).
    async fn viewport(&self, width: u64, height: u64) {
        let chrome = self
            .execute("return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight]")
            .await;
        let (dw, dh) = (
            chrome[0].as_u64().unwrap_or(0),
            chrome[1].as_u64().unwrap_or(0),
        );
        self.session_call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width + dw, "height": height + dh})),
        )
        .await;
    }

    async fn has_alert(&self) -> bool {
        let v = self
            .session_call(reqwest::Method::GET, "/alert/text", None)
            .await;
        v.get("error").is_none()
    }

    /// Saves a PNG of the page when MPP_SCREENSHOT_DIR is set (for looking at the pages).
    async fn screenshot(&self, name: &str) {
        let Some(dir) = std::env::var_os("MPP_SCREENSHOT_DIR") else {
            return;
        };
        let png = self
            .session_call(reqwest::Method::GET, "/screenshot", None)
            .await;
        let bytes = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            png.as_str().unwrap_or_default(),
        )
        .unwrap();
        std::fs::write(
            std::path::Path::new(&dir).join(format!("{name}.png")),
            bytes,
        )
        .unwrap();
    }

    async fn quit(&self) {
        self.call(
            reqwest::Method::DELETE,
            &format!("/session/{}", self.session),
            None,
        )
        .await;
    }
}

/// chromedriver and Chromium; `None` (skip) outside CI when they are missing.
fn browser_programs() -> Option<(String, String)> {
    let (Some(chromedriver), Some(chromium)) = (
        find_program(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]),
        find_program(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]),
    ) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs chromium and chromium-driver (.ci/run installs them)"
        );
        eprintln!("skipped: install chromium and chromium-driver to run the browser test");
        return None;
    };
    Some((chromedriver, chromium))
}

impl Driver {
    /// Signs in with the form; two-factor with the key enrolled before, at
    /// a step after `last_step` (waiting for it when needed). Returns the step used.
    async fn sign_in_again(
        &self,
        base: &str,
        username: &str,
        password: &str,
        secret: &[u8],
        last_step: i64,
    ) -> i64 {
        self.goto(&format!("{base}/admin/login")).await;
        let field = self.field("Username").await;
        self.type_into(&field, username).await;
        let field = self.field("Password").await;
        self.type_into(&field, password).await;
        self.click_button("Sign in").await;
        self.wait_for_text("//h1", "Two-factor authentication")
            .await;
        let step = (now_step() - 1).max(last_step + 1);
        while now_step() + 1 < step {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let code = self.field("Authentication code").await;
        self.type_into(&code, &code_for(secret, step)).await;
        self.click_button("Verify").await;
        self.wait_for_text("//header", &format!("Signed in as {username}"))
            .await;
        step
    }

    /// Enrols two-factor on the page the browser is on: reads the key,
    /// types its code, and goes on from the recovery codes. Returns the key
    /// and the step its code used.
    async fn enrol_two_factor(&self, username: &str) -> (Vec<u8>, i64) {
        self.wait_for_text("//h1", "Set up two-factor authentication")
            .await;
        let key = self.text("//*[@data-totp-secret]").await;
        let secret = mpp_registrar::domain::two_factor::from_base32(&key).expect("a base32 key");
        let step = now_step();
        let code = self.field("Authentication code").await;
        self.type_into(&code, &code_for(&secret, step)).await;
        self.click_button("Verify").await;
        self.wait_for_text("//h1", "Two-factor authentication is set up")
            .await;
        let next = self
            .find("//a[normalize-space()='Continue to the review queue']")
            .await;
        self.click(&next).await;
        self.wait_for_text("//header", &format!("Signed in as {username}"))
            .await;
        (secret, step)
    }
}

#[tokio::test]
async fn a_reviewer_signs_in_and_decides_in_a_real_browser() {
    let Some((chromedriver, chromium)) = browser_programs() else {
        return;
    };
    let app = spawn_app().await;
    create_user(&app.db, "alice", "correct horse battery staple", "reviewer");
    let approve_id = unique("REQ-OK");
    let approve = online_request(&approve_id, &unique("M"));
    registered(&app, &approve).await;
    // Alipay+ repeats the id with another body: the reviewer is told which fields differ.
    let mut repeat = approve.clone();
    repeat["merchantInfo"]["merchantMCC"] = json!("5999");
    app.register(&repeat).await;
    let xss = "<script>alert(1)</script><img src=x onerror=alert(2)>";
    let reject_id = unique("REQ-XSS");
    let mut hostile = online_request(&reject_id, &unique("M"));
    hostile["merchantInfo"]["merchantDisplayName"] = json!(xss);
    registered(&app, &hostile).await;

    let browser = Driver::start(&chromedriver, &chromium).await;
    browser.goto(&format!("{}/admin", app.address)).await;
    assert!(
        browser.url().await.ends_with("/admin/login"),
        "anonymous visitors land on sign-in"
    );
    let username = browser.field("Username").await;
    browser.type_into(&username, "alice").await;
    let password = browser.field("Password").await;
    browser
        .type_into(&password, "correct horse battery staple")
        .await;
    browser.click_button("Sign in").await;
    // First sign-in: enrol two-factor as a person would, reading the key
    // the page shows into an authenticator (here, the harness computes it).
    browser
        .wait_for_text("//h1", "Set up two-factor authentication")
        .await;
    browser.screenshot("enrol").await;
    let secret = browser.text("//*[@data-totp-secret]").await;
    let secret = mpp_registrar::domain::two_factor::from_base32(&secret).expect("a base32 key");
    assert!(
        !browser.find("//*[local-name()='svg']").await.is_empty(),
        "a QR code, inline"
    );
    let code = browser.field("Authentication code").await;
    browser
        .type_into(&code, &code_for(&secret, now_step()))
        .await;
    browser.click_button("Verify").await;
    browser
        .wait_for_text("//h1", "Two-factor authentication is set up")
        .await;
    let recovery = browser.text("(//*[@data-recovery-code])[1]").await;
    assert_eq!(recovery.len(), 11, "{recovery}");
    let next = browser
        .find("//a[normalize-space()='Continue to the review queue']")
        .await;
    browser.click(&next).await;
    browser
        .wait_for_text("//header", "Signed in as alice")
        .await;

    browser.screenshot("queue").await;
    // Queue → detail → Approve.
    let link = browser
        .find(&format!("//a[normalize-space()='{approve_id}']"))
        .await;
    browser.click(&link).await;
    browser.screenshot("detail").await;
    browser
        .wait_for_text(
            "//*[@id='mismatched-repeats']",
            "differing fields: merchantInfo.merchantMCC",
        )
        .await;
    browser.click_button("Approve").await;
    // The confirmation step says what will happen; only Confirm decides.
    browser
        .wait_for_text("//h1", "Approve: please confirm")
        .await;
    browser.click_button("Confirm").await;
    browser
        .wait_for_text(
            "//*[@role='status']",
            "Decision recorded: APPROVED by alice",
        )
        .await;
    assert_eq!(browser.text("//*[@id='status']").await, "APPROVED");

    // The hostile merchant: its name shows as text and no script runs.
    browser.goto(&format!("{}/admin", app.address)).await;
    assert!(
        !browser.has_alert().await,
        "no script ran on the queue page"
    );
    let link = browser
        .find(&format!("//a[normalize-space()='{reject_id}']"))
        .await;
    browser.click(&link).await;
    assert!(
        !browser.has_alert().await,
        "no script ran on the detail page"
    );
    assert!(
        browser.text("//h1").await.starts_with(xss),
        "the name is shown literally"
    );

    // Reject needs a reason; with one it is recorded.
    browser.click_button("Reject").await;
    browser
        .wait_for_text("//*[@role='status']", "needs a reason")
        .await;
    let reason = browser.field("Reason").await;
    browser
        .type_into(&reason, "The business registration number does not exist.")
        .await;
    browser.click_button("Reject").await;
    // No category was chosen: the confirmation step asks for one.
    browser
        .wait_for_text("//h1", "Reject: please confirm")
        .await;
    browser
        .select("reject_code", "MISSING_OR_INCORRECT_INFO")
        .await;
    browser.click_button("Confirm").await;
    browser.wait_for_text("//*[@id='status']", "REJECTED").await;
    browser.screenshot("rejected").await;
    browser.quit().await;

    let rows = query_strings(
        &mut app.db.connect(),
        "SELECT status || '|' || coalesce(reason, '-') AS v FROM ops.registrations ORDER BY registration_request_id",
    );
    assert_eq!(
        rows,
        [
            "APPROVED|-",
            "REJECTED|The business registration number does not exist."
        ]
    );
}

/// An admin creates a user on the users page; the user opens the one-time
/// link, chooses a password, enrols two-factor, and changes the password on
/// their account page, all by clicking.
#[tokio::test]
async fn a_new_user_is_created_sets_up_and_changes_their_password_in_a_real_browser() {
    let Some((chromedriver, chromium)) = browser_programs() else {
        return;
    };
    let app = spawn_app().await;
    create_user(&app.db, "root", "correct horse battery staple", "admin");
    let browser = Driver::start(&chromedriver, &chromium).await;
    browser.goto(&format!("{}/admin/login", app.address)).await;
    let username = browser.field("Username").await;
    browser.type_into(&username, "root").await;
    let password = browser.field("Password").await;
    browser
        .type_into(&password, "correct horse battery staple")
        .await;
    browser.click_button("Sign in").await;
    let (root_secret, root_step) = browser.enrol_two_factor("root").await;

    browser.goto(&format!("{}/admin/users", app.address)).await;
    let name = browser.field("Username").await;
    browser.type_into(&name, "erin").await;
    browser.click_button("Create user").await;
    browser
        .wait_for_text("//*[@role='status']", "User created")
        .await;
    let link = browser.text("//*[@data-setup-link]").await;
    browser.screenshot("user-created").await;
    browser.click_button("Sign out").await;
    // The sign-out navigates; let it land before going elsewhere.
    browser.wait_for_text("//h1", "Sign in").await;

    browser.goto(&link).await;
    browser.wait_for_text("//h1", "Set up your account").await;
    let chosen = "violet anchor meadow thunder";
    let new = browser.field("New password").await;
    browser.type_into(&new, chosen).await;
    let repeat = browser.field("Repeat the password").await;
    browser.type_into(&repeat, chosen).await;
    browser.click_button("Set password").await;
    browser.enrol_two_factor("erin").await;

    let account = browser.find("//a[normalize-space()='Your account']").await;
    browser.click(&account).await;
    browser.wait_for_text("//h1", "Your account").await;
    let current = browser.field("Current password").await;
    browser.type_into(&current, chosen).await;
    let changed = "amber quill harbour lantern";
    let new = browser.field("New password").await;
    browser.type_into(&new, changed).await;
    let repeat = browser.field("Repeat the new password").await;
    browser.type_into(&repeat, changed).await;
    browser.click_button("Change password").await;
    browser
        .wait_for_text("//*[@role='status']", "Password changed")
        .await;
    browser.screenshot("account").await;

    // Back as the admin: erin becomes an admin, must enrol again, is unlocked.
    browser.click_button("Sign out").await;
    browser.wait_for_text("//h1", "Sign in").await;
    browser
        .sign_in_again(
            &app.address,
            "root",
            "correct horse battery staple",
            &root_secret,
            root_step,
        )
        .await;
    browser.goto(&format!("{}/admin/users", app.address)).await;
    let admin = browser
        .find("//select[@id='role-erin']/option[@value='admin']")
        .await;
    browser.click(&admin).await;
    browser.click_button("Change role").await;
    browser
        .wait_for_text("//*[@role='status']", "Role changed")
        .await;
    browser.click_button("Reset two-factor").await;
    browser
        .wait_for_text("//*[@role='status']", "Two-factor reset")
        .await;
    browser.click_button("Unlock").await;
    browser
        .wait_for_text("//*[@role='status']", "Failed sign-ins cleared")
        .await;
    browser.screenshot("users").await;
    browser.quit().await;
    let erin = query_strings(
        &mut app.db.connect(),
        "SELECT role || '|' || (totp_enrolled_at IS NULL) AS v FROM users WHERE username = 'erin'",
    );
    assert_eq!(erin, ["admin|true"]);
    let hash = query_strings(
        &mut app.db.connect(),
        "SELECT password_hash AS v FROM users WHERE username = 'erin'",
    );
    assert!(mpp_registrar::admin::password::verify_password(
        &hash[0], changed
    ));
}

/// **Sign in with SSO** in a browser: the provider's own login and consent
/// pages, and back in the console with the role the groups give.
#[tokio::test]
async fn a_reviewer_signs_in_with_sso_in_a_real_browser() {
    let Some((chromedriver, chromium)) = browser_programs() else {
        return;
    };
    let Some((app, _provider)) = crate::sso::app_with_sso(None, |_| {}).await else {
        return;
    };
    let browser = Driver::start(&chromedriver, &chromium).await;
    browser.goto(&format!("{}/admin/login", app.address)).await;
    let sso = browser
        .find("//a[normalize-space()='Sign in with SSO']")
        .await;
    browser.click(&sso).await;
    browser.wait_for_text("//button", "Sign-in").await;
    let login = browser.find("//input[@name='login']").await;
    browser.type_into(&login, "ben").await;
    let password = browser.find("//input[@name='password']").await;
    browser.type_into(&password, "any").await;
    browser.click_button("Sign-in").await;
    browser.wait_for_text("//button", "Continue").await;
    browser.click_button("Continue").await;
    browser.wait_for_text("//header", "Signed in as ben").await;
    browser.screenshot("sso").await;
    browser.quit().await;
}

/// A compliance reviewer's day at 1366×900: a queue of 55 varied merchants
/// read at a glance, a search across statuses, a claim, the evidence with
/// safe links and the raw request, a rejection that states what Alipay+ will
/// read (Back changes nothing), four eyes with a second reviewer, and the
/// notifications and audit pages.
#[tokio::test]
async fn a_compliance_reviewer_works_the_console_in_a_real_browser() {
    let Some((chromedriver, chromium)) = browser_programs() else {
        return;
    };
    let app = spawn_app_with(TestDb::new(), |s| {
        s.admin.mfa = mpp_registrar::domain::two_factor::Mfa::Off;
        s.admin.four_eyes = mpp_registrar::domain::review::FourEyes::Risk;
        s.admin.environment_label = Some("SANDBOX".into());
    })
    .await;
    let password = "correct horse battery staple";
    create_user(&app.db, "alice", password, "reviewer");
    create_user(&app.db, "bob", password, "admin");
    let names = [
        "Golden Dragon Kitchen",
        "金龍酒家",
        "Harbour Pharmacy",
        "Lotus Electronics Trading",
        "Pearl Tea House",
        "Summit Books",
        "Jade Garden Restaurant",
        "Sakura Beauty Salon",
    ];
    let mut target = String::new();
    for i in 0..55 {
        let request_id = format!("REQ-CONSOLE-{i:03}");
        let mut body = online_request(&request_id, &format!("M-CONSOLE-{i:03}"));
        let name = format!("{} {i}", names[i % names.len()]);
        body["merchantInfo"]["merchantDisplayName"] = json!(name);
        body["merchantInfo"]["registrationDetail"]["legalName"] =
            json!(format!("{name} Company Limited"));
        body["merchantInfo"]["merchantMCC"] = json!(["5812", "5411", "5999", "7011"][i % 4]);
        if i % 7 == 0 {
            // Flagged: a merchant notify URL that is not https.
            body["registrationNotifyUrl"] = json!("http://merchant.example/notify");
        }
        if i == 3 {
            body["merchantInfo"]["websites"] = json!([
                {"name": "Shop", "url": "https://lotus.example/shop"},
                {"name": "Old", "url": "javascript:alert(1)"}
            ]);
            target = request_id.clone();
        }
        registered(&app, &body).await;
    }
    decide_sql(&app.db, "REQ-CONSOLE-000", "APPROVED", None);

    let browser = Driver::start(&chromedriver, &chromium).await;
    browser.goto(&format!("{}/admin/login", app.address)).await;
    browser.viewport(1366, 900).await;
    let field = browser.field("Username").await;
    browser.type_into(&field, "alice").await;
    let field = browser.field("Password").await;
    browser.type_into(&field, password).await;
    browser.click_button("Sign in").await;
    browser
        .wait_for_text("//header", "Signed in as alice")
        .await;
    assert_eq!(browser.text("//*[@class='environment']").await, "SANDBOX");
    browser.screenshot("console-queue").await;

    // At least 20 rows in view, each on one line: no word broken inside.
    let visible = browser
        .execute(
            "return [...document.querySelectorAll('table.queue tbody tr')]
                 .filter(r => r.getBoundingClientRect().bottom <= window.innerHeight).length",
        )
        .await;
    let inner = browser
        .execute("return [window.innerWidth, window.innerHeight]")
        .await;
    assert_eq!(inner, json!([1366, 900]));
    assert!(visible.as_u64().unwrap() >= 20, "{visible} rows in view");
    let overflow = browser
        .execute("return document.querySelector('.table-scroll').scrollWidth - document.querySelector('.table-scroll').clientWidth")
        .await;
    assert_eq!(overflow, json!(0), "every column fits the width");
    let tallest = browser
        .execute(
            "return Math.max(...[...document.querySelectorAll('table.queue tbody tr')]
                 .map(r => r.getBoundingClientRect().height))",
        )
        .await;
    assert!(
        tallest.as_f64().unwrap() < 34.0,
        "rows are one line: {tallest}"
    );
    let broken = browser
        .execute(
            "return [...document.querySelectorAll('table.queue td span, table.queue td a')]
                 .filter(e => e.getClientRects().length > 1).map(e => e.textContent)",
        )
        .await;
    assert_eq!(broken, json!([]), "words broken across lines");
    assert!(
        browser
            .text("//*[@id='total']")
            .await
            .contains("54 registrations")
    );

    // Search: across every status, any script, case-insensitive.
    let search = browser.field("Search").await;
    browser.type_into(&search, "golden DRAGON").await;
    browser.click_button("Show").await;
    browser
        .wait_for_text("//*[@id='searched']", "every status")
        .await;
    let found = browser.text("//table[contains(@class,'queue')]").await;
    assert!(
        found.contains("REQ-CONSOLE-000") && found.contains("APPROVED"),
        "{found}"
    );
    assert!(found.contains("REQ-CONSOLE-008"));

    // Open the Lotus merchant, claim it, read the evidence.
    browser
        .goto(&format!("{}/admin?q={target}", app.address))
        .await;
    let link = browser
        .find(&format!("//a[normalize-space()='{target}']"))
        .await;
    browser.click(&link).await;
    browser
        .wait_for_text("//*[@id='kind']", "New merchant")
        .await;
    browser.click_button("Claim").await;
    browser
        .wait_for_text("//*[@id='claim']", "You are reviewing this until")
        .await;
    let shop = browser
        .find("//a[normalize-space()='https://lotus.example/shop']")
        .await;
    assert_eq!(browser.attribute(&shop, "target").await, "_blank");
    assert_eq!(browser.attribute(&shop, "rel").await, "noopener noreferrer");
    let script_links = browser
        .execute("return document.querySelectorAll('a[href^=\"javascript\"]').length")
        .await;
    assert_eq!(script_links, json!(0));
    let raw = browser
        .find("//pre[contains(., 'registrationRequestId')]")
        .await;
    assert_eq!(
        browser
            .execute("return document.querySelector('details.raw').open")
            .await,
        json!(false),
        "the raw request starts folded"
    );
    let toggle = browser
        .find("//summary[normalize-space()='Raw request']")
        .await;
    browser.click(&toggle).await;
    assert!(!raw.is_empty());
    browser.screenshot("console-detail").await;
    // The decision buttons are in view wherever the evidence is scrolled to.
    browser
        .execute("window.scrollTo(0, document.body.scrollHeight / 2)")
        .await;
    let in_view = browser
        .execute(
            "const r = [...document.querySelectorAll('.decision-panel button')].find(b => b.textContent === 'Reject').getBoundingClientRect();
             const p = document.querySelector('.decision-panel');
             p.scrollTop = p.scrollHeight;
             const s = [...document.querySelectorAll('.decision-panel button')].find(b => b.textContent === 'Reject').getBoundingClientRect();
             return s.top >= 0 && s.bottom <= window.innerHeight",
        )
        .await;
    assert_eq!(in_view, json!(true));

    // Reject for risk: the confirmation shows the exact rejectionReason; Back changes nothing.
    let reason = "Our records show this registration number belongs to another company.";
    let field = browser.field("Reason").await;
    browser.type_into(&field, reason).await;
    browser.select("reject_code", "REJECT_FOR_RISK").await;
    let field = browser.field("Internal note").await;
    browser
        .type_into(&field, "Checked with the companies registry.")
        .await;
    browser.click_button("Reject").await;
    browser
        .wait_for_text("//h1", "Reject: please confirm")
        .await;
    assert_eq!(browser.text("//*[@id='rejection-reason']").await, reason);
    browser.screenshot("console-confirm").await;
    let back = browser.find("//a[normalize-space()='Back']").await;
    browser.click(&back).await;
    browser.wait_for_text("//*[@id='status']", "PENDING").await;
    let field = browser.field("Reason").await;
    browser.type_into(&field, reason).await;
    browser.select("reject_code", "REJECT_FOR_RISK").await;
    let field = browser.field("Internal note").await;
    browser
        .type_into(&field, "Checked with the companies registry.")
        .await;
    browser.click_button("Reject").await;
    browser
        .wait_for_text("//h1", "Reject: please confirm")
        .await;
    browser.click_button("Confirm").await;
    browser
        .wait_for_text("//*[@role='status']", "Decision proposed")
        .await;
    assert_eq!(browser.text("//*[@id='status']").await, "PENDING");
    browser.click_button("Sign out").await;
    browser.wait_for_text("//h1", "Sign in").await;

    // Bob, the second pair of eyes.
    let field = browser.field("Username").await;
    browser.type_into(&field, "bob").await;
    let field = browser.field("Password").await;
    browser.type_into(&field, password).await;
    browser.click_button("Sign in").await;
    browser.wait_for_text("//header", "Signed in as bob").await;
    let waiting = browser
        .find("//a[normalize-space()='Awaiting second reviewer']")
        .await;
    browser.click(&waiting).await;
    let link = browser
        .find(&format!("//a[normalize-space()='{target}']"))
        .await;
    browser.click(&link).await;
    browser
        .wait_for_text("//*[@id='proposal']", "Proposed by alice")
        .await;
    browser.click_button("Approve decision").await;
    browser.wait_for_text("//*[@id='status']", "REJECTED").await;
    let trail = browser.text("//*[@id='trail']").await;
    for text in [
        "registration.decision_proposed",
        "registration.proposal_approved",
        "Checked with the companies registry.",
    ] {
        assert!(trail.contains(text), "{text} in {trail}");
    }

    // Notifications: from the menu, pending with the reason it waits.
    let menu = browser
        .find("//header//a[normalize-space()='Notifications']")
        .await;
    browser.click(&menu).await;
    browser
        .wait_for_text("//table", "Alipay+ gateway not configured")
        .await;
    let audit = browser
        .find("//header//a[normalize-space()='Audit log']")
        .await;
    browser.click(&audit).await;
    browser
        .wait_for_text("//table", "registration.proposal_approved")
        .await;
    browser.screenshot("console-audit").await;
    browser.quit().await;

    assert_eq!(
        query_strings(
            &mut app.db.connect(),
            &format!(
                "SELECT status || '|' || decided_by || '|' || reject_code AS v FROM registrations WHERE registration_request_id = '{target}'"
            ),
        ),
        ["REJECTED|bob|REJECT_FOR_RISK"]
    );
}

#[tokio::test]
async fn a_reviewer_reads_the_rules_and_marks_a_list_hit_not_a_match_in_a_real_browser() {
    let Some((chromedriver, chromium)) = browser_programs() else {
        return;
    };
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("browser-rules-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nid = \"approve-restaurants\"\nwhen = { mcc_in = [\"5811-5814\"], flags = \"none\" }\nthen = \"approve\"\n",
    )
    .unwrap();
    let app = spawn_app_with(TestDb::new(), move |s| {
        s.admin.mfa = mpp_registrar::domain::two_factor::Mfa::Off;
        s.rules_file = Some(rules);
    })
    .await;
    use mpp_registrar::domain::screening::ListKind;
    let entry = "Example Tea House Co., Ltd.".to_owned();
    let key = ListKind::Names.key(&entry).unwrap();
    mpp_registrar::db::screening::replace(
        &mut app.db.connect(),
        "sanctions",
        ListKind::Names,
        &[(entry, key)],
    )
    .unwrap();
    // The server reads a new list version within a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut body = online_request("REQ-HIT", "M-HIT");
    body["merchantInfo"]["merchantDisplayName"] = json!("Corner Cafe");
    let id = registered(&app, &body).await;
    let password = "correct horse battery staple";
    create_user(&app.db, "alice", password, "reviewer");

    let browser = Driver::start(&chromedriver, &chromium).await;
    browser.goto(&format!("{}/admin/login", app.address)).await;
    let field = browser.field("Username").await;
    browser.type_into(&field, "alice").await;
    let field = browser.field("Password").await;
    browser.type_into(&field, password).await;
    browser.click_button("Sign in").await;
    browser
        .wait_for_text("//header", "Signed in as alice")
        .await;

    // The rules in force, from the menu.
    let link = browser.find("//header//a[normalize-space()='Rules']").await;
    browser.click(&link).await;
    browser.wait_for_text("//h1", "Triage rules").await;
    assert_eq!(
        browser
            .text("//tr[@id='rule-approve-restaurants']/td[1]")
            .await,
        "approve-restaurants"
    );
    assert!(
        browser
            .text("//tr[@id='rule-approve-restaurants']/td[2]")
            .await
            .contains("then = \"approve\"")
    );
    assert!(browser.text("//main").await.contains("sanctions"));
    browser.screenshot("rules").await;

    // The hit on the detail page, marked not a match with a note.
    browser
        .goto(&format!("{}/admin/registrations/{id}", app.address))
        .await;
    browser
        .wait_for_text("//*[@id='list-hits']", "Example Tea House Co., Ltd.")
        .await;
    let note = browser.field("Note").await;
    browser
        .type_into(
            &note,
            "Another company: different registration number and directors.",
        )
        .await;
    browser.click_button("Not a match").await;
    browser
        .wait_for_text("//*[@role='status']", "Marked not a match")
        .await;
    assert!(
        browser
            .text("//*[@id='list-hits']")
            .await
            .contains("Not a match (alice")
    );
    browser.screenshot("hit-dismissed").await;
    browser.quit().await;
    assert_eq!(
        query_strings(
            &mut app.db.connect(),
            "SELECT dismissed_by AS v FROM ops.list_hits WHERE registration_request_id = 'REQ-HIT'"
        ),
        ["alice"]
    );
    app.stop().await;
}
