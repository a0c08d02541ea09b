//! The test harness: a fresh database per test (cloned from a migrated
//! template), the real server on a random port, and a client that signs
//! requests the way Alipay+ does and checks every response's signature.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use diesel::connection::SimpleConnection as _;
use diesel::{Connection as _, PgConnection};
use mpp_registrar::config::{AdminSettings, NotifySettings, Settings};
use mpp_registrar::db::{self, DbTimeouts};
use mpp_registrar::domain::ApprovalMode;
use mpp_registrar::pgcluster::PrivateCluster;
#[allow(unused_imports)]
use mpp_registrar::protocol::keys;
use mpp_registrar::protocol::keys::{read_signer, read_verifier};
use mpp_registrar::protocol::paths;
use mpp_registrar::protocol::signature::{
    KeyRing, SignatureHeader, Signer, Verifier, string_to_sign,
};
use mpp_registrar::startup::Application;
use serde_json::Value;
use sha2::Digest as _;

pub const CLIENT_ID: &str = "TEST_5X00000000000000";

pub fn fixture_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// The server's URL for maintenance connections: DATABASE_URL, else the
/// server on 127.0.0.1:5432, else a throwaway cluster started for this run
/// (and stopped when the test process exits).
fn admin_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("DATABASE_URL")
            && !url.trim().is_empty()
        {
            return url;
        }
        let local: SocketAddr = "127.0.0.1:5432".parse().unwrap();
        if TcpStream::connect_timeout(&local, Duration::from_secs(1)).is_ok() {
            // No TLS on loopback: it costs CPU, and OpenSSL's clean-up at
            // process exit would race threads still reading a connection.
            return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable".to_owned();
        }
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-postgres");
        let cluster = PrivateCluster::ensure(&root, "postgres")
            .expect("cannot start a throwaway PostgreSQL cluster");
        let url = cluster.url("postgres");
        // Its watchdog stops it when this process ends.
        std::mem::forget(cluster);
        url
    })
}

fn url_for(database: &str) -> String {
    let mut url = url::Url::parse(admin_url()).expect("admin URL");
    url.set_path(&format!("/{database}"));
    url.to_string()
}

fn admin_connection() -> PgConnection {
    PgConnection::establish(admin_url()).expect("cannot connect to PostgreSQL")
}

/// A migrated template named after the migrations' content, built once by
/// whichever test process gets there first.
fn template_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let mut hasher = sha2::Sha256::new();
        let mut files: Vec<PathBuf> =
            walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations"));
        files.sort();
        for f in files {
            hasher.update(f.to_string_lossy().as_bytes());
            hasher.update(std::fs::read(&f).unwrap());
        }
        let digest = hasher.finalize();
        let name = format!(
            "mpp_tpl_{}",
            digest
                .iter()
                .take(6)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let mut conn = admin_connection();
        conn.batch_execute("SELECT pg_advisory_lock(727272)")
            .unwrap();
        let exists = database_exists(&mut conn, &name);
        if !exists {
            let building = format!("{name}_building");
            conn.batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
                .unwrap();
            conn.batch_execute(&format!("CREATE DATABASE {building}"))
                .unwrap();
            db::run_migrations(&url_for(&building)).expect("migrations");
            conn.batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}"))
                .unwrap();
        }
        conn.batch_execute("SELECT pg_advisory_unlock(727272)")
            .unwrap();
        name
    })
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn database_exists(conn: &mut PgConnection, name: &str) -> bool {
    use diesel::RunQueryDsl as _;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
        .bind::<diesel::sql_types::Text, _>(name)
        .get_result::<N>(conn)
        .unwrap()
        .n
        > 0
}

/// A database of its own for one test, dropped at the end.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub fn new() -> TestDb {
        Self::create(Some(template_name()))
    }

    /// This database again, for a second server on it (a second instance).
    /// Either handle drops the database when it goes.
    pub fn shared(&self) -> TestDb {
        TestDb {
            name: self.name.clone(),
            url: self.url.clone(),
        }
    }

    /// An empty database, without migrations.
    pub fn empty() -> TestDb {
        Self::create(None)
    }

    fn create(template: Option<&str>) -> TestDb {
        let name = format!("mpp_test_{}", uuid::Uuid::new_v4().simple());
        let sql = match template {
            Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
            None => format!("CREATE DATABASE {name}"),
        };
        admin_connection().batch_execute(&sql).unwrap();
        let url = url_for(&name);
        TestDb { name, url }
    }

    pub fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.url).expect("test database")
    }

    /// Turns the database away: new connections refused, open ones ended.
    pub fn make_unreachable(&self) {
        let mut admin = admin_connection();
        admin
            .batch_execute(&format!(
                "ALTER DATABASE {} ALLOW_CONNECTIONS false",
                self.name
            ))
            .unwrap();
        // Termination is asynchronous, and a connection that passed the door
        // just before it closed shows up a moment later: end backends until
        // none has been seen for a while.
        let mut quiet = 0;
        for _ in 0..200 {
            let left = query_count(
                &mut admin,
                &format!(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{}'",
                    self.name
                ),
            );
            quiet = if left == 0 { quiet + 1 } else { 0 };
            if quiet == 5 {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn make_reachable(&self) {
        admin_connection()
            .batch_execute(&format!(
                "ALTER DATABASE {} ALLOW_CONNECTIONS true",
                self.name
            ))
            .unwrap();
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(admin_url()) {
            let _ = conn.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

pub struct Keys {
    /// Signs requests as Alipay+ (keyVersion 1: the official test-vector key).
    pub alipay: Signer,
    /// A second Alipay+ key, installed as keyVersion 2.
    pub alipay_v2: Signer,
    /// Verifies our responses.
    pub mpp: Verifier,
}

pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        alipay: read_signer(&fixture_path("test-vectors/private_key_pkcs8.pem"), "1").unwrap(),
        alipay_v2: read_signer(&fixture_path("keys/alipay2_private_key.pem"), "2").unwrap(),
        mpp: read_verifier(&fixture_path("keys/mpp_public_key.pem")).unwrap(),
    })
}

pub fn test_settings() -> Settings {
    let mut ring = KeyRing::default();
    ring.insert(
        1,
        read_verifier(&fixture_path("test-vectors/public_key.pem")).unwrap(),
    );
    ring.insert(
        2,
        read_verifier(&fixture_path("keys/alipay2_public_key.pem")).unwrap(),
    );
    Settings {
        listen: "127.0.0.1:0".into(),
        admin_listen: None,
        client_id: CLIENT_ID.into(),
        psp_name: "EXAMPLEPAY".into(),
        signer: Arc::new(read_signer(&fixture_path("keys/mpp_private_key.pem"), "1").unwrap()),
        alipay_keys: Arc::new(ring),
        approval_mode: ApprovalMode::Manual,
        rules_file: None,
        screening_threshold: 0.9,
        max_body_bytes: 64 * 1024,
        signature_reuse: Duration::from_millis(50),
        request_time_window: None,
        db_pool_size: 4,
        db_timeouts: DbTimeouts::default(),
        notify: NotifySettings {
            alipay_gateway_url: None,
            retry_gaps: vec![Duration::from_millis(300), Duration::from_millis(300)],
            merchant_retry_gaps: vec![
                Duration::ZERO,
                Duration::from_millis(300),
                Duration::from_millis(300),
            ],
            allow_private_targets: true,
            ssl_cert_file: Some(crate::stubs::test_ca().ca_file.clone()),
            timeout: Duration::from_secs(2),
            concurrency: 8,
            lease: Duration::from_secs(5),
            poll_interval: Duration::from_millis(250),
            workers_enabled: true,
        },
        admin: AdminSettings {
            reason_templates: vec![
                "Business registration could not be verified".into(),
                "Merchant category not supported".into(),
            ],
            ..AdminSettings::default()
        },
        handle_signals: false,
        workers: Some(2),
    }
}

pub struct TestApp {
    pub peer: Peer,
    /// The `MPP_ADMIN_LISTEN` listener, when the test set one.
    pub admin_address: Option<String>,
    pub db: TestDb,
    pub handle: mpp_registrar::startup::AppHandle,
    stopped: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl std::ops::Deref for TestApp {
    type Target = Peer;
    fn deref(&self) -> &Peer {
        &self.peer
    }
}

/// Alipay+'s side of a server at `address`: signs calls, checks answers.
#[derive(Clone)]
pub struct Peer {
    pub address: String,
    pub client: reqwest::Client,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(TestDb::new(), |_| {}).await
}

pub async fn spawn_app_with(db: TestDb, customise: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = test_settings();
    customise(&mut settings);
    let app = Application::build(&settings, &db.url).expect("server builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let admin_address = app
        .admin_port()
        .map(|port| format!("http://127.0.0.1:{port}"));
    let handle = app.handle();
    let stopped = Some(tokio::spawn(app.run_until_stopped()));
    TestApp {
        peer: Peer::new(address),
        admin_address,
        db,
        handle,
        stopped,
    }
}

impl TestApp {
    /// Stops the server gracefully (its notifier too) and hands back its database.
    pub async fn stop(self) -> TestDb {
        self.handle.stop(true).await;
        if let Some(done) = self.stopped {
            let _ = done.await;
        }
        self.db
    }
}

impl Peer {
    pub fn new(address: String) -> Peer {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Peer { address, client }
    }

    /// A registration request signed correctly, to be adjusted by the test.
    pub fn call(&self, path: &str, body: impl Into<Vec<u8>>) -> ApsCall {
        ApsCall {
            method: reqwest::Method::POST,
            path: path.to_owned(),
            client_id: Some(CLIENT_ID.to_owned()),
            request_time: Some("2024-05-28T12:12:12.123+08:00".to_owned()),
            content_type: Some("application/json; charset=UTF-8".to_owned()),
            signature: Sig::Valid,
            body: body.into(),
        }
    }

    pub async fn register(&self, body: &Value) -> ApsResponse {
        self.send(self.call(paths::REGISTRATION, serde_json::to_vec(body).unwrap()))
            .await
    }

    pub async fn send(&self, call: ApsCall) -> ApsResponse {
        self.try_send(call).await.expect("request sent")
    }

    /// Sends and checks the answer; `Err` when no answer came (connection
    /// refused or cut, timeout).
    pub async fn try_send(&self, call: ApsCall) -> Result<ApsResponse, reqwest::Error> {
        let mut req = self.client.request(
            call.method.clone(),
            format!("{}{}", self.address, call.path),
        );
        if let Some(id) = &call.client_id {
            req = req.header("Client-Id", id);
        }
        if let Some(t) = &call.request_time {
            req = req.header("Request-Time", t);
        }
        if let Some(ct) = &call.content_type {
            req = req.header("Content-Type", ct);
        }
        let signature = match &call.signature {
            Sig::Valid => Some(self.sign(&call, &keys().alipay)),
            Sig::WithKey(which) => Some(self.sign(&call, which())),
            Sig::Header(h) => Some(h.clone()),
            Sig::None => None,
        };
        if let Some(s) = signature {
            req = req.header("Signature", s);
        }
        let response = req.body(call.body.clone()).send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await?.to_vec();
        let response = ApsResponse {
            status,
            headers,
            body,
        };
        response.assert_signed(
            call.method.as_str(),
            &call.path,
            call.client_id.as_deref().unwrap_or(CLIENT_ID),
        );
        Ok(response)
    }

    fn sign(&self, call: &ApsCall, signer: &Signer) -> String {
        let message = string_to_sign(
            call.method.as_str(),
            &call.path,
            call.client_id.as_deref().unwrap_or(""),
            call.request_time.as_deref().unwrap_or(""),
            &call.body,
        );
        signer.header_for(&message).unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{}", self.address, path))
            .send()
            .await
            .expect("request sent")
    }
}

pub enum Sig {
    Valid,
    WithKey(fn() -> &'static Signer),
    Header(String),
    None,
}

pub struct ApsCall {
    pub method: reqwest::Method,
    pub path: String,
    pub client_id: Option<String>,
    pub request_time: Option<String>,
    pub content_type: Option<String>,
    pub signature: Sig,
    pub body: Vec<u8>,
}

#[derive(Debug)]
pub struct ApsResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl ApsResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    pub fn code(&self) -> String {
        self.json()["result"]["resultCode"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn status_letter(&self) -> String {
        self.json()["result"]["resultStatus"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn message(&self) -> String {
        self.json()["result"]["resultMessage"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("response lacks {name}"))
    }

    pub fn response_time(&self) -> &str {
        self.header("response-time")
    }

    /// Every /aps answer is HTTP 200, echoes Client-Id, and is signed over the exact bytes sent.
    fn assert_signed(&self, method: &str, path: &str, client_id: &str) {
        assert_eq!(
            self.status,
            200,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        let echoed = self.header("client-id");
        let expected = if client_id.is_empty() {
            CLIENT_ID
        } else {
            client_id
        };
        assert_eq!(echoed, expected);
        let message = string_to_sign(method, path, echoed, self.response_time(), &self.body);
        let signature = SignatureHeader::parse(self.header("signature")).expect("signature header");
        assert_eq!(signature.key_version.as_deref(), Some("1"));
        assert!(
            keys().mpp.verify(&message, &signature.signature),
            "response signature does not verify"
        );
    }
}

/// The online sample with a given request id and merchant id, without its
/// registrationNotifyUrl (tests that notify a merchant set their own).
pub fn online_request(request_id: &str, merchant_id: &str) -> Value {
    let mut body: Value = serde_json::from_slice(
        &std::fs::read(fixture_path("samples/registration-request-online.json")).unwrap(),
    )
    .unwrap();
    body["registrationRequestId"] = Value::from(request_id);
    body["merchantInfo"]["referenceMerchantId"] = Value::from(merchant_id);
    body.as_object_mut()
        .unwrap()
        .remove("registrationNotifyUrl");
    body
}

pub fn instore_request(request_id: &str, merchant_id: &str, store_id: &str) -> Value {
    let mut body: Value = serde_json::from_slice(
        &std::fs::read(fixture_path("samples/registration-request-instore.json")).unwrap(),
    )
    .unwrap();
    body["registrationRequestId"] = Value::from(request_id);
    body["merchantInfo"]["referenceMerchantId"] = Value::from(merchant_id);
    body["storeInfo"]["referenceStoreId"] = Value::from(store_id);
    body
}

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// Runs one SQL query returning a single text column.
pub fn query_strings(conn: &mut PgConnection, sql: &str) -> Vec<String> {
    use diesel::RunQueryDsl as _;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        v: String,
    }
    diesel::sql_query(sql)
        .load::<Row>(conn)
        .unwrap()
        .into_iter()
        .map(|r| r.v)
        .collect()
}

pub fn query_count(conn: &mut PgConnection, sql: &str) -> i64 {
    query_strings(conn, &format!("SELECT ({sql})::text AS v"))[0]
        .parse()
        .unwrap()
}

/// Creates a user directly in the database.
pub fn create_user(db: &TestDb, username: &str, password: &str, role: &str) {
    let hash = mpp_registrar::admin::password::hash_password(password).unwrap();
    assert!(
        mpp_registrar::db::users::insert_user(
            &mut db.connect(),
            username,
            &hash,
            mpp_registrar::domain::user::Role::parse(role).expect("a role"),
        )
        .unwrap()
    );
}

/// A browser-like client for the admin pages: keeps cookies, follows no redirects, sends Origin.
pub struct AdminClient {
    pub http: reqwest::Client,
    pub base: String,
    pub origin: String,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub html: String,
}

impl Page {
    /// The value of the first `name="csrf"` hidden field.
    pub fn csrf(&self) -> String {
        hidden_value(&self.html, "csrf").expect("a csrf field")
    }
}

pub fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

impl AdminClient {
    pub fn new(app: &TestApp) -> AdminClient {
        Self::for_address(&app.address)
    }

    pub fn for_address(address: &str) -> AdminClient {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        AdminClient {
            http,
            base: address.to_owned(),
            origin: address.to_owned(),
        }
    }

    async fn page(response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let set_cookies = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect();
        let html = response.text().await.unwrap();
        Page {
            status,
            location,
            set_cookies,
            html,
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        Self::page(
            self.http
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Origin", &self.origin)
            .form(form);
        Self::page(req.send().await.unwrap()).await
    }

    pub async fn post_with_headers(
        &self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut req = self.http.post(format!("{}{path}", self.base)).form(form);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Self::page(req.send().await.unwrap()).await
    }

    /// Signs in with the password and, when asked, the second factor: at the
    /// first sign-in it enrols with the secret the page shows (as a person
    /// would with an authenticator app) and remembers it for later ones. A
    /// sign-in that passed every step reads as `303 /admin`, with the cookies
    /// of every step.
    pub async fn sign_in(&self, username: &str, password: &str) -> Page {
        let first = self.password_step(username, password).await;
        if first.location.as_deref() != Some("/admin/login/two-factor") {
            return first;
        }
        let mut done = self.second_factor(username).await;
        let mut cookies = first.set_cookies;
        cookies.append(&mut done.set_cookies);
        done.set_cookies = cookies;
        done
    }

    /// The password step alone.
    pub async fn password_step(&self, username: &str, password: &str) -> Page {
        let form = self.get("/admin/login").await;
        let csrf = form.csrf();
        self.post(
            "/admin/login",
            &[
                ("csrf", &csrf),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }

    /// Answers the two-factor page with a valid, unused code. An enrolment
    /// that succeeded (the recovery codes page) reads as `303 /admin`.
    pub async fn second_factor(&self, username: &str) -> Page {
        self.second_factor_with(username, &[("Origin", &self.origin)])
            .await
    }

    /// The same, with these headers on the POST (Origin among them).
    pub async fn second_factor_with(&self, username: &str, headers: &[(&str, &str)]) -> Page {
        let page = self.get("/admin/login/two-factor").await;
        let code = match totp_secret_on(&page.html) {
            Some(secret) => {
                let step = now_step();
                remember_totp(&self.base, username, secret.clone(), step);
                code_for(&secret, step)
            }
            None => next_code(&self.base, username).await,
        };
        let mut done = self
            .post_with_headers(
                "/admin/login/two-factor",
                &[("csrf", &page.csrf()), ("code", &code)],
                headers,
            )
            .await;
        if done.status == 200 && done.html.contains("data-recovery-code") {
            done.status = 303;
            done.location = Some("/admin".into());
        }
        done
    }

    /// Signs in and returns the CSRF token of the signed-in pages.
    pub async fn signed_in(app: &TestApp, username: &str, role: &str) -> (AdminClient, String) {
        let password = "correct horse battery staple";
        create_user(&app.db, username, password, role);
        let client = AdminClient::new(app);
        let page = client.sign_in(username, password).await;
        assert_eq!(
            (page.status, page.location.as_deref()),
            (303, Some("/admin")),
            "{}",
            page.html
        );
        let csrf = client.get("/admin").await.csrf();
        (client, csrf)
    }
}

/// Decides a registration with hand-written SQL, as a reviewer would
/// (`reason` is required for REJECTED).
pub fn decide_sql(db: &TestDb, request_id: &str, status: &str, reason: Option<&str>) {
    let reason = reason
        .map(|r| format!("'{r}'"))
        .unwrap_or_else(|| "NULL".into());
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE registrations SET status = '{status}', decided_at = clock_timestamp(), decided_by = 'alice',
                    reason = {reason}
              WHERE registration_request_id = '{request_id}'"
        )),
        &mut db.connect(),
    )
    .unwrap();
}

/// The result code of every answer.
pub fn codes(answers: &[ApsResponse]) -> Vec<String> {
    answers.iter().map(ApsResponse::code).collect()
}

/// Registers a request and returns its row id.
pub async fn registered(app: &TestApp, body: &Value) -> i64 {
    assert_eq!(app.register(body).await.code(), "REGISTRATION_IN_PROCESS");
    let id = body["registrationRequestId"].as_str().unwrap();
    query_strings(
        &mut app.db.connect(),
        &format!("SELECT id::text AS v FROM registrations WHERE registration_request_id = '{id}'"),
    )[0]
    .parse()
    .unwrap()
}

/// The base32 secret an enrolment page shows (`data-totp-secret`).
pub fn totp_secret_on(html: &str) -> Option<Vec<u8>> {
    let at = html.find("data-totp-secret>")? + "data-totp-secret>".len();
    let end = html[at..].find('<')? + at;
    mpp_registrar::domain::two_factor::from_base32(&html[at..end])
}

/// The TOTP step of now (30 s).
pub fn now_step() -> i64 {
    chrono::Utc::now().timestamp() / 30
}

pub fn code_for(secret: &[u8], step: i64) -> String {
    mpp_registrar::domain::two_factor::code_at(secret, (step * 30) as u64).unwrap()
}

type TotpBook = std::sync::Mutex<std::collections::HashMap<(String, String), (Vec<u8>, i64)>>;

/// Secrets the harness enrolled, by server and username, with the last step used.
fn totp_book() -> &'static TotpBook {
    static BOOK: std::sync::OnceLock<TotpBook> = std::sync::OnceLock::new();
    BOOK.get_or_init(Default::default)
}

pub fn remember_totp(base: &str, username: &str, secret: Vec<u8>, step: i64) {
    totp_book()
        .lock()
        .unwrap()
        .insert((base.to_owned(), username.to_owned()), (secret, step));
}

/// A code the server has not seen yet: the earliest step after the last one
/// used that it accepts (one either side of now), waiting for it if needed.
pub async fn next_code(base: &str, username: &str) -> String {
    let key = (base.to_owned(), username.to_owned());
    let (secret, last) = totp_book()
        .lock()
        .unwrap()
        .get(&key)
        .cloned()
        .expect("a secret enrolled by this harness");
    let step = (now_step() - 1).max(last + 1);
    while now_step() + 1 < step {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    remember_totp(base, username, secret.clone(), step);
    code_for(&secret, step)
}
