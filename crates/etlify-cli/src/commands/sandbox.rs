//! `etlify sandbox`: the local HubSpot, Airtable, Salesforce and Brevo
//! sandbox and webhook receiver (`etlify-sandbox`) until Ctrl-C, with the values to put in the
//! configuration. Its flags set the latency, faults and rate limits to
//! try a configuration against (over a JSON file of the sandbox's own
//! settings, `--settings`, docs/SANDBOX.md); each is checked here, so a
//! mistake names its flag.

use std::path::PathBuf;
use std::time::Duration;

use etlify_sandbox::DEFAULT_INTERCOM_TOKEN;
use etlify_sandbox::{
    FaultConfig, Sandbox, SandboxConfig, DEFAULT_AIRTABLE_TOKEN, DEFAULT_BREVO_API_KEY,
    DEFAULT_HUBSPOT_TOKEN, DEFAULT_SALESFORCE_CLIENT_ID, DEFAULT_SALESFORCE_CLIENT_SECRET,
    DEFAULT_WEBHOOK_SECRET,
};

use crate::error::{CliError, Completed};
use crate::output;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The loopback port to listen on (0: a free port); wins over the
    /// settings file's `port`.
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// Keeps the sandbox's objects in this file across runs.
    #[arg(long)]
    state: Option<PathBuf>,
    /// A JSON file of the sandbox's settings (docs/SANDBOX.md,
    /// "Configuration"); the flags below win over it.
    #[arg(long, value_name = "FILE.json")]
    settings: Option<PathBuf>,
    /// Milliseconds added before every answer, of every API.
    #[arg(long, value_name = "MS")]
    latency_ms: Option<u64>,
    /// Up to this many milliseconds more, drawn at random (from --seed)
    /// per answer: latency that varies, as a network's does.
    #[arg(long, value_name = "MS")]
    latency_jitter_ms: Option<u64>,
    /// Share of requests, from 0 to 1, answered with a server error
    /// (HubSpot 502, 503 or 504; Airtable and the webhook 500, 502 or 503).
    #[arg(long, value_name = "P", value_parser = probability)]
    error_rate: Option<f64>,
    /// Share of requests, from 0 to 1, whose connection is closed without
    /// an answer.
    #[arg(long, value_name = "P", value_parser = probability)]
    drop_rate: Option<f64>,
    /// Closes dropped connections after handling the request (the write
    /// happened, its answer is lost) instead of before.
    #[arg(long)]
    drop_after_handling: bool,
    /// HubSpot's limit per token, REQUESTS/PERIOD (default 100/10s), or
    /// `off` (no HubSpot limit enforced); over it, 429.
    #[arg(long, value_name = "N/PERIOD|off", value_parser = limit)]
    hubspot_limit: Option<Limit>,
    /// Airtable's limit per base, REQUESTS/PERIOD (default 5/1s), or `off`
    /// (no Airtable limit enforced); over it, 429 and a 30 s penalty.
    #[arg(long, value_name = "N/PERIOD|off", value_parser = limit)]
    airtable_limit: Option<Limit>,
    /// Intercom's limit per app (token), REQUESTS/PERIOD (default
    /// 1666/10s, fixed windows), or `off`; over it, 429 with the
    /// `X-RateLimit-*` headers.
    #[arg(long, value_name = "N/PERIOD|off", value_parser = limit)]
    intercom_limit: Option<Limit>,
    /// Seed of the sandbox's random draws (ids, faults), for a run that
    /// can be repeated.
    #[arg(long)]
    seed: Option<u64>,
}

/// A rate limit given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    /// No limit enforced.
    Off,
    /// At most `requests` in any `period`.
    Every { requests: u64, period: Duration },
}

/// `0.25`: a probability, from 0 to 1.
fn probability(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| "expected a number from 0 to 1, e.g. 0.1".to_owned())?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err("must be from 0 to 1 (0.1 is one request in ten)".to_owned())
    }
}

/// `100/10s`, `5/1s`, `off`.
fn limit(text: &str) -> Result<Limit, String> {
    if text == "off" {
        return Ok(Limit::Off);
    }
    let (requests, period) = text
        .split_once('/')
        .ok_or_else(|| "expected REQUESTS/PERIOD, e.g. 100/10s, or off".to_owned())?;
    let requests: u64 = requests
        .trim()
        .parse()
        .map_err(|_| format!("`{requests}` is not a number of requests"))?;
    if requests == 0 {
        return Err("the number of requests must be at least 1".to_owned());
    }
    let period = humantime::parse_duration(period.trim())
        .map_err(|e| format!("`{period}` is not a period ({e}), e.g. 10s or 500ms"))?;
    if period.as_millis() == 0 {
        return Err("the period must be at least 1ms".to_owned());
    }
    Ok(Limit::Every { requests, period })
}

impl Args {
    /// The sandbox's settings: the file's, or the defaults, then the flags.
    fn config(&self) -> Result<SandboxConfig, CliError> {
        let mut config = match &self.settings {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| CliError::config(format!("--settings {}: {e}", path.display())))?;
                SandboxConfig::from_json(&text)
                    .map_err(|e| CliError::config(format!("--settings {}: {e}", path.display())))?
            }
            None => SandboxConfig::default(),
        };
        config.port = self.port;
        if self.state.is_some() {
            config.state_file.clone_from(&self.state);
        }
        if self.seed.is_some() {
            config.seed = self.seed;
        }
        for faults in [
            &mut config.hubspot.faults,
            &mut config.airtable.faults,
            &mut config.webhook.faults,
            &mut config.salesforce.faults,
            &mut config.brevo.faults,
            &mut config.intercom.faults,
        ] {
            self.set_faults(faults);
        }
        match self.hubspot_limit {
            Some(Limit::Off) => config.hubspot.rate_limits.enabled = false,
            Some(Limit::Every { requests, period }) => {
                let limits = &mut config.hubspot.rate_limits;
                limits.enabled = true;
                limits.per_app_max = requests;
                limits.per_app_window_ms = whole_millis(period);
            }
            None => {}
        }
        match self.airtable_limit {
            Some(Limit::Off) => config.airtable.rate_limits.enabled = false,
            Some(Limit::Every { requests, period }) => {
                let limits = &mut config.airtable.rate_limits;
                limits.enabled = true;
                limits.per_base_max = requests;
                limits.window_ms = whole_millis(period);
            }
            None => {}
        }
        match self.intercom_limit {
            Some(Limit::Off) => config.intercom.limits.enabled = false,
            Some(Limit::Every { requests, period }) => {
                let limits = &mut config.intercom.limits;
                limits.enabled = true;
                limits.per_app_max = requests;
                limits.per_workspace_max = limits.per_workspace_max.max(requests);
                limits.window_ms = whole_millis(period);
            }
            None => {}
        }
        // The flags were checked as they were read: what is wrong is the file's.
        config.validate().map_err(|e| match &self.settings {
            Some(path) => CliError::config(format!("--settings {}: {e}", path.display())),
            None => CliError::config(e.to_string()),
        })?;
        Ok(config)
    }

    fn set_faults(&self, faults: &mut FaultConfig) {
        if let Some(latency_ms) = self.latency_ms {
            faults.latency_ms = latency_ms;
        }
        if let Some(jitter_ms) = self.latency_jitter_ms {
            faults.latency_jitter_ms = jitter_ms;
        }
        if let Some(rate) = self.error_rate {
            faults.error_rate = rate;
        }
        if let Some(rate) = self.drop_rate {
            faults.drop_rate = rate;
        }
        if self.drop_after_handling {
            faults.drop_after_handling = true;
        }
    }
}

/// `period` in milliseconds (at least 1, as `limit` checked).
fn whole_millis(period: Duration) -> u64 {
    u64::try_from(period.as_millis()).unwrap_or(u64::MAX)
}

/// The faults of one API, for the banner.
fn faults_text(faults: &FaultConfig) -> String {
    let mut said = Vec::new();
    if faults.latency_ms > 0 || faults.latency_jitter_ms > 0 {
        let jitter = match faults.latency_jitter_ms {
            0 => String::new(),
            jitter => format!(" + up to {jitter} ms"),
        };
        said.push(format!("{} ms latency{jitter}", faults.latency_ms));
    }
    if faults.error_rate > 0.0 {
        said.push(format!("{}% server errors", faults.error_rate * 100.0));
    }
    if faults.drop_rate > 0.0 {
        let when = match faults.drop_after_handling {
            true => "after handling",
            false => "before handling",
        };
        said.push(format!(
            "{}% connections dropped {when}",
            faults.drop_rate * 100.0
        ));
    }
    match said.is_empty() {
        true => "none".to_owned(),
        false => said.join(", "),
    }
}

/// The faults and limits in effect, for the banner.
fn conditions(config: &SandboxConfig) -> (String, String) {
    let (hubspot, airtable) = (
        faults_text(&config.hubspot.faults),
        faults_text(&config.airtable.faults),
    );
    let faults = match hubspot == airtable {
        true => hubspot,
        false => format!("HubSpot {hubspot}; Airtable {airtable}"),
    };
    let hubspot = &config.hubspot.rate_limits;
    let hubspot = match hubspot.enabled {
        true => format!(
            "HubSpot {} / {} per token",
            output::counted(hubspot.per_app_max, "request", "requests"),
            humantime::format_duration(Duration::from_millis(hubspot.per_app_window_ms))
        ),
        false => "HubSpot off".to_owned(),
    };
    let airtable = &config.airtable.rate_limits;
    let airtable = match airtable.enabled {
        true => format!(
            "Airtable {} / {} per base",
            output::counted(airtable.per_base_max, "request", "requests"),
            humantime::format_duration(Duration::from_millis(airtable.window_ms))
        ),
        false => "Airtable off".to_owned(),
    };
    let intercom = &config.intercom.limits;
    let intercom = match intercom.enabled {
        true => format!(
            "Intercom {} / {} per app",
            output::counted(intercom.per_app_max, "request", "requests"),
            humantime::format_duration(Duration::from_millis(intercom.window_ms))
        ),
        false => "Intercom off".to_owned(),
    };
    (faults, format!("{hubspot}, {airtable}, {intercom}"))
}

/// Runs the sandbox until Ctrl-C.
pub(crate) async fn run(args: Args) -> Result<Completed, CliError> {
    let config = args.config()?;
    let (faults, limits) = conditions(&config);
    let sandbox = Sandbox::start(config)
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
    println!(
        "  Webhook:  url = \"{}\", signing_secret = \"{DEFAULT_WEBHOOK_SECRET}\"",
        sandbox.webhook_url(),
    );
    println!(
        "  Salesforce: login_url = \"{}\", client_id = \"{DEFAULT_SALESFORCE_CLIENT_ID}\", \
         client_secret = \"{DEFAULT_SALESFORCE_CLIENT_SECRET}\"",
        sandbox.salesforce_login_url(),
    );
    println!(
        "  Brevo:    base_url = \"{}\", api_key = \"{DEFAULT_BREVO_API_KEY}\"",
        sandbox.brevo_base_url(),
    );
    println!(
        "  Intercom: base_url = \"{}\", token = \"{DEFAULT_INTERCOM_TOKEN}\"",
        sandbox.intercom_base_url(),
    );
    println!("  Admin:    {}", sandbox.admin_url());
    println!("  Faults:   {faults}");
    println!("  Limits:   {limits}");
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

#[cfg(test)]
mod tests {
    use super::{limit, probability, Limit};
    use std::time::Duration;

    #[test]
    fn cli_sandbox_limits_and_rates_parse_or_say_what_is_expected() {
        assert_eq!(
            limit("100/10s"),
            Ok(Limit::Every {
                requests: 100,
                period: Duration::from_secs(10)
            })
        );
        assert_eq!(limit("off"), Ok(Limit::Off));
        assert!(limit("0/1s").unwrap_err().contains("at least 1"));
        assert!(limit("5").unwrap_err().contains("REQUESTS/PERIOD"));
        assert!(limit("5/soon").unwrap_err().contains("not a period"));
        assert!(limit("5/0s").unwrap_err().contains("at least 1ms"));
        assert_eq!(probability("0.25"), Ok(0.25));
        assert!(probability("1.5").unwrap_err().contains("from 0 to 1"));
        assert!(probability("lots").is_err());
    }
}
