//! Periodic clean-up that no request does for itself: sessions past their
//! idle or absolute lifetime (a session is refused once expired, but a
//! reviewer who never comes back would leave its row forever), and sign-in
//! attempts too old to count.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::db::{self, DbTimeouts, PgPool};

/// How often the sweep runs; the first runs at start.
const EVERY: Duration = Duration::from_secs(60);

/// Sign-in attempts older than this no longer count for throttling.
const KEEP_SIGN_IN_ATTEMPTS: Duration = Duration::from_secs(60 * 60);

#[derive(Clone)]
pub struct Housekeeping {
    pub pool: PgPool,
    pub db_timeouts: DbTimeouts,
    pub session_idle: Duration,
    pub session_max_age: Duration,
}

impl Housekeeping {
    /// Sweeps now and then every minute until aborted.
    pub fn start(self) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match self.sweep().await {
                    Ok((0, _)) => {}
                    Ok((sessions, _)) => tracing::info!(sessions, "expired sessions removed"),
                    Err(e) => tracing::warn!(error = %e, "housekeeping failed; trying again later"),
                }
            }
        })
    }

    /// Removes expired sessions and stale sign-in attempts; returns how many of each.
    pub async fn sweep(&self) -> Result<(usize, usize), db::DbError> {
        let now = chrono::Utc::now();
        let ago = |d: Duration| now - chrono::Duration::from_std(d).unwrap_or_default();
        let (idle_since, created_since) = (ago(self.session_idle), ago(self.session_max_age));
        db::run(&self.pool, self.db_timeouts, move |conn| {
            let sessions = db::users::delete_expired_sessions(conn, idle_since, created_since)?;
            let attempts = db::sign_in::purge_older_than(conn, KEEP_SIGN_IN_ATTEMPTS)?;
            Ok((sessions, attempts))
        })
        .await
    }
}
