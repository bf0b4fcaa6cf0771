//! Alerts: webhooks told when something goes wrong and when it recovers,
//! once per incident over every worker (docs/OPERATIONS.md, "Alerts").
//!
//! - `observe.rs`: what is true now (the last run of each CRM, rows over
//!   the error budget, the workers' heartbeats), read from the database;
//! - `decide.rs`: what to open and resolve, one pure function of what is
//!   observed and of the incidents open;
//! - `deliver.rs`: the alert's body (Slack or JSON) and its delivery, in a
//!   task of its own with bounded retries, never in a sync's way;
//! - this file: the options, and the worker's alerting task (a timer, and
//!   an evaluation after each batch run), which opens and resolves the
//!   incidents in `etlify_alert_incidents` (`store/alert_incidents.rs`):
//!   only the process whose statement changed the row sends.

pub(crate) mod decide;
pub(crate) mod deliver;
pub(crate) mod observe;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::context::Context;
use crate::error::{ConfigError, Result};
use crate::store::alert_incidents::{self, worker_lease_name};
use crate::store::leases::Lease;

use self::decide::Decision;
use self::deliver::{Alert, AlertState, Delivery};

/// Default time between two evaluations by a worker's alerting task.
pub const DEFAULT_ALERT_CHECK_INTERVAL: Duration = Duration::from_secs(30);

/// Default deliveries tried per alert and webhook before giving up.
pub const DEFAULT_ALERT_ATTEMPTS: u32 = 5;

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AlertKind {
    /// A CRM's last batch run stopped short (the CRM unreachable, its
    /// token refused, a payload query failing, deletes held back) or
    /// failed.
    RunInterrupted,
    /// The share of records that failed in a CRM's last run is above
    /// [`AlertOptions::error_share`].
    ErrorShare,
    /// Records of a (model, CRM) reached the error budget: left alone
    /// until their errors are reset.
    OverBudget,
    /// A worker stopped beating (killed, hung) for longer than
    /// [`AlertOptions::worker_silent`].
    WorkerSilent,
}

impl AlertKind {
    /// Its name in bodies and in `etlify_alert_incidents`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::RunInterrupted => "run_interrupted",
            AlertKind::ErrorShare => "error_share",
            AlertKind::OverBudget => "over_budget",
            AlertKind::WorkerSilent => "worker_silent",
        }
    }
}

/// The body a webhook receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AlertFormat {
    /// Slack's incoming webhooks: `{"text": "…"}`.
    #[default]
    Slack,
    /// A JSON object: `kind`, `state` (`firing` or `resolved`), `crm`,
    /// `model`, `worker`, `summary`, `details`, `started_at`.
    Json,
}

/// Where alerts are posted. The URL is a secret (a Slack webhook's path
/// is its credential): `Debug` and the logs show its host only.
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    url: reqwest::Url,
    format: AlertFormat,
}

impl Webhook {
    /// A webhook posting `format` bodies to `url` (`http` or `https`).
    pub fn new(url: &str, format: AlertFormat) -> std::result::Result<Self, ConfigError> {
        let parsed = reqwest::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
        match parsed {
            Some(url) => Ok(Self { url, format }),
            None => Err(ConfigError::new(
                "webhook",
                "url",
                "an http:// or https:// URL (e.g. a Slack incoming webhook's)",
            )),
        }
    }

    /// The body it receives.
    pub fn format(&self) -> AlertFormat {
        self.format
    }

    /// Its host, as logs name it (never the whole URL).
    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or("?")
    }
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("host", &self.host())
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// When a worker alerts, and where ([`crate::WorkerOptions::alerts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertOptions {
    webhooks: Vec<Webhook>,
    /// In basis points (1/100 of a percent), so that options compare.
    error_share: Option<u32>,
    worker_silent: Option<Duration>,
    check_interval: Duration,
    attempts: u32,
    retry_delay: Duration,
}

impl Default for AlertOptions {
    fn default() -> Self {
        Self {
            webhooks: Vec::new(),
            error_share: None,
            worker_silent: None,
            check_interval: DEFAULT_ALERT_CHECK_INTERVAL,
            attempts: DEFAULT_ALERT_ATTEMPTS,
            retry_delay: Duration::from_secs(1),
        }
    }
}

impl AlertOptions {
    /// No webhook; interrupted runs and records over the error budget
    /// alert, the thresholds are off.
    pub fn new() -> Self {
        Self::default()
    }

    /// Posts alerts to `webhook` too.
    pub fn webhook(mut self, webhook: Webhook) -> Self {
        self.webhooks.push(webhook);
        self
    }

    /// Alerts when more than `share` (0 to 1) of the records a CRM's last
    /// run processed failed (off by default).
    pub fn error_share(mut self, share: f64) -> Self {
        self.error_share = Some((share.clamp(0.0, 1.0) * 10_000.0).round() as u32);
        self
    }

    /// Alerts when a worker has not beaten for `silent` (off by default).
    pub fn worker_silent(mut self, silent: Duration) -> Self {
        self.worker_silent = Some(silent);
        self
    }

    /// Time between two evaluations on a worker's timer (default 30 s; a
    /// worker also evaluates after each batch run; at least 10 ms).
    pub fn check_interval(mut self, interval: Duration) -> Self {
        self.check_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// Deliveries tried per alert and webhook (default 5, at least 1), the
    /// delay doubling from [`AlertOptions::retry_delay`] up to a minute.
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// Delay before a failed delivery's first retry (default 1 s).
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }

    /// The webhooks.
    pub fn get_webhooks(&self) -> &[Webhook] {
        &self.webhooks
    }

    /// The error share threshold, if set.
    pub fn get_error_share(&self) -> Option<f64> {
        self.error_share.map(|bp| f64::from(bp) / 10_000.0)
    }

    /// The silence after which a worker alerts, if set.
    pub fn get_worker_silent(&self) -> Option<Duration> {
        self.worker_silent
    }

    /// Time between two evaluations on a worker's timer.
    pub fn get_check_interval(&self) -> Duration {
        self.check_interval
    }
}

/// A worker's alerting: its heartbeat lease and its evaluating task.
#[derive(Debug)]
pub(crate) struct Alerting {
    evaluate_now: Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<()>,
    heartbeat: Option<Lease>,
}

impl Alerting {
    /// Starts alerting for the worker `worker` on `ctx`: takes its
    /// heartbeat lease (so that others see it silent if it dies) and
    /// evaluates on `options`' timer.
    pub(crate) async fn start(ctx: Context, options: AlertOptions, worker: &str) -> Self {
        let heartbeat = match Lease::try_acquire(ctx.store(), vec![worker_lease_name(worker)]).await
        {
            Ok((lease, _)) => Some(lease),
            Err(error) => {
                tracing::warn!(message = "The worker's heartbeat lease could not be taken; other workers cannot tell if it goes silent.", %error);
                None
            }
        };
        let evaluate_now = Arc::new(tokio::sync::Notify::new());
        let task = tokio::spawn(run(ctx, options, evaluate_now.clone()));
        Self {
            evaluate_now,
            task,
            heartbeat,
        }
    }

    /// A handle asking for an evaluation soon (after a batch run).
    pub(crate) fn trigger(&self) -> Arc<tokio::sync::Notify> {
        self.evaluate_now.clone()
    }

    /// Stops evaluating and releases the heartbeat (a graceful stop is
    /// not a silent worker).
    pub(crate) async fn stop(self) {
        self.task.abort();
        if let Some(heartbeat) = self.heartbeat {
            if let Err(error) = heartbeat.release().await {
                tracing::warn!(message = "Releasing the worker's heartbeat lease failed; it expires on its own.", %error);
            }
        }
    }
}

/// Evaluates on the timer and when asked, until aborted.
async fn run(ctx: Context, options: AlertOptions, evaluate_now: Arc<tokio::sync::Notify>) {
    let delivery = Delivery::new(&options);
    let mut ticks = tokio::time::interval(options.check_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = evaluate_now.notified() => {}
        }
        if let Err(error) = evaluate(&ctx, &options, &delivery).await {
            tracing::warn!(message = "Evaluating the alerts failed; trying again at the next check.", %error);
        }
    }
}

/// Observes, decides, and opens or resolves each incident; the alert of
/// each incident this process opened or resolved is sent in a task of its
/// own.
pub(crate) async fn evaluate(
    ctx: &Context,
    options: &AlertOptions,
    delivery: &Delivery,
) -> Result<()> {
    let observed = observe::observe(ctx, options).await?;
    let open = alert_incidents::open_keys(ctx.store()).await?;
    for decision in decide::decide(&observed, &open) {
        let (key, state, summary, details, opened_at) = match decision {
            Decision::Open {
                key,
                summary,
                details,
            } => {
                let Some(opened_at) = alert_incidents::open(ctx.store(), &key, &summary).await?
                else {
                    continue;
                };
                (key, AlertState::Firing, summary, details, opened_at)
            }
            Decision::Resolve { key, summary } => {
                let Some(opened_at) = alert_incidents::resolve(ctx.store(), &key).await? else {
                    continue;
                };
                (key, AlertState::Resolved, summary, String::new(), opened_at)
            }
        };
        tracing::info!(
            message = "Alert.",
            kind = key.kind.as_str(),
            state = state.as_str(),
            crm = key.crm.as_str(),
            subject = key.subject.as_str(),
            %summary
        );
        delivery.spawn(
            ctx.store().clone(),
            Alert {
                key,
                state,
                summary,
                details,
                started_at: opened_at,
            },
        );
    }
    Ok(())
}
