//! Queries on `registrations`.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;

use super::schema::registrations;
use crate::domain::admission::PriorRegistration;
use crate::domain::status::RegistrationStatus;

/// A registration row to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = registrations)]
// NULL rather than DEFAULT for None: one SQL text, so one cached prepared statement.
#[diesel(treat_none_as_default_value = false)]
pub struct NewRegistration {
    pub registration_request_id: String,
    pub client_id: String,
    pub status: String,
    pub reference_merchant_id: String,
    pub reference_store_id: Option<String>,
    pub product_codes: Vec<String>,
    pub merchant_name: String,
    pub legal_name: String,
    pub merchant_mcc: String,
    pub region: Option<String>,
    pub registration_notify_url: Option<String>,
    pub review_flags: Vec<String>,
    pub raw_request: String,
    pub request_fingerprint: Vec<u8>,
    pub content_fingerprint: Vec<u8>,
    pub result_code: String,
    pub response_body: String,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
}

/// What binds a request id: the fingerprint it was accepted with and the answer it got.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = registrations)]
pub struct StoredAnswer {
    pub registration_request_id: String,
    pub request_fingerprint: Vec<u8>,
    pub result_code: String,
    pub response_body: String,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = registrations)]
struct IntakeRow {
    #[diesel(embed)]
    answer: StoredAnswer,
    status: String,
    content_fingerprint: Vec<u8>,
    decided_at: Option<DateTime<Utc>>,
}

/// Everything the intake decision needs, read in one round trip: the row that
/// already holds `request_id` (if any), and the merchant's registrations that
/// can still matter (PENDING, APPROVED).
pub struct IntakeContext {
    pub existing: Option<StoredAnswer>,
    pub prior: Vec<PriorRegistration>,
}

pub fn find_intake_context(
    conn: &mut PgConnection,
    new: &NewRegistration,
) -> QueryResult<IntakeContext> {
    use registrations::dsl as r;
    let request_id = new.registration_request_id.as_str();
    let reference_merchant_id = new.reference_merchant_id.as_str();
    let merchant_key = merchant_key(reference_merchant_id, new.reference_store_id.as_deref());
    let rows: Vec<IntakeRow> = r::registrations
        .filter(
            r::registration_request_id
                .eq(request_id)
                .or(r::reference_merchant_id
                    .eq(reference_merchant_id)
                    .and(r::merchant_key.eq(merchant_key))
                    .and(r::status.eq_any(["PENDING", "APPROVED"]))),
        )
        .select(IntakeRow::as_select())
        .load(conn)?;
    let mut existing = None;
    let mut prior = Vec::with_capacity(rows.len());
    for row in rows {
        if row.answer.registration_request_id == request_id {
            existing = Some(row.answer);
        } else if let Some(status) = RegistrationStatus::parse(&row.status) {
            prior.push(PriorRegistration {
                status,
                content_fingerprint: row.content_fingerprint,
                decided_at: row.decided_at,
            });
        }
    }
    Ok(IntakeContext { existing, prior })
}

pub fn find_answer(conn: &mut PgConnection, request_id: &str) -> QueryResult<Option<StoredAnswer>> {
    use registrations::dsl as r;
    r::registrations
        .filter(r::registration_request_id.eq(request_id))
        .select(StoredAnswer::as_select())
        .first(conn)
        .optional()
}

/// Inserts unless the request id is taken or the merchant already has a
/// PENDING registration (both unique indexes); `None` means one of those.
pub fn insert_registration(
    conn: &mut PgConnection,
    new: &NewRegistration,
) -> QueryResult<Option<i64>> {
    diesel::insert_into(registrations::table)
        .values(new)
        .on_conflict_do_nothing()
        .returning(registrations::id)
        .get_result(conn)
        .optional()
}

/// The merchant key the generated column computes, for lookups.
fn merchant_key(reference_merchant_id: &str, reference_store_id: Option<&str>) -> String {
    format!(
        "{reference_merchant_id}\u{1f}{}",
        reference_store_id.unwrap_or("")
    )
}

/// A registration as an inquiry reports it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = registrations)]
pub struct InquiryRow {
    pub registration_request_id: String,
    pub reference_merchant_id: String,
    pub reference_store_id: Option<String>,
    pub product_codes: Vec<String>,
    pub status: String,
    pub reason: Option<String>,
}

pub fn find_for_inquiry(
    conn: &mut PgConnection,
    request_id: &str,
) -> QueryResult<Option<InquiryRow>> {
    registrations::table
        .filter(registrations::registration_request_id.eq(request_id))
        .select(InquiryRow::as_select())
        .first(conn)
        .optional()
}

/// A merchant's registrations (of one store, when given), newest first.
pub fn list_for_merchant(
    conn: &mut PgConnection,
    merchant_id: &str,
    store_id: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<InquiryRow>> {
    use registrations::dsl as r;
    let mut query = r::registrations
        .filter(r::reference_merchant_id.eq(merchant_id))
        .select(InquiryRow::as_select())
        .order((r::received_at.desc(), r::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some(store) = store_id {
        query = query.filter(r::reference_store_id.eq(store));
    }
    query.load(conn)
}
