//! What a reviewer does to a registration: decide (through a confirmation
//! step that says what will happen), claim or take over, approve or send
//! back a proposed decision, and add internal notes.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::AdminContext;
use super::auth::Reviewer;
use super::error::AdminError;
use super::login::see_other;
use super::render::page_response;
use super::views::{ConfirmPage, Nav};
use crate::db;
use crate::db::console::{self, ClaimOutcome, Takeover};
use crate::db::requests;
use crate::db::review::{self, RegistrationRow};
use crate::db::screening::{self, Dismissed};
use crate::domain::notification::{
    DecidedRegistration, Target, merchant_body, notifications_for, recipients,
    rejection_reason_sent,
};
use crate::domain::review::{Decision, DecisionError, FourEyes, RejectCode, valid_note};
use crate::domain::status::RegistrationStatus;
use crate::protocol::result::ResultCode;
use crate::workflow;
use crate::workflow::decision::DecideOutcome;

fn back(id: i64, flash: &str) -> HttpResponse {
    see_other(&format!("/admin/registrations/{id}?flash={flash}"))
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
    note: Option<String>,
    /// Present on the confirmation step's Confirm; absent on the first press.
    confirm: Option<String>,
}

/// POST /admin/registrations/{id}/decision: the first press shows the
/// confirmation step; only its Confirm decides.
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
    let note = match form
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        None => None,
        Some(n) => Some(
            valid_note(n)
                .ok_or_else(|| {
                    AdminError::BadRequest(
                        "The internal note is 1 to 4000 characters, without control characters."
                            .into(),
                    )
                })?
                .to_owned(),
        ),
    };
    let confirming = form.confirm.as_deref() == Some("1");
    let decision = match Decision::from_form(
        &form.decision,
        reason.as_deref(),
        form.reject_code.as_deref(),
    ) {
        Ok(d) => d,
        Err(DecisionError::ReasonRequired) => return Ok(back(id, "reason_required")),
        Err(DecisionError::ReasonTooLong) => return Ok(back(id, "reason_too_long")),
        Err(DecisionError::ReasonHasControlCharacters) => return Ok(back(id, "reason_invalid")),
        // The category is chosen on the detail page or on the confirmation step.
        Err(DecisionError::CategoryRequired) => {
            let Some(reason) = reason else {
                return Ok(back(id, "reason_required"));
            };
            let error = confirming.then_some("Choose a rejection category.");
            return confirmation(
                &reviewer,
                &ctx,
                id,
                Pending::Reject { reason },
                &form,
                note,
                error,
            )
            .await;
        }
        Err(DecisionError::UnknownAction) => {
            return Err(AdminError::BadRequest("unknown decision".into()));
        }
    };
    if !confirming {
        return confirmation(
            &reviewer,
            &ctx,
            id,
            Pending::Whole(decision),
            &form,
            note,
            None,
        )
        .await;
    }

    let who = reviewer.username.clone();
    let policy = ctx.notify_policy.clone();
    let four_eyes = ctx.four_eyes;
    let outcome = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        use diesel::Connection as _;
        Ok(conn.transaction(|conn| {
            let outcome =
                workflow::decision::review(conn, id, &decision, &who, four_eyes, &policy)?;
            // The note belongs to the decision: kept only when it took effect.
            if let (Some(n), DecideOutcome::Decided(_) | DecideOutcome::Proposed) =
                (&note, &outcome)
            {
                console::add_note(conn, id, &who, n)?;
            }
            diesel::QueryResult::Ok(outcome)
        })?)
    })
    .await?;
    finish(&ctx, &reviewer, id, outcome)
}

/// Where an outcome leads, with its message.
fn finish(
    ctx: &AdminContext,
    reviewer: &Reviewer,
    id: i64,
    outcome: DecideOutcome,
) -> Result<HttpResponse, AdminError> {
    Ok(match outcome {
        DecideOutcome::Decided(row) => {
            ctx.notifier_wake.notify_one();
            tracing::info!(
                registration_request_id = %row.registration_request_id,
                status = %row.status,
                reviewer = %reviewer.username,
                "registration decided"
            );
            back(id, "decided")
        }
        DecideOutcome::Proposed => back(id, "proposed"),
        DecideOutcome::SentBack => back(id, "sent_back"),
        DecideOutcome::AlreadyDecided(_) => back(id, "already_decided"),
        DecideOutcome::ClaimedBy(_) => back(id, "claimed_by_other"),
        DecideOutcome::ProposalOpen => back(id, "proposal_open"),
        DecideOutcome::ProposalClosed => back(id, "proposal_closed"),
        DecideOutcome::OwnProposal => back(id, "own_proposal"),
        DecideOutcome::NotFound => return Err(AdminError::NotFound),
    })
}

/// A decision to confirm: whole, or a rejection still without its category.
enum Pending {
    Whole(Decision),
    Reject { reason: String },
}

impl Pending {
    fn target(&self) -> RegistrationStatus {
        match self {
            Pending::Whole(d) => d.target(),
            Pending::Reject { .. } => RegistrationStatus::Rejected,
        }
    }

    fn reason(&self) -> Option<&str> {
        match self {
            Pending::Whole(d) => d.reason(),
            Pending::Reject { reason } => Some(reason),
        }
    }
}

/// The confirmation step: nothing changes; it states the new status, who
/// will be told what, and (for a rejection) the exact `rejectionReason`.
async fn confirmation(
    reviewer: &Reviewer,
    ctx: &AdminContext,
    id: i64,
    pending: Pending,
    form: &DecisionForm,
    note: Option<String>,
    error: Option<&'static str>,
) -> Result<HttpResponse, AdminError> {
    let loaded = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        let Some(row) = review::find_registration(conn, id)? else {
            return Ok(None);
        };
        let answered = requests::answered_code(conn, &row.registration_request_id)?;
        Ok(Some((row, answered)))
    })
    .await?;
    let (row, answered) = loaded.ok_or(AdminError::NotFound)?;
    if row.status != RegistrationStatus::Pending {
        return Ok(back(id, "already_decided"));
    }
    let target = pending.target();
    let code = match &pending {
        Pending::Whole(d) => d.reject_code(),
        Pending::Reject { .. } => None,
    };
    let proposal_only = match &pending {
        Pending::Whole(d) => ctx.four_eyes.applies(d, &row.review_flags),
        // The category is still to be chosen: only what holds for any decision.
        Pending::Reject { .. } => ctx.four_eyes.applies_to_any_decision(&row.review_flags),
    };
    let four_eyes_if_risk = matches!(pending, Pending::Reject { .. })
        && ctx.four_eyes == FourEyes::Risk
        && !proposal_only;
    let statements = what_happens(&row, answered, target, pending.reason(), code, ctx);
    let (action_label, decision) = match target {
        RegistrationStatus::Approved => ("Approve", "approve"),
        RegistrationStatus::Rejected => ("Reject", "reject"),
        RegistrationStatus::Cancelled | RegistrationStatus::Pending => {
            ("Cancel registration", "cancel")
        }
    };
    let page = ConfirmPage {
        nav_bar: Nav::of(reviewer),
        reg: &row,
        error,
        action_label,
        decision,
        new_status: target.as_str(),
        proposal_only,
        four_eyes_if_risk,
        statements,
        alipay_rejection_reason: (target == RegistrationStatus::Rejected
            && answered == ResultCode::RegistrationInProcess)
            .then(|| rejection_reason_sent(pending.reason())),
        needs_category: matches!(pending, Pending::Reject { .. }),
        reject_codes: RejectCode::ALL
            .into_iter()
            .map(|c| (c.as_str(), c.label()))
            .collect(),
        reject_code: code.map(|c| c.as_str().to_owned()).unwrap_or_default(),
        reject_code_label: code.map(RejectCode::label).unwrap_or_default(),
        // Sent back exactly as typed: Confirm decides on what was confirmed.
        reason: form.reason.clone().unwrap_or_default(),
        template: form.template.clone().unwrap_or_default(),
        note: note.unwrap_or_default(),
    };
    page_response(&page)
}

/// Who will be told what, in the words the confirmation step uses.
fn what_happens(
    row: &RegistrationRow,
    answered: ResultCode,
    target: RegistrationStatus,
    reason: Option<&str>,
    code: Option<RejectCode>,
    ctx: &AdminContext,
) -> Vec<String> {
    let mut out = vec![format!(
        "The status changes from PENDING to {target}. This cannot be undone."
    )];
    let decided = DecidedRegistration {
        registration_request_id: &row.registration_request_id,
        reference_merchant_id: &row.reference_merchant_id,
        status: target,
        reason,
        reject_code: code,
    };
    let outgoing = notifications_for(
        &decided,
        recipients(answered, row.registration_notify_url.as_deref()),
        &ctx.notify_policy,
    );
    if outgoing.iter().any(|o| o.target == Target::Alipay) {
        out.push(format!(
            "Alipay+ will be told: notifyRegistrationStatus with registrationStatus {target}."
        ));
    } else {
        out.push(
            "Alipay+ already has its final answer for this request, so it is not notified.".into(),
        );
    }
    match outgoing.iter().find(|o| o.target == Target::Merchant) {
        Some(m) => {
            let status = merchant_body(&decided)
                .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
                .map(|v| {
                    let status = v["registrationStatus"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    match v["reasonCode"].as_str() {
                        Some(code) => format!("{status} ({code})"),
                        None => status,
                    }
                })
                .unwrap_or_default();
            out.push(format!(
                "The merchant will be told at {}: {status}.",
                crate::domain::text::spelled_out(m.url)
            ));
            if m.last_error.is_some() {
                out.push(
                    "That merchant URL cannot be used, so the merchant notification fails at once."
                        .into(),
                );
            }
        }
        None => out.push("The merchant gave no notify URL, so it is not told directly.".into()),
    }
    if target == RegistrationStatus::Cancelled && reason.is_some() {
        out.push(
            "The reason is kept with the decision; Alipay+ receives no reason for a cancellation."
                .into(),
        );
    }
    out
}

#[derive(Deserialize)]
pub struct ClaimForm {
    #[serde(default)]
    csrf: String,
    /// `1`: take over another reviewer's live claim.
    takeover: Option<String>,
}

/// POST /admin/registrations/{id}/claim: Claim, or Take over.
pub async fn claim(
    req: HttpRequest,
    reviewer: Reviewer,
    path: web::Path<i64>,
    form: web::Form<ClaimForm>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    reviewer.check_form(&req, &form.csrf)?;
    let id = path.into_inner();
    let takeover = if form.takeover.as_deref() == Some("1") {
        Takeover::Yes
    } else {
        Takeover::No
    };
    let who = reviewer.username.clone();
    let ttl = ctx.claim_ttl;
    let outcome = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        Ok(console::claim(conn, id, &who, ttl, takeover)?)
    })
    .await?;
    Ok(match outcome {
        ClaimOutcome::Claimed => back(id, "claimed"),
        ClaimOutcome::HeldBy(_) => back(id, "claimed_by_other"),
        ClaimOutcome::NotPending => back(id, "not_pending"),
    })
}

#[derive(Deserialize)]
pub struct ProposalForm {
    #[serde(default)]
    csrf: String,
    proposal: i64,
    /// `approve` or `send_back`.
    #[serde(default)]
    action: String,
    note: Option<String>,
}

/// POST /admin/registrations/{id}/proposal: the second reviewer's
/// Approve decision or Send back.
pub async fn second_review(
    req: HttpRequest,
    reviewer: Reviewer,
    path: web::Path<i64>,
    form: web::Form<ProposalForm>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    reviewer.check_form(&req, &form.csrf)?;
    let id = path.into_inner();
    let form = form.into_inner();
    let who = reviewer.username.clone();
    let policy = ctx.notify_policy.clone();
    let proposal = form.proposal;
    let outcome = match form.action.as_str() {
        "approve" => {
            db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
                Ok(workflow::decision::approve_proposal(
                    conn, id, proposal, &who, &policy,
                )?)
            })
            .await?
        }
        "send_back" => {
            let Some(note) = form
                .note
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
            else {
                return Ok(back(id, "note_required"));
            };
            let Some(note) = valid_note(note).map(str::to_owned) else {
                return Ok(back(id, "note_invalid"));
            };
            db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
                Ok(workflow::decision::send_back(
                    conn, id, proposal, &who, &note,
                )?)
            })
            .await?
        }
        _ => return Err(AdminError::BadRequest("unknown action".into())),
    };
    finish(&ctx, &reviewer, id, outcome)
}

#[derive(Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

/// POST /admin/registrations/{id}/notes: an internal note, never sent anywhere.
pub async fn add_note(
    req: HttpRequest,
    reviewer: Reviewer,
    path: web::Path<i64>,
    form: web::Form<NoteForm>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    reviewer.check_form(&req, &form.csrf)?;
    let id = path.into_inner();
    let Some(note) = valid_note(&form.note).map(str::to_owned) else {
        return Ok(back(id, "note_invalid"));
    };
    let who = reviewer.username.clone();
    let found = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        if review::find_registration(conn, id)?.is_none() {
            return Ok(false);
        }
        console::add_note(conn, id, &who, &note)?;
        Ok(true)
    })
    .await?;
    if !found {
        return Err(AdminError::NotFound);
    }
    Ok(back(id, "noted"))
}

/// "Not a match" on a screening hit: the same merchant value against the
/// same list entry is not raised again (audited).
pub async fn dismiss_hit(
    req: HttpRequest,
    reviewer: Reviewer,
    path: web::Path<(i64, i64)>,
    form: web::Form<NoteForm>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    reviewer.check_form(&req, &form.csrf)?;
    let (id, hit) = path.into_inner();
    let Some(note) = valid_note(&form.note).map(str::to_owned) else {
        return Ok(back(id, "note_invalid"));
    };
    let who = reviewer.username.clone();
    let outcome = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        Ok(screening::dismiss(conn, id, hit, &who, &note)?)
    })
    .await?;
    match outcome {
        Dismissed::Done => Ok(back(id, "dismissed")),
        Dismissed::Already => Ok(back(id, "hit_gone")),
        Dismissed::NoSuchHit => Err(AdminError::NotFound),
    }
}
