//! Micro-benchmarks of the per-request work that is not I/O: signature
//! verification and signing, canonical fingerprints, validation and the
//! scan for invisible characters.
//! `cargo bench --bench micro`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use mpp_registrar::domain::registration::validate;
use mpp_registrar::domain::text::fields_with_invisible_characters;
use mpp_registrar::protocol::canonical::fingerprint;
use mpp_registrar::protocol::keys::{read_signer, read_verifier};
use mpp_registrar::protocol::registration::{RegistrationRequest, parse_body};
use mpp_registrar::protocol::signature::{SignatureHeader, string_to_sign};

fn fixture(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn signatures(c: &mut Criterion) {
    let signer = read_signer(&fixture("test-vectors/private_key_pkcs8.pem"), "1").unwrap();
    let verifier = read_verifier(&fixture("test-vectors/public_key.pem")).unwrap();
    let body = std::fs::read(fixture("test-vectors/request_body.json")).unwrap();
    let message = string_to_sign(
        "POST",
        "/aps/api/v1/merchants/registration",
        "TEST",
        "2024-05-28T12:12:12.123+08:00",
        &body,
    );
    let header = signer.header_for(&message).unwrap();
    c.bench_function("sign (RSA-2048, aws-lc)", |b| {
        b.iter(|| signer.header_for(&message).unwrap())
    });
    c.bench_function("parse header and verify", |b| {
        b.iter(|| {
            let parsed = SignatureHeader::parse(&header).unwrap();
            assert!(verifier.verify(&message, &parsed.signature));
        })
    });
}

fn request_work(c: &mut Criterion) {
    let body = std::fs::read(fixture("samples/registration-request-online.json")).unwrap();
    let value = parse_body(&body).unwrap();
    c.bench_function("canonical fingerprint", |b| b.iter(|| fingerprint(&value)));
    c.bench_function("parse the body", |b| b.iter(|| parse_body(&body).unwrap()));
    c.bench_function("read the typed request from the parsed body", |b| {
        b.iter(|| RegistrationRequest::from_value(&value).unwrap())
    });
    c.bench_function("validate the typed request", |b| {
        let request = RegistrationRequest::from_value(&value).unwrap();
        b.iter(|| validate(&request).unwrap())
    });
    c.bench_function("scan every member for invisible characters", |b| {
        b.iter(|| fields_with_invisible_characters(&value))
    });
    c.bench_function("parse and validate a registration", |b| {
        b.iter(|| {
            let value = parse_body(&body).unwrap();
            let registration = validate(&RegistrationRequest::from_value(&value).unwrap()).unwrap();
            (fingerprint(&value), registration)
        })
    });
}

/// Screening one registration against 10,000 names, and routing it by 50 rules.
fn triage(c: &mut Criterion) {
    use mpp_registrar::domain::ApprovalMode;
    use mpp_registrar::domain::screening::{List, ListKind, Lists};
    use mpp_registrar::simulate::{policy, register::sample_registration};
    use mpp_registrar::workflow::triage::route;

    let entries = policy::names(10_000)
        .into_iter()
        .filter_map(|n| ListKind::Names.key(&n).map(|k| (n, k)));
    let lists = Lists {
        lists: vec![List::new("bench".into(), ListKind::Names, 1, entries)],
    };
    let rules = mpp_registrar::domain::rules::parse("rules.toml", &policy::rules(50)).unwrap();
    let body = sample_registration("BENCH", 7);
    let r = validate(&RegistrationRequest::from_value(&body).unwrap()).unwrap();
    // A name one edit from an entry: the filter must find and score it.
    let mut near = r.subject.clone();
    near.names[0].1 = format!("{}x", policy::names(10_000)[4321]);
    assert_eq!(lists.screen(&near, 0.9).len(), 1);
    // The load benchmark's registrations: names with numbers, as list entries have.
    let subjects: Vec<_> = (0..1000)
        .map(|n| {
            let body = sample_registration("BENCH", n * 11);
            validate(&RegistrationRequest::from_value(&body).unwrap())
                .unwrap()
                .subject
        })
        .collect();
    let mut next = 0;
    c.bench_function("screen one registration, 10,000 names", |b| {
        b.iter(|| {
            next = (next + 1) % subjects.len();
            lists.screen(&subjects[next], 0.9)
        })
    });
    c.bench_function("screen a near match, 10,000 names", |b| {
        b.iter(|| lists.screen(&near, 0.9))
    });
    let none = std::collections::BTreeSet::new();
    c.bench_function("route by 50 rules", |b| {
        b.iter(|| route(Some(&rules), ApprovalMode::Manual, &r, None, &none))
    });
}

criterion_group!(benches, signatures, request_work, triage);
criterion_main!(benches);
