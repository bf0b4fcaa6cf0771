//! Finding stale records: which records of a (model, CRM) need a sync.
//!
//! - `finder.rs`: the finder's SQL, rendered from plain inputs;
//! - `pages.rs`: running it page by page, ascending by id;
//! - `candidates.rs`: the changed-since plan's candidate ids;
//! - `gone.rs`: records whose row left the table (to archive, when asked);
//! - `standing.rs`: where every record stands (in sync, stale, never
//!   synced, failing, over budget, waiting), counted for `status`.
//!
//! Running a batch over what is found is `runs/`, sending is `sync/`.

pub(crate) mod candidates;
pub(crate) mod finder;
pub(crate) mod gone;
pub(crate) mod pages;
#[cfg(test)]
mod sql_tests;
pub(crate) mod standing;

#[cfg(feature = "bench")]
pub use self::finder::FinderPlan;
pub use self::pages::{StaleIds, DEFAULT_BATCH_SIZE};
