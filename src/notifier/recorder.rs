//! Records finished attempts in batches. Every attempt that finishes while a
//! batch is being written goes into the next one, in one statement and one
//! commit: a draining backlog pays a round trip and a durable commit per batch
//! instead of per attempt, and a lone attempt is written at once, as before.
//! An attempt is acknowledged to its worker only once its batch committed, so
//! a crash before that leaves the row to its lease: at least once, as before.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::db::notifications::{self, Finished};
use crate::db::{self, DbTimeouts, PgPool};

/// Rows per statement: enough to amortise the commit, small enough to keep
/// the statement's arrays and its lock set short.
const MAX_BATCH: usize = 256;

/// Where attempts are handed to be recorded. The queue needs no bound of its
/// own: each attempt keeps its worker's permit until it hears back, so at most
/// `MPP_NOTIFY_CONCURRENCY` wait in it.
pub struct Recorder {
    queue: mpsc::UnboundedSender<Pending>,
}

struct Pending {
    finished: Finished,
    /// Whether the outcome was applied; dropped when it could not be written.
    applied: oneshot::Sender<bool>,
}

/// How recording one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Written, and the outcome applied to the notification.
    Applied,
    /// Written too late: the lease ran out and another worker owns the row.
    Superseded,
    /// Not written after three tries; the lease hands the row out again.
    NotWritten,
}

impl Recorder {
    /// Starts the writer; it stops once every `Recorder` is dropped and its
    /// queue is empty.
    pub fn start(pool: PgPool, timeouts: DbTimeouts) -> Recorder {
        let (queue, received) = mpsc::unbounded_channel();
        tokio::spawn(write_batches(pool, timeouts, received));
        Recorder { queue }
    }

    pub async fn record(&self, finished: Finished) -> Recorded {
        let (applied, answer) = oneshot::channel();
        if self.queue.send(Pending { finished, applied }).is_err() {
            return Recorded::NotWritten;
        }
        match answer.await {
            Ok(true) => Recorded::Applied,
            Ok(false) => Recorded::Superseded,
            Err(_) => Recorded::NotWritten,
        }
    }
}

async fn write_batches(
    pool: PgPool,
    timeouts: DbTimeouts,
    mut received: mpsc::UnboundedReceiver<Pending>,
) {
    while let Some(first) = received.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match received.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (rows, answers): (Vec<Finished>, Vec<oneshot::Sender<bool>>) =
            batch.into_iter().map(|p| (p.finished, p.applied)).unzip();
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        if let Some(applied) = write(&pool, timeouts, rows).await {
            for (id, answer) in ids.into_iter().zip(answers) {
                let _ = answer.send(applied.contains(&id));
            }
        }
        // Not written: the answers drop, and each worker hears NotWritten.
    }
}

/// Writes one batch, trying three times; the ids whose outcome was applied.
async fn write(pool: &PgPool, timeouts: DbTimeouts, rows: Vec<Finished>) -> Option<Vec<i64>> {
    let rows = std::sync::Arc::new(rows);
    for pause in [
        Duration::ZERO,
        Duration::from_millis(200),
        Duration::from_secs(1),
    ] {
        tokio::time::sleep(pause).await;
        let batch = rows.clone();
        match db::run(pool, timeouts, move |conn| {
            Ok(notifications::finish_attempts(conn, &batch)?)
        })
        .await
        {
            Ok(applied) => return Some(applied),
            Err(e) => {
                tracing::warn!(error = %e, attempts = rows.len(), "cannot record notification attempts")
            }
        }
    }
    None
}
