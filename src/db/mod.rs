//! Persistence in PostgreSQL: the connection pool, embedded migrations, and one
//! module of queries per table. Diesel stays inside this module.

pub mod audit;
pub mod console;
pub mod group;
pub mod intake_groups;
pub mod libpq_url;
pub mod notifications;
mod prepared;
pub mod registrations;
pub mod requests;
pub mod review;
pub mod schema;
pub mod screening;
pub mod sign_in;
pub mod two_factor;
mod types;
pub mod users;

use std::time::Duration;

use anyhow::Context as _;
use diesel::connection::SimpleConnection as _;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, ManageConnection, Pool};
use diesel::{Connection as _, RunQueryDsl as _};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub type PgPool = Pool<Manager>;

/// A pooled connection that remembers when it was found dead, so the pool
/// drops it instead of handing it out again.
pub struct PooledPg {
    pub conn: PgConnection,
    broken: bool,
}

/// Makes and checks connections for the pool. A connection is not pinged at
/// every checkout (that would cost a round trip per request); it is checked
/// only after a query failed, and thrown away if it is dead.
pub struct Manager {
    inner: ConnectionManager<PgConnection>,
    statement_timeout_ms: u128,
}

impl ManageConnection for Manager {
    type Connection = PooledPg;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<PooledPg, Self::Error> {
        let mut conn = self.inner.connect()?;
        // The server works as `APP_ROLE`. Bounded statements, and no session
        // left holding locks while idle in a transaction. The planner is left
        // alone: every query has an index that fits its shape, and a cached
        // plan is made again when ANALYZE sees a table grow.
        conn.batch_execute(&format!(
            "SET ROLE {APP_ROLE}; SET statement_timeout = {ms}; SET lock_timeout = {ms}; \
             SET idle_in_transaction_session_timeout = 60000",
            ms = self.statement_timeout_ms
        ))
        .map_err(diesel::r2d2::Error::QueryError)?;
        Ok(PooledPg {
            conn,
            broken: false,
        })
    }

    fn is_valid(&self, conn: &mut PooledPg) -> Result<(), Self::Error> {
        self.inner.is_valid(&mut conn.conn)
    }

    fn has_broken(&self, conn: &mut PooledPg) -> bool {
        conn.broken || self.inner.has_broken(&mut conn.conn)
    }
}

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The role the server handles every request and job as (made by the
/// migrations; see `2026-11-29-000002_least_privilege`). Migrations and the
/// benchmark data generator keep the login role, which owns the schema.
pub const APP_ROLE: &str = "mpp_app";

/// A connection working as `APP_ROLE`, for the command line's changes.
pub fn connect_as_app(database_url: &str) -> anyhow::Result<PgConnection> {
    let mut conn =
        PgConnection::establish(&with_connect_timeout(database_url, Duration::from_secs(5)))
            .context("cannot connect to the database")?;
    conn.batch_execute(&format!("SET ROLE {APP_ROLE}"))
        .context("cannot work as the application role (run `mpp-registrar migrate` first)")?;
    Ok(conn)
}

/// Advisory-lock key that serialises migrations across instances starting at once.
const MIGRATION_LOCK_KEY: i64 = 0x6d70_7072_6567_0001;

/// How long a request may wait for the database, all told. Alipay+ gives up
/// after 15 s; we answer `UNKNOWN_EXCEPTION` well before that.
#[derive(Debug, Clone, Copy)]
pub struct DbTimeouts {
    /// Waiting for a pooled connection (and for a new one to connect).
    pub acquire: Duration,
    /// One statement on the server.
    pub statement: Duration,
    /// A whole unit of work, from asking for a connection to the last row.
    pub total: Duration,
}

impl Default for DbTimeouts {
    fn default() -> Self {
        DbTimeouts {
            acquire: Duration::from_secs(3),
            statement: Duration::from_secs(4),
            total: Duration::from_secs(8),
        }
    }
}

/// Adds `connect_timeout` to a libpq URL that has none, so an unreachable
/// server costs seconds, not minutes (with several hosts: per host).
pub fn with_connect_timeout(database_url: &str, timeout: Duration) -> String {
    libpq_url::with_default_param(
        database_url,
        "connect_timeout",
        &timeout.as_secs().max(1).to_string(),
    )
}

/// Whether this connection can still take writes: false (or an error) once
/// its server went away or became a standby or read-only, as after a
/// failover. Such a connection is dropped; a new one goes, by
/// `target_session_attrs=read-write`, to whichever host is the primary now.
pub fn is_writable(conn: &mut PgConnection) -> bool {
    #[derive(diesel::QueryableByName)]
    struct Writable {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        writable: bool,
    }
    diesel::sql_query("SELECT current_setting('transaction_read_only') = 'off' AS writable")
        .get_result::<Writable>(conn)
        .is_ok_and(|w| w.writable)
}

/// Builds the pool without connecting: the server starts (and answers
/// `UNKNOWN_EXCEPTION`) even while the database is away.
pub fn build_pool(database_url: &str, max_size: u32, timeouts: DbTimeouts) -> PgPool {
    let manager = Manager {
        inner: ConnectionManager::<PgConnection>::new(with_connect_timeout(
            database_url,
            timeouts.acquire,
        )),
        statement_timeout_ms: timeouts.statement.as_millis(),
    };
    Pool::builder()
        .max_size(max_size)
        .min_idle(Some(0))
        .connection_timeout(timeouts.acquire)
        .test_on_check_out(false)
        .build_unchecked(manager)
}

/// Applies pending migrations under an advisory lock, so several instances may
/// start at once. Returns the versions applied.
pub fn run_migrations(database_url: &str) -> anyhow::Result<Vec<String>> {
    let mut conn =
        PgConnection::establish(&with_connect_timeout(database_url, Duration::from_secs(5)))
            .context("cannot connect to the database")?;
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
        .execute(&mut conn)
        .context("cannot take the migration lock")?;
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map(|versions| versions.iter().map(|v| v.to_string()).collect())
        .map_err(|e| anyhow::anyhow!("migration failed: {e}"));
    // The lock also ends with the session; unlocking is only to be tidy.
    let _ = diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
        .execute(&mut conn);
    applied
}

/// Why a unit of database work did not finish.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("no database connection: {0}")]
    Unavailable(#[from] diesel::r2d2::PoolError),
    #[error("query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("the database did not answer within {0:?}")]
    Timeout(Duration),
    #[error("database worker failed: {0}")]
    Worker(String),
}

/// Runs `work` with a pooled connection on the blocking thread pool, never
/// holding a connection across an `.await`, and gives up after `timeouts.total`.
pub async fn run<T, F>(pool: &PgPool, timeouts: DbTimeouts, work: F) -> Result<T, DbError>
where
    T: Send + 'static,
    F: FnOnce(&mut PgConnection) -> Result<T, DbError> + Send + 'static,
{
    let pool = pool.clone();
    // The caller's span (an HTTP request, a notification attempt) goes with
    // the work onto the blocking thread, so its lines stay with the request's.
    let span = tracing::Span::current();
    let task = tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let mut pooled = pool.get()?;
        let result = work(&mut pooled.conn);
        if result.is_err() && !is_writable(&mut pooled.conn) {
            pooled.broken = true;
        }
        result
    });
    match tokio::time::timeout(timeouts.total, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(DbError::Worker(join.to_string())),
        Err(_) => Err(DbError::Timeout(timeouts.total)),
    }
}

/// `SELECT 1` within the acquire timeout: is the database there?
pub async fn ping(pool: &PgPool, timeouts: DbTimeouts) -> Result<(), DbError> {
    let timeouts = DbTimeouts {
        total: timeouts.acquire + Duration::from_secs(1),
        ..timeouts
    };
    run(pool, timeouts, |conn| {
        conn.batch_execute("SELECT 1")?;
        Ok(())
    })
    .await
}
