//! Transport checks, in the documented order, each answered with a signed result.

use std::time::{Duration, Instant};

use mpp_registrar::protocol::paths;

use crate::helpers::*;

fn body() -> Vec<u8> {
    serde_json::to_vec(&online_request(&unique("REQ"), &unique("M"))).unwrap()
}

#[tokio::test]
async fn unknown_paths_are_no_interface_def() {
    let app = spawn_app().await;
    for path in [
        "/aps/api/v1/merchants/nothing",
        "/aps/api/v2/merchants/registration",
        "/ams/api/v1/x",
    ] {
        let r = app.send(app.call(path, body())).await;
        assert_eq!(
            (r.code().as_str(), r.status_letter().as_str()),
            ("NO_INTERFACE_DEF", "F"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn other_methods_are_method_not_supported() {
    let app = spawn_app().await;
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let mut call = app.call(paths::REGISTRATION, body());
        call.method = method;
        assert_eq!(app.send(call).await.code(), "METHOD_NOT_SUPPORTED");
    }
}

#[tokio::test]
async fn content_type_must_be_json_in_utf8_when_present() {
    let app = spawn_app().await;
    for bad in [
        "text/plain",
        "application/json; charset=ISO-8859-1",
        "application/xml; charset=UTF-8",
    ] {
        let mut call = app.call(paths::REGISTRATION, body());
        call.content_type = Some(bad.into());
        assert_eq!(
            app.send(call).await.code(),
            "MEDIA_TYPE_NOT_ACCEPTABLE",
            "{bad}"
        );
    }
    for good in [
        None,
        Some("application/json"),
        Some("Application/JSON;charset=utf-8"),
    ] {
        let mut call = app.call(paths::REGISTRATION, body());
        call.content_type = good.map(str::to_owned);
        assert_eq!(
            app.send(call).await.code(),
            "REGISTRATION_IN_PROCESS",
            "{good:?}"
        );
    }
}

#[tokio::test]
async fn unknown_or_missing_client_id_is_invalid_client() {
    let app = spawn_app().await;
    let mut call = app.call(paths::REGISTRATION, body());
    call.client_id = Some("SOMEONE_ELSE".into());
    let r = app.send(call).await;
    assert_eq!(r.code(), "INVALID_CLIENT");
    let mut call = app.call(paths::REGISTRATION, body());
    call.client_id = None;
    assert_eq!(app.send(call).await.code(), "INVALID_CLIENT");
}

#[tokio::test]
async fn missing_request_time_is_param_illegal() {
    let app = spawn_app().await;
    let mut call = app.call(paths::REGISTRATION, body());
    call.request_time = None;
    let r = app.send(call).await;
    assert_eq!(r.code(), "PARAM_ILLEGAL");
    assert!(r.message().contains("Request-Time"), "{}", r.message());
}

#[tokio::test]
async fn without_a_window_any_request_time_is_accepted() {
    let app = spawn_app().await;
    for time in [
        "2019-04-04T12:08:56+05:30",
        "1685599933871",
        "not a time at all",
    ] {
        let mut call = app.call(paths::REGISTRATION, body());
        call.request_time = Some(time.into());
        assert_eq!(
            app.send(call).await.code(),
            "REGISTRATION_IN_PROCESS",
            "{time}"
        );
    }
}

#[tokio::test]
async fn with_a_window_a_stale_or_unreadable_request_time_is_param_illegal() {
    let app = spawn_app_with(TestDb::new(), |s| {
        s.request_time_window = Some(Duration::from_secs(300))
    })
    .await;
    let now = chrono::Utc::now();
    let offset = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    // Every form of A6, current: accepted.
    let current = [
        now.with_timezone(&offset)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        format!(
            "{}.{:02}Z",
            now.format("%Y-%m-%dT%H:%M:%S"),
            now.timestamp_subsec_millis() / 10
        ),
        now.timestamp_millis().to_string(),
    ];
    for time in &current {
        let mut call = app.call(paths::REGISTRATION, body());
        call.request_time = Some(time.clone());
        assert_eq!(
            app.send(call).await.code(),
            "REGISTRATION_IN_PROCESS",
            "{time}"
        );
    }
    let stale = [
        "2024-05-28T12:12:12.123+08:00".to_owned(),
        (now - chrono::Duration::minutes(6))
            .timestamp_millis()
            .to_string(),
        (now + chrono::Duration::minutes(6)).to_rfc3339(),
    ];
    let unreadable = ["yesterday", "2024-05-28", "12:12:12"];
    for time in stale.iter().map(String::as_str).chain(unreadable) {
        let id = unique("REQ");
        let body = serde_json::to_vec(&online_request(&id, &unique("M"))).unwrap();
        let mut call = app.call(paths::REGISTRATION, body);
        call.request_time = Some(time.to_owned());
        let r = app.send(call).await;
        assert_eq!(
            (r.code().as_str(), r.status_letter().as_str()),
            ("PARAM_ILLEGAL", "F"),
            "{time}"
        );
        assert!(r.message().starts_with("Request-Time: "), "{}", r.message());
        // Refused before any business processing: the id is not bound.
        assert_eq!(
            query_count(
                &mut app.db.connect(),
                &format!("SELECT count(*) FROM requests WHERE registration_request_id = '{id}'")
            ),
            0
        );
    }
}

/// No answer is dated before its request was sent, even when identical
/// answers share one signature, nor after it was received.
#[tokio::test]
async fn no_answer_is_stamped_before_its_request_was_sent() {
    const TOTAL: usize = 2000;
    let app = spawn_app().await;
    let calls: Vec<ApsCall> = (0..TOTAL)
        .map(|_| app.call(paths::REGISTRATION, body()))
        .collect();
    let results: Vec<(
        chrono::DateTime<chrono::Utc>,
        ApsResponse,
        chrono::DateTime<chrono::Utc>,
    )> = futures_util::StreamExt::collect(futures_util::StreamExt::buffer_unordered(
        futures_util::stream::iter(calls.into_iter().map(|call| {
            let peer = &app.peer;
            async move {
                let sent = chrono::Utc::now();
                let answer = peer.send(call).await;
                (sent, answer, chrono::Utc::now())
            }
        })),
        32,
    ))
    .await;
    let mut shared = std::collections::HashMap::<String, usize>::new();
    for (sent, answer, received) in &results {
        assert_eq!(answer.code(), "REGISTRATION_IN_PROCESS");
        let stamped = chrono::DateTime::parse_from_rfc3339(answer.response_time())
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert!(
            stamped >= *sent,
            "answer stamped {stamped} for a request sent at {sent}"
        );
        assert!(
            stamped <= *received,
            "answer stamped {stamped}, received at {received}"
        );
        *shared.entry(answer.response_time().to_owned()).or_default() += 1;
    }
    let reused: usize = shared.values().filter(|n| **n > 1).map(|n| n - 1).sum();
    eprintln!(
        "{TOTAL} answers at concurrency 32: none stamped before its request; {reused} reused a signature"
    );
}

#[tokio::test]
async fn unknown_key_version_is_key_not_found() {
    let app = spawn_app().await;
    let mut call = app.call(paths::REGISTRATION, body());
    call.signature = Sig::Header("algorithm=RSA256,keyVersion=9,signature=AAAA".into());
    assert_eq!(app.send(call).await.code(), "KEY_NOT_FOUND");
}

#[tokio::test]
async fn missing_garbled_or_wrong_signatures_are_invalid_signature() {
    let app = spawn_app().await;
    let bad_headers = [
        "",
        "algorithm=RSA256,keyVersion=1",
        "algorithm=RSA256,keyVersion=1,signature=%%%",
        "algorithm=RSA256,keyVersion=1,signature=not*base64",
        "algorithm=ECC224,keyVersion=1,signature=AAAA",
        "algorithm=RSA256,keyVersion=1,signature=AAAA",
    ];
    for header in bad_headers {
        let mut call = app.call(paths::REGISTRATION, body());
        call.signature = Sig::Header(header.into());
        assert_eq!(
            app.send(call).await.code(),
            "INVALID_SIGNATURE",
            "{header:?}"
        );
    }
    let mut call = app.call(paths::REGISTRATION, body());
    call.signature = Sig::None;
    assert_eq!(app.send(call).await.code(), "INVALID_SIGNATURE");

    // Signed with the keyVersion-2 key but announced as keyVersion 1.
    let mut call = app.call(paths::REGISTRATION, body());
    let message = mpp_registrar::protocol::signature::string_to_sign(
        "POST",
        paths::REGISTRATION,
        CLIENT_ID,
        call.request_time.as_deref().unwrap(),
        &call.body,
    );
    let wrong = keys().alipay_v2.sign(&message).unwrap();
    call.signature = Sig::Header(mpp_registrar::protocol::signature::format_header(
        "1", &wrong,
    ));
    assert_eq!(app.send(call).await.code(), "INVALID_SIGNATURE");

    // A header that names a key twice is refused, even when one of the two
    // would verify: parsers keeping the first and the last would disagree.
    let body = body();
    let message = mpp_registrar::protocol::signature::string_to_sign(
        "POST",
        paths::REGISTRATION,
        CLIENT_ID,
        "2024-05-28T12:12:12.123+08:00",
        &body,
    );
    let valid = keys().alipay.header_for(&message).unwrap();
    let valid_value = valid.rsplit_once("signature=").unwrap().1.to_owned();
    for header in [
        format!("{valid},signature=AAAA"),
        format!("algorithm=RSA256,keyVersion=1,signature=AAAA,signature={valid_value}"),
        format!("{valid},keyVersion=2"),
        format!("keyVersion=2,{valid}"),
    ] {
        let mut call = app.call(paths::REGISTRATION, body.clone());
        call.signature = Sig::Header(header.clone());
        assert_eq!(app.send(call).await.code(), "INVALID_SIGNATURE", "{header}");
    }
    let mut call = app.call(paths::REGISTRATION, body);
    call.signature = Sig::Header(valid);
    assert_eq!(app.send(call).await.code(), "REGISTRATION_IN_PROCESS");
}

#[tokio::test]
async fn a_signature_over_other_bytes_fails() {
    let app = spawn_app().await;
    let original = body();
    // Sign one body, send another: the signature is over the exact bytes.
    let signed = app.call(paths::REGISTRATION, original.clone());
    let message = mpp_registrar::protocol::signature::string_to_sign(
        "POST",
        paths::REGISTRATION,
        CLIENT_ID,
        signed.request_time.as_deref().unwrap(),
        &original,
    );
    let header = keys().alipay.header_for(&message).unwrap();
    let mut tampered = original.clone();
    tampered.push(b' ');
    let mut call = app.call(paths::REGISTRATION, tampered);
    call.signature = Sig::Header(header.clone());
    assert_eq!(app.send(call).await.code(), "INVALID_SIGNATURE");
    // The same header over the original bytes is accepted, with spaces after the commas too.
    let mut call = app.call(paths::REGISTRATION, original);
    call.signature = Sig::Header(header.replace(',', ", "));
    assert_eq!(app.send(call).await.code(), "REGISTRATION_IN_PROCESS");
}

/// A valid signature moved to another request fails: the path, the
/// Client-Id and the Request-Time are all in the signed string.
#[tokio::test]
async fn a_signature_binds_the_path_the_client_id_and_the_request_time() {
    let app = spawn_app().await;
    let original = body();
    let signed = app.call(paths::REGISTRATION, original.clone());
    let sign = |path: &str, client_id: &str, time: &str| {
        keys()
            .alipay
            .header_for(&mpp_registrar::protocol::signature::string_to_sign(
                "POST", path, client_id, time, &original,
            ))
            .unwrap()
    };
    let time = signed.request_time.clone().unwrap();
    for (what, header) in [
        (
            "signed for another path",
            sign(paths::INQUIRY, CLIENT_ID, &time),
        ),
        (
            "signed for another Client-Id",
            sign(paths::REGISTRATION, "OTHER_CLIENT", &time),
        ),
        (
            "signed at another time",
            sign(
                paths::REGISTRATION,
                CLIENT_ID,
                "2024-05-28T12:12:13.000+08:00",
            ),
        ),
    ] {
        let mut call = app.call(paths::REGISTRATION, original.clone());
        call.signature = Sig::Header(header);
        assert_eq!(app.send(call).await.code(), "INVALID_SIGNATURE", "{what}");
    }
    // Replayed to another path as is.
    let mut call = app.call(paths::INQUIRY, original.clone());
    call.signature = Sig::Header(sign(paths::REGISTRATION, CLIENT_ID, &time));
    assert_eq!(app.send(call).await.code(), "INVALID_SIGNATURE");
    let mut call = app.call(paths::REGISTRATION, original.clone());
    call.signature = Sig::Header(sign(paths::REGISTRATION, CLIENT_ID, &time));
    assert_eq!(app.send(call).await.code(), "REGISTRATION_IN_PROCESS");
}

#[tokio::test]
async fn several_alipay_key_versions_are_accepted_at_once() {
    let app = spawn_app().await;
    let mut call = app.call(paths::REGISTRATION, body());
    call.signature = Sig::WithKey(|| &keys().alipay_v2);
    assert_eq!(
        app.send(call).await.code(),
        "REGISTRATION_IN_PROCESS",
        "keyVersion 2"
    );
    let r = app.send(app.call(paths::REGISTRATION, body())).await;
    assert_eq!(r.code(), "REGISTRATION_IN_PROCESS", "keyVersion 1");
}

#[tokio::test]
async fn oversized_and_non_json_bodies_are_param_illegal() {
    let app = spawn_app().await;
    let r = app
        .send(app.call(paths::REGISTRATION, vec![b' '; 65 * 1024]))
        .await;
    assert_eq!(r.code(), "PARAM_ILLEGAL");
    assert!(r.message().starts_with("body"), "{}", r.message());
    for junk in [
        &b"not json"[..],
        b"[1,2]",
        b"\"text\"",
        b"{\"a\":",
        b"\xff\xfe{}",
    ] {
        let r = app.send(app.call(paths::REGISTRATION, junk.to_vec())).await;
        assert_eq!(r.code(), "PARAM_ILLEGAL", "{junk:?}");
        assert!(r.message().starts_with("body"), "{}", r.message());
    }
}

#[tokio::test]
async fn an_unreachable_database_is_unknown_exception_in_bounded_time_and_service_resumes() {
    let app = spawn_app().await;
    assert_eq!(app.get("/readyz").await.status(), 200);
    app.db.make_unreachable();

    let started = Instant::now();
    let r = app
        .register(&online_request(&unique("REQ"), &unique("M")))
        .await;
    assert_eq!(
        (r.code().as_str(), r.status_letter().as_str()),
        ("UNKNOWN_EXCEPTION", "U")
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(app.get("/readyz").await.status(), 503);
    assert_eq!(app.get("/healthz").await.status(), 200);

    app.db.make_reachable();
    let retry = online_request(&unique("REQ"), &unique("M"));
    let mut last = String::new();
    for _ in 0..20 {
        last = app.register(&retry).await.code();
        if last == "REGISTRATION_IN_PROCESS" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(last, "REGISTRATION_IN_PROCESS");
    assert_eq!(app.get("/readyz").await.status(), 200);
}

#[tokio::test]
async fn health_probes_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
}
