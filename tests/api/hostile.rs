//! Hostile input over HTTP: each request gets a signed refusal or a closed
//! connection within a bounded time, and the server stays healthy throughout.

use std::time::{Duration, Instant};

use mpp_registrar::protocol::paths;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::helpers::*;

/// Signed bodies that reach the parser and validator.
fn corpus() -> Vec<(&'static str, Vec<u8>)> {
    let valid = online_request("REQ-HOSTILE", "M-HOSTILE");
    let with = |pointer: &str, value: Value| {
        let mut body = valid.clone();
        *body.pointer_mut(pointer).unwrap() = value;
        serde_json::to_vec(&body).unwrap()
    };
    let text = String::from_utf8(serde_json::to_vec(&valid).unwrap()).unwrap();
    let mut invalid_utf8 = text.replace("REQ-HOSTILE", "REQ-\u{1}").into_bytes();
    let at = invalid_utf8.iter().position(|&b| b == 1).unwrap();
    invalid_utf8.splice(at..at + 1, [0xff, 0xfe]);
    vec![
        (
            "deep nesting",
            format!(
                "{{\"registrationRequestId\":{}{}}}",
                "[".repeat(100_000),
                "]".repeat(100_000)
            )
            .into_bytes(),
        ),
        (
            "deep nesting within the limit",
            format!("{{\"extra\":{}1{}}}", "[".repeat(100), "]".repeat(100)).into_bytes(),
        ),
        ("invalid UTF-8 in a string", invalid_utf8),
        (
            "a member named twice",
            text.replacen("{", "{\"registrationRequestId\":\"REQ-OTHER\",", 1)
                .into_bytes(),
        ),
        (
            "a member named twice, escaped",
            text.replacen("{", "{\"registrationRequest\\u0049d\":\"X\",", 1)
                .into_bytes(),
        ),
        (
            "a number for a string",
            with("/registrationRequestId", json!(12345)),
        ),
        (
            "a boolean for a string",
            with("/merchantInfo/merchantMCC", json!(true)),
        ),
        (
            "an object for a list",
            with("/productCodes", json!({"a": 1})),
        ),
        (
            "a control character",
            with("/merchantInfo/merchantDisplayName", json!("Shop\u{7}")),
        ),
        (
            "a NUL",
            with("/merchantInfo/referenceMerchantId", json!("M\u{0}1")),
        ),
        (
            "a very long id",
            with("/registrationRequestId", json!("R".repeat(60_000))),
        ),
        (
            "a huge number",
            format!("{{\"registrationRequestId\":1{}}}", "0".repeat(5000)).into_bytes(),
        ),
        ("an empty body", Vec::new()),
        ("10 MB", vec![b'{'; 10 * 1024 * 1024]),
    ]
}

async fn assert_healthy(peer: &Peer) {
    assert_eq!(peer.get("/healthz").await.status(), 200);
    let r = peer
        .register(&online_request(&unique("REQ"), &unique("M")))
        .await;
    assert_eq!(r.code(), "REGISTRATION_IN_PROCESS");
}

#[tokio::test]
async fn a_hostile_corpus_gets_signed_refusals_and_the_server_stays_healthy() {
    let app = spawn_app().await;
    for (name, body) in corpus() {
        let started = Instant::now();
        match app.try_send(app.call(paths::REGISTRATION, body)).await {
            Ok(r) => {
                // try_send has checked the signature and the echoed Client-Id.
                assert_eq!(r.code(), "PARAM_ILLEGAL", "{name}: {}", r.message());
                assert!(!r.message().is_empty(), "{name}");
                if name.starts_with("a member named twice") {
                    assert!(
                        r.message().contains("appears twice"),
                        "{name}: {}",
                        r.message()
                    );
                }
            }
            // A server may close the connection on a body over its limit
            // while the client is still sending it.
            Err(e) => assert_eq!(name, "10 MB", "{name}: {e}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{name} took {:?}",
            started.elapsed()
        );
        assert_healthy(&app).await;
    }
}

/// Writes `head` (and `body`, in pieces `pause` apart), then reads until the
/// server answers or closes. Returns what was read and how long it took.
async fn raw_exchange(
    address: &str,
    head: String,
    body: &[u8],
    pause: Duration,
) -> (String, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(address.trim_start_matches("http://"))
        .await
        .unwrap();
    let _ = stream.write_all(head.as_bytes()).await;
    for piece in body.chunks(if pause.is_zero() {
        body.len().max(1)
    } else {
        1
    }) {
        if stream.write_all(piece).await.is_err() {
            break;
        }
        tokio::time::sleep(pause).await;
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // Bounded: the read gives up after 20 s.
    let _ = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                break;
            }
        }
    })
    .await;
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

fn head(content_length: usize) -> String {
    format!(
        "POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json; charset=UTF-8\r\n\
         Client-Id: {CLIENT_ID}\r\nRequest-Time: 2024-05-28T12:12:12.123+08:00\r\n\
         Signature: algorithm=RSA256,keyVersion=1,signature=AAAA\r\nContent-Length: {content_length}\r\n\r\n",
        paths::REGISTRATION
    )
}

/// A signed refusal, or a connection closed without one.
fn refused_or_closed(what: &str, answer: &str) {
    assert!(
        answer.is_empty()
            || (answer.starts_with("HTTP/1.1 200")
                && answer.to_ascii_lowercase().contains("\r\nsignature: ")
                && (answer.contains("PARAM_ILLEGAL") || answer.contains("INVALID_SIGNATURE")))
            || answer.starts_with("HTTP/1.1 400")
            || answer.starts_with("HTTP/1.1 408"),
        "{what}: {answer}"
    );
}

#[tokio::test]
async fn lying_lengths_and_slow_senders_are_cut_off_in_bounded_time() {
    let app = spawn_app().await;
    let body = br#"{"registrationRequestId":"R"}"#;
    let (short, long, slow, stalled) = tokio::join!(
        // Fewer bytes than declared, then silence: the body read times out.
        raw_exchange(&app.address, head(1000), body, Duration::ZERO),
        // More bytes than declared: the rest is a malformed next request.
        raw_exchange(&app.address, head(5), body, Duration::ZERO),
        // One byte every 400 ms: slower than the body read allows.
        raw_exchange(
            &app.address,
            head(body.len()),
            body,
            Duration::from_millis(400)
        ),
        // Headers that never end.
        raw_exchange(
            &app.address,
            format!(
                "POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                paths::REGISTRATION
            ),
            b"",
            Duration::ZERO,
        ),
    );
    for (what, (answer, took)) in [
        ("short body", &short),
        ("long body", &long),
        ("slow sender", &slow),
        ("stalled headers", &stalled),
    ] {
        refused_or_closed(what, answer);
        assert!(took < &Duration::from_secs(15), "{what} took {took:?}");
        eprintln!(
            "{what}: {:?} after {took:?}",
            answer.lines().next().unwrap_or("closed")
        );
    }
    assert_healthy(&app).await;
}

/// A body trickled to an admin form is cut off like one sent to `/aps`: every
/// route has a body deadline (10 s), so slow senders cannot pile up
/// connections until the file descriptors run out.
#[tokio::test]
async fn a_body_trickled_to_the_sign_in_form_is_cut_off() {
    let app = spawn_app().await;
    let body = b"csrf=aaaaaaaaaaaaaaaa&username=alice&password=correct+horse+battery+staple";
    let head = format!(
        "POST /admin/login HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: {}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        app.address,
        body.len()
    );
    // One byte every 400 ms would take 30 s.
    let (answer, took) = raw_exchange(&app.address, head, body, Duration::from_millis(400)).await;
    assert!(
        answer.is_empty()
            || answer.starts_with("HTTP/1.1 400")
            || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
    eprintln!(
        "trickled sign-in form: {:?} after {took:?}",
        answer.lines().next().unwrap_or("closed")
    );
    assert_healthy(&app).await;
}
