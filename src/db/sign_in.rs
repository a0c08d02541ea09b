//! Sign-in attempts, reserved before their password is checked.
//!
//! Reading the failure count, checking the password and then writing the
//! failure lets parallel guesses all see the old count. Instead an attempt is
//! counted and written in one transaction that holds a lock per username
//! and per address (always in that order), and only then checked; until its
//! outcome is known it counts as a failure.

use std::time::Duration;

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::schema::sign_in_attempts;
use crate::domain::sign_in::{Failures, Throttle, judge};

/// A reserved attempt, to be finished with its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserved {
    pub id: i64,
    pub throttle: Throttle,
}

#[derive(QueryableByName)]
struct Counts {
    #[diesel(sql_type = BigInt)]
    user_at_address: i64,
    #[diesel(sql_type = BigInt)]
    address: i64,
    #[diesel(sql_type = BigInt)]
    user: i64,
}

/// Counts the failures that bear on `username` at `address` and, unless they
/// refuse the attempt, writes it. `None`: refused (and not written, so a
/// refusal extends no window).
pub fn reserve(
    conn: &mut PgConnection,
    username: &str,
    address: &str,
    window: Duration,
) -> QueryResult<Option<Reserved>> {
    conn.transaction(|conn| {
        diesel::sql_query(
            "SELECT pg_advisory_xact_lock(hashtextextended('mpp sign-in user ' || $1, 0)),
                    pg_advisory_xact_lock(hashtextextended('mpp sign-in address ' || $2, 0))",
        )
        .bind::<Text, _>(username)
        .bind::<Text, _>(address)
        .execute(conn)?;
        let counts: Counts = diesel::sql_query(
            "SELECT count(*) FILTER (WHERE username = $1 AND address = $2) AS user_at_address,
                    count(*) FILTER (WHERE address = $2) AS address,
                    count(*) FILTER (WHERE username = $1) AS user
               FROM sign_in_attempts
              WHERE (username = $1 OR address = $2)
                AND at > now() - make_interval(secs => $3)
                AND succeeded IS NOT TRUE",
        )
        .bind::<Text, _>(username)
        .bind::<Text, _>(address)
        .bind::<diesel::sql_types::Double, _>(window.as_secs_f64())
        .get_result(conn)?;
        let throttle = judge(&Failures {
            user_at_address: counts.user_at_address,
            address: counts.address,
            user: counts.user,
        });
        if throttle == Throttle::Refuse {
            return Ok(None);
        }
        let id = diesel::insert_into(sign_in_attempts::table)
            .values((
                sign_in_attempts::username.eq(username),
                sign_in_attempts::address.eq(address),
            ))
            .returning(sign_in_attempts::id)
            .get_result(conn)?;
        Ok(Some(Reserved { id, throttle }))
    })
}

/// Records whether the reserved attempt's password matched.
pub fn finish(conn: &mut PgConnection, id: i64, succeeded: bool) -> QueryResult<()> {
    diesel::update(sign_in_attempts::table.find(id))
        .set(sign_in_attempts::succeeded.eq(succeeded))
        .execute(conn)?;
    Ok(())
}

/// Forgets a reserved attempt whose password was never checked.
pub fn cancel(conn: &mut PgConnection, id: i64) -> QueryResult<()> {
    diesel::delete(sign_in_attempts::table.find(id)).execute(conn)?;
    Ok(())
}

/// Clears the failures of `username` (`user unlock`); returns how many.
pub fn clear_failures(conn: &mut PgConnection, username: &str) -> QueryResult<usize> {
    use sign_in_attempts::dsl as a;
    diesel::delete(
        a::sign_in_attempts.filter(
            a::username
                .eq(username)
                .and(a::succeeded.is_distinct_from(true)),
        ),
    )
    .execute(conn)
}

/// Removes attempts older than `keep`: they no longer count.
pub fn purge_older_than(conn: &mut PgConnection, keep: Duration) -> QueryResult<usize> {
    let before =
        chrono::Utc::now() - chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::days(1));
    diesel::delete(sign_in_attempts::table.filter(sign_in_attempts::at.lt(before))).execute(conn)
}
