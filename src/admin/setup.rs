//! A new account's one-time setup link (`/admin/setup/{token}`, 24 hours):
//! its owner chooses the password, then goes on to set up two-factor. The
//! link works once; the token is stored only as its hash.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template as _;
use serde::Deserialize;

use super::AdminContext;
use super::auth::{self, LOGIN_CSRF_COOKIE};
use super::error::AdminError;
use super::login::open_session;
use super::password;
use super::views::SetupPage;
use crate::db::audit::{self, action};
use crate::db::{self, users};
use crate::domain::two_factor::Mfa;
use crate::domain::user::check_password;

const SETUP_PATH: &str = "/admin/setup";

async fn account_of(ctx: &AdminContext, token: &str) -> Result<Option<users::User>, AdminError> {
    let hash = auth::hash_token(token);
    Ok(db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        Ok(users::find_setup(conn, &hash)?)
    })
    .await?)
}

fn render(
    ctx: &AdminContext,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Result<HttpResponse, AdminError> {
    // Like the sign-in form: the token comes back as a field and a cookie.
    let csrf = auth::new_token()?;
    let body = SetupPage {
        username,
        csrf: &csrf,
        error,
    }
    .render()
    .map_err(|e| AdminError::Internal(e.to_string()))?;
    Ok(HttpResponse::build(status)
        .cookie(auth::admin_cookie(
            LOGIN_CSRF_COOKIE,
            csrf,
            SETUP_PATH,
            ctx.secure_cookies,
        ))
        .content_type("text/html; charset=utf-8")
        .body(body))
}

/// GET /admin/setup/{token}.
pub async fn form(
    path: web::Path<String>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    match account_of(&ctx, &path).await? {
        Some(user) => render(&ctx, &user.username, None, StatusCode::OK),
        None => Err(AdminError::NotFound),
    }
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    repeat: String,
}

/// POST /admin/setup/{token}.
pub async fn submit(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<SetupForm>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    auth::check_pre_session_form(&req, &ctx, &form.csrf)?;
    let token = path.into_inner();
    let Some(user) = account_of(&ctx, &token).await? else {
        return Err(AdminError::NotFound);
    };
    if form.password != form.repeat {
        return render(
            &ctx,
            &user.username,
            Some("The two passwords differ."),
            StatusCode::BAD_REQUEST,
        );
    }
    if let Err(why) = check_password(&form.password, &user.username) {
        let text = format!("Choose another password: {why}.");
        return render(&ctx, &user.username, Some(&text), StatusCode::BAD_REQUEST);
    }
    let hash =
        password::hash_password(&form.password).map_err(|e| AdminError::Internal(e.to_string()))?;
    let (token_hash, name) = (auth::hash_token(&token), user.username.clone());
    let address = auth::client_address(&req, ctx.trust_forwarded_for);
    let addr = address.clone();
    let taken = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        use diesel::Connection as _;
        Ok(conn.transaction(|conn| {
            if !users::take_setup(conn, &token_hash)? {
                return Ok(false);
            }
            users::set_password_hash(conn, &name, &hash)?;
            audit::record_user_event(
                conn,
                &name,
                action::USER_PASSWORD_CHANGED,
                "chosen through the setup link",
                &addr,
            )?;
            Ok::<_, diesel::result::Error>(true)
        })?)
    })
    .await?;
    if !taken {
        return Err(AdminError::NotFound);
    }
    // The password step is done: on to the second factor, or straight in.
    let removal = auth::removal_cookie(LOGIN_CSRF_COOKIE, SETUP_PATH, ctx.secure_cookies);
    let mut response = match ctx.mfa {
        Mfa::Required => super::two_factor::challenge(&ctx, user.id, &address).await?,
        Mfa::Off => {
            let session =
                open_session(&req, &ctx, user.id, user.username.clone(), address, None).await?;
            HttpResponse::SeeOther()
                .insert_header(("Location", "/admin"))
                .cookie(session)
                .finish()
        }
    };
    response
        .add_cookie(&removal)
        .map_err(|e| AdminError::Internal(e.to_string()))?;
    Ok(response)
}
