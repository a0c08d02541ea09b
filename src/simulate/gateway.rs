//! A local Alipay+ gateway for `notifyRegistrationStatus`: verifies each
//! notification's signature with the wallet's public key and its body
//! against the protocol reference, records it, and answers a signed S — or
//! U, F, a slow answer, garbage or an unsigned answer, by script or in given
//! proportions. A body that does not conform gets `PARAM_ILLEGAL`, as a
//! strict Alipay+ would answer, and its problem is printed.

use std::collections::VecDeque;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde::Serialize;

use crate::protocol::notify::check_status_notification;
use crate::protocol::result::{ResultBody, ResultCode};
use crate::protocol::signature::{SignatureHeader, Signer, Verifier, string_to_sign};
use crate::protocol::{now_timestamp, paths};

/// One way to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Signed S / SUCCESS.
    Success,
    /// Signed U / UNKNOWN_EXCEPTION.
    Unknown,
    /// Signed F with this code.
    Fail(ResultCode),
    /// Signed S, after this long.
    Slow(Duration),
    /// HTTP 200 with a body that is not JSON.
    Garbage,
    /// S / SUCCESS without a signature.
    Unsigned,
}

/// How the gateway answers: scripted answers first, then by proportions.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    pub script: VecDeque<Answer>,
    pub unknown_ratio: f64,
    pub fail_ratio: f64,
    pub slow_ratio: f64,
    pub slow: Duration,
    pub garbage_ratio: f64,
}

impl Behaviour {
    fn next(&mut self) -> Answer {
        if let Some(a) = self.script.pop_front() {
            return a;
        }
        let roll = super::random_fraction();
        let mut edge = self.unknown_ratio;
        if roll < edge {
            return Answer::Unknown;
        }
        edge += self.fail_ratio;
        if roll < edge {
            return Answer::Fail(ResultCode::AbnormalRegistrationStatus);
        }
        edge += self.slow_ratio;
        if roll < edge {
            return Answer::Slow(self.slow);
        }
        edge += self.garbage_ratio;
        if roll < edge {
            return Answer::Garbage;
        }
        Answer::Success
    }
}

/// A notification as the gateway saw it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Received {
    pub received_at: String,
    pub registration_request_id: String,
    pub registration_status: String,
    pub signature_valid: bool,
    /// Why the body does not conform to the protocol reference, if it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    pub answer: String,
    pub body: String,
}

/// (path, Client-Id, result code).
type AnswerKey = (String, String, &'static str);
/// (Response-Time, Signature).
type SignedAnswer = (String, String);

struct State {
    mpp_key: Verifier,
    signer: Signer,
    /// Signed answers by (path, Client-Id, result code): a stand-in that
    /// answers at once need not pay for an RSA signature every time.
    signed: Mutex<std::collections::HashMap<AnswerKey, SignedAnswer>>,
    behaviour: Mutex<Behaviour>,
    received: Mutex<Vec<Received>>,
    print: bool,
}

/// A running gateway.
pub struct Gateway {
    pub port: u16,
    state: Arc<State>,
    handle: ServerHandle,
}

impl Gateway {
    /// Binds `listen` and serves until stopped; with `print`, writes each
    /// notification received to stdout as one JSON line.
    pub fn start(
        listen: &str,
        mpp_key: Verifier,
        signer: Signer,
        behaviour: Behaviour,
        print: bool,
    ) -> anyhow::Result<Gateway> {
        let listener = TcpListener::bind(listen)?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(State {
            mpp_key,
            signer,
            signed: Mutex::new(std::collections::HashMap::new()),
            behaviour: Mutex::new(behaviour),
            received: Mutex::new(Vec::new()),
            print,
        });
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route(paths::NOTIFY_REGISTRATION_STATUS, web::post().to(receive))
        })
        .listen(listener)?
        .workers(2)
        .disable_signals()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Gateway {
            port,
            state,
            handle,
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn received(&self) -> Vec<Received> {
        self.state
            .received
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        if let Ok(mut b) = self.state.behaviour.lock() {
            *b = behaviour;
        }
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }

    /// Runs until the process is interrupted.
    pub async fn run_until_interrupted(self) -> anyhow::Result<()> {
        tokio::signal::ctrl_c().await?;
        self.stop().await;
        Ok(())
    }
}

async fn receive(req: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let client_id = header("client-id");
    let signature_valid = SignatureHeader::parse(&header("signature")).is_ok_and(|sig| {
        let message = string_to_sign(
            "POST",
            req.path(),
            &client_id,
            &header("request-time"),
            &body,
        );
        state.mpp_key.verify(&message, &sig.signature)
    });
    let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let problem = check_status_notification(&body).err();
    // A notification whose signature does not verify, or whose body does not
    // conform, is refused, as Alipay+ would.
    let answer = match (signature_valid, &problem) {
        (false, _) => Answer::Fail(ResultCode::InvalidSignature),
        (true, Some(problem)) => {
            eprintln!("notifyRegistrationStatus refused with PARAM_ILLEGAL: {problem}");
            Answer::Fail(ResultCode::ParamIllegal)
        }
        (true, None) => state
            .behaviour
            .lock()
            .map(|mut b| b.next())
            .unwrap_or(Answer::Success),
    };
    let record = Received {
        received_at: now_timestamp(),
        registration_request_id: parsed["registrationRequestId"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        registration_status: parsed["registrationResult"]["registrationStatus"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        signature_valid,
        problem: problem.clone(),
        answer: format!("{answer:?}"),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    if state.print
        && let Ok(line) = serde_json::to_string(&record)
    {
        println!("{line}");
    }
    if let Ok(mut all) = state.received.lock() {
        all.push(record);
    }

    let (code, signed) = match answer {
        Answer::Success => (ResultCode::Success, true),
        Answer::Unknown => (ResultCode::UnknownException, true),
        Answer::Fail(code) => (code, true),
        Answer::Slow(delay) => {
            tokio::time::sleep(delay).await;
            (ResultCode::Success, true)
        }
        Answer::Garbage => {
            return HttpResponse::Ok()
                .content_type("text/html")
                .body("<html>oops</html>");
        }
        Answer::Unsigned => (ResultCode::Success, false),
    };
    let result_message = problem.as_deref().unwrap_or(code.default_message());
    let body = ResultBody::new(code, result_message).to_bytes();
    let key = (req.path().to_owned(), client_id.clone(), code.as_str());
    // Refusals carry their problem: only the fixed answers are signed once.
    let cached = problem
        .is_none()
        .then(|| state.signed.lock().ok().and_then(|m| m.get(&key).cloned()))
        .flatten();
    let (time, signature) = match cached {
        Some(pair) => pair,
        None => {
            let time = now_timestamp();
            let message = string_to_sign("POST", req.path(), &client_id, &time, &body);
            let sig = state.signer.header_for(&message).unwrap_or_default();
            if problem.is_none()
                && let Ok(mut m) = state.signed.lock()
            {
                m.insert(key, (time.clone(), sig.clone()));
            }
            (time, sig)
        }
    };
    let mut response = HttpResponse::Ok();
    response
        .insert_header(("Content-Type", "application/json; charset=UTF-8"))
        .insert_header(("Client-Id", client_id.clone()))
        .insert_header(("Response-Time", time));
    if signed {
        response.insert_header(("Signature", signature));
    }
    response.body(body)
}
