//! Notifications that were not delivered, and re-driving them (admins).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::AdminContext;
use super::auth::{self, Reviewer};
use super::error::AdminError;
use super::login::see_other;
use super::render::page_response;
use super::views::{Flash, Nav, NotificationItem, NotificationsPage};
use crate::db;
use crate::db::notifications::{self, RedriveFilter};
use crate::domain::notification::{NotificationState, Target};

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    target: Option<String>,
    flash: Option<String>,
    count: Option<usize>,
}

fn filter_from(status: Option<&str>, target: Option<&str>) -> Result<RedriveFilter, AdminError> {
    let status = match status.filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match NotificationState::parse(s).filter(|s| s.needs_a_person()) {
            Some(state) => Some(state),
            None => return Err(AdminError::BadRequest(format!("unknown state {s:?}"))),
        },
    };
    let target = match target.filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => Some(
            Target::parse(t)
                .ok_or_else(|| AdminError::BadRequest(format!("unknown target {t:?}")))?,
        ),
    };
    Ok(RedriveFilter {
        status,
        target,
        ..RedriveFilter::default()
    })
}

/// GET /admin/notifications: failed and dead notifications.
pub async fn list(
    reviewer: Reviewer,
    query: web::Query<ListQuery>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    let filter = filter_from(query.status.as_deref(), query.target.as_deref())?;
    let lookup = filter.clone();
    let rows = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        Ok(notifications::find_unfinished(conn, &lookup, 500)?)
    })
    .await?;
    let flash = match query.flash.as_deref() {
        Some("redriven") => Some(Flash {
            ok: true,
            text: format!("{} notification(s) queued again.", query.count.unwrap_or(0)),
        }),
        _ => None,
    };
    let page = NotificationsPage {
        flash,
        status: filter
            .status
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        target: filter
            .target
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
        items: rows.into_iter().map(NotificationItem::from).collect(),
        can_redrive: reviewer.is_admin(),
        nav_bar: Nav {
            username: reviewer.username.clone(),
            csrf: reviewer.csrf_token.clone(),
            is_admin: reviewer.is_admin(),
        },
    };
    page_response(&page)
}

#[derive(Deserialize)]
pub struct RedriveForm {
    #[serde(default)]
    csrf: String,
    status: Option<String>,
    target: Option<String>,
    /// One notification; when absent, every one matching the filter.
    id: Option<i64>,
    /// Where to go back to: the registration's page.
    registration: Option<i64>,
}

/// POST /admin/notifications/retry: re-drive one notification or all that match.
pub async fn redrive(
    req: HttpRequest,
    reviewer: Reviewer,
    form: web::Form<RedriveForm>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    reviewer.check_admin_form(&req, &form.csrf)?;
    let mut filter = filter_from(form.status.as_deref(), form.target.as_deref())?;
    filter.ids = form.id.into_iter().collect();
    let address = auth::client_address(&req, ctx.trust_forwarded_for);
    let actor = reviewer.username.clone();
    let rows = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        Ok(notifications::redrive(
            conn,
            &filter,
            &actor,
            Some(&address),
        )?)
    })
    .await?;
    ctx.notifier_wake.notify_one();
    tracing::info!(count = rows.len(), admin = %reviewer.username, "notifications re-driven");
    Ok(match form.registration {
        Some(id) => see_other(&format!("/admin/registrations/{id}?flash=redriven")),
        None => see_other(&format!(
            "/admin/notifications?flash=redriven&count={}",
            rows.len()
        )),
    })
}
