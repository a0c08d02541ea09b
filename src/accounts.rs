//! `mpp-registrar user ...`: reviewer accounts from the command line. Each
//! change runs as the application role in one transaction with its audit
//! entry (actor `cli`).

use std::io::IsTerminal as _;

use anyhow::{Context as _, bail};
use diesel::Connection as _;
use diesel::pg::PgConnection;

use crate::admin::password;
use crate::cli::DatabaseArgs;
use crate::db::audit::{self, NewAuditEntry, action};
use crate::db::{self, sign_in, users};
use crate::domain::user::{Role, check_password, check_username};
use crate::startup::resolve_database;

/// Runs `change` on the server's database as the application role, in a
/// transaction, stopping a private cluster started for it afterwards.
fn with_database<T>(
    database: &DatabaseArgs,
    change: impl FnOnce(&mut PgConnection) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let (database_url, cluster) = resolve_database(database)?;
    let result = (|| {
        db::run_migrations(&database_url)?;
        let mut conn = db::connect_as_app(&database_url)?;
        conn.transaction(change)
    })();
    if let Some(cluster) = cluster {
        cluster.stop()?;
    }
    result
}

fn audited(conn: &mut PgConnection, what: &'static str, detail: &str) -> anyhow::Result<()> {
    let entry = NewAuditEntry {
        actor: "cli",
        action: what,
        detail: Some(detail),
        ..Default::default()
    };
    audit::insert_entry(conn, &entry)?;
    Ok(())
}

fn no_such_user(username: &str) -> anyhow::Error {
    anyhow::anyhow!("no user named {username:?}")
}

/// A new password: from a terminal, asked twice without echo; otherwise one
/// line of standard input, with no prompt.
pub fn read_new_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New password: ")?;
        let second = rpassword::prompt_password("Repeat it: ")?;
        if first != second {
            bail!("the two passwords differ");
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// `user add`.
pub fn add(
    username: &str,
    role: Role,
    database: &DatabaseArgs,
    password: &str,
) -> anyhow::Result<()> {
    check_username(username).map_err(anyhow::Error::msg)?;
    check_password(password, username).map_err(anyhow::Error::msg)?;
    let hash = password::hash_password(password)?;
    with_database(database, |conn| {
        if !users::insert_user(conn, username, &hash, role)? {
            bail!("a user named {username:?} already exists");
        }
        audited(
            conn,
            action::USER_CREATED,
            &format!("user {username} ({})", role.as_str()),
        )
    })?;
    println!("created {} {username:?}", role.as_str());
    Ok(())
}

/// `user unlock`: clears the user's failed sign-ins, so that sign-in is no
/// longer refused for them from any address.
pub fn unlock(username: &str, database: &DatabaseArgs) -> anyhow::Result<()> {
    let cleared = with_database(database, |conn| {
        if users::find_user(conn, username)?.is_none() {
            return Err(no_such_user(username));
        }
        let cleared = sign_in::clear_failures(conn, username)?;
        audited(
            conn,
            action::USER_UNLOCKED,
            &format!("user {username}: {cleared} failed sign-in(s) cleared"),
        )?;
        Ok(cleared)
    })?;
    println!("unlocked {username:?} ({cleared} failed sign-in(s) cleared)");
    Ok(())
}

/// `user list`: one line per account (username, role, enabled, two-factor
/// enrolled, last sign-in).
pub fn list(database: &DatabaseArgs) -> anyhow::Result<()> {
    let all = with_database(database, |conn| Ok(users::list_users(conn)?))?;
    println!(
        "{:<32} {:<9} {:<8} {:<10} last sign-in",
        "username", "role", "enabled", "two-factor"
    );
    for u in all {
        println!(
            "{:<32} {:<9} {:<8} {:<10} {}",
            u.username,
            u.role.as_str(),
            if u.disabled_at.is_none() { "yes" } else { "no" },
            if u.totp_enrolled_at.is_some() {
                "enrolled"
            } else {
                "no"
            },
            u.last_sign_in_at
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_else(|| "never".into())
        );
    }
    Ok(())
}

/// `user disable` / `user enable`; disabling ends the user's sessions.
pub fn set_enabled(username: &str, enabled: bool, database: &DatabaseArgs) -> anyhow::Result<()> {
    with_database(database, |conn| {
        if !users::set_disabled(conn, username, !enabled)? {
            return Err(no_such_user(username));
        }
        let what = if enabled {
            action::USER_ENABLED
        } else {
            action::USER_DISABLED
        };
        audited(conn, what, &format!("user {username}"))
    })?;
    println!(
        "{} {username:?}",
        if enabled { "enabled" } else { "disabled" }
    );
    Ok(())
}

/// `user set-role`.
pub fn set_role(username: &str, role: Role, database: &DatabaseArgs) -> anyhow::Result<()> {
    with_database(database, |conn| {
        if !users::set_role(conn, username, role)? {
            return Err(no_such_user(username));
        }
        audited(
            conn,
            action::USER_ROLE_CHANGED,
            &format!("user {username} is now {}", role.as_str()),
        )
    })?;
    println!("{username:?} is now {}", role.as_str());
    Ok(())
}

/// `user reset-mfa`: the account enrols a new authenticator at its next
/// sign-in; its recovery codes and sessions end.
pub fn reset_mfa(username: &str, database: &DatabaseArgs) -> anyhow::Result<()> {
    with_database(database, |conn| {
        if !crate::db::two_factor::reset(conn, username)? {
            return Err(no_such_user(username));
        }
        audited(conn, action::MFA_RESET, &format!("user {username}"))
    })?;
    println!("two-factor of {username:?} reset: they enrol again at their next sign-in");
    Ok(())
}

/// `user set-password`: the user's sessions end with the old password.
pub fn set_password(username: &str, database: &DatabaseArgs, password: &str) -> anyhow::Result<()> {
    check_password(password, username).map_err(anyhow::Error::msg)?;
    let hash = password::hash_password(password)?;
    with_database(database, |conn| {
        if !users::set_password_hash(conn, username, &hash)? {
            return Err(no_such_user(username));
        }
        audited(
            conn,
            action::USER_PASSWORD_CHANGED,
            &format!("user {username}"),
        )
    })?;
    println!("password of {username:?} changed; their sessions are ended");
    Ok(())
}
