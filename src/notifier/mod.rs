//! Delivers the outbox: claims due notifications with a lease in a short
//! statement, sends them outside any transaction, records each attempt fenced
//! by its attempt number, and retries on the configured schedule. Wakes at
//! once on LISTEN/NOTIFY (and on in-process wake-ups), polls as a fallback.
//! Several instances may run on one database: SKIP LOCKED hands each row to
//! one worker; a lease that runs out (a crashed worker) hands it to another.

mod listener;
mod recorder;
mod send;
pub mod ssrf;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;
use tracing::Instrument as _;

use crate::db::notifications::{self, AttemptRecord, Claimed, Finished};
use crate::db::{self, DbTimeouts, PgPool};
use crate::domain::notification::{
    AttemptOutcome, NotificationState, NotifyPolicy, Target, outcome_of,
};
use crate::metrics::Metrics;
use crate::protocol::signature::{KeyRing, Signer};
use recorder::{Recorded, Recorder};

pub use send::Sent;

#[derive(Clone)]
pub struct NotifierConfig {
    pub pool: PgPool,
    pub database_url: String,
    pub db_timeouts: DbTimeouts,
    pub policy: NotifyPolicy,
    /// Where Alipay+ is; `None`: Alipay+ notifications wait in the queue.
    pub alipay_gateway_url: Option<url::Url>,
    /// Our Client-Id and key, for signing.
    pub client_id: String,
    pub signer: Arc<Signer>,
    /// Alipay+'s keys, for verifying its answers.
    pub alipay_keys: Arc<KeyRing>,
    pub allow_private_targets: bool,
    pub ssl_cert_file: Option<std::path::PathBuf>,
    /// How long a claimed row belongs to its worker.
    pub lease: Duration,
    /// Attempts in flight at once.
    pub concurrency: usize,
    /// Fallback polling interval when no wake-up arrives.
    pub poll_interval: Duration,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub metrics: Arc<Metrics>,
    pub wake: Arc<Notify>,
}

/// A running notifier. `shutdown` stops claiming and waits for attempts in flight.
pub struct NotifierHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    listener: Option<std::thread::JoinHandle<()>>,
}

impl NotifierHandle {
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(grace, self.task).await.is_err() {
            tracing::warn!(
                "notifier did not finish its attempts in time; their leases will hand them to another worker"
            );
        }
        // The LISTEN thread sees the stop within one poll (or one connect
        // timeout); wait for it so the process never exits inside libpq.
        if let Some(listener) = self.listener {
            let joined = tokio::task::spawn_blocking(move || listener.join());
            if tokio::time::timeout(Duration::from_secs(5), joined)
                .await
                .is_err()
            {
                tracing::warn!("the LISTEN thread did not stop in time");
            }
        }
    }
}

pub fn start(config: NotifierConfig) -> anyhow::Result<NotifierHandle> {
    let clients = send::Clients::new(&config)?;
    if config.alipay_gateway_url.is_none() {
        tracing::warn!("ALIPAY_GATEWAY_URL is unset: notifications to Alipay+ wait in the queue");
    }
    let (stop, stopped) = watch::channel(false);
    let listener = listener::spawn(
        config.database_url.clone(),
        config.wake.clone(),
        stopped.clone(),
    );
    let task = tokio::spawn(run(Arc::new(config), Arc::new(clients), stopped));
    Ok(NotifierHandle {
        stop,
        task,
        listener,
    })
}

async fn run(
    config: Arc<NotifierConfig>,
    clients: Arc<send::Clients>,
    mut stopped: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let recorder = Arc::new(Recorder::start(config.pool.clone(), config.db_timeouts));
    let claim_batch = (config.concurrency / 4).max(1);
    let mut in_flight = JoinSet::new();
    loop {
        while in_flight.try_join_next().is_some() {}
        if *stopped.borrow() {
            break;
        }
        // Claim in batches: each claim scans the due index past the entries
        // of rows claimed moments ago, so one claim per freed slot would cost
        // PostgreSQL more than the attempts themselves.
        let free = permits.available_permits();
        if free == 0 || (free < claim_batch && !in_flight.is_empty()) {
            tokio::select! {
                _ = in_flight.join_next() => {}
                _ = stopped.changed() => {}
            }
            continue;
        }
        let include_alipay = config.alipay_gateway_url.is_some();
        let lease = config.lease;
        let claimed = db::run(&config.pool, config.db_timeouts, move |conn| {
            Ok(notifications::claim_due(
                conn,
                free as i64,
                lease,
                include_alipay,
            )?)
        })
        .await;
        match claimed {
            Ok(rows) if !rows.is_empty() => {
                for row in rows {
                    let Ok(permit) = permits.clone().acquire_owned().await else {
                        break;
                    };
                    let (config, clients, recorder) =
                        (config.clone(), clients.clone(), recorder.clone());
                    // Every line of the attempt (sending, refusing an address,
                    // recording) carries the notification and its registration.
                    let span = tracing::info_span!(
                        "notification",
                        notification_id = row.id,
                        registration_request_id = %row.registration_request_id,
                        target = row.target.as_str(),
                        attempt = row.attempts,
                    );
                    in_flight.spawn(
                        async move {
                            attempt(&config, &clients, &recorder, row).await;
                            drop(permit);
                        }
                        .instrument(span),
                    );
                }
            }
            Ok(_) => {
                tokio::select! {
                    _ = config.wake.notified() => {}
                    _ = tokio::time::sleep(config.poll_interval) => {}
                    _ = stopped.changed() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim notifications; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(config.poll_interval.max(Duration::from_millis(500))) => {}
                    _ = stopped.changed() => {}
                }
            }
        }
    }
    // Graceful shutdown: claim nothing more, finish what is in flight.
    while in_flight.join_next().await.is_some() {}
}

/// One attempt: send, judge, record.
async fn attempt(
    config: &NotifierConfig,
    clients: &send::Clients,
    recorder: &Recorder,
    claimed: Claimed,
) {
    let target = claimed.target;
    let started_at = Utc::now();
    let clock = Instant::now();
    let sent = match target {
        Target::Alipay => match &config.alipay_gateway_url {
            Some(gateway) => clients.send_alipay(config, gateway, &claimed).await,
            None => Sent::error("ALIPAY_GATEWAY_URL is unset"),
        },
        Target::Merchant => clients.send_merchant(config, &claimed).await,
    };
    let elapsed = clock.elapsed();
    let label = Metrics::target(target.as_str());
    config
        .metrics
        .notification_attempt_seconds
        .get_or_create(&label)
        .observe(elapsed.as_secs_f64());

    let round = u32::try_from(claimed.round_attempts).unwrap_or(u32::MAX);
    let (outcome, gap) = outcome_of(sent.verdict, config.policy.schedule(target), round);
    let next_attempt_at =
        gap.map(|gap| Utc::now() + chrono::Duration::from_std(gap).unwrap_or_default());
    let counter = match outcome {
        AttemptOutcome::Delivered => &config.metrics.notifications_delivered,
        AttemptOutcome::Retry => &config.metrics.notifications_retried,
        AttemptOutcome::Failed => &config.metrics.notifications_failed,
        AttemptOutcome::Dead => &config.metrics.notifications_dead,
    };
    counter.get_or_create(&label).inc();
    match outcome.state() {
        NotificationState::Failed | NotificationState::Dead => tracing::error!(
            registration_request_id = %claimed.registration_request_id,
            target = target.as_str(),
            attempt = claimed.attempts,
            outcome = outcome.as_str(),
            result_code = sent.result_code.as_deref().unwrap_or(""),
            error = sent.error.as_deref().unwrap_or(""),
            "notification not delivered"
        ),
        NotificationState::Pending | NotificationState::Delivered => tracing::info!(
            registration_request_id = %claimed.registration_request_id,
            target = target.as_str(),
            attempt = claimed.attempts,
            outcome = outcome.as_str(),
            http_status = sent.http_status.unwrap_or(0),
            result_code = sent.result_code.as_deref().unwrap_or(""),
            error = sent.error.as_deref().unwrap_or(""),
            elapsed_ms = elapsed.as_millis() as u64,
            "notification attempt"
        ),
    }
    let record = AttemptRecord {
        started_at,
        duration_ms: i32::try_from(elapsed.as_millis()).unwrap_or(i32::MAX),
        http_status: sent.http_status.map(i32::from),
        result_code: sent.result_code,
        error: sent.error,
        outcome,
        next_attempt_at,
    };
    // If this write fails the lease runs out and the row is tried again: at least once.
    let recorded = recorder
        .record(Finished {
            id: claimed.id,
            attempt: claimed.attempts,
            record,
        })
        .await;
    match recorded {
        Recorded::Applied => {}
        Recorded::Superseded => tracing::warn!(
            registration_request_id = %claimed.registration_request_id,
            "attempt finished after its lease; another worker owns the row"
        ),
        Recorded::NotWritten => tracing::warn!(
            registration_request_id = %claimed.registration_request_id,
            "attempt not recorded; its lease will hand the notification out again"
        ),
    }
}
