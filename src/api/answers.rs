//! Signing answers, with one signature shared by identical answers made
//! within a few milliseconds of each other.
//!
//! An answer's string-to-sign is its method, path, Client-Id, Response-Time
//! and body. Under load most answers are byte-identical (every new
//! registration in Approval Mode gets the same `REGISTRATION_IN_PROCESS`
//! result, and so does its replay), and one RSA-2048 signature costs more CPU
//! than all the rest of a request. PKCS#1 v1.5 signatures are deterministic,
//! so an answer identical to one signed less than `window` ago may be sent
//! with that one's Response-Time and Signature: exactly what signing it at
//! that instant gives. Only to a request that had arrived by that instant,
//! though: no answer is ever dated before its request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::protocol::signature::{SignError, Signer, string_to_sign};
use crate::protocol::time::{format_timestamp, response_instant};

/// More distinct answers than this within one window are signed each time:
/// the cache stays small however varied the answers are.
const MAX_ENTRIES: usize = 256;
/// Bodies longer than this (inquiry lists) are unlikely to repeat.
const MAX_BODY: usize = 1024;

/// The headers that make an answer verifiable.
#[derive(Debug, Clone)]
pub struct SignedHeaders {
    pub response_time: String,
    pub signature: String,
}

struct Recent {
    at: Instant,
    /// The instant its Response-Time names.
    stamp: DateTime<Utc>,
    headers: SignedHeaders,
}

pub struct AnswerSigner {
    signer: Arc<Signer>,
    window: Duration,
    recent: Mutex<HashMap<Vec<u8>, Recent>>,
}

impl AnswerSigner {
    /// `window` zero signs every answer afresh.
    pub fn new(signer: Arc<Signer>, window: Duration) -> AnswerSigner {
        AnswerSigner {
            signer,
            window,
            recent: Mutex::new(HashMap::new()),
        }
    }

    /// A Response-Time, never before `arrived` (when the request came in),
    /// and the Signature over the answer.
    pub fn sign(
        &self,
        method: &str,
        uri: &str,
        client_id: &str,
        body: &[u8],
        arrived: DateTime<Utc>,
    ) -> Result<SignedHeaders, SignError> {
        let cacheable = !self.window.is_zero() && body.len() <= MAX_BODY;
        let key = cacheable.then(|| answer_key(method, uri, client_id, body));
        if let Some(key) = &key
            && let Some(hit) = self.lookup(key, arrived)
        {
            return Ok(hit);
        }
        let stamp = response_instant(Utc::now(), arrived);
        let response_time = format_timestamp(stamp);
        let message = string_to_sign(method, uri, client_id, &response_time, body);
        let headers = SignedHeaders {
            signature: self.signer.header_for(&message)?,
            response_time,
        };
        if let Some(key) = key {
            self.remember(key, stamp, &headers);
        }
        Ok(headers)
    }

    /// A recent signature of the same answer, dated no earlier than `arrived`.
    fn lookup(&self, key: &[u8], arrived: DateTime<Utc>) -> Option<SignedHeaders> {
        let recent = self.recent.lock().ok()?;
        recent
            .get(key)
            .filter(|r| r.at.elapsed() < self.window && r.stamp >= arrived)
            .map(|r| r.headers.clone())
    }

    fn remember(&self, key: Vec<u8>, stamp: DateTime<Utc>, headers: &SignedHeaders) {
        let Ok(mut recent) = self.recent.lock() else {
            return;
        };
        if recent.len() >= MAX_ENTRIES {
            recent.retain(|_, r| r.at.elapsed() < self.window);
        }
        if recent.len() < MAX_ENTRIES {
            recent.insert(
                key,
                Recent {
                    at: Instant::now(),
                    stamp,
                    headers: headers.clone(),
                },
            );
        }
    }
}

/// Everything in the string-to-sign but the time, unambiguously joined (the
/// method and path hold no newline; the Client-Id is a header value).
fn answer_key(method: &str, uri: &str, client_id: &str, body: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(method.len() + uri.len() + client_id.len() + body.len() + 3);
    for part in [method.as_bytes(), uri.as_bytes(), client_id.as_bytes()] {
        key.extend_from_slice(part);
        key.push(b'\n');
    }
    key.extend_from_slice(body);
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::keys::generate_key_pair;

    fn signer(window: Duration) -> (AnswerSigner, crate::protocol::signature::Verifier) {
        let pair = generate_key_pair().unwrap();
        let signer = crate::protocol::keys::signer_from_text(&pair.private_pem, "1").unwrap();
        let verifier = signer.verifier().unwrap();
        (AnswerSigner::new(Arc::new(signer), window), verifier)
    }

    fn verifies(
        verifier: &crate::protocol::signature::Verifier,
        client_id: &str,
        headers: &SignedHeaders,
        body: &[u8],
    ) -> bool {
        let parsed =
            crate::protocol::signature::SignatureHeader::parse(&headers.signature).unwrap();
        let message = string_to_sign("POST", "/p", client_id, &headers.response_time, body);
        verifier.verify(&message, &parsed.signature)
    }

    fn parsed(headers: &SignedHeaders) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&headers.response_time)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn identical_answers_to_requests_that_came_before_it_share_time_and_signature() {
        let (answers, verifier) = signer(Duration::from_secs(60));
        let arrived = Utc::now();
        let first = answers.sign("POST", "/p", "C", b"{}", arrived).unwrap();
        let again = answers.sign("POST", "/p", "C", b"{}", arrived).unwrap();
        assert_eq!(first.response_time, again.response_time);
        assert_eq!(first.signature, again.signature);
        for (client, body) in [("C", &b"{ }"[..]), ("D", &b"{}"[..])] {
            let other = answers.sign("POST", "/p", client, body, arrived).unwrap();
            assert!(verifies(&verifier, client, &other, body));
        }
        assert!(verifies(&verifier, "C", &again, b"{}"));
    }

    #[test]
    fn a_request_that_came_after_the_shared_stamp_gets_a_fresh_one() {
        let (answers, verifier) = signer(Duration::from_secs(60));
        let first = answers.sign("POST", "/p", "C", b"{}", Utc::now()).unwrap();
        std::thread::sleep(Duration::from_millis(3));
        let later = Utc::now();
        let again = answers.sign("POST", "/p", "C", b"{}", later).unwrap();
        assert_ne!(first.response_time, again.response_time);
        assert!(parsed(&again) >= later);
        assert!(verifies(&verifier, "C", &again, b"{}"));
    }

    #[test]
    fn a_zero_window_signs_every_answer() {
        let (answers, verifier) = signer(Duration::ZERO);
        let first = answers.sign("POST", "/p", "C", b"{}", Utc::now()).unwrap();
        std::thread::sleep(Duration::from_millis(2));
        let again = answers.sign("POST", "/p", "C", b"{}", Utc::now()).unwrap();
        assert_ne!(first.response_time, again.response_time);
        assert!(verifies(&verifier, "C", &again, b"{}"));
    }
}
