//! The audit log for admins: filters by actor, action, registration and
//! dates, newest first, pages both ways, and its CSV export.

use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use serde::Deserialize;

use super::AdminContext;
use super::auth::Reviewer;
use super::error::AdminError;
use super::render::page_response;
use super::views::{AuditLogItem, AuditLogPage, Nav, format_time};
use crate::db::{self, audit};

const PAGE_SIZE: i64 = 100;

#[derive(Debug, Default, Clone, Deserialize)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    registration: Option<String>,
    from: Option<String>,
    to: Option<String>,
    older_than: Option<i64>,
    newer_than: Option<i64>,
}

fn text(name: &str, v: &Option<String>) -> Result<Option<String>, AdminError> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(t) if t.chars().count() > 256 || t.chars().any(char::is_control) => Err(
            AdminError::BadRequest(format!("The {name} filter is not a valid value.")),
        ),
        Some(t) => Ok(Some(t.to_owned())),
    }
}

pub fn audit_filter(q: &AuditQuery) -> Result<audit::AuditFilter, AdminError> {
    let start = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    Ok(audit::AuditFilter {
        actor: text("actor", &q.actor)?,
        action: text("action", &q.action)?,
        registration_request_id: text("registration", &q.registration)?,
        from: super::queue::date("from", &q.from)?.and_then(start),
        before: super::queue::date("to", &q.to)?
            .and_then(|d| d.succ_opt())
            .and_then(start),
    })
}

fn params(q: &AuditQuery) -> Vec<(&'static str, String)> {
    [
        ("actor", &q.actor),
        ("action", &q.action),
        ("registration", &q.registration),
        ("from", &q.from),
        ("to", &q.to),
    ]
    .into_iter()
    .filter_map(|(k, v)| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| (k, s.to_owned()))
    })
    .collect()
}

/// GET /admin/audit (admins).
pub async fn show(
    reviewer: Reviewer,
    query: web::Query<AuditQuery>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    if !reviewer.is_admin() {
        return Err(AdminError::Forbidden);
    }
    let query = query.into_inner();
    let filter = audit_filter(&query)?;
    let (older, newer) = (query.older_than, query.newer_than);
    let (rows, more) = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        Ok(audit::list_page(conn, &filter, older, newer, PAGE_SIZE)?)
    })
    .await?;
    let base = params(&query);
    let with = |k: &'static str, id: i64| {
        let mut p = base.clone();
        p.push((k, id.to_string()));
        super::queue::href("/admin/audit", &p)
    };
    let backwards = newer.is_some() && older.is_none();
    let has_older = if backwards { true } else { more };
    let has_newer = if backwards { more } else { older.is_some() };
    let page = AuditLogPage {
        nav_bar: Nav::of(&reviewer),
        older_href: has_older
            .then(|| rows.last().map(|r| with("older_than", r.id)))
            .flatten(),
        newer_href: has_newer
            .then(|| rows.first().map(|r| with("newer_than", r.id)))
            .flatten(),
        export_href: super::queue::href("/admin/audit/export.csv", &base),
        actor: query.actor.clone().unwrap_or_default(),
        action: query.action.clone().unwrap_or_default(),
        registration: query.registration.clone().unwrap_or_default(),
        from: query.from.clone().unwrap_or_default(),
        to: query.to.clone().unwrap_or_default(),
        rows: rows
            .into_iter()
            .map(|a| AuditLogItem {
                at: format_time(a.at),
                transition: match (a.from_status, a.to_status) {
                    (Some(f), Some(t)) => format!("{f} → {t}"),
                    (None, Some(t)) => t.as_str().to_owned(),
                    (_, None) => String::new(),
                },
                actor: a.actor,
                action: a.action,
                registration_request_id: a.registration_request_id.unwrap_or_default(),
                detail: a.detail.unwrap_or_default(),
                address: a.address.unwrap_or_default(),
            })
            .collect(),
    };
    page_response(&page)
}
