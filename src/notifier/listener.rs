//! LISTEN mpp_notifications on a connection of its own, so that a decision
//! committed by any instance wakes every instance's workers at once.

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection as _;
use diesel::{Connection as _, PgConnection};
use tokio::sync::{Notify, watch};

pub const CHANNEL: &str = "mpp_notifications";

/// How often the socket is checked for notifications. libpq exposes no
/// blocking wait through diesel, so this is a cheap non-blocking read.
const CHECK_EVERY: Duration = Duration::from_millis(10);

/// Starts the LISTEN thread; its handle lets shutdown wait for it, so that
/// the process never exits while it is inside libpq.
pub fn spawn(
    database_url: String,
    wake: Arc<Notify>,
    stopped: watch::Receiver<bool>,
) -> Option<std::thread::JoinHandle<()>> {
    let spawned = std::thread::Builder::new().name("notify-listener".into()).spawn(move || {
        let mut backoff = Duration::from_millis(200);
        while !should_stop(&stopped) {
            match listen(&database_url, &wake, &stopped) {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN connection lost; polling until it is back");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    });
    match spawned {
        Ok(handle) => Some(handle),
        Err(e) => {
            tracing::warn!(error = %e, "cannot start the LISTEN thread; the notifier polls");
            None
        }
    }
}

/// Stopped, or its notifier is gone (the sender dropped without a word, as
/// when the runtime that owned it ended): a thread of its own would
/// otherwise outlive it, holding a connection.
fn should_stop(stopped: &watch::Receiver<bool>) -> bool {
    *stopped.borrow() || stopped.has_changed().is_err()
}

fn listen(
    database_url: &str,
    wake: &Notify,
    stopped: &watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let url = crate::db::with_connect_timeout(database_url, Duration::from_secs(3));
    let mut conn = PgConnection::establish(&url)?;
    conn.batch_execute(&format!(
        "SET ROLE {}; LISTEN {CHANNEL}",
        crate::db::APP_ROLE
    ))?;
    // Anything queued while we were not listening is picked up now.
    wake.notify_one();
    let mut since_ping = Duration::ZERO;
    while !should_stop(stopped) {
        let mut woke = false;
        for notification in conn.notifications_iter() {
            notification?;
            woke = true;
        }
        if woke {
            wake.notify_one();
        }
        std::thread::sleep(CHECK_EVERY);
        since_ping += CHECK_EVERY;
        if since_ping >= Duration::from_secs(5) {
            // Finds a dead connection even when no notification is coming,
            // and one to a server that is no longer the primary.
            if !crate::db::is_writable(&mut conn) {
                anyhow::bail!("the database is gone or no longer the primary");
            }
            since_ping = Duration::ZERO;
        }
    }
    Ok(())
}
