//! The commands as an operator runs them: the real binary.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_mpp-registrar");

fn scratch_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    // The private cluster may run as the postgres user, which must pass
    // through these directories (never recursively: a cluster's own
    // directories must keep their 0700).
    use std::os::unix::fs::PermissionsExt as _;
    for path in [PathBuf::from(env!("CARGO_TARGET_TMPDIR")), dir.clone()] {
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
    }
    dir
}

/// The binary with a clean environment: only what the test sets.
fn command() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info");
    cmd
}

#[test]
fn keys_generate_writes_a_usable_pair() {
    let dir = scratch_dir("keys");
    let out = command()
        .args(["keys", "generate", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let private = std::fs::read_to_string(dir.join("private_key.pem")).unwrap();
    let public = std::fs::read_to_string(dir.join("public_key.pem")).unwrap();
    assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
    let signer = mpp_registrar::protocol::keys::signer_from_text(&private, "1").unwrap();
    let verifier = mpp_registrar::protocol::keys::verifier_from_text(&public).unwrap();
    assert!(verifier.verify(b"m", &signer.sign(b"m").unwrap()));
    // Never overwrites a private key.
    let again = command()
        .args(["keys", "generate", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert_eq!(
        std::fs::read_to_string(dir.join("private_key.pem")).unwrap(),
        private
    );
}

fn serve_fails_naming(envs: &[(&str, String)], setting: &str) {
    serve_fails(envs, &[], setting);
}

/// `serve` with a database, keys and a Client-Id, changed by `envs` and
/// without `unset`, must refuse to start naming `setting`.
fn serve_fails(envs: &[(&str, String)], unset: &[&str], setting: &str) {
    let dir = scratch_dir("misconfig");
    let mut cmd = command();
    cmd.arg("serve")
        .current_dir(&dir)
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none");
    cmd.env(
        "MPP_PRIVATE_KEY_FILE",
        fixture_path("keys/mpp_private_key.pem"),
    );
    cmd.env(
        "ALIPAY_PUBLIC_KEY_FILE",
        fixture_path("test-vectors/public_key.pem"),
    );
    cmd.env("MPP_CLIENT_ID", CLIENT_ID);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    for k in unset {
        cmd.env_remove(k);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{setting}: should not start");
    assert!(stderr.contains(setting), "{setting}: stderr was {stderr}");
    assert!(!stderr.contains("BEGIN"), "no key material in messages");
}

#[test]
fn misconfiguration_stops_the_start_with_the_setting_named() {
    serve_fails_naming(
        &[("MPP_PRIVATE_KEY_FILE", "/nonexistent/key.pem".into())],
        "MPP_PRIVATE_KEY_FILE",
    );
    serve_fails_naming(
        &[(
            "MPP_PRIVATE_KEY_FILE",
            fixture_path("keys/mpp_public_key.pem")
                .display()
                .to_string(),
        )],
        "MPP_PRIVATE_KEY_FILE",
    );
    serve_fails_naming(
        &[(
            "ALIPAY_PUBLIC_KEY_FILE",
            fixture_path("samples/registration-request-online.json")
                .display()
                .to_string(),
        )],
        "ALIPAY_PUBLIC_KEY_FILE",
    );
    serve_fails_naming(
        &[("ALIPAY_PUBLIC_KEYS", "two=/x.pem".into())],
        "ALIPAY_PUBLIC_KEYS",
    );
    serve_fails_naming(
        &[("DATABASE_URL", "mysql://root:hunter2@db/x".into())],
        "DATABASE_URL",
    );
    serve_fails_naming(
        &[("MPP_NOTIFY_RETRY_GAPS", "2m,soon".into())],
        "MPP_NOTIFY_RETRY_GAPS",
    );
    serve_fails_naming(
        &[("MPP_MERCHANT_NOTIFY_RETRY_GAPS", "1w".into())],
        "MPP_MERCHANT_NOTIFY_RETRY_GAPS",
    );
    serve_fails_naming(
        &[("MPP_SCREENING_THRESHOLD", "1.5".into())],
        "MPP_SCREENING_THRESHOLD",
    );
    serve_fails_naming(
        &[("MPP_RULES_FILE", "/nonexistent/rules.toml".into())],
        "MPP_RULES_FILE",
    );
    serve_fails_naming(
        &[("MPP_APPROVAL_MODE", "sometimes".into())],
        "MPP_APPROVAL_MODE",
    );
    serve_fails_naming(&[("MPP_LISTEN", "nowhere".into())], "MPP_LISTEN");
    serve_fails_naming(
        &[("ALIPAY_GATEWAY_URL", "ftp://x".into())],
        "ALIPAY_GATEWAY_URL",
    );
    serve_fails_naming(&[("MPP_KEY_VERSION", "v1".into())], "MPP_KEY_VERSION");
    serve_fails_naming(
        &[("MPP_PASSWORD_SIGN_IN", "false".into())],
        "MPP_PASSWORD_SIGN_IN",
    );
    serve_fails_naming(
        &[("MPP_OIDC_ISSUER", "https://id.wallet.example".into())],
        "MPP_OIDC_CLIENT_ID",
    );
    serve_fails_naming(
        &[
            ("MPP_OIDC_ISSUER", "https://id.wallet.example".into()),
            ("MPP_OIDC_CLIENT_ID", "mpp".into()),
        ],
        "MPP_OIDC_CLIENT_SECRET_FILE",
    );
}

/// With a real database the server never falls back to development keys or
/// the development Client-Id (they exist only with no DATABASE_URL).
#[test]
fn with_a_database_url_keys_and_client_id_are_required() {
    for setting in [
        "MPP_PRIVATE_KEY_FILE",
        "ALIPAY_PUBLIC_KEY_FILE",
        "MPP_CLIENT_ID",
    ] {
        serve_fails(&[], &[setting], setting);
    }
}

fn wait_ready(port: u16, child: &mut std::process::Child, limit: Duration) {
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut log = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                use std::io::Read as _;
                let _ = stderr.read_to_string(&mut log);
            }
            panic!("serve exited early: {status}; log:\n{log}");
        }
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read as _, Write as _};
            let _ = stream.write_all(b"GET /readyz HTTP/1.0\r\n\r\n");
            let mut text = String::new();
            let _ = stream.read_to_string(&mut text);
            if text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        assert!(started.elapsed() < limit, "not ready within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn terminate(child: &mut std::process::Child) -> std::process::ExitStatus {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "serve did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// With nothing configured, `serve` creates a private cluster and dev keys
/// under ./var, answers, and on SIGTERM exits 0 and stops its cluster.
#[test]
fn serve_runs_with_zero_configuration() {
    let dir = scratch_dir("zero-config");
    let port = free_port();
    let mut child = command()
        .arg("serve")
        .current_dir(&dir)
        .env("MPP_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_ready(port, &mut child, Duration::from_secs(120));
    assert!(dir.join("var/postgres/data/PG_VERSION").exists());
    assert!(dir.join("var/keys/mpp/private_key.pem").exists());
    assert!(dir.join("var/keys/alipay/public_key.pem").exists());
    let status = terminate(&mut child);
    let mut stdout = String::new();
    use std::io::Read as _;
    // Logs go to standard error.
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(status.success(), "exit {status}; log:\n{stdout}");
    assert!(
        !stdout.contains('\u{1b}'),
        "no colour codes when the log is not a terminal"
    );
    assert!(
        stdout.contains("listening") && stdout.contains("SANDBOX_MPP_REGISTRAR_DEV"),
        "{stdout}"
    );
    assert!(
        stdout.contains("private_key.pem"),
        "key paths are printed: {stdout}"
    );
    assert!(
        !dir.join("var/postgres/data/postmaster.pid").exists(),
        "the cluster it started is stopped"
    );
}

fn add_user(database_url: &str, username: &str, role: &str, stdin: &str) -> std::process::Output {
    user_command(
        database_url,
        &["add", "--username", username, "--role", role],
        stdin,
    )
}

/// `mpp-registrar user ARGS` with `stdin` as its standard input (no terminal).
fn user_command(database_url: &str, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write as _;
    let mut child = command()
        .arg("user")
        .args(args)
        .env("DATABASE_URL", database_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn user_add_reads_the_password_from_stdin_and_refuses_duplicates() {
    let db = TestDb::new();
    let out = add_user(&db.url, "dana", "admin", "a long enough password\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut conn = db.connect();
    let row = query_strings(
        &mut conn,
        "SELECT role || '|' || left(password_hash, 10) AS v FROM users WHERE username = 'dana'",
    );
    assert_eq!(row, ["admin|$argon2id$"]);
    assert!(mpp_registrar::admin::password::verify_password(
        &query_strings(&mut conn, "SELECT password_hash AS v FROM users")[0],
        "a long enough password"
    ));
    let again = add_user(&db.url, "dana", "reviewer", "another long password\n");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let short = add_user(&db.url, "erin", "reviewer", "short\n");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("password"));
    let audit = query_strings(
        &mut conn,
        "SELECT actor || '|' || action AS v FROM ops.audit_log",
    );
    assert_eq!(audit, ["cli|user.created"]);
}

#[test]
fn user_unlock_clears_the_failures_of_a_user_and_is_audited() {
    let db = TestDb::new();
    assert!(
        add_user(&db.url, "alice", "reviewer", "a long enough password\n")
            .status
            .success()
    );
    let mut conn = db.connect();
    diesel::RunQueryDsl::execute(
        diesel::sql_query(
            "INSERT INTO sign_in_attempts (username, address, succeeded)
             SELECT 'alice', '127.0.0.5', false FROM generate_series(1, 10)",
        ),
        &mut conn,
    )
    .unwrap();
    let unlock = |name: &str| {
        command()
            .args(["user", "unlock", "--username", name])
            .env("DATABASE_URL", &db.url)
            .output()
            .unwrap()
    };
    let out = unlock("alice");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("10 failed sign-in(s) cleared"));
    assert_eq!(
        query_count(
            &mut conn,
            "SELECT count(*) FROM sign_in_attempts WHERE username = 'alice'"
        ),
        0
    );
    assert_eq!(
        query_strings(
            &mut conn,
            "SELECT actor || '|' || action || '|' || detail AS v FROM ops.audit_log WHERE action = 'user.unlocked'"
        ),
        ["cli|user.unlocked|user alice: 10 failed sign-in(s) cleared"]
    );
    let unknown = unlock("mallory");
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no user named"));
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The private cluster listens on no TCP port and only on a Unix socket in
/// a directory of mode 0700 that its owner owns, with a password even there:
/// another local user (`nobody`) cannot connect, and nobody connects without
/// the password. `mpp-registrar psql` reaches it for ops.
#[test]
fn the_private_cluster_admits_only_its_owner_and_psql_reaches_it() {
    let dir = scratch_dir("private");
    let migrate = command().arg("migrate").current_dir(&dir).output().unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let psql = command()
        .args([
            "psql",
            "--",
            "-Atc",
            "SELECT count(*) FROM ops.registrations",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        psql.status.success(),
        "{}",
        String::from_utf8_lossy(&psql.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&psql.stdout).trim(), "0");

    let root = dir.join("var/postgres");
    let cluster = mpp_registrar::pgcluster::PrivateCluster::ensure(&root, "mpp_registrar")
        .expect("the cluster starts again");
    let hba = std::fs::read_to_string(root.join("data/pg_hba.conf")).unwrap_or_default();
    let rules: Vec<&str> = hba
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect();
    assert_eq!(rules, ["local all all scram-sha-256"], "{hba}");
    let psql_bin = mpp_registrar::pgcluster::find_binary("psql").unwrap();
    let port = cluster.port().to_string();
    let socket = cluster.socket_dir().display().to_string();
    let try_connect = |host: &str, as_nobody: bool| {
        let mut cmd = if as_nobody {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--"]).arg(&psql_bin);
            c
        } else {
            Command::new(&psql_bin)
        };
        cmd.args([
            "-w", "-h", host, "-p", &port, "-U", "postgres", "-d", "postgres", "-c", "SELECT 1",
        ])
        .env_remove("PGPASSWORD")
        .output()
        .unwrap()
    };
    // No password, no entry, even for the cluster's neighbours on the socket.
    let without_password = try_connect(&socket, false);
    assert!(!without_password.status.success());
    // No TCP listener at all.
    let tcp = try_connect("127.0.0.1", false);
    assert!(!tcp.status.success());
    assert!(
        String::from_utf8_lossy(&tcp.stderr).contains("refused"),
        "{}",
        String::from_utf8_lossy(&tcp.stderr)
    );
    if running_as_root() {
        let nobody = try_connect(&socket, true);
        assert!(!nobody.status.success());
        assert!(
            String::from_utf8_lossy(&nobody.stderr).contains("Permission denied"),
            "{}",
            String::from_utf8_lossy(&nobody.stderr)
        );
        let read = Command::new("runuser")
            .args(["-u", "nobody", "--", "cat"])
            .arg(root.join("password"))
            .output()
            .unwrap();
        assert!(!read.status.success(), "nobody reads the password file");
    } else {
        eprintln!("not root: the `nobody` checks need runuser and are skipped");
    }
    cluster.stop().unwrap();
}

/// A private cluster made by an earlier version (which trusted local
/// connections) gets a password and loses `trust` the next time it starts.
#[test]
fn a_private_cluster_of_an_earlier_version_is_locked_down_on_start() {
    let dir = scratch_dir("old-cluster");
    let root = dir.join("postgres");
    std::fs::create_dir_all(&root).unwrap();
    let initdb = mpp_registrar::pgcluster::find_binary("initdb").unwrap();
    let mut old = if running_as_root() {
        let _ = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&root)
            .status();
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(initdb);
        c
    } else {
        Command::new(initdb)
    };
    let made = old
        .arg("-D")
        .arg(root.join("data"))
        .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale"])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    let cluster = mpp_registrar::pgcluster::PrivateCluster::ensure(&root, "mpp_registrar").unwrap();
    let hba = std::fs::read_to_string(root.join("data/pg_hba.conf")).unwrap();
    assert!(!hba.contains("trust"), "{hba}");
    use diesel::Connection as _;
    assert!(diesel::PgConnection::establish(&cluster.url("mpp_registrar")).is_ok());
    let mut no_password = url::Url::parse(&cluster.url("mpp_registrar")).unwrap();
    no_password.set_password(None).unwrap();
    assert!(diesel::PgConnection::establish(no_password.as_str()).is_err());
    cluster.stop().unwrap();
}

/// As root the private cluster runs as `postgres`; a data directory that user
/// cannot reach is refused at once, naming the directory in the way.
#[test]
fn a_private_cluster_the_postgres_user_cannot_reach_is_refused_by_name() {
    if !running_as_root() {
        return;
    }
    use std::os::unix::fs::PermissionsExt as _;
    let dir = scratch_dir("closed");
    let closed = dir.join("closed");
    std::fs::create_dir_all(&closed).unwrap();
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
    let output = command()
        .arg("migrate")
        .current_dir(&dir)
        .env("MPP_DATA_DIR", closed.join("data"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&closed.display().to_string()) && stderr.contains("postgres user"),
        "{stderr}"
    );
}

/// A data directory too deep for a Unix socket's path still works: the
/// socket moves to a directory under /tmp that only the cluster's owner may
/// enter, and `psql` finds it there.
#[test]
fn a_deep_data_directory_gets_its_socket_in_a_closed_directory() {
    use std::os::unix::fs::MetadataExt as _;
    let dir = scratch_dir(&format!("deep-{}", "d".repeat(60)));
    let migrate = command().arg("migrate").current_dir(&dir).output().unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let psql = command()
        .args(["psql", "--", "-Atc", "SELECT count(*) FROM ops.requests"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        psql.status.success(),
        "{}",
        String::from_utf8_lossy(&psql.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&psql.stdout).trim(), "0");
    let cluster = mpp_registrar::pgcluster::PrivateCluster::ensure(
        &dir.join("var/postgres"),
        "mpp_registrar",
    )
    .unwrap();
    let socket_dir = cluster.socket_dir().to_path_buf();
    assert!(socket_dir.starts_with("/tmp"), "{}", socket_dir.display());
    for closed in [&socket_dir, &socket_dir.parent().unwrap().to_path_buf()] {
        let meta = std::fs::symlink_metadata(closed).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o700, "{}", closed.display());
    }
    cluster.stop().unwrap();
}

/// A taken port is reported at once, naming the address, before any key,
/// cluster or migration is made.
#[test]
fn a_taken_port_stops_the_start_before_anything_is_made() {
    let dir = scratch_dir("taken");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    for (setting, value) in [
        ("MPP_LISTEN", address.clone()),
        ("MPP_ADMIN_LISTEN", address.clone()),
    ] {
        let started = Instant::now();
        let output = command()
            .arg("serve")
            .current_dir(&dir)
            .env("MPP_LISTEN", "127.0.0.1:0")
            .env(setting, &value)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        assert!(
            stderr.contains(setting) && stderr.contains(&address),
            "{stderr}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(!dir.join("var").exists(), "nothing was made");
    }
}

/// Accounts run from the command line: weak passwords refused with the
/// reason, list, disable and enable, role and password changes, each audited;
/// a new password or a disabled account ends the account's sessions.
#[test]
fn accounts_are_run_from_the_command_line_and_every_change_is_audited() {
    let db = TestDb::new();
    let ok = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let refused = |out: std::process::Output| {
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let weak = refused(add_user(&db.url, "gina", "reviewer", "password123456\n"));
    assert!(weak.contains("too easy to guess"), "{weak}");
    let named = refused(add_user(
        &db.url,
        "gina",
        "reviewer",
        "gina-rides-a-blue-tram\n",
    ));
    assert!(named.contains("must not contain the username"), "{named}");
    ok(add_user(
        &db.url,
        "gina",
        "reviewer",
        "plum kettle orbit sunrise\n",
    ));

    let listed = ok(user_command(&db.url, &["list"], ""));
    let line = listed.lines().find(|l| l.starts_with("gina")).unwrap();
    assert!(
        line.contains("reviewer") && line.contains("yes") && line.contains("never"),
        "{line}"
    );

    ok(user_command(
        &db.url,
        &["set-role", "--username", "gina", "--role", "admin"],
        "",
    ));
    let mut conn = db.connect();
    let session = |conn: &mut diesel::PgConnection| {
        diesel::RunQueryDsl::execute(
            diesel::sql_query(
                "INSERT INTO sessions (id_hash, user_id, csrf_token)
                 SELECT sha256(random()::text::bytea), id, 'c' FROM users WHERE username = 'gina'",
            ),
            conn,
        )
        .unwrap();
    };
    session(&mut conn);
    let weak = refused(user_command(
        &db.url,
        &["set-password", "--username", "gina"],
        "letmein\n",
    ));
    assert!(weak.contains("12 to 256"), "{weak}");
    ok(user_command(
        &db.url,
        &["set-password", "--username", "gina"],
        "amber quill harbour lantern\n",
    ));
    assert_eq!(query_count(&mut conn, "SELECT count(*) FROM sessions"), 0);
    let hash = query_strings(&mut conn, "SELECT password_hash AS v FROM users")[0].clone();
    assert!(mpp_registrar::admin::password::verify_password(
        &hash,
        "amber quill harbour lantern"
    ));
    session(&mut conn);
    ok(user_command(
        &db.url,
        &["disable", "--username", "gina"],
        "",
    ));
    assert_eq!(query_count(&mut conn, "SELECT count(*) FROM sessions"), 0);
    let listed = ok(user_command(&db.url, &["list"], ""));
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("gina") && l.contains("admin") && l.contains(" no "))
    );
    ok(user_command(&db.url, &["enable", "--username", "gina"], ""));
    ok(user_command(
        &db.url,
        &["reset-mfa", "--username", "gina"],
        "",
    ));
    let missing = refused(user_command(
        &db.url,
        &["disable", "--username", "nobody"],
        "",
    ));
    assert!(missing.contains("no user named"), "{missing}");

    let audit = query_strings(
        &mut conn,
        "SELECT actor || '|' || action AS v FROM ops.audit_log ORDER BY at, action",
    );
    assert_eq!(
        audit,
        [
            "cli|user.created",
            "cli|user.role_changed",
            "cli|user.password_changed",
            "cli|user.disabled",
            "cli|user.enabled",
            "cli|user.mfa_reset",
        ]
    );
}

#[test]
fn the_insert_rate_limit_is_measured_on_a_table_with_only_the_key_and_the_request_id() {
    let db = TestDb::new();
    let rate = mpp_registrar::simulate::limits::pg_insert_rate(&db.url, 2, Duration::from_secs(1))
        .unwrap();
    assert!(rate > 0.0, "{rate}");
    // Nothing is left behind, and the registrations table was not touched.
    let mut conn = db.connect();
    assert_eq!(
        query_count(
            &mut conn,
            "SELECT count(*) AS n FROM pg_class WHERE relname LIKE 'bench_insert_rate%'"
        ),
        0
    );
    assert_eq!(
        query_count(&mut conn, "SELECT count(*) AS n FROM registrations"),
        0
    );
}
