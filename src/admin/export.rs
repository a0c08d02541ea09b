//! CSV exports of the queue's filter and of the audit log, streamed in
//! batches: a million rows go out without being held in memory.

use std::borrow::Cow;

use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use futures_util::stream;

use super::AdminContext;
use super::audit_page::{AuditQuery, audit_filter};
use super::auth::Reviewer;
use super::error::AdminError;
use super::queue::{QueueQuery, filter_from};
use crate::db::{self, audit, review};

/// Rows per database round trip.
const BATCH: i64 = 1_000;

/// A cell as written: text a spreadsheet would run as a formula is
/// prefixed with an apostrophe (CSV injection).
fn cell(text: &str) -> Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

fn csv_chunk<R>(header: Option<&[&str]>, rows: &[R], fields: impl Fn(&R) -> Vec<String>) -> Bytes {
    let mut out = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 256));
    // Writing to a Vec cannot fail.
    if let Some(h) = header {
        let _ = out.write_record(h);
    }
    for r in rows {
        let values = fields(r);
        let _ = out.write_record(values.iter().map(|v| cell(v).into_owned()));
    }
    Bytes::from(out.into_inner().unwrap_or_default())
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_default()
}

/// Streams batches fetched by `fetch(after_id)` until one comes back short.
fn streamed<R, F, G>(
    ctx: web::Data<AdminContext>,
    header: &'static [&'static str],
    fetch: F,
    fields: G,
    filename: &str,
) -> HttpResponse
where
    R: Send + 'static,
    F: Fn(&mut diesel::PgConnection, i64) -> diesel::QueryResult<Vec<R>> + Clone + Send + 'static,
    G: Fn(&R) -> (i64, Vec<String>) + Clone + 'static,
{
    // State: the last id sent, or None when done.
    let body = stream::unfold(Some((0i64, true)), move |state| {
        let (ctx, fetch, fields) = (ctx.clone(), fetch.clone(), fields.clone());
        async move {
            let (after, first) = state?;
            let fetched = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
                Ok(fetch(conn, after)?)
            })
            .await;
            let rows = match fetched {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::error!(error = %e, "export stopped: database unavailable");
                    return Some((
                        Err(actix_web::error::ErrorServiceUnavailable("database")),
                        None,
                    ));
                }
            };
            let last = rows.last().map(|r| fields(r).0);
            let chunk = csv_chunk(first.then_some(header), &rows, |r| fields(r).1);
            let next = match last {
                Some(id) if rows.len() as i64 == BATCH => Some((id, false)),
                _ => None,
            };
            Some((Ok::<_, actix_web::Error>(chunk), next))
        }
    });
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{filename}\""),
        ))
        .streaming(body)
}

const REGISTRATION_HEADER: &[&str] = &[
    "registration_request_id",
    "reference_merchant_id",
    "reference_store_id",
    "merchant_name",
    "legal_name",
    "region",
    "merchant_mcc",
    "product_codes",
    "kind",
    "status",
    "review_flags",
    "received_at",
    "decided_at",
    "decided_by",
    "reject_code",
    "reason",
];

/// GET /admin/export.csv: the registrations the queue's filter matches.
pub async fn registrations(
    _reviewer: Reviewer,
    query: web::Query<QueueQuery>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    let filter = filter_from(&query)?;
    Ok(streamed(
        ctx,
        REGISTRATION_HEADER,
        move |conn, after| review::export_batch(conn, &filter, after, BATCH),
        |r: &review::RegistrationRow| {
            (
                r.id,
                vec![
                    r.registration_request_id.clone(),
                    r.reference_merchant_id.clone(),
                    r.reference_store_id.clone().unwrap_or_default(),
                    r.merchant_name.clone(),
                    r.legal_name.clone(),
                    r.region.clone().unwrap_or_default(),
                    r.merchant_mcc.clone(),
                    r.product_codes.join(" "),
                    if r.is_update { "update" } else { "new" }.to_owned(),
                    r.status.as_str().to_owned(),
                    r.review_flags.join("; "),
                    time(Some(r.received_at)),
                    time(r.decided_at),
                    r.decided_by.clone().unwrap_or_default(),
                    r.reject_code
                        .map(|c| c.as_str().to_owned())
                        .unwrap_or_default(),
                    r.reason.clone().unwrap_or_default(),
                ],
            )
        },
        "registrations.csv",
    ))
}

const AUDIT_HEADER: &[&str] = &[
    "at",
    "actor",
    "action",
    "registration_request_id",
    "from_status",
    "to_status",
    "detail",
    "address",
];

/// GET /admin/audit/export.csv: the audit entries the filter matches (admins).
pub async fn audit(
    reviewer: Reviewer,
    query: web::Query<AuditQuery>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    if !reviewer.is_admin() {
        return Err(AdminError::Forbidden);
    }
    let filter = audit_filter(&query)?;
    Ok(streamed(
        ctx,
        AUDIT_HEADER,
        move |conn, after| audit::export_batch(conn, &filter, after, BATCH),
        |a: &audit::AuditRow| {
            (
                a.id,
                vec![
                    time(Some(a.at)),
                    a.actor.clone(),
                    a.action.clone(),
                    a.registration_request_id.clone().unwrap_or_default(),
                    a.from_status
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                    a.to_status
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                    a.detail.clone().unwrap_or_default(),
                    a.address.clone().unwrap_or_default(),
                ],
            )
        },
        "audit-log.csv",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_quotes_kept() {
        let chunk = csv_chunk(Some(&["a", "b"]), &[("=1+1", "say \"hi\", ok")], |r| {
            vec![r.0.to_owned(), r.1.to_owned()]
        });
        assert_eq!(
            std::str::from_utf8(&chunk).unwrap(),
            "a,b\n'=1+1,\"say \"\"hi\"\", ok\"\n"
        );
    }
}
