//! Runs: a batch run of a CRM over the models bound to it, above finding
//! (`stale/`) and sending (`sync/`).
//!
//! - `batch_run.rs`: a batch run over the selected models and CRMs: the
//!   CRM's lease, pages found and handed to the pipeline, statistics,
//!   progress, interruptions;
//! - `checkpointing.rs`: where a batch run of a (model, CRM) starts
//!   looking, and the checkpoint it leaves;
//! - `diff.rs`: what a run would send for a sample, field by field (`plan --diff`);
//! - `archiving.rs`: archiving the objects of records whose row is gone,
//!   within the binding's guard.

pub(crate) mod archiving;
pub(crate) mod batch_run;
pub(crate) mod checkpointing;
pub(crate) mod diff;

pub use self::archiving::{HeldDeletes, PlannedArchive};
pub use self::batch_run::{
    BatchSyncOptions, Interruption, PlanEntry, Progress, ProgressFn, RunStats,
};
pub use self::diff::{PayloadChange, RecordDiff};
