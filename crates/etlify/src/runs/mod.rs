//! Runs: a batch run of a CRM over the models bound to it, above finding
//! (`stale/`) and sending (`sync/`).
//!
//! - `batch_run.rs`: a batch run over the selected models and CRMs: the
//!   CRM's lease, pages found and handed to the pipeline, statistics,
//!   progress, interruptions;
//! - `checkpointing.rs`: where a batch run of a (model, CRM) starts
//!   looking, and the checkpoint it leaves;
//! - `diff.rs`: what a run would send for a sample, field by field (`plan --diff`);
//! - `history.rs`: what the run history row of a CRM's batch run says
//!   (`etlify_runs`), and reading it back;
//! - `archiving.rs`: archiving the objects of records whose row is gone,
//!   within the binding's guard.

pub(crate) mod archiving;
pub(crate) mod batch_run;
pub(crate) mod checkpointing;
pub(crate) mod diff;
pub(crate) mod history;

pub use self::archiving::{HeldDeletes, PlannedArchive};
pub use self::batch_run::{
    BatchSyncOptions, Interruption, PlanEntry, Progress, ProgressFn, RunStats,
};
pub use self::diff::{LinkChange, LinkDiff, PayloadChange, RecordDiff};
pub use self::history::{RunQuery, RunRecord, RunStatus, RunTrigger, DEFAULT_RUN_QUERY_LIMIT};
