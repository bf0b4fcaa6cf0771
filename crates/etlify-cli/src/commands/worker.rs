//! `etlify worker`: runs the job queue's jobs and the continuous loop
//! (`etlify::Worker`) until SIGTERM or SIGINT, with its logs on stderr and,
//! when asked, `GET /health` and `GET /metrics` over HTTP.

use std::net::SocketAddr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use etlify::{Etlify, Health, HealthHandle, Worker, WorkerOptions};
use serde::Serialize;

use crate::error::{CliError, CommandResult, Completed};
use crate::logs::{self, LogFormat};
use crate::output;
use crate::session::Session;
use crate::settings;
use crate::web::PageState;

// The command line's flags, which win over `[worker]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Jobs run at once (default: worker.concurrency, else 4).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: Option<u32>,
    /// Time between two requests of every CRM's batch job, e.g. 30s; `off`:
    /// no loop, only enqueued jobs run (default: worker.interval, else 30s).
    #[arg(long, value_name = "DURATION|off")]
    interval: Option<String>,
    /// How changes are seen between intervals: auto (listen where `etlify
    /// migrate --triggers` installed triggers), off, or a polling period
    /// such as 1s (default: worker.watch, else auto).
    #[arg(long, value_name = "auto|off|DURATION")]
    watch: Option<String>,
    /// Serve GET /health and GET /metrics on this address, e.g.
    /// 127.0.0.1:9187 (port 0: any free port, logged at start).
    #[arg(long, value_name = "ADDR")]
    health_listen: Option<String>,
    /// The worker's name in the queue's tables and logs, unique among running
    /// workers (default etlify-<pid>-<start time>-<n>).
    #[arg(long)]
    name: Option<String>,
    /// Log lines as text or JSON, on stderr; the level is RUST_LOG's, else info.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Serve the status page at / on the health address too (as `etlify
    /// serve` does; default: worker.page, else off).
    #[arg(long)]
    page: bool,
}

/// Runs the worker until SIGTERM or SIGINT; its running jobs finish first
/// (at most `shutdown_timeout`, then `etlify::CLOSE_GRACE` for the queue).
pub(crate) async fn run(session: &Session, args: Args) -> CommandResult {
    logs::init(args.log_format, Some("info"))?;
    let settings = session.settings();
    let mut worker = settings.worker.clone();
    if let Some(jobs) = args.concurrency {
        worker.concurrency = jobs as usize;
    }
    if let Some(interval) = &args.interval {
        worker.interval = settings::loop_interval(interval, "--interval")?;
    }
    if let Some(watch) = &args.watch {
        worker.watch = settings::change_watch(watch, "--watch")?;
    }
    if let Some(address) = &args.health_listen {
        worker.health_listen = Some(settings::listen_address(address, "--health-listen")?);
    }
    worker.page |= args.page;
    if worker.page && worker.health_listen.is_none() {
        return Err(CliError::config(format!(
            "{}: the status page (--page, worker.page) is served on the health address: set --health-listen or worker.health_listen too",
            session.path()
        ))
        .into());
    }
    // Before the database: a missing token variable is a configuration error.
    let admin = match worker.page {
        true => crate::web::admin_token(settings)?,
        false => None,
    };
    let mut options = WorkerOptions::new()
        .concurrency(worker.concurrency)
        .interval(worker.interval)
        .shutdown_timeout(worker.shutdown_timeout)
        .watch(worker.watch);
    if let Some(name) = &args.name {
        options = options.name(name);
    }
    if let Some(alerts) = &settings.alerts {
        options = options.alerts(alerts.clone());
    }
    let queue_name = settings.queue.options.get_name().to_owned();
    let (etlify, queue) = session.engine_with_queue().await?;
    // Through the logs, so that JSON logs stay one object a line; under
    // the target they had when this command was `src/worker.rs`.
    for warning in etlify.warnings() {
        let warning = output::warning_text(session.path(), &warning);
        tracing::warn!(target: "etlify::worker", message = %warning);
    }
    // Bound before the worker starts, so a taken port stops it at once.
    let health_listener = match worker.health_listen {
        Some(address) => Some(listen(address).await?),
        None => None,
    };
    let database = etlify.store().kind().name();
    // What runs, never where: the database URL may carry a password.
    tracing::info!(
        target: "etlify_cli",
        message = %format!(
            "etlify worker: {database} database, queue {queue_name:?}, {} at once, {}.",
            output::counted(worker.concurrency as u64, "job", "jobs"),
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
    let shutdown = shutdown_signal()?;
    let page = worker
        .page
        .then(|| PageState::new(etlify.clone(), settings, admin));
    let worker = Worker::with_options(etlify.clone(), queue.clone(), options);
    let server = health_listener.map(|(listener, address)| {
        tracing::info!(target: "etlify_cli", message = "Health endpoint listening.", addr = %address, path = "/health");
        tokio::spawn(serve_health(listener, worker.health(), etlify.clone(), page))
    });
    let ran = worker.run_until(shutdown).await;
    if let Some(server) = server {
        server.abort();
    }
    ran.map_err(CliError::run)?;
    Ok(Completed::Ok)
}

/// SIGTERM or SIGINT, listened for from now on: `etlify::shutdown_signal`
/// starts listening only when first polled, after "Worker started." is
/// logged, and a signal before that would end the process at once instead
/// of stopping the worker gracefully.
#[cfg(unix)]
pub(crate) fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, CliError> {
    use tokio::signal::unix::{signal, SignalKind};
    let listen =
        |kind| signal(kind).map_err(|e| CliError::run(format!("cannot listen for signals: {e}")));
    let (mut terminate, mut interrupt) = (
        listen(SignalKind::terminate())?,
        listen(SignalKind::interrupt())?,
    );
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

/// Ctrl-C, as `etlify::shutdown_signal` listens for it here.
#[cfg(not(unix))]
pub(crate) fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, CliError> {
    Ok(etlify::shutdown_signal())
}

/// Binds the health endpoint's address (port 0: any free port).
async fn listen(address: SocketAddr) -> Result<(tokio::net::TcpListener, SocketAddr), CliError> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| CliError::run(format!("cannot listen on {address} for /health: {e}")))?;
    let bound = listener.local_addr().unwrap_or(address);
    Ok((listener, bound))
}

async fn serve_health(
    listener: tokio::net::TcpListener,
    health: HealthHandle,
    etlify: Etlify,
    page: Option<PageState>,
) {
    let mut app = Router::new()
        .route("/health", get(health_endpoint))
        .with_state(health)
        .merge(crate::metrics_endpoint::routes(etlify));
    if let Some(page) = page {
        app = app.merge(crate::web::routes(page));
    }
    if let Err(error) = axum::serve(listener, app).await {
        tracing::error!(target: "etlify_cli", message = "The health endpoint stopped.", %error);
    }
}

/// 200 while healthy, 503 otherwise (stopping, or the loop late); the same
/// JSON either way.
async fn health_endpoint(State(health): State<HealthHandle>) -> (StatusCode, Json<HealthReport>) {
    let health = health.snapshot();
    let status = if health.is_healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(HealthReport::from(&health)))
}

/// `GET /health`'s body. Its keys in alphabetical order, as the
/// endpoint has always written them.
#[derive(Debug, Serialize)]
struct HealthReport {
    /// Jobs done since the worker started.
    done: u64,
    failed: u64,
    healthy: bool,
    last_error: Option<String>,
    /// RFC 3339, to the millisecond.
    last_loop_at: Option<String>,
    rescheduled: u64,
    /// Jobs running now.
    running: u64,
    stopping: bool,
}

impl From<&Health> for HealthReport {
    fn from(health: &Health) -> Self {
        Self {
            done: health.done,
            failed: health.failed,
            healthy: health.is_healthy(),
            last_error: health.last_error.clone(),
            last_loop_at: health
                .last_loop_at
                .map(|t| humantime::format_rfc3339_millis(t).to_string()),
            rescheduled: health.rescheduled,
            running: health.running,
            stopping: health.stopping,
        }
    }
}
