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

/// A registration (with its binding) as hand-written SQL would insert it.
fn registration(id: &str, merchant: &str, store: &str, status: &str, codes: &str) -> String {
    format!(
        "WITH bound AS (
           INSERT INTO requests (registration_request_id, client_id, reference_merchant_id, raw_request,
               request_fingerprint, result_code, response_body)
           VALUES ('{id}', 'C', '{merchant}', '{{}}', decode(repeat('00', 32), 'hex'), 'REGISTRATION_IN_PROCESS', '{{}}')
           RETURNING registration_request_id)
         INSERT INTO registrations (registration_request_id, client_id, status, reference_merchant_id,
             reference_store_id, product_codes, merchant_name, legal_name, merchant_mcc)
         SELECT registration_request_id, 'C', '{status}', '{merchant}', {store}, '{codes}', 'n', 'l', '5812' FROM bound"
    )
}

/// A registration of a merchant of its own.
fn row(id: &str, status: &str, codes: &str) -> String {
    registration(id, &format!("M-{id}"), "'S'", status, codes)
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
fn the_database_keeps_one_pending_registration_per_key() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let mut add = |id: &str, store: &str, codes: &str| {
        conn.batch_execute(&registration(id, "M", store, "PENDING", codes))
            .map_err(|e| e.to_string())
    };
    add("cashier", "'S1'", "{CASHIER_PAYMENT}").unwrap();
    // An online key is the merchant and product, whatever store the request names.
    let err = add(
        "cashier-again",
        "'S2'",
        "{CASHIER_PAYMENT,AGREEMENT_PAYMENT}",
    )
    .unwrap_err();
    assert!(err.contains("registrations_one_pending_cashier"), "{err}");
    let err = add("cashier-no-store", "NULL", "{CASHIER_PAYMENT}").unwrap_err();
    assert!(err.contains("registrations_one_pending_cashier"), "{err}");
    // Another product is another key.
    add("agreement", "NULL", "{AGREEMENT_PAYMENT}").unwrap();
    // An in-store key names its store.
    add("store-1", "'S1'", "{IN_STORE_PAYMENT}").unwrap();
    add("store-2", "'S2'", "{IN_STORE_PAYMENT}").unwrap();
    let err = add("store-1-again", "'S1'", "{IN_STORE_PAYMENT}").unwrap_err();
    assert!(err.contains("registrations_one_pending_in_store"), "{err}");
    let err = add("store-less", "NULL", "{IN_STORE_PAYMENT}").unwrap_err();
    assert!(err.contains("in_store_has_store"), "{err}");
    // Once decided, the key is free again.
    conn.batch_execute(
        "UPDATE registrations SET status = 'APPROVED', decided_at = now(), decided_by = 'sql'
          WHERE registration_request_id = 'cashier'",
    )
    .unwrap();
    conn.batch_execute(&registration(
        "cashier-update",
        "M",
        "NULL",
        "PENDING",
        "{CASHIER_PAYMENT}",
    ))
    .unwrap();
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
        "UPDATE ops.requests SET result_code = 'SUCCESS'",
        "DELETE FROM ops.requests",
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

fn decided(
    conn: &mut diesel::PgConnection,
    id: &str,
    status: &str,
    reason: &str,
) -> Result<(), String> {
    conn.batch_execute(&format!(
        "UPDATE registrations SET status = '{status}', decided_at = now(), decided_by = 'sql', reason = {reason}
          WHERE registration_request_id = '{id}'"
    ))
    .map_err(|e| e.to_string())
}

#[test]
fn the_database_refuses_illegal_transitions_even_from_hand_written_sql() {
    let db = TestDb::new();
    let mut conn = db.connect();
    conn.batch_execute(&row("a", "PENDING", "{CASHIER_PAYMENT}"))
        .unwrap();
    conn.batch_execute(&row("b", "PENDING", "{CASHIER_PAYMENT}"))
        .unwrap();

    // Decisions must carry their facts.
    assert!(
        conn.batch_execute(
            "UPDATE registrations SET status = 'APPROVED' WHERE registration_request_id = 'a'"
        )
        .is_err()
    );
    assert!(
        decided(&mut conn, "a", "REJECTED", "NULL").is_err(),
        "a rejection needs a reason"
    );
    assert!(
        decided(&mut conn, "a", "REJECTED", "'   '").is_err(),
        "a blank reason is no reason"
    );
    decided(&mut conn, "a", "APPROVED", "NULL").unwrap();

    // Final states stay final.
    for (status, reason) in [
        ("REJECTED", "'x'"),
        ("CANCELLED", "NULL"),
        ("APPROVED", "NULL"),
    ] {
        let err = decided(&mut conn, "a", status, reason).unwrap_err();
        assert!(
            err.contains("illegal transition") || err.contains("violates"),
            "{err}"
        );
    }
    let err = conn
        .batch_execute("UPDATE registrations SET status = 'PENDING', decided_at = NULL, decided_by = NULL WHERE registration_request_id = 'a'")
        .unwrap_err()
        .to_string();
    assert!(err.contains("illegal transition"), "{err}");
    // The request and its answer never change; registrations and bindings are never deleted.
    for sql in [
        "UPDATE requests SET raw_request = '{}x' WHERE registration_request_id = 'b'",
        "UPDATE requests SET result_code = 'SUCCESS' WHERE registration_request_id = 'b'",
        "UPDATE registrations SET merchant_mcc = '5999' WHERE registration_request_id = 'b'",
        "UPDATE registrations SET product_codes = '{AGREEMENT_PAYMENT}' WHERE registration_request_id = 'b'",
        "DELETE FROM registrations WHERE registration_request_id = 'b'",
        "DELETE FROM requests WHERE registration_request_id = 'b'",
        // Not even a write that changes nothing passes on a binding.
        "UPDATE requests SET raw_request = raw_request WHERE registration_request_id = 'b'",
    ] {
        assert!(conn.batch_execute(sql).is_err(), "{sql}");
    }

    let trail = query_strings(
        &mut conn,
        "SELECT concat_ws('|', registration_request_id, actor, action, from_status, to_status) AS v FROM ops.audit_log ORDER BY at",
    );
    assert_eq!(
        trail,
        [
            "a|alipay+|registration.received|PENDING",
            "b|alipay+|registration.received|PENDING",
            "a|sql|registration.approved|PENDING|APPROVED",
        ]
    );
}

#[test]
fn the_audit_log_is_append_only() {
    let db = TestDb::new();
    let mut conn = db.connect();
    conn.batch_execute(&row("a", "PENDING", "{CASHIER_PAYMENT}"))
        .unwrap();
    for sql in [
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let err = conn.batch_execute(sql).expect_err(sql).to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    for sql in [
        "DELETE FROM ops.audit_log",
        "UPDATE ops.pending_reviews SET status = 'APPROVED'",
    ] {
        assert!(conn.batch_execute(sql).is_err(), "{sql}");
    }
    assert_eq!(query_count(&mut conn, "SELECT count(*) FROM audit_log"), 1);
}

#[test]
fn pending_reviews_shows_what_waits_and_for_how_long() {
    let db = TestDb::new();
    let mut conn = db.connect();
    conn.batch_execute(&row("old", "PENDING", "{CASHIER_PAYMENT}"))
        .unwrap();
    conn.batch_execute(&row("done", "PENDING", "{CASHIER_PAYMENT}"))
        .unwrap();
    decided(&mut conn, "done", "CANCELLED", "NULL").unwrap();
    let waiting = query_strings(
        &mut conn,
        "SELECT registration_request_id || '|' || (waiting >= interval '0') AS v FROM ops.pending_reviews",
    );
    assert_eq!(waiting, ["old|true"]);
}

/// Every SQL example in README.md runs against a database with data in it.
#[test]
fn readme_sql_examples_run() {
    let db = TestDb::new();
    let mut conn = db.connect();
    conn.batch_execute(&row("a", "PENDING", "{CASHIER_PAYMENT}"))
        .unwrap();
    conn.batch_execute(&row("b", "PENDING", "{IN_STORE_PAYMENT}"))
        .unwrap();
    decided(&mut conn, "b", "REJECTED", "'incomplete'").unwrap();
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let blocks: Vec<&str> = readme
        .split("```sql")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .collect();
    assert!(blocks.len() >= 2, "README has SQL examples");
    let mut ran = 0;
    for block in blocks {
        // Statements that need a role or another database are shown, not run here.
        if block.contains("CREATE ROLE") || block.contains("GRANT") {
            continue;
        }
        for statement in block.split(';').map(str::trim).filter(|s| {
            !s.lines()
                .all(|l| l.trim().is_empty() || l.trim().starts_with("--"))
        }) {
            conn.batch_execute(statement)
                .unwrap_or_else(|e| panic!("README example failed: {statement}\n{e}"));
            ran += 1;
        }
    }
    assert!(ran >= 3, "{ran} statements");
}

/// The README's read-only role can read every ops view and nothing else.
#[test]
fn the_readme_ops_role_reads_ops_and_nothing_else() {
    let db = TestDb::new();
    let mut conn = db.connect();
    conn.batch_execute(&row("a", "PENDING", "{CASHIER_PAYMENT}"))
        .unwrap();
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let recipe = readme
        .split("```sql")
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains("CREATE ROLE mpp_ops"))
        .expect("the recipe");
    let role = format!("mpp_ops_{}", uuid::Uuid::new_v4().simple());
    conn.batch_execute(&recipe.replace("mpp_ops", &role))
        .unwrap();
    conn.batch_execute(&format!("SET ROLE {role}")).unwrap();
    for view in [
        "ops.registrations",
        "ops.requests",
        "ops.pending_reviews",
        "ops.notifications",
        "ops.audit_log",
    ] {
        conn.batch_execute(&format!("SELECT * FROM {view}"))
            .unwrap_or_else(|e| panic!("{view}: {e}"));
    }
    for sql in [
        "SELECT * FROM public.registrations",
        "SELECT * FROM public.requests",
        "SELECT * FROM public.request_repeats",
        "SELECT * FROM public.users",
        "SELECT * FROM public.sessions",
        "UPDATE ops.registrations SET status = 'APPROVED'",
        "CREATE TABLE ops.mine (x int)",
    ] {
        assert!(conn.batch_execute(sql).is_err(), "{sql} should be refused");
    }
    conn.batch_execute("RESET ROLE").unwrap();
    conn.batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}"))
        .unwrap();
}

#[test]
fn status_counters_follow_inserts_and_decisions() {
    let db = TestDb::new();
    let mut conn = db.connect();
    for id in ["a", "b", "c"] {
        conn.batch_execute(&row(id, "PENDING", "{CASHIER_PAYMENT}"))
            .unwrap();
    }
    decided(&mut conn, "b", "APPROVED", "NULL").unwrap();
    decided(&mut conn, "c", "REJECTED", "'no'").unwrap();
    let counted = query_strings(
        &mut conn,
        "SELECT string_agg(status || '=' || n, ',' ORDER BY status) AS v FROM (SELECT status, sum(n) AS n FROM registration_counts GROUP BY status) x",
    );
    let actual = query_strings(
        &mut conn,
        "SELECT string_agg(status || '=' || n, ',' ORDER BY status) AS v FROM (SELECT s AS status, (SELECT count(*) FROM registrations WHERE status = s) AS n FROM unnest(ARRAY['APPROVED','CANCELLED','PENDING','REJECTED']) s) x",
    );
    assert_eq!(counted, actual);
    assert_eq!(counted, ["APPROVED=1,CANCELLED=0,PENDING=1,REJECTED=1"]);
}

/// The server works as `mpp_app`: the guards bind it, and it can neither
/// rewrite history nor step around the guards, run programs or make roles.
#[test]
fn the_application_role_cannot_step_around_the_guards() {
    let db = TestDb::new();
    let mut conn = db.connect();
    conn.batch_execute(&row("a", "PENDING", "{CASHIER_PAYMENT}"))
        .unwrap();
    decided(&mut conn, "a", "APPROVED", "NULL").unwrap();
    conn.batch_execute("SET ROLE mpp_app").unwrap();
    let refused = [
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "UPDATE registrations SET status = 'REJECTED', reason = 'x' WHERE registration_request_id = 'a'",
        "UPDATE registrations SET merchant_mcc = '5999'",
        "UPDATE requests SET response_body = '{}'",
        "DELETE FROM registrations",
        "ALTER TABLE registrations DISABLE TRIGGER ALL",
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
        "SET session_replication_role = replica",
        "COPY (SELECT 1) TO PROGRAM 'true'",
        "CREATE ROLE intruder SUPERUSER",
        "CREATE TABLE mine (x int)",
        "DROP TABLE audit_log",
        "SELECT pg_read_file('/etc/passwd')",
    ];
    for sql in refused {
        assert!(conn.batch_execute(sql).is_err(), "{sql} should be refused");
    }
    // What the server does is allowed.
    conn.batch_execute(&row("b", "PENDING", "{CASHIER_PAYMENT}"))
        .unwrap();
    decided(&mut conn, "b", "REJECTED", "'incomplete'").unwrap();
    conn.batch_execute("RESET ROLE").unwrap();
    let role = query_strings(
        &mut conn,
        "SELECT concat_ws('|', rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolcanlogin) AS v
           FROM pg_roles WHERE rolname = 'mpp_app'",
    );
    assert_eq!(role, ["f|f|f|f|f"]);
    assert_eq!(
        query_count(
            &mut conn,
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = 'mpp_app'"
        ),
        0,
        "it owns nothing"
    );
}
