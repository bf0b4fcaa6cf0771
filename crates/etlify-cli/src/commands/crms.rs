//! `etlify crms`: the configured CRMs: adapter, enabled, rate limit,
//! requests in flight, error budget.

use etlify::{Crm, Etlify};
use serde::Serialize;

use crate::error::{CommandResult, Completed};
use crate::session::Session;
use crate::{output, table};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Prints JSON for scripts instead of text.
    #[arg(long)]
    json: bool,
}

/// One CRM, for scripts (`crms --json` is an array of them).
#[derive(Debug, Serialize)]
struct CrmReport {
    name: String,
    /// The adapter's kind: `hubspot`, `airtable`, `null`, or a custom one's.
    adapter: &'static str,
    enabled: bool,
    rate_limit: Option<RateLimitReport>,
    max_sync_errors: u32,
    max_in_flight: usize,
}

#[derive(Debug, Serialize)]
struct RateLimitReport {
    max_requests: u32,
    period_ms: u64,
}

impl CrmReport {
    fn new(etlify: &Etlify, crm: &Crm) -> Self {
        Self {
            name: crm.get_name().to_owned(),
            adapter: crm.get_adapter().kind(),
            enabled: crm.get_enabled(),
            rate_limit: crm.get_rate_limit().map(|l| RateLimitReport {
                max_requests: l.get_max_requests(),
                period_ms: l.get_period().as_millis() as u64,
            }),
            max_sync_errors: etlify.max_sync_errors(crm.get_name()),
            max_in_flight: crm.get_max_in_flight(),
        }
    }
}

pub(crate) async fn run(session: &Session, args: Args) -> CommandResult {
    let etlify = session.engine().await?;
    if args.json {
        let crms: Vec<_> = etlify
            .crms()
            .iter()
            .map(|crm| CrmReport::new(etlify, crm))
            .collect();
        output::print_json(&crms)?;
        return Ok(Completed::Ok);
    }
    let rows = etlify
        .crms()
        .iter()
        .map(|crm| {
            vec![
                crm.get_name().to_owned(),
                crm.get_adapter().kind().to_owned(),
                if crm.get_enabled() { "yes" } else { "no" }.to_owned(),
                crm.get_rate_limit().map_or("none".to_owned(), |l| {
                    format!(
                        "{} per {}",
                        l.get_max_requests(),
                        humantime::format_duration(l.get_period())
                    )
                }),
                crm.get_max_in_flight().to_string(),
                etlify.max_sync_errors(crm.get_name()).to_string(),
            ]
        })
        .collect();
    let headers = [
        "crm",
        "adapter",
        "enabled",
        "rate limit",
        "in flight",
        "error budget",
    ];
    println!("{}", table::render(&headers, &[4, 5], rows));
    Ok(Completed::Ok)
}
