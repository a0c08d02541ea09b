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
//!
//! A Response-Time names the millisecond the signature was made in, or the
//! next one when the request came in that same millisecond; an answer is
//! held until the instant it names (`SignedHeaders::not_before`, at most a
//! millisecond away), so no answer is dated after it was sent either.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::protocol::signature::{SignError, Signer, string_to_sign};
use crate::protocol::time::{format_timestamp, response_instant};

/// More distinct answers than this within one window are signed each time:
/// the cache stays small however varied the answers are.
const MAX_ENTRIES: usize = 256;
/// Bodies longer than this (inquiry lists) are unlikely to repeat.
const MAX_BODY: usize = 1024;
/// How long an answer waits for a signature being made by another request
/// before making its own (a signature takes well under a millisecond).
const MAX_WAIT: Duration = Duration::from_millis(20);

/// The headers that make an answer verifiable.
#[derive(Debug, Clone)]
pub struct SignedHeaders {
    pub response_time: String,
    pub signature: String,
    /// The instant the Response-Time names: send the answer no earlier.
    pub not_before: DateTime<Utc>,
}

/// What is known of the latest signature of one answer.
enum Slot {
    /// Signed at `at`, with a Response-Time naming `stamp`.
    Signed {
        at: Instant,
        stamp: DateTime<Utc>,
        headers: SignedHeaders,
    },
    /// Being signed since `since`, with a Response-Time naming `stamp`.
    Signing {
        since: Instant,
        stamp: DateTime<Utc>,
    },
}

impl Slot {
    fn stamp(&self) -> DateTime<Utc> {
        match self {
            Slot::Signed { stamp, .. } | Slot::Signing { stamp, .. } => *stamp,
        }
    }

    fn is_live(&self, window: Duration) -> bool {
        match self {
            Slot::Signed { at, .. } => at.elapsed() < window,
            Slot::Signing { since, .. } => since.elapsed() < MAX_WAIT,
        }
    }
}

pub struct AnswerSigner {
    signer: Arc<Signer>,
    window: Duration,
    slots: Mutex<HashMap<Vec<u8>, Slot>>,
    /// Wakes the answers waiting for a signature being made.
    signed: Condvar,
}

impl AnswerSigner {
    /// `window` zero signs every answer afresh.
    pub fn new(signer: Arc<Signer>, window: Duration) -> AnswerSigner {
        AnswerSigner {
            signer,
            window,
            slots: Mutex::new(HashMap::new()),
            signed: Condvar::new(),
        }
    }

    /// A Response-Time, never before `arrived` (when the request came in),
    /// and the Signature over the answer.
    ///
    /// Identical answers made at the same moment would each pay for a
    /// signature of their own; instead, one signs and the others, whose
    /// requests had arrived by the instant its Response-Time names, wait for
    /// it (a worker thread would be as busy signing).
    pub fn sign(
        &self,
        method: &str,
        uri: &str,
        client_id: &str,
        body: &[u8],
        arrived: DateTime<Utc>,
    ) -> Result<SignedHeaders, SignError> {
        if self.window.is_zero() || body.len() > MAX_BODY {
            let stamp = response_instant(Utc::now(), arrived);
            return self.sign_at(method, uri, client_id, body, stamp);
        }
        let key = answer_key(method, uri, client_id, body);
        let stamp = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                match slots.get(&key) {
                    Some(Slot::Signed { at, stamp, headers })
                        if at.elapsed() < self.window && *stamp >= arrived =>
                    {
                        return Ok(headers.clone());
                    }
                    Some(Slot::Signing { since, stamp })
                        if since.elapsed() < MAX_WAIT && *stamp >= arrived =>
                    {
                        slots = self
                            .signed
                            .wait_timeout(slots, MAX_WAIT)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0;
                    }
                    Some(_) | None => break,
                }
            }
            let stamp = response_instant(Utc::now(), arrived);
            if slots.len() >= MAX_ENTRIES {
                slots.retain(|_, s| s.is_live(self.window));
            }
            if slots.len() < MAX_ENTRIES {
                let since = Instant::now();
                slots.insert(key.clone(), Slot::Signing { since, stamp });
            }
            stamp
        };
        let signed = self.sign_at(method, uri, client_id, body, stamp);
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        // Publish unless a later signature took the slot meanwhile.
        let ours = slots.get(&key).is_none_or(|s| s.stamp() <= stamp);
        match &signed {
            Ok(headers) if ours => {
                let at = Instant::now();
                let headers = headers.clone();
                slots.insert(key, Slot::Signed { at, stamp, headers });
            }
            Err(_) if ours => {
                slots.remove(&key);
            }
            Ok(_) | Err(_) => {}
        }
        drop(slots);
        self.signed.notify_all();
        signed
    }

    fn sign_at(
        &self,
        method: &str,
        uri: &str,
        client_id: &str,
        body: &[u8],
        stamp: DateTime<Utc>,
    ) -> Result<SignedHeaders, SignError> {
        let response_time = format_timestamp(stamp);
        let message = string_to_sign(method, uri, client_id, &response_time, body);
        Ok(SignedHeaders {
            signature: self.signer.header_for(&message)?,
            response_time,
            not_before: stamp,
        })
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
    fn identical_answers_made_at_once_wait_for_one_signature() {
        let (answers, verifier) = signer(Duration::from_secs(60));
        let arrived = Utc::now();
        let start = std::sync::Barrier::new(8);
        let signed: Vec<SignedHeaders> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        answers.sign("POST", "/p", "C", b"{}", arrived).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(signed.iter().all(|h| h.signature == signed[0].signature));
        assert!(verifies(&verifier, "C", &signed[0], b"{}"));
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
