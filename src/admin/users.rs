//! User management for admins: list, disable, re-enable.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::AdminContext;
use super::auth::{self, Reviewer};
use super::error::AdminError;
use super::login::see_other;
use super::render::page_response;
use super::views::{Flash, Nav, UserItem, UsersPage, format_time};
use crate::db::audit::{self, NewAuditEntry, action};
use crate::db::{self, users};

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

/// POST /admin/users/{username}/disable|enable.
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
    let (disable, audit_action) = match verb.as_str() {
        "disable" => (true, action::USER_DISABLED),
        "enable" => (false, action::USER_ENABLED),
        _ => return Err(AdminError::NotFound),
    };
    if username == reviewer.username {
        return Err(AdminError::BadRequest(
            "You cannot disable or enable yourself.".into(),
        ));
    }
    let address = auth::client_address(&req, ctx.trust_forwarded_for);
    let actor = reviewer.username.clone();
    let changed = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        let changed = users::set_disabled(conn, &username, disable)?;
        if changed {
            let detail = format!("user {username}");
            let entry = NewAuditEntry {
                actor: &actor,
                action: audit_action,
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
    Ok(see_other(&format!(
        "/admin/users?flash={}",
        if disable { "disabled" } else { "enabled" }
    )))
}
