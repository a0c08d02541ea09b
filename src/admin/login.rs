//! Signing in and out. Unknown users take as long as wrong passwords; repeated
//! failures are throttled per username and address, and per address (see
//! `domain::sign_in`), counted before the password is checked; password
//! checks are bounded (see `password::Verifier`); a session id from before
//! sign-in is never kept after it.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template as _;
use serde::Deserialize;

use super::AdminContext;
use super::auth::{self, LOGIN_CSRF_COOKIE, Reviewer};
use super::error::AdminError;
use super::password::Busy;
use super::views::LoginPage;
use crate::db::audit::{self, NewAuditEntry, action};
use crate::db::{self, sign_in, users};
use crate::domain::sign_in::{SLOW_DELAY, Throttle, WINDOW};
use crate::domain::two_factor::Mfa;

/// GET /admin/login. Shown to anyone: signing in again replaces the session.
pub async fn form(ctx: web::Data<AdminContext>) -> Result<HttpResponse, AdminError> {
    render_form(&ctx, "", None, actix_web::http::StatusCode::OK)
}

/// The sign-in form carries a fresh token that must come back both as a field
/// and as a cookie (login CSRF: no session exists yet to hold it).
fn render_form(
    ctx: &AdminContext,
    username: &str,
    error: Option<&str>,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, AdminError> {
    let token = auth::new_token()?;
    let body = LoginPage {
        csrf: &token,
        username,
        error,
        sso: ctx.sso.is_some(),
        password: ctx.password_sign_in,
    }
    .render()
    .map_err(|e| AdminError::Internal(e.to_string()))?;
    Ok(HttpResponse::build(status)
        .cookie(auth::admin_cookie(
            LOGIN_CSRF_COOKIE,
            token,
            "/admin/login",
            ctx.secure_cookies,
        ))
        .content_type("text/html; charset=utf-8")
        .body(body))
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

enum Attempt {
    Throttled,
    Busy,
    Failed,
    SignedIn { user_id: i64 },
}

/// POST /admin/login.
pub async fn submit(
    req: HttpRequest,
    form: web::Form<LoginForm>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    if !ctx.password_sign_in {
        return Err(AdminError::PasswordSignInOff);
    }
    auth::check_pre_session_form(&req, &ctx, &form.csrf)?;
    let form = form.into_inner();
    let username = form.username.trim().to_owned();
    // No username has control characters (a NUL could not even be looked up).
    if username.chars().count() > 64 || username.chars().any(char::is_control) {
        return Err(AdminError::BadRequest(
            "A username has at most 64 characters and no control characters.".into(),
        ));
    }
    let address = auth::client_address(&req, ctx.trust_forwarded_for);

    let attempt = attempt_sign_in(&ctx, &username, &form.password, &address).await?;
    let user_id = match attempt {
        Attempt::SignedIn { user_id } => user_id,
        Attempt::Throttled => {
            let text = format!(
                "Too many failed sign-ins. Try again in {} minutes.",
                WINDOW.as_secs() / 60
            );
            return render_form(
                &ctx,
                &username,
                Some(&text),
                actix_web::http::StatusCode::TOO_MANY_REQUESTS,
            );
        }
        Attempt::Busy => {
            return render_form(
                &ctx,
                &username,
                Some("Sign-in is busy. Try again in a moment."),
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            );
        }
        Attempt::Failed => {
            return render_form(
                &ctx,
                &username,
                Some("Wrong username or password."),
                actix_web::http::StatusCode::UNAUTHORIZED,
            );
        }
    };

    if ctx.mfa == Mfa::Required {
        return super::two_factor::challenge(&ctx, user_id, &address).await;
    }
    let session = open_session(&req, &ctx, user_id, username, address, None).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", "/admin"))
        .cookie(session)
        .cookie(auth::removal_cookie(
            LOGIN_CSRF_COOKIE,
            "/admin/login",
            ctx.secure_cookies,
        ))
        .finish())
}

/// Starts a session for a user who passed every factor: a new session id
/// (any session the browser brought is ended), the sign-in recorded and
/// audited, with `also` audited in the same transaction. Returns the cookie.
pub async fn open_session(
    req: &HttpRequest,
    ctx: &AdminContext,
    user_id: i64,
    username: String,
    address: String,
    also: Option<(&'static str, String)>,
) -> Result<actix_web::cookie::Cookie<'static>, AdminError> {
    let (session_name, session_path) = auth::session_cookie(ctx.secure_cookies);
    let old = req
        .cookie(session_name)
        .map(|c| auth::hash_token(c.value()));
    let token = auth::new_token()?;
    let csrf = auth::new_token()?;
    let hash = auth::hash_token(&token);
    db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        if let Some(old) = old {
            users::delete_session(conn, &old)?;
        }
        users::insert_session(conn, &hash, user_id, &csrf)?;
        users::mark_signed_in(conn, user_id)?;
        if let Some((what, detail)) = &also {
            let entry = NewAuditEntry {
                actor: &username,
                action: what,
                detail: Some(detail),
                address: Some(&address),
                ..Default::default()
            };
            audit::insert_entry(conn, &entry)?;
        }
        let entry = NewAuditEntry {
            actor: &username,
            action: action::SIGNED_IN,
            address: Some(&address),
            ..Default::default()
        };
        audit::insert_entry(conn, &entry)?;
        Ok(())
    })
    .await?;
    Ok(auth::admin_cookie(
        session_name,
        token,
        session_path,
        ctx.secure_cookies,
    ))
}

async fn attempt_sign_in(
    ctx: &AdminContext,
    username: &str,
    password: &str,
    address: &str,
) -> Result<Attempt, AdminError> {
    let (name, addr) = (username.to_owned(), address.to_owned());
    let (reserved, user) = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        // Old attempts no longer count: keep the table small.
        sign_in::purge_older_than(conn, WINDOW * 4)?;
        let reserved = sign_in::reserve(conn, &name, &addr, WINDOW)?;
        let user = match reserved {
            Some(_) => users::find_user(conn, &name)?,
            None => None,
        };
        Ok((reserved, user))
    })
    .await?;
    let outcome = match reserved {
        None => Attempt::Throttled,
        Some(reserved) => {
            if reserved.throttle == Throttle::Slow {
                tokio::time::sleep(SLOW_DELAY).await;
            }
            // Always verify against some hash, so that unknown and disabled
            // users cost the same time as a wrong password.
            let active = user.filter(|u| u.disabled_at.is_none());
            let hash = active
                .as_ref()
                .map(|u| u.password_hash.clone())
                .unwrap_or_else(|| ctx.dummy_password_hash.clone());
            let checked = ctx.passwords.verify(hash, password.to_owned()).await;
            let outcome = match (checked, active) {
                (Ok(true), Some(user)) => Attempt::SignedIn { user_id: user.id },
                (Ok(_), _) => Attempt::Failed,
                (Err(Busy), _) => Attempt::Busy,
            };
            let id = reserved.id;
            let succeeded = matches!(outcome, Attempt::SignedIn { .. });
            let busy = matches!(outcome, Attempt::Busy);
            db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
                // A check that never ran is not a failure.
                match busy {
                    true => sign_in::cancel(conn, id)?,
                    false => sign_in::finish(conn, id, succeeded)?,
                }
                Ok(())
            })
            .await?;
            outcome
        }
    };
    let detail = match outcome {
        Attempt::SignedIn { .. } => return Ok(outcome),
        Attempt::Throttled => "throttled",
        Attempt::Busy => "refused: sign-in busy",
        Attempt::Failed => "wrong username or password",
    };
    let (name, addr) = (username.to_owned(), address.to_owned());
    db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        let entry = NewAuditEntry {
            actor: &name,
            action: action::SIGN_IN_FAILED,
            detail: Some(detail),
            address: Some(&addr),
            ..Default::default()
        };
        Ok(audit::insert_entry(conn, &entry)?)
    })
    .await?;
    tracing::warn!(address = %address, reason = detail, "failed sign-in");
    Ok(outcome)
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// POST /admin/logout: the session is destroyed, not just forgotten by the browser.
pub async fn logout(
    req: HttpRequest,
    reviewer: Reviewer,
    form: web::Form<LogoutForm>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    reviewer.check_form(&req, &form.csrf)?;
    let address = auth::client_address(&req, ctx.trust_forwarded_for);
    db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        users::delete_session(conn, &reviewer.session_hash)?;
        let entry = NewAuditEntry {
            actor: &reviewer.username,
            action: action::SIGNED_OUT,
            address: Some(&address),
            ..Default::default()
        };
        Ok(audit::insert_entry(conn, &entry)?)
    })
    .await?;
    let (session_name, session_path) = auth::session_cookie(ctx.secure_cookies);
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", "/admin/login"))
        .cookie(auth::removal_cookie(
            session_name,
            session_path,
            ctx.secure_cookies,
        ))
        .finish())
}

pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", location))
        .finish()
}
