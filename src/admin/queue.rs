//! The review queue: PENDING registrations oldest first, filters, search,
//! counts per status, keyset pagination.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::AdminContext;
use super::auth::Reviewer;
use super::error::AdminError;
use super::render::page_response;
use super::views::{
    CountLink, Flash, Nav, QueueItem, QueuePage, format_age, format_decided, format_time,
};
use crate::db;
use crate::db::review::{self, Cursor, QueueFilter};
use crate::domain::status::RegistrationStatus;
use crate::protocol::registration::ProductCode;

const PAGE_SIZE: i64 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct QueueQuery {
    status: Option<String>,
    product: Option<String>,
    q: Option<String>,
    after: Option<String>,
    flash: Option<String>,
}

pub async fn show(
    reviewer: Reviewer,
    query: web::Query<QueueQuery>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let status_param = query.status.clone().unwrap_or_else(|| "PENDING".to_owned());
    let status = match status_param.as_str() {
        "ALL" => None,
        other => Some(
            RegistrationStatus::parse(other)
                .ok_or_else(|| AdminError::BadRequest(format!("unknown status {other:?}")))?,
        ),
    };
    let product = query.product.clone().filter(|p| !p.is_empty());
    if let Some(p) = &product
        && ProductCode::parse(p).is_none()
    {
        return Err(AdminError::BadRequest(format!(
            "unknown product code {p:?}"
        )));
    }
    let search: Option<String> = query
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(|q| q.chars().take(256).collect());
    // Nothing stored has control characters (and a NUL could not even be searched for).
    if search
        .as_deref()
        .is_some_and(|q| q.chars().any(char::is_control))
    {
        return Err(AdminError::BadRequest(
            "The search text contains control characters.".into(),
        ));
    }
    let after = match query.after.as_deref().filter(|a| !a.is_empty()) {
        Some(text) => Some(
            Cursor::decode(text)
                .ok_or_else(|| AdminError::BadRequest("bad page position".into()))?,
        ),
        None => None,
    };
    let filter = QueueFilter {
        status,
        product_code: product.clone(),
        search,
        after,
        limit: PAGE_SIZE + 1,
    };

    let list_filter = filter.clone();
    let (mut rows, counts, undelivered) = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        Ok((
            review::list_queue(conn, &list_filter)?,
            review::count_by_status(conn)?,
            crate::db::notifications::count_unfinished(conn)?,
        ))
    })
    .await?;

    let link = |status: &str, after: Option<&Cursor>| -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("status", status);
        if let Some(p) = &product {
            q.append_pair("product", p);
        }
        if let Some(s) = &filter.search {
            q.append_pair("q", s);
        }
        if let Some(a) = after {
            q.append_pair("after", &a.encode());
        }
        format!("/admin?{}", q.finish())
    };

    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    let next_href = more
        .then(|| {
            rows.last().map(|r| {
                link(
                    &status_param,
                    Some(&Cursor {
                        received_at: r.received_at,
                        id: r.id,
                    }),
                )
            })
        })
        .flatten();
    let first_href = after.is_some().then(|| link(&status_param, None));

    let count_of = |s: RegistrationStatus| {
        counts
            .iter()
            .find(|(status, _)| *status == s)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let mut count_links: Vec<CountLink> = RegistrationStatus::ALL
        .into_iter()
        .map(|s| CountLink {
            label: s.as_str(),
            count: count_of(s),
            href: link(s.as_str(), None),
            current: status == Some(s),
        })
        .collect();
    count_links.push(CountLink {
        label: "ALL",
        count: counts.iter().map(|(_, n)| n).sum(),
        href: link("ALL", None),
        current: status.is_none(),
    });

    let now = chrono::Utc::now();
    let items = rows
        .into_iter()
        .map(|r| QueueItem {
            href: format!("/admin/registrations/{}", r.id),
            waiting: format_age(r.received_at, now),
            received: format_time(r.received_at),
            decided: format_decided(r.decided_at, r.decided_by.as_deref()),
            registration_request_id: r.registration_request_id,
            reference_merchant_id: r.reference_merchant_id,
            reference_store_id: r.reference_store_id.unwrap_or_default(),
            merchant_name: r.merchant_name,
            products: r.product_codes.join(", "),
            status: r.status.as_str().to_owned(),
            flags: r.review_flags.len(),
        })
        .collect();

    let mut statuses: Vec<(&'static str, &'static str)> = RegistrationStatus::ALL
        .into_iter()
        .map(|s| (s.as_str(), s.as_str()))
        .collect();
    statuses.push(("ALL", "All statuses"));
    let mut products: Vec<(&'static str, &'static str)> = vec![("", "All products")];
    products.extend(
        ProductCode::ALL
            .into_iter()
            .map(|c| (c.as_str(), c.as_str())),
    );

    let page = QueuePage {
        flash: query.flash.as_deref().and_then(flash_text),
        undelivered,
        nav_bar: Nav {
            username: reviewer.username.clone(),
            csrf: reviewer.csrf_token.clone(),
            is_admin: reviewer.is_admin(),
        },
        counts: count_links,
        status: status_param,
        statuses,
        product: filter.product_code.clone().unwrap_or_default(),
        products,
        search: filter.search.clone().unwrap_or_default(),
        rows: items,
        pending_view: filter.oldest_first(),
        next_href,
        first_href,
    };
    page_response(&page)
}

fn flash_text(code: &str) -> Option<Flash> {
    match code {
        "signed_in" => Some(Flash {
            ok: true,
            text: "Signed in.".into(),
        }),
        _ => None,
    }
}
