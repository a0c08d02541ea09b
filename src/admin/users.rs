//! User management for admins: list; disable, re-enable, reset two-factor, unlock.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::AdminContext;
use super::auth::{self, Reviewer};
use super::error::AdminError;
use super::login::see_other;
use super::render::page_response;
use super::views::{Flash, Nav, UserItem, UsersPage, format_time};
use crate::db::audit::{self, NewAuditEntry, action};
use crate::db::{self, sign_in, two_factor, users};

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
    let all = db::run(&ctx.pool, ctx.db_timeouts, |conn| {
        Ok(users::list_users(conn)?)
    })
    .await?;
    let flash = match query.flash.as_deref() {
        Some("disabled") => Some(Flash {
            ok: true,
            text: "User disabled; their sessions are ended.".into(),
        }),
        Some("enabled") => Some(Flash {
            ok: true,
            text: "User enabled.".into(),
        }),
        Some("reset") => Some(Flash {
            ok: true,
            text: "Two-factor reset: the user sets up an authenticator at the next sign-in.".into(),
        }),
        Some("unlocked") => Some(Flash {
            ok: true,
            text: "Failed sign-ins cleared.".into(),
        }),
        _ => None,
    };
    let page = UsersPage {
        flash,
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
    reviewer.check_form(&req, &form.csrf)?;
    if !reviewer.is_admin() {
        return Err(AdminError::Forbidden);
    }
    let (username, verb) = path.into_inner();
    // No such user can exist (and a NUL could not even be looked up).
    if crate::domain::user::check_username(&username).is_err() {
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
            let entry = NewAuditEntry {
                actor: &actor,
                action: change.audit_action(),
                detail: Some(&detail),
                address: Some(&address),
                ..Default::default()
            };
            audit::insert_entry(conn, &entry)?;
        }
        Ok(changed)
    })
    .await?;
    if !changed {
        return Err(AdminError::NotFound);
    }
    Ok(see_other(&format!("/admin/users?flash={}", change.flash())))
}
