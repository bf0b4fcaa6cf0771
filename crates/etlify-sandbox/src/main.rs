//! `etlify-sandbox`: runs the sandbox until Ctrl-C.
//!
//! ```text
//! etlify-sandbox [--port PORT] [--config FILE.json]
//! ```

use std::process::ExitCode;

use etlify_sandbox::{Sandbox, SandboxConfig, SandboxError};

const USAGE: &str = "usage: etlify-sandbox [--port PORT] [--config FILE.json]";
const DEFAULT_PORT: u16 = 8787;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("etlify-sandbox: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let mut port: Option<u16> = None;
    let mut config_path: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let value = args.next().ok_or(USAGE)?;
                port = Some(
                    value
                        .parse()
                        .map_err(|_| format!("invalid --port {value}\n{USAGE}"))?,
                );
            }
            "--config" => config_path = Some(args.next().ok_or(USAGE)?),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let mut config = match &config_path {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| {
                SandboxError::ConfigFile {
                    path: path.into(),
                    source,
                }
                .to_string()
            })?;
            SandboxConfig::from_json(&text).map_err(|e| e.to_string())?
        }
        None => SandboxConfig {
            port: DEFAULT_PORT,
            ..SandboxConfig::default()
        },
    };
    if let Some(port) = port {
        config.port = port;
    }
    let sandbox = Sandbox::start(config).await.map_err(|e| e.to_string())?;
    println!("etlify-sandbox listening on {}", sandbox.base_url());
    println!(
        "  HubSpot:  {}{} (and /crm/objects/2026-03, /crm/objects/2026-09)",
        sandbox.hubspot_base_url(),
        sandbox.config().hubspot.path_prefix
    );
    println!("  Airtable: {}", sandbox.airtable_base_url());
    println!("  Webhook:  {}", sandbox.webhook_url());
    println!("  Brevo:    {}", sandbox.brevo_base_url());
    println!("  Admin:    {}", sandbox.admin_url());
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| format!("cannot wait for Ctrl-C: {e}"))?;
    sandbox.shutdown().await.map_err(|e| e.to_string())
}
