//! The reviewers' admin pages: sign-in, the review queue, a registration's
//! detail page with its decision form, and user management. Server-rendered
//! (askama), no scripts, no external assets.

mod account;
mod audit_page;
mod auth;
mod chrome;
mod decision;
mod detail;
mod error;
mod evidence;
mod export;
mod login;
mod notifications;
mod params;
pub mod password;
mod queue;
mod render;
mod rules_page;
pub mod sealing;
mod setup;
pub mod sso;
mod two_factor;
mod users;
mod views;

use std::sync::Arc;
use std::time::Duration;

use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpResponse, web};

use crate::db::{DbTimeouts, PgPool};
use crate::domain::notification::NotifyPolicy;

pub use auth::Reviewer;

/// What the admin pages need, shared by every worker.
pub struct AdminContext {
    pub pool: PgPool,
    /// The triage rules and lists in force (`/admin/rules`).
    pub triage: std::sync::Arc<crate::workflow::triage::Triage>,
    pub db_timeouts: DbTimeouts,
    /// Mark cookies `Secure` (the pages are served over TLS).
    pub secure_cookies: bool,
    /// A session not used for this long is over.
    pub session_idle: Duration,
    /// A session this old is over, however busy.
    pub session_max_age: Duration,
    /// Reasons a reviewer can pick instead of typing one.
    pub reason_templates: Vec<String>,
    /// Use `X-Forwarded-For` as the client address (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
    /// A hash to verify against for unknown users, so they take as long as known ones.
    pub dummy_password_hash: String,
    /// Checks passwords, a bounded number at once.
    pub passwords: password::Verifier,
    pub notify_policy: NotifyPolicy,
    /// Whether password accounts need a second factor.
    pub mfa: crate::domain::two_factor::Mfa,
    /// Seals TOTP secrets at rest (and the SSO flow's cookie).
    pub secrets: sealing::SecretBox,
    /// Single sign-on, when configured.
    pub sso: Option<crate::config::SsoSettings>,
    /// The provider's metadata, discovered at the first SSO sign-in.
    pub discovery: sso::Discovery,
    /// `false` (`MPP_PASSWORD_SIGN_IN=false`): SSO only.
    pub password_sign_in: bool,
    /// Wakes this process's notifier at once after a decision.
    pub notifier_wake: Arc<tokio::sync::Notify>,
    /// A PENDING registration waiting longer is Overdue.
    pub review_sla: Duration,
    pub claim_ttl: Duration,
    pub four_eyes: crate::domain::review::FourEyes,
    pub environment_label: Option<String>,
    /// Whether Alipay+ notifications can be sent at all (a gateway is configured).
    pub alipay_gateway_configured: bool,
}

/// The pages' only stylesheet, inlined so that every page (sign-in included)
/// is one self-contained response; the CSP admits exactly this text by hash.
pub(crate) const STYLESHEET: &str = include_str!("admin.css");

fn content_security_policy() -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let hash = base64::engine::general_purpose::STANDARD
        .encode(sha2::Sha256::digest(STYLESHEET.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    )
}

pub fn configure(cfg: &mut web::ServiceConfig, ctx: web::Data<AdminContext>) {
    let mut headers = DefaultHeaders::new()
        .add(("Content-Security-Policy", content_security_policy()))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("Cache-Control", "no-store"));
    if ctx.secure_cookies {
        // Served over TLS: browsers must not come back over plain HTTP.
        headers = headers.add(("Strict-Transport-Security", "max-age=31536000"));
    }
    // Whoever opens the server's address in a browser lands on the admin pages.
    cfg.route(
        "/",
        web::get().to(|| async {
            HttpResponse::SeeOther()
                .insert_header(("Location", "/admin"))
                .finish()
        }),
    );
    let band = chrome::band(ctx.environment_label.as_deref());
    cfg.service(
        web::scope("/admin")
            .app_data(ctx)
            .wrap(actix_web::middleware::from_fn(move |req, next| {
                chrome::fill(band.clone(), req, next)
            }))
            .wrap(headers)
            .route("", web::get().to(queue::show))
            .route("/", web::get().to(queue::show))
            .route("/login", web::get().to(login::form))
            .route("/login", web::post().to(login::submit))
            .route("/login/two-factor", web::get().to(two_factor::form))
            .route("/login/two-factor", web::post().to(two_factor::submit))
            .route("/logout", web::post().to(login::logout))
            .route("/registrations/{id}", web::get().to(detail::show))
            .route(
                "/registrations/{id}/decision",
                web::post().to(decision::decide),
            )
            .route("/registrations/{id}/claim", web::post().to(decision::claim))
            .route(
                "/registrations/{id}/hits/{hit}/dismiss",
                web::post().to(decision::dismiss_hit),
            )
            .route("/rules", web::get().to(rules_page::show))
            .route(
                "/registrations/{id}/proposal",
                web::post().to(decision::second_review),
            )
            .route(
                "/registrations/{id}/notes",
                web::post().to(decision::add_note),
            )
            .route("/review-next", web::post().to(queue::review_next))
            .route("/export.csv", web::get().to(export::registrations))
            .route("/audit", web::get().to(audit_page::show))
            .route("/audit/export.csv", web::get().to(export::audit))
            .route("/notifications", web::get().to(notifications::list))
            .route(
                "/notifications/retry",
                web::post().to(notifications::redrive),
            )
            .route("/users", web::get().to(users::list))
            .route("/users", web::post().to(users::create))
            .route("/users/{username}/role", web::post().to(users::set_role))
            .route("/oidc/start", web::get().to(sso::start))
            .route("/oidc/callback", web::get().to(sso::callback))
            .route("/setup/{token}", web::get().to(setup::form))
            .route("/setup/{token}", web::post().to(setup::submit))
            .route("/account", web::get().to(account::show))
            .route(
                "/account/password",
                web::post().to(account::change_password),
            )
            .route(
                "/account/sessions/sign-out-others",
                web::post().to(account::sign_out_others),
            )
            .route("/users/{username}/{action}", web::post().to(users::change))
            .default_service(web::to(not_found)),
    );
}

/// Unknown admin paths: anonymous visitors go to sign-in like everywhere else.
async fn not_found(_reviewer: Reviewer) -> Result<HttpResponse, error::AdminError> {
    Err(error::AdminError::NotFound)
}
