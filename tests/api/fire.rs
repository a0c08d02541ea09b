//! Proof under fire, with the real binary: kill -9 under load, PostgreSQL
//! stopped under load, a faulty Alipay+ with the server killed twice, and two
//! `serve` processes on one database. Every loop is bounded in count and
//! time; traffic goes to 127.0.0.1 only. Each test prints its figures (see
//! README "Guarantees").

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use mpp_registrar::domain::notification::NotifyPolicy;
use mpp_registrar::domain::review::Decision;
use mpp_registrar::pgcluster::PrivateCluster;
use mpp_registrar::protocol::paths;
use mpp_registrar::simulate::gateway::Behaviour;
use mpp_registrar::workflow::decision::decide;

use crate::helpers::*;
use crate::processes::*;

/// Sends every body at `concurrency`, in order; `None` where no answer came.
/// `after_each` sees the running count of answers.
async fn send_all(
    peer: &Peer,
    bodies: &[Vec<u8>],
    concurrency: usize,
    after_each: impl Fn(usize) + Sync,
) -> Vec<Option<ApsResponse>> {
    let answered = AtomicUsize::new(0);
    futures_util::stream::iter(bodies.iter().cloned())
        .map(|body| {
            let (answered, after_each) = (&answered, &after_each);
            async move {
                let answer = peer
                    .try_send(peer.call(paths::REGISTRATION, body))
                    .await
                    .ok();
                if answer.is_some() {
                    after_each(answered.fetch_add(1, Ordering::SeqCst) + 1);
                }
                answer
            }
        })
        .buffered(concurrency)
        .collect()
        .await
}

fn distinct_requests(prefix: &str, count: usize) -> (Vec<String>, Vec<Vec<u8>>) {
    let run = unique(prefix);
    let ids: Vec<String> = (0..count).map(|i| format!("{run}-{i:05}")).collect();
    let bodies = ids
        .iter()
        .enumerate()
        .map(|(i, id)| serde_json::to_vec(&online_request(id, &format!("{run}-M{i:05}"))).unwrap())
        .collect();
    (ids, bodies)
}

fn count_like(db: &TestDb, sql: &str, prefix: &str) -> i64 {
    query_count(&mut db.connect(), &sql.replace("{prefix}", prefix))
}

/// Approves every registration of the run, through the same guarded
/// transaction as the admin pages (so with its notifications).
fn approve_all(db: &TestDb, prefix: &str) {
    let mut conn = db.connect();
    let policy = NotifyPolicy::default();
    for id in query_strings(
        &mut conn,
        &format!(
            "SELECT id::text AS v FROM registrations WHERE registration_request_id LIKE '{prefix}-%'"
        ),
    ) {
        decide(
            &mut conn,
            id.parse().unwrap(),
            &Decision::Approve,
            "reviewer",
            &policy,
        )
        .unwrap();
    }
}

#[tokio::test]
async fn a_kill_9_under_load_loses_no_acknowledged_registration() {
    const TOTAL: usize = 2000;
    let db = TestDb::new();
    let work = Workdir::new("crash");
    let (ids, bodies) = distinct_requests("CRASH", TOTAL);
    let prefix = ids[0].rsplit_once('-').unwrap().0.to_owned();

    let first_server = Serve::start(&work, &db.url, &[]).await;
    let pid = first_server.pid();
    let before = send_all(&first_server.peer(), &bodies, 32, |answered| {
        if answered == TOTAL / 3 {
            kill_9(pid);
        }
    })
    .await;
    drop(first_server);
    let acknowledged: Vec<usize> = (0..TOTAL).filter(|&i| before[i].is_some()).collect();
    for &i in &acknowledged {
        assert_eq!(
            before[i].as_ref().unwrap().code(),
            "REGISTRATION_IN_PROCESS"
        );
    }
    let stored_at_kill = count_like(
        &db,
        "SELECT count(*) FROM ops.registrations WHERE registration_request_id LIKE '{prefix}-%'",
        &prefix,
    );
    assert!(
        acknowledged.len() < TOTAL,
        "the kill came after every answer"
    );
    assert!(stored_at_kill >= acknowledged.len() as i64);

    let second_server = Serve::start(&work, &db.url, &[]).await;
    let after = send_all(&second_server.peer(), &bodies, 32, |_| {}).await;
    for (i, answer) in after.iter().enumerate() {
        let answer = answer
            .as_ref()
            .unwrap_or_else(|| panic!("{} got no answer", ids[i]));
        assert_eq!(answer.code(), "REGISTRATION_IN_PROCESS", "{}", ids[i]);
        if let Some(earlier) = &before[i] {
            assert_eq!(answer.body, earlier.body, "{} changed its answer", ids[i]);
        }
    }
    let stored = count_like(
        &db,
        "SELECT count(*) FROM ops.registrations WHERE registration_request_id LIKE '{prefix}-%' AND status = 'PENDING'",
        &prefix,
    );
    let received = count_like(
        &db,
        "SELECT count(*) FROM ops.audit_log WHERE action = 'registration.received' AND registration_request_id LIKE '{prefix}-%'",
        &prefix,
    );
    assert_eq!(
        (stored, received),
        (TOTAL as i64, TOTAL as i64),
        "one row and one audit entry per request"
    );
    eprintln!(
        "kill -9 under load: {} of {TOTAL} answered before the kill, {stored_at_kill} stored at the kill, \
         {} without an answer; after the restart all {TOTAL} answered REGISTRATION_IN_PROCESS, \
         the {} acknowledged ones with the same body; {stored} rows, no duplicates",
        acknowledged.len(),
        TOTAL - acknowledged.len(),
        acknowledged.len(),
    );
}

/// One answer of the outage run: when it was sent, how long it took, its code.
struct Sample {
    sent: Instant,
    took: Duration,
    code: Option<String>,
}

#[tokio::test]
async fn a_database_outage_under_load_is_answered_and_survived() {
    let root = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("outage-{}", uuid::Uuid::new_v4().simple()));
    let cluster = PrivateCluster::ensure(&root, "mpp_outage").expect("private cluster");
    let work = Workdir::new("outage");
    let mut server = Serve::start(&work, &cluster.url("mpp_outage"), &[]).await;
    let peer = server.peer();

    let stop_load = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = (0..8)
        .map(|worker| {
            let (peer, stop) = (peer.clone(), stop_load.clone());
            tokio::spawn(async move {
                let mut samples = Vec::new();
                // Bounded: at most 4,000 requests per worker, and the test stops them.
                for n in 0..4000 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let body = online_request(&unique(&format!("OUT{worker}-{n}")), &unique("OM"));
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
                    });
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                samples
            })
        })
        .collect::<Vec<_>>();

    tokio::time::sleep(Duration::from_secs(1)).await;
    let stopping = Instant::now();
    cluster.stop().expect("pg_ctl stop");
    let stopped = Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(peer.get("/readyz").await.status(), 503);
    assert_eq!(peer.get("/healthz").await.status(), 200);
    assert!(server.is_running(), "the server exited during the outage");
    let restarting = Instant::now();
    cluster.start().expect("pg_ctl start");
    let restarted = Instant::now();
    // Service is back once a request sent after the restart is stored.
    let resumed = loop {
        let r = peer
            .register(&online_request(&unique("BACK"), &unique("BM")))
            .await;
        if r.code() == "REGISTRATION_IN_PROCESS" {
            break restarted.elapsed();
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(15),
            "no service 15 s after PostgreSQL came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop_load.store(true, Ordering::SeqCst);
    let mut samples = Vec::new();
    for worker in load {
        samples.extend(worker.await.unwrap());
    }
    let _ = cluster.stop();

    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    for s in &samples {
        *codes
            .entry(s.code.clone().unwrap_or_else(|| "no answer".into()))
            .or_default() += 1;
    }
    let slowest = samples.iter().map(|s| s.took).max().unwrap_or_default();
    let during: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.sent > stopped && s.sent + s.took < restarting)
        .collect();
    assert!(!during.is_empty());
    assert!(
        during
            .iter()
            .all(|s| s.code.as_deref() == Some("UNKNOWN_EXCEPTION")),
        "answers while PostgreSQL was down: {codes:?}"
    );
    assert!(
        samples.iter().all(|s| matches!(
            s.code.as_deref(),
            Some("REGISTRATION_IN_PROCESS" | "UNKNOWN_EXCEPTION")
        )),
        "every request answered, stored or U: {codes:?}"
    );
    assert!(
        slowest < Duration::from_secs(10),
        "slowest answer {slowest:?}"
    );
    assert!(
        resumed < Duration::from_secs(5),
        "resumed after {resumed:?}"
    );
    eprintln!(
        "PostgreSQL stopped under load ({:?} to stop): {} requests, {codes:?}; slowest answer {slowest:?}; \
         /readyz 503 during the outage; served again {resumed:?} after PostgreSQL was back ({:?} to start)",
        stopped - stopping,
        samples.len(),
        restarted - restarting,
    );
}

#[tokio::test]
async fn the_notifier_delivers_every_decision_through_faults_and_two_kills() {
    const DECISIONS: usize = 200;
    let db = TestDb::new();
    let work = Workdir::new("faults");
    let gateway = crate::stubs::gateway(Behaviour {
        unknown_ratio: 0.3,
        slow_ratio: 0.1,
        slow: Duration::from_secs(2),
        ..Behaviour::default()
    });
    let gateway_url = gateway.url();
    // Short gaps and many of them: a notification fails 40 % of attempts.
    let gaps = vec!["100ms"; 20].join(",");
    let env = [
        ("ALIPAY_GATEWAY_URL", gateway_url.as_str()),
        ("MPP_NOTIFY_RETRY_GAPS", gaps.as_str()),
        ("MPP_NOTIFY_TIMEOUT", "500ms"),
        ("MPP_NOTIFY_LEASE", "3s"),
        // Few workers, so the run lasts long enough for both kills to land mid-way.
        ("MPP_NOTIFY_CONCURRENCY", "4"),
    ];

    let (ids, bodies) = distinct_requests("FAULT", DECISIONS);
    let prefix = ids[0].rsplit_once('-').unwrap().0.to_owned();
    let mut server = Serve::start(&work, &db.url, &env).await;
    let answers = send_all(&server.peer(), &bodies, 16, |_| {}).await;
    assert!(answers.iter().all(|a| a.is_some()));
    approve_all(&db, &prefix);

    let delivered_count = || {
        count_like(
            &db,
            "SELECT count(*) FROM ops.notifications WHERE status = 'delivered' AND registration_request_id LIKE '{prefix}-%'",
            &prefix,
        )
    };
    let mut kills = 0;
    let started = Instant::now();
    while delivered_count() < DECISIONS as i64 {
        let delivered = delivered_count();
        if (kills == 0 && delivered >= 50) || (kills == 1 && delivered >= 120) {
            server.kill();
            kills += 1;
            server = Serve::start(&work, &db.url, &env).await;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{} of {DECISIONS} delivered after 120 s",
            delivered_count()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(kills, 2, "the run ended before both kills");
    let not_delivered = count_like(
        &db,
        "SELECT count(*) FROM ops.notifications WHERE status <> 'delivered' AND registration_request_id LIKE '{prefix}-%'",
        &prefix,
    );
    assert_eq!(not_delivered, 0);

    // What the stand-in saw: every decision answered S at least once.
    let received = gateway.received();
    let mut by_id: HashMap<&str, Vec<&str>> = HashMap::new();
    for r in &received {
        assert!(r.signature_valid);
        by_id
            .entry(r.registration_request_id.as_str())
            .or_default()
            .push(r.answer.as_str());
    }
    let mut duplicates = 0;
    for id in &ids {
        let answers = by_id
            .get(id.as_str())
            .unwrap_or_else(|| panic!("{id} never reached Alipay+"));
        let successes = answers
            .iter()
            .filter(|a| **a == "Success" || a.starts_with("Slow"))
            .count();
        assert!(successes >= 1, "{id}: {answers:?}");
        duplicates += successes - 1;
    }
    let attempts = count_like(
        &db,
        "SELECT count(*) FROM notification_attempts a JOIN notifications n ON n.id = a.notification_id WHERE n.registration_request_id LIKE '{prefix}-%'",
        &prefix,
    );
    let unknown = received.iter().filter(|r| r.answer == "Unknown").count();
    let slow = received
        .iter()
        .filter(|r| r.answer.starts_with("Slow"))
        .count();
    eprintln!(
        "notifier under faults: {DECISIONS} decisions all delivered in {:?} with the server killed twice; \
         the stand-in received {} notifications ({unknown} answered U, {slow} answered too late), \
         {attempts} attempts recorded; {duplicates} duplicate deliveries (an S the notifier did not see \
         in time, or an attempt cut by a kill)",
        started.elapsed(),
        received.len(),
    );
}

#[tokio::test]
async fn two_serve_processes_make_one_row_per_id_and_deliver_once() {
    const IDS: usize = 50;
    let db = TestDb::new();
    let work = Workdir::new("pair");
    let gateway = crate::stubs::gateway(Behaviour::default());
    let gateway_url = gateway.url();
    let env = [("ALIPAY_GATEWAY_URL", gateway_url.as_str())];
    let one = Serve::start(&work, &db.url, &env).await;
    let two = Serve::start(&work, &db.url, &env).await;
    let (one_peer, two_peer) = (one.peer(), two.peer());

    let (ids, bodies) = distinct_requests("PAIR", IDS);
    let prefix = ids[0].rsplit_once('-').unwrap().0.to_owned();
    for body in &bodies {
        // The same request to both processes at the same moment.
        let (a, b) = tokio::join!(
            one_peer.send(one_peer.call(paths::REGISTRATION, body.clone())),
            two_peer.send(two_peer.call(paths::REGISTRATION, body.clone())),
        );
        assert_eq!(a.code(), "REGISTRATION_IN_PROCESS");
        assert_eq!(a.body, b.body);
    }
    let rows = count_like(
        &db,
        "SELECT count(*) FROM ops.registrations WHERE registration_request_id LIKE '{prefix}-%'",
        &prefix,
    );
    assert_eq!(rows, IDS as i64);

    approve_all(&db, &prefix);
    let started = Instant::now();
    while gateway.received().len() < IDS {
        assert!(started.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Give a second delivery, if there were one, time to arrive.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let received = gateway.received();
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for r in &received {
        *per_id
            .entry(r.registration_request_id.as_str())
            .or_default() += 1;
    }
    assert_eq!(per_id.len(), IDS);
    assert!(
        per_id.values().all(|&n| n == 1),
        "each notification once: {per_id:?}"
    );
    eprintln!(
        "two serve processes: {IDS} ids each sent to both at once made {rows} rows; {} notifications, each delivered once",
        received.len()
    );
}

#[tokio::test]
async fn first_requests_with_one_id_at_once_across_two_processes_bind_once() {
    const COPIES: usize = 24;
    let db = TestDb::new();
    let work = Workdir::new("bind");
    let one = Serve::start(&work, &db.url, &[]).await;
    let two = Serve::start(&work, &db.url, &[]).await;
    let peers = [one.peer(), two.peer()];

    // Eight ids for one merchant, every id sent 24 times, all 192 requests
    // at once, alternating between the processes: the ids race each other
    // for the merchant's keys, and the copies of each id race for the id.
    let merchant = unique("M");
    let ids: Vec<String> = (0..8).map(|_| unique("BIND")).collect();
    let sends = ids.iter().flat_map(|id| {
        let body = serde_json::to_vec(&online_request(id, &merchant)).unwrap();
        (0..COPIES).map(move |copy| (id.clone(), copy, body.clone()))
    });
    let answers: Vec<(String, ApsResponse)> =
        futures_util::future::join_all(sends.map(|(id, copy, body)| {
            let peer = &peers[copy % 2];
            async move { (id, peer.send(peer.call(paths::REGISTRATION, body)).await) }
        }))
        .await;
    let mut per_id: BTreeMap<&str, Vec<&ApsResponse>> = BTreeMap::new();
    for (id, answer) in &answers {
        per_id.entry(id.as_str()).or_default().push(answer);
    }
    let mut accepted = 0;
    for (id, copies) in &per_id {
        assert_eq!(copies.len(), COPIES);
        assert!(
            copies.iter().all(|a| a.body == copies[0].body),
            "{id}: {:?}",
            copies.iter().map(|a| a.code()).collect::<Vec<_>>()
        );
        match copies[0].code().as_str() {
            "REGISTRATION_IN_PROCESS" => accepted += 1,
            "REGISTRATION_UNDER_REVIEW" => {}
            other => panic!("{id}: {other}"),
        }
    }
    assert_eq!(accepted, 1, "one request holds the merchant's keys");
    let mut conn = db.connect();
    assert_eq!(
        query_count(
            &mut conn,
            &format!(
                "SELECT count(*) FROM ops.requests WHERE reference_merchant_id = '{merchant}'"
            )
        ),
        8
    );
    assert_eq!(
        query_count(
            &mut conn,
            &format!(
                "SELECT sum(repeats) FROM ops.requests WHERE reference_merchant_id = '{merchant}'"
            )
        ),
        8 * (COPIES as i64 - 1)
    );
    assert_eq!(
        query_count(
            &mut conn,
            &format!(
                "SELECT count(*) FROM ops.registrations WHERE reference_merchant_id = '{merchant}'"
            )
        ),
        1
    );

    // A repeat with another body is answered as bound, and leaves a WARN line
    // that names the id and the differing fields, never their values.
    let id = &ids[0];
    let mut changed = online_request(id, &merchant);
    changed["merchantInfo"]["merchantMCC"] = serde_json::json!("5999");
    let answer = peers[0].register(&changed).await;
    assert_eq!(answer.body, per_id[id.as_str()][0].body);
    let log = std::fs::read_to_string(&one.log).unwrap();
    let warning = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["level"] == "WARN" && l["fields"]["registration_request_id"] == id.as_str())
        .unwrap_or_else(|| panic!("no WARN line for {id} in\n{log}"));
    assert_eq!(
        warning["fields"]["differing_fields"],
        "merchantInfo.merchantMCC"
    );
    assert!(!warning.to_string().contains("5999"), "{warning}");
    eprintln!(
        "one id, {COPIES} copies at once over two processes, eight ids racing for one merchant: 8 bindings, 1 registration"
    );
}
