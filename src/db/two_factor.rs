//! Queries of two-factor sign-in: the challenge between password and code,
//! enrolment, single use of each time step and recovery code, and reset.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;

use super::schema::{recovery_codes, sessions, sign_in_challenges, users};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sign_in_challenges)]
pub struct Challenge {
    pub user_id: i64,
    pub csrf_token: String,
    pub address: String,
    pub pending_secret: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
}

pub fn insert_challenge(
    conn: &mut PgConnection,
    id_hash: &[u8],
    user_id: i64,
    csrf_token: &str,
    address: &str,
) -> QueryResult<()> {
    diesel::insert_into(sign_in_challenges::table)
        .values((
            sign_in_challenges::id_hash.eq(id_hash),
            sign_in_challenges::user_id.eq(user_id),
            sign_in_challenges::csrf_token.eq(csrf_token),
            sign_in_challenges::address.eq(address),
        ))
        .execute(conn)?;
    Ok(())
}

/// A challenge made since `since`; older ones are deleted on the way.
pub fn find_challenge(
    conn: &mut PgConnection,
    id_hash: &[u8],
    since: DateTime<Utc>,
) -> QueryResult<Option<Challenge>> {
    diesel::delete(sign_in_challenges::table.filter(sign_in_challenges::created_at.lt(since)))
        .execute(conn)?;
    sign_in_challenges::table
        .find(id_hash)
        .select(Challenge::as_select())
        .first(conn)
        .optional()
}

pub fn set_pending_secret(
    conn: &mut PgConnection,
    id_hash: &[u8],
    sealed: &[u8],
) -> QueryResult<()> {
    diesel::update(sign_in_challenges::table.find(id_hash))
        .set(sign_in_challenges::pending_secret.eq(sealed))
        .execute(conn)?;
    Ok(())
}

pub fn delete_challenge(conn: &mut PgConnection, id_hash: &[u8]) -> QueryResult<()> {
    diesel::delete(sign_in_challenges::table.find(id_hash)).execute(conn)?;
    Ok(())
}

/// Enrols a user: the sealed secret, the step its first code used, and the
/// hashes of a fresh set of recovery codes.
pub fn enrol(
    conn: &mut PgConnection,
    user_id: i64,
    sealed_secret: &[u8],
    step: i64,
    recovery_hashes: &[Vec<u8>],
) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set((
            users::totp_secret.eq(sealed_secret),
            users::totp_enrolled_at.eq(diesel::dsl::now),
            users::totp_last_step.eq(step),
        ))
        .execute(conn)?;
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)?;
    let rows: Vec<_> = recovery_hashes
        .iter()
        .map(|h| {
            (
                recovery_codes::user_id.eq(user_id),
                recovery_codes::code_hash.eq(h),
            )
        })
        .collect();
    diesel::insert_into(recovery_codes::table)
        .values(&rows)
        .execute(conn)?;
    Ok(())
}

/// Takes `step` for the user if no later or equal step was taken before: a
/// code is good once, even when two requests bring it at the same moment.
pub fn accept_step(conn: &mut PgConnection, user_id: i64, step: i64) -> QueryResult<bool> {
    let n = diesel::update(
        users::table.filter(users::id.eq(user_id).and(users::totp_last_step.lt(step))),
    )
    .set(users::totp_last_step.eq(step))
    .execute(conn)?;
    Ok(n == 1)
}

/// Uses up a recovery code; `false` when it is unknown or used already.
pub fn use_recovery_code(conn: &mut PgConnection, user_id: i64, hash: &[u8]) -> QueryResult<bool> {
    let n = diesel::update(
        recovery_codes::table.filter(
            recovery_codes::user_id
                .eq(user_id)
                .and(recovery_codes::code_hash.eq(hash))
                .and(recovery_codes::used_at.is_null()),
        ),
    )
    .set(recovery_codes::used_at.eq(diesel::dsl::now))
    .execute(conn)?;
    Ok(n == 1)
}

/// Makes the user enrol again at the next sign-in; their sessions end.
pub fn reset(conn: &mut PgConnection, username: &str) -> QueryResult<bool> {
    let Some(id) = users::table
        .filter(users::username.eq(username))
        .select(users::id)
        .first::<i64>(conn)
        .optional()?
    else {
        return Ok(false);
    };
    diesel::update(users::table.find(id))
        .set((
            users::totp_secret.eq(None::<Vec<u8>>),
            users::totp_enrolled_at.eq(None::<DateTime<Utc>>),
        ))
        .execute(conn)?;
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(id))).execute(conn)?;
    diesel::delete(sessions::table.filter(sessions::user_id.eq(id))).execute(conn)?;
    Ok(true)
}
