//! `etlify serve`: the status page (`web/`) and `GET /health` over HTTP
//! until SIGTERM or SIGINT, with its logs on stderr.

use axum::routing::get;
use axum::Router;

use crate::commands::worker::shutdown_signal;
use crate::error::{CliError, CommandResult, Completed};
use crate::logs::{self, LogFormat};
use crate::session::Session;
use crate::{settings, web};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Listen on this address, e.g. 127.0.0.1:9188 (port 0: any free port,
    /// logged at start; default: serve.listen, else 127.0.0.1:9188).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Log lines as text or JSON, on stderr; the level is RUST_LOG's, else info.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

pub(crate) async fn run(session: &Session, args: Args) -> CommandResult {
    logs::init(args.log_format, Some("info"))?;
    let settings = session.settings();
    let address = match &args.listen {
        Some(address) => settings::listen_address(address, "--listen")?,
        None => settings.serve.listen,
    };
    // Before the database: a missing token variable is a configuration
    // error, whatever the database says.
    let admin = web::admin_token(settings)?;
    // A run request queues a batch job: the engine on the queue then.
    let etlify = match admin {
        Some(_) => session.engine_with_queue().await?.0.clone(),
        None => session.engine().await?.clone(),
    };
    let state = web::PageState::new(etlify.clone(), settings, admin);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| CliError::run(format!("cannot listen on {address}: {e}")))?;
    let bound = listener.local_addr().unwrap_or(address);
    tracing::info!(
        target: "etlify_cli",
        message = "Status page listening.",
        addr = %bound,
        admin = if state.admin_enabled() { "on" } else { "off (read-only)" },
    );
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        // Its gauges read the database; its counters count this process's
        // own work (a worker's listener serves the syncs' counters).
        .merge(crate::metrics_endpoint::routes(etlify))
        .merge(web::routes(state));
    let shutdown = shutdown_signal()?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| CliError::run(format!("the status page stopped: {e}")))?;
    tracing::info!(target: "etlify_cli", message = "Status page stopped.");
    Ok(Completed::Ok)
}
