//! Screening lists, their entries, the hits they raise and the hits people
//! dismissed.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;

use super::audit::{self, NewAuditEntry};
use super::schema::{
    hit_dismissals, list_hits, registrations, requests, screening_entries, screening_lists,
};
use crate::domain::screening::{Hit, List, ListKind, Lists};
use crate::domain::status::RegistrationStatus;

/// The review flag a live hit on a list adds: `list_hit: NAME`.
pub fn hit_flag(list: &str) -> String {
    format!("{LIST_HIT_FLAG}: {list}")
}

/// The name of the review flag of live list hits (see `domain::rules`: a
/// flag's name is the text before its first ": ").
pub const LIST_HIT_FLAG: &str = "list_hit";

/// A list as `lists show` prints it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = screening_lists)]
pub struct ListRow {
    pub name: String,
    pub kind: String,
    pub version: i32,
    pub entries: i32,
    pub loaded_at: DateTime<Utc>,
}

pub fn lists(conn: &mut PgConnection) -> QueryResult<Vec<ListRow>> {
    screening_lists::table
        .order(screening_lists::name)
        .select(ListRow::as_select())
        .load(conn)
}

/// Each list's name and version, to tell whether the lists held are current.
pub fn versions(conn: &mut PgConnection) -> QueryResult<Vec<(String, i32)>> {
    screening_lists::table
        .order(screening_lists::name)
        .select((screening_lists::name, screening_lists::version))
        .load(conn)
}

/// Every list with its entries, indexed for matching. Read in one
/// repeatable-read transaction, so each list's entries are its version's.
pub fn load(conn: &mut PgConnection) -> QueryResult<Lists> {
    conn.build_transaction()
        .repeatable_read()
        .read_only()
        .run(|conn| {
            let mut lists = Vec::new();
            for row in self::lists(conn)? {
                let Some(kind) = ListKind::parse(&row.kind) else {
                    continue;
                };
                let entries: Vec<(String, String)> = screening_entries::table
                    .filter(screening_entries::list_name.eq(&row.name))
                    .select((screening_entries::entry, screening_entries::key))
                    .load(conn)?;
                lists.push(List::new(row.name, kind, row.version, entries));
            }
            Ok(Lists { lists })
        })
}

/// Replaces list `name` with `entries` (text and key) as its next version,
/// atomically; returns the version.
pub fn replace(
    conn: &mut PgConnection,
    name: &str,
    kind: ListKind,
    entries: &[(String, String)],
) -> QueryResult<i32> {
    conn.transaction(|conn| {
        let count = i32::try_from(entries.len()).unwrap_or(i32::MAX);
        let version: i32 = diesel::insert_into(screening_lists::table)
            .values((
                screening_lists::name.eq(name),
                screening_lists::kind.eq(kind.as_str()),
                screening_lists::version.eq(1),
                screening_lists::entries.eq(count),
            ))
            .on_conflict(screening_lists::name)
            .do_update()
            .set((
                screening_lists::kind.eq(kind.as_str()),
                screening_lists::version.eq(screening_lists::version + 1),
                screening_lists::entries.eq(count),
                screening_lists::loaded_at.eq(diesel::dsl::now),
            ))
            .returning(screening_lists::version)
            .get_result(conn)?;
        diesel::delete(screening_entries::table.filter(screening_entries::list_name.eq(name)))
            .execute(conn)?;
        for chunk in entries.chunks(5_000) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|(entry, key)| {
                    (
                        screening_entries::list_name.eq(name),
                        screening_entries::entry.eq(entry),
                        screening_entries::key.eq(key),
                    )
                })
                .collect();
            diesel::insert_into(screening_entries::table)
                .values(&rows)
                .execute(conn)?;
        }
        Ok(version)
    })
}

/// The dismissals that cover `hits` of merchant `merchant_id`, by hit index.
pub fn dismissed(
    conn: &mut PgConnection,
    merchant_id: &str,
    hits: &[Hit],
) -> QueryResult<Vec<(usize, i64)>> {
    let lists: BTreeSet<&str> = hits.iter().map(|h| h.list.as_str()).collect();
    let rows: Vec<(i64, String, String, String, String)> = hit_dismissals::table
        .filter(hit_dismissals::reference_merchant_id.eq(merchant_id))
        .filter(hit_dismissals::list_name.eq_any(lists))
        .select((
            hit_dismissals::id,
            hit_dismissals::list_name,
            hit_dismissals::entry,
            hit_dismissals::field,
            hit_dismissals::value,
        ))
        .load(conn)?;
    Ok(hits
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            rows.iter()
                .find(|(_, list, entry, field, value)| {
                    *list == h.list && *entry == h.entry && *field == h.field && *value == h.value
                })
                .map(|row| (i, row.0))
        })
        .collect())
}

/// Stores `hits` of a registration (with their dismissals, if any); a hit
/// stored already is left as it is. Returns how many were new.
pub fn insert_hits(
    conn: &mut PgConnection,
    registration_id: i64,
    status_then: RegistrationStatus,
    hits: &[Hit],
    dismissals: &[(usize, i64)],
) -> QueryResult<usize> {
    let rows: Vec<_> = hits
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let dismissal = dismissals.iter().find(|d| d.0 == i).map(|d| d.1);
            (
                list_hits::registration_id.eq(registration_id),
                list_hits::list_name.eq(&h.list),
                list_hits::list_version.eq(h.version),
                list_hits::entry.eq(&h.entry),
                list_hits::field.eq(&h.field),
                list_hits::value.eq(&h.value),
                list_hits::score.eq(h.score),
                list_hits::status_then.eq(status_then.as_str()),
                list_hits::dismissal_id.eq(dismissal),
            )
        })
        .collect();
    diesel::insert_into(list_hits::table)
        .values(&rows)
        .on_conflict_do_nothing()
        .execute(conn)
}

/// A hit as the detail page shows it.
#[derive(Debug, Clone, Queryable)]
pub struct HitRow {
    pub id: i64,
    pub list_name: String,
    pub list_version: i32,
    pub entry: String,
    pub field: String,
    pub value: String,
    pub score: f64,
    pub found_at: DateTime<Utc>,
    pub dismissed_by: Option<String>,
    pub dismissed_at: Option<DateTime<Utc>>,
    pub dismissal_note: Option<String>,
}

pub fn hits_for(conn: &mut PgConnection, registration_id: i64) -> QueryResult<Vec<HitRow>> {
    list_hits::table
        .left_join(hit_dismissals::table)
        .filter(list_hits::registration_id.eq(registration_id))
        .order(list_hits::id)
        .select((
            list_hits::id,
            list_hits::list_name,
            list_hits::list_version,
            list_hits::entry,
            list_hits::field,
            list_hits::value,
            list_hits::score,
            list_hits::found_at,
            hit_dismissals::dismissed_by.nullable(),
            hit_dismissals::dismissed_at.nullable(),
            hit_dismissals::note.nullable(),
        ))
        .load(conn)
}

/// How dismissing a hit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dismissed {
    Done,
    /// No such hit on this registration.
    NoSuchHit,
    /// It was dismissed already.
    Already,
}

/// A hit to dismiss, with what its registration says.
#[derive(Queryable)]
struct DismissTarget {
    list: String,
    entry: String,
    field: String,
    value: String,
    dismissal: Option<i64>,
    merchant: String,
    request_id: String,
    flags: Vec<String>,
}

/// Marks hit `hit_id` of registration `registration_id` "Not a match" by
/// `reviewer` with `note`: the same merchant value against the same entry
/// is not raised again. The registration's `list_hit` flag for that list
/// goes when no live hit on the list is left. Audited.
pub fn dismiss(
    conn: &mut PgConnection,
    registration_id: i64,
    hit_id: i64,
    reviewer: &str,
    note: &str,
) -> QueryResult<Dismissed> {
    conn.transaction(|conn| {
        let found: Option<DismissTarget> = list_hits::table
            .inner_join(registrations::table)
            .filter(list_hits::id.eq(hit_id))
            .filter(list_hits::registration_id.eq(registration_id))
            .select((
                list_hits::list_name,
                list_hits::entry,
                list_hits::field,
                list_hits::value,
                list_hits::dismissal_id,
                registrations::reference_merchant_id,
                registrations::registration_request_id,
                registrations::review_flags,
            ))
            .for_update()
            .first(conn)
            .optional()?;
        let Some(DismissTarget {
            list,
            entry,
            field,
            value,
            dismissal,
            merchant,
            request_id,
            flags,
        }) = found
        else {
            return Ok(Dismissed::NoSuchHit);
        };
        if dismissal.is_some() {
            return Ok(Dismissed::Already);
        }
        let inserted: Option<i64> = diesel::insert_into(hit_dismissals::table)
            .values((
                hit_dismissals::reference_merchant_id.eq(&merchant),
                hit_dismissals::list_name.eq(&list),
                hit_dismissals::entry.eq(&entry),
                hit_dismissals::field.eq(&field),
                hit_dismissals::value.eq(&value),
                hit_dismissals::dismissed_by.eq(reviewer),
                hit_dismissals::note.eq(note),
            ))
            .on_conflict_do_nothing()
            .returning(hit_dismissals::id)
            .get_result(conn)
            .optional()?;
        let dismissal_id = match inserted {
            Some(id) => id,
            None => hit_dismissals::table
                .filter(hit_dismissals::reference_merchant_id.eq(&merchant))
                .filter(hit_dismissals::list_name.eq(&list))
                .filter(hit_dismissals::entry.eq(&entry))
                .filter(hit_dismissals::field.eq(&field))
                .filter(hit_dismissals::value.eq(&value))
                .select(hit_dismissals::id)
                .first(conn)?,
        };
        diesel::update(
            list_hits::table
                .filter(list_hits::registration_id.eq(registration_id))
                .filter(list_hits::list_name.eq(&list))
                .filter(list_hits::entry.eq(&entry))
                .filter(list_hits::field.eq(&field))
                .filter(list_hits::value.eq(&value))
                .filter(list_hits::dismissal_id.is_null()),
        )
        .set(list_hits::dismissal_id.eq(dismissal_id))
        .execute(conn)?;
        let live_on_list: i64 = list_hits::table
            .filter(list_hits::registration_id.eq(registration_id))
            .filter(list_hits::list_name.eq(&list))
            .filter(list_hits::dismissal_id.is_null())
            .count()
            .get_result(conn)?;
        if live_on_list == 0 {
            let flag = hit_flag(&list);
            let kept: Vec<String> = flags.into_iter().filter(|f| *f != flag).collect();
            diesel::update(registrations::table.find(registration_id))
                .set(registrations::review_flags.eq(kept))
                .execute(conn)?;
        }
        let detail = format!("not a match: {list} entry {entry:?} against {field}: {note}");
        audit::insert_entry(
            conn,
            &NewAuditEntry {
                actor: reviewer,
                action: audit::action::HIT_DISMISSED,
                registration_request_id: Some(&request_id),
                detail: Some(&detail),
                ..Default::default()
            },
        )?;
        Ok(Dismissed::Done)
    })
}

/// A registration a new list version is screened against.
#[derive(Debug, Clone, Queryable)]
pub struct Screened {
    pub id: i64,
    pub registration_request_id: String,
    pub reference_merchant_id: String,
    pub status: RegistrationStatus,
    pub raw_request: String,
}

/// The next `limit` PENDING or APPROVED registrations after row `after`, by id.
pub fn screened_batch(
    conn: &mut PgConnection,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<Screened>> {
    registrations::table
        .inner_join(
            requests::table
                .on(requests::registration_request_id.eq(registrations::registration_request_id)),
        )
        .filter(registrations::id.gt(after))
        .filter(registrations::status.eq_any([
            RegistrationStatus::Pending.as_str(),
            RegistrationStatus::Approved.as_str(),
        ]))
        .order(registrations::id)
        .limit(limit)
        .select((
            registrations::id,
            registrations::registration_request_id,
            registrations::reference_merchant_id,
            registrations::status,
            requests::raw_request,
        ))
        .load(conn)
}

/// Records what a new list version found on a stored registration: its
/// hits, the `list_hit` flag while it is PENDING, and an audit entry.
/// Hits stored before (an unchanged entry) and dismissed ones add nothing.
/// Returns whether a new live hit was recorded.
pub fn record_rescreen(conn: &mut PgConnection, r: &Screened, hits: &[Hit]) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let dismissals = dismissed(conn, &r.reference_merchant_id, hits)?;
        let live: Vec<&Hit> = hits
            .iter()
            .enumerate()
            .filter(|(i, _)| !dismissals.iter().any(|d| d.0 == *i))
            .map(|(_, h)| h)
            .collect();
        let known: Vec<(String, String, String)> = list_hits::table
            .filter(list_hits::registration_id.eq(r.id))
            .select((list_hits::list_name, list_hits::entry, list_hits::field))
            .load(conn)?;
        let fresh: Vec<&&Hit> = live
            .iter()
            .filter(|h| {
                !known
                    .iter()
                    .any(|k| k.0 == h.list && k.1 == h.entry && k.2 == h.field)
            })
            .collect();
        insert_hits(conn, r.id, r.status, hits, &dismissals)?;
        if fresh.is_empty() {
            return Ok(false);
        }
        if r.status == RegistrationStatus::Pending {
            let flags: Vec<String> = registrations::table
                .find(r.id)
                .select(registrations::review_flags)
                .for_update()
                .first(conn)?;
            let mut updated = flags.clone();
            for h in &fresh {
                let flag = hit_flag(&h.list);
                if !updated.contains(&flag) {
                    updated.push(flag);
                }
            }
            if updated != flags {
                diesel::update(registrations::table.find(r.id))
                    .set(registrations::review_flags.eq(updated))
                    .execute(conn)?;
            }
        }
        for h in fresh {
            let detail = format!(
                "{} version {}: entry {:?} matches {} {:?} (score {:.2}) while {}",
                h.list,
                h.version,
                h.entry,
                h.field,
                h.value,
                h.score,
                r.status.as_str()
            );
            audit::insert_entry(
                conn,
                &NewAuditEntry {
                    actor: audit::SCREENING_ACTOR,
                    action: audit::action::LIST_HIT,
                    registration_request_id: Some(&r.registration_request_id),
                    detail: Some(&detail),
                    ..Default::default()
                },
            )?;
        }
        Ok(true)
    })
}

/// Each rule's decisions at intake since `since`: rule, action, count.
pub fn rule_decisions(
    conn: &mut PgConnection,
    since: DateTime<Utc>,
) -> QueryResult<Vec<(String, String, i64)>> {
    registrations::table
        .filter(registrations::received_at.ge(since))
        .filter(registrations::triage_rule.is_not_null())
        .group_by((registrations::triage_rule, registrations::triage_action))
        .select((
            registrations::triage_rule.assume_not_null(),
            registrations::triage_action.assume_not_null(),
            diesel::dsl::count_star(),
        ))
        .load(conn)
}

/// A stored registration as `rules test` replays it.
#[derive(Debug, Clone, QueryableByName)]
pub struct Replayed {
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub registration_request_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub status: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub decided_by: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub raw_request: String,
    /// For an update: the request of the approval it updates.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub before_request: Option<String>,
    /// The lists it hits, dismissed hits left out.
    #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::Text>)]
    pub live_lists: Vec<String>,
}

/// The next `limit` registrations received since `since`, after row `after`.
pub fn history_batch(
    conn: &mut PgConnection,
    since: DateTime<Utc>,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<Replayed>> {
    diesel::sql_query(
        "SELECT r.id, r.registration_request_id, r.status, r.decided_by, q.raw_request,
                (SELECT pq.raw_request
                   FROM registrations p
                   JOIN requests pq ON pq.registration_request_id = p.registration_request_id
                  WHERE r.is_update AND p.reference_merchant_id = r.reference_merchant_id
                    AND p.status = 'APPROVED' AND p.decided_at < r.received_at
                    AND p.product_codes && r.product_codes AND p.id <> r.id
                  ORDER BY p.decided_at DESC LIMIT 1) AS before_request,
                ARRAY(SELECT DISTINCT h.list_name FROM list_hits h
                       WHERE h.registration_id = r.id AND h.dismissal_id IS NULL) AS live_lists
           FROM registrations r
           JOIN requests q ON q.registration_request_id = r.registration_request_id
          WHERE r.received_at >= $1 AND r.id > $2
          ORDER BY r.id
          LIMIT $3",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(since)
    .bind::<diesel::sql_types::Int8, _>(after)
    .bind::<diesel::sql_types::Int8, _>(limit)
    .load(conn)
}
