//! `etlify sandbox`: the local HubSpot and Airtable sandbox
//! (`etlify-sandbox`) until Ctrl-C, with the values to put in the
//! configuration.

use std::path::PathBuf;

use etlify_sandbox::{Sandbox, SandboxConfig, DEFAULT_AIRTABLE_TOKEN, DEFAULT_HUBSPOT_TOKEN};

use crate::error::{CliError, Completed};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The loopback port to listen on.
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// Keeps the sandbox's objects in this file across runs.
    #[arg(long)]
    state: Option<PathBuf>,
}

/// Runs the sandbox until Ctrl-C.
pub(crate) async fn run(args: Args) -> Result<Completed, CliError> {
    let sandbox = Sandbox::start(SandboxConfig {
        port: args.port,
        state_file: args.state,
        ..SandboxConfig::default()
    })
    .await
    .map_err(|e| CliError::run(format!("cannot start the sandbox: {e}")))?;
    println!("Sandbox listening on {}", sandbox.base_url());
    println!(
        "  HubSpot:  base_url = \"{}\", token = \"{DEFAULT_HUBSPOT_TOKEN}\"",
        sandbox.hubspot_base_url(),
    );
    // The values for etlify.toml: the Airtable adapter adds `/v0` itself.
    println!(
        "  Airtable: base_url = \"{}\", token = \"{DEFAULT_AIRTABLE_TOKEN}\", any base_id (app…)",
        sandbox.base_url().trim_end_matches('/'),
    );
    println!("  Admin:    {}", sandbox.admin_url());
    println!("Ctrl-C stops it.");
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| CliError::run(format!("cannot wait for Ctrl-C: {e}")))?;
    sandbox
        .shutdown()
        .await
        .map_err(|e| CliError::run(format!("cannot stop the sandbox: {e}")))?;
    Ok(Completed::Ok)
}
