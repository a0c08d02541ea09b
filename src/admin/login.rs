//! Signing in and out. Unknown users take as long as wrong passwords; repeated
//! failures are throttled per username and per address; a session id from
//! before sign-in is never kept after it.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template as _;
use serde::Deserialize;

use super::AdminContext;
use super::auth::{self, LOGIN_CSRF_COOKIE, Reviewer, SESSION_COOKIE};
use super::error::AdminError;
use super::password;
use super::views::LoginPage;
use crate::db::audit::{self, NewAuditEntry, action};
use crate::db::{self, users};

/// Failed sign-ins allowed per username, and per address, in `THROTTLE_WINDOW_MINUTES`.
const MAX_FAILURES_PER_USER: i64 = 5;
const MAX_FAILURES_PER_ADDRESS: i64 = 20;
const THROTTLE_WINDOW_MINUTES: i64 = 15;

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
    Failed,
    SignedIn { user_id: i64 },
}

/// POST /admin/login.
pub async fn submit(
    req: HttpRequest,
    form: web::Form<LoginForm>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    auth::check_origin(&req)?;
    let cookie_token = req
        .cookie(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if form.csrf.is_empty() || !auth::tokens_equal(&form.csrf, &cookie_token) {
        return Err(AdminError::Csrf);
    }
    let form = form.into_inner();
    let username: String = form.username.trim().chars().take(64).collect();
    let address = auth::client_address(&req, ctx.trust_forwarded_for);

    let attempt = attempt_sign_in(&ctx, &username, &form.password, &address).await?;
    let user_id = match attempt {
        Attempt::SignedIn { user_id } => user_id,
        Attempt::Throttled => {
            let text = format!(
                "Too many failed sign-ins. Try again in {THROTTLE_WINDOW_MINUTES} minutes."
            );
            return render_form(
                &ctx,
                &username,
                Some(&text),
                actix_web::http::StatusCode::TOO_MANY_REQUESTS,
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

    // A new session id at every sign-in; any session the browser brought is ended.
    let old = req
        .cookie(SESSION_COOKIE)
        .map(|c| auth::hash_token(c.value()));
    let token = auth::new_token()?;
    let csrf = auth::new_token()?;
    let hash = auth::hash_token(&token);
    db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        if let Some(old) = old {
            users::delete_session(conn, &old)?;
        }
        users::insert_session(conn, &hash, user_id, &csrf)?;
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
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", "/admin"))
        .cookie(auth::admin_cookie(
            SESSION_COOKIE,
            token,
            "/admin",
            ctx.secure_cookies,
        ))
        .cookie(auth::removal_cookie(
            LOGIN_CSRF_COOKIE,
            "/admin/login",
            ctx.secure_cookies,
        ))
        .finish())
}

async fn attempt_sign_in(
    ctx: &AdminContext,
    username: &str,
    password: &str,
    address: &str,
) -> Result<Attempt, AdminError> {
    let since = chrono::Utc::now() - chrono::Duration::minutes(THROTTLE_WINDOW_MINUTES);
    let (name, addr) = (username.to_owned(), address.to_owned());
    let (user, failures) = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        let failures = audit::count_failed_sign_ins(conn, &name, &addr, since)?;
        Ok((users::find_user(conn, &name)?, failures))
    })
    .await?;
    let throttled = failures.0 >= MAX_FAILURES_PER_USER || failures.1 >= MAX_FAILURES_PER_ADDRESS;

    // Always verify against some hash, so that unknown, disabled and throttled
    // users cost the same time as a wrong password.
    let active = user.filter(|u| u.disabled_at.is_none());
    let hash = active
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| ctx.dummy_password_hash.clone());
    let candidate = password.to_owned();
    let matches = tokio::task::spawn_blocking(move || password::verify_password(&hash, &candidate))
        .await
        .map_err(|e| AdminError::Internal(e.to_string()))?;

    let outcome = match (throttled, active, matches) {
        (false, Some(user), true) => return Ok(Attempt::SignedIn { user_id: user.id }),
        (true, _, _) => Attempt::Throttled,
        (false, _, _) => Attempt::Failed,
    };
    let (name, addr) = (username.to_owned(), address.to_owned());
    let detail = match outcome {
        Attempt::Throttled => "throttled",
        Attempt::Failed | Attempt::SignedIn { .. } => "wrong username or password",
    };
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
    tracing::warn!(address = %address, "failed sign-in");
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
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", "/admin/login"))
        .cookie(auth::removal_cookie(
            SESSION_COOKIE,
            "/admin",
            ctx.secure_cookies,
        ))
        .finish())
}

pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", location))
        .finish()
}
