//! Prometheus metrics. Counters and histograms live in the process; figures
//! that belong to the whole system (queue depth, oldest due notification) are
//! read from PostgreSQL at scrape time, so every instance reports the truth.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetLabel {
    pub target: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApsLabel {
    pub api: String,
    pub result_code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiLabel {
    pub api: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabel {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabel {
    pub rule: String,
    pub action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabel {
    pub target: String,
    pub status: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub aps_requests: Family<ApsLabel, Counter>,
    pub aps_request_seconds: Family<ApiLabel, Histogram>,
    pub http_requests: Family<HttpLabel, Counter>,
    pub http_request_seconds: Family<HttpLabel, Histogram>,
    pub registrations: Family<StatusLabel, Gauge>,
    pub registration_repeats: Counter,
    pub rule_decisions: Family<RuleLabel, Counter>,
    pub registration_repeat_mismatches: Counter,
    pub oldest_pending_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
    pub db_pool_connections: Gauge,
    pub db_pool_idle_connections: Gauge,
    pub db_pool_max_connections: Gauge,
    pub notifications_delivered: Family<TargetLabel, Counter>,
    pub notifications_retried: Family<TargetLabel, Counter>,
    pub notifications_failed: Family<TargetLabel, Counter>,
    pub notifications_dead: Family<TargetLabel, Counter>,
    pub notification_attempt_seconds: Family<TargetLabel, Histogram>,
    pub notification_queue: Family<QueueLabel, Gauge>,
    pub notifications_due: Family<TargetLabel, Gauge>,
    pub notification_oldest_due_seconds:
        Family<TargetLabel, Gauge<f64, std::sync::atomic::AtomicU64>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("mpp");
        let m = Metrics {
            registry: Mutex::new(Registry::default()),
            aps_requests: Family::default(),
            aps_request_seconds: Family::new_with_constructor(latency_histogram),
            http_requests: Family::default(),
            http_request_seconds: Family::new_with_constructor(latency_histogram),
            registrations: Family::default(),
            registration_repeats: Counter::default(),
            rule_decisions: Family::default(),
            registration_repeat_mismatches: Counter::default(),
            oldest_pending_seconds: Gauge::default(),
            db_pool_connections: Gauge::default(),
            db_pool_idle_connections: Gauge::default(),
            db_pool_max_connections: Gauge::default(),
            notifications_delivered: Family::default(),
            notifications_retried: Family::default(),
            notifications_failed: Family::default(),
            notifications_dead: Family::default(),
            notification_attempt_seconds: Family::new_with_constructor(latency_histogram),
            notification_queue: Family::default(),
            notifications_due: Family::default(),
            notification_oldest_due_seconds: Family::default(),
        };
        registry.register(
            "aps_requests",
            "Alipay+ API requests by API and result code",
            m.aps_requests.clone(),
        );
        registry.register(
            "aps_request_seconds",
            "Alipay+ API latency, signed answer included",
            m.aps_request_seconds.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            m.http_requests.clone(),
        );
        registry.register(
            "http_request_seconds",
            "HTTP latency by route and status",
            m.http_request_seconds.clone(),
        );
        registry.register(
            "registrations",
            "Registrations by status (read from PostgreSQL)",
            m.registrations.clone(),
        );
        registry.register(
            "rule_decisions",
            "Registrations triage rules decided at intake, by rule and action",
            m.rule_decisions.clone(),
        );
        registry.register(
            "registration_repeats",
            "Registration requests answered from the binding of their registrationRequestId",
            m.registration_repeats.clone(),
        );
        registry.register(
            "registration_repeat_mismatches",
            "Repeats of a bound registrationRequestId whose body differed from the bound one",
            m.registration_repeat_mismatches.clone(),
        );
        registry.register(
            "oldest_pending_registration_seconds",
            "Age of the oldest PENDING registration",
            m.oldest_pending_seconds.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Open database connections of this process",
            m.db_pool_connections.clone(),
        );
        registry.register(
            "db_pool_idle_connections",
            "Idle database connections",
            m.db_pool_idle_connections.clone(),
        );
        registry.register(
            "db_pool_max_connections",
            "Pool size (MPP_DB_POOL_SIZE)",
            m.db_pool_max_connections.clone(),
        );
        registry.register(
            "notifications_delivered",
            "Notifications delivered",
            m.notifications_delivered.clone(),
        );
        registry.register(
            "notifications_retried",
            "Attempts that will be retried",
            m.notifications_retried.clone(),
        );
        registry.register(
            "notifications_failed",
            "Notifications refused for good (no retry)",
            m.notifications_failed.clone(),
        );
        registry.register(
            "notifications_dead",
            "Notifications whose retries ran out",
            m.notifications_dead.clone(),
        );
        registry.register(
            "notification_attempt_seconds",
            "Duration of one notification attempt",
            m.notification_attempt_seconds.clone(),
        );
        registry.register(
            "notification_queue",
            "Notifications not delivered, by target and status (pending, failed, dead)",
            m.notification_queue.clone(),
        );
        registry.register(
            "notifications_due",
            "Pending notifications due now",
            m.notifications_due.clone(),
        );
        registry.register(
            "notification_oldest_due_seconds",
            "Age of the oldest due notification",
            m.notification_oldest_due_seconds.clone(),
        );
        *m.registry.lock().unwrap_or_else(|e| e.into_inner()) = registry;
        m
    }
}

impl Metrics {
    pub fn target(target: &str) -> TargetLabel {
        TargetLabel {
            target: target.to_owned(),
        }
    }

    /// The Prometheus text exposition of everything registered.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        if encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }

    /// Sets the queue gauges from the database's figures.
    pub fn set_queue(&self, stats: &[crate::db::notifications::QueueStats]) {
        self.notification_queue.clear();
        self.notifications_due.clear();
        self.notification_oldest_due_seconds.clear();
        use crate::domain::notification::{NotificationState, Target};
        let unfinished = [
            NotificationState::Pending,
            NotificationState::Failed,
            NotificationState::Dead,
        ];
        for target in Target::ALL {
            for status in unfinished {
                let count = stats
                    .iter()
                    .find(|s| s.target == target && s.status == status)
                    .map(|s| s.count)
                    .unwrap_or(0);
                self.notification_queue
                    .get_or_create(&QueueLabel {
                        target: target.as_str().into(),
                        status: status.as_str().into(),
                    })
                    .set(count);
            }
            let pending = stats
                .iter()
                .find(|s| s.target == target && s.status == NotificationState::Pending);
            self.notifications_due
                .get_or_create(&Self::target(target.as_str()))
                .set(pending.map(|s| s.due).unwrap_or(0));
            self.notification_oldest_due_seconds
                .get_or_create(&Self::target(target.as_str()))
                .set(pending.and_then(|s| s.oldest_due_seconds).unwrap_or(0.0));
        }
    }
}

/// Figures read from PostgreSQL at scrape time.
#[derive(Debug, Clone, Default)]
pub struct DatabaseFigures {
    pub registrations_by_status: Vec<(crate::domain::status::RegistrationStatus, i64)>,
    pub oldest_pending_seconds: Option<f64>,
    pub queue: Vec<crate::db::notifications::QueueStats>,
}

impl Metrics {
    pub fn set_database(&self, figures: &DatabaseFigures) {
        for status in crate::domain::status::RegistrationStatus::ALL {
            let n = figures
                .registrations_by_status
                .iter()
                .find(|(s, _)| *s == status)
                .map(|(_, n)| *n)
                .unwrap_or(0);
            self.registrations
                .get_or_create(&StatusLabel {
                    status: status.as_str().into(),
                })
                .set(n);
        }
        self.oldest_pending_seconds
            .set(figures.oldest_pending_seconds.unwrap_or(0.0));
        self.set_queue(&figures.queue);
    }

    pub fn set_pool(&self, state: diesel::r2d2::State, max: u32) {
        self.db_pool_connections.set(i64::from(state.connections));
        self.db_pool_idle_connections
            .set(i64::from(state.idle_connections));
        self.db_pool_max_connections.set(i64::from(max));
    }
}
