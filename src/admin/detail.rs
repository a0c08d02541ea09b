//! One registration laid out for a reviewer: what kind of request it is,
//! the evidence, then the decision panel, the notifications and the trail.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::AdminContext;
use super::auth::Reviewer;
use super::error::AdminError;
use super::evidence;
use super::render::page_response;
use super::views::{
    AttemptItem, ClaimView, DetailPage, Flash, HistoryItem, HitItem, Nav, NotificationItem,
    ProposalView, TrailItem, format_age, format_decided, format_time,
};
use crate::db::audit::action;
use crate::db::review::{self, RegistrationRow};
use crate::db::{self, audit, notifications};
use crate::db::{console, screening};
use crate::domain::changes::content_changes;
use crate::domain::notification::{NotificationState, Target};
use crate::domain::review::{FourEyes, RejectCode};
use crate::domain::rules::ActionKind;
use crate::domain::status::RegistrationStatus;

#[derive(Debug, Default, Deserialize)]
pub struct DetailQuery {
    flash: Option<String>,
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
            .filter(|h| {
                h.status == RegistrationStatus::Approved && h.decided_at < Some(row.received_at)
            })
            .max_by_key(|h| h.decided_at)
        {
            Some(approved) => review::find_raw_request(conn, approved.id)?
                .map(|raw| (history_item(approved), raw)),
            None => None,
        };
        let trail = audit::find_for_registration(conn, &row.registration_request_id)?;
        let sent = notifications::find_for_registration(conn, row.id)?;
        let notes = console::notes_for(conn, row.id)?;
        let claim = console::live_claim(conn, row.id)?;
        let proposal = console::open_proposal(conn, row.id)?;
        let hits = screening::hits_for(conn, row.id)?;
        Ok(Some(Loaded {
            row,
            raw_request,
            history,
            last_approved,
            trail,
            sent,
            notes,
            claim,
            proposal,
            hits,
        }))
    })
    .await?;
    let Loaded {
        row,
        raw_request,
        history,
        last_approved,
        trail,
        sent: (sent, attempts),
        notes,
        claim,
        proposal,
        hits,
    } = loaded.ok_or(AdminError::NotFound)?;
    let targets: std::collections::HashMap<i64, Target> =
        sent.iter().map(|n| (n.id, n.target)).collect();
    let notification_summary = notification_summary(&row, &sent);

    let (compared_with, changes) = match last_approved {
        Some((approved, approved_raw)) => {
            let before: serde_json::Value = serde_json::from_str(&approved_raw).unwrap_or_default();
            let after: serde_json::Value = serde_json::from_str(&raw_request).unwrap_or_default();
            (Some(approved), content_changes(&before, &after))
        }
        None => (None, Vec::new()),
    };
    let kind_heading = if row.is_update || compared_with.is_some() {
        match changes.len() {
            1 => "Update of an approved merchant: 1 change".to_owned(),
            n => format!("Update of an approved merchant: {n} changes"),
        }
    } else {
        "New merchant".to_owned()
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

    // The trail: audit events, notes and delivery attempts, in time order.
    let mut items: Vec<TrailItem> = trail.into_iter().map(TrailItem::from).collect();
    items.extend(notes.into_iter().map(|n| TrailItem {
        at_micros: n.at.timestamp_micros(),
        at: format_time(n.at),
        who: n.author,
        kind: "note",
        what: "Internal note".to_owned(),
        transition: String::new(),
        detail: n.body,
    }));
    items.extend(attempts.iter().map(|a| {
        let target = targets
            .get(&a.notification_id)
            .map(|t| t.as_str())
            .unwrap_or_default();
        TrailItem {
            at_micros: a.started_at.timestamp_micros(),
            at: format_time(a.started_at),
            who: "notifier".to_owned(),
            kind: "attempt",
            what: format!("Notification attempt {} to {target}", a.attempt),
            transition: String::new(),
            detail: [
                Some(a.outcome.as_str().to_owned()),
                a.http_status.map(|s| format!("HTTP {s}")),
                a.result_code.clone(),
                a.error.clone(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" · "),
        }
    }));
    items.sort_by_key(|t| t.at_micros);

    let pending = row.status == RegistrationStatus::Pending;
    let claim = claim.filter(|_| pending).map(|c| ClaimView {
        mine: c.reviewer == reviewer.username,
        reviewer: c.reviewer,
        until: format_time(c.expires_at),
    });
    let proposal = proposal.filter(|_| pending).map(|p| ProposalView {
        id: p.id,
        summary: console::describe_proposal(&p),
        mine: p.proposed_by == reviewer.username,
        proposed_by: p.proposed_by,
        at: format_time(p.proposed_at),
    });
    let held_by_other = claim.as_ref().is_some_and(|c| !c.mine);
    let flash = query
        .flash
        .as_deref()
        .and_then(|f| flash_for(f, &row, claim.as_ref()));
    let now = chrono::Utc::now();
    let sla = chrono::Duration::from_std(ctx.review_sla).unwrap_or(chrono::Duration::hours(24));
    let page = DetailPage {
        nav_bar: Nav::of(&reviewer),
        flash,
        reg: &row,
        products: row.product_codes.join(", "),
        received: format_time(row.received_at),
        waiting: format_age(row.received_at, now),
        overdue: pending && now - row.received_at > sla,
        decided: row.decided_at.map(format_time).unwrap_or_default(),
        kind_heading,
        compared_with,
        changes,
        sections: evidence::sections(&raw_request),
        raw_request,
        mismatched_repeats,
        history: history.iter().map(history_item).collect(),
        trail: items,
        can_claim: pending && proposal.is_none() && !claim.as_ref().is_some_and(|c| c.mine),
        can_decide: pending && proposal.is_none() && !held_by_other,
        claim,
        proposal,
        pending,
        four_eyes_note: match ctx.four_eyes {
            FourEyes::Off => None,
            FourEyes::All => {
                Some("Four eyes: every decision is proposed here and made by a second reviewer.")
            }
            FourEyes::Risk if !row.review_flags.is_empty() => Some(
                "Four eyes: this registration has review flags, so a second reviewer makes the decision.",
            ),
            FourEyes::Risk => Some("Four eyes: a rejection for risk is made by a second reviewer."),
        },
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
        triage: triage_text(&row),
        hits: hits.into_iter().map(hit_item).collect(),
    };
    page_response(&page)
}

struct Loaded {
    row: RegistrationRow,
    raw_request: String,
    history: Vec<RegistrationRow>,
    last_approved: Option<(HistoryItem, String)>,
    trail: Vec<crate::db::audit::AuditEntry>,
    sent: (
        Vec<crate::db::notifications::NotificationRow>,
        Vec<crate::db::notifications::AttemptRow>,
    ),
    notes: Vec<console::Note>,
    claim: Option<console::Claim>,
    proposal: Option<console::Proposal>,
    hits: Vec<screening::HitRow>,
}

/// What the triage rules did with a registration, in words.
fn triage_text(row: &RegistrationRow) -> Option<String> {
    let version = row.rules_version.as_deref()?;
    let short = version.get(..12).unwrap_or(version);
    let action = row.triage_action.as_deref().and_then(ActionKind::parse);
    Some(match (row.triage_rule.as_deref(), action) {
        (Some(rule), Some(ActionKind::Approve)) => {
            format!("Approved by rule {rule}, rules version {short}…")
        }
        (Some(rule), Some(ActionKind::Reject)) => {
            format!("Rejected by rule {rule}, rules version {short}…")
        }
        (Some(rule), Some(ActionKind::FourEyes)) => {
            format!("Sent to review with four eyes by rule {rule}, rules version {short}…")
        }
        (Some(rule), Some(ActionKind::Review) | None) => {
            format!("Sent to review by rule {rule}, rules version {short}…")
        }
        (None, _) => format!("No rule decided: review by a person (rules version {short}…)"),
    })
}

fn hit_item(h: screening::HitRow) -> HitItem {
    HitItem {
        id: h.id,
        list: h.list_name,
        version: h.list_version,
        entry: h.entry,
        field: h.field,
        value: h.value,
        score: format!("{:.2}", h.score),
        found: format_time(h.found_at),
        dismissed: match (h.dismissed_by, h.dismissed_at) {
            (Some(by), Some(at)) => Some(format!(
                "Not a match ({by}, {}): {}",
                format_time(at),
                h.dismissal_note.unwrap_or_default()
            )),
            _ => None,
        },
    }
}

fn notification_summary(
    row: &RegistrationRow,
    sent: &[crate::db::notifications::NotificationRow],
) -> String {
    if sent.is_empty() {
        return match row.status {
            RegistrationStatus::Pending => "none until a decision".to_owned(),
            RegistrationStatus::Approved
            | RegistrationStatus::Rejected
            | RegistrationStatus::Cancelled => "none".to_owned(),
        };
    }
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

/// Messages after an action, chosen by code so that nothing a visitor puts
/// in the URL is ever shown as text.
fn flash_for(code: &str, row: &RegistrationRow, claim: Option<&ClaimView>) -> Option<Flash> {
    let decided = || match (&row.decided_by, row.decided_at) {
        (Some(by), Some(at)) => format!("{} by {by} at {}", row.status, format_time(at)),
        _ => row.status.as_str().to_owned(),
    };
    let bad = |text: &str| Flash {
        ok: false,
        text: text.to_owned(),
    };
    let ok = |text: String| Flash { ok: true, text };
    Some(match code {
        "decided" => ok(format!("Decision recorded: {}.", decided())),
        "proposed" => ok("Decision proposed. The status stays PENDING and nothing is sent until a second reviewer approves it.".into()),
        "sent_back" => ok("Proposal sent back. The registration is PENDING for a new decision.".into()),
        "claimed" => ok(match claim {
            Some(c) => format!("You are reviewing this registration until {}.", c.until),
            None => "Claimed.".into(),
        }),
        "noted" => ok("Note added.".into()),
        "dismissed" => ok("Marked not a match: this value against this list entry is not raised again for this merchant.".into()),
        "hit_gone" => bad("That hit was already marked not a match."),
        "already_decided" => bad(&format!(
            "This registration is no longer PENDING: it was already {}. Nothing was changed.",
            decided()
        )),
        "claimed_by_other" => match claim {
            Some(c) => bad(&format!(
                "Being reviewed by {} until {}: nothing was changed. Take over to decide.",
                c.reviewer, c.until
            )),
            None => bad("Another reviewer held this registration: nothing was changed."),
        },
        "proposal_open" => bad("A decision on this registration waits for a second reviewer: approve it or send it back first. Nothing was changed."),
        "proposal_closed" => bad("That proposal was already approved or sent back. Nothing was changed."),
        "own_proposal" => bad("You proposed this decision: a different reviewer must approve it or send it back."),
        "not_pending" => bad("Only a PENDING registration can be claimed."),
        "reason_required" => bad("A rejection needs a reason."),
        "reason_too_long" => bad("The reason is longer than 1024 characters."),
        "reason_invalid" => bad("The reason contains control characters."),
        "note_required" => bad("Sending back needs a note for the proposer."),
        "note_invalid" => bad("A note is 1 to 4000 characters, without control characters."),
        "redriven" => ok("Notification queued again.".into()),
        _ => return None,
    })
}
