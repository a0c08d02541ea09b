//! Page models for the askama templates under `templates/`, and the small
//! formatting helpers they use. Every value is escaped by askama.

use askama::Template;

/// Filters of the admin templates.
mod filters {
    /// Merchant text with every invisible character spelled out as its code
    /// point (then escaped like any text).
    #[askama::filter_fn]
    pub fn visible(text: impl std::fmt::Display, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(crate::domain::text::spelled_out(&text.to_string()))
    }
}
use chrono::{DateTime, Utc};

use crate::db::audit::AuditEntry;
use crate::db::notifications::{AttemptRow, NotificationRow};
use crate::db::review::RegistrationRow;
use crate::domain::changes::Change;
use crate::domain::notification::{NotificationState, Target};

/// The header of every signed-in page.
pub struct Nav {
    pub username: String,
    pub csrf: String,
    pub is_admin: bool,
}

/// The menu alone, for pages rendered without a session at hand (errors).
#[derive(Template)]
#[template(source = "{% include \"menu.html\" %}", ext = "html")]
pub struct MenuFragment {
    pub nav: Nav,
}

impl Nav {
    pub fn of(reviewer: &super::auth::Reviewer) -> Nav {
        Nav {
            username: reviewer.username.clone(),
            csrf: reviewer.csrf_token.clone(),
            is_admin: reviewer.is_admin(),
        }
    }
}

/// A one-line message after an action.
pub struct Flash {
    pub ok: bool,
    pub text: String,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub title: &'a str,
    pub text: &'a str,
}

impl ErrorPage<'_> {
    pub fn stylesheet(&self) -> &'static str {
        super::STYLESHEET
    }

    pub fn nav(&self) -> Option<&Nav> {
        None
    }
}

/// What the enrolment page shows: the QR code (inline SVG) and the key.
pub struct Enrolment {
    pub qr_svg: String,
    pub secret: String,
}

#[derive(Template)]
#[template(path = "two_factor.html")]
pub struct TwoFactorPage<'a> {
    pub csrf: &'a str,
    pub enrol: Option<Enrolment>,
    pub error: Option<&'a str>,
}

impl TwoFactorPage<'_> {
    pub fn stylesheet(&self) -> &'static str {
        super::STYLESHEET
    }

    pub fn nav(&self) -> Option<&Nav> {
        None
    }
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub struct RecoveryCodesPage {
    pub codes: Vec<String>,
}

impl RecoveryCodesPage {
    pub fn stylesheet(&self) -> &'static str {
        super::STYLESHEET
    }

    pub fn nav(&self) -> Option<&Nav> {
        None
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub csrf: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
    /// Offer "Sign in with SSO".
    pub sso: bool,
    /// Show the password form.
    pub password: bool,
}

impl LoginPage<'_> {
    pub fn stylesheet(&self) -> &'static str {
        super::STYLESHEET
    }

    pub fn nav(&self) -> Option<&Nav> {
        None
    }
}

pub struct CountLink {
    pub label: &'static str,
    pub count: i64,
    pub href: String,
    pub current: bool,
}

pub struct QueueItem {
    pub href: String,
    pub registration_request_id: String,
    pub reference_merchant_id: String,
    pub reference_store_id: String,
    pub merchant_name: String,
    pub legal_name: String,
    pub region: String,
    pub mcc: String,
    /// Short label and product code.
    pub products: Vec<(&'static str, String)>,
    pub kind: &'static str,
    pub status: String,
    pub received: String,
    pub waiting: String,
    pub overdue: bool,
    pub decided: String,
    /// Flag names; the full texts in `flags_title`.
    pub flags: Vec<String>,
    pub flags_title: String,
    pub claimed_by: Option<String>,
    /// Who proposed the decision waiting for a second reviewer.
    pub proposed_by: Option<String>,
}

pub struct SortLink {
    pub label: &'static str,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "queue.html")]
pub struct QueuePage {
    pub nav_bar: Nav,
    pub flash: Option<Flash>,
    pub undelivered: i64,
    pub counts: Vec<CountLink>,
    pub status: String,
    pub statuses: Vec<(&'static str, &'static str)>,
    pub product: String,
    pub products: Vec<(&'static str, &'static str)>,
    pub search: String,
    pub from: String,
    pub to: String,
    pub decided_by: String,
    pub region: String,
    pub mcc: String,
    pub flagged: bool,
    pub kind: String,
    pub awaiting_second: bool,
    pub sort: &'static str,
    pub sort_links: Vec<SortLink>,
    pub total_text: String,
    /// Which statuses the page shows (a search says so).
    pub searched: String,
    pub showing_search: bool,
    pub rows: Vec<QueueItem>,
    pub next_href: Option<String>,
    pub prev_href: Option<String>,
    pub export_href: String,
}

/// A product code's short name for the queue.
pub fn product_label(code: &str) -> &'static str {
    match code {
        "CASHIER_PAYMENT" => "Cashier",
        "AGREEMENT_PAYMENT" => "Agreement",
        "IN_STORE_PAYMENT" => "In-store",
        _ => "Other",
    }
}

impl QueuePage {
    pub fn stylesheet(&self) -> &'static str {
        super::STYLESHEET
    }

    pub fn nav(&self) -> Option<&Nav> {
        Some(&self.nav_bar)
    }
}

pub struct HistoryItem {
    pub href: String,
    pub registration_request_id: String,
    pub status: String,
    pub received: String,
    pub decided: String,
}

/// A status change as the pages show it: "PENDING → APPROVED", or the
/// status a registration arrived in.
pub fn format_transition(
    from: Option<crate::domain::status::RegistrationStatus>,
    to: Option<crate::domain::status::RegistrationStatus>,
) -> String {
    match (from, to) {
        (Some(from), Some(to)) => format!("{from} → {to}"),
        (None, Some(to)) => to.as_str().to_owned(),
        (_, None) => String::new(),
    }
}

/// One entry of a registration's trail: an audit event, an internal note
/// or a notification attempt, in time order.
pub struct TrailItem {
    pub at_micros: i64,
    pub at: String,
    pub who: String,
    /// `audit`, `note` or `attempt` (a CSS class and the kind of entry).
    pub kind: &'static str,
    pub what: String,
    pub transition: String,
    pub detail: String,
}

impl From<AuditEntry> for TrailItem {
    fn from(e: AuditEntry) -> Self {
        TrailItem {
            at_micros: e.at.timestamp_micros(),
            at: format_time(e.at),
            transition: format_transition(e.from_status, e.to_status),
            who: e.actor,
            kind: "audit",
            what: e.action,
            detail: e.detail.unwrap_or_default(),
        }
    }
}

/// A live claim as the detail page shows it.
pub struct ClaimView {
    pub reviewer: String,
    pub until: String,
    pub mine: bool,
}

/// A decision waiting for a second reviewer.
pub struct ProposalView {
    pub id: i64,
    pub summary: String,
    pub proposed_by: String,
    pub at: String,
    pub mine: bool,
}

#[derive(Template)]
#[template(path = "detail.html")]
pub struct DetailPage<'a> {
    pub nav_bar: Nav,
    pub flash: Option<Flash>,
    pub reg: &'a RegistrationRow,
    pub products: String,
    pub received: String,
    pub waiting: String,
    pub overdue: bool,
    pub decided: String,
    /// "New merchant", or "Update of an approved merchant: N changes".
    pub kind_heading: String,
    pub compared_with: Option<HistoryItem>,
    pub changes: Vec<Change>,
    pub sections: Vec<super::evidence::EvidenceSection>,
    pub raw_request: String,
    /// When and where repeats of this id differed from it (field paths only).
    pub mismatched_repeats: Vec<String>,
    pub history: Vec<HistoryItem>,
    pub trail: Vec<TrailItem>,
    pub claim: Option<ClaimView>,
    pub can_claim: bool,
    pub proposal: Option<ProposalView>,
    pub can_decide: bool,
    pub pending: bool,
    pub four_eyes_note: Option<&'static str>,
    pub reason_templates: &'a [String],
    pub reject_codes: Vec<(&'static str, &'static str)>,
    pub notifications: Vec<NotificationItem>,
    pub notification_summary: String,
    pub attempts: Vec<AttemptItem>,
    pub can_redrive: bool,
    /// What the triage rules did: "Approved by rule approve-low-risk, rules version 3f2a…".
    pub triage: Option<String>,
    pub hits: Vec<HitItem>,
}

/// A screening hit on the detail page.
pub struct HitItem {
    pub id: i64,
    pub list: String,
    pub version: i32,
    pub entry: String,
    pub field: String,
    pub value: String,
    pub score: String,
    pub found: String,
    /// "Not a match (alice, 2026-11-30 10:00 UTC): note", once dismissed.
    pub dismissed: Option<String>,
}

impl DetailPage<'_> {
    pub fn stylesheet(&self) -> &'static str {
        super::STYLESHEET
    }

    pub fn nav(&self) -> Option<&Nav> {
        Some(&self.nav_bar)
    }
}

pub struct AuditLogItem {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub registration_request_id: String,
    pub transition: String,
    pub detail: String,
    pub address: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
pub struct AuditLogPage {
    pub nav_bar: Nav,
    pub actor: String,
    pub action: String,
    pub registration: String,
    pub from: String,
    pub to: String,
    pub rows: Vec<AuditLogItem>,
    pub older_href: Option<String>,
    pub newer_href: Option<String>,
    pub export_href: String,
}

impl AuditLogPage {
    pub fn stylesheet(&self) -> &'static str {
        super::STYLESHEET
    }

    pub fn nav(&self) -> Option<&Nav> {
        Some(&self.nav_bar)
    }
}

/// The confirmation step of a decision: what will happen, Confirm or Back.
#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage<'a> {
    pub nav_bar: Nav,
    pub reg: &'a RegistrationRow,
    pub error: Option<&'static str>,
    /// The button that led here: Approve, Reject or Cancel registration.
    pub action_label: &'static str,
    pub decision: &'static str,
    pub new_status: &'static str,
    /// Four eyes: the decision is only proposed.
    pub proposal_only: bool,
    pub four_eyes_if_risk: bool,
    pub statements: Vec<String>,
    /// The exact `rejectionReason` Alipay+ receives (Reject only).
    pub alipay_rejection_reason: Option<String>,
    pub needs_category: bool,
    pub reject_codes: Vec<(&'static str, &'static str)>,
    pub reject_code: String,
    pub reject_code_label: &'static str,
    pub reason: String,
    pub template: String,
    pub note: String,
}

impl ConfirmPage<'_> {
    pub fn stylesheet(&self) -> &'static str {
        super::STYLESHEET
    }

    pub fn nav(&self) -> Option<&Nav> {
        Some(&self.nav_bar)
    }
}

/// A notification as a row on the admin pages.
pub struct NotificationItem {
    pub id: i64,
    pub registration_href: String,
    pub registration_request_id: String,
    pub target: String,
    pub url: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt: String,
    pub last_error: String,
    pub last_result: String,
    pub delivered: String,
    pub unfinished: bool,
}

impl From<NotificationRow> for NotificationItem {
    fn from(n: NotificationRow) -> Self {
        let last_result = match (n.last_http_status, &n.last_result_code) {
            (Some(http), Some(code)) => format!("HTTP {http}, {code}"),
            (Some(http), None) => format!("HTTP {http}"),
            (None, Some(code)) => code.clone(),
            (None, None) => String::new(),
        };
        NotificationItem {
            id: n.id,
            registration_href: format!("/admin/registrations/{}", n.registration_id),
            unfinished: n.status.needs_a_person(),
            next_attempt: match n.status {
                NotificationState::Pending => format_time(n.next_attempt_at),
                NotificationState::Delivered
                | NotificationState::Failed
                | NotificationState::Dead => String::new(),
            },
            registration_request_id: n.registration_request_id,
            target: n.target.as_str().to_owned(),
            url: n.url,
            status: n.status.as_str().to_owned(),
            attempts: n.attempts,
            last_error: n.last_error.unwrap_or_default(),
            last_result,
            delivered: n.delivered_at.map(format_time).unwrap_or_default(),
        }
    }
}

pub struct AttemptItem {
    pub target: String,
    pub attempt: i32,
    pub started: String,
    pub duration_ms: i32,
    pub http_status: String,
    pub result_code: String,
    pub error: String,
    pub outcome: String,
}

impl AttemptItem {
    pub fn new(a: AttemptRow, target: Option<Target>) -> Self {
        AttemptItem {
            target: target.map(|t| t.as_str().to_owned()).unwrap_or_default(),
            attempt: a.attempt,
            started: format_time(a.started_at),
            duration_ms: a.duration_ms,
            http_status: a.http_status.map(|s| s.to_string()).unwrap_or_default(),
            result_code: a.result_code.unwrap_or_default(),
            error: a.error.unwrap_or_default(),
            outcome: a.outcome.as_str().to_owned(),
        }
    }
}

#[derive(Template)]
#[template(path = "notifications.html")]
pub struct NotificationsPage {
    pub nav_bar: Nav,
    pub flash: Option<Flash>,
    pub status: String,
    pub target: String,
    pub tabs: Vec<CountLink>,
    /// Each notification with why it waits.
    pub items: Vec<(NotificationItem, String)>,
    /// The view holds failed or dead notifications (re-driven in bulk).
    pub redrivable: bool,
    pub can_redrive: bool,
}

impl NotificationsPage {
    pub fn stylesheet(&self) -> &'static str {
        super::STYLESHEET
    }

    pub fn nav(&self) -> Option<&Nav> {
        Some(&self.nav_bar)
    }
}

pub struct UserItem {
    pub username: String,
    pub role: String,
    pub created: String,
    pub disabled: bool,
    pub is_self: bool,
    pub two_factor: bool,
    pub last_sign_in: String,
}

#[derive(Template)]
#[template(path = "users.html")]
pub struct UsersPage {
    pub nav_bar: Nav,
    pub flash: Option<Flash>,
    pub users: Vec<UserItem>,
    /// Right after **Create user**: the new account's one-time setup link.
    pub setup_link: Option<String>,
}

#[derive(Template)]
#[template(path = "setup.html")]
pub struct SetupPage<'a> {
    pub username: &'a str,
    pub csrf: &'a str,
    pub error: Option<&'a str>,
}

impl SetupPage<'_> {
    pub fn stylesheet(&self) -> &'static str {
        super::STYLESHEET
    }

    pub fn nav(&self) -> Option<&Nav> {
        None
    }
}

pub struct SessionItem {
    pub created: String,
    pub last_seen: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub nav_bar: Nav,
    pub flash: Option<Flash>,
    pub sessions: Vec<SessionItem>,
}

impl AccountPage {
    pub fn stylesheet(&self) -> &'static str {
        super::STYLESHEET
    }

    pub fn nav(&self) -> Option<&Nav> {
        Some(&self.nav_bar)
    }
}

impl UsersPage {
    pub fn stylesheet(&self) -> &'static str {
        super::STYLESHEET
    }

    pub fn nav(&self) -> Option<&Nav> {
        Some(&self.nav_bar)
    }
}

/// "2026-11-22 03:45:12 UTC by alice", or nothing while undecided.
pub fn format_decided(at: Option<DateTime<Utc>>, by: Option<&str>) -> String {
    match (at, by) {
        (Some(at), Some(by)) => format!("{} by {by}", format_time(at)),
        _ => String::new(),
    }
}

pub fn format_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// To the minute, for the queue's narrow column (headed "UTC").
pub fn format_minute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// "3 d 4 h", "2 h 5 min", "12 min", "40 s".
pub fn format_age(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - since).num_seconds().max(0);
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{secs} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        let now = Utc::now();
        assert_eq!(format_age(now - chrono::Duration::seconds(40), now), "40 s");
        assert_eq!(
            format_age(now - chrono::Duration::minutes(125), now),
            "2 h 5 min"
        );
        assert_eq!(
            format_age(now - chrono::Duration::hours(76), now),
            "3 d 4 h"
        );
    }

    #[test]
    fn merchant_text_is_escaped() {
        let page = ErrorPage {
            title: "x",
            text: "<script>alert(1)</script>",
        };
        let html = page.render().unwrap();
        assert!(
            html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script>"));
    }
}

#[derive(Template)]
#[template(path = "rules.html")]
pub struct RulesPage {
    pub nav_bar: Nav,
    pub file: Option<String>,
    /// The rules' version (SHA-256 of the file); `None`: no rules in force.
    pub version: Option<String>,
    pub examples: usize,
    pub rules: Vec<RuleItem>,
    pub threshold: String,
    pub lists: Vec<ListItem>,
}

impl RulesPage {
    pub fn stylesheet(&self) -> &'static str {
        super::STYLESHEET
    }

    pub fn nav(&self) -> Option<&Nav> {
        Some(&self.nav_bar)
    }
}

pub struct RuleItem {
    pub id: String,
    pub source: String,
    /// "approve 12, reject 1", or "none".
    pub last_day: String,
    pub last_month: String,
}

pub struct ListItem {
    pub name: String,
    pub kind: String,
    pub version: i32,
    pub entries: i32,
    pub loaded: String,
}
