//! The run history: what the row of a batch run of a CRM says
//! (`etlify_runs`, `store/run_history.rs`), and reading it back
//! ([`crate::Etlify::runs`], `etlify runs`).
//!
//! One row per CRM a batch run covers, written when the run has taken the
//! CRM's lease (status `running`, no end: a running run is visible) and
//! completed when the CRM's part ends. A CRM skipped because another run
//! holds it writes no row: that run has its own, and a worker polling
//! every few seconds would otherwise fill the history with skips. A row
//! still `running` whose CRM has a later run, or whose CRM's lease is no
//! longer held, belongs to a run that died (a killed process): it is read
//! as [`RunStatus::Abandoned`].
//!
//! Writing the history never fails a run: an error is logged and the run
//! goes on (the rows are for people, the sync state is elsewhere).

use std::time::Duration;

use indexmap::IndexMap;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::outcome::BatchStats;
use crate::runs::batch_run::RunStats;
use crate::store::leases::batch_run::{batch_run_name, time_left};
use crate::store::run_history::{self, Ended, RunRow};
use crate::store::{Store, Timestamp};

/// What started a batch run, as its history row says.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RunTrigger {
    /// A worker's loop, every interval.
    Schedule,
    /// A call: [`crate::Etlify::batch_sync`], `etlify sync`.
    #[default]
    Command,
    /// A batch job requested by [`crate::Etlify::batch_sync_async`]
    /// (`etlify sync --async`), or by an application's own call to its
    /// queue. A job run again (a retry, a wait for another run) keeps the
    /// trigger of the job it repeats.
    Request,
    /// A worker's watch: it learned of a change in the application's
    /// tables (a notification, or its poll) before its interval ended.
    Change,
}

impl RunTrigger {
    /// Its name in the history (`schedule`, `command`, `request`, `change`).
    pub fn as_str(self) -> &'static str {
        match self {
            RunTrigger::Schedule => "schedule",
            RunTrigger::Command => "command",
            RunTrigger::Request => "request",
            RunTrigger::Change => "change",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        [
            RunTrigger::Schedule,
            RunTrigger::Command,
            RunTrigger::Request,
            RunTrigger::Change,
        ]
        .into_iter()
        .find(|trigger| trigger.as_str() == name)
    }

    /// The trigger of a job queued before jobs carried one.
    pub(crate) fn unrecorded_job() -> Self {
        RunTrigger::Request
    }
}

/// Where a run stands, as its history row says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RunStatus {
    /// Under way.
    Running,
    /// Went to the end (records may have failed: see
    /// [`RunRecord::errors`]).
    Succeeded,
    /// Stopped short by a failure (the CRM unreachable, credentials
    /// refused, a payload query failing) or deletes held back: see
    /// [`RunRecord::interruption`].
    Interrupted,
    /// Stopped short for a reason that needs nothing done (a shutdown,
    /// records held by another sync): the next run resumes. See
    /// [`RunRecord::interruption`].
    Stopped,
    /// Ended with an error (the database): see [`RunRecord::interruption`].
    Failed,
    /// Ended without a record: its row still says running, but a later
    /// run of its CRM started or its CRM's lease expired (a killed
    /// process).
    Abandoned,
}

impl RunStatus {
    /// Its name (`running`, `succeeded`, `interrupted`, `stopped`,
    /// `failed`, `abandoned`).
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Stopped => "stopped",
            RunStatus::Failed => "failed",
            RunStatus::Abandoned => "abandoned",
        }
    }

    fn parse(name: &str) -> Self {
        match name {
            "succeeded" => RunStatus::Succeeded,
            "interrupted" => RunStatus::Interrupted,
            "stopped" => RunStatus::Stopped,
            "failed" => RunStatus::Failed,
            _ => RunStatus::Running,
        }
    }
}

/// One batch run of one CRM, from the run history ([`crate::Etlify::runs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunRecord {
    /// The row's id (increasing).
    pub id: i64,
    /// CRM name.
    pub crm: String,
    /// What started it.
    pub trigger: RunTrigger,
    /// Who ran it: the worker's name, else the process's lease owner token.
    pub runner: String,
    /// Where it stands.
    pub status: RunStatus,
    /// When it started (the database's clock, UTC).
    pub started_at: Timestamp,
    /// When it ended (`None` while running, or if it died).
    pub finished_at: Option<Timestamp>,
    /// Records processed.
    pub records: u64,
    /// Records that failed.
    pub errors: u64,
    /// Outcomes per model, by model name.
    pub per_model: IndexMap<String, BatchStats>,
    /// Why it stopped short or failed (a CRM unreachable, credentials
    /// refused, a payload query failing, a shutdown, records held by
    /// another sync, deletes held back), one reason per model.
    pub interruption: Option<String>,
}

impl RunRecord {
    /// How long it ran (`None` while running or if it died).
    pub fn duration(&self) -> Option<Duration> {
        self.finished_at
            .map(|end| (end - self.started_at).to_std().unwrap_or(Duration::ZERO))
    }
}

/// Which runs [`crate::Etlify::runs`] reads: the newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunQuery {
    crm: Option<String>,
    status: Option<RunStatus>,
    limit: usize,
}

/// Default number of runs [`RunQuery`] reads.
pub const DEFAULT_RUN_QUERY_LIMIT: usize = 20;

impl Default for RunQuery {
    fn default() -> Self {
        Self {
            crm: None,
            status: None,
            limit: DEFAULT_RUN_QUERY_LIMIT,
        }
    }
}

impl RunQuery {
    /// The 20 newest runs of every CRM.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only this CRM's runs.
    pub fn crm(mut self, crm: impl Into<String>) -> Self {
        self.crm = Some(crm.into());
        self
    }

    /// Only the runs with this status (the last run of a CRM that went to
    /// the end: `.crm(name).status(RunStatus::Succeeded).limit(1)`).
    pub fn status(mut self, status: RunStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// The status filter, if any.
    pub fn get_status(&self) -> Option<RunStatus> {
        self.status
    }

    /// At most this many runs (at least 1).
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit.max(1);
        self
    }

    /// The CRM filter, if any.
    pub fn get_crm(&self) -> Option<&str> {
        self.crm.as_deref()
    }

    /// The most runs read.
    pub fn get_limit(&self) -> usize {
        self.limit
    }
}

/// The runs `query` selects, newest first.
pub(crate) async fn read(store: &Store, query: &RunQuery) -> Result<Vec<RunRecord>> {
    // Running and abandoned runs are both stored as running: which one a
    // row is shows only as it is read, so those two are filtered here.
    let stored = query.status.map(|status| match status {
        RunStatus::Abandoned => RunStatus::Running,
        status => status,
    });
    let derived = matches!(
        query.status,
        Some(RunStatus::Running | RunStatus::Abandoned)
    );
    let limit = if derived {
        u64::MAX >> 1
    } else {
        query.limit as u64
    };
    let rows = run_history::load(
        store,
        query.crm.as_deref(),
        stored.map(RunStatus::as_str),
        limit,
    )
    .await?;
    let mut records = Vec::with_capacity(rows.len().min(query.limit));
    for row in rows {
        let mut record = record_of(row)?;
        if record.status == RunStatus::Running && run_died(store, &record).await? {
            record.status = RunStatus::Abandoned;
        }
        if query.status.is_none_or(|status| status == record.status) {
            records.push(record);
        }
        if records.len() == query.limit {
            break;
        }
    }
    Ok(records)
}

/// Whether a run whose row says running died: a later run of its CRM
/// started (one at a time per CRM), or no one holds its CRM's lease.
async fn run_died(store: &Store, record: &RunRecord) -> Result<bool> {
    if run_history::has_later_run(store, &record.crm, record.id).await? {
        return Ok(true);
    }
    let left = time_left(store, &batch_run_name(&record.crm)).await?;
    Ok(left.is_none_or(|left| left.is_zero()))
}

fn record_of(row: RunRow) -> Result<RunRecord> {
    let per_model = match &row.per_model {
        Some(json) => per_model_of(json).map_err(|error| {
            Error::schema(
                format!("etlify_runs row {}: unreadable per_model: {error}", row.id),
                None,
            )
        })?,
        None => IndexMap::new(),
    };
    Ok(RunRecord {
        id: row.id,
        crm: row.crm_name,
        trigger: RunTrigger::parse(&row.triggered_by).unwrap_or_default(),
        runner: row.runner,
        status: RunStatus::parse(&row.status),
        started_at: row.started_at,
        finished_at: row.finished_at,
        records: u64::try_from(row.records).unwrap_or(0),
        errors: u64::try_from(row.errors).unwrap_or(0),
        per_model,
        interruption: row.interruption,
    })
}

/// The outcome counts, by name, as stored.
const COUNTS: [&str; 8] = [
    "synced",
    "not_modified",
    "skipped",
    "buffered",
    "errors",
    "in_doubt",
    "archived",
    "no_object_to_update",
];

fn counts(stats: &BatchStats) -> [usize; 8] {
    [
        stats.synced,
        stats.not_modified,
        stats.skipped,
        stats.buffered,
        stats.errors,
        stats.in_doubt,
        stats.archived,
        stats.no_object_to_update,
    ]
}

/// `{"User": {"synced": 3, …}, …}`.
fn per_model_json(per_model: &IndexMap<String, BatchStats>) -> String {
    let mut models = serde_json::Map::new();
    for (model, stats) in per_model {
        let object: serde_json::Map<String, serde_json::Value> = COUNTS
            .iter()
            .zip(counts(stats))
            .map(|(name, count)| ((*name).to_owned(), count.into()))
            .collect();
        models.insert(model.clone(), object.into());
    }
    serde_json::Value::Object(models).to_string()
}

fn per_model_of(json: &str) -> std::result::Result<IndexMap<String, BatchStats>, String> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let models = value.as_object().ok_or("not an object")?;
    let mut per_model = IndexMap::new();
    for (model, counts) in models {
        let count = |name: &str| {
            counts
                .get(name)
                .and_then(serde_json::Value::as_u64)
                .map_or(0, |n| n as usize)
        };
        let stats = BatchStats {
            synced: count("synced"),
            not_modified: count("not_modified"),
            skipped: count("skipped"),
            buffered: count("buffered"),
            errors: count("errors"),
            in_doubt: count("in_doubt"),
            archived: count("archived"),
            no_object_to_update: count("no_object_to_update"),
            ..BatchStats::default()
        };
        per_model.insert(model.clone(), stats);
    }
    Ok(per_model)
}

/// The counts of `after` less those of `before`: one model's outcomes in
/// a CRM's run.
pub(crate) fn outcomes_since(after: &BatchStats, before: &BatchStats) -> BatchStats {
    BatchStats {
        synced: after.synced - before.synced,
        not_modified: after.not_modified - before.not_modified,
        skipped: after.skipped - before.skipped,
        buffered: after.buffered - before.buffered,
        errors: after.errors - before.errors,
        in_doubt: after.in_doubt - before.in_doubt,
        archived: after.archived - before.archived,
        no_object_to_update: after.no_object_to_update - before.no_object_to_update,
        ..BatchStats::default()
    }
}

/// The history rows of one batch run: per CRM it leased, the id of its
/// row (none where writing it failed).
#[derive(Debug, Default)]
pub(crate) struct RunHistory {
    rows: Vec<(String, Option<i64>)>,
}

impl RunHistory {
    /// Writes a `running` row for each of `crms` (the CRMs the run leased),
    /// and prunes their history.
    pub(crate) async fn start(
        ctx: &Context,
        crms: &[&str],
        trigger: RunTrigger,
        runner: Option<&str>,
    ) -> Self {
        let store = ctx.store();
        let runner = runner.unwrap_or_else(|| store.lease_owner());
        let config = ctx.catalog().config();
        let mut rows = Vec::with_capacity(crms.len());
        for crm in crms {
            let inserted = run_history::insert_started(
                store,
                crm,
                trigger.as_str(),
                runner,
                RunStatus::Running.as_str(),
            )
            .await;
            let id = match inserted {
                Ok(id) => Some(id),
                Err(error) => {
                    tracing::warn!(message = "Recording the run's start in etlify_runs failed; the run goes on without its history row.", crm, %error);
                    None
                }
            };
            let pruned = run_history::prune(
                store,
                crm,
                config.get_keep_runs(),
                config.get_keep_runs_per_crm(),
            )
            .await;
            if let Err(error) = pruned {
                tracing::warn!(message = "Pruning etlify_runs failed; the next run tries again.", crm, %error);
            }
            rows.push(((*crm).to_owned(), id));
        }
        Self { rows }
    }

    /// Completes `crm`'s row: its statistics, per-model outcomes, and the
    /// error that ended it, if any.
    pub(crate) async fn finish(
        &self,
        store: &Store,
        crm: &str,
        stats: &RunStats,
        per_model: &IndexMap<String, BatchStats>,
        error: Option<&Error>,
    ) {
        let Some(id) = self
            .rows
            .iter()
            .find(|(name, _)| name == crm)
            .and_then(|(_, id)| *id)
        else {
            return;
        };
        let ended = ended(stats, per_model, error);
        if let Err(error) = run_history::finish(store, id, &ended).await {
            tracing::warn!(message = "Recording the run's end in etlify_runs failed; its row says running.", crm, %error);
        }
    }
}

/// What the row of one CRM's run says when it ended.
fn ended(
    stats: &RunStats,
    per_model: &IndexMap<String, BatchStats>,
    error: Option<&Error>,
) -> Ended {
    let reasons = interruption_reasons(stats, error);
    let failures = !stats.interrupted.is_empty() || !stats.deletes_held.is_empty();
    let status = if error.is_some() {
        RunStatus::Failed
    } else if failures {
        RunStatus::Interrupted
    } else if reasons.is_empty() {
        RunStatus::Succeeded
    } else {
        RunStatus::Stopped
    };
    Ended {
        status: status.as_str(),
        records: stats.total as i64,
        errors: stats.errors as i64,
        per_model: per_model_json(per_model),
        interruption: (!reasons.is_empty()).then(|| reasons.join("; ")),
    }
}

/// Why one CRM's run stopped short, a sentence per cause.
fn interruption_reasons(stats: &RunStats, error: Option<&Error>) -> Vec<String> {
    let mut reasons: Vec<String> = stats
        .interrupted
        .iter()
        .map(|i| format!("{}: {}", i.model, i.message))
        .collect();
    if let Some(error) = error {
        reasons.push(format!("failed: {error}"));
    }
    if stats.stopped {
        reasons.push("stopped before the end (a shutdown)".to_owned());
    }
    if stats.deferred > 0 {
        reasons.push(format!(
            "{} records held by another sync were left for the next run",
            stats.deferred
        ));
    }
    reasons.extend(stats.deletes_held.iter().map(|held| {
        format!(
            "{}: deletes held back: {} records left the application, more than max_deletes_per_run = {} allows",
            held.model, held.records, held.limit
        )
    }));
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::runs::batch_run::Interruption;

    fn stats_with(synced: usize, errors: usize) -> BatchStats {
        BatchStats {
            synced,
            errors,
            ..BatchStats::default()
        }
    }

    #[test]
    fn runs_a_run_row_stores_per_model_counts_and_reads_them_back() {
        let mut per_model = IndexMap::new();
        per_model.insert("User".to_owned(), stats_with(3, 1));
        per_model.insert("Company".to_owned(), stats_with(2, 0));
        let json = per_model_json(&per_model);
        assert_eq!(per_model_of(&json).unwrap(), per_model);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["User"]["synced"], 3);
        assert_eq!(value["User"]["errors"], 1);
        assert_eq!(value["Company"]["in_doubt"], 0);
    }

    #[test]
    fn runs_an_interrupted_run_names_its_reason_and_a_clean_one_succeeds() {
        let clean = RunStats::default();
        let row = ended(&clean, &IndexMap::new(), None);
        assert_eq!(row.status, "succeeded");
        assert_eq!(row.interruption, None);

        let mut refused = RunStats::default();
        refused.interrupted.push(Interruption {
            crm: "hubspot".into(),
            model: "User".into(),
            kind: ErrorKind::Adapter,
            retriable: false,
            message: "the CRM refused the credentials (401)".into(),
            retry_after: None,
        });
        refused.stopped = true;
        let row = ended(&refused, &IndexMap::new(), None);
        assert_eq!(row.status, "interrupted");
        let reason = row.interruption.unwrap();
        assert!(
            reason.contains("User: the CRM refused the credentials (401)"),
            "{reason}"
        );
        assert!(reason.contains("shutdown"), "{reason}");

        let shut_down = RunStats {
            stopped: true,
            ..RunStats::default()
        };
        let row = ended(&shut_down, &IndexMap::new(), None);
        assert_eq!(row.status, "stopped");
        assert!(row.interruption.unwrap().contains("shutdown"));
    }

    #[test]
    fn runs_outcomes_since_is_one_models_share() {
        let after = stats_with(5, 2);
        let before = stats_with(3, 1);
        assert_eq!(outcomes_since(&after, &before), stats_with(2, 1));
    }

    #[test]
    fn runs_triggers_round_trip_by_name() {
        for trigger in [
            RunTrigger::Schedule,
            RunTrigger::Command,
            RunTrigger::Request,
            RunTrigger::Change,
        ] {
            assert_eq!(RunTrigger::parse(trigger.as_str()), Some(trigger));
        }
        assert_eq!(RunTrigger::default(), RunTrigger::Command);
    }
}
