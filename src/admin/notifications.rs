//! Notifications not delivered yet, by where they stand, and re-driving
//! them (admins).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::AdminContext;
use super::auth::{self, Reviewer};
use super::error::AdminError;
use super::login::see_other;
use super::render::page_response;
use super::views::{CountLink, Flash, Nav, NotificationItem, NotificationsPage, format_time};
use crate::db;
use crate::db::notifications::{self, NotificationRow, RedriveFilter, StateView};
use crate::domain::notification::{NotificationState, Target};
use chrono::{DateTime, Utc};

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    target: Option<String>,
    flash: Option<String>,
    count: Option<usize>,
}

fn target_from(target: Option<&str>) -> Result<Option<Target>, AdminError> {
    match target.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => Ok(Some(Target::parse(t).ok_or_else(|| {
            AdminError::BadRequest(format!("unknown target {t:?}"))
        })?)),
    }
}

fn filter_from(status: Option<&str>, target: Option<&str>) -> Result<RedriveFilter, AdminError> {
    let status = match status.filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match NotificationState::parse(s).filter(|s| s.needs_a_person()) {
            Some(state) => Some(state),
            None => return Err(AdminError::BadRequest(format!("unknown state {s:?}"))),
        },
    };
    Ok(RedriveFilter {
        status,
        target: target_from(target)?,
        ..RedriveFilter::default()
    })
}

/// Why a notification has not gone out yet, in a reviewer's words.
fn why_waiting(n: &NotificationRow, gateway_configured: bool, now: DateTime<Utc>) -> String {
    match n.status {
        NotificationState::Pending if n.target == Target::Alipay && !gateway_configured => {
            "Alipay+ gateway not configured (ALIPAY_GATEWAY_URL): held until it is".to_owned()
        }
        NotificationState::Pending if n.next_attempt_at > now => {
            if n.attempts == 0 {
                format!("First attempt due at {}", format_time(n.next_attempt_at))
            } else {
                format!(
                    "Waiting to retry after {} attempt(s); next at {}",
                    n.attempts,
                    format_time(n.next_attempt_at)
                )
            }
        }
        NotificationState::Pending => "Due now: the next free notifier worker sends it".to_owned(),
        NotificationState::Failed => {
            "Refused by its recipient: retried only when an admin re-drives it".to_owned()
        }
        NotificationState::Dead => {
            "Ran out of retries: retried only when an admin re-drives it".to_owned()
        }
        NotificationState::Delivered => String::new(),
    }
}

/// GET /admin/notifications: notifications by where they stand: pending,
/// retrying, failed or dead (`status`), for one target or both.
pub async fn list(
    reviewer: Reviewer,
    query: web::Query<ListQuery>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    let asked = match query.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            StateView::parse(s)
                .ok_or_else(|| AdminError::BadRequest(format!("unknown state {s:?}")))?,
        ),
    };
    let target = target_from(query.target.as_deref())?;
    let (view, rows, counts) = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        let counts = notifications::count_views(conn)?;
        // Unasked, the most urgent list that has anything in it.
        let view = asked.unwrap_or_else(|| {
            [
                StateView::Failed,
                StateView::Dead,
                StateView::Retrying,
                StateView::Pending,
            ]
            .into_iter()
            .find(|v| counts.iter().any(|(c, n)| c == v && *n > 0))
            .unwrap_or(StateView::Pending)
        });
        Ok((
            view,
            notifications::list_view(conn, view, target, 500)?,
            counts,
        ))
    })
    .await?;
    let flash = match query.flash.as_deref() {
        Some("redriven") => Some(Flash {
            ok: true,
            text: format!("{} notification(s) queued again.", query.count.unwrap_or(0)),
        }),
        _ => None,
    };
    let target_param = target.map(|t| t.as_str().to_owned()).unwrap_or_default();
    let tabs = counts
        .into_iter()
        .map(|(v, n)| CountLink {
            label: match v {
                StateView::Pending => "Pending",
                StateView::Retrying => "Retrying",
                StateView::Failed => "Failed",
                StateView::Dead => "Dead",
            },
            count: n,
            href: if target_param.is_empty() {
                format!("/admin/notifications?status={}", v.as_str())
            } else {
                format!(
                    "/admin/notifications?status={}&target={target_param}",
                    v.as_str()
                )
            },
            current: v == view,
        })
        .collect();
    let now = Utc::now();
    let page = NotificationsPage {
        flash,
        status: view.as_str().to_owned(),
        redrivable: matches!(view, StateView::Failed | StateView::Dead),
        target: target_param,
        tabs,
        items: rows
            .into_iter()
            .map(|n| {
                let why = why_waiting(&n, ctx.alipay_gateway_configured, now);
                (NotificationItem::from(n), why)
            })
            .collect(),
        can_redrive: reviewer.is_admin(),
        nav_bar: Nav::of(&reviewer),
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
    let one = form.id;
    let rows = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        let rows = notifications::redrive(conn, &filter, &actor, Some(&address))?;
        // One pending notification: Retry makes it due now.
        if let (Some(id), true) = (one, rows.is_empty()) {
            let hurried = notifications::retry_now(conn, id, &actor, Some(&address))?;
            return Ok(usize::from(hurried));
        }
        Ok(rows.len())
    })
    .await?;
    ctx.notifier_wake.notify_one();
    tracing::info!(count = rows, admin = %reviewer.username, "notifications re-driven");
    Ok(match form.registration {
        Some(id) => see_other(&format!("/admin/registrations/{id}?flash=redriven")),
        None => see_other(&format!("/admin/notifications?flash=redriven&count={rows}")),
    })
}
