//! The `/aps` (and `/ams`) gateway: the inbound checks of transport §10 in
//! their documented order, dispatch to the API handlers, and the one mapping
//! from every refusal to a signed `result`. Every answer is HTTP 200 and signed.

use std::time::Instant;

use actix_web::http::Method;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt as _;
use tracing::Instrument as _;
use tracing::field::Empty;

use super::error::{ApsError, Reply};
use super::{ApsContext, inquiry, registration};
use crate::metrics::{ApiLabel, ApsLabel};
use crate::protocol::paths;
use crate::protocol::signature::{SignatureHeader, string_to_sign};
use crate::protocol::time::{RequestTimeError, check_request_time};

/// Entry point for every request under `/aps` and `/ams`.
pub async fn entry(
    req: HttpRequest,
    payload: web::Payload,
    ctx: web::Data<ApsContext>,
) -> HttpResponse {
    let span = tracing::info_span!(
        "aps",
        registration_request_id = Empty,
        result_code = Empty,
        triage_rule = Empty,
        triage_action = Empty
    );
    async move {
        let started = Instant::now();
        // No answer may be dated before this (see AnswerSigner).
        let arrived = chrono::Utc::now();
        let reply = match handle(&req, payload, &ctx, arrived).await {
            Ok(reply) => reply,
            Err(e) => e.into_reply(),
        };
        tracing::Span::current().record("result_code", reply.code.as_str());
        let (response, not_before) = signed_response(&req, &ctx, reply.body, arrived);
        // An answer dated the next millisecond (its request came in the one it
        // was signed in) leaves no earlier than that.
        if let Ok(early) = (not_before - chrono::Utc::now()).to_std() {
            tokio::time::sleep(early).await;
        }
        let elapsed = started.elapsed();
        let api = api_name(req.path());
        ctx.metrics
            .aps_requests
            .get_or_create(&ApsLabel {
                api: api.to_owned(),
                result_code: reply.code.as_str().to_owned(),
            })
            .inc();
        ctx.metrics
            .aps_request_seconds
            .get_or_create(&ApiLabel {
                api: api.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
        tracing::info!(elapsed_ms = elapsed.as_secs_f64() * 1000.0, "answered");
        response
    }
    .instrument(span)
    .await
}

/// A bounded label for metrics: the API a path names, or `unknown`.
fn api_name(path: &str) -> &'static str {
    match path {
        paths::REGISTRATION => "registration",
        paths::INQUIRY | paths::INQUIRY_ANTOM => "inquiry",
        _ => "unknown",
    }
}

enum Api {
    Registration,
    Inquiry,
}

async fn handle(
    req: &HttpRequest,
    payload: web::Payload,
    ctx: &ApsContext,
    arrived: chrono::DateTime<chrono::Utc>,
) -> Result<Reply, ApsError> {
    if req.method() != Method::POST {
        return Err(ApsError::MethodNotSupported);
    }
    let api = match req.path() {
        paths::REGISTRATION => Api::Registration,
        paths::INQUIRY | paths::INQUIRY_ANTOM => Api::Inquiry,
        _ => return Err(ApsError::NoInterfaceDef),
    };
    check_content_type(req)?;
    let client_id = header(req, "client-id")
        .filter(|id| *id == ctx.client_id)
        .ok_or(ApsError::InvalidClient)?;
    let request_time = header(req, "request-time")
        .filter(|t| !t.trim().is_empty())
        .ok_or(ApsError::RequestTime(RequestTimeError::Missing))?;
    // Off unless configured (A6): documented sample requests carry 2019 timestamps.
    if let Some(window) = ctx.request_time_window {
        check_request_time(request_time, window, arrived).map_err(ApsError::RequestTime)?;
    }
    let signature = SignatureHeader::parse(header(req, "signature").unwrap_or_default())?;
    let verifier = ctx
        .alipay_keys
        .find(signature.key_version.as_deref())
        .ok_or(ApsError::KeyNotFound)?;
    let body = read_body(req, payload, ctx.max_body_bytes).await?;
    let message = string_to_sign(
        req.method().as_str(),
        request_uri(req),
        client_id,
        request_time,
        &body,
    );
    if !verifier.verify(&message, &signature.signature) {
        return Err(ApsError::SignatureMismatch);
    }
    match api {
        Api::Registration => registration::register(ctx, body).await,
        Api::Inquiry => inquiry::inquire(ctx, body).await,
    }
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Path plus query, exactly as the client sent it: the URI part of the string-to-sign.
fn request_uri(req: &HttpRequest) -> &str {
    req.uri()
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or_else(|| req.path())
}

/// A missing Content-Type means JSON in UTF-8 (A15); a present one must say so.
fn check_content_type(req: &HttpRequest) -> Result<(), ApsError> {
    let Some(value) = req.headers().get("content-type") else {
        return Ok(());
    };
    let value = value
        .to_str()
        .map_err(|_| ApsError::MediaTypeNotAcceptable)?;
    let mut parts = value.split(';');
    let media_type = parts.next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(ApsError::MediaTypeNotAcceptable);
    }
    for param in parts {
        if let Some((name, charset)) = param.split_once('=')
            && name.trim().eq_ignore_ascii_case("charset")
        {
            let charset = charset.trim().trim_matches('"');
            if !(charset.eq_ignore_ascii_case("utf-8") || charset.eq_ignore_ascii_case("utf8")) {
                return Err(ApsError::MediaTypeNotAcceptable);
            }
        }
    }
    Ok(())
}

/// Reads the body up to `limit` bytes; a declared or actual excess, or a
/// broken stream (a sender slower than the server-wide body deadline, see
/// `body_limit`, included) is refused.
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Bytes, ApsError> {
    let declared = header(req, "content-length").and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(ApsError::BodyTooLarge(limit));
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(4096).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => ApsError::BodyTooLarge(limit),
            _ => ApsError::BodyUnreadable,
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApsError::BodyTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Signs `body`: the request's Client-Id echoed (ours when it sent none we
/// can echo), a current Response-Time no earlier than the request's arrival,
/// and a signature over exactly the bytes sent. Also returns the instant the
/// Response-Time names, before which the answer must not leave.
fn signed_response(
    req: &HttpRequest,
    ctx: &ApsContext,
    body: Vec<u8>,
    arrived: chrono::DateTime<chrono::Utc>,
) -> (HttpResponse, chrono::DateTime<chrono::Utc>) {
    let client_id = header(req, "client-id")
        .filter(|id| !id.is_empty())
        .unwrap_or(&ctx.client_id);
    match ctx.answers.sign(
        req.method().as_str(),
        request_uri(req),
        client_id,
        &body,
        arrived,
    ) {
        Ok(signed) => (
            HttpResponse::Ok()
                .insert_header(("Content-Type", "application/json; charset=UTF-8"))
                .insert_header(("Client-Id", client_id))
                .insert_header(("Response-Time", signed.response_time))
                .insert_header(("Signature", signed.signature))
                .body(body),
            signed.not_before,
        ),
        Err(e) => {
            // Without a signature Alipay+ could not trust any answer; a 500 makes it retry.
            tracing::error!(error = %e, "cannot sign the response");
            (HttpResponse::InternalServerError().finish(), arrived)
        }
    }
}
