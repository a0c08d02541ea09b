//! High availability on PostgreSQL's own replication: a primary and a
//! synchronous standby built with `initdb` and `pg_basebackup`, the real
//! `serve` on a multi-host DATABASE_URL, registrations at concurrency 16 and
//! reviewers' decisions through the admin pages while the primary is stopped
//! with `-m immediate` and the standby promoted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::{Connection as _, PgConnection};
use mpp_registrar::pgcluster::find_binary;
use mpp_registrar::protocol::paths;

use crate::helpers::*;
use crate::processes::*;

const PASSWORD: &str = "failover-test-password";
const DATABASE: &str = "mpp_failover";

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A PostgreSQL tool, run as the `postgres` user when we are root (the
/// server refuses to run as root).
fn pg(tool: &str) -> Command {
    let path = find_binary(tool).unwrap_or_else(|| panic!("{tool} not found"));
    if running_as_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(path);
        cmd
    } else {
        Command::new(path)
    }
}

fn run(mut cmd: Command, what: &str) {
    let out = cmd.stdout(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One cluster of the pair: its data directory and port.
struct Node {
    data: PathBuf,
    port: u16,
}

impl Node {
    fn start(&self, extra: &str) {
        let mut cmd = pg("pg_ctl");
        cmd.arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(self.data.with_extension("log"))
            .args(["-w", "-t", "60", "-o"])
            .arg(format!(
                "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' {extra}",
                self.port
            ))
            .arg("start");
        run(cmd, "pg_ctl start");
    }

    fn stop_immediately(&self) {
        let mut cmd = pg("pg_ctl");
        cmd.arg("-D")
            .arg(&self.data)
            .args(["stop", "-m", "immediate", "-w"]);
        run(cmd, "pg_ctl stop -m immediate");
    }

    fn promote(&self) {
        let mut cmd = pg("pg_ctl");
        cmd.arg("-D").arg(&self.data).args(["promote", "-w"]);
        run(cmd, "pg_ctl promote");
    }

    fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.url(DATABASE)).unwrap()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = pg("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["stop", "-m", "immediate"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A primary that commits only once its standby has the WAL
/// (`synchronous_standby_names = '*'`), and that standby, streaming.
fn primary_and_synchronous_standby(root: &Path) -> (Node, Node) {
    std::fs::create_dir_all(root).unwrap();
    if running_as_root() {
        run(
            {
                let mut c = Command::new("chown");
                c.arg("postgres:postgres").arg(root);
                c
            },
            "chown",
        );
    }
    let pwfile = root.join("pwfile");
    std::fs::write(&pwfile, PASSWORD).unwrap();
    let primary = Node {
        data: root.join("primary"),
        port: free_port(),
    };
    let mut initdb = pg("initdb");
    initdb
        .arg("-D")
        .arg(&primary.data)
        .args([
            "-U",
            "postgres",
            "-A",
            "scram-sha-256",
            "-E",
            "UTF8",
            "--no-locale",
        ])
        .arg(format!("--pwfile={}", pwfile.display()));
    run(initdb, "initdb");
    primary.start("-c synchronous_standby_names='*' -c wal_level=replica");
    let standby = Node {
        data: root.join("standby"),
        port: free_port(),
    };
    let mut basebackup = pg("pg_basebackup");
    basebackup
        .args(["-h", "127.0.0.1", "-p", &primary.port.to_string()])
        .args(["-U", "postgres", "-X", "stream", "-R", "-D"])
        .arg(&standby.data)
        .env("PGPASSWORD", PASSWORD);
    run(basebackup, "pg_basebackup");
    standby.start("-c hot_standby=on");
    // Synchronous from the first write on.
    let started = Instant::now();
    let mut admin = PgConnection::establish(&primary.url("postgres")).unwrap();
    while query_strings(
        &mut admin,
        "SELECT sync_state AS v FROM pg_stat_replication",
    ) != ["sync"]
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no sync standby"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!("CREATE DATABASE {DATABASE}")),
        &mut admin,
    )
    .unwrap();
    (primary, standby)
}

#[derive(Debug)]
struct Sample {
    sent: Instant,
    took: Duration,
    code: Option<String>,
    request_id: String,
}

#[tokio::test]
async fn the_server_lives_through_a_failover_to_a_synchronous_standby() {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("failover-{}", uuid::Uuid::new_v4().simple()));
    let (primary, standby) = primary_and_synchronous_standby(&root);
    let url = format!(
        "postgres://postgres:{PASSWORD}@127.0.0.1:{},127.0.0.1:{}/{DATABASE}?target_session_attrs=read-write",
        primary.port, standby.port
    );
    let gateway = crate::stubs::gateway(Default::default());
    let gateway_url = gateway.url();
    let work = Workdir::new("failover");
    let env = [
        ("ALIPAY_GATEWAY_URL", gateway_url.as_str()),
        ("MPP_NOTIFY_RETRY_GAPS", "200ms,500ms,1s,1s,1s,2s,2s,5s"),
    ];
    let mut server = Serve::start(&work, &url, &env).await;
    let peer = server.peer();

    // The first account, made with the command and the same multi-host URL.
    let mut add = work.command();
    add.args(["user", "add", "--username", "rita", "--role", "reviewer"])
        .env("DATABASE_URL", &url)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = add.spawn().unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"failover reviewer passphrase\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reviewer = AdminClient::for_address(&server.base);
    assert_eq!(
        reviewer
            .sign_in("rita", "failover reviewer passphrase")
            .await
            .status,
        303
    );

    let stop = Arc::new(AtomicBool::new(false));
    let load = (0..16)
        .map(|worker| {
            let (peer, stop) = (peer.clone(), stop.clone());
            tokio::spawn(async move {
                let mut samples = Vec::new();
                // Bounded: at most 3,000 requests per worker.
                for n in 0..3000 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let request_id = unique(&format!("FO{worker}-{n}"));
                    let body = online_request(&request_id, &unique("FOM"));
                    let sent = Instant::now();
                    let code = peer
                        .try_send(
                            peer.call(paths::REGISTRATION, serde_json::to_vec(&body).unwrap()),
                        )
                        .await
                        .ok()
                        .map(|r| r.code());
                    samples.push(Sample {
                        sent,
                        took: sent.elapsed(),
                        code,
                        request_id,
                    });
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                samples
            })
        })
        .collect::<Vec<_>>();

    // A reviewer approves from the queue all along; a decision counts once
    // the page said it was made.
    let decided: Arc<Mutex<BTreeSet<i64>>> = Arc::default();
    let decider = {
        let (stop, decided) = (stop.clone(), decided.clone());
        tokio::spawn(async move {
            let mut refused = 0;
            while !stop.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let queue = reviewer.get("/admin").await;
                let Some(id) = queue
                    .html
                    .split("href=\"/admin/registrations/")
                    .nth(1)
                    .and_then(|s| s.split('"').next())
                    .and_then(|s| s.parse::<i64>().ok())
                else {
                    continue;
                };
                let Some(csrf) = hidden_value(&queue.html, "csrf") else {
                    continue;
                };
                let page = reviewer
                    .post(
                        &format!("/admin/registrations/{id}/decision"),
                        &[("csrf", &csrf), ("decision", "approve"), ("confirm", "1")],
                    )
                    .await;
                match page.location.as_deref() {
                    Some(l) if l.ends_with("flash=decided") => {
                        decided.lock().unwrap().insert(id);
                    }
                    _ => refused += 1,
                }
            }
            refused
        })
    };

    tokio::time::sleep(Duration::from_secs(3)).await;
    let stopping = Instant::now();
    primary.stop_immediately();
    let stopped = Instant::now();
    // As an operator (or Patroni) would: the old primary is gone, promote.
    tokio::time::sleep(Duration::from_secs(1)).await;
    standby.promote();
    let promoted = Instant::now();
    let resumed = loop {
        let r = peer
            .register(&online_request(&unique("BACK"), &unique("BM")))
            .await;
        if r.code() == "REGISTRATION_IN_PROCESS" {
            break promoted.elapsed();
        }
        assert!(
            promoted.elapsed() < Duration::from_secs(10),
            "no service 10 s after the promotion"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Keep going on the new primary for a while, decisions included.
    let decided_before = decided.lock().unwrap().len();
    let started_after = Instant::now();
    while decided.lock().unwrap().len() < decided_before + 10 {
        assert!(
            started_after.elapsed() < Duration::from_secs(20),
            "no decisions after the promotion"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::SeqCst);
    let mut samples = Vec::new();
    for worker in load {
        samples.extend(worker.await.unwrap());
    }
    let refused_decisions = decider.await.unwrap();
    assert!(server.is_running(), "the server exited");

    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    for s in &samples {
        *codes
            .entry(s.code.clone().unwrap_or_else(|| "no answer".into()))
            .or_default() += 1;
    }
    assert!(
        samples.iter().all(|s| matches!(
            s.code.as_deref(),
            Some("REGISTRATION_IN_PROCESS" | "UNKNOWN_EXCEPTION")
        )),
        "every request answered, stored or U: {codes:?}"
    );
    let slowest = samples.iter().map(|s| s.took).max().unwrap_or_default();
    assert!(slowest < Duration::from_secs(15), "slowest {slowest:?}");
    let during = samples
        .iter()
        .filter(|s| s.sent > stopped && s.sent + s.took < promoted)
        .count();

    // Nothing acknowledged is lost: the new primary has every registration
    // answered REGISTRATION_IN_PROCESS and every decision the page confirmed.
    let mut new_primary = standby.connect();
    let stored: BTreeSet<String> = query_strings(
        &mut new_primary,
        "SELECT registration_request_id AS v FROM registrations WHERE registration_request_id LIKE 'FO%'",
    )
    .into_iter()
    .collect();
    let acknowledged: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.code.as_deref() == Some("REGISTRATION_IN_PROCESS"))
        .collect();
    let lost: Vec<&str> = acknowledged
        .iter()
        .filter(|s| !stored.contains(&s.request_id))
        .map(|s| s.request_id.as_str())
        .collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    let decided: Vec<i64> = decided.lock().unwrap().iter().copied().collect();
    let approved: BTreeSet<i64> = query_strings(
        &mut new_primary,
        "SELECT id::text AS v FROM registrations WHERE status = 'APPROVED'",
    )
    .into_iter()
    .map(|v| v.parse().unwrap())
    .collect();
    let lost_decisions: Vec<&i64> = decided.iter().filter(|id| !approved.contains(id)).collect();
    assert!(
        lost_decisions.is_empty(),
        "decisions lost: {lost_decisions:?}"
    );

    // And every decision's notification reaches Alipay+.
    let started = Instant::now();
    loop {
        let undelivered = query_strings(
            &mut new_primary,
            "SELECT count(*)::text AS v FROM notifications WHERE status <> 'delivered'",
        );
        if undelivered == ["0"] {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{undelivered:?} notifications undelivered after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let notified: BTreeSet<String> = gateway
        .received()
        .iter()
        .map(|r| r.registration_request_id.clone())
        .collect();
    let decided_ids: Vec<String> = query_strings(
        &mut new_primary,
        "SELECT registration_request_id AS v FROM registrations WHERE status = 'APPROVED'",
    );
    assert!(decided_ids.iter().all(|id| notified.contains(id)));
    server.kill();
    eprintln!(
        "failover under load: {} registrations at concurrency 16 ({codes:?}, {during} sent and answered \
         between the primary's stop and the promotion), {} decisions through the admin pages ({} refused \
         while no primary was there); primary stopped in {:?}; service back {resumed:?} after the promotion; \
         slowest answer {slowest:?}; no acknowledged registration or decision lost; all {} notifications delivered",
        samples.len(),
        decided.len(),
        refused_decisions,
        stopped - stopping,
        decided_ids.len(),
    );
}

/// A pooled connection whose server turned read-only (as an old primary
/// does when it comes back as a standby) is dropped after the write it
/// refused, and the next unit of work gets a connection that can write.
#[tokio::test]
async fn a_connection_to_a_read_only_server_is_replaced() {
    use mpp_registrar::db::{self, DbError, DbTimeouts};
    let test_db = TestDb::new();
    let pool = db::build_pool(&test_db.url, 1, DbTimeouts::default());
    let write = |pool: &db::PgPool| {
        let pool = pool.clone();
        async move {
            db::run(&pool, DbTimeouts::default(), |conn| {
                diesel::RunQueryDsl::execute(
                    diesel::sql_query(
                        "INSERT INTO sign_in_attempts (username, address) VALUES ('probe', 'probe')",
                    ),
                    conn,
                )
                .map(|_| ())
                .map_err(DbError::from)
            })
            .await
        }
    };
    // The one pooled connection now sees a read-only server.
    db::run(&pool, DbTimeouts::default(), |conn| {
        diesel::RunQueryDsl::execute(
            diesel::sql_query("SET default_transaction_read_only = on"),
            conn,
        )
        .map(|_| ())
        .map_err(DbError::from)
    })
    .await
    .unwrap();
    assert!(write(&pool).await.is_err(), "the read-only server refuses");
    write(&pool).await.expect("a fresh connection writes");
}
