//! The audit log for admins: filters by actor, action, registration and
//! dates, newest first, pages both ways, and its CSV export.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::AdminContext;
use super::auth::Reviewer;
use super::error::AdminError;
use super::params::{day_range, given, href, text_filter};
use super::render::page_response;
use super::views::{AuditLogItem, AuditLogPage, Nav, format_time, format_transition};
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

pub fn audit_filter(q: &AuditQuery) -> Result<audit::AuditFilter, AdminError> {
    let (from, before) = day_range(&q.from, &q.to)?;
    Ok(audit::AuditFilter {
        actor: text_filter("actor", &q.actor, 256)?,
        action: text_filter("action", &q.action, 256)?,
        registration_request_id: text_filter("registration", &q.registration, 256)?,
        from,
        before,
    })
}

fn params(q: &AuditQuery) -> Vec<(&'static str, String)> {
    given([
        ("actor", &q.actor),
        ("action", &q.action),
        ("registration", &q.registration),
        ("from", &q.from),
        ("to", &q.to),
    ])
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
        href("/admin/audit", &p)
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
        export_href: href("/admin/audit/export.csv", &base),
        actor: query.actor.clone().unwrap_or_default(),
        action: query.action.clone().unwrap_or_default(),
        registration: query.registration.clone().unwrap_or_default(),
        from: query.from.clone().unwrap_or_default(),
        to: query.to.clone().unwrap_or_default(),
        rows: rows
            .into_iter()
            .map(|a| AuditLogItem {
                at: format_time(a.at),
                transition: format_transition(a.from_status, a.to_status),
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
