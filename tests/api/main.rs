//! Integration tests: the real server, a real PostgreSQL, signed like Alipay+.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod admin;
mod browser;
mod cli;
mod console;
mod failover;
mod fire;
mod helpers;
mod hostile;
mod idempotency;
mod inquiry;
mod merchant_rules;
mod notifier;
mod openapi;
mod processes;
mod properties;
mod registration;
mod schema;
mod security;
mod sso;
mod stubs;
mod transport;
mod triage;
mod two_factor;
mod upgrade;
mod walkthrough;
