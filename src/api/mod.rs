//! The HTTP surface for Alipay+: the signed `/aps` APIs and the health probes.

mod answers;
mod aps;
mod error;
mod health;
mod inquiry;
pub mod openapi;
mod registration;

use std::sync::Arc;

use actix_web::web;

use crate::db::intake_groups::IntakeGroups;
use crate::db::{DbTimeouts, PgPool};
use crate::domain::notification::NotifyPolicy;
use crate::metrics::Metrics;
use crate::protocol::signature::KeyRing;
use crate::workflow::triage::Triage;

pub use answers::AnswerSigner;

/// What the `/aps` handlers need, shared by every worker.
pub struct ApsContext {
    /// The Client-Id Alipay+ uses for this wallet.
    pub client_id: String,
    /// Our `pspName` in inquiry answers.
    pub psp_name: String,
    /// Signs every answer.
    pub answers: AnswerSigner,
    pub alipay_keys: Arc<KeyRing>,
    /// The triage rules and screening lists in force.
    pub triage: Arc<Triage>,
    pub max_body_bytes: usize,
    /// `MPP_REQUEST_TIME_WINDOW`: refuse a Request-Time further than this from our clock.
    pub request_time_window: Option<std::time::Duration>,
    pub pool: PgPool,
    /// The intake's statements, shared by requests that arrive together.
    pub intake_groups: Arc<IntakeGroups>,
    pub db_timeouts: DbTimeouts,
    pub notify_policy: NotifyPolicy,
    /// Wakes this process's notifier at once when work was queued here.
    pub notifier_wake: Arc<tokio::sync::Notify>,
    pub metrics: Arc<Metrics>,
}

/// What Alipay+ reaches: the signed APIs, their description, and the probes.
pub fn configure_partner(cfg: &mut web::ServiceConfig, ctx: web::Data<ApsContext>) {
    configure_probes(cfg, ctx);
    cfg.route("/openapi.json", web::get().to(openapi::serve))
        .service(web::scope("/aps").default_service(web::to(aps::entry)))
        .service(web::scope("/ams").default_service(web::to(aps::entry)));
}

/// The probes, on every listener.
pub fn configure_probes(cfg: &mut web::ServiceConfig, ctx: web::Data<ApsContext>) {
    cfg.app_data(ctx)
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz));
}

/// The metrics, which show volumes and sign-in activity: back-office only.
pub fn configure_metrics(cfg: &mut web::ServiceConfig, ctx: web::Data<ApsContext>) {
    cfg.app_data(ctx)
        .route("/metrics", web::get().to(health::metrics));
}
