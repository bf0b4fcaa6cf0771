//! Changes within seconds: a worker learns that the application committed
//! changes without waiting for its interval (docs/OPERATIONS.md "Changes
//! within seconds").
//!
//! - `tables.rs`: the tables each CRM's batch runs read (models, their
//!   dependencies' join paths, their sync dependencies), from the catalog;
//! - `triggers.rs`: `etlify migrate --triggers` on PostgreSQL, one
//!   statement-level trigger per such table notifying `etlify_changes`;
//! - `watch.rs`: the worker's side: it listens to the triggers' channel,
//!   or polls a cheap change detector ([`ChangeWatch`]), and requests the
//!   batch jobs of the CRMs whose tables changed, coalescing bursts;
//! - `probe.rs`: whether a CRM has anything stale, the finder's
//!   nothing-changed run, asked after a poll saw a commit.
//!
//! Runs still go through the batch jobs: their requests are deduplicated
//! in the database, so one job per CRM is queued and one runs at a time
//! (G-10); the rate limit and every guarantee of a run stay. The worker's
//! interval loop stays as the safety net.

mod probe;
mod tables;
mod triggers;
pub(crate) mod watch;

pub use self::triggers::{change_trigger_tables, remove_change_triggers};
pub use self::watch::{ChangeWatch, ChangeWatchCounts};
pub use crate::store::backend::TriggerChanges;
