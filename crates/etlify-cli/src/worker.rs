//! `etlify worker`: runs the job queue's jobs and the continuous loop
//! (`etlify::Worker`) until SIGTERM or SIGINT, with its logs on stderr and,
//! when asked, `GET /health` over HTTP.

use std::net::SocketAddr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use etlify::{BackendKind, Health, HealthHandle, Worker, WorkerOptions};
use serde_json::{json, Value};

use crate::error::{CliError, Exit};
use crate::logs::{self, LogFormat};
use crate::settings::{self, Settings};

/// The command line's flags, which win over `[worker]`.
#[derive(Debug, clap::Args)]
pub(crate) struct WorkerArgs {
    /// Jobs run at once (default: worker.concurrency, else 4).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: Option<u32>,
    /// Time between two requests of every CRM's batch job, e.g. 30s; `off`:
    /// no loop, only enqueued jobs run (default: worker.interval, else 30s).
    #[arg(long, value_name = "DURATION|off")]
    interval: Option<String>,
    /// Serve GET /health on this address, e.g. 127.0.0.1:9187 (port 0: any
    /// free port, logged at start).
    #[arg(long, value_name = "ADDR")]
    health_listen: Option<String>,
    /// The worker's name in the queue's tables and logs, unique among running
    /// workers (default etlify-<pid>-<start time>-<n>).
    #[arg(long)]
    name: Option<String>,
    /// Log lines as text or JSON, on stderr; the level is RUST_LOG's, else info.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

fn run_error(message: impl Into<String>) -> CliError {
    CliError {
        exit: Exit::Run,
        message: message.into(),
    }
}

/// Runs the worker until SIGTERM or SIGINT; its running jobs finish first
/// (at most `shutdown_timeout`, then `etlify::CLOSE_GRACE` for the queue).
pub(crate) async fn worker(settings: Settings, args: WorkerArgs) -> Result<(), CliError> {
    logs::init(args.log_format, Some("info"))?;
    // Through the logs, so that JSON logs stay one object a line.
    for warning in &settings.warnings {
        tracing::warn!(message = %warning);
    }
    let mut worker = settings.worker.clone();
    if let Some(jobs) = args.concurrency {
        worker.concurrency = jobs as usize;
    }
    if let Some(interval) = &args.interval {
        worker.interval = settings::loop_interval(interval, "--interval")?;
    }
    if let Some(address) = &args.health_listen {
        worker.health_listen = Some(settings::listen_address(address, "--health-listen")?);
    }
    let mut options = WorkerOptions::new()
        .concurrency(worker.concurrency)
        .interval(worker.interval)
        .shutdown_timeout(worker.shutdown_timeout);
    if let Some(name) = &args.name {
        options = options.name(name);
    }
    let queue_name = settings.queue.options.get_name().to_owned();
    let (etlify, queue) = crate::engine_with_queue(settings).await?;
    // Bound before the worker starts, so a taken port stops it at once.
    let health_listener = match worker.health_listen {
        Some(address) => Some(listen(address).await?),
        None => None,
    };
    let database = match etlify.store().kind() {
        BackendKind::Sqlite => "SQLite",
        BackendKind::Postgres => "PostgreSQL",
        _ => "another",
    };
    // What runs, never where: the database URL may carry a password.
    tracing::info!(
        target: "etlify_cli",
        message = %format!(
            "etlify worker: {database} database, queue {queue_name:?}, {} jobs at once, {}.",
            worker.concurrency,
            worker.interval.map_or_else(
                || "no batch loop (only enqueued jobs run)".to_owned(),
                |i| format!("every CRM's batch run requested every {}", humantime::format_duration(i))
            )
        ),
        database,
        queue = %queue_name,
        concurrency = worker.concurrency,
        interval_s = worker.interval.map(|i| i.as_secs_f64()),
    );
    let worker = Worker::with_options(etlify, queue, options);
    let server = health_listener.map(|(listener, address)| {
        tracing::info!(target: "etlify_cli", message = "Health endpoint listening.", addr = %address, path = "/health");
        tokio::spawn(serve_health(listener, worker.health()))
    });
    let ran = worker.run().await;
    if let Some(server) = server {
        server.abort();
    }
    ran.map_err(|e| run_error(e.to_string()))
}

/// Binds the health endpoint's address (port 0: any free port).
async fn listen(address: SocketAddr) -> Result<(tokio::net::TcpListener, SocketAddr), CliError> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| run_error(format!("cannot listen on {address} for /health: {e}")))?;
    let bound = listener.local_addr().unwrap_or(address);
    Ok((listener, bound))
}

async fn serve_health(listener: tokio::net::TcpListener, health: HealthHandle) {
    let app = Router::new()
        .route("/health", get(health_endpoint))
        .with_state(health);
    if let Err(error) = axum::serve(listener, app).await {
        tracing::error!(target: "etlify_cli", message = "The health endpoint stopped.", %error);
    }
}

/// 200 while healthy, 503 otherwise (stopping, or the loop late); the same
/// JSON either way.
async fn health_endpoint(State(health): State<HealthHandle>) -> (StatusCode, Json<Value>) {
    let health = health.snapshot();
    let status = if health.is_healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(health_json(&health)))
}

fn health_json(health: &Health) -> Value {
    json!({
        "healthy": health.is_healthy(),
        "running": health.running,
        "done": health.done,
        "rescheduled": health.rescheduled,
        "failed": health.failed,
        "last_error": health.last_error,
        "last_loop_at": health.last_loop_at.map(|t| humantime::format_rfc3339_millis(t).to_string()),
        "stopping": health.stopping,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn loop_interval_takes_off_and_refuses_zero() {
        assert_eq!(settings::loop_interval("off", "x").ok(), Some(None));
        assert_eq!(
            settings::loop_interval("2s", "x").ok(),
            Some(Some(Duration::from_secs(2)))
        );
        assert!(settings::loop_interval("0s", "--interval")
            .err()
            .is_some_and(|e| e.message.contains("--interval")));
    }
}
