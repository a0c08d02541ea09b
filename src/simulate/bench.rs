//! Benchmark helpers that work on the database directly: a data generator
//! for scale figures, and the notification latency and backlog-drain runs.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use diesel::connection::SimpleConnection as _;
use diesel::{Connection as _, PgConnection, RunQueryDsl as _};

use crate::domain::notification::NotifyPolicy;
use crate::domain::review::Decision;

/// Fills the database with `total` realistic registrations in batches:
/// 5 % PENDING, 80 % APPROVED, 10 % REJECTED, 5 % CANCELLED; decided ones
/// with a delivered Alipay+ notification and its attempt; a `received` audit
/// row for each and a decision row for each decided one. Returns how long it
/// took.
///
/// Each batch is one set-based statement with the row triggers switched off
/// for its transaction (`session_replication_role`, so a superuser
/// connection): it writes the audit rows and status counters the triggers
/// would have written, in bulk instead of one trigger call per row.
pub fn fill(database_url: &str, total: u64) -> anyhow::Result<Duration> {
    let mut conn = PgConnection::establish(database_url).context("cannot connect")?;
    let started = Instant::now();
    let base: i64 = diesel::sql_query("SELECT coalesce(max(id), 0) AS n FROM registrations")
        .get_result::<Count>(&mut conn)?
        .n;
    let batch = 50_000u64;
    let mut done = 0u64;
    while done < total {
        let (from, to) = (
            base as u64 + done + 1,
            base as u64 + (done + batch).min(total),
        );
        conn.batch_execute(&format!(
            "BEGIN;
             SET LOCAL synchronous_commit = off;
             SET LOCAL session_replication_role = replica;
             WITH src AS (
               SELECT g, s.status, 'FILL-' || g AS request_id, 'FM-' || g AS merchant_id,
                   CASE WHEN g % 3 = 2 THEN 'S' || g END AS store_id,
                   now() - make_interval(secs => ({last} - g)) AS received_at,
                   (ARRAY['Dragon','Golden','Harbour','Lotus','Jade','Pearl','Orchid','Summit','金龍','Sakura'])[1 + g % 10]
                     || ' ' || (ARRAY['Kitchen','Trading','Tea House','Electronics','Books','Pharmacy','Garage'])[1 + (g / 10) % 7]
                     || ' ' || g AS name
                 FROM generate_series({from}, {to}) g,
                      LATERAL (SELECT CASE WHEN g % 20 = 0 THEN 'PENDING' WHEN g % 20 < 17 THEN 'APPROVED'
                                           WHEN g % 20 < 19 THEN 'REJECTED' ELSE 'CANCELLED' END AS status) s
             ), bound AS (
               INSERT INTO requests (registration_request_id, client_id, reference_merchant_id, reference_store_id,
                   raw_request, request_fingerprint, result_code, response_body, received_at)
               SELECT request_id, 'CLIENT', merchant_id, store_id,
                   json_build_object('registrationRequestId', request_id, 'productCodes', json_build_array('CASHIER_PAYMENT'),
                       'merchantInfo', json_build_object('referenceMerchantId', merchant_id, 'merchantDisplayName', name,
                           'merchantMCC', '5812', 'websites', json_build_array(json_build_object('url', 'https://shop' || g || '.example')),
                           'registrationDetail', json_build_object('legalName', name || ' Limited',
                           'registrationType', 'ENTERPRISE_REGISTRATION_NO', 'registrationNo', (10000000 + g)::text,
                           'registrationAddress', json_build_object('region', 'HK'), 'businessType', 'ENTERPRISE')))::text,
                   sha256(('r' || g)::bytea), 'REGISTRATION_IN_PROCESS',
                   '{{\"result\":{{\"resultCode\":\"REGISTRATION_IN_PROCESS\",\"resultStatus\":\"U\",\"resultMessage\":\"Registration received; review in progress.\"}}}}',
                   received_at
                 FROM src
             ), reg AS (
               INSERT INTO registrations (registration_request_id, client_id, status, reference_merchant_id, reference_store_id,
                   product_codes, merchant_name, legal_name, merchant_mcc, region, review_flags, received_at,
                   decided_at, decided_by, reason, reject_code, search_text, is_update)
               SELECT request_id, 'CLIENT', status, merchant_id, store_id,
                   CASE g % 3 WHEN 0 THEN '{{CASHIER_PAYMENT}}'::text[] WHEN 1 THEN '{{CASHIER_PAYMENT,AGREEMENT_PAYMENT}}' ELSE '{{IN_STORE_PAYMENT}}' END,
                   name, name || ' Limited', (ARRAY['5812','5411','5999','7011'])[1 + g % 4],
                   (ARRAY['HK','SG','MY','TH'])[1 + g % 4], '{{}}', received_at,
                   CASE WHEN status <> 'PENDING' THEN now() - make_interval(secs => ({last} - g) / 2.0) END,
                   CASE WHEN status <> 'PENDING' THEN 'reviewer' || g % 7 END,
                   CASE WHEN status = 'REJECTED' THEN 'The registration number could not be verified.' END,
                   CASE WHEN status = 'REJECTED' THEN 'MISSING_OR_INCORRECT_INFO' END,
                   lower(concat_ws(E'\n', request_id, merchant_id, store_id, name, name || ' Limited', (10000000 + g)::text,
                             'https://shop' || g || '.example')),
                   g % 5 = 0
                 FROM src
               RETURNING id, registration_request_id, status, received_at, decided_at, decided_by, reason, reject_code
             ), notified AS (
               INSERT INTO notifications (registration_id, registration_request_id, target, url, body, status, attempts,
                   round_attempts, next_attempt_at, last_result_code, last_http_status, created_at, delivered_at)
               SELECT id, registration_request_id, 'alipay', '/aps/api/v1/merchants/notifyRegistrationStatus',
                   '{{}}', 'delivered', 1, 1, decided_at, 'SUCCESS', 200, decided_at, decided_at
                 FROM reg WHERE status <> 'PENDING'
               RETURNING id, created_at
             ), attempted AS (
               INSERT INTO notification_attempts (notification_id, attempt, started_at, duration_ms, http_status, result_code, outcome)
               SELECT id, 1, created_at, 12, 200, 'SUCCESS', 'delivered' FROM notified
             ), audited AS (
               INSERT INTO audit_log (at, actor, action, registration_request_id, from_status, to_status, detail)
               SELECT received_at, 'alipay+', 'registration.received', registration_request_id, NULL, 'PENDING', NULL FROM reg
               UNION ALL
               SELECT decided_at, decided_by, 'registration.' || lower(status), registration_request_id, 'PENDING', status,
                   nullif(concat_ws(': ', reject_code, reason), '')
                 FROM reg WHERE status <> 'PENDING'
             ), counted AS (
               UPDATE registration_counts c SET n = c.n + x.n
                 FROM (SELECT status, (id % 64)::integer AS slot, count(*) AS n FROM reg GROUP BY 1, 2) x
                WHERE c.status = x.status AND c.slot = x.slot
             )
             SELECT count(*) FROM reg;
             COMMIT;",
            last = base as u64 + total,
        ))?;
        done = to - base as u64;
        eprintln!(
            "filled {done} of {total} ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
    }
    conn.batch_execute("ANALYZE requests; ANALYZE registrations; ANALYZE notifications; ANALYZE audit_log; ANALYZE notification_attempts")?;
    Ok(started.elapsed())
}

/// `count` online registrations `{prefix}-1`... with their bindings, in
/// `status` (decided by `bench` when not PENDING), for the notifier runs.
fn insert_bench_registrations(
    conn: &mut PgConnection,
    prefix: &str,
    count: u64,
    status: &str,
) -> anyhow::Result<()> {
    conn.batch_execute(&format!(
        "WITH bound AS (
           INSERT INTO requests (registration_request_id, client_id, reference_merchant_id, raw_request,
               request_fingerprint, result_code, response_body)
           SELECT '{prefix}-' || g, 'CLIENT', '{prefix}-M' || g, '{{}}', sha256(('{prefix}' || g)::bytea),
               'REGISTRATION_IN_PROCESS', '{{}}'
             FROM generate_series(1, {count}) g
           RETURNING registration_request_id, reference_merchant_id
         )
         INSERT INTO registrations (registration_request_id, client_id, status, reference_merchant_id, product_codes,
             merchant_name, legal_name, merchant_mcc, decided_at, decided_by)
         SELECT registration_request_id, 'CLIENT', '{status}', reference_merchant_id, '{{CASHIER_PAYMENT}}',
             'Shop', 'Shop Ltd', '5812',
             CASE WHEN '{status}' <> 'PENDING' THEN now() END, CASE WHEN '{status}' <> 'PENDING' THEN 'bench' END
           FROM bound"
    ))?;
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[derive(diesel::QueryableByName)]
struct Latency {
    #[diesel(sql_type = diesel::sql_types::Double)]
    ms: f64,
}

/// Decides `count` fresh PENDING registrations one by one, `pause` apart,
/// through the same guarded transaction the admin pages use, and returns the
/// delays (ms) between each decision and its first notification attempt.
pub fn decision_latency(
    database_url: &str,
    count: usize,
    pause: Duration,
    wait: Duration,
) -> anyhow::Result<Vec<f64>> {
    let mut conn = PgConnection::establish(database_url).context("cannot connect")?;
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    insert_bench_registrations(&mut conn, &format!("LAT-{run}"), count as u64, "PENDING")?;
    let ids: Vec<i64> = diesel::sql_query(format!("SELECT id AS n FROM registrations WHERE registration_request_id LIKE 'LAT-{run}-%' ORDER BY id"))
        .load::<Count>(&mut conn)?
        .into_iter()
        .map(|c| c.n)
        .collect();
    let policy = NotifyPolicy::default();
    for id in ids {
        crate::workflow::decision::decide(&mut conn, id, &Decision::Approve, "bench", &policy)?;
        std::thread::sleep(pause);
    }
    let deadline = Instant::now() + wait;
    loop {
        let pending: i64 = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM notifications WHERE registration_request_id LIKE 'LAT-{run}-%' AND status <> 'delivered'"
        ))
        .get_result::<Count>(&mut conn)?
        .n;
        if pending == 0 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut delays: Vec<f64> = diesel::sql_query(format!(
        "SELECT (extract(epoch FROM (a.started_at - r.decided_at)) * 1000.0)::float8 AS ms
           FROM registrations r JOIN notifications n ON n.registration_id = r.id
           JOIN notification_attempts a ON a.notification_id = n.id AND a.attempt = 1
          WHERE r.registration_request_id LIKE 'LAT-{run}-%'"
    ))
    .load::<Latency>(&mut conn)?
    .into_iter()
    .map(|l| l.ms)
    .collect();
    delays.sort_by(f64::total_cmp);
    Ok(delays)
}

/// Queues `count` due Alipay+ notifications in one transaction and returns
/// how long the server's workers took to deliver them all.
pub fn drain(database_url: &str, count: u64, wait: Duration) -> anyhow::Result<Duration> {
    let mut conn = PgConnection::establish(database_url).context("cannot connect")?;
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    insert_bench_registrations(&mut conn, &format!("DRN-{run}"), count, "APPROVED")?;
    let first: i64 = diesel::sql_query(format!(
        "SELECT min(id) AS n FROM registrations WHERE registration_request_id = 'DRN-{run}-1'"
    ))
    .get_result::<Count>(&mut conn)?
    .n;
    let started = Instant::now();
    conn.batch_execute(&format!(
        "INSERT INTO notifications (registration_id, registration_request_id, target, url, body)
         SELECT id, registration_request_id, 'alipay', '/aps/api/v1/merchants/notifyRegistrationStatus',
             json_build_object('referenceMerchantId', reference_merchant_id, 'registrationRequestId', registration_request_id,
                 'registrationResult', json_build_object('registrationStatus', 'APPROVED'))::text
           FROM registrations WHERE registration_request_id LIKE 'DRN-{run}-%'"
    ))?;
    let deadline = Instant::now() + wait;
    loop {
        let left: i64 = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM notifications WHERE registration_id >= {first} AND status = 'pending'"
        ))
        .get_result::<Count>(&mut conn)?
        .n;
        if left == 0 {
            return Ok(started.elapsed());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{left} notifications still pending after {wait:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
