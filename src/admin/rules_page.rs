//! `/admin/rules`: the triage rules in force, their version, each rule's
//! decisions in the last 24 hours and 30 days, and the screening lists.

use actix_web::{HttpResponse, web};
use chrono::{Duration, Utc};

use super::AdminContext;
use super::auth::Reviewer;
use super::error::AdminError;
use super::render::page_response;
use super::views::{ListItem, Nav, RuleItem, RulesPage, format_time};
use crate::db::{self, screening};

pub async fn show(
    reviewer: Reviewer,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    let now = Utc::now();
    let (day, month, lists) = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        Ok((
            screening::rule_decisions(conn, now - Duration::hours(24))?,
            screening::rule_decisions(conn, now - Duration::days(30))?,
            screening::lists(conn)?,
        ))
    })
    .await?;
    let count = |rows: &[(String, String, i64)], rule: &str| -> String {
        let mut parts: Vec<String> = rows
            .iter()
            .filter(|(r, _, _)| r == rule)
            .map(|(_, action, n)| format!("{action} {n}"))
            .collect();
        parts.sort();
        if parts.is_empty() {
            "none".to_owned()
        } else {
            parts.join(", ")
        }
    };
    let policy = ctx.triage.policy();
    let rules = policy
        .as_deref()
        .map(|p| {
            p.rules
                .iter()
                .map(|r| RuleItem {
                    id: r.id.clone(),
                    source: r.source.clone(),
                    last_day: count(&day, &r.id),
                    last_month: count(&month, &r.id),
                })
                .collect()
        })
        .unwrap_or_default();
    let page = RulesPage {
        nav_bar: Nav::of(&reviewer),
        file: ctx.triage.rules_file().map(|f| f.display().to_string()),
        version: policy.as_deref().map(|p| p.version.clone()),
        examples: policy.as_deref().map_or(0, |p| p.examples.len()),
        rules,
        threshold: format!("{:.2}", ctx.triage.threshold()),
        lists: lists
            .into_iter()
            .map(|l| ListItem {
                name: l.name,
                kind: l.kind,
                version: l.version,
                entries: l.entries,
                loaded: format_time(l.loaded_at),
            })
            .collect(),
    };
    page_response(&page)
}
