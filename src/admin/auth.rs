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

pub const LOGIN_CSRF_COOKIE: &str = "mpp_login_csrf";

/// The session cookie's name and path. Served over TLS (`MPP_SECURE_COOKIES`)
/// it carries the `__Host-` prefix, which browsers accept only from a secure
/// origin, for the whole host (path `/`) and with no Domain: a neighbouring
/// subdomain or a plain-HTTP page cannot plant or overwrite it.
pub fn session_cookie(secure: bool) -> (&'static str, &'static str) {
    if secure {
        ("__Host-mpp_session", "/")
    } else {
        ("mpp_session", "/admin")
    }
}

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

    /// Checks an admin's form: CSRF token and origin, then the role.
    pub fn check_admin_form(&self, req: &HttpRequest, token: &str) -> Result<(), AdminError> {
        self.check_form(req, token)?;
        if !self.is_admin() {
            return Err(AdminError::Forbidden);
        }
        Ok(())
    }

    /// Checks the form's CSRF token and the request's origin.
    pub fn check_form(&self, req: &HttpRequest, token: &str) -> Result<(), AdminError> {
        let ctx = req
            .app_data::<web::Data<AdminContext>>()
            .ok_or(AdminError::Internal("admin context missing".into()))?;
        check_origin(req, ctx)?;
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
        let req = req.clone();
        let cookie = ctx.as_ref().and_then(|ctx| {
            let (name, _) = session_cookie(ctx.secure_cookies);
            req.cookie(name).map(|c| c.value().to_owned())
        });
        Box::pin(async move {
            let ctx = ctx.ok_or(AdminError::Internal("admin context missing".into()))?;
            let token = cookie.ok_or(AdminError::Unauthenticated)?;
            let hash = hash_token(&token);
            let now = chrono::Utc::now();
            let since = |d: std::time::Duration| {
                now - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::minutes(30))
            };
            let (idle_since, created_since) = (since(ctx.session_idle), since(ctx.session_max_age));
            let lookup = hash.clone();
            let found = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
                Ok(users::touch_session(
                    conn,
                    &lookup,
                    idle_since,
                    created_since,
                )?)
            })
            .await?;
            let user = found.ok_or(AdminError::Unauthenticated)?;
            let role = user.role;
            let reviewer = Reviewer {
                user_id: user.user_id,
                username: user.username,
                role,
                csrf_token: user.csrf_token,
                session_hash: hash,
            };
            // For the menu on an error page (see `chrome`).
            actix_web::HttpMessage::extensions_mut(&req).insert(reviewer.clone());
            Ok(reviewer)
        })
    }
}

/// A form posted before any session exists (sign-in, account setup): our
/// origin, and the token both as a field and as the cookie it was set in.
pub fn check_pre_session_form(
    req: &HttpRequest,
    ctx: &AdminContext,
    token: &str,
) -> Result<(), AdminError> {
    check_origin(req, ctx)?;
    let cookie = req
        .cookie(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if token.is_empty() || !tokens_equal(token, &cookie) {
        return Err(AdminError::Csrf);
    }
    Ok(())
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
    debug_assert!(!name.starts_with("__Host-") || (secure && path == "/"));
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
/// absent, the Referer) must have our scheme, host and port. Ours is what the
/// request was sent to (its Host), over HTTPS when the pages are served over
/// TLS; a proxy's `X-Forwarded-Host`/`-Proto` count only when it is trusted
/// (`MPP_TRUST_FORWARDED_FOR`), since anyone can send them.
pub fn check_origin(req: &HttpRequest, ctx: &AdminContext) -> Result<(), AdminError> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let forwarded = |name: &str| {
        header(name)
            .filter(|_| ctx.trust_forwarded_for)
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
    };
    let host = forwarded("x-forwarded-host")
        .or_else(|| header("host"))
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    let scheme = forwarded("x-forwarded-proto").unwrap_or(
        if ctx.secure_cookies || req.app_config().secure() {
            "https"
        } else {
            "http"
        },
    );
    let ours = host.and_then(|h| url::Url::parse(&format!("{scheme}://{h}")).ok());
    let source = header("origin")
        .or_else(|| header("referer"))
        .and_then(|v| url::Url::parse(v).ok());
    match (ours, source) {
        (Some(ours), Some(source)) if ours.origin() == source.origin() => Ok(()),
        _ => Err(AdminError::ForeignOrigin),
    }
}

/// The client's address for throttling and the audit log. Behind a trusted
/// proxy, the last `X-Forwarded-For` entry: the one that proxy appended
/// (entries to its left are whatever the client wrote).
pub fn client_address(req: &HttpRequest, trust_forwarded_for: bool) -> String {
    if trust_forwarded_for
        && let Some(last) = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|s| !s.is_empty())
    {
        return last.chars().take(64).collect();
    }
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}
