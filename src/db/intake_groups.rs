//! The intake's two statements, grouped (see `db::group`): the lookups of
//! the requests that arrive together in one statement, and the inserts of
//! the registrations accepted together in another, with one durable commit.
//!
//! Nothing is promised differently from running alone. Each answer is sent
//! only after the commit that holds its row; each row gets its audit entry
//! from the same trigger in the same transaction; an id bound meanwhile (ON
//! CONFLICT DO NOTHING) is reported as taken, exactly as alone. A group
//! fails as a whole when a key was made PENDING by another instance, when
//! two of its requests share a key or an id, or when its connection is lost;
//! then each member runs alone and gets its own outcome.

use std::collections::HashMap;
use std::sync::OnceLock;

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::group::{GROUP_MAX, Group, Grouped};
use super::prepared::Prepared;
use super::registrations::NewRegistration;
use super::requests::{
    Accepted, Lookup, LookupRequest, NewRequest, insert_accepted, lookup, row_binds,
};

/// Where the intake's requests meet: their lookups, and the inserts of the
/// registrations they accept.
#[derive(Default)]
pub struct IntakeGroups {
    pub lookups: Group<IntakeLookup>,
    pub inserts: Group<AcceptedInsert>,
}

/// The intake's lookup of a request (see `requests::lookup`).
pub struct IntakeLookup;

impl Grouped for IntakeLookup {
    type Conn = PgConnection;
    type Item = LookupRequest;
    type Outcome = Lookup;

    fn alone(conn: &mut PgConnection, item: &LookupRequest) -> QueryResult<Lookup> {
        lookup(conn, std::slice::from_ref(item))?
            .pop()
            .ok_or_else(|| diesel::result::Error::NotFound)
    }

    fn together(conn: &mut PgConnection, items: &[LookupRequest]) -> QueryResult<Vec<Lookup>> {
        lookup(conn, items)
    }
}

/// The insert of an accepted registration and its binding.
pub struct AcceptedInsert;

impl Grouped for AcceptedInsert {
    type Conn = PgConnection;
    type Item = (NewRequest, NewRegistration);
    type Outcome = Accepted;

    fn alone(conn: &mut PgConnection, item: &Self::Item) -> QueryResult<Accepted> {
        insert_accepted(conn, &item.0, &item.1)
    }

    fn together(conn: &mut PgConnection, items: &[Self::Item]) -> QueryResult<Vec<Accepted>> {
        #[derive(QueryableByName)]
        struct Stored {
            #[diesel(sql_type = BigInt)]
            id: i64,
            #[diesel(sql_type = Text)]
            registration_request_id: String,
        }
        let binds = items
            .iter()
            .flat_map(|(request, registration)| row_binds(request, registration))
            .collect();
        let stored: Vec<Stored> = Prepared::new(insert_sql(items.len()), binds).load(conn)?;
        let ids: HashMap<&str, i64> = stored
            .iter()
            .map(|s| (s.registration_request_id.as_str(), s.id))
            .collect();
        Ok(items
            .iter()
            .map(
                |(request, _)| match ids.get(request.registration_request_id.as_str()) {
                    Some(id) => Accepted::Stored(*id),
                    // Bound meanwhile by a request elsewhere: as when alone.
                    None => Accepted::IdTaken,
                },
            )
            .collect())
    }
}

/// One row of the group's input, typed as the columns it fills, in the order
/// of [`row_binds`].
const GROUP_ROW: &str = "(?::text, ?::text, ?::text, ?::text, ?::text, ?::bytea, ?::text, ?::text, \
     ?::text, ?::text[], ?::text, ?::text, ?::text, ?::text, ?::text, ?::text[], ?::timestamptz, \
     ?::text, ?::text, ?::text, ?::text, ?::boolean, ?::text, ?::text, ?::text)";

/// The statement for a group of `n`, made once per size (its text is the
/// prepared-statement cache's key, so it must live as long as the process).
fn insert_sql(n: usize) -> &'static str {
    static TEXTS: [OnceLock<String>; GROUP_MAX + 1] = [const { OnceLock::new() }; GROUP_MAX + 1];
    TEXTS[n.min(GROUP_MAX)].get_or_init(|| {
        let rows = vec![GROUP_ROW; n].join(", ");
        format!(
            "WITH input (registration_request_id, client_id, reference_merchant_id, reference_store_id,
                        raw_request, request_fingerprint, result_code, response_body,
                        status, product_codes, merchant_name, legal_name, merchant_mcc, region,
                        registration_notify_url, review_flags, decided_at, decided_by, reason,
                        reject_code, search_text, is_update, triage_rule, triage_action, rules_version)
                 AS (VALUES {rows}),
             bound AS (
                INSERT INTO requests (registration_request_id, client_id, reference_merchant_id,
                                      reference_store_id, raw_request, request_fingerprint,
                                      result_code, response_body)
                SELECT registration_request_id, client_id, reference_merchant_id, reference_store_id,
                       raw_request, request_fingerprint, result_code, response_body
                  FROM input
                ON CONFLICT DO NOTHING
                RETURNING registration_request_id, received_at)
             INSERT INTO registrations (registration_request_id, client_id, status, reference_merchant_id,
                                        reference_store_id, product_codes, merchant_name, legal_name,
                                        merchant_mcc, region, registration_notify_url, review_flags,
                                        received_at, decided_at, decided_by, reason, reject_code,
                                        search_text, is_update, triage_rule, triage_action, rules_version)
             SELECT i.registration_request_id, i.client_id, i.status, i.reference_merchant_id,
                    i.reference_store_id, i.product_codes, i.merchant_name, i.legal_name,
                    i.merchant_mcc, i.region, i.registration_notify_url, i.review_flags,
                    b.received_at, i.decided_at, i.decided_by, i.reason, i.reject_code,
                    i.search_text, i.is_update, i.triage_rule, i.triage_action, i.rules_version
               FROM bound b JOIN input i ON i.registration_request_id = b.registration_request_id
             RETURNING id, registration_request_id"
        )
    })
}
