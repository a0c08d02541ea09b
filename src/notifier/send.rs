//! One HTTP attempt to Alipay+ or to a merchant: signed, bounded in time and
//! size, never following redirects; the answer judged by the domain's rules.

use anyhow::Context as _;
use reqwest::header::HeaderMap;

use super::NotifierConfig;
use super::ssrf::{GuardedResolver, refusal};
use crate::db::notifications::Claimed;
use crate::domain::notification::{Verdict, judge_alipay_answer, judge_merchant_answer};
use crate::protocol::notify::read_result;
use crate::protocol::now_timestamp;
use crate::protocol::signature::{SignatureHeader, string_to_sign};

/// The most of an answer we read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What an attempt came to.
#[derive(Debug, Clone)]
pub struct Sent {
    pub http_status: Option<u16>,
    pub result_code: Option<String>,
    pub error: Option<String>,
    pub verdict: Verdict,
}

impl Sent {
    pub fn error(text: impl Into<String>) -> Sent {
        Sent {
            http_status: None,
            result_code: None,
            error: Some(text.into()),
            verdict: Verdict::Retry,
        }
    }
}

pub struct Clients {
    alipay: reqwest::Client,
    merchant: reqwest::Client,
}

impl Clients {
    pub fn new(config: &NotifierConfig) -> anyhow::Result<Clients> {
        let roots = match &config.ssl_cert_file {
            Some(path) => {
                let pem = std::fs::read(path)
                    .with_context(|| format!("SSL_CERT_FILE: cannot read {}", path.display()))?;
                Some(
                    reqwest::Certificate::from_pem_bundle(&pem)
                        .context("SSL_CERT_FILE: no PEM certificates")?,
                )
            }
            None => None,
        };
        let builder = |resolver: Option<GuardedResolver>| -> anyhow::Result<reqwest::Client> {
            let mut b = reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(config.connect_timeout)
                .timeout(config.request_timeout)
                .user_agent(concat!("mpp-registrar/", env!("CARGO_PKG_VERSION")));
            if let Some(certs) = &roots {
                b = b.tls_certs_only(certs.clone());
            }
            if let Some(r) = resolver {
                b = b.dns_resolver(std::sync::Arc::new(r));
            }
            b.build().context("cannot build the HTTP client")
        };
        Ok(Clients {
            alipay: builder(None)?,
            merchant: builder(Some(GuardedResolver {
                allow_private: config.allow_private_targets,
            }))?,
        })
    }

    pub async fn send_alipay(
        &self,
        config: &NotifierConfig,
        gateway: &url::Url,
        claimed: &Claimed,
    ) -> Sent {
        let url = format!("{}{}", gateway.as_str().trim_end_matches('/'), claimed.url);
        let Ok(url) = url::Url::parse(&url) else {
            return Sent::error("bad Alipay+ URL");
        };
        let answer = match post_signed(&self.alipay, config, &url, &claimed.body).await {
            Ok(a) => a,
            Err(e) => return Sent::error(e),
        };
        let result = read_result(&answer.body);
        let verified = answer.status == 200 && verify_answer(config, &url, &answer);
        let verdict = if answer.status == 200 {
            judge_alipay_answer(
                verified,
                result.as_ref().map(|r| r.result_status.as_str()),
                result.as_ref().map(|r| r.result_code.as_str()),
            )
        } else {
            Verdict::Retry
        };
        let error = match (answer.status, verified, &verdict) {
            (200, _, Verdict::Delivered) => None,
            (200, false, _) => Some("answer unsigned or its signature does not verify".to_owned()),
            (200, true, _) => result
                .as_ref()
                .and_then(|r| r.result_message.clone())
                .or(Some("not accepted".into())),
            (status, _, _) => Some(format!("HTTP {status}")),
        };
        Sent {
            http_status: Some(answer.status),
            result_code: result.map(|r| r.result_code).filter(|c| !c.is_empty()),
            error,
            verdict,
        }
    }

    pub async fn send_merchant(&self, config: &NotifierConfig, claimed: &Claimed) -> Sent {
        let url = match url::Url::parse(&claimed.url) {
            Ok(u) if u.scheme() == "https" => u,
            _ => {
                return Sent {
                    verdict: Verdict::Failed,
                    ..Sent::error("registrationNotifyUrl is not an https URL")
                };
            }
        };
        // Literal addresses skip DNS, so they are checked here.
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal
            && !config.allow_private_targets
            && let Some(range) = refusal(ip)
        {
            return Sent::error(format!(
                "{ip} is not an address merchant notifications may go to: {range}"
            ));
        }
        let answer = match post_signed(&self.merchant, config, &url, &claimed.body).await {
            Ok(a) => a,
            Err(e) => return Sent::error(e),
        };
        let result = read_result(&answer.body);
        let verdict = judge_merchant_answer(
            answer.status == 200,
            result.as_ref().map(|r| r.result_status.as_str()),
        );
        let error = match (&verdict, answer.status) {
            (Verdict::Delivered, _) => None,
            (_, 200) => Some("no acknowledgement with resultStatus S".to_owned()),
            (_, status) => Some(format!("HTTP {status}")),
        };
        Sent {
            http_status: Some(answer.status),
            result_code: result.map(|r| r.result_code),
            error,
            verdict,
        }
    }
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// POSTs the stored body with a fresh Request-Time and signature.
async fn post_signed(
    client: &reqwest::Client,
    config: &NotifierConfig,
    url: &url::Url,
    body: &str,
) -> Result<Answer, String> {
    let request_time = now_timestamp();
    let uri = request_target(url);
    let message = string_to_sign(
        "POST",
        &uri,
        &config.client_id,
        &request_time,
        body.as_bytes(),
    );
    let signature = config
        .signer
        .header_for(&message)
        .map_err(|e| e.to_string())?;
    let response = client
        .post(url.clone())
        .header("Content-Type", "application/json; charset=UTF-8")
        .header("Client-Id", &config.client_id)
        .header("Request-Time", &request_time)
        .header("Signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .map_err(describe)?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let mut response = response;
    let mut buffer = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(describe)? {
        if buffer.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(format!("answer larger than {MAX_ANSWER_BYTES} bytes"));
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        headers,
        body: buffer,
    })
}

/// The request target as signed: path plus query.
fn request_target(url: &url::Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// Alipay+'s answer must be signed over the exact bytes it sent.
fn verify_answer(config: &NotifierConfig, url: &url::Url, answer: &Answer) -> bool {
    let header = |name: &str| answer.headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(signature), Some(time)) = (header("signature"), header("response-time")) else {
        return false;
    };
    let client_id = header("client-id").unwrap_or(&config.client_id);
    let Ok(parsed) = SignatureHeader::parse(signature) else {
        return false;
    };
    let Some(key) = config.alipay_keys.find(parsed.key_version.as_deref()) else {
        return false;
    };
    key.verify(
        &string_to_sign("POST", &request_target(url), client_id, time, &answer.body),
        &parsed.signature,
    )
}

/// A short, secret-free account of a transport error.
fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_redirect() {
        "redirect not followed"
    } else if e.is_body() || e.is_decode() {
        "bad answer body"
    } else {
        "request failed"
    };
    let mut detail = String::new();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}
