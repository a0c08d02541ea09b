//! mpp-registrar: the merchant registration server of an Alipay+ MPP (wallet).
//!
//! Layers: `protocol` (wire types, result codes, signatures) ← `domain`
//! (validation and rules) ← `db` (PostgreSQL) ← `api` (HTTP). `startup` wires
//! them together; `config` and `cli` read the settings.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod accounts;
pub mod admin;
pub mod api;
pub mod body_limit;
pub mod cli;
pub mod commands;
pub mod config;
pub mod db;
pub mod domain;
pub mod housekeeping;
pub mod metrics;
pub mod notifier;
pub mod pgcluster;
pub mod protocol;
pub mod simulate;
pub mod startup;
pub mod telemetry;
pub mod triage_commands;
pub mod workflow;
