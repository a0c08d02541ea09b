//! The second step of a password sign-in: enrolment (a new TOTP secret shown
//! as a QR code and as text, confirmed by a first code, then ten recovery
//! codes shown once) or verification (a code, or a recovery code, each
//! accepted once). Until it succeeds there is no session: only a challenge,
//! valid five minutes, found by the hash of its cookie. Wrong codes count
//! against the sign-in throttle like wrong passwords.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template as _;
use serde::Deserialize;

use super::AdminContext;
use super::auth;
use super::error::AdminError;
use super::login::open_session;
use super::views::{Enrolment, RecoveryCodesPage, TwoFactorPage};
use crate::db::audit::{self, NewAuditEntry, action};
use crate::db::{self, sign_in, two_factor, users};
use crate::domain::sign_in::{SLOW_DELAY, Throttle, WINDOW};
use crate::domain::two_factor::{
    RECOVERY_CODES, SECRET_BYTES, matching_step, otpauth_uri, recovery_code, recovery_code_hash,
    to_base32,
};

pub const CHALLENGE_COOKIE: &str = "mpp_challenge";
const CHALLENGE_PATH: &str = "/admin/login";
const CHALLENGE_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// After a right password: a challenge instead of a session.
pub async fn challenge(
    ctx: &AdminContext,
    user_id: i64,
    address: &str,
) -> Result<HttpResponse, AdminError> {
    let token = auth::new_token()?;
    let csrf = auth::new_token()?;
    let hash = auth::hash_token(&token);
    let address = address.to_owned();
    db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        Ok(two_factor::insert_challenge(
            conn, &hash, user_id, &csrf, &address,
        )?)
    })
    .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", "/admin/login/two-factor"))
        .cookie(auth::admin_cookie(
            CHALLENGE_COOKIE,
            token,
            CHALLENGE_PATH,
            ctx.secure_cookies,
        ))
        .cookie(auth::removal_cookie(
            auth::LOGIN_CSRF_COOKIE,
            CHALLENGE_PATH,
            ctx.secure_cookies,
        ))
        .finish())
}

/// The challenge, the user behind it, and the secret the page is about: the
/// enrolled one (`enrolling` false) or a new one kept with the challenge.
struct Context {
    id_hash: Vec<u8>,
    challenge: two_factor::Challenge,
    user: users::User,
    secret: Vec<u8>,
    enrolling: bool,
}

fn bound_to(user_id: i64) -> Vec<u8> {
    format!("user {user_id} totp").into_bytes()
}

async fn load(req: &HttpRequest, ctx: &AdminContext) -> Result<Option<Context>, AdminError> {
    let Some(cookie) = req.cookie(CHALLENGE_COOKIE) else {
        return Ok(None);
    };
    let id_hash = auth::hash_token(cookie.value());
    let since =
        chrono::Utc::now() - chrono::Duration::from_std(CHALLENGE_LIFETIME).unwrap_or_default();
    let lookup = id_hash.clone();
    let found = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        let Some(challenge) = two_factor::find_challenge(conn, &lookup, since)? else {
            return Ok(None);
        };
        let user = users::find_user_by_id(conn, challenge.user_id)?;
        Ok(user.map(|u| (challenge, u)))
    })
    .await?;
    let Some((challenge, user)) = found else {
        return Ok(None);
    };
    if user.disabled_at.is_some() {
        return Ok(None);
    }
    let bound = bound_to(user.id);
    // An enrolled secret that no longer opens (the private key was rotated)
    // means enrolling again.
    let enrolled = user
        .totp_enrolled_at
        .and(user.totp_secret.as_deref())
        .and_then(|sealed| ctx.secrets.open(sealed, &bound));
    if let Some(secret) = enrolled {
        return Ok(Some(Context {
            id_hash,
            challenge,
            user,
            secret,
            enrolling: false,
        }));
    }
    let pending = challenge
        .pending_secret
        .as_deref()
        .and_then(|sealed| ctx.secrets.open(sealed, &bound));
    let secret = match pending {
        Some(secret) => secret,
        None => {
            let mut secret = vec![0u8; SECRET_BYTES];
            aws_lc_rs::rand::fill(&mut secret)
                .map_err(|_| AdminError::Internal("no randomness".into()))?;
            let sealed = ctx
                .secrets
                .seal(&secret, &bound)
                .ok_or_else(|| AdminError::Internal("cannot seal".into()))?;
            let key = id_hash.clone();
            db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
                Ok(two_factor::set_pending_secret(conn, &key, &sealed)?)
            })
            .await?;
            secret
        }
    };
    Ok(Some(Context {
        id_hash,
        challenge,
        user,
        secret,
        enrolling: true,
    }))
}

fn page(c: &Context, error: Option<&str>, status: StatusCode) -> Result<HttpResponse, AdminError> {
    let enrol = match c.enrolling {
        true => {
            let uri = otpauth_uri(&c.user.username, &c.secret);
            let qr = qrcode::QrCode::new(uri.as_bytes())
                .map_err(|e| AdminError::Internal(e.to_string()))?;
            let svg = qr
                .render::<qrcode::render::svg::Color>()
                .min_dimensions(200, 200)
                .build();
            // Inline in the page: no XML declaration.
            let qr_svg = match svg.find("<svg") {
                Some(at) => svg[at..].to_owned(),
                None => svg,
            };
            Some(Enrolment {
                qr_svg,
                secret: to_base32(&c.secret),
            })
        }
        false => None,
    };
    let body = TwoFactorPage {
        csrf: &c.challenge.csrf_token,
        enrol,
        error,
    }
    .render()
    .map_err(|e| AdminError::Internal(e.to_string()))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

fn back_to_sign_in() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", "/admin/login"))
        .finish()
}

/// GET /admin/login/two-factor.
pub async fn form(
    req: HttpRequest,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    match load(&req, &ctx).await? {
        Some(c) => page(&c, None, StatusCode::OK),
        None => Ok(back_to_sign_in()),
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

/// What a code turned out to be.
enum Checked {
    /// A TOTP code, first use of its step.
    Code {
        step: i64,
    },
    RecoveryCode,
    Wrong,
}

/// POST /admin/login/two-factor.
pub async fn submit(
    req: HttpRequest,
    form: web::Form<CodeForm>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    auth::check_origin(&req, &ctx)?;
    let Some(c) = load(&req, &ctx).await? else {
        return Ok(back_to_sign_in());
    };
    if form.csrf.is_empty() || !auth::tokens_equal(&form.csrf, &c.challenge.csrf_token) {
        return Err(AdminError::Csrf);
    }
    let username = c.user.username.clone();
    let address = auth::client_address(&req, ctx.trust_forwarded_for);
    let (name, addr) = (username.clone(), address.clone());
    let reserved = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        Ok(sign_in::reserve(conn, &name, &addr, WINDOW)?)
    })
    .await?;
    let Some(reserved) = reserved else {
        let text = format!(
            "Too many failed sign-ins. Try again in {} minutes.",
            WINDOW.as_secs() / 60
        );
        return page(&c, Some(&text), StatusCode::TOO_MANY_REQUESTS);
    };
    if reserved.throttle == Throttle::Slow {
        tokio::time::sleep(SLOW_DELAY).await;
    }
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let step = matching_step(&c.secret, &form.code, now);
    let recovery = recovery_code_hash(&form.code);
    let (user_id, enrolling) = (c.user.id, c.enrolling);
    let attempt = reserved.id;
    let checked = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        let checked = match (step, recovery, enrolling) {
            (Some(step), _, true) => Checked::Code { step },
            (Some(step), _, false) if two_factor::accept_step(conn, user_id, step)? => {
                Checked::Code { step }
            }
            (_, Some(hash), false) if two_factor::use_recovery_code(conn, user_id, &hash)? => {
                Checked::RecoveryCode
            }
            _ => Checked::Wrong,
        };
        sign_in::finish(conn, attempt, !matches!(checked, Checked::Wrong))?;
        Ok(checked)
    })
    .await?;
    match checked {
        Checked::Wrong => {
            let (name, addr) = (username, address.clone());
            db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
                let entry = NewAuditEntry {
                    actor: &name,
                    action: action::SIGN_IN_FAILED,
                    detail: Some("wrong authentication code"),
                    address: Some(&addr),
                    ..Default::default()
                };
                Ok(audit::insert_entry(conn, &entry)?)
            })
            .await?;
            tracing::warn!(address = %address, reason = "wrong authentication code", "failed sign-in");
            page(
                &c,
                Some("That code is not right (or was used already). Try the next one."),
                StatusCode::UNAUTHORIZED,
            )
        }
        Checked::Code { step } if c.enrolling => enrol(&req, &ctx, c, step, address).await,
        Checked::Code { .. } => finish(&req, &ctx, &c, address, None).await,
        Checked::RecoveryCode => {
            let also = Some((
                action::RECOVERY_CODE_USED,
                "a recovery code was used".to_owned(),
            ));
            finish(&req, &ctx, &c, address, also).await
        }
    }
}

/// The second factor passed: the session starts, the challenge ends.
async fn finish(
    req: &HttpRequest,
    ctx: &AdminContext,
    c: &Context,
    address: String,
    also: Option<(&'static str, String)>,
) -> Result<HttpResponse, AdminError> {
    let session = open_session(req, ctx, c.user.id, c.user.username.clone(), address, also).await?;
    let id_hash = c.id_hash.clone();
    db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        Ok(two_factor::delete_challenge(conn, &id_hash)?)
    })
    .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", "/admin"))
        .cookie(session)
        .cookie(auth::removal_cookie(
            CHALLENGE_COOKIE,
            CHALLENGE_PATH,
            ctx.secure_cookies,
        ))
        .finish())
}

/// The first code confirmed the new secret: store it with fresh recovery
/// codes, start the session, and show the codes this once.
async fn enrol(
    req: &HttpRequest,
    ctx: &AdminContext,
    c: Context,
    step: i64,
    address: String,
) -> Result<HttpResponse, AdminError> {
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let mut random = [0u8; 10];
        aws_lc_rs::rand::fill(&mut random)
            .map_err(|_| AdminError::Internal("no randomness".into()))?;
        codes.push(recovery_code(&random));
    }
    let hashes: Vec<Vec<u8>> = codes.iter().filter_map(|c| recovery_code_hash(c)).collect();
    let sealed = ctx
        .secrets
        .seal(&c.secret, &bound_to(c.user.id))
        .ok_or_else(|| AdminError::Internal("cannot seal".into()))?;
    let user_id = c.user.id;
    db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        Ok(two_factor::enrol(conn, user_id, &sealed, step, &hashes)?)
    })
    .await?;
    let also = Some((
        action::MFA_ENROLLED,
        "TOTP authenticator enrolled".to_owned(),
    ));
    let session = open_session(req, ctx, c.user.id, c.user.username.clone(), address, also).await?;
    let id_hash = c.id_hash.clone();
    db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        Ok(two_factor::delete_challenge(conn, &id_hash)?)
    })
    .await?;
    let body = RecoveryCodesPage { codes }
        .render()
        .map_err(|e| AdminError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .cookie(session)
        .cookie(auth::removal_cookie(
            CHALLENGE_COOKIE,
            CHALLENGE_PATH,
            ctx.secure_cookies,
        ))
        .body(body))
}
