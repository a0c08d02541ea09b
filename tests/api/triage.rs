//! Triage rules and screening lists: decisions at intake by rule, lists
//! loaded by the operator command, hits, dismissals, `rules test` over
//! history, and the rules file read again on SIGHUP.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::*;
use crate::processes::{Serve, Workdir};

const BIN: &str = env!("CARGO_BIN_EXE_mpp-registrar");

const RULES: &str = r#"
# Approve plain online restaurants in Hong Kong.
[[rule]]
id = "approve-low-risk"
when = { products_any = ["CASHIER_PAYMENT"], mcc_in = ["5811-5814"], region_in = ["HK"], kind = "new", flags = "none" }
then = "approve"

[[rule]]
id = "no-gambling"
when = { mcc_in = ["7995"] }
then = { reject = { category = "REJECT_FOR_RISK", reason = "Gambling merchants are not accepted." } }

[[rule]]
id = "new-registration-number"
when = { kind = "update", changed_only = ["merchantInfo.registrationDetail.registrationNo"] }
then = "four_eyes"

[[example]]
name = "a plain restaurant"
set = {}
expect = "approve"
"#;

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, file: &str, text: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

/// The binary against a test database, with a clean environment.
fn run(db: &TestDb, args: &[&str]) -> Output {
    Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &db.url)
        .args(args)
        .output()
        .unwrap()
}

/// `lists load` of `file` as list `name` of `kind`, with `extra` arguments.
fn load_list(db: &TestDb, name: &str, kind: &str, file: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["lists", "load", "--name", name, "--kind", kind, "--file"];
    args.push(file.to_str().unwrap());
    args.extend_from_slice(extra);
    run(db, &args)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn with_mcc(request_id: &str, merchant_id: &str, mcc: &str) -> Value {
    let mut body = online_request(request_id, merchant_id);
    body["merchantInfo"]["merchantMCC"] = Value::from(mcc);
    body
}

/// The online sample under its legal name only (its display name is
/// another), so one names entry hits one field.
fn tea_house(request_id: &str, merchant_id: &str) -> Value {
    let mut body = online_request(request_id, merchant_id);
    body["merchantInfo"]["merchantDisplayName"] = Value::from("Corner Cafe");
    body
}

fn one(db: &TestDb, sql: &str) -> String {
    query_strings(&mut db.connect(), sql)
        .into_iter()
        .next()
        .unwrap_or_default()
}

fn registration_id(db: &TestDb, request_id: &str) -> i64 {
    one(
        db,
        &format!(
            "SELECT id::text AS v FROM registrations WHERE registration_request_id = '{request_id}'"
        ),
    )
    .parse()
    .unwrap()
}

#[tokio::test]
async fn rules_approve_and_reject_at_intake_stamped_with_their_version() {
    let dir = scratch("rules");
    let file = write(&dir, "rules.toml", RULES);
    let version = mpp_registrar::workflow::triage::load_rules(&file)
        .unwrap()
        .version;
    let rules_file = file.clone();
    let app = spawn_app_with(TestDb::new(), move |s| s.rules_file = Some(rules_file)).await;

    // Approved by rule: SUCCESS, as auto mode answers.
    let approved = app
        .register(&online_request("T-APPROVE", "M-APPROVE"))
        .await;
    assert_eq!(approved.code(), "SUCCESS");
    assert_eq!(
        one(
            &app.db,
            "SELECT concat_ws(' ', status, decided_by, triage_rule, triage_action, rules_version) AS v FROM registrations WHERE registration_request_id = 'T-APPROVE'"
        ),
        format!("APPROVED rule:approve-low-risk approve-low-risk approve {version}")
    );
    let trail = query_strings(
        &mut app.db.connect(),
        "SELECT concat_ws(' | ', actor, action, to_status, detail) AS v FROM audit_log WHERE registration_request_id = 'T-APPROVE' ORDER BY id",
    );
    assert_eq!(
        trail,
        [
            "alipay+ | registration.received | APPROVED | rule approve-low-risk: approve"
                .to_owned(),
            format!(
                "rule:approve-low-risk | registration.approved | APPROVED |  (rules version {version})"
            ),
        ]
    );

    // Rejected by rule: REGISTRATION_IN_PROCESS now, the rejection notified at once.
    let rejected = app
        .register(&with_mcc("T-REJECT", "M-REJECT", "7995"))
        .await;
    assert_eq!(rejected.code(), "REGISTRATION_IN_PROCESS");
    assert_eq!(
        one(
            &app.db,
            "SELECT concat_ws(' ', status, decided_by, reject_code) AS v FROM registrations WHERE registration_request_id = 'T-REJECT'"
        ),
        "REJECTED rule:no-gambling REJECT_FOR_RISK"
    );
    let body = one(
        &app.db,
        "SELECT n.body AS v FROM notifications n JOIN registrations r ON r.id = n.registration_id
          WHERE r.registration_request_id = 'T-REJECT' AND n.target = 'alipay'",
    );
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body["registrationResult"]["registrationStatus"], "REJECTED",
        "{body}"
    );
    assert_eq!(
        body["registrationResult"]["rejectionReason"],
        "Gambling merchants are not accepted."
    );

    // No rule decides: a person reviews; the version is still stamped.
    let reviewed = app
        .register(&with_mcc("T-REVIEW", "M-REVIEW", "5999"))
        .await;
    assert_eq!(reviewed.code(), "REGISTRATION_IN_PROCESS");
    assert_eq!(
        one(
            &app.db,
            "SELECT concat_ws(' ', status, rules_version) AS v FROM registrations WHERE registration_request_id = 'T-REVIEW'"
        ),
        format!("PENDING {version}")
    );
    // A repeat is answered as bound and decides nothing again.
    let again = app
        .register(&online_request("T-APPROVE", "M-APPROVE"))
        .await;
    assert_eq!(again.code(), "SUCCESS");

    let metrics = app.get("/metrics").await.text().await.unwrap();
    for line in [
        "mpp_rule_decisions_total{rule=\"approve-low-risk\",action=\"approve\"} 1",
        "mpp_rule_decisions_total{rule=\"no-gambling\",action=\"reject\"} 1",
    ] {
        assert!(metrics.contains(line), "missing {line}:\n{metrics}");
    }

    // The detail page says which rule and version; /admin/rules counts them.
    let (client, _) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    let id = registration_id(&app.db, "T-APPROVE");
    let page = client.get(&format!("/admin/registrations/{id}")).await;
    let said = format!(
        "Approved by rule approve-low-risk, rules version {}…",
        &version[..12]
    );
    assert!(page.html.contains(&said), "missing {said}:\n{}", page.html);
    let rules = client.get("/admin/rules").await;
    assert_eq!(rules.status, 200);
    for text in [
        version.as_str(),
        "<tr id=\"rule-approve-low-risk\"><td>approve-low-risk</td>",
        "<td>approve 1</td><td>approve 1</td>",
        "<td>reject 1</td><td>reject 1</td>",
        "No screening lists loaded.",
    ] {
        assert!(rules.html.contains(text), "missing {text}:\n{}", rules.html);
    }
    app.stop().await;
}

#[tokio::test]
async fn a_four_eyes_rule_sends_an_update_to_two_reviewers() {
    let dir = scratch("rules");
    let file = write(&dir, "rules.toml", RULES);
    let app = spawn_app_with(TestDb::new(), move |s| s.rules_file = Some(file)).await;
    assert_eq!(
        app.register(&with_mcc("T-1", "M-4E", "5999")).await.code(),
        "REGISTRATION_IN_PROCESS"
    );
    decide_sql(&app.db, "T-1", "APPROVED", None);
    let mut update = with_mcc("T-2", "M-4E", "5999");
    update["merchantInfo"]["registrationDetail"]["registrationNo"] = Value::from("87654321");
    assert_eq!(
        app.register(&update).await.code(),
        "REGISTRATION_IN_PROCESS"
    );
    assert_eq!(
        one(
            &app.db,
            "SELECT concat_ws(' ', status, triage_action, array_to_string(review_flags, ',')) AS v FROM registrations WHERE registration_request_id = 'T-2'"
        ),
        "PENDING four_eyes four_eyes: rule new-registration-number"
    );
    // The first reviewer's approval is only a proposal.
    let (client, csrf) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    let id = registration_id(&app.db, "T-2");
    let done = client
        .post(
            &format!("/admin/registrations/{id}/decision"),
            &[("csrf", &csrf), ("decision", "approve"), ("confirm", "1")],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.html);
    assert_eq!(
        one(
            &app.db,
            &format!(
                "SELECT concat_ws(' ', r.status, p.proposed_by) AS v FROM registrations r JOIN review_proposals p ON p.registration_id = r.id WHERE r.id = {id}"
            )
        ),
        "PENDING alice"
    );
    app.stop().await;
}

#[tokio::test]
async fn listed_parties_are_flagged_never_approved_by_rule_and_dismissals_hold_until_the_entry_changes()
 {
    let dir = scratch("lists");
    let rules = write(&dir, "rules.toml", RULES);
    let app = spawn_app_with(TestDb::new(), move |s| s.rules_file = Some(rules)).await;

    // Case, punctuation and legal form do not matter.
    let names = write(
        &dir,
        "sanctions.txt",
        "# sanctioned parties\nEXAMPLE TEA-HOUSE Co., Ltd.\nSomeone Else\n",
    );
    let out = load_list(&app.db, "sanctions", "names", &names, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).contains("list sanctions (names) version 1: 2 entries"),
        "{}",
        stdout(&out)
    );
    let shown = stdout(&run(&app.db, &["lists", "show"]));
    assert!(
        shown.contains("sanctions") && shown.contains("names"),
        "{shown}"
    );

    // The approving rule matches, but a listed party goes to a person.
    let hit = app.register(&tea_house("T-HIT", "M-HIT")).await;
    assert_eq!(hit.code(), "REGISTRATION_IN_PROCESS");
    assert_eq!(
        one(
            &app.db,
            "SELECT concat_ws(' ', status, array_to_string(review_flags, ',')) AS v FROM registrations WHERE registration_request_id = 'T-HIT'"
        ),
        "PENDING list_hit: sanctions"
    );
    assert_eq!(
        one(
            &app.db,
            "SELECT concat_ws(' | ', list, version, entry, field, score) AS v FROM ops.list_hits WHERE registration_request_id = 'T-HIT'"
        ),
        "sanctions | 1 | EXAMPLE TEA-HOUSE Co., Ltd. | merchantInfo.registrationDetail.legalName | 1"
    );

    // A reviewer marks it not a match, with a note (audited).
    let (client, csrf) = AdminClient::signed_in(&app, "alice", "reviewer").await;
    let id = registration_id(&app.db, "T-HIT");
    let page = client.get(&format!("/admin/registrations/{id}")).await;
    assert!(page.html.contains("Screening list hits"), "{}", page.html);
    let hit_id = one(
        &app.db,
        &format!("SELECT id::text AS v FROM list_hits WHERE registration_id = {id}"),
    );
    let path = format!("/admin/registrations/{id}/hits/{hit_id}/dismiss");
    let refused = client
        .post(&path, &[("csrf", "forged"), ("note", "x")])
        .await;
    assert_eq!(refused.status, 403);
    let done = client
        .post(
            &path,
            &[
                ("csrf", &csrf),
                (
                    "note",
                    "Different company: registered 2019, other directors.",
                ),
            ],
        )
        .await;
    assert_eq!(done.status, 303);
    assert_eq!(
        one(
            &app.db,
            "SELECT concat_ws(' ', dismissed_by, array_to_string(r.review_flags, ',')) AS v FROM ops.list_hits h JOIN registrations r USING (registration_request_id) WHERE h.registration_request_id = 'T-HIT'"
        ),
        "alice "
    );
    assert_eq!(
        one(
            &app.db,
            "SELECT count(*)::text AS v FROM audit_log WHERE action = 'list_hit.dismissed' AND actor = 'alice'"
        ),
        "1"
    );

    // The same merchant data against the same entry is not raised again.
    decide_sql(&app.db, "T-HIT", "CANCELLED", None);
    let again = app.register(&tea_house("T-AGAIN", "M-HIT")).await;
    assert_eq!(again.code(), "SUCCESS");
    // Another merchant with that name is.
    let other = app.register(&tea_house("T-OTHER", "M-OTHER")).await;
    assert_eq!(other.code(), "REGISTRATION_IN_PROCESS");

    // A new version that changes the entry raises it again, and reports the
    // approved merchant it now hits.
    let changed = write(
        &dir,
        "sanctions2.txt",
        "Example Tea House Limited\nSomeone Else\n",
    );
    let out = load_list(&app.db, "sanctions", "names", &changed, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(text.contains("version 2"), "{text}");
    assert!(
        text.contains("APPROVED merchant M-HIT (T-AGAIN) now hits sanctions version 2"),
        "{text}"
    );
    assert!(
        text.contains("1 PENDING newly flagged list_hit, 1 APPROVED now hit"),
        "{text}"
    );
    assert_eq!(
        query_strings(
            &mut app.db.connect(),
            "SELECT concat_ws(' ', registration_request_id, version, status_then) AS v FROM ops.list_hits WHERE version = 2 ORDER BY 1"
        ),
        ["T-AGAIN 2 APPROVED", "T-OTHER 2 PENDING"]
    );
    assert_eq!(
        one(
            &app.db,
            "SELECT count(*)::text AS v FROM audit_log WHERE action = 'registration.list_hit'"
        ),
        "2"
    );
    app.stop().await;
}

#[tokio::test]
async fn registration_numbers_and_domains_load_from_csv_and_hit() {
    let dir = scratch("lists");
    let app = spawn_app_with(TestDb::new(), |_| {}).await;
    let numbers = write(
        &dir,
        "numbers.csv",
        "source,registration_number\nregistry,1234-5678\n",
    );
    assert!(
        load_list(
            &app.db,
            "deny-numbers",
            "registration_numbers",
            &numbers,
            &[]
        )
        .status
        .success()
    );
    let domains = write(
        &dir,
        "domains.csv",
        "site\nhttps://www.EXAMPLE.com/anything\n",
    );
    let out = load_list(
        &app.db,
        "bad-sites",
        "domains",
        &domains,
        &["--column", "site"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Without a column the header names, the file is refused.
    let out = load_list(&app.db, "x", "domains", &numbers, &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no column named"));

    // Lists are read by the server within a second of their loading.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        app.register(&online_request("T-N", "M-N")).await.code(),
        "REGISTRATION_IN_PROCESS"
    );
    assert_eq!(
        query_strings(
            &mut app.db.connect(),
            "SELECT concat_ws(' ', list, field) AS v FROM ops.list_hits ORDER BY 1"
        ),
        [
            "bad-sites merchantInfo.websites[0].url",
            "deny-numbers merchantInfo.registrationDetail.registrationNo",
        ]
    );
    let shown = stdout(&run(&app.db, &["lists", "show"]));
    assert!(
        shown.contains("bad-sites") && shown.contains("domains"),
        "{shown}"
    );
    assert!(
        shown.contains("deny-numbers") && shown.contains("registration_numbers"),
        "{shown}"
    );
    app.stop().await;
}

#[tokio::test]
async fn rules_test_replays_history_and_fails_when_a_rule_would_approve_a_rejection() {
    let dir = scratch("rules-test");
    let app = spawn_app_with(TestDb::new(), |_| {}).await;
    for (id, mcc) in [
        ("H-1", "5812"),
        ("H-2", "5812"),
        ("H-3", "5999"),
        ("H-4", "7995"),
    ] {
        assert_eq!(
            app.register(&with_mcc(id, &format!("M{id}"), mcc))
                .await
                .code(),
            "REGISTRATION_IN_PROCESS"
        );
    }
    decide_sql(&app.db, "H-1", "APPROVED", None);
    decide_sql(&app.db, "H-2", "REJECTED", Some("Not what it claims"));
    let before = one(&app.db, "SELECT count(*)::text AS v FROM audit_log");

    let file = write(&dir, "rules.toml", RULES);
    let out = run(
        &app.db,
        &[
            "rules",
            "test",
            "--file",
            file.to_str().unwrap(),
            "--since",
            "1d",
        ],
    );
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "4 registrations received since",
        "approve-low-risk                        2        0        0          0",
        "no-gambling                             0        1        0          0",
        "(no rule: a person reviews)             0        0        1          0",
        "H-2                                      approve-low-risk                 approve        REJECTED",
        "1 disagreement(s); 1 approval(s) of registrations a person rejected",
    ] {
        assert!(text.contains(expected), "missing {expected:?}:\n{text}");
    }
    // Nothing changed.
    assert_eq!(
        one(&app.db, "SELECT count(*)::text AS v FROM audit_log"),
        before
    );

    // A policy that approves nothing people rejected passes.
    let safe = write(
        &dir,
        "safe.toml",
        "[[rule]]\nid = \"shops\"\nwhen = { mcc_in = [\"5999\"] }\nthen = \"approve\"\n",
    );
    let out = run(
        &app.db,
        &["rules", "test", "--file", safe.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // An example the rules contradict refuses the file, naming it.
    let wrong = write(
        &dir,
        "wrong.toml",
        &RULES.replace("expect = \"approve\"", "expect = \"review\""),
    );
    let out = run(
        &app.db,
        &["rules", "test", "--file", wrong.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("example \"a plain restaurant\": the rules approve it (by rule approve-low-risk), the example expects review"), "{err}");
    app.stop().await;
}

/// Waits until the server's log holds `text`.
async fn log_says(serve: &Serve, text: &str) {
    let started = Instant::now();
    loop {
        let log = std::fs::read_to_string(&serve.log).unwrap_or_default();
        if log.contains(text) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "log lacks {text:?}:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_bad_rules_file_refuses_the_start_and_on_sighup_leaves_the_rules_in_force() {
    let db = TestDb::new();
    let work = Workdir::new("sighup");
    let file = write(
        &work.path,
        "rules.toml",
        "[[rule]]\nid = \"a\"\nwhen = { mcc_in = [\"5812\"], colour = \"red\" }\nthen = \"approve\"\n",
    );
    let out = work
        .command()
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("MPP_LISTEN", "127.0.0.1:0")
        .env("MPP_RULES_FILE", &file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("MPP_RULES_FILE") && err.contains("rules.toml:3") && err.contains("colour"),
        "{err}"
    );

    std::fs::write(&file, RULES).unwrap();
    let file_env = file.to_str().unwrap().to_owned();
    let serve = Serve::start(&work, &db.url, &[("MPP_RULES_FILE", file_env.as_str())]).await;
    let peer = serve.peer();
    assert_eq!(
        peer.register(&online_request("S-1", "MS-1")).await.code(),
        "SUCCESS"
    );

    // A broken file is refused whole; the rules in force stay.
    std::fs::write(&file, "[[rule]]\nid = \"broken\"\nthen = \n").unwrap();
    Command::new("kill")
        .args(["-HUP", &serve.pid().to_string()])
        .status()
        .unwrap();
    log_says(
        &serve,
        "the rules file was refused; the rules in force stay",
    )
    .await;
    assert_eq!(
        peer.register(&online_request("S-2", "MS-2")).await.code(),
        "SUCCESS"
    );

    // A good one is in force after the next SIGHUP.
    std::fs::write(
        &file,
        "[[rule]]\nid = \"review-all\"\nwhen = {}\nthen = \"review\"\n",
    )
    .unwrap();
    Command::new("kill")
        .args(["-HUP", &serve.pid().to_string()])
        .status()
        .unwrap();
    log_says(&serve, "triage rules read again and in force").await;
    assert_eq!(
        peer.register(&online_request("S-3", "MS-3")).await.code(),
        "REGISTRATION_IN_PROCESS"
    );
    assert_eq!(
        one(
            &db,
            "SELECT triage_rule AS v FROM registrations WHERE registration_request_id = 'S-3'"
        ),
        "review-all"
    );
}

#[test]
fn the_worked_example_in_the_readme_loads_and_its_examples_hold() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let at = readme.find("### A worked example").unwrap();
    let start = readme[at..].find("```toml\n").unwrap() + at + "```toml\n".len();
    let end = readme[start..].find("```").unwrap() + start;
    let dir = scratch("readme");
    let file = write(&dir, "rules.toml", &readme[start..end]);
    let policy = mpp_registrar::workflow::triage::load_rules(&file).unwrap();
    assert_eq!(policy.rules.len(), 3);
    assert_eq!(policy.examples.len(), 5);
}
