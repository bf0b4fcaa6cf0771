//! Finding stale records and syncing them in batches.
//!
//! - `finder.rs`: the finder's SQL, rendered from plain inputs;
//! - `pages.rs`: running it page by page, ascending by id;
//! - `checkpointing.rs`: where a batch run starts looking, and the
//!   checkpoint it leaves;
//! - `batch_sync.rs`: a batch run over the selected models and CRMs;
//! - `diff.rs`: what a run would send for a sample, field by field.

pub(crate) mod batch_sync;
pub(crate) mod candidates;
pub(crate) mod checkpointing;
pub(crate) mod diff;
pub(crate) mod finder;
pub(crate) mod pages;
#[cfg(test)]
mod sql_tests;

pub use self::batch_sync::{
    BatchSyncOptions, Interruption, PlanEntry, Progress, ProgressFn, RunStats,
};
pub use self::diff::{PayloadChange, RecordDiff};
pub use self::finder::FinderPlan;
pub use self::pages::{StaleIds, DEFAULT_BATCH_SIZE};
