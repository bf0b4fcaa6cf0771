//! Finding stale records and syncing them in batches.

pub(crate) mod batch_sync;
pub(crate) mod finder;

pub use self::batch_sync::{BatchSyncOptions, PlanEntry, Progress, ProgressFn, RunStats};
pub use self::finder::{FinderPlan, StaleIds};
