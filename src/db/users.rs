//! Queries on `users` and `sessions`.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;

use super::schema::{account_setups, sessions, users};
use crate::domain::user::Role;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub totp_secret: Option<Vec<u8>>,
    pub totp_enrolled_at: Option<DateTime<Utc>>,
    pub sso_issuer: Option<String>,
}

/// Inserts a user; `false` when the name is taken.
pub fn insert_user(
    conn: &mut PgConnection,
    username: &str,
    password_hash: &str,
    role: Role,
) -> QueryResult<bool> {
    let n = diesel::insert_into(users::table)
        .values((
            users::username.eq(username),
            users::password_hash.eq(password_hash),
            users::role.eq(role),
        ))
        .on_conflict(users::username)
        .do_nothing()
        .execute(conn)?;
    Ok(n == 1)
}

pub fn find_user(conn: &mut PgConnection, username: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::username.eq(username))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn find_user_by_id(conn: &mut PgConnection, id: i64) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// How many accounts exist (disabled ones included).
pub fn count_users(conn: &mut PgConnection) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

pub fn list_users(conn: &mut PgConnection) -> QueryResult<Vec<User>> {
    users::table
        .order(users::username.asc())
        .select(User::as_select())
        .load(conn)
}

/// Disables (or re-enables) a user; disabling also ends their sessions.
/// Returns `false` for an unknown name.
pub fn set_role(conn: &mut PgConnection, username: &str, role: Role) -> QueryResult<bool> {
    let n = diesel::update(users::table.filter(users::username.eq(username)))
        .set(users::role.eq(role))
        .execute(conn)?;
    Ok(n == 1)
}

/// Replaces the password hash; the user's sessions end with it.
pub fn set_password_hash(conn: &mut PgConnection, username: &str, hash: &str) -> QueryResult<bool> {
    let Some(id) = users::table
        .filter(users::username.eq(username))
        .select(users::id)
        .first::<i64>(conn)
        .optional()?
    else {
        return Ok(false);
    };
    diesel::update(users::table.find(id))
        .set(users::password_hash.eq(hash))
        .execute(conn)?;
    diesel::delete(sessions::table.filter(sessions::user_id.eq(id))).execute(conn)?;
    Ok(true)
}

pub fn mark_signed_in(conn: &mut PgConnection, user_id: i64) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set(users::last_sign_in_at.eq(diesel::dsl::now))
        .execute(conn)?;
    Ok(())
}

pub fn set_disabled(conn: &mut PgConnection, username: &str, disabled: bool) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let when = disabled.then(Utc::now);
        let ids: Vec<i64> = diesel::update(users::table.filter(users::username.eq(username)))
            .set(users::disabled_at.eq(when))
            .returning(users::id)
            .get_results(conn)?;
        if disabled {
            diesel::delete(sessions::table.filter(sessions::user_id.eq_any(&ids))).execute(conn)?;
        }
        Ok(!ids.is_empty())
    })
}

/// The signed-in user behind a session cookie.
#[derive(Debug, Clone)]
pub struct SessionUser {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub csrf_token: String,
}

pub fn insert_session(
    conn: &mut PgConnection,
    id_hash: &[u8],
    user_id: i64,
    csrf_token: &str,
) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::id_hash.eq(id_hash),
            sessions::user_id.eq(user_id),
            sessions::csrf_token.eq(csrf_token),
        ))
        .execute(conn)?;
    Ok(())
}

/// Finds a live session (seen since `idle_since`, created since
/// `created_since`, user enabled) and marks it seen now; an expired one is
/// deleted.
pub fn touch_session(
    conn: &mut PgConnection,
    id_hash: &[u8],
    idle_since: DateTime<Utc>,
    created_since: DateTime<Utc>,
) -> QueryResult<Option<SessionUser>> {
    #[derive(Queryable)]
    struct Found {
        user_id: i64,
        username: String,
        role: Role,
        csrf_token: String,
        last_seen_at: DateTime<Utc>,
        created_at: DateTime<Utc>,
    }
    let found: Option<Found> = sessions::table
        .inner_join(users::table)
        .filter(
            sessions::id_hash
                .eq(id_hash)
                .and(users::disabled_at.is_null()),
        )
        .select((
            users::id,
            users::username,
            users::role,
            sessions::csrf_token,
            sessions::last_seen_at,
            sessions::created_at,
        ))
        .first(conn)
        .optional()?;
    let Some(Found {
        user_id,
        username,
        role,
        csrf_token,
        last_seen_at: last_seen,
        created_at: created,
    }) = found
    else {
        return Ok(None);
    };
    if last_seen < idle_since || created < created_since {
        delete_session(conn, id_hash)?;
        return Ok(None);
    }
    // Writing last_seen_at once a minute is enough for idle expiry and keeps page views read-mostly.
    if Utc::now() - last_seen > chrono::Duration::seconds(60) {
        diesel::update(sessions::table.filter(sessions::id_hash.eq(id_hash)))
            .set(sessions::last_seen_at.eq(Utc::now()))
            .execute(conn)?;
    }
    Ok(Some(SessionUser {
        user_id,
        username,
        role,
        csrf_token,
    }))
}

pub fn delete_session(conn: &mut PgConnection, id_hash: &[u8]) -> QueryResult<()> {
    diesel::delete(sessions::table.filter(sessions::id_hash.eq(id_hash))).execute(conn)?;
    Ok(())
}

/// Removes sessions idle since before `idle_since` or created before `created_since`.
pub fn delete_expired_sessions(
    conn: &mut PgConnection,
    idle_since: DateTime<Utc>,
    created_since: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::delete(
        sessions::table.filter(
            sessions::last_seen_at
                .lt(idle_since)
                .or(sessions::created_at.lt(created_since)),
        ),
    )
    .execute(conn)
}

/// A one-time link for a new account to choose its password.
pub fn insert_setup(
    conn: &mut PgConnection,
    token_hash: &[u8],
    user_id: i64,
    expires_at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(account_setups::table)
        .values((
            account_setups::token_hash.eq(token_hash),
            account_setups::user_id.eq(user_id),
            account_setups::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The account a live setup link is for.
pub fn find_setup(conn: &mut PgConnection, token_hash: &[u8]) -> QueryResult<Option<User>> {
    account_setups::table
        .inner_join(users::table)
        .filter(
            account_setups::token_hash
                .eq(token_hash)
                .and(account_setups::expires_at.gt(diesel::dsl::now))
                .and(users::disabled_at.is_null()),
        )
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Uses a setup link up: `false` when it was used (or expired) meanwhile.
pub fn take_setup(conn: &mut PgConnection, token_hash: &[u8]) -> QueryResult<bool> {
    let n = diesel::delete(
        account_setups::table.filter(
            account_setups::token_hash
                .eq(token_hash)
                .and(account_setups::expires_at.gt(diesel::dsl::now)),
        ),
    )
    .execute(conn)?;
    Ok(n == 1)
}

/// A user's live sessions, newest first.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

pub fn list_sessions(conn: &mut PgConnection, user_id: i64) -> QueryResult<Vec<SessionRow>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .order(sessions::last_seen_at.desc())
        .select(SessionRow::as_select())
        .load(conn)
}

/// Ends every session of the user but `keep`; returns how many ended.
pub fn delete_other_sessions(
    conn: &mut PgConnection,
    user_id: i64,
    keep: &[u8],
) -> QueryResult<usize> {
    diesel::delete(
        sessions::table.filter(
            sessions::user_id
                .eq(user_id)
                .and(sessions::id_hash.ne(keep)),
        ),
    )
    .execute(conn)
}

/// Sets the user's own new password, keeping the session it was changed from.
pub fn change_own_password(
    conn: &mut PgConnection,
    user_id: i64,
    hash: &str,
    keep: &[u8],
) -> QueryResult<usize> {
    diesel::update(users::table.find(user_id))
        .set(users::password_hash.eq(hash))
        .execute(conn)?;
    delete_other_sessions(conn, user_id, keep)
}

/// The account of an identity provider's subject.
pub fn find_sso_user(
    conn: &mut PgConnection,
    issuer: &str,
    subject: &str,
) -> QueryResult<Option<User>> {
    users::table
        .filter(
            users::sso_issuer
                .eq(issuer)
                .and(users::sso_subject.eq(subject)),
        )
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Creates the account of an identity provider's subject; `false` when the
/// name is taken by another account.
pub fn insert_sso_user(
    conn: &mut PgConnection,
    username: &str,
    unusable_password_hash: &str,
    role: Role,
    issuer: &str,
    subject: &str,
) -> QueryResult<bool> {
    let n = diesel::insert_into(users::table)
        .values((
            users::username.eq(username),
            users::password_hash.eq(unusable_password_hash),
            users::role.eq(role),
            users::sso_issuer.eq(issuer),
            users::sso_subject.eq(subject),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(n == 1)
}
