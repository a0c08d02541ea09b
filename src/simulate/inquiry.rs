//! One `inquiryRegistrationStatus` call as Alipay+ makes it: signed with the
//! stand-in's key, and its answer's signature checked with the wallet's
//! public key before the answer is believed.

use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use super::register::sign_request;
use crate::protocol::paths;
use crate::protocol::signature::{SignatureHeader, Signer, Verifier, string_to_sign};

/// What to ask about: one request, or a merchant (and perhaps one store).
#[derive(Debug, Clone)]
pub enum Query {
    Request(String),
    Merchant {
        merchant_id: String,
        store_id: Option<String>,
    },
}

impl Query {
    fn body(&self) -> Value {
        match self {
            Query::Request(id) => json!({ "registrationRequestId": id }),
            Query::Merchant {
                merchant_id,
                store_id: None,
            } => json!({ "referenceMerchantId": merchant_id }),
            Query::Merchant {
                merchant_id,
                store_id: Some(store_id),
            } => json!({ "referenceMerchantId": merchant_id, "referenceStoreId": store_id }),
        }
    }
}

/// Sends the inquiry to `target` (the server's base URL) and returns the
/// answer's JSON once its `Signature` verifies over its `Response-Time`.
pub async fn inquire(
    target: &str,
    client_id: &str,
    signer: &Signer,
    wallet_key: &Verifier,
    query: &Query,
) -> anyhow::Result<Value> {
    let request = sign_request(
        signer,
        client_id,
        paths::INQUIRY,
        serde_json::to_vec(&query.body())?,
    )?;
    let url = format!("{}{}", target.trim_end_matches('/'), paths::INQUIRY);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .no_proxy()
        .build()?;
    let response = client
        .post(&url)
        .header("Content-Type", "application/json; charset=UTF-8")
        .header("Client-Id", client_id)
        .header("Request-Time", &request.request_time)
        .header("Signature", &request.signature)
        .body(request.body)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (Some(response_time), Some(signature), answer_client) = (
        header("Response-Time"),
        header("Signature"),
        header("Client-Id"),
    ) else {
        bail!("the answer (HTTP {status}) is not signed: no Response-Time or Signature header");
    };
    let body = response.bytes().await.context("cannot read the answer")?;
    let signature = SignatureHeader::parse(&signature)
        .map_err(|e| anyhow::anyhow!("the answer's Signature header: {e}"))?;
    let signed_client = answer_client.as_deref().unwrap_or(client_id);
    let message = string_to_sign("POST", paths::INQUIRY, signed_client, &response_time, &body);
    if !wallet_key.verify(&message, &signature.signature) {
        bail!("the answer's signature does not verify with the wallet's public key");
    }
    serde_json::from_slice(&body).context("the answer is not JSON")
}
