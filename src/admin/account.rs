//! `/admin/account`: every user's own page. Change the password (the
//! current one is required) and see the active sessions, signing the others
//! out. Both are audited.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::AdminContext;
use super::auth::{self, Reviewer};
use super::error::AdminError;
use super::login::see_other;
use super::password;
use super::render::page_response;
use super::views::{AccountPage, Flash, Nav, SessionItem, format_time};
use crate::db::audit::{self, action};
use crate::db::{self, users};
use crate::domain::user::check_password;

#[derive(Debug, Default, Deserialize)]
pub struct AccountQuery {
    flash: Option<String>,
}

pub async fn show(
    reviewer: Reviewer,
    query: web::Query<AccountQuery>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    let flash = match query.flash.as_deref() {
        Some("password") => Some((
            true,
            "Password changed; your other sessions are signed out.",
        )),
        Some("signed-out") => Some((true, "Your other sessions are signed out.")),
        Some("wrong-current") => Some((false, "The current password is not right.")),
        Some("differ") => Some((false, "The two new passwords differ.")),
        _ => None,
    }
    .map(|(ok, text)| Flash {
        ok,
        text: text.into(),
    });
    render(reviewer, &ctx, flash).await
}

async fn render(
    reviewer: Reviewer,
    ctx: &AdminContext,
    flash: Option<Flash>,
) -> Result<HttpResponse, AdminError> {
    let user_id = reviewer.user_id;
    let sessions = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        Ok(users::list_sessions(conn, user_id)?)
    })
    .await?;
    let page = AccountPage {
        flash,
        sessions: sessions
            .into_iter()
            .map(|s| SessionItem {
                created: format_time(s.created_at),
                last_seen: format_time(s.last_seen_at),
                current: s.id_hash == reviewer.session_hash,
            })
            .collect(),
        nav_bar: Nav {
            is_admin: reviewer.is_admin(),
            username: reviewer.username,
            csrf: reviewer.csrf_token,
        },
    };
    page_response(&page)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    repeat: String,
}

/// POST /admin/account/password.
pub async fn change_password(
    req: HttpRequest,
    reviewer: Reviewer,
    form: web::Form<PasswordForm>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    reviewer.check_form(&req, &form.csrf)?;
    let form = form.into_inner();
    if form.password != form.repeat {
        return Ok(see_other("/admin/account?flash=differ"));
    }
    if let Err(why) = check_password(&form.password, &reviewer.username) {
        let flash = Flash {
            ok: false,
            text: format!("Choose another password: {why}."),
        };
        return render(reviewer, &ctx, Some(flash)).await;
    }
    let name = reviewer.username.clone();
    let current = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        Ok(users::find_user(conn, &name)?.map(|u| u.password_hash))
    })
    .await?
    .ok_or(AdminError::Unauthenticated)?;
    let right = ctx
        .passwords
        .verify(current, form.current)
        .await
        .map_err(|_| AdminError::Internal("password checks are busy".into()))?;
    if !right {
        return Ok(see_other("/admin/account?flash=wrong-current"));
    }
    let hash =
        password::hash_password(&form.password).map_err(|e| AdminError::Internal(e.to_string()))?;
    let address = auth::client_address(&req, ctx.trust_forwarded_for);
    db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        users::change_own_password(conn, reviewer.user_id, &hash, &reviewer.session_hash)?;
        Ok(audit::record_user_event(
            conn,
            &reviewer.username,
            action::USER_PASSWORD_CHANGED,
            "changed by the user",
            &address,
        )?)
    })
    .await?;
    Ok(see_other("/admin/account?flash=password"))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// POST /admin/account/sessions/sign-out-others.
pub async fn sign_out_others(
    req: HttpRequest,
    reviewer: Reviewer,
    form: web::Form<CsrfForm>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    reviewer.check_form(&req, &form.csrf)?;
    let address = auth::client_address(&req, ctx.trust_forwarded_for);
    db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        let ended = users::delete_other_sessions(conn, reviewer.user_id, &reviewer.session_hash)?;
        let detail = format!("{ended} other session(s) signed out");
        Ok(audit::record_user_event(
            conn,
            &reviewer.username,
            action::SESSIONS_ENDED,
            &detail,
            &address,
        )?)
    })
    .await?;
    Ok(see_other("/admin/account?flash=signed-out"))
}
