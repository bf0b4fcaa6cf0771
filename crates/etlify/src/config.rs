//! Process-wide settings (the gem's `Etlify.config`).

use std::sync::Arc;
use std::time::Duration;

use crate::digest::{DigestStrategy, StableSha256};
use crate::ratelimit::RateBudgets;

/// Default error budget: rows with this many consecutive failures are no
/// longer picked up (G-16).
pub const DEFAULT_MAX_SYNC_ERRORS: u32 = 3;

pub use crate::store::DEFAULT_COMMIT_MARGIN;

/// Default longest time between two batch runs that read a whole table
/// (see [`Config::complete_check_interval`]).
pub const DEFAULT_COMPLETE_CHECK_INTERVAL: Duration = Duration::from_secs(3_600);

/// Default age of the oldest run the run history keeps
/// ([`Config::keep_runs`]): 30 days.
pub const DEFAULT_KEEP_RUNS: Duration = Duration::from_secs(30 * 24 * 3_600);

/// Default most runs the run history keeps per CRM
/// ([`Config::keep_runs_per_crm`]).
pub const DEFAULT_KEEP_RUNS_PER_CRM: u32 = 10_000;

/// Global settings of an [`crate::Etlify`] engine.
#[derive(Debug, Clone)]
pub struct Config {
    digest_strategy: Arc<dyn DigestStrategy>,
    max_sync_errors: u32,
    commit_margin: Option<Duration>,
    complete_check_interval: Duration,
    rate_budgets: Option<RateBudgets>,
    keep_runs: Duration,
    keep_runs_per_crm: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            digest_strategy: Arc::new(StableSha256),
            max_sync_errors: DEFAULT_MAX_SYNC_ERRORS,
            commit_margin: None,
            complete_check_interval: DEFAULT_COMPLETE_CHECK_INTERVAL,
            rate_budgets: None,
            keep_runs: DEFAULT_KEEP_RUNS,
            keep_runs_per_crm: DEFAULT_KEEP_RUNS_PER_CRM,
        }
    }
}

impl Config {
    /// How payloads are digested (default: the gem-compatible SHA-256).
    pub fn digest_strategy(mut self, strategy: Arc<dyn DigestStrategy>) -> Self {
        self.digest_strategy = strategy;
        self
    }

    /// Error budget for CRMs that do not set their own (default 3).
    pub fn max_sync_errors(mut self, max: u32) -> Self {
        self.max_sync_errors = max;
        self
    }

    /// How payloads are digested; the gem-compatible SHA-256 by default.
    pub fn get_digest_strategy(&self) -> &Arc<dyn DigestStrategy> {
        &self.digest_strategy
    }

    /// Error budget for CRMs that do not set their own.
    pub fn get_max_sync_errors(&self) -> u32 {
        self.max_sync_errors
    }

    /// How far before the read `last_synced_at` is put, so that a
    /// change committed just after the read, or written with a coarser
    /// timestamp (whole seconds), still counts as newer. Records changed
    /// within the margin before a sync are checked once more by the next
    /// run (their digest keeps CRM calls unchanged).
    ///
    /// Default ([`crate::Store::default_commit_margin`]): 200 ms on MySQL
    /// and MariaDB, whose list of open transactions is a cache refreshed
    /// every 100 ms; elsewhere 1 ms ([`DEFAULT_COMMIT_MARGIN`]), for writers
    /// that store
    /// milliseconds (JavaScript's `Date`, SQLite's `strftime('%f')`): a
    /// change stamped in the millisecond of a sync's read, but made after
    /// it, would otherwise look older than the sync and never be sent.
    /// PostgreSQL already puts `last_synced_at` before the oldest
    /// transaction still running, and on SQLite a writer's transaction
    /// holds the write lock the sync waits for. Set one second when a
    /// writer stores whole-second timestamps (SQLite's `CURRENT_TIMESTAMP`,
    /// `date_trunc('second', …)`), or the clock lag of the application
    /// servers behind the database; `Duration::ZERO` when every writer
    /// stores microseconds.
    pub fn commit_margin(mut self, margin: Duration) -> Self {
        self.commit_margin = Some(margin);
        self
    }

    /// How far before the read `last_synced_at` is put, when set (`None`:
    /// the database's default, see [`Config::commit_margin`]).
    pub fn get_commit_margin(&self) -> Option<Duration> {
        self.commit_margin
    }

    /// Longest time between two batch runs of a (model, CRM) that read its
    /// whole table (default one hour; zero: every run does).
    ///
    /// A batch run that went to the end leaves a checkpoint; the next one
    /// looks only at records stamped (or with a dependency stamped) since,
    /// records without a sync row inserted above the highest id it saw,
    /// failing rows and records waiting for a dependency, so a run where
    /// nothing changed costs a few index seeks whatever the table size. A
    /// complete run also finds what no timestamp shows: a sync row deleted
    /// by hand, a record entering `stale_scope` without being stamped, a
    /// record inserted with an old id and an old or NULL timestamp, a row
    /// stamped with a time older than the last run's start (a clock behind
    /// the database's by more than the commit margin), a sync row written
    /// outside the engine without a `last_synced_at` or an error.
    pub fn complete_check_interval(mut self, interval: Duration) -> Self {
        self.complete_check_interval = interval;
        self
    }

    /// Longest time between two batch runs that read a whole table.
    pub fn get_complete_check_interval(&self) -> Duration {
        self.complete_check_interval
    }

    /// Keeps the vendor budgets of this engine's CRMs (Airtable's per
    /// token, HubSpot's searches) in `budgets`: engines given clones of one
    /// [`RateBudgets`] share the budget of each token they have in common.
    /// Without it (the default) an engine keeps budgets of its own, shared
    /// by its CRMs only.
    pub fn rate_budgets(mut self, budgets: RateBudgets) -> Self {
        self.rate_budgets = Some(budgets);
        self
    }

    /// The vendor budgets handed in, if any.
    pub fn get_rate_budgets(&self) -> Option<&RateBudgets> {
        self.rate_budgets.as_ref()
    }

    /// How long the run history (`etlify_runs`, [`crate::Etlify::runs`])
    /// keeps a run (default 30 days): older rows are deleted when a run
    /// row is written.
    pub fn keep_runs(mut self, keep: Duration) -> Self {
        self.keep_runs = keep;
        self
    }

    /// How long the run history keeps a run.
    pub fn get_keep_runs(&self) -> Duration {
        self.keep_runs
    }

    /// The most runs the history keeps per CRM (default 10,000; at least
    /// 1): a worker polling every second would otherwise write 2.6 million
    /// rows per CRM in 30 days.
    pub fn keep_runs_per_crm(mut self, runs: u32) -> Self {
        self.keep_runs_per_crm = runs.max(1);
        self
    }

    /// The most runs the history keeps per CRM.
    pub fn get_keep_runs_per_crm(&self) -> u32 {
        self.keep_runs_per_crm
    }
}
