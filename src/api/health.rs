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

/// Prometheus text format. Queue figures are read from the database now; if it
/// is away they are left out rather than failing the scrape.
pub async fn metrics(ctx: web::Data<ApsContext>) -> HttpResponse {
    match db::run(&ctx.pool, ctx.db_timeouts, |conn| {
        Ok(db::notifications::queue_stats(conn)?)
    })
    .await
    {
        Ok(stats) => ctx.metrics.set_queue(&stats),
        Err(e) => tracing::warn!(error = %e, "metrics: queue figures unavailable"),
    }
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(ctx.metrics.render())
}
