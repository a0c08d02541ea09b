//! Queries of the review workflow: the queue, one registration with its
//! history, and the guarded decision.

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Int8, Text, Timestamptz};

use super::schema::{registrations, requests};
use crate::domain::review::{Decision, RejectCode};
use crate::domain::status::RegistrationStatus;
use crate::protocol::registration::ProductCode;

/// A page position: the last row shown, for keyset pagination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub received_at: DateTime<Utc>,
    pub id: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}_{}", self.received_at.timestamp_micros(), self.id)
    }

    pub fn decode(text: &str) -> Option<Cursor> {
        let (micros, id) = text.split_once('_')?;
        Some(Cursor {
            received_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: id.parse().ok()?,
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    /// `None`: every status.
    pub status: Option<RegistrationStatus>,
    pub product_code: Option<String>,
    /// Exact registrationRequestId or referenceMerchantId, or a merchant name prefix.
    pub search: Option<String>,
    pub after: Option<Cursor>,
    pub limit: i64,
}

impl QueueFilter {
    /// PENDING work is served oldest first; everything else newest first.
    pub fn oldest_first(&self) -> bool {
        self.status == Some(RegistrationStatus::Pending)
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = registrations)]
pub struct QueueRow {
    pub id: i64,
    pub registration_request_id: String,
    pub reference_merchant_id: String,
    pub reference_store_id: Option<String>,
    pub merchant_name: String,
    pub product_codes: Vec<String>,
    pub status: RegistrationStatus,
    pub received_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    pub review_flags: Vec<String>,
}

/// One page of the queue, in keyset order: `(received_at, id)` after the cursor.
pub fn list_queue(conn: &mut PgConnection, filter: &QueueFilter) -> QueryResult<Vec<QueueRow>> {
    use registrations::dsl as r;
    let mut query = r::registrations.select(QueueRow::as_select()).into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(r::status.eq(status));
    }
    if let Some(code) = &filter.product_code {
        query = query.filter(r::product_codes.contains(vec![code.clone()]));
    }
    if let Some(term) = &filter.search {
        let prefix = format!("{}%", escape_like(&term.to_lowercase()));
        query = query.filter(
            r::registration_request_id
                .eq(term.clone())
                .or(r::reference_merchant_id.eq(term.clone()))
                .or(sql::<Bool>("lower(merchant_name) LIKE ").bind::<Text, _>(prefix)),
        );
    }
    let oldest_first = filter.oldest_first();
    if let Some(after) = filter.after {
        let op = if oldest_first { ">" } else { "<" };
        query = query.filter(
            sql::<Bool>("(received_at, id) ")
                .sql(op)
                .sql(" (")
                .bind::<Timestamptz, _>(after.received_at)
                .sql(", ")
                .bind::<Int8, _>(after.id)
                .sql(")"),
        );
    }
    query = if oldest_first {
        query.order((r::received_at.asc(), r::id.asc()))
    } else {
        query.order((r::received_at.desc(), r::id.desc()))
    };
    query.limit(filter.limit).load(conn)
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Registrations per status, from the counters the triggers keep.
pub fn count_by_status(conn: &mut PgConnection) -> QueryResult<Vec<(RegistrationStatus, i64)>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        status: RegistrationStatus,
        #[diesel(sql_type = Int8)]
        n: i64,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT status, sum(n)::bigint AS n FROM registration_counts GROUP BY status",
    )
    .load(conn)?;
    Ok(rows.into_iter().map(|r| (r.status, r.n)).collect())
}

/// Seconds the oldest PENDING registration has waited.
pub fn oldest_pending_seconds(conn: &mut PgConnection) -> QueryResult<Option<f64>> {
    use registrations::dsl as r;
    let oldest: Option<DateTime<Utc>> = r::registrations
        .filter(r::status.eq(RegistrationStatus::Pending))
        .select(diesel::dsl::min(r::received_at))
        .first(conn)?;
    Ok(oldest.map(|t| (Utc::now() - t).num_milliseconds() as f64 / 1000.0))
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = registrations)]
pub struct RegistrationRow {
    pub id: i64,
    pub registration_request_id: String,
    pub client_id: String,
    pub status: RegistrationStatus,
    pub reference_merchant_id: String,
    pub reference_store_id: Option<String>,
    pub product_codes: Vec<String>,
    pub merchant_name: String,
    pub legal_name: String,
    pub merchant_mcc: String,
    pub region: Option<String>,
    pub registration_notify_url: Option<String>,
    pub review_flags: Vec<String>,
    pub received_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
    pub reject_code: Option<RejectCode>,
}

pub fn find_registration(conn: &mut PgConnection, id: i64) -> QueryResult<Option<RegistrationRow>> {
    registrations::table
        .find(id)
        .select(RegistrationRow::as_select())
        .first(conn)
        .optional()
}

/// The request a registration was accepted from, exactly as received.
pub fn find_raw_request(conn: &mut PgConnection, id: i64) -> QueryResult<Option<String>> {
    registrations::table
        .inner_join(requests::table)
        .filter(registrations::id.eq(id))
        .select(requests::raw_request)
        .first(conn)
        .optional()
}

/// The other registrations sharing a registration key with `row` (same
/// merchant and product; for in-store payment, same store too), newest first.
pub fn list_merchant_history(
    conn: &mut PgConnection,
    row: &RegistrationRow,
) -> QueryResult<Vec<RegistrationRow>> {
    use registrations::dsl as r;
    let in_store = ProductCode::InStorePayment.as_str();
    let online: Vec<&str> = row
        .product_codes
        .iter()
        .map(String::as_str)
        .filter(|code| *code != in_store)
        .collect();
    let same_store = match (
        &row.reference_store_id,
        row.product_codes.iter().any(|c| c == in_store),
    ) {
        (Some(store), true) => Some(store.as_str()),
        _ => None,
    };
    let mut query = r::registrations
        .filter(
            r::reference_merchant_id
                .eq(&row.reference_merchant_id)
                .and(r::id.ne(row.id)),
        )
        .into_boxed();
    query = match same_store {
        Some(store) => query.filter(
            r::product_codes
                .overlaps_with(online)
                .or(r::reference_store_id
                    .eq(store)
                    .and(r::product_codes.contains(vec![in_store]))),
        ),
        None => query.filter(r::product_codes.overlaps_with(online)),
    };
    query
        .order((r::received_at.desc(), r::id.desc()))
        .limit(50)
        .select(RegistrationRow::as_select())
        .load(conn)
}

/// Applies a decision as one guarded UPDATE: it changes the row only while
/// its status is one of `from` (the states the decision may come from), so
/// of two reviewers deciding at once exactly one wins. `None`: nothing
/// changed (decided already, or no such row).
pub fn apply_decision(
    conn: &mut PgConnection,
    id: i64,
    decision: &Decision,
    reviewer: &str,
    from: &[RegistrationStatus],
) -> QueryResult<Option<RegistrationRow>> {
    use registrations::dsl as r;
    diesel::update(r::registrations.filter(r::id.eq(id).and(r::status.eq_any(from))))
        .set((
            r::status.eq(decision.target()),
            r::decided_at.eq(diesel::dsl::now),
            r::decided_by.eq(reviewer),
            r::reason.eq(decision.reason()),
            r::reject_code.eq(decision.reject_code()),
        ))
        .returning(RegistrationRow::as_returning())
        .get_result(conn)
        .optional()
}
