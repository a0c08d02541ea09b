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
