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

/// The queue's orders. Ties are broken by row id, so every order is total
/// and a page position is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueSort {
    /// Newest first.
    Received,
    /// Longest waiting first (oldest received first).
    Waiting,
    /// By merchant name, A to Z (case-insensitive).
    Merchant,
}

impl QueueSort {
    pub const ALL: [QueueSort; 3] = [QueueSort::Waiting, QueueSort::Received, QueueSort::Merchant];

    pub fn as_str(self) -> &'static str {
        match self {
            QueueSort::Received => "received",
            QueueSort::Waiting => "waiting",
            QueueSort::Merchant => "merchant",
        }
    }

    pub fn parse(s: &str) -> Option<QueueSort> {
        QueueSort::ALL.into_iter().find(|q| q.as_str() == s)
    }

    fn ascending(self) -> bool {
        match self {
            QueueSort::Received => false,
            QueueSort::Waiting | QueueSort::Merchant => true,
        }
    }
}

/// The sort key of the row a page starts or ends at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    Time(DateTime<Utc>),
    /// `lower(merchant_name)`, as PostgreSQL lowers it.
    Name(String),
}

/// A page position: a row's sort key and id, for keyset pagination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub key: SortKey,
    pub id: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        match &self.key {
            SortKey::Time(t) => format!("t{}_{}", t.timestamp_micros(), self.id),
            SortKey::Name(n) => format!("n{}_{}", self.id, n),
        }
    }

    pub fn decode(text: &str) -> Option<Cursor> {
        if let Some(rest) = text.strip_prefix('t') {
            let (micros, id) = rest.split_once('_')?;
            return Some(Cursor {
                key: SortKey::Time(DateTime::from_timestamp_micros(micros.parse().ok()?)?),
                id: id.parse().ok()?,
            });
        }
        let rest = text.strip_prefix('n')?;
        let (id, name) = rest.split_once('_')?;
        Some(Cursor {
            key: SortKey::Name(name.to_owned()),
            id: id.parse().ok()?,
        })
    }
}

/// Which side of a cursor a page lies on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PagePosition {
    First,
    After(Cursor),
    Before(Cursor),
}

/// New merchants, or updates of approved ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    New,
    Update,
}

#[derive(Debug, Clone)]
pub struct QueueFilter {
    /// `None`: every status.
    pub status: Option<RegistrationStatus>,
    pub product_code: Option<ProductCode>,
    /// A case-insensitive substring of ids, names, registration number or websites.
    pub search: Option<String>,
    /// Received at or after.
    pub received_from: Option<DateTime<Utc>>,
    /// Received before.
    pub received_before: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    pub region: Option<String>,
    pub mcc: Option<String>,
    pub flagged_only: bool,
    pub kind: Option<Kind>,
    /// Only registrations with a decision waiting for a second reviewer.
    pub awaiting_second_review: bool,
    pub sort: QueueSort,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = registrations)]
pub struct QueueRow {
    pub id: i64,
    pub registration_request_id: String,
    pub reference_merchant_id: String,
    pub reference_store_id: Option<String>,
    pub merchant_name: String,
    pub legal_name: String,
    pub region: Option<String>,
    pub merchant_mcc: String,
    pub product_codes: Vec<String>,
    pub status: RegistrationStatus,
    pub is_update: bool,
    pub received_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    pub review_flags: Vec<String>,
}

type Boxed<'a> = registrations::BoxedQuery<'a, diesel::pg::Pg>;

/// A page's rows, each with its merchant name as PostgreSQL lowers it (the
/// merchant order's page position).
pub type QueueRows = Vec<(QueueRow, String)>;

/// The registrations that match a filter, unordered.
fn filtered(filter: &QueueFilter) -> Boxed<'static> {
    use registrations::dsl as r;
    let mut query = r::registrations.into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(r::status.eq(status));
    }
    if let Some(code) = filter.product_code {
        query = query.filter(r::product_codes.contains(vec![code.as_str().to_owned()]));
    }
    if let Some(term) = &filter.search {
        // Both sides lowered in Rust (see `Registration::search_text`); the
        // trigram index answers this for any term of three or more characters.
        let pattern = format!("%{}%", escape_like(&term.to_lowercase()));
        query = query.filter(sql::<Bool>("search_text LIKE ").bind::<Text, _>(pattern));
    }
    if let Some(from) = filter.received_from {
        query = query.filter(r::received_at.ge(from));
    }
    if let Some(before) = filter.received_before {
        query = query.filter(r::received_at.lt(before));
    }
    if let Some(by) = &filter.decided_by {
        query = query.filter(r::decided_by.eq(by.clone()));
    }
    if let Some(region) = &filter.region {
        query = query.filter(r::region.eq(region.clone()));
    }
    if let Some(mcc) = &filter.mcc {
        query = query.filter(r::merchant_mcc.eq(mcc.clone()));
    }
    if filter.flagged_only {
        query = query.filter(sql::<Bool>("cardinality(review_flags) > 0"));
    }
    match filter.kind {
        Some(Kind::New) => query = query.filter(r::is_update.eq(false)),
        Some(Kind::Update) => query = query.filter(r::is_update.eq(true)),
        None => {}
    }
    if filter.awaiting_second_review {
        query = query.filter(sql::<Bool>(
            "EXISTS (SELECT 1 FROM review_proposals p \
              WHERE p.registration_id = registrations.id AND p.state = 'open')",
        ));
    }
    query
}

/// The filter's rows on the far side of `position`, in the order a page
/// next to it is fetched (reversed for a page before it): the query and
/// whether that order is ascending.
fn positioned(filter: &QueueFilter, position: &PagePosition) -> (Boxed<'static>, bool) {
    use registrations::dsl as r;
    let backwards = matches!(position, PagePosition::Before(_));
    // Fetching backwards walks the order reversed, then turns the page round.
    let ascending = filter.sort.ascending() != backwards;
    let mut query = filtered(filter);
    let cursor = match position {
        PagePosition::First => None,
        PagePosition::After(c) | PagePosition::Before(c) => Some(c),
    };
    if let Some(c) = cursor {
        let op = if ascending { ">" } else { "<" };
        query = match (&c.key, filter.sort) {
            (SortKey::Name(name), QueueSort::Merchant) => query.filter(
                sql::<Bool>("(lower(merchant_name), id) ")
                    .sql(op)
                    .sql(" (")
                    .bind::<Text, _>(name.clone())
                    .sql(", ")
                    .bind::<Int8, _>(c.id)
                    .sql(")"),
            ),
            (SortKey::Time(at), QueueSort::Received | QueueSort::Waiting) => query.filter(
                sql::<Bool>("(received_at, id) ")
                    .sql(op)
                    .sql(" (")
                    .bind::<Timestamptz, _>(*at)
                    .sql(", ")
                    .bind::<Int8, _>(c.id)
                    .sql(")"),
            ),
            // A position from another order: start from the beginning.
            _ => query,
        };
    }
    query = match (filter.sort, ascending) {
        (QueueSort::Merchant, true) => {
            query.order((sql::<Text>("lower(merchant_name)").asc(), r::id.asc()))
        }
        (QueueSort::Merchant, false) => {
            query.order((sql::<Text>("lower(merchant_name)").desc(), r::id.desc()))
        }
        (_, true) => query.order((r::received_at.asc(), r::id.asc())),
        (_, false) => query.order((r::received_at.desc(), r::id.desc())),
    };
    (query, ascending)
}

/// One page of the queue in the filter's order, next to `position`. Rows
/// come in display order; `more` tells whether rows lie beyond the page in
/// the direction it was fetched.
pub fn list_queue(
    conn: &mut PgConnection,
    filter: &QueueFilter,
    position: &PagePosition,
    limit: i64,
) -> QueryResult<(QueueRows, bool)> {
    let (query, _) = positioned(filter, position);
    page_of(conn, query, position, limit)
}

fn page_of(
    conn: &mut PgConnection,
    query: Boxed<'static>,
    position: &PagePosition,
    limit: i64,
) -> QueryResult<(QueueRows, bool)> {
    let mut rows: Vec<(QueueRow, String)> = query
        .select((QueueRow::as_select(), sql::<Text>("lower(merchant_name)")))
        .limit(limit + 1)
        .load(conn)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    if matches!(position, PagePosition::Before(_)) {
        rows.reverse();
    }
    Ok((rows, more))
}

/// A search first reads this many rows, nearest the start of the order,
/// through the order's own index.
const SEARCH_WINDOW: i64 = 5_000;

/// Matches a search gathers through the trigram index when its term is rare.
pub const SEARCH_GATHER: i64 = 2_000;

/// How many registrations a filter or a search matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    Exact(i64),
    /// A broad filter, counted up to a cap.
    MoreThan(i64),
    /// A common search term: this many among the first rows of the order.
    AtLeast(i64),
}

/// Lets the planner use only plain index walks in order (no bitmap, no
/// sequential scan), for the rest of the transaction.
fn ordered_only(conn: &mut PgConnection) -> QueryResult<()> {
    use diesel::connection::SimpleConnection as _;
    conn.batch_execute("SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off")
}

/// Lets the planner use only bitmap scans (the trigram index).
fn trigrams_only(conn: &mut PgConnection) -> QueryResult<()> {
    use diesel::connection::SimpleConnection as _;
    conn.batch_execute(
        "SET LOCAL enable_bitmapscan = on; SET LOCAL enable_seqscan = off; \
         SET LOCAL enable_indexscan = off; SET LOCAL enable_indexonlyscan = off",
    )
}

fn planner_chooses(conn: &mut PgConnection) -> QueryResult<()> {
    use diesel::connection::SimpleConnection as _;
    conn.batch_execute(
        "SET LOCAL enable_bitmapscan = on; SET LOCAL enable_seqscan = on; \
         SET LOCAL enable_indexscan = on; SET LOCAL enable_indexonlyscan = on",
    )
}

/// The sort key of the `n`th row from the start of the order, without the
/// search: where a search's first reading ends. `None`: fewer rows.
fn window_end(
    conn: &mut PgConnection,
    filter: &QueueFilter,
    n: i64,
) -> QueryResult<Option<SortKey>> {
    use registrations::dsl as r;
    let unsearched = QueueFilter {
        search: None,
        ..filter.clone()
    };
    let (query, _) = positioned(&unsearched, &PagePosition::First);
    let query = query.offset(n - 1).limit(1);
    Ok(match filter.sort {
        QueueSort::Merchant => query
            .select(sql::<Text>("lower(merchant_name)"))
            .first::<String>(conn)
            .optional()?
            .map(SortKey::Name),
        QueueSort::Received | QueueSort::Waiting => query
            .select(r::received_at)
            .first::<DateTime<Utc>>(conn)
            .optional()?
            .map(SortKey::Time),
    })
}

/// `query` limited to the rows from the start of the order up to `end`.
fn up_to(query: Boxed<'static>, end: &SortKey, ascending_order: bool) -> Boxed<'static> {
    let op = if ascending_order { "<=" } else { ">=" };
    match end {
        SortKey::Name(name) => query.filter(
            sql::<Bool>("lower(merchant_name) ")
                .sql(op)
                .sql(" ")
                .bind::<Text, _>(name.clone()),
        ),
        SortKey::Time(at) => query.filter(
            sql::<Bool>("received_at ")
                .sql(op)
                .sql(" ")
                .bind::<Timestamptz, _>(*at),
        ),
    }
}

/// A page of a search, and its total. The plan is chosen here rather than
/// left to the planner's guess at a substring's frequency, which can be off
/// a hundredfold (a wrong guess walks a million rows, or sorts a hundred
/// thousand matches). The first `SEARCH_WINDOW` rows of the order are read
/// through the order's index: a common term fills its page there, and is
/// counted there ("at least"). A rarer term's matches, up to
/// `SEARCH_GATHER`, come from the trigram index, which is quick exactly when
/// matches are few; its page is sorted from them and its total is exact.
/// The slow case left: a term with tens of thousands of matches, none of
/// them among the first rows (its every match is fetched and sorted).
pub fn search_queue(
    conn: &mut PgConnection,
    filter: &QueueFilter,
    position: &PagePosition,
    limit: i64,
) -> QueryResult<(QueueRows, bool, Total)> {
    use registrations::dsl as r;
    conn.transaction(|conn| {
        let end = window_end(conn, filter, SEARCH_WINDOW)?;
        let ascending_order = filter.sort.ascending();
        ordered_only(conn)?;
        let counted = match &end {
            Some(end) => up_to(filtered(filter), end, ascending_order),
            None => filtered(filter),
        };
        let in_window: i64 = counted.count().get_result(conn)?;
        let common = in_window > limit;
        if common || end.is_none() {
            // The page is found by walking the order (no further than the
            // window for the first page of a common term).
            let (query, _) = positioned(filter, position);
            let (rows, more) = page_of(conn, query, position, limit)?;
            let total = if end.is_none() {
                Total::Exact(in_window)
            } else {
                Total::AtLeast(in_window)
            };
            return Ok((rows, more, total));
        }
        trigrams_only(conn)?;
        let ids: Vec<i64> = filtered(filter)
            .select(r::id)
            .limit(SEARCH_GATHER + 1)
            .load(conn)?;
        let (query, _) = positioned(filter, position);
        if ids.len() as i64 > SEARCH_GATHER {
            // Many matches, but few among the first rows: they lie further
            // on, so sorting them all (the trigram index's bitmap) costs less
            // than walking the order to them.
            let (rows, more) = page_of(conn, query, position, limit)?;
            return Ok((rows, more, Total::AtLeast(SEARCH_GATHER + 1)));
        }
        planner_chooses(conn)?;
        let total = Total::Exact(ids.len() as i64);
        let (rows, more) = page_of(conn, query.filter(r::id.eq_any(ids)), position, limit)?;
        Ok((rows, more, total))
    })
}

/// How many registrations match, counted up to `cap` (a broad filter over
/// millions of rows is reported as "more than").
pub fn count_queue(conn: &mut PgConnection, filter: &QueueFilter, cap: i64) -> QueryResult<i64> {
    use registrations::dsl as r;
    let ids: Vec<i64> = filtered(filter).select(r::id).limit(cap + 1).load(conn)?;
    Ok(ids.len() as i64)
}

/// A batch of matching rows in id order after `after_id`, for exports.
pub fn export_batch(
    conn: &mut PgConnection,
    filter: &QueueFilter,
    after_id: i64,
    limit: i64,
) -> QueryResult<Vec<RegistrationRow>> {
    use registrations::dsl as r;
    filtered(filter)
        .filter(r::id.gt(after_id))
        .order(r::id.asc())
        .limit(limit)
        .select(RegistrationRow::as_select())
        .load(conn)
}

/// The oldest PENDING registration nobody holds a live claim on and no
/// decision of which waits for a second reviewer.
pub fn oldest_unclaimed_pending(conn: &mut PgConnection) -> QueryResult<Option<i64>> {
    use registrations::dsl as r;
    r::registrations
        .filter(r::status.eq(RegistrationStatus::Pending))
        .filter(sql::<Bool>(
            "NOT EXISTS (SELECT 1 FROM review_claims c \
              WHERE c.registration_id = registrations.id AND c.expires_at > now()) \
             AND NOT EXISTS (SELECT 1 FROM review_proposals p \
              WHERE p.registration_id = registrations.id AND p.state = 'open')",
        ))
        .order((r::received_at.asc(), r::id.asc()))
        .select(r::id)
        .first(conn)
        .optional()
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
    pub is_update: bool,
    pub triage_rule: Option<String>,
    pub triage_action: Option<String>,
    pub rules_version: Option<String>,
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
        .inner_join(
            requests::table
                .on(requests::registration_request_id.eq(registrations::registration_request_id)),
        )
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
