//! A load generator for benchmarks: pre-signs distinct requests the way
//! Alipay+ does, drives the server over HTTP at a fixed concurrency for a
//! bounded time, and reports throughput, latency percentiles and errors.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use super::register::{SignedRequest, sample_registration, sign_request};
use crate::protocol::paths;
use crate::protocol::signature::Signer;

/// What the load consists of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Distinct new registrations.
    New,
    /// Repeats of registrations already made (idempotent replays).
    Replay,
    /// inquiryRegistrationStatus by request id.
    Inquiry,
    /// 70 % new registrations, 20 % replays, 10 % inquiries.
    Mix,
}

/// One request of the run: where it goes and its signed bytes.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub path: &'static str,
    pub signed: SignedRequest,
}

/// Signs `bodies` on every core (signing is the costly part of preparing).
pub fn sign_all(
    signer: &Signer,
    client_id: &str,
    bodies: Vec<(&'static str, Vec<u8>)>,
) -> anyhow::Result<Vec<Prepared>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let chunk = bodies.len().div_ceil(threads).max(1);
    let mut out = Vec::with_capacity(bodies.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = bodies
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(path, body)| {
                            Ok(Prepared {
                                path,
                                signed: sign_request(signer, client_id, path, body.clone())?,
                            })
                        })
                        .collect::<anyhow::Result<Vec<_>>>()
                })
            })
            .collect();
        for h in handles {
            match h.join() {
                Ok(part) => out.extend(part?),
                Err(_) => anyhow::bail!("a signing thread panicked"),
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// The bodies for a run of `mode`: `count` requests; replays and inquiries
/// refer to the registrations of `warmup` (which must be registered first).
pub fn bodies(mode: Mode, run: &str, count: usize, warmup: usize) -> Vec<(&'static str, Vec<u8>)> {
    let registration = |n: usize| {
        (
            paths::REGISTRATION,
            serde_json::to_vec(&sample_registration(run, n)).unwrap_or_default(),
        )
    };
    let inquiry = |n: usize| {
        let id = format!("{run}-R{n:06}");
        (
            paths::INQUIRY,
            serde_json::to_vec(&json!({"registrationRequestId": id})).unwrap_or_default(),
        )
    };
    let warm = warmup.max(1);
    (0..count)
        .map(|i| match mode {
            Mode::New => registration(warmup + i),
            Mode::Replay => registration(i % warm),
            Mode::Inquiry => inquiry(i % warm),
            Mode::Mix => match i % 10 {
                0 => inquiry(i % warm),
                1 | 2 => registration(i % warm),
                _ => registration(warmup + i),
            },
        })
        .collect()
}

#[derive(Debug, Default)]
pub struct LoadReport {
    pub sent: usize,
    pub elapsed: Duration,
    pub by_result: BTreeMap<String, usize>,
    pub errors: usize,
    pub latencies: Vec<Duration>,
}

impl LoadReport {
    pub fn throughput(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i.min(self.latencies.len() - 1)]
    }

    pub fn summary(&self) -> String {
        let codes: Vec<String> = self
            .by_result
            .iter()
            .map(|(c, n)| format!("{c}={n}"))
            .collect();
        format!(
            "{} requests in {:.2} s: {:.0}/s; p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms; errors {}; {}",
            self.sent,
            self.elapsed.as_secs_f64(),
            self.throughput(),
            ms(self.percentile(0.50)),
            ms(self.percentile(0.95)),
            ms(self.percentile(0.99)),
            self.errors,
            codes.join(" ")
        )
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Sends `requests` in order with `concurrency` in flight, stopping after
/// `limit` even if some are left.
pub async fn drive(
    target: &str,
    client_id: &str,
    requests: Vec<Prepared>,
    concurrency: usize,
    limit: Duration,
) -> LoadReport {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap_or_default();
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + limit;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (client, requests, next) = (client.clone(), requests.clone(), next.clone());
        let (target, client_id) = (
            target.trim_end_matches('/').to_owned(),
            client_id.to_owned(),
        );
        tasks.spawn(async move {
            let mut seen = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests.len() || Instant::now() >= deadline {
                    return seen;
                }
                let req = &requests[i];
                let sent_at = Instant::now();
                let answer = client
                    .post(format!("{target}{}", req.path))
                    .header("Content-Type", "application/json; charset=UTF-8")
                    .header("Client-Id", &client_id)
                    .header("Request-Time", &req.signed.request_time)
                    .header("Signature", &req.signed.signature)
                    .body(req.signed.body.clone())
                    .send()
                    .await;
                let code = match answer {
                    Ok(r) => r
                        .bytes()
                        .await
                        .ok()
                        .and_then(|b| crate::protocol::notify::read_result(&b))
                        .map(|r| r.result_code),
                    Err(_) => None,
                };
                seen.push((code, sent_at.elapsed()));
            }
        });
    }
    let mut report = LoadReport::default();
    while let Some(Ok(seen)) = tasks.join_next().await {
        for (code, latency) in seen {
            report.sent += 1;
            match code {
                Some(c) => {
                    *report.by_result.entry(c).or_default() += 1;
                    report.latencies.push(latency);
                }
                None => report.errors += 1,
            }
        }
    }
    report.elapsed = started.elapsed();
    report.latencies.sort();
    report
}

/// RSA-2048 signatures and verifications per second on all cores, with the
/// backend the server uses, over about `window`.
pub fn rsa_rates(
    signer: &Signer,
    verifier: &crate::protocol::signature::Verifier,
    window: Duration,
) -> (f64, f64) {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let message =
        b"POST /aps/api/v1/merchants/registration\nCLIENT.2024-05-28T12:12:12.123+08:00.{}";
    let signature = signer.sign(message).unwrap_or_default();
    let measure = |work: &(dyn Fn() + Sync)| -> f64 {
        let started = Instant::now();
        let total: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut n = 0;
                        while started.elapsed() < window {
                            work();
                            n += 1;
                        }
                        n
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
        });
        total as f64 / started.elapsed().as_secs_f64()
    };
    let sign = measure(&|| {
        let _ = signer.sign(message);
    });
    let verify = measure(&|| {
        let _ = verifier.verify(message, &signature);
    });
    (sign, verify)
}
