//! Logging: tracing to standard error (standard output stays for command
//! output, such as the Alipay+ stand-in's JSON lines), filtered by RUST_LOG
//! (default `info`).

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use tracing::Instrument as _;
use tracing_subscriber::EnvFilter;

use crate::metrics::{HttpLabel, Metrics};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line, with the request's span fields.
    Json,
}

/// Installs the global subscriber once; later calls (tests) are ignored.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        // Colour codes only for a person at a terminal, never in a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .try_init(),
    };
}

/// Runs one HTTP request inside a span that carries a fresh request id (so
/// every log line of the request has it), and counts it by route and status.
pub fn traced<S>(
    req: ServiceRequest,
    service: &S,
    metrics: &Arc<Metrics>,
) -> impl Future<Output = Result<ServiceResponse, actix_web::Error>> + use<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse, Error = actix_web::Error>,
{
    let span = tracing::info_span!(
        "http",
        request_id = %uuid::Uuid::new_v4(),
        method = %req.method(),
        path = %req.path(),
    );
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let metrics = metrics.clone();
    let started = Instant::now();
    let call = span.in_scope(|| service.call(req));
    async move {
        let response = call.await;
        let status = match &response {
            Ok(r) => r.status().as_u16(),
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        let label = HttpLabel { route, status };
        metrics.http_requests.get_or_create(&label).inc();
        metrics
            .http_request_seconds
            .get_or_create(&label)
            .observe(started.elapsed().as_secs_f64());
        response
    }
    .instrument(span)
}
