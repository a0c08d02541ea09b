//! The notification outbox: rows written with a decision, claimed by workers
//! with a lease, finished fenced by attempt number, and re-driven by people.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Double, Int4, Nullable, Text, Timestamptz};

use super::audit::{self, NewAuditEntry, action};
use super::schema::{notification_attempts, notifications};
use crate::domain::notification::{AttemptOutcome, NotificationState, Outgoing, Target};

/// The states a person re-drives from.
const NEED_A_PERSON: [NotificationState; 2] = [NotificationState::Failed, NotificationState::Dead];

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = notifications)]
// NULL rather than DEFAULT for None: one SQL text, so one cached prepared statement.
#[diesel(treat_none_as_default_value = false)]
struct NewNotification<'a> {
    registration_id: i64,
    registration_request_id: &'a str,
    // The stored spellings: diesel's `Insertable` derive wants expressions
    // that borrow from the row, which the enums' own (static) ones do not.
    target: &'static str,
    url: &'a str,
    body: String,
    status: &'static str,
    next_attempt_at: DateTime<Utc>,
    last_error: Option<&'a str>,
}

/// Writes the notifications a decision causes (see
/// `domain::notification::notifications_for`), in the caller's transaction.
pub fn insert_outgoing(
    conn: &mut PgConnection,
    registration_id: i64,
    registration_request_id: &str,
    outgoing: &[Outgoing<'_>],
) -> QueryResult<usize> {
    if outgoing.is_empty() {
        return Ok(0);
    }
    let now = Utc::now();
    let rows: Vec<NewNotification<'_>> = outgoing
        .iter()
        .map(|o| NewNotification {
            registration_id,
            registration_request_id,
            target: o.target.as_str(),
            url: o.url,
            body: o.body.clone(),
            status: o.state.as_str(),
            next_attempt_at: now
                + chrono::Duration::from_std(o.first_attempt_after).unwrap_or_default(),
            last_error: o.last_error,
        })
        .collect();
    diesel::insert_into(notifications::table)
        .values(&rows)
        .execute(conn)
}

/// A claimed notification, to be sent outside any transaction.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub registration_request_id: String,
    #[diesel(sql_type = Text)]
    pub target: Target,
    #[diesel(sql_type = Text)]
    pub url: String,
    #[diesel(sql_type = Text)]
    pub body: String,
    /// The fencing token: this attempt's number.
    #[diesel(sql_type = Int4)]
    pub attempts: i32,
    /// Attempts in this round, this one included.
    #[diesel(sql_type = Int4)]
    pub round_attempts: i32,
}

/// Claims up to `limit` due notifications in one short statement: each gets
/// its attempt number and a lease (its next due time moves to the lease's end,
/// so a crashed worker's row comes back by itself).
pub fn claim_due(
    conn: &mut PgConnection,
    limit: i64,
    lease: std::time::Duration,
    include_alipay: bool,
) -> QueryResult<Vec<Claimed>> {
    diesel::sql_query(
        "UPDATE notifications n
            SET attempts = n.attempts + 1,
                round_attempts = n.round_attempts + 1,
                next_attempt_at = now() + make_interval(secs => $1)
          WHERE n.id IN (SELECT id FROM notifications
                          WHERE status = 'pending' AND next_attempt_at <= now() AND ($2 OR target = 'merchant')
                          ORDER BY next_attempt_at
                          LIMIT $3
                          FOR UPDATE SKIP LOCKED)
      RETURNING n.id, n.registration_request_id, n.target, n.url, n.body, n.attempts, n.round_attempts",
    )
    .bind::<Double, _>(lease.as_secs_f64())
    .bind::<Bool, _>(include_alipay)
    .bind::<BigInt, _>(limit)
    .load(conn)
}

/// How one attempt ended, as recorded.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub http_status: Option<i32>,
    pub result_code: Option<String>,
    pub error: Option<String>,
    pub outcome: AttemptOutcome,
    /// For `retry`: when the next attempt is due.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// An attempt to record: the claim it answers (notification and attempt
/// number, the fencing token) and how it ended.
#[derive(Debug, Clone)]
pub struct Finished {
    pub id: i64,
    pub attempt: i32,
    pub record: AttemptRecord,
}

/// Records finished attempts and, for each that is still the latest claim of
/// a pending row, applies its outcome. Returns the ids of the notifications
/// whose outcome was applied (a missing id: its lease ran out and another
/// worker owns the row now).
pub fn finish_attempts(conn: &mut PgConnection, finished: &[Finished]) -> QueryResult<Vec<i64>> {
    // One statement for a batch, so one round trip and one commit for every
    // attempt that finished meanwhile: the attempt rows, and each outcome
    // applied only if it is still the row's latest claim and the row is still
    // pending. "Not finished" rather than `status = 'pending'`: the latter
    // matches the partial due index, which the planner may then prefer to the
    // primary key and scan whole, once per batch, exactly when a backlog makes
    // it large.
    #[derive(QueryableByName)]
    struct Applied {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let records = || finished.iter().map(|f| &f.record);
    let applied: Vec<Applied> = diesel::sql_query(
        "WITH finished AS (
             SELECT * FROM unnest($1::bigint[], $2::int[], $3::timestamptz[], $4::int[], $5::int[],
                                  $6::text[], $7::text[], $8::text[], $9::text[], $10::timestamptz[])
                 AS f (id, attempt, started_at, duration_ms, http_status, result_code, error, outcome,
                       state, next_attempt_at)),
         attempt AS (
             INSERT INTO notification_attempts
                 (notification_id, attempt, started_at, duration_ms, http_status, result_code, error, outcome)
             SELECT id, attempt, started_at, duration_ms, http_status, result_code, error, outcome FROM finished
             ON CONFLICT DO NOTHING),
         outcome AS (
             UPDATE notifications n
                SET status = f.state, next_attempt_at = coalesce(f.next_attempt_at, now()),
                    last_error = f.error, last_result_code = f.result_code, last_http_status = f.http_status,
                    delivered_at = CASE WHEN f.state = 'delivered' THEN now() END
               FROM finished f
              WHERE n.id = f.id AND n.attempts = f.attempt AND n.status NOT IN ('delivered', 'failed', 'dead')
          RETURNING n.id)
         SELECT id FROM outcome",
    )
    .bind::<Array<BigInt>, _>(finished.iter().map(|f| f.id).collect::<Vec<_>>())
    .bind::<Array<Int4>, _>(finished.iter().map(|f| f.attempt).collect::<Vec<_>>())
    .bind::<Array<Timestamptz>, _>(records().map(|r| r.started_at).collect::<Vec<_>>())
    .bind::<Array<Int4>, _>(records().map(|r| r.duration_ms).collect::<Vec<_>>())
    .bind::<Array<Nullable<Int4>>, _>(records().map(|r| r.http_status).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(records().map(|r| r.result_code.as_deref()).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(records().map(|r| r.error.as_deref()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(records().map(|r| r.outcome.as_str()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(records().map(|r| r.outcome.state().as_str()).collect::<Vec<_>>())
    .bind::<Array<Nullable<Timestamptz>>, _>(records().map(|r| r.next_attempt_at).collect::<Vec<_>>())
    .load(conn)?;
    Ok(applied.into_iter().map(|a| a.id).collect())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notifications)]
pub struct NotificationRow {
    pub id: i64,
    pub registration_id: i64,
    pub registration_request_id: String,
    pub target: Target,
    pub url: String,
    pub status: NotificationState,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub last_result_code: Option<String>,
    pub last_http_status: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notification_attempts)]
pub struct AttemptRow {
    pub notification_id: i64,
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub http_status: Option<i32>,
    pub result_code: Option<String>,
    pub error: Option<String>,
    pub outcome: AttemptOutcome,
}

/// A registration's notifications and every attempt, oldest first.
pub fn find_for_registration(
    conn: &mut PgConnection,
    registration_id: i64,
) -> QueryResult<(Vec<NotificationRow>, Vec<AttemptRow>)> {
    let rows: Vec<NotificationRow> = notifications::table
        .filter(notifications::registration_id.eq(registration_id))
        .order(notifications::id.asc())
        .select(NotificationRow::as_select())
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let attempts = notification_attempts::table
        .filter(notification_attempts::notification_id.eq_any(ids))
        .order((
            notification_attempts::notification_id.asc(),
            notification_attempts::attempt.asc(),
        ))
        .select(AttemptRow::as_select())
        .load(conn)?;
    Ok((rows, attempts))
}

/// Which failed or dead notifications a re-drive takes.
#[derive(Debug, Clone, Default)]
pub struct RedriveFilter {
    pub ids: Vec<i64>,
    pub registration_request_id: Option<String>,
    /// Failed or dead (one that needs a person); `None`: both.
    pub status: Option<NotificationState>,
    pub target: Option<Target>,
}

/// Lists failed or dead notifications that match.
pub fn find_unfinished(
    conn: &mut PgConnection,
    filter: &RedriveFilter,
    limit: i64,
) -> QueryResult<Vec<NotificationRow>> {
    let mut query = notifications::table
        .filter(notifications::status.eq_any(NEED_A_PERSON))
        .select(NotificationRow::as_select())
        .order(notifications::id.asc())
        .limit(limit)
        .into_boxed();
    if !filter.ids.is_empty() {
        query = query.filter(notifications::id.eq_any(filter.ids.clone()));
    }
    if let Some(id) = &filter.registration_request_id {
        query = query.filter(notifications::registration_request_id.eq(id.clone()));
    }
    if let Some(status) = filter.status {
        query = query.filter(notifications::status.eq(status));
    }
    if let Some(target) = filter.target {
        query = query.filter(notifications::target.eq(target));
    }
    query.load(conn)
}

/// The notification lists of the admin page, by where a notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateView {
    /// Not attempted yet.
    Pending,
    /// Attempted, and due again later.
    Retrying,
    Failed,
    Dead,
}

impl StateView {
    pub const ALL: [StateView; 4] = [
        StateView::Pending,
        StateView::Retrying,
        StateView::Failed,
        StateView::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StateView::Pending => "pending",
            StateView::Retrying => "retrying",
            StateView::Failed => "failed",
            StateView::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<StateView> {
        StateView::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

type BoxedNotifications<'a> = notifications::BoxedQuery<'a, diesel::pg::Pg>;

fn in_view(view: StateView) -> BoxedNotifications<'static> {
    use notifications::dsl as n;
    let query = n::notifications.into_boxed();
    match view {
        StateView::Pending => query
            .filter(n::status.eq(NotificationState::Pending))
            .filter(n::attempts.eq(0)),
        StateView::Retrying => query
            .filter(n::status.eq(NotificationState::Pending))
            .filter(n::attempts.gt(0)),
        StateView::Failed => query.filter(n::status.eq(NotificationState::Failed)),
        StateView::Dead => query.filter(n::status.eq(NotificationState::Dead)),
    }
}

/// Notifications in a view, for one target or both, oldest first.
pub fn list_view(
    conn: &mut PgConnection,
    view: StateView,
    target: Option<Target>,
    limit: i64,
) -> QueryResult<Vec<NotificationRow>> {
    use notifications::dsl as n;
    let mut query = in_view(view);
    if let Some(t) = target {
        query = query.filter(n::target.eq(t));
    }
    query
        .order(n::id.asc())
        .limit(limit)
        .select(NotificationRow::as_select())
        .load(conn)
}

/// How many notifications each view holds.
pub fn count_views(conn: &mut PgConnection) -> QueryResult<Vec<(StateView, i64)>> {
    StateView::ALL
        .into_iter()
        .map(|v| Ok((v, in_view(v).count().get_result(conn)?)))
        .collect()
}

/// Makes one pending notification due now (an admin's Retry), audited.
/// `false` when it is not pending.
pub fn retry_now(
    conn: &mut PgConnection,
    id: i64,
    actor: &str,
    address: Option<&str>,
) -> QueryResult<bool> {
    use notifications::dsl as n;
    conn.transaction(|conn| {
        let row: Option<(String, Target)> = diesel::update(
            n::notifications.filter(n::id.eq(id).and(n::status.eq(NotificationState::Pending))),
        )
        .set(n::next_attempt_at.eq(Utc::now()))
        .returning((n::registration_request_id, n::target))
        .get_result(conn)
        .optional()?;
        let Some((request_id, target)) = row else {
            return Ok(false);
        };
        let detail = format!("{} notification, made due now", target.as_str());
        audit::insert_entry(
            conn,
            &NewAuditEntry {
                actor,
                action: action::NOTIFICATION_REDRIVEN,
                registration_request_id: Some(&request_id),
                detail: Some(&detail),
                address,
            },
        )?;
        Ok(true)
    })
}

/// Puts failed or dead notifications back in the queue, due now, at the start
/// of their retry schedule, and audits each one under `actor`. Returns the
/// rows re-driven (as they were).
pub fn redrive(
    conn: &mut PgConnection,
    filter: &RedriveFilter,
    actor: &str,
    address: Option<&str>,
) -> QueryResult<Vec<NotificationRow>> {
    use notifications::dsl as n;
    conn.transaction(|conn| {
        let rows = find_unfinished(conn, filter, i64::MAX)?;
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        diesel::update(
            n::notifications.filter(n::id.eq_any(&ids).and(n::status.eq_any(NEED_A_PERSON))),
        )
        .set((
            n::status.eq(NotificationState::Pending),
            n::round_attempts.eq(0),
            n::next_attempt_at.eq(Utc::now()),
        ))
        .execute(conn)?;
        for row in &rows {
            let detail = format!(
                "{} notification, was {} after {} attempts",
                row.target.as_str(),
                row.status.as_str(),
                row.attempts
            );
            let entry = NewAuditEntry {
                actor,
                action: action::NOTIFICATION_REDRIVEN,
                registration_request_id: Some(&row.registration_request_id),
                detail: Some(&detail),
                address,
            };
            audit::insert_entry(conn, &entry)?;
        }
        Ok(rows)
    })
}

/// Queue figures for metrics: per target, pending rows, rows due now, and the age of the oldest due row.
#[derive(Debug, Clone, QueryableByName)]
pub struct QueueStats {
    #[diesel(sql_type = Text)]
    pub target: Target,
    #[diesel(sql_type = Text)]
    pub status: NotificationState,
    #[diesel(sql_type = BigInt)]
    pub count: i64,
    #[diesel(sql_type = BigInt)]
    pub due: i64,
    #[diesel(sql_type = Nullable<Double>)]
    pub oldest_due_seconds: Option<f64>,
}

pub fn queue_stats(conn: &mut PgConnection) -> QueryResult<Vec<QueueStats>> {
    diesel::sql_query(
        "SELECT target, status, count(*) AS count,
                count(*) FILTER (WHERE status = 'pending' AND next_attempt_at <= now()) AS due,
                extract(epoch FROM now() - min(next_attempt_at) FILTER (WHERE status = 'pending' AND next_attempt_at <= now()))::float8
                    AS oldest_due_seconds
           FROM notifications
          WHERE status IN ('pending', 'failed', 'dead')
          GROUP BY target, status",
    )
    .load(conn)
}

/// Failed and dead notifications, for the mark on the admin pages.
pub fn count_unfinished(conn: &mut PgConnection) -> QueryResult<i64> {
    notifications::table
        .filter(notifications::status.eq_any(NEED_A_PERSON))
        .count()
        .get_result(conn)
}
