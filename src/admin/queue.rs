//! The review queue: filters and search (as bookmarkable URL parameters),
//! three orders with keyset pagination both ways, a total per filter,
//! claims and four-eyes marks, and "Review next".

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;

use super::AdminContext;
use super::auth::Reviewer;
use super::error::AdminError;
use super::login::see_other;
use super::params::{day_range, given, href, non_empty, text_filter};
use super::render::page_response;
use super::views::{
    CountLink, Flash, Nav, QueueItem, QueuePage, SortLink, format_age, format_decided,
    format_minute, product_label,
};
use crate::db;
use crate::db::console;
use crate::db::review::{
    self, Cursor, Kind, PagePosition, QueueFilter, QueueRow, QueueSort, SortKey, Total,
};
use crate::domain::status::RegistrationStatus;
use crate::protocol::registration::ProductCode;

const PAGE_SIZE: i64 = 50;
/// Totals above this are shown as "more than": counting every match of a
/// broad filter over millions of rows would cost more than it tells.
pub const COUNT_CAP: i64 = 10_000;

/// The queue's URL parameters (also the export's).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct QueueQuery {
    q: Option<String>,
    status: Option<String>,
    product: Option<String>,
    from: Option<String>,
    to: Option<String>,
    decided_by: Option<String>,
    region: Option<String>,
    mcc: Option<String>,
    flagged: Option<String>,
    kind: Option<String>,
    awaiting: Option<String>,
    sort: Option<String>,
    after: Option<String>,
    before: Option<String>,
    flash: Option<String>,
}

/// The filter a query asks for. Without a status, the queue shows PENDING
/// work, and a search looks through every status.
pub fn filter_from(query: &QueueQuery) -> Result<QueueFilter, AdminError> {
    let search: Option<String> = non_empty(&query.q).map(|q| q.chars().take(256).collect());
    // Nothing stored has control characters (and a NUL could not even be searched for).
    if search
        .as_deref()
        .is_some_and(|q| q.chars().any(char::is_control))
    {
        return Err(AdminError::BadRequest(
            "The search text contains control characters.".into(),
        ));
    }
    let status = match non_empty(&query.status) {
        Some("ALL") => None,
        Some(other) => Some(
            RegistrationStatus::parse(other)
                .ok_or_else(|| AdminError::BadRequest(format!("unknown status {other:?}")))?,
        ),
        None if search.is_some() => None,
        None => Some(RegistrationStatus::Pending),
    };
    let product_code = non_empty(&query.product)
        .map(|p| {
            ProductCode::parse(p)
                .ok_or_else(|| AdminError::BadRequest(format!("unknown product code {p:?}")))
        })
        .transpose()?;
    let (received_from, received_before) = day_range(&query.from, &query.to)?;
    let kind = match non_empty(&query.kind) {
        None => None,
        Some("new") => Some(Kind::New),
        Some("update") => Some(Kind::Update),
        Some(other) => return Err(AdminError::BadRequest(format!("unknown kind {other:?}"))),
    };
    let sort = match non_empty(&query.sort) {
        Some(s) => QueueSort::parse(s)
            .ok_or_else(|| AdminError::BadRequest(format!("unknown order {s:?}")))?,
        // PENDING work is served longest-waiting first; everything else newest first.
        None if status == Some(RegistrationStatus::Pending) => QueueSort::Waiting,
        None => QueueSort::Received,
    };
    Ok(QueueFilter {
        status,
        product_code,
        search,
        received_from,
        received_before,
        decided_by: text_filter("decided by", &query.decided_by, 128)?,
        region: text_filter("region", &query.region, 128)?,
        mcc: text_filter("MCC", &query.mcc, 128)?,
        flagged_only: non_empty(&query.flagged) == Some("1"),
        kind,
        awaiting_second_review: non_empty(&query.awaiting) == Some("second"),
        sort,
    })
}

/// The URL parameters that reproduce a filter (without a page position).
pub fn filter_params(query: &QueueQuery) -> Vec<(&'static str, String)> {
    given([
        ("q", &query.q),
        ("status", &query.status),
        ("product", &query.product),
        ("from", &query.from),
        ("to", &query.to),
        ("decided_by", &query.decided_by),
        ("region", &query.region),
        ("mcc", &query.mcc),
        ("flagged", &query.flagged),
        ("kind", &query.kind),
        ("awaiting", &query.awaiting),
        ("sort", &query.sort),
    ])
}

/// `params` with `name` set to `value` (or removed when `None`).
fn with(
    params: &[(&'static str, String)],
    name: &'static str,
    value: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut out: Vec<_> = params.iter().filter(|(k, _)| *k != name).cloned().collect();
    if let Some(v) = value {
        out.push((name, v.to_owned()));
    }
    out
}

fn position_from(query: &QueueQuery) -> Result<PagePosition, AdminError> {
    let bad = || AdminError::BadRequest("bad page position".into());
    Ok(match (non_empty(&query.after), non_empty(&query.before)) {
        (Some(a), _) => PagePosition::After(Cursor::decode(a).ok_or_else(bad)?),
        (None, Some(b)) => PagePosition::Before(Cursor::decode(b).ok_or_else(bad)?),
        (None, None) => PagePosition::First,
    })
}

fn cursor_of(row: &QueueRow, lowered_name: &str, sort: QueueSort) -> Cursor {
    Cursor {
        key: match sort {
            QueueSort::Merchant => SortKey::Name(lowered_name.to_owned()),
            QueueSort::Received | QueueSort::Waiting => SortKey::Time(row.received_at),
        },
        id: row.id,
    }
}

/// A flag's name: the text before its first colon.
pub fn flag_name(flag: &str) -> &str {
    flag.split_once(": ").map_or(flag, |(name, _)| name)
}

pub async fn show(
    reviewer: Reviewer,
    query: web::Query<QueueQuery>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let filter = filter_from(&query)?;
    let position = position_from(&query)?;
    let params = filter_params(&query);

    // The counters answer a status-only filter exactly; anything else is counted (up to a cap).
    let exact_from_counters = filter_params_are_status_only(&params);
    let (list_filter, list_position) = (filter.clone(), position.clone());
    let (rows, more, counts, total, undelivered, claims, proposals) =
        db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
            let (rows, more, total) = if list_filter.search.is_some() {
                let (rows, more, total) =
                    review::search_queue(conn, &list_filter, &list_position, PAGE_SIZE)?;
                (rows, more, Some(total))
            } else {
                let (rows, more) =
                    review::list_queue(conn, &list_filter, &list_position, PAGE_SIZE)?;
                let total = if exact_from_counters {
                    None
                } else {
                    let n = review::count_queue(conn, &list_filter, COUNT_CAP)?;
                    Some(if n > COUNT_CAP {
                        Total::MoreThan(COUNT_CAP)
                    } else {
                        Total::Exact(n)
                    })
                };
                (rows, more, total)
            };
            let counts = review::count_by_status(conn)?;
            let ids: Vec<i64> = rows.iter().map(|(r, _)| r.id).collect();
            Ok((
                rows,
                more,
                counts,
                total,
                crate::db::notifications::count_unfinished(conn)?,
                console::live_claims(conn, &ids)?,
                console::open_proposals(conn, &ids)?,
            ))
        })
        .await?;

    let count_of = |s: RegistrationStatus| {
        counts
            .iter()
            .find(|(status, _)| *status == s)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let all_count: i64 = counts.iter().map(|(_, n)| n).sum();
    let total = match (total, filter.status) {
        (Some(t), _) => t,
        (None, Some(s)) => Total::Exact(count_of(s)),
        (None, None) => Total::Exact(all_count),
    };

    // Pages both ways: "after" the last row shown, "before" the first.
    let backwards = matches!(position, PagePosition::Before(_));
    let first = rows.first().map(|(r, n)| cursor_of(r, n, filter.sort));
    let last = rows.last().map(|(r, n)| cursor_of(r, n, filter.sort));
    let has_next = if backwards { true } else { more };
    let has_prev = match position {
        PagePosition::First => false,
        PagePosition::After(_) => true,
        PagePosition::Before(_) => more,
    };
    let next_href = has_next
        .then(|| last.map(|c| href("/admin", &with(&params, "after", Some(&c.encode())))))
        .flatten();
    let prev_href = has_prev
        .then(|| first.map(|c| href("/admin", &with(&params, "before", Some(&c.encode())))))
        .flatten();

    let mut count_links: Vec<CountLink> = RegistrationStatus::ALL
        .into_iter()
        .map(|s| CountLink {
            label: s.as_str(),
            count: count_of(s),
            href: href("/admin", &[("status", s.as_str().to_owned())]),
            current: filter.status == Some(s) && params.len() <= 1,
        })
        .collect();
    count_links.push(CountLink {
        label: "ALL",
        count: all_count,
        href: href("/admin", &[("status", "ALL".to_owned())]),
        current: filter.status.is_none() && params.len() <= 1,
    });

    let now = Utc::now();
    let sla = chrono::Duration::from_std(ctx.review_sla).unwrap_or(chrono::Duration::hours(24));
    let items = rows
        .into_iter()
        .map(|(r, _)| {
            let pending = r.status == RegistrationStatus::Pending;
            QueueItem {
                href: format!("/admin/registrations/{}", r.id),
                waiting: if pending {
                    format_age(r.received_at, now)
                } else {
                    String::new()
                },
                overdue: pending && now - r.received_at > sla,
                received: format_minute(r.received_at),
                decided: format_decided(r.decided_at, r.decided_by.as_deref()),
                products: r
                    .product_codes
                    .iter()
                    .map(|c| (product_label(c), c.clone()))
                    .collect(),
                kind: if r.is_update { "Update" } else { "New" },
                flags: r
                    .review_flags
                    .iter()
                    .map(|f| flag_name(f).to_owned())
                    .collect(),
                flags_title: r.review_flags.join("\n"),
                claimed_by: claims
                    .iter()
                    .find(|(id, _)| *id == r.id)
                    .map(|(_, who)| who.clone()),
                proposed_by: proposals
                    .iter()
                    .find(|(id, _)| *id == r.id)
                    .map(|(_, who)| who.clone()),
                status: r.status.as_str().to_owned(),
                registration_request_id: r.registration_request_id,
                reference_merchant_id: r.reference_merchant_id,
                reference_store_id: r.reference_store_id.unwrap_or_default(),
                merchant_name: r.merchant_name,
                legal_name: r.legal_name,
                region: r.region.unwrap_or_default(),
                mcc: r.merchant_mcc,
            }
        })
        .collect();

    let mut statuses: Vec<(&'static str, &'static str)> =
        vec![("", "Default: PENDING, all when searching")];
    statuses.extend(
        RegistrationStatus::ALL
            .into_iter()
            .map(|s| (s.as_str(), s.as_str())),
    );
    statuses.push(("ALL", "All statuses"));
    let mut products: Vec<(&'static str, &'static str)> = vec![("", "All products")];
    products.extend(
        ProductCode::ALL
            .into_iter()
            .map(|c| (c.as_str(), c.as_str())),
    );
    let sort_links = QueueSort::ALL
        .into_iter()
        .map(|s| SortLink {
            label: match s {
                QueueSort::Waiting => "Waiting longest",
                QueueSort::Received => "Newest",
                QueueSort::Merchant => "Merchant name",
            },
            href: href("/admin", &with(&params, "sort", Some(s.as_str()))),
            current: s == filter.sort,
        })
        .collect();
    let searched = match filter.status {
        Some(s) => format!("{s} only"),
        None => "every status".to_owned(),
    };
    let total_text = match total {
        Total::MoreThan(cap) => format!("More than {cap} registrations"),
        Total::AtLeast(n) => format!("At least {n} registrations"),
        Total::Exact(1) => "1 registration".to_owned(),
        Total::Exact(n) => format!("{n} registrations"),
    };

    let value = |v: &Option<String>| non_empty(v).unwrap_or_default().to_owned();
    let page = QueuePage {
        flash: query.flash.as_deref().and_then(flash_text),
        undelivered,
        nav_bar: Nav::of(&reviewer),
        counts: count_links,
        status: value(&query.status),
        statuses,
        product: value(&query.product),
        products,
        search: filter.search.clone().unwrap_or_default(),
        from: value(&query.from),
        to: value(&query.to),
        decided_by: value(&query.decided_by),
        region: value(&query.region),
        mcc: value(&query.mcc),
        flagged: filter.flagged_only,
        kind: value(&query.kind),
        awaiting_second: filter.awaiting_second_review,
        sort: filter.sort.as_str(),
        sort_links,
        total_text,
        searched,
        showing_search: filter.search.is_some(),
        rows: items,
        next_href,
        prev_href,
        export_href: href("/admin/export.csv", &params),
    };
    page_response(&page)
}

/// Whether the parameters name at most a status (the counters know that total).
fn filter_params_are_status_only(params: &[(&'static str, String)]) -> bool {
    params.iter().all(|(k, _)| *k == "status" || *k == "sort")
}

fn flash_text(code: &str) -> Option<Flash> {
    match code {
        "signed_in" => Some(Flash {
            ok: true,
            text: "Signed in.".into(),
        }),
        "nothing_to_review" => Some(Flash {
            ok: true,
            text: "Nothing left to review: every PENDING registration is claimed or waits for a second reviewer.".into(),
        }),
        _ => None,
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// POST /admin/review-next: claims the oldest unclaimed PENDING registration
/// and opens it.
pub async fn review_next(
    req: HttpRequest,
    reviewer: Reviewer,
    form: web::Form<CsrfForm>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    reviewer.check_form(&req, &form.csrf)?;
    let who = reviewer.username.clone();
    let ttl = ctx.claim_ttl;
    let claimed = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        // Two reviewers pressing at once may pick the same one: the loser tries the next.
        for _ in 0..5 {
            let Some(id) = review::oldest_unclaimed_pending(conn)? else {
                return Ok(None);
            };
            if console::claim(conn, id, &who, ttl, console::Takeover::No)?
                == console::ClaimOutcome::Claimed
            {
                return Ok(Some(id));
            }
        }
        Ok(None)
    })
    .await?;
    Ok(match claimed {
        Some(id) => see_other(&format!("/admin/registrations/{id}?flash=claimed")),
        None => see_other("/admin?flash=nothing_to_review"),
    })
}
