//! The README's loop on one machine, with the real binaries: `simulate alipay`,
//! `serve` pointed at it, `simulate register`, a reviewer's approval, and the
//! notification arriving at the stand-in.

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::processes::*;

#[tokio::test]
async fn register_review_notify_with_the_real_commands() {
    let db = TestDb::new();
    let work = Workdir::new("walk");
    let gw_port = free_port();
    let mut gateway = Killed(
        work.command()
            .args([
                "simulate",
                "alipay",
                "--listen",
                &format!("127.0.0.1:{gw_port}"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let gateway_url = format!("http://127.0.0.1:{gw_port}");
    let server = Serve::start(&work, &db.url, &[("ALIPAY_GATEWAY_URL", &gateway_url)]).await;
    let base = server.base.clone();

    let out = work
        .command()
        .args([
            "simulate",
            "register",
            "--target",
            &base,
            "--count",
            "6",
            "--concurrency",
            "3",
        ])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("REGISTRATION_IN_PROCESS: 6"), "{report}");

    create_user(&db, "alice", "correct horse battery staple", "reviewer");
    let client = AdminClient::for_address(&base);
    let signed_in = client
        .sign_in("alice", "correct horse battery staple")
        .await;
    let session_cookie = signed_in
        .set_cookies
        .iter()
        .find(|c| c.starts_with("mpp_session="))
        .unwrap()
        .clone();
    let queue = client.get("/admin").await;
    let csrf = queue.csrf();
    let first = queue
        .html
        .split("href=\"/admin/registrations/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let page = client
        .post(
            &format!("/admin/registrations/{first}/decision"),
            &[("csrf", &csrf), ("decision", "approve"), ("confirm", "1")],
        )
        .await;
    assert!(page.location.unwrap().ends_with("flash=decided"));

    // The stand-in prints each notification it receives as a JSON line.
    let stdout = gateway.0.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || BufReader::new(stdout).lines().next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let received: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(received["registrationStatus"], "APPROVED");
    assert_eq!(received["signatureValid"], true);
    let started = Instant::now();
    loop {
        let rows = query_strings(
            &mut db.connect(),
            "SELECT status AS v FROM ops.notifications",
        );
        if rows == ["delivered"] {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Inquiry as Alipay+ sends it, by request id and by merchant, from the
    // command line: signed, the answer's signature verified, JSON printed.
    let approved = query_strings(
        &mut db.connect(),
        "SELECT registration_request_id || ' ' || reference_merchant_id AS v \
         FROM ops.registrations WHERE status = 'APPROVED'",
    );
    let (request_id, merchant_id) = approved[0].split_once(' ').unwrap();
    for query in [
        ["--registration-request-id", request_id],
        ["--merchant-id", merchant_id],
    ] {
        let out = work
            .command()
            .args(["simulate", "inquiry", "--target", &base])
            .args(query)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(answer["result"]["resultStatus"], "S", "{answer}");
        let completed = answer["registrationResult"]["registrationStatus"] == "COMPLETED"
            || answer["pspRegistrationResultList"][0]["registrationResult"]["registrationStatus"]
                == "APPROVED";
        assert!(completed, "{answer}");
    }
    // An answer that does not verify is not printed: a wrong wallet key.
    let out = work
        .command()
        .args(["simulate", "inquiry", "--target", &base])
        .args(["--registration-request-id", request_id, "--mpp-public-key"])
        .arg(work.path.join("keys/alipay/public_key.pem"))
        .output()
        .unwrap();
    assert!(!out.status.success() && out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not verify"));
    // Run from elsewhere, a simulate command says where it looked for keys.
    let out = work
        .command()
        .args(["simulate", "inquiry", "--target", &base])
        .args(["--registration-request-id", request_id])
        .env("MPP_DATA_DIR", "elsewhere")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("MPP_DATA_DIR=elsewhere"),
        "{stderr}"
    );

    // The server's address in a browser leads to the admin pages.
    let root = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{base}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(root.status(), 303);
    assert_eq!(root.headers()["location"], "/admin");

    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        "mpp_aps_requests_total{api=\"registration\",result_code=\"REGISTRATION_IN_PROCESS\"} 6",
        "mpp_registrations{status=\"PENDING\"} 5",
        "mpp_registrations{status=\"APPROVED\"} 1",
        "mpp_notifications_delivered_total{target=\"alipay\"} 1",
        "mpp_db_pool_max_connections 16",
        "mpp_http_requests_total{route=\"/admin/registrations/{id}/decision\",status=\"303\"} 1",
        "mpp_aps_request_seconds_bucket",
        "mpp_oldest_pending_registration_seconds",
    ] {
        assert!(metrics.contains(expected), "missing {expected}:\n{metrics}");
    }
    let private_key = std::fs::read_to_string(work.path.join("keys/mpp/private_key.pem")).unwrap();
    check_log(
        &std::fs::read_to_string(&server.log).unwrap(),
        &private_key,
        &session_cookie,
    );
}

/// What a full run writes to its log: JSON lines, each request's lines with
/// its request id, and no key, password, cookie or merchant personal data.
fn check_log(log: &str, private_key_pem: &str, session_cookie: &str) {
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON log line"))
        .collect();
    // Start-up says where the admin pages are, and (no accounts yet) how to
    // make the first one.
    assert!(lines.iter().any(|l| {
        l["fields"]["message"] == "admin pages"
            && l["fields"]["url"]
                .as_str()
                .is_some_and(|u| u.ends_with("/admin/login"))
    }));
    assert!(lines.iter().any(|l| {
        l["fields"]["command"]
            .as_str()
            .is_some_and(|c| c.starts_with("mpp-registrar user add"))
    }));
    // A decision's line, written in the database work, carries its HTTP
    // request's span; a notification attempt's lines carry the notification.
    let span_named = |line: &serde_json::Value, name: &str| -> Option<serde_json::Value> {
        line["spans"]
            .as_array()?
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
    };
    let decided = lines
        .iter()
        .find(|l| l["fields"]["message"] == "decided")
        .expect("a decided line");
    let http = span_named(decided, "http").expect("the request's span");
    assert!(http["request_id"].is_string());
    assert!(http["path"].as_str().unwrap().ends_with("/decision"));
    let attempt = lines
        .iter()
        .find(|l| l["fields"]["message"] == "notification attempt")
        .expect("an attempt line");
    let notification = span_named(attempt, "notification").expect("the attempt's span");
    assert_eq!(
        notification["registration_request_id"],
        decided["fields"]["registration_request_id"]
    );
    let answered: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "answered")
        .collect();
    assert!(answered.len() >= 6, "every /aps request is logged");
    for line in answered {
        let spans = line["spans"].as_array().expect("span list");
        assert!(spans.iter().any(|s| s["request_id"].is_string()), "{line}");
        assert!(spans.iter().any(|s| s["result_code"].is_string()), "{line}");
    }
    for secret_line in private_key_pem.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!log.contains(secret_line), "the private key is in the log");
    }
    let cookie_value = session_cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("mpp_session=");
    for secret in [
        "correct horse battery staple",
        cookie_value,
        "\"10000003\"",
        "ops3@example.com",
        "Sample Shop 3 Limited",
    ] {
        assert!(!log.contains(secret), "{secret:?} is in the log");
    }
}
