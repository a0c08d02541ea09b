//! The schema: migrations that run up, down and up again, constraints that
//! hold even against hand-written SQL, and read-only ops views.

use diesel::connection::SimpleConnection as _;
use diesel_migrations::MigrationHarness as _;
use mpp_registrar::db::{MIGRATIONS, run_migrations};

use crate::helpers::*;

#[test]
fn migrations_run_up_down_and_up_again() {
    let db = TestDb::empty();
    let applied = run_migrations(&db.url).unwrap();
    assert!(!applied.is_empty());
    let mut conn = db.connect();
    conn.revert_all_migrations(MIGRATIONS).unwrap();
    assert_eq!(
        query_count(
            &mut conn,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'registrations'"
        ),
        0
    );
    assert_eq!(
        query_count(
            &mut conn,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'ops'"
        ),
        0
    );
    assert_eq!(run_migrations(&db.url).unwrap(), applied);
    assert!(
        run_migrations(&db.url).unwrap().is_empty(),
        "a second run applies nothing"
    );
}

#[test]
fn concurrent_migrators_serialise_on_the_advisory_lock() {
    let db = TestDb::empty();
    let url = db.url.clone();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || run_migrations(&url).map(|v| v.len()))
        })
        .collect();
    let applied: Vec<usize> = threads
        .into_iter()
        .map(|t| t.join().unwrap().unwrap())
        .collect();
    assert_eq!(applied.iter().filter(|n| **n > 0).count(), 1, "{applied:?}");
}

const INSERT: &str = "INSERT INTO registrations (registration_request_id, client_id, status, reference_merchant_id,
    product_codes, merchant_name, legal_name, merchant_mcc, raw_request, request_fingerprint, content_fingerprint,
    result_code, response_body) VALUES ";

fn row(id: &str, status: &str, codes: &str) -> String {
    format!(
        "{INSERT} ('{id}', 'C', '{status}', 'M-{id}', '{codes}', 'n', 'l', '5812', '{{}}', decode(repeat('00', 32), 'hex'),
          decode(repeat('00', 32), 'hex'), 'REGISTRATION_IN_PROCESS', '{{}}')"
    )
}

#[test]
fn constraints_refuse_impossible_rows() {
    let db = TestDb::new();
    let mut conn = db.connect();
    conn.batch_execute(&row("ok", "PENDING", "{CASHIER_PAYMENT}"))
        .unwrap();
    assert!(
        conn.batch_execute(&row("ok", "PENDING", "{CASHIER_PAYMENT}"))
            .is_err(),
        "request id is unique"
    );
    assert!(
        conn.batch_execute(&row("a", "WAITING", "{CASHIER_PAYMENT}"))
            .is_err(),
        "status is checked"
    );
    assert!(
        conn.batch_execute(&row("b", "PENDING", "{}")).is_err(),
        "products are not empty"
    );
    assert!(
        conn.batch_execute(&row("c", "PENDING", "{QR_PAY}"))
            .is_err(),
        "products are a closed list"
    );
}

#[test]
fn ops_views_are_read_only() {
    let db = TestDb::new();
    let mut conn = db.connect();
    conn.batch_execute(&row("x", "PENDING", "{CASHIER_PAYMENT}"))
        .unwrap();
    for sql in [
        "UPDATE ops.registrations SET status = 'APPROVED'",
        "UPDATE ops.registrations SET status = 'APPROVED' WHERE false",
        "DELETE FROM ops.registrations",
        "INSERT INTO ops.registrations (registration_request_id) VALUES ('y')",
    ] {
        let err = conn.batch_execute(sql).expect_err(sql).to_string();
        assert!(err.contains("read-only"), "{sql}: {err}");
    }
    assert_eq!(
        query_count(
            &mut conn,
            "SELECT count(*) FROM ops.registrations WHERE status = 'PENDING'"
        ),
        1
    );
}
