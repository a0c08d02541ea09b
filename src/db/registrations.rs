//! Queries on `registrations`: the accepted requests, as the review
//! workflow and the inquiry see them.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;

use super::schema::registrations;
use crate::domain::status::RegistrationStatus;
use crate::protocol::registration::ProductCode;

/// A registration to store with its binding (see `requests::insert_accepted`).
#[derive(Debug, Clone)]
pub struct NewRegistration {
    pub status: RegistrationStatus,
    pub product_codes: Vec<String>,
    pub merchant_name: String,
    pub legal_name: String,
    pub merchant_mcc: String,
    pub region: Option<String>,
    pub registration_notify_url: Option<String>,
    pub review_flags: Vec<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
    pub reject_code: Option<String>,
    pub search_text: String,
    /// An approval of one of its keys was in force when it was admitted.
    pub is_update: bool,
    /// The rule that decided at intake, its action, and the rules' version.
    pub triage_rule: Option<String>,
    pub triage_action: Option<String>,
    pub rules_version: Option<String>,
}

/// A registration as an inquiry reports it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = registrations)]
pub struct InquiryRow {
    pub registration_request_id: String,
    pub reference_merchant_id: String,
    pub reference_store_id: Option<String>,
    pub product_codes: Vec<String>,
    pub status: RegistrationStatus,
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

/// A merchant's registrations, newest first; with a store, only its in-store
/// registrations (an online registration's store id is not part of its key).
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
        query = query
            .filter(r::reference_store_id.eq(store))
            .filter(r::product_codes.contains(vec![ProductCode::InStorePayment.as_str()]));
    }
    query.load(conn)
}
