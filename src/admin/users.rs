//! User management for admins: list; disable, re-enable, reset two-factor, unlock.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::AdminContext;
use super::auth::{self, Reviewer};
use super::error::AdminError;
use super::login::see_other;
use super::password;
use super::render::page_response;
use super::views::{Flash, Nav, UserItem, UsersPage, format_time};
use crate::db::audit::{self, action};
use crate::db::{self, sign_in, two_factor, users};
use crate::domain::user::{Role, check_username};

#[derive(Debug, Default, Deserialize)]
pub struct UsersQuery {
    flash: Option<String>,
}

pub async fn list(
    reviewer: Reviewer,
    query: web::Query<UsersQuery>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    if !reviewer.is_admin() {
        return Err(AdminError::Forbidden);
    }
    let flash = match query.flash.as_deref() {
        Some("disabled") => Some("User disabled; their sessions are ended."),
        Some("enabled") => Some("User enabled."),
        Some("reset") => {
            Some("Two-factor reset: the user sets up an authenticator at the next sign-in.")
        }
        Some("unlocked") => Some("Failed sign-ins cleared."),
        Some("role") => Some("Role changed."),
        _ => None,
    }
    .map(|text| Flash {
        ok: true,
        text: text.into(),
    });
    render_list(reviewer, &ctx, flash, None).await
}

async fn render_list(
    reviewer: Reviewer,
    ctx: &AdminContext,
    flash: Option<Flash>,
    setup_link: Option<String>,
) -> Result<HttpResponse, AdminError> {
    let all = db::run(&ctx.pool, ctx.db_timeouts, |conn| {
        Ok(users::list_users(conn)?)
    })
    .await?;
    let page = UsersPage {
        flash,
        setup_link,
        users: all
            .into_iter()
            .map(|u| UserItem {
                is_self: u.id == reviewer.user_id,
                username: u.username,
                role: u.role.as_str().to_owned(),
                created: format_time(u.created_at),
                disabled: u.disabled_at.is_some(),
                two_factor: u.totp_enrolled_at.is_some(),
                last_sign_in: u
                    .last_sign_in_at
                    .map(format_time)
                    .unwrap_or_else(|| "never".into()),
            })
            .collect(),
        nav_bar: Nav {
            username: reviewer.username,
            csrf: reviewer.csrf_token,
            is_admin: true,
        },
    };
    page_response(&page)
}

/// How long a new account's setup link works.
const SETUP_LINK_LIFETIME: chrono::Duration = chrono::Duration::hours(24);

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
}

/// POST /admin/users: **Create user**. The account has no usable password
/// until its owner opens the one-time link shown here.
pub async fn create(
    req: HttpRequest,
    reviewer: Reviewer,
    form: web::Form<CreateForm>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    reviewer.check_admin_form(&req, &form.csrf)?;
    let username = form.username.trim().to_owned();
    check_username(&username).map_err(AdminError::BadRequest)?;
    let role = Role::parse(&form.role).ok_or(AdminError::BadRequest("unknown role".into()))?;
    // A password nobody knows, so the account cannot sign in before its setup.
    let unusable = password::hash_password(&auth::new_token()?)
        .map_err(|e| AdminError::Internal(e.to_string()))?;
    let token = auth::new_token()?;
    let token_hash = auth::hash_token(&token);
    let expires = chrono::Utc::now() + SETUP_LINK_LIFETIME;
    let (name, actor) = (username.clone(), reviewer.username.clone());
    let address = auth::client_address(&req, ctx.trust_forwarded_for);
    let created = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        use diesel::Connection as _;
        Ok(conn.transaction(|conn| {
            if !users::insert_user(conn, &name, &unusable, role)? {
                return Ok(false);
            }
            let Some(user) = users::find_user(conn, &name)? else {
                return Ok(false);
            };
            users::insert_setup(conn, &token_hash, user.id, expires)?;
            let detail = format!("user {name} ({}), setup link sent", role.as_str());
            audit::record_user_event(conn, &actor, action::USER_CREATED, &detail, &address)?;
            Ok::<_, diesel::result::Error>(true)
        })?)
    })
    .await?;
    if !created {
        return Err(AdminError::BadRequest(format!(
            "a user named {username:?} already exists"
        )));
    }
    // Where the admin reached us is where the new user can too.
    let link = {
        let info = req.connection_info();
        let scheme = if ctx.secure_cookies {
            "https"
        } else {
            info.scheme()
        };
        format!("{scheme}://{}/admin/setup/{token}", info.host())
    };
    render_list(reviewer, &ctx, None, Some(link)).await
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
}

/// POST /admin/users/{username}/role.
pub async fn set_role(
    req: HttpRequest,
    reviewer: Reviewer,
    path: web::Path<String>,
    form: web::Form<RoleForm>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    reviewer.check_admin_form(&req, &form.csrf)?;
    let username = path.into_inner();
    if check_username(&username).is_err() {
        return Err(AdminError::NotFound);
    }
    if username == reviewer.username {
        return Err(AdminError::BadRequest(
            "You cannot change your own role.".into(),
        ));
    }
    let role = Role::parse(&form.role).ok_or(AdminError::BadRequest("unknown role".into()))?;
    let actor = reviewer.username.clone();
    let address = auth::client_address(&req, ctx.trust_forwarded_for);
    let changed = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        let changed = users::set_role(conn, &username, role)?;
        if changed {
            let detail = format!("user {username} is now {}", role.as_str());
            audit::record_user_event(conn, &actor, action::USER_ROLE_CHANGED, &detail, &address)?;
        }
        Ok(changed)
    })
    .await?;
    if !changed {
        return Err(AdminError::NotFound);
    }
    Ok(see_other("/admin/users?flash=role"))
}

#[derive(Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    csrf: String,
}

/// What an admin can do to another account from this page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Disable,
    Enable,
    /// The account enrols a new authenticator at its next sign-in.
    ResetTwoFactor,
    /// Its failed sign-ins no longer count.
    Unlock,
}

impl Change {
    fn parse(verb: &str) -> Option<Change> {
        match verb {
            "disable" => Some(Change::Disable),
            "enable" => Some(Change::Enable),
            "reset-two-factor" => Some(Change::ResetTwoFactor),
            "unlock" => Some(Change::Unlock),
            _ => None,
        }
    }

    fn audit_action(self) -> &'static str {
        match self {
            Change::Disable => action::USER_DISABLED,
            Change::Enable => action::USER_ENABLED,
            Change::ResetTwoFactor => action::MFA_RESET,
            Change::Unlock => action::USER_UNLOCKED,
        }
    }

    fn flash(self) -> &'static str {
        match self {
            Change::Disable => "disabled",
            Change::Enable => "enabled",
            Change::ResetTwoFactor => "reset",
            Change::Unlock => "unlocked",
        }
    }
}

/// POST /admin/users/{username}/disable|enable|reset-two-factor|unlock.
pub async fn change(
    req: HttpRequest,
    reviewer: Reviewer,
    path: web::Path<(String, String)>,
    form: web::Form<ChangeForm>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    reviewer.check_admin_form(&req, &form.csrf)?;
    let (username, verb) = path.into_inner();
    // No such user can exist (and a NUL could not even be looked up).
    if check_username(&username).is_err() {
        return Err(AdminError::NotFound);
    }
    let change = Change::parse(&verb).ok_or(AdminError::NotFound)?;
    if username == reviewer.username {
        return Err(AdminError::BadRequest(
            "You cannot change your own account here.".into(),
        ));
    }
    let address = auth::client_address(&req, ctx.trust_forwarded_for);
    let actor = reviewer.username.clone();
    let changed = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        let changed = match change {
            Change::Disable => users::set_disabled(conn, &username, true)?,
            Change::Enable => users::set_disabled(conn, &username, false)?,
            Change::ResetTwoFactor => two_factor::reset(conn, &username)?,
            Change::Unlock => match users::find_user(conn, &username)? {
                Some(_) => {
                    sign_in::clear_failures(conn, &username)?;
                    true
                }
                None => false,
            },
        };
        if changed {
            let detail = format!("user {username}");
            audit::record_user_event(conn, &actor, change.audit_action(), &detail, &address)?;
        }
        Ok(changed)
    })
    .await?;
    if !changed {
        return Err(AdminError::NotFound);
    }
    Ok(see_other(&format!("/admin/users?flash={}", change.flash())))
}
