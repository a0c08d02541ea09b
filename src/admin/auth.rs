//! Who is signed in: session cookies, the `Reviewer` extractor, CSRF tokens
//! and the Origin check on every state-changing request.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{FromRequest, HttpRequest, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

use super::AdminContext;
use super::error::AdminError;
use crate::db::{self, users};
use crate::domain::user::Role;

pub const SESSION_COOKIE: &str = "mpp_session";
pub const LOGIN_CSRF_COOKIE: &str = "mpp_login_csrf";

/// A signed-in reviewer (or admin), taken from a live session. Anonymous
/// requests fail to extract and are redirected to the sign-in page.
#[derive(Debug, Clone)]
pub struct Reviewer {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub csrf_token: String,
    pub session_hash: Vec<u8>,
}

impl Reviewer {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Checks the form's CSRF token and the request's origin.
    pub fn check_form(&self, req: &HttpRequest, token: &str) -> Result<(), AdminError> {
        check_origin(req)?;
        if !tokens_equal(token, &self.csrf_token) {
            return Err(AdminError::Csrf);
        }
        Ok(())
    }
}

impl FromRequest for Reviewer {
    type Error = AdminError;
    type Future = Pin<Box<dyn Future<Output = Result<Reviewer, AdminError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let ctx = req.app_data::<web::Data<AdminContext>>().cloned();
        let cookie = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
        Box::pin(async move {
            let ctx = ctx.ok_or(AdminError::Internal("admin context missing".into()))?;
            let token = cookie.ok_or(AdminError::Unauthenticated)?;
            let hash = hash_token(&token);
            let idle_since = chrono::Utc::now()
                - chrono::Duration::from_std(ctx.session_idle)
                    .unwrap_or(chrono::Duration::minutes(30));
            let lookup = hash.clone();
            let found = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
                Ok(users::touch_session(conn, &lookup, idle_since)?)
            })
            .await?;
            let user = found.ok_or(AdminError::Unauthenticated)?;
            let role = Role::parse(&user.role).ok_or(AdminError::Unauthenticated)?;
            Ok(Reviewer {
                user_id: user.user_id,
                username: user.username,
                role,
                csrf_token: user.csrf_token,
                session_hash: hash,
            })
        })
    }
}

/// 256 random bits, URL-safe.
pub fn new_token() -> Result<String, AdminError> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| AdminError::Internal("no randomness".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Sessions are stored by hash, so the database never holds a usable cookie.
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

pub fn tokens_equal(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

/// A cookie for the admin pages: HttpOnly, SameSite=Strict, Secure when configured.
pub fn admin_cookie(
    name: &'static str,
    value: String,
    path: &'static str,
    secure: bool,
) -> Cookie<'static> {
    Cookie::build(name, value)
        .path(path)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish()
}

/// A cookie that deletes `name`.
pub fn removal_cookie(name: &'static str, path: &'static str, secure: bool) -> Cookie<'static> {
    let mut cookie = admin_cookie(name, String::new(), path, secure);
    cookie.make_removal();
    cookie
}

/// State-changing requests must come from our own pages: the Origin (or, if
/// absent, the Referer) must name the host the request was sent to.
pub fn check_origin(req: &HttpRequest) -> Result<(), AdminError> {
    let host = req.connection_info().host().to_ascii_lowercase();
    let source = req
        .headers()
        .get("origin")
        .or_else(|| req.headers().get("referer"))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| url::Url::parse(v).ok());
    let Some(source) = source else {
        return Err(AdminError::ForeignOrigin);
    };
    let source_host = match (source.host_str(), source.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => return Err(AdminError::ForeignOrigin),
    };
    if source_host.to_ascii_lowercase() != host {
        return Err(AdminError::ForeignOrigin);
    }
    Ok(())
}

/// The client's address for throttling and the audit log.
pub fn client_address(req: &HttpRequest, trust_forwarded_for: bool) -> String {
    if trust_forwarded_for
        && let Some(forwarded) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
        && let Some(first) = forwarded
            .split(',')
            .next()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    {
        return first.chars().take(64).collect();
    }
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}
