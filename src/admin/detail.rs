//! One registration laid out for a reviewer, and the decision on it.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::AdminContext;
use super::auth::Reviewer;
use super::error::AdminError;
use super::login::see_other;
use super::render::page_response;
use super::views::{
    AttemptItem, AuditItem, DetailPage, Flash, HistoryItem, Nav, NotificationItem, Section,
    format_age, format_decided, format_time,
};
use crate::db::audit::action;
use crate::db::review::{self, RegistrationRow};
use crate::db::{self, audit, notifications};
use crate::domain::changes::{Field, content_changes, flatten};
use crate::domain::notification::{NotificationState, Target};
use crate::domain::review::{Decision, DecisionError, RejectCode};
use crate::domain::status::RegistrationStatus;
use crate::workflow;
use crate::workflow::decision::DecideOutcome;

#[derive(Debug, Default, Deserialize)]
pub struct DetailQuery {
    flash: Option<String>,
}

/// Sections of the request, by the path prefix of their fields; a field
/// belongs to the longest prefix it starts with, so nothing is left out.
const SECTIONS: &[(&str, &str)] = &[
    ("Request", ""),
    ("Merchant", "merchantInfo"),
    ("Merchant address", "merchantInfo.merchantAddress"),
    ("Logo", "merchantInfo.logo"),
    ("Websites", "merchantInfo.websites"),
    ("Registration detail", "merchantInfo.registrationDetail"),
    (
        "Registered address",
        "merchantInfo.registrationDetail.registrationAddress",
    ),
    ("Contacts", "merchantInfo.registrationDetail.contactInfo"),
    ("Attachments", "merchantInfo.registrationDetail.attachments"),
    ("Store", "storeInfo"),
    ("Store address", "storeInfo.storeAddress"),
    ("Store contacts", "storeInfo.storeContacts"),
];

fn sections(raw_request: &str) -> Vec<Section> {
    let value: serde_json::Value = serde_json::from_str(raw_request).unwrap_or_default();
    let mut out: Vec<Section> = SECTIONS
        .iter()
        .map(|(title, _)| Section {
            title,
            fields: Vec::new(),
        })
        .collect();
    for field in flatten(&value) {
        let (index, prefix) = SECTIONS
            .iter()
            .enumerate()
            .filter(|(_, (_, p))| {
                p.is_empty()
                    || field.path == *p
                    || field.path.starts_with(&format!("{p}."))
                    || field.path.starts_with(&format!("{p}["))
            })
            .max_by_key(|(_, (_, p))| p.len())
            .map(|(i, (_, p))| (i, *p))
            .unwrap_or((0, ""));
        let label = field.path[prefix.len()..]
            .trim_start_matches('.')
            .to_owned();
        let label = if label.is_empty() {
            field.path.clone()
        } else {
            label
        };
        out[index].fields.push(Field {
            path: label,
            value: field.value,
        });
    }
    out.retain(|s| !s.fields.is_empty());
    out
}

pub async fn show(
    reviewer: Reviewer,
    path: web::Path<i64>,
    query: web::Query<DetailQuery>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner();
    let loaded = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        let Some(row) = review::find_registration(conn, id)? else {
            return Ok(None);
        };
        let raw_request = review::find_raw_request(conn, id)?.unwrap_or_default();
        let history = review::list_merchant_history(conn, &row)?;
        // What changed since the latest approval of a key this one shares.
        let last_approved = match history
            .iter()
            .filter(|h| h.status == RegistrationStatus::Approved)
            .max_by_key(|h| h.decided_at)
        {
            Some(approved) => review::find_raw_request(conn, approved.id)?
                .map(|raw| (approved.registration_request_id.clone(), raw)),
            None => None,
        };
        let trail = audit::find_for_registration(conn, &row.registration_request_id)?;
        let sent = notifications::find_for_registration(conn, row.id)?;
        Ok(Some((
            row,
            raw_request,
            history,
            last_approved,
            trail,
            sent,
        )))
    })
    .await?;
    let (row, raw_request, history, last_approved, trail, (sent, attempts)) =
        loaded.ok_or(AdminError::NotFound)?;
    let targets: std::collections::HashMap<i64, Target> =
        sent.iter().map(|n| (n.id, n.target)).collect();
    let notification_summary = if sent.is_empty() {
        match row.status {
            RegistrationStatus::Pending => "none until a decision".to_owned(),
            RegistrationStatus::Approved
            | RegistrationStatus::Rejected
            | RegistrationStatus::Cancelled => "none".to_owned(),
        }
    } else {
        sent.iter()
            .map(|n| match n.status {
                NotificationState::Pending => {
                    format!("{}: pending ({} attempts so far)", n.target, n.attempts)
                }
                done @ (NotificationState::Delivered
                | NotificationState::Failed
                | NotificationState::Dead) => {
                    format!("{}: {done} after {} attempt(s)", n.target, n.attempts)
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    };

    let (compared_with, changes) = match last_approved {
        Some((approved_id, approved_raw)) => {
            let before: serde_json::Value = serde_json::from_str(&approved_raw).unwrap_or_default();
            let after: serde_json::Value = serde_json::from_str(&raw_request).unwrap_or_default();
            (Some(approved_id), content_changes(&before, &after))
        }
        None => (None, Vec::new()),
    };
    // Repeats of this id that carried another body: answered as stored, but a
    // reviewer should know the sender's systems disagree about this request.
    let mismatched_repeats: Vec<String> = trail
        .iter()
        .filter(|a| a.action == action::REPEAT_MISMATCHED)
        .map(|a| {
            format!(
                "{}: {}",
                format_time(a.at),
                a.detail.as_deref().unwrap_or_default()
            )
        })
        .collect();

    let flash = query.flash.as_deref().and_then(|f| flash_for(f, &row));
    let now = chrono::Utc::now();
    let page = DetailPage {
        nav_bar: Nav {
            username: reviewer.username.clone(),
            csrf: reviewer.csrf_token.clone(),
            is_admin: reviewer.is_admin(),
        },
        flash,
        reg: &row,
        products: row.product_codes.join(", "),
        received: format_time(row.received_at),
        waiting: format_age(row.received_at, now),
        decided: row.decided_at.map(format_time).unwrap_or_default(),
        sections: sections(&raw_request),
        mismatched_repeats,
        history: history.iter().map(history_item).collect(),
        compared_with,
        changes,
        audit: trail.into_iter().map(AuditItem::from).collect(),
        can_decide: row.status == RegistrationStatus::Pending,
        reason_templates: &ctx.reason_templates,
        reject_codes: RejectCode::ALL
            .into_iter()
            .map(|c| (c.as_str(), c.label()))
            .collect(),
        notifications: sent.into_iter().map(NotificationItem::from).collect(),
        notification_summary,
        attempts: attempts
            .into_iter()
            .map(|a| {
                let target = targets.get(&a.notification_id).copied();
                AttemptItem::new(a, target)
            })
            .collect(),
        can_redrive: reviewer.is_admin(),
    };
    page_response(&page)
}

fn history_item(h: &RegistrationRow) -> HistoryItem {
    HistoryItem {
        href: format!("/admin/registrations/{}", h.id),
        registration_request_id: h.registration_request_id.clone(),
        status: h.status.as_str().to_owned(),
        received: format_time(h.received_at),
        decided: format_decided(h.decided_at, h.decided_by.as_deref()),
    }
}

/// Messages after a decision, chosen by code so that nothing a visitor puts
/// in the URL is ever shown as text.
fn flash_for(code: &str, row: &RegistrationRow) -> Option<Flash> {
    let decided = || match (&row.decided_by, row.decided_at) {
        (Some(by), Some(at)) => format!("{} by {by} at {}", row.status, format_time(at)),
        _ => row.status.as_str().to_owned(),
    };
    Some(match code {
        "decided" => Flash {
            ok: true,
            text: format!("Decision recorded: {}.", decided()),
        },
        "already_decided" => Flash {
            ok: false,
            text: format!(
                "This registration is no longer PENDING: it was already {}. Nothing was changed.",
                decided()
            ),
        },
        "reason_required" => Flash {
            ok: false,
            text: "A rejection needs a reason.".into(),
        },
        "reason_too_long" => Flash {
            ok: false,
            text: "The reason is longer than 1024 characters.".into(),
        },
        "reason_invalid" => Flash {
            ok: false,
            text: "The reason contains control characters.".into(),
        },
        _ => return None,
    })
}

#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    reason: Option<String>,
    template: Option<String>,
    reject_code: Option<String>,
}

/// POST /admin/registrations/{id}/decision.
pub async fn decide(
    req: HttpRequest,
    reviewer: Reviewer,
    path: web::Path<i64>,
    form: web::Form<DecisionForm>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    reviewer.check_form(&req, &form.csrf)?;
    let id = path.into_inner();
    let form = form.into_inner();
    let back = |flash: &str| see_other(&format!("/admin/registrations/{id}?flash={flash}"));

    // A picked template stands for the reason, or leads it when text is typed too.
    let typed = form
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let template = form
        .template
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if let Some(t) = template
        && !ctx.reason_templates.iter().any(|known| known == t)
    {
        return Err(AdminError::BadRequest("unknown reason template".into()));
    }
    let reason = match (template, typed) {
        (Some(t), Some(r)) => Some(format!("{t}: {r}")),
        (Some(t), None) => Some(t.to_owned()),
        (None, r) => r.map(str::to_owned),
    };
    let decision = match Decision::from_form(
        &form.decision,
        reason.as_deref(),
        form.reject_code.as_deref(),
    ) {
        Ok(d) => d,
        Err(DecisionError::ReasonRequired) => return Ok(back("reason_required")),
        Err(DecisionError::ReasonTooLong) => return Ok(back("reason_too_long")),
        Err(DecisionError::ReasonHasControlCharacters) => return Ok(back("reason_invalid")),
        Err(DecisionError::UnknownAction) => {
            return Err(AdminError::BadRequest("unknown decision".into()));
        }
    };

    let who = reviewer.username.clone();
    let policy = ctx.notify_policy.clone();
    let outcome = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        Ok(workflow::decision::decide(
            conn, id, &decision, &who, &policy,
        )?)
    })
    .await?;
    match outcome {
        DecideOutcome::Decided(row) => {
            ctx.notifier_wake.notify_one();
            tracing::info!(
                registration_request_id = %row.registration_request_id,
                status = %row.status,
                reviewer = %reviewer.username,
                "registration decided"
            );
            Ok(back("decided"))
        }
        DecideOutcome::AlreadyDecided(_) => Ok(back("already_decided")),
        DecideOutcome::NotFound => Err(AdminError::NotFound),
    }
}
