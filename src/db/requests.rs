//! Request bindings (`requests`): every `registrationRequestId` that got a
//! business answer, accepted or refused, with what was sent and answered.
//! The primary key is the idempotency lock: of concurrent first requests
//! with one id exactly one insert binds it, and the others replay it.

use std::sync::OnceLock;

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Bytea, Nullable, Text};

use super::audit::{self, NewAuditEntry, action};
use super::group::GROUP_MAX;
use super::prepared::{Bind, Prepared};
use super::registrations::NewRegistration;
use super::schema::{request_repeats, requests};
use crate::domain::admission::Evidence;
use crate::protocol::registration::ProductCode;
use crate::protocol::result::ResultCode;

/// A binding to insert: the request as received and the answer it gets.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = requests)]
// NULL rather than DEFAULT for None: one SQL text, so one cached prepared statement.
#[diesel(treat_none_as_default_value = false)]
pub struct NewRequest {
    pub registration_request_id: String,
    pub client_id: String,
    pub reference_merchant_id: String,
    pub reference_store_id: Option<String>,
    pub raw_request: String,
    pub request_fingerprint: Vec<u8>,
    pub result_code: ResultCode,
    pub response_body: String,
}

/// What binds an id: the fingerprint of the body it was bound with and the
/// answer it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub request_fingerprint: Vec<u8>,
    pub result_code: ResultCode,
    pub response_body: String,
}

/// What the intake's lookup found.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// The id is bound (and this repeat has been counted).
    Bound(StoredAnswer),
    /// The id is free; what is known about the keys asked for.
    Free(Vec<Evidence>),
}

/// Which branch of the lookup a row comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::deserialize::FromSqlRow)]
enum LookupKind {
    Bound,
    Pending,
    InForce,
}

impl diesel::deserialize::FromSql<Text, diesel::pg::Pg> for LookupKind {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
        match value.as_bytes() {
            b"bound" => Ok(LookupKind::Bound),
            b"pending" => Ok(LookupKind::Pending),
            b"in_force" => Ok(LookupKind::InForce),
            other => Err(format!(
                "unknown lookup row kind {:?}",
                String::from_utf8_lossy(other)
            )
            .into()),
        }
    }
}

#[derive(QueryableByName)]
struct LookupRow {
    #[diesel(sql_type = diesel::sql_types::Int4)]
    k: i32,
    #[diesel(sql_type = Text)]
    kind: LookupKind,
    #[diesel(sql_type = Nullable<Text>)]
    product_code: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    registration_request_id: Option<String>,
    #[diesel(sql_type = Nullable<Bytea>)]
    request_fingerprint: Option<Vec<u8>>,
    #[diesel(sql_type = Nullable<Text>)]
    result_code: Option<ResultCode>,
    #[diesel(sql_type = Nullable<Text>)]
    response_body: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    raw_request: Option<String>,
}

/// One round trip for everything the intake decides on, for one request or
/// for several that arrived together (`k` tells them apart): the binding of
/// the id (counting this request as a repeat of it), else, for each key asked
/// for, a PENDING registration of another request and the registration in
/// force. Every branch reads through one partial index of its own, named by
/// its literal status and product; each is a LATERAL subquery with a LIMIT so
/// that the merchant id is an index condition of that index (joined plainly,
/// the planner may read a whole partial index that its statistics think
/// small, and the pending ones grow with every registration until decided).
/// Made once per number of requests: its text is the prepared-statement
/// cache's key, so it must live as long as the process.
fn lookup_sql(n: usize) -> &'static str {
    static TEXTS: [OnceLock<String>; GROUP_MAX + 1] = [const { OnceLock::new() }; GROUP_MAX + 1];
    TEXTS[n.min(GROUP_MAX)].get_or_init(|| {
        let rows: Vec<String> = (0..n)
            .map(|k| format!("({k}, ?::text, ?::text, ?::text, ?::boolean, ?::boolean, ?::boolean)"))
            .collect();
        format!(
            "
WITH p (k, request_id, merchant, store, cashier, agreement, in_store) AS (
    VALUES {rows}
), bound AS (
    SELECT p.k, q.registration_request_id, q.request_fingerprint, q.result_code, q.response_body
      FROM p JOIN requests q ON q.registration_request_id = p.request_id
), counted AS (
    INSERT INTO request_repeats AS n (registration_request_id, repeats, last_repeat_at)
    SELECT registration_request_id, 1, now() FROM bound
    ON CONFLICT (registration_request_id)
    DO UPDATE SET repeats = n.repeats + 1, last_repeat_at = excluded.last_repeat_at
), free AS (
    SELECT p.* FROM p WHERE NOT EXISTS (SELECT FROM bound WHERE bound.k = p.k)
)
SELECT k, 'bound' AS kind, NULL::text AS product_code, NULL::text AS registration_request_id,
       request_fingerprint, result_code, response_body, NULL::text AS raw_request
  FROM bound
UNION ALL
SELECT free.k, 'pending', 'CASHIER_PAYMENT', a.registration_request_id, NULL, NULL, NULL, NULL
  FROM free
  CROSS JOIN LATERAL (
        SELECT r.registration_request_id FROM registrations r
         WHERE r.reference_merchant_id = free.merchant
           AND r.status = 'PENDING' AND 'CASHIER_PAYMENT' = ANY (r.product_codes)
         LIMIT 1) a
 WHERE free.cashier
UNION ALL
SELECT free.k, 'pending', 'AGREEMENT_PAYMENT', a.registration_request_id, NULL, NULL, NULL, NULL
  FROM free
  CROSS JOIN LATERAL (
        SELECT r.registration_request_id FROM registrations r
         WHERE r.reference_merchant_id = free.merchant
           AND r.status = 'PENDING' AND 'AGREEMENT_PAYMENT' = ANY (r.product_codes)
         LIMIT 1) a
 WHERE free.agreement
UNION ALL
SELECT free.k, 'pending', 'IN_STORE_PAYMENT', a.registration_request_id, NULL, NULL, NULL, NULL
  FROM free
  CROSS JOIN LATERAL (
        SELECT r.registration_request_id FROM registrations r
         WHERE r.reference_merchant_id = free.merchant AND r.reference_store_id = free.store
           AND r.status = 'PENDING' AND 'IN_STORE_PAYMENT' = ANY (r.product_codes)
         LIMIT 1) a
 WHERE free.in_store
UNION ALL
SELECT free.k, 'in_force', 'CASHIER_PAYMENT', q.registration_request_id, NULL, NULL, NULL, q.raw_request
  FROM free
  CROSS JOIN LATERAL (
        SELECT r.registration_request_id FROM registrations r
         WHERE r.reference_merchant_id = free.merchant
           AND r.status = 'APPROVED' AND 'CASHIER_PAYMENT' = ANY (r.product_codes)
         ORDER BY r.decided_at DESC, r.id DESC LIMIT 1) a
  JOIN requests q ON q.registration_request_id = a.registration_request_id
 WHERE free.cashier
UNION ALL
SELECT free.k, 'in_force', 'AGREEMENT_PAYMENT', q.registration_request_id, NULL, NULL, NULL, q.raw_request
  FROM free
  CROSS JOIN LATERAL (
        SELECT r.registration_request_id FROM registrations r
         WHERE r.reference_merchant_id = free.merchant
           AND r.status = 'APPROVED' AND 'AGREEMENT_PAYMENT' = ANY (r.product_codes)
         ORDER BY r.decided_at DESC, r.id DESC LIMIT 1) a
  JOIN requests q ON q.registration_request_id = a.registration_request_id
 WHERE free.agreement
UNION ALL
SELECT free.k, 'in_force', 'IN_STORE_PAYMENT', q.registration_request_id, NULL, NULL, NULL, q.raw_request
  FROM free
  CROSS JOIN LATERAL (
        SELECT r.registration_request_id FROM registrations r
         WHERE r.reference_merchant_id = free.merchant AND r.reference_store_id = free.store
           AND r.status = 'APPROVED' AND 'IN_STORE_PAYMENT' = ANY (r.product_codes)
         ORDER BY r.decided_at DESC, r.id DESC LIMIT 1) a
  JOIN requests q ON q.registration_request_id = a.registration_request_id
 WHERE free.in_store",
            rows = rows.join(", ")
        )
    })
}

/// A request id to look up and, for a valid request, the keys it asks for.
#[derive(Debug, Clone)]
pub struct LookupRequest {
    pub request_id: String,
    pub keys: Option<RequestKeys>,
}

#[derive(Debug, Clone)]
pub struct RequestKeys {
    pub reference_merchant_id: String,
    pub reference_store_id: Option<String>,
    pub products: Vec<ProductCode>,
}

/// Looks up each request's id and, when it is free, the keys it asks for.
pub fn lookup(conn: &mut PgConnection, requests: &[LookupRequest]) -> QueryResult<Vec<Lookup>> {
    let mut binds = Vec::with_capacity(requests.len() * 6);
    for request in requests {
        let keys = request.keys.as_ref();
        let has = |product| keys.is_some_and(|k| k.products.contains(&product));
        binds.extend([
            Bind::Text(&request.request_id),
            Bind::OptText(keys.map(|k| k.reference_merchant_id.as_str())),
            Bind::OptText(keys.and_then(|k| k.reference_store_id.as_deref())),
            Bind::Bool(has(ProductCode::CashierPayment)),
            Bind::Bool(has(ProductCode::AgreementPayment)),
            Bind::Bool(has(ProductCode::InStorePayment)),
        ]);
    }
    let rows: Vec<LookupRow> = Prepared::new(lookup_sql(requests.len()), binds).load(conn)?;
    let mut found: Vec<Lookup> = requests.iter().map(|_| Lookup::Free(Vec::new())).collect();
    for row in rows {
        let slot = usize::try_from(row.k)
            .ok()
            .and_then(|k| found.get_mut(k))
            .ok_or_else(|| {
                DieselError::DeserializationError("a lookup row of no request".into())
            })?;
        let Lookup::Free(evidence) = slot else {
            // A bound id answers from its binding alone.
            continue;
        };
        let product = row.product_code.as_deref().and_then(ProductCode::parse);
        match (row.kind, product) {
            (LookupKind::Bound, _) => {
                let Some(result_code) = row.result_code else {
                    return Err(DieselError::DeserializationError(
                        "a binding without its result code".into(),
                    ));
                };
                *slot = Lookup::Bound(StoredAnswer {
                    request_fingerprint: row.request_fingerprint.unwrap_or_default(),
                    result_code,
                    response_body: row.response_body.unwrap_or_default(),
                });
            }
            (LookupKind::Pending, Some(product)) => evidence.push(Evidence::Pending {
                product,
                registration_request_id: row.registration_request_id.unwrap_or_default(),
            }),
            (LookupKind::InForce, Some(product)) => evidence.push(Evidence::InForce {
                product,
                raw_request: row.raw_request.unwrap_or_default(),
            }),
            (kind @ (LookupKind::Pending | LookupKind::InForce), None) => {
                return Err(DieselError::DeserializationError(
                    format!("a {kind:?} lookup row without a known product").into(),
                ));
            }
        }
    }
    Ok(found)
}

/// Binds the id and stores its registration in one statement.
const INSERT_ACCEPTED: &str = "
WITH bound AS (
    INSERT INTO requests (registration_request_id, client_id, reference_merchant_id, reference_store_id,
                          raw_request, request_fingerprint, result_code, response_body)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT DO NOTHING
    RETURNING registration_request_id, client_id, reference_merchant_id, reference_store_id, received_at
)
INSERT INTO registrations (registration_request_id, client_id, status, reference_merchant_id, reference_store_id,
                           product_codes, merchant_name, legal_name, merchant_mcc, region, registration_notify_url,
                           review_flags, received_at, decided_at, decided_by, reason, reject_code, search_text,
                           is_update, triage_rule, triage_action, rules_version)
SELECT registration_request_id, client_id, ?, reference_merchant_id, reference_store_id,
       ?, ?, ?, ?, ?, ?, ?, received_at, ?, ?, ?, ?, ?, ?, ?, ?, ?
  FROM bound
RETURNING id";

/// How inserting an accepted request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Bound and stored: the registration's row id.
    Stored(i64),
    /// A concurrent request bound the id first.
    IdTaken,
    /// A concurrent request made one of the keys PENDING first.
    KeyTaken,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::Int8)]
    id: i64,
}

/// Binds `request` and inserts `registration` with it, atomically.
pub fn insert_accepted(
    conn: &mut PgConnection,
    request: &NewRequest,
    registration: &NewRegistration,
) -> QueryResult<Accepted> {
    let inserted = Prepared::new(INSERT_ACCEPTED, row_binds(request, registration).to_vec())
        .get_result::<Id>(conn)
        .optional();
    match inserted {
        Ok(Some(row)) => Ok(Accepted::Stored(row.id)),
        Ok(None) => Ok(Accepted::IdTaken),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info))
            if info
                .constraint_name()
                .is_some_and(|c| c.starts_with("registrations_one_pending_")) =>
        {
            Ok(Accepted::KeyTaken)
        }
        Err(e) => Err(e),
    }
}

/// The values of one accepted registration and its binding, in the order
/// of [`INSERT_ACCEPTED`]'s marks (and of a group's rows).
pub(super) fn row_binds<'a>(
    request: &'a NewRequest,
    registration: &'a NewRegistration,
) -> [Bind<'a>; 25] {
    [
        Bind::Text(&request.registration_request_id),
        Bind::Text(&request.client_id),
        Bind::Text(&request.reference_merchant_id),
        Bind::OptText(request.reference_store_id.as_deref()),
        Bind::Text(&request.raw_request),
        Bind::Bytes(&request.request_fingerprint),
        Bind::Code(request.result_code),
        Bind::Text(&request.response_body),
        Bind::Status(registration.status),
        Bind::Texts(&registration.product_codes),
        Bind::Text(&registration.merchant_name),
        Bind::Text(&registration.legal_name),
        Bind::Text(&registration.merchant_mcc),
        Bind::OptText(registration.region.as_deref()),
        Bind::OptText(registration.registration_notify_url.as_deref()),
        Bind::Texts(&registration.review_flags),
        Bind::OptTime(registration.decided_at),
        Bind::OptText(registration.decided_by.as_deref()),
        Bind::OptText(registration.reason.as_deref()),
        Bind::OptText(registration.reject_code.as_deref()),
        Bind::Text(&registration.search_text),
        Bind::Bool(registration.is_update),
        Bind::OptText(registration.triage_rule.as_deref()),
        Bind::OptText(registration.triage_action.as_deref()),
        Bind::OptText(registration.rules_version.as_deref()),
    ]
}

/// Binds a refused request; `false` when a concurrent request bound the id first.
pub fn insert_refused(conn: &mut PgConnection, request: &NewRequest) -> QueryResult<bool> {
    let bound = diesel::insert_into(requests::table)
        .values(request)
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(bound == 1)
}

pub fn find_raw_request(conn: &mut PgConnection, request_id: &str) -> QueryResult<Option<String>> {
    requests::table
        .find(request_id)
        .select(requests::raw_request)
        .first(conn)
        .optional()
}

/// Records a repeat whose body differed from the bound one, naming the
/// differing field paths (never their values) in the audit log.
pub fn record_mismatch(
    conn: &mut PgConnection,
    request_id: &str,
    differing_paths: &[String],
) -> QueryResult<()> {
    use request_repeats::dsl as n;
    conn.transaction(|conn| {
        // The lookup that found the binding counted this repeat already.
        diesel::update(n::request_repeats.find(request_id))
            .set(n::mismatched_repeats.eq(n::mismatched_repeats + 1))
            .execute(conn)?;
        let detail = format!("differing fields: {}", differing_paths.join(", "));
        audit::insert_entry(
            conn,
            &NewAuditEntry {
                actor: audit::ALIPAY_ACTOR,
                action: action::REPEAT_MISMATCHED,
                registration_request_id: Some(request_id),
                detail: Some(&detail),
                address: None,
            },
        )
    })
}

/// The answer an id was bound to.
pub fn answered_code(conn: &mut PgConnection, request_id: &str) -> QueryResult<ResultCode> {
    requests::table
        .find(request_id)
        .select(requests::result_code)
        .first(conn)
}
