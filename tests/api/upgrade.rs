//! A database made by the previous version (its five migrations, and data as
//! its server wrote it) upgrades in place with `migrate` and keeps working.

use diesel::connection::SimpleConnection as _;
use diesel_migrations::MigrationHarness as _;
use mpp_registrar::db::{MIGRATIONS, run_migrations};
use mpp_registrar::protocol::canonical::fingerprint;
use mpp_registrar::protocol::paths;
use mpp_registrar::protocol::result::{ResultBody, ResultCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// Migrations of the previous version.
const PREVIOUS_MIGRATIONS: usize = 5;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A registration as the previous server stored it: one row holding the
/// request, its fingerprints and its answer.
fn legacy_row(body: &Value, status: &str, code: ResultCode) -> String {
    let products: Vec<&str> = body["productCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let store = body["storeInfo"]["referenceStoreId"]
        .as_str()
        .map(quote)
        .unwrap_or_else(|| "NULL".into());
    let answer = ResultBody::new(code, code.default_message()).to_bytes();
    format!(
        "INSERT INTO registrations (registration_request_id, client_id, status, reference_merchant_id,
             reference_store_id, product_codes, merchant_name, legal_name, merchant_mcc, region, raw_request,
             request_fingerprint, content_fingerprint, result_code, response_body, decided_at, decided_by)
         VALUES ({id}, '{CLIENT_ID}', '{status}', {merchant}, {store}, '{{{products}}}', 'Example', 'Example Ltd',
             '5812', 'HK', {raw}, decode('{fp}', 'hex'), decode(repeat('ab', 32), 'hex'), '{code}', {answer},
             {decided_at}, {decided_by});",
        id = quote(body["registrationRequestId"].as_str().unwrap()),
        merchant = quote(body["merchantInfo"]["referenceMerchantId"].as_str().unwrap()),
        products = products.join(","),
        raw = quote(&serde_json::to_string(body).unwrap()),
        fp = hex(&fingerprint(body)),
        code = code.as_str(),
        answer = quote(std::str::from_utf8(&answer).unwrap()),
        decided_at = if status == "PENDING" { "NULL" } else { "now()" },
        decided_by = if status == "PENDING" { "NULL" } else { "'auto'" },
    )
}

fn with_store(mut body: Value, store: &str) -> Value {
    body["storeInfo"] = json!({"referenceStoreId": store, "storeName": "Central"});
    body
}

#[tokio::test]
async fn a_database_of_the_previous_version_upgrades_in_place_and_keeps_working() {
    let db = TestDb::empty();
    let run = unique("UP");
    let id = |name: &str| format!("{run}-{name}");
    let pending = online_request(&id("pending"), "LM1");
    // The old rule keyed on merchant and store, so this one was admitted next
    // to `pending`; under registration keys the two share their keys.
    let pending_s1 = with_store(online_request(&id("pending-s1"), "LM1"), "S1");
    let approved = online_request(&id("approved"), "LM2");
    let rejected = instore_request(&id("rejected"), "LM3", "S1");
    let cancelled = online_request(&id("cancelled"), "LM4");
    let auto = online_request(&id("auto"), "LM5");
    {
        let mut conn = db.connect();
        for _ in 0..PREVIOUS_MIGRATIONS {
            conn.run_next_migration(MIGRATIONS).unwrap();
        }
        let in_process = ResultCode::RegistrationInProcess;
        let mut sql = String::new();
        for body in [&pending, &pending_s1, &approved, &rejected, &cancelled] {
            sql.push_str(&legacy_row(body, "PENDING", in_process));
        }
        sql.push_str(&legacy_row(&auto, "APPROVED", ResultCode::Success));
        sql.push_str(&format!(
            "UPDATE registrations SET status = 'APPROVED', decided_at = now(), decided_by = 'alice'
              WHERE registration_request_id = '{approved}';
             UPDATE registrations SET status = 'REJECTED', decided_at = now(), decided_by = 'alice', reason = 'no'
              WHERE registration_request_id = '{rejected}';
             UPDATE registrations SET status = 'CANCELLED', decided_at = now(), decided_by = 'alice'
              WHERE registration_request_id = '{cancelled}';
             INSERT INTO notifications (registration_id, registration_request_id, target, url, body)
             SELECT id, registration_request_id, 'alipay', '/aps/api/v1/merchants/notifyRegistrationStatus', '{{}}'
               FROM registrations WHERE registration_request_id = '{approved}';",
            approved = id("approved"),
            rejected = id("rejected"),
            cancelled = id("cancelled"),
        ));
        conn.batch_execute(&sql).unwrap();
    }
    let mut conn = db.connect();
    let audit_before = query_count(&mut conn, "SELECT count(*) FROM audit_log");

    let applied = run_migrations(&db.url).unwrap();
    assert!(!applied.is_empty(), "the new migrations ran");

    // Every accepted request is bound, with the answer it got.
    let bound = query_strings(
        &mut conn,
        "SELECT concat_ws('|', q.registration_request_id, q.result_code, q.repeats, r.status, r.admitted_before_key_rule)
           AS v FROM ops.requests q JOIN registrations r USING (registration_request_id) ORDER BY q.registration_request_id",
    );
    let expected: Vec<String> = [
        ("approved", "REGISTRATION_IN_PROCESS", "APPROVED", false),
        ("auto", "SUCCESS", "APPROVED", false),
        ("cancelled", "REGISTRATION_IN_PROCESS", "CANCELLED", false),
        ("pending", "REGISTRATION_IN_PROCESS", "PENDING", false),
        ("pending-s1", "REGISTRATION_IN_PROCESS", "PENDING", true),
        ("rejected", "REGISTRATION_IN_PROCESS", "REJECTED", false),
    ]
    .iter()
    .map(|(name, code, status, apart)| {
        format!(
            "{}|{code}|0|{status}|{}",
            id(name),
            if *apart { "t" } else { "f" }
        )
    })
    .collect();
    assert_eq!(bound, expected);
    assert_eq!(
        query_count(&mut conn, "SELECT count(*) FROM audit_log"),
        audit_before,
        "the audit trail is untouched"
    );
    assert_eq!(
        query_strings(
            &mut conn,
            "SELECT result_code AS v FROM ops.registrations WHERE status = 'CANCELLED'"
        ),
        ["REGISTRATION_IN_PROCESS"]
    );
    assert_eq!(
        query_count(&mut conn, "SELECT count(*) FROM ops.notifications"),
        1
    );

    // The upgraded database serves as if it had always been this version's.
    let app = spawn_app_with(db, |_| {}).await;
    let replay = app.register(&approved).await;
    assert_eq!(
        replay.body,
        ResultBody::new(
            ResultCode::RegistrationInProcess,
            ResultCode::RegistrationInProcess.default_message()
        )
        .to_bytes()
    );
    let mut changed = auto.clone();
    changed["merchantInfo"]["merchantMCC"] = json!("5999");
    assert_eq!(app.register(&changed).await.code(), "SUCCESS");
    assert_eq!(
        app.register(&online_request(&unique("REQ"), "LM2"))
            .await
            .code(),
        "REPEAT_REGISTRATION",
        "compared with the approved request as the old version stored it"
    );
    assert_eq!(
        app.register(&online_request(&unique("REQ"), "LM1"))
            .await
            .code(),
        "REGISTRATION_UNDER_REVIEW"
    );
    assert_eq!(
        app.register(&online_request(&unique("REQ"), "LM4"))
            .await
            .code(),
        "REGISTRATION_IN_PROCESS"
    );
    // Both registrations admitted under the old rule are decided as usual.
    decide_sql(&app.db, &id("pending"), "REJECTED", Some("duplicate"));
    assert_eq!(
        app.register(&online_request(&unique("REQ"), "LM1"))
            .await
            .code(),
        "REGISTRATION_UNDER_REVIEW",
        "the other one still holds the keys"
    );
    decide_sql(&app.db, &id("pending-s1"), "APPROVED", None);
    assert_eq!(
        app.register(&online_request(&unique("REQ"), "LM1"))
            .await
            .code(),
        "REPEAT_REGISTRATION"
    );
    let inquiry = app
        .send(app.call(
            paths::INQUIRY,
            serde_json::to_vec(&json!({"referenceMerchantId": "LM1"})).unwrap(),
        ))
        .await;
    let list = inquiry.json()["pspRegistrationResultList"].clone();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(
        list[0]["registrationResult"]["registrationStatus"],
        "APPROVED"
    );
}
