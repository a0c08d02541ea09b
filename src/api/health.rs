//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};

use super::ApsContext;
use crate::db;

/// 200 while the process runs.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}

/// 200 when the database answers, 503 otherwise.
pub async fn readyz(ctx: web::Data<ApsContext>) -> HttpResponse {
    match db::ping(&ctx.pool, ctx.db_timeouts).await {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ready\n"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("database unavailable\n")
        }
    }
}

/// Prometheus text format. System-wide figures are read from the database
/// now; if it is away they are left as they were rather than failing the scrape.
pub async fn metrics(ctx: web::Data<ApsContext>) -> HttpResponse {
    let figures = db::run(&ctx.pool, ctx.db_timeouts, |conn| {
        Ok(crate::metrics::DatabaseFigures {
            registrations_by_status: db::review::count_by_status(conn)?,
            oldest_pending_seconds: db::review::oldest_pending_seconds(conn)?,
            queue: db::notifications::queue_stats(conn)?,
        })
    })
    .await;
    match figures {
        Ok(f) => ctx.metrics.set_database(&f),
        Err(e) => tracing::warn!(error = %e, "metrics: database figures unavailable"),
    }
    ctx.metrics.set_pool(ctx.pool.state(), ctx.pool.max_size());
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(ctx.metrics.render())
}
