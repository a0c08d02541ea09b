//! Sends signed, varied, valid registrations to a server, as Alipay+ would,
//! and reports what came back.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use serde_json::{Value, json};

use crate::protocol::signature::{Signer, string_to_sign};
use crate::protocol::{now_timestamp, paths};

/// A registration request for merchant number `n` of a run tagged `run`.
/// Products, store data and names vary with `n`.
pub fn sample_registration(run: &str, n: usize) -> Value {
    let merchant = format!("{run}-M{n:06}");
    let mcc = ["5812", "5411", "5999", "7011"][n % 4];
    let region = ["HK", "SG", "MY", "TH"][n % 4];
    let mut body = json!({
        "registrationRequestId": format!("{run}-R{n:06}"),
        "productCodes": ["CASHIER_PAYMENT"],
        "merchantInfo": {
            "referenceMerchantId": merchant,
            "merchantDisplayName": format!("Sample Shop {n}"),
            "merchantMCC": mcc,
            "websites": [{"url": format!("https://shop{n}.example.com"), "name": "Shop"}],
            "merchantAddress": {"region": region, "city": "Central", "address1": format!("{n} Queen's Road")},
            "registrationDetail": {
                "legalName": format!("Sample Shop {n} Limited"),
                "registrationType": "ENTERPRISE_REGISTRATION_NO",
                "registrationNo": format!("{:08}", 10_000_000 + n),
                "registrationAddress": {"region": "HK", "address1": format!("{n} Queen's Road")},
                "businessType": if n.is_multiple_of(3) { "INDIVIDUAL" } else { "ENTERPRISE" },
                "contactInfo": [{"contactNo": format!("ops{n}@example.com"), "contactType": "EMAIL"}]
            }
        }
    });
    match n % 3 {
        1 => body["productCodes"] = json!(["CASHIER_PAYMENT", "AGREEMENT_PAYMENT"]),
        2 => {
            body["productCodes"] = json!(["IN_STORE_PAYMENT"]);
            body["storeInfo"] = json!({
                "referenceStoreId": format!("S{n:06}"),
                "storeName": format!("Sample Shop {n} - Central"),
                "storeMCC": "5812",
                "storeAddress": {"region": "HK", "address1": format!("{n} Des Voeux Road")}
            });
        }
        _ => {}
    }
    body
}

/// A request ready to send: body bytes and its headers.
#[derive(Debug, Clone)]
pub struct SignedRequest {
    pub body: Vec<u8>,
    pub request_time: String,
    pub signature: String,
}

pub fn sign_request(
    signer: &Signer,
    client_id: &str,
    path: &str,
    body: Vec<u8>,
) -> anyhow::Result<SignedRequest> {
    let request_time = now_timestamp();
    let signature = signer.header_for(&string_to_sign(
        "POST",
        path,
        client_id,
        &request_time,
        &body,
    ))?;
    Ok(SignedRequest {
        body,
        request_time,
        signature,
    })
}

/// What a run came to.
#[derive(Debug, Default)]
pub struct Report {
    pub sent: usize,
    pub by_result: BTreeMap<String, usize>,
    pub errors: usize,
    pub elapsed: Duration,
    /// Sorted latencies of the answered requests.
    pub latencies: Vec<Duration>,
}

impl Report {
    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let index = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[index.min(self.latencies.len() - 1)]
    }

    pub fn print(&self) {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        println!(
            "sent {} in {:.2} s ({:.0}/s); p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms; transport errors {}",
            self.sent,
            secs,
            self.sent as f64 / secs,
            self.percentile(0.50).as_secs_f64() * 1000.0,
            self.percentile(0.95).as_secs_f64() * 1000.0,
            self.percentile(0.99).as_secs_f64() * 1000.0,
            self.errors
        );
        for (code, n) in &self.by_result {
            println!("  {code}: {n}");
        }
    }
}

/// Sends pre-signed requests to `target` (the server's base URL) at `concurrency`.
pub async fn send_all(
    target: &str,
    client_id: &str,
    requests: Vec<SignedRequest>,
    concurrency: usize,
) -> Report {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .no_proxy()
        .build()
        .unwrap_or_default();
    let url = Arc::new(format!(
        "{}{}",
        target.trim_end_matches('/'),
        paths::REGISTRATION
    ));
    let started = Instant::now();
    let outcomes: Vec<(Option<String>, Duration)> = futures_util::stream::iter(requests)
        .map(|req| {
            let (client, url, client_id) = (client.clone(), url.clone(), client_id.to_owned());
            async move {
                let sent_at = Instant::now();
                let answer = client
                    .post(url.as_str())
                    .header("Content-Type", "application/json; charset=UTF-8")
                    .header("Client-Id", client_id)
                    .header("Request-Time", req.request_time)
                    .header("Signature", req.signature)
                    .body(req.body)
                    .send()
                    .await;
                let code = match answer {
                    Ok(response) => response.bytes().await.ok().and_then(|b| {
                        crate::protocol::notify::read_result(&b).map(|r| r.result_code)
                    }),
                    Err(_) => None,
                };
                (code, sent_at.elapsed())
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut report = Report {
        sent: outcomes.len(),
        elapsed: started.elapsed(),
        ..Report::default()
    };
    for (code, latency) in outcomes {
        match code {
            Some(code) => {
                *report.by_result.entry(code).or_default() += 1;
                report.latencies.push(latency);
            }
            None => report.errors += 1,
        }
    }
    report.latencies.sort();
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::registration::validate;
    use crate::protocol::registration::RegistrationRequest;

    #[test]
    fn samples_are_valid_and_varied() {
        let mut products = std::collections::BTreeSet::new();
        for n in 0..12 {
            let body = sample_registration("T", n);
            let r = validate(&RegistrationRequest::from_value(&body).unwrap()).unwrap();
            assert!(r.review_flags.is_empty(), "{:?}", r.review_flags);
            products.insert(format!("{:?}", r.product_codes));
        }
        assert_eq!(products.len(), 3);
    }
}
